"""Run R2RNet on one RGB image: device, precision, optional tiling, every component back as arrays."""
import numpy as np
import torch

from r2rnet_plugin.archs.r2r_unet import UNET_MULTIPLE
from r2rnet_plugin.archs.r2rnet_arch import R2RComponents
from r2rnet_plugin.inference.tiling import run_tiled
from r2rnet_plugin.utils.torch_helpers import PRECISION_DTYPES

PRECISIONS = PRECISION_DTYPES
COMPONENTS = ('R', 'L', 'R_denoised', 'I_delta')  # besides 'enhanced'
# Smallest tile: R2RNet pads to a multiple of 8 and its U-Nets halve the image three times;
# below 4 x 8 pixels their bottom level (3x3 and dilated convolutions) would see mostly padding.
MIN_TILE = 4 * UNET_MULTIPLE


class NonFiniteOutputError(RuntimeError):
    """The network produced NaN or infinite values (e.g. weights that overflow in this precision)."""


class Enhancer:
    """Enhance RGB images with an R2RNet.

    Args:
        model (R2RNet): the network (moved to ``device`` and ``precision`` and set to eval mode here).
        device (torch.device): where the network runs.
        precision (str): ``'fp32'``, ``'bf16'`` or ``'fp16'``.
        tile (int, optional): process windows of at most ``tile`` x ``tile`` pixels (bounded
            memory; results differ from a whole-image pass, see docs/enhance.md, tiling).
        tile_overlap (int): overlap of neighbouring tiles, blended with a cosine ramp.
        channels_last (bool, optional): run in channels-last memory format (faster convolutions
            on CUDA, where it is the default; on the CPU the Winograd path wants NCHW).
    """

    def __init__(self,
                 model,
                 device=torch.device('cpu'),
                 precision='fp32',
                 tile=None,
                 tile_overlap=32,
                 channels_last=None):
        if precision not in PRECISIONS:
            raise ValueError(f'precision must be one of {sorted(PRECISIONS)}, got {precision!r}')
        if tile is not None and tile <= tile_overlap:
            raise ValueError(f'--tile ({tile}) must be larger than --tile-overlap ({tile_overlap})')
        if tile is not None and tile < MIN_TILE:
            raise ValueError(f'--tile ({tile}) must be at least {MIN_TILE}')
        self.device, self.dtype = device, PRECISIONS[precision]
        self.memory_format = (
            torch.channels_last if
            (device.type == 'cuda' if channels_last is None else channels_last) else torch.contiguous_format)
        self.model = model.to(device=device, dtype=self.dtype, memory_format=self.memory_format).eval()
        self.tile, self.tile_overlap = tile, tile_overlap
        self.channel = model.decom.in_conv.out_channels  # the network's width, for memory estimates

    def _components(self, x, with_components):
        x = x.to(device=self.device, dtype=self.dtype).contiguous(memory_format=self.memory_format)
        out = self.model.components(x)
        return out if with_components else R2RComponents(None, None, None, None, out.enhanced)

    @torch.inference_mode()
    def __call__(self, rgb, with_components=False, on_tile=None):
        """Enhance one image.

        Args:
            rgb (ndarray): ``(H, W, 3)`` float32 RGB in [0, 1].
            with_components (bool): also return R, L, R_denoised and I_delta.
            on_tile (callable, optional): called after each tile (progress); tiled runs only.

        Returns:
            dict[str, ndarray]: ``'enhanced'`` (and the components) as ``(H, W, C)`` float32
            arrays, not clamped.

        Raises:
            NonFiniteOutputError: some output holds NaN or infinite values.
        """
        x = torch.from_numpy(np.ascontiguousarray(rgb)).permute(2, 0, 1)[None]
        if self.tile is None:
            outputs = [None if t is None else t.float().cpu() for t in self._components(x, with_components)]
        else:
            outputs = run_tiled(lambda t: self._components(t, with_components), x, self.tile, self.tile_overlap,
                                on_tile)
        for name, t in zip(R2RComponents._fields, outputs):
            if t is not None and not torch.isfinite(t).all():
                bad = t.numel() - int(torch.isfinite(t).sum())
                raise NonFiniteOutputError(f'the network produced {bad} non-finite values (NaN or infinite) in '
                                           f'{name}; nothing written (check the weights and --precision)')
        return {name: t[0].permute(1, 2, 0).numpy() for name, t in zip(R2RComponents._fields, outputs) if t is not None}
