"""3x3 convolutions for float32 CPU training, by Winograd where it pays, with exact gradients.

Training spends most of its time in 3x3 convolutions: the forward pass, the gradient with
respect to the input and the one with respect to the weights each cost as much as the forward
pass. For wide convolutions on large maps, where that is faster than oneDNN (measured ratios
below), all three run on NNPACK: two of them are themselves size-keeping 3x3 convolutions
(Winograd kernels, see :mod:`r2rnet_plugin.ops.fast_conv`), the third is an FFT
convolution of tiles:

- forward: ``y = conv(pad(x), W)``;
- input gradient: ``dpad(x) = conv(dy, W')`` with ``W'`` the kernel flipped and its in/out
  channels swapped, zero padding 2, folded back onto ``x`` for replicate padding (zero padding:
  padding 1, nothing to fold);
- the weight gradient, by tiles in NNPACK's FFT convolution
  (:mod:`r2rnet_plugin.ops.tiled_weight_gradient`); the bias gradient, a sum.

An opt-in speed mode (``train: fast_cpu_conv: true``, or
:func:`r2rnet_plugin.archs.r2r_blocks.use_fast_cpu_training` on a network): the forward pass
differs from ``F.conv2d``'s by rounding, but the gradients differ by more than oneDNN's own
float32 rounding does (Winograd and FFT transforms; per layer and per network in
``benchmarks/training_conv_error.py`` and docs/training.md). Used for float32 CPU tensors when a
gradient is recorded, dilation 1, no dispatch mode or compilation active, and the fast
convolutions enabled (``R2RNET_FAST_CPU_CONV=0`` turns them off, as for inference).
"""
import torch
import torch.nn.functional as F

from r2rnet_plugin.ops import fast_conv
from r2rnet_plugin.ops.tiled_weight_gradient import weight_gradient_3x3

# Per image, a 3x3 convolution costs weight.numel() * H * W multiply-adds. Forward plus both
# gradients, measured against oneDNN in the same run (2 AVX-512 cores, batch 4, R2RNet's
# shapes): 1.8x for 256->256 channels at 96x96 (5.4e9), 1.5-2.0x for 128<->256 at 96x96 (2.7e9),
# 1.2-1.5x at 96x49 (1.4e9-2.8e9) and 256->64 at 96x96, 1.1x for 256->256 at 48x48 (1.4e9);
# about 1.0 at 0.7e9 and slower below.
_MIN_WINOGRAD_MACS = 2**30


def fast_cpu_training(x, weight, dilation, padding_mode):
    """Whether :func:`conv3x3_train` may run this convolution (see the module doc)."""
    return (dilation == 1 and padding_mode in ('zeros', 'replicate') and fast_conv.fast_cpu_float32(x, weight)
            and fast_conv.records_gradient(x, weight)
            and fast_conv.winograd_pays(x, weight, _MIN_WINOGRAD_MACS, min_pixels=0))


def _weight_gradient(x, grad_out, weight, replicate):
    """By tiles in NNPACK's FFT convolution; by oneDNN if NNPACK refuses the shape."""
    try:
        return weight_gradient_3x3(x, grad_out, replicate)
    except RuntimeError:
        source, padding = (F.pad(x, (1, 1, 1, 1), mode='replicate'), 0) if replicate else (x, 1)
        return torch.ops.aten.convolution_backward(grad_out, source, weight, None, [1, 1], [padding, padding], [1, 1],
                                                   False, [0, 0], 1, [False, True, False])[1]


class _Conv3x3Same(torch.autograd.Function):
    """Size-keeping 3x3 stride-1 convolution, padding 1 (zeros or replicate)."""

    @staticmethod
    def forward(ctx, x, weight, bias, replicate):
        ctx.replicate = replicate
        ctx.has_bias = bias is not None
        ctx.save_for_backward(x, weight)
        return fast_conv.conv3x3_same(x, weight, bias, 1, 1, 'replicate' if replicate else 'zeros')

    @staticmethod
    def backward(ctx, grad_out):
        x, weight = ctx.saved_tensors
        need_x, need_w, need_b = ctx.needs_input_grad[:3]
        grad_out = grad_out.contiguous()
        grad_x = grad_w = grad_b = None
        if need_x:
            flipped = weight.transpose(0, 1).flip(2, 3).contiguous()
            if ctx.replicate:  # gradient of the padded input, then the padding's own backward
                grad_padded = fast_conv.winograd_conv(grad_out, flipped, None, 2)
                grad_x = torch.ops.aten.replication_pad2d_backward(grad_padded, x, [1, 1, 1, 1])
            else:
                grad_x = fast_conv.winograd_conv(grad_out, flipped, None, 1)
        if need_w:
            grad_w = _weight_gradient(x, grad_out, weight, ctx.replicate)
        if need_b and ctx.has_bias:
            grad_b = grad_out.sum((0, 2, 3))
        return grad_x, grad_w, grad_b, None


def conv3x3_train(x, weight, bias, padding_mode):
    """``F.conv2d`` of a size-keeping 3x3 convolution (padding 1), for training on the CPU."""
    return _Conv3x3Same.apply(x, weight, bias, padding_mode == 'replicate')
