"""convert_official with hostile or careless arguments: non-finite weights, --out clashes, failed writes."""
import os

import pytest
import torch

from r2rnet_plugin import convert_official as command
from r2rnet_plugin.convert_official import main


@pytest.fixture
def inputs(tmp_path):
    """Three small stand-in checkpoints (enough for the checks made before converting)."""
    paths = {}
    for stage in ('decom', 'denoise', 'relight'):
        paths[stage] = tmp_path / f'{stage}.tar'
        torch.save({'conv0.weight': torch.ones(2, 2)}, paths[stage])
    return paths


def args(paths, out):
    return [arg for stage, path in paths.items() for arg in (f'--{stage}', str(path))] + ['--out', str(out)]


def contents(folder):
    return sorted(os.listdir(folder))


def test_non_finite_weights_are_refused_naming_the_tensor(tmp_path, inputs, capsys):
    torch.save({
        'conv0.weight': torch.ones(2, 2),
        'RM1.conv2.bias': torch.tensor([1.0, float('nan'), float('inf')])
    }, inputs['decom'])
    assert main(args(inputs, tmp_path / 'r2rnet.pth')) == 2
    err = capsys.readouterr().err
    assert str(inputs['decom']) in err and 'RM1.conv2.bias (1 NaN, 1 inf of 3)' in err
    assert not (tmp_path / 'r2rnet.pth').exists()


@pytest.mark.parametrize('spelling', ['same path', 'other spelling', 'symlink', 'hard link'])
def test_out_that_is_an_input_is_refused(tmp_path, inputs, spelling, capsys):
    target = inputs['relight']
    before = target.read_bytes()
    if spelling == 'same path':
        out = target
    elif spelling == 'other spelling':
        out = tmp_path / '.' / 'sub' / '..' / 'relight.tar'
        (tmp_path / 'sub').mkdir()
    else:
        out = tmp_path / 'r2rnet.pth'
        (os.symlink if spelling == 'symlink' else os.link)(target, out)
    assert main(args(inputs, out)) == 2
    err = capsys.readouterr().err
    assert f'is the same file as --relight {target}' in err and '\n' not in err.rstrip('\n')
    assert target.read_bytes() == before


def test_out_that_is_a_folder_is_refused_and_leaves_nothing(tmp_path, inputs, capsys):
    folder = tmp_path / 'weights'
    folder.mkdir()
    assert main(args(inputs, folder)) == 2
    assert f'--out {folder} is a folder' in capsys.readouterr().err
    assert contents(folder) == [] and contents(tmp_path) == ['decom.tar', 'denoise.tar', 'relight.tar', 'weights']


def test_out_in_a_missing_folder_is_refused(tmp_path, inputs, capsys):
    assert main(args(inputs, tmp_path / 'nope' / 'r2rnet.pth')) == 2
    assert 'does not exist' in capsys.readouterr().err


@pytest.mark.parametrize('failure', [OSError(28, 'No space left on device'), KeyboardInterrupt()])
def test_a_failed_write_leaves_no_temporary_file(tmp_path, inputs, monkeypatch, failure, capsys):
    out = tmp_path / 'out'
    out.mkdir()
    (out / 'r2rnet.pth').write_bytes(b'previous')
    monkeypatch.setattr(command, 'convert_official', lambda *paths: {'x': torch.zeros(4)})

    def half_save(obj, handle):
        handle.write(b'half a checkpoint')
        raise failure

    monkeypatch.setattr(torch, 'save', half_save)
    code = main(args(inputs, out / 'r2rnet.pth'))
    assert code == (130 if isinstance(failure, KeyboardInterrupt) else 2)
    err = capsys.readouterr().err
    assert str(out / 'r2rnet.pth') in err and 'Traceback' not in err
    assert contents(out) == ['r2rnet.pth'] and (out / 'r2rnet.pth').read_bytes() == b'previous'


def test_planted_symlink_is_replaced_not_followed(tmp_path, inputs, monkeypatch):
    victim = tmp_path / 'victim'
    victim.write_bytes(b'keep me')
    out = tmp_path / 'r2rnet.pth'
    os.symlink(victim, out)
    monkeypatch.setattr(command, 'convert_official', lambda *paths: {'x': torch.zeros(4)})
    assert main(args(inputs, out)) == 0
    assert victim.read_bytes() == b'keep me' and not out.is_symlink()
    assert torch.load(out, weights_only=True)['params']['x'].shape == (4, )
