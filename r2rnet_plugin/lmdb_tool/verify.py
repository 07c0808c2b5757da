"""Check a written ``low.lmdb``/``high.lmdb`` pair against the source images it was made from.

Checked: that both ``meta_info.txt`` list exactly the expected keys, once each; that
``data.mdb`` holds as many entries as ``meta_info.txt`` lists; that each stored PNG is intact,
has the shape its ``meta_info.txt`` line gives, and holds exactly the pixels (values, dtype and
channels) that the source file decodes to.
"""
from collections import Counter
from dataclasses import dataclass

import numpy as np
from tqdm import tqdm

from r2rnet_plugin.data.image_io import ImageDecodeError
from r2rnet_plugin.data.lmdb_meta import read_lmdb_meta
from r2rnet_plugin.data.lmdb_open import LmdbReadError, open_lmdb_readonly, read_value
from r2rnet_plugin.data.pairing import format_list
from r2rnet_plugin.lmdb_tool.source_images import decode_storable, read_source_image
from r2rnet_plugin.lmdb_tool.worker_pool import WorkerPool
from r2rnet_plugin.lmdb_tool.writer import lmdb_paths


@dataclass(frozen=True)
class VerifyReport:
    """The outcome of :func:`verify_lmdb_pair`.

    Attributes:
        pairs (int): Pairs whose stored images were compared with their sources.
        problems (list[str]): One line per mismatch; empty when everything matches.
        paths (tuple[str, str]): The two LMDB folders.
    """

    pairs: int
    problems: list
    paths: tuple

    @property
    def ok(self):
        return not self.problems


def verify_lmdb_pair(out_dir, pairs, workers=1, progress=True):
    """Compare ``<out_dir>/low.lmdb`` and ``<out_dir>/high.lmdb`` with the source pairs.

    Args:
        out_dir (str): Folder holding the two LMDBs.
        pairs (list[tuple[str, str, str]]): The expected ``(key, lq_path, gt_path)``.
        workers (int): Worker processes that decode and compare the images.
        progress (bool): Show a progress bar.

    Returns:
        VerifyReport: What was compared and every mismatch found.

    Raises:
        FileNotFoundError: An LMDB or its ``meta_info.txt`` is missing.

    A ``meta_info.txt`` not in BasicSR's format, a ``data.mdb`` that does not open or is cut
    short, and a record that cannot be read are problems of the report (naming the LMDB and
    the key), not exceptions.
    """
    paths = lmdb_paths(out_dir)
    problems = []
    metas = [_read_meta(path, problems) for path in paths]
    if None in metas:
        return VerifyReport(0, problems, paths)
    expected = [key for key, _, _ in pairs]
    problems = [problem for path, meta in zip(paths, metas) for problem in _key_problems(path, meta, expected)]
    shapes = [{line.key: line.shape for line in meta} for meta in metas]
    compared = [pair for pair in pairs if all(pair[0] in side for side in shapes)]
    with WorkerPool(workers) as pool:  # started before any LMDB is open: workers never hold one
        envs = []
        try:
            for path, meta in zip(paths, metas):
                envs.append(_open_checked(path, len(meta), problems))
            if None in envs:  # a database that cannot be read safely: nothing to compare
                compared = []
            tasks = (_comparison_task(pair, paths, envs, shapes) for pair in compared)
            results = tqdm(
                pool.imap(_compare_pair, tasks), total=len(compared), desc='verify', unit='pair', disable=not progress)
            for pair_problems in results:
                problems.extend(pair_problems)
        finally:
            for env in envs:
                if env is not None:
                    env.close()
    return VerifyReport(len(compared), problems, paths)


def _read_meta(path, problems):
    """One LMDB's ``meta_info.txt``, or None after adding why it cannot be parsed to ``problems``."""
    try:
        return read_lmdb_meta(path)
    except ValueError as error:
        problems.append(str(error))
        return None


def _open_checked(path, listed, problems):
    """Open one LMDB for reading, or add why it cannot be read to ``problems`` and return None."""
    try:
        env = open_lmdb_readonly(path)
        entries = env.stat()['entries']
    except LmdbReadError as error:
        problems.append(str(error))
        return None
    if entries != listed:
        problems.append(f'{path}: data.mdb holds {entries} entries but meta_info.txt lists {listed} images')
    return env


def _key_problems(path, meta, expected):
    """Keys missing from, extra in, or repeated in one LMDB's ``meta_info.txt``."""
    counts = Counter(line.key for line in meta)
    missing = sorted(set(expected) - set(counts))
    extra = sorted(set(counts) - set(expected))
    repeated = sorted(key for key, count in counts.items() if count > 1)
    found = []
    for keys, what in ((missing, 'missing'), (extra, 'not in the source'), (repeated, 'listed twice')):
        if keys:
            found.append(f'{path}: {len(keys)} key(s) {what}: {format_list(keys)}')
    return found


def _comparison_task(pair, paths, envs, shapes):
    """Read one pair's stored bytes in the main process, for a worker to compare."""
    key, *sources = pair
    task = []
    for source, path, env, side_shapes in zip(sources, paths, envs, shapes):
        try:
            content = read_value(env, path, key)
        except LmdbReadError as error:
            content = error
        task.append((source, f'{path}[{key}]', content, side_shapes[key]))
    return task


def _compare_pair(task):
    """Worker: the problems of both images of one pair."""
    return [problem for side in task for problem in [_compare_image(*side)] if problem]


def _compare_image(source, name, content, meta_shape):
    """One stored image against its source file: a problem, or None if they match."""
    if content is None:
        return f'{name}: listed in meta_info.txt but not in data.mdb'
    if isinstance(content, LmdbReadError):
        return f'{name}: cannot read the record ({content})'
    try:
        stored = decode_storable(content, name)
    except ImageDecodeError as error:
        return str(error)
    shape = stored.shape if stored.ndim == 3 else stored.shape + (1, )
    if shape != tuple(meta_shape):
        return f'{name}: stored image is {shape} but meta_info.txt says {tuple(meta_shape)}'
    try:
        original = read_source_image(source)
    except (ImageDecodeError, OSError) as error:
        return f'{name}: cannot read the source {source} ({error})'
    if original.shape != stored.shape or original.dtype != stored.dtype:
        return (f'{name}: stored {stored.dtype} {stored.shape} but the source {source} is '
                f'{original.dtype} {original.shape}')
    differing = np.count_nonzero(original != stored)
    if differing:
        return f'{name}: {differing} pixel values differ from the source {source}'
    return None
