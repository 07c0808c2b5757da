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

from r2rnet_plugin.atomic_files import atomic_write
from r2rnet_plugin.official_keys import REFERENCE_NAMES, plugin_key

STAGES = ('decom', 'denoise', 'relight')
RETINEXNET_STAGES = ('decom', 'relight')
ARCHS = {  # --arch: (stages, what the checkpoints are called in messages, registered network type)
    'r2rnet': (STAGES, 'published R2RNet', 'R2RNet'),
    'retinexnet': (RETINEXNET_STAGES, 'RetinexNet PyTorch port (aasharma90/RetinexNet_PyTorch)',
                   'R2RPluginRetinexNet'),
}


class CheckpointKeyError(ValueError):
    """A checkpoint's keys or shapes do not fit the network it is meant for."""


def _shorten(keys, limit=12):
    keys = sorted(keys)
    text = ', '.join(keys[:limit])
    return text + (f', ... ({len(keys) - limit} more)' if len(keys) > limit else '')


def load_state_dict_file(path):
    """Read a plain state dict (or one wrapped in ``params``/``state_dict``) without unpickling code.

    Raises:
        FileNotFoundError: No such file.
        r2rnet_plugin.safe_load.UnsafeCheckpointError: The file carries pickled code (not run).
        ValueError: The file is unreadable or holds no state dict of tensors.
    """
    import torch  # here, not at the top: --help answers without importing torch
    from r2rnet_plugin.safe_load import load_checkpoint, strip_module_prefix
    try:
        data = load_checkpoint(path)
    except FileNotFoundError:
        raise FileNotFoundError(f'checkpoint not found: {path}') from None
    for wrapper in ('params', 'params_ema', 'state_dict'):
        if isinstance(data, dict) and isinstance(data.get(wrapper), dict):
            data = data[wrapper]
            break
    if not isinstance(data, dict) or not all(isinstance(v, torch.Tensor) for v in data.values()):
        raise ValueError(f'{path} does not hold a state dict of tensors')
    return strip_module_prefix(data)


def check_finite(state, source):
    """Raise ValueError naming the tensors of ``state`` that hold NaN or infinite values."""
    import torch
    bad = []
    for key, value in state.items():
        if value.is_floating_point() or value.is_complex():
            nan = int(torch.isnan(value).sum())
            inf = int(torch.isinf(value).sum())
            if nan or inf:
                bad.append(f'{key} ({nan} NaN, {inf} inf of {value.numel()})')
    if bad:
        raise ValueError(f'{source} holds non-finite weights, not converted: {_shorten(bad)}')


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


def convert_stage(stage, reference_state, target_module, source='checkpoint', arch='r2rnet'):
    """Rename one published network's state dict for ``target_module``, checking keys and shapes.

    Args:
        arch (str): a key of :data:`ARCHS`: whose checkpoint ``reference_state`` is.

    Raises:
        CheckpointKeyError: naming the unexpected, missing or mis-shaped keys.
    """
    expected = target_module.state_dict()
    converted, unexpected = {}, []
    for key, value in reference_state.items():
        new_key = plugin_key(stage, key, arch)
        if new_key is None or new_key not in expected:
            unexpected.append(key)
        else:
            converted[new_key] = value
    missing = [k for k in expected if k not in converted]
    reverse = {plugin_key(stage, k, arch): k for k in reference_state}
    mis_shaped = [f'{reverse[k]} {tuple(v.shape)} (expected {tuple(expected[k].shape)})'
                  for k, v in converted.items() if v.shape != expected[k].shape]
    problems = []
    if unexpected:
        problems.append(f'unexpected keys: {_shorten(unexpected)}')
    if missing:
        problems.append(f'missing keys (plugin names): {_shorten(missing)}')
    if mis_shaped:
        problems.append(f'wrong shapes: {_shorten(mis_shaped)}')
    if problems:
        raise CheckpointKeyError(
            f'{source} does not look like a {ARCHS[arch][1]} {REFERENCE_NAMES[stage]} checkpoint; '
            + '; '.join(problems))
    return converted


def convert_official(decom, denoise, relight, channel=64):
    """Build an ``R2RNet`` state dict from the three reference state dicts (or their file paths)."""
    from r2rnet_plugin.archs.r2rnet_arch import R2RNet
    model = R2RNet(channel=channel)
    result = {}
    for stage, source in zip(STAGES, (decom, denoise, relight)):
        name = source if isinstance(source, str) else f'the {stage} state dict'
        state = load_state_dict_file(source) if isinstance(source, str) else source
        check_finite(state, name)
        converted = convert_stage(stage, state, getattr(model, stage), name)
        result.update({f'{stage}.{k}': v for k, v in converted.items()})
    return result


def _retinexnet_size(decom_state):
    """``(channel, num_layers)`` of the port's Decom-Net state dict; (64, 5), the port's, where
    it does not tell (the key check then names what is wrong)."""
    shallow = decom_state.get('net1_conv0.weight')
    channel = int(shallow.shape[0]) if getattr(shallow, 'ndim', 0) == 4 else 64
    layers = sum(1 for key in decom_state if plugin_key('decom', key, 'retinexnet') is not None
                 and key.startswith('net1_convs.') and key.endswith('.weight'))
    return channel, layers or 5


def convert_retinexnet(decom, relight, channel=None, num_layers=None):
    """Build a ``RetinexNet`` state dict from the PyTorch port's two state dicts (or file paths).

    Args:
        decom, relight: the port's ``ckpts/Decom/*.tar`` and ``ckpts/Relight/*.tar``.
        channel, num_layers (int, optional): the network's; None reads them from ``decom``.
    """
    from r2rnet_plugin.archs.retinexnet_arch import RetinexNet
    states = {}
    for stage, source in zip(RETINEXNET_STAGES, (decom, relight)):
        name = source if isinstance(source, str) else f'the {stage} state dict'
        states[stage] = (name, load_state_dict_file(source) if isinstance(source, str) else source)
        check_finite(states[stage][1], name)
    read_channel, read_layers = _retinexnet_size(states['decom'][1])
    model = RetinexNet(channel=channel or read_channel, num_layers=num_layers or read_layers)
    result = {}
    for stage, (name, state) in states.items():
        converted = convert_stage(stage, state, getattr(model, stage), name, arch='retinexnet')
        result.update({f'{stage}.{k}': v for k, v in converted.items()})
    return result


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split('\n\n')[0].replace('\n', ' '))
    parser.add_argument('--arch', choices=sorted(ARCHS), default='r2rnet',
                        help='whose checkpoints: r2rnet (default; --decom, --denoise, --relight) or '
                             'retinexnet (the PyTorch port; --decom, --relight)')
    for stage in STAGES:
        parser.add_argument(f'--{stage}', required=stage != 'denoise',
                            help=f'published {REFERENCE_NAMES[stage]} checkpoint (e.g. {stage.title()}/20.tar)'
                            + ('; R2RNet only' if stage == 'denoise' else ''))
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
