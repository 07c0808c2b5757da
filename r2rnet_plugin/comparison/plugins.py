"""Import the modules named by ``--plugin`` and ``plugins:``: they register their own archs."""
import hashlib
import importlib
import importlib.util
import os
import re
import sys


class PluginImportError(ImportError):
    """A plugin module could not be imported; the message says which and why."""


def import_plugin(name):
    """Import a module by dotted name (``my_package.archs``) or by file path (``my_archs.py``).

    A file is imported once, under a module name of its own made from its stem and its real
    path (``r2rnet_plugin_file_<stem>_<hash>``), so that it clashes with no other module (a file
    named ``basicsr.py`` or ``utils.py`` included); importing it twice would register its archs
    twice, which BasicSR's registry refuses.
    """
    try:
        if name.endswith('.py') or os.sep in name:
            return _import_file(name)
        return importlib.import_module(name)
    except PluginImportError:
        raise
    except Exception as err:
        raise PluginImportError(f'plugin {name!r} could not be imported: {type(err).__name__}: {err}') from err


def file_module_name(path):
    """The module name a plugin file is imported under: unique per real path."""
    real = os.path.realpath(path)
    stem = re.sub(r'\W', '_', os.path.splitext(os.path.basename(real))[0])
    return f'r2rnet_plugin_file_{stem}_{hashlib.sha1(real.encode()).hexdigest()[:10]}'


def _import_file(path):
    if not os.path.isfile(path):
        raise PluginImportError(f'plugin file {path} does not exist')
    module_name = file_module_name(path)
    if module_name in sys.modules:
        return sys.modules[module_name]
    spec = importlib.util.spec_from_file_location(module_name, path)
    module = importlib.util.module_from_spec(spec)
    sys.modules[module_name] = module
    try:
        spec.loader.exec_module(module)
    except BaseException:
        del sys.modules[module_name]
        raise
    return module


def import_plugins(names):
    """Import every module of ``names`` in order; returns the modules."""
    return [import_plugin(name) for name in names]
