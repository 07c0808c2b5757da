"""Open and read a BasicSR LMDB so that a damaged one is an error naming its folder and the key.

py-lmdb raises its own exceptions (``lmdb.CorruptedError``, ``lmdb.InvalidError``, ...) with
messages that name neither the database nor the key, and a ``data.mdb`` cut short (a copy that
stopped half-way) is not detected at all: reading a page past its end kills the process with
SIGBUS. Here a database is checked to hold every page its header counts before anything is read
from it, and every LMDB error becomes :class:`LmdbReadError` naming the folder (and key).
"""
import os

import lmdb

DATA_FILE = 'data.mdb'


class LmdbReadError(OSError):
    """An LMDB cannot be opened or read; the message names its folder (and the key)."""


class LmdbNotFoundError(LmdbReadError, FileNotFoundError):
    """The LMDB folder or its ``data.mdb`` does not exist."""


def open_lmdb_readonly(path, **kwargs):
    """Open the LMDB folder ``path`` for reading as BasicSR does, checked to be complete.

    Args:
        path (str): Folder holding ``data.mdb``.
        **kwargs: Further ``lmdb.open`` arguments (e.g. ``readahead``).

    Returns:
        lmdb.Environment: Open read-only; close it when done.

    Raises:
        LmdbReadError: ``data.mdb`` is not an LMDB or is cut short; :class:`LmdbNotFoundError`
            (also a ``FileNotFoundError``) when it does not exist.
    """
    options = dict({'readonly': True, 'lock': False, 'readahead': False}, **kwargs)
    try:
        env = lmdb.open(path, **options)
    except lmdb.Error as error:
        raise open_error(path, error) from None
    try:
        check_complete(env, path)
    except BaseException:
        env.close()
        raise
    return env


def open_error(path, error):
    """The :class:`LmdbReadError` for an ``lmdb.Error`` raised while opening ``path``."""
    missing = not os.path.isfile(os.path.join(path, DATA_FILE))
    return (LmdbNotFoundError if missing else LmdbReadError)(f'LMDB {path}: cannot open its {DATA_FILE} ({error}).')


def check_complete(env, path):
    """Raise :class:`LmdbReadError` when ``<path>/data.mdb`` is shorter than its pages need."""
    try:
        needed = (env.info()['last_pgno'] + 1) * env.stat()['psize']
        size = os.path.getsize(os.path.join(path, DATA_FILE))
    except (lmdb.Error, OSError) as error:
        raise LmdbReadError(f'LMDB {path}: cannot read its {DATA_FILE} ({error}).') from None
    if size < needed:
        raise LmdbReadError(f'LMDB {path}: {DATA_FILE} is cut short ({size} bytes, its pages need '
                            f'{needed}); copy it again or rebuild it with prepare_lmdb.')


def read_value(env, path, key):
    """The bytes stored under ``key`` (None when there are none).

    Raises:
        LmdbReadError: The key is not ASCII or the record cannot be read (a damaged page),
            naming ``path`` and ``key``.
    """
    if not key.isascii():
        raise LmdbReadError(f'LMDB {path}: key {key!r} is not ASCII (BasicSR encodes LMDB keys as ASCII).')
    try:
        with env.begin(write=False) as txn:
            return txn.get(key.encode('ascii'))
    except lmdb.Error as error:
        raise LmdbReadError(f'LMDB {path}: cannot read key {key!r} ({error}).') from None


def read_keys(env, path):
    """Every key ``data.mdb`` holds, as text.

    Raises:
        LmdbReadError: The key tree cannot be walked (a damaged page), naming ``path``.
    """
    try:
        with env.begin(write=False) as txn:
            return {key.decode('ascii', 'replace') for key in txn.cursor().iternext(keys=True, values=False)}
    except lmdb.Error as error:
        raise LmdbReadError(f'LMDB {path}: cannot list the keys of its {DATA_FILE} ({error}).') from None
