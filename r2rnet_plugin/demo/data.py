"""The demo's data: low/normal-light pairs synthesised from scikit-image's bundled photos.

The photos ship inside scikit-image (nothing is downloaded). Training and validation are split
by source photo, so the validation scenes are never seen in training.
"""
import os

import cv2
import numpy as np

from r2rnet_plugin.demo.synthesis import synthesize_low_light

TRAIN_PHOTOS = ('astronaut', 'coffee', 'rocket', 'motorcycle', 'immunohistochemistry', 'retina')
VAL_PHOTOS = ('chelsea', 'colorwheel', 'camera')


def load_photo(name):
    """An RGB uint8 photo bundled with scikit-image (``motorcycle``: the left stereo view; a grey
    photo such as ``camera`` is repeated over the three channels)."""
    try:
        from skimage import data
    except ImportError:
        raise ImportError('the demo builds its data from the photos bundled with scikit-image: '
                          "pip install 'r2rnet_plugin[demo]' (or scikit-image)") from None
    photo = data.stereo_motorcycle()[0] if name == 'motorcycle' else getattr(data, name)()
    return np.repeat(photo[..., None], 3, axis=2) if photo.ndim == 2 else photo


def fit_size(image, max_side):
    """Downscale so the longer side is at most ``max_side`` (area interpolation); sides even."""
    h, w = image.shape[:2]
    scale = min(1.0, max_side / max(h, w))
    size = (max(2, int(w * scale) // 2 * 2), max(2, int(h * scale) // 2 * 2))
    return cv2.resize(image, size, interpolation=cv2.INTER_AREA) if size != (w, h) else image


def write_split(root, photos, versions, max_side, rng):
    """Write ``root/{low,high}/<photo>_<k>.png``: ``versions`` low-light versions of each photo."""
    for sub in ('low', 'high'):
        os.makedirs(os.path.join(root, sub), exist_ok=True)
    for name in photos:
        high = fit_size(load_photo(name), max_side)
        for k in range(versions):
            stem = f'{name}_{k}'
            cv2.imwrite(os.path.join(root, 'high', f'{stem}.png'), high[..., ::-1])
            cv2.imwrite(os.path.join(root, 'low', f'{stem}.png'), synthesize_low_light(high, rng)[..., ::-1])


def build_demo_data(root,
                    train_photos=TRAIN_PHOTOS,
                    val_photos=VAL_PHOTOS,
                    versions=(4, 2),
                    max_side=(384, 256),
                    seed=0):
    """Training and validation pairs in LOL layout under ``root/train`` and ``root/val``.

    Args:
        versions: low-light versions per photo, (train, val).
        max_side: longest side of the photos, (train, val).
        seed: seeds the degradations; each split draws from its own stream of it.
    """
    write_split(os.path.join(root, 'train'), train_photos, versions[0], max_side[0], np.random.default_rng((seed, 0)))
    write_split(os.path.join(root, 'val'), val_photos, versions[1], max_side[1], np.random.default_rng((seed, 1)))
