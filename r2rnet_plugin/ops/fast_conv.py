"""Faster float32 CPU inference for R2RNet's convolutions, with the same results up to rounding.

oneDNN's direct convolution is R2RNet's bottleneck on CPUs (2.24 TMAC per 600x400 image), and
for NCHW tensors it also reorders every input and output to its blocked layout. Two kernels do
the same sums faster:

- 3x3, stride 1: NNPACK's Winograd F(6x6, 3x3) kernels, about 3x oneDNN's throughput on
  AVX2/AVX-512 CPUs (they do fewer multiplications; the results differ by rounding, < 1e-5 on
  R2RNet's outputs). Dilated ones run as undilated convolutions of the pixel phases.
- 1x1: one matrix product per image (MKL), no layout reorders: about 2x.

They run only for float32 CPU tensors where no gradient is recorded, no dispatch mode (FLOP
counters, tracers) or CPU autocast is active and nothing is being compiled; everywhere else the
callers use ``F.conv2d`` (or, in training, :mod:`r2rnet_plugin.ops.winograd_training`).
``R2RNET_FAST_CPU_CONV=0`` in the environment or ``set_fast_cpu_convs(False)`` turns them off.
"""
import os

import torch
import torch.nn.functional as F
from torch.utils._python_dispatch import is_in_torch_dispatch_mode

_state = {'enabled': os.environ.get('R2RNET_FAST_CPU_CONV', '1') != '0', 'nnpack_works': None}


def set_fast_cpu_convs(enabled):
    """Turn the fast CPU inference convolutions on or off; returns the previous setting."""
    previous, _state['enabled'] = _state['enabled'], bool(enabled)
    return previous


def fast_cpu_float32(x, weight):
    """Whether the fast convolutions are on and ``x``/``weight`` suit them, in inference or training:
    float32 batches on the CPU, no dispatch mode (FLOP counters, tracers), no CPU autocast (it
    asks for bfloat16 convolutions), nothing being compiled."""
    return (_state['enabled'] and x.device.type == 'cpu' and x.dim() == 4 and x.dtype == weight.dtype == torch.float32
            and not torch.is_autocast_enabled('cpu') and not is_in_torch_dispatch_mode()
            and not torch.compiler.is_compiling())


def records_gradient(x, weight):
    """Whether autograd records a convolution of ``x`` with ``weight``."""
    return torch.is_grad_enabled() and (x.requires_grad or weight.requires_grad)


def fast_cpu_inference(x, weight):
    """Whether a convolution of ``x`` with ``weight`` may take a fast kernel of this module."""
    return fast_cpu_float32(x, weight) and not records_gradient(x, weight)


def _nnpack_works():
    """Probe NNPACK once against ``F.conv2d``; any failure leaves the Winograd kernels off.

    ``torch._nnpack_spatial_convolution`` fails until ``nnp_initialize`` has run, which
    ``torch.backends.nnpack.is_available()`` does (torch 2.14).
    """
    if _state['nnpack_works'] is None:
        works = False
        if torch.backends.nnpack.is_available():
            with torch.no_grad():
                x, w, b = torch.rand(1, 4, 9, 11), torch.rand(4, 4, 3, 3), torch.rand(4)
                try:
                    got = torch._nnpack_spatial_convolution(x, w, b, [1, 1])
                    works = bool((got - F.conv2d(x, w, b, padding=1)).abs().max() < 1e-4)
                except RuntimeError:
                    pass
        _state['nnpack_works'] = works
    return _state['nnpack_works']


def _per_image(fn, x):
    """``fn`` on each image of ``x`` (kernels that round differently when batched stay batch-independent)."""
    outs = [fn(img) for img in x.contiguous().split(1)]
    return outs[0] if len(outs) == 1 else torch.cat(outs)


# Smaller convolutions (per image) stay with oneDNN: NNPACK's per-call costs (transforms, its
# spinning thread pool, which on a busy machine burns CPU) outweigh its savings there. Small maps
# lose whatever the channels (it transforms every kernel for every image): oneDNN-time /
# NNPACK-time, batch 4, 2 AVX-512 cores, measured side by side: 0.1-0.2 at 12x12, 0.3-0.6 at
# 24x24, 0.5-1.3 at 48x48, 1.2-2.3 at 72x72 (any of 64..512 channels in and out).
_MIN_WINOGRAD_MACS = 2**26
_MIN_WINOGRAD_PIXELS = 64 * 64
_BAND_ELEMENTS = 2**27  # larger inputs (per image, 512 MB) are convolved in bands of rows


def _winograd_image(img, weight, bias, padding):
    """NNPACK convolution of one image; large ones in bands of rows.

    NNPACK's workspace is about three times the input (5.6 GB for 256 channels at 1920x1080);
    bands bound it (smaller bands than these are slower). Output row ``i`` reads input rows
    ``i - padding .. i + 2 - padding``, so a band of output rows needs its input rows plus a halo;
    the band is convolved with the same zero padding, and only the rows whose halo is real (or
    the true border) are kept.
    """
    _, channels, height, width = img.shape
    rows = max(16, _BAND_ELEMENTS // (channels * width))
    out_height = height + 2 * padding - 2
    if out_height <= rows:
        return torch._nnpack_spatial_convolution(img, weight, bias, [padding, padding])
    out = img.new_empty(1, weight.shape[0], out_height, width + 2 * padding - 2)
    for start in range(0, out_height, rows):
        stop = min(start + rows, out_height)
        low, high = max(start - padding, 0), min(stop + 2 - padding, height)
        band = torch._nnpack_spatial_convolution(img[:, :, low:high].contiguous(), weight, bias, [padding, padding])
        out[:, :, start:stop] = band[:, :, start - low:stop - low]
    return out


def winograd_pays(x, weight, min_macs=None, min_pixels=None):
    """Whether NNPACK works here and the 3x3 convolution of ``x`` is large enough to gain from it:
    at least ``min_macs`` multiply-adds and ``min_pixels`` pixels per image (by default
    inference's ``_MIN_WINOGRAD_MACS`` and ``_MIN_WINOGRAD_PIXELS``)."""
    min_macs = _MIN_WINOGRAD_MACS if min_macs is None else min_macs
    min_pixels = _MIN_WINOGRAD_PIXELS if min_pixels is None else min_pixels
    pixels = x.shape[-2] * x.shape[-1]
    return pixels >= min_pixels and weight.numel() * pixels >= min_macs and _nnpack_works()


def winograd_conv(x, weight, bias, padding=0):
    """3x3 stride-1 convolution with zero ``padding`` (at most 2) by NNPACK, image by image."""
    return _per_image(lambda img: _winograd_image(img, weight, bias, padding), x)


def _winograd_dilated(padded, weight, bias, d):
    """Dilated valid convolution as an undilated one on each of the ``d * d`` pixel phases."""
    b, c, hp, wp = padded.shape
    h, w = hp // d, wp // d
    phases = padded.view(b, c, h, d, w, d).permute(3, 5, 0, 1, 2, 4).reshape(d * d * b, c, h, w)
    out = winograd_conv(phases, weight, bias)
    o, ho, wo = out.shape[1:]
    return out.view(d, d, b, o, ho, wo).permute(2, 3, 4, 0, 5, 1).reshape(b, o, ho * d, wo * d)


def _add_replicate_border(out, x, weight):
    """Turn the zero-padded 3x3 convolution ``out`` of ``x`` into the replicate-padded one, in place.

    The two paddings differ only on the one-pixel ring around ``x``, which reaches only the
    output's border rows and columns: the top row gains kernel row 0 applied to ``x``'s first row
    (itself replicate-padded sideways, which covers the corners), the bottom row kernel row 2
    applied to the last row, the left and right columns kernel columns 0 and 2 applied to the
    first and last columns. Cheaper than padding a copy of every input.
    """
    out[:, :, :1] += F.conv2d(F.pad(x[:, :, :1], (1, 1, 0, 0), mode='replicate'), weight[:, :, :1])
    out[:, :, -1:] += F.conv2d(F.pad(x[:, :, -1:], (1, 1, 0, 0), mode='replicate'), weight[:, :, 2:])
    out[..., :1] += F.conv2d(x[..., :1], weight[..., :1], padding=(1, 0))
    out[..., -1:] += F.conv2d(x[..., -1:], weight[..., 2:], padding=(1, 0))
    return out


def conv3x3_same(x, weight, bias, padding, dilation=1, padding_mode='zeros'):
    """Size-keeping 3x3 stride-1 convolution (``padding == dilation``), by Winograd where possible.

    Call only where :func:`fast_cpu_inference` holds; falls back to ``F.conv2d`` otherwise.
    """
    winograd = winograd_pays(x, weight)
    if winograd and dilation == 1 and padding_mode in ('zeros', 'replicate'):
        out = winograd_conv(x, weight, bias, padding)
        return out if padding_mode == 'zeros' else _add_replicate_border(out, x, weight)
    if padding_mode != 'zeros' or dilation != 1:
        x = F.pad(x, (padding, ) * 4, mode='constant' if padding_mode == 'zeros' else padding_mode)
        padding = 0
    if not winograd or any(s % dilation for s in x.shape[-2:]):
        return F.conv2d(x, weight, bias, padding=padding, dilation=dilation)
    return _winograd_dilated(x, weight, bias, dilation)


def conv1x1(x, weight, bias):
    """1x1 convolution as one ``[O, C] @ [C, H*W]`` matrix product per image."""
    out_ch, in_ch = weight.shape[:2]
    matrix = weight.reshape(out_ch, in_ch)
    height, width = x.shape[-2:]

    def product(img):
        flat = img.reshape(in_ch, height * width)
        out = torch.mm(matrix, flat) if bias is None else torch.addmm(bias[:, None], matrix, flat)
        return out.view(1, out_ch, height, width)

    return _per_image(product, x)
