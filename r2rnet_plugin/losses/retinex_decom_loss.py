"""The Decom-Net training loss of R2RNet: reconstruction, mutual reconstruction, perceptual."""
import torch.nn.functional as F
from torch import nn

from basicsr.utils.registry import LOSS_REGISTRY
from r2rnet_plugin.losses.illumination_smoothness_loss import IlluminationSmoothnessLoss
from r2rnet_plugin.losses.r2r_perceptual_loss import R2RPerceptualLoss
from r2rnet_plugin.utils.option_checks import check_weights
from r2rnet_plugin.utils.registration import register_as


@register_as(LOSS_REGISTRY)
class RetinexDecomLoss(nn.Module):
    """Retinex decomposition loss of a low/normal-light pair, as in the reference's Decom phase.

    With ``S_low = R_low * L_low`` and ``S_high = R_high * L_high`` (L broadcast over RGB)::

        recon_weight * (l1(S_low, low) + l1(S_high, high))
        + mutual_weight * (l1(R_high * L_low, low) + l1(R_low * L_high, high))
        + perceptual_weight * (vgg(S_low, low) + vgg(S_high, high))
        + smooth_weight * (smooth(L_low, R_low) + smooth(L_high, R_high))

    all times ``loss_weight``. The defaults are the reference's (it defines no smoothness term).
    The unweighted terms are returned by :meth:`terms` and kept, detached, in ``last_terms``
    after each forward (keys ``recon_low``, ``recon_high``, ``mutual_low``, ``mutual_high``,
    and ``perceptual`` / ``smooth`` where their weight is not 0).

    Args:
        loss_weight (float): factor applied to the total.
        recon_weight (float): weight of the reconstruction terms.
        mutual_weight (float): weight of the mutual (swapped reflectance) terms.
        perceptual_weight (float): weight of the perceptual terms; 0 needs no VGG.
        vgg_path (str, optional): VGG16 weight file (see :class:`R2RPerceptualLoss`); required
            when ``perceptual_weight`` is not 0.
        smooth_weight (float): weight of the illumination smoothness terms (0: not computed).
    """

    def __init__(self,
                 loss_weight=1.0,
                 recon_weight=1.0,
                 mutual_weight=0.1,
                 perceptual_weight=0.1,
                 vgg_path=None,
                 smooth_weight=0.0):
        super().__init__()
        check_weights(
            dict(
                loss_weight=loss_weight,
                recon_weight=recon_weight,
                mutual_weight=mutual_weight,
                perceptual_weight=perceptual_weight,
                smooth_weight=smooth_weight),
            type(self).__name__)
        self.loss_weight = loss_weight
        self.weights = {
            'recon_low': recon_weight,
            'recon_high': recon_weight,
            'mutual_low': mutual_weight,
            'mutual_high': mutual_weight,
            'perceptual': perceptual_weight,
            'smooth': smooth_weight,
        }
        self.perceptual = R2RPerceptualLoss(vgg_path) if perceptual_weight else None
        self.smooth = IlluminationSmoothnessLoss() if smooth_weight else None
        self.last_terms = {}

    def terms(self, R_low, L_low, R_high, L_high, low, high):
        """The unweighted terms (with gradient), as a dict of scalar tensors; see the class doc.

        Args:
            R_low, R_high (Tensor): ``[B, 3, H, W]`` reflectances of the low / normal-light image.
            L_low, L_high (Tensor): ``[B, 1, H, W]`` illuminations.
            low, high (Tensor): ``[B, 3, H, W]`` the low / normal-light images.
        """
        s_low, s_high = R_low * L_low, R_high * L_high
        terms = {
            'recon_low': F.l1_loss(s_low, low),
            'recon_high': F.l1_loss(s_high, high),
            'mutual_low': F.l1_loss(R_high * L_low, low),
            'mutual_high': F.l1_loss(R_low * L_high, high),
        }
        if self.perceptual is not None:
            distance = self.perceptual.distance
            terms['perceptual'] = distance(s_low, low) + distance(s_high, high)
        if self.smooth is not None:
            terms['smooth'] = self.smooth(L_low, R_low) + self.smooth(L_high, R_high)
        return terms

    def forward(self, R_low, L_low, R_high, L_high, low, high):
        """Returns: Tensor: scalar, the weighted total; the terms are left in ``last_terms``."""
        terms = self.terms(R_low, L_low, R_high, L_high, low, high)
        self.last_terms = {name: value.detach() for name, value in terms.items()}
        return self.loss_weight * sum(self.weights[name] * value for name, value in terms.items())
