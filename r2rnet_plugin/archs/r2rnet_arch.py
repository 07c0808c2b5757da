"""R2RNet: Decom-Net, Denoise-Net and Relight-Net chained; output = R_denoised * I_delta."""
from typing import NamedTuple

import torch
from torch import nn

from basicsr.utils.registry import ARCH_REGISTRY
from r2rnet_plugin.archs.r2r_blocks import crop_to, pad_to_multiple
from r2rnet_plugin.archs.r2r_decom_arch import R2RDecomNet
from r2rnet_plugin.archs.r2r_denoise_arch import R2RDenoiseNet
from r2rnet_plugin.archs.r2r_relight_arch import R2RRelightNet
from r2rnet_plugin.archs.r2r_unet import UNET_MULTIPLE


class R2RComponents(NamedTuple):
    """Every intermediate of one R2RNet pass (all ``[B, C, H, W]``)."""
    R: torch.Tensor  # reflectance of the input, 3 channels
    L: torch.Tensor  # illumination of the input, 1 channel
    R_denoised: torch.Tensor  # 3 channels
    I_delta: torch.Tensor  # relit illumination, 1 channel
    enhanced: torch.Tensor  # R_denoised * I_delta, 3 channels


@ARCH_REGISTRY.register()
class R2RNet(nn.Module):
    """The whole R2RNet pipeline; ``forward(x)`` returns the enhanced image.

    Sub-modules ``decom``, ``denoise`` and ``relight``. Any input size (the image is
    replicate-padded to a multiple of 8 once and every output cropped back), any float dtype,
    CPU or CUDA; images of a batch are processed independently.

    Args:
        channel (int): feature width of all three networks (64 in the published model).
        fft_mode (str): Relight-Net's FFT layout, ``'chw'`` (default) or ``'hw'``.
    """

    def __init__(self, channel=64, fft_mode='chw'):
        super().__init__()
        self.decom = R2RDecomNet(channel)
        self.denoise = R2RDenoiseNet(channel)
        self.relight = R2RRelightNet(channel, fft_mode)

    def components(self, x, upto='enhanced'):
        """Run the stages and return every intermediate as :class:`R2RComponents`.

        Args:
            x (Tensor): ``[B, 3, H, W]`` RGB in [0, 1], any size.
            upto (str): stop after ``'R'`` (Decom-Net), ``'R_denoised'`` (Denoise-Net) or
                ``'enhanced'`` (everything); fields not computed are None.
        """
        if upto not in ('R', 'R_denoised', 'enhanced'):
            raise ValueError(f"upto must be 'R', 'R_denoised' or 'enhanced', got {upto!r}")
        padded, size = pad_to_multiple(x, UNET_MULTIPLE)
        R, L = self.decom(padded)
        R_denoised = I_delta = enhanced = None
        if upto != 'R':
            R_denoised = self.denoise(L, R)
        if upto == 'enhanced':
            I_delta = self.relight(L, R_denoised)
            enhanced = R_denoised * I_delta
        return R2RComponents(*(None if t is None else crop_to(t, size)
                               for t in (R, L, R_denoised, I_delta, enhanced)))

    def forward(self, x):
        return self.components(x).enhanced
