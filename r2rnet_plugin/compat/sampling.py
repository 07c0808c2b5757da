"""Data-order fixes (problems 27 to 29), for the runs that get them.

Both patches make one fix, ``data_order``:

- ``sampler_seeds`` (problem 28): crops and flips come from the ``random`` stream of whichever
  process reads the sample, so a resumed run, or another worker count, augments differently.
  BasicSR's training sampler ``EnlargedSampler`` hands out each index as a ``SeededIndex``
  whose seed is made from (manual_seed, epoch, position in the epoch's order);
  ``LLIEPairedDataset`` augments from it. Only samplers given a seed by ``dataloader_seeds``
  do this; any other sampler hands out plain ints, as released.
- ``dataloader_seeds`` (problems 27, 29): every DataLoader iterator draws its workers' base
  seed from torch's global generator, so the random numbers a model draws depend on how many
  iterators were made before (a resumed run, one more validation). Each loader gets its own
  generator, seeded from ``manual_seed``; a resumed run continues the data order where the
  saved iteration left it. A training loader that yields no batch stops the run at start-up.

Other runs keep BasicSR's loaders untouched: Real-ESRGAN, for one, draws its degradations from
torch's global generator, and giving its loaders their own generators would change its results.
"""
import functools

from r2rnet_plugin.compat import scope
from r2rnet_plugin.compat.checkpoints import RESUMING


def make_seeded_iter(original):
    """``make`` of the ``sampler_seeds`` patch of ``EnlargedSampler.__iter__``."""

    @functools.wraps(original)
    def seeded_iter(self):
        from r2rnet_plugin.data.sample_seeds import SeededIndex, sample_seed
        if not hasattr(self, 'sample_seed'):
            return original(self)
        indices = list(original(self))
        positions = range(self.rank, self.total_size, self.num_replicas)
        seeded = [
            SeededIndex(index, sample_seed(self.sample_seed, self.epoch, position))
            for index, position in zip(indices, positions)
        ]
        return iter(seeded[getattr(self, 'resume_position', {}).get(self.epoch, 0):])

    return seeded_iter


def seed_data_order(opt, logger, loaders):
    """Own generators, augmentation seeds and the resumed position for ``loaders`` (see above)."""
    import torch

    from r2rnet_plugin.utils.option_file import check_train_loader
    train_loader, train_sampler, val_loaders = loaders[:3]
    state = RESUMING.pop('state', None)
    check_train_loader(opt, train_loader, len(train_loader.dataset))
    seed = opt['manual_seed'] if state is None or state.get('manual_seed') is None else state['manual_seed']
    for loader in [train_loader, *val_loaders]:
        if loader is not None:
            loader.generator = torch.Generator().manual_seed(seed)
    train_sampler.sample_seed = seed
    batches = len(train_loader)
    if state is not None and batches:
        epoch, done = divmod(state['iter'], batches)
        state['epoch'] = epoch
        train_sampler.resume_position = {epoch: done * train_loader.batch_size}
        logger.info(f'Resuming the data order at epoch {epoch}, batch {done + 1} of {batches}.')


def make_create_dataloaders(original):
    """``make`` of the ``dataloader_seeds`` patch of ``basicsr.train.create_train_val_dataloader``."""

    @functools.wraps(original)
    def create_and_seed(opt, logger):
        result = original(opt, logger)
        if scope.wants(opt, 'data_order'):
            seed_data_order(opt, logger, result)
        return result

    return create_and_seed
