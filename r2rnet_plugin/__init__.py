"""R2RNet as a BasicSR plugin: importing this package registers its archs, losses, datasets, models.

BasicSR 1.4.2 is first made importable on today's libraries (:mod:`r2rnet_plugin.compat`).
Two commands need neither BasicSR nor torch (``prepare_lmdb``, ``convert_official``): when one
of them is the program being run, nothing is registered, so its ``--help`` answers at once.
"""
__version__ = '0.1.0'

from r2rnet_plugin.utils.discovery import running_light_command


def register():
    """Make basicsr importable, then register the plugin's parts in its registries. Idempotent."""
    from r2rnet_plugin import compat
    from r2rnet_plugin.utils.registration import call_before_each_model
    compat.apply()
    call_before_each_model(compat.install_run_fixes)
    from r2rnet_plugin import archs, data, losses, models  # noqa: F401  (registration)


if not running_light_command():
    register()
