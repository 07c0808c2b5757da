"""How much memory enhancing one image needs, how much is available, and whether it fits.

The network's peak grows with the pixel count times its width: measured on the CPU in float32
(peak resident memory of a pass, widths 8 to 32, 192x192 and 384x384 images) about 35 floats
per pixel per channel of width plus about 75 floats per pixel; the estimate below adds a
quarter on top. Half precision is counted as float32 (an over-estimate, not measured
separately). Outside the network: the decoded file, the image as float32 RGB, and
the float32 outputs (the components too where asked for). In a tiled pass the network sees one
tile; the full-size input and blended sums stay on the CPU.
"""
import os

import torch

from r2rnet_plugin.archs.r2r_unet import UNET_MULTIPLE
from r2rnet_plugin.inference.enhancer import MIN_TILE

NET_FLOATS_PER_CHANNEL = 44  # per (padded) pixel and channel of width, margin included
NET_FLOATS_FIXED = 96  # per (padded) pixel, whatever the width
RGB_BYTES = 12  # float32 RGB per pixel
OUTPUT_BYTES = 12 + 12  # enhanced (float32 RGB) and its quantised copies
COMPONENT_BYTES = (3 + 1 + 3 + 1) * 4  # R, L, R_denoised, I_delta in float32
TILE_SUM_BYTES = 4  # the weight sum of a tiled pass, per pixel
USABLE_FRACTION = 0.9  # part of the available memory (RAM or GPU) a pass may plan to use
TILE_CHOICES = tuple(t for t in (2048, 1024, 512, 256, 128, 64, 32) if t >= MIN_TILE)  # suggested, largest first
GIB = 2**30


class MemoryLimitError(ValueError):
    """An image that cannot be decoded or enhanced in the memory available."""


def _padded(length):
    return -(-length // UNET_MULTIPLE) * UNET_MULTIPLE


def network_bytes(height, width, channel):
    """Peak memory of one network pass over a ``height`` x ``width`` window (float32 count)."""
    return _padded(height) * _padded(width) * (NET_FLOATS_PER_CHANNEL * channel + NET_FLOATS_FIXED) * 4


def decode_bytes(info):
    """Memory to decode an image of :class:`~r2rnet_plugin.inference.image_probe.ImageInfo` ``info``:
    the file's bytes, the decoded array (up to four channels) and two float32 RGB copies."""
    return info.file_bytes + info.pixels * (4 * info.sample_bytes + 2 * RGB_BYTES)


def host_bytes(pixels, with_components, tiled):
    """CPU memory outside the network: input RGB, outputs (and the tiled pass's sums)."""
    per_pixel = RGB_BYTES + OUTPUT_BYTES + (COMPONENT_BYTES if with_components else 0)
    return pixels * (per_pixel + (TILE_SUM_BYTES if tiled else 0))


def _cgroup_headroom():
    """Memory the process's cgroup (v2) may still use, or None where unlimited or unknown."""
    try:
        with open('/sys/fs/cgroup/memory.max') as f:
            limit = f.read().strip()
        with open('/sys/fs/cgroup/memory.current') as f:
            used = int(f.read().strip())
    except (OSError, ValueError):
        return None
    return None if limit == 'max' else max(int(limit) - used, 0)


def available_host_memory():
    """Bytes of RAM available to this process now (``MemAvailable``, within the cgroup's limit)."""
    available = None
    try:
        with open('/proc/meminfo') as f:
            for line in f:
                if line.startswith('MemAvailable:'):
                    available = int(line.split()[1]) * 1024
    except (OSError, ValueError, IndexError):
        pass
    if available is None:
        try:
            available = os.sysconf('SC_AVPHYS_PAGES') * os.sysconf('SC_PAGE_SIZE')
        except (ValueError, OSError, AttributeError):
            return None
    headroom = _cgroup_headroom()
    return available if headroom is None else min(available, headroom)


def available_device_memory(device):
    """Bytes free on a CUDA ``device`` (its own free memory plus what torch holds unused); None for the CPU."""
    if device.type != 'cuda':
        return None
    free, _ = torch.cuda.mem_get_info(device)
    return free + torch.cuda.memory_reserved(device) - torch.cuda.memory_allocated(device)


def _gib(n):
    return f'{n / GIB:.1f} GiB'


def _fits(need, available):
    return available is None or need <= USABLE_FRACTION * available


def check_decode(info, host=None):
    """Raise :class:`MemoryLimitError` when decoding ``info``'s image alone would not fit in RAM."""
    host = available_host_memory() if host is None else host
    need = decode_bytes(info)
    if not _fits(need, host):
        raise MemoryLimitError(f'{info.width}x{info.height} pixels: decoding it needs about {_gib(need)} '
                               f'of memory, {_gib(host)} available; refused')


def check_pass(info, channel, device, tile=None, overlap=0, with_components=False):
    """Raise :class:`MemoryLimitError` when enhancing ``info``'s image would not fit in memory.

    Without ``tile`` the message suggests the largest ``--tile`` that would fit (or says none would).
    """
    host, dev = available_host_memory(), available_device_memory(device)

    def fits(tile_size):
        net = network_bytes(
            min(tile_size or info.height, info.height), min(tile_size or info.width, info.width), channel)
        rest = host_bytes(info.pixels, with_components, tiled=tile_size is not None)
        if dev is None:
            return _fits(net + rest, host)
        return _fits(net, dev) and _fits(rest, host)

    if fits(tile):
        return
    where = f'{_gib(host)} of RAM' + ('' if dev is None else f' and {_gib(dev)} on {device}') + ' available'
    size = f'{info.width}x{info.height} pixels'
    if tile is not None:
        smaller = next((t for t in TILE_CHOICES if overlap < t < tile and fits(t)), None)
        hint = f'try --tile {smaller}' if smaller else 'too large for this machine even tiled'
        raise MemoryLimitError(f'{size} with --tile {tile} does not fit in memory ({where}); {hint}')
    suggestion = next((t for t in TILE_CHOICES if t > overlap and fits(t)), None)
    hint = (f'rerun with --tile {suggestion} (tiling changes the output slightly)'
            if suggestion else 'too large for this machine even tiled')
    raise MemoryLimitError(f'{size}: a whole-image pass needs about '
                           f'{_gib(network_bytes(info.height, info.width, channel))} ({where}); {hint}')
