"""Run every method of a benchmark on the same images and collect its row.

A method that cannot be built, whose weights do not fit, that fails on an image or whose cost
cannot be measured gets a row with ``status: error`` and the reason; the other methods still
run. Each finished row is handed to a callback at once (the command writes the reports then).
"""
import math
import os
from collections import OrderedDict
from dataclasses import dataclass, field

import numpy as np
import torch
from tqdm import tqdm

from basicsr.utils.registry import DATASET_REGISTRY
from r2rnet_plugin.benchmarking.config import BenchmarkConfigError
from r2rnet_plugin.benchmarking.cost import Cost, measure_cost
from r2rnet_plugin.benchmarking.device import describe_device, precision_dtype, resolve_device
from r2rnet_plugin.benchmarking.llie_archs import arch_class
from r2rnet_plugin.benchmarking.methods import MethodLoadError, build_network
from r2rnet_plugin.benchmarking.quality import METRIC_NAMES, image_quality


SSIM_WINDOW = 11  # BasicSR's SSIM: an 11x11 Gaussian window, valid part only


@dataclass
class MethodResult:
    """One row: a method's mean quality over the images, its cost, and what went wrong."""
    name: str
    arch: str
    weights: str
    status: str = 'ok'  # 'ok' or 'error'
    error: str = None
    notes: list = field(default_factory=list)
    cost: Cost = field(default_factory=Cost)
    quality: dict = field(default_factory=lambda: {name: math.nan for name in METRIC_NAMES})
    per_image: list = field(default_factory=list)  # [{'key': ..., metric: value, ...}]

    def fail(self, reason):
        self.status, self.error = 'error', reason
        return self


@dataclass
class CropSheet:
    """The same crop of the first images from the input, the ground truth and every method."""
    keys: list = field(default_factory=list)
    boxes: list = field(default_factory=list)  # (top, left, side)
    inputs: list = field(default_factory=list)  # uint8 RGB (side, side, 3)
    gts: list = field(default_factory=list)
    methods: OrderedDict = field(default_factory=OrderedDict)  # name -> [crop or None per image]


@dataclass
class BenchmarkResult:
    name: str
    dataset: str
    image_keys: list
    device: str
    precision: str
    cost_size: tuple
    warmup: int
    repeats: int
    methods: list
    sheet: CropSheet


def build_dataset(dataset_opt):
    """The benchmark's dataset (``type`` from DATASET_REGISTRY, ``phase: test``)."""
    dataset_type = dataset_opt['type']
    if dataset_type not in DATASET_REGISTRY:
        raise ValueError(f'dataset: unknown type {dataset_type!r}')
    return DATASET_REGISTRY.get(dataset_type)(dict(dataset_opt))


def _image_key(data, index):
    if 'key' in data:
        return str(data['key'])
    return os.path.splitext(os.path.basename(str(data.get('lq_path', index))))[0]


def _to_uint8(img):
    """``[3, H, W]`` float tensor in [0, 1] -> ``(H, W, 3)`` uint8 RGB array."""
    return (img.float().clamp(0, 1) * 255).round().to(torch.uint8).permute(1, 2, 0).numpy()


def _crop(img, box):
    top, left, side = box
    return _to_uint8(img[:, top:top + side, left:left + side])


def _centre_box(height, width, side):
    side = min(side, height, width)
    return (height - side) // 2, (width - side) // 2, side


class BenchmarkRunner:
    """Runs a :class:`~r2rnet_plugin.benchmarking.config.BenchmarkConfig`.

    Args:
        config (BenchmarkConfig): the checked options.
        progress (bool): show a tqdm progress bar (on stderr).
    """

    def __init__(self, config, progress=True):
        self.config = config
        self.progress = progress
        for i, spec in enumerate(config.methods):  # unknown archs stop everything before any work
            arch_class(spec.arch, f'methods[{i}] ({spec.name})')
        self.device = resolve_device(config.device)
        self.dtype = precision_dtype(config.precision)
        self.dataset = build_dataset(config.dataset)
        self.count = min(len(self.dataset), config.max_images or len(self.dataset))
        if self.count == 0:
            raise ValueError('dataset: no image pairs found')
        self.keys = []
        for index in range(self.count):
            data = self.dataset[index]
            self.keys.append(_image_key(data, index))
            check_crop_border(config.crop_border, data['gt'].shape[-2:], self.keys[-1])

    def run(self, on_row=None):
        """Every method on every image; returns a :class:`BenchmarkResult`.

        Args:
            on_row (callable, optional): Called with the :class:`BenchmarkResult` of the rows
                finished so far, after each method.
        """
        config = self.config
        sheet = self._sheet()
        result = BenchmarkResult(config.name, config.dataset['name'], self.keys, describe_device(self.device),
                                 config.precision, tuple(config.cost_size), config.warmup, config.repeats,
                                 [], sheet)
        bar = tqdm(total=self.count * len(config.methods), unit='image', desc='benchmark',
                   disable=not self.progress, dynamic_ncols=True)
        with bar:
            for spec in config.methods:
                bar.set_postfix_str(spec.name)
                result.methods.append(self._run_method(spec, sheet, self.keys, bar))
                if on_row is not None:
                    on_row(result)
        return result

    def _sheet(self):
        sheet = CropSheet()
        for i in range(min(self.config.sheet_images, self.count)):
            data = self.dataset[i]
            box = _centre_box(*data['gt'].shape[-2:], self.config.sheet_crop)
            sheet.keys.append(_image_key(data, i))
            sheet.boxes.append(box)
            sheet.inputs.append(_crop(data['lq'], box))
            sheet.gts.append(_crop(data['gt'], box))
        return sheet

    def _run_method(self, spec, sheet, keys, bar):
        row = MethodResult(spec.name, spec.arch, spec.describe_weights())
        crops = sheet.methods.setdefault(spec.name, [None] * len(sheet.keys))
        try:
            net, notes = build_network(spec)
            net = net.to(device=self.device, dtype=self.dtype)
        except MethodLoadError as err:
            return _abandon(row.fail(str(err)), bar, self.count)
        except Exception as err:  # a method failing must not stop the benchmark
            return _abandon(row.fail(f'could not be built: {type(err).__name__}: {err}'), bar, self.count)
        row.notes += notes
        for index, key in enumerate(keys):
            try:
                self._run_image(net, index, key, row, crops, sheet)
            except Exception as err:
                return _abandon(row.fail(f'failed on image {key}: {type(err).__name__}: {err}'), bar,
                                self.count - index)
            bar.update(1)
        row.quality = OrderedDict((name, _mean([img[name] for img in row.per_image])) for name in METRIC_NAMES)
        try:
            row.cost = measure_cost(net, self.device, self.dtype, self.config.cost_size, self.config.warmup,
                                    self.config.repeats)
        except Exception as err:  # e.g. out of memory at cost_size: the quality is kept
            return row.fail(f'cost measurement failed: {type(err).__name__}: {err}')
        row.notes += row.cost.notes
        del net
        if self.device.type == 'cuda':
            torch.cuda.empty_cache()
        return row

    def _run_image(self, net, index, key, row, crops, sheet):
        data = self.dataset[index]
        with torch.no_grad():
            out = net(data['lq'][None].to(device=self.device, dtype=self.dtype))
        out = out[0].float().cpu()
        if out.shape != data['gt'].shape:
            raise ValueError(f'output shape {tuple(out.shape)} differs from the image\'s {tuple(data["gt"].shape)}')
        if not torch.isfinite(out).all():
            raise ValueError('output has non-finite values (NaN or inf)')
        values, notes = image_quality(out, data['gt'], self.config.crop_border, self.config.niqe)
        row.per_image.append(OrderedDict(key=key, **values))
        row.notes += [note for note in notes if note not in row.notes]  # NIQE notes repeat per image
        if index < len(sheet.keys):
            crops[index] = _crop(out, sheet.boxes[index])


def check_crop_border(crop_border, size, key):
    """Refuse a ``metrics: crop_border`` that leaves no SSIM window in an image of ``size`` (H, W).

    Raises:
        BenchmarkConfigError: naming ``crop_border``, its value, the image and its size.
    """
    height, width = (int(side) for side in size)
    if crop_border and min(height, width) - 2 * crop_border < SSIM_WINDOW:
        largest = max((min(height, width) - SSIM_WINDOW) // 2, 0)
        raise BenchmarkConfigError(
            f"option 'metrics: crop_border' is {crop_border} but image {key!r} is {width}x{height} (WxH): "
            f'cropping {crop_border} pixels from each border leaves less than the {SSIM_WINDOW}x{SSIM_WINDOW} '
            f'SSIM window; use at most {largest}')


def _abandon(row, bar, remaining):
    """The failed ``row``, with the progress bar moved past the images it will not run."""
    bar.update(remaining)
    return row


def _mean(values):
    finite = [v for v in values if not math.isnan(v)]
    return float(np.mean(finite)) if finite else math.nan


def run_benchmark(config, progress=True):
    """Run ``config``; see :class:`BenchmarkRunner`."""
    return BenchmarkRunner(config, progress).run()
