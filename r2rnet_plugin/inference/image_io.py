"""Read users' photos for enhancement and write the results back in the same form.

An input keeps what the network does not use, so that the output can be written like it:
its bit depth (8 or 16 bit, or float for TIFF), whether it is grey, and its alpha channel,
which is written back unchanged. JPEGs are turned upright by their EXIF orientation (the
output carries no EXIF, so its pixels must already be upright).
"""
import os
import stat
from dataclasses import dataclass
from typing import Optional

import cv2
import numpy as np

from r2rnet_plugin.inference.image_probe import ImageReadError
from r2rnet_plugin.inference.safe_write import write_file
from r2rnet_plugin.utils.image_files import EIGHT_BIT_ONLY

JPEG_EXTENSIONS = ('.jpg', '.jpeg')
JPEG_QUALITY = 95

_INT_MAX = {np.dtype(np.uint8): 255, np.dtype(np.uint16): 65535}
_PNG_SIGNATURE = b'\x89PNG\r\n\x1a\n'
_PNG_GREY_ALPHA = 4  # IHDR colour type of a grey + alpha PNG


@dataclass
class Photo:
    """A decoded photo.

    Attributes:
        rgb (ndarray): ``(H, W, 3)`` float32 RGB in [0, 1] (grey repeated to three channels).
        dtype (np.dtype): pixel type of the file: uint8, uint16 or float32.
        grey (bool): the file holds one colour channel.
        alpha (ndarray | None): ``(H, W)`` alpha channel exactly as stored, if any.
    """
    rgb: np.ndarray
    dtype: np.dtype
    grey: bool
    alpha: Optional[np.ndarray] = None


def _is_grey_alpha_png(content):
    """OpenCV expands grey + alpha PNGs to BGRA; the IHDR colour type says what they were."""
    return content[:8] == _PNG_SIGNATURE and len(content) > 25 and content[25] == _PNG_GREY_ALPHA


def _read_regular_file(path):
    """The bytes of ``path``, refusing anything but a regular file (a FIFO is never waited on)."""
    try:
        fd = os.open(path, os.O_RDONLY | getattr(os, 'O_NONBLOCK', 0))
    except OSError as err:
        raise ImageReadError(f'cannot read the file: {err.strerror or err}') from None
    with os.fdopen(fd, 'rb') as f:
        if not stat.S_ISREG(os.fstat(fd).st_mode):
            raise ImageReadError('not a regular file; only image files are read')
        try:
            return f.read()
        except OSError as err:
            raise ImageReadError(f'cannot read the file: {err.strerror or err}') from None


def read_photo(path):
    """Decode ``path`` into a :class:`Photo`.

    Raises:
        ImageReadError: the file cannot be read, is not a decodable image, has an unsupported
            pixel type or channel count, or holds non-finite (NaN or infinite) pixel values.
    """
    content = _read_regular_file(path)
    upright = os.path.splitext(path)[1].lower() in JPEG_EXTENSIONS  # JPEG has no alpha to keep
    flags = cv2.IMREAD_ANYCOLOR | cv2.IMREAD_ANYDEPTH if upright else cv2.IMREAD_UNCHANGED
    try:
        img = cv2.imdecode(np.frombuffer(content, np.uint8), flags) if content else None
    except cv2.error as err:
        raise ImageReadError(f'not a decodable image: {err}') from None
    if img is None:
        raise ImageReadError(f'not a decodable image ({len(content)} bytes): corrupt or unsupported format')
    return _photo_from_array(img, _is_grey_alpha_png(content))


def _photo_from_array(img, grey_alpha=False):
    """OpenCV's grey / BGR / BGRA array (any supported dtype) -> :class:`Photo`."""
    if img.dtype not in _INT_MAX and img.dtype != np.float32:
        raise ImageReadError(f'unsupported pixel type {img.dtype} (8-bit, 16-bit or float32 images only)')
    if img.dtype == np.float32:
        bad = img.size - int(np.count_nonzero(np.isfinite(img)))
        if bad:
            raise ImageReadError(f'{bad} non-finite pixel values (NaN or infinite) in the image; refused '
                                 '(replace them, e.g. by 0, and retry)')
    if img.ndim == 2:
        img = img[:, :, None]
    channels = img.shape[2]
    if channels not in (1, 3, 4):
        raise ImageReadError(f'unsupported channel count {channels}')
    alpha = np.ascontiguousarray(img[:, :, 3]) if channels == 4 else None
    grey = channels == 1 or grey_alpha
    colour = np.repeat(img[:, :, :1], 3, axis=2) if grey else img[:, :, 2::-1]  # BGR -> RGB
    rgb = colour.astype(np.float32)
    if img.dtype in _INT_MAX:
        rgb /= np.float32(_INT_MAX[img.dtype])
    return Photo(np.ascontiguousarray(rgb), img.dtype, grey, alpha)


def quantise(values, dtype):
    """Float array (any range) -> ``dtype``: clamped to [0, 1] first, rounded for integer types."""
    values = np.clip(values, 0.0, 1.0)
    if np.dtype(dtype) in _INT_MAX:
        return np.rint(values * _INT_MAX[np.dtype(dtype)]).astype(dtype)
    return values.astype(dtype)


def _grey(rgb):
    """Luma (ITU-R BT.601 weights, as OpenCV's RGB2GRAY) of an ``(H, W, 3)`` float array."""
    return rgb @ np.array([0.299, 0.587, 0.114], dtype=np.float32)


def photo_pixels(rgb, like):
    """The array to write for an enhanced ``rgb`` (float, ``(H, W, 3)``) of the input ``like``.

    Same pixel type as the input; grey inputs give grey (one channel, or grey BGRA where the
    input had alpha: OpenCV writes no two-channel images); the alpha channel is appended as read.
    """
    if like.grey:
        out = quantise(_grey(rgb), like.dtype)
        if like.alpha is None:
            return out
        out = np.repeat(out[:, :, None], 3, axis=2)
    else:
        out = quantise(rgb[:, :, ::-1], like.dtype)  # RGB -> BGR
    if like.alpha is not None:
        out = np.concatenate((out, like.alpha[:, :, None]), axis=2)
    return np.ascontiguousarray(out)


def encode_image(path, pixels):
    """Encode an OpenCV-layout array (grey, BGR or BGRA) in ``path``'s format; JPEG at quality 95.

    Raises:
        OSError: the encoder refused the array.
    """
    ext = os.path.splitext(path)[1].lower()
    params = [cv2.IMWRITE_JPEG_QUALITY, JPEG_QUALITY] if ext in JPEG_EXTENSIONS else []
    if ext in EIGHT_BIT_ONLY and pixels.dtype != np.uint8:
        pixels = quantise(pixels.astype(np.float32) / _INT_MAX.get(pixels.dtype, 1), np.uint8)
    try:
        ok, encoded = cv2.imencode(ext, pixels, params)
    except cv2.error as err:
        raise OSError(f'cannot encode {os.path.basename(path)}: {err}') from None
    if not ok:
        raise OSError(f'cannot encode {os.path.basename(path)} as {ext}')
    return encoded


def write_image(path, pixels):
    """Encode and write ``pixels`` (see :func:`encode_image`) whole or not at all, never through a symlink.

    Raises:
        OSError: the encoder refused the array or the file could not be written
            (:class:`~r2rnet_plugin.inference.safe_write.DiskFullError` when the disk is full).
    """
    write_file(path, encode_image(path, pixels))  # no half-written output (--skip-existing would skip it)


def write_photo(path, rgb, like):
    """Write an enhanced ``rgb`` (float ``(H, W, 3)``, clamped here) in the form of the input ``like``."""
    write_image(path, photo_pixels(rgb, like))


def map_pixels(values, dtype):
    """The array to write for a component map (``(H, W, 3)`` RGB or ``(H, W, 1)``, clamped to [0, 1]) of an
    input of pixel type ``dtype`` (float inputs give 16-bit maps)."""
    pixels = values[:, :, 0] if values.shape[2] == 1 else values[:, :, ::-1]
    return quantise(pixels, dtype if np.dtype(dtype) in _INT_MAX else np.uint16)


def write_map(path, values, dtype):
    """Write a component map as :func:`map_pixels` makes it."""
    write_image(path, map_pixels(values, dtype))
