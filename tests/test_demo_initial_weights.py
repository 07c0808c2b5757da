"""The demo's starting weights: Decom- and Denoise-Net see their input from the first step."""
import pytest
import torch

from r2rnet_plugin.archs.r2rnet_arch import R2RNet
from r2rnet_plugin.demo.options import init_path
from r2rnet_plugin.demo.run import FULL, write_initial_weights
from r2rnet_plugin.weights.state_dicts import read_state_dict

PRESET = FULL  # the demo's width


def started(tmp_path, stage, seed):
    """Sub-network ``stage`` loaded from the file ``write_initial_weights`` wrote for ``seed``."""
    write_initial_weights(str(tmp_path), stage, PRESET, seed)
    net = getattr(R2RNet(PRESET['channel']), stage)
    net.load_state_dict(read_state_dict(str(tmp_path / init_path(stage)), 'params', 'initial weights'))
    return net.eval()


def dark_images():
    """A dark image and the same scene half as bright, ``[2, 3, 32, 32]``."""
    torch.manual_seed(0)
    low = torch.rand(1, 3, 32, 32) * 0.3
    return torch.cat((low, low * 0.5))


@pytest.mark.parametrize('seed', range(8))
def test_decom_starts_input_dependent_with_every_reflectance_channel_on_the_steep_side(tmp_path, seed):
    net = started(tmp_path, 'decom', seed)
    captured = {}
    net.out_conv.register_forward_hook(lambda module, args, out: captured.setdefault('out', out))
    with torch.no_grad():
        R, _ = net(dark_images())
    reflectance = captured['out'][:, :3]
    assert (reflectance > 0).float().mean() > 0.95  # LeakyReLU's slope-1 side, whatever the seed
    assert R.mean() > 0.6
    assert (R[0] - R[1]).abs().mean() > 1e-3  # the two exposures are told apart


@pytest.mark.parametrize('seed', range(8))
def test_denoise_starts_input_dependent_with_every_output_channel_positive(tmp_path, seed):
    net = started(tmp_path, 'denoise', seed)
    x = dark_images()
    R, L = x, x.mean(dim=1, keepdim=True)
    with torch.no_grad():
        out = net(L, R)
        default = getattr(R2RNet(PRESET['channel']), 'denoise').eval()(L, R)
    assert (out > 0).float().mean() > 0.95
    assert 0.2 < out.mean() < 0.8
    sensitivity = (out[0] - out[1]).abs().mean()
    assert sensitivity > 100 * (default[0] - default[1]).abs().mean()  # PyTorch's default is blind


def test_initial_weights_depend_on_the_seed_and_are_written_once(tmp_path):
    first = started(tmp_path / 'a', 'denoise', 0).state_dict()
    again = started(tmp_path / 'a', 'denoise', 1).state_dict()  # the file exists: kept
    other = started(tmp_path / 'b', 'denoise', 1).state_dict()
    assert all(torch.equal(first[k], again[k]) for k in first)
    assert not torch.equal(first['out_conv.weight'], other['out_conv.weight'])
