"""Untrusted files: every weights/checkpoint file the plugin opens is loaded without running pickled code."""
import io
import os

import numpy as np
import pytest
import torch
from tiny_setup import runtime_options, stage_options, write_earlier_stages

from basicsr.models import build_model
from r2rnet_plugin.compat import checkpoints
from r2rnet_plugin.losses.r2r_perceptual_loss import R2RPerceptualLoss
from r2rnet_plugin.utils.safe_load import CheckpointError, UnsafeCheckpointError, load_checkpoint
from r2rnet_plugin.weights.official import load_state_dict_file


class RunsShell:
    """Unpickling this runs a shell command (``os.system``)."""

    def __init__(self, marker):
        self.marker = marker

    def __reduce__(self):
        return os.system, (f'touch {self.marker}', )


class OpensFile:
    """Unpickling this creates a file (``open(marker, 'w')``)."""

    def __init__(self, marker):
        self.marker = marker

    def __reduce__(self):
        return open, (str(self.marker), 'w')


@pytest.fixture(params=[RunsShell, OpensFile])
def malicious(request, tmp_path):
    """``(weights file whose payload would create the marker, marker)``: real weights plus the payload."""
    marker = tmp_path / 'pwned'
    path = tmp_path / 'evil.pth'
    state = {'conv.weight': torch.zeros(1, 1, 1, 1)}
    torch.save({'params': state, 'extra': request.param(marker)}, path)
    return path, marker


def test_payload_would_run_with_plain_pickle(malicious):
    """The fixture is really malicious: an unrestricted load runs its code."""
    path, marker = malicious
    torch.load(path, weights_only=False)
    assert marker.exists()


def test_refused_by_load_state_dict_file(malicious):
    path, marker = malicious
    with pytest.raises(UnsafeCheckpointError, match=f'refused to load .*{path.name}.*arbitrary code') as info:
        load_state_dict_file(str(path))
    assert 'system' in str(info.value) or 'open' in str(info.value)
    assert not marker.exists()


def tiny_relight(tmp_path, **paths):
    opt = stage_options('relight', str(tmp_path), None, total_iter=2, **paths)
    opt['train'].pop('perceptual_opt')
    return opt


def test_refused_by_basicsr_load_network_through_r2rnet_model(tmp_path, malicious):
    path, marker = malicious
    paths, _ = write_earlier_stages(tmp_path)
    paths['pretrain_network_decom'] = str(path)
    with pytest.raises(UnsafeCheckpointError, match=f'network file {path}'):
        build_model(runtime_options(tiny_relight(tmp_path, **paths), tmp_path))
    assert not marker.exists()


def resume_options(tmp_path, auto):
    opt = runtime_options(tiny_relight(tmp_path), tmp_path)
    opt['auto_resume'] = auto
    return opt


def test_refused_by_the_resume_paths(tmp_path, malicious):
    path, marker = malicious
    opt = resume_options(tmp_path, auto=False)
    opt['path']['resume_state'] = str(path)
    with pytest.raises(UnsafeCheckpointError, match="option 'path: resume_state'"):
        checkpoints.load_resume_state(opt)
    opt = resume_options(tmp_path, auto=True)
    os.replace(path, os.path.join(opt['path']['training_states'], '4.state'))
    with pytest.raises(UnsafeCheckpointError, match='training state .*4.state'):
        checkpoints.load_resume_state(opt)  # a tampered state is not quietly passed over
    assert not marker.exists()


def test_refused_as_network_file_of_a_training_state(tmp_path, malicious):
    path, marker = malicious
    opt = resume_options(tmp_path, auto=True)
    torch.save({
        'iter': 2,
        'epoch': 0,
        'optimizers': [],
        'schedulers': [],
        'networks': ['net_relight_2.pth']
    }, os.path.join(opt['path']['training_states'], '2.state'))
    os.replace(path, os.path.join(opt['path']['models'], 'net_relight_2.pth'))
    with pytest.raises(UnsafeCheckpointError, match='net_relight_2.pth'):
        checkpoints.load_resume_state(opt)
    assert not marker.exists()


def test_refused_as_perceptual_weights(malicious):
    path, marker = malicious
    with pytest.raises(ValueError, match="vgg_path.*refused to load"):
        R2RPerceptualLoss(str(path))
    assert not marker.exists()


# --------------------------------------------------------------------- legitimate numpy content

NUMPY_EXTRAS = {
    'best_psnr': np.float64(21.5),
    'epoch': np.int64(20),
    'flag': np.bool_(True),
    'mean': np.array([0.485, 0.456, 0.406], dtype=np.float32),
    'note': np.str_('lol')
}


def test_numpy_scalars_and_arrays_load(tmp_path):
    state = {'w': torch.arange(4.0)}
    torch.save({'params': state, **NUMPY_EXTRAS}, tmp_path / 'third_party.pth')
    loaded = load_checkpoint(tmp_path / 'third_party.pth')
    assert loaded['best_psnr'] == 21.5 and loaded['epoch'] == 20 and loaded['note'] == 'lol'
    assert np.array_equal(loaded['mean'], NUMPY_EXTRAS['mean']) and loaded['mean'].dtype == np.float32
    assert torch.equal(load_state_dict_file(str(tmp_path / 'third_party.pth'))['w'], state['w'])


def test_numpy1_names_load(tmp_path):
    """Files written under numpy 1 name ``numpy.core.multiarray`` (numpy 2: ``numpy._core``)."""
    buffer = io.BytesIO()
    torch.save({'params': {'w': torch.ones(2)}, **NUMPY_EXTRAS}, buffer, _use_new_zipfile_serialization=False)
    raw = buffer.getvalue().replace(b'numpy._core.multiarray', b'numpy.core.multiarray')
    assert b'numpy.core.multiarray' in raw
    (tmp_path / 'old.pth').write_bytes(raw)
    assert load_checkpoint(tmp_path / 'old.pth')['best_psnr'] == 21.5


def test_numpy_object_arrays_are_refused(tmp_path):
    torch.save({'x': np.array([{'a': 1}], dtype=object)}, tmp_path / 'objects.pth')
    with pytest.raises(UnsafeCheckpointError, match='ObjectDType'):
        load_checkpoint(tmp_path / 'objects.pth')


def test_r2rnet_model_loads_weights_with_numpy_entries(tmp_path):
    paths, net = write_earlier_stages(tmp_path, **NUMPY_EXTRAS)
    model = build_model(runtime_options(tiny_relight(tmp_path, **paths), tmp_path))
    assert all(torch.equal(v, net.decom.state_dict()[k]) for k, v in model.net_g.decom.state_dict().items())


@pytest.mark.parametrize('content', [b'', b'junk', None])
def test_damaged_files_name_the_file(tmp_path, content):
    path = tmp_path / 'damaged.pth'
    if content is None:  # a real checkpoint cut short
        torch.save({'params': {'w': torch.zeros(1000)}}, path)
        content = path.read_bytes()[:300]
    path.write_bytes(content)
    with pytest.raises(CheckpointError, match=f'{path}.*not a readable PyTorch file') as info:
        load_checkpoint(path)
    assert not isinstance(info.value, UnsafeCheckpointError)
    with pytest.raises(FileNotFoundError, match='nowhere.pth'):
        load_checkpoint(tmp_path / 'nowhere.pth')
