"""Enhance low-light photos with a trained R2RNet.

Usage::

    python -m r2rnet_plugin.enhance -i FILE_OR_DIR -o OUT_DIR --weights r2rnet.pth
    python -m r2rnet_plugin.enhance -i photos/ -o out/ --weights Decom/20.tar Denoise/20.tar Relight/20.tar
    python -m r2rnet_plugin.enhance -i big.tif -o out/ --weights r2rnet.pth --tile 512 --tile-overlap 32

Each output has the input's file name (and format; JPEG at quality 95), bit depth, grey-ness and
alpha channel. Exit status: 0 when every file was enhanced or skipped, 1 when some file failed
(the others are still done; the summary names each failure and its reason) and when the
weights hold NaN/infinite values (nothing is enhanced), 2 for wrong arguments, unusable weights,
a missing input or an unusable output folder, 130 when interrupted (Ctrl-C; no partial file is
left). What is refused and why: docs/robustness/enhance.md.
"""
import argparse
import os
import sys

import torch
from tqdm import tqdm

from r2rnet_plugin.inference.batch import FAILED, enhance_files, list_inputs, summary
from r2rnet_plugin.inference.enhancer import MIN_TILE, PRECISIONS, Enhancer
from r2rnet_plugin.inference.output_plan import OutputFolderError, check_output_folder
from r2rnet_plugin.ops.allocator import release_freed_memory, reuse_freed_memory
from r2rnet_plugin.ops.cpu_features import cpu_supports_bf16
from r2rnet_plugin.utils.torch_helpers import resolve_device
from r2rnet_plugin.weights.official import STAGES
from r2rnet_plugin.weights.reader import load_r2rnet
from r2rnet_plugin.weights.state_dicts import NonFiniteWeightsError, WeightsError


def parse_args(argv):
    parser = argparse.ArgumentParser(
        prog='python -m r2rnet_plugin.enhance',
        description=__doc__.split('\n\n')[0],
        epilog='Tiling changes the output slightly (the FFT branch then sees one '
        'tile, not the whole image): use it when memory is short.')
    parser.add_argument(
        '-i',
        '--input',
        required=True,
        help='an image file or a folder of images '
        '(.jpg .jpeg .png .bmp .tif .tiff; not searched recursively)')
    parser.add_argument('-o', '--output', required=True, help='output folder (created if needed)')
    parser.add_argument(
        '--weights',
        nargs='+',
        metavar='FILE',
        help='an R2RNet weights file written by BasicSR or convert_official, or the three '
        'published checkpoints (Decom, Denoise, Relight, in that order)')
    for stage in STAGES:
        parser.add_argument(f'--{stage}', metavar='FILE', help=f'published {stage.title()}-Net checkpoint')
    parser.add_argument(
        '--device', default='auto', choices=('auto', 'cpu', 'cuda'), help='where to run (default: CUDA if available)')
    parser.add_argument('--precision', default='fp32', choices=sorted(PRECISIONS), help='default fp32')
    parser.add_argument(
        '--tile', type=int, metavar='N', help='process windows of N x N pixels (bounded memory for large photos)')
    parser.add_argument(
        '--tile-overlap',
        type=int,
        default=32,
        metavar='M',
        help='overlap of neighbouring tiles, blended smoothly (default 32)')
    parser.add_argument(
        '--save-components',
        action='store_true',
        help='also write <name>_R, _L, _R_denoised and _I_delta PNGs (clamped to [0, 1])')
    parser.add_argument('--skip-existing', action='store_true', help='skip inputs whose output exists')
    parser.add_argument('--threads', type=int, metavar='N', help='CPU threads (default: torch default)')
    parser.add_argument('--no-progress', action='store_true', help='no progress bar')
    args = parser.parse_args(argv)

    stage_files = [getattr(args, stage) for stage in STAGES]
    if args.weights and any(stage_files):
        parser.error('give either --weights or --decom/--denoise/--relight, not both')
    if any(stage_files) and not all(stage_files):
        parser.error('--decom, --denoise and --relight go together')
    args.weights = args.weights or (stage_files if all(stage_files) else None)
    if not args.weights:
        parser.error('weights are required: --weights FILE (or the three published checkpoints)')
    if args.tile_overlap < 0:
        parser.error(f'--tile-overlap must not be negative (got {args.tile_overlap})')
    if args.tile is not None and args.tile < MIN_TILE:
        parser.error(f'--tile must be at least {MIN_TILE} (got {args.tile}): R2RNet pads to a multiple of 8 and '
                     'halves the image three times, so smaller tiles would be mostly padding')
    if args.tile is not None and args.tile <= args.tile_overlap:
        parser.error(f'--tile ({args.tile}) must be larger than --tile-overlap ({args.tile_overlap})')
    if args.threads is not None and args.threads < 1:
        parser.error(f'--threads must be at least 1 (got {args.threads})')
    return args


def _build_enhancer(args):
    device = resolve_device(args.device)
    if device.type == 'cpu' and args.precision == 'bf16' and not cpu_supports_bf16():
        print('warning: this CPU has no native bfloat16 arithmetic; bf16 will be slow', file=sys.stderr)
    return Enhancer(load_r2rnet(args.weights), device, args.precision, args.tile, args.tile_overlap)


def main(argv=None):
    """The command; returns its exit status (130 on Ctrl-C, with one line on stderr)."""
    args = parse_args(argv)
    try:
        return _run(args)
    except KeyboardInterrupt:
        print('\ninterrupted: stopped; no partial output file was left', file=sys.stderr)
        return 130


def _run(args):
    reuse_freed_memory()  # 1.35x (600x400) to 1.6x (1920x1080) faster on the CPU; ops/allocator.py
    if args.threads:
        torch.set_num_threads(args.threads)
    try:
        paths = list_inputs(args.input)
        check_output_folder(args.output, args.input)
        enhancer = _build_enhancer(args)
    except NonFiniteWeightsError as err:  # every result would be NaN: the run fails, as a NaN result fails a file
        print(f'error: {err}; nothing was enhanced', file=sys.stderr)
        return 1
    except (FileNotFoundError, WeightsError, OutputFolderError, ValueError) as err:
        print(f'error: {err}', file=sys.stderr)
        return 2
    if not paths:
        print(f'error: no image files in {args.input}', file=sys.stderr)
        return 2
    try:
        os.makedirs(args.output, exist_ok=True)
    except OSError as err:
        print(f'error: cannot create output folder {args.output}: {err.strerror or err}', file=sys.stderr)
        return 2

    bar = tqdm(total=len(paths), unit='img', desc='enhance', disable=args.no_progress, file=sys.stderr)
    tiles_done = [0]

    def on_tile():
        tiles_done[0] += 1
        bar.set_postfix_str(f'tile {tiles_done[0]}')

    def on_done(outcome):
        tiles_done[0] = 0
        release_freed_memory()  # what one image kept must not add to the next one's peak
        if outcome.status == FAILED:
            tqdm.write(f'failed: {outcome.path}: {outcome.reason}', file=sys.stderr)
        bar.update(1)

    with bar:
        outcomes = enhance_files(
            enhancer, paths, args.output, args.save_components, args.skip_existing, on_done=on_done, on_tile=on_tile)
    print(summary(outcomes))
    return 1 if any(o.status == FAILED for o in outcomes) else 0


if __name__ == '__main__':
    sys.exit(main())
