"""End to end through BasicSR's own entry points: ``python -m basicsr.train`` and ``basicsr.test``.

Runs BasicSR's generic SRModel with ``network_g: R2RNet`` on tiny images, from a fresh
directory: the plugin must be found without being imported, and experiments, results and
tensorboard logs must land in the current directory, not inside site-packages.
"""
import os
import subprocess
import sys

import cv2
import numpy as np
import pytest
import yaml

import basicsr

pytestmark = pytest.mark.e2e  # starts subprocesses


def write_pairs(folder, count=3, size=(24, 32)):
    rng = np.random.default_rng(0)
    for sub in ('low', 'high'):
        os.makedirs(folder / sub, exist_ok=True)
    for i in range(count):
        high = rng.integers(0, 256, (*size, 3), dtype=np.uint8)
        cv2.imwrite(str(folder / 'high' / f'{i}.png'), high)
        cv2.imwrite(str(folder / 'low' / f'{i}.png'), (high // 4).astype(np.uint8))


def options(data, name, is_train):
    dataset = {
        'name': 'tiny',
        'type': 'PairedImageDataset',
        'dataroot_lq': str(data / 'low'),
        'dataroot_gt': str(data / 'high'),
        'io_backend': {
            'type': 'disk'
        }
    }
    opt = {
        'name': name,
        'model_type': 'SRModel',
        'scale': 1,
        'num_gpu': 0,
        'manual_seed': 0,
        'network_g': {
            'type': 'R2RNet',
            'channel': 8
        },
        'path': {
            'pretrain_network_g': None,
            'strict_load_g': True,
            'resume_state': None
        },
        'val': {
            'save_img': True,
            'suffix': 'out',
            'metrics': {
                'psnr': {
                    'type': 'calculate_psnr',
                    'crop_border': 0
                }
            }
        }
    }
    if is_train:
        train_set = dict(
            dataset,
            name='train',
            gt_size=16,
            use_hflip=True,
            use_rot=True,
            num_worker_per_gpu=0,
            batch_size_per_gpu=2,
            dataset_enlarge_ratio=1)
        opt['datasets'] = {'train': train_set, 'val': dict(dataset, name='val')}
        opt['train'] = {
            'optim_g': {
                'type': 'Adam',
                'lr': 1e-4
            },
            'scheduler': {
                'type': 'MultiStepLR',
                'milestones': [100],
                'gamma': 0.5
            },
            'total_iter': 2,
            'warmup_iter': -1,
            'pixel_opt': {
                'type': 'L1Loss',
                'loss_weight': 1.0
            }
        }
        opt['val']['val_freq'] = 2
        opt['logger'] = {'print_freq': 1, 'save_checkpoint_freq': 2, 'use_tb_logger': True}
    else:
        opt['datasets'] = {'test_1': dict(dataset, name='tiny_test')}
        opt['path']['pretrain_network_g'] = f'experiments/{name}/models/net_g_latest.pth'
    return opt


def run_module(module, opt, cwd):
    path = cwd / f'{module}.yml'
    path.write_text(yaml.safe_dump(opt))
    env = {k: v for k, v in os.environ.items() if k != 'R2RNET_PLUGIN_AUTOLOAD'}
    return subprocess.run([sys.executable, '-m', module, '-opt', str(path)],
                          cwd=cwd,
                          env=env,
                          capture_output=True,
                          text=True,
                          timeout=600)


def test_basicsr_train_and_test_write_under_current_directory(tmp_path):
    write_pairs(tmp_path / 'data')
    work = tmp_path / 'work'
    work.mkdir()
    site = os.path.dirname(os.path.dirname(basicsr.__file__))
    before = set(os.listdir(site))

    train = run_module('basicsr.train', options(tmp_path / 'data', 'tiny_r2rnet', True), work)
    assert train.returncode == 0, train.stdout[-3000:] + train.stderr[-3000:]
    assert 'RuntimeWarning' not in train.stderr
    assert (work / 'experiments' / 'tiny_r2rnet' / 'models' / 'net_g_latest.pth').is_file()
    assert list((work / 'tb_logger' / 'tiny_r2rnet').iterdir())

    test = run_module('basicsr.test', options(tmp_path / 'data', 'tiny_r2rnet', False), work)
    assert test.returncode == 0, test.stdout[-3000:] + test.stderr[-3000:]
    images = list((work / 'results' / 'tiny_r2rnet' / 'visualization' / 'tiny_test').glob('*_out.png'))
    assert len(images) == 3
    assert cv2.imread(str(images[0])).shape == (24, 32, 3)
    assert set(os.listdir(site)) == before
