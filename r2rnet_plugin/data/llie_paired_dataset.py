"""Paired low-light / normal-light dataset (LSRW, LOL or any two folders; disk or LMDB)."""
import numpy as np
import torch
from basicsr.utils.registry import DATASET_REGISTRY
from torch.utils import data

from r2rnet_plugin.data.augment import paired_random_crop, random_flip_rot
from r2rnet_plugin.data.file_clients import get_file_client
from r2rnet_plugin.data.image_io import decode_image
from r2rnet_plugin.data.sources import resolve_source

PHASES = ('train', 'val', 'test')


@DATASET_REGISTRY.register()
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
    """

    def __init__(self, opt):
        super().__init__()
        self.opt = opt
        self.phase = opt.get('phase')
        if self.phase not in PHASES:
            raise ValueError(f'LLIEPairedDataset needs phase in {PHASES}, got {self.phase!r}.')
        self.source = resolve_source(opt)
        self.backend_kwargs = {k: v for k, v in (opt.get('io_backend') or {}).items() if k != 'type'}
        self.gt_size = _training_crop_size(opt) if self.phase == 'train' else None
        self.use_flip = bool(opt.get('use_flip', True))
        self.use_rot = bool(opt.get('use_rot', True))

    def __len__(self):
        return len(self.source.pairs)

    def __getitem__(self, index):
        key, lq_ref, gt_ref = self.source.pairs[index]
        img_lq = self._read(lq_ref, 'lq')
        img_gt = self._read(gt_ref, 'gt')
        lq_name, gt_name = self.source.describe(lq_ref, 'lq'), self.source.describe(gt_ref, 'gt')
        if img_lq.shape != img_gt.shape:
            raise ValueError(f'Low-light {lq_name} is {img_lq.shape[1]}x{img_lq.shape[0]} but '
                             f'normal-light {gt_name} is {img_gt.shape[1]}x{img_gt.shape[0]} '
                             '(WxH): the images of a pair must have the same size.')
        if self.phase == 'train':
            img_lq, img_gt = paired_random_crop([img_lq, img_gt], self.gt_size, f'{lq_name} / {gt_name}')
            img_lq, img_gt = random_flip_rot([img_lq, img_gt], self.use_flip, self.use_rot)
        return {'lq': _to_tensor(img_lq), 'gt': _to_tensor(img_gt),
                'lq_path': lq_ref, 'gt_path': gt_ref, 'key': key}

    def _read(self, ref, side):
        """Decode one image; ``side`` is 'lq' or 'gt'."""
        client = get_file_client(self.source.backend, self.source.root(side), **self.backend_kwargs)
        return decode_image(client.get(ref), self.source.describe(ref, side))


def _training_crop_size(opt):
    """``gt_size`` as a positive int (required for training)."""
    size = opt.get('gt_size')
    if isinstance(size, bool) or not isinstance(size, int) or size < 1:
        raise ValueError(f'phase: train needs gt_size, a positive crop side in pixels (e.g. 96); got {size!r}.')
    return size


def _to_tensor(img):
    """(H, W, 3) float32 array -> contiguous (3, H, W) tensor."""
    return torch.from_numpy(np.ascontiguousarray(img.transpose(2, 0, 1)))
