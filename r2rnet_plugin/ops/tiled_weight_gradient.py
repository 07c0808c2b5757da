"""Weight gradient of a size-keeping 3x3 convolution as an NNPACK FFT convolution of tiles.

The weight gradient ``dW[o, i, u, v] = sum over n, y, x of dY[n, o, y, x] * X[n, i, y + u, x + v]``
(``X`` padded by one pixel) is, per tile of ``TILE x TILE`` output-gradient pixels, a valid
correlation of the ``(TILE + 2)``-square input window with that gradient tile, giving 3x3 values;
summed over tiles and images. Stacking the tiles as channels, it becomes one ordinary
convolution: ``I`` input windows of ``K = N * tiles`` channels, ``O`` kernels of ``K x TILE x TILE``,
a 3x3 result per (input channel, output channel). NNPACK runs that convolution with 16x16 FFTs
(a 14x14 kernel on a 16x16 window), in about 40 % of the time of oneDNN's weight gradient for
R2RNet's widest convolutions on 96x96 crops (measured ratios in :mod:`winograd_training`).
Maps that are not multiples of the tile are padded with zero gradient. Results differ from
``aten.convolution_backward``'s by rounding (about 5e-6 of the largest value).
"""
import torch
import torch.nn.functional as F

TILE = 14  # the kernel of NNPACK's 16x16 FFT convolution whose output is 3x3
WINDOW = TILE + 2


def _input_windows(x, replicate, tiles_h, tiles_w):
    """``[I, N * tiles, WINDOW, WINDOW]``: the padded input window of every tile."""
    n, c, h, w = x.shape
    extra_h, extra_w = tiles_h * TILE - h, tiles_w * TILE - w
    # One pad for the convolution's border and the tiles' overhang (whose gradient is zero).
    padded = F.pad(x, (1, 1 + extra_w, 1, 1 + extra_h), mode='replicate' if replicate else 'constant')
    windows = padded.unfold(2, WINDOW, TILE).unfold(3, WINDOW, TILE)  # [N, I, th, tw, WINDOW, WINDOW]
    return windows.transpose(0, 1).reshape(c, n * tiles_h * tiles_w, WINDOW, WINDOW)


def _gradient_tiles(grad_out, tiles_h, tiles_w):
    """``[O, N * tiles, TILE, TILE]``: the output gradient cut into tiles, zero past its edges."""
    n, o, h, w = grad_out.shape
    tiles = grad_out.new_zeros(o, n, tiles_h, tiles_w, TILE, TILE)
    image_view = tiles.permute(1, 0, 2, 4, 3, 5)  # [N, O, th, TILE, tw, TILE]
    full_h, full_w = h // TILE, w // TILE
    rest_h, rest_w = h - full_h * TILE, w - full_w * TILE
    top, left = full_h * TILE, full_w * TILE
    image_view[:, :, :full_h, :, :full_w] = grad_out[:, :, :top, :left].view(n, o, full_h, TILE, full_w, TILE)
    if rest_h:
        image_view[:, :, full_h, :rest_h, :full_w] = grad_out[:, :, top:, :left].view(n, o, rest_h, full_w, TILE)
    if rest_w:
        image_view[:, :, :full_h, :, full_w, :rest_w] = grad_out[:, :, :top, left:].view(n, o, full_h, TILE, rest_w)
    if rest_h and rest_w:
        image_view[:, :, full_h, :rest_h, full_w, :rest_w] = grad_out[:, :, top:, left:]
    return tiles.view(o, n * tiles_h * tiles_w, TILE, TILE)


# Images per NNPACK call are limited so that the tiled copies and NNPACK's transformed copies
# (each about the size of the input or of the output gradient) stay near 512 MB apiece.
_MAX_CHUNK_ELEMENTS = 2**27


def _tiled(x, grad_out, replicate, tiles_h, tiles_w):
    windows = _input_windows(x, replicate, tiles_h, tiles_w)
    kernels = _gradient_tiles(grad_out, tiles_h, tiles_w)
    return torch._nnpack_spatial_convolution(windows, kernels, None, [0, 0])  # [I, O, 3, 3]


def weight_gradient_3x3(x, grad_out, replicate):
    """``dW [O, I, 3, 3]`` of ``y = conv3x3(pad(x, 1), W)`` (replicate or zero padding) given ``dy``.

    ``x`` and ``grad_out`` are float32 CPU tensors of the same spatial size; NNPACK must work.
    Large batches are done a few images at a time (see ``_MAX_CHUNK_ELEMENTS``).
    """
    n, h, w = x.shape[0], x.shape[-2], x.shape[-1]
    tiles_h, tiles_w = -(-h // TILE), -(-w // TILE)
    per_image = tiles_h * tiles_w * WINDOW * WINDOW * max(x.shape[1], grad_out.shape[1])
    chunk = max(1, _MAX_CHUNK_ELEMENTS // per_image)
    grad_out = grad_out.contiguous()
    total = None
    for start in range(0, n, chunk):
        part = _tiled(x[start:start + chunk], grad_out[start:start + chunk], replicate, tiles_h, tiles_w)
        total = part if total is None else total.add_(part)
    return total.transpose(0, 1).contiguous()
