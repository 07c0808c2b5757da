"""Decode image bytes (from disk or LMDB) into float32 RGB arrays in [0, 1].

BasicSR's ``imfrombytes(content, float32=True)`` decodes with ``cv2.IMREAD_COLOR`` and divides
by 255: a 16-bit PNG is first cut to 8 bits, a JPEG is rotated by its EXIF orientation (while
``make_lmdb_from_imgs`` stores the unrotated pixels, so disk and LMDB could differ), and bytes
that do not decode end in ``AttributeError: 'NoneType' object has no attribute 'astype'``.
Here the bytes are decoded unchanged, then normalised, so the disk and LMDB copies of an image
give the same array, and an undecodable file raises :class:`ImageDecodeError` naming it. So do
a truncated JPEG or PNG (which OpenCV would fill with grey) and float pixels that are NaN or
infinite: both would train on wrong numbers without a word.
"""
import cv2
import numpy as np

from r2rnet_plugin.data.bad_data import BadSampleError
from r2rnet_plugin.data.image_integrity import find_truncation

# Divisor that maps each integer dtype OpenCV decodes onto [0, 1].
_DTYPE_MAX = {np.dtype(np.uint8): 255.0, np.dtype(np.uint16): 65535.0}


class ImageDecodeError(BadSampleError):
    """Raised when the bytes of an image cannot be turned into an RGB array."""


def decode_image(content, name):
    """Decode encoded image bytes into an RGB float32 array.

    Grey images become 3-channel, an alpha channel is dropped, 8- and 16-bit images are scaled
    to [0, 1] (float images are kept as they are). The EXIF orientation is ignored, as in
    ``basicsr.utils.lmdb_util.make_lmdb_from_imgs`` and in the R2RNet reference (PIL).

    Args:
        content (bytes | None): Encoded image (PNG, JPEG, BMP, ...). ``None`` (an LMDB key
            that has no value) is reported as an error.
        name (str): File path or LMDB key, used in error messages.

    Returns:
        ndarray: (H, W, 3) float32 array, RGB channel order.

    Raises:
        ImageDecodeError: The content is missing, empty, truncated, not an image, has an
            unsupported layout, or holds non-finite float pixels.
    """
    if content is None:
        raise ImageDecodeError(f'No image data for {name!r} (missing LMDB key?).')
    if not content:
        raise ImageDecodeError(f'Cannot decode image {name!r}: empty file (0 bytes).')
    problem = find_truncation(content)
    if problem:
        raise ImageDecodeError(f'Cannot decode image {name!r}: {problem}.')
    buffer = np.frombuffer(content, np.uint8)
    try:
        img = cv2.imdecode(buffer, cv2.IMREAD_UNCHANGED) if buffer.size else None
    except cv2.error as error:
        raise ImageDecodeError(f'Cannot decode image {name!r}: {error}') from None
    if img is None:
        raise ImageDecodeError(f'Cannot decode image {name!r} ({buffer.size} bytes): not a '
                               'supported image file or corrupt.')
    return _to_rgb_float(_to_three_channels(img, name), name)


def _to_three_channels(img, name):
    """BGR(A)/grey(+alpha) array of any dtype -> (H, W, 3) BGR array of the same dtype."""
    if img.ndim == 2:
        img = img[:, :, None]
    channels = img.shape[2] if img.ndim == 3 else 0
    if channels in (1, 2):  # grey, grey + alpha
        return np.repeat(img[:, :, :1], 3, axis=2)
    if channels in (3, 4):  # BGR, BGRA
        return img[:, :, :3]
    raise ImageDecodeError(f'Image {name!r} has an unsupported shape {img.shape}.')


def _to_rgb_float(img, name):
    """(H, W, 3) BGR array -> contiguous float32 RGB array in [0, 1]."""
    if img.dtype in _DTYPE_MAX:
        scaled = img.astype(np.float32) / np.float32(_DTYPE_MAX[img.dtype])
    elif img.dtype.kind == 'f':
        scaled = img.astype(np.float32)
        if not np.isfinite(scaled).all():
            raise ImageDecodeError(f'Image {name!r} has NaN or infinite pixel values.')
    else:
        raise ImageDecodeError(f'Image {name!r} has an unsupported pixel type {img.dtype}.')
    return np.ascontiguousarray(scaled[:, :, ::-1])
