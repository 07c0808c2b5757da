"""Which archs of BasicSR's ARCH_REGISTRY are low-light enhancers (``net(x) -> enhanced``).

An arch class says so with the class attribute ``llie_arch = True`` (R2RNet, the plugin's
baselines, RetinexNet, ZeroDCE; third-party plugins may do the same). Only the LLIE archs are
offered when a network type is unknown; any registered arch can still be benchmarked.
"""
from basicsr.utils.registry import ARCH_REGISTRY

LLIE_ATTRIBUTE = 'llie_arch'


class UnknownArchError(ValueError):
    """A method names a network type that is not registered; the message lists the LLIE archs."""


def is_llie_arch(name, cls):
    return bool(getattr(cls, LLIE_ATTRIBUTE, False))


def llie_arch_names():
    """Sorted names of the registered LLIE archs."""
    return sorted(name for name, cls in ARCH_REGISTRY if is_llie_arch(name, cls))


def arch_class(arch_type, where='network'):
    """The registered class of ``arch_type``.

    Raises:
        UnknownArchError: naming the registered LLIE archs and how to register more.
    """
    if arch_type in ARCH_REGISTRY:
        return ARCH_REGISTRY.get(arch_type)
    raise UnknownArchError(
        f'{where}: unknown network type {arch_type!r}. Registered LLIE archs: {", ".join(llie_arch_names())}. '
        'An arch of your own: import the module (or .py file) that registers it with --plugin (or plugins: in '
        'the option file); any registered arch can then be benchmarked. (Optional: the class attribute '
        f'{LLIE_ATTRIBUTE} = True only adds it to this list.)')
