"""Training-time crop and flip/rotation, applied identically to every image of a pair.

The order and probabilities follow the R2RNet reference training loop: a random square crop,
then a vertical flip (p=0.5), a horizontal flip (p=0.5) and ``rot90`` by ``k`` in 1..4 (p=0.5).
Randomness comes from ``rng``: by default Python's ``random`` module, as in
``basicsr.data.transforms``; in training through BasicSR, a ``random.Random`` seeded for the
sample (see :mod:`r2rnet_plugin.data.sample_seeds`), so a crop does not depend on the history of
the process that makes it.
"""
import random

import numpy as np

from r2rnet_plugin.data.bad_data import BadSampleError


def check_crop_size(shape, size, name):
    """Raise :class:`BadSampleError` naming ``name`` and ``gt_size`` if ``shape`` is smaller than ``size``."""
    height, width = shape[:2]
    if height < size or width < size:
        raise BadSampleError(f'{name} is {height}x{width} (HxW), smaller than gt_size={size}: '
                             'lower gt_size or remove the image.')


def paired_random_crop(imgs, size, name, rng=random):
    """Crop the same random ``size`` x ``size`` window from each (H, W, C) image.

    Args:
        imgs (list[ndarray]): Images of equal height and width.
        size (int): Side of the square window.
        name (str): Names the images in the error message.
        rng (random.Random | module): Source of the random window.

    Returns:
        list[ndarray]: The crops (views of the inputs).

    Raises:
        BadSampleError: The images are smaller than ``size`` (a ValueError).
    """
    check_crop_size(imgs[0].shape, size, name)
    height, width = imgs[0].shape[:2]
    top = rng.randint(0, height - size)
    left = rng.randint(0, width - size)
    return [img[top:top + size, left:left + size] for img in imgs]


def random_flip_rot(imgs, use_flip=True, use_rot=True, rng=random):
    """Flip and rotate all images the same random way (the R2RNet reference's augmentation).

    The four random draws are made whatever the options, so switching one off does not change
    the others' outcomes.

    Args:
        imgs (list[ndarray]): (H, W, C) images.
        use_flip (bool): Allow the vertical and horizontal flips.
        use_rot (bool): Allow the ``rot90`` by ``k`` in 1..4 (``k = 4`` leaves the image as is).
        rng (random.Random | module): Source of the random draws.

    Returns:
        list[ndarray]: C-contiguous augmented images.
    """
    vflip = rng.random() < 0.5
    hflip = rng.random() < 0.5
    turns = rng.randint(1, 4)
    rotate = rng.random() < 0.5
    out = []
    for img in imgs:
        if use_flip and vflip:
            img = np.flipud(img)
        if use_flip and hflip:
            img = np.fliplr(img)
        if use_rot and rotate:
            img = np.rot90(img, turns)
        out.append(np.ascontiguousarray(img))
    return out
