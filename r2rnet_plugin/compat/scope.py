"""Who gets BasicSR's behaviour fixes: runs of the plugin's models, and other runs that ask.

A run gets a fix when any of these holds:

- it uses the plugin: its ``model_type``, a ``network_*: type`` or a dataset ``type`` is one
  of the plugin's registered names (``R2RNetModel``, ``R2RNet``, ``LLIEPairedDataset``, ...);
- it was started by the plugin's own command (``python -m r2rnet_plugin.train|test``);
- it opts in: the environment variable ``R2RNET_PLUGIN_BASICSR_FIXES`` or the option-file key
  ``r2rnet_plugin_fixes`` says ``all`` or lists the fix by name (comma-separated, or a YAML list).

Every other run (Real-ESRGAN's, GFPGAN's, a plain MSRResNet) gets BasicSR as released.
"""
import functools
import os

from r2rnet_plugin.utils.option_checks import OptionError
from r2rnet_plugin.utils.registration import REGISTERED_NAMES

OPT_IN_ENV = 'R2RNET_PLUGIN_BASICSR_FIXES'
OPT_IN_KEY = 'r2rnet_plugin_fixes'
ALL = 'all'
# The fixes a run can ask for by name (the others reach every run: see compat/__init__.py).
OPTIONAL_FIXES = ('main_module', 'init_dist', 'model_to_device', 'load_resume_state', 'save_network',
                  'save_training_state', 'load_network', 'resume_training', 'data_order', 'final_validation_iter',
                  'eta', 'start_up_folders')

_process = {'command': False, 'current': None}


def opt_in_process():
    """The plugin's own commands ask for every fix, whatever the model."""
    _process['command'] = True


def set_current_run(opt):
    """Remember the options of the run being started (for code that is not handed them)."""
    _process['current'] = opt


def current_run():
    return _process['current']


def requested(value, where):
    """The fix names that ``value`` (from ``where``) asks for: a set, possibly holding ``'all'``.

    Raises:
        OptionError: a name that is no fix, naming ``where`` and the known names.
    """
    word = value.strip().lower() if isinstance(value, str) else value
    if word in (None, False, '', '0', 'false', 'no', 'off'):
        return set()
    if word in (True, '1', 'true', 'yes', 'on', ALL):
        return {ALL}
    names = value.split(',') if isinstance(value, str) else value
    if not isinstance(names, (list, tuple)):
        raise OptionError(f'{where} must be {ALL}, a fix name or a list of them; got {value!r}')
    chosen = {str(n).strip() for n in names if str(n).strip()}
    unknown = sorted(chosen - set(OPTIONAL_FIXES) - {ALL})
    if unknown:
        raise OptionError(f"{where} names no fix: {', '.join(unknown)}; known: {ALL}, {', '.join(OPTIONAL_FIXES)}")
    return chosen


def uses_plugin(opt):
    """True when the options name a model, network or dataset the plugin registered."""
    if not isinstance(opt, dict):
        return False
    sections = [opt] + [v for k, v in opt.items() if str(k).startswith('network_')]
    sections += list((opt.get('datasets') or {}).values()) if isinstance(opt.get('datasets'), dict) else []
    names = [opt.get('model_type')] + [s.get('type') for s in sections[1:] if isinstance(s, dict)]
    return any(isinstance(n, str) and n in REGISTERED_NAMES for n in names)


def opted_in(opt):
    """The fix names the environment and the options ask for (misspelt names are errors)."""
    chosen = requested(os.environ.get(OPT_IN_ENV), f'environment variable {OPT_IN_ENV}')
    if isinstance(opt, dict):
        chosen |= requested(opt.get(OPT_IN_KEY), f"option '{OPT_IN_KEY}'")
    return chosen


def wants(opt, fix):
    """True when the run with options ``opt`` gets the fix named ``fix``."""
    if _process['command'] or uses_plugin(opt):
        return True
    chosen = opted_in(opt)
    return ALL in chosen or fix in chosen


def wants_any(opt):
    """True when the run gets at least one fix (so the fixes must be installed)."""
    return any(wants(opt, fix) for fix in OPTIONAL_FIXES)


def model_options(model, *args, **kwargs):
    """The options of a BaseModel method's run: the model's own."""
    return model.opt


def first_argument(opt, *args, **kwargs):
    """The options of a pipeline function's run: its first argument."""
    return opt


def choosing(fix, replacement, options_of=model_options):
    """``make`` of a patch that serves ``replacement`` to the runs that get ``fix`` and the
    original to every other run, deciding at each call from ``options_of(*args)``."""

    def make(original):

        @functools.wraps(original)
        def choose(*args, **kwargs):
            chosen = replacement if wants(options_of(*args, **kwargs), fix) else original
            return chosen(*args, **kwargs)

        return choose

    return make
