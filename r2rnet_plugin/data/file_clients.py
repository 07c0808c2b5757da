"""BasicSR ``FileClient`` objects shared by all datasets of a process: one per LMDB, one for disk.

py-lmdb (3.x) refuses to open an environment that is already open in the same process
("The environment ... is already open in this process"), and that bookkeeping survives
``fork``. With BasicSR's own pattern (each dataset opens ``FileClient('lmdb', db_paths=...)``
on first read), two datasets on the same LMDB in one process fail, and so does a DataLoader
worker forked after its parent had read from the LMDB. Here each database is opened once per
process and shared; after a fork, the inherited handles are closed in the child (LMDB handles
must not be used across ``fork``) and the databases are opened again on demand.

An LMDB client is checked when it opens (a ``data.mdb`` cut short would kill the process with
SIGBUS on the first read past its end), and its read errors name the LMDB folder and the key
(:class:`r2rnet_plugin.data.lmdb_open.LmdbReadError`, an ``OSError``).
"""
import os

import lmdb

from basicsr.utils import FileClient
from r2rnet_plugin.data.lmdb_open import check_complete, open_error, read_keys, read_value

_clients = {}
_owner_pid = None


class CheckedLmdbClient(FileClient):
    """BasicSR's LMDB ``FileClient`` on one database, checked complete, its errors named.

    Args:
        root (str): The LMDB folder.
        **kwargs: Further ``LmdbBackend`` arguments (e.g. ``readahead``).

    Raises:
        LmdbReadError: The database cannot be opened or its ``data.mdb`` is cut short.
    """

    def __init__(self, root, **kwargs):
        self.root = root
        try:
            super().__init__('lmdb', db_paths=root, client_keys='default', **kwargs)
        except lmdb.Error as error:
            raise open_error(root, error) from None
        try:
            check_complete(self.env, root)
        except BaseException:
            self.env.close()
            raise

    @property
    def env(self):
        """The open ``lmdb.Environment`` (``LmdbBackend`` keeps ``{client_key: env}``)."""
        return self.client._client['default']

    def get(self, filepath, client_key='default'):
        """The bytes stored under the key ``filepath`` (None when there are none)."""
        return read_value(self.env, self.root, str(filepath))

    def keys(self):
        """Every key the database holds."""
        return read_keys(self.env, self.root)


def get_file_client(backend, root=None, **kwargs):
    """Return this process's BasicSR ``FileClient`` for ``backend`` (and LMDB ``root``).

    Args:
        backend (str): ``'disk'`` or ``'lmdb'``.
        root (str | None): The LMDB folder (lmdb only).
        **kwargs: Further ``FileClient`` arguments (e.g. ``readahead``); those of the first call
            for a database are the ones used.

    Returns:
        FileClient: Read with ``client.get(path_or_key)``; for lmdb a :class:`CheckedLmdbClient`.

    Raises:
        LmdbReadError: (lmdb) The database cannot be opened or is cut short.
    """
    _forget_inherited_clients()
    key = (backend, os.path.realpath(root) if backend == 'lmdb' else None)
    client = _clients.get(key)
    if client is None:
        client = CheckedLmdbClient(root, **kwargs) if backend == 'lmdb' else FileClient(backend, **kwargs)
        _clients[key] = client
    return client


def _forget_inherited_clients():
    """In a forked child, close the LMDB handles inherited from the parent (its own stay open)."""
    global _owner_pid
    if _owner_pid == os.getpid():
        return
    for client in _clients.values():
        if client.backend == 'lmdb':
            client.env.close()
    _clients.clear()
    _owner_pid = os.getpid()
