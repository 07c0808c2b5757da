"""The RetinexNet PyTorch port's numbers, for tests and for checking converted published weights.

The port is github.com/aasharma90/RetinexNet_PyTorch; give a checkout of it as ``--port DIR``.
Its ``model.py`` is imported unchanged; its ``.cuda()`` calls are made no-ops so that it runs on
the CPU (as :mod:`published_relight_step` does for R2RNet).

``fixture`` writes ``tests/data/retinexnet_port.pt``: seeded weights in the port's format (a
recipe, ``retinexnet_port_state_dict`` in ``tests/reference_weights.py``; only the key names
and shapes are stored), a fixed input (an odd-sized crop of the real photo in
``tests/data/reference_r2rnet.pt`` and its mirror, as one batch) and what the port's
``RetinexNet.forward`` makes of it: R, L, I_delta, output.

``compare`` converts the port's published checkpoints with ``convert_official --arch retinexnet``,
runs the port and the plugin on real photos and prints the largest differences::

    python benchmarks/retinexnet_port_fixture.py fixture --port ~/src/RetinexNet_PyTorch
    python benchmarks/retinexnet_port_fixture.py compare --port ~/src/RetinexNet_PyTorch \\
        ~/src/RetinexNet_PyTorch/data/eval/low/*.png
"""
import argparse
import importlib.util
import os
import subprocess
import sys
import tempfile

import numpy as np
import torch

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(HERE)
sys.path[:0] = [HERE, REPO, os.path.join(REPO, 'tests')]

from published_relight_step import cuda_calls_as_noops  # noqa: E402
from reference_weights import retinexnet_port_state_dict  # noqa: E402  (the weights recipe)

FIXTURE = os.path.join(REPO, 'tests', 'data', 'retinexnet_port.pt')


def load_port(port_dir):
    """The port's ``model.py`` as a module (imported unchanged)."""
    path = os.path.join(port_dir, 'model.py')
    if not os.path.isfile(path):
        sys.exit(f'error: no model.py in {port_dir} (a checkout of aasharma90/RetinexNet_PyTorch is expected)')
    spec = importlib.util.spec_from_file_location('retinexnet_port_model', path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def run_port(port, decom_state, relight_state, images):
    """The port's ``RetinexNet.forward`` on ``images`` (``[B, 3, H, W]`` float32 NumPy in [0, 1]),
    as its ``predict`` calls it; returns ``{'R', 'L', 'I_delta', 'output'}`` (L, I_delta one channel)."""
    with cuda_calls_as_noops(), torch.no_grad():
        net = port.RetinexNet()
        net.DecomNet.load_state_dict(decom_state)
        net.RelightNet.load_state_dict(relight_state)
        net.forward(images, images)
    L, I_delta = net.output_I_low, net.output_I_delta
    assert torch.equal(L[:, :1], L[:, 1:2]) and torch.equal(I_delta[:, :1], I_delta[:, 2:3])
    return {
        'R': net.output_R_low,
        'L': L[:, :1].contiguous(),
        'I_delta': I_delta[:, :1].contiguous(),
        'output': net.output_S
    }


def fixture_input():
    """A 37x53 crop of the real low-light photo of the R2RNet fixture and its mirror: ``[2, 3, 37, 53]``."""
    reference = torch.load(os.path.join(REPO, 'tests', 'data', 'reference_r2rnet.pt'), weights_only=False)
    crop = reference['input_low'][:, :, 5:42, 11:64]
    return torch.cat((crop, crop.flip(-1)), dim=0).contiguous()


def make_fixture(port_dir, out):
    port = load_port(port_dir)
    with cuda_calls_as_noops():
        nets = {'DecomNet': port.DecomNet(), 'RelightNet': port.RelightNet()}
    schema = {name: [(k, list(v.shape)) for k, v in net.state_dict().items()] for name, net in nets.items()}
    x = fixture_input()
    outputs = run_port(port, retinexnet_port_state_dict('DecomNet', schema),
                       retinexnet_port_state_dict('RelightNet', schema), x.numpy())
    commit = subprocess.run(['git', '-C', port_dir, 'rev-parse', 'HEAD'], capture_output=True, text=True).stdout.strip()
    data = {
        'provenance': f'aasharma90/RetinexNet_PyTorch {commit or "(commit unknown)"}, model.py run unchanged '
        f'on the CPU by benchmarks/retinexnet_port_fixture.py, torch {torch.__version__}',
        'schema': schema,
        'input': x,
        **outputs
    }
    torch.save(data, out)
    print(f'wrote {out} ({os.path.getsize(out)} bytes); output range '
          f'{outputs["output"].min():.4f}..{outputs["output"].max():.4f}')


def read_photo(path):
    from PIL import Image
    image = np.asarray(Image.open(path).convert('RGB'), dtype='float32') / 255.0  # as the port's predict
    return np.ascontiguousarray(image.transpose(2, 0, 1)[None])


def compare(port_dir, photos):
    from r2rnet_plugin.archs.retinexnet_arch import RetinexNet
    from r2rnet_plugin.convert_official import main as convert
    from r2rnet_plugin.weights.official import load_state_dict_file
    port = load_port(port_dir)
    decom, relight = (os.path.join(port_dir, 'ckpts', stage, '9200.tar') for stage in ('Decom', 'Relight'))
    with tempfile.TemporaryDirectory() as scratch:
        out = os.path.join(scratch, 'retinexnet.pth')
        if convert(['--arch', 'retinexnet', '--decom', decom, '--relight', relight, '--out', out]) != 0:
            sys.exit('error: conversion failed')
        net = RetinexNet().eval()
        net.load_state_dict(torch.load(out, weights_only=True)['params'])
    decom_state, relight_state = load_state_dict_file(decom), load_state_dict_file(relight)
    worst = 0.0
    for path in photos:
        image = read_photo(path)
        expected = run_port(port, decom_state, relight_state, image)
        with torch.no_grad():
            parts = net.components(torch.from_numpy(image))
        ours = {'R': parts.R, 'L': parts.L, 'I_delta': parts.I_delta, 'output': parts.enhanced}
        diffs = {k: (ours[k] - expected[k]).abs().max().item() for k in expected}
        out8 = np.clip(expected['output'].numpy() * 255, 0, 255).astype('uint8')  # as the port saves it
        ours8 = np.clip(ours['output'].numpy() * 255, 0, 255).astype('uint8')
        worst = max(worst, *diffs.values())
        print(f'{os.path.basename(path)} {image.shape[2]}x{image.shape[3]}: max |ours - port| ' +
              ', '.join(f'{k} {v:.2e}' for k, v in diffs.items()) +
              f'; saved 8-bit pixels that differ: {int((out8 != ours8).sum())} of {out8.size}')
    print(f'largest difference: {worst:.2e}')
    return worst


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split('\n\n')[0])
    sub = parser.add_subparsers(dest='command', required=True)
    fix = sub.add_parser('fixture', help='write the test fixture from seeded weights')
    fix.add_argument('--port', required=True, help='checkout of aasharma90/RetinexNet_PyTorch')
    fix.add_argument('--out', default=FIXTURE)
    cmp_ = sub.add_parser('compare', help='published weights: plugin against port on photos')
    cmp_.add_argument('--port', required=True, help='checkout of aasharma90/RetinexNet_PyTorch (with ckpts/)')
    cmp_.add_argument('photos', nargs='+')
    args = parser.parse_args(argv)
    torch.set_grad_enabled(False)
    if args.command == 'fixture':
        make_fixture(args.port, args.out)
    else:
        compare(args.port, args.photos)


if __name__ == '__main__':
    main()
