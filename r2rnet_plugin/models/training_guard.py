"""What the plugin's models share to fail early and clearly: option checks and the non-finite loss guard.

- :func:`check_model_options` checks the ``train:`` and ``val:`` sections a model reads (unknown
  keys get the closest known one as a suggestion; numbers are checked) and every loss option.
- :class:`NonFiniteLossGuard` skips the optimizer step of an iteration whose loss is NaN or
  infinite, with a warning, and stops the run after ``train: max_nonfinite_steps`` such
  iterations in a row (default :data:`DEFAULT_MAX_NONFINITE_STEPS`).
"""
import torch
import torch.distributed as dist

from basicsr.utils import get_root_logger
from r2rnet_plugin.models.training_state import ExtraTrainingState
from r2rnet_plugin.utils.option_checks import OptionError, check_int, check_known_keys, check_loss_options, check_number

# ``train:`` keys BasicSR's training pipeline and BaseModel read.
BASICSR_TRAIN_KEYS = ('total_iter', 'warmup_iter', 'optim_g', 'scheduler', 'ema_decay')
# ``val:`` keys read by BasicSR's pipeline (val_freq, save_img) and the plugin's validation.
VAL_KEYS = ('val_freq', 'save_img', 'suffix', 'metrics', 'pbar', 'save_components', 'tb_images')
GUARD_KEYS = ('max_nonfinite_steps', )
DEFAULT_MAX_NONFINITE_STEPS = 10


class NonFiniteLossError(RuntimeError):
    """Too many iterations in a row had a NaN or infinite loss."""


def check_model_options(opt, train_keys=(), loss_keys=(), val_keys=VAL_KEYS):
    """Check the sections of ``opt`` a model reads.

    Args:
        opt (dict): The whole option dict.
        train_keys (Iterable[str]): ``train:`` keys of the model besides BasicSR's and the losses.
        loss_keys (Iterable[str]): ``train:`` keys that hold loss options (``pixel_opt``, ...).
        val_keys (Iterable[str]): The ``val:`` keys the model reads.
    """
    if opt.get('is_train') and 'train' in opt:
        train = opt['train'] or {}
        check_known_keys(train, (*BASICSR_TRAIN_KEYS, *GUARD_KEYS, *train_keys, *loss_keys), 'train')
        for key in loss_keys:
            if train.get(key):
                check_loss_options(train[key], f'train: {key}')
        if 'total_iter' in train:
            check_int(train['total_iter'], 'train: total_iter')
        if train.get('ema_decay'):
            raise OptionError("option 'train: ema_decay': this model keeps no EMA copy of its network; "
                              'remove the option or set it to 0')
        if 'optim_g' in train and 'lr' in (train['optim_g'] or {}):
            check_number(train['optim_g']['lr'], 'train: optim_g: lr')
    check_known_keys(opt.get('val'), val_keys, 'val')
    val = opt.get('val') or {}
    if 'val_freq' in val:
        check_int(val['val_freq'], 'val: val_freq')


class NonFiniteLossGuard(ExtraTrainingState):
    """Mixin for a BasicSR model: skip optimizer steps on non-finite losses, stop after too many.

    Call :meth:`init_nonfinite_guard` in ``init_training_settings`` and guard each step::

        total = sum(values.values())
        if self.loss_is_finite(total, values, current_iter):
            total.backward()
            self.optimizer_g.step()

    Under distributed training every rank takes the same decision (a NaN on one rank skips the
    step on all), so no rank waits for gradients the others never send. The count of
    non-finite iterations in a row is part of the training state (see :mod:`.training_state`).
    """

    def init_nonfinite_guard(self, train_opt):
        limit = train_opt.get('max_nonfinite_steps', DEFAULT_MAX_NONFINITE_STEPS)
        self.max_nonfinite_steps = check_int(limit, 'train: max_nonfinite_steps')
        self.nonfinite_in_a_row = 0

    def loss_is_finite(self, total, values, current_iter):
        """True if ``total`` is finite (on every rank); else warn, count, and maybe stop.

        Raises:
            NonFiniteLossError: ``train: max_nonfinite_steps`` non-finite iterations in a row.
        """
        finite = torch.isfinite(total.detach()).all().to(torch.int32)
        if self.opt.get('dist') and dist.is_available() and dist.is_initialized():
            dist.all_reduce(finite, op=dist.ReduceOp.MIN)
        if bool(finite):
            self.nonfinite_in_a_row = 0
            return True
        self.nonfinite_in_a_row += 1
        terms = ', '.join(f'{key}={value.detach().item():.4g}' for key, value in values.items() if value.numel() == 1)
        where = f'iter {current_iter}: non-finite loss ({terms or "on another rank"})'
        if self.nonfinite_in_a_row >= self.max_nonfinite_steps:
            raise NonFiniteLossError(
                f'{where}: {self.nonfinite_in_a_row} iterations in a row had a NaN or infinite loss '
                f"(option 'train: max_nonfinite_steps': {self.max_nonfinite_steps}); stopping. Check the "
                'data (NaN/inf pixels), lower the learning rate, or resume from an earlier checkpoint.')
        get_root_logger().warning(
            f'{where}: optimizer step skipped ({self.nonfinite_in_a_row} in a row; the run stops at '
            f'{self.max_nonfinite_steps}, option train: max_nonfinite_steps).')
        return False

    def training_state_part(self):
        """Saved with the training state (see :mod:`.training_state`)."""
        return {'nonfinite_in_a_row': getattr(self, 'nonfinite_in_a_row', 0)}

    def load_training_state_part(self, state):
        self.nonfinite_in_a_row = int(state.get('nonfinite_in_a_row', 0))
