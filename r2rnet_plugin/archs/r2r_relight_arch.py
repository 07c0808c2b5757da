"""Relight-Net: brightens the illumination map with a spatial U-Net and an FFT branch."""
import torch
import torch.nn.functional as F
from torch import nn

from basicsr.utils.registry import ARCH_REGISTRY
from r2rnet_plugin.archs.r2r_blocks import (COMPLEX_CONV, FFT_DIMS, ComplexConv2d, ComplexResidualBlock,
                                            SpectralFeatureBlock, SpectralTransform, conv1x1, conv3x3, crop_to,
                                            leaky_relu, pad_to_multiple)
from r2rnet_plugin.archs.r2r_unet import UNET_MULTIPLE, R2RUNet
from r2rnet_plugin.utils.option_checks import NETWORK_CHANNEL, check_choice, check_int
from r2rnet_plugin.utils.registration import register_as


class FFTDetailBranch(nn.Module):
    """Detail branch (the reference's ``EnhanceModule0``): features refined in the frequency domain.

    A dilated stem and a spectral feature block at full resolution; at half resolution the
    features' spectrum, plus the lifted spectrum of the downscaled input, goes through complex
    residual blocks; back in space it is upsampled and refined by a second spectral block.
    ``complex_conv`` is how its complex convolutions are computed (:class:`ComplexConv2d`).
    """

    def __init__(self, in_ch=4, channel=64, fft_mode='chw', complex_conv='fused'):
        super().__init__()
        c, mode = channel, complex_conv
        self.spectral = SpectralTransform(fft_mode)
        self.stem = nn.ModuleList([conv3x3(in_ch, c, 2, 'zeros'), conv3x3(c, c, 2, 'zeros')])
        self.feature_block0 = SpectralFeatureBlock(c, self.spectral, mode)
        self.down = nn.Conv2d(c, c, 2, stride=2)
        self.input_lift = ComplexConv2d(in_ch, c, mode=mode)
        self.spectrum_in = ComplexConv2d(c, c, mode=mode)
        self.spectrum_blocks = nn.ModuleList([ComplexResidualBlock(c, mode), ComplexResidualBlock(c, mode)])
        self.spectrum_out = ComplexConv2d(c, c, kernel_size=1, padding=0, mode=mode)
        self.feature_block1 = SpectralFeatureBlock(c, self.spectral, mode)
        self.out_convs = nn.ModuleList([conv3x3(c, c, padding_mode='zeros'), conv1x1(c, c)])

    def forward(self, x):
        x_half = F.interpolate(x, scale_factor=0.5, mode='bilinear', align_corners=False)
        lifted = self.input_lift(self.spectral.forward(x_half))

        stem = x
        for conv in self.stem:
            stem = leaky_relu(conv(stem))
        full = self.feature_block0(stem)
        half = leaky_relu(self.down(full))

        spectrum = F.relu(self.spectrum_in(self.spectral.forward(half) + lifted))
        for block in self.spectrum_blocks:
            spectrum = block(spectrum)
        spectrum = F.relu(self.spectrum_out(spectrum))
        half = self.spectral.inverse(spectrum + lifted, half.shape[-2:])

        up = F.interpolate(half, scale_factor=2, mode='bilinear', align_corners=True)
        out = self.feature_block1(up + full) + stem
        for conv in self.out_convs:
            out = leaky_relu(conv(out))
        return out


class ContrastUNetBranch(nn.Module):
    """Contrast branch (the reference's ``EnhanceModule1``): U-Net with multi-scale fusion."""

    def __init__(self, in_ch=4, channel=64):
        super().__init__()
        self.unet = R2RUNet(in_ch=in_ch, channel=channel, upsampling='bilinear')
        self.fuse_scales = conv3x3(4 * channel, channel)
        self.out_conv = conv1x1(channel, channel)

    def forward(self, x):
        fused, ups = self.unet(x)
        size = x.shape[-2:]
        scales = [F.interpolate(up, size=size, mode='nearest') for up in ups]
        out = leaky_relu(self.fuse_scales(torch.cat((*scales, fused), dim=1)))
        return leaky_relu(self.out_conv(out))


@register_as(ARCH_REGISTRY)
class R2RRelightNet(nn.Module):
    """``(L, R_denoised) -> I_delta``, the relit illumination ``[B, 1, H, W]`` (>= 0).

    Any input size: inputs are replicate-padded to a multiple of 8 and the output cropped back.

    Args:
        channel (int): feature width (64 in the published model).
        fft_mode (str): ``'chw'`` (default; per image over (C, H, W), as the published weights
            expect), ``'hw'`` (per channel over (H, W)) or ``'batch'`` (over the whole batch,
            (N, C, H, W), as the published code transforms: images of a batch mix; for
            reproducing published training, see docs/training.md).
        complex_conv (str): how the FFT branch's complex convolutions are computed: ``'fused'``
            (default; one real convolution each, faster) or ``'published'`` (complexPyTorch's four
            real convolutions, as the published code: its float32 training step to rounding, see
            docs/training.md). The same parameters either way.
    """

    def __init__(self, channel=64, fft_mode='chw', complex_conv='fused'):
        super().__init__()
        channel = check_int(channel, NETWORK_CHANNEL)
        fft_mode = check_choice(fft_mode, sorted(FFT_DIMS), 'network_g: fft_mode')
        complex_conv = check_choice(complex_conv, COMPLEX_CONV, 'network_g: complex_conv')
        self.fft_branch = FFTDetailBranch(4, channel, fft_mode, complex_conv)
        self.unet_branch = ContrastUNetBranch(4, channel)
        self.fuse = conv3x3(2 * channel, channel)
        self.out_conv = conv1x1(channel, 1)
        # The output ReLU must be live when training starts (narrow networks otherwise begin
        # with I_delta == 0 everywhere and no gradient); loaded weights replace this.
        nn.init.constant_(self.out_conv.bias, 1.0)

    def forward(self, L, R_denoised):
        x, size = pad_to_multiple(torch.cat((L, R_denoised), dim=1), UNET_MULTIPLE)
        out = leaky_relu(self.fuse(torch.cat((self.fft_branch(x), self.unet_branch(x)), dim=1)))
        return crop_to(F.relu(self.out_conv(out)), size)
