"""Run an image-to-image function tile by tile, blending overlapping tiles smoothly.

Memory then grows with the tile size, not with the image: only one tile's activations exist at
a time, and the full-size results are accumulated in float32 on the CPU. Where tiles overlap,
each is weighted by a raised-cosine ramp that rises from ~0 at its inner edges to 1 over
``overlap`` pixels (not at the image border), and the weighted sum is normalised, so no seam
shows.
"""
import math

import torch


def tile_starts(length, tile, overlap):
    """Start offsets of windows of ``tile`` pixels covering ``length``, neighbours overlapping by >= ``overlap``.

    The windows are spread evenly; the first starts at 0 and the last ends at ``length``.
    """
    if tile <= overlap:
        raise ValueError(f'the tile ({tile}) must be larger than the overlap ({overlap})')
    if length <= tile:
        return [0]
    count = math.ceil((length - overlap) / (tile - overlap))
    return [round(i * (length - tile) / (count - 1)) for i in range(count)]


def edge_ramp(size, overlap, ramp_start, ramp_end):
    """1-D blending weights of a window: a raised cosine over ``overlap`` pixels at the ramped ends."""
    weight = torch.ones(size)
    ramp_len = min(overlap, size)
    if ramp_len == 0:
        return weight
    ramp = 0.5 - 0.5 * torch.cos(math.pi * (torch.arange(ramp_len) + 0.5) / ramp_len)
    if ramp_start:
        weight[:ramp_len] *= ramp
    if ramp_end:
        weight[size - ramp_len:] *= ramp.flip(0)
    return weight


def _window_weight(y, x, h, w, height, width, overlap):
    """``[h, w]`` weight of the window at (y, x); edges on the image border are not ramped."""
    wy = edge_ramp(h, overlap, y > 0, y + h < height)
    wx = edge_ramp(w, overlap, x > 0, x + w < width)
    return wy[:, None] * wx[None, :]


def windows(height, width, tile, overlap):
    """``(y, x, h, w)`` of every window, row by row."""
    return [(y, x, min(tile, height - y), min(tile, width - x)) for y in tile_starts(height, tile, overlap)
            for x in tile_starts(width, tile, overlap)]


def run_tiled(fn, image, tile, overlap, on_tile=None):
    """Apply ``fn`` to overlapping tiles of ``image`` and blend the results.

    Args:
        fn (callable): ``[1, C, h, w]`` tensor -> sequence of ``[1, C_k, h, w]`` tensors (any
            device and float dtype); ``None`` entries stay ``None``.
        image (Tensor): ``[1, C, H, W]`` input (the tiles are cut from it and given to ``fn`` as is).
        tile (int): window size in pixels (each tile is at most ``tile`` x ``tile``).
        overlap (int): minimum overlap of neighbouring tiles, also the length of the blending ramp.
        on_tile (callable, optional): called with no argument after each tile (progress).

    Returns:
        list[Tensor | None]: ``[1, C_k, H, W]`` float32 CPU tensors, one per output of ``fn``.
    """
    height, width = image.shape[-2:]
    sums, weight_sum = None, torch.zeros(1, 1, height, width)
    for y, x, h, w in windows(height, width, tile, overlap):
        outputs = fn(image[..., y:y + h, x:x + w])
        if sums is None:
            sums = [None if t is None else torch.zeros(1, t.shape[1], height, width) for t in outputs]
        weight = _window_weight(y, x, h, w, height, width, overlap)
        for total, out in zip(sums, outputs):
            if total is not None:
                total[..., y:y + h, x:x + w] += out.float().cpu() * weight
        weight_sum[..., y:y + h, x:x + w] += weight
        if on_tile is not None:
            on_tile()
    return [None if total is None else total.div_(weight_sum) for total in sums]
