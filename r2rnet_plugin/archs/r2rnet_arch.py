"""R2RNet: Decom-Net, Denoise-Net and Relight-Net chained; output = R_denoised * I_delta."""
from typing import NamedTuple

import torch
from torch import nn

from basicsr.utils.registry import ARCH_REGISTRY
from r2rnet_plugin.archs.r2r_blocks import COMPLEX_CONV, FFT_DIMS, crop_to, pad_to_multiple
from r2rnet_plugin.archs.r2r_decom_arch import R2RDecomNet
from r2rnet_plugin.archs.r2r_denoise_arch import R2RDenoiseNet
from r2rnet_plugin.archs.r2r_relight_arch import R2RRelightNet
from r2rnet_plugin.archs.r2r_unet import UNET_MULTIPLE
from r2rnet_plugin.utils.option_checks import NETWORK_CHANNEL, check_choice, check_int
from r2rnet_plugin.utils.registration import register_as


class R2RComponents(NamedTuple):
    """Every intermediate of one R2RNet pass (all ``[B, C, H, W]``)."""
    R: torch.Tensor  # reflectance of the input, 3 channels
    L: torch.Tensor  # illumination of the input, 1 channel
    R_denoised: torch.Tensor  # 3 channels
    I_delta: torch.Tensor  # relit illumination, 1 channel
    enhanced: torch.Tensor  # R_denoised * I_delta, 3 channels


UPTO = ('R', 'R_denoised', 'enhanced')


def run_stages(decom, denoise, relight, x, upto='enhanced', also_decompose=None):
    """R2RNet's forward pass through any three callables (e.g. sub-networks wrapped for DDP).

    The image is replicate-padded to a multiple of 8 once and every output cropped back.

    Args:
        x (Tensor): ``[B, 3, H, W]`` RGB in [0, 1].
        upto (str): the last output computed (see :meth:`R2RNet.components`).
        also_decompose (Tensor, optional): more images of ``x``'s shape to split into (R, L) in the
            same Decom-Net call (one forward per step, as DistributedDataParallel requires).

    Returns:
        R2RComponents, or ``(R2RComponents, (R, L) of also_decompose)`` when it is given.
    """
    if upto not in UPTO:
        raise ValueError(f"upto must be one of {', '.join(UPTO)}; got {upto!r}")
    images = x if also_decompose is None else torch.cat((x, also_decompose))
    padded, size = pad_to_multiple(images, UNET_MULTIPLE)
    R_all, L_all = decom(padded)
    R, L = R_all[:len(x)], L_all[:len(x)]
    R_denoised = I_delta = enhanced = None
    if upto != 'R':
        R_denoised = denoise(L, R)
    if upto == 'enhanced':
        I_delta = relight(L, R_denoised)
        enhanced = R_denoised * I_delta
    out = R2RComponents(*(None if t is None else crop_to(t, size) for t in (R, L, R_denoised, I_delta, enhanced)))
    if also_decompose is None:
        return out
    return out, (crop_to(R_all[len(x):], size), crop_to(L_all[len(x):], size))


@register_as(ARCH_REGISTRY)
class R2RNet(nn.Module):
    """The whole R2RNet pipeline; ``forward(x)`` returns the enhanced image.

    Sub-modules ``decom``, ``denoise`` and ``relight``. Any input size (the image is
    replicate-padded to a multiple of 8 once and every output cropped back), any float dtype,
    CPU or CUDA; images of a batch are processed independently (except with
    ``fft_mode: batch``).

    Args:
        channel (int): feature width of all three networks (64 in the published model).
        fft_mode (str): Relight-Net's FFT layout, ``'chw'`` (default), ``'hw'`` or ``'batch'``
            (the published code's whole-batch transform, see :class:`R2RRelightNet`).
        complex_conv (str): how Relight-Net computes its complex convolutions, ``'fused'``
            (default) or ``'published'`` (complexPyTorch's four real convolutions, see
            :class:`R2RRelightNet`); the state dict is the same either way.
    """

    llie_arch = True  # listed by the benchmark among the low-light enhancement archs

    def __init__(self, channel=64, fft_mode='chw', complex_conv='fused'):
        super().__init__()
        channel = check_int(channel, NETWORK_CHANNEL)
        fft_mode = check_choice(fft_mode, sorted(FFT_DIMS), 'network_g: fft_mode')
        complex_conv = check_choice(complex_conv, COMPLEX_CONV, 'network_g: complex_conv')
        self.decom = R2RDecomNet(channel)
        self.denoise = R2RDenoiseNet(channel)
        self.relight = R2RRelightNet(channel, fft_mode, complex_conv)

    def components(self, x, upto='enhanced'):
        """Run the stages and return every intermediate as :class:`R2RComponents`.

        Args:
            x (Tensor): ``[B, 3, H, W]`` RGB in [0, 1], any size.
            upto (str): stop after ``'R'`` (Decom-Net), ``'R_denoised'`` (Denoise-Net) or
                ``'enhanced'`` (everything); fields not computed are None.
        """
        return run_stages(self.decom, self.denoise, self.relight, x, upto)

    def forward(self, x):
        return self.components(x).enhanced
