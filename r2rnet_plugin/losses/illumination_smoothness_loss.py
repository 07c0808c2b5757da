"""The Retinex illumination smoothness prior defined (but left unused) by the R2RNet reference."""
import torch
import torch.nn.functional as F
from torch import nn

from basicsr.utils.registry import LOSS_REGISTRY
from r2rnet_plugin.utils.option_checks import check_weights
from r2rnet_plugin.utils.registration import register_as

GREY_WEIGHTS = (0.299, 0.587, 0.114)


def abs_gradient(x, direction, padding_mode='zeros'):
    """``|d x / d direction|`` of each channel with the 2x2 kernel ``[[0, 0], [-1, 1]]`` (or its
    transpose for ``'y'``), padded by 1 on every side; the output is ``[B, C, H+1, W+1]``.

    Args:
        x (Tensor): ``[B, C, H, W]``.
        direction (str): ``'x'`` or ``'y'``.
        padding_mode (str): ``'zeros'`` (the reference: image borders count as edges) or
            ``'replicate'`` (borders add nothing, so a constant map has zero gradient).
    """
    kernel = x.new_tensor([[0., 0.], [-1., 1.]])
    if direction == 'y':
        kernel = kernel.t()
    elif direction != 'x':
        raise ValueError(f"direction must be 'x' or 'y', got {direction!r}")
    b, c, h, w = x.shape
    flat = x.reshape(b * c, 1, h, w)
    if padding_mode != 'zeros':
        flat = F.pad(flat, (1, 1, 1, 1), mode=padding_mode)
    grad = F.conv2d(flat, kernel.view(1, 1, 2, 2), padding=1 if padding_mode == 'zeros' else 0)
    return grad.abs().reshape(b, c, h + 1, w + 1)


@register_as(LOSS_REGISTRY)
class IlluminationSmoothnessLoss(nn.Module):
    """Structure-aware smoothness of the illumination (``smooth()`` of the reference).

    ``mean(|grad_x L| * exp(-10 * avg3x3|grad_x R_grey|) + |grad_y L| * exp(-10 * avg3x3|grad_y R_grey|))``
    with ``R_grey = 0.299 R + 0.587 G + 0.114 B``: L may change only where R has edges.

    Args:
        loss_weight (float): factor applied to the loss.
        padding_mode (str): ``'zeros'`` as in the reference (a constant nonzero L is penalised
            at the image borders) or ``'replicate'`` (a constant L costs exactly 0).
    """

    def __init__(self, loss_weight=1.0, padding_mode='zeros'):
        super().__init__()
        check_weights({'loss_weight': loss_weight}, type(self).__name__)
        if padding_mode not in ('zeros', 'replicate'):
            raise ValueError(f"padding_mode must be 'zeros' or 'replicate', got {padding_mode!r}")
        self.loss_weight = loss_weight
        self.padding_mode = padding_mode

    def forward(self, L, R):
        """Args: L (Tensor): ``[B, 1, H, W]`` illumination. R (Tensor): ``[B, 3, H, W]`` reflectance.

        Returns: Tensor: scalar.
        """
        grey = sum(wt * R[:, i:i + 1] for i, wt in enumerate(GREY_WEIGHTS))
        loss = 0
        for direction in ('x', 'y'):
            edges = F.avg_pool2d(abs_gradient(grey, direction, self.padding_mode), 3, stride=1, padding=1)
            loss = loss + abs_gradient(L, direction, self.padding_mode) * torch.exp(-10 * edges)
        return self.loss_weight * loss.mean()
