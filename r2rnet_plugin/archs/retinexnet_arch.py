"""RetinexNet (Wei et al., "Deep Retinex Decomposition for Low-Light Enhancement", BMVC 2018),
as the PyTorch port github.com/aasharma90/RetinexNet_PyTorch (``model.py``) builds it, the port
R2RNet's published code borrows from.

Decom-Net splits an image into reflectance R and illumination L; Relight-Net brightens L with an
encoder-decoder whose up-convolutions see the upsampled features concatenated with the skip, and
a multi-scale fusion; the output is ``R * I_delta``. Every convolution pads by replicating the
border, as the port's do, except the last one, which pads nothing (the 1x1 fusion before it pads
by one pixel instead). The port's published LOL checkpoints convert with
``python -m r2rnet_plugin.convert_official --arch retinexnet``. Unlike the authors' TensorFlow
code (zero padding, additive skips) and the paper, R is not denoised with BM3D at test time.
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


def _conv(in_channels, out_channels, kernel_size, stride=1, padding=None):
    """A convolution padding by border replication (by ``kernel_size // 2`` unless given)."""
    padding = kernel_size // 2 if padding is None else padding
    return nn.Conv2d(in_channels, out_channels, kernel_size, stride=stride, padding=padding, padding_mode='replicate')


class RetinexDecom(nn.Module):
    """``x -> (R, L)`` in (0, 1): a 9x9 conv on ``cat(max over RGB, RGB)`` (no activation),
    ``num_layers`` 3x3 conv + ReLU layers, a 3x3 conv to 4 maps and a sigmoid.

    Args:
        channel (int): feature width (64 in the paper).
        num_layers (int): 3x3 conv + ReLU layers (5 in the paper and the port).
    """

    def __init__(self, channel=64, num_layers=5):
        super().__init__()
        self.shallow = _conv(4, channel, 9)
        self.layers = nn.ModuleList(_conv(channel, channel, 3) for _ in range(num_layers))
        self.recon = _conv(channel, 4, 3)

    def forward(self, x):
        feat = self.shallow(torch.cat((x.amax(dim=1, keepdim=True), x), dim=1))
        for layer in self.layers:
            feat = F.relu(layer(feat))
        out = torch.sigmoid(self.recon(feat))
        return out[:, :3], out[:, 3:4]


class RetinexRelight(nn.Module):
    """``(R, L) -> I_delta``: a 3x3 conv on ``cat(R, L)``, three stride-2 convs down, three
    levels up (nearest resize to the skip's size, concatenated with the skip, 3x3 conv + ReLU),
    the decoder outputs resized to full size, concatenated, fused by a 1x1 conv that pads one
    pixel, and an unpadded 3x3 conv to one map (no activation). Any input size.

    Args:
        channel (int): feature width (64 in the paper).
    """

    def __init__(self, channel=64):
        super().__init__()
        c = channel
        self.in_conv = _conv(4, c, 3)
        self.downs = nn.ModuleList(_conv(c, c, 3, stride=2) for _ in range(3))
        self.ups = nn.ModuleList(_conv(2 * c, c, 3) for _ in range(3))
        self.fusion = _conv(3 * c, c, 1, padding=1)
        self.out_conv = nn.Conv2d(c, 1, 3)

    def forward(self, R, L):
        feat = self.in_conv(torch.cat((R, L), dim=1))
        skips = [feat]
        for down in self.downs:
            feat = F.relu(down(feat))
            skips.append(feat)
        decoded = []
        for up, skip in zip(self.ups, reversed(skips[:-1])):
            upsampled = F.interpolate(feat, size=skip.shape[-2:], mode='nearest')
            feat = F.relu(up(torch.cat((upsampled, skip), dim=1)))
            decoded.append(feat)
        size = decoded[-1].shape[-2:]
        multi_scale = [F.interpolate(d, size=size, mode='nearest') for d in decoded[:-1]] + decoded[-1:]
        return self.out_conv(self.fusion(torch.cat(multi_scale, dim=1)))


@register_as(ARCH_REGISTRY, 'R2RPluginRetinexNet')
class RetinexNet(nn.Module):
    """RetinexNet: ``forward(x)`` returns the enhanced image ``R * I_delta`` (not clipped).

    Sub-modules ``decom`` (``x -> (R, L)``) and ``relight`` (``(R, L) -> I_delta``); any input
    size. With the defaults its parameters are the port's, renamed (see
    :mod:`r2rnet_plugin.weights.official_keys`).

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
