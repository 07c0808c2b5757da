"""Per-sample random seeds, so that a training sample's crop and flips depend only on where it is.

BasicSR's ``EnlargedSampler`` orders each epoch from the epoch number alone, but the crops and
flips come from whichever process reads the sample: the training process's ``random`` stream
(``num_worker_per_gpu: 0``) or a worker's, seeded the same way at every epoch. Either way a
sample's augmentation depends on the history of that process, so a resumed run, a different
worker count or a different world size sees other crops than an uninterrupted run.

Here the sampler (patched in :mod:`r2rnet_plugin.compat`) hands out :class:`SeededIndex` values:
ints that also carry a seed made from ``(manual_seed, epoch, position in the epoch's order)``.
A dataset that knows them (``LLIEPairedDataset``) draws its augmentation from
``random.Random(seed)``; any other dataset just sees an int. Indexed with a plain int, the
dataset uses Python's ``random`` module as before.
"""
import hashlib
import random


class SeededIndex(int):
    """A dataset index that carries the seed of its sample's augmentation (``sample_seed``)."""

    def __new__(cls, index, sample_seed):
        value = super().__new__(cls, index)
        value.sample_seed = sample_seed
        return value

    def __reduce__(self):  # DataLoader workers receive indices pickled
        return SeededIndex, (int(self), self.sample_seed)


def sample_seed(seed, epoch, position):
    """A 63-bit seed from ``(seed, epoch, position)``, the same in every process and Python run."""
    digest = hashlib.blake2b(f'{seed}:{epoch}:{position}'.encode(), digest_size=8).digest()
    return int.from_bytes(digest, 'little') >> 1


def sample_rng(index):
    """``random.Random`` seeded for a :class:`SeededIndex`; the ``random`` module for a plain int."""
    seed = getattr(index, 'sample_seed', None)
    return random if seed is None else random.Random(seed)
