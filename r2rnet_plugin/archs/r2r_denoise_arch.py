"""Denoise-Net: cleans the reflectance of a low-light image, guided by its illumination."""
import torch
from torch import nn

from basicsr.utils.registry import ARCH_REGISTRY
from r2rnet_plugin.archs.r2r_blocks import conv1x1, crop_to, leaky_relu, pad_to_multiple
from r2rnet_plugin.archs.r2r_unet import UNET_MULTIPLE, R2RUNet
from r2rnet_plugin.utils.option_checks import NETWORK_CHANNEL, check_int
from r2rnet_plugin.utils.registration import register_as


@register_as(ARCH_REGISTRY)
class R2RDenoiseNet(nn.Module):
    """``(L, R) -> R_denoised``: a U-Net on ``cat(R, L)``, 1x1 conv to RGB, LeakyReLU (no sigmoid).

    Any input size: inputs are replicate-padded to a multiple of 8 and the output cropped back.

    Args:
        channel (int): feature width (64 in the published model).
    """

    def __init__(self, channel=64):
        super().__init__()
        channel = check_int(channel, NETWORK_CHANNEL)
        self.unet = R2RUNet(in_ch=4, channel=channel, upsampling='deconv')
        self.out_conv = conv1x1(channel, 3)

    def forward(self, L, R):
        x, size = pad_to_multiple(torch.cat((R, L), dim=1), UNET_MULTIPLE)
        fused, _ = self.unet(x)
        return crop_to(leaky_relu(self.out_conv(fused)), size)
