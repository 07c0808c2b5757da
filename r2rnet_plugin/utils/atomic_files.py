"""Replace a file in one step: write a private temporary file beside it, then rename it over.

The temporary file is created exclusively (``tempfile.mkstemp``: ``O_CREAT | O_EXCL``, a unique
name, so a symlink planted in the folder is never followed and two writers never share one),
synced, then renamed over the target: readers see the old file or the new one, never half of
one. On any failure, Ctrl-C included, the temporary file is removed and the target is left as
it was.
"""
import os
import tempfile

from r2rnet_plugin.utils.fsync import sync_folder

TEMP_SUFFIX = '.part'


def atomic_write(path, write):
    """Write ``path`` through ``write(handle)`` on a temporary binary file, then rename it over.

    Args:
        path (str): The file to create or replace; its folder must exist.
        write (callable): Called with the open binary handle; writes the content.

    Raises:
        OSError: The file cannot be written (the target is unchanged, no temporary file is left).
    """
    folder, name = os.path.split(os.path.abspath(path))
    fd, temp = tempfile.mkstemp(prefix=f'.{name}.', suffix=TEMP_SUFFIX, dir=folder)
    try:
        with os.fdopen(fd, 'wb') as handle:
            write(handle)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(temp, path)
    except BaseException:
        try:
            os.remove(temp)
        except FileNotFoundError:
            pass
        raise
    sync_folder(folder)


def atomic_write_bytes(path, content):
    """:func:`atomic_write` of ``content`` (bytes)."""
    atomic_write(path, lambda handle: handle.write(content))


def atomic_write_text(path, text):
    """:func:`atomic_write` of ``text``, UTF-8."""
    atomic_write_bytes(path, text.encode('utf-8'))


def check_writable_folder(folder, option='--out'):
    """Create ``folder`` if needed and check that a file can be created in it.

    Raises:
        OSError: naming ``option`` and ``folder``, when it is a file, cannot be created or is
            not writable.
    """
    try:
        os.makedirs(folder, exist_ok=True)
        fd, probe = tempfile.mkstemp(prefix='.write-check.', dir=folder)
        os.close(fd)
        os.remove(probe)
    except OSError as error:
        raise OSError(f'{option} {folder} is not a writable folder ({error.strerror or error})') from None
