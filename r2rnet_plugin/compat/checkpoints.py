"""Checkpoint and resume fixes, for the runs that get them (see :mod:`r2rnet_plugin.compat.scope`).

- ``load_resume_state`` (problems 12, 13, 15, 26): states read onto the CPU (BasicSR maps them
  onto ``torch.cuda.current_device()``), ``--auto_resume`` looks in the options'
  ``path: training_states`` (not ``experiments/<name>`` under the current directory) and takes
  the newest *complete* state, read without running pickled code.
- ``save_network`` and ``save_training_state`` (problems 14, 26, 30): written atomically; the
  state also holds the random states, ``manual_seed``, the network files saved with it and the
  model's extras (``extra_training_state()``).
- ``load_network`` (problem 15): network files read without running pickled code.
- ``resume_training`` (problem 30): also restores the random states and the model's extras.
"""
import functools
import os

from r2rnet_plugin.compat import scope

# The training state chosen by load_resume_state, for the data loaders built next (problem 27).
RESUMING = {}


def load_resume_state(opt):
    """The plugin's ``load_resume_state`` (see the module docstring); passed-over states are
    named on stdout (BasicSR's logger does not exist yet)."""
    from basicsr.utils import check_resume
    from r2rnet_plugin.utils.checkpoint_io import find_resume_state
    from r2rnet_plugin.utils.safe_load import load_checkpoint
    RESUMING.clear()
    if opt['auto_resume']:
        folder = opt['path'].get('training_states')
        path, state, passed_over = find_resume_state(folder, opt['path'].get('models'))
        for reason in passed_over:
            print(f'--auto_resume: passed over {reason}', flush=True)
        if path is None and passed_over:
            raise RuntimeError(f'--auto_resume: no complete training state in {folder} (see above); remove '
                               'the damaged ones to start again from iteration 0.')
        if path is not None:
            opt['path']['resume_state'] = path
    else:
        path = opt['path'].get('resume_state')
        state = None if path is None else load_checkpoint(path, "option 'path: resume_state'")
    if state is None:
        return None
    check_resume(opt, state['iter'])
    RESUMING['state'] = state
    return state


def on_master(function):
    """Run ``function`` on rank 0 only, as BasicSR's ``master_only`` does."""

    @functools.wraps(function)
    def on_rank_0(*args, **kwargs):
        from basicsr.utils.dist_util import get_dist_info
        if get_dist_info()[0] == 0:
            return function(*args, **kwargs)

    return on_rank_0


def save_network(self, net, net_label, current_iter, param_key='params'):
    """The plugin's ``save_network``: BasicSR's file names and content, written atomically; a
    save that keeps failing raises. The names saved for an iteration go into its training state."""
    from basicsr.utils import get_root_logger
    from r2rnet_plugin.utils.checkpoint_io import atomic_save
    filename = f"{net_label}_{'latest' if current_iter == -1 else current_iter}.pth"
    nets = net if isinstance(net, list) else [net]
    keys = param_key if isinstance(param_key, list) else [param_key]
    assert len(nets) == len(keys), 'The lengths of net and param_key should be the same.'
    save_dict = {}
    for net_, key_ in zip(nets, keys):
        state_dict = self.get_bare_model(net_).state_dict()  # an OrderedDict with its _metadata
        for key in [k for k in state_dict if k.startswith('module.')]:
            state_dict[key[len('module.'):]] = state_dict.pop(key)
        for key, param in state_dict.items():
            state_dict[key] = param.cpu()
        save_dict[key_] = state_dict
    atomic_save(save_dict, os.path.join(self.opt['path']['models'], filename), logger=get_root_logger())
    if current_iter != -1:
        self.__dict__.setdefault('_r2r_saved_networks', {}).setdefault(current_iter, []).append(filename)


def save_training_state(self, epoch, current_iter):
    """The plugin's ``save_training_state``: atomic, with random states, seed, network files, extras."""
    from basicsr.utils import get_root_logger
    from r2rnet_plugin.utils.checkpoint_io import atomic_save, capture_rng_state
    if current_iter == -1:
        return
    state = {
        'epoch': epoch,
        'iter': current_iter,
        'optimizers': [o.state_dict() for o in self.optimizers],
        'schedulers': [s.state_dict() for s in self.schedulers],
        'rng': capture_rng_state(),
        'manual_seed': self.opt.get('manual_seed'),
        'networks': self.__dict__.get('_r2r_saved_networks', {}).pop(current_iter, [])
    }
    if hasattr(self, 'extra_training_state'):
        state.update(self.extra_training_state())
    path = os.path.join(self.opt['path']['training_states'], f'{current_iter}.state')
    atomic_save(state, path, logger=get_root_logger())


def load_network(self, net, load_path, strict=True, param_key='params'):
    """The plugin's ``load_network``: BasicSR's behaviour and log lines, the file read safely."""
    from basicsr.utils import get_root_logger
    from r2rnet_plugin.utils.safe_load import load_checkpoint
    from r2rnet_plugin.weights.state_dicts import state_dict_entry
    logger = get_root_logger()
    net = self.get_bare_model(net)
    load_net = load_checkpoint(load_path, 'network file')
    if param_key is not None and isinstance(load_net, dict) and param_key not in load_net and 'params' in load_net:
        param_key = 'params'
        logger.info('Loading: params_ema does not exist, use params.')
    logger.info(f'Loading {net.__class__.__name__} model from {load_path}, with param key: [{param_key}].')
    load_net = state_dict_entry(load_net, param_key, f'network file {load_path}')
    self._print_different_keys_loading(net, load_net, strict)
    net.load_state_dict(load_net, strict=strict)


def resume_extras(self, resume_state):
    """What the plugin's ``resume_training`` adds to BasicSR's: random states, model extras."""
    from r2rnet_plugin.utils.checkpoint_io import restore_rng_state
    if 'rng' in resume_state:
        restore_rng_state(resume_state['rng'])
    if hasattr(self, 'load_extra_training_state'):
        self.load_extra_training_state(resume_state)


def make_resume_training(original):

    @functools.wraps(original)
    def resume_training(self, resume_state):
        original(self, resume_state)
        if scope.wants(self.opt, 'resume_training'):
            resume_extras(self, resume_state)

    return resume_training
