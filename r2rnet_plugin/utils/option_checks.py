"""Checks of the plugin's own option sections: unknown keys (with the closest known one), types, values.

Every error is an :class:`OptionError` (a ValueError) whose message names the option as it is
written in a BasicSR option file, e.g. ``'train: stage'`` or ``'train: perceptual_opt: vgg_path'``,
so a typo is found from the message alone::

    unknown option 'train: stgae'; did you mean 'stage'?

Used by the dataset (``LLIEPairedDataset``), the models (``R2RNetModel``, ``LLIEModel``: their
``train:`` and ``val:`` sections and every loss they build) and the plugin's losses.
"""
import difflib
import inspect
import math
import numbers


class OptionError(ValueError):
    """An option that is unknown, of the wrong type, or out of range."""


def _name(section, key):
    return f'{section}: {key}' if section else str(key)


def suggest(key, known):
    """``"; did you mean 'x'?"`` for the known key closest to ``key``, else the list of known keys."""
    close = difflib.get_close_matches(str(key), list(known), n=1, cutoff=0.6)
    if close:
        return f"; did you mean '{close[0]}'?"
    return f"; known options: {', '.join(sorted(known))}"


def check_known_keys(options, known, section, what=''):
    """Raise :class:`OptionError` for the first key of ``options`` not in ``known``.

    Args:
        options (dict): The option section (None counts as empty).
        known (Iterable[str]): Its valid keys.
        section (str): Where it is in the option file, e.g. ``'train'``.
        what (str): Optional note after the name, e.g. ``' for R2RPerceptualLoss'``.
    """
    known = tuple(known)
    for key in options or {}:
        if key not in known:
            raise OptionError(f"unknown option '{_name(section, key)}'{what}{suggest(key, known)}")


def check_choice(value, choices, name):
    """``value`` if it is one of ``choices``; else an error naming ``name`` and the closest choice."""
    if value in choices:
        return value
    hint = suggest(value, [str(c) for c in choices]) if isinstance(value, str) else ''
    raise OptionError(f"option '{name}' must be one of {', '.join(map(str, choices))}; got {value!r}{hint}")


def _is_int(value):
    return isinstance(value, numbers.Integral) and not isinstance(value, bool)


def _type_hint(value):
    """Why a value that looks numeric is not: PyYAML reads ``1e-4`` (no dot) as a string."""
    if isinstance(value, str):
        try:
            float(value)
        except ValueError:
            return ''
        return ' (a string: YAML reads 1e-4 as text; write 1.0e-4 or !!float 1e-4)'
    return ''


def check_int(value, name, minimum=1):
    """``value`` as an int >= ``minimum``; booleans and floats are refused."""
    if not _is_int(value) or value < minimum:
        kind = 'a positive integer' if minimum == 1 else f'an integer >= {minimum}'
        raise OptionError(f"option '{name}' must be {kind}; got {value!r}{_type_hint(value)}")
    return int(value)


def check_number(value, name, minimum=0.0, maximum=None):
    """``value`` as a finite float in ``[minimum, maximum]``; booleans and strings are refused."""
    ok = isinstance(value, numbers.Real) and not isinstance(value, bool) and math.isfinite(value)
    if ok and (value < minimum or (maximum is not None and value > maximum)):
        ok = False
    if not ok:
        bounds = f'>= {minimum:g}' if maximum is None else f'in [{minimum:g}, {maximum:g}]'
        raise OptionError(f"option '{name}' must be a finite number {bounds}; got {value!r}{_type_hint(value)}")
    return float(value)


NETWORK_CHANNEL = 'network_g: channel'  # how the networks' width is written in an option file


def check_bool(value, name):
    """``value`` if it is a bool (a string such as ``'false'`` would be true in Python)."""
    if not isinstance(value, bool):
        raise OptionError(f"option '{name}' must be true or false; got {value!r}")
    return value


def check_weights(values, section=''):
    """Every ``*weight`` entry of ``values`` (a dict of constructor arguments) is a number >= 0."""
    for key, value in values.items():
        if key.endswith('weight'):
            check_number(value, _name(section, key))


def constructor_keys(cls):
    """The keyword arguments ``cls(...)`` accepts, or None when it takes ``**kwargs``."""
    params = list(inspect.signature(cls).parameters.values())
    if any(p.kind is inspect.Parameter.VAR_KEYWORD for p in params):
        return None
    return [p.name for p in params if p.kind in (p.POSITIONAL_OR_KEYWORD, p.KEYWORD_ONLY)]


def check_loss_options(loss_opt, section):
    """Check a loss option dict (``{type: ..., <constructor arguments>}``) before BasicSR builds it.

    The type must be registered; every other key must be an argument of its constructor; every
    ``*weight`` argument must be a number >= 0.

    Args:
        loss_opt (dict): e.g. ``{'type': 'R2RPerceptualLoss', 'vgg_path': ..., 'loss_weight': 0.1}``.
        section (str): Where it is, e.g. ``'train: perceptual_opt'``.
    """
    from basicsr.utils.registry import LOSS_REGISTRY
    if not isinstance(loss_opt, dict):
        raise OptionError(f"option '{section}' must be a mapping with a type, e.g. {{type: L1Loss}}; got {loss_opt!r}")
    loss_type = loss_opt.get('type')
    registered = [name for name, _ in LOSS_REGISTRY]
    if loss_type not in registered:
        raise OptionError(f"option '{section}: type': no loss called {loss_type!r} is registered" +
                          suggest(loss_type, registered))
    arguments = {k: v for k, v in loss_opt.items() if k != 'type'}
    known = constructor_keys(LOSS_REGISTRY.get(loss_type))
    if known is not None:
        check_known_keys(arguments, known, section, f' for {loss_type}')
    check_weights(arguments, section)


def build_checked_loss(loss_opt, section):
    """:func:`check_loss_options`, then BasicSR's ``build_loss``."""
    from basicsr.losses import build_loss
    check_loss_options(loss_opt, section)
    return build_loss(dict(loss_opt))
