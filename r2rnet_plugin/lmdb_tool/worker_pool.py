"""Ordered, memory-bounded parallel map over worker processes, for the data preparation tools.

``multiprocessing.Pool.imap`` queues every task at once and keeps every finished result until
the consumer takes it: with encoded images as results, a slow consumer holds the whole dataset
in memory. :meth:`WorkerPool.imap` keeps at most ``ahead`` tasks in flight.

Workers are forked where fork is safe (Linux): a spawned worker would import torch and
basicsr again (seconds each). They ignore Ctrl-C, so an interrupt reaches only the main
process, which then terminates them.
"""
import multiprocessing
import os
import signal
import sys
from collections import deque


def default_workers(limit=4):
    """``min(limit, number of CPUs usable by this process)``."""
    usable = len(os.sched_getaffinity(0)) if hasattr(os, 'sched_getaffinity') else os.cpu_count()
    return max(1, min(limit, usable or 1))


class WorkerPool:
    """A context manager running picklable functions over items in ``workers`` processes.

    With ``workers <= 1`` everything runs in the calling process (no pool is started).

    Args:
        workers (int): Number of worker processes.
    """

    def __init__(self, workers):
        self.workers = max(1, int(workers))
        self._pool = None

    def __enter__(self):
        if self.workers > 1:
            method = 'fork' if sys.platform.startswith('linux') else None
            context = multiprocessing.get_context(method)
            self._pool = context.Pool(self.workers, initializer=_ignore_interrupts)
        return self

    def __exit__(self, exc_type, exc, traceback):
        if self._pool is not None:
            if exc_type is None:
                self._pool.close()
            else:
                self._pool.terminate()
            self._pool.join()
            self._pool = None

    def imap(self, func, items, ahead=None):
        """Yield ``func(item)`` for each item, in the items' order.

        Args:
            func (callable): A module-level function (it is pickled to the workers).
            items (iterable): Its arguments, one per call.
            ahead (int | None): Most calls in flight at once. Default: 4 per worker.

        Yields:
            The results. An exception raised by ``func`` is raised here, for its item.
        """
        if self._pool is None:
            yield from map(func, items)
            return
        ahead = ahead or 4 * self.workers
        pending = deque()
        for item in items:
            pending.append(self._pool.apply_async(func, (item, )))
            if len(pending) >= ahead:
                yield pending.popleft().get()
        while pending:
            yield pending.popleft().get()


def _ignore_interrupts():
    """Worker initializer: leave Ctrl-C to the main process."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)
