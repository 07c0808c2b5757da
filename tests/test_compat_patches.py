"""One test per BasicSR patch (each fails without it), the scope of each, and how patches apply."""
import importlib
import os
import random
import sys
import textwrap
import time
import types
import warnings

import numpy as np
import pytest
import torch
import yaml

from r2rnet_plugin import compat
from r2rnet_plugin.compat import checkpoints, launch, reporting, sampling, scope
from r2rnet_plugin.compat.patching import MARK, BasicsrVersionWarning, Patch, fingerprint, resolve
from r2rnet_plugin.utils.option_file import OptionFileError

PLUGIN = 'R2RNetModel'
OTHER = 'SRModel'
ALL_PATCHES = compat.LAUNCH_PATCHES + compat.RUN_PATCHES


@pytest.fixture(autouse=True)
def run_fixes_installed(monkeypatch):
    compat.install_run_fixes()
    monkeypatch.delenv(scope.OPT_IN_ENV, raising=False)
    monkeypatch.setitem(scope._process, 'command', False)
    monkeypatch.setitem(scope._process, 'current', None)
    yield
    checkpoints.RESUMING.clear()


def model(model_type, tmp_path=None, **opt):
    """A bare BasicSR model of ``model_type`` (the patches look at its options only)."""
    from basicsr.models.base_model import BaseModel
    options = {
        'model_type': model_type,
        'num_gpu': 0,
        'is_train': True,
        'dist': False,
        'manual_seed': 3,
        'path': {
            'models': str(tmp_path),
            'training_states': str(tmp_path)
        },
        **opt
    }
    return BaseModel(options)


# ------------------------------------------------------------------------------- mechanics
def test_every_patch_applies_on_basicsr_1_4_2_and_only_once():
    assert all(compat.install_launch_fixes()) and all(compat.install_run_fixes())
    installed = [getattr(resolve(p.owner), p.attr) for p in ALL_PATCHES]
    assert [getattr(obj, MARK) for obj in installed] == [p.name for p in ALL_PATCHES]
    compat.install_launch_fixes()
    compat.install_run_fixes()
    assert [getattr(resolve(p.owner), p.attr) for p in ALL_PATCHES] == installed  # nothing wrapped twice


def test_patch_names_and_opt_in_names_agree():
    scoped = {p.name for p in ALL_PATCHES} - {'safe_yaml', 'parse_options'}  # those two serve every run
    data_order = {'sampler_seeds', 'dataloader_seeds'}  # two patches, one fix
    assert (scoped - data_order) | {'data_order'} == set(scope.OPTIONAL_FIXES)


@pytest.fixture
def fake_module(tmp_path, monkeypatch):
    (tmp_path / 'fake_basicsr_target.py').write_text(
        textwrap.dedent('''
        def target(x):
            return x + 1
    '''))
    monkeypatch.syspath_prepend(str(tmp_path))
    yield importlib.import_module('fake_basicsr_target')
    sys.modules.pop('fake_basicsr_target', None)


def test_a_patch_is_skipped_with_a_warning_where_its_target_changed(fake_module):
    patch = Patch('plus_two', 'fake_basicsr_target', 'target', '0' * 16, lambda original: lambda x: x + 2)
    with pytest.warns(BasicsrVersionWarning, match=r"patch 'plus_two' skipped: fake_basicsr_target\.target"):
        assert patch.apply() is False
    assert fake_module.target(1) == 2


def test_a_patch_applies_once_even_when_applied_again(fake_module):
    make_calls = []

    def make(original):
        make_calls.append(original)
        return lambda x: original(x) * 10

    patch = Patch('times_ten', 'fake_basicsr_target', 'target', fingerprint(fake_module.target), make)
    with warnings.catch_warnings():
        warnings.simplefilter('error')
        assert patch.apply() and patch.apply()
    assert fake_module.target(1) == 20 and len(make_calls) == 1


# ---------------------------------------------------------------------------------- scope
def test_scope_plugin_models_commands_and_opt_in(monkeypatch):
    assert scope.wants({'model_type': PLUGIN}, 'eta')
    assert not scope.wants({'model_type': OTHER}, 'eta')
    assert scope.wants({'model_type': OTHER, 'network_g': {'type': 'R2RNet'}}, 'eta')  # the plugin's network
    assert scope.wants({'model_type': OTHER, 'datasets': {'train': {'type': 'LLIEPairedDataset'}}}, 'eta')
    assert scope.wants({'model_type': OTHER, 'network_g': {'type': 'r2rnet_plugin.R2RPluginZeroDCE'}}, 'eta')
    assert scope.wants({'model_type': OTHER, scope.OPT_IN_KEY: 'all'}, 'eta')
    assert scope.wants({'model_type': OTHER, scope.OPT_IN_KEY: ['eta']}, 'eta')
    assert not scope.wants({'model_type': OTHER, scope.OPT_IN_KEY: 'eta, save_network'}, 'data_order')
    monkeypatch.setenv(scope.OPT_IN_ENV, 'data_order')
    assert scope.wants({'model_type': OTHER}, 'data_order')
    monkeypatch.setenv(scope.OPT_IN_ENV, 'dataorder')
    with pytest.raises(ValueError, match=f'environment variable {scope.OPT_IN_ENV} names no fix: dataorder'):
        scope.wants({'model_type': OTHER}, 'eta')
    monkeypatch.delenv(scope.OPT_IN_ENV)
    scope.opt_in_process()
    assert scope.wants({'model_type': OTHER}, 'eta')


# ---------------------------------------------------------------------------- import fixes
def test_import_fix_aliases_only_the_removed_torchvision_module():
    import torchvision.transforms._functional_tensor as successor
    import torchvision.transforms.functional_tensor as old_name

    from r2rnet_plugin.compat.imports import RemovedModuleAliasFinder
    assert old_name is successor
    assert RemovedModuleAliasFinder().find_spec('scipy.ndimage.filters') is None
    assert importlib.util.find_spec('scipy.ndimage.filters').origin.endswith('filters.py')
    finders = [getattr(f, '__name__', type(f).__name__) for f in sys.meta_path]
    assert finders.index('PathFinder') < finders.index('RemovedModuleAliasFinder')  # real modules come first


# -------------------------------------------------------------------------------- launch
def test_safe_yaml_refuses_python_tags():
    from basicsr.utils.options import ordered_yaml
    loader = ordered_yaml()[0]
    assert list(yaml.load('b: 1\na: !!float 1e-4\n', Loader=loader).items()) == [('b', 1), ('a', 1e-4)]
    with pytest.raises(yaml.constructor.ConstructorError, match='python/object/apply'):
        yaml.load('seed: !!python/object/apply:os.getcwd []\n', Loader=loader)


def write_yaml(tmp_path, opt, name='opt.yml'):
    path = tmp_path / name
    path.write_text(yaml.safe_dump(opt))
    return str(path)


def plain_options(model_type, **extra):
    return {
        'name': 'x',
        'model_type': model_type,
        'num_gpu': 0,
        'manual_seed': 0,
        'path': {},
        'datasets': {
            'test': {
                'name': 't',
                'type': 'PairedImageDataset'
            }
        },
        **extra
    }


def test_parse_options_checks_the_file_and_accepts_local_rank_dash(tmp_path, monkeypatch, capsys):
    from basicsr.utils.options import parse_options
    path = write_yaml(tmp_path, plain_options(OTHER))
    monkeypatch.setattr(sys, 'argv', ['test.py', '-opt', path, '--local-rank=0'])
    opt, args = parse_options(str(tmp_path), is_train=False)
    assert opt['model_type'] == OTHER and args.local_rank == 0 and scope.current_run()['name'] == 'x'
    bad = write_yaml(tmp_path, plain_options(PLUGIN, num_gpu='two'), 'bad.yml')
    monkeypatch.setattr(sys, 'argv', ['test.py', '-opt', bad])
    with pytest.raises(SystemExit) as stop:
        parse_options(str(tmp_path), is_train=False)
    assert stop.value.code == 2 and "'num_gpu' in " + bad in capsys.readouterr().err


def test_init_dist_is_basicsrs_for_other_gpu_runs_and_the_plugins_where_basicsr_cannot_run(monkeypatch):
    calls = []
    monkeypatch.setattr(launch, 'init_dist', lambda *a, **k: calls.append('plugin'))
    choose = launch.choose_init_dist(lambda *a, **k: calls.append('basicsr'))
    monkeypatch.setattr(torch.cuda, 'is_available', lambda: True)
    scope.set_current_run({'model_type': OTHER})
    choose('pytorch')
    scope.set_current_run({'model_type': PLUGIN})
    choose('pytorch')
    monkeypatch.setattr(torch.cuda, 'is_available', lambda: False)
    scope.set_current_run({'model_type': OTHER})
    choose('pytorch')  # BasicSR's calls torch.cuda.set_device(rank % 0) without CUDA
    assert calls == ['basicsr', 'plugin', 'plugin']


def test_model_to_device_wraps_cpu_ddp_without_device_ids(tmp_path):
    calls = []
    choose = launch.choose_model_to_device(lambda self, net: calls.append('basicsr') or net)
    net = torch.nn.Linear(2, 2)
    choose(model(OTHER, tmp_path), net)
    distributed = model(OTHER, tmp_path, dist=True)  # BasicSR's passes CUDA device ids: fails on the CPU
    from unittest import mock
    with mock.patch('r2rnet_plugin.models.ddp.DistributedDataParallel', lambda m, **k: ('ddp', k)):
        wrapped = choose(distributed, net)
    assert calls == ['basicsr'] and wrapped[0] == 'ddp' and wrapped[1]['device_ids'] is None


@pytest.mark.parametrize('model_type', [PLUGIN, OTHER])
def test_main_module_code_is_guarded_and_roots_runs_in_the_current_directory(tmp_path, monkeypatch, model_type):
    import basicsr.train
    path = write_yaml(tmp_path, plain_options(model_type))
    monkeypatch.setattr(sys, 'argv', ['train.py', '-opt', path])
    code = basicsr.train.__spec__.loader.get_code('basicsr.train')
    if model_type == OTHER:  # BasicSR's own file, as released
        assert code.co_filename == basicsr.train.__file__ and 'train_pipeline' in code.co_names
        return
    calls = []
    monkeypatch.setattr(launch, 'run_pipeline', lambda *args: calls.append(args))
    exec(code, {'__name__': '__mp_main__'})  # a spawn / forkserver worker importing the main module
    assert calls == []
    exec(code, {'__name__': '__main__'})
    assert calls == [('basicsr.train', 'train_pipeline')]


# --------------------------------------------------------------------------- checkpoints
def test_load_resume_state_reads_states_onto_the_cpu(tmp_path):
    import basicsr.train
    state_path = str(tmp_path / '4.state')
    torch.save({'iter': 4, 'epoch': 0, 'optimizers': [], 'schedulers': []}, state_path)

    def options(model_type):
        return {
            'model_type': model_type,
            'auto_resume': False,
            'name': 'x',
            'is_train': True,
            'path': {
                'resume_state': state_path,
                'training_states': str(tmp_path),
                'models': str(tmp_path)
            }
        }

    assert basicsr.train.load_resume_state(options(PLUGIN))['iter'] == 4
    if not torch.cuda.is_available():
        with pytest.raises((RuntimeError, AssertionError)):  # BasicSR's maps it onto a CUDA device
            basicsr.train.load_resume_state(options(OTHER))


@pytest.mark.parametrize('model_type', [PLUGIN, OTHER])
def test_save_network_writes_atomically(tmp_path, monkeypatch, model_type):
    saved = []
    monkeypatch.setattr('r2rnet_plugin.utils.checkpoint_io.atomic_save', lambda obj, path, **k: saved.append(path))
    model(model_type, tmp_path).save_network(torch.nn.Linear(2, 2), 'net_g', 5)
    plugin_run = model_type == PLUGIN
    assert saved == ([os.path.join(str(tmp_path), 'net_g_5.pth')] if plugin_run else [])
    assert os.path.exists(tmp_path / 'net_g_5.pth') != plugin_run  # BasicSR's torch.save-s in place


@pytest.mark.parametrize('model_type', [PLUGIN, OTHER])
def test_save_training_state_holds_the_random_states(tmp_path, model_type):
    model(model_type, tmp_path).save_training_state(0, 7)
    state = torch.load(tmp_path / '7.state', weights_only=False)
    assert ('rng' in state and state['manual_seed'] == 3) == (model_type == PLUGIN)


def test_load_network_reads_files_holding_numpy_scalars(tmp_path):
    net = torch.nn.Linear(2, 2)
    path = str(tmp_path / 'net.pth')
    torch.save({'params': net.state_dict(), 'best_psnr': np.float64(21.5)}, path)
    model(PLUGIN, tmp_path).load_network(torch.nn.Linear(2, 2), path)
    with pytest.raises(Exception, match='weights_only|Unsupported global'):  # BasicSR's torch.load refuses
        model(OTHER, tmp_path).load_network(torch.nn.Linear(2, 2), path)


def test_load_network_names_the_option_for_a_plain_state_dict(tmp_path):
    path = str(tmp_path / 'Epoch99.pth')
    torch.save(torch.nn.Linear(2, 2).state_dict(), path)
    with pytest.raises(ValueError, match=r"plain state dict \(no 'params' entry\).*'path: param_key_g: ~'"):
        model(PLUGIN, tmp_path).load_network(torch.nn.Linear(2, 2), path)
    model(PLUGIN, tmp_path).load_network(torch.nn.Linear(2, 2), path, param_key=None)


@pytest.mark.parametrize('model_type', [PLUGIN, OTHER])
def test_resume_training_restores_the_random_states(tmp_path, model_type):
    from r2rnet_plugin.utils.checkpoint_io import capture_rng_state
    state = {'optimizers': [], 'schedulers': [], 'rng': capture_rng_state()}
    expected = (random.random(), torch.rand(1).item())
    model(model_type, tmp_path).resume_training(state)
    assert ((random.random(), torch.rand(1).item()) == expected) == (model_type == PLUGIN)


# ------------------------------------------------------------------------------ sampling
def test_sampler_hands_out_seeded_indices_only_when_given_a_seed():
    from basicsr.data.data_sampler import EnlargedSampler
    from r2rnet_plugin.data.sample_seeds import SeededIndex
    sampler = EnlargedSampler(list(range(4)), num_replicas=1, rank=0)
    assert not any(isinstance(i, SeededIndex) for i in sampler)
    sampler.sample_seed = 5
    indices = list(sampler)
    assert sorted(indices) == [0, 1, 2, 3] and all(isinstance(i, SeededIndex) for i in indices)


@pytest.mark.parametrize('model_type', [PLUGIN, OTHER])
def test_dataloaders_get_their_own_generators(model_type):
    from basicsr.data.data_sampler import EnlargedSampler
    dataset = list(range(6))
    sampler = EnlargedSampler(dataset, 1, 0)
    loader = torch.utils.data.DataLoader(dataset, batch_size=2, sampler=sampler, drop_last=True)
    create = sampling.make_create_dataloaders(lambda opt, logger: (loader, sampler, [], 1, 3))
    opt = {'model_type': model_type, 'manual_seed': 9, 'datasets': {'train': {'batch_size_per_gpu': 2}}}
    create(opt, None)
    plugin_run = model_type == PLUGIN
    assert (loader.generator is not None, getattr(sampler, 'sample_seed', None)) == \
        ((True, 9) if plugin_run else (False, None))


def test_a_training_loader_without_a_batch_stops_the_run():
    from basicsr.data.data_sampler import EnlargedSampler
    dataset = list(range(3))
    sampler = EnlargedSampler(dataset, 1, 0)
    loader = torch.utils.data.DataLoader(dataset, batch_size=4, sampler=sampler, drop_last=True)
    create = sampling.make_create_dataloaders(lambda opt, logger: (loader, sampler, [], 1, 3))
    opt = {
        'model_type': PLUGIN,
        'manual_seed': 0,
        'train': {
            'stage': 'decom'
        },
        'datasets': {
            'train': {
                'batch_size_per_gpu': 4
            }
        }
    }
    with pytest.raises(OptionFileError, match="'datasets: train: batch_size_per_gpu' is 4.*3 image pair.*decom"):
        create(opt, None)


# ----------------------------------------------------------------------------- reporting
@pytest.mark.parametrize('model_type', [PLUGIN, OTHER])
def test_final_validation_is_labelled_with_the_last_iteration(tmp_path, model_type):
    seen = []
    validation = reporting.make_clamped_validation(lambda self, loader, it, tb, save: seen.append(it))
    validation(model(model_type, tmp_path, train={'total_iter': 3}), None, 4, None)
    assert seen == [3 if model_type == PLUGIN else 4]


@pytest.mark.parametrize('model_type', [PLUGIN, OTHER])
def test_eta_is_never_negative(model_type):
    from basicsr.utils import MessageLogger
    opt = {
        'model_type': model_type,
        'name': 'x',
        'logger': {
            'print_freq': 1,
            'use_tb_logger': False
        },
        'train': {
            'total_iter': 3
        }
    }
    logger = MessageLogger(opt, start_iter=1)
    logger.start_time = time.time() - 10
    messages = []
    logger.logger = types.SimpleNamespace(info=messages.append)
    logger({'epoch': 0, 'iter': 3, 'lrs': [1e-3], 'time': 0.1, 'data_time': 0.01})
    assert ('-1 day' in messages[0]) == (model_type == OTHER)
