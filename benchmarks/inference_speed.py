"""R2RNet inference speed on this machine, against its own 3x3-convolution peak, in one run.

Usage::

    python benchmarks/inference_speed.py [--sizes 600x400 1920x1080] [--repeats 3] [--threads N]

The modes of one size run round robin (after ``--warmup`` untimed rounds, each timed round runs
every mode once and measures the peak), so that a change of load on a shared machine hits them
alike. For each image size (width x height) and mode it prints the median seconds per image, the
process CPU seconds per image, the achieved GFLOP/s (the network's convolution MACs x 2 / time;
the MACs are counted with FlopCounterMode on the meta device), that as a percentage of the
peak of the same round, and the speed-ups over oneDNN-only fp32 and over the published
reference's 24.2 s (networks only, 600x400, this CPU with 2 threads; tests/data/README.md).

The peak is the best GFLOP/s of a 3x3 convolution 256 -> 256 channels at 128x128 (oneDNN's
direct algorithm, as ``F.conv2d`` runs it). Modes:

- ``fp32``: the plugin's default CPU inference path (3x3 convolutions by NNPACK's Winograd
  kernels, 1x1 ones as matrix products; :mod:`r2rnet_plugin.ops.fast_conv`). Winograd does
  fewer multiplications than the nominal MACs, so its "achieved GFLOP/s" is nominal and can
  exceed the direct-convolution peak.
- ``fp32-direct``: every convolution by oneDNN (``R2RNET_FAST_CPU_CONV=0``), NCHW.
- ``fp32-direct-cl``: the same in channels_last memory format.
- ``bf16``: weights and activations in bfloat16 (oneDNN), where the CPU has native bf16.

Timings on a shared machine are noisy: compare the rows of one run with each other, and look at
the load averages printed before and after.
"""
import argparse
import os
import resource
import statistics
import sys
import time

import torch
from torch.utils.flop_counter import FlopCounterMode

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from r2rnet_plugin.archs.r2rnet_arch import R2RNet  # noqa: E402
from r2rnet_plugin.ops.allocator import release_freed_memory, reuse_freed_memory  # noqa: E402
from r2rnet_plugin.ops.cpu_features import cpu_supports_bf16  # noqa: E402
from r2rnet_plugin.ops.fast_conv import conv3x3_same, set_fast_cpu_convs  # noqa: E402

REFERENCE_SECONDS = 24.2  # published code, networks only, one 600x400 image, this CPU (2 threads)
REFERENCE_SIZE = (400, 600)
MODES = {  # name: (dtype, channels_last, fast CPU convolutions)
    'fp32': (torch.float32, False, True),
    'fp32-direct': (torch.float32, False, False),
    'fp32-direct-cl': (torch.float32, True, False),
    'bf16': (torch.bfloat16, False, False),
}
LARGE_MODES = ('fp32', 'bf16')  # the slow comparison modes are skipped above 1 megapixel by default


def parse_size(text):
    width, height = (int(v) for v in text.lower().split('x'))
    return height, width


def conv_macs(height, width):
    """Convolution multiply-accumulates of one R2RNet pass over a ``height`` x ``width`` image."""
    with torch.device('meta'):
        model, x = R2RNet().eval(), torch.rand(1, 3, height, width)
    counter = FlopCounterMode(display=False)
    with torch.inference_mode(), counter:
        model(x)
    return counter.get_total_flops() / 2


def best_seconds(fn, repeats):
    fn()
    best = float('inf')
    for _ in range(repeats):
        start = time.perf_counter()
        fn()
        best = min(best, time.perf_counter() - start)
    return best


def conv3x3_gflops(winograd=False, repeats=5):
    """Best GFLOP/s of a 3x3 convolution, 256 -> 256 channels, 128x128, batch 1."""
    x, w, b = torch.rand(1, 256, 128, 128), torch.randn(256, 256, 3, 3) * 0.02, torch.zeros(256)
    previous = set_fast_cpu_convs(winograd)
    try:
        with torch.inference_mode():
            seconds = best_seconds(lambda: conv3x3_same(x, w, b, padding=1), repeats)
    finally:
        set_fast_cpu_convs(previous)
    return 2 * 256 * 256 * 9 * 128 * 128 / seconds / 1e9


def _prepare(mode, height, width):
    dtype, channels_last, _ = MODES[mode]
    memory_format = torch.channels_last if channels_last else torch.contiguous_format
    torch.manual_seed(0)
    model = R2RNet().eval().to(dtype=dtype, memory_format=memory_format)
    x = (torch.rand(1, 3, height, width) * 0.25).to(dtype=dtype, memory_format=memory_format)
    return model, x


def _timed_pass(mode, model, x):
    """(wall seconds, process CPU seconds) of one pass."""
    previous = set_fast_cpu_convs(MODES[mode][2])
    try:
        with torch.inference_mode():
            wall, cpu = time.perf_counter(), time.process_time()
            model(x)
            return time.perf_counter() - wall, time.process_time() - cpu
    finally:
        set_fast_cpu_convs(previous)


def time_modes(modes, height, width, warmup, repeats):
    """Round robin: every round runs each mode once and measures the conv peak, so that a change of
    load on a shared machine hits all modes alike.

    Returns:
        (walls, cpus, peaks): per mode the wall and process-CPU seconds of each timed round, and
        the conv peak (GFLOP/s) of each timed round.
    """
    prepared = {mode: _prepare(mode, height, width) for mode in modes}
    walls = {mode: [] for mode in modes}
    cpus = {mode: [] for mode in modes}
    peaks = []
    for i in range(warmup + repeats):
        if i >= warmup:
            peaks.append(conv3x3_gflops(repeats=3))
        for mode in modes:
            wall, cpu = _timed_pass(mode, *prepared[mode])
            if i >= warmup:
                walls[mode].append(wall)
                cpus[mode].append(cpu)
                print(
                    f'  {height}x{width} round {i - warmup + 1} {mode}: {wall:.2f} s '
                    f'(CPU {cpu:.1f} s, peak this round {peaks[-1]:.0f} GFLOP/s)',
                    flush=True)
    return walls, cpus, peaks


def parse_args(argv):
    parser = argparse.ArgumentParser(description=__doc__.split('\n\n')[0])
    parser.add_argument('--sizes', nargs='+', default=['600x400', '1920x1080'], help='WIDTHxHEIGHT')
    parser.add_argument(
        '--modes',
        nargs='+',
        choices=sorted(MODES),
        help=f'default: all at 600x400, '
        f'{", ".join(LARGE_MODES)} above one megapixel (bf16 only with native CPU support)')
    parser.add_argument('--warmup', type=int, default=1, help='untimed rounds first')
    parser.add_argument('--repeats', type=int, default=3, help='timed rounds (medians are reported)')
    parser.add_argument('--large-repeats', type=int, default=1, help='timed rounds above one megapixel')
    parser.add_argument('--threads', type=int, default=os.cpu_count(), help='torch threads (default: all cores)')
    parser.add_argument(
        '--return-freed-memory',
        action='store_true',
        help="leave glibc's malloc as it is (default: reuse_freed_memory(), as the enhance command)")
    return parser.parse_args(argv)


def main(argv=None):
    args = parse_args(argv)
    torch.set_num_threads(args.threads)
    reused = reuse_freed_memory() if not args.return_freed_memory else False
    bf16 = cpu_supports_bf16()
    print(f'torch {torch.__version__}, {torch.get_num_threads()} threads, CPU capability '
          f'{torch.backends.cpu.get_cpu_capability()}, oneDNN {torch.backends.mkldnn.is_available()}, '
          f'native bf16 {bf16}, freed memory reused {reused}; load average {os.getloadavg()[0]:.2f}')
    print(f'3x3 conv 256->256 @128x128: direct (oneDNN) {conv3x3_gflops():.1f} GFLOP/s; '
          f'Winograd (NNPACK) {conv3x3_gflops(winograd=True):.1f} nominal GFLOP/s')

    table = []
    for size in args.sizes:
        height, width = parse_size(size)
        macs = conv_macs(height, width)
        large = height * width > 1e6
        modes = [m for m in (args.modes or MODES) if args.modes or not large or m in LARGE_MODES]
        modes = [m for m in modes if MODES[m][0] != torch.bfloat16 or bf16 or args.modes]
        walls, cpus, peaks = time_modes(modes, height, width, args.warmup,
                                        args.large_repeats if large else args.repeats)
        peak_rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 2**20
        print(f'  process peak RSS so far {peak_rss:.1f} GiB', flush=True)
        release_freed_memory()
        for mode in modes:
            ratios = [2 * macs / wall / 1e9 / peak for wall, peak in zip(walls[mode], peaks)]
            table.append((size, mode, macs, statistics.median(walls[mode]), statistics.median(cpus[mode]),
                          statistics.median(peaks), statistics.median(ratios)))

    print(f'\nload average now {os.getloadavg()[0]:.2f}. Medians over the rounds; peak = the 3x3 conv '
          f'peak measured in each round; % peak = median over rounds of achieved / that round\'s peak.')
    print(f"{'size':>10} {'mode':>15} {'TMAC':>6} {'s/image':>8} {'CPU s':>7} {'GFLOP/s':>8} {'peak':>6} "
          f"{'% peak':>7} {'vs fp32-direct':>15} {'vs ref 24.2 s':>14}")
    direct = {size: wall for size, mode, _, wall, *_ in table if mode == 'fp32-direct'}
    for size, mode, macs, wall, cpu, peak, ratio in table:
        versus_direct = f'{direct[size] / wall:.2f}x' if size in direct else '-'
        versus_ref = f'{REFERENCE_SECONDS / wall:.2f}x' if parse_size(size) == REFERENCE_SIZE else '-'
        print(f'{size:>10} {mode:>15} {macs / 1e12:6.2f} {wall:8.2f} {cpu:7.2f} {2 * macs / wall / 1e9:8.1f} '
              f'{peak:6.0f} {100 * ratio:6.0f}% {versus_direct:>15} {versus_ref:>14}')
    return 0


if __name__ == '__main__':
    sys.exit(main())
