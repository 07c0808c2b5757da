"""Write checked image pairs into two BasicSR LMDBs, ``low.lmdb`` and ``high.lmdb``.

The format is BasicSR's (``basicsr.utils.lmdb_util.make_lmdb_from_imgs``): a folder
``<name>.lmdb`` holding ``data.mdb`` (key -> PNG bytes) and ``meta_info.txt`` (one line
``<key>.png (h,w,c) <compression level>`` per image), the same keys in both LMDBs, so
:class:`~r2rnet_plugin.data.llie_paired_dataset.LLIEPairedDataset` reads them with
``io_backend: {type: lmdb}``. Each image is stored as a lossless PNG of its decoded array
(:func:`r2rnet_plugin.lmdb_tool.source_images.read_source_image`).

Unlike ``make_lmdb_from_imgs``, which calls ``sys.exit`` and guesses the map size from the first
image: images are read and encoded in worker processes with bounded memory; the LMDB map grows
before each transaction by the encoded size of what it is about to hold (plus a margin); both
LMDBs are written inside a temporary folder in the output folder and renamed into place only
when both are complete, so an interrupted run leaves no ``low.lmdb``/``high.lmdb``.
"""
import functools
import glob
import os
import shutil
import tempfile
from dataclasses import dataclass

import cv2
import lmdb
from tqdm import tqdm

from r2rnet_plugin.data.lmdb_meta import META_INFO_NAME, format_meta_line, key_problem
from r2rnet_plugin.lmdb_tool.source_images import read_source_image
from r2rnet_plugin.lmdb_tool.worker_pool import WorkerPool
from r2rnet_plugin.utils.fsync import sync_folder

LQ_LMDB_NAME, GT_LMDB_NAME = 'low.lmdb', 'high.lmdb'
TEMP_PREFIX = '.prepare_lmdb-'
MIB = 1 << 20
BATCH_BYTES = 128 * MIB  # encoded bytes per LMDB transaction
MAP_MARGIN = 1.1  # on top of the estimated space of a transaction
MAP_SLACK_PAGES = 64  # meta, branch and free-list pages, copy-on-write of the tree's path
_PAGE_HEADER, _NODE_HEADER = 16, 8  # LMDB's PAGEHDRSZ and NODESIZE


class OutputExistsError(FileExistsError):
    """``low.lmdb`` or ``high.lmdb`` already exists and overwriting was not asked for."""


@dataclass(frozen=True)
class WriteSummary:
    """What :func:`write_lmdb_pair` wrote.

    Attributes:
        pairs (int): Number of pairs (images per LMDB).
        lq_bytes (int): Encoded size of the low-light images.
        gt_bytes (int): Encoded size of the normal-light images.
        paths (tuple[str, str]): The two LMDB folders.
    """

    pairs: int
    lq_bytes: int
    gt_bytes: int
    paths: tuple


def lmdb_paths(out_dir):
    """``(<out_dir>/low.lmdb, <out_dir>/high.lmdb)``."""
    return os.path.join(out_dir, LQ_LMDB_NAME), os.path.join(out_dir, GT_LMDB_NAME)


def existing_outputs(out_dir):
    """The LMDB folders (or anything else by their names) already in ``out_dir``."""
    return [path for path in lmdb_paths(out_dir) if os.path.lexists(path)]


def leftover_temp_dirs(out_dir):
    """Temporary folders of interrupted (or still running) writes in ``out_dir``."""
    return sorted(glob.glob(os.path.join(glob.escape(out_dir), TEMP_PREFIX + '*')))


def encode_png(img, compress_level):
    """Encode an array as PNG bytes (lossless for uint8/uint16 with 1, 3 or 4 channels)."""
    ok, buffer = cv2.imencode('.png', img, [cv2.IMWRITE_PNG_COMPRESSION, compress_level])
    if not ok:
        raise ValueError(f'OpenCV could not encode a {img.dtype} array of shape {img.shape} as PNG.')
    return buffer.tobytes()


def write_lmdb_pair(out_dir, pairs, compress_level=1, workers=1, overwrite=False, progress=True):
    """Write ``<out_dir>/low.lmdb`` and ``<out_dir>/high.lmdb`` from image pairs.

    Args:
        out_dir (str): Output folder (created if missing).
        pairs (list[tuple[str, str, str]]): ``(key, lq_path, gt_path)``, checked beforehand
            (:func:`r2rnet_plugin.lmdb_tool.pair_check.check_pairs`); keys are unique.
        compress_level (int): PNG compression level, 0 (fastest) to 9 (smallest).
        workers (int): Worker processes that read and encode the images.
        overwrite (bool): Replace existing LMDBs (only once the new ones are complete).
        progress (bool): Show a progress bar.

    Returns:
        WriteSummary: Counts and sizes.

    Raises:
        OutputExistsError: An output exists and ``overwrite`` is False.
        ValueError: ``pairs`` is empty, a key cannot be listed in ``meta_info.txt``
            (:func:`r2rnet_plugin.data.lmdb_meta.key_problem`) or ``compress_level`` is out of range.
        ImageDecodeError: An image changed since it was checked.
    """
    if not pairs:
        raise ValueError('No image pair to write.')
    if not 0 <= compress_level <= 9:
        raise ValueError(f'PNG compression level must be 0..9, got {compress_level}.')
    for key, lq_path, _ in pairs:
        problem = key_problem(key)
        if problem:
            raise ValueError(f'{lq_path!r}: {problem}.')
    _refuse_existing(out_dir, overwrite)
    os.makedirs(out_dir, exist_ok=True)
    temp_dir = tempfile.mkdtemp(prefix=TEMP_PREFIX, dir=out_dir)
    try:
        sizes = _write_in(temp_dir, pairs, compress_level, workers, progress)
        _move_into_place(temp_dir, out_dir, overwrite)
    finally:
        shutil.rmtree(temp_dir, ignore_errors=True)
    return WriteSummary(len(pairs), sizes[0], sizes[1], lmdb_paths(out_dir))


def _write_in(folder, pairs, compress_level, workers, progress):
    """Write both LMDBs into ``folder``; return the encoded bytes of each side."""
    encode = functools.partial(_encode_pair, compress_level=compress_level)
    with WorkerPool(workers) as pool:  # started before any LMDB is open: workers never hold one
        builders = []
        try:
            builders.extend(_LmdbBuilder(path, compress_level) for path in lmdb_paths(folder))
            encoded = tqdm(pool.imap(encode, pairs), total=len(pairs), desc='write', unit='pair', disable=not progress)
            for (key, _, _), sides in zip(pairs, encoded):
                for builder, (content, shape) in zip(builders, sides):
                    builder.add(key, content, shape)
            for builder in builders:
                builder.finish()
        finally:
            for builder in builders:
                builder.close()
    return tuple(builder.encoded_bytes for builder in builders)


def _encode_pair(pair, compress_level):
    """Worker: ``(key, lq_path, gt_path)`` -> ``((lq_png, lq_shape), (gt_png, gt_shape))``."""
    _, lq_path, gt_path = pair
    imgs = read_source_image(lq_path), read_source_image(gt_path)
    if imgs[0].shape[:2] != imgs[1].shape[:2]:
        raise ValueError(f'{lq_path} and {gt_path} differ in size (changed since they were checked?).')
    return tuple((encode_png(img, compress_level), img.shape) for img in imgs)


class _LmdbBuilder:
    """One BasicSR LMDB being written: puts batched into transactions, map grown as needed.

    Args:
        path (str): The ``.lmdb`` folder to create.
        compress_level (int): Written into ``meta_info.txt``.
    """

    def __init__(self, path, compress_level):
        os.makedirs(path)
        self.path = path
        self.compress_level = compress_level
        # lock=False: nobody else opens this private folder, and BasicSR's format has no lock.mdb.
        # sync=False: one sync in finish(); an interrupted write is thrown away anyway.
        self.env = lmdb.open(path, map_size=MIB, lock=False, sync=False, metasync=False, meminit=False)
        self.page_size = self.env.stat()['psize']
        self.meta_lines = []
        self.pending = []
        self.pending_bytes = 0
        self.encoded_bytes = 0

    def add(self, key, content, shape):
        """Queue one image; commit when a batch is full."""
        self.pending.append((key.encode('ascii'), content))
        self.pending_bytes += len(content)
        self.encoded_bytes += len(content)
        self.meta_lines.append(format_meta_line(key, shape, self.compress_level))
        if self.pending_bytes >= BATCH_BYTES:
            self._commit()

    def finish(self):
        """Commit what is queued, flush data.mdb to disk and write meta_info.txt."""
        self._commit()
        self.env.sync(True)
        with open(os.path.join(self.path, META_INFO_NAME), 'w', encoding='utf-8') as meta_file:
            meta_file.writelines(self.meta_lines)
            meta_file.flush()
            os.fsync(meta_file.fileno())

    def close(self):
        self.env.close()

    def _commit(self):
        """Write the queued images in one transaction, first growing the map to hold them."""
        if not self.pending:
            return
        needed = sum(self._stored_bytes(len(key), len(value)) for key, value in self.pending)
        needed = int(needed * MAP_MARGIN) + MAP_SLACK_PAGES * self.page_size
        while True:
            self._reserve(needed)
            try:
                with self.env.begin(write=True) as txn:
                    for key, value in self.pending:
                        if not txn.put(key, value, overwrite=False):
                            raise ValueError(f'Key {key.decode()!r} given twice for {self.path}.')
                break
            except lmdb.MapFullError:  # the estimate fell short: the transaction was aborted
                needed *= 2
        self.pending, self.pending_bytes = [], 0

    def _reserve(self, needed):
        """Make the map at least ``needed`` bytes larger than the pages in use."""
        info = self.env.info()
        target = (info['last_pgno'] + 1) * self.page_size + needed
        if target > info['map_size']:
            self.env.set_mapsize(-(-target // MIB) * MIB)

    def _stored_bytes(self, key_len, value_len):
        """Upper estimate of the space one key/value pair takes in the LMDB."""
        node = _NODE_HEADER + key_len + 2  # node header, key, slot in the page's index
        if node + value_len <= (self.page_size - _PAGE_HEADER) // 2:
            return 2 * (node + value_len)  # inside a leaf page, leaf pages at least half full
        overflow_pages = -(-(_PAGE_HEADER + value_len) // self.page_size)
        return overflow_pages * self.page_size + 2 * (node + 8)  # the leaf keeps a page number


def _refuse_existing(out_dir, overwrite):
    existing = existing_outputs(out_dir)
    if existing and not overwrite:
        raise OutputExistsError(f'{" and ".join(existing)} already exist(s); pass --overwrite '
                                '(overwrite=True) to replace, or choose another output folder.')


def _move_into_place(temp_dir, out_dir, overwrite):
    """Rename the finished LMDBs from ``temp_dir`` into ``out_dir``, old outputs aside first."""
    _refuse_existing(out_dir, overwrite)
    names = (LQ_LMDB_NAME, GT_LMDB_NAME)
    replaced = [name for name in names if os.path.lexists(os.path.join(out_dir, name))]
    for name in replaced:  # moved into temp_dir, deleted with it
        os.rename(os.path.join(out_dir, name), os.path.join(temp_dir, 'replaced-' + name))
    placed = []
    try:
        for name in names:
            os.rename(os.path.join(temp_dir, name), os.path.join(out_dir, name))
            placed.append(name)
    except BaseException:
        for name in placed:
            os.rename(os.path.join(out_dir, name), os.path.join(temp_dir, name))
        for name in replaced:
            os.rename(os.path.join(temp_dir, 'replaced-' + name), os.path.join(out_dir, name))
        raise
    sync_folder(out_dir)
