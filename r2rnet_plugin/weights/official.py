"""Published checkpoints converted into this plugin's state dicts, in memory.

The library half of ``python -m r2rnet_plugin.convert_official`` (which writes the result to a
file); the benchmark and ``enhance`` call it directly. Two kinds of published checkpoints:

- R2RNet's three (Decom, Denoise, Relight): :func:`convert_official`;
- the two of the RetinexNet PyTorch port (github.com/aasharma90/RetinexNet_PyTorch,
  ``ckpts/Decom/*.tar``, ``ckpts/Relight/*.tar``): :func:`convert_retinexnet`, which reads the
  network's width and depth from the Decom-Net checkpoint.

Key renaming rules live in :mod:`r2rnet_plugin.weights.official_keys`.
"""
from r2rnet_plugin.utils.text import first_items
from r2rnet_plugin.weights.official_keys import REFERENCE_NAMES, plugin_key
from r2rnet_plugin.weights.state_dicts import AUTO, check_finite, read_state_dict

STAGES = ('decom', 'denoise', 'relight')
RETINEXNET_STAGES = ('decom', 'relight')
ARCHS = {  # --arch: (stages, what the checkpoints are called in messages, registered network type)
    'r2rnet': (STAGES, 'published R2RNet', 'R2RNet'),
    'retinexnet': (RETINEXNET_STAGES, 'RetinexNet PyTorch port (aasharma90/RetinexNet_PyTorch)',
                   'R2RPluginRetinexNet'),
}


class CheckpointKeyError(ValueError):
    """A checkpoint's keys or shapes do not fit the network it is meant for."""


def shorten(keys, limit=12):
    """``keys`` sorted, the first ``limit`` of them and how many more."""
    return first_items(sorted(keys), limit)


def load_state_dict_file(path):
    """A published checkpoint's state dict, read by the one reader (:mod:`.state_dicts`)."""
    return read_state_dict(path, AUTO, 'checkpoint')


def convert_stage(stage, reference_state, target_module, source='checkpoint', arch='r2rnet'):
    """Rename one published network's state dict for ``target_module``, checking keys and shapes.

    Args:
        arch (str): a key of :data:`ARCHS`: whose checkpoint ``reference_state`` is.

    Raises:
        CheckpointKeyError: naming the unexpected, missing or mis-shaped keys.
    """
    expected = target_module.state_dict()
    converted, unexpected = {}, []
    for key, value in reference_state.items():
        new_key = plugin_key(stage, key, arch)
        if new_key is None or new_key not in expected:
            unexpected.append(key)
        else:
            converted[new_key] = value
    missing = [k for k in expected if k not in converted]
    reverse = {plugin_key(stage, k, arch): k for k in reference_state}
    mis_shaped = [
        f'{reverse[k]} {tuple(v.shape)} (expected {tuple(expected[k].shape)})' for k, v in converted.items()
        if v.shape != expected[k].shape
    ]
    problems = []
    if unexpected:
        problems.append(f'unexpected keys: {shorten(unexpected)}')
    if missing:
        problems.append(f'missing keys (plugin names): {shorten(missing)}')
    if mis_shaped:
        problems.append(f'wrong shapes: {shorten(mis_shaped)}')
    if problems:
        raise CheckpointKeyError(
            f'{source} does not look like a {ARCHS[arch][1]} {REFERENCE_NAMES[stage]} checkpoint; ' +
            '; '.join(problems))
    return converted


def convert_official(decom, denoise, relight, channel=64):
    """Build an ``R2RNet`` state dict from the three reference state dicts (or their file paths)."""
    from r2rnet_plugin.archs.r2rnet_arch import R2RNet
    model = R2RNet(channel=channel)
    result = {}
    for stage, source in zip(STAGES, (decom, denoise, relight)):
        name = source if isinstance(source, str) else f'the {stage} state dict'
        state = load_state_dict_file(source) if isinstance(source, str) else source
        check_finite(state, name)
        converted = convert_stage(stage, state, getattr(model, stage), name)
        result.update({f'{stage}.{k}': v for k, v in converted.items()})
    return result


def _retinexnet_size(decom_state):
    """``(channel, num_layers)`` of the port's Decom-Net state dict; (64, 5), the port's, where
    it does not tell (the key check then names what is wrong)."""
    shallow = decom_state.get('net1_conv0.weight')
    channel = int(shallow.shape[0]) if getattr(shallow, 'ndim', 0) == 4 else 64
    layers = sum(1 for key in decom_state if plugin_key('decom', key, 'retinexnet') is not None
                 and key.startswith('net1_convs.') and key.endswith('.weight'))
    return channel, layers or 5


def convert_retinexnet(decom, relight, channel=None, num_layers=None):
    """Build a ``RetinexNet`` state dict from the PyTorch port's two state dicts (or file paths).

    Args:
        decom, relight: the port's ``ckpts/Decom/*.tar`` and ``ckpts/Relight/*.tar``.
        channel, num_layers (int, optional): the network's; None reads them from ``decom``.
    """
    from r2rnet_plugin.archs.retinexnet_arch import RetinexNet
    states = {}
    for stage, source in zip(RETINEXNET_STAGES, (decom, relight)):
        name = source if isinstance(source, str) else f'the {stage} state dict'
        states[stage] = (name, load_state_dict_file(source) if isinstance(source, str) else source)
        check_finite(states[stage][1], name)
    read_channel, read_layers = _retinexnet_size(states['decom'][1])
    model = RetinexNet(channel=channel or read_channel, num_layers=num_layers or read_layers)
    result = {}
    for stage, (name, state) in states.items():
        converted = convert_stage(stage, state, getattr(model, stage), name, arch='retinexnet')
        result.update({f'{stage}.{k}': v for k, v in converted.items()})
    return result
