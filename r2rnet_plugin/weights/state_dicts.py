"""The one reader of weights files, for every command, and its rule for BasicSR's EMA weights.

A weights file is read with :func:`r2rnet_plugin.utils.safe_load.load_checkpoint` (no pickled
code runs) and its state dict is taken by ``param_key``:

- ``'auto'`` (``enhance``, the benchmark, the demo, ``convert_official``): ``params_ema`` where the
  file has it, else ``params``, else ``state_dict``, else the file itself (a plain state dict).
  A BasicSR run with ``ema_decay`` saves both ``params`` and ``params_ema`` and validates with
  the EMA weights, so those are the ones a result is reported for.
- a name (``params``, ``params_ema``, ...): that entry, or an error naming what the file holds;
  for a plain state dict the error says to use ``param_key: ~``.
- ``None``: the file is the state dict.

``python -m basicsr.train|test`` keep BasicSR's own rule, ``path: param_key_g`` (default
``params``); the plugin's ``load_network`` fix reads through :func:`state_dict_entry` too.
"""
from r2rnet_plugin.utils.text import first_items

# torch is imported where needed: convert_official's --help answers without it.

AUTO = 'auto'
AUTO_ENTRIES = ('params_ema', 'params', 'state_dict')


class WeightsError(ValueError):
    """Weights that cannot be read or do not fit the network."""


class WeightsNotFoundError(WeightsError, FileNotFoundError):
    """No file at the path given."""


class NonFiniteWeightsError(WeightsError):
    """Weights holding NaN or infinite values: whatever they compute comes out non-finite."""


def is_state_dict(data):
    import torch
    return isinstance(data, dict) and bool(data) and all(isinstance(v, torch.Tensor) for v in data.values())


def state_dict_entry(data, param_key, source):
    """The state dict ``param_key`` selects in ``data`` (a loaded file; see the module docstring).

    Raises:
        WeightsError: no such entry, or not a state dict of tensors.
    """
    if param_key == AUTO:
        entry = next((data[k] for k in AUTO_ENTRIES if isinstance(data, dict) and isinstance(data.get(k), dict)), data)
    elif param_key is None:
        entry = data
    elif isinstance(data, dict) and isinstance(data.get(param_key), dict):
        entry = data[param_key]
    elif is_state_dict(data):
        raise WeightsError(f'{source} is a plain state dict (no {param_key!r} entry): load it with '
                           "'param_key: ~' (in BasicSR option files 'path: param_key_g: ~')")
    else:
        held = ', '.join(map(str, data)) if isinstance(data, dict) else type(data).__name__
        raise WeightsError(f'{source} has no {param_key!r} entry (it holds: {held})')
    if not is_state_dict(entry):
        raise WeightsError(f'{source} does not hold a state dict of tensors')
    from r2rnet_plugin.utils.safe_load import strip_module_prefix
    return strip_module_prefix(entry)


def read_state_dict(path, param_key=AUTO, what='weights file'):
    """The state dict of the weights file ``path`` (``module.`` prefixes of DDP removed).

    Raises:
        WeightsNotFoundError: no such file.
        r2rnet_plugin.utils.safe_load.CheckpointError: unreadable, or carrying pickled code (not run).
        WeightsError: no state dict where ``param_key`` says.
    """
    from r2rnet_plugin.utils.safe_load import load_checkpoint
    try:
        data = load_checkpoint(path, what)
    except FileNotFoundError:
        raise WeightsNotFoundError(f'{what} not found: {path}') from None
    return state_dict_entry(data, param_key, f'{what} {path}')


def key_problems(state, expected, limit=6):
    """How ``state`` differs from ``expected`` (a network's state dict) in names and shapes.

    Returns:
        list[str]: ``'missing: ...'``, ``'unexpected: ...'``, ``'wrong shape: ...'``, those that apply.
    """
    missing = sorted(k for k in expected if k not in state)
    unexpected = sorted(k for k in state if k not in expected)
    wrong = [
        f'{k} {tuple(v.shape)} (network: {tuple(expected[k].shape)})' for k, v in sorted(state.items())
        if k in expected and v.shape != expected[k].shape
    ]
    return [
        f'{label}: {first_items(keys, limit)}'
        for label, keys in (('missing', missing), ('unexpected', unexpected), ('wrong shape', wrong)) if keys
    ]


def check_finite(state, source, limit=3):
    """Raise :class:`NonFiniteWeightsError` naming the tensors of ``state`` with NaN or infinite values."""
    import torch
    bad = []
    for key, value in sorted(state.items()):
        if value.is_floating_point() or value.is_complex():
            nan, inf = int(torch.isnan(value).sum()), int(torch.isinf(value).sum())
            if nan or inf:
                bad.append(f'{key} ({nan} NaN, {inf} inf of {value.numel()})')
    if bad:
        raise NonFiniteWeightsError(f'{source} holds non-finite (NaN or infinite) weights: '
                                    f'{first_items(bad, limit, sep="; ")}')
