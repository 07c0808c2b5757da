"""BasicSR ``FileClient`` objects shared by all datasets of a process: one per LMDB, one for disk.

py-lmdb (3.x) refuses to open an environment that is already open in the same process
("The environment ... is already open in this process"), and that bookkeeping survives
``fork``. With BasicSR's own pattern (each dataset opens ``FileClient('lmdb', db_paths=...)``
on first read), two datasets on the same LMDB in one process fail, and so does a DataLoader
worker forked after its parent had read from the LMDB. Here each database is opened once per
process and shared; after a fork, the inherited handles are closed in the child (LMDB handles
must not be used across ``fork``) and the databases are opened again on demand.
"""
import os

from basicsr.utils import FileClient

_clients = {}
_owner_pid = None


def get_file_client(backend, root=None, **kwargs):
    """Return this process's BasicSR ``FileClient`` for ``backend`` (and LMDB ``root``).

    Args:
        backend (str): ``'disk'`` or ``'lmdb'``.
        root (str | None): The LMDB folder (lmdb only).
        **kwargs: Further ``FileClient`` arguments (e.g. ``readahead``); those of the first call
            for a database are the ones used.

    Returns:
        FileClient: Read with ``client.get(path_or_key)``.
    """
    _forget_inherited_clients()
    key = (backend, os.path.realpath(root) if backend == 'lmdb' else None)
    client = _clients.get(key)
    if client is None:
        if backend == 'lmdb':
            kwargs = dict(kwargs, db_paths=root, client_keys='default')
        client = _clients[key] = FileClient(backend, **kwargs)
    return client


def _forget_inherited_clients():
    """In a forked child, close the LMDB handles inherited from the parent (its own stay open)."""
    global _owner_pid
    if _owner_pid == os.getpid():
        return
    for client in _clients.values():
        if client.backend == 'lmdb':
            for env in client.client._client.values():  # LmdbBackend keeps {client_key: lmdb.Environment}
                env.close()
    _clients.clear()
    _owner_pid = os.getpid()
