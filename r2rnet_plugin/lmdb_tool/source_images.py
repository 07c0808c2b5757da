"""Read a source image file into the exact array an LMDB stores for it, or say why it cannot be.

An LMDB stores each image as a lossless PNG of the array that ``cv2.imdecode(...,
IMREAD_UNCHANGED)`` gives, as :mod:`r2rnet_plugin.data.image_io` decodes it: 8- and 16-bit
depth, grey, BGR and BGRA are kept as they are (the dataset converts at read time), so the LMDB
copy reads back as the same training array as the file. What PNG cannot hold losslessly (float
pixels) is refused.

JPEG and PNG files are first checked for completeness
(:func:`r2rnet_plugin.data.image_integrity.find_truncation`, re-exported here); other formats
are accepted when OpenCV decodes them.
"""
import cv2
import numpy as np

from r2rnet_plugin.data.image_integrity import find_truncation  # noqa: F401  (re-exported)
from r2rnet_plugin.data.image_io import ImageDecodeError

STORABLE_DTYPES = (np.dtype(np.uint8), np.dtype(np.uint16))


def read_source_image(path):
    """Read, check and decode one source image file, as it is to be stored.

    Args:
        path (str): Image file.

    Returns:
        ndarray: (H, W), (H, W, 3) or (H, W, 4) array of uint8 or uint16, OpenCV's BGR(A) order.

    Raises:
        ImageDecodeError: The file is empty, truncated, corrupt, not an image, or holds pixels
            that a PNG cannot store losslessly; the message names ``path``.
        OSError: The file cannot be read.
    """
    with open(path, 'rb') as image_file:
        content = image_file.read()
    return decode_storable(content, path)


def decode_storable(content, name):
    """Check and decode encoded image bytes into the array to store (see :func:`read_source_image`).

    Args:
        content (bytes): The encoded image.
        name (str): File path or LMDB key, used in error messages.

    Returns:
        ndarray: The decoded array, unchanged but for a grey + alpha image, which becomes BGRA.

    Raises:
        ImageDecodeError: As for :func:`read_source_image`.
    """
    if not content:
        raise ImageDecodeError(f'{name}: empty file (0 bytes).')
    problem = find_truncation(content)
    if problem:
        raise ImageDecodeError(f'{name}: {problem}.')
    try:
        img = cv2.imdecode(np.frombuffer(content, np.uint8), cv2.IMREAD_UNCHANGED)
    except cv2.error as error:
        raise ImageDecodeError(f'{name}: cannot decode ({error}).') from None
    if img is None:
        raise ImageDecodeError(f'{name}: not a supported image file, or corrupt '
                               f'({len(content)} bytes).')
    return _storable_layout(img, name)


def _storable_layout(img, name):
    """Refuse what a PNG cannot hold losslessly; grey + alpha (2 channels) becomes BGRA."""
    if img.dtype not in STORABLE_DTYPES:
        raise ImageDecodeError(f'{name}: {img.dtype} pixels cannot be stored losslessly as PNG '
                               '(8- and 16-bit images only).')
    channels = img.shape[2] if img.ndim == 3 else 1
    if img.ndim not in (2, 3) or channels not in (1, 2, 3, 4):
        raise ImageDecodeError(f'{name}: unsupported image shape {img.shape}.')
    if channels == 2:  # OpenCV's PNG encoder takes 1, 3 or 4 channels
        return np.ascontiguousarray(img[:, :, [0, 0, 0, 1]])
    return img
