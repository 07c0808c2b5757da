"""Reading and checking a BasicSR option file, so that a bad one stops the run with one clear line.

- :func:`ordered_safe_yaml` is a drop-in for ``basicsr.utils.options.ordered_yaml()`` built on
  PyYAML's *safe* loader: mappings are ``OrderedDict``, ``!!float 1e-4`` works, and a
  ``!!python/...`` tag (which BasicSR's unsafe loader would run) raises a
  ``yaml.constructor.ConstructorError`` carrying its line; nothing is constructed or run.
- :func:`read_option_file` reads a file with it and turns every way a file can be unusable
  (missing, binary, bad syntax, a code tag, empty, not a mapping) into an :class:`OptionFileError`
  naming the file and, where known, the line.
- :func:`check_run_options` checks, before BasicSR uses them, the options whose mistakes
  otherwise show up late as tracebacks (no ``datasets:``, ``num_gpu`` without CUDA,
  ``print_freq: 0``, ...); :func:`check_train_loader` refuses a training loader with no batch.

Messages name the option as it is written in the file, e.g. ``'logger: print_freq'``.
"""
import math
import numbers
import os
from collections import OrderedDict
from collections.abc import Mapping

import yaml
from yaml.constructor import ConstructorError

MAX_OPTION_FILE_BYTES = 1 << 20  # option files are a few kB; this is not one
PYTHON_TAG_PREFIX = 'tag:yaml.org,2002:python/'
STANDARD_TAG_PREFIX = 'tag:yaml.org,2002:'


class OptionFileError(ValueError):
    """An option file that cannot be used: unreadable, not YAML, unsafe, or with unusable options."""


class ForbiddenTagError(ConstructorError):
    """A YAML tag the safe loader does not construct (a ``!!python/...`` tag or an unknown one)."""

    def __init__(self, tag, mark):
        super().__init__(None, None, f'the tag {short_tag(tag)} is not allowed in an option file', mark)
        self.tag = tag


class DuplicateKeyError(ConstructorError):
    """A key written twice in one mapping (YAML would silently keep the last value)."""

    def __init__(self, key, first_mark, mark):
        super().__init__(None, None, f'the key {key!r} appears twice in one mapping', mark)
        self.key, self.first_mark = key, first_mark


def short_tag(tag):
    """``tag:yaml.org,2002:python/object/apply:os.system`` -> ``!!python/object/apply:os.system``."""
    return '!!' + tag[len(STANDARD_TAG_PREFIX):] if tag.startswith(STANDARD_TAG_PREFIX) else tag


# ------------------------------------------------------------------------------------- YAML
class SafeOptionLoader(yaml.SafeLoader):
    """PyYAML's safe loader with BasicSR's ordered mappings; unknown tags and duplicate keys raise."""

    def construct_undefined(self, node):
        raise ForbiddenTagError(node.tag, node.start_mark)

    def construct_document(self, node):
        _check_duplicate_keys(node)
        return super().construct_document(node)


class SafeOptionDumper(yaml.SafeDumper):
    """PyYAML's safe dumper that writes an ``OrderedDict`` as a plain mapping, in its order."""


MERGE_TAG = 'tag:yaml.org,2002:merge'


def _check_duplicate_keys(root):
    """Raise :class:`DuplicateKeyError` for a scalar key written twice in one mapping of the document.

    Keys brought in by a ``<<: *anchor`` merge may be overridden; keys written out may not.
    """
    stack, visited = [root], set()
    while stack:
        node = stack.pop()
        if id(node) in visited:
            continue
        visited.add(id(node))
        if isinstance(node, yaml.MappingNode):
            seen = {}
            for key_node, value_node in node.value:
                if isinstance(key_node, yaml.ScalarNode) and key_node.tag != MERGE_TAG:
                    first = seen.setdefault((key_node.tag, key_node.value), key_node.start_mark)
                    if first is not key_node.start_mark:
                        raise DuplicateKeyError(key_node.value, first, key_node.start_mark)
                stack += [key_node, value_node]
        elif isinstance(node, yaml.SequenceNode):
            stack += node.value


def _construct_ordered_mapping(loader, node):
    loader.flatten_mapping(node)  # ``<<: *anchor`` merge keys
    pairs = loader.construct_pairs(node)
    try:
        return OrderedDict(pairs)
    except TypeError:
        raise ConstructorError('while constructing a mapping', node.start_mark, 'found an unhashable key',
                               node.start_mark) from None


def _represent_ordered_mapping(dumper, data):
    return dumper.represent_dict(data.items())


SafeOptionLoader.add_constructor(None, SafeOptionLoader.construct_undefined)
SafeOptionLoader.add_constructor(yaml.resolver.BaseResolver.DEFAULT_MAPPING_TAG, _construct_ordered_mapping)
SafeOptionDumper.add_representer(OrderedDict, _represent_ordered_mapping)


def ordered_safe_yaml():
    """``(Loader, Dumper)``: the safe replacement for ``basicsr.utils.options.ordered_yaml()``."""
    return SafeOptionLoader, SafeOptionDumper


# --------------------------------------------------------------------------------- reading
def read_option_file(path):
    """Read an option file safely.

    Args:
        path (str | os.PathLike): The YAML option file.

    Returns:
        OrderedDict: Its options.

    Raises:
        OptionFileError: The file is missing, unreadable, binary, not valid YAML, uses a tag
            (a ``!!python/...`` tag is never run), is empty, or does not hold a mapping.
    """
    path = os.fspath(path)
    text = _read_text(path)
    try:
        opt = yaml.load(text, Loader=SafeOptionLoader)
    except ForbiddenTagError as error:
        line = error.problem_mark.line + 1
        if error.tag.startswith(PYTHON_TAG_PREFIX):
            raise OptionFileError(f'option file {path} uses the tag {short_tag(error.tag)} at line {line}; '
                                  'option files may not run code (nothing was run)') from None
        raise OptionFileError(f'option file {path} uses the tag {short_tag(error.tag)} at line {line}, '
                              'which option files may not use (standard tags such as !!float are fine)') from None
    except DuplicateKeyError as error:
        raise OptionFileError(f'option file {path}: the key {error.key!r} is written twice in one section '
                              f'(lines {error.first_mark.line + 1} and {error.problem_mark.line + 1}); '
                              'keep one') from None
    except yaml.MarkedYAMLError as error:
        mark = error.problem_mark or error.context_mark
        where = f' at line {mark.line + 1}, column {mark.column + 1}' if mark else ''
        problem = error.problem or error.context or 'syntax error'
        raise OptionFileError(f'option file {path} is not valid YAML: {problem}{where}') from None
    except yaml.reader.ReaderError as error:
        line = text.count('\n', 0, error.position) + 1
        code = error.character if isinstance(error.character, int) else ord(error.character)
        raise OptionFileError(f'option file {path} is not valid YAML: the control character #x{code:02x} '
                              f'at line {line} is not allowed') from None
    except (yaml.YAMLError, RecursionError) as error:
        reason = 'it is nested too deeply' if isinstance(error, RecursionError) else str(error).splitlines()[0]
        raise OptionFileError(f'option file {path} is not valid YAML: {reason}') from None
    if opt is None:
        raise OptionFileError(f'option file {path} is empty (or holds only comments)')
    if not isinstance(opt, Mapping):
        raise OptionFileError(f'option file {path} must hold a mapping of options (name: ..., datasets: ...); '
                              f'it holds a {_kind(opt)}')
    return opt


def _read_text(path):
    """The file's text, or an :class:`OptionFileError` saying why there is none."""
    if not os.path.exists(path):
        raise OptionFileError(f'option file {path} does not exist')
    if os.path.isdir(path):
        raise OptionFileError(f'option file {path} is a folder, not a file')
    if not os.path.isfile(path):
        raise OptionFileError(f'option file {path} is not a regular file')
    try:
        with open(path, 'rb') as handle:
            data = handle.read(MAX_OPTION_FILE_BYTES + 1)
    except OSError as error:
        raise OptionFileError(f'cannot read option file {path}: {error.strerror or error}') from None
    if len(data) > MAX_OPTION_FILE_BYTES:
        raise OptionFileError(f'option file {path} is larger than {MAX_OPTION_FILE_BYTES >> 20} MB; '
                              'an option file is a short YAML text')
    if b'\0' in data:
        raise OptionFileError(f'option file {path} is a binary file (it holds NUL bytes), not YAML text')
    try:
        return data.decode('utf-8')
    except UnicodeDecodeError as error:
        line = data.count(b'\n', 0, error.start) + 1
        raise OptionFileError(f'option file {path} is not UTF-8 text (byte {data[error.start]:#04x} '
                              f'at line {line}); save it as UTF-8') from None


def _kind(value):
    if isinstance(value, list):
        return 'list'
    return f'single value ({type(value).__name__} {value!r:.40})'


# -------------------------------------------------------------------------------- checking
def check_run_options(opt, path, is_train=True):
    """Check what BasicSR's ``train_pipeline`` / ``test_pipeline`` read before they use it.

    Works on the options as read from the file (before or after ``parse_options`` fills them).

    Args:
        opt (Mapping): The options.
        path (str): The option file, for messages.
        is_train (bool): A training run (``train:``, ``logger:`` and ``val: val_freq`` are needed).

    Raises:
        OptionFileError: The first unusable option, named as written in the file.
    """
    _check_name(opt, path)
    _check_num_gpu(opt, path)
    datasets = _section(opt, 'datasets', path, "e.g. datasets: {train: {...}, val: {...}}")
    if not datasets:
        raise OptionFileError(f"option 'datasets' in {path} lists no dataset")
    for phase, dataset in datasets.items():
        if not isinstance(dataset, Mapping):
            raise OptionFileError(f"option 'datasets: {phase}' in {path} must be a mapping of dataset options; "
                                  f'got {dataset!r:.60}')
        if 'type' not in dataset:
            raise OptionFileError(f"option 'datasets: {phase}' in {path} has no 'type' "
                                  '(e.g. type: LLIEPairedDataset)')
    _section(opt, 'path', path, 'it may be empty: path: {}')
    if is_train:
        _check_training(opt, datasets, path)


def _check_training(opt, datasets, path):
    for phase in datasets:
        if phase != 'train' and str(phase).split('_')[0] != 'val':
            raise OptionFileError(f"option 'datasets: {phase}' in {path}: a training run knows the phases "
                                  "'train' and 'val' (or 'val_<n>')")
    if 'train' not in datasets:
        raise OptionFileError(f"option file {path} has no 'datasets: train' section; a training run needs one")
    check_positive_int(datasets['train'].get('batch_size_per_gpu'), 'datasets: train: batch_size_per_gpu', path)
    train = _section(opt, 'train', path, 'e.g. train: {total_iter: 1000, optim_g: {...}}')
    check_positive_int(train.get('total_iter'), 'train: total_iter', path)
    logger = _section(opt, 'logger', path, 'e.g. logger: {print_freq: 100, save_checkpoint_freq: 5000}')
    check_positive_int(logger.get('print_freq'), 'logger: print_freq', path)
    check_positive_int(logger.get('save_checkpoint_freq'), 'logger: save_checkpoint_freq', path)
    if opt.get('val') is not None:
        val = _section(opt, 'val', path, 'e.g. val: {val_freq: 1000, metrics: {...}}')
        check_positive_int(val.get('val_freq'), 'val: val_freq', path)


def _section(opt, key, path, example):
    """``opt[key]``, which must be a mapping; else an :class:`OptionFileError`."""
    if key not in opt or opt[key] is None:
        raise OptionFileError(f"option file {path} has no '{key}:' section ({example})")
    if not isinstance(opt[key], Mapping):
        raise OptionFileError(f"option '{key}' in {path} must be a mapping ({example}); got {opt[key]!r:.60}")
    return opt[key]


def check_positive_int(value, name, path):
    """``value`` as an int >= 1. An integral float (BasicSR's ``!!float 5e3``) counts; a bool does not.

    Raises:
        OptionFileError: naming ``name`` (e.g. ``'logger: print_freq'``), ``path`` and the value.
    """
    if value is None:
        raise OptionFileError(f"option '{name}' is missing in {path}; it must be a positive integer")
    integral = isinstance(value, numbers.Integral) or (isinstance(value, float) and value.is_integer())
    if isinstance(value, bool) or not integral or value < 1:
        raise OptionFileError(f"option '{name}' in {path} must be a positive integer; got {value!r}")
    return int(value)


def _check_name(opt, path):
    name = opt.get('name')
    if not isinstance(name, str) or not name.strip():
        raise OptionFileError(f"option 'name' in {path} must be a non-empty text (it names the run's "
                              f'folders); got {name!r}')
    if os.path.isabs(name) or '..' in name.replace('\\', '/').split('/'):
        raise OptionFileError(f"option 'name' in {path} must be a plain name, not a path outside the run's "
                              f'folders; got {name!r}')


def _check_num_gpu(opt, path):
    if 'num_gpu' not in opt:
        raise OptionFileError(f"option 'num_gpu' is missing in {path}; set num_gpu: auto (or 0 for the CPU)")
    value = opt['num_gpu']
    if value == 'auto':
        return
    if isinstance(value, bool) or not isinstance(value, numbers.Integral) or value < 0:
        raise OptionFileError(f"option 'num_gpu' in {path} must be auto or an integer >= 0; got {value!r}")
    if value == 0:
        return
    import torch
    present = torch.cuda.device_count() if torch.cuda.is_available() else 0
    if present == 0:
        raise OptionFileError(f"option 'num_gpu: {value}' in {path}: no CUDA device; set num_gpu: 0 or auto")
    if value > present:
        raise OptionFileError(f"option 'num_gpu: {value}' in {path}: only {present} CUDA device(s) present; "
                              f'set num_gpu: {present} or auto')


def check_train_loader(opt, train_loader, dataset_size):
    """Refuse a training data loader that yields no batch (training would run 0 iterations).

    BasicSR drops the last incomplete batch: a batch larger than the training set leaves no
    batch at all, and the run would save an untrained network and exit 0.

    Args:
        opt (Mapping): The run's options (after ``parse_options``).
        train_loader: The training DataLoader.
        dataset_size (int): Image pairs in the training set.

    Raises:
        OptionFileError: naming ``datasets: train: batch_size_per_gpu``, its value, the dataset
            size (and world size) and the stage.
    """
    try:
        batches = len(train_loader)
    except TypeError:  # an iterable dataset: its length is unknown
        return
    if batches > 0:
        return
    dataset_opt = opt['datasets']['train']
    batch = dataset_opt.get('batch_size_per_gpu')
    world = opt.get('world_size', 1) or 1
    ratio = dataset_opt.get('dataset_enlarge_ratio', 1) or 1
    gpus = 1 if opt.get('dist') else max(int(opt.get('num_gpu') or 0), 1)
    per_process = math.ceil(dataset_size * ratio / world)
    size = f'{dataset_size} image pair(s)'
    if ratio != 1:
        size += f' (x{ratio} dataset_enlarge_ratio)'
    if world > 1:
        size += f', {per_process} per process of world size {world}'
    batch_note = f' x {gpus} GPUs' if gpus > 1 else ''
    largest = per_process // gpus
    advice = f'use batch_size_per_gpu <= {largest}' if largest else 'add training data'
    raise OptionFileError(f"option 'datasets: train: batch_size_per_gpu' is {batch}{batch_note}, but the training "
                          f'set has {size}: no full batch, so {_run_name(opt)} would train 0 iterations; {advice}')


def _run_name(opt):
    stage = (opt.get('train') or {}).get('stage')
    if stage:
        return f"stage '{stage}' (train: stage)"
    return f"the {opt.get('model_type', 'model')} run '{opt.get('name', '?')}'"
