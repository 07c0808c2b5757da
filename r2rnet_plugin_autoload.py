"""Start-up hook that lets BasicSR find r2rnet_plugin by itself.

The installed ``r2rnet_plugin_autoload.pth`` imports this module when Python starts. It only
puts a small finder on ``sys.meta_path`` (no torch, no basicsr: start-up stays fast). When a
program later imports ``basicsr``, the finder:

1. applies the plugin's import fixes (``r2rnet_plugin.compat.imports``) so basicsr 1.4.2
   imports on today's torchvision,
2. lets basicsr's own code run,
3. imports ``r2rnet_plugin``, which registers its archs, losses, datasets and models.

So ``python -m basicsr.train -opt options/train_r2r_relight.yml`` knows ``type: R2RNet``.
Set ``R2RNET_PLUGIN_AUTOLOAD=0`` to turn this off; ``import r2rnet_plugin`` still works.
"""
import importlib
import os
import sys

ENV_VAR = 'R2RNET_PLUGIN_AUTOLOAD'


def enabled():
    """False when the environment variable turns the automatic loading off."""
    return os.environ.get(ENV_VAR, '1').strip().lower() not in ('0', 'false', 'no', 'off')


IMPORT_FIXES = 'r2rnet_plugin.compat.imports'


def _load_import_fixes():
    """Import ``r2rnet_plugin.compat.imports`` without running the package (which imports basicsr)."""
    import importlib.util
    if IMPORT_FIXES in sys.modules:
        return sys.modules[IMPORT_FIXES]
    package = importlib.util.find_spec('r2rnet_plugin')
    path = os.path.join(package.submodule_search_locations[0], 'compat', 'imports.py')
    spec = importlib.util.spec_from_file_location(IMPORT_FIXES, path)
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # the package reuses this very module when it imports it
    spec.loader.exec_module(module)
    return module


class _BasicsrLoader:
    """Wraps basicsr's own loader: import fixes before, plugin registration after."""

    def __init__(self, loader):
        self.loader = loader

    def create_module(self, spec):
        return self.loader.create_module(spec)

    def exec_module(self, module):
        _load_import_fixes().install_import_aliases()
        module.__spec__.loader = self.loader
        module.__loader__ = self.loader
        self.loader.exec_module(module)
        importlib.import_module('r2rnet_plugin')


class BasicsrFinder:
    """Finds ``basicsr`` with the regular path finder and wraps its loader."""

    def find_spec(self, fullname, path=None, target=None):
        if fullname != 'basicsr' or not enabled():
            return None
        import importlib.util
        sys.meta_path.remove(self)  # one shot: basicsr is found by the other finders
        spec = importlib.util.find_spec(fullname)
        if spec is None or spec.loader is None or importlib.util.find_spec('r2rnet_plugin') is None:
            return spec
        spec.loader = _BasicsrLoader(spec.loader)
        return spec


def install():
    """Put the finder on ``sys.meta_path`` (called from the .pth file)."""
    if enabled() and 'basicsr' not in sys.modules and not any(isinstance(f, BasicsrFinder) for f in sys.meta_path):
        sys.meta_path.insert(0, BasicsrFinder())
