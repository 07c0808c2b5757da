"""Is an encoded JPEG or PNG complete? Checked from its structure, without decoding it.

OpenCV "decodes" a truncated JPEG (it warns on stderr and fills the missing part with grey),
so a cut file would silently give wrong pixels. A JPEG must reach its end-of-image marker
through its segment structure, a PNG its ``IEND`` chunk with every chunk's CRC right. The walk
costs a small fraction of a decode (one CRC pass over a PNG, one scan over a JPEG).
"""
import re
import struct
import zlib

_JPEG_SOI = b'\xff\xd8'
_PNG_SIGNATURE = b'\x89PNG\r\n\x1a\n'
# Markers that stand alone (no length field): TEM, RST0-7, SOI, EOI.
_JPEG_STANDALONE = {0x01, *range(0xD0, 0xD8), 0xD8, 0xD9}
_JPEG_EOI, _JPEG_SOS = 0xD9, 0xDA
# In entropy-coded data, 0xFF is followed by 0x00 (stuffing), 0xFF (fill) or RST0-7 (restart);
# anything else is the next marker.
_JPEG_NEXT_MARKER = re.compile(rb'\xff[^\x00\xd0-\xd7\xff]')


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
        (crc, ) = struct.unpack_from('>I', content, end - 4)
        if zlib.crc32(content[pos + 4:end - 4]) != crc:
            return f'corrupt PNG: bad CRC in a {kind.decode("latin-1")!r} chunk at byte {pos}'
        if kind == b'IEND':
            return None
        pos = end
