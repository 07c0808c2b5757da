"""The fast CPU inference convolutions give F.conv2d's results, in bands of rows too."""
import pytest
import torch
import torch.nn.functional as F

from r2rnet_plugin.inference import fast_conv

pytestmark = pytest.mark.skipif(not fast_conv._nnpack_works(), reason='NNPACK is not usable on this CPU')


@pytest.fixture
def winograd_always(monkeypatch):
    """Winograd for every size, and bands of a few rows (the real thresholds need huge images)."""
    monkeypatch.setattr(fast_conv, '_MIN_WINOGRAD_MACS', 0)
    monkeypatch.setattr(fast_conv, '_BAND_ELEMENTS', 5 * 6 * 23)  # 6 channels x 23 columns: 16-row bands


def reference(x, weight, bias, dilation, padding_mode):
    if padding_mode == 'zeros':
        return F.conv2d(x, weight, bias, padding=dilation, dilation=dilation)
    return F.conv2d(F.pad(x, (dilation,) * 4, mode=padding_mode), weight, bias, dilation=dilation)


@pytest.mark.parametrize('height', [15, 16, 17, 40, 61])
@pytest.mark.parametrize('dilation,padding_mode', [(1, 'zeros'), (1, 'replicate'), (2, 'zeros'), (2, 'reflect')])
def test_conv3x3_same_matches_conv2d(winograd_always, height, dilation, padding_mode):
    torch.manual_seed(height)
    x, weight, bias = torch.randn(2, 6, height, 23), torch.randn(5, 6, 3, 3), torch.randn(5)
    with torch.no_grad():
        got = fast_conv.conv3x3_same(x, weight, bias, padding=dilation, dilation=dilation, padding_mode=padding_mode)
    torch.testing.assert_close(got, reference(x, weight, bias, dilation, padding_mode), atol=1e-3, rtol=1e-3)  # Winograd rounding on values of ~7


def test_banded_convolution_equals_one_pass(winograd_always, monkeypatch):
    x, weight, bias = torch.randn(1, 6, 70, 23), torch.randn(5, 6, 3, 3), torch.randn(5)
    with torch.no_grad():
        banded = fast_conv.conv3x3_same(x, weight, bias, padding=1)
        monkeypatch.setattr(fast_conv, '_BAND_ELEMENTS', 2 ** 40)
        whole = fast_conv.conv3x3_same(x, weight, bias, padding=1)
    torch.testing.assert_close(banded, whole, atol=1e-3, rtol=1e-3)  # tiles align differently: rounding


def test_small_convolutions_stay_with_onednn(monkeypatch):
    calls = []
    monkeypatch.setattr(fast_conv, '_winograd', lambda *a, **k: calls.append(a) or F.conv2d(a[0], a[1], a[2], padding=1))
    x, weight = torch.randn(1, 4, 8, 8), torch.randn(4, 4, 3, 3)
    with torch.no_grad():
        fast_conv.conv3x3_same(x, weight, None, padding=1)
    assert not calls
