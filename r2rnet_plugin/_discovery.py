"""Import every module of a sub-package whose file name ends with a suffix (BasicSR's convention)."""
import importlib
import os


def import_modules_with_suffix(package_name, package_file, suffix):
    """Import ``package_name.<name>`` for each ``<name><suffix>`` beside ``package_file``, sorted.

    Importing the modules runs their ``@*_REGISTRY.register()`` decorators.
    """
    folder = os.path.dirname(os.path.abspath(package_file))
    names = sorted(f[:-3] for f in os.listdir(folder) if f.endswith(suffix))
    return [importlib.import_module(f'{package_name}.{name}') for name in names]
