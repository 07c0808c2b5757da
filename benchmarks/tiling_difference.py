"""How far tiled enhancement differs from enhancing the whole image at once.

Usage::

    python benchmarks/tiling_difference.py --weights demo_output/experiments/demo_relight/models/net_g_latest.pth
    python benchmarks/tiling_difference.py --weights r2rnet.pth --image photo.png --tiles 256 512 --overlaps 32 64

For each tile size and overlap, the image is enhanced through :class:`Enhancer` with tiling and
compared with the whole-image result: the enhanced image (clamped to [0, 1], as written to
files) by PSNR, largest and mean absolute difference; Relight-Net's brightness map ``I_delta`` by
its mean absolute difference relative to its mean, since the FFT branch sees each tile's
spectrum instead of the whole image's.
"""
import argparse
import math
import os
import sys

import numpy as np

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def parse_args(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split('\n\n')[0])
    parser.add_argument('--weights', nargs='+', required=True, help='R2RNet weights (as for the enhance command)')
    parser.add_argument('--image', default=os.path.join(REPO, 'r2rnet_plugin', 'samples', '46.png'))
    parser.add_argument('--tiles', type=int, nargs='+', default=[128, 256, 384])
    parser.add_argument('--overlaps', type=int, nargs='+', default=[16, 32, 64])
    return parser.parse_args(argv)


def compare(tiled, whole):
    enhanced_t, enhanced_w = tiled['enhanced'].clip(0, 1), whole['enhanced'].clip(0, 1)
    diff = np.abs(enhanced_t - enhanced_w)
    mse = float(np.mean(diff**2))
    psnr = math.inf if mse == 0 else 10 * math.log10(1 / mse)
    relative = float(
        np.mean(np.abs(tiled['I_delta'] - whole['I_delta'])) / max(np.mean(np.abs(whole['I_delta'])), 1e-12))
    return psnr, float(diff.max()), float(diff.mean()), relative


def main(argv=None):
    args = parse_args(argv)
    from r2rnet_plugin.inference.enhancer import Enhancer
    from r2rnet_plugin.inference.image_io import read_photo
    from r2rnet_plugin.weights.reader import load_r2rnet
    model = load_r2rnet(args.weights)
    rgb = read_photo(args.image).rgb
    height, width = rgb.shape[:2]
    print(f'{os.path.basename(args.image)} ({width}x{height}), weights {" ".join(args.weights)}')
    whole = Enhancer(model)(rgb, with_components=True)
    enhanced_mean, delta_mean = whole['enhanced'].clip(0, 1).mean(), whole['I_delta'].mean()
    print(f'whole image: enhanced mean {enhanced_mean:.3f}, I_delta mean {delta_mean:.3f}')
    print('\n| tile | overlap | PSNR vs whole (dB) | max abs diff | mean abs diff | I_delta mean rel. diff |')
    print('|---:|---:|---:|---:|---:|---:|')
    for tile in args.tiles:
        for overlap in args.overlaps:
            if overlap >= tile:
                continue
            tiled = Enhancer(model, tile=tile, tile_overlap=overlap)(rgb, with_components=True)
            psnr, largest, mean, relative = compare(tiled, whole)
            print(
                f'| {tile} | {overlap} | {psnr:.2f} | {largest:.4f} | {mean:.4f} | {100 * relative:.1f} % |',
                flush=True)
    return 0


if __name__ == '__main__':
    sys.exit(main())
