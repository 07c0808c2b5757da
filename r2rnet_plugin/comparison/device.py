"""Device and precision of a benchmark run, and how to name them in a report."""
import os
import platform

import torch


def _cpu_model():
    try:
        with open('/proc/cpuinfo', encoding='utf-8') as f:
            for line in f:
                if line.startswith('model name'):
                    return line.split(':', 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def describe_device(device):
    """E.g. ``'cpu (Intel Xeon ..., 2 torch threads)'`` or ``'cuda:0 (NVIDIA H100 80GB HBM3)'``."""
    if device.type == 'cuda':
        index = device.index if device.index is not None else torch.cuda.current_device()
        return f'cuda:{index} ({torch.cuda.get_device_name(index)})'
    return f'cpu ({_cpu_model()}, {torch.get_num_threads()} torch threads of {os.cpu_count()} cores)'


def synchronize(device):
    """Wait for queued work on ``device`` (a no-op on the CPU), so that timings are true."""
    if device.type == 'cuda':
        torch.cuda.synchronize(device)
