"""``python -m r2rnet_plugin.benchmark``: every method on the same tiny images, reports and errors."""
import csv
import json
import math
import os
import subprocess
import sys

import cv2
import pytest
import torch
import yaml
from reference_weights import load_schema
from tiny_setup import write_lol_pairs

from r2rnet_plugin.archs.r2rnet_arch import R2RNet
from r2rnet_plugin.archs.zero_dce_arch import ZeroDCE
from r2rnet_plugin.benchmark import main
from r2rnet_plugin.comparison.cost import count_macs, measure_cost
from r2rnet_plugin.comparison.quality import grey_mean, gt_mean_scaled, image_quality, niqe_score
from r2rnet_plugin.weights.official_keys import REFERENCE_NAMES, plugin_key

OUTPUT_FILES = ('results.md', 'results.csv', 'summary.csv', 'results.json', 'quality_vs_latency.png', 'crops.png')
LLIE_ARCHS = ('R2RPluginCLAHE', 'R2RPluginGamma', 'R2RPluginIdentity', 'R2RNet', 'R2RPluginRetinexNet',
              'R2RPluginZeroDCE')
PLUGIN_MODULE = 'bench_test_plugin_archs'
PLUGIN_SOURCE = '''
import torch
from basicsr.utils.registry import ARCH_REGISTRY


@ARCH_REGISTRY.register()
class BenchTestBrighten(torch.nn.Module):
    """Multiplies by a learnable gain: a third-party LLIE arch registered by its own module."""
    llie_arch = True

    def __init__(self, gain=3.0):
        super().__init__()
        self.gain = torch.nn.Parameter(torch.tensor(float(gain)))

    def forward(self, x):
        return (x * self.gain).clamp(0, 1)
'''


@pytest.fixture(scope='module')
def bench(tmp_path_factory):
    """Tiny LOL data big enough for NIQE (96x192: two blocks), R2RNet weights, a plugin module."""
    root = tmp_path_factory.mktemp('bench')
    data = write_lol_pairs(root / 'data', count=2, size=(96, 192))
    torch.manual_seed(0)
    r2rnet = R2RNet(channel=8)
    torch.save({'params': r2rnet.state_dict()}, root / 'r2rnet_c8.pth')
    (root / 'plugins').mkdir()
    (root / 'plugins' / f'{PLUGIN_MODULE}.py').write_text(PLUGIN_SOURCE)
    return {
        'root': root,
        'data': data,
        'weights': str(root / 'r2rnet_c8.pth'),
        'r2rnet': r2rnet,
        'plugin_dir': str(root / 'plugins')
    }


def write_benchmark(folder, data, methods, **options):
    opt = {
        'name': 'tiny',
        'dataset': {
            'name': 'tiny_lol',
            'layout': 'lol',
            'dataroot': data
        },
        'device': 'cpu',
        'cost_size': [32, 32],
        'warmup': 1,
        'repeats': 2,
        'sheet': {
            'images': 2,
            'crop': 64
        },
        'methods': methods
    }
    opt.update(options)
    path = os.path.join(folder, 'bench.yml')
    with open(path, 'w') as f:
        yaml.safe_dump(opt, f)
    return path


def read_json(out):
    with open(os.path.join(out, 'results.json')) as f:
        return json.load(f)


def quality_rows(result, dataset=0):
    """``{method name: its row of the table of dataset number dataset}`` of a results.json."""
    return {row['name']: row for row in result['datasets'][dataset]['methods']}


def test_benchmark_runs_every_method_and_writes_every_file(bench, tmp_path, monkeypatch):
    monkeypatch.syspath_prepend(bench['plugin_dir'])
    methods = [{
        'name': 'R2RNet c8',
        'network': {
            'type': 'R2RNet',
            'channel': 8
        },
        'weights': bench['weights']
    }, {
        'name': 'Gamma',
        'network': {
            'type': 'R2RPluginGamma'
        },
        'weights': None
    }, {
        'name': 'Plugin arch',
        'network': {
            'type': 'BenchTestBrighten',
            'gain': 4.0
        }
    }]
    out = str(tmp_path / 'out')
    code = main(['-opt', write_benchmark(tmp_path, bench['data'], methods), '--plugin', PLUGIN_MODULE, '--out', out])
    assert code == 0
    for name in OUTPUT_FILES:
        assert os.path.getsize(os.path.join(out, name)) > 0, name

    result = read_json(out)
    assert [m['name'] for m in result['methods']] == ['R2RNet c8', 'Gamma', 'Plugin arch']
    dataset = result['datasets'][0]
    assert dataset['images'] == ['0', '1'] and dataset['paired'] and dataset['name'] == 'tiny_lol'
    assert result['precision'] == 'fp32' and result['device'].startswith('cpu') and result['seed'] == 0
    rows = quality_rows(result)
    for method in result['methods']:
        assert method['status'] == 'ok' and method['error'] is None
        row = rows[method['name']]
        assert row['status'] == 'ok'
        for name in ('psnr', 'ssim', 'psnr_y', 'ssim_y', 'psnr_gtmean', 'ssim_gtmean', 'psnr_y_gtmean', 'ssim_y_gtmean',
                     'loe'):
            assert math.isfinite(row['quality'][name]), (method['name'], name)
        assert row['quality']['niqe'] is not None or any('NIQE' in note for note in row['notes'])
        for name in ('macs', 'latency_ms', 'peak_memory_mb'):
            assert math.isfinite(method[name]) and method[name] >= 0, (method['name'], name)
        assert len(row['per_image']) == 2
    r2r, gamma, plugin = result['methods']
    assert r2r['params'] == sum(p.numel() for p in bench['r2rnet'].parameters()) and r2r['macs'] > 0
    assert gamma['params'] == 0 and plugin['params'] == 1
    assert rows['Gamma']['quality']['niqe'] is not None  # 96x192 images: two NIQE blocks
    assert rows['Gamma']['quality']['loe'] < 10  # an increasing tone curve keeps the lightness order (but rounding)
    assert not r2r['notes'] or 'random' not in ' '.join(r2r['notes'])
    assert sorted(entry['method'] for entry in result['summary']) == ['Gamma', 'Plugin arch', 'R2RNet c8']
    assert all(len(entry['ranks']) == 4 for entry in result['summary'])  # tiny_lol/psnr, ssim, niqe, loe

    with open(os.path.join(out, 'results.csv')) as f:
        rows = list(csv.DictReader(f))
    assert [r['method'] for r in rows] == ['R2RNet c8', 'Gamma', 'Plugin arch']
    assert float(rows[1]['psnr']) == pytest.approx(quality_rows(result)['Gamma']['quality']['psnr'])
    assert rows[1]['dataset'] == 'tiny_lol'

    table = open(os.path.join(out, 'results.md')).read()
    assert all(f'| {name} |' in table for name in ('R2RNet c8', 'Gamma', 'Plugin arch'))
    sheet = cv2.imread(os.path.join(out, 'crops.png'))
    assert sheet.shape[0] > 2 * 64 and sheet.shape[1] > 5 * 64  # 2 images x (input, 3 methods, GT)
    assert cv2.imread(os.path.join(out, 'quality_vs_latency.png')) is not None


def official_checkpoints(net, folder):
    """``net``'s weights as the authors' three checkpoints (their names, any channel width)."""
    schema, paths = load_schema(), []
    state = net.state_dict()
    for stage, reference in REFERENCE_NAMES.items():
        checkpoint = {key: state[f'{stage}.{plugin_key(stage, key)}'] for key, _ in schema[reference]}
        paths.append(str(folder / f'{stage}.tar'))
        torch.save(checkpoint, paths[-1])
    return paths


def test_wrong_weights_are_reported_in_their_row_and_the_others_run(bench, tmp_path):
    torch.save({'params': R2RNet(channel=4).state_dict()}, tmp_path / 'narrow.pth')
    torch.save({'params_ema': bench['r2rnet'].state_dict()}, tmp_path / 'ema.pth')
    partial = {k: v for k, v in ZeroDCE(channel=8).state_dict().items() if not k.startswith('e_conv7')}
    torch.save({'params': partial}, tmp_path / 'partial.pth')
    r2rnet_c8 = {'type': 'R2RNet', 'channel': 8}
    methods = [{
        'name': 'wrong width',
        'network': r2rnet_c8,
        'weights': str(tmp_path / 'narrow.pth')
    }, {
        'name': 'Gamma',
        'network': {
            'type': 'R2RPluginGamma',
            'gamma': 0.5
        }
    }, {
        'name': 'official',
        'network': r2rnet_c8,
        'weights': official_checkpoints(bench['r2rnet'], tmp_path)
    }, {
        'name': 'not official',
        'network': r2rnet_c8,
        'weights': [bench['weights']] * 3
    }, {
        'name': 'ema',
        'network': r2rnet_c8,
        'weights': str(tmp_path / 'ema.pth'),
        'param_key': 'params_ema'
    }, {
        'name': 'missing file',
        'network': {
            'type': 'R2RPluginZeroDCE'
        },
        'weights': str(tmp_path / 'none.pth')
    }, {
        'name': 'partial',
        'network': {
            'type': 'R2RPluginZeroDCE',
            'channel': 8
        },
        'weights': str(tmp_path / 'partial.pth'),
        'strict': False
    }, {
        'name': 'width from file',
        'network': {
            'type': 'R2RNet'
        },
        'weights': bench['weights']
    }, {
        'name': 'two missing',
        'network': {
            'type': 'R2RNet'
        },
        'weights': {
            'decom': str(tmp_path / 'Decom.tar'),
            'denoise': bench['weights'],
            'relight': str(tmp_path / 'Relight.tar')
        }
    }]
    out = str(tmp_path / 'out')
    code = main([
        '-opt',
        write_benchmark(tmp_path, bench['data'], methods, max_images=1, metrics={'niqe': False}), '--out', out,
        '--no-progress'
    ])
    assert code == 1
    result = read_json(out)
    rows, methods = quality_rows(result), {m['name']: m for m in result['methods']}
    wrong = rows['wrong width']
    assert wrong['status'] == 'error' and wrong['quality']['psnr'] is None
    assert 'channel: 8 but the weights' in wrong['error'] and 'of width 4' in wrong['error']
    assert 'decom.in_conv.weight is [4, ' in wrong['error']
    assert 'does not look like a published R2RNet' in rows['not official']['error']
    assert 'not found' in rows['missing file']['error']
    missing = rows['two missing']['error']
    assert str(tmp_path / 'Decom.tar') in missing and str(tmp_path / 'Relight.tar') in missing
    assert 'left out: missing: e_conv7.bias, e_conv7.weight' in methods['partial']['notes'][0]
    assert methods['width from file']['params'] == methods['official']['params']  # channel 8, from the file
    assert rows['width from file']['quality'] == rows['official']['quality']
    for name in ('Gamma', 'official', 'ema', 'partial', 'width from file'):
        assert rows[name]['status'] == 'ok' and math.isfinite(rows[name]['quality']['psnr'])
    assert rows['official']['quality'] == rows['ema']['quality']  # the same weights, both ways
    table = open(os.path.join(out, 'results.md')).read()
    assert '| wrong width | R2RNet |' in table and '| error: network: channel: 8 but the weights' in table
    assert all(os.path.isfile(os.path.join(out, name)) for name in OUTPUT_FILES)


def test_unknown_arch_lists_the_llie_archs(bench, tmp_path, capsys):
    methods = [{
        'name': 'Gamma',
        'network': {
            'type': 'R2RPluginGamma'
        }
    }, {
        'name': 'typo',
        'network': {
            'type': 'R2RNett'
        }
    }]
    assert main(['-opt', write_benchmark(tmp_path, bench['data'], methods), '--out', str(tmp_path / 'out')]) == 2
    err = capsys.readouterr().err
    assert "unknown network type 'R2RNett'" in err and 'methods[1] (typo)' in err
    assert all(name in err for name in LLIE_ARCHS) and '--plugin' in err
    assert 'RRDBNet' not in err  # BasicSR's super-resolution archs are not offered
    assert not (tmp_path / 'out').exists()


@pytest.mark.e2e
def test_command_line_with_plugin_file_and_option_errors(bench, tmp_path):
    plugin = os.path.join(bench['plugin_dir'], f'{PLUGIN_MODULE}.py')
    methods = [{'name': 'typo', 'network': {'type': 'NoSuchArch'}}]
    env = {k: v for k, v in os.environ.items() if k != 'R2RNET_PLUGIN_AUTOLOAD'}

    def run(*args):
        return subprocess.run([sys.executable, '-m', 'r2rnet_plugin.benchmark', *args],
                              cwd=tmp_path,
                              env=env,
                              capture_output=True,
                              text=True,
                              timeout=300)

    result = run('-opt', write_benchmark(tmp_path, bench['data'], methods), '--plugin', plugin)
    assert result.returncode == 2
    assert 'BenchTestBrighten' in result.stderr and 'R2RPluginZeroDCE' in result.stderr  # the plugin's arch is listed
    (tmp_path / 'bad.yml').write_text(yaml.safe_dump({'dataset': {'layout': 'lol'}, 'methods': [], 'repeat': 3}))
    result = run('-opt', str(tmp_path / 'bad.yml'))
    assert result.returncode == 2 and 'unknown option(s) repeat' in result.stderr


# ------------------------------------------------------------------------------ library pieces
def test_gt_mean_and_niqe_note_on_small_images():
    out, gt = 0.05 + 0.1 * torch.rand(3, 40, 48), torch.rand(3, 40, 48)  # no clipping after scaling
    assert grey_mean(gt_mean_scaled(out, gt)) == pytest.approx(float(grey_mean(gt)), rel=1e-5)
    values, notes = image_quality(gt, gt)
    assert values['psnr'] == math.inf and values['ssim'] == pytest.approx(1)
    assert math.isnan(values['niqe']) and 'two 96x96 blocks' in notes[0]
    value, note = niqe_score((torch.rand(96, 96, 3) * 255).numpy())
    assert math.isnan(value) and '96x96' in note


def test_cost_counts_convolution_macs_and_measures():
    conv = torch.nn.Conv2d(3, 8, 3, padding=1)
    x = torch.rand(1, 3, 16, 20)
    assert count_macs(conv, x) == 3 * 8 * 9 * 16 * 20
    cost = measure_cost(conv, torch.device('cpu'), torch.float32, (16, 20), warmup=1, repeats=3)
    assert cost.params == 3 * 8 * 9 + 8 and cost.macs == 3 * 8 * 9 * 16 * 20
    assert cost.latency_ms > 0 and cost.peak_memory_mb >= 0 and not cost.notes
