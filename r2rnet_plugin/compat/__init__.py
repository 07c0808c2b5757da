"""Adaptations of BasicSR 1.4.2 to today's libraries, applied from outside and only where due.

Nothing installed is edited. Three kinds, by who gets them (docs/basicsr_compatibility.md lists
every patch):

- import fixes (:mod:`.imports`), for every program: without them ``import basicsr`` fails;
- launch fixes (:mod:`.launch`), for every program that imports basicsr with the plugin
  installed: option files read safely and checked before use, and the distributed set-up where
  BasicSR's own cannot run (no CUDA). Each serves BasicSR's original code to runs that do not
  get the fix;
- run fixes (:mod:`.checkpoints`, :mod:`.sampling`, :mod:`.reporting`, :mod:`.start_up`), installed when the
  first run that gets them starts, and serving only those runs (:mod:`.scope`): runs of the
  plugin's models, of its commands, and runs that opt in.

Each patch checks the code it replaces against BasicSR 1.4.2 and is skipped, with a warning
naming it, where the installed basicsr differs (:mod:`.patching`).
"""
from r2rnet_plugin.compat import checkpoints, launch, reporting, sampling, scope, start_up
from r2rnet_plugin.compat.imports import install_import_aliases
from r2rnet_plugin.compat.patching import Patch

BASE_MODEL = 'basicsr.models.base_model:BaseModel'

LAUNCH_PATCHES = (
    Patch(
        'safe_yaml',
        'basicsr.utils.options',
        'ordered_yaml',
        '1fb04e3900bc1e19',
        launch.make_ordered_yaml,
        everywhere=True),
    Patch(
        'parse_options',
        'basicsr.utils.options',
        'parse_options',
        '347305bea18e85f0',
        launch.make_parse_options,
        everywhere=True),
    Patch(
        'init_dist',
        'basicsr.utils.dist_util',
        'init_dist',
        '38c1b56717097971',
        launch.choose_init_dist,
        everywhere=True),
    Patch('model_to_device', BASE_MODEL, 'model_to_device', 'e3172982283d2c12', launch.choose_model_to_device),
    Patch(
        'main_module',
        'basicsr.train',
        '__spec__',
        'daf6515cece632b4',
        launch.make_main_spec('basicsr.train', 'train_pipeline'),
        checks='train_pipeline'),
    Patch(
        'main_module',
        'basicsr.test',
        '__spec__',
        '6500d8cc3c47150b',
        launch.make_main_spec('basicsr.test', 'test_pipeline'),
        checks='test_pipeline'),
)

RUN_PATCHES = (
    Patch('load_resume_state', 'basicsr.train', 'load_resume_state', '9f0a2c11735b9809',
          scope.choosing('load_resume_state', checkpoints.load_resume_state, scope.first_argument)),
    Patch('save_network', BASE_MODEL, 'save_network', 'bce5aca626e377e4',
          scope.choosing('save_network', checkpoints.on_master(checkpoints.save_network))),
    Patch('save_training_state', BASE_MODEL, 'save_training_state', '58fc551a477f37b6',
          scope.choosing('save_training_state', checkpoints.on_master(checkpoints.save_training_state))),
    Patch('load_network', BASE_MODEL, 'load_network', '719e2df3d186ebc0',
          scope.choosing('load_network', checkpoints.load_network)),
    Patch('resume_training', BASE_MODEL, 'resume_training', 'bfbdea3b99ef63d7', checkpoints.make_resume_training),
    Patch('sampler_seeds', 'basicsr.data.data_sampler:EnlargedSampler', '__iter__', 'b3d4fc2c5a1334c7',
          sampling.make_seeded_iter),
    Patch('dataloader_seeds', 'basicsr.train', 'create_train_val_dataloader', '7dc43480652eb6f4',
          sampling.make_create_dataloaders),
    Patch('final_validation_iter', BASE_MODEL, 'validation', '0b8825204831cbc5', reporting.make_clamped_validation),
    Patch(
        'start_up_folders',
        'basicsr.utils.misc',
        'mkdir_and_rename',
        '558067dec4933c52',
        start_up.make_mkdir_and_rename,
        everywhere=True),
    Patch(
        'eta',
        'basicsr.utils.logger',
        'MessageLogger',
        'aab827f677bb9bfc',
        reporting.make_message_logger,
        everywhere=True),
)


def install_launch_fixes():
    """Apply the launch patches (needs ``basicsr`` imported). Idempotent."""
    return [patch.apply() for patch in LAUNCH_PATCHES]


def install_run_fixes():
    """Apply the run patches; each serves only the runs that get it. Idempotent."""
    return [patch.apply() for patch in RUN_PATCHES]


def apply():
    """Import fixes, then ``import basicsr``, then the launch fixes."""
    install_import_aliases()
    import basicsr  # noqa: F401
    install_launch_fixes()


__all__ = [
    'LAUNCH_PATCHES', 'RUN_PATCHES', 'apply', 'install_import_aliases', 'install_launch_fixes', 'install_run_fixes',
    'scope'
]
