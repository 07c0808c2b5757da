"""``pad_to: N``: run a network that needs H and W to be multiples of N on any image size.

The input is padded at the bottom and the right to the next multiple of N (``replicate``:
the edge pixels repeated; ``reflect``: mirrored without repeating the edge), the network runs,
and its output is cropped back to the input's size. Quality and cost are measured through the
wrapper, so both include the padding.
"""
import torch
import torch.nn.functional as F


def padding_for(size, multiple):
    """Pixels to add to ``size`` to reach a multiple of ``multiple``."""
    return (-size) % multiple


class PaddedNetwork(torch.nn.Module):
    """``net`` behind a pad-to-a-multiple and crop-back step.

    Args:
        net (nn.Module): the network, ``net(x) -> image of x's size``.
        multiple (int): H and W are padded to a multiple of it.
        mode (str): ``replicate`` or ``reflect``.
    """

    def __init__(self, net, multiple, mode='replicate'):
        super().__init__()
        self.net, self.multiple, self.mode = net, multiple, mode

    def forward(self, x):
        height, width = x.shape[-2:]
        pad_h, pad_w = padding_for(height, self.multiple), padding_for(width, self.multiple)
        if not pad_h and not pad_w:
            return self.net(x)
        if self.mode == 'reflect' and (pad_h >= height or pad_w >= width):
            raise ValueError(f'pad_mode: reflect cannot pad a {width}x{height} (WxH) image to a multiple of '
                             f'{self.multiple} (the padding must be smaller than the side); use replicate')
        out = self.net(F.pad(x, (0, pad_w, 0, pad_h), mode=self.mode))
        return out[..., :height, :width]
