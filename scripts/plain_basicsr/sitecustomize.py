"""BasicSR 1.4.2 as released plus only its torchvision import fix, for side-by-side comparisons.

Put this folder on ``PYTHONPATH`` with ``R2RNET_PLUGIN_AUTOLOAD=0``: Python imports this file at
start-up, and ``import basicsr`` then works without the plugin (``torchvision.transforms.
functional_tensor`` is gone from torchvision; this names its successor under the old name).
"""
import importlib
import sys

try:
    sys.modules.setdefault('torchvision.transforms.functional_tensor',
                           importlib.import_module('torchvision.transforms._functional_tensor'))
except ImportError:  # torchvision not installed, or an old one that still has the module
    pass
