"""`python -m r2rnet_plugin.prepare_lmdb`: pack LSRW, LOL or two image folders into BasicSR LMDBs.

Usage::

    python -m r2rnet_plugin.prepare_lmdb --layout lsrw --root "datasets/LSRW/Training data" \\
        --out datasets/LSRW/lmdb/train --verify
    python -m r2rnet_plugin.prepare_lmdb --layout lol --root datasets/LOL/our485 --out datasets/LOL/lmdb/train
    python -m r2rnet_plugin.prepare_lmdb --layout folders --lq LOW_DIR --gt HIGH_DIR --out OUT_DIR

Writes ``<out>/low.lmdb`` and ``<out>/high.lmdb`` (BasicSR's format, the same keys in both:
``Huawei/123`` for LSRW, the file stem otherwise), read by ``LLIEPairedDataset`` with
``io_backend: {type: lmdb}`` and ``layout`` + ``dataroot: <out>``. Every pair is checked first;
all problems are listed at once and nothing is written unless ``--skip-bad`` is given. A file
whose name cannot be an LMDB key listed in ``meta_info.txt`` (not ASCII, a control character
such as a newline, leading blanks) is such a problem, named by its path.

Exit status: 0 done (and verified); 1 ``--verify``/``--verify-only`` found a mismatch or a
damaged LMDB (cut short, not an LMDB, an unreadable record or ``meta_info.txt``); 2 bad
arguments, problems in the source, an existing output without ``--overwrite``, or no output to
verify; 130 interrupted (nothing left but a hidden ``.prepare_lmdb-*`` folder after a hard kill).
"""
import argparse
import sys

from r2rnet_plugin.data.image_io import ImageDecodeError
from r2rnet_plugin.data.sources import LSRW_CAMERAS, find_images
from r2rnet_plugin.lmdb_tool.pair_check import check_pairs
from r2rnet_plugin.lmdb_tool.verify import verify_lmdb_pair
from r2rnet_plugin.lmdb_tool.worker_pool import default_workers
from r2rnet_plugin.lmdb_tool.writer import existing_outputs, leftover_temp_dirs, write_lmdb_pair

LAYOUTS = ('lsrw', 'lol', 'folders')
EXIT_OK, EXIT_MISMATCH, EXIT_ERROR, EXIT_INTERRUPTED = 0, 1, 2, 130


def build_parser():
    """The command-line parser."""
    parser = argparse.ArgumentParser(
        prog='python -m r2rnet_plugin.prepare_lmdb',
        description='Pack paired low-/normal-light images into <out>/low.lmdb and <out>/high.lmdb '
        '(BasicSR LMDB format) for LLIEPairedDataset with io_backend: {type: lmdb}.')
    source = parser.add_argument_group('source')
    source.add_argument(
        '--layout',
        required=True,
        choices=LAYOUTS,
        help='lsrw: <root>/<camera>/{low,high}; lol: <root>/{low,high}; '
        'folders: --lq and --gt')
    source.add_argument('--root', metavar='DIR', help='dataset folder (lsrw, lol)')
    source.add_argument('--lq', metavar='DIR', help='low-light image folder (folders)')
    source.add_argument('--gt', metavar='DIR', help='normal-light image folder (folders)')
    source.add_argument(
        '--cameras', nargs='+', metavar='NAME', help=f'LSRW cameras to include (default: {" ".join(LSRW_CAMERAS)})')
    output = parser.add_argument_group('output')
    output.add_argument('--out', required=True, metavar='DIR', help='folder that receives low.lmdb and high.lmdb')
    output.add_argument(
        '--overwrite', action='store_true', help='replace existing LMDBs (once the new ones are complete)')
    output.add_argument(
        '--compress-level',
        type=int,
        default=1,
        choices=range(10),
        metavar='0-9',
        help='PNG compression level, lossless at any level (default: 1)')
    output.add_argument(
        '--workers',
        type=int,
        default=default_workers(),
        metavar='N',
        help='processes that read and encode images (default: min(4, CPUs) = '
        '%(default)s)')
    output.add_argument(
        '--skip-bad',
        action='store_true',
        help='leave out unmatched, unreadable and size-mismatched images '
        'instead of stopping')
    output.add_argument(
        '--verify',
        action='store_true',
        help='re-read the written LMDBs and compare keys, shapes and pixels '
        'with the sources')
    output.add_argument('--verify-only', action='store_true', help='only verify an existing output against the sources')
    output.add_argument('--no-progress', action='store_true', help='no progress bars')
    return parser


def main(argv=None):
    """Run the command; return its exit status (see the module docstring)."""
    parser = build_parser()
    try:
        args = parser.parse_args(argv)
        _check_arguments(parser, args)
    except SystemExit as stop:  # --help, or argparse's usage error
        return stop.code if isinstance(stop.code, int) else EXIT_ERROR
    try:
        return _run(args)
    except KeyboardInterrupt:
        print('Interrupted (an unfinished write leaves no low.lmdb/high.lmdb).', file=sys.stderr)
        return EXIT_INTERRUPTED


def _check_arguments(parser, args):
    if args.layout == 'folders':
        if not (args.lq and args.gt) or args.root:
            parser.error('--layout folders needs --lq and --gt (and no --root).')
    elif not args.root or args.lq or args.gt:
        parser.error(f'--layout {args.layout} needs --root (and no --lq/--gt).')
    if args.cameras and args.layout != 'lsrw':
        parser.error('--cameras applies to --layout lsrw only.')
    if args.workers < 1:
        parser.error('--workers must be at least 1.')
    if args.verify_only and args.overwrite:
        parser.error('--verify-only writes nothing: drop --overwrite.')


def _run(args):
    progress = not args.no_progress
    try:
        found = find_images(_source_options(args))
    except (FileNotFoundError, ValueError) as error:
        return _fail(error)
    if not args.verify_only and existing_outputs(args.out) and not args.overwrite:
        return _fail(f'{" and ".join(existing_outputs(args.out))} already exist(s): pass '
                     '--overwrite to replace, or --verify-only to check, or choose another --out.')
    check = check_pairs(found, args.workers, progress)
    if check.problems and not args.skip_bad:
        return _fail(f'{len(check.problems)} problem(s) in the source; nothing was written. Fix '
                     'or remove these files, or pass --skip-bad to leave them out:\n' + _indented(check.problems))
    if check.problems:
        print(f'--skip-bad: skipped {check.bad_pairs} pair(s) with unreadable or size-mismatched '
              f'images and {check.unmatched} image(s) without a partner:\n' + _indented(check.problems))
    if not check.pairs:
        return _fail('no usable image pair.')
    if args.verify_only:
        return _verify(args, check.pairs, progress)
    for folder in leftover_temp_dirs(args.out):
        print(f'note: {folder} was left by an interrupted (or running) prepare_lmdb; delete it '
              'when no run is active.')
    try:
        summary = write_lmdb_pair(args.out, check.pairs, args.compress_level, args.workers, args.overwrite, progress)
    except (ImageDecodeError, OSError) as error:  # OutputExistsError, --out is a file, ...
        return _fail(error)
    print(f'Wrote {summary.pairs} pairs: {summary.paths[0]} ({summary.lq_bytes / 2**20:.1f} MiB '
          f'of PNG), {summary.paths[1]} ({summary.gt_bytes / 2**20:.1f} MiB).')
    print(f'Use with LLIEPairedDataset: {_dataset_options(args)}')
    return _verify(args, check.pairs, progress) if args.verify else EXIT_OK


def _source_options(args):
    """The arguments as LLIEPairedDataset source options."""
    if args.layout == 'folders':
        return {'dataroot_lq': args.lq, 'dataroot_gt': args.gt}
    opt = {'layout': args.layout, 'dataroot': args.root}
    if args.cameras:
        opt['cameras'] = args.cameras
    return opt


def _dataset_options(args):
    """The dataset options that read the output, as one line of YAML."""
    if args.layout == 'folders':
        source = f'dataroot_lq: {args.out}/low.lmdb, dataroot_gt: {args.out}/high.lmdb'
    else:
        source = f'layout: {args.layout}, dataroot: {args.out}'
        if args.cameras:
            source += f', cameras: [{", ".join(args.cameras)}]'
    return '{' + source + ', io_backend: {type: lmdb}}'


def _verify(args, pairs, progress):
    try:
        report = verify_lmdb_pair(args.out, pairs, args.workers, progress)
    except FileNotFoundError as error:
        return _fail(error)
    if report.ok:
        print(f'Verified {report.pairs} pairs in {report.paths[0]} and {report.paths[1]}: keys, '
              'shapes and pixels match the sources.')
        return EXIT_OK
    print(f'Verification FAILED: {len(report.problems)} problem(s) in {report.paths[0]} and '
          f'{report.paths[1]} ({report.pairs} pairs compared):\n' + _indented(report.problems))
    return EXIT_MISMATCH


def _indented(lines):
    return '\n'.join(f'  {line}' for line in lines)


def _fail(message):
    print(f'error: {message}', file=sys.stderr)
    return EXIT_ERROR


if __name__ == '__main__':
    sys.exit(main())
