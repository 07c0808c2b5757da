"""Bad option files stop `python -m basicsr.train` with one line naming the file or option, never a traceback."""
import os
import subprocess
import sys

import pytest
import yaml
from tiny_setup import stage_options, write_lol_pairs, write_vgg_file

pytestmark = pytest.mark.e2e  # starts subprocesses


def run_train(path, cwd):
    env = {k: v for k, v in os.environ.items() if not k.startswith('R2RNET_')}
    return subprocess.run(
        [sys.executable, '-m', 'basicsr.train', '-opt', str(path)],
        cwd=cwd,
        env=env,
        capture_output=True,
        text=True,
        timeout=600)


@pytest.fixture(scope='module')
def decom_options(tmp_path_factory):
    root = tmp_path_factory.mktemp('stage')
    return stage_options('decom', write_lol_pairs(root / 'data', count=4), write_vgg_file(root / 'vgg.pth'))


def broken(opt, change):
    """``opt`` with one change: a function of the dict, or raw text replacing the whole file."""
    if isinstance(change, str):
        return change
    opt = yaml.safe_load(yaml.safe_dump(opt))
    change(opt)
    return yaml.safe_dump(opt)


CASES = {
    'empty': ('# only a comment\n', 'is empty'),
    'list': ('- name: x\n- datasets: {}\n', 'must hold a mapping'),
    'syntax': ('name: x\ndatasets: {train: [\n', 'is not valid YAML'),
    'no_datasets': (lambda o: o.pop('datasets'), "has no 'datasets:' section"),
    'num_gpu': (lambda o: o.update(num_gpu=1), 'no CUDA device; set num_gpu: 0 or auto'),
    'print_freq': (lambda o: o['logger'].update(print_freq=0), "'logger: print_freq'"),
    'save_freq': (lambda o: o['logger'].update(save_checkpoint_freq=0), "'logger: save_checkpoint_freq'"),
    'opt_in':
    (lambda o: o.update(r2rnet_plugin_fixes='eta, dataorder'), "'r2rnet_plugin_fixes' names no fix: dataorder"),
}


@pytest.mark.parametrize('case', sorted(CASES))
def test_bad_option_file_is_one_line(tmp_path, decom_options, case):
    change, message = CASES[case]
    if case == 'num_gpu' and __import__('torch').cuda.is_available():
        pytest.skip('needs a machine without CUDA')
    path = tmp_path / f'{case}.yml'
    path.write_text(broken(decom_options, change))
    result = run_train(path, tmp_path)
    assert result.returncode == 2, result.stderr[-2000:]
    assert message in result.stderr and str(path) in result.stderr, result.stderr
    assert 'Traceback' not in result.stderr
    assert not (tmp_path / 'experiments').exists()


def test_binary_option_file(tmp_path):
    path = tmp_path / 'weights.yml'
    path.write_bytes(b'\x89PNG\r\n\x1a\n\x00\x00')
    result = run_train(path, tmp_path)
    assert result.returncode == 2 and 'binary file' in result.stderr and 'Traceback' not in result.stderr


def test_bad_network_width_is_one_line(tmp_path, decom_options):
    path = tmp_path / 'width.yml'
    path.write_text(broken(decom_options, lambda o: o['network_g'].update(channel='eight')))
    result = run_train(path, tmp_path)
    assert result.returncode == 1 and "'network_g: channel' must be a positive integer; got 'eight'" in result.stderr
    assert 'Traceback' not in result.stderr


def test_batch_larger_than_the_dataset_stops_at_start_up(tmp_path, decom_options):
    path = tmp_path / 'batch.yml'
    path.write_text(broken(decom_options, lambda o: o['datasets']['train'].update(batch_size_per_gpu=8)))
    result = run_train(path, tmp_path)
    assert result.returncode == 1, result.stderr[-2000:]
    assert "'datasets: train: batch_size_per_gpu' is 8" in result.stderr and '4 image pair' in result.stderr
    assert "stage 'decom'" in result.stderr and 'Traceback' not in result.stderr
    assert not list(tmp_path.glob('experiments/*/models/*.pth'))  # no untrained network for the next stage


def test_a_run_failing_at_start_up_leaves_no_folders_and_restores_the_archived_one(tmp_path, decom_options):
    earlier = tmp_path / 'experiments' / decom_options['name']
    (earlier / 'models').mkdir(parents=True)
    (earlier / 'models' / 'net_decom_latest.pth').write_bytes(b'an earlier run')
    path = tmp_path / 'batch.yml'
    path.write_text(broken(decom_options, lambda o: o['datasets']['train'].update(batch_size_per_gpu=8)))
    result = run_train(path, tmp_path)
    assert result.returncode == 1, result.stderr[-2000:]
    assert sorted(p.name for p in (tmp_path / 'experiments').iterdir()) == [decom_options['name']]
    assert (earlier / 'models' / 'net_decom_latest.pth').read_bytes() == b'an earlier run'
    assert not (tmp_path / 'tb_logger').exists() or not any((tmp_path / 'tb_logger').iterdir())
