"""Read a source image file into the exact array an LMDB stores for it, or say why it cannot be.

An LMDB stores each image as a lossless PNG of the array that ``cv2.imdecode(...,
IMREAD_UNCHANGED)`` gives, as :mod:`r2rnet_plugin.data.image_io` decodes it: 8- and 16-bit
depth, grey, BGR and BGRA are kept as they are (the dataset converts at read time), so the LMDB
copy reads back as the same training array as the file. What PNG cannot hold losslessly (float
pixels) is refused.

OpenCV "decodes" a truncated JPEG (it warns on stderr and fills the missing part with grey), so
JPEG and PNG files are first checked for completeness: a JPEG must reach its end-of-image
marker through its segment structure, a PNG its ``IEND`` chunk with every chunk's CRC right.
Other formats are accepted when OpenCV decodes them.
"""
import re
import struct
import zlib

import cv2
import numpy as np

from r2rnet_plugin.data.image_io import ImageDecodeError

STORABLE_DTYPES = (np.dtype(np.uint8), np.dtype(np.uint16))

_JPEG_SOI = b'\xff\xd8'
_PNG_SIGNATURE = b'\x89PNG\r\n\x1a\n'
# Markers that stand alone (no length field): TEM, RST0-7, SOI, EOI.
_JPEG_STANDALONE = {0x01, *range(0xD0, 0xD8), 0xD8, 0xD9}
_JPEG_EOI, _JPEG_SOS = 0xD9, 0xDA
# In entropy-coded data, 0xFF is followed by 0x00 (stuffing), 0xFF (fill) or RST0-7 (restart);
# anything else is the next marker.
_JPEG_NEXT_MARKER = re.compile(rb'\xff[^\x00\xd0-\xd7\xff]')


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


def find_truncation(content):
    """Why encoded JPEG or PNG bytes are incomplete or corrupt, or ``None`` if they are not.

    Args:
        content (bytes): An encoded image; formats other than JPEG and PNG are not checked.

    Returns:
        str | None: The problem, e.g. ``'truncated JPEG: no end-of-image marker'``.
    """
    if content.startswith(_JPEG_SOI):
        return _jpeg_problem(content)
    if content.startswith(_PNG_SIGNATURE):
        return _png_problem(content)
    return None


def _jpeg_problem(content):
    """Walk the JPEG's marker segments and scans up to its end-of-image marker."""
    pos, size = len(_JPEG_SOI), len(content)
    while True:
        while pos < size and content[pos] == 0xFF and pos + 1 < size and content[pos + 1] == 0xFF:
            pos += 1  # fill bytes before a marker
        if pos + 2 > size:
            return 'truncated JPEG: no end-of-image marker'
        if content[pos] != 0xFF:
            return f'corrupt JPEG: no marker at byte {pos}'
        marker = content[pos + 1]
        if marker == _JPEG_EOI:
            return None
        if marker in _JPEG_STANDALONE:
            pos += 2
            continue
        if pos + 4 > size:
            return 'truncated JPEG: cut inside a segment header'
        pos += 2 + struct.unpack_from('>H', content, pos + 2)[0]
        if pos > size:
            return 'truncated JPEG: cut inside a segment'
        if marker == _JPEG_SOS:  # entropy-coded data runs to the next marker
            found = _JPEG_NEXT_MARKER.search(content, pos)
            if found is None:
                return 'truncated JPEG: image data ends without an end-of-image marker'
            pos = found.start()


def _png_problem(content):
    """Walk the PNG's chunks up to ``IEND``, checking each chunk's CRC."""
    pos, size = len(_PNG_SIGNATURE), len(content)
    while True:
        if pos + 8 > size:
            return 'truncated PNG: no IEND chunk'
        length, kind = struct.unpack_from('>I4s', content, pos)
        end = pos + 8 + length + 4
        if end > size:
            return f'truncated PNG: cut inside a {kind.decode("latin-1")!r} chunk'
        (crc,) = struct.unpack_from('>I', content, end - 4)
        if zlib.crc32(content[pos + 4:end - 4]) != crc:
            return f'corrupt PNG: bad CRC in a {kind.decode("latin-1")!r} chunk at byte {pos}'
        if kind == b'IEND':
            return None
        pos = end


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
