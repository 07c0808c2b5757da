"""Build one benchmarked method: its network from ARCH_REGISTRY, then its weights.

Weights are BasicSR files (``{'params'|'params_ema': state_dict}``, or a plain state dict; read by
the one reader and its EMA rule, :mod:`r2rnet_plugin.weights.state_dicts`), or
published checkpoints converted in memory by :mod:`r2rnet_plugin.weights.official` (what
``convert_official`` writes to a file): R2RNet's three (``{decom:, denoise:, relight:}``) or
the RetinexNet PyTorch port's two (``{decom:, relight:}``, for
``R2RPluginRetinexNet``). Anything that goes wrong with one
method raises :class:`MethodLoadError`, which the runner reports in that method's row.
"""
import os

from r2rnet_plugin.comparison.llie_archs import arch_class
from r2rnet_plugin.comparison.widths import WIDTH_OPTION, channel_default, official_decom_width, width_of
from r2rnet_plugin.weights import state_dicts
from r2rnet_plugin.weights.official import (RETINEXNET_STAGES, STAGES, convert_official, convert_retinexnet,
                                            load_state_dict_file)


class MethodLoadError(RuntimeError):
    """A method's network could not be built or its weights do not fit it."""


def build_network(spec):
    """The network of a :class:`~r2rnet_plugin.comparison.config.MethodSpec`, weights loaded.

    Returns:
        tuple: ``(net, notes)``: the network on the CPU in eval mode, and a list of remarks
        for the report (random initialisation, tensors left out).
    """
    cls = arch_class(spec.arch, f'method {spec.name!r}')
    options = {k: v for k, v in spec.network.items() if k != 'type'}
    net = _construct(spec, cls, options)
    notes = []
    has_parameters = any(True for _ in net.parameters())
    if spec.weights is None:
        if has_parameters:
            notes.append('no weights given: random initialisation')
    else:
        check_weight_files(spec)
        state = _read_weights(spec, net)
        net = _fit_width(spec, cls, options, net, state)
        notes += load_weights(net, state, spec.strict, spec.describe_weights())
    return net.eval(), notes


def _construct(spec, cls, options):
    try:
        return cls(**options)
    except Exception as err:
        raise MethodLoadError(f'network options {options} do not fit {spec.arch}: {err}') from err


def check_weight_files(spec):
    """Raise :class:`MethodLoadError` naming every weights file of ``spec`` that does not exist."""
    missing = [path for path in spec.weight_files() if not os.path.isfile(path)]
    if missing:
        raise MethodLoadError(f'checkpoint(s) not found: {", ".join(missing)}')


def _fit_width(spec, cls, options, net, state):
    """``net``, rebuilt with the width of ``state`` when ``channel:`` was not given.

    Raises:
        MethodLoadError: an explicit ``channel:`` that differs from the weights' width.
    """
    default = channel_default(cls)
    if default is None:
        return net
    channel = options.get(WIDTH_OPTION, default)
    key, width = width_of(net, channel, state)
    if width is None or width == channel:
        return net
    if WIDTH_OPTION in options:
        raise MethodLoadError(f'network: channel: {channel} but the weights {spec.describe_weights()} hold a '
                              f'network of width {width} ({key} is {list(state[key].shape)}); '
                              f'remove channel: or set it to {width}')
    return _construct(spec, cls, dict(options, **{WIDTH_OPTION: width}))


def _read_weights(spec, net):
    try:
        if isinstance(spec.weights, dict):
            return _published(spec, net)
        return read_state_dict(spec.weights, spec.param_key)
    except (OSError, ValueError) as err:  # FileNotFoundError, CheckpointKeyError, unreadable files
        raise MethodLoadError(str(err)) from err


def _published(spec, net):
    """The state dict converted from ``spec.weights``, published checkpoints ``{stage: path}``:
    the RetinexNet port's two for a RetinexNet, R2RNet's three for an R2RNet-like network."""
    from r2rnet_plugin.archs.retinexnet_arch import RetinexNet
    given = tuple(spec.weights)
    if isinstance(net, RetinexNet):
        if set(given) != set(RETINEXNET_STAGES):
            raise MethodLoadError(f'method {spec.name!r}: {spec.arch} takes the RetinexNet PyTorch port\'s two '
                                  f'checkpoints, weights: {{decom:, relight:}}; remove '
                                  f'{", ".join(f"{k}:" for k in given if k not in RETINEXNET_STAGES)}')
        return convert_retinexnet(spec.weights['decom'], spec.weights['relight'])
    missing = [stage for stage in STAGES if not hasattr(net, stage)]
    if missing:
        raise MethodLoadError(f'method {spec.name!r}: the published checkpoints {{decom:, ...}} need an R2RNet '
                              f'(three) or R2RPluginRetinexNet (two); {spec.arch} has no {", ".join(missing)}')
    if set(given) != set(STAGES):
        raise MethodLoadError(f'method {spec.name!r}: {spec.arch} takes the three published R2RNet checkpoints, '
                              f'weights: {{decom:, denoise:, relight:}}; denoise: is missing ({{decom:, relight:}} '
                              'is the RetinexNet port\'s pair, for network type R2RPluginRetinexNet)')
    width = official_decom_width(load_state_dict_file(spec.weights['decom']))
    return convert_official(*(spec.weights[stage] for stage in STAGES), channel=width)


def read_state_dict(path, param_key=None):
    """A method's state dict: the one reader's EMA rule (:mod:`r2rnet_plugin.weights.state_dicts`),
    or the entry ``param_key:`` names."""
    return state_dicts.read_state_dict(path, param_key or state_dicts.AUTO)


def load_weights(net, state, strict, source):
    """Load ``state`` into ``net``, checking names and shapes first.

    Returns:
        list[str]: notes on tensors left out (only when ``strict`` is False).

    Raises:
        MethodLoadError: the tensors do not fit (strict), or none fits (not strict).
    """
    expected = net.state_dict()
    problems = state_dicts.key_problems(state, expected)
    fitting = {k: v for k, v in state.items() if k in expected and v.shape == expected[k].shape}
    if problems and (strict or not fitting):
        raise MethodLoadError(f'weights {source} do not fit {type(net).__name__}: ' + '; '.join(problems))
    net.load_state_dict(fitting, strict=not problems)
    return ['weights loaded non-strictly, left out: ' + '; '.join(problems)] if problems else []
