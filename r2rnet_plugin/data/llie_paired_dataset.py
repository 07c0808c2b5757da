"""Paired low-light / normal-light dataset (LSRW, LOL or any two folders; disk or LMDB)."""
import dataclasses

import numpy as np
import torch
from torch.utils import data

from basicsr.utils.registry import DATASET_REGISTRY
from r2rnet_plugin.data.augment import check_crop_size, paired_random_crop, random_flip_rot
from r2rnet_plugin.data.bad_data import (DEFAULT_MAX_BAD_FRACTION, MAX_NAMED, POLICIES, BadDataError, BadPairs,
                                         BadSampleError)
from r2rnet_plugin.data.file_clients import get_file_client
from r2rnet_plugin.data.image_io import decode_image
from r2rnet_plugin.data.sample_seeds import sample_rng
from r2rnet_plugin.data.source_checks import construction_problems
from r2rnet_plugin.data.sources import resolve_source
from r2rnet_plugin.utils.option_checks import check_bool, check_choice, check_int, check_known_keys, check_number
from r2rnet_plugin.utils.registration import register_as
from r2rnet_plugin.utils.text import first_items

PHASES = ('train', 'val', 'test')
# The dataset's own options, and those BasicSR reads from the same section (build_dataset,
# build_dataloader, the training pipeline, parse_options).
OPTION_KEYS = ('dataroot_lq', 'dataroot_gt', 'dataroot', 'layout', 'cameras', 'io_backend', 'gt_size', 'use_flip',
               'use_rot', 'bad_data', 'max_bad_fraction', 'check_images')
BASICSR_KEYS = ('name', 'type', 'phase', 'scale', 'num_worker_per_gpu', 'batch_size_per_gpu', 'dataset_enlarge_ratio',
                'prefetch_mode', 'pin_memory', 'persistent_workers', 'num_prefetch_queue')


@register_as(DATASET_REGISTRY)
class LLIEPairedDataset(data.Dataset):
    """Pairs of low-light (``lq``) and normal-light (``gt``) images for R2RNet.

    Returns what BasicSR's ``PairedImageDataset`` returns, so BasicSR's validation and metrics
    work unchanged: ``lq`` and ``gt`` as float32 (3, H, W) RGB tensors in [0, 1], ``lq_path``
    and ``gt_path`` (file paths, or LMDB keys), plus ``key``, the pair's name (``12``,
    ``Huawei/12``), unique across cameras where file names are not. Pairs are matched by file
    stem / LMDB key and sorted by it. In training, the same random ``gt_size`` window is cut
    from both images, then flipped and rotated as in the R2RNet reference; in validation and
    testing, whole images are returned.

    Args:
        opt (dict): Dataset options:

            - ``phase`` (str): ``'train'``, ``'val'`` or ``'test'`` (set by BasicSR).
            - Source, one of: ``dataroot_lq`` + ``dataroot_gt`` (folders, or ``.lmdb`` folders
              with the lmdb backend); ``layout: lsrw`` + ``dataroot`` (+ ``cameras``, default
              ``[Huawei, Nikon]``); ``layout: lol`` + ``dataroot``. See
              :mod:`r2rnet_plugin.data.sources`.
            - ``cameras`` (list[str]): With the lmdb backend, also keeps only the keys whose
              first path part is listed. Default: all (LSRW: Huawei and Nikon).
            - ``io_backend`` (dict): ``{type: disk}`` (default) or ``{type: lmdb, ...}``; other
              keys go to BasicSR's ``FileClient`` (e.g. ``readahead``).
            - ``gt_size`` (int): Training crop side. Required when ``phase`` is ``'train'``.
            - ``use_flip`` (bool): Random vertical and horizontal flips. Default: True.
            - ``use_rot`` (bool): Random ``rot90``. Default: True.
            - ``bad_data`` (str): What to do with a pair that cannot be used (missing, empty,
              truncated or corrupt file, not an image, NaN pixels, images of different sizes,
              smaller than ``gt_size``, LMDB key missing from ``data.mdb``): ``fail`` (default)
              raises an error naming the file or key; ``skip`` leaves the pair out, logs it, and
              in training returns the next usable pair instead (see
              :mod:`r2rnet_plugin.data.bad_data`). Validation and test images are never
              replaced: a bad one found while reading is an error whatever the policy.
            - ``max_bad_fraction`` (float): With ``skip``, stop with an error when more than
              this fraction of the pairs is bad. Default: 0.1.
            - ``check_images`` (bool): Decode every pair when the dataset is built (slow on a
              large set), so that all bad pairs are known before training. Default: False;
              either way, missing and empty files and missing LMDB keys are found then.

            Unknown keys are errors that suggest the closest known one.

    Training indices may be :class:`r2rnet_plugin.data.sample_seeds.SeededIndex` values (as
    BasicSR's sampler hands them out once the plugin is loaded): the sample's crop and flips
    then come from its own seed, not from the process's ``random`` stream.
    """

    def __init__(self, opt):
        super().__init__()
        self.opt = opt
        self.phase = opt.get('phase')
        if self.phase not in PHASES:
            raise ValueError(f'LLIEPairedDataset needs phase in {PHASES}, got {self.phase!r}.')
        section = f'datasets: {self.phase}'
        check_known_keys(opt, OPTION_KEYS + BASICSR_KEYS, section,
                         f" (dataset {opt['name']!r})" if 'name' in opt else '')
        _check_loader_options(opt, section)
        self.label = f"LLIEPairedDataset {opt.get('name', self.phase)!r}"
        self.policy = check_choice(opt.get('bad_data', 'fail'), POLICIES, f'{section}: bad_data')
        max_bad_fraction = check_number(
            opt.get('max_bad_fraction', DEFAULT_MAX_BAD_FRACTION), f'{section}: max_bad_fraction', 0.0, 1.0)
        self.gt_size = _training_crop_size(opt, section) if self.phase == 'train' else None
        self.use_flip = check_bool(opt.get('use_flip', True), f'{section}: use_flip')
        self.use_rot = check_bool(opt.get('use_rot', True), f'{section}: use_rot')
        self.source = resolve_source(opt)
        self.backend_kwargs = {k: v for k, v in (opt.get('io_backend') or {}).items() if k != 'type'}
        problems, notes = construction_problems(self.source, self.backend_kwargs)
        if check_bool(opt.get('check_images', False), f'{section}: check_images'):
            problems.update(self._decoding_problems(skip=problems))
        self.bad = self._apply_policy(problems, notes, max_bad_fraction)
        self.replaces_bad = self.bad is not None and self.phase == 'train'

    def __len__(self):
        return len(self.source.pairs)

    def __getitem__(self, index):
        rng = sample_rng(index)
        index = int(index)
        if not -len(self) <= index < len(self):
            raise IndexError(f'{self.label}: index {index} out of range ({len(self)} pairs)')
        index %= len(self)
        if not self.replaces_bad:
            return self._load(index, rng)
        for step in range(len(self)):  # the first usable pair from ``index`` on, in index order
            candidate = (index + step) % len(self)
            if self.bad.is_bad(candidate):
                continue
            try:
                return self._load(candidate, rng)
            except BadSampleError as error:
                self.bad.record(candidate, error)
        raise BadDataError(f'{self.label}: no usable pair left.')

    def _load(self, index, rng):
        key, lq_ref, gt_ref = self.source.pairs[index]
        img_lq, img_gt = self._read_pair(index)
        if self.phase == 'train':
            img_lq, img_gt = paired_random_crop([img_lq, img_gt], self.gt_size, self._pair_name(index), rng)
            img_lq, img_gt = random_flip_rot([img_lq, img_gt], self.use_flip, self.use_rot, rng)
        return {'lq': _to_tensor(img_lq), 'gt': _to_tensor(img_gt), 'lq_path': lq_ref, 'gt_path': gt_ref, 'key': key}

    def _read_pair(self, index):
        """Both images of pair ``index``, checked to be of the same size.

        Raises:
            BadSampleError: naming the file(s) or key(s).
        """
        _, lq_ref, gt_ref = self.source.pairs[index]
        img_lq = self._read(lq_ref, 'lq')
        img_gt = self._read(gt_ref, 'gt')
        if img_lq.shape != img_gt.shape:
            lq_name, gt_name = self.source.describe(lq_ref, 'lq'), self.source.describe(gt_ref, 'gt')
            raise BadSampleError(f'Low-light {lq_name} is {img_lq.shape[1]}x{img_lq.shape[0]} but '
                                 f'normal-light {gt_name} is {img_gt.shape[1]}x{img_gt.shape[0]} '
                                 '(WxH): the images of a pair must have the same size.')
        return img_lq, img_gt

    def _pair_name(self, index):
        _, lq_ref, gt_ref = self.source.pairs[index]
        return f"{self.source.describe(lq_ref, 'lq')} / {self.source.describe(gt_ref, 'gt')}"

    def _read(self, ref, side):
        """Decode one image; ``side`` is 'lq' or 'gt'."""
        name = self.source.describe(ref, side)
        client = get_file_client(self.source.backend, self.source.root(side), **self.backend_kwargs)
        try:
            content = client.get(ref)
        except OSError as error:
            raise BadSampleError(f'Cannot read image {name!r}: {error.strerror or error}.') from None
        return decode_image(content, name)

    def _decoding_problems(self, skip):
        """``check_images``: decode every pair not in ``skip``; ``{index: reason}`` of the bad ones."""
        problems = {}
        for index in range(len(self)):
            if index in skip:
                continue
            try:
                img_lq, _ = self._read_pair(index)
                if self.gt_size:
                    check_crop_size(img_lq.shape, self.gt_size, self._pair_name(index))
            except BadSampleError as error:
                problems[index] = str(error)
        return problems

    def _apply_policy(self, problems, notes, max_bad_fraction):
        """``fail``: raise for the problems found at construction; ``skip``: drop those pairs.

        Returns:
            BadPairs | None: The record of bad pairs (``skip``), else None.
        """
        pairs = self.source.pairs
        if problems and self.policy == 'fail':
            listed = [str(problems[i]).rstrip('.') for i in sorted(problems)]
            shown = first_items(listed, MAX_NAMED, sep='; ')
            raise BadSampleError(f'{self.label}: {len(problems)} of {len(pairs)} pairs cannot be used: {shown}.' +
                                 ''.join(f' {note}.' for note in notes) +
                                 ' Fix or remove them, or set bad_data: skip to leave them out.')
        if self.policy == 'fail':
            return None
        dropped = {repr(pairs[i][0]): problems[i] for i in sorted(problems)}
        self.source = dataclasses.replace(self.source, pairs=[p for i, p in enumerate(pairs) if i not in problems])
        return BadPairs([repr(key) for key, _, _ in self.source.pairs], dropped, max_bad_fraction, self.label)


def _training_crop_size(opt, section):
    """``gt_size`` as a positive int (required for training)."""
    size = opt.get('gt_size')
    if size is None:
        raise ValueError(f"phase: train needs gt_size, a positive crop side in pixels (e.g. 96): "
                         f"set '{section}: gt_size'.")
    return check_int(size, f'{section}: gt_size')


def _check_loader_options(opt, section):
    """The DataLoader options BasicSR reads from a dataset section, when given."""
    for key, minimum in (('batch_size_per_gpu', 1), ('num_worker_per_gpu', 0), ('dataset_enlarge_ratio', 1)):
        if opt.get(key) is not None:
            check_int(opt[key], f'{section}: {key}', minimum)


def _to_tensor(img):
    """(H, W, 3) float32 array -> contiguous (3, H, W) tensor."""
    return torch.from_numpy(np.ascontiguousarray(img.transpose(2, 0, 1)))
