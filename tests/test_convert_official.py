"""The official-checkpoint converter: renaming, errors that name keys, the command line."""
import pytest
import torch

from basicsr.archs import build_network
from r2rnet_plugin.convert_official import main
from r2rnet_plugin.weights.official import CheckpointKeyError, convert_official
from r2rnet_plugin.weights.official_keys import RULES, plugin_key


@pytest.fixture
def checkpoint_files(tmp_path, reference_states):
    paths = []
    for name, state in zip(('decom', 'denoise', 'relight'), reference_states):
        path = tmp_path / f'{name}.tar'
        torch.save(state, path)
        paths.append(str(path))
    return paths


def test_every_reference_key_maps_to_a_distinct_plugin_key(reference_states):
    for stage, state in zip(RULES, reference_states):
        mapped = [plugin_key(stage, k) for k in state]
        assert None not in mapped
        assert len(set(mapped)) == len(mapped)


def test_converted_weights_load_strictly(reference_states):
    state = convert_official(*reference_states)
    net = build_network({'type': 'R2RNet'})
    net.load_state_dict(state, strict=True)
    assert torch.equal(net.decom.in_conv.weight, reference_states[0]['conv0.weight'])
    assert torch.equal(net.relight.fft_branch.input_lift.conv_i.bias,
                       reference_states[2]['EnhanceModule0.channel_up.conv_i.bias'])


def test_missing_and_unexpected_keys_are_named(reference_states):
    decom, denoise, relight = (dict(s) for s in reference_states)
    del denoise['conv17.weight']
    relight['EnhanceModule9.conv0.weight'] = torch.zeros(1)
    with pytest.raises(CheckpointKeyError, match=r'unet\.encoders\.3\.convs\.2\.weight'):
        convert_official(decom, denoise, reference_states[2])
    with pytest.raises(CheckpointKeyError, match=r'EnhanceModule9\.conv0\.weight'):
        convert_official(decom, reference_states[1], relight)


def test_swapped_checkpoints_and_wrong_shapes_are_reported(reference_states):
    decom, denoise, relight = reference_states
    with pytest.raises(CheckpointKeyError, match='DenoiseNet'):
        convert_official(decom, relight, relight)
    bad = dict(decom)
    bad['conv5.weight'] = torch.zeros(3, 64, 1, 1)
    with pytest.raises(CheckpointKeyError, match=r'conv5\.weight \(3, 64, 1, 1\) \(expected \(4, 64, 1, 1\)\)'):
        convert_official(bad, denoise, relight)


def test_command_line_writes_basicsr_file(tmp_path, checkpoint_files, reference_model, fixture, capsys):
    out = tmp_path / 'r2rnet.pth'
    decom, denoise, relight = checkpoint_files
    assert main(['--decom', decom, '--denoise', denoise, '--relight', relight, '--out', str(out)]) == 0
    saved = torch.load(out, weights_only=True)
    assert set(saved) == {'params'}
    net = build_network({'type': 'R2RNet'}).eval()
    net.load_state_dict(saved['params'])
    with torch.no_grad():
        assert (net(fixture['input_low']) - fixture['enhanced']).abs().max() <= 1e-4
    assert 'pretrain_network_g' in capsys.readouterr().out


def test_command_line_reports_bad_files(tmp_path, checkpoint_files, capsys):
    junk = tmp_path / 'junk.tar'
    junk.write_bytes(b'not a checkpoint')
    decom, denoise, _ = checkpoint_files
    code = main(['--decom', decom, '--denoise', denoise, '--relight', str(junk), '--out', str(tmp_path / 'o.pth')])
    assert code == 2
    assert 'junk.tar' in capsys.readouterr().err
    code = main([
        '--decom', decom, '--denoise', denoise, '--relight',
        str(tmp_path / 'nope.tar'), '--out',
        str(tmp_path / 'o.pth')
    ])
    assert code == 2
    assert 'nope.tar' in capsys.readouterr().err
    assert not (tmp_path / 'o.pth').exists()
