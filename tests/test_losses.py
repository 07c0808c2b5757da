"""The losses against the reference fixture, plus their own behaviour (layouts, cache, gradients)."""
import pytest
import torch
import torch.nn.functional as F
from reference_weights import load_fixture, reference_state_dict

from basicsr.losses import build_loss
from r2rnet_plugin.losses import r2r_perceptual_loss as perceptual_module
from r2rnet_plugin.losses.frequency_wasserstein_loss import FrequencyWassersteinLoss
from r2rnet_plugin.losses.illumination_smoothness_loss import IlluminationSmoothnessLoss
from r2rnet_plugin.losses.r2r_perceptual_loss import CONV_NAMES, TORCHVISION_INDICES, R2RPerceptualLoss
from r2rnet_plugin.losses.retinex_decom_loss import RetinexDecomLoss

DEVICES = ['cpu'] + (['cuda'] if torch.cuda.is_available() else [])


@pytest.fixture(scope='module')
def fixture():
    return load_fixture()


@pytest.fixture(scope='module')
def vgg_files(tmp_path_factory):
    """The recipe's VGG16 weights saved in the reference layout and in torchvision's layout."""
    folder = tmp_path_factory.mktemp('vgg')
    state = reference_state_dict('VGG16')
    reference, torchvision = folder / 'vgg16.weight', folder / 'vgg16-397923af.pth'
    torch.save(state, reference)
    conv_indices = TORCHVISION_INDICES + (24, 26, 28)  # conv5_* too, as torchvision has them
    names = [key[:-len('.weight')] for key in state if key.endswith('.weight')]
    tv_state = {
        f'features.{i}.{p}': state[f'{name}.{p}']
        for name, i in zip(names, conv_indices)
        for p in ('weight', 'bias')
    }
    tv_state.update({'classifier.0.weight': torch.zeros(4, 8), 'classifier.0.bias': torch.zeros(4)})
    torch.save(tv_state, torchvision)
    return str(reference), str(torchvision)


def assert_close_rel(value, expected, rel=1e-4):
    assert float(value) == pytest.approx(expected, rel=rel)


def test_decom_terms_match_reference(fixture, vgg_files):
    f, expected = fixture, fixture['losses']
    loss = build_loss({'type': 'RetinexDecomLoss', 'vgg_path': vgg_files[0]})
    total = loss(f['R_low'], f['I_low'], f['R_high'], f['I_high'], f['input_low'], f['input_high'])
    assert_close_rel(total, expected['decom_total'])
    for name in ('recon_low', 'recon_high', 'mutual_low', 'mutual_high'):
        assert_close_rel(loss.last_terms[name], expected[f'decom_{name}'])
    assert_close_rel(loss.last_terms['perceptual'], expected['decom_vgg'])
    assert 'smooth' not in loss.last_terms


def test_denoise_and_relight_terms_match_reference(fixture, vgg_files):
    f, expected = fixture, fixture['losses']
    vgg = build_loss({'type': 'R2RPerceptualLoss', 'vgg_path': vgg_files[0], 'loss_weight': 0.1})
    freq = build_loss({'type': 'FrequencyWassersteinLoss', 'loss_weight': 0.01})

    l1, perceptual = F.l1_loss(f['denoise_R'], f['R_high']), vgg(f['denoise_R'], f['R_high'])
    assert_close_rel(l1, expected['denoise_l1'])
    assert_close_rel(perceptual / 0.1, expected['denoise_vgg'])
    assert_close_rel(l1 + perceptual, expected['denoise_total'])

    S, high = f['denoise_R'] * f['I_delta'], f['input_high']
    l1, perceptual, frequency = F.l1_loss(S, high), vgg(S, high), freq(S, high)
    assert_close_rel(l1, expected['relight_l1'])
    assert_close_rel(perceptual / 0.1, expected['relight_vgg'])
    assert_close_rel(frequency / 0.01, expected['relight_frequency'])
    assert_close_rel(l1 + perceptual + frequency, expected['relight_total'])


def test_both_vgg_layouts_give_identical_values(vgg_files):
    a, b = torch.rand(2, 2, 3, 24, 24, generator=torch.Generator().manual_seed(0))
    ref, tv = (R2RPerceptualLoss(path) for path in vgg_files)
    assert torch.equal(ref(a, b), tv(a, b))


def test_weight_file_is_read_once_and_network_shared(vgg_files, monkeypatch):
    monkeypatch.setattr(perceptual_module, '_STATE_CACHE', {})
    monkeypatch.setattr(perceptual_module, '_NETWORK_CACHE', {})
    calls = []
    real_load = torch.load

    def counting_load(*args, **kwargs):
        calls.append(kwargs.get('weights_only'))
        return real_load(*args, **kwargs)

    monkeypatch.setattr(torch, 'load', counting_load)
    first, second = R2RPerceptualLoss(vgg_files[0]), R2RPerceptualLoss(vgg_files[0], loss_weight=2.0)
    decom = RetinexDecomLoss(vgg_path=vgg_files[0])
    assert calls == [True]
    x = torch.rand(1, 3, 8, 8)
    assert first.features(x) is second.features(x) is decom.perceptual.features(x)
    assert first.features(x.double()) is not first.features(x)  # one copy per dtype (and device)
    assert list(first.parameters()) == [] and first.state_dict() == {}  # .to() on it moves nothing


def _assert_names_option_and_layouts(err, path):
    message = str(err.value)
    for part in ('vgg_path', str(path), 'conv1_1.weight', 'features.0.weight'):
        assert part in message


def test_missing_or_wrong_vgg_file_errors(tmp_path):
    missing = tmp_path / 'nowhere.pth'
    with pytest.raises(FileNotFoundError) as err:
        R2RPerceptualLoss(str(missing))
    _assert_names_option_and_layouts(err, missing)

    with pytest.raises(ValueError) as err:
        R2RPerceptualLoss(None)
    _assert_names_option_and_layouts(err, 'None')

    wrong = tmp_path / 'other.pth'
    torch.save({'conv.weight': torch.zeros(1)}, wrong)
    with pytest.raises(ValueError) as err:
        R2RPerceptualLoss(str(wrong))
    _assert_names_option_and_layouts(err, wrong)

    not_torch = tmp_path / 'text.pth'
    not_torch.write_text('not a checkpoint')
    with pytest.raises(ValueError) as err:
        R2RPerceptualLoss(str(not_torch))
    _assert_names_option_and_layouts(err, not_torch)

    small = tmp_path / 'small.weight'
    torch.save({f'{name}.{p}': torch.zeros(2) for name in CONV_NAMES for p in ('weight', 'bias')}, small)
    with pytest.raises(ValueError, match='wrong shape'):
        R2RPerceptualLoss(str(small))


@pytest.mark.parametrize('device', DEVICES)
def test_perceptual_gradient_reaches_input_not_vgg(vgg_files, device):
    loss = R2RPerceptualLoss(vgg_files[0])
    for dtype in (torch.float32, torch.float64):
        pred = torch.rand(1, 3, 16, 16, device=device, dtype=dtype, requires_grad=True)
        value = loss(pred, torch.rand(1, 3, 16, 16, device=device, dtype=dtype))
        value.backward()
        assert value.dtype == dtype and value.device.type == device
        assert pred.grad.abs().sum() > 0
    net = loss.features(pred)
    assert not net.training and all(p.grad is None and not p.requires_grad for p in net.parameters())


def test_decom_loss_without_vgg_and_with_smoothness(fixture):
    f = fixture
    args = (f['R_low'], f['I_low'], f['R_high'], f['I_high'], f['input_low'], f['input_high'])
    plain = RetinexDecomLoss(perceptual_weight=0)
    smooth = RetinexDecomLoss(perceptual_weight=0, smooth_weight=0.5, loss_weight=2.0)
    total_plain, total_smooth = plain(*args), smooth(*args)
    assert set(plain.last_terms) == {'recon_low', 'recon_high', 'mutual_low', 'mutual_high'}
    expected_smooth = (
        IlluminationSmoothnessLoss()(f['I_low'], f['R_low']) + IlluminationSmoothnessLoss()(f['I_high'], f['R_high']))
    assert torch.allclose(smooth.last_terms['smooth'], expected_smooth)
    assert torch.allclose(total_smooth, 2.0 * (total_plain + 0.5 * expected_smooth))


def test_frequency_differentiable_matches_detached_and_finite_differences(fixture):
    S, high = fixture['denoise_R'] * fixture['I_delta'], fixture['input_high']
    exact = FrequencyWassersteinLoss(differentiable=False)(S, high)
    assert not exact.requires_grad
    assert_close_rel(FrequencyWassersteinLoss()(S, high), float(exact), rel=1e-5)

    gen = torch.Generator().manual_seed(1)
    pred = torch.rand(2, 3, 8, 8, generator=gen, dtype=torch.float64, requires_grad=True)
    target = torch.rand(2, 3, 8, 8, generator=gen, dtype=torch.float64)
    loss = FrequencyWassersteinLoss()
    loss(pred, target).backward()
    assert pred.grad.abs().sum() > 0
    direction, eps = torch.randn(pred.shape, generator=gen, dtype=torch.float64), 1e-6
    with torch.no_grad():
        numeric = (loss(pred + eps * direction, target) - loss(pred - eps * direction, target)) / (2 * eps)
    assert float(numeric) == pytest.approx(float((pred.grad * direction).sum()), rel=1e-3)


def test_frequency_per_image_fft_is_batch_independent(fixture):
    batch = fixture['batch2_input_low']
    target = batch.flip(-2)
    per_image = FrequencyWassersteinLoss(per_image_fft=True)
    singles = sum(per_image(batch[i:i + 1], target[i:i + 1]) for i in range(2))
    assert torch.allclose(per_image(batch, target), singles, rtol=1e-5)
    whole = FrequencyWassersteinLoss()  # the reference: the FFT mixes the images of a batch
    assert not torch.allclose(whole(batch, target), singles, rtol=1e-3)
    assert torch.allclose(whole(batch[:1], target[:1]), per_image(batch[:1], target[:1]))


def _reference_smooth(L, R):
    """An independent transcription of the reference's ``smooth()`` (zero padding)."""
    kx = torch.tensor([[0., 0.], [-1., 1.]], dtype=L.dtype).view(1, 1, 2, 2)
    grey = (0.299 * R[:, 0] + 0.587 * R[:, 1] + 0.114 * R[:, 2]).unsqueeze(1)
    total = 0
    for k in (kx, kx.transpose(2, 3)):
        edges = F.avg_pool2d(F.conv2d(grey, k, padding=1).abs(), 3, stride=1, padding=1)
        total = total + F.conv2d(L, k, padding=1).abs() * torch.exp(-10 * edges)
    return total.mean()


@pytest.mark.parametrize('dtype', [torch.float32, torch.float64])
def test_illumination_smoothness(dtype):
    gen = torch.Generator().manual_seed(2)
    R = torch.rand(2, 3, 12, 10, generator=gen).to(dtype)
    L = torch.rand(2, 1, 12, 10, generator=gen).to(dtype)
    constant = torch.full_like(L, 0.4)
    reference, replicate = IlluminationSmoothnessLoss(), IlluminationSmoothnessLoss(padding_mode='replicate')
    assert torch.allclose(reference(L, R), _reference_smooth(L, R))
    assert reference(L, R) > 0 and replicate(L, R) > 0
    assert replicate(constant, R) == 0
    assert reference(torch.zeros_like(L), R) == 0
    # The reference pads with zeros, so it sees the border of a constant nonzero L as an edge.
    assert torch.allclose(reference(constant, R), _reference_smooth(constant, R))
    assert reference(constant, R) > 0
    assert IlluminationSmoothnessLoss(loss_weight=3.0)(L, R) == pytest.approx(3 * float(reference(L, R)))
