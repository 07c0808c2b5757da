"""R2RNet beyond the reference: any size, batch independence, FFT modes, dtypes, devices."""
import pytest
import torch

from basicsr.archs import build_network
from basicsr.utils.registry import ARCH_REGISTRY
from r2rnet_plugin.archs.r2rnet_arch import R2RNet


def small_model(**kwargs):
    """A narrow R2RNet whose relit illumination is not all zero (the output ReLU is live)."""
    torch.manual_seed(0)
    model = R2RNet(channel=8, **kwargs)
    torch.nn.init.constant_(model.relight.out_conv.bias, 0.5)
    return model.eval()


def test_registered_in_basicsr():
    for name in ('R2RNet', 'R2RDecomNet', 'R2RDenoiseNet', 'R2RRelightNet'):
        assert ARCH_REGISTRY.get(name) is not None
    net = build_network({'type': 'R2RNet', 'channel': 8})
    assert isinstance(net, R2RNet)
    assert {name for name, _ in net.named_children()} == {'decom', 'denoise', 'relight'}


@torch.no_grad()
def test_odd_size_with_published_width(reference_model):
    x = torch.rand(1, 3, 67, 101)
    y = reference_model(x)
    assert y.shape == (1, 3, 67, 101)
    assert torch.isfinite(y).all()


@torch.no_grad()
@pytest.mark.parametrize('size', [(1, 1), (5, 3), (8, 8), (17, 9), (64, 96), (130, 250)])
def test_any_size(size):
    model = small_model()
    x = torch.rand(2, 3, *size)
    out = model.components(x)
    assert out.enhanced.shape == (2, 3, *size)
    assert out.R.shape == out.R_denoised.shape == (2, 3, *size)
    assert out.L.shape == out.I_delta.shape == (2, 1, *size)
    for t in out:
        assert torch.isfinite(t).all()


@torch.no_grad()
def test_sub_networks_accept_any_size():
    model = small_model()
    R, L = model.decom(torch.rand(1, 3, 13, 21))
    assert model.denoise(L, R).shape == (1, 3, 13, 21)
    assert model.relight(L, R).shape == (1, 1, 13, 21)


@torch.no_grad()
@pytest.mark.parametrize('fft_mode', ['chw', 'hw'])
def test_batch_equals_images_one_by_one(fft_mode):
    model = small_model(fft_mode=fft_mode)
    x = torch.rand(3, 3, 24, 40)
    batched = model(x)
    single = torch.cat([model(x[i:i + 1]) for i in range(3)])
    assert torch.allclose(batched, single, atol=1e-5)


@torch.no_grad()
def test_batch_equals_images_one_by_one_published_width(reference_model, fixture):
    x = torch.cat([fixture['input_low'], torch.rand(1, 3, 64, 96)])
    batched = reference_model(x)
    assert torch.allclose(batched[:1], reference_model(x[:1]), atol=1e-5)
    assert torch.allclose(batched[1:], reference_model(x[1:]), atol=1e-5)


@torch.no_grad()
def test_fft_modes_share_weights_but_differ():
    chw = small_model(fft_mode='chw')
    hw = small_model(fft_mode='hw')
    hw.load_state_dict(chw.state_dict())
    x = torch.rand(1, 3, 16, 24)
    assert not torch.allclose(chw(x), hw(x))


def test_batch_fft_mode_is_the_transform_over_every_dim():
    from r2rnet_plugin.archs.r2r_blocks import SpectralTransform
    x = torch.randn(3, 4, 8, 12, dtype=torch.float64)
    spectral = SpectralTransform('batch')
    split = spectral.forward(x)
    spectrum = torch.fft.rfftn(x)  # no dim: over N, C, H, W, as the published code calls it
    assert torch.equal(split, torch.cat((spectrum.real, spectrum.imag), dim=1))
    y = torch.randn_like(split)
    published = torch.fft.irfftn(torch.complex(y[:, :4], y[:, 4:]))
    assert torch.allclose(spectral.inverse(y, (8, 12)), published, atol=1e-12)


@torch.no_grad()
def test_batch_fft_mode_mixes_images_but_equals_chw_for_one():
    chw = small_model(fft_mode='chw')
    whole = small_model(fft_mode='batch')
    whole.load_state_dict(chw.state_dict())
    x = torch.rand(2, 3, 64, 64)  # large enough for the fast inference convolutions
    alone = chw.components(x[:1]).I_delta
    assert torch.allclose(whole.components(x[:1]).I_delta, alone, atol=1e-6)
    # In a batch of two the FFT branch sees both images (3e-4 here, far above rounding).
    assert (whole.components(x).I_delta[:1] - alone).abs().max() > 1e-5


def test_unknown_fft_mode():
    with pytest.raises(ValueError, match='fft_mode'):
        R2RNet(channel=8, fft_mode='cw')


def test_complex_conv_modes_share_the_state_dict_and_the_output():
    """``complex_conv: published`` (complexPyTorch's four real convolutions) computes what the fused
    default computes, up to float32 rounding, with the same parameters: weights load either way."""
    from r2rnet_plugin.archs.r2r_blocks import ComplexConv2d
    fused = small_model()
    published = R2RNet(channel=8, complex_conv='published').eval()
    assert list(published.state_dict()) == list(fused.state_dict())
    published.load_state_dict(fused.state_dict())
    fused.load_state_dict(published.state_dict())
    modes = {m.mode for m in published.modules() if isinstance(m, ComplexConv2d)}
    assert modes == {'published'} and {m.mode for m in fused.modules() if isinstance(m, ComplexConv2d)} == {'fused'}
    x = torch.rand(2, 3, 24, 40)
    with torch.no_grad():
        a, b = fused.components(x), published.components(x)
    scale = a.I_delta.abs().max()
    assert scale > 0
    assert (a.I_delta - b.I_delta).abs().max() <= 1e-5 * scale
    assert torch.equal(a.R_denoised, b.R_denoised)  # only Relight-Net has complex convolutions


def test_published_complex_conv_is_apply_complex():
    """The published mode is complexPyTorch's ``apply_complex``, biases included, to the bit in float64."""
    from r2rnet_plugin.archs.r2r_blocks import ComplexConv2d
    torch.manual_seed(0)
    conv = ComplexConv2d(3, 5, mode='published').double()
    x = torch.randn(2, 3, 9, 11, dtype=torch.complex128)
    expected = (conv.conv_r(x.real) - conv.conv_i(x.imag)) + 1j * (conv.conv_r(x.imag) + conv.conv_i(x.real))
    out = conv(torch.cat((x.real, x.imag), dim=1))
    assert torch.equal(out, torch.cat((expected.real, expected.imag), dim=1))


@pytest.mark.parametrize('arch', ['R2RNet', 'R2RRelightNet'])
def test_unknown_complex_conv_names_the_option_and_choices(arch):
    from r2rnet_plugin.utils.option_checks import OptionError
    with pytest.raises(
            OptionError, match="option 'network_g: complex_conv' must be one of fused, published; "
            "got 'four'"):
        build_network({'type': arch, 'channel': 8, 'complex_conv': 'four'})


@torch.no_grad()
@pytest.mark.parametrize('dtype', [torch.float64, torch.bfloat16, torch.float16])
def test_float_dtypes(dtype):
    model = small_model()
    x = torch.rand(1, 3, 19, 27)
    expected = model(x)
    y = model.to(dtype)(x.to(dtype))
    assert y.dtype == dtype
    assert torch.isfinite(y).all()
    tolerance = 1e-5 if dtype == torch.float64 else 0.05 * expected.abs().max().item() + 1e-3
    assert (y.float() - expected).abs().max().item() <= tolerance


def test_gradients_reach_every_stage():
    model = small_model().train()
    model(torch.rand(2, 3, 16, 16)).mean().backward()
    for name in ('decom', 'denoise', 'relight'):
        grads = [p.grad for p in getattr(model, name).parameters()]
        assert all(g is not None for g in grads)
        assert any(g.abs().sum() > 0 for g in grads)


@pytest.mark.skipif(not torch.cuda.is_available(), reason='needs CUDA')
@torch.no_grad()
def test_cuda_matches_cpu(reference_model, fixture):
    expected = reference_model(fixture['batch2_input_low'])
    model = R2RNet().cuda().eval()
    model.load_state_dict(reference_model.state_dict())
    out = model(fixture['batch2_input_low'].cuda()).cpu()
    assert (out - expected).abs().max().item() <= 1e-4
    with torch.autocast('cuda', dtype=torch.bfloat16):
        assert torch.isfinite(model(torch.rand(1, 3, 67, 101, device='cuda'))).all()
