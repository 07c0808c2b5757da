"""Option files read safely (no code runs), unusable files and options refused with one clear line."""
import glob
import os
from collections import OrderedDict

import pytest
import torch
import yaml
from tiny_setup import REPO, stage_options
from torch.utils.data import DataLoader

from r2rnet_plugin.comparison.config import load_config
from r2rnet_plugin.utils.option_file import (OptionFileError, check_run_options, check_train_loader, ordered_safe_yaml,
                                             read_option_file)

SHIPPED = sorted(glob.glob(os.path.join(REPO, 'options', '**', '*.yml'), recursive=True))


def write(tmp_path, text, name='opt.yml'):
    path = tmp_path / name
    path.write_bytes(text.encode() if isinstance(text, str) else text)
    return str(path)


# ------------------------------------------------------------------------------ the safe loader
def test_loader_keeps_order_floats_and_nesting():
    loader, _ = ordered_safe_yaml()
    opt = yaml.load('b: 1\na:\n  lr: !!float 1e-4\n  betas: [0.9, 0.999]\n  z: ~\n', Loader=loader)
    assert isinstance(opt, OrderedDict) and list(opt) == ['b', 'a']
    assert isinstance(opt['a'], OrderedDict)
    assert opt['a']['lr'] == 1e-4 and isinstance(opt['a']['lr'], float)
    assert opt['a']['betas'] == [0.9, 0.999] and opt['a']['z'] is None


def test_dumper_writes_ordered_dicts_as_plain_mappings():
    _, dumper = ordered_safe_yaml()
    text = yaml.dump(OrderedDict([('z', 1), ('a', OrderedDict([('y', 2.5)]))]), Dumper=dumper)
    assert '!!' not in text and 'OrderedDict' not in text
    assert text.index('z:') < text.index('a:')
    assert yaml.safe_load(text) == {'z': 1, 'a': {'y': 2.5}}


def test_merge_keys_may_be_overridden():
    loader, _ = ordered_safe_yaml()
    opt = yaml.load('base: &b {x: 1, y: 2}\nd:\n  <<: *b\n  y: 3\n', Loader=loader)
    assert opt['d'] == OrderedDict([('x', 1), ('y', 3)])


@pytest.mark.parametrize('tag', [
    '!!python/object/apply:os.system', '!!python/object/new:os.system', '!!python/name:os.system', '!!python/module:os'
])
def test_python_tag_raises_constructor_error_with_its_line(tmp_path, tag):
    marker = tmp_path / 'PWNED'
    text = f'name: x\ntrain:\n  seed: {tag} ["touch {marker}"]\n'
    loader, _ = ordered_safe_yaml()
    with pytest.raises(yaml.constructor.ConstructorError) as caught:
        yaml.load(text, Loader=loader)
    assert caught.value.problem_mark.line + 1 == 3
    assert not marker.exists()


@pytest.mark.parametrize('template, line', [
    ('name: x\nnum_gpu: 0\nmanual_seed: {tag} ["touch {marker}"]\n', 3),
    ('name: x\ndatasets:\n  train:\n    gt_size: {tag} ["touch {marker}"]\n', 4),
    ('name: x\nmilestones:\n  - 1\n  - {tag} ["touch {marker}"]\n', 4),
    ('name: x\n{tag} ["touch {marker}"]: 1\n', 2),
])
def test_python_tag_is_refused_naming_file_and_line_and_never_runs(tmp_path, template, line):
    marker = tmp_path / 'PWNED'
    path = write(tmp_path, template.format(tag='!!python/object/apply:os.system', marker=marker))
    with pytest.raises(OptionFileError) as caught:
        read_option_file(path)
    message = str(caught.value)
    assert path in message and f'at line {line}' in message
    assert '!!python/object/apply' in message and 'may not run code' in message
    assert not marker.exists()


def test_unknown_local_tag_is_refused(tmp_path):
    path = write(tmp_path, 'name: x\ninclude: !include other.yml\n')
    with pytest.raises(OptionFileError, match=r"uses the tag !include at line 2"):
        read_option_file(path)


@pytest.mark.parametrize('path', SHIPPED, ids=lambda p: os.path.relpath(p, REPO))
def test_shipped_option_files_read_as_basicsr_reads_them(path):
    from basicsr.utils.options import ordered_yaml
    with open(path) as f:
        expected = yaml.load(f, Loader=ordered_yaml()[0])
    got = read_option_file(path)
    assert got == expected  # OrderedDicts: order-sensitive
    assert repr(got) == repr(expected)  # the same types all the way down (float stays float, ...)


def test_shipped_option_files_were_found():
    assert any(p.endswith('train_r2r_decom.yml') for p in SHIPPED)


# --------------------------------------------------------------------------- unusable files
@pytest.mark.parametrize('content, message', [
    ('', 'is empty'),
    ('# only a comment\n\n', 'is empty'),
    ('- name: x\n- num_gpu: 0\n', 'must hold a mapping.*it holds a list'),
    ('just text\n', 'must hold a mapping.*single value'),
    ('42\n', 'must hold a mapping.*single value'),
    (b'\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR', 'binary file'),
    (b'name: caf\xe9\n', r'not UTF-8 text \(byte 0xe9 at line 1\)'),
    ('name: x\ntrain:\n  milestones: [1, 2\n', 'not valid YAML: .* at line 4'),
    ('name: x\n  bad: indent\n', 'not valid YAML: .* at line 2'),
    ('name: "a\x07"\n', 'control character #x07 at line 1'),
    ('name: x\nval:\n  val_freq: 1\n  val_freq: 2\n', r"key 'val_freq' is written twice .*lines 3 and 4"),
])
def test_unusable_file_is_refused_naming_it(tmp_path, content, message):
    path = write(tmp_path, content)
    with pytest.raises(OptionFileError, match=message) as caught:
        read_option_file(path)
    assert path in str(caught.value)
    assert len(str(caught.value).splitlines()) <= 2


def test_missing_file_and_folder_are_refused(tmp_path):
    with pytest.raises(OptionFileError, match='does not exist'):
        read_option_file(str(tmp_path / 'nope.yml'))
    with pytest.raises(OptionFileError, match='is a folder'):
        read_option_file(str(tmp_path))


@pytest.mark.skipif(not hasattr(os, 'mkfifo'), reason='no FIFOs here')
def test_fifo_is_refused_without_blocking(tmp_path):
    fifo = tmp_path / 'opt.yml'
    os.mkfifo(fifo)
    with pytest.raises(OptionFileError, match='not a regular file'):
        read_option_file(str(fifo))


@pytest.mark.skipif(hasattr(os, 'geteuid') and os.geteuid() == 0, reason='root reads any file')
def test_unreadable_file_is_refused(tmp_path):
    path = write(tmp_path, 'name: x\n')
    os.chmod(path, 0)
    try:
        with pytest.raises(OptionFileError, match='cannot read option file .*opt.yml'):
            read_option_file(path)
    finally:
        os.chmod(path, 0o600)


# ------------------------------------------------------------------------------ run options
@pytest.fixture
def train_opt(tmp_path):
    return stage_options('decom', str(tmp_path), str(tmp_path / 'vgg16.weight'))


def test_project_options_pass(train_opt, tmp_path):
    check_run_options(train_opt, 'f.yml')
    for path in SHIPPED:
        if os.path.dirname(path) == os.path.join(REPO, 'options', 'benchmark'):
            load_config(path)  # the benchmark's own schema (its datasets: may be a list)
            continue
        opt = read_option_file(path)
        if 'datasets' in opt:
            opt['num_gpu'] = 0
            check_run_options(opt, path, is_train=os.path.basename(path).startswith('train_'))


def test_basicsr_style_float_frequencies_pass(train_opt):
    train_opt['logger']['save_checkpoint_freq'] = 5e3  # BasicSR's files write !!float 5e3
    check_run_options(train_opt, 'f.yml')


@pytest.mark.parametrize('edit, message', [
    (lambda o: o.pop('datasets'), "f.yml has no 'datasets:' section"),
    (lambda o: o.update(datasets=['train']), "'datasets' in f.yml must be a mapping"),
    (lambda o: o.update(datasets={}), "'datasets' in f.yml lists no dataset"),
    (lambda o: o['datasets'].update(train='x'), "'datasets: train' in f.yml must be a mapping"),
    (lambda o: o['datasets']['train'].pop('type'), "'datasets: train' in f.yml has no 'type'"),
    (lambda o: o['datasets'].pop('train'), "no 'datasets: train' section"),
    (lambda o: o['datasets'].update(test=o['datasets']['val']), "'datasets: test' in f.yml: a training run"),
    (lambda o: o['datasets']['train'].update(batch_size_per_gpu=0),
     "'datasets: train: batch_size_per_gpu' in f.yml must be a positive integer; got 0"),
    (lambda o: o['logger'].update(print_freq=0), "'logger: print_freq' in f.yml must be a positive integer; got 0"),
    (lambda o: o['logger'].update(print_freq=-5), "'logger: print_freq' .* got -5"),
    (lambda o: o['logger'].update(print_freq=2.5), "'logger: print_freq' .* got 2.5"),
    (lambda o: o['logger'].update(print_freq=True), "'logger: print_freq' .* got True"),
    (lambda o: o['logger'].update(print_freq='100'), "'logger: print_freq' .* got '100'"),
    (lambda o: o['logger'].pop('print_freq'), "'logger: print_freq' is missing in f.yml"),
    (lambda o: o['logger'].update(save_checkpoint_freq=0), "'logger: save_checkpoint_freq' in f.yml .* got 0"),
    (lambda o: o['val'].update(val_freq=0), "'val: val_freq' in f.yml must be a positive integer; got 0"),
    (lambda o: o['val'].update(val_freq=float('nan')), "'val: val_freq' .* got nan"),
    (lambda o: o.pop('logger'), "f.yml has no 'logger:' section"),
    (lambda o: o.pop('train'), "f.yml has no 'train:' section"),
    (lambda o: o['train'].pop('total_iter'), "'train: total_iter' is missing in f.yml"),
    (lambda o: o['train'].update(total_iter=0), "'train: total_iter' in f.yml .* got 0"),
    (lambda o: o.pop('num_gpu'), "'num_gpu' is missing in f.yml"),
    (lambda o: o.update(num_gpu='two'), "'num_gpu' in f.yml must be auto or an integer >= 0; got 'two'"),
    (lambda o: o.update(num_gpu=-1), "'num_gpu' in f.yml .* got -1"),
    (lambda o: o.pop('name'), "'name' in f.yml must be a non-empty text"),
    (lambda o: o.update(name='/tmp/elsewhere'), "'name' in f.yml must be a plain name"),
    (lambda o: o.update(name='../up'), "'name' in f.yml must be a plain name"),
    (lambda o: o.update(path=['x']), "'path' in f.yml must be a mapping"),
    (lambda o: o.pop('path'), "f.yml has no 'path:' section \\(it may be empty: path: {}\\)"),
])
def test_unusable_run_option_is_refused_naming_key_and_file(train_opt, edit, message):
    edit(train_opt)
    with pytest.raises(OptionFileError, match=message):
        check_run_options(train_opt, 'f.yml')


def test_test_runs_need_no_training_sections(tmp_path):
    opt = read_option_file(os.path.join(REPO, 'options', 'test', 'test_r2r_lol.yml'))
    assert 'logger' not in opt or 'train' not in opt
    opt['num_gpu'] = 0
    check_run_options(opt, 'test.yml', is_train=False)
    opt.pop('datasets')
    with pytest.raises(OptionFileError, match="test.yml has no 'datasets:' section"):
        check_run_options(opt, 'test.yml', is_train=False)


def test_num_gpu_without_cuda_is_refused(train_opt, monkeypatch):
    monkeypatch.setattr(torch.cuda, 'is_available', lambda: False)
    monkeypatch.setattr(torch.cuda, 'device_count', lambda: 0)
    for ok in (0, 'auto'):
        train_opt['num_gpu'] = ok
        check_run_options(train_opt, 'f.yml')
    train_opt['num_gpu'] = 1
    with pytest.raises(OptionFileError, match="'num_gpu: 1' in f.yml: no CUDA device; set num_gpu: 0 or auto"):
        check_run_options(train_opt, 'f.yml')


def test_more_gpus_than_present_is_refused(train_opt, monkeypatch):
    monkeypatch.setattr(torch.cuda, 'is_available', lambda: True)
    monkeypatch.setattr(torch.cuda, 'device_count', lambda: 1)
    train_opt['num_gpu'] = 1
    check_run_options(train_opt, 'f.yml')
    train_opt['num_gpu'] = 4
    with pytest.raises(OptionFileError, match=r"'num_gpu: 4' in f.yml: only 1 CUDA device\(s\) present"):
        check_run_options(train_opt, 'f.yml')


# ----------------------------------------------------------------------------- train loader
def runtime(opt, batch, world_size=1, **extra):
    opt['datasets']['train']['batch_size_per_gpu'] = batch
    opt.update(world_size=world_size, dist=world_size > 1, **extra)
    return opt


def test_loader_with_batches_passes(train_opt):
    opt = runtime(train_opt, 2)
    check_train_loader(opt, DataLoader(list(range(4)), batch_size=2, drop_last=True), 4)


def test_batch_larger_than_dataset_is_refused_naming_option_size_and_stage(train_opt):
    opt = runtime(train_opt, 8)
    loader = DataLoader(list(range(4)), batch_size=8, drop_last=True)
    with pytest.raises(OptionFileError) as caught:
        check_train_loader(opt, loader, 4)
    message = str(caught.value)
    assert "'datasets: train: batch_size_per_gpu' is 8" in message
    assert '4 image pair(s)' in message and "stage 'decom'" in message
    assert 'batch_size_per_gpu <= 4' in message


def test_batch_message_names_world_size_and_model_without_stage(train_opt):
    opt = runtime(train_opt, 3, world_size=2)
    opt['train'].pop('stage')
    loader = DataLoader(list(range(2)), batch_size=3, drop_last=True)
    with pytest.raises(OptionFileError) as caught:
        check_train_loader(opt, loader, 4)
    message = str(caught.value)
    assert 'world size 2' in message and '2 per process' in message
    assert "R2RNetModel run 'tiny_decom'" in message


def test_oversized_file_is_refused(tmp_path):
    path = write(tmp_path, 'name: x\n' + '# padding\n' * 120000)
    with pytest.raises(OptionFileError, match='larger than 1 MB'):
        read_option_file(path)
