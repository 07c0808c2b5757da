"""Read and write the ``meta_info.txt`` of a BasicSR LMDB.

``basicsr.utils.lmdb_util.make_lmdb_from_imgs`` writes one line per image,
``<key>.png (<h>,<w>,<c>) <compression level>``, and stores the PNG bytes under ``<key>``.
BasicSR's readers take ``line.split('.')[0]`` as the key, which cuts a key that holds a dot
(``Huawei/img.001`` -> ``Huawei/img``); here only the final ``.png`` is removed.
"""
import os
from typing import NamedTuple

META_INFO_NAME = 'meta_info.txt'


class MetaLine(NamedTuple):
    """One image of a BasicSR LMDB: its key, its (h, w, c) shape, its PNG compression level."""

    key: str
    shape: tuple
    compress_level: int


def format_meta_line(key, shape, compress_level):
    """The ``meta_info.txt`` line of one image, newline included.

    Args:
        key (str): LMDB key, e.g. ``'Huawei/1'``.
        shape (tuple[int]): Shape of the stored array, (h, w) or (h, w, c); c is 1 for (h, w).
        compress_level (int): PNG compression level used.

    Returns:
        str: e.g. ``'Huawei/1.png (400,600,3) 1\\n'``.
    """
    height, width = shape[:2]
    channels = shape[2] if len(shape) == 3 else 1
    return f'{key}.png ({height},{width},{channels}) {compress_level}\n'


def key_problem(key):
    """Why ``key`` cannot be an LMDB key listed in ``meta_info.txt``, or None when it can.

    A key must be ASCII (BasicSR encodes keys as ASCII), hold no control character (a newline
    would split its line) and read back unchanged from its line (leading blanks are stripped).

    Args:
        key (str): The image's key (its file stem, or ``camera/stem``).

    Returns:
        str | None: The reason, or None.
    """
    if not key.isascii():
        return f'the key {key!r} is not ASCII (BasicSR encodes LMDB keys as ASCII)'
    controls = sorted({char for char in key if ord(char) < 32 or ord(char) == 127})
    if controls:
        return (f'the key {key!r} holds control character(s) {", ".join(map(repr, controls))} '
                f'that {META_INFO_NAME} cannot list')
    if _parse_line(format_meta_line(key, (1, 1, 3), 0), META_INFO_NAME, 1).key != key:
        return f'the key {key!r} would not read back from {META_INFO_NAME} (leading blanks, or empty)'
    return None


def read_lmdb_meta(lmdb_path):
    """Return the lines of ``<lmdb_path>/meta_info.txt``, parsed, in file order.

    Args:
        lmdb_path (str): Folder of a BasicSR LMDB (``data.mdb`` + ``meta_info.txt``).

    Returns:
        list[MetaLine]: One per image.

    Raises:
        FileNotFoundError: The folder or its ``meta_info.txt`` does not exist.
        ValueError: A line is not in BasicSR's format, or the LMDB lists no image.
    """
    meta_path = os.path.join(lmdb_path, META_INFO_NAME)
    if not os.path.isdir(lmdb_path):
        raise FileNotFoundError(f'LMDB folder {lmdb_path!r} does not exist.')
    if not os.path.isfile(meta_path):
        raise FileNotFoundError(f'LMDB {lmdb_path!r} has no {META_INFO_NAME} (BasicSR format, '
                                'as written by basicsr.utils.lmdb_util.make_lmdb_from_imgs).')
    try:
        with open(meta_path, encoding='utf-8') as meta_file:
            lines = [
                _parse_line(line, meta_path, number) for number, line in enumerate(meta_file, start=1) if line.strip()
            ]
    except UnicodeDecodeError as error:
        raise ValueError(f'{meta_path} is not text (UTF-8): {error.reason} at byte {error.start}.') from None
    if not lines:
        raise ValueError(f'LMDB {lmdb_path!r} is empty: {META_INFO_NAME} lists no image.')
    return lines


def read_lmdb_keys(lmdb_path):
    """Return the image keys listed in ``<lmdb_path>/meta_info.txt``, in file order.

    Args:
        lmdb_path (str): Folder of a BasicSR LMDB (``data.mdb`` + ``meta_info.txt``).

    Returns:
        list[str]: The keys, e.g. ``['Huawei/1', 'Huawei/2']``.

    Raises:
        FileNotFoundError: The folder or its ``meta_info.txt`` does not exist.
        ValueError: A line is not in BasicSR's format, or the LMDB lists no image.
    """
    return [line.key for line in read_lmdb_meta(lmdb_path)]


def _parse_line(line, meta_path, number):
    """``'Huawei/1.png (40,48,3) 1'`` -> ``MetaLine('Huawei/1', (40, 48, 3), 1)``."""
    fields = line.strip().rsplit(None, 2)
    try:
        if len(fields) != 3 or not (fields[1].startswith('(') and fields[1].endswith(')')):
            raise ValueError
        shape = tuple(int(size) for size in fields[1][1:-1].split(','))
        level = int(fields[2])
    except ValueError:
        raise ValueError(f'{meta_path}:{number}: expected "<key>.png (h,w,c) <level>", '
                         f'got {line.strip()!r}.') from None
    return MetaLine(os.path.splitext(fields[0])[0], shape, level)
