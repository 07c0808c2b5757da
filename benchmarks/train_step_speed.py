"""Seconds per training iteration of each R2RNet stage, beside a step done the reference's way.

Usage::

    python benchmarks/train_step_speed.py                 # batch 4, 96x96 crops, published width
    python benchmarks/train_step_speed.py --repeats 3 --device cuda
    python benchmarks/train_step_speed.py --stages relight --published-code ~/src/R2RNet

For every stage (decom, denoise, relight, joint) an ``R2RNetModel`` is built from the project's
option files and ``optimize_parameters`` is timed on a fixed batch (after a warm-up; median of
repeats), in float32 and with ``train: mixed_precision: bf16`` where the device has native
bfloat16 arithmetic, as the option files' ``mixed_precision: auto`` then trains
(``--precisions`` chooses), with PyTorch's convolutions as the option files train, or with
``--fast-cpu-conv`` the opt-in fast CPU training convolutions (``train: fast_cpu_conv: true``);
the output says which. Each stage and precision is timed in a fresh process, as each stage
trains in its own ``basicsr.train``.

Beside it, in the same run, a *reference-style* Relight step does what the published train.py
does each iteration: all three networks forward with autograd, every loss of every phase
computed, the VGG16 weights read from disk for each perceptual term, the frequency term on
NumPy, then the Relight loss backward and an optimizer step, in float32 with PyTorch's own
convolutions (the project's fast CPU convolutions switched off, as the published code has
none). With ``--published-code DIR`` (a checkout of the published code, with the packages its
model.py imports) its own train.py Relight step is timed too, at its published width, on the
same device (:mod:`published_relight_step`). The printed ratios are the reference's time /
ours. VGG16 weights are random (the speed does not depend on them).
"""
import argparse
import multiprocessing
import os
import statistics
import sys
import tempfile
import time

import torch
import torch.nn.functional as F
import yaml
from published_relight_step import loading_problem, published_relight_step

import r2rnet_plugin  # noqa: F401  (registers the plugin)
from basicsr.models import build_model
from r2rnet_plugin.losses.frequency_wasserstein_loss import FrequencyWassersteinLoss
from r2rnet_plugin.losses.r2r_perceptual_loss import build_vgg16_features, perceptual_distance
from r2rnet_plugin.models.mixed_precision import mixed_precision_dtype
from r2rnet_plugin.ops.fast_conv import set_fast_cpu_convs

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
STAGES = ('decom', 'denoise', 'relight', 'joint')
PRECISIONS = ('fp32', 'bf16', 'fp16')


def parse_args(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split('\n\n')[0])
    parser.add_argument('--batch', type=int, default=4)
    parser.add_argument('--size', type=int, default=96, help='crop size (default: 96)')
    parser.add_argument('--channel', type=int, default=64, help='network width (default: 64, published)')
    parser.add_argument('--repeats', type=int, default=5)
    parser.add_argument('--warmup', type=int, default=3, help='untimed steps first (default: 3)')
    parser.add_argument('--device', default='cuda' if torch.cuda.is_available() else 'cpu')
    parser.add_argument(
        '--stages',
        nargs='+',
        choices=STAGES,
        default=list(STAGES),
        help='stages to time (default: all); relight adds the reference-style step')
    parser.add_argument(
        '--precisions',
        nargs='+',
        choices=PRECISIONS,
        help='train: mixed_precision values to time (default: fp32, and bf16 where native)')
    parser.add_argument(
        '--fast-cpu-conv',
        action='store_true',
        help="time our stages with train: fast_cpu_conv: true (the opt-in NNPACK training "
        "convolutions; default: off, PyTorch's convolutions, as the option files train)")
    parser.add_argument(
        '--published-code',
        metavar='DIR',
        help="a checkout of the published R2RNet code: time its own Relight step too")
    args = parser.parse_args(argv)
    if args.published_code:
        if 'relight' not in args.stages:
            parser.error('--published-code compares Relight steps: include relight in --stages')
        problem = loading_problem(args.published_code)
        if problem:
            parser.error(f'--published-code: {problem}')
    if args.precisions is None:
        args.precisions = sorted({'fp32', option_file_precision(args.device)}, key=PRECISIONS.index)
    return args


def option_file_precision(device):
    """What the option files' ``train: mixed_precision: auto`` trains in on ``device``."""
    dtype = mixed_precision_dtype({'mixed_precision': 'auto'}, torch.device(device))
    return 'bf16' if dtype is torch.bfloat16 else 'fp32'


def stage_options(stage, precision, vgg_path, args, workdir):
    """The project's option file for ``stage``, set up for an in-process model without data."""
    name = 'relight' if stage == 'joint' else stage
    with open(os.path.join(REPO, 'options', f'train_r2r_{name}.yml')) as f:
        opt = yaml.safe_load(f)
    opt['train']['stage'] = stage
    opt['train']['mixed_precision'] = precision
    opt['train']['fast_cpu_conv'] = args.fast_cpu_conv
    opt['network_g']['channel'] = args.channel
    opt['num_gpu'] = 1 if args.device == 'cuda' else 0
    opt.update(dist=False, rank=0, world_size=1, is_train=True, auto_resume=False)
    for key in ('decom_opt', 'perceptual_opt'):
        if key in opt['train']:
            opt['train'][key]['vgg_path'] = vgg_path
    weights = os.path.join(workdir, 'r2rnet.pth')
    opt['path'] = {'pretrain_network_g': weights, 'models': workdir, 'training_states': workdir}
    return opt


def median_seconds(step, repeats, device, warmup=1):
    for _ in range(warmup):
        step()
    times = []
    for _ in range(repeats):
        if device == 'cuda':
            torch.cuda.synchronize()
        start = time.perf_counter()
        step()
        if device == 'cuda':
            torch.cuda.synchronize()
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def reference_style_step(model, vgg_path, batch, optimizer):
    """One Relight iteration as the published code does it (see the module docstring)."""
    net, low, high = model.net_g, batch['lq'], batch['gt']
    freq = FrequencyWassersteinLoss(differentiable=False)

    def vgg(a, b):  # the reference re-reads the VGG16 file for every perceptual term
        features = build_vgg16_features().to(low.device)
        state = torch.load(vgg_path, map_location='cpu', weights_only=True)
        features.load_state_dict({k: v for k, v in state.items() if k in features.state_dict()})
        return perceptual_distance(features.eval().requires_grad_(False), a, b)

    fast_convs = set_fast_cpu_convs(False)  # the published code has only PyTorch's convolutions
    try:
        with torch.enable_grad():
            R_low, L_low = net.decom(low)
            R_high, L_high = net.decom(high)
            R_d = net.denoise(L_low, R_low)
            I_delta = net.relight(L_low, R_d)
            S = R_d * I_delta
            decom = (
                F.l1_loss(R_low * L_low, low) + F.l1_loss(R_high * L_high, high) +
                0.1 * F.l1_loss(R_high * L_low, low) + 0.1 * F.l1_loss(R_low * L_high, high) + 0.1 *
                (vgg(R_low * L_low, low) + vgg(R_high * L_high, high)))
            denoise = F.l1_loss(R_d, R_high) + 0.1 * vgg(R_d, R_high)
            relight = F.l1_loss(S, high) + 0.1 * vgg(S, high) + 0.01 * freq(S, high)
            optimizer.zero_grad()
            relight.backward()
            optimizer.step()
    finally:
        set_fast_cpu_convs(fast_convs)
    return decom.item() + denoise.item()


def time_step(stage, precision, args, vgg_path, workdir, batch):
    """Median seconds of one ``optimize_parameters`` (or, for ``stage='reference'``, one
    reference-style Relight step; for ``stage='published'``, one step of the published code)."""
    torch.manual_seed(0)
    if stage == 'published':
        with published_relight_step(args.published_code, batch['lq'].numpy(), batch['gt'].numpy(), args.device) as step:
            return median_seconds(step, args.repeats, args.device, args.warmup)
    model = build_model(stage_options('relight' if stage == 'reference' else stage, precision, vgg_path, args, workdir))
    if stage != 'reference':
        model.feed_data(batch)
        return median_seconds(lambda: model.optimize_parameters(1), args.repeats, args.device, args.warmup)
    optimizer = torch.optim.Adam(model.net_g.relight.parameters(), lr=1e-4)
    model.net_g.requires_grad_(True)
    data = {k: v.to(model.device) for k, v in batch.items()}
    return median_seconds(lambda: reference_style_step(model, vgg_path, data, optimizer), args.repeats, args.device,
                          args.warmup)


def time_in_fresh_process(*job):
    """:func:`time_step` in a new process, as each stage trains in its own ``basicsr.train``: a
    process that ran other stages first keeps their oneDNN primitives (an LRU cache of 1024),
    which can evict the next stage's and make it rebuild them at every step."""
    with multiprocessing.get_context('spawn').Pool(1) as pool:
        return pool.apply(time_step, job)


def write_inputs(workdir, args):
    """Random VGG16 and R2RNet weights in ``workdir`` (as :func:`stage_options` expects) and a
    random batch; returns (VGG16 file, batch)."""
    vgg_path = os.path.join(workdir, 'vgg16.weight')
    torch.save(build_vgg16_features().state_dict(), vgg_path)
    from r2rnet_plugin.archs.r2rnet_arch import R2RNet
    torch.save({'params': R2RNet(channel=args.channel).state_dict()}, os.path.join(workdir, 'r2rnet.pth'))
    batch = {
        'lq': torch.rand(args.batch, 3, args.size, args.size) * 0.2,
        'gt': torch.rand(args.batch, 3, args.size, args.size)
    }
    return vgg_path, batch


def main(argv=None):
    args = parse_args(argv)
    torch.manual_seed(0)
    print(f'device {args.device}, torch {torch.__version__}, threads {torch.get_num_threads()}, '
          f'batch {args.batch}, crops {args.size}x{args.size}, width {args.channel}')
    print('our stages train with ' +
          ("the fast CPU training convolutions (train: fast_cpu_conv: true)" if args.
           fast_cpu_conv else "PyTorch's convolutions (train: fast_cpu_conv: false, the default)"))
    with tempfile.TemporaryDirectory() as workdir:
        vgg_path, batch = write_inputs(workdir, args)
        jobs = [(stage, precision) for stage in args.stages for precision in args.precisions]
        if 'relight' in args.stages:
            jobs.append(('reference', 'fp32'))
        if args.published_code:
            jobs.append(('published', 'fp32'))
        results = {}
        for stage, precision in jobs:
            results[stage, precision] = time_in_fresh_process(stage, precision, args, vgg_path, workdir, batch)
            print(f'  {stage} {precision}: {results[stage, precision]:.3f} s/iter', flush=True)
    print(f'{"stage":<10}' + ''.join(f' {p + " s/iter":>12}' for p in args.precisions))
    for stage in args.stages:
        print(f'{stage:<10}' + ''.join(f' {results[stage, p]:12.3f}' for p in args.precisions))
    if 'relight' in args.stages:
        reference = results['reference', 'fp32']
        print(f'reference-style relight step (float32): {reference:.3f} s/iter')
        published = results.get(('published', 'fp32'))
        if published is not None:
            print(f'published code\'s relight step (float32): {published:.3f} s/iter')
        print(f"the option files' train: mixed_precision: auto trains in {option_file_precision(args.device)} here")
        for precision in args.precisions:
            seconds = results['relight', precision]
            line = f'  ours, {precision}: {seconds:.3f} s/iter, {reference / seconds:.2f}x faster'
            if published is not None:
                line += f'; {published / seconds:.2f}x faster than the published code'
            print(line)
    return 0


if __name__ == '__main__':
    sys.exit(main())
