"""Adaptations of BasicSR 1.4.2 to today's torch, torchvision, NumPy, OpenCV and CPU-only machines.

This is the one module of the plugin that changes BasicSR's behaviour. Nothing installed is
edited: every adaptation is applied at run time, from outside, and each names the upstream
problem it works around. The module imports only the standard library at its top, so the
start-up hook (``r2rnet_plugin_autoload``) can load it before BasicSR itself runs.

Two entry points:

- :func:`install_import_aliases` runs *before* ``basicsr`` is imported: it provides the
  module names that BasicSR 1.4.2 imports but today's libraries removed.
- :func:`patch_basicsr` runs *after* ``basicsr`` is imported: it replaces the few BasicSR
  functions that assume CUDA or write into site-packages, and those that make checkpoints and
  resumes fragile (torn files, unsafe unpickling, a resumed run that differs from an
  uninterrupted one: problems 14, 15 and 26 to 30).
"""
import atexit
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


# The training state chosen by load_resume_state, for the data loaders built next (problem 27).
_RESUMING = {}


def load_resume_state(opt):
    """Replacement for ``basicsr.train.load_resume_state``.

    Problem 12: the original maps the state onto ``torch.cuda.current_device()`` and so fails on
    CPU; states are read onto the CPU here (optimizers move them to their parameters' device).
    Problem 13: ``--auto_resume`` looked in ``experiments/<name>/training_states`` relative to the
    current directory; the options' own ``path: training_states`` is used instead.
    Problem 15: states are read without running pickled code (``r2rnet_plugin.safe_load``).
    Problem 26: ``--auto_resume`` took the newest ``.state`` blindly: one cut short by a kill, or
    whose network files are missing or corrupt, made the resume crash. The newest *complete*
    state is taken (``r2rnet_plugin.checkpoint_io.find_resume_state``); those passed over are
    named on stdout (BasicSR's logger does not exist yet).
    """
    from basicsr.utils import check_resume
    from r2rnet_plugin.checkpoint_io import find_resume_state
    from r2rnet_plugin.safe_load import load_checkpoint
    _RESUMING.clear()
    if opt['auto_resume']:
        folder = opt['path'].get('training_states')
        path, state, passed_over = find_resume_state(folder, opt['path'].get('models'))
        for reason in passed_over:
            print(f'--auto_resume: passed over {reason}', flush=True)
        if path is None and passed_over:
            raise RuntimeError(f'--auto_resume: no complete training state in {folder} (see above); remove '
                               'the damaged ones to start again from iteration 0.')
        if path is not None:
            opt['path']['resume_state'] = path
    else:
        path = opt['path'].get('resume_state')
        state = None if path is None else load_checkpoint(path, "option 'path: resume_state'")
    if state is None:
        return None
    check_resume(opt, state['iter'])
    _RESUMING['state'] = state
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
    atexit.register(_destroy_process_group)


def _destroy_process_group():
    """BasicSR never destroys its process group. Left to interpreter exit, the backend's threads
    can be torn down while still joinable: a rank that finishes first (while rank 0 still
    validates) was seen to abort with 'terminate called without an active exception'."""
    import torch.distributed as dist
    if dist.is_initialized():
        dist.destroy_process_group()


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


def _patch_message_logger_eta():
    """Problem 20: ``MessageLogger`` estimates the time left as the mean time per iteration
    times ``total_iter - iter - 1``, so the message at the last iteration shows a negative ETA
    ('-1 day, 23:59:..'), and the mean divides the time since ``reset_start_time`` (called after
    iteration 1) by ``iter + 1`` iterations. Here the mean is over the iterations actually timed
    and the ETA counts the iterations left, never fewer than zero."""
    logger_module = importlib.import_module('basicsr.utils.logger')

    class MessageLogger(logger_module.MessageLogger):
        def __init__(self, opt, start_iter=1, tb_logger=None):
            super().__init__(opt, start_iter, tb_logger)
            self.done_at_start = start_iter  # iterations already done when the clock started

        def reset_start_time(self):  # train_pipeline calls it after iteration 1
            super().reset_start_time()
            self.done_at_start = 1

        def __call__(self, log_vars):
            # The base class computes mean = elapsed / (iter - start_iter + 1) and
            # eta = mean * (max_iters - iter - 1); these two values make that exact.
            current_iter, max_iters = log_vars['iter'], self.max_iters
            self.start_iter = min(self.done_at_start, current_iter - 1) + 1
            self.max_iters = max(max_iters, current_iter) + 1
            try:
                return super().__call__(log_vars)
            finally:
                self.max_iters = max_iters

    MessageLogger.__doc__ = logger_module.MessageLogger.__doc__
    _replace_everywhere('basicsr.utils.logger', 'MessageLogger', MessageLogger)


def save_network(self, net, net_label, current_iter, param_key='params'):
    """Replacement for ``BaseModel.save_network`` (same file names and content).

    Problem 14: the original ``torch.save``-s straight to the final name, so a kill during the
    save leaves a truncated file; and it only logs a save that failed three times. Here the file
    is written atomically (``r2rnet_plugin.checkpoint_io.atomic_save``) and a save that keeps
    failing raises. The names saved for an iteration are listed in its training state (problem 26).
    """
    from r2rnet_plugin.checkpoint_io import atomic_save
    from basicsr.utils import get_root_logger
    filename = f"{net_label}_{'latest' if current_iter == -1 else current_iter}.pth"
    nets = net if isinstance(net, list) else [net]
    keys = param_key if isinstance(param_key, list) else [param_key]
    assert len(nets) == len(keys), 'The lengths of net and param_key should be the same.'
    save_dict = {}
    for net_, key_ in zip(nets, keys):
        state_dict = self.get_bare_model(net_).state_dict()  # an OrderedDict with its _metadata
        for key in [k for k in state_dict if k.startswith('module.')]:
            state_dict[key[len('module.'):]] = state_dict.pop(key)
        for key, param in state_dict.items():
            state_dict[key] = param.cpu()
        save_dict[key_] = state_dict
    atomic_save(save_dict, os.path.join(self.opt['path']['models'], filename), logger=get_root_logger())
    if current_iter != -1:
        self.__dict__.setdefault('_r2r_saved_networks', {}).setdefault(current_iter, []).append(filename)


def save_training_state(self, epoch, current_iter):
    """Replacement for ``BaseModel.save_training_state``.

    Problem 14: written atomically, as :func:`save_network`. Problem 30: BasicSR's state holds
    the optimizers and schedulers only; a resumed run then draws other random numbers than an
    uninterrupted one. Added here: the random states (``rng``), ``manual_seed`` (the data order
    and augmentation seed), the network files saved with this state (``networks``, checked by
    ``--auto_resume``) and what the model adds (``extra_training_state()``, e.g. the count of
    non-finite losses in a row).
    """
    from r2rnet_plugin.checkpoint_io import atomic_save, capture_rng_state
    from basicsr.utils import get_root_logger
    if current_iter == -1:
        return
    state = {'epoch': epoch, 'iter': current_iter,
             'optimizers': [o.state_dict() for o in self.optimizers],
             'schedulers': [s.state_dict() for s in self.schedulers],
             'rng': capture_rng_state(), 'manual_seed': self.opt.get('manual_seed'),
             'networks': self.__dict__.get('_r2r_saved_networks', {}).pop(current_iter, [])}
    if hasattr(self, 'extra_training_state'):
        state.update(self.extra_training_state())
    path = os.path.join(self.opt['path']['training_states'], f'{current_iter}.state')
    atomic_save(state, path, logger=get_root_logger())


def _patch_resume_training():
    """Problem 30: ``resume_training`` also puts back the random states and the model's extras."""
    import functools
    from basicsr.models.base_model import BaseModel
    resume_training = BaseModel.resume_training

    @functools.wraps(resume_training)
    def resume_all(self, resume_state):
        from r2rnet_plugin.checkpoint_io import restore_rng_state
        resume_training(self, resume_state)
        if 'rng' in resume_state:
            restore_rng_state(resume_state['rng'])
        if hasattr(self, 'load_extra_training_state'):
            self.load_extra_training_state(resume_state)

    BaseModel.resume_training = resume_all


def load_network(self, net, load_path, strict=True, param_key='params'):
    """Replacement for ``BaseModel.load_network`` (same behaviour and log lines).

    Problem 15: the original calls ``torch.load`` without ``weights_only``, so a weights file
    named in an option file (``pretrain_network_g``, or the networks of a resumed state) can run
    arbitrary code when loaded. Files are read by ``r2rnet_plugin.safe_load`` instead: tensors,
    containers, numbers and numpy scalars/arrays only; anything else is refused, naming the file.
    """
    from basicsr.utils import get_root_logger
    from r2rnet_plugin.safe_load import CheckpointError, load_checkpoint, strip_module_prefix
    logger = get_root_logger()
    net = self.get_bare_model(net)
    load_net = load_checkpoint(load_path, 'network file')
    if param_key is not None:
        if isinstance(load_net, dict) and param_key not in load_net and 'params' in load_net:
            param_key = 'params'
            logger.info('Loading: params_ema does not exist, use params.')
        if not isinstance(load_net, dict) or not isinstance(load_net.get(param_key), dict):
            held = ', '.join(map(str, load_net)) if isinstance(load_net, dict) else type(load_net).__name__
            raise CheckpointError(f'network file {load_path} has no {param_key!r} entry (it holds: {held})')
        load_net = load_net[param_key]
    logger.info(f'Loading {net.__class__.__name__} model from {load_path}, with param key: [{param_key}].')
    load_net = strip_module_prefix(load_net)
    self._print_different_keys_loading(net, load_net, strict)
    net.load_state_dict(load_net, strict=strict)


def _patch_sampler():
    """Problems 27 and 28, on BasicSR's training sampler ``EnlargedSampler``.

    Problem 27: a resumed run restarts its epoch from the first batch (``train_pipeline`` only
    knows the epoch), so it sees part of that epoch's data twice and never sees the rest. The
    sampler can now start an epoch at a position (``resume_position = {epoch: indices to
    skip}``, set when the data loaders are built for a resumed run).
    Problem 28: crops and flips come from the ``random`` stream of the process that reads the
    sample (worker processes are seeded the same way at every epoch), so they depend on process
    history: a resumed run, or another worker count, augments differently. Each index is handed
    out as a ``SeededIndex`` whose seed is made from (manual_seed, epoch, position in the
    epoch's order); ``LLIEPairedDataset`` augments from it (other datasets see a plain int).
    """
    from basicsr.data.data_sampler import EnlargedSampler
    from r2rnet_plugin.data.sample_seeds import SeededIndex, sample_seed
    original_iter = EnlargedSampler.__iter__

    def seeded_iter(self):
        indices = list(original_iter(self))
        positions = range(self.rank, self.total_size, self.num_replicas)
        seed = getattr(self, 'sample_seed', 0)
        seeded = [SeededIndex(index, sample_seed(seed, self.epoch, position))
                  for index, position in zip(indices, positions)]
        return iter(seeded[getattr(self, 'resume_position', {}).get(self.epoch, 0):])

    EnlargedSampler.__iter__ = seeded_iter


def _patch_dataloader_creation():
    """Problems 27 to 29, where ``train_pipeline`` builds its data loaders.

    Problem 29: every DataLoader iterator (each epoch, each validation, the prefetcher's extra
    one) draws its workers' base seed from torch's global generator, so the random numbers the
    model draws depend on how many iterators were made before: a resumed run (or one more
    validation) changes them. Each loader gets its own generator, seeded from ``manual_seed``.
    The training sampler gets its augmentation seed (problem 28); when resuming, the data order
    continues where the saved iteration left it (problem 27): the epoch and the position in it
    follow from the iteration and the number of batches per epoch, and the state's ``epoch``
    (which ``train_pipeline`` starts from) is set accordingly.
    """
    import functools
    import torch
    train = importlib.import_module('basicsr.train')
    create = train.create_train_val_dataloader

    @functools.wraps(create)
    def create_and_seed(opt, logger):
        result = create(opt, logger)
        train_loader, train_sampler, val_loaders = result[:3]
        state = _RESUMING.pop('state', None)
        seed = opt['manual_seed'] if state is None or state.get('manual_seed') is None else state['manual_seed']
        for loader in [train_loader, *val_loaders]:
            if loader is not None:
                loader.generator = torch.Generator().manual_seed(seed)
        train_sampler.sample_seed = seed
        batches = len(train_loader)
        if state is not None and batches:
            epoch, done = divmod(state['iter'], batches)
            state['epoch'] = epoch
            train_sampler.resume_position = {epoch: done * train_loader.batch_size}
            logger.info(f'Resuming the data order at epoch {epoch}, batch {done + 1} of {batches}.')
        return result

    train.create_train_val_dataloader = create_and_seed


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
    base_model = importlib.import_module('basicsr.models.base_model').BaseModel
    base_model.model_to_device = model_to_device
    _patch_final_validation_iteration()
    _patch_message_logger_eta()  # problem 20
    master_only = importlib.import_module('basicsr.utils.dist_util').master_only
    base_model.save_network = master_only(save_network)  # problems 14, 26
    base_model.save_training_state = master_only(save_training_state)  # problems 14, 30
    base_model.load_network = load_network  # problem 15
    _patch_resume_training()  # problem 30
    _patch_sampler()  # problems 27, 28
    _patch_dataloader_creation()  # problems 27, 28, 29
    setattr(basicsr, _PATCHED_MARK, True)


def apply():
    """Everything, in order: import aliases, then ``import basicsr``, then the patches."""
    install_import_aliases()
    patch_basicsr()
