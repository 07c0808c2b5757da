"""The shipped option files are consistent: valid stages, losses, and a chain of saved weights."""
import glob
import os
import re

import pytest
import yaml

from r2rnet_plugin.models.r2r_stages import get_stage

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
TRAIN_FILES = sorted(glob.glob(os.path.join(REPO, 'options', 'train_r2r_*.yml')))
ALL = {yaml.safe_load(open(path))['name']: yaml.safe_load(open(path)) for path in TRAIN_FILES}


def test_there_are_stage_files_for_lsrw_lol_and_lmdb():
    names = {os.path.basename(p) for p in TRAIN_FILES}
    for stage in ('decom', 'denoise', 'relight'):
        assert {f'train_r2r_{stage}.yml', f'train_r2r_{stage}_lol.yml', f'train_r2r_{stage}_lsrw_lmdb.yml'} <= names


@pytest.mark.parametrize('path', TRAIN_FILES, ids=os.path.basename)
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
