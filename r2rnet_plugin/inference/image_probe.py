"""What an image file declares in its header (size, sample depth, frames), read without decoding it.

Checked before a file is decoded: a small file may declare an enormous image, an animated GIF
or a multi-page TIFF would otherwise silently become its first frame, and a FIFO or device
must never be opened for reading (it could block forever).
"""
import os
import stat
import struct
from dataclasses import dataclass

from PIL import Image, TiffImagePlugin, UnidentifiedImageError

# Bytes per sample OpenCV decodes a PIL mode into (8-bit unless the mode says otherwise).
_SAMPLE_BYTES = {'I;16': 2, 'I;16B': 2, 'I;16L': 2, 'I;16N': 2, 'I': 4, 'F': 4}
_TIFF_MAGIC = (b'II*\0', b'MM\0*')
_TIFF_WIDTH, _TIFF_HEIGHT, _TIFF_BITS = 256, 257, 258
_MAX_PAGES = 10000


class ImageReadError(ValueError):
    """An input file cannot be read as an image."""


@dataclass
class ImageInfo:
    """An image file's header.

    Attributes:
        width, height (int): pixel size as declared.
        sample_bytes (int): bytes per decoded sample (1, 2 or 4).
        frames (int): frames or pages the file holds.
        file_bytes (int): size of the file.
    """
    width: int
    height: int
    sample_bytes: int
    frames: int
    file_bytes: int

    @property
    def pixels(self):
        return self.width * self.height


def check_regular_file(path):
    """Raise :class:`ImageReadError` unless ``path`` is a regular file (checked without opening it)."""
    try:
        mode = os.stat(path).st_mode
    except OSError as err:
        raise ImageReadError(f'cannot read the file: {err.strerror or err}') from None
    if not stat.S_ISREG(mode):
        kind = ('a folder'
                if stat.S_ISDIR(mode) else 'a FIFO (named pipe)' if stat.S_ISFIFO(mode) else 'a device or socket')
        raise ImageReadError(f'not a regular file but {kind}; only image files are read')


def _probe_tiff(path):
    """Width, height, bytes per sample and page count from a TIFF's tag directories.

    For the TIFFs Pillow cannot open (e.g. three-channel float32, which OpenCV writes).
    """
    with open(path, 'rb') as f:
        ifd = TiffImagePlugin.ImageFileDirectory_v2(f.read(8))
        pages, seen, first = 0, set(), None
        while ifd.next and ifd.next not in seen and pages < _MAX_PAGES:
            seen.add(ifd.next)
            f.seek(ifd.next)
            ifd.load(f)
            pages += 1
            if first is None:
                bits = ifd.get(_TIFF_BITS, (8, ))
                bits = max(bits) if isinstance(bits, tuple) else bits
                first = (int(ifd[_TIFF_WIDTH]), int(ifd[_TIFF_HEIGHT]), max(1, -(-int(bits) // 8)))
    if first is None:
        raise ValueError('no image directory')
    return first + (pages, )


def _probe_pillow(path):
    """Width, height, bytes per sample and frame count as Pillow reads them from the header."""
    limit, Image.MAX_IMAGE_PIXELS = Image.MAX_IMAGE_PIXELS, None  # sizes are judged by the caller
    try:
        with Image.open(path) as img:
            return img.size + (_SAMPLE_BYTES.get(img.mode, 1), getattr(img, 'n_frames', 1))
    finally:
        Image.MAX_IMAGE_PIXELS = limit


def probe_image(path):
    """Read ``path``'s header.

    Raises:
        ImageReadError: not a regular file, or no image header that can be read.
    """
    check_regular_file(path)
    try:
        with open(path, 'rb') as f:
            tiff = f.read(4) in _TIFF_MAGIC
        width, height, sample_bytes, frames = _probe_tiff(path) if tiff else _probe_pillow(path)
    except (UnidentifiedImageError, OSError, ValueError, KeyError, SyntaxError, EOFError, struct.error) as err:
        raise ImageReadError(f'not a decodable image: its header cannot be read ({err})') from None
    return ImageInfo(width, height, sample_bytes, frames, os.path.getsize(path))


def check_single_frame(info):
    """Refuse files holding several frames or pages: enhancing only the first would lose the others."""
    if info.frames > 1:
        raise ImageReadError(f'holds {info.frames} frames or pages (animated or multi-page image); only '
                             'single images are enhanced: extract the frames first')
