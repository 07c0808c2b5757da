"""The benchmark's ``weights: {decom:, relight:}``: the RetinexNet PyTorch port's two published
checkpoints, converted in memory as ``convert_official --arch retinexnet`` converts them."""
import os

import pytest
import torch
from reference_weights import load_retinexnet_port_fixture
from tiny_setup import REPO

from r2rnet_plugin.archs.r2rnet_arch import R2RNet
from r2rnet_plugin.archs.retinexnet_arch import RetinexNet
from r2rnet_plugin.comparison.config import BenchmarkConfigError, MethodSpec, is_no_reference, load_config, parse_config
from r2rnet_plugin.comparison.methods import MethodLoadError, build_network, check_weight_files
from r2rnet_plugin.convert_official import main as convert_command
from r2rnet_plugin.weights.official_keys import plugin_key

PORT_NAMES = {'decom': 'DecomNet', 'relight': 'RelightNet'}


@pytest.fixture(scope='module')
def narrow():
    torch.manual_seed(3)
    return RetinexNet(channel=8)  # the port's depth (5 layers), a tiny width


@pytest.fixture
def port_files(narrow, tmp_path):
    """``narrow``'s weights saved as the port's ``ckpts/Decom/*.tar`` and ``ckpts/Relight/*.tar``."""
    schema, state, paths = load_retinexnet_port_fixture()['schema'], narrow.state_dict(), {}
    for stage, reference in PORT_NAMES.items():
        checkpoint = {key: state[f'{stage}.{plugin_key(stage, key, "retinexnet")}'] for key, _ in schema[reference]}
        paths[stage] = str(tmp_path / f'{reference}.tar')
        torch.save(checkpoint, paths[stage])
    return paths


def method(weights, network_type='R2RPluginRetinexNet', name='RetinexNet (port)'):
    return {'name': name, 'network': {'type': network_type}, 'weights': weights}


def options(*methods):
    return {'dataset': {'dataroot_lq': 'photos'}, 'methods': list(methods)}


def test_port_checkpoints_load_with_their_width(narrow, port_files):
    spec = parse_config(options(method(port_files))).methods[0]
    assert spec.weights == port_files and spec.weight_files() == list(port_files.values())
    net, notes = build_network(spec)
    assert isinstance(net, RetinexNet) and net.decom.shallow.weight.shape[0] == 8 and notes == []
    assert all(torch.equal(v, narrow.state_dict()[k]) for k, v in net.state_dict().items())


def test_same_tensors_as_the_converted_file(port_files, tmp_path):
    out = tmp_path / 'retinexnet.pth'
    assert convert_command(
        ['--arch', 'retinexnet', '--decom', port_files['decom'], '--relight', port_files['relight'], '--out',
         str(out)]) == 0
    from_pair, _ = build_network(MethodSpec('pair', {'type': 'R2RPluginRetinexNet'}, port_files))
    from_file, _ = build_network(MethodSpec('file', {'type': 'R2RPluginRetinexNet'}, str(out)))
    assert all(torch.equal(v, from_file.state_dict()[k]) for k, v in from_pair.state_dict().items())


@pytest.mark.parametrize('weights, message', [
    ({
        'decom': 'D.tar'
    }, r"methods\[0\] \('RetinexNet \(port\)'\): weights: \{decom:\} lacks relight:"),
    ({
        'relight': 'R.tar'
    }, r"\('RetinexNet \(port\)'\): weights: \{relight:\} lacks decom:"),
    ({
        'decom': 'D.tar',
        'relight': 'R.tar',
        'denoiser': 'N.tar'
    }, r"unknown key\(s\) denoiser"),
    ({
        'decom': 'D.tar',
        'relight': 3
    }, r'weights must be null, a weights file'),
])
def test_incomplete_or_unknown_pairs_are_refused_naming_method_and_key(weights, message):
    with pytest.raises(BenchmarkConfigError, match=message):
        parse_config(options(method(weights)))


def test_every_missing_checkpoint_is_named(tmp_path):
    spec = parse_config(options(method({'decom': str(tmp_path / 'D.tar'), 'relight': str(tmp_path / 'R.tar')})))
    with pytest.raises(MethodLoadError, match=r'not found: .*D\.tar, .*R\.tar'):
        check_weight_files(spec.methods[0])


def test_pair_and_triple_go_to_their_own_network(port_files, tmp_path):
    with pytest.raises(MethodLoadError, match=r"method 'r2r'.*denoise: is missing.*R2RPluginRetinexNet"):
        build_network(MethodSpec('r2r', {'type': 'R2RNet'}, port_files))
    torch.save(R2RNet(channel=4).denoise.state_dict(), tmp_path / 'N.tar')
    triple = dict(port_files, denoise=str(tmp_path / 'N.tar'))
    with pytest.raises(MethodLoadError, match=r"method 'retinex'.*two checkpoints.*remove denoise:"):
        build_network(MethodSpec('retinex', {'type': 'R2RPluginRetinexNet'}, triple))
    with pytest.raises(MethodLoadError, match=r"method 'dce'.*R2RPluginZeroDCE has no decom, denoise, relight"):
        build_network(MethodSpec('dce', {'type': 'R2RPluginZeroDCE'}, port_files))


def test_real_photos_options_use_the_published_pair_and_placeholder_paths():
    config = load_config(os.path.join(REPO, 'options', 'benchmark', 'real_photos.yml'))
    assert all(is_no_reference(d) for d in config.datasets)
    retinexnet = next(m for m in config.methods if m.arch == 'R2RPluginRetinexNet')
    assert sorted(retinexnet.weights) == ['decom', 'relight']
    paths = [d['dataroot_lq'] for d in config.datasets] + [p for m in config.methods for p in m.weight_files()]
    assert all(p.startswith('real_photos/') for p in paths)
