"""Distributed training through BasicSR's launcher: torchrun on CPU (gloo) and Slurm."""
import os
import socket
import stat
import subprocess
import sys

import pytest
import torch
from tiny_setup import stage_options, write_lol_pairs, write_options, write_vgg_file

pytestmark = pytest.mark.e2e  # starts subprocesses


def free_port():
    with socket.socket() as s:
        s.bind(('127.0.0.1', 0))
        return s.getsockname()[1]


@pytest.fixture(scope='module')
def setup(tmp_path_factory):
    """Four 32x32 pairs (one batch of 4 = the whole set, crops = whole images, no flips),
    narrow earlier stages, and a relight option file that is deterministic across world sizes."""
    root = tmp_path_factory.mktemp('dist')
    data = write_lol_pairs(root / 'data', count=4, size=(32, 32))
    from r2rnet_plugin.archs.r2rnet_arch import R2RNet
    torch.manual_seed(3)
    net = R2RNet(channel=8)
    paths = {}
    for name in ('decom', 'denoise'):
        paths[f'pretrain_network_{name}'] = str(root / f'{name}.pth')
        torch.save({'params': getattr(net, name).state_dict()}, paths[f'pretrain_network_{name}'])

    def options(name, batch, total_iter=3, checkpoint=3):
        opt = stage_options(
            'relight',
            data,
            write_vgg_file(root / 'vgg.weight') if not (root / 'vgg.weight').exists() else str(root / 'vgg.weight'),
            total_iter=total_iter,
            name=name,
            **paths)
        opt['datasets']['train'].update(batch_size_per_gpu=batch, use_flip=False, use_rot=False)
        opt['train'].pop('frequency_opt')  # sums over the batch: depends on the batch split
        opt['train']['optim_g']['lr'] = 1e-3  # large steps: unsynchronised ranks would drift apart
        opt['logger']['save_checkpoint_freq'] = checkpoint
        return opt

    return root, options


def run(command, cwd, env=None):
    environment = {k: v for k, v in os.environ.items() if k != 'R2RNET_PLUGIN_AUTOLOAD'}
    environment.update(env or {}, OMP_NUM_THREADS='1')
    result = subprocess.run(command, cwd=cwd, env=environment, capture_output=True, text=True, timeout=900)
    assert result.returncode == 0, result.stdout[-4000:] + result.stderr[-4000:]
    return result.stdout + result.stderr


def torchrun(option_file, cwd, *args):
    return run([
        sys.executable, '-m', 'torch.distributed.run', '--standalone', '--nproc_per_node=2', '-m', 'basicsr.train',
        '-opt', option_file, '--launcher', 'pytorch', *args
    ], cwd)


def relight_weights(root, name):
    path = root / 'experiments' / name / 'models' / 'net_relight_latest.pth'
    return torch.load(path, map_location='cpu', weights_only=True)['params']


def test_torchrun_two_cpu_processes_equal_one_process(setup):
    root, options = setup
    log = torchrun(write_options(options('dist2', batch=2), root), root)
    assert 'World size (gpu number): 2' in log
    models = sorted(os.listdir(root / 'experiments' / 'dist2' / 'models'))
    assert models == ['net_g_3.pth', 'net_g_latest.pth', 'net_relight_3.pth', 'net_relight_latest.pth']
    assert sorted(os.listdir(root / 'experiments' / 'dist2' / 'training_states')) == ['3.state']
    assert len(list((root / 'experiments' / 'dist2').glob('train_dist2_*.log'))) == 1  # rank 0 only

    run([sys.executable, '-m', 'basicsr.train', '-opt', write_options(options('single', batch=4), root)], root)
    init = options('init', batch=4, total_iter=1, checkpoint=1)
    init['train']['optim_g']['lr'] = 0.0
    run([sys.executable, '-m', 'basicsr.train', '-opt', write_options(init, root)], root)
    distributed, single = relight_weights(root, 'dist2'), relight_weights(root, 'single')
    assert distributed.keys() == single.keys()
    initial = torch.load(setup_relight_init(root), weights_only=True)['params']
    moved = max((distributed[k] - initial[f'relight.{k}']).abs().max().item() for k in distributed)
    assert moved > 1e-3  # training changed the weights far beyond the tolerance below
    for key in single:
        assert (distributed[key] - single[key]).abs().max().item() <= 1e-5, key


def setup_relight_init(root):
    """The whole-network file saved at the first checkpoint of a 1-iteration run at lr 0."""
    return root / 'experiments' / 'init' / 'models' / 'net_g_latest.pth'


def test_torchrun_auto_resume(setup):
    root, options = setup
    torchrun(write_options(options('dist_resume', batch=2, total_iter=2, checkpoint=2), root, 'r.yml'), root)
    log = torchrun(
        write_options(options('dist_resume', batch=2, total_iter=4, checkpoint=2), root, 'r.yml'), root,
        '--auto_resume')
    assert 'Resuming training from epoch: ' in log and 'iter: 2.' in log
    assert (root / 'experiments' / 'dist_resume' / 'models' / 'net_relight_4.pth').is_file()


def test_slurm_launcher_with_simulated_environment(setup, tmp_path):
    root, options = setup
    bin_dir = tmp_path / 'bin'
    bin_dir.mkdir()
    scontrol = bin_dir / 'scontrol'
    scontrol.write_text(
        '#!/bin/sh\n# stand-in: "scontrol show hostname NODES" prints one host per line\necho 127.0.0.1\n')
    scontrol.chmod(scontrol.stat().st_mode | stat.S_IEXEC)
    env = {
        'PATH': f"{bin_dir}{os.pathsep}{os.environ['PATH']}",
        'SLURM_PROCID': '0',
        'SLURM_NTASKS': '1',
        'SLURM_LOCALID': '0',
        'SLURM_NODELIST': 'node[01]',
        'MASTER_PORT': str(free_port())
    }
    opt = options('slurm', batch=4, total_iter=2, checkpoint=2)
    log = run([sys.executable, '-m', 'basicsr.train', '-opt',
               write_options(opt, root), '--launcher', 'slurm'], root, env)
    assert 'World size (gpu number): 1' in log
    assert (root / 'experiments' / 'slurm' / 'models' / 'net_relight_latest.pth').is_file()
