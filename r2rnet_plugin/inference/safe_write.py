"""Write an output file whole or not at all, never through a planted symlink, never in a torn state.

The bytes go to a temporary file created exclusively (``O_CREAT | O_EXCL | O_NOFOLLOW``, a
random name, in the output folder) and are then renamed over the final name. ``O_EXCL`` fails on
any existing entry, a symlink included, so a link planted where the temporary file goes is
never followed; the rename replaces a symlink at the final name instead of writing through it;
two writers of one folder each have their own temporary file, so the final file is always one
writer's whole output. On any failure (disk full, Ctrl-C, ...) the temporary file is removed.
"""
import errno
import os
import secrets

DISK_FULL_ERRNOS = frozenset(e for e in (getattr(errno, 'ENOSPC', None), getattr(errno, 'EDQUOT', None)) if e)
_FLAGS = os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, 'O_NOFOLLOW', 0) | getattr(os, 'O_CLOEXEC', 0)
_ATTEMPTS = 100


class DiskFullError(OSError):
    """The file system holding an output is full (or the user's quota is spent)."""

    def __str__(self):
        return self.strerror


def _create_temporary(path):
    """Open a new, exclusively created file beside ``path``: ``(fd, temporary path)``."""
    folder, name = os.path.split(path)
    for _ in range(_ATTEMPTS):
        tmp = os.path.join(folder, f'.{name}.{secrets.token_hex(8)}.part')
        try:
            return os.open(tmp, _FLAGS, 0o666), tmp
        except FileExistsError:
            continue
    raise FileExistsError(errno.EEXIST, f'no free temporary name beside {path}')


def _write_all(fd, data):
    view = memoryview(data)
    while view:
        view = view[os.write(fd, view):]


def remove_quietly(path):
    """Remove ``path`` if it can be removed (cleaning up after a failure)."""
    try:
        os.unlink(path)
    except OSError:
        pass


def _disk_full(err, path):
    """``err`` as a :class:`DiskFullError` when it says the disk is full, else ``err`` itself."""
    if isinstance(err, OSError) and err.errno in DISK_FULL_ERRNOS:
        return DiskFullError(err.errno, f'disk full: cannot write {path} ({os.strerror(err.errno)})')
    return err


def write_file(path, data):
    """Write ``data`` (bytes-like) to ``path`` atomically, replacing what is there (a symlink itself).

    Raises:
        DiskFullError: no space left (ENOSPC) or quota exceeded (EDQUOT); nothing is left behind.
        OSError: any other failure to write; nothing is left behind.
    """
    try:
        fd, tmp = _create_temporary(path)
    except OSError as err:
        raise _disk_full(err, path) from None
    try:
        try:
            _write_all(fd, data)
            os.fsync(fd)
        finally:
            os.close(fd)
        os.replace(tmp, path)
    except BaseException as err:
        remove_quietly(tmp)
        converted = _disk_full(err, path)
        if converted is err:
            raise
        raise converted from None
