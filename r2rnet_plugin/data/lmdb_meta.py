"""Read the keys of a BasicSR LMDB from its ``meta_info.txt``.

``basicsr.utils.lmdb_util.make_lmdb_from_imgs`` writes one line per image,
``<key>.png (<h>,<w>,<c>) <compression level>``, and stores the PNG bytes under ``<key>``.
BasicSR's readers take ``line.split('.')[0]`` as the key, which cuts a key that holds a dot
(``Huawei/img.001`` -> ``Huawei/img``); here only the final ``.png`` is removed.
"""
import os

META_INFO_NAME = 'meta_info.txt'


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
    meta_path = os.path.join(lmdb_path, META_INFO_NAME)
    if not os.path.isdir(lmdb_path):
        raise FileNotFoundError(f'LMDB folder {lmdb_path!r} does not exist.')
    if not os.path.isfile(meta_path):
        raise FileNotFoundError(f'LMDB {lmdb_path!r} has no {META_INFO_NAME} (BasicSR format, '
                                'as written by basicsr.utils.lmdb_util.make_lmdb_from_imgs).')
    with open(meta_path, encoding='utf-8') as meta_file:
        keys = [_key_of_line(line, meta_path, number)
                for number, line in enumerate(meta_file, start=1) if line.strip()]
    if not keys:
        raise ValueError(f'LMDB {lmdb_path!r} is empty: {META_INFO_NAME} lists no image.')
    return keys


def _key_of_line(line, meta_path, number):
    """``'Huawei/1.png (40,48,3) 1'`` -> ``'Huawei/1'``."""
    fields = line.strip().rsplit(None, 2)
    if len(fields) != 3 or not fields[1].startswith('('):
        raise ValueError(f'{meta_path}:{number}: expected "<key>.png (h,w,c) <level>", '
                         f'got {line.strip()!r}.')
    return os.path.splitext(fields[0])[0]
