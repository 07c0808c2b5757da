"""Registers every `*_loss.py` module of this folder into BasicSR's registries."""
from r2rnet_plugin.utils.discovery import import_modules_with_suffix

_modules = import_modules_with_suffix(__name__, __file__, '_loss.py')
