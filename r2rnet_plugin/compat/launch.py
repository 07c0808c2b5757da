"""Launch fixes: ``python -m basicsr.train|test``, reading the option file, distributed set-up.

- ``main_module`` (problems 5, 12, 13, 33): ``python -m basicsr.train`` runs a *copy* of
  train.py as ``__main__``: it takes ``root_path`` from basicsr's own file (experiments land in
  site-packages) and holds its own copies of the functions patched for the plugin's runs. For a
  run that gets the fix, the code runpy executes calls the (patched) module's pipeline with the
  current directory as root, behind the ``__main__`` guard that spawn and forkserver need (their
  DataLoader workers re-import the main module as ``__mp_main__``). Other runs execute
  BasicSR's own file, as released.
- ``safe_yaml`` (problem 31, every run): option files are read with PyYAML's safe loader; a
  ``!!python`` tag is an error naming the file and line, and its code never runs.
- ``parse_options`` (every run): the option file is read and checked first, so a broken file is
  a one-line error (exit 2) instead of a traceback; ``--local-rank`` (``torch.distributed.launch``)
  is accepted as ``--local_rank`` (problem 19); the run's scope is decided here, and the plugin's
  run-time fixes are installed when it gets any of them.
- ``init_dist`` (problems 16, 18) and ``model_to_device`` (problem 17): BasicSR's versions
  assume CUDA (``set_device(rank % 0)``; DDP with CUDA device ids) and force the 'spawn' start
  method. Runs that get the fix, and every run where BasicSR's version could not run at all (no
  CUDA, or a backend other than nccl), use the plugin's.
"""
import atexit
import functools
import importlib.machinery
import os
import sys

from r2rnet_plugin.compat import scope

EXIT_BAD_OPTIONS = 2


def option_file_argument(argv=None):
    """The value of ``-opt`` on the command line, or None."""
    argv = sys.argv[1:] if argv is None else argv
    for i, arg in enumerate(argv):
        if arg == '-opt' and i + 1 < len(argv):
            return argv[i + 1]
        if arg.startswith('-opt='):
            return arg[len('-opt='):]
    return None


_read = {}  # option file path -> its options, or the OptionFileError reading it raised


def read_once(path):
    """The options in ``path``, read (safely) once per process: the ``__main__`` loader and
    ``parse_options`` both need them. Raises the file's :class:`OptionFileError` each time."""
    from r2rnet_plugin.utils.option_file import OptionFileError, read_option_file
    if path not in _read:
        try:
            _read[path] = read_option_file(path)
        except OptionFileError as error:
            _read[path] = error
    if isinstance(_read[path], Exception):
        raise _read[path]
    return _read[path]


def read_command_line_options():
    """The options of ``-opt``, read safely; None when absent or unreadable (reported later)."""
    from r2rnet_plugin.utils.option_file import OptionFileError
    path = option_file_argument()
    if path is None:
        return None
    try:
        return read_once(path)
    except OptionFileError:
        return None


class _PipelineMainLoader:
    """What runpy executes for ``python -m basicsr.train|test``."""

    def __init__(self, module_name, pipeline, original):
        self.module_name, self.pipeline, self.original = module_name, pipeline, original

    def get_code(self, fullname):
        opt = read_command_line_options()
        try:
            as_released = opt is not None and not scope.wants(opt, 'main_module')
        except ValueError:  # a misspelt opt-in: parse_options reports it
            as_released = False
        if as_released:
            return self.original.loader.get_code(fullname)
        source = (f"if __name__ == '__main__':\n"
                  f'    from r2rnet_plugin.compat.launch import run_pipeline\n'
                  f'    run_pipeline({self.module_name!r}, {self.pipeline!r})\n')
        return compile(source, self.original.origin, 'exec')


def plugin_errors():
    """The plugin's errors whose message says all a user needs (no traceback for them)."""
    from r2rnet_plugin.data.bad_data import BadSampleError
    from r2rnet_plugin.utils.checkpoint_io import DiskFullError
    from r2rnet_plugin.utils.option_checks import OptionError
    from r2rnet_plugin.utils.option_file import OptionFileError
    from r2rnet_plugin.utils.safe_load import CheckpointError
    from r2rnet_plugin.weights.state_dicts import WeightsError
    return OptionFileError, OptionError, CheckpointError, WeightsError, DiskFullError, BadSampleError


def run_pipeline(module_name, pipeline):
    """Run ``<module_name>.<pipeline>`` with the current directory as root; the plugin's own
    errors end the run with their message on one line (exit 1) instead of a traceback."""
    import importlib

    from r2rnet_plugin.compat.start_up import undo_start_up_folders
    try:
        getattr(importlib.import_module(module_name), pipeline)(os.getcwd())
    except plugin_errors() as error:
        undo_start_up_folders()
        print(f'error: {error}', file=sys.stderr, flush=True)
        raise SystemExit(1) from None
    except (Exception, KeyboardInterrupt):
        undo_start_up_folders()
        raise


def make_main_spec(module_name, pipeline):
    """``make`` of the ``main_module`` patches: a spec whose loader is a :class:`_PipelineMainLoader`."""

    def make(original):
        return importlib.machinery.ModuleSpec(
            module_name, _PipelineMainLoader(module_name, pipeline, original), origin=original.origin)

    return make


def _fail(message):
    """End the run: one line on stderr, exit status 2 (argparse's, for bad arguments)."""
    print(f'error: {message}', file=sys.stderr, flush=True)
    raise SystemExit(EXIT_BAD_OPTIONS) from None


def make_parse_options(original):
    """``parse_options`` that reads and checks the option file before BasicSR's own parsing."""

    @functools.wraps(original)
    def parse_options(root_path, is_train=True):
        from r2rnet_plugin.compat import install_run_fixes
        from r2rnet_plugin.utils.option_file import OptionFileError, check_run_options
        sys.argv = [
            a.replace('--local-rank', '--local_rank', 1) if a.startswith('--local-rank') else a for a in sys.argv
        ]
        path = option_file_argument()
        opt, in_scope = None, False
        if path is not None:
            try:
                opt = read_once(path)
                scope.opted_in(opt)  # a misspelt fix name is an error, also where it changes nothing
                in_scope = scope.wants_any(opt)
                if in_scope:
                    check_run_options(opt, path, is_train=is_train)
            except OptionFileError as error:
                _fail(error)
            except ValueError as error:  # an option value refused by name (the message has no file)
                _fail(f'{error} (option file {path})')
        scope.set_current_run(opt)
        if in_scope:
            install_run_fixes()
        return original(root_path, is_train)

    return parse_options


def make_ordered_yaml(original):
    """``ordered_yaml`` on PyYAML's safe loader and dumper (same ordered mappings, no code)."""

    def ordered_yaml():
        from r2rnet_plugin.utils.option_file import ordered_safe_yaml
        return ordered_safe_yaml()

    ordered_yaml.__doc__ = original.__doc__
    return ordered_yaml


BACKEND_ENV = 'R2RNET_DIST_BACKEND'


def dist_backend(requested=None, opt=None):
    """The torch.distributed backend: ``R2RNET_DIST_BACKEND``, else the option file's
    ``dist_params: backend``, else ``requested``, else by device (nccl with CUDA, gloo without)."""
    import torch
    opt = scope.current_run() if opt is None else opt
    from_file = (opt.get('dist_params') or {}).get('backend') if isinstance(opt, dict) else None
    backend = os.environ.get(BACKEND_ENV) or from_file or requested
    if backend is None:
        backend = 'nccl' if torch.cuda.is_available() else 'gloo'
    if backend == 'nccl' and not torch.cuda.is_available():
        raise RuntimeError(f"distributed backend 'nccl' needs CUDA GPUs, and none is available; use gloo "
                           f'(unset {BACKEND_ENV} / dist_params: backend, or set it to gloo)')
    return backend


def _use_local_gpu(backend, local_rank):
    import torch
    if backend == 'nccl':
        torch.cuda.set_device(local_rank % torch.cuda.device_count())


def init_dist(launcher, backend=None, **kwargs):
    """The plugin's ``init_dist``: backend by device (:func:`dist_backend`), a GPU chosen by
    LOCAL_RANK only for nccl, the platform's default start method kept, the process group
    destroyed at exit."""
    import torch.distributed as dist
    backend = dist_backend(backend)
    if launcher == 'pytorch':
        _use_local_gpu(backend, int(os.environ.get('LOCAL_RANK', os.environ.get('RANK', 0))))
        dist.init_process_group(backend=backend, **kwargs)
    elif launcher == 'slurm':
        init_dist_slurm(backend, **kwargs)
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


def init_dist_slurm(backend, port=None):
    """BasicSR's Slurm set-up (address from ``scontrol``, ranks from SLURM_*), CPU-safe."""
    import subprocess

    import torch
    import torch.distributed as dist
    proc_id = int(os.environ['SLURM_PROCID'])
    ntasks = int(os.environ['SLURM_NTASKS'])
    local_rank = int(os.environ.get('SLURM_LOCALID', proc_id % max(torch.cuda.device_count(), 1)))
    address = subprocess.run(['scontrol', 'show', 'hostname', os.environ['SLURM_NODELIST']],
                             capture_output=True,
                             text=True,
                             check=True).stdout.split()[0]
    if port is not None:
        os.environ['MASTER_PORT'] = str(port)
    os.environ.setdefault('MASTER_PORT', '29500')
    os.environ.update(MASTER_ADDR=address, WORLD_SIZE=str(ntasks), RANK=str(proc_id), LOCAL_RANK=str(local_rank))
    _use_local_gpu(backend, local_rank)
    dist.init_process_group(backend=backend)


def _basicsr_could_run(backend):
    import torch
    return backend in (None, 'nccl') and torch.cuda.is_available()


def choose_init_dist(original):
    """``make`` of the ``init_dist`` patch (called without a run's options: the current run's)."""

    @functools.wraps(original)
    def choose(launcher, backend='nccl', **kwargs):
        if scope.wants(scope.current_run(), 'init_dist') or not _basicsr_could_run(backend):
            return init_dist(launcher, None if backend == 'nccl' else backend, **kwargs)
        return original(launcher, backend, **kwargs)

    return choose


def model_to_device(self, net):
    """The plugin's ``model_to_device``: DDP with device ids on CUDA only, frozen networks unwrapped."""
    from torch.nn import DataParallel

    from r2rnet_plugin.models.ddp import wrap_for_training
    net = net.to(self.device)
    if self.opt['dist']:
        return wrap_for_training(net, self.opt, self.device)
    if self.opt['num_gpu'] > 1:
        return DataParallel(net)
    return net


def choose_model_to_device(original):
    """``make`` of the ``model_to_device`` patch."""

    @functools.wraps(original)
    def choose(self, net):
        basicsr_cannot_run = self.opt.get('dist') and self.device.type != 'cuda'
        if basicsr_cannot_run or scope.wants(self.opt, 'model_to_device'):
            return model_to_device(self, net)
        return original(self, net)

    return choose
