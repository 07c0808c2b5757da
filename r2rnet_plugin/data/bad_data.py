"""What a dataset does with a pair it cannot use: ``bad_data: fail`` (default) or ``bad_data: skip``.

A *bad pair* is one whose images are missing, empty, truncated, corrupt or not images, whose
two images differ in size, or that is smaller than the training crop; the error always names
the file (or LMDB key). With ``fail`` it is raised. With ``skip`` the pair is left out: found
at construction, it is dropped from the list; found while training, the next usable pair (in
index order, so the choice does not depend on timing) is returned instead. Every pair left out
is logged once, with its name and reason, and the run stops with :class:`BadDataError` as soon
as more than ``max_bad_fraction`` of the pairs are bad.

The record of bad pairs lives in shared memory, so DataLoader worker processes (forked at each
epoch) count the same pairs and do not each rediscover them.
"""
import multiprocessing
from multiprocessing import context as mp_context

from r2rnet_plugin.utils.text import first_items

POLICIES = ('fail', 'skip')
DEFAULT_MAX_BAD_FRACTION = 0.1
MAX_NAMED = 10


class BadSampleError(ValueError):
    """One pair cannot be used; the message names its file(s) or LMDB key(s)."""


class BadDataError(RuntimeError):
    """More of the dataset is bad than ``max_bad_fraction`` allows."""


class BadPairs:
    """The ``skip`` policy's record: which pairs are bad, shared across DataLoader workers.

    Args:
        names (list[str]): Name of each usable pair (as messages show it), by index.
        dropped (dict[str, str]): Pairs already left out at construction: name -> reason.
        max_fraction (float): Most bad pairs allowed, as a fraction of all pairs (dropped included).
        label (str): Names the dataset in messages.
    """

    def __init__(self, names, dropped, max_fraction, label):
        self.names = list(names)
        self.dropped = dict(dropped)
        self.max_fraction = max_fraction
        self.label = label
        self.flags = multiprocessing.RawArray('b', max(1, len(self.names)))
        for name, reason in self.dropped.items():
            self._warn(name, reason)
        self._check_fraction()

    @property
    def total(self):
        return len(self.names) + len(self.dropped)

    def is_bad(self, index):
        return bool(self.flags[index])

    def record(self, index, error):
        """Mark pair ``index`` bad because of ``error``; log it the first time.

        Raises:
            BadDataError: More than ``max_fraction`` of the pairs are now bad.
        """
        if not self.flags[index]:
            self.flags[index] = 1
            self._warn(self.names[index], error)
        self._check_fraction()

    def bad_names(self):
        return list(self.dropped) + [name for i, name in enumerate(self.names) if self.flags[i]]

    def _warn(self, name, reason):
        from basicsr.utils import get_root_logger
        get_root_logger().warning(f'{self.label}: bad_data: skip: left out pair {name}: {reason} '
                                  f'({len(self.bad_names())} of {self.total} pairs left out so far)')

    def _check_fraction(self):
        bad = self.bad_names()
        if bad and len(bad) > self.max_fraction * self.total:
            shown = first_items(bad, MAX_NAMED)
            raise BadDataError(
                f'{self.label}: {len(bad)} of {self.total} pairs are bad, more than max_bad_fraction '
                f'{self.max_fraction} allows: {shown}. Fix or remove them (python -m r2rnet_plugin.prepare_lmdb '
                'lists every bad pair of a source), or raise max_bad_fraction.')

    def __getstate__(self):
        state = dict(self.__dict__)
        if mp_context.get_spawning_popen() is None:  # a copy (deepcopy, pickle): the flags as they are now
            state['flags'] = bytes(self.flags)
        return state

    def __setstate__(self, state):
        flags = state['flags']
        if isinstance(flags, bytes):
            state['flags'] = multiprocessing.RawArray('b', flags)
        self.__dict__.update(state)
