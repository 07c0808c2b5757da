"""Training-data throughput of ``LLIEPairedDataset``: LMDB vs image folders, measured side by side.

Usage::

    python benchmarks/data_throughput.py                      # 64 pairs of 400x600, like LOL
    python benchmarks/data_throughput.py --pairs 8 --height 64 --width 96 --gt-size 32 --epochs 1

Builds a synthetic LOL-layout dataset in a temporary folder, saved once as PNG and once as JPEG,
packs each into LMDBs with ``python -m r2rnet_plugin.prepare_lmdb``, then times training epochs
(random ``gt_size`` crops, flips, rotations, batches through a ``torch.utils.data.DataLoader``)
from the four sources. The sources take turns within each repeat, so all are measured under the
same machine load; the median over repeats is reported, with each source's ratio to its folder
counterpart. All files are in the page cache (just written): this measures decoding and I/O
overhead, not a cold disk. An image is one low- or normal-light image (a pair is two).
"""
import argparse
import os
import statistics
import sys
import tempfile
import time

import cv2
import numpy as np
import torch

import r2rnet_plugin  # noqa: F401  (registers the dataset)
from r2rnet_plugin import prepare_lmdb
from r2rnet_plugin.data.llie_paired_dataset import LLIEPairedDataset


def parse_args(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split('\n\n')[0])
    parser.add_argument('--pairs', type=int, default=64, help='synthetic pairs (default: 64)')
    parser.add_argument('--height', type=int, default=400)
    parser.add_argument('--width', type=int, default=600)
    parser.add_argument('--gt-size', type=int, default=96, help='training crop (default: 96)')
    parser.add_argument('--batch-size', type=int, default=4)
    parser.add_argument('--num-workers', type=int, default=2, help='DataLoader workers (default: 2)')
    parser.add_argument('--epochs', type=int, default=3, help='timed epochs per measurement')
    parser.add_argument('--repeats', type=int, default=3, help='measurements per source')
    return parser.parse_args(argv)


def synthetic_pair(rng, height, width):
    """A smooth, textured normal-light image and a dark, noisy low-light version (uint8 BGR)."""
    y, x = np.mgrid[0:height, 0:width].astype(np.float32)
    phase = rng.uniform(0, 2 * np.pi, 3)
    high = np.stack([127 + 100 * np.sin(x / (17 + 9 * c) + y / (23 + 7 * c) + phase[c]) for c in range(3)], -1)
    high += rng.normal(0, 6, high.shape)
    low = high * 0.15 + rng.normal(0, 4, high.shape)
    return [np.clip(img, 0, 255).astype(np.uint8) for img in (low, high)]


def build_sources(folder, args):
    """Write the PNG and JPEG folders and their LMDBs; return {name: dataset options}."""
    rng = np.random.default_rng(0)
    for fmt in ('png', 'jpg'):
        for side in ('low', 'high'):
            os.makedirs(os.path.join(folder, fmt, side))
    for index in range(args.pairs):
        for side, img in zip(('low', 'high'), synthetic_pair(rng, args.height, args.width)):
            for fmt in ('png', 'jpg'):
                cv2.imwrite(os.path.join(folder, fmt, side, f'{index:04d}.{fmt}'), img)
    sources = {}
    for fmt in ('png', 'jpg'):
        root, out = os.path.join(folder, fmt), os.path.join(folder, f'{fmt}_lmdb')
        start = time.perf_counter()
        code = prepare_lmdb.main(['--layout', 'lol', '--root', root, '--out', out, '--no-progress'])
        if code:
            sys.exit(f'prepare_lmdb failed with exit status {code}')
        print(f'prepared {out} in {time.perf_counter() - start:.1f} s')
        label = fmt.upper().replace('JPG', 'JPEG')
        sources[f'folders ({label})'] = {'dataroot': root, 'io_backend': {'type': 'disk'}}
        sources[f'LMDB (from {label})'] = {'dataroot': out, 'io_backend': {'type': 'lmdb'}}
    return sources


def make_loader(source, args):
    dataset = LLIEPairedDataset({'phase': 'train', 'layout': 'lol', 'gt_size': args.gt_size, **source})
    return torch.utils.data.DataLoader(
        dataset,
        batch_size=args.batch_size,
        shuffle=True,
        drop_last=True,
        num_workers=args.num_workers,
        persistent_workers=args.num_workers > 0)


def images_per_second(loader, epochs):
    """Images (2 per pair) delivered per second over ``epochs`` epochs of ``loader``."""
    pairs = 0
    start = time.perf_counter()
    for _ in range(epochs):
        for batch in loader:
            pairs += batch['lq'].shape[0]
    return 2 * pairs / (time.perf_counter() - start)


def main(argv=None):
    args = parse_args(argv)
    if min(args.height, args.width) < args.gt_size or args.pairs < args.batch_size:
        sys.exit('need height and width >= gt-size and pairs >= batch-size')
    with tempfile.TemporaryDirectory(prefix='r2r_throughput_') as folder:
        sources = build_sources(folder, args)
        loaders = {name: make_loader(source, args) for name, source in sources.items()}
        for loader in loaders.values():  # warm-up: start the workers, open the files/LMDBs
            images_per_second(loader, 1)
        rates = {name: [] for name in loaders}
        for _ in range(args.repeats):
            for name, loader in loaders.items():
                rates[name].append(images_per_second(loader, args.epochs))
        del loaders  # stop the persistent workers before the folder goes
    print(f'\n{args.pairs} pairs of {args.height}x{args.width}, crop {args.gt_size}, batch {args.batch_size}, '
          f'{args.num_workers} DataLoader workers, median of {args.repeats} x {args.epochs} epochs:')
    medians = {name: statistics.median(values) for name, values in rates.items()}
    for name, rate in medians.items():
        baseline = name.replace('LMDB (from ', 'folders (')
        ratio = '' if baseline == name else f'   {rate / medians[baseline]:.2f}x {baseline}'
        print(f'  {name:<18} {rate:8.1f} images/s{ratio}')


if __name__ == '__main__':
    main()
