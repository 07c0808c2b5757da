"""R2RNet as a BasicSR plugin: importing this package registers its archs, losses, datasets, models.

BasicSR 1.4.2 is first adapted to today's libraries (:mod:`r2rnet_plugin.compat`).
"""
from r2rnet_plugin import compat

compat.apply()

from r2rnet_plugin import archs, data, losses, models  # noqa: E402,F401  (registration)

__version__ = '0.1.0'
