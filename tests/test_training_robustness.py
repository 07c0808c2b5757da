"""Training runs that go wrong: non-finite validation results, bad network widths, a full disk."""
import errno
import math
import os
import subprocess
import sys

import pytest
import torch
from tiny_setup import stage_options, write_earlier_stages, write_lol_pairs, write_options
from torch.utils.data import DataLoader, Dataset

from basicsr.models.base_model import BaseModel
from r2rnet_plugin.archs.r2r_decom_arch import R2RDecomNet
from r2rnet_plugin.archs.r2r_denoise_arch import R2RDenoiseNet
from r2rnet_plugin.archs.r2r_relight_arch import R2RRelightNet
from r2rnet_plugin.archs.r2rnet_arch import R2RNet
from r2rnet_plugin.models.llie_validation import LLIEValidationMixin
from r2rnet_plugin.utils import checkpoint_io
from r2rnet_plugin.utils.checkpoint_io import DiskFullError, atomic_save
from r2rnet_plugin.utils.option_checks import OptionError


# ------------------------------------------------------------------- non-finite validation results
class Pairs(Dataset):
    """Three fixed low/normal-light pairs of 8x8 pixels."""

    opt = {'name': 'pairs'}

    def __init__(self):
        generator = torch.Generator().manual_seed(0)
        self.gt = torch.rand(3, 3, 8, 8, generator=generator)

    def __len__(self):
        return len(self.gt)

    def __getitem__(self, index):
        return {'lq': self.gt[index] * 0.2, 'gt': self.gt[index], 'lq_path': f'p{index}.png'}


class ScriptedModel(LLIEValidationMixin, BaseModel):
    """A model whose output per image is set by the test: ``'noisy'``, ``'nan'``, ``'inf'`` or ``'exact'``."""

    def __init__(self, tmp_path):
        super().__init__({
            'num_gpu': 0,
            'is_train': True,
            'dist': False,
            'rank': 0,
            'path': {
                'visualization': str(tmp_path)
            },
            'val': {
                'pbar': False,
                'metrics': {
                    'psnr': {
                        'type': 'calculate_psnr',
                        'crop_border': 0
                    }
                }
            }
        })
        self.outputs, self.index = {}, 0

    def feed_data(self, data):
        self.lq, self.gt = data['lq'], data['gt']

    def test(self):
        kind = self.outputs.get(self.index % 3, 'noisy')
        self.index += 1
        result = self.gt + 0.05 * torch.sin(30 * self.gt)
        if kind == 'nan':
            result = result.clone().fill_(math.nan)
        elif kind == 'inf':
            result = result.clone().fill_(math.inf)
        elif kind == 'exact':
            result = self.gt.clone()
        self.result = result

    def get_current_visuals(self):
        return {'lq': self.lq, 'result': self.result, 'gt': self.gt}

    def _output_name(self):
        return 'enhanced'

    def validate(self, current_iter, outputs=None):
        """Validate on :class:`Pairs` with ``outputs`` ({image index: kind}); return (psnr, best psnr record)."""
        self.outputs, self.index = outputs or {}, 0
        self.nondist_validation(DataLoader(Pairs()), current_iter, None, save_img=False)
        return self.metric_results['psnr'], self.best_metric_results['pairs']['psnr']


@pytest.fixture
def log(caplog):
    """What the model logs (BasicSR's logger does not propagate to the root logger)."""
    from basicsr.utils import get_root_logger
    logger = get_root_logger()
    level = logger.level
    logger.addHandler(caplog.handler)
    logger.setLevel('INFO')
    caplog.handler.setLevel('INFO')
    yield caplog
    logger.removeHandler(caplog.handler)
    logger.setLevel(level)


@pytest.mark.parametrize('kind', ['nan', 'inf'])
def test_first_validation_with_non_finite_outputs_records_no_best(tmp_path, log, kind):
    model = ScriptedModel(tmp_path)
    value, best = model.validate(1, {1: kind})
    assert math.isnan(value)
    assert best['iter'] == -1  # tensor2img would have turned the output into a black image, and scored it
    assert '1 of 3 image(s) gave non-finite outputs (NaN/inf): p1' in log.text
    assert 'psnr: nan (non-finite: not counted)\tBest: none yet' in log.text


def test_non_finite_validation_after_a_good_one_keeps_the_best(tmp_path, log):
    model = ScriptedModel(tmp_path)
    good, best = model.validate(2)
    assert math.isfinite(good) and best['iter'] == 2 and best['val'] == good
    value, best = model.validate(4, {0: 'nan', 1: 'nan', 2: 'nan'})
    assert math.isnan(value)
    assert best['iter'] == 2 and best['val'] == good
    assert f'Best: {good:.4f} @ 2 iter' in log.text


def test_an_infinite_metric_never_becomes_the_best(tmp_path):
    model = ScriptedModel(tmp_path)
    model.validate(2)
    value, best = model.validate(3, {0: 'exact', 1: 'exact', 2: 'exact'})  # PSNR of identical images: inf
    assert value == math.inf and best['iter'] == 2


# ------------------------------------------------------------------------------- network widths
@pytest.mark.parametrize('arch', [R2RNet, R2RDecomNet, R2RDenoiseNet, R2RRelightNet])
@pytest.mark.parametrize('channel', ['eight', 0, -1, 8.5, True, None])
def test_bad_channel_names_the_option_and_value(arch, channel):
    with pytest.raises(OptionError, match=f"option 'network_g: channel' must be a positive integer; got {channel!r}"):
        arch(channel=channel)


@pytest.mark.parametrize('arch', [R2RNet, R2RRelightNet])
def test_bad_fft_mode_names_the_option(arch):
    with pytest.raises(OptionError, match="option 'network_g: fft_mode' must be one of batch, chw, hw; got 'xy'"):
        arch(channel=8, fft_mode='xy')


def test_bad_channel_through_basicsr_build_network():
    from basicsr.archs import build_network
    with pytest.raises(OptionError, match="'network_g: channel' .* got 'eight'"):
        build_network({'type': 'R2RNet', 'channel': 'eight'})
    assert sum(p.numel() for p in build_network({'type': 'R2RNet', 'channel': 8}).parameters()) > 0


# ------------------------------------------------------------------------------------ disk full
def fill_disk_on(target_name, code=errno.ENOSPC):
    """A ``torch.save`` that writes a little, then fails as a full disk does, for ``target_name`` only."""
    save = torch.save
    calls = []

    def save_or_fail(obj, handle, *args, **kwargs):
        if os.path.basename(getattr(handle, 'name', '')).startswith(target_name + checkpoint_io.TEMP_MARK):
            calls.append(handle.name)
            handle.write(b'half a checkpoint')
            raise OSError(code, os.strerror(code))
        return save(obj, handle, *args, **kwargs)

    return save_or_fail, calls


@pytest.mark.parametrize('code', [errno.ENOSPC, errno.EDQUOT])
def test_disk_full_keeps_the_old_checkpoint_and_no_temporary(tmp_path, monkeypatch, code):
    target = tmp_path / 'net_g_latest.pth'
    atomic_save({'params': {'w': torch.ones(3)}}, str(target))
    save_or_fail, calls = fill_disk_on(target.name, code)
    monkeypatch.setattr(checkpoint_io.torch, 'save', save_or_fail)
    with pytest.raises(DiskFullError) as caught:
        atomic_save({'params': {'w': torch.zeros(3)}}, str(target))
    assert str(caught.value).startswith(f'disk full: could not write {target}')
    assert caught.value.errno == code
    assert len(calls) == 1  # not retried
    assert os.listdir(tmp_path) == ['net_g_latest.pth']
    assert torch.equal(torch.load(target, weights_only=True)['params']['w'], torch.ones(3))


def test_rename_failure_removes_the_temporary(tmp_path, monkeypatch):
    target = tmp_path / 'a.pth'

    def replace(src, dst):
        raise OSError(errno.ENOSPC, 'No space left on device')

    monkeypatch.setattr(checkpoint_io.os, 'replace', replace)
    with pytest.raises(DiskFullError):
        atomic_save({'w': torch.ones(1)}, str(target))
    assert os.listdir(tmp_path) == []


DISK_FULL_RUN = '''
import errno, os, runpy, sys
import torch
save = torch.save
def save_or_fail(obj, handle, *args, **kwargs):
    if os.path.basename(getattr(handle, 'name', '')).startswith('net_g_2.pth.tmp.'):
        handle.write(b'half')
        raise OSError(errno.ENOSPC, 'No space left on device')
    return save(obj, handle, *args, **kwargs)
torch.save = save_or_fail
sys.argv = ['basicsr.train', '-opt', sys.argv[1]]
runpy.run_module('basicsr.train', run_name='__main__', alter_sys=True)
'''


@pytest.mark.e2e
def test_training_stops_on_a_full_disk_keeping_the_last_checkpoint(tmp_path):
    data = write_lol_pairs(tmp_path / 'data', count=2, size=(32, 32))
    paths, _ = write_earlier_stages(tmp_path, seed=1)
    opt = stage_options('relight', data, None, total_iter=2, name='full', **paths)
    opt['train'].pop('perceptual_opt')
    opt['datasets'].pop('val')
    opt.pop('val')
    opt['datasets']['train'].update(batch_size_per_gpu=1)
    opt['logger'].update(save_checkpoint_freq=1, use_tb_logger=False)
    option_file = write_options(opt, str(tmp_path))
    env = dict(os.environ, OMP_NUM_THREADS='1')
    env.pop('R2RNET_PLUGIN_AUTOLOAD', None)
    proc = subprocess.run([sys.executable, '-c', DISK_FULL_RUN, option_file],
                          cwd=tmp_path,
                          env=env,
                          capture_output=True,
                          text=True,
                          timeout=600)
    models = tmp_path / 'experiments' / 'full' / 'models'
    assert proc.returncode != 0
    assert f'disk full: could not write {models / "net_g_2.pth"}' in proc.stderr
    assert not any(checkpoint_io.TEMP_MARK in name for name in os.listdir(models))
    assert 'net_g_2.pth' not in os.listdir(models) and 'net_g_latest.pth' not in os.listdir(models)
    assert torch.load(models / 'net_g_1.pth', weights_only=True)['params']  # the last good one loads
    states = tmp_path / 'experiments' / 'full' / 'training_states'
    assert os.listdir(states) == ['1.state']


@pytest.mark.parametrize('bases', ['guard first', 'precision first'])
def test_every_mixin_keeps_its_part_of_the_training_state_whatever_the_order_of_bases(bases):
    from r2rnet_plugin.models.mixed_precision import MixedPrecisionTraining
    from r2rnet_plugin.models.training_guard import NonFiniteLossGuard

    class Scaler:

        def __init__(self):
            self.scale = 2.0

        def is_enabled(self):
            return True

        def state_dict(self):
            return {'scale': self.scale}

        def load_state_dict(self, state):
            self.scale = state['scale']

    order = (NonFiniteLossGuard, MixedPrecisionTraining)
    Model = type('Model', order if bases == 'guard first' else order[::-1], {})
    model = Model()
    model.grad_scaler, model.nonfinite_in_a_row = Scaler(), 3
    state = model.extra_training_state()
    assert state == {'grad_scaler': {'scale': 2.0}, 'nonfinite_in_a_row': 3}
    fresh = Model()
    fresh.grad_scaler = Scaler()
    fresh.grad_scaler.scale = 1.0
    fresh.load_extra_training_state(state)
    assert (fresh.grad_scaler.scale, fresh.nonfinite_in_a_row) == (2.0, 3)
