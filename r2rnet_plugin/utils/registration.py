"""Registering the plugin's parts in BasicSR's registries as a guest.

Each part is registered under its own name, which is unmistakably the plugin's (``R2RNet``,
``R2RPluginZeroDCE``, ...), and under ``r2rnet_plugin.<name>``, which no other project uses. An
option file can name either (``type: r2rnet_plugin.R2RNet``). Where another project holds the
short name already, BasicSR's registry would stop the import with an assertion: the plugin
leaves that name to its holder instead, warns, and stays reachable under the long name.
"""
import warnings

QUALIFIER = 'r2rnet_plugin.'
# Every name the plugin registered, short and long: how a run is recognised as using the plugin.
REGISTERED_NAMES = set()


class RegistryNameWarning(UserWarning):
    """A name the plugin registers is held by another project's object."""


def _same(a, b):
    """The same class, or a copy of it (its module imported again)."""
    where = (getattr(a, '__module__', None), getattr(a, '__qualname__', None))
    return a is b or where == (b.__module__, b.__qualname__)


def register_as(registry, name=None):
    """Decorator: register the class in ``registry`` under ``name`` (default: its own name).

    Registering the same object again (a module imported twice) changes nothing.
    """

    def deco(obj):
        short = name or obj.__name__
        for key in (short, QUALIFIER + short):
            holder = dict(iter(registry)).get(key)
            if holder is None:
                registry._do_register(key, obj)
                REGISTERED_NAMES.add(key)
            elif not _same(holder, obj):
                other = QUALIFIER + short if key == short else short
                warnings.warn(
                    f"{registry._name} registry: the name '{key}' is held by "
                    f"{holder.__module__}.{holder.__qualname__}; "
                    f"r2rnet_plugin's {obj.__name__} is left out under it: name it 'type: {other}'.",
                    RegistryNameWarning,
                    stacklevel=2)
        return obj

    return deco


_MODEL_HOOKS = []


def call_before_each_model(hook):
    """Have ``hook()`` called whenever a plugin model is built (``register()`` adds the run fixes)."""
    if hook not in _MODEL_HOOKS:
        _MODEL_HOOKS.append(hook)


def run_model_hooks():
    """Called by the plugin's models as they are built; the hooks decide themselves what to do."""
    for hook in list(_MODEL_HOOKS):
        hook()
