"""What ``train: mixed_precision`` costs in quality: R2RNet trained in each precision, side by side.

Usage::

    python benchmarks/mixed_precision_quality.py                 # the demo's data and schedule
    python benchmarks/mixed_precision_quality.py --quick         # tiny, about a minute
    python benchmarks/mixed_precision_quality.py --precisions fp32 bf16 --seeds 0 1 --out mp_quality

On the demo's data (low-light pairs synthesised from scikit-image photos, packed into LMDBs;
nothing downloaded) the three stages are trained with ``python -m basicsr.train`` with the
demo's options, for every precision (``train: mixed_precision``) and seed (``manual_seed``).
Each trained R2RNet is then evaluated in float32 on the validation pairs, which no run trains
on. Printed per run: training wall time and PSNR/SSIM of each stage's output (BasicSR's
metrics), with the PSNR difference to the first precision at the same seed; then per precision
the mean PSNR over the seeds and its spread (max - min). A precision's effect matters only where
it exceeds the spread between seeds. Runs already finished in ``--out`` are reused.
"""
import argparse
import os
import sys

import torch

import r2rnet_plugin  # noqa: F401  (registers the plugin)
from r2rnet_plugin.demo.report import STAGE_ROWS
from r2rnet_plugin.demo.run import PRESETS, STAGES, evaluate_trained, prepare_data
from r2rnet_plugin.demo.run import train_stages as demo_train_stages


def parse_args(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split('\n\n')[0])
    parser.add_argument(
        '--precisions',
        nargs='+',
        default=['fp32', 'bf16'],
        choices=['fp32', 'bf16', 'fp16'],
        help='train: mixed_precision values to compare (default: fp32 bf16)')
    parser.add_argument('--seeds', nargs='+', type=int, default=[0, 1, 2], help='manual_seed values (default: 0 1 2)')
    parser.add_argument('--quick', action='store_true', help="the demo's tiny configuration")
    parser.add_argument('--out', default='mixed_precision_quality', help='working folder (kept, reused)')
    args = parser.parse_args(argv)
    if 'fp16' in args.precisions and not torch.cuda.is_available():
        parser.error('--precisions fp16 needs CUDA')
    return args


def train_stages(root, run_dir, preset, precision, seed):
    """The demo's three stages in ``precision`` from ``seed``, run in ``run_dir``; seconds spent training."""
    return demo_train_stages(
        root, preset, seed, run_dir=run_dir, logs=run_dir, train={'mixed_precision': precision}, desc=precision)


def validation_metrics(root, run_dir, preset):
    """PSNR/SSIM per row of the demo report's table, of the R2RNet trained in ``run_dir``."""
    device = torch.device('cuda' if torch.cuda.is_available() else 'cpu')
    return evaluate_trained(root, run_dir, preset, device)[1]


def psnr_cells(metrics, baseline):
    """``PSNR dB (difference to baseline) SSIM`` per stage output."""
    cells = []
    for label, _ in STAGE_ROWS[1:]:
        psnr, ssim = metrics[label]
        cells.append(f'{psnr:6.2f} dB ({psnr - baseline[label][0]:+.3f}) {ssim:.4f}')
    return cells


def main(argv=None):
    args = parse_args(argv)
    preset = PRESETS['quick' if args.quick else 'full']
    root = os.path.abspath(args.out)
    prepare_data(root, preset)
    results = {}
    for seed in args.seeds:
        for precision in args.precisions:
            run_dir = os.path.join(root, f'{precision}-seed{seed}')
            seconds = train_stages(root, run_dir, preset, precision, seed)
            results[precision, seed] = seconds, validation_metrics(root, run_dir, preset)
    first = args.precisions[0]
    labels = [label for label, _ in STAGE_ROWS[1:]]
    print(f"\nR2RNet width {preset['channel']}, {preset['batch']}x{preset['gt_size']}px crops, iterations " +
          ', '.join(f'{s} {preset["iters"][s]}' for s in STAGES) + '; validated in float32')
    print(f'{"precision":<10} {"seed":>4} {"train s":>8}  ' + '  '.join(f'{label:>26}' for label in labels))
    for (precision, seed), (seconds, metrics) in results.items():
        cells = psnr_cells(metrics, results[first, seed][1])  # train s 0: trained by an earlier run
        print(f'{precision:<10} {seed:>4} {seconds:8.1f}  ' + '  '.join(f'{c:>26}' for c in cells))
    print(f'\nmean PSNR over seeds {", ".join(map(str, args.seeds))} (spread: max - min)')
    for precision in args.precisions:
        cells = []
        for label in labels:
            values = [results[precision, seed][1][label][0] for seed in args.seeds]
            cells.append(f'{sum(values) / len(values):6.2f} dB ({max(values) - min(values):.3f})')
        print(f'{precision:<10} {"":>4} {"":>8}  ' + '  '.join(f'{c:>26}' for c in cells))
    return 0


if __name__ == '__main__':
    sys.exit(main())
