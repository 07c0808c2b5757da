"""Import fixes: what BasicSR 1.4.2 needs to import at all on today's libraries (for every program).

Standard library only, so the start-up hook (``r2rnet_plugin_autoload``) can load this file
before ``basicsr`` runs, without importing the plugin package (torch) first.

Problem 1: ``basicsr.data.degradations`` imports ``torchvision.transforms.functional_tensor``,
which torchvision renamed to ``_functional_tensor`` (0.17) and later removed under the old
name. That name alone is aliased, and only while it does not exist: a module that still exists
is never shadowed and no real module's spec, loader or path is touched.

Problem 2: ``basicsr.metrics.niqe`` imports ``scipy.ndimage.filters``. The module still exists
(deprecated) on current SciPy, so it is left alone; only its deprecation warning is silenced.

Problem 7: ``basicsr/__init__.py`` imports ``basicsr.train`` and ``basicsr.test``, so
``python -m basicsr.train`` makes runpy warn that the module is already imported (harmless).
"""
import importlib
import importlib.abc
import importlib.util
import sys
import warnings

# Removed module name -> the module that replaced it.
REMOVED_MODULES = {
    'torchvision.transforms.functional_tensor': 'torchvision.transforms._functional_tensor',
}

SILENCED_WARNINGS = (
    (DeprecationWarning, r'.*scipy\.ndimage\.filters'),
    (RuntimeWarning, r"'basicsr\.(train|test)' found in sys\.modules"),
)


class _AliasLoader(importlib.abc.Loader):
    """Loads a removed module name by returning the module that replaced it."""

    def __init__(self, target):
        self.target = target

    def create_module(self, spec):
        return importlib.import_module(self.target)

    def exec_module(self, module):
        pass


class RemovedModuleAliasFinder(importlib.abc.MetaPathFinder):
    """Answers for a name of :data:`REMOVED_MODULES` only when no other finder has it.

    It sits at the end of ``sys.meta_path``: a real module of that name, where one is installed,
    is found first and imported as it is.
    """

    def find_spec(self, fullname, path=None, target=None):
        replacement = REMOVED_MODULES.get(fullname)
        if replacement is None:
            return None
        return importlib.util.spec_from_loader(fullname, _AliasLoader(replacement))


def install_import_aliases():
    """Make BasicSR 1.4.2 importable (problems 1, 2, 7). Idempotent."""
    if not any(isinstance(f, RemovedModuleAliasFinder) for f in sys.meta_path):
        sys.meta_path.append(RemovedModuleAliasFinder())
    for category, message in SILENCED_WARNINGS:
        warnings.filterwarnings('ignore', message=message, category=category)
