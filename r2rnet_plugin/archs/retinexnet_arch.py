"""RetinexNet (Wei et al., "Deep Retinex Decomposition for Low-Light Enhancement", BMVC 2018).

Decom-Net splits an image into reflectance R and illumination L; Enhance-Net (``relight``)
brightens L with an encoder-decoder and multi-scale fusion; the output is ``R * I_delta``.
Convolutions zero-pad as the authors' TensorFlow code does. The paper also denoises R with
BM3D at test time; that step is left out here.
"""
from typing import NamedTuple

import torch
import torch.nn.functional as F
from torch import nn

from basicsr.utils.registry import ARCH_REGISTRY

from r2rnet_plugin.utils.registration import register_as


class RetinexComponents(NamedTuple):
    """Every intermediate of one RetinexNet pass (all ``[B, C, H, W]``)."""
    R: torch.Tensor  # reflectance, 3 channels
    L: torch.Tensor  # illumination, 1 channel
    I_delta: torch.Tensor  # relit illumination, 1 channel
    enhanced: torch.Tensor  # R * I_delta, 3 channels


class RetinexDecom(nn.Module):
    """``x -> (R, L)`` in (0, 1): a 9x9 conv on ``cat(max over RGB, RGB)`` (no activation),
    ``num_layers`` 3x3 conv + ReLU layers, a 3x3 conv to 4 maps and a sigmoid.

    Args:
        channel (int): feature width (64 in the paper).
        num_layers (int): 3x3 conv + ReLU layers (5 in the paper).
    """

    def __init__(self, channel=64, num_layers=5):
        super().__init__()
        self.shallow = nn.Conv2d(4, channel, 9, padding=4)
        self.layers = nn.ModuleList(
            nn.Conv2d(channel, channel, 3, padding=1) for _ in range(num_layers))
        self.recon = nn.Conv2d(channel, 4, 3, padding=1)

    def forward(self, x):
        feat = self.shallow(torch.cat((x.amax(dim=1, keepdim=True), x), dim=1))
        for layer in self.layers:
            feat = F.relu(layer(feat))
        out = torch.sigmoid(self.recon(feat))
        return out[:, :3], out[:, 3:4]


class RetinexRelight(nn.Module):
    """``(R, L) -> I_delta``: three stride-2 convs down, three nearest-resize + conv up with
    additive skips, the decoder outputs resized to full size, concatenated and fused (1x1),
    then a 3x3 conv to one map. Any input size (each level is resized to its skip's size).

    Args:
        channel (int): feature width (64 in the paper).
    """

    def __init__(self, channel=64):
        super().__init__()
        c = channel
        self.in_conv = nn.Conv2d(4, c, 3, padding=1)
        self.downs = nn.ModuleList(nn.Conv2d(c, c, 3, stride=2, padding=1) for _ in range(3))
        self.ups = nn.ModuleList(nn.Conv2d(c, c, 3, padding=1) for _ in range(3))
        self.fusion = nn.Conv2d(3 * c, c, 1)
        self.out_conv = nn.Conv2d(c, 1, 3, padding=1)

    def forward(self, R, L):
        feat = self.in_conv(torch.cat((R, L), dim=1))
        skips = [feat]
        for down in self.downs:
            feat = F.relu(down(feat))
            skips.append(feat)
        decoded = []
        for up, skip in zip(self.ups, reversed(skips[:-1])):
            feat = F.relu(up(F.interpolate(feat, size=skip.shape[-2:], mode='nearest'))) + skip
            decoded.append(feat)
        size = decoded[-1].shape[-2:]
        multi_scale = [F.interpolate(d, size=size, mode='nearest') for d in decoded[:-1]] + decoded[-1:]
        return self.out_conv(self.fusion(torch.cat(multi_scale, dim=1)))


@register_as(ARCH_REGISTRY, 'R2RPluginRetinexNet')
class RetinexNet(nn.Module):
    """RetinexNet: ``forward(x)`` returns the enhanced image ``R * I_delta``.

    Sub-modules ``decom`` (``x -> (R, L)``) and ``relight`` (``(R, L) -> I_delta``); any input
    size.

    Args:
        channel (int): feature width of both networks (64 in the paper).
        num_layers (int): Decom-Net's 3x3 conv + ReLU layers (5 in the paper).
    """

    llie_arch = True

    def __init__(self, channel=64, num_layers=5):
        super().__init__()
        self.decom = RetinexDecom(channel, num_layers)
        self.relight = RetinexRelight(channel)

    def components(self, x):
        """Args: x (Tensor): ``[B, 3, H, W]`` RGB in [0, 1]. Returns: :class:`RetinexComponents`."""
        R, L = self.decom(x)
        I_delta = self.relight(R, L)
        return RetinexComponents(R, L, I_delta, R * I_delta)

    def forward(self, x):
        return self.components(x).enhanced
