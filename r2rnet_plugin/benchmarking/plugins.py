"""Import the modules named by ``--plugin`` and ``plugins:``: they register their own archs."""
import importlib
import importlib.util
import os
import sys


class PluginImportError(ImportError):
    """A plugin module could not be imported; the message says which and why."""


def import_plugin(name):
    """Import a module by dotted name (``my_package.archs``) or by file path (``my_archs.py``).

    A file is imported under its stem as module name, once: importing a module twice would
    register its archs twice, which BasicSR's registry refuses.
    """
    try:
        if name.endswith('.py') or os.sep in name:
            return _import_file(name)
        return importlib.import_module(name)
    except PluginImportError:
        raise
    except Exception as err:
        raise PluginImportError(f'plugin {name!r} could not be imported: {type(err).__name__}: {err}') from err


def _import_file(path):
    if not os.path.isfile(path):
        raise PluginImportError(f'plugin file {path} does not exist')
    module_name = os.path.splitext(os.path.basename(path))[0]
    loaded = sys.modules.get(module_name)
    if loaded is not None:
        if os.path.realpath(getattr(loaded, '__file__', '') or '') == os.path.realpath(path):
            return loaded
        raise PluginImportError(f'plugin file {path}: a different module named {module_name!r} is already imported')
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
