"""Building blocks shared by R2RNet's sub-networks, each written once.

Complex-valued feature maps are kept in *split* form: a real tensor whose channels are the real
parts followed by the imaginary parts (``[B, 2C, H, W]``). A complex convolution then becomes one
real convolution (or, with ``complex_conv: published``, complexPyTorch's four), and the complex
ReLU of the reference (ReLU on both parts) a plain ReLU.
"""
import torch
import torch.nn.functional as F
from torch import nn

from r2rnet_plugin.ops.fast_conv import conv1x1 as fast_conv1x1
from r2rnet_plugin.ops.fast_conv import conv3x3_same, fast_cpu_inference
from r2rnet_plugin.ops.winograd_training import conv3x3_train, fast_cpu_training

LEAKY_SLOPE = 0.01  # nn.LeakyReLU() default, used throughout the reference


def leaky_relu(x):
    """LeakyReLU(0.01) of a freshly computed tensor: in place when no gradient is recorded."""
    return F.leaky_relu(x, LEAKY_SLOPE, inplace=not torch.is_grad_enabled())


def autocast_dtype(x):
    """The dtype autocast gives convolutions on ``x``'s device, or None where autocast is off."""
    kind = x.device.type
    return torch.get_autocast_dtype(kind) if torch.is_autocast_enabled(kind) else None


class Conv3x3(nn.Conv2d):
    """``nn.Conv2d`` (same parameters) for size-keeping 3x3 convolutions; Winograd on the CPU.

    In training, the fast CPU convolutions run only where opted in (:func:`use_fast_cpu_training`).
    """

    fast_training = False

    def _conv_forward(self, input, weight, bias):  # noqa: A002  (nn.Conv2d's signature)
        if fast_cpu_inference(input, weight):
            return conv3x3_same(input, weight, bias, self.padding[0], self.dilation[0], self.padding_mode)
        if self.fast_training and fast_cpu_training(input, weight, self.dilation[0], self.padding_mode):
            return conv3x3_train(input, weight, bias, self.padding_mode)
        dtype = autocast_dtype(input)
        if dtype is not None and self.padding_mode != 'zeros' and input.dtype in (torch.float32, dtype):
            # Autocast would pad in float32 (replication_pad2d is on its float32 list) and cast the
            # padded copy back for the convolution: pad in the convolution's dtype instead.
            with torch.autocast(input.device.type, enabled=False):
                padded = F.pad(input.to(dtype), self._reversed_padding_repeated_twice, mode=self.padding_mode)
            return F.conv2d(padded, weight, bias, self.stride, 0, self.dilation, self.groups)
        return super()._conv_forward(input, weight, bias)


class Conv1x1(nn.Conv2d):
    """``nn.Conv2d`` (same parameters) for 1x1 convolutions; a matrix product in CPU inference."""

    def _conv_forward(self, input, weight, bias):  # noqa: A002
        if fast_cpu_inference(input, weight):
            return fast_conv1x1(input, weight, bias)
        return super()._conv_forward(input, weight, bias)


def conv3x3(in_ch, out_ch, dilation=1, padding_mode='replicate'):
    """3x3 convolution keeping the size (``padding = dilation``)."""
    return Conv3x3(in_ch, out_ch, 3, padding=dilation, dilation=dilation, padding_mode=padding_mode)


def conv1x1(in_ch, out_ch):
    return Conv1x1(in_ch, out_ch, 1)


class ConvChain(nn.Module):
    """Convolutions, each followed by a LeakyReLU; 3x3 ones use replicate padding.

    Args:
        channels (list[int]): channel counts, input first (``len(kernel_sizes) + 1`` entries).
        kernel_sizes (list[int]): 1 or 3 for each convolution.
    """

    def __init__(self, channels, kernel_sizes):
        super().__init__()
        self.convs = nn.ModuleList(
            conv3x3(i, o) if k == 3 else conv1x1(i, o) for i, o, k in zip(channels[:-1], channels[1:], kernel_sizes))

    def forward(self, x):
        for conv in self.convs:
            x = leaky_relu(conv(x))
        return x


def bottleneck_chain(in_ch, channel, widths=(2, 4, 4, 2)):
    """1x1 in, three 3x3 at ``widths * channel``, 1x1 back to ``channel`` (R2RNet's repeated unit)."""
    mids = [w * channel for w in widths]
    return ConvChain([in_ch] + mids + [channel], [1, 3, 3, 3, 1])


class ResidualModule(nn.Module):
    """Decom-Net's residual module: ``cat(act(1x1(x)), chain(x))``, doubling the channels."""

    def __init__(self, channel=64):
        super().__init__()
        self.chain = bottleneck_chain(channel, channel, widths=(1, 2, 4, 2))
        self.skip = conv1x1(channel, channel)

    def forward(self, x):
        return torch.cat((leaky_relu(self.skip(x)), self.chain(x)), dim=1)


class ResBlock(nn.Module):
    """conv-LeakyReLU-conv plus identity.

    The reference applies ``nn.LeakyReLU(True)`` after the sum: a negative slope of 1.0, which is
    the identity, so no activation follows the sum here.
    """

    def __init__(self, channel):
        super().__init__()
        self.conv0 = conv3x3(channel, channel)
        self.conv1 = conv3x3(channel, channel)

    def forward(self, x):
        return x + self.conv1(leaky_relu(self.conv0(x)))


# How a complex convolution is computed (network_g: complex_conv); the parameters are the same.
COMPLEX_CONV = ('fused', 'published')


class ComplexConv2d(nn.Module):
    """Complex convolution ``(Wr + iWi) * (xr + ixi)`` with a bias on both real convs.

    Matches complexPyTorch's ``ComplexConv2d`` (parameters ``conv_r`` and ``conv_i``).

    Args:
        mode (str): ``'fused'`` (default) computes it as a single real convolution on split tensors
            with the block weight ``[[Wr, -Wi], [Wi, Wr]]`` and bias ``(br - bi, br + bi)``;
            ``'published'`` as complexPyTorch's ``apply_complex`` does, four real convolutions,
            each with its own bias: ``real = conv_r(xr) - conv_i(xi)``,
            ``imag = conv_r(xi) + conv_i(xr)``. The same sums rounded in another order: the
            published mode reproduces the published code's float32 training step, the fused one
            is faster (docs/training.md).
    """

    def __init__(self, in_ch, out_ch, kernel_size=3, padding=1, mode='fused'):
        super().__init__()
        if mode not in COMPLEX_CONV:
            raise ValueError(f"complex_conv must be one of {', '.join(COMPLEX_CONV)}, got {mode!r}")
        self.conv_r = nn.Conv2d(in_ch, out_ch, kernel_size, padding=padding)
        self.conv_i = nn.Conv2d(in_ch, out_ch, kernel_size, padding=padding)
        self.padding = padding
        self.mode = mode
        self.fast_training = False  # see use_fast_cpu_training
        self._fused_cache = None  # (parameter versions, fused weight, fused bias), inference only

    def extra_repr(self):
        return f'mode={self.mode}'

    def _fuse(self, dtype):
        wr, wi = self.conv_r.weight, self.conv_i.weight
        weight = torch.cat((torch.cat((wr, -wi), dim=1), torch.cat((wi, wr), dim=1)), dim=0)
        br, bi = self.conv_r.bias, self.conv_i.bias
        return weight.to(dtype), torch.cat((br - bi, br + bi)).to(dtype)

    def fused_weight_and_bias(self, dtype=None):
        """The block weight and bias (in ``dtype``, default the parameters' own).

        Without gradient recording, the result is kept until a parameter changes (in place or
        replaced) or another dtype is asked for.
        """
        dtype = dtype or self.conv_r.weight.dtype
        if torch.is_grad_enabled():
            return self._fuse(dtype)
        params = (self.conv_r.weight, self.conv_i.weight, self.conv_r.bias, self.conv_i.bias)
        key = (dtype, *((p.data_ptr(), p._version) for p in params))
        if self._fused_cache is None or self._fused_cache[0] != key:
            self._fused_cache = (key, *self._fuse(dtype))
        return self._fused_cache[1:]

    def _published_forward(self, x):
        """complexPyTorch's ``apply_complex(conv_r, conv_i, x)`` on split tensors: PyTorch's own
        convolutions, each adding its bias, then the differences and sums in its order."""
        real, imag = x.chunk(2, dim=1)
        out_real = self.conv_r(real) - self.conv_i(imag)
        out_imag = self.conv_r(imag) + self.conv_i(real)
        return torch.cat((out_real, out_imag), dim=1)

    def forward(self, x):
        if self.mode == 'published':
            return self._published_forward(x)
        weight, bias = self.fused_weight_and_bias(x.dtype)
        if fast_cpu_inference(x, weight):
            if weight.shape[-2:] == (3, 3):
                return conv3x3_same(x, weight, bias, self.padding)
            if weight.shape[-2:] == (1, 1) and self.padding == 0:
                return fast_conv1x1(x, weight, bias)
        elif (self.fast_training and weight.shape[-2:] == (3, 3) and self.padding == 1
              and fast_cpu_training(x, weight, 1, 'zeros')):
            return conv3x3_train(x, weight, bias, 'zeros')
        return F.conv2d(x, weight, bias, padding=self.padding)


def use_fast_cpu_training(module, enabled=True):
    """Opt the 3x3 convolutions of ``module`` in (or out) of the fast CPU training convolutions.

    Off by default: training then uses PyTorch's convolutions, as the published code does. On,
    wide float32 3x3 convolutions on large maps train by NNPACK
    (:mod:`r2rnet_plugin.ops.winograd_training`): faster, but their gradients differ from
    PyTorch's by more than rounding (measured in ``benchmarks/training_conv_error.py``, see
    docs/training.md). ``R2RNET_FAST_CPU_CONV=0`` in the environment keeps them off regardless.

    Returns:
        int: how many convolutions were set.
    """
    convs = [m for m in module.modules() if isinstance(m, (Conv3x3, ComplexConv2d))]
    for conv in convs:
        conv.fast_training = bool(enabled)
    return len(convs)


class ComplexResidualBlock(nn.Module):
    """Three complex 3x3 convolutions with complex ReLU, plus identity (``complex_net``).

    ``complex_conv`` is the :class:`ComplexConv2d` mode of its convolutions.
    """

    def __init__(self, channel, complex_conv='fused'):
        super().__init__()
        self.complex_conv0 = ComplexConv2d(channel, channel * 2, mode=complex_conv)
        self.complex_conv1 = ComplexConv2d(channel * 2, channel * 2, mode=complex_conv)
        self.complex_conv2 = ComplexConv2d(channel * 2, channel, mode=complex_conv)

    def forward(self, x):
        out = F.relu(self.complex_conv0(x))
        out = F.relu(self.complex_conv1(out))
        return x + F.relu(self.complex_conv2(out))


FFT_DIMS = {'chw': (1, 2, 3), 'hw': (2, 3), 'batch': (0, 1, 2, 3)}


class SpectralTransform:
    """Real FFT to split-complex form and back.

    Args:
        mode (str): ``'chw'`` transforms each image over (C, H, W), which is what the reference
            computes for a batch of one and what its weights were trained with; ``'hw'``
            transforms each channel over (H, W). Either way images of a batch never mix.
            ``'batch'`` transforms the whole batch over (N, C, H, W), as the published code's
            ``rfftn``/``irfftn`` without ``dim`` do: the images of a batch mix (an image's output
            depends on the others), so it is for reproducing published training step for step;
            at batch 1 it equals ``'chw'``.
    """

    def __init__(self, mode='chw'):
        if mode not in FFT_DIMS:
            raise ValueError(f"fft_mode must be one of {sorted(FFT_DIMS)}, got {mode!r}")
        self.dims = FFT_DIMS[mode]

    @staticmethod
    def _fft_dtype(dtype):
        return dtype if dtype in (torch.float32, torch.float64) else torch.float32

    def forward(self, x):
        spectrum = torch.fft.rfftn(x.to(self._fft_dtype(x.dtype)), dim=self.dims)
        return torch.cat((spectrum.real, spectrum.imag), dim=1).to(x.dtype)

    def inverse(self, y, size):
        """Back to a real tensor of spatial ``size`` (H, W) from split form ``y``."""
        half = y.shape[1] // 2
        work = y.to(self._fft_dtype(y.dtype))
        spectrum = torch.complex(work[:, :half], work[:, half:])
        full = (y.shape[0], half, *size)
        return torch.fft.irfftn(spectrum, s=[full[d] for d in self.dims], dim=self.dims).to(y.dtype)


class SpectralFeatureBlock(nn.Module):
    """ResBlock, complex residual block in the frequency domain, ResBlock, plus identity."""

    def __init__(self, channel, spectral, complex_conv='fused'):
        super().__init__()
        self.resblock0 = ResBlock(channel)
        self.complex_block = ComplexResidualBlock(channel, complex_conv)
        self.resblock1 = ResBlock(channel)
        self.spectral = spectral

    def forward(self, x):
        out = self.resblock0(x)
        out = self.spectral.inverse(self.complex_block(self.spectral.forward(out)), out.shape[-2:])
        return x + self.resblock1(out)


def pad_to_multiple(x, multiple):
    """Replicate-pad the bottom and right of ``x`` to a multiple of ``multiple``; returns (padded, (h, w))."""
    h, w = x.shape[-2:]
    pad_h, pad_w = (-h) % multiple, (-w) % multiple
    if pad_h or pad_w:
        x = F.pad(x, (0, pad_w, 0, pad_h), mode='replicate')
    return x, (h, w)


def crop_to(x, size):
    return x[..., :size[0], :size[1]]
