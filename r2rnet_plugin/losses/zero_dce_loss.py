"""Zero-DCE's non-reference losses: spatial consistency, exposure control, colour constancy and
illumination smoothness of the curve maps (Guo et al., CVPR 2020). No normal-light image needed.

Each term is computed as in the authors' training code (whose weights differ from the paper's
because its terms are normalised differently); the default weights are that code's.
"""
import torch
import torch.nn.functional as F
from torch import nn

from basicsr.utils.registry import LOSS_REGISTRY
from r2rnet_plugin.utils.option_checks import check_weights
from r2rnet_plugin.utils.registration import register_as


def neighbour_differences(x):
    """``x`` minus its left, right, upper and lower neighbours (zeros beyond the border): ``[4, B, C, H, W]``."""
    h, w = x.shape[-2:]
    padded = F.pad(x, (1, 1, 1, 1))
    neighbours = (padded[..., 1:h + 1, 0:w], padded[..., 1:h + 1,
                                                    2:w + 2], padded[..., 0:h, 1:w + 1], padded[..., 2:h + 2, 1:w + 1])
    return torch.stack([x - n for n in neighbours])


def spatial_consistency(enhanced, low, region=4):
    """Keeps the contrast between neighbouring ``region`` x ``region`` regions of the grey image."""

    def regions(img):
        return F.avg_pool2d(img.mean(dim=1, keepdim=True), region)

    diff = neighbour_differences(regions(low)) - neighbour_differences(regions(enhanced))
    return diff.pow(2).sum(dim=0).mean()


def exposure_control(enhanced, level=0.6, patch=16):
    """Mean squared distance of the ``patch`` x ``patch`` mean grey levels from ``level``."""
    patch = min(patch, *enhanced.shape[-2:])
    return (F.avg_pool2d(enhanced.mean(dim=1, keepdim=True), patch) - level).pow(2).mean()


def color_constancy(enhanced, eps=1e-12):
    """Grey-world prior: ``sqrt(sum over channel pairs of (mean_p - mean_q)^4)``, averaged over images."""
    r, g, b = enhanced.mean(dim=(2, 3)).unbind(dim=1)
    pairs = ((r - g).pow(2), (r - b).pow(2), (g - b).pow(2))
    return torch.sqrt(sum(d.pow(2) for d in pairs) + eps).mean()


def curve_smoothness(curves):
    """Total variation of the curve maps: ``2 * C * (mean (d/dy)^2 + mean (d/dx)^2)``."""
    dy = curves[..., 1:, :] - curves[..., :-1, :]
    dx = curves[..., :, 1:] - curves[..., :, :-1]
    return 2 * curves.shape[1] * (dy.pow(2).mean() + dx.pow(2).mean())


@register_as(LOSS_REGISTRY, 'R2RPluginZeroDCELoss')
class ZeroDCELoss(nn.Module):
    """``loss_weight * (spatial + exposure + color + smoothness terms, each weighted)``.

    The unweighted terms are kept, detached, in ``last_terms`` after each forward (keys
    ``spatial``, ``exposure``, ``color``, ``smoothness``).

    Args:
        loss_weight (float): factor applied to the total.
        spatial_weight (float): weight of the spatial consistency term (1 in the authors' code).
        exposure_weight (float): weight of the exposure control term (10).
        color_weight (float): weight of the colour constancy term (5).
        smoothness_weight (float): weight of the curve smoothness term (200).
        exposure_level (float): well-exposedness level E (0.6).
        exposure_patch (int): side of the exposure patches (16).
        spatial_region (int): side of the spatial consistency regions (4).
    """

    def __init__(self,
                 loss_weight=1.0,
                 spatial_weight=1.0,
                 exposure_weight=10.0,
                 color_weight=5.0,
                 smoothness_weight=200.0,
                 exposure_level=0.6,
                 exposure_patch=16,
                 spatial_region=4):
        super().__init__()
        check_weights(
            dict(
                loss_weight=loss_weight,
                spatial_weight=spatial_weight,
                exposure_weight=exposure_weight,
                color_weight=color_weight,
                smoothness_weight=smoothness_weight),
            type(self).__name__)
        self.loss_weight = loss_weight
        self.weights = {
            'spatial': spatial_weight,
            'exposure': exposure_weight,
            'color': color_weight,
            'smoothness': smoothness_weight
        }
        self.exposure_level = exposure_level
        self.exposure_patch = exposure_patch
        self.spatial_region = spatial_region
        self.last_terms = {}

    def terms(self, enhanced, low, curves):
        """The unweighted terms (with gradient) as a dict of scalar tensors.

        Args:
            enhanced (Tensor): ``[B, 3, H, W]`` the enhanced image.
            low (Tensor): ``[B, 3, H, W]`` the low-light input.
            curves (Tensor): ``[B, 3 * n, H, W]`` the curve maps that made ``enhanced``.
        """
        return {
            'spatial': spatial_consistency(enhanced, low.to(enhanced), self.spatial_region),
            'exposure': exposure_control(enhanced, self.exposure_level, self.exposure_patch),
            'color': color_constancy(enhanced),
            'smoothness': curve_smoothness(curves),
        }

    def forward(self, enhanced, low, curves):
        """Returns: Tensor: scalar, the weighted total; the terms are left in ``last_terms``."""
        terms = self.terms(enhanced, low, curves)
        self.last_terms = {name: value.detach() for name, value in terms.items()}
        return self.loss_weight * sum(self.weights[name] * value for name, value in terms.items())
