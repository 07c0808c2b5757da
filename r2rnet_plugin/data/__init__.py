"""Registers every `*_dataset.py` module of this folder into BasicSR's registries.

Not while ``prepare_lmdb`` (which needs no registry, nor torch) is the program being run.
"""
from r2rnet_plugin import running_light_command
from r2rnet_plugin._discovery import import_modules_with_suffix

_modules = [] if running_light_command() else import_modules_with_suffix(__name__, __file__, '_dataset.py')
