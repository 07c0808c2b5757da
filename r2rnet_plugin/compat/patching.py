"""Applying one patch to BasicSR safely: once, and only on the code it was written for.

A :class:`Patch` replaces ``owner.attr`` (a function of a module, a method of a class, a class)
with what ``make(original)`` returns. Before that, the source of the code it replaces (or of
``checks``, the function its behaviour depends on) is compared with a fingerprint taken from
BasicSR 1.4.2: on any other code the patch is skipped with a warning that names it, never
wrapped blindly. The replacement carries its patch's name (``__r2rnet_patch__``), so applying
a patch twice, or again after a failure half-way, changes nothing.
"""
import hashlib
import importlib
import inspect
import sys
import warnings

WRITTEN_FOR = '1.4.2'
MARK = '__r2rnet_patch__'


class BasicsrVersionWarning(UserWarning):
    """A patch was skipped: the installed basicsr is not the code it was written for."""


def fingerprint(obj):
    """First 16 hex digits of the SHA-256 of ``obj``'s source code (None without source)."""
    try:
        source = inspect.getsource(obj)
    except (OSError, TypeError):
        return None
    return hashlib.sha256(source.encode()).hexdigest()[:16]


def resolve(path):
    """``'basicsr.train'`` -> the module; ``'basicsr.models.base_model:BaseModel'`` -> the class."""
    module_name, _, qualname = path.partition(':')
    obj = importlib.import_module(module_name)
    for part in filter(None, qualname.split('.')):
        obj = getattr(obj, part)
    return obj


def installed_version():
    basicsr = sys.modules.get('basicsr')
    return getattr(basicsr, '__version__', 'unknown')


class Patch:
    """One named adaptation of BasicSR.

    Args:
        name (str): Short name, used in warnings, in docs/basicsr_compatibility.md and by the opt-in.
        owner (str): Where the attribute lives: a module, or ``module:Class``.
        attr (str): The attribute replaced.
        expected (str): :func:`fingerprint` of the code in BasicSR 1.4.2.
        make (callable): ``make(original) -> replacement``.
        checks (str, optional): The attribute of ``owner`` whose source is fingerprinted,
            when it is not ``attr`` itself.
        everywhere (bool): Also replace the copies that ``from owner import attr`` made in
            other ``basicsr`` modules.
    """

    def __init__(self, name, owner, attr, expected, make, checks=None, everywhere=False):
        self.name, self.owner, self.attr, self.expected = name, owner, attr, expected
        self.make, self.checks, self.everywhere = make, checks, everywhere

    def applied(self):
        return getattr(getattr(resolve(self.owner), self.attr, None), MARK, None) == self.name

    def target_matches(self):
        owner = resolve(self.owner)
        return fingerprint(getattr(owner, self.checks or self.attr)) == self.expected

    def apply(self):
        """Apply once. Returns True when the patch is in place, False when it was skipped."""
        if self.applied():
            return True
        if not self.target_matches():
            target = f"{self.owner.replace(':', '.')}.{self.checks or self.attr}"
            warnings.warn(
                f"r2rnet_plugin: patch '{self.name}' skipped: {target} "
                f'of the installed basicsr {installed_version()} differs from basicsr {WRITTEN_FOR}, '
                'the code it was written for; BasicSR behaves as released there.',
                BasicsrVersionWarning,
                stacklevel=2)
            return False
        owner = resolve(self.owner)
        original = getattr(owner, self.attr)
        replacement = self.make(original)
        setattr(replacement, MARK, self.name)
        setattr(owner, self.attr, replacement)
        if self.everywhere:
            for name, module in list(sys.modules.items()):
                if (name == 'basicsr' or name.startswith('basicsr.')) and getattr(module, self.attr, None) is original:
                    setattr(module, self.attr, replacement)
        return True
