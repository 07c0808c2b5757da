"""Import every module of a sub-package whose file name ends with a suffix (BasicSR's convention)."""
import importlib
import os
import sys


def import_modules_with_suffix(package_name, package_file, suffix):
    """Import ``package_name.<name>`` for each ``<name><suffix>`` beside ``package_file``, sorted.

    Importing the modules runs their ``@*_REGISTRY.register()`` decorators.
    """
    folder = os.path.dirname(os.path.abspath(package_file))
    names = sorted(f[:-3] for f in os.listdir(folder) if f.endswith(suffix))
    return [importlib.import_module(f'{package_name}.{name}') for name in names]


# The commands that register nothing: ``python -m <module>`` or the console script.
LIGHT_COMMANDS = {
    'r2rnet_plugin.prepare_lmdb': 'r2rnet-prepare-lmdb',
    'r2rnet_plugin.convert_official': 'r2rnet-convert-official'
}


def running_light_command(argv=None):
    """True when the program is one of :data:`LIGHT_COMMANDS` (from ``sys.orig_argv``)."""
    args = list(getattr(sys, 'orig_argv', []) if argv is None else argv)[1:]
    while args:
        arg = args.pop(0)
        if arg in ('-X', '-W', '--check-hash-based-pycs'):  # options that take a value
            args = args[1:]
        elif arg.startswith('-m'):
            return (arg[2:] or (args[:1] or [''])[0]) in LIGHT_COMMANDS
        elif arg == '-c' or not arg.startswith('-'):
            return os.path.basename(arg) in LIGHT_COMMANDS.values()
    return False
