"""The three-level U-Net shared by Denoise-Net and Relight-Net's contrast-enhancement branch."""
import torch
import torch.nn.functional as F
from torch import nn

from r2rnet_plugin.archs.r2r_blocks import bottleneck_chain, conv1x1, conv3x3, leaky_relu

UNET_MULTIPLE = 8  # three 2x downsamplings


class BilinearUp(nn.Module):
    """2x bilinear upsampling (align_corners=True), LeakyReLU, then a 1x1 conv halving channels."""

    def __init__(self, in_ch, out_ch):
        super().__init__()
        self.reduce = conv1x1(in_ch, out_ch)

    def forward(self, x):
        x = leaky_relu(F.interpolate(x, scale_factor=2, mode='bilinear', align_corners=True))
        return self.reduce(x)


class R2RUNet(nn.Module):
    """Dilated stem, three downsampling levels, two decoding levels with skips, fused output.

    Every level runs :func:`bottleneck_chain`; a level's input is concatenated with its output
    before the next 2x2 stride-2 downsampling (or upsampling).

    Args:
        in_ch (int): input channels.
        channel (int): base width.
        upsampling (str): ``'deconv'`` (2x2 transposed conv, Denoise-Net) or ``'bilinear'``
            (bilinear 2x then 1x1 conv, the contrast branch).

    Returns (from ``forward``): the fused full-resolution features and the three decoder
    outputs at 1/4, 1/2 and full resolution.
    """

    def __init__(self, in_ch=4, channel=64, upsampling='deconv'):
        super().__init__()
        c = channel
        self.stem = nn.ModuleList([conv3x3(in_ch, c, dilation=2), conv3x3(c, c, dilation=2)])
        self.encoders = nn.ModuleList(bottleneck_chain(c, c) for _ in range(4))
        self.downs = nn.ModuleList(nn.Conv2d(2 * c, c, 2, stride=2) for _ in range(3))
        self.decoders = nn.ModuleList(bottleneck_chain(2 * c, c) for _ in range(2))
        if upsampling == 'deconv':
            self.ups = nn.ModuleList(nn.ConvTranspose2d(2 * c, c, 2, stride=2) for _ in range(3))
        elif upsampling == 'bilinear':
            self.ups = nn.ModuleList(BilinearUp(2 * c, c) for _ in range(3))
        else:
            raise ValueError(f"upsampling must be 'deconv' or 'bilinear', got {upsampling!r}")
        self.fuse = conv3x3(2 * c, c)

    def forward(self, x):
        for conv in self.stem:
            x = leaky_relu(conv(x))
        skips = []  # encoder outputs at full, 1/2 and 1/4 resolution
        level_in = x
        for encoder, down in zip(self.encoders[:3], self.downs):
            level_out = encoder(level_in)
            skips.append(level_out)
            level_in = leaky_relu(down(torch.cat((level_in, level_out), dim=1)))
        bottom = self.encoders[3](level_in)

        ups = []
        up = leaky_relu(self.ups[0](torch.cat((level_in, bottom), dim=1)))
        ups.append(up)
        for decoder, up_layer, skip in zip(self.decoders, self.ups[1:], (skips[2], skips[1])):
            decoded = decoder(torch.cat((up, skip), dim=1))
            up = leaky_relu(up_layer(torch.cat((up, decoded), dim=1)))
            ups.append(up)
        fused = leaky_relu(self.fuse(torch.cat((skips[0], up), dim=1)))
        return fused, ups
