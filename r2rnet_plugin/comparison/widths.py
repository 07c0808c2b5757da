"""The network width (``channel``) a weights file holds, so that ``network:`` need not repeat it.

An arch whose constructor takes ``channel`` is built with the file's width. The width is read
from the first tensor of the network's state dict whose first dimension is the constructor's
``channel`` (for R2RNet ``decom.in_conv.weight``, as ``enhance`` reads it; for Zero-DCE
``e_conv1.weight``). An explicit ``channel:`` that disagrees with the file is an error.
"""
import inspect

from r2rnet_plugin.weights.official_keys import plugin_key

WIDTH_OPTION = 'channel'


def channel_default(cls):
    """The default of ``cls``'s ``channel`` argument, or None when it has none."""
    try:
        parameter = inspect.signature(cls).parameters.get(WIDTH_OPTION)
    except (TypeError, ValueError):
        return None
    if parameter is None or not isinstance(parameter.default, int):
        return None
    return parameter.default


def width_of(net, channel, state):
    """``(key, width)``: the width ``state`` gives for ``net`` built with ``channel``, or ``(None, None)``."""
    for key, value in net.state_dict().items():
        if value.ndim >= 1 and value.shape[0] == channel and key in state and state[key].ndim == value.ndim:
            return key, int(state[key].shape[0])
    return None, None


def official_decom_width(state, default=64):
    """The width of a published R2RNet Decom-Net state dict (its first convolution), else ``default``."""
    for key, value in state.items():
        if plugin_key('decom', key) == 'in_conv.weight':
            return int(value.shape[0])
    return default
