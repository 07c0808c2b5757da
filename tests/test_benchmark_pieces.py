"""Library pieces of the benchmark: LOE, padding, ranks, figure labels, plugin files, option checks."""
import math
import os
import re
import sys

import cv2
import numpy as np
import pytest
import torch
import yaml
from test_benchmark import official_checkpoints

from r2rnet_plugin.archs.r2rnet_arch import R2RNet
from r2rnet_plugin.comparison.config import BenchmarkConfigError, MethodSpec, load_config, parse_config
from r2rnet_plugin.comparison.figures import (draw_crop_sheet, draw_quality_latency, legend_entries, text_width,
                                              wrap_text)
from r2rnet_plugin.comparison.llie_archs import UnknownArchError, arch_class
from r2rnet_plugin.comparison.loe import downsample, lightness_order_error
from r2rnet_plugin.comparison.methods import MethodLoadError, build_network
from r2rnet_plugin.comparison.padding import PaddedNetwork
from r2rnet_plugin.comparison.plugins import import_plugin
from r2rnet_plugin.comparison.ranking import rank_values
from r2rnet_plugin.comparison.runner import CropSheet


def rgb(lightness_rows):
    """An (H, W, 3) uint8 image whose max(R, G, B) is ``lightness_rows`` (put in one channel)."""
    plane = np.array(lightness_rows, np.uint8)
    img = np.zeros(plane.shape + (3, ), np.uint8)
    img[..., 1] = plane
    img[..., 0] = plane // 2  # below the max: does not change the lightness
    return img


def test_loe_counts_ordered_pairs_whose_order_changes():
    low = rgb([[10, 20], [30, 40]])
    assert lightness_order_error(low, low) == 0
    assert lightness_order_error(low, rgb([[50, 90], [120, 250]])) == 0  # increasing: order kept
    # 10 and 20 swapped: the pairs (10, 20) and (20, 10) change order: 2 disagreements / 4 pixels
    assert lightness_order_error(low, rgb([[20, 10], [30, 40]])) == pytest.approx(0.5)
    # reversed: every ordered pair of distinct pixels changes (12 of 16): 12 / 4
    assert lightness_order_error(low, rgb([[40, 30], [20, 10]])) == pytest.approx(3.0)
    # 10 and 20 both become 20: '10 >= 20' was false, '20 >= 20' is true: one disagreement
    assert lightness_order_error(low, rgb([[20, 20], [30, 40]])) == pytest.approx(0.25)
    with pytest.raises(ValueError, match='one size'):
        lightness_order_error(low, rgb([[1, 2]]))


def test_loe_downsamples_to_the_stated_side():
    plane = np.arange(400 * 650).reshape(400, 650)
    assert downsample(plane, 50).shape == (50, 82)  # step 8
    assert downsample(plane, 100).shape == (100, 163)  # step 4
    assert downsample(plane[:40, :60], 50).shape == (40, 60)  # small: kept whole


def test_padded_network_pads_runs_and_crops_back():
    seen = []

    def needs_four(x):
        seen.append(tuple(x.shape[-2:]))
        assert x.shape[-2] % 4 == 0 and x.shape[-1] % 4 == 0
        return x * 2

    x = torch.rand(1, 3, 67, 101)
    for mode in ('replicate', 'reflect'):
        out = PaddedNetwork(needs_four, 4, mode)(x)
        assert out.shape == x.shape and torch.equal(out, x * 2)
    assert seen == [(68, 104), (68, 104)]
    assert PaddedNetwork(needs_four, 4)(torch.rand(1, 3, 8, 12)).shape == (1, 3, 8, 12)  # no padding needed
    with pytest.raises(ValueError, match='use replicate'):
        PaddedNetwork(needs_four, 8, 'reflect')(torch.rand(1, 3, 3, 3))


def test_ranks_share_ties_and_skip_missing_values():
    assert rank_values([30.0, 20.0, 30.0, None, math.nan], higher_is_better=True) == [1.5, 3, 1.5, None, None]
    assert rank_values([0.0, 5.0, 2.0], higher_is_better=False) == [1, 3, 2]


def test_labels_are_wrapped_never_cut():
    text = 'R2RNet (LOL-trained, options/train/lol/train_r2r_relight.yml, 20 epochs) with an extremely_long_word_' * 2
    lines = wrap_text(text, 150)
    assert all(text_width(line) <= 150 for line in lines) and len(lines) > 3
    assert ''.join(lines).replace(' ', '') == text.replace(' ', '')


def test_plot_legend_lists_failed_methods_and_eight_methods_fit(tmp_path):
    names = [f'Method number {i} with a long descriptive name (trained on LOL)' for i in range(7)] + ['Broken']
    points = [(name, 10.0 * (i + 1), 15.0 + i, False) for i, name in enumerate(names[:7])]
    points.append(('Broken', math.nan, math.nan, True))
    entries = legend_entries(points, ' dB')
    assert entries[-1] == '8 Broken: failed'
    assert entries[0] == f'1 {names[0]}: 15 dB, 10 ms' and all(name in e for name, e in zip(names, entries))
    assert legend_entries([('no latency', math.nan, 12.0)], '')[0] == '1 no latency: not plotted (no latency)'
    path = draw_quality_latency(points, str(tmp_path / 'plot.png'), 'title ' * 40)
    img = cv2.imread(path)
    assert img is not None and img.shape[0] >= 600 and img.shape[1] >= 960
    # the legend column (right of the plot) is wide enough for its longest wrapped line
    longest = max(text_width(line) for entry in entries for line in wrap_text(entry, 300))
    assert img.shape[1] - longest - 40 > 80 + 400


def test_crop_sheet_without_ground_truth_has_no_gt_column(tmp_path):
    crop = np.zeros((16, 16, 3), np.uint8)
    sheet = CropSheet(
        keys=['a'],
        boxes=[(0, 0, 16)],
        inputs=[crop],
        gts=[],
        methods={
            'a method with a name much longer than one tile is wide': [crop],
            'failed': [None]
        })
    img = cv2.imread(draw_crop_sheet(sheet, str(tmp_path / 'sheet.png'), tile=64, gap=4))
    assert img.shape[1] == 110 + 3 * (64 + 4)  # input and two methods
    assert img.shape[0] > 64 + 2 * 17  # the long name took several header lines


def test_unknown_type_does_not_ask_for_llie_arch():
    with pytest.raises(UnknownArchError) as err:
        arch_class('NoSuchArch', 'methods[0]')
    message = str(err.value)
    assert '--plugin' in message and 'any registered arch can then be benchmarked' in message
    assert 'Optional' in message and 'give its class the attribute' not in message


def test_plugin_file_gets_a_module_name_of_its_own(tmp_path):
    folder = tmp_path / 'third_party'
    folder.mkdir()
    (folder / 'basicsr.py').write_text('VALUE = 42\n')  # named like the real package
    module = import_plugin(str(folder / 'basicsr.py'))
    assert module.VALUE == 42 and module.__name__ != 'basicsr' and module.__name__.startswith('r2rnet_plugin_file_')
    assert sys.modules['basicsr'] is not module and hasattr(sys.modules['basicsr'], '__version__')
    assert import_plugin(str(folder / 'basicsr.py')) is module  # once


@pytest.mark.parametrize('options, message', [
    ({
        'dataset': {
            'dataroot_lq': 'x'
        },
        'datasets': [{
            'dataroot_lq': 'y'
        }]
    }, "either option 'dataset'"),
    ({
        'datasets': [{
            'name': 'A',
            'dataroot_lq': 'x'
        }, {
            'name': 'A',
            'dataroot_lq': 'y'
        }]
    }, "'A' are used twice"),
    ({
        'datasets': {
            'name': 'A'
        }
    }, "'datasets' must be a list"),
    ({
        'dataset': {
            'dataroot_lq': 'x'
        },
        'seed': -1
    }, "option 'seed' must be an integer >= 0"),
    ({
        'dataset': {
            'dataroot_lq': 'x'
        },
        'pad_to': 0
    }, "option 'methods[0]: pad_to' must be a positive integer; got 0"),
    ({
        'dataset': {
            'dataroot_lq': 'x'
        },
        'pad_mode': 'zeros'
    }, "option 'methods[0]: pad_mode' must be one of replicate, reflect"),
    ({
        'dataset': {
            'dataroot_lq': 'x'
        },
        'strict': 'false'
    }, "option 'methods[0]: strict' must be true or false; got 'false'"),
])
def test_option_errors_name_the_option(options, message):
    method = {'network': {'type': 'R2RPluginIdentity'}}
    method.update({k: options.pop(k) for k in ('pad_to', 'pad_mode', 'strict') if k in options})
    with pytest.raises(BenchmarkConfigError, match=re.escape(message)):
        parse_config(dict(options, methods=[method]))


def test_no_reference_dataset_defaults():
    config = parse_config({
        'datasets': [{
            'dataroot_lq': 'photos'
        }, {
            'layout': 'lol',
            'dataroot': 'LOL'
        }],
        'methods': [{
            'network': {
                'type': 'R2RPluginIdentity'
            }
        }]
    })
    photos, lol = config.datasets
    assert photos['type'] == 'SingleImageDataset' and photos['io_backend'] == {'type': 'disk'}
    assert photos['name'] == 'dataset1' and lol['type'] == 'LLIEPairedDataset' and lol['name'] == 'dataset2'
    assert config.seed == 0 and config.loe and config.loe_side == 50


def test_lol_demo_benchmarks_the_lol_trained_networks():
    repo = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    config = load_config(os.path.join(repo, 'options', 'benchmark', 'lol_demo.yml'))
    trained_here = {m.name: m.weights for m in config.methods if isinstance(m.weights, str)}
    with open(os.path.join(repo, 'options', 'train', 'lol', 'train_r2r_relight.yml')) as f:
        relight_lol = yaml.safe_load(f)['name']
    assert trained_here['R2RNet (LOL, trained here)'] == f'experiments/{relight_lol}/models/net_g_latest.pth'
    assert all('_lol/' in path and 'lsrw' not in path for path in trained_here.values())
    assert all('channel' not in m.network for m in config.methods)  # widths come from the weights


def test_width_of_the_published_checkpoints_is_read_and_checked(tmp_path):
    narrow = R2RNet(channel=4)
    weights = dict(zip(('decom', 'denoise', 'relight'), official_checkpoints(narrow, tmp_path)))
    net, _ = build_network(MethodSpec('official', {'type': 'R2RNet'}, weights))
    assert net.decom.in_conv.weight.shape[0] == 4
    assert all(torch.equal(v, narrow.state_dict()[k]) for k, v in net.state_dict().items())
    with pytest.raises(MethodLoadError, match=r'channel: 8 but .* of width 4'):
        build_network(MethodSpec('official', {'type': 'R2RNet', 'channel': 8}, weights))
