"""R2RNet's frequency loss: 1-D Wasserstein distances between the FFT coefficients of two images."""
import torch
from torch import nn

from basicsr.utils.registry import LOSS_REGISTRY
from r2rnet_plugin.utils.option_checks import check_weights
from r2rnet_plugin.utils.registration import register_as


def sorted_wasserstein(u, v):
    """Row-wise 1-D Wasserstein-1 distance of equal-length samples: ``mean(|sort(u) - sort(v)|)``.

    Equals ``scipy.stats.wasserstein_distance`` for two samples of the same length, and is
    differentiable (the gradient flows through the sort permutation).

    Args:
        u (Tensor): ``[B, N]``.
        v (Tensor): ``[B, N]``.

    Returns:
        Tensor: ``[B]``.
    """
    return (u.sort(dim=1).values - v.sort(dim=1).values).abs().mean(dim=1)


def frequency_wasserstein(pred, target, per_image_fft=False, distance_dtype=None):
    """Sum over images of ``W(real parts) + W(imaginary parts)`` of the spectra, over ``H * W``.

    Args:
        pred (Tensor): ``[B, C, H, W]``.
        target (Tensor): same shape.
        per_image_fft (bool): False: one FFT over all dims, batch included (the reference: an
            image's loss depends on the rest of its batch; identical to True at batch 1).
            True: one FFT over (C, H, W) per image, batch-independent.
        distance_dtype (torch.dtype, optional): dtype of the distances (the FFT runs in the
            inputs' dtype); SciPy, as used by the reference, computes them in float64.

    Returns:
        Tensor: scalar, summed (not averaged) over the batch as in the reference.
    """
    dims = tuple(range(1, pred.ndim)) if per_image_fft else None
    spec_pred, spec_target = torch.fft.fftn(pred, dim=dims), torch.fft.fftn(target, dim=dims)
    total = 0
    for part in (torch.real, torch.imag):
        u, v = part(spec_pred).flatten(1), part(spec_target).flatten(1)
        if distance_dtype is not None:
            u, v = u.to(distance_dtype), v.to(distance_dtype)
        total = total + sorted_wasserstein(u, v)
    return total.sum() / (pred.shape[-2] * pred.shape[-1])


@register_as(LOSS_REGISTRY)
class FrequencyWassersteinLoss(nn.Module):
    """R2RNet's frequency loss (``frequency_loss`` of the reference), see :func:`frequency_wasserstein`.

    Args:
        loss_weight (float): factor applied to the loss.
        differentiable (bool): True (default): computed in torch, gradients flow to ``pred``.
            False: the reference's behaviour: computed on detached data (the distances in
            float64, as SciPy does), returned without gradient: a logged constant in training.
        per_image_fft (bool): False (default): the reference's FFT over the whole batch, which
            mixes the images of a batch. True: FFT per image over (C, H, W), batch-independent.
    """

    def __init__(self, loss_weight=1.0, differentiable=True, per_image_fft=False):
        super().__init__()
        check_weights({'loss_weight': loss_weight}, type(self).__name__)
        self.loss_weight = loss_weight
        self.differentiable = differentiable
        self.per_image_fft = per_image_fft

    def forward(self, pred, target):
        """Args: pred, target (Tensor): ``[B, C, H, W]``. Returns: Tensor: scalar."""
        target = target.to(pred)
        if self.differentiable:
            return self.loss_weight * frequency_wasserstein(pred, target, self.per_image_fft)
        with torch.no_grad():
            value = frequency_wasserstein(pred.detach(), target, self.per_image_fft, torch.float64)
        return (self.loss_weight * value).to(pred.dtype)
