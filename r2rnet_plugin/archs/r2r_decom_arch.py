"""Decom-Net: splits an image into reflectance R (3 channels) and illumination L (1 channel)."""
import torch
from torch import nn

from basicsr.utils.registry import ARCH_REGISTRY
from r2rnet_plugin.archs.r2r_blocks import ResidualModule, conv1x1, conv3x3, leaky_relu
from r2rnet_plugin.utils.option_checks import NETWORK_CHANNEL, check_int
from r2rnet_plugin.utils.registration import register_as


@register_as(ARCH_REGISTRY)
class R2RDecomNet(nn.Module):
    """Retinex decomposition ``x -> (R, L)``, both in (0, 1); works at any size.

    The input is ``cat(max over RGB, RGB)``; four residual modules, each followed by a 3x3 conv
    back to ``channel`` features; a 1x1 conv to 4 maps, LeakyReLU, then sigmoid.

    Args:
        channel (int): feature width (64 in the published model).
        num_modules (int): residual modules (4 in the published model).
    """

    def __init__(self, channel=64, num_modules=4):
        super().__init__()
        channel = check_int(channel, NETWORK_CHANNEL)
        num_modules = check_int(num_modules, 'network_g: num_modules', minimum=0)
        self.in_conv = conv3x3(4, channel)
        self.residual_modules = nn.ModuleList(ResidualModule(channel) for _ in range(num_modules))
        self.merge_convs = nn.ModuleList(conv3x3(2 * channel, channel) for _ in range(num_modules))
        self.out_conv = conv1x1(channel, 4)

    def forward(self, x):
        """Args: x (Tensor): ``[B, 3, H, W]`` RGB in [0, 1]. Returns: (R ``[B,3,H,W]``, L ``[B,1,H,W]``)."""
        feat = leaky_relu(self.in_conv(torch.cat((x.amax(dim=1, keepdim=True), x), dim=1)))
        for module, merge in zip(self.residual_modules, self.merge_convs):
            feat = leaky_relu(merge(module(feat)))
        out = torch.sigmoid(leaky_relu(self.out_conv(feat)))
        return out[:, :3], out[:, 3:4]
