"""Cheap checks of a dataset's pairs when it is built: nothing is decoded.

On disk, every file of every pair is ``stat``-ed: a missing file (a dangling link, a file removed
since the folder was listed) or an empty one is found before training starts. From an LMDB, the
keys ``meta_info.txt`` lists are compared with those ``data.mdb`` holds (one pass over the
keys, no values read): a wrong or stale ``meta_info.txt`` is found before any worker asks for a
key that is not there. Corrupt, truncated or mis-sized images are found when they are read.
"""
import os

from r2rnet_plugin.data.file_clients import get_file_client


def construction_problems(source, backend_kwargs=None):
    """The pairs of ``source`` that cannot be used, found without decoding.

    Args:
        source (PairSource): The dataset's pairs (:func:`r2rnet_plugin.data.sources.resolve_source`).
        backend_kwargs (dict): Further ``FileClient`` arguments (lmdb).

    Returns:
        tuple[dict[int, str], list[str]]: ``{pair index: reason naming the file or key}``, and
        notes on the source as a whole (e.g. an LMDB whose two key lists differ in length).

    Raises:
        LmdbReadError: An LMDB's ``data.mdb`` cannot be opened or read (an ``OSError`` naming it).
    """
    if source.backend == 'disk':
        return _file_problems(source.pairs), []
    return _lmdb_problems(source, backend_kwargs or {})


def _file_problems(pairs):
    problems = {}
    for index, (_, lq_path, gt_path) in enumerate(pairs):
        reasons = []
        for path in (lq_path, gt_path):
            try:
                size = os.stat(path).st_size
            except OSError as error:
                reasons.append(f'{path}: cannot read ({error.strerror or error})')
            else:
                if size == 0:
                    reasons.append(f'{path}: empty file (0 bytes)')
        if reasons:
            problems[index] = '; '.join(reasons)
    return problems


def stored_lmdb_keys(root, backend_kwargs):
    """The keys ``<root>/data.mdb`` holds, read through this process's shared LMDB client.

    Raises:
        LmdbReadError: The LMDB cannot be opened, is cut short or its keys cannot be read.
    """
    return get_file_client('lmdb', root, **backend_kwargs).keys()


def _lmdb_problems(source, backend_kwargs):
    stored = {side: stored_lmdb_keys(source.root(side), backend_kwargs) for side in ('lq', 'gt')}
    problems, missing = {}, {'lq': 0, 'gt': 0}
    for index, (_, lq_key, gt_key) in enumerate(source.pairs):
        reasons = []
        for side, key in (('lq', lq_key), ('gt', gt_key)):
            if key not in stored[side]:
                missing[side] += 1
                reasons.append(f'{key!r} in {source.root(side)}: listed in meta_info.txt but not in data.mdb')
        if reasons:
            problems[index] = '; '.join(reasons)
    notes = [
        f'{source.root(side)}: {missing[side]} key(s) of meta_info.txt are not in data.mdb, which holds '
        f'{len(stored[side])} entries: a wrong or stale meta_info.txt, or an incomplete LMDB '
        '(python -m r2rnet_plugin.prepare_lmdb --verify-only compares LMDBs with their source images)'
        for side in ('lq', 'gt') if missing[side]
    ]
    return problems, notes
