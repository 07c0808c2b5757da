"""Convert published checkpoints into one BasicSR-style weights file: the three R2RNet
checkpoints (default), or the two of the RetinexNet PyTorch port (``--arch retinexnet``).

Usage::

    python -m r2rnet_plugin.convert_official --decom Decom/20.tar --denoise Denoise/20.tar \\
        --relight Relight/20.tar --out r2rnet.pth
    python -m r2rnet_plugin.convert_official --arch retinexnet --decom ckpts/Decom/9200.tar \\
        --relight ckpts/Relight/9200.tar --out retinexnet.pth

The output, ``{'params': state_dict}``, loads through BasicSR's usual
``path: pretrain_network_g: r2rnet.pth`` for ``network_g: {type: R2RNet}`` (or
``{type: R2RPluginRetinexNet}``). RetinexNet's checkpoints are those of
github.com/aasharma90/RetinexNet_PyTorch (``ckpts/Decom``, ``ckpts/Relight``); the network's
width and depth are read from them.

Refused before anything is read or written: ``--denoise`` missing for R2RNet or given for
RetinexNet; an ``--out`` that is a folder, whose folder does
not exist, or that is one of the inputs (compared as files, so a symlink or another spelling of
the path is caught). Refused after reading: a checkpoint holding NaN or infinite values (the
tensors are named). The output is written to a private temporary file beside it and renamed
into place; on any failure, Ctrl-C included, the temporary file is removed.

Exit status: 0 written; 2 refused or failed (one line naming the file, option or tensor);
130 interrupted (nothing written).
"""
import argparse
import os
import sys

from r2rnet_plugin.utils.atomic_files import atomic_write
from r2rnet_plugin.weights.official import ARCHS, STAGES, convert_official, convert_retinexnet
from r2rnet_plugin.weights.official_keys import REFERENCE_NAMES


def check_output_path(out, inputs):
    """Refuse an ``--out`` that is a folder, lies in a missing folder, or is one of ``inputs``.

    Args:
        out (str): The output file.
        inputs (dict[str, str]): ``{option: path}`` of the input checkpoints.

    Raises:
        ValueError: naming ``--out`` and, for a clash, the input option.
    """
    if os.path.isdir(out):
        raise ValueError(f'--out {out} is a folder; give the file to write, e.g. '
                         f'{os.path.join(out, "r2rnet.pth")}')
    folder = os.path.dirname(os.path.abspath(out))
    if not os.path.isdir(folder):
        raise ValueError(f'--out {out}: the folder {folder} does not exist')
    if not os.path.exists(out):
        return
    for option, path in inputs.items():
        if os.path.exists(path) and os.path.samefile(out, path):
            raise ValueError(f'--out {out} is the same file as {option} {path}; writing it would '
                             'destroy the published checkpoint: choose another --out')


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split('\n\n')[0].replace('\n', ' '))
    parser.add_argument(
        '--arch',
        choices=sorted(ARCHS),
        default='r2rnet',
        help='whose checkpoints: r2rnet (default; --decom, --denoise, --relight) or '
        'retinexnet (the PyTorch port; --decom, --relight)')
    for stage in STAGES:
        parser.add_argument(
            f'--{stage}',
            required=stage != 'denoise',
            help=f'published {REFERENCE_NAMES[stage]} checkpoint (e.g. {stage.title()}/20.tar)' +
            ('; R2RNet only' if stage == 'denoise' else ''))
    parser.add_argument('--out', required=True, help='output file, e.g. r2rnet.pth')
    args = parser.parse_args(argv)
    if args.arch == 'r2rnet' and args.denoise is None:
        parser.error('--arch r2rnet needs --denoise (its Denoise-Net checkpoint); '
                     'for the RetinexNet port give --arch retinexnet')
    if args.arch == 'retinexnet' and args.denoise is not None:
        parser.error('--denoise is for --arch r2rnet only: RetinexNet has no Denoise-Net')
    stages, _, network_type = ARCHS[args.arch]
    try:
        check_output_path(args.out, {f'--{stage}': getattr(args, stage) for stage in stages})
        if args.arch == 'r2rnet':
            state = convert_official(args.decom, args.denoise, args.relight)
        else:
            state = convert_retinexnet(args.decom, args.relight)
        _save(state, args.out)
    except (ValueError, OSError) as err:  # FileNotFoundError is an OSError
        print(f'error: {err}', file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print(f'Interrupted: {args.out} was not written.', file=sys.stderr)
        return 130
    print(f'wrote {args.out} ({len(state)} tensors); load it with network_g: {{type: {network_type}}} '
          f'and path: pretrain_network_g: {args.out}')
    return 0


def _save(state, out):
    """Write ``{'params': state}`` to ``out`` atomically; the error names ``out``."""
    import torch
    try:
        atomic_write(out, lambda handle: torch.save({'params': state}, handle))
    except OSError as err:
        raise OSError(f'cannot write --out {out}: {err.strerror or err}') from None


if __name__ == '__main__':
    sys.exit(main())
