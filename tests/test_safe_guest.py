"""The plugin is a safe guest in a shared BasicSR environment (end to end, in fresh processes).

- ``python -m basicsr.train`` and ``python -m r2rnet_plugin.train`` run exactly once under the
  fork, spawn and forkserver start methods, with a DataLoader worker, for a plain BasicSR model
  and for a plugin stage;
- other projects can register common LLIE names after ``import basicsr``; real modules keep
  their specs;
- a third-party training (its own script, a model drawing noise from torch's global generator)
  gives bit-identical weights with the plugin installed and without it.
"""
import glob
import os
import shutil
import subprocess
import sys

import cv2
import pytest
import torch
from tiny_setup import REPO, stage_options, write_lol_pairs, write_options, write_vgg_file

pytestmark = pytest.mark.e2e  # starts subprocesses

START_METHOD_HOOK = os.path.join(REPO, 'tests', 'data', 'start_method')
PLAIN_BASICSR = os.path.join(REPO, 'scripts', 'plain_basicsr')


def environment(pythonpath=(), **variables):
    env = {k: v for k, v in os.environ.items() if not k.startswith('R2RNET_')}
    env['PYTHONPATH'] = os.pathsep.join([*pythonpath, env.get('PYTHONPATH', '')]).strip(os.pathsep)
    env.update(variables)
    return env


def run(args, cwd, env, timeout=600):
    return subprocess.run([sys.executable, *args], cwd=cwd, env=env, capture_output=True, text=True, timeout=timeout)


def msrresnet_options(data, name, **extra):
    """A plain BasicSR option file: SRModel + MSRResNet (x2, narrow) on paired folders, one worker."""
    return {
        'name': name,
        'model_type': 'SRModel',
        'scale': 2,
        'num_gpu': 0,
        'manual_seed': 0,
        'datasets': {
            'train': {
                'name': 'tiny',
                'type': 'PairedImageDataset',
                'dataroot_gt': os.path.join(data, 'high'),
                'dataroot_lq': os.path.join(data, 'low'),
                'filename_tmpl': '{}',
                'io_backend': {
                    'type': 'disk'
                },
                'gt_size': 16,
                'use_hflip': True,
                'use_rot': True,
                'num_worker_per_gpu': 1,
                'batch_size_per_gpu': 2,
                'dataset_enlarge_ratio': 1,
                'prefetch_mode': None
            }
        },
        'network_g': {
            'type': 'MSRResNet',
            'num_in_ch': 3,
            'num_out_ch': 3,
            'num_feat': 8,
            'num_block': 1,
            'upscale': 2
        },
        'path': {
            'pretrain_network_g': None,
            'strict_load_g': True,
            'resume_state': None
        },
        'train': {
            'optim_g': {
                'type': 'Adam',
                'lr': 1e-3
            },
            'scheduler': {
                'type': 'MultiStepLR',
                'milestones': [10],
                'gamma': 0.5
            },
            'total_iter': 3,
            'warmup_iter': -1,
            'pixel_opt': {
                'type': 'L1Loss',
                'loss_weight': 1.0
            }
        },
        'logger': {
            'print_freq': 1,
            'save_checkpoint_freq': 3,
            'use_tb_logger': False
        },
        'dist_params': {
            'backend': 'nccl',
            'port': 29500
        },
        **extra
    }


@pytest.fixture(scope='module')
def tiny_data(tmp_path_factory):
    return write_lol_pairs(tmp_path_factory.mktemp('data'), count=4)


@pytest.fixture(scope='module')
def sr_data(tmp_path_factory):
    """Super-resolution pairs: ``high/<i>.png`` 40x48 and ``low/<i>.png`` at half that size."""
    root = write_lol_pairs(tmp_path_factory.mktemp('sr_data'), count=4)
    for path in glob.glob(os.path.join(root, 'low', '*.png')):
        cv2.imwrite(path, cv2.resize(cv2.imread(path), (24, 20), interpolation=cv2.INTER_AREA))
    return root


def assert_trained_once(experiments, name, result):
    """One experiment folder (none archived), one training log, the last network saved."""
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    folders = sorted(f for f in os.listdir(experiments) if f.startswith(name))
    assert folders == [name], folders  # a re-run would have archived the first as <name>_archived_<time>
    logs = glob.glob(os.path.join(experiments, name, f'train_{name}_*.log'))
    assert len(logs) == 1, logs
    with open(logs[0]) as f:
        assert f.read().count('Start training from epoch') == 1
    assert glob.glob(os.path.join(experiments, name, 'models', '*_latest.pth'))


def basicsr_root():
    """Where ``python -m basicsr.train`` of BasicSR as released puts its experiments (beside the package)."""
    import basicsr
    return os.path.dirname(os.path.dirname(os.path.abspath(basicsr.__file__)))


@pytest.mark.parametrize(
    'method, opted_in', [('fork', False), ('spawn', False), ('forkserver', False), ('spawn', True)],
    ids=['fork-as-released', 'spawn-as-released', 'forkserver-as-released', 'spawn-opted-in'])
def test_plain_basicsr_model_trains_once_under_start_method(tmp_path, sr_data, method, opted_in):
    name = f'guest_msrresnet_{method}_{os.getpid()}_{int(opted_in)}'
    extra = {'r2rnet_plugin_fixes': 'all'} if opted_in else {}
    path = write_options(msrresnet_options(sr_data, name, **extra), str(tmp_path))
    env = environment([START_METHOD_HOOK], R2RNET_TEST_START_METHOD=method)
    # Without the opt-in, BasicSR as released writes beside its own package; with it, under the cwd.
    experiments = os.path.join(str(tmp_path) if opted_in else basicsr_root(), 'experiments')
    try:
        result = run(['-m', 'basicsr.train', '-opt', path], tmp_path, env)
        assert_trained_once(experiments, name, result)
        assert os.path.exists(tmp_path / 'experiments') == opted_in
    finally:
        for leftover in glob.glob(os.path.join(basicsr_root(), 'experiments', f'{name}*')):
            shutil.rmtree(leftover, ignore_errors=True)


@pytest.mark.parametrize('module, method', [('basicsr.train', 'fork'), ('basicsr.train', 'spawn'),
                                            ('basicsr.train', 'forkserver'), ('r2rnet_plugin.train', 'spawn')])
def test_plugin_stage_trains_once_under_start_method(tmp_path, tiny_data, method, module):
    opt = stage_options('decom', tiny_data, write_vgg_file(tmp_path / 'vgg.pth'), name=f'guest_decom_{method}')
    opt['datasets']['train']['num_worker_per_gpu'] = 1
    path = write_options(opt, str(tmp_path))
    env = environment([START_METHOD_HOOK], R2RNET_TEST_START_METHOD=method)
    result = run(['-m', module, '-opt', path], tmp_path, env)
    assert_trained_once(str(tmp_path / 'experiments'), opt['name'], result)


OTHER_PROJECT = '''
import warnings
warnings.simplefilter('error')  # no warning either
import basicsr
from basicsr.utils.registry import ARCH_REGISTRY, LOSS_REGISTRY, MODEL_REGISTRY
from torch import nn

for registry, names in ((ARCH_REGISTRY, ['ZeroDCE', 'RetinexNet', 'GammaLLIE', 'CLAHELLIE', 'IdentityLLIE']),
                        (LOSS_REGISTRY, ['ZeroDCELoss']), (MODEL_REGISTRY, ['LLIEModel'])):
    for name in names:
        registry.register(type(name, (nn.Module,), {}))
print('registered', ARCH_REGISTRY.get('ZeroDCE').__module__, ARCH_REGISTRY.get('R2RNet').__module__)
'''


def test_other_projects_register_common_llie_names(tmp_path):
    result = run(['-c', OTHER_PROJECT], tmp_path, environment())
    assert result.returncode == 0, result.stderr
    assert result.stdout.split() == ['registered', '__main__', 'r2rnet_plugin.archs.r2rnet_arch']


TAKEN_FIRST = '''
import warnings
import sys, importlib
successor = importlib.import_module('torchvision.transforms._functional_tensor')
sys.modules['torchvision.transforms.functional_tensor'] = successor
import basicsr
from basicsr.utils.registry import ARCH_REGISTRY, MODEL_REGISTRY
from torch import nn
ARCH_REGISTRY.register(type('R2RNet', (nn.Module,), {'__module__': 'someone_else'}))
with warnings.catch_warnings(record=True) as caught:
    warnings.simplefilter('always')
    import r2rnet_plugin
print(ARCH_REGISTRY.get('R2RNet').__module__, ARCH_REGISTRY.get('r2rnet_plugin.R2RNet').__module__)
print([str(w.message) for w in caught if 'registry' in str(w.message)])
'''


def test_a_taken_name_warns_and_the_plugin_stays_reachable(tmp_path):
    result = run(['-c', TAKEN_FIRST], tmp_path, environment(R2RNET_PLUGIN_AUTOLOAD='0'))
    assert result.returncode == 0, result.stderr
    first, warned = result.stdout.splitlines()
    assert first.split() == ['someone_else', 'r2rnet_plugin.archs.r2rnet_arch']
    assert "'R2RNet' is held by someone_else.R2RNet" in warned and "'type: r2rnet_plugin.R2RNet'" in warned


MODULE_LOCATIONS = '''
import importlib.resources, importlib.util, os, warnings
warnings.simplefilter('error', DeprecationWarning)
names = ('scipy.ndimage', 'torchvision.transforms')
before = {n: importlib.util.find_spec(n).submodule_search_locations for n in names}
import basicsr  # and, through the start-up hook, the plugin
import basicsr.metrics.niqe  # imports scipy.ndimage.filters
import r2rnet_plugin
after = {n: importlib.util.find_spec(n).submodule_search_locations for n in before}
print(before == after, os.path.isdir(str(importlib.resources.files('scipy.ndimage'))))
import scipy.ndimage.filters, torchvision.transforms.functional_tensor as ft
print(scipy.ndimage.filters.__name__, ft.__name__)
'''


def test_real_modules_keep_their_specs(tmp_path):
    result = run(['-c', MODULE_LOCATIONS], tmp_path, environment())
    assert result.returncode == 0, result.stderr
    assert result.stdout.split() == [
        'True', 'True', 'scipy.ndimage.filters', 'torchvision.transforms._functional_tensor'
    ]


THIRD_PARTY_TRAIN = '''
"""A third-party BasicSR project's train.py: its own model, drawing noise from torch's global RNG."""
import os, sys
import torch
from basicsr.models.sr_model import SRModel
from basicsr.utils.registry import MODEL_REGISTRY


@MODEL_REGISTRY.register()
class GuestNoisySRModel(SRModel):
    def feed_data(self, data):
        super().feed_data(data)
        if self.is_train:
            self.lq = self.lq + 0.05 * torch.randn_like(self.lq)


if __name__ == '__main__':
    from basicsr.train import train_pipeline
    print('plugin loaded:', 'r2rnet_plugin' in sys.modules, flush=True)
    train_pipeline(os.path.dirname(os.path.abspath(__file__)))
'''


def train_third_party(root, data, env):
    os.makedirs(root)
    script = os.path.join(root, 'train.py')
    with open(script, 'w') as f:
        f.write(THIRD_PARTY_TRAIN)
    opt = msrresnet_options(data, 'guest', model_type='GuestNoisySRModel')
    opt['datasets']['val'] = {**opt['datasets']['train'], 'name': 'val', 'phase': 'val'}
    for key in ('gt_size', 'use_hflip', 'use_rot', 'num_worker_per_gpu', 'batch_size_per_gpu'):
        opt['datasets']['val'].pop(key)
    opt['val'] = {'val_freq': 2, 'save_img': True, 'metrics': {'psnr': {'type': 'calculate_psnr', 'crop_border': 0}}}
    path = write_options(opt, root)
    result = run([script, '-opt', path], root, env)
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    exp = os.path.join(root, 'experiments', 'guest')
    weights = torch.load(os.path.join(exp, 'models', 'net_g_3.pth'), weights_only=True)['params']
    images = sorted(os.path.relpath(p, exp) for p in glob.glob(os.path.join(exp, 'visualization', '*', '*.png')))
    return result.stdout.splitlines()[0], weights, images


def test_third_party_training_is_unchanged_by_the_plugin(tmp_path, sr_data):
    with_plugin = train_third_party(str(tmp_path / 'with'), sr_data, environment())
    without = train_third_party(
        str(tmp_path / 'without'), sr_data, environment([PLAIN_BASICSR], R2RNET_PLUGIN_AUTOLOAD='0'))
    assert with_plugin[0] == 'plugin loaded: True' and without[0] == 'plugin loaded: False'
    assert with_plugin[1].keys() == without[1].keys()
    for key in with_plugin[1]:
        assert torch.equal(with_plugin[1][key], without[1][key]), key
    assert with_plugin[2] == without[2] and with_plugin[2]  # the same validation images, named alike


def test_option_file_with_python_tag_does_not_run(tmp_path, sr_data):
    marker = tmp_path / 'PWNED'
    opt = msrresnet_options(sr_data, 'tagged')
    path = write_options(opt, str(tmp_path))
    with open(path) as f:
        text = f.read().replace('manual_seed: 0', f'manual_seed: !!python/object/apply:os.system ["touch {marker}"]')
    with open(path, 'w') as f:
        f.write(text)
    for module in ('basicsr.train', 'basicsr.test', 'r2rnet_plugin.train', 'r2rnet_plugin.test'):
        result = run(['-m', module, '-opt', path], tmp_path, environment())
        assert result.returncode == 2, (module, result.stderr[-2000:])
        assert not marker.exists(), module
        assert 'Traceback' not in result.stderr and path in result.stderr and 'line' in result.stderr, result.stderr


@pytest.mark.parametrize('command', [['-m', 'r2rnet_plugin.prepare_lmdb'], ['-m', 'r2rnet_plugin.convert_official'],
                                     ['r2rnet-prepare-lmdb'], ['r2rnet-convert-official']])
def test_help_of_the_offline_tools_imports_neither_torch_nor_basicsr(tmp_path, command):
    if not command[0].startswith('-'):
        command = [os.path.join(os.path.dirname(sys.executable), command[0])]
    result = run(['-X', 'importtime', *command, '--help'], tmp_path, environment())
    assert result.returncode == 0 and 'usage:' in result.stdout, result.stderr[-2000:]
    imported = {line.rsplit('|', 1)[-1].strip() for line in result.stderr.splitlines() if '|' in line}
    assert 'r2rnet_plugin' in imported and not imported & {'torch', 'basicsr'}


TOOLS_IMPORTED = '''
import r2rnet_plugin.enhance, r2rnet_plugin.prepare_lmdb, r2rnet_plugin.convert_official, r2rnet_plugin.benchmark
from r2rnet_plugin.compat import RUN_PATCHES
print(sorted(p.name for p in RUN_PATCHES if p.applied()))
'''


def test_tools_that_do_not_train_apply_no_training_patch(tmp_path):
    result = run(['-c', TOOLS_IMPORTED], tmp_path, environment())
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == '[]'
