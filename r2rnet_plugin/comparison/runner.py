"""Run every method of a benchmark on the same images of every dataset and collect its rows.

A method that cannot be built, whose weights do not fit, that fails on an image or whose cost
cannot be measured gets ``status: error`` and the reason (a failure on one dataset leaves its
other datasets' rows); the other methods still run. A cost column that comes out NaN makes the
method ``incomplete``, with the reason. Each finished method is handed to a callback at once
(the command writes the reports then). Every method is built after seeding the random
generators with ``seed``, so randomly initialised networks are the same from run to run.
"""
import math
import os
import random
from collections import OrderedDict
from dataclasses import dataclass, field

import numpy as np
import torch
from tqdm import tqdm

from basicsr.utils.registry import DATASET_REGISTRY
from r2rnet_plugin.comparison.config import BenchmarkConfigError
from r2rnet_plugin.comparison.cost import Cost, measure_cost
from r2rnet_plugin.comparison.device import describe_device
from r2rnet_plugin.comparison.llie_archs import arch_class
from r2rnet_plugin.comparison.methods import MethodLoadError, build_network
from r2rnet_plugin.comparison.padding import PaddedNetwork
from r2rnet_plugin.comparison.quality import image_quality, metric_names
from r2rnet_plugin.utils.torch_helpers import PRECISION_DTYPES, resolve_device

SSIM_WINDOW = 11  # BasicSR's SSIM: an 11x11 Gaussian window, valid part only
COST_COLUMNS = ('macs', 'latency_ms', 'peak_memory_mb')


@dataclass
class DatasetScores:
    """A method's mean measures on one dataset, per image too, and what went wrong there."""
    quality: dict
    status: str = 'ok'  # 'ok' or 'error'
    error: str = None
    notes: list = field(default_factory=list)
    per_image: list = field(default_factory=list)  # [{'key': ..., measure: value, ...}]


@dataclass
class MethodResult:
    """One method: its cost, its scores per dataset, and what went wrong."""
    name: str
    arch: str
    weights: str
    status: str = 'ok'  # 'ok', 'incomplete' (a cost column is NaN) or 'error'
    error: str = None
    notes: list = field(default_factory=list)
    cost: Cost = field(default_factory=Cost)
    scores: OrderedDict = field(default_factory=OrderedDict)  # dataset name -> DatasetScores

    def fail(self, reason, status='error'):
        self.status, self.error = status, reason
        return self

    def outcome(self, dataset):
        """``(status, error)`` of this method's row in the table of ``dataset``."""
        scores = self.scores.get(dataset)
        if scores is not None and scores.status != 'ok':
            return scores.status, scores.error
        return self.status, self.error

    @property
    def ok(self):
        return self.status == 'ok' and all(s.status == 'ok' for s in self.scores.values())


@dataclass
class CropSheet:
    """The same crop of the first images from the input, the ground truth and every method."""
    keys: list = field(default_factory=list)
    boxes: list = field(default_factory=list)  # (top, left, side)
    inputs: list = field(default_factory=list)  # uint8 RGB (side, side, 3)
    gts: list = field(default_factory=list)  # empty without ground truth
    methods: OrderedDict = field(default_factory=OrderedDict)  # name -> [crop or None per image]


@dataclass
class DatasetResult:
    """One dataset of the run: with ground truth (``paired``) or not, its images and crop sheet."""
    name: str
    paired: bool
    image_keys: list
    sheet: CropSheet

    @property
    def measures(self):
        return metric_names(self.paired)


@dataclass
class BenchmarkResult:
    name: str
    datasets: list  # DatasetResult
    device: str
    precision: str
    cost_size: tuple
    warmup: int
    repeats: int
    seed: int
    loe_side: int
    methods: list


def build_dataset(dataset_opt):
    """A benchmark dataset (``type`` from DATASET_REGISTRY, ``phase: test``)."""
    dataset_type = dataset_opt['type']
    if dataset_type not in DATASET_REGISTRY:
        raise ValueError(f'dataset {dataset_opt["name"]!r}: unknown type {dataset_type!r}')
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


def seed_everything(seed):
    """Seed Python's, NumPy's and torch's generators (random initialisation of a network)."""
    random.seed(seed)
    np.random.seed(seed)
    torch.manual_seed(seed)


class _Images:
    """One dataset of the run: the BasicSR dataset, how many of its images, their keys."""

    def __init__(self, opt, max_images, crop_border):
        self.name = opt['name']
        try:
            self.dataset = build_dataset(opt)
            self.count = min(len(self.dataset), max_images or len(self.dataset))
        except (BenchmarkConfigError, ValueError):
            raise
        except Exception as err:  # a folder that does not exist, an unreadable meta file, ...
            raise ValueError(f'dataset {self.name!r} could not be read: {type(err).__name__}: {err}') from err
        if self.count == 0:
            raise ValueError(f'dataset {self.name!r}: no images found')
        self.keys, self.paired = [], None
        for index in range(self.count):
            data = self[index]
            self.keys.append(_image_key(data, index))
            self.paired = 'gt' in data if self.paired is None else self.paired
            if self.paired:
                check_crop_border(crop_border, data['gt'].shape[-2:], self.keys[-1])

    def __getitem__(self, index):
        try:
            return self.dataset[index]
        except Exception as err:
            raise ValueError(f'dataset {self.name!r}: image {index} could not be read: '
                             f'{type(err).__name__}: {err}') from err


class BenchmarkRunner:
    """Runs a :class:`~r2rnet_plugin.comparison.config.BenchmarkConfig`.

    Args:
        config (BenchmarkConfig): the checked options.
        progress (bool): show a tqdm progress bar (on stderr).
    """

    def __init__(self, config, progress=True):
        self.config = config
        self.progress = progress
        for i, spec in enumerate(config.methods):  # unknown archs stop everything before any work
            arch_class(spec.arch, f'methods[{i}] ({spec.name})')
        self.device = resolve_device(config.device, "option 'device'")
        self.dtype = PRECISION_DTYPES[config.precision]
        self.images = [_Images(opt, config.max_images, config.crop_border) for opt in config.datasets]

    def run(self, on_row=None):
        """Every method on every image of every dataset; returns a :class:`BenchmarkResult`.

        Args:
            on_row (callable, optional): Called with the :class:`BenchmarkResult` of the methods
                finished so far, after each method.
        """
        config = self.config
        datasets = [
            DatasetResult(images.name, images.paired, images.keys, self._sheet(images)) for images in self.images
        ]
        result = BenchmarkResult(config.name, datasets, describe_device(self.device), config.precision,
                                 tuple(config.cost_size), config.warmup, config.repeats, config.seed, config.loe_side,
                                 [])
        total = sum(images.count for images in self.images) * len(config.methods)
        bar = tqdm(total=total, unit='image', desc='benchmark', disable=not self.progress, dynamic_ncols=True)
        with bar:
            for spec in config.methods:
                bar.set_postfix_str(spec.name)
                result.methods.append(self._run_method(spec, datasets, bar))
                if on_row is not None:
                    on_row(result)
        return result

    def _sheet(self, images):
        sheet = CropSheet()
        for i in range(min(self.config.sheet_images, images.count)):
            data = images[i]
            box = _centre_box(*data['lq'].shape[-2:], self.config.sheet_crop)
            sheet.keys.append(images.keys[i])
            sheet.boxes.append(box)
            sheet.inputs.append(_crop(data['lq'], box))
            if images.paired:
                sheet.gts.append(_crop(data['gt'], box))
        return sheet

    def _run_method(self, spec, datasets, bar):
        row = MethodResult(spec.name, spec.arch, spec.describe_weights())
        remaining = sum(images.count for images in self.images)
        for dataset in datasets:  # a method that fails still has its (failed) column in the sheets
            dataset.sheet.methods.setdefault(spec.name, [None] * len(dataset.sheet.keys))
        seed_everything(self.config.seed)
        try:
            net, notes = build_network(spec)
            if spec.pad_to and spec.pad_to > 1:
                net = PaddedNetwork(net, spec.pad_to, spec.pad_mode)
                notes.append(f'inputs padded ({spec.pad_mode}) to a multiple of {spec.pad_to}, output cropped back')
            net = net.to(device=self.device, dtype=self.dtype)
        except MethodLoadError as err:
            return _abandon(row.fail(str(err)), bar, remaining)
        except Exception as err:  # a method failing must not stop the benchmark
            return _abandon(row.fail(f'could not be built: {type(err).__name__}: {err}'), bar, remaining)
        row.notes += notes
        for images, dataset in zip(self.images, datasets):
            row.scores[images.name] = self._run_dataset(net, images, dataset.sheet, spec.name, bar)
        try:
            row.cost = measure_cost(net, self.device, self.dtype, self.config.cost_size, self.config.warmup,
                                    self.config.repeats, self.config.seed)
        except Exception as err:  # e.g. out of memory at cost_size: the quality is kept
            return row.fail(f'cost measurement failed: {type(err).__name__}: {err}')
        row.notes += row.cost.notes
        missing = [name for name in COST_COLUMNS if math.isnan(getattr(row.cost, name))]
        if missing:
            height, width = self.config.cost_size
            row.fail(
                f'{", ".join(missing)} not measured at cost_size {height}x{width} (see the notes)', status='incomplete')
        del net
        if self.device.type == 'cuda':
            torch.cuda.empty_cache()
        return row

    def _run_dataset(self, net, images, sheet, name, bar):
        scores = DatasetScores(OrderedDict((measure, math.nan) for measure in metric_names(images.paired)))
        crops = sheet.methods[name]
        for index, key in enumerate(images.keys):
            try:
                self._run_image(net, images, index, key, scores, crops, sheet)
            except Exception as err:
                scores.status, scores.error = 'error', f'failed on image {key}: {type(err).__name__}: {err}'
                return _abandon(scores, bar, images.count - index)
            bar.update(1)
        scores.quality = OrderedDict(
            (measure, _mean([img[measure] for img in scores.per_image])) for measure in metric_names(images.paired))
        measured = sum(math.isfinite(img['niqe']) for img in scores.per_image)
        if 0 < measured < len(scores.per_image):
            scores.notes.append(f'NIQE: the mean of the {measured} of {len(scores.per_image)} images it could measure')
        return scores

    def _run_image(self, net, images, index, key, scores, crops, sheet):
        data, config = images[index], self.config
        with torch.no_grad():
            out = net(data['lq'][None].to(device=self.device, dtype=self.dtype))
        out = out[0].float().cpu()
        if out.shape != data['lq'].shape:
            raise ValueError(f'output shape {tuple(out.shape)} differs from the image\'s {tuple(data["lq"].shape)}')
        if not torch.isfinite(out).all():
            raise ValueError('output has non-finite values (NaN or inf)')
        values, notes = image_quality(out, data.get('gt'), config.crop_border, config.niqe, data['lq'],
                                      config.loe_side if config.loe else None)
        scores.per_image.append(OrderedDict(key=key, **values))
        scores.notes += [note for note in notes if note not in scores.notes]  # NIQE notes repeat per image
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
    """The failed ``row`` (or scores), with the progress bar moved past the images it will not run."""
    bar.update(remaining)
    return row


def _mean(values):
    finite = [v for v in values if not math.isnan(v)]
    return float(np.mean(finite)) if finite else math.nan


def run_benchmark(config, progress=True):
    """Run ``config``; see :class:`BenchmarkRunner`."""
    return BenchmarkRunner(config, progress).run()
