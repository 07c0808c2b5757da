"""Registers every `*_dataset.py` module of this folder into BasicSR's registries.

Not while ``prepare_lmdb`` (which needs no registry, nor torch) is the program being run.
"""
from r2rnet_plugin.utils.discovery import import_modules_with_suffix, running_light_command

_modules = [] if running_light_command() else import_modules_with_suffix(__name__, __file__, '_dataset.py')
