"""``python -m r2rnet_plugin.benchmark`` on folders without ground truth, several datasets, pad_to, seed and cost."""
import csv
import json
import math
import os

import cv2
import numpy as np
import pytest
from tiny_setup import write_lol_pairs, write_options

from r2rnet_plugin.benchmark import main

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
EXAMPLE_PLUGIN = os.path.join(REPO, 'examples', 'retinexformer_plugin.py')
# A third-party arch file that registers nothing and refuses sizes that are not multiples of 4,
# as Retinexformer's does; the example plugin loads it by path.
ARCH_FILE = '''
import torch
from torch import nn


class RetinexFormer(nn.Module):
    def __init__(self, n_feat=4, stage=1):
        super().__init__()
        self.conv = nn.Conv2d(3, n_feat, 1)
        self.out = nn.Conv2d(n_feat, 3, 1)

    def forward(self, x):
        height, width = x.shape[-2:]
        if height % 4 or width % 4:
            raise RuntimeError(f'sizes must be multiples of 4, got {height}x{width}')
        return torch.sigmoid(self.out(torch.relu(self.conv(x))))
'''
INVERT_PLUGIN = '''
from torch import nn
from basicsr.utils.registry import ARCH_REGISTRY


@ARCH_REGISTRY.register()
class BenchTestInvert(nn.Module):
    def forward(self, x):
        return 1 - x
'''
INVERT = {'name': 'Inverted', 'network': {'type': 'BenchTestInvert'}}
IDENTITY = {'name': 'Identity', 'network': {'type': 'R2RPluginIdentity'}}
GAMMA = {'name': 'Gamma', 'network': {'type': 'R2RPluginGamma', 'gamma': 0.5}}


def write_photos(folder, sizes, seed=0):
    """Dark RGB photos without ground truth, ``sizes`` as (H, W)."""
    os.makedirs(folder)
    rng = np.random.default_rng(seed)
    for i, (height, width) in enumerate(sizes):
        ramp = np.linspace(0, 60, width)[None, :, None] + np.linspace(0, 30, height)[:, None, None]
        img = np.clip(ramp + rng.normal(0, 4, (height, width, 3)), 0, 255).astype(np.uint8)
        cv2.imwrite(os.path.join(folder, f'photo{i}.png'), img)
    return str(folder)


@pytest.fixture(scope='module')
def data(tmp_path_factory):
    root = tmp_path_factory.mktemp('bench_noref')
    (root / 'invert_plugin.py').write_text(INVERT_PLUGIN)
    return {
        'photos': write_photos(root / 'photos', [(96, 192), (67, 101)]),
        'odd': write_photos(root / 'odd', [(67, 101)], seed=1),
        'pairs': write_lol_pairs(root / 'pairs', count=1, size=(32, 40)),
        'arch_file': str(root / 'RetinexFormer_arch.py'),
        'invert_plugin': str(root / 'invert_plugin.py')
    }


def bench_file(folder, methods, **options):
    opt = {
        'name': 'tiny',
        'device': 'cpu',
        'cost_size': [32, 32],
        'warmup': 0,
        'repeats': 1,
        'sheet': {
            'images': 1,
            'crop': 32
        },
        'methods': methods
    }
    opt.update(options)
    return write_options(opt, folder, 'bench.yml')


def run(folder, methods, **options):
    out = os.path.join(folder, 'out')
    code = main(['-opt', bench_file(folder, methods, **options), '--out', out, '--no-progress'])
    return code, out


def read(out, name):
    with open(os.path.join(out, name), newline='') as f:
        return json.load(f) if name.endswith('.json') else list(csv.DictReader(f))


def rows_of(result, dataset):
    table = next(d for d in result['datasets'] if d['name'] == dataset)
    return {row['name']: row for row in table['methods']}


def test_folder_without_ground_truth_gets_niqe_and_loe_only(data, tmp_path, capsys):
    long_name = 'Identity under a name much longer than twenty-four characters'
    methods = [IDENTITY, GAMMA, INVERT, {'name': long_name, 'network': {'type': 'R2RPluginIdentity'}}]
    code, out = run(
        str(tmp_path),
        methods,
        dataset={
            'name': 'DICM-like',
            'dataroot_lq': data['photos']
        },
        plugins=[data['invert_plugin']])
    assert code == 0
    result = read(out, 'results.json')
    (dataset, ) = result['datasets']
    assert dataset['paired'] is False and dataset['measures'] == ['niqe', 'loe']
    assert dataset['images'] == ['photo0', 'photo1']
    rows = rows_of(result, 'DICM-like')
    for name in ('Identity', 'Gamma', 'Inverted'):
        assert set(rows[name]['quality']) == {'niqe', 'loe'} and rows[name]['status'] == 'ok'
        photo0, photo1 = rows[name]['per_image']
        assert math.isfinite(photo0['niqe'])  # 96x192: two NIQE blocks
        assert photo1['niqe'] is None  # 67x101: too small for NIQE, not a crash
        assert any('NIQE n/a' in note and '101x67' in note for note in rows[name]['notes'])
        assert 'NIQE: the mean of the 1 of 2 images it could measure' in rows[name]['notes']
        assert rows[name]['quality']['niqe'] == photo0['niqe']
    assert rows['Identity']['quality']['loe'] == 0
    assert 0 <= rows['Gamma']['quality']['loe'] < 10  # increasing; only 8-bit rounding merges some levels
    assert rows['Inverted']['quality']['loe'] > 1000  # the lightness order reversed
    table = open(os.path.join(out, 'results.md')).read()
    assert 'PSNR' not in table.split('## Summary')[0].split('| Method')[1].split('\n')[0]
    assert '| Identity | R2RPluginIdentity |' in table and 'NIQE n/a' in table
    csv_rows = read(out, 'results.csv')
    assert [row['psnr'] for row in csv_rows] == ['-'] * 4 and [row['ssim_y'] for row in csv_rows] == ['-'] * 4
    assert float(csv_rows[2]['loe']) == pytest.approx(rows['Inverted']['quality']['loe'])
    summary = read(out, 'summary.csv')
    assert summary[-1]['method'] == 'Inverted'  # worst LOE
    assert {row['method'] for row in summary} == {'Identity', 'Gamma', 'Inverted', long_name}
    console = capsys.readouterr().out
    assert 'DICM-like:' in console and f'\n{long_name} ' in console  # the console table does not cut names


def test_several_datasets_one_table_each_and_a_mean_rank_summary(data, tmp_path):
    methods = [IDENTITY, GAMMA]
    datasets = [{
        'name': 'pairs',
        'layout': 'lol',
        'dataroot': data['pairs']
    }, {
        'name': 'photos',
        'dataroot_lq': data['photos']
    }]
    code, out = run(str(tmp_path), methods, datasets=datasets, metrics={'niqe': False})
    assert code == 0
    result = read(out, 'results.json')
    assert [(d['name'], d['paired']) for d in result['datasets']] == [('pairs', True), ('photos', False)]
    assert math.isfinite(rows_of(result, 'pairs')['Gamma']['quality']['psnr'])
    assert 'psnr' not in rows_of(result, 'photos')['Gamma']['quality']
    ranks = {entry['method']: entry for entry in result['summary']}
    # pairs: PSNR, SSIM, LOE (a tie: both keep the order); photos: LOE (NIQE turned off)
    assert ranks['Gamma']['ranks'] == {'pairs/psnr': 1, 'pairs/ssim': 1, 'pairs/loe': 1.5, 'photos/loe': 2}
    assert ranks['Identity']['ranks'] == {'pairs/psnr': 2, 'pairs/ssim': 2, 'pairs/loe': 1.5, 'photos/loe': 1}
    assert ranks['Gamma']['mean_rank'] == 1.375 and ranks['Identity']['mean_rank'] == 1.625
    assert [entry['method'] for entry in result['summary']] == ['Gamma', 'Identity']
    assert [row['dataset'] for row in read(out, 'results.csv')] == ['pairs', 'pairs', 'photos', 'photos']
    table = open(os.path.join(out, 'results.md')).read()
    assert '## pairs (1 images, paired)' in table and '## photos (2 images, no ground truth)' in table
    assert '## Summary' in table and 'Mean rank' in table
    assert 'Figures: [quality_vs_latency_2.png](quality_vs_latency_2.png), [crops_2.png](crops_2.png)' in table
    for name in ('quality_vs_latency_1.png', 'crops_1.png', 'quality_vs_latency_2.png', 'crops_2.png'):
        assert cv2.imread(os.path.join(out, name)) is not None, name
    assert not os.path.exists(os.path.join(out, 'crops.png'))


def test_pad_to_runs_an_arch_file_loaded_by_path_on_odd_sizes(data, tmp_path, monkeypatch):
    with open(data['arch_file'], 'w') as f:
        f.write(ARCH_FILE)
    monkeypatch.setenv('RETINEXFORMER_ARCH', data['arch_file'])
    network = {'type': 'RetinexFormer', 'n_feat': 4}
    methods = [{
        'name': 'padded',
        'network': network,
        'pad_to': 4
    }, {
        'name': 'reflect',
        'network': network,
        'pad_to': 4,
        'pad_mode': 'reflect'
    }, {
        'name': 'not padded',
        'network': network
    }]
    code, out = run(
        str(tmp_path),
        methods,
        dataset={
            'name': 'odd',
            'dataroot_lq': data['odd']
        },
        plugins=[EXAMPLE_PLUGIN],
        cost_size=[30, 30])
    assert code == 1
    result = read(out, 'results.json')
    rows, methods = rows_of(result, 'odd'), {m['name']: m for m in result['methods']}
    for name in ('padded', 'reflect'):
        assert rows[name]['status'] == 'ok' and math.isfinite(rows[name]['quality']['loe'])
        assert math.isfinite(methods[name]['latency_ms'])  # cost_size 30x30 padded too
        assert any('padded' in note for note in methods[name]['notes'])
    assert rows['not padded']['status'] == 'error'
    assert 'failed on image photo0' in rows['not padded']['error'] and '67x101' in rows['not padded']['error']
    sheet = cv2.imread(os.path.join(out, 'crops.png'))
    assert sheet.shape[1] == 110 + 4 * (160 + 4)  # input, three methods (the failed one too), no ground truth


def test_cost_that_cannot_be_measured_makes_the_row_incomplete(data, tmp_path, monkeypatch):
    with open(data['arch_file'], 'w') as f:
        f.write(ARCH_FILE)
    monkeypatch.setenv('RETINEXFORMER_ARCH', data['arch_file'])
    methods = [{'name': 'multiples of 4', 'network': {'type': 'RetinexFormer'}}, IDENTITY]
    code, out = run(
        str(tmp_path),
        methods,
        dataset={
            'name': 'pairs',
            'layout': 'lol',
            'dataroot': data['pairs']
        },
        plugins=[EXAMPLE_PLUGIN],
        cost_size=[30, 30],
        metrics={'niqe': False})
    assert code == 1
    result = read(out, 'results.json')
    method = result['methods'][0]
    assert method['status'] == 'incomplete' and method['latency_ms'] is None
    assert method['error'].startswith('macs, latency_ms, peak_memory_mb not measured at cost_size 30x30')
    assert any('sizes must be multiples of 4' in note for note in method['notes'])
    assert math.isfinite(rows_of(result, 'pairs')['multiples of 4']['quality']['psnr'])  # 32x40 images are fine
    assert result['methods'][1]['status'] == 'ok'
    assert '| incomplete: macs, latency_ms, peak_memory_mb not measured' in open(os.path.join(out, 'results.md')).read()
    assert read(out, 'results.csv')[0]['status'] == 'incomplete'


def test_seed_makes_two_runs_give_one_table(data, tmp_path):
    methods = [{
        'name': 'random R2RNet',
        'network': {
            'type': 'R2RNet',
            'channel': 4
        }
    }, {
        'name': 'random Zero-DCE',
        'network': {
            'type': 'R2RPluginZeroDCE',
            'channel': 4
        }
    }]
    tables = []
    for run_index in range(2):
        folder = tmp_path / f'run{run_index}'
        folder.mkdir()
        code, out = run(
            str(folder),
            methods,
            dataset={
                'name': 'pairs',
                'layout': 'lol',
                'dataroot': data['pairs']
            },
            metrics={'niqe': False})
        assert code == 0
        tables.append(read(out, 'results.json')['datasets'])
    assert tables[0] == tables[1]
    assert tables[0][0]['methods'][0]['quality'] != tables[0][0]['methods'][1]['quality']


def test_unreadable_photo_folder_stops_before_any_method(data, tmp_path, capsys):
    bad = tmp_path / 'not_images'
    bad.mkdir()
    (bad / 'notes.png').write_text('not a picture')
    methods = [IDENTITY]
    for folder, message in ((tmp_path / 'missing', "dataset 'gone' could not be read"),
                            (bad, "dataset 'gone': image 0 could not be read")):
        code, out = run(str(tmp_path), methods, dataset={'name': 'gone', 'dataroot_lq': str(folder)})
        assert code == 2 and not os.path.exists(out)
        assert message in capsys.readouterr().err
