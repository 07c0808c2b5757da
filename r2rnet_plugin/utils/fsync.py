"""Make renames durable: ``fsync`` a folder (standard library only, so any tool can use it)."""
import os


def sync_folder(folder):
    """Flush ``folder``'s entries (e.g. a file just renamed into it) to disk, where the platform allows it."""
    try:
        fd = os.open(folder, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)
