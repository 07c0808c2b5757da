"""Image quality of one enhanced image, through BasicSR's metric registry (``calculate_metric``).

Full-reference: PSNR and SSIM on RGB and on Y (BT.601, as BasicSR computes it), each also in
its *GT-mean* variant, used by LLIE papers (LLFlow, Retinexformer, ...) to factor out the
overall brightness, which a low-light enhancer cannot know: the output is scaled so that its
mean grey level equals the ground truth's, then clipped, before the metric. No-reference:
BasicSR's NIQE, which needs at least two 96x96 blocks (smaller images get NaN, shown as n/a,
and a note), and LOE (:mod:`.loe`) between the low-light input and the output. Images without
ground truth get the no-reference measures only.
"""
import math
import warnings
from collections import OrderedDict

import numpy as np

from basicsr.metrics import calculate_metric
from basicsr.utils import tensor2img
from r2rnet_plugin.comparison.loe import lightness_order_error

# name -> (BasicSR metric, on the Y channel, GT-mean scaled)
FULL_REFERENCE = OrderedDict([
    ('psnr', ('calculate_psnr', False, False)),
    ('ssim', ('calculate_ssim', False, False)),
    ('psnr_y', ('calculate_psnr', True, False)),
    ('ssim_y', ('calculate_ssim', True, False)),
    ('psnr_gtmean', ('calculate_psnr', False, True)),
    ('ssim_gtmean', ('calculate_ssim', False, True)),
    ('psnr_y_gtmean', ('calculate_psnr', True, True)),
    ('ssim_y_gtmean', ('calculate_ssim', True, True)),
])
NIQE_BLOCK = 96  # BasicSR's NIQE block side
NO_REFERENCE_NAMES = ('niqe', 'loe')
METRIC_NAMES = tuple(FULL_REFERENCE) + NO_REFERENCE_NAMES
LOWER_IS_BETTER = frozenset(NO_REFERENCE_NAMES)
GREY_WEIGHTS = (0.299, 0.587, 0.114)  # as cv2's RGB2GRAY


def grey_mean(img):
    """Mean grey level of a ``[3, H, W]`` RGB tensor."""
    return sum(w * img[c].mean() for c, w in enumerate(GREY_WEIGHTS))


def gt_mean_scaled(output, gt):
    """``output`` times ``grey_mean(gt) / grey_mean(output)``, clipped to [0, 1]."""
    mean = grey_mean(output)
    if mean <= 0:
        return output
    return (output * (grey_mean(gt) / mean)).clamp(0, 1)


def niqe_block_count(height, width, crop_border=0):
    return ((height - 2 * crop_border) // NIQE_BLOCK) * ((width - 2 * crop_border) // NIQE_BLOCK)


def niqe_score(img, crop_border=0):
    """BasicSR's NIQE of a uint8 BGR image; returns ``(value, note)``, note None when it worked."""
    h, w = img.shape[:2]
    if niqe_block_count(h, w, crop_border) < 2:
        return math.nan, (f'NIQE n/a: it needs at least two {NIQE_BLOCK}x{NIQE_BLOCK} blocks; '
                          f'{w}x{h} images (WxH) have fewer')
    try:
        with warnings.catch_warnings():  # flat images: NumPy warns on the way to a NaN or an error
            warnings.simplefilter('ignore', RuntimeWarning)
            value = float(calculate_metric({'img': img}, {'type': 'calculate_niqe', 'crop_border': crop_border}))
    except (ValueError, ArithmeticError, np.linalg.LinAlgError, RuntimeError) as err:
        return math.nan, f'NIQE failed ({type(err).__name__}: {err}); reported as NaN'
    return value, None if math.isfinite(value) else 'NIQE gave a non-finite value'


def metric_names(paired):
    """The measures of a dataset with (``paired``) or without ground truth."""
    return METRIC_NAMES if paired else NO_REFERENCE_NAMES


def image_quality(output, gt=None, crop_border=0, niqe=True, low=None, loe_side=None):
    """Every measure of :func:`metric_names` for one image.

    Args:
        output (Tensor): ``[3, H, W]`` float RGB in [0, 1], the enhanced image.
        gt (Tensor, optional): the normal-light image, same shape; None: no-reference measures only.
        crop_border (int): pixels left out at each border (PSNR, SSIM, NIQE).
        niqe (bool): compute NIQE (else NaN).
        low (Tensor, optional): the low-light input, for LOE.
        loe_side (int, optional): LOE's downsampled side (see :mod:`.loe`); None: no LOE.

    Returns:
        tuple: ``(values, notes)``: ``{measure: float}`` and a list of remarks (NaN reasons).
    """
    output = output.float().clamp(0, 1)
    out_img = tensor2img(output)
    values, notes = OrderedDict(), []
    if gt is not None:
        gt = gt.float().clamp(0, 1)
        images = {False: out_img, True: tensor2img(gt_mean_scaled(output, gt))}
        gt_img = tensor2img(gt)
        for name, (metric, y_channel, gt_mean) in FULL_REFERENCE.items():
            metric_opt = {'type': metric, 'crop_border': crop_border, 'test_y_channel': y_channel}
            values[name] = float(calculate_metric({'img': images[gt_mean], 'img2': gt_img}, metric_opt))
    if niqe:
        values['niqe'], note = niqe_score(out_img, crop_border)
        notes += [note] if note else []
    else:
        values['niqe'] = math.nan
        notes.append('NIQE turned off (metrics: niqe: false)')
    values['loe'] = math.nan
    if low is None or loe_side is None:
        notes.append('LOE turned off (metrics: loe: false)')
    else:
        values['loe'] = lightness_order_error(tensor2img(low.float().clamp(0, 1)), out_img, loe_side)
    return values, notes
