"""Mixed-precision training (``train: mixed_precision``): the training step's forward under autocast.

``bf16`` (CPU with native bfloat16 arithmetic, or CUDA) or ``fp16`` (CUDA only; the loss is
scaled to keep small gradients, with a ``torch.amp.GradScaler``); ``auto`` is bf16 where the
device does bfloat16 natively (a CPU with AVX-512 BF16 or AMX, a GPU with bf16 units), else
float32. The networks (trained and frozen) and then the losses run under ``torch.autocast``:
convolutions and matrix products (the networks', the perceptual loss's VGG16) in the lower
precision; reductions, normalisations, the FFTs and the losses' arithmetic in float32. Each
network's outputs are cast back to float32 before the losses see them. The weights and the
optimizer stay float32, and validation runs in float32. Leave the option out (or ``fp32``) to
train with the reference's arithmetic.
"""
import contextlib

import torch

from basicsr.utils import get_root_logger
from r2rnet_plugin.models.training_state import ExtraTrainingState
from r2rnet_plugin.ops.cpu_features import cpu_supports_bf16
from r2rnet_plugin.utils.option_checks import OptionError, check_choice

MIXED_PRECISION_KEYS = ('mixed_precision', )
AUTOCAST_DTYPES = {'bf16': torch.bfloat16, 'fp16': torch.float16}
CHOICES = ('fp32', 'auto', *AUTOCAST_DTYPES)


def native_bf16(device):
    """Whether ``device`` does bfloat16 arithmetic natively, so that bf16 training is faster there."""
    if device.type == 'cuda':
        return torch.cuda.is_bf16_supported(including_emulation=False)
    return device.type == 'cpu' and cpu_supports_bf16()


def mixed_precision_dtype(train_opt, device):
    """The autocast dtype that ``train: mixed_precision`` asks for on ``device``; None for float32."""
    value = train_opt.get('mixed_precision')
    if value is None or value is False or check_choice(value, CHOICES, 'train: mixed_precision') == 'fp32':
        return None
    if value == 'auto':
        return torch.bfloat16 if native_bf16(device) else None
    if value == 'fp16' and device.type != 'cuda':
        raise OptionError("option 'train: mixed_precision': fp16 training needs CUDA; on the CPU use bf16")
    if value == 'bf16' and device.type == 'cuda' and not torch.cuda.is_bf16_supported():
        raise OptionError("option 'train: mixed_precision': this GPU has no bfloat16 support; use fp16")
    if value == 'bf16' and device.type == 'cpu' and not native_bf16(device):
        get_root_logger().warning("train: mixed_precision: bf16 on a CPU without native bfloat16 "
                                  'arithmetic (AVX-512 BF16 or AMX): training will be slower, not faster')
    return AUTOCAST_DTYPES[value]


def to_float32(value):
    """``value`` with every floating-point tensor in it (also inside tuples) cast to float32."""
    if torch.is_tensor(value):
        return value.float() if value.is_floating_point() else value
    if isinstance(value, tuple):
        items = [to_float32(v) for v in value]
        return type(value)(*items) if hasattr(value, '_fields') else tuple(items)
    return value


class AutocastForward:
    """Calls ``forward`` under ``torch.autocast(device_type, dtype)``; returns float32 outputs."""

    def __init__(self, forward, device_type, dtype):
        self.forward, self.device_type, self.dtype = forward, device_type, dtype

    def __call__(self, *args, **kwargs):
        with torch.autocast(self.device_type, dtype=self.dtype):
            out = self.forward(*args, **kwargs)
        return to_float32(out)


class MixedPrecisionTraining(ExtraTrainingState):
    """Mixin for a BasicSR model: ``train: mixed_precision`` and the matching optimizer step.

    Call :meth:`init_mixed_precision` in ``init_training_settings``, wrap the networks' forward
    with :meth:`autocast_forward`, compute the losses in :meth:`autocast`, and step with
    :meth:`backward_and_step`. The fp16 loss scale is part of the training state, so a resumed
    run goes on with it.
    """

    def init_mixed_precision(self, train_opt):
        self.autocast_dtype = mixed_precision_dtype(train_opt, self.device)
        name = {None: 'float32', **{dtype: key for key, dtype in AUTOCAST_DTYPES.items()}}[self.autocast_dtype]
        get_root_logger().info(f"Training precision: {name} (train: mixed_precision: "
                               f"{train_opt.get('mixed_precision') or 'fp32'}, on {self.device.type})")
        self.grad_scaler = torch.amp.GradScaler(self.device.type, enabled=self.autocast_dtype is torch.float16)

    def autocast_forward(self, forward):
        """``forward`` itself in float32 training, else wrapped in :class:`AutocastForward`."""
        if self.autocast_dtype is None:
            return forward
        return AutocastForward(forward, self.device.type, self.autocast_dtype)

    def autocast(self):
        """A context in which autocast is on under mixed precision (for the losses)."""
        if self.autocast_dtype is None:
            return contextlib.nullcontext()
        return torch.autocast(self.device.type, dtype=self.autocast_dtype)

    def backward_and_step(self, total, optimizer, clip_norm=None, params=None):
        """Backward of ``total``, optional gradient-norm clipping of ``params``, optimizer step."""
        self.grad_scaler.scale(total).backward()
        if clip_norm:
            self.grad_scaler.unscale_(optimizer)
            torch.nn.utils.clip_grad_norm_(params, clip_norm)
        self.grad_scaler.step(optimizer)  # skipped by the scaler if fp16 gradients overflowed
        self.grad_scaler.update()

    def _active_grad_scaler(self):
        scaler = getattr(self, 'grad_scaler', None)
        return scaler if scaler is not None and scaler.is_enabled() else None

    def training_state_part(self):
        """The fp16 loss scale, saved with the training state (see :mod:`.training_state`)."""
        scaler = self._active_grad_scaler()
        return {'grad_scaler': scaler.state_dict()} if scaler else {}

    def load_training_state_part(self, state):
        if self._active_grad_scaler() and 'grad_scaler' in state:
            self.grad_scaler.load_state_dict(state['grad_scaler'])
