"""Training-time crop and flip/rotation, applied identically to every image of a pair.

The order and probabilities follow the R2RNet reference training loop: a random square crop,
then a vertical flip (p=0.5), a horizontal flip (p=0.5) and ``rot90`` by ``k`` in 1..4 (p=0.5).
Randomness comes from Python's ``random`` module, as in ``basicsr.data.transforms``, so
BasicSR's ``worker_init_fn`` seeding makes it reproducible.
"""
import random

import numpy as np


def paired_random_crop(imgs, size, name):
    """Crop the same random ``size`` x ``size`` window from each (H, W, C) image.

    Args:
        imgs (list[ndarray]): Images of equal height and width.
        size (int): Side of the square window.
        name (str): Names the images in the error message.

    Returns:
        list[ndarray]: The crops (views of the inputs).

    Raises:
        ValueError: The images are smaller than ``size``.
    """
    height, width = imgs[0].shape[:2]
    if height < size or width < size:
        raise ValueError(f'{name} is {height}x{width} (HxW), smaller than gt_size={size}: '
                         'lower gt_size or remove the image.')
    top = random.randint(0, height - size)
    left = random.randint(0, width - size)
    return [img[top:top + size, left:left + size] for img in imgs]


def random_flip_rot(imgs, use_flip=True, use_rot=True):
    """Flip and rotate all images the same random way (the R2RNet reference's augmentation).

    The four random draws are made whatever the options, so switching one off does not change
    the others' outcomes.

    Args:
        imgs (list[ndarray]): (H, W, C) images.
        use_flip (bool): Allow the vertical and horizontal flips.
        use_rot (bool): Allow the ``rot90`` by ``k`` in 1..4 (``k = 4`` leaves the image as is).

    Returns:
        list[ndarray]: C-contiguous augmented images.
    """
    vflip = random.random() < 0.5
    hflip = random.random() < 0.5
    turns = random.randint(1, 4)
    rotate = random.random() < 0.5
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
