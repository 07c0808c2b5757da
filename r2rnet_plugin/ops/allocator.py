"""Let the process reuse freed memory instead of handing it back to the system (glibc only).

R2RNet's inference allocates and frees tensors of tens to hundreds of megabytes for every layer.
glibc serves each allocation above 32 MB with a fresh ``mmap`` and unmaps it when freed, so the
kernel must fault in and zero every page again, layer after layer. Measured on the project's
2-core machine: 600x400, 14.2 s per image with 6.8 s of it system time, 10.5 s when freed
memory is reused; 1920x1080, 168 s (123 s system time) against 104 s. With ``mmap`` off for
``malloc`` and no trimming of the heap, freed blocks are reused. The price: more memory
(fragmentation: 1920x1080 peaked at 14.8 GB against 10.3 GB), kept until
:func:`release_freed_memory` or the end of the process. Meant for programs whose main work is
inference or training (the ``enhance`` command, benchmarks, CPU training: about 0.3 s of system
time less per Relight step at batch 4, 96x96), not for library import time.
"""
import ctypes
import ctypes.util
import functools

_M_TRIM_THRESHOLD = -1  # mallopt parameters, from glibc's malloc.h
_M_MMAP_MAX = -4
_NEVER_TRIM = 2**31 - 1  # an int: mallopt takes int values (about 2 GiB of free heap top kept)


@functools.lru_cache(maxsize=None)
def _glibc():
    """glibc as a ctypes library, or None (found once: ``find_library`` runs ``ldconfig``)."""
    name = ctypes.util.find_library('c')
    libc = ctypes.CDLL(name) if name else None
    # musl, macOS, ...: other allocators, other behaviour; leave them alone
    return libc if libc is not None and hasattr(libc, 'gnu_get_libc_version') else None


def release_freed_memory():
    """Hand the freed memory kept by :func:`reuse_freed_memory` back to the system (between images)."""
    libc = _glibc()
    if libc is not None and hasattr(libc, 'malloc_trim'):
        libc.malloc_trim(0)


def reuse_freed_memory_on_cpu(device):
    """:func:`reuse_freed_memory` when ``device`` (a ``torch.device``) is the CPU."""
    return device.type == 'cpu' and reuse_freed_memory()


def reuse_freed_memory():
    """Make glibc's ``malloc`` keep freed memory for reuse. Returns whether it could (glibc found)."""
    libc = _glibc()
    if libc is None or not hasattr(libc, 'mallopt'):
        return False
    return bool(libc.mallopt(_M_MMAP_MAX, 0)) and bool(libc.mallopt(_M_TRIM_THRESHOLD, _NEVER_TRIM))
