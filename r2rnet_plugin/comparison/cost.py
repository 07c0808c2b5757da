"""What a method costs at one input size: parameters, MACs, latency and peak memory.

- MACs: ``torch.utils.flop_counter`` counts the convolutions and matrix products of one forward
  pass (FLOPs / 2). Element-wise operations, FFTs, and work outside torch (OpenCV) count 0.
- Latency: ``warmup`` untimed passes, then the median wall time of ``repeats`` passes, with the
  device synchronised around each.
- Peak memory: CUDA: ``torch.cuda.max_memory_allocated`` above what was allocated before the
  pass. CPU: the peak resident set size (sampled every ~0.5 ms from /proc or psutil) above the
  level before the pass, after freed heap memory was returned to the system; approximate.
"""
import ctypes
import ctypes.util
import gc
import math
import os
import resource
import statistics
import threading
import time
from dataclasses import dataclass, field

import torch
from torch.utils.flop_counter import FlopCounterMode

from r2rnet_plugin.comparison.device import synchronize
from r2rnet_plugin.utils.torch_helpers import count_parameters

MIB = 1024 * 1024


@dataclass
class Cost:
    """The cost columns of one method (NaN where not measured)."""
    params: int = 0
    macs: float = math.nan
    latency_ms: float = math.nan
    peak_memory_mb: float = math.nan
    notes: list = field(default_factory=list)


def count_macs(net, x):
    """Multiply-accumulates of ``net(x)``: the convolution and matrix-product FLOPs / 2."""
    counter = FlopCounterMode(display=False)
    with torch.no_grad(), counter:
        net(x)
    return counter.get_total_flops() / 2


def measure_latency(net, x, warmup, repeats):
    """Median milliseconds of ``net(x)`` over ``repeats`` timed passes after ``warmup`` passes."""
    times = []
    with torch.no_grad():
        for i in range(warmup + repeats):
            synchronize(x.device)
            start = time.perf_counter()
            net(x)
            synchronize(x.device)
            if i >= warmup:
                times.append((time.perf_counter() - start) * 1000)
    return statistics.median(times)


def _rss_reader():
    """A function returning this process's resident set size in bytes, or None where unknown."""
    try:
        import psutil
        process = psutil.Process()
        return lambda: process.memory_info().rss
    except ImportError:
        pass
    if os.path.exists('/proc/self/statm'):
        page = os.sysconf('SC_PAGE_SIZE')

        def read():
            with open('/proc/self/statm', 'rb') as f:
                return int(f.read().split()[1]) * page

        return read
    return None


def _release_free_memory():
    """Collect garbage and give freed heap pages back (glibc ``malloc_trim``), for a fair baseline."""
    gc.collect()
    libc_name = ctypes.util.find_library('c')
    if libc_name:
        trim = getattr(ctypes.CDLL(libc_name), 'malloc_trim', None)
        if trim is not None:
            trim(0)


class _PeakSampler(threading.Thread):
    """Samples the RSS in the background until stopped; ``peak`` holds the highest value seen."""

    def __init__(self, read, interval=0.0005):
        super().__init__(daemon=True)
        self.read, self.interval = read, interval
        self.peak = read()
        self._stop_event = threading.Event()

    def run(self):
        while not self._stop_event.is_set():
            self.peak = max(self.peak, self.read())
            time.sleep(self.interval)

    def stop(self):
        self._stop_event.set()
        self.join()
        self.peak = max(self.peak, self.read())


def measure_peak_memory(net, x):
    """Peak extra memory (MiB) of one ``net(x)``; returns ``(value, note)``."""
    if x.device.type == 'cuda':
        synchronize(x.device)
        torch.cuda.empty_cache()
        torch.cuda.reset_peak_memory_stats(x.device)
        base = torch.cuda.memory_allocated(x.device)
        with torch.no_grad():
            net(x)
        synchronize(x.device)
        return (torch.cuda.max_memory_allocated(x.device) - base) / MIB, None
    read = _rss_reader()
    _release_free_memory()
    if read is None:  # no /proc, no psutil: the process high-water mark only grows
        base = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
        with torch.no_grad():
            net(x)
        delta = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - base
        return delta / 1024, 'CPU memory from the process high-water mark (ru_maxrss): a lower bound'
    base = read()
    sampler = _PeakSampler(read)
    sampler.start()
    try:
        with torch.no_grad():
            net(x)
    finally:
        sampler.stop()
    return max(0, sampler.peak - base) / MIB, None


def measure_cost(net, device, dtype, size, warmup, repeats, seed=0):
    """All the cost columns of ``net`` (on ``device`` in ``dtype``) for one ``[1, 3, *size]`` input.

    The input is random low-light-like data (uniform in [0, 0.25]). A measurement that fails
    is NaN with a note; the others are still made.
    """
    generator = torch.Generator().manual_seed(seed)
    x = (torch.rand(1, 3, *size, generator=generator) * 0.25).to(device=device, dtype=dtype)
    cost = Cost(params=count_parameters(net))
    steps = (('macs', lambda: count_macs(net, x)), ('peak_memory_mb', lambda: measure_peak_memory(net, x)),
             ('latency_ms', lambda: measure_latency(net, x, warmup, repeats)))
    for name, step in steps:
        try:
            value = step()
        except Exception as err:  # one failed measurement must not hide the others
            cost.notes.append(f'{name} not measured: {type(err).__name__}: {err}')
            continue
        if isinstance(value, tuple):
            value, note = value
            cost.notes += [note] if note else []
        setattr(cost, name, float(value))
    return cost
