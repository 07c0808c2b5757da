"""Let the process reuse freed memory instead of handing it back to the system (glibc only).

R2RNet's inference allocates and frees tensors of tens to hundreds of megabytes for every layer.
glibc serves each allocation above 32 MB with a fresh ``mmap`` and unmaps it when freed, so the
kernel must fault in and zero every page again, layer after layer: on a 600x400 image that is
about a third of the CPU time (measured: 20 s of system time against 1.8 s without, for three
passes). With ``mmap`` off for ``malloc`` and no trimming of the heap, freed blocks are reused.
The price: the process keeps its peak memory until it exits. Meant for programs whose main work
is inference (the ``enhance`` command, benchmarks), not for library import time.
"""
import ctypes
import ctypes.util

_M_TRIM_THRESHOLD = -1  # mallopt parameters, from glibc's malloc.h
_M_MMAP_MAX = -4
_NEVER_TRIM = 2 ** 31 - 1  # an int: mallopt takes int values (about 2 GiB of free heap top kept)


def reuse_freed_memory():
    """Make glibc's ``malloc`` keep freed memory for reuse. Returns whether it could (glibc found)."""
    name = ctypes.util.find_library('c')
    if not name:
        return False
    libc = ctypes.CDLL(name)
    if not hasattr(libc, 'gnu_get_libc_version') or not hasattr(libc, 'mallopt'):
        return False  # musl, macOS, ...: their allocators behave differently
    return bool(libc.mallopt(_M_MMAP_MAX, 0)) and bool(libc.mallopt(_M_TRIM_THRESHOLD, _NEVER_TRIM))
