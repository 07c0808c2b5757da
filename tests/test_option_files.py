"""The shipped option files are consistent: valid stages, losses, and a chain of saved weights."""
import glob
import os
import re

import pytest
import yaml

from r2rnet_plugin.models.r2r_stages import get_stage

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
OPTIONS = os.path.join(REPO, 'options')
EVERY_FILE = sorted(glob.glob(os.path.join(OPTIONS, '**', '*.yml'), recursive=True))
TRAIN_FILES = sorted(glob.glob(os.path.join(OPTIONS, '**', 'train_r2r_*.yml'), recursive=True))
EVERY_TRAINING_FILE = sorted(glob.glob(os.path.join(OPTIONS, '**', 'train_*.yml'), recursive=True))
VARIANTS = ('', 'train/lol/', 'train/lol_lmdb/', 'train/lsrw_lmdb/')
ALL = {yaml.safe_load(open(path))['name']: yaml.safe_load(open(path)) for path in TRAIN_FILES}


def relative(path):
    return os.path.relpath(path, REPO)


def test_there_are_stage_files_for_lsrw_lol_and_lmdb():
    names = {relative(p) for p in TRAIN_FILES}
    for stage in ('decom', 'denoise', 'relight'):
        assert {f'options/{variant}train_r2r_{stage}.yml' for variant in VARIANTS} <= names


def test_experiment_names_are_unique():
    """Two files with one experiment name would archive each other's runs."""
    names = [yaml.safe_load(open(path))['name'] for path in EVERY_FILE]
    assert len(names) == len(set(names)), sorted(names)


@pytest.mark.parametrize('path', EVERY_TRAINING_FILE, ids=relative)
def test_training_file_sets_precision_and_names_itself(path):
    opt = yaml.safe_load(open(path))
    assert opt['train']['mixed_precision'] == 'auto'
    assert f'-opt {relative(path)}' in open(path).read()  # its usage line names where it is


def test_option_files_named_in_the_docs_exist():
    docs = [os.path.join(REPO, 'README.md'), os.path.join(REPO, 'datasets', 'README.md')]
    docs += glob.glob(os.path.join(REPO, 'docs', '**', '*.md'), recursive=True)
    named = set()
    for doc in docs:
        named |= set(re.findall(r'options/[\w/{},]*?\.yml', open(doc, encoding='utf-8').read()))
    assert named
    for name in named:
        for expanded in expand_braces(name):
            assert os.path.isfile(os.path.join(REPO, expanded)), f'{name} (in the docs) does not exist'


def expand_braces(name):
    match = re.search(r'{([^}]*)}', name)
    if not match:
        return [name]
    return [
        e for part in match.group(1).split(',') for e in expand_braces(name[:match.start()] + part + name[match.end():])
    ]


@pytest.mark.parametrize('path', TRAIN_FILES, ids=relative)
def test_stage_file(path):
    with open(path) as f:
        opt = yaml.safe_load(f)
    assert opt['model_type'] == 'R2RNetModel'
    stage = get_stage(opt['train']['stage'])
    assert any(opt['train'].get(key) for key in stage.losses)
    train = opt['datasets']['train']
    assert (train['batch_size_per_gpu'], train['gt_size']) == (4, 96)
    optim = opt['train']['optim_g']
    assert (optim['type'], optim['weight_decay']) == ('Adam', 1e-4)
    if stage.name != 'joint':
        assert optim['lr'] == 1e-4
        assert opt['train']['scheduler']['milestones'] == [opt['train']['total_iter'] // 2]
    for needed in stage.needs:
        weights = opt['path'].get(f'pretrain_network_{needed}') or opt['path'].get('pretrain_network_g')
        match = re.fullmatch(r'experiments/(\w+)/models/net_(\w+)_latest\.pth', weights)
        assert match, weights
        producer = ALL[match.group(1)]  # another shipped option file trains these weights
        assert match.group(2) in get_stage(producer['train']['stage']).trained or match.group(2) == 'g'
        assert producer['datasets']['train']['name'] == train['name']  # same data set
