"""The benchmark's YAML options, read and checked before anything runs.

Schema (every key but ``dataset`` (or ``datasets``) and ``methods`` is optional)::

    name: lol_demo                 # results go to results/benchmark/<name> (default: file stem);
                                   # a plain folder name: no /, \\, '..', control characters
    plugins: [my_package.archs, path/to/my_archs.py]  # modules (names or files) to import first
    dataset:                       # dataset options (phase is forced to 'test')
      name: LOL_eval15
      type: LLIEPairedDataset      # default; any registered dataset giving lq (and gt)
      layout: lol
      dataroot: datasets/LOL/eval15
      io_backend: {type: disk}
    # or several: datasets: [{name: LOL, ...}, {name: DICM, dataroot_lq: datasets/DICM}]
    # A dataset with dataroot_lq only (no dataroot_gt, dataroot or layout) is a folder of
    # low-light photos without ground truth: type SingleImageDataset, no-reference measures.
    max_images: ~                  # only the first N images of each dataset
    seed: 0                        # seeds random initialisation (methods without weights)
    device: auto                   # cpu | cuda | auto
    precision: fp32                # fp32 | bf16 | fp16 (network and input cast to it)
    cost_size: [256, 256]          # H, W of the random input for MACs, latency and memory
    warmup: 3                      # untimed runs before the timed ones
    repeats: 10                    # timed runs; the latency is their median
    metrics: {crop_border: 0, niqe: true, loe: true, loe_side: 50}
    sheet: {images: 2, crop: 128}  # images in the crop sheet and the crop side in pixels
    methods:
      - name: R2RNet (official)    # default: the network type
        network: {type: R2RNet, channel: 64}
        weights: [Decom/20.tar, Denoise/20.tar, Relight/20.tar]
        # weights: null (no weights), a BasicSR file {'params'|'params_ema': state_dict}, for
        # R2RNet the three official checkpoints as a list or {decom:, denoise:, relight:}, for
        # R2RPluginRetinexNet the PyTorch port's two as {decom:, relight:} (ckpts/Decom/9200.tar, ...)
        param_key: ~               # default: params_ema where the file has it, else params; or name one
        strict: true               # false: load the tensors that fit, note the others
        pad_to: ~                  # N: pad inputs to a multiple of N, crop the output back
        pad_mode: replicate        # replicate | reflect

The network width (``channel``) is read from the weights file when not given.
"""
import os
from dataclasses import dataclass, field

import yaml

from r2rnet_plugin.utils.option_checks import OptionError, check_bool, check_choice, check_int

DEVICES = ('cpu', 'cuda', 'auto')
PRECISIONS = ('fp32', 'bf16', 'fp16')
TOP_KEYS = ('name', 'plugins', 'dataset', 'datasets', 'max_images', 'seed', 'device', 'precision', 'cost_size',
            'warmup', 'repeats', 'metrics', 'sheet', 'methods')
METHOD_KEYS = ('name', 'network', 'weights', 'param_key', 'strict', 'pad_to', 'pad_mode')
METRIC_KEYS = ('crop_border', 'niqe', 'loe', 'loe_side')
PAD_MODES = ('replicate', 'reflect')
PAIRED_SOURCE_KEYS = ('dataroot_gt', 'dataroot', 'layout')  # any of them: a paired dataset
SHEET_KEYS = ('images', 'crop')
OFFICIAL_STAGES = ('decom', 'denoise', 'relight')


class BenchmarkConfigError(ValueError):
    """The benchmark options are wrong; the message names the option."""


@dataclass
class MethodSpec:
    """One entry of ``methods:``."""
    name: str
    network: dict
    weights: object = None  # None, a path, or published checkpoints {stage: path} (R2RNet 3, RetinexNet 2)
    param_key: str = None
    strict: bool = True
    pad_to: int = None
    pad_mode: str = 'replicate'

    @property
    def arch(self):
        return self.network['type']

    def describe_weights(self):
        if self.weights is None:
            return 'none'
        if isinstance(self.weights, dict):
            return 'official: ' + ', '.join(f'{k}={v}' for k, v in self.weights.items())
        return str(self.weights)

    def weight_files(self):
        """Every file named by ``weights``."""
        if self.weights is None:
            return []
        return list(self.weights.values()) if isinstance(self.weights, dict) else [self.weights]


@dataclass
class BenchmarkConfig:
    """The checked options; see the module doc for their meaning."""
    name: str
    datasets: list  # dataset option dicts, each with a unique 'name'
    methods: list
    plugins: list = field(default_factory=list)
    max_images: int = None
    seed: int = 0
    device: str = 'auto'
    precision: str = 'fp32'
    cost_size: tuple = (256, 256)
    warmup: int = 3
    repeats: int = 10
    crop_border: int = 0
    niqe: bool = True
    loe: bool = True
    loe_side: int = 50
    sheet_images: int = 2
    sheet_crop: int = 128


def load_config(path):
    """Read and check a benchmark YAML file; the default name is the file's stem."""
    if not os.path.isfile(path):
        raise BenchmarkConfigError(f'option file {path} does not exist')
    with open(path, encoding='utf-8') as f:
        try:
            opt = yaml.safe_load(f)
        except yaml.YAMLError as err:
            raise BenchmarkConfigError(f'{path} is not valid YAML: {err}') from err
    return parse_config(opt, os.path.splitext(os.path.basename(path))[0])


def _checked(check, value, name, *args, **kwargs):
    """``check`` of :mod:`r2rnet_plugin.utils.option_checks`, its error raised as a BenchmarkConfigError."""
    try:
        return check(value, *args, name=name, **kwargs)
    except OptionError as err:
        raise BenchmarkConfigError(str(err)) from None


def _check_keys(where, given, allowed):
    if not isinstance(given, dict):
        raise BenchmarkConfigError(f'{where} must be a mapping, got {type(given).__name__}')
    unknown = sorted(set(given) - set(allowed))
    if unknown:
        raise BenchmarkConfigError(f"{where}: unknown option(s) {', '.join(unknown)}; known: {', '.join(allowed)}")


def _int_option(name, value, minimum, allow_none=False):
    if value is None and allow_none:
        return None
    return _checked(check_int, value, name, minimum=minimum)


def _choice(name, value, choices):
    return _checked(check_choice, value, name, choices)


def _bool_option(name, value):
    return _checked(check_bool, value, name)


def parse_config(opt, default_name='benchmark'):
    """Check a benchmark option dict and return a :class:`BenchmarkConfig`."""
    _check_keys('the option file', opt, TOP_KEYS)
    if ('dataset' in opt) == ('datasets' in opt):
        raise BenchmarkConfigError("give either option 'dataset' (one mapping) or 'datasets' (a list of them)")
    for key in ('dataset' if 'dataset' in opt else 'datasets', 'methods'):
        if not opt.get(key):
            raise BenchmarkConfigError(f"option '{key}' is required")
    metrics, sheet = opt.get('metrics') or {}, opt.get('sheet') or {}
    _check_keys("option 'metrics'", metrics, METRIC_KEYS)
    _check_keys("option 'sheet'", sheet, SHEET_KEYS)
    cost_size = opt.get('cost_size', [256, 256])
    if not (isinstance(cost_size, (list, tuple)) and len(cost_size) == 2):
        raise BenchmarkConfigError(f"option 'cost_size' must be [H, W], got {cost_size!r}")
    plugins = opt.get('plugins') or []
    if not isinstance(plugins, list) or not all(isinstance(p, str) for p in plugins):
        raise BenchmarkConfigError(f"option 'plugins' must be a list of module names or .py files, got {plugins!r}")
    return BenchmarkConfig(
        name=folder_name(str(opt.get('name') or default_name)),
        datasets=_datasets(opt),
        methods=_methods(opt['methods']),
        plugins=plugins,
        max_images=_int_option('max_images', opt.get('max_images'), 1, allow_none=True),
        seed=_int_option('seed', opt.get('seed', 0), 0),
        device=_choice('device', opt.get('device', 'auto'), DEVICES),
        precision=_choice('precision', opt.get('precision', 'fp32'), PRECISIONS),
        cost_size=tuple(_int_option('cost_size', s, 8) for s in cost_size),
        warmup=_int_option('warmup', opt.get('warmup', 3), 0),
        repeats=_int_option('repeats', opt.get('repeats', 10), 1),
        crop_border=_int_option('metrics: crop_border', metrics.get('crop_border', 0), 0),
        niqe=_bool_option('metrics: niqe', metrics.get('niqe', True)),
        loe=_bool_option('metrics: loe', metrics.get('loe', True)),
        loe_side=_int_option('metrics: loe_side', metrics.get('loe_side', 50), 2),
        sheet_images=_int_option('sheet: images', sheet.get('images', 2), 0),
        sheet_crop=_int_option('sheet: crop', sheet.get('crop', 128), 8),
    )


def folder_name(name):
    """``name`` when it can name one folder inside ``results/benchmark``; else an error.

    Refused (not rewritten, so that results never land under a name nobody chose): an empty
    name, an absolute path, ``/`` or ``\\`` (sub-folders), ``.`` and ``..``, and control
    characters.

    Raises:
        BenchmarkConfigError: naming option 'name' and the value.
    """
    bad = (not name.strip() or name in ('.', '..') or '/' in name or '\\' in name or os.path.isabs(name)
           or any(ord(char) < 32 or ord(char) == 127 for char in name))
    if bad:
        raise BenchmarkConfigError(f"option 'name' must be a plain folder name (no '/', '\\', '..' or "
                                   f"control characters; it names results/benchmark/<name>), got {name!r}")
    return name


def _datasets(opt):
    """The dataset option dicts of ``dataset:`` or ``datasets:``, each named, names unique."""
    if 'dataset' in opt:
        return [_dataset_options("option 'dataset'", opt['dataset'], 'benchmark')]
    datasets = opt['datasets']
    if not isinstance(datasets, list):
        raise BenchmarkConfigError(f"option 'datasets' must be a list of dataset mappings, got {datasets!r}")
    checked = [_dataset_options(f'datasets[{i}]', d, f'dataset{i + 1}') for i, d in enumerate(datasets)]
    names = [d['name'] for d in checked]
    twice = sorted({n for n in names if names.count(n) > 1})
    if twice:
        raise BenchmarkConfigError(f"option 'datasets': the name(s) {', '.join(map(repr, twice))} are used twice; "
                                   'give each dataset its own name')
    return checked


def is_no_reference(dataset):
    """True for a folder of low-light images without ground truth: ``dataroot_lq`` only."""
    return 'dataroot_lq' in dataset and not any(key in dataset for key in PAIRED_SOURCE_KEYS)


def _dataset_options(where, dataset, default_name):
    if not isinstance(dataset, dict):
        raise BenchmarkConfigError(f'{where} must be a mapping of dataset options, got {dataset!r}')
    dataset = dict(dataset)
    if is_no_reference(dataset):
        dataset.setdefault('type', 'SingleImageDataset')
        dataset.setdefault('io_backend', {'type': 'disk'})
    dataset.setdefault('type', 'LLIEPairedDataset')
    dataset['name'] = str(dataset.get('name') or default_name)
    dataset['phase'] = 'test'
    return dataset


def _methods(methods):
    if not isinstance(methods, list):
        raise BenchmarkConfigError("option 'methods' must be a list of {name, network, weights}")
    specs, names = [], set()
    for i, method in enumerate(methods):
        where = f'methods[{i}]'
        _check_keys(where, method, METHOD_KEYS)
        network = method.get('network')
        if not isinstance(network, dict) or not isinstance(network.get('type'), str):
            raise BenchmarkConfigError(f'{where}: network must be a mapping with a type, e.g. {{type: R2RNet}}')
        name = str(method.get('name') or network['type'])
        if name in names:
            raise BenchmarkConfigError(f'{where}: the name {name!r} is used twice; give each method its own name')
        names.add(name)
        pad_to = _int_option(f'{where}: pad_to', method.get('pad_to'), 1, allow_none=True)
        pad_mode = _choice(f'{where}: pad_mode', method.get('pad_mode', 'replicate'), PAD_MODES)
        specs.append(
            MethodSpec(name, dict(network), _weights(f'{where} ({name!r})', method.get('weights')),
                       method.get('param_key'), _bool_option(f'{where}: strict', method.get('strict', True)), pad_to,
                       pad_mode))
    return specs


def _weights(where, weights):
    """None, a path, or published checkpoints: R2RNet's three as ``{decom:, denoise:, relight:}``
    (or a list in that order), the RetinexNet port's two as ``{decom:, relight:}``."""
    if weights is None or isinstance(weights, str):
        return weights
    if isinstance(weights, (list, tuple)) and len(weights) == len(OFFICIAL_STAGES):
        weights = dict(zip(OFFICIAL_STAGES, weights))
    if not isinstance(weights, dict) or not all(isinstance(v, str) for v in weights.values()):
        raise BenchmarkConfigError(f'{where}: weights must be null, a weights file, (R2RNet) the three official '
                                   f'checkpoints as [decom, denoise, relight] or {{decom:, denoise:, relight:}}, '
                                   f'or (RetinexNet) the PyTorch port\'s two as {{decom:, relight:}}; got {weights!r}')
    unknown = sorted(map(str, set(weights) - set(OFFICIAL_STAGES)))
    if unknown:
        raise BenchmarkConfigError(f"{where}: weights: unknown key(s) {', '.join(unknown)}; published checkpoints "
                                   'are {decom:, denoise:, relight:} (R2RNet) or {decom:, relight:} (RetinexNet)')
    missing = [stage for stage in ('decom', 'relight') if stage not in weights]
    if missing:
        raise BenchmarkConfigError(f"{where}: weights: {{{', '.join(f'{k}:' for k in weights)}}} lacks "
                                   f"{', '.join(f'{k}:' for k in missing)}; published checkpoints are "
                                   '{decom:, denoise:, relight:} (R2RNet) or {decom:, relight:} (RetinexNet)')
    return {stage: weights[stage] for stage in OFFICIAL_STAGES if stage in weights}
