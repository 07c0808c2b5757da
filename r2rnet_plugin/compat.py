"""Adaptations of BasicSR 1.4.2 to today's torch, torchvision, NumPy, OpenCV and CPU-only machines.

This is the one module of the plugin that changes BasicSR's behaviour. Nothing installed is
edited: every adaptation is applied at run time, from outside, and each names the upstream
problem it works around. The module imports only the standard library at its top, so the
start-up hook (``r2rnet_plugin_autoload``) can load it before BasicSR itself runs.

Two entry points:

- :func:`install_import_aliases` runs *before* ``basicsr`` is imported: it provides the
  module names that BasicSR 1.4.2 imports but today's libraries removed.
- :func:`patch_basicsr` runs *after* ``basicsr`` is imported: it replaces the few BasicSR
  functions that assume CUDA or write into site-packages.
"""
import importlib
import importlib.abc
import importlib.util
import os
import sys
import warnings

# Problem 1: basicsr.data.degradations imports ``torchvision.transforms.functional_tensor``,
# which torchvision renamed to ``_functional_tensor`` (0.17) and then removed under the old name.
# Problem 2: basicsr.metrics.niqe imports ``scipy.ndimage.filters``, deprecated since SciPy 1.8
# and removed in later releases; everything it offered lives in ``scipy.ndimage``.
MODULE_ALIASES = {
    'torchvision.transforms.functional_tensor': 'torchvision.transforms._functional_tensor',
    'scipy.ndimage.filters': 'scipy.ndimage',
}

_PATCHED_MARK = '_r2rnet_plugin_patched'


class _AliasLoader(importlib.abc.Loader):
    """Loads a removed module name by returning the module that replaced it."""

    def __init__(self, target):
        self.target = target

    def create_module(self, spec):
        return importlib.import_module(self.target)

    def exec_module(self, module):
        pass


class _ModuleAliasFinder(importlib.abc.MetaPathFinder):
    """Resolves each old name in :data:`MODULE_ALIASES` to the module that replaced it.

    Also where the old name still exists (``scipy.ndimage.filters`` warns on every import).
    """

    def find_spec(self, fullname, path=None, target=None):
        if fullname not in MODULE_ALIASES:
            return None
        return importlib.util.spec_from_loader(fullname, _AliasLoader(MODULE_ALIASES[fullname]))


def install_import_aliases():
    """Make BasicSR's stale imports resolvable (problems 1 and 2). Idempotent."""
    if not any(isinstance(f, _ModuleAliasFinder) for f in sys.meta_path):
        sys.meta_path.insert(0, _ModuleAliasFinder())
    # Problem 7: ``basicsr/__init__.py`` imports ``basicsr.train`` and ``basicsr.test``, so
    # ``python -m basicsr.train`` makes runpy warn that the module is already imported. The
    # warning is harmless (the __main__ copy runs with the same dependencies).
    warnings.filterwarnings(
        'ignore', message=r"'basicsr\.(train|test)' found in sys\.modules", category=RuntimeWarning)


class _RunPipelineLoader:
    """Code object for ``python -m basicsr.train|test``: the module's own pipeline, root = cwd."""

    def __init__(self, module_name, pipeline, origin):
        self.module_name, self.pipeline, self.origin = module_name, pipeline, origin

    def get_code(self, fullname):
        source = f'import os, {self.module_name}\n{self.module_name}.{self.pipeline}(os.getcwd())\n'
        return compile(source, self.origin, 'exec')


def _redirect_main(module_name, pipeline):
    """Problems 5, 12, 13: ``python -m basicsr.train`` executes a *copy* of train.py as
    ``__main__``, which (a) takes ``root_path`` from basicsr's own ``__file__``, so experiments,
    results and tb_logger land inside site-packages, and (b) holds its own copies of the
    functions patched here, out of the plugin's reach. runpy looks the module up through its
    ``__spec__`` (already imported by ``basicsr/__init__``), so the spec's loader is replaced by
    one whose code calls the (patched) module's pipeline with the current directory as root.
    """
    import importlib.machinery
    module = importlib.import_module(module_name)
    origin = module.__spec__.origin if module.__spec__ else module.__file__
    module.__spec__ = importlib.machinery.ModuleSpec(
        module_name, _RunPipelineLoader(module_name, pipeline, origin), origin=origin)


def latest_training_state(folder):
    """Path of the ``<iter>.state`` file with the highest iteration in ``folder``, or None."""
    if not folder or not os.path.isdir(folder):
        return None
    iters = [int(name[:-len('.state')]) for name in os.listdir(folder)
             if name.endswith('.state') and name[:-len('.state')].isdigit()]
    return os.path.join(folder, f'{max(iters)}.state') if iters else None


def load_resume_state(opt):
    """Replacement for ``basicsr.train.load_resume_state``.

    Problem 12: the original maps the state onto ``torch.cuda.current_device()`` and so fails on
    CPU; states are read onto the CPU here (optimizers move them to their parameters' device).
    Problem 13: ``--auto_resume`` looked in ``experiments/<name>/training_states`` relative to the
    current directory; the options' own ``path: training_states`` is used instead.
    Problem 15 (partly): states are read with ``weights_only=True``.
    """
    import torch
    from basicsr.utils import check_resume
    if opt['auto_resume']:
        path = latest_training_state(opt['path'].get('training_states'))
        if path is not None:
            opt['path']['resume_state'] = path
    else:
        path = opt['path'].get('resume_state')
    if path is None:
        return None
    if not os.path.isfile(path):
        raise FileNotFoundError(f'path: resume_state: {path} does not exist')
    state = torch.load(path, map_location='cpu', weights_only=True)
    check_resume(opt, state['iter'])
    return state


def _replace_everywhere(module_name, attr, new):
    """Replace ``module.attr`` and every ``from module import attr`` copy inside basicsr."""
    module = importlib.import_module(module_name)
    old = getattr(module, attr)
    for name, mod in list(sys.modules.items()):
        if (name == 'basicsr' or name.startswith('basicsr.')) and getattr(mod, attr, None) is old:
            setattr(mod, attr, new)
    return old


BACKEND_ENV = 'R2RNET_DIST_BACKEND'


def _option_file_backend():
    """``dist_params: backend`` of the ``-opt`` file on the command line, if any."""
    import argparse
    parser = argparse.ArgumentParser(add_help=False)
    parser.add_argument('-opt')
    path = parser.parse_known_args()[0].opt
    if not path or not os.path.isfile(path):
        return None
    import yaml
    with open(path) as f:
        opt = yaml.safe_load(f) or {}
    return (opt.get('dist_params') or {}).get('backend')


def dist_backend(requested=None):
    """The torch.distributed backend: ``R2RNET_DIST_BACKEND``, else the option file's
    ``dist_params: backend``, else ``requested``, else by device (nccl with CUDA, gloo without)."""
    import torch
    backend = os.environ.get(BACKEND_ENV) or _option_file_backend() or requested
    if backend is None:
        backend = 'nccl' if torch.cuda.is_available() else 'gloo'
    if backend == 'nccl' and not torch.cuda.is_available():
        raise RuntimeError(f"distributed backend 'nccl' needs CUDA GPUs, and none is available; use gloo "
                           f"(unset {BACKEND_ENV} / dist_params: backend, or set it to gloo)")
    return backend


def _use_local_gpu(backend, local_rank):
    import torch
    if backend == 'nccl':
        torch.cuda.set_device(local_rank % torch.cuda.device_count())


def init_dist(launcher, backend=None, **kwargs):
    """Replacement for ``basicsr.utils.dist_util.init_dist``.

    Problem 16: the original only foresees nccl and calls ``torch.cuda.set_device(rank % 0)``
    on CPU machines. Here the backend follows the device (see :func:`dist_backend`) and a GPU
    is selected only for nccl, by LOCAL_RANK (torchrun) rather than the global rank.
    Problem 18: the original forces the 'spawn' start method, which makes CPU DataLoader
    workers start about 40x slower; the platform default is kept.
    """
    import torch.distributed as dist
    backend = dist_backend(backend)
    if launcher == 'pytorch':
        _use_local_gpu(backend, int(os.environ.get('LOCAL_RANK', os.environ.get('RANK', 0))))
        dist.init_process_group(backend=backend, **kwargs)
    elif launcher == 'slurm':
        _init_dist_slurm(backend, **kwargs)
    else:
        raise ValueError(f'Invalid launcher type: {launcher}')


def _init_dist_slurm(backend, port=None):
    """BasicSR's Slurm set-up (address from ``scontrol``, ranks from SLURM_*), CPU-safe."""
    import subprocess
    import torch
    import torch.distributed as dist
    proc_id = int(os.environ['SLURM_PROCID'])
    ntasks = int(os.environ['SLURM_NTASKS'])
    local_rank = int(os.environ.get('SLURM_LOCALID', proc_id % max(torch.cuda.device_count(), 1)))
    node_list = os.environ['SLURM_NODELIST']
    address = subprocess.run(['scontrol', 'show', 'hostname', node_list], capture_output=True, text=True,
                             check=True).stdout.split()[0]
    if port is not None:
        os.environ['MASTER_PORT'] = str(port)
    os.environ.setdefault('MASTER_PORT', '29500')
    os.environ.update(MASTER_ADDR=address, WORLD_SIZE=str(ntasks), RANK=str(proc_id), LOCAL_RANK=str(local_rank))
    _use_local_gpu(backend, local_rank)
    dist.init_process_group(backend=backend)


def _parse_options_with_launcher_fixes(parse_options):
    """Problem 19: ``torch.distributed.launch`` passes ``--local-rank``, BasicSR's parser expects
    ``--local_rank`` (torchrun passes neither: LOCAL_RANK is read from the environment)."""
    import functools

    @functools.wraps(parse_options)
    def wrapper(root_path, is_train=True):
        sys.argv = [a.replace('--local-rank', '--local_rank', 1) if a.startswith('--local-rank') else a
                    for a in sys.argv]
        return parse_options(root_path, is_train)
    return wrapper


def model_to_device(self, net):
    """Replacement for ``BaseModel.model_to_device``.

    Problem 17: the original wraps DistributedDataParallel with
    ``device_ids=[torch.cuda.current_device()]``, which fails on CPU (gloo takes no device ids).
    """
    from torch.nn import DataParallel
    from r2rnet_plugin.models.ddp import wrap_for_training
    net = net.to(self.device)
    if self.opt['dist']:
        return wrap_for_training(net, self.opt, self.device)
    if self.opt['num_gpu'] > 1:
        return DataParallel(net)
    return net


def _patch_final_validation_iteration():
    """Problem 11: ``train_pipeline`` runs the final validation with ``total_iter + 1``, so the
    last metrics are logged one iteration too far; the iteration is clamped to ``total_iter``."""
    import functools
    from basicsr.models.base_model import BaseModel
    validation = BaseModel.validation

    @functools.wraps(validation)
    def clamped(self, dataloader, current_iter, tb_logger, save_img=False):
        if self.is_train and isinstance(current_iter, int) and 'train' in self.opt:
            current_iter = min(current_iter, int(self.opt['train']['total_iter']))
        return validation(self, dataloader, current_iter, tb_logger, save_img)

    BaseModel.validation = clamped


def patch_basicsr():
    """Apply the run-time adaptations that need ``basicsr`` imported. Idempotent."""
    import basicsr
    if getattr(basicsr, _PATCHED_MARK, False):
        return
    _redirect_main('basicsr.train', 'train_pipeline')
    _redirect_main('basicsr.test', 'test_pipeline')
    importlib.import_module('basicsr.train').load_resume_state = load_resume_state
    dist_util = importlib.import_module('basicsr.utils.dist_util')
    _replace_everywhere('basicsr.utils.dist_util', 'init_dist', init_dist)
    dist_util._init_dist_slurm = _init_dist_slurm
    options = importlib.import_module('basicsr.utils.options')
    _replace_everywhere('basicsr.utils.options', 'parse_options',
                        _parse_options_with_launcher_fixes(options.parse_options))
    importlib.import_module('basicsr.models.base_model').BaseModel.model_to_device = model_to_device
    _patch_final_validation_iteration()
    setattr(basicsr, _PATCHED_MARK, True)


def apply():
    """Everything, in order: import aliases, then ``import basicsr``, then the patches."""
    install_import_aliases()
    patch_basicsr()
