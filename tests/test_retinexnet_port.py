"""RetinexNet is the PyTorch port's network number for number (tests/data/README.md), and its
published checkpoints convert with ``convert_official --arch retinexnet``."""
import pytest
import torch
from reference_weights import load_retinexnet_port_fixture, retinexnet_port_state_dict

from basicsr.archs import build_network
from r2rnet_plugin.archs.retinexnet_arch import RetinexNet
from r2rnet_plugin.convert_official import main
from r2rnet_plugin.weights.official import CheckpointKeyError, convert_retinexnet
from r2rnet_plugin.weights.official_keys import plugin_key

ATOL = 1e-5


@pytest.fixture(scope='module')
def port():
    return load_retinexnet_port_fixture()


@pytest.fixture(scope='module')
def port_states(port):
    return {net: retinexnet_port_state_dict(net, port['schema']) for net in ('DecomNet', 'RelightNet')}


@pytest.fixture
def port_files(tmp_path, port_states):
    paths = {}
    for option, net in (('--decom', 'DecomNet'), ('--relight', 'RelightNet')):
        paths[option] = str(tmp_path / f'{net}.tar')
        torch.save(port_states[net], paths[option])
    return paths


def port_args(paths, out, arch='retinexnet'):
    return ['--arch', arch] + [a for option, path in paths.items() for a in (option, path)] + ['--out', str(out)]


@torch.no_grad()
def test_components_match_the_port(port, port_states):
    net = RetinexNet().eval()
    net.load_state_dict(convert_retinexnet(port_states['DecomNet'], port_states['RelightNet']))
    parts = net.components(port['input'])  # 2 x 3 x 37 x 53: odd sizes, a batch of two
    for name, key in (('R', 'R'), ('L', 'L'), ('I_delta', 'I_delta'), ('enhanced', 'output')):
        actual, expected = getattr(parts, name), port[key]
        assert actual.shape == expected.shape
        assert (actual - expected).abs().max().item() <= ATOL, name
    assert (net(port['input']) - port['output']).abs().max().item() <= ATOL


def test_every_port_key_maps_to_a_distinct_key_of_the_arch(port):
    net = RetinexNet()
    for stage, reference in (('decom', 'DecomNet'), ('relight', 'RelightNet')):
        mapped = [plugin_key(stage, key, 'retinexnet') for key, _ in port['schema'][reference]]
        assert None not in mapped and len(set(mapped)) == len(mapped)
        assert set(mapped) == set(getattr(net, stage).state_dict())


def test_width_and_depth_are_read_from_the_checkpoint():
    narrow = RetinexNet(channel=8, num_layers=3)
    decom = {
        'net1_conv0.weight': narrow.decom.shallow.weight,
        'net1_conv0.bias': narrow.decom.shallow.bias,
        'net1_recon.weight': narrow.decom.recon.weight,
        'net1_recon.bias': narrow.decom.recon.bias
    }
    for i, layer in enumerate(narrow.decom.layers):
        decom.update({f'net1_convs.{2 * i}.weight': layer.weight, f'net1_convs.{2 * i}.bias': layer.bias})
    relight = {}
    for name, module in (('net2_conv0_1', 'in_conv'), ('net2_conv1_2', 'downs.1'), ('net2_deconv1_3', 'ups.2'),
                         ('net2_fusion', 'fusion'), ('net2_output', 'out_conv'), ('net2_conv1_1', 'downs.0'),
                         ('net2_conv1_3', 'downs.2'), ('net2_deconv1_1', 'ups.0'), ('net2_deconv1_2', 'ups.1')):
        for param in ('weight', 'bias'):
            relight[f'{name}.{param}'] = narrow.relight.state_dict()[f'{module}.{param}']
    state = convert_retinexnet(decom, relight)
    assert set(state) == set(narrow.state_dict())
    assert all(torch.equal(state[k], v) for k, v in narrow.state_dict().items())


def test_r2rnet_checkpoints_are_not_retinexnet_ones(port_states, reference_states):
    decom_r2r = reference_states[0]
    with pytest.raises(CheckpointKeyError, match=r'RetinexNet PyTorch port.*DecomNet.*unexpected keys: .*RM0'):
        convert_retinexnet(decom_r2r, port_states['RelightNet'])
    with pytest.raises(CheckpointKeyError, match=r'RelightNet checkpoint.*net1_conv0'):
        convert_retinexnet(port_states['DecomNet'], port_states['DecomNet'])
    bad = dict(port_states['RelightNet'])
    bad['net2_deconv1_1.weight'] = torch.zeros(64, 64, 3, 3)  # the old additive-skip layout
    with pytest.raises(
            CheckpointKeyError, match=r'net2_deconv1_1\.weight \(64, 64, 3, 3\) \(expected \(64, 128, 3, 3\)\)'):
        convert_retinexnet(port_states['DecomNet'], bad)


def test_command_writes_a_basicsr_file_that_reproduces_the_port(tmp_path, port, port_files, capsys):
    out = tmp_path / 'retinexnet.pth'
    assert main(port_args(port_files, out)) == 0
    assert 'type: R2RPluginRetinexNet' in capsys.readouterr().out
    saved = torch.load(out, weights_only=True)
    assert set(saved) == {'params'}
    net = build_network({'type': 'R2RPluginRetinexNet'}).eval()
    net.load_state_dict(saved['params'])
    with torch.no_grad():
        assert (net(port['input']) - port['output']).abs().max().item() <= ATOL


@pytest.mark.parametrize('args, message', [
    (['--arch', 'retinexnet', '--decom', 'd.tar', '--denoise', 'n.tar', '--relight', 'r.tar', '--out', 'o.pth'
      ], '--denoise is for --arch r2rnet only'),
    (['--decom', 'd.tar', '--relight', 'r.tar', '--out', 'o.pth'], '--arch r2rnet needs --denoise'),
    (['--arch', 'retinex', '--decom', 'd.tar', '--relight', 'r.tar', '--out', 'o.pth'], "invalid choice: 'retinex'"),
])
def test_wrong_combinations_are_refused_before_reading(tmp_path, monkeypatch, args, message, capsys):
    monkeypatch.chdir(tmp_path)
    with pytest.raises(SystemExit) as stop:
        main(args)
    assert stop.value.code == 2 and message in capsys.readouterr().err
    assert list(tmp_path.iterdir()) == []


def test_command_safety_holds_for_retinexnet(tmp_path, port_files, port_states, capsys):
    same = port_files['--relight']
    before = open(same, 'rb').read()
    assert main(port_args(port_files, same)) == 2
    assert f'is the same file as --relight {same}' in capsys.readouterr().err
    assert open(same, 'rb').read() == before
    nan = dict(port_states['DecomNet'])
    nan['net1_recon.bias'] = torch.tensor([0.0, float('nan'), 0.0, 0.0])
    torch.save(nan, port_files['--decom'])
    assert main(port_args(port_files, tmp_path / 'o.pth')) == 2
    assert 'net1_recon.bias (1 NaN, 0 inf of 4)' in capsys.readouterr().err
    assert not (tmp_path / 'o.pth').exists()
