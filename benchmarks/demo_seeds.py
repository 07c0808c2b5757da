"""How much the demo's result depends on its seed: R2RNet trained with the demo's recipe from several seeds.

Usage::

    python benchmarks/demo_seeds.py                        # seeds 0-4, the demo's 'full' preset
    python benchmarks/demo_seeds.py --seeds 0 1 --out demo_seeds
    python benchmarks/demo_seeds.py --quick --seeds 0 1    # tiny, about a minute a seed

For each seed, as ``python -m r2rnet_plugin.demo --seed N`` does: low-light pairs synthesised
from the scikit-image photos with that seed and packed into LMDBs, then R2RNet's three stages
trained with ``python -m basicsr.train`` (``manual_seed: N``), all in ``--out/seedN``. The
baselines, test, enhancement and benchmark of the demo are left out. Each trained R2RNet is
evaluated in float32 on its validation pairs (photos never trained on). Printed per seed: PSNR
of the input, of each stage's output (Decom-Net's R, Denoise-Net's R_denoised, the output) and
of the automatic gamma correction of the demo's benchmark on the same images, the output's gain
over the input and over gamma, and the training time; then the mean and the spread (max - min)
over the seeds. Runs already finished in ``--out`` are reused (their training time shows as 0).
"""
import argparse
import os
import sys

import torch

import r2rnet_plugin  # noqa: F401  (registers the plugin)
from basicsr.metrics import calculate_psnr
from r2rnet_plugin.archs.llie_baselines_arch import GammaLLIE
from r2rnet_plugin.demo.report import STAGE_ROWS, to_uint8
from r2rnet_plugin.demo.run import PRESETS, STAGES, evaluate_trained, prepare_data, train_stages, validation_set

GAMMA = 'gamma (auto)'


def parse_args(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split('\n\n')[0])
    parser.add_argument('--seeds', nargs='+', type=int, default=[0, 1, 2, 3, 4], help='demo seeds (default: 0-4)')
    parser.add_argument('--quick', action='store_true', help="the demo's tiny configuration")
    parser.add_argument('--out', default='demo_seeds', help='working folder (kept, reused)')
    return parser.parse_args(argv)


@torch.no_grad()
def gamma_psnr(dataset):
    """Mean PSNR of the demo benchmark's automatic gamma (target mean 0.5) on ``dataset``."""
    gamma = GammaLLIE(target_mean=0.5)
    values = [
        calculate_psnr(to_uint8(gamma(item['lq'][None])), to_uint8(item['gt'][None]), crop_border=0) for item in dataset
    ]
    return sum(values) / max(len(values), 1)


def run_seed(root, preset, seed, device):
    """Data, the three stages and the evaluation of one seed in ``root``: ``(seconds, {row: PSNR})``."""
    prepare_data(root, preset, seed)
    seconds = train_stages(root, preset, seed, desc=f'seed {seed}')
    metrics = evaluate_trained(root, root, preset, device)[1]
    psnr = {label: value[0] for label, value in metrics.items()}
    psnr[GAMMA] = gamma_psnr(validation_set(root, preset))
    return seconds, psnr


def table(results, preset):
    """The per-seed table, then mean and spread, as lines of text."""
    columns = [label for label, _ in STAGE_ROWS] + [GAMMA]
    short = ['input', 'R', 'R_denoised', 'output', 'gamma']
    lines = [
        f"R2RNet width {preset['channel']}, {preset['batch']}x{preset['gt_size']}px crops, iterations " +
        ', '.join(f'{s} {preset["iters"][s]}' for s in STAGES) +
        f"; {len(preset['val_photos']) * preset['versions'][1]} validation pairs; PSNR (dB)",
        f'{"seed":>6} ' + ' '.join(f'{c:>10}' for c in short) + f' {"out-in":>7} {"out-gam":>7} {"train s":>8}'
    ]
    for seed, (seconds, psnr) in results.items():
        cells = ' '.join(f'{psnr[c]:10.2f}' for c in columns)
        lines.append(f'{seed:>6} {cells} {psnr[columns[3]] - psnr[columns[0]]:+7.2f} '
                     f'{psnr[columns[3]] - psnr[GAMMA]:+7.2f} {seconds:8.1f}')
    for name, reduce in (('mean', lambda v: sum(v) / len(v)), ('spread', lambda v: max(v) - min(v))):
        values = {c: [psnr[c] for _, psnr in results.values()] for c in columns}
        gains = [psnr[columns[3]] - psnr[columns[0]] for _, psnr in results.values()]
        over_gamma = [psnr[columns[3]] - psnr[GAMMA] for _, psnr in results.values()]
        cells = ' '.join(f'{reduce(values[c]):10.2f}' for c in columns)
        sign = '+' if name == 'mean' else ''
        lines.append(f'{name:>6} {cells} {reduce(gains):{sign}7.2f} {reduce(over_gamma):{sign}7.2f}')
    return lines


def main(argv=None):
    args = parse_args(argv)
    preset = PRESETS['quick' if args.quick else 'full']
    device = torch.device('cuda' if torch.cuda.is_available() else 'cpu')
    results = {
        seed: run_seed(os.path.abspath(os.path.join(args.out, f'seed{seed}')), preset, seed, device)
        for seed in args.seeds
    }
    print('\n' + '\n'.join(table(results, preset)))
    return 0


if __name__ == '__main__':
    sys.exit(main())
