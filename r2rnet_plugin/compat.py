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


def basicsr_install_root():
    """The folder BasicSR 1.4.2 takes as its ``root_path``: the parent of the basicsr package."""
    spec = importlib.util.find_spec('basicsr')
    return os.path.dirname(os.path.dirname(os.path.abspath(spec.origin)))


def user_path(path):
    """Map a path under BasicSR's install root to the same path under the current directory.

    Problem 5: ``python -m basicsr.train`` / ``basicsr.test`` compute ``root_path`` from
    basicsr's own ``__file__``, so ``experiments/``, ``results/`` and ``tb_logger/`` would be
    written inside site-packages. Every path BasicSR derives from that root goes through here.
    """
    if path is None:
        return path
    root = basicsr_install_root()
    absolute = os.path.abspath(path)
    if absolute == root:
        return os.getcwd()
    if absolute.startswith(root + os.sep):
        return os.path.join(os.getcwd(), os.path.relpath(absolute, root))
    return path


def _replace_everywhere(module_name, attr, new):
    """Replace ``module.attr`` and every ``from module import attr`` copy inside basicsr."""
    module = importlib.import_module(module_name)
    old = getattr(module, attr)
    for name, mod in list(sys.modules.items()):
        if (name == 'basicsr' or name.startswith('basicsr.')) and getattr(mod, attr, None) is old:
            setattr(mod, attr, new)
    return old


def _patch_root_path():
    """Problem 5: experiments, results and tb_logger go under the current directory."""
    import functools

    def wrap_first_arg(func):
        @functools.wraps(func)
        def wrapper(path, *args, **kwargs):
            return func(user_path(path), *args, **kwargs)
        return wrapper

    parse_options = importlib.import_module('basicsr.utils.options').parse_options
    _replace_everywhere('basicsr.utils.options', 'parse_options', wrap_first_arg(parse_options))
    mkdir_and_rename = importlib.import_module('basicsr.utils.misc').mkdir_and_rename
    _replace_everywhere('basicsr.utils.misc', 'mkdir_and_rename', wrap_first_arg(mkdir_and_rename))

    init_tb_logger = importlib.import_module('basicsr.utils.logger').init_tb_logger

    @functools.wraps(init_tb_logger)
    def init_tb_logger_in_cwd(log_dir):
        return init_tb_logger(user_path(log_dir))

    _replace_everywhere('basicsr.utils.logger', 'init_tb_logger', init_tb_logger_in_cwd)


def patch_basicsr():
    """Apply the run-time adaptations that need ``basicsr`` imported. Idempotent."""
    import basicsr
    if getattr(basicsr, _PATCHED_MARK, False):
        return
    _patch_root_path()
    setattr(basicsr, _PATCHED_MARK, True)


def apply():
    """Everything, in order: import aliases, then ``import basicsr``, then the patches."""
    install_import_aliases()
    patch_basicsr()
