"""Crashes: a training job killed with SIGKILL at any moment resumes with --auto_resume and ends
with exactly the weights of an uninterrupted run; checkpoints are written atomically.

The job: R2RNet's relight stage at width 8 on four 40x48 pairs, random 32x32 crops with flips
and rotations, batch 1 (4 iterations per epoch), 10 iterations, a checkpoint every 3, on the
CPU with deterministic algorithms (``train_with_pause.py``). The uninterrupted run reads its
data in the training process (``num_worker_per_gpu: 0``), the killed one through a worker
process: the augmentation is seeded per sample, so it does not matter who reads.
"""
import os
import shutil
import signal
import subprocess
import sys
import time

import pytest
import torch
from tiny_setup import stage_options, write_earlier_stages, write_lol_pairs, write_options

from r2rnet_plugin.utils.safe_load import load_checkpoint

pytestmark = pytest.mark.e2e  # starts subprocesses

HERE = os.path.dirname(os.path.abspath(__file__))
DRIVER = os.path.join(HERE, 'train_with_pause.py')
TOTAL, EVERY = 10, 3


@pytest.fixture(scope='module')
def job(tmp_path_factory):
    root = tmp_path_factory.mktemp('kill')
    data = write_lol_pairs(root / 'data', count=4, size=(40, 48))
    paths, _ = write_earlier_stages(root, seed=5)

    def option_file(name, workers=0):
        opt = stage_options('relight', data, None, total_iter=TOTAL, name=name, **paths)
        opt['train'].pop('perceptual_opt')
        opt['train']['optim_g']['lr'] = 1e-3
        opt['datasets'].pop('val')
        opt.pop('val')
        opt['datasets']['train'].update(batch_size_per_gpu=1, num_worker_per_gpu=workers)
        opt['logger'].update(save_checkpoint_freq=EVERY, use_tb_logger=False)
        return write_options(opt, str(root))

    return root, option_file


def start(root, option_file, pause=None, resume=True):
    env = {k: v for k, v in os.environ.items() if k != 'R2RNET_PLUGIN_AUTOLOAD'}
    env.update(OMP_NUM_THREADS='1', R2RNET_TEST_PAUSED=str(root / 'paused'), R2RNET_TEST_PAUSE=pause or '')
    log = open(root / 'driver.log', 'w')
    args = [sys.executable, DRIVER, '-opt', option_file] + (['--auto_resume'] if resume else [])
    return subprocess.Popen(args, cwd=root, env=env, stdout=log, stderr=subprocess.STDOUT), log


def output(root):
    return (root / 'driver.log').read_text()


def run_to_end(root, option_file, resume=True):
    proc, log = start(root, option_file, resume=resume)
    code = proc.wait(timeout=600)
    log.close()
    assert code == 0, output(root)[-5000:]
    return output(root)


def run_and_kill(root, option_file, pause):
    """Start the job, wait until it reaches ``pause``, SIGKILL it there."""
    marker = root / 'paused'
    if marker.exists():
        marker.unlink()
    proc, log = start(root, option_file, pause)
    deadline = time.time() + 600
    while not marker.exists():
        assert proc.poll() is None, f'ended before {pause}:\n' + output(root)[-5000:]
        assert time.time() < deadline, f'never reached {pause}'
        time.sleep(0.05)
    os.kill(proc.pid, signal.SIGKILL)
    assert proc.wait(timeout=60) == -signal.SIGKILL
    log.close()
    return output(root)


def files(folder):
    return sorted(os.listdir(folder))


def final_weights(root, name):
    models = root / 'experiments' / name / 'models'
    return {
        f: torch.load(models / f, weights_only=True)['params']
        for f in ('net_g_latest.pth', 'net_relight_latest.pth')
    }


def assert_same_weights(a, b):
    for name in a:
        assert a[name].keys() == b[name].keys()
        different = [k for k in a[name] if not torch.equal(a[name][k], b[name][k])]
        assert not different, f'{name}: {len(different)} tensors differ, e.g. {different[:3]}'


@pytest.fixture(scope='module')
def uninterrupted(job):
    root, option_file = job
    log = run_to_end(root, option_file('straight'), resume=False)
    assert 'iter:      10,' in log
    return final_weights(root, 'straight')


def test_killed_three_times_resumes_to_the_same_weights(job, uninterrupted):
    root, option_file = job
    options = option_file('killed', workers=1)
    experiment = root / 'experiments' / 'killed'
    models, states = experiment / 'models', experiment / 'training_states'

    # 1. In the middle of training (before iteration 5 runs): the state of iteration 3 is the latest.
    run_and_kill(root, options, 'iter:5')
    assert files(states) == ['3.state']
    state = load_checkpoint(states / '3.state')  # what a state holds besides BasicSR's own entries
    assert sorted(state['networks']) == ['net_g_3.pth', 'net_relight_3.pth']
    assert set(state['rng']) == {'python', 'numpy', 'torch'} and state['manual_seed'] == 0
    assert state['nonfinite_in_a_row'] == 0

    # 2. During a checkpoint: the temporary of net_relight_6.pth is written, not renamed.
    log = run_and_kill(root, options, 'save:net_relight_6.pth')
    assert 'Resuming training from epoch: 0, iter: 3.' in log
    assert 'net_relight_6.pth' not in files(models)
    assert [f for f in files(models) if f.startswith('net_relight_6.pth.tmp.')]
    assert files(states) == ['3.state']

    # 3. Between the networks and the training state of iteration 9: networks saved, state not.
    log = run_and_kill(root, options, 'save:9.state')
    assert 'Resuming training from epoch: 0, iter: 3.' in log
    assert {'net_g_9.pth', 'net_relight_9.pth'} <= set(files(models))
    assert [f for f in files(states) if not f.startswith('9.state.tmp.')] == ['3.state', '6.state']

    log = run_to_end(root, options)
    assert 'Resuming training from epoch: 1, iter: 6.' in log  # 6 = epoch 1, batch 3 of 4
    assert 'Resuming the data order at epoch 1, batch 3 of 4.' in log
    assert 'iter:       7,' in log and 'iter:       6,' not in log
    assert files(states) == ['3.state', '6.state', '9.state']
    assert not [f for f in files(models) if '.tmp.' in f]  # left-over temporaries are cleaned up
    assert_same_weights(final_weights(root, 'killed'), uninterrupted)


def test_auto_resume_passes_over_damaged_states(job, uninterrupted):
    """A state cut short (BasicSR's own, non-atomic save killed midway) and a state whose network
    file is gone are passed over; the run resumes from the newest complete one."""
    root, option_file = job
    options = option_file('damaged')
    shutil.copytree(root / 'experiments' / 'straight', root / 'experiments' / 'damaged')
    states = root / 'experiments' / 'damaged' / 'training_states'
    models = root / 'experiments' / 'damaged' / 'models'
    content = (states / '9.state').read_bytes()
    (states / '9.state').write_bytes(content[:len(content) // 2])
    (models / 'net_relight_6.pth').unlink()
    log = run_to_end(root, options)
    assert f"--auto_resume: passed over {states / '9.state'}: training state" in log
    assert f"--auto_resume: passed over {states / '6.state'}: network file" in log
    assert 'net_relight_6.pth does not exist' in log
    assert 'Resuming training from epoch: 0, iter: 3.' in log
    assert_same_weights(final_weights(root, 'damaged'), uninterrupted)


# ------------------------------------------------------------------------------ in-process units


def test_atomic_save_never_leaves_a_partial_file(tmp_path):
    from r2rnet_plugin.utils.checkpoint_io import atomic_save
    target = tmp_path / 'net_g_4.pth'
    atomic_save({'params': {'w': torch.ones(3)}}, str(target))
    (tmp_path / 'net_g_4.pth.tmp.999-dead').write_bytes(b'left by a killed process')
    with pytest.raises(Exception):
        atomic_save({'params': {'w': torch.zeros(3)}, 'bad': lambda: None}, str(target))  # fails while writing
    assert torch.equal(torch.load(target, weights_only=True)['params']['w'], torch.ones(3))  # the old file
    assert files(tmp_path) == ['net_g_4.pth']  # the failed temporary and the stale one are gone
    atomic_save({'params': {'w': torch.zeros(3)}}, str(target))
    assert torch.equal(torch.load(target, weights_only=True)['params']['w'], torch.zeros(3))
    assert oct(target.stat().st_mode & 0o777) == oct(0o666 & ~_umask())


def _umask():
    mask = os.umask(0)
    os.umask(mask)
    return mask


def test_random_states_round_trip_through_a_training_state(tmp_path):
    import random

    import numpy as np

    from r2rnet_plugin.utils.checkpoint_io import atomic_save, capture_rng_state, restore_rng_state
    from r2rnet_plugin.utils.safe_load import load_checkpoint

    def draws():
        return random.random(), float(np.random.rand()), float(torch.rand(1))

    atomic_save({'rng': capture_rng_state()}, str(tmp_path / '1.state'))
    expected = draws()
    draws()
    restore_rng_state(load_checkpoint(tmp_path / '1.state')['rng'])  # plain data: weights_only loads it
    assert draws() == expected
