"""R2RNet reproduces the published implementation's numbers (tests/data/README.md)."""
import pytest
import torch

ATOL = 1e-4


def assert_close(actual, expected):
    assert actual.shape == expected.shape
    assert (actual - expected).abs().max().item() <= ATOL


@torch.no_grad()
@pytest.mark.parametrize('image, R_key, L_key', [('input_low', 'R_low', 'I_low'), ('input_high', 'R_high', 'I_high')])
def test_decom_net(reference_model, fixture, image, R_key, L_key):
    R, L = reference_model.decom(fixture[image])
    assert_close(R, fixture[R_key])
    assert_close(L, fixture[L_key])


@torch.no_grad()
def test_denoise_net(reference_model, fixture):
    assert_close(reference_model.denoise(fixture['I_low'], fixture['R_low']), fixture['denoise_R'])


@torch.no_grad()
def test_relight_net(reference_model, fixture):
    assert_close(reference_model.relight(fixture['I_low'], fixture['denoise_R']), fixture['I_delta'])


@torch.no_grad()
def test_end_to_end_components(reference_model, fixture):
    out = reference_model.components(fixture['input_low'])
    for name, key in [('R', 'R_low'), ('L', 'I_low'), ('R_denoised', 'denoise_R'), ('I_delta', 'I_delta'),
                      ('enhanced', 'enhanced')]:
        assert_close(getattr(out, name), fixture[key])
    assert_close(reference_model(fixture['input_low']), fixture['enhanced'])


@torch.no_grad()
def test_batch_of_two(reference_model, fixture):
    assert_close(reference_model(fixture['batch2_input_low']), fixture['batch2_enhanced'])
