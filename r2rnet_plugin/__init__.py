"""R2RNet as a BasicSR plugin: importing this package registers its archs, losses, datasets, models.

BasicSR 1.4.2 is first made importable on today's libraries (:mod:`r2rnet_plugin.compat`).
Two commands need neither BasicSR nor torch (``prepare_lmdb``, ``convert_official``): when one
of them is the program being run, nothing is registered, so its ``--help`` answers at once.
"""
import os
import sys

__version__ = '0.1.0'

# The commands that register nothing: ``python -m <module>`` or the console script.
LIGHT_COMMANDS = {'r2rnet_plugin.prepare_lmdb': 'r2rnet-prepare-lmdb',
                  'r2rnet_plugin.convert_official': 'r2rnet-convert-official'}


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


def register():
    """Make basicsr importable, then register the plugin's parts in its registries. Idempotent."""
    from r2rnet_plugin import compat
    compat.apply()
    from r2rnet_plugin import archs, data, losses, models  # noqa: F401  (registration)


if not running_light_command():
    register()
