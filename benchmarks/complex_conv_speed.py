"""Seconds per Relight training step with ``complex_conv: fused`` beside ``complex_conv: published``.

Usage::

    python benchmarks/complex_conv_speed.py                  # batch 4, 96x96 crops, width 64
    python benchmarks/complex_conv_speed.py --repeats 5 --device cuda

Both steps are ``R2RNetModel.optimize_parameters`` of ``options/train_r2r_relight.yml`` in the
published-compatible setting (``fft_mode: batch``, ``mixed_precision: fp32``, PyTorch's
convolutions, ``frequency_opt: {differentiable: false}``); only ``network_g: complex_conv``
differs: the fused default computes each of Relight-Net's complex convolutions as one real
convolution of split tensors, ``published`` as complexPyTorch's four real convolutions. Both
models are built in one fresh process and their steps interleaved (the order alternating), so
that a change in the machine's load reaches both alike; the printed ratio is published / fused,
the median of the per-step ratios. Weights and VGG16 weights are random (the speed does not
depend on them).
"""
import argparse
import multiprocessing
import statistics
import sys
import tempfile

import torch
from train_step_speed import median_seconds, stage_options, write_inputs

import r2rnet_plugin  # noqa: F401  (registers the plugin)
from basicsr.models import build_model
from r2rnet_plugin.archs.r2r_blocks import COMPLEX_CONV


def parse_args(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split('\n\n')[0])
    parser.add_argument('--batch', type=int, default=4)
    parser.add_argument('--size', type=int, default=96, help='crop size (default: 96)')
    parser.add_argument('--channel', type=int, default=64, help='network width (default: 64, published)')
    parser.add_argument('--repeats', type=int, default=3, help='timed steps of each mode (default: 3)')
    parser.add_argument('--warmup', type=int, default=1, help='untimed steps of each mode first (default: 1)')
    parser.add_argument('--device', default='cuda' if torch.cuda.is_available() else 'cpu')
    args = parser.parse_args(argv)
    args.fast_cpu_conv = False  # PyTorch's convolutions, as the published code (stage_options reads it)
    return args


def build_model_for(complex_conv, args, vgg_path, workdir, batch):
    """A published-compatible Relight ``R2RNetModel`` with ``network_g: complex_conv`` set, fed ``batch``."""
    torch.manual_seed(0)
    opt = stage_options('relight', 'fp32', vgg_path, args, workdir)
    opt['network_g'].update(fft_mode='batch', complex_conv=complex_conv)
    opt['train']['frequency_opt']['differentiable'] = False
    model = build_model(opt)
    model.feed_data(batch)
    return model


def time_modes(args, vgg_path, workdir, batch):
    """``{mode: [seconds of each timed step]}``, the modes' steps interleaved (order alternating)."""
    models = {mode: build_model_for(mode, args, vgg_path, workdir, batch) for mode in COMPLEX_CONV}
    times = {mode: [] for mode in COMPLEX_CONV}
    for repeat in range(args.warmup + args.repeats):
        for mode in (COMPLEX_CONV if repeat % 2 == 0 else COMPLEX_CONV[::-1]):
            seconds = median_seconds(lambda: models[mode].optimize_parameters(1), 1, args.device, warmup=0)
            if repeat >= args.warmup:
                times[mode].append(seconds)
    return times


def main(argv=None):
    args = parse_args(argv)
    torch.manual_seed(0)
    print(f'device {args.device}, torch {torch.__version__}, threads {torch.get_num_threads()}, '
          f'batch {args.batch}, crops {args.size}x{args.size}, width {args.channel}; Relight step, '
          f'fft_mode batch, fp32, PyTorch convolutions')
    with tempfile.TemporaryDirectory() as workdir:
        vgg_path, batch = write_inputs(workdir, args)
        with multiprocessing.get_context('spawn').Pool(1) as pool:  # a fresh process, as training runs
            times = pool.apply(time_modes, (args, vgg_path, workdir, batch))
    for repeat, (fused, published) in enumerate(zip(times['fused'], times['published'])):
        print(
            f'  step {repeat + 1}: fused {fused:.3f} s, published {published:.3f} s, '
            f'ratio {published / fused:.2f}',
            flush=True)
    fused, published = (statistics.median(times[mode]) for mode in COMPLEX_CONV)
    ratios = [p / f for p, f in zip(times['published'], times['fused'])]
    print(f'complex_conv fused: {fused:.3f} s/iter, published: {published:.3f} s/iter')
    print(f'published / fused: {statistics.median(ratios):.2f}x (median of the per-step ratios)')
    return 0


if __name__ == '__main__':
    sys.exit(main())
