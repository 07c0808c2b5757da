"""LOE, the lightness-order error of Wang et al. 2013 (NPE, IEEE TIP 22(9)): lower is better.

How it is computed here (published implementations differ in the downsampling; this is ours):

1. Lightness of input and output: ``L = max(R, G, B)`` of the 8-bit images (0..255).
2. Downsampling, the same for both: every ``step``-th pixel in each direction (no averaging, so
   no lightness value is invented), ``step = max(1, min(H, W) // side)`` with ``side = 50`` by
   default: the smaller side keeps between ``side`` and ``2 * side - 1`` pixels.
3. For every pixel ``x`` of the downsampled copy: the number of pixels ``y`` for which
   ``L_in(x) >= L_in(y)`` and ``L_out(x) >= L_out(y)`` disagree (ordered pairs, ``x`` itself
   included, where they always agree).
4. LOE: the mean of that count over the pixels. 0 when the output keeps the input's lightness
   order (any increasing tone curve); at most ``n - 1`` for ``n`` pixels.
"""
import numpy as np

DEFAULT_SIDE = 50
_CHUNK = 512  # pixels compared against all others at once (bounds the memory to CHUNK x n)


def lightness(img):
    """``max(R, G, B)`` of an ``(H, W, 3)`` image, as int32."""
    return np.asarray(img).max(axis=2).astype(np.int32)


def downsample(plane, side=DEFAULT_SIDE):
    """Every ``step``-th pixel of ``plane`` in both directions, ``step = max(1, min(H, W) // side)``."""
    step = max(1, min(plane.shape[:2]) // side)
    return plane[::step, ::step]


def lightness_order_error(low, enhanced, side=DEFAULT_SIDE):
    """LOE between the input ``low`` and the output ``enhanced`` (``(H, W, 3)`` uint8, same size).

    Raises:
        ValueError: the two images differ in size.
    """
    if np.shape(low) != np.shape(enhanced):
        raise ValueError(f'LOE needs images of one size, got {np.shape(low)} and {np.shape(enhanced)}')
    before = downsample(lightness(low), side).ravel()
    after = downsample(lightness(enhanced), side).ravel()
    disagreements = 0
    for start in range(0, before.size, _CHUNK):
        order_before = before[start:start + _CHUNK, None] >= before[None, :]
        order_after = after[start:start + _CHUNK, None] >= after[None, :]
        disagreements += int(np.count_nonzero(order_before != order_after))
    return disagreements / before.size
