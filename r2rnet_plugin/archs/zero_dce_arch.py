"""Zero-DCE (Guo et al., "Zero-Reference Deep Curve Estimation for Low-Light Image Enhancement",
CVPR 2020): DCE-Net estimates pixel-wise quadratic curves, applied eight times to the input.
"""
from typing import NamedTuple

import torch
import torch.nn.functional as F
from torch import nn

from basicsr.utils.registry import ARCH_REGISTRY
from r2rnet_plugin.utils.registration import register_as


class ZeroDCEComponents(NamedTuple):
    """One Zero-DCE pass (all ``[B, C, H, W]``)."""
    curves: torch.Tensor  # the curve parameter maps, 3 channels per iteration, in [-1, 1]
    enhanced: torch.Tensor  # the input after every curve, 3 channels


def apply_curves(x, curves):
    """Apply each 3-channel curve map ``r`` of ``curves`` in turn: ``x <- x + r * (x^2 - x)``.

    This is the authors' code's form of the paper's ``LE(x) = x + a * x * (1 - x)`` with
    ``a = -r``; keeping it lets their published ``Epoch99.pth`` load as is.
    """
    for r in torch.split(curves, 3, dim=1):
        x = x + r * (x * x - x)
    return x


@register_as(ARCH_REGISTRY, 'R2RPluginZeroDCE')
class ZeroDCE(nn.Module):
    """DCE-Net and its curves: ``forward(x)`` returns the enhanced image.

    Seven 3x3 convolutions (``channel`` features, ReLU) with symmetric skip concatenations
    (1-6, 2-5, 3-4); the last one, with tanh, gives ``3 * iterations`` curve maps. Parameter
    names (``e_conv1`` ... ``e_conv7``) are the authors'. Any input size.

    Args:
        channel (int): feature width (32 in the paper).
        iterations (int): curve applications (8 in the paper).
    """

    llie_arch = True

    def __init__(self, channel=32, iterations=8):
        super().__init__()
        c = channel
        in_channels = (3, c, c, c, 2 * c, 2 * c, 2 * c)
        out_channels = (c, ) * 6 + (3 * iterations, )
        for i, (cin, cout) in enumerate(zip(in_channels, out_channels), start=1):
            setattr(self, f'e_conv{i}', nn.Conv2d(cin, cout, 3, padding=1))
        self.iterations = iterations
        for conv in self.convs():  # the authors' initialisation
            nn.init.normal_(conv.weight, 0.0, 0.02)
            nn.init.zeros_(conv.bias)

    def convs(self):
        return [getattr(self, f'e_conv{i}') for i in range(1, 8)]

    def estimate_curves(self, x):
        """``[B, 3, H, W]`` -> ``[B, 3 * iterations, H, W]`` curve maps in [-1, 1]."""
        conv = self.convs()
        x1 = F.relu(conv[0](x))
        x2 = F.relu(conv[1](x1))
        x3 = F.relu(conv[2](x2))
        x4 = F.relu(conv[3](x3))
        x5 = F.relu(conv[4](torch.cat((x3, x4), dim=1)))
        x6 = F.relu(conv[5](torch.cat((x2, x5), dim=1)))
        return torch.tanh(conv[6](torch.cat((x1, x6), dim=1)))

    def components(self, x):
        """Args: x (Tensor): ``[B, 3, H, W]`` RGB in [0, 1]. Returns: :class:`ZeroDCEComponents`."""
        curves = self.estimate_curves(x)
        return ZeroDCEComponents(curves, apply_curves(x, curves))

    def forward(self, x):
        return self.components(x).enhanced
