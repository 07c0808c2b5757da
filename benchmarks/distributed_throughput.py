"""Training throughput (images/s) of an R2RNet stage with 1 and 2 processes, and per GPU.

Usage::

    python benchmarks/distributed_throughput.py                  # relight stage, CPU: 1 and 2 processes
    python benchmarks/distributed_throughput.py --channel 64     # the published width (slow on a CPU)
    python benchmarks/distributed_throughput.py --stage decom --procs 1 2 4

Each configuration is a real run of BasicSR's training pipeline on synthetic pairs written to a
temporary folder: ``python -m basicsr.train`` for one process, ``torchrun --standalone
--nproc_per_node=N -m basicsr.train --launcher pytorch`` (DDP) for N > 1, on the CPU with gloo.
The CPU's cores are shared out: each of N processes gets ``cores // N`` threads, so every row
uses the same hardware and the ratio shows what the data-parallel split gains or costs. With
CUDA available, the same is run with one process per GPU (nccl) for 1 GPU and for all of them.

Per-iteration times come from BasicSR's own log (``time (data)`` is a running mean; the times of
single iterations are recovered from consecutive means); the first ``--warmup`` iterations are
dropped. Throughput = world size x batch per process / mean iteration time.
"""
import argparse
import os
import re
import subprocess
import sys
import tempfile

import cv2
import numpy as np
import torch
import yaml

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
MEAN_TIME = re.compile(r'iter:\s*([\d,]+).*?time \(data\): ([\d.]+) \(')


def parse_args(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split('\n\n')[0])
    parser.add_argument('--stage', default='relight', choices=('decom', 'denoise', 'relight', 'joint'))
    parser.add_argument('--channel', type=int, default=16, help='network width (published: 64)')
    parser.add_argument('--size', type=int, default=96, help='crop size (default 96, as published)')
    parser.add_argument('--batch', type=int, default=4, help='batch per process (default 4, as published)')
    parser.add_argument('--iters', type=int, default=12, help='iterations per run (default 12)')
    parser.add_argument('--warmup', type=int, default=3, help='first iterations left out (default 3)')
    parser.add_argument('--procs', type=int, nargs='+', default=[1, 2], help='CPU process counts (default 1 2)')
    parser.add_argument('--no-cpu', action='store_true', help='only the GPU rows')
    parser.add_argument(
        '--precision',
        default='fp32',
        choices=['fp32', 'auto', 'bf16', 'fp16'],
        help="train: mixed_precision (default fp32; the option files say auto)")
    args = parser.parse_args(argv)
    if args.iters <= args.warmup + 1:
        parser.error('--iters must exceed --warmup by at least 2')
    return args


def write_pairs(root, count=16, size=128, seed=0):
    """LOL-layout synthetic pairs: smooth colour fields and darker, noisy copies."""
    rng = np.random.default_rng(seed)
    yy, xx = np.mgrid[0:size, 0:size] / size
    for sub in ('low', 'high'):
        os.makedirs(os.path.join(root, sub), exist_ok=True)
    for i in range(count):
        high = 0.5 + 0.4 * np.sin(
            rng.uniform(2, 9) * xx[..., None] + rng.uniform(2, 9) * yy[..., None] + rng.uniform(0, 6, 3))
        low = 0.15 * high + rng.normal(0, 0.01, high.shape)
        for sub, img in (('high', high), ('low', low)):
            cv2.imwrite(os.path.join(root, sub, f'{i}.png'), (np.clip(img, 0, 1) * 255).round().astype(np.uint8))


def write_weights(workdir, channel):
    """Random-initialised earlier stages and VGG16 features (speed does not depend on values)."""
    from r2rnet_plugin.archs.r2rnet_arch import R2RNet
    from r2rnet_plugin.losses.r2r_perceptual_loss import build_vgg16_features
    net = R2RNet(channel=channel)
    paths = {}
    for name in ('decom', 'denoise'):
        paths[name] = os.path.join(workdir, f'{name}.pth')
        torch.save({'params': getattr(net, name).state_dict()}, paths[name])
    paths['g'] = os.path.join(workdir, 'r2rnet.pth')
    torch.save({'params': net.state_dict()}, paths['g'])
    paths['vgg'] = os.path.join(workdir, 'vgg16.weight')
    torch.save(build_vgg16_features().state_dict(), paths['vgg'])
    return paths


def run_options(args, workdir, weights, name, num_gpu):
    """The project's option file for the stage, on the synthetic pairs, without validation."""
    stage_file = 'relight' if args.stage == 'joint' else args.stage
    with open(os.path.join(REPO, 'options', f'train_r2r_{stage_file}.yml')) as f:
        opt = yaml.safe_load(f)
    opt.update(name=name, num_gpu=num_gpu)
    opt['datasets'] = {
        'train': {
            **opt['datasets']['train'], 'layout': 'lol',
            'dataroot': os.path.join(workdir, 'data'),
            'gt_size': args.size,
            'batch_size_per_gpu': args.batch,
            'num_worker_per_gpu': 0
        }
    }
    opt['datasets']['train'].pop('cameras', None)
    opt.pop('val', None)
    opt['network_g']['channel'] = args.channel
    opt['train'].update(stage=args.stage, total_iter=args.iters, mixed_precision=args.precision)
    opt['train']['scheduler']['milestones'] = [args.iters]
    for key in ('decom_opt', 'perceptual_opt'):
        if key in opt['train']:
            opt['train'][key]['vgg_path'] = weights['vgg']
    opt['path'] = {
        'pretrain_network_decom': weights['decom'],
        'pretrain_network_denoise': weights['denoise'],
        'pretrain_network_g': weights['g'] if args.stage == 'joint' else None,
        'resume_state': None
    }
    opt['logger'] = {'print_freq': 1, 'save_checkpoint_freq': 10**9, 'use_tb_logger': False}
    path = os.path.join(workdir, f'{name}.yml')
    with open(path, 'w') as f:
        yaml.safe_dump(opt, f)
    return path


def iteration_times(log_text):
    """Single-iteration seconds from BasicSR's running means ``time (data): mean``."""
    means = {int(it.replace(',', '')): float(mean) for it, mean in MEAN_TIME.findall(log_text)}
    times = []
    for it in sorted(means):
        if it - 1 in means or it == 1:
            times.append((it, it * means[it] - (it - 1) * means.get(it - 1, 0.0)))
    return times


def threads_per_process(procs):
    """The CPU's cores shared out between ``procs`` processes."""
    return max(1, (os.cpu_count() or 1) // procs)


def measure(args, workdir, weights, procs, device):
    name = f'throughput_{device}_{procs}'
    option_file = run_options(args, workdir, weights, name, num_gpu=0 if device == 'cpu' else 'auto')
    env = dict(os.environ)
    if device == 'cpu':
        env['OMP_NUM_THREADS'] = str(threads_per_process(procs))
        env['CUDA_VISIBLE_DEVICES'] = ''
    if procs == 1:
        command = [sys.executable, '-m', 'basicsr.train', '-opt', option_file]
    else:
        command = [
            sys.executable, '-m', 'torch.distributed.run', '--standalone', f'--nproc_per_node={procs}', '-m',
            'basicsr.train', '-opt', option_file, '--launcher', 'pytorch'
        ]
    result = subprocess.run(command, cwd=workdir, env=env, capture_output=True, text=True)
    if result.returncode != 0:
        raise RuntimeError(f'{" ".join(command)} failed (exit {result.returncode}):\n{result.stderr[-3000:]}')
    logs = [
        os.path.join(workdir, 'experiments', name, f) for f in os.listdir(os.path.join(workdir, 'experiments', name))
        if f.startswith('train_') and f.endswith('.log')
    ]
    with open(max(logs, key=os.path.getmtime)) as f:
        times = [t for it, t in iteration_times(f.read()) if it > args.warmup]
    if not times:
        raise RuntimeError(f'no iteration times found in the log of {name}')
    seconds = sum(times) / len(times)
    return seconds, procs * args.batch / seconds


def main(argv=None):
    args = parse_args(argv)
    configs = [] if args.no_cpu else [('cpu', p) for p in args.procs]
    gpus = torch.cuda.device_count()
    if gpus:
        configs += [('cuda', 1)] + ([('cuda', gpus)] if gpus > 1 else [])
    print(
        f'stage {args.stage} ({args.precision}), width {args.channel}, batch {args.batch} per process, '
        f'crops {args.size}x{args.size}, '
        f'{args.iters} iterations ({args.warmup} warm-up left out); {os.cpu_count()} CPU cores, {gpus} GPU(s); '
        f'torch {torch.__version__}',
        flush=True)
    rows = []
    with tempfile.TemporaryDirectory() as workdir:
        write_pairs(os.path.join(workdir, 'data'))
        weights = write_weights(workdir, args.channel)
        for device, procs in configs:
            seconds, images = measure(args, workdir, weights, procs, device)
            rows.append((device, procs, seconds, images))
            print(f'  {device} x{procs}: {seconds:.3f} s/iter, {images:.2f} images/s', flush=True)
    print(f'\n{"device":<6} {"processes":>9} {"threads/proc":>12} {"s/iter":>8} {"images/s":>9} {"per device":>10} '
          f'{"vs 1 process":>12}')
    fewest = {}  # device -> (processes, images/s) of its run with the fewest processes
    for device, procs, _, images in rows:
        fewest[device] = min(fewest.get(device, (procs, images)), (procs, images))
    for device, procs, seconds, images in rows:
        base = fewest[device][1]
        threads = str(threads_per_process(procs)) if device == 'cpu' else '-'
        per_device = f'{images / procs:.2f}' if device == 'cuda' else '-'
        print(f'{device:<6} {procs:>9} {threads:>12} {seconds:>8.3f} {images:>9.2f} {per_device:>10} '
              f'{images / base:>11.2f}x')
    return 0


if __name__ == '__main__':
    sys.exit(main())
