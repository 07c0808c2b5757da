"""Non-learned low-light baselines: identity, gamma correction and CLAHE.

They have no parameters: they serve as reference rows in a benchmark (``python -m
r2rnet_plugin.benchmark``) or in BasicSR's test pipeline, never in training. Each maps a
``[B, 3, H, W]`` RGB batch in [0, 1] to an enhanced batch of the same shape, device and dtype.
"""
import math

import cv2
import numpy as np
import torch
from torch import nn

from basicsr.utils.registry import ARCH_REGISTRY
from r2rnet_plugin.utils.registration import register_as


@register_as(ARCH_REGISTRY, 'R2RPluginIdentity')
class IdentityLLIE(nn.Module):
    """Returns the low-light input unchanged: the "do nothing" row of a benchmark."""

    llie_arch = True

    def forward(self, x):
        return x


@register_as(ARCH_REGISTRY, 'R2RPluginGamma')
class GammaLLIE(nn.Module):
    """Gamma correction ``x ** gamma``, with a fixed or a per-image automatic gamma.

    Args:
        gamma (float, optional): fixed exponent (``< 1`` brightens, e.g. ``1/2.2``). None
            (default): per image, the gamma that maps the image's mean level to
            ``target_mean`` (``log(target_mean) / log(mean)``), clamped to ``gamma_range``.
        target_mean (float): mean level aimed at by the automatic gamma (0.5 by default,
            about the mean of LOL's and LSRW's normal-light images).
        gamma_range (tuple[float, float]): bounds of the automatic gamma.
    """

    llie_arch = True

    def __init__(self, gamma=None, target_mean=0.5, gamma_range=(0.1, 10.0)):
        super().__init__()
        if gamma is not None and gamma <= 0:
            raise ValueError(f'GammaLLIE: gamma must be positive, got {gamma}')
        if not 0 < target_mean < 1:
            raise ValueError(f'GammaLLIE: target_mean must be in (0, 1), got {target_mean}')
        self.gamma = gamma
        self.target_mean = target_mean
        self.gamma_range = tuple(gamma_range)

    def image_gamma(self, x):
        """The exponent used for each image of ``x``: a ``[B, 1, 1, 1]`` float32 tensor."""
        if self.gamma is not None:
            return x.new_full((x.shape[0], 1, 1, 1), self.gamma, dtype=torch.float32)
        mean = x.float().mean(dim=(1, 2, 3), keepdim=True).clamp(1e-4, 1 - 1e-4)
        gamma = math.log(self.target_mean) / torch.log(mean)
        return gamma.clamp(*self.gamma_range)

    def forward(self, x):
        return x.float().clamp(0, 1).pow(self.image_gamma(x)).to(x.dtype)


@register_as(ARCH_REGISTRY, 'R2RPluginCLAHE')
class CLAHELLIE(nn.Module):
    """OpenCV's CLAHE on the lightness channel of CIE Lab, image by image.

    Works on tensors of any device and float dtype: each image goes to the CPU as 8-bit RGB,
    is equalised there, and comes back to the input's device and dtype.

    Args:
        clip_limit (float): contrast limit of CLAHE (OpenCV's ``clipLimit``).
        tile_grid (int): tiles per side (OpenCV's ``tileGridSize``).
    """

    llie_arch = True

    def __init__(self, clip_limit=2.0, tile_grid=8):
        super().__init__()
        self.clip_limit = float(clip_limit)
        self.tile_grid = int(tile_grid)

    def equalize(self, rgb):
        """``(H, W, 3)`` uint8 RGB -> the same with equalised Lab lightness."""
        clahe = cv2.createCLAHE(clipLimit=self.clip_limit, tileGridSize=(self.tile_grid, self.tile_grid))
        lab = cv2.cvtColor(rgb, cv2.COLOR_RGB2LAB)
        lab[..., 0] = clahe.apply(np.ascontiguousarray(lab[..., 0]))
        return cv2.cvtColor(lab, cv2.COLOR_LAB2RGB)

    def forward(self, x):
        images = (x.detach().float().clamp(0, 1) * 255).round().to(torch.uint8)
        images = images.permute(0, 2, 3, 1).cpu().numpy()
        out = np.stack([self.equalize(np.ascontiguousarray(img)) for img in images])
        return torch.from_numpy(out).permute(0, 3, 1, 2).to(device=x.device, dtype=x.dtype) / 255
