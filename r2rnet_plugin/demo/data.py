"""The demo's data: low/normal-light pairs synthesised from scikit-image's bundled photos.

The photos ship inside scikit-image (nothing is downloaded). Training and validation are split
by source photo, so the validation scenes are never seen in training.
"""
import os

import cv2
import numpy as np

from r2rnet_plugin.demo.synthesis import synthesize_low_light

TRAIN_PHOTOS = ('astronaut', 'coffee', 'rocket', 'motorcycle', 'immunohistochemistry', 'retina')
VAL_PHOTOS = ('chelsea', 'colorwheel')


def load_photo(name):
    """An RGB uint8 photo bundled with scikit-image (``motorcycle``: the left stereo view)."""
    try:
        from skimage import data
    except ImportError:
        raise ImportError('the demo builds its data from the photos bundled with scikit-image: '
                          "pip install 'r2rnet_plugin[demo]' (or scikit-image)") from None
    if name == 'motorcycle':
        return data.stereo_motorcycle()[0]
    return getattr(data, name)()


def fit_size(image, max_side):
    """Downscale so the longer side is at most ``max_side`` (area interpolation); sides even."""
    h, w = image.shape[:2]
    scale = min(1.0, max_side / max(h, w))
    size = (max(2, int(w * scale) // 2 * 2), max(2, int(h * scale) // 2 * 2))
    return cv2.resize(image, size, interpolation=cv2.INTER_AREA) if size != (w, h) else image


def write_split(root, photos, versions, max_side, seed):
    """Write ``root/{low,high}/<photo>_<k>.png``: ``versions`` low-light versions of each photo."""
    rng = np.random.default_rng(seed)
    for sub in ('low', 'high'):
        os.makedirs(os.path.join(root, sub), exist_ok=True)
    for name in photos:
        high = fit_size(load_photo(name), max_side)
        for k in range(versions):
            stem = f'{name}_{k}'
            cv2.imwrite(os.path.join(root, 'high', f'{stem}.png'), high[..., ::-1])
            cv2.imwrite(os.path.join(root, 'low', f'{stem}.png'), synthesize_low_light(high, rng)[..., ::-1])


def build_demo_data(root, train_photos=TRAIN_PHOTOS, val_photos=VAL_PHOTOS, versions=(4, 1),
                    max_side=(384, 256), seed=0):
    """Training and validation pairs in LOL layout under ``root/train`` and ``root/val``.

    Args:
        versions: low-light versions per photo, (train, val).
        max_side: longest side of the photos, (train, val).
    """
    write_split(os.path.join(root, 'train'), train_photos, versions[0], max_side[0], seed)
    write_split(os.path.join(root, 'val'), val_photos, versions[1], max_side[1], seed + 1)
