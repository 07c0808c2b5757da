"""The fast CPU inference convolutions give F.conv2d's results, in bands of rows too."""
import pytest
import torch
import torch.nn.functional as F

from r2rnet_plugin.ops import fast_conv, tiled_weight_gradient, winograd_training

pytestmark = pytest.mark.skipif(not fast_conv._nnpack_works(), reason='NNPACK is not usable on this CPU')


@pytest.fixture
def winograd_always(monkeypatch):
    """Winograd for every size, and bands of a few rows (the real thresholds need huge images)."""
    monkeypatch.setattr(fast_conv, '_MIN_WINOGRAD_MACS', 0)
    monkeypatch.setattr(fast_conv, '_MIN_WINOGRAD_PIXELS', 0)
    monkeypatch.setattr(fast_conv, '_BAND_ELEMENTS', 5 * 6 * 23)  # 6 channels x 23 columns: 16-row bands
    monkeypatch.setattr(winograd_training, '_MIN_WINOGRAD_MACS', 0)


def reference(x, weight, bias, dilation, padding_mode):
    if padding_mode == 'zeros':
        return F.conv2d(x, weight, bias, padding=dilation, dilation=dilation)
    return F.conv2d(F.pad(x, (dilation, ) * 4, mode=padding_mode), weight, bias, dilation=dilation)


@pytest.mark.parametrize('height', [15, 16, 17, 40, 61])
@pytest.mark.parametrize('dilation,padding_mode', [(1, 'zeros'), (1, 'replicate'), (2, 'zeros'), (2, 'reflect')])
def test_conv3x3_same_matches_conv2d(winograd_always, height, dilation, padding_mode):
    torch.manual_seed(height)
    x, weight, bias = torch.randn(2, 6, height, 23), torch.randn(5, 6, 3, 3), torch.randn(5)
    with torch.no_grad():
        got = fast_conv.conv3x3_same(x, weight, bias, padding=dilation, dilation=dilation, padding_mode=padding_mode)
    torch.testing.assert_close(
        got, reference(x, weight, bias, dilation, padding_mode), atol=1e-3,
        rtol=1e-3)  # Winograd rounding on values of ~7


def test_banded_convolution_equals_one_pass(winograd_always, monkeypatch):
    x, weight, bias = torch.randn(1, 6, 70, 23), torch.randn(5, 6, 3, 3), torch.randn(5)
    with torch.no_grad():
        banded = fast_conv.conv3x3_same(x, weight, bias, padding=1)
        monkeypatch.setattr(fast_conv, '_BAND_ELEMENTS', 2**40)
        whole = fast_conv.conv3x3_same(x, weight, bias, padding=1)
    torch.testing.assert_close(banded, whole, atol=1e-3, rtol=1e-3)  # tiles align differently: rounding


def test_small_convolutions_stay_with_onednn(monkeypatch):
    calls = []
    monkeypatch.setattr(fast_conv, 'winograd_conv',
                        lambda *a, **k: calls.append(a) or F.conv2d(a[0], a[1], a[2], padding=1))
    few_macs = torch.randn(1, 4, 8, 8), torch.randn(4, 4, 3, 3)
    small_map = torch.randn(1, 256, 24, 24), torch.randn(256, 256, 3, 3)  # 85 M multiply-adds, 576 pixels
    with torch.no_grad():
        for x, weight in (few_macs, small_map):
            fast_conv.conv3x3_same(x, weight, None, padding=1)
    assert not calls
    assert fast_conv.winograd_pays(torch.randn(1, 256, 64, 64), small_map[1])


def test_fast_paths_step_aside_under_cpu_autocast():
    """Autocast asks for bfloat16 convolutions: the float32 fast kernels must not answer instead."""
    from r2rnet_plugin.archs.r2r_blocks import conv3x3
    conv = conv3x3(64, 64)
    x = torch.randn(1, 64, 96, 96)
    assert fast_conv.fast_cpu_inference(x, conv.weight.detach())
    with torch.autocast('cpu', dtype=torch.bfloat16):
        assert not fast_conv.fast_cpu_float32(x, conv.weight)
        assert conv(x.requires_grad_()).dtype == torch.bfloat16
        with torch.no_grad():
            assert conv(x).dtype == torch.bfloat16


@pytest.mark.parametrize('padding_mode', ['zeros', 'replicate'])
@pytest.mark.parametrize('with_bias', [True, False])
def test_training_convolution_gradients_match_conv2d(winograd_always, padding_mode, with_bias):
    torch.manual_seed(1)
    x, weight = torch.randn(2, 6, 37, 23, requires_grad=True), torch.randn(5, 6, 3, 3, requires_grad=True)
    bias = torch.randn(5, requires_grad=True) if with_bias else None
    grad = torch.randn(2, 5, 37, 23)
    assert winograd_training.fast_cpu_training(x, weight, 1, padding_mode)
    results = []
    for conv in (lambda: winograd_training.conv3x3_train(x, weight, bias, padding_mode),
                 lambda: reference(x, weight, bias, 1, padding_mode)):
        out = conv()
        inputs = [x, weight] + ([bias] if with_bias else [])
        results.append((out, *torch.autograd.grad(out, inputs, grad)))
    for got, want in zip(*results):
        torch.testing.assert_close(got, want, atol=2e-3, rtol=1e-3)


def test_training_path_only_where_it_applies(winograd_always):
    x, weight = torch.randn(1, 4, 16, 16), torch.randn(4, 4, 3, 3, requires_grad=True)
    assert winograd_training.fast_cpu_training(x, weight, 1, 'replicate')
    assert not winograd_training.fast_cpu_training(x, weight, 2, 'zeros')  # dilated
    assert not winograd_training.fast_cpu_training(x, weight, 1, 'reflect')
    assert not winograd_training.fast_cpu_training(x.double(), weight.double(), 1, 'zeros')
    with torch.no_grad():
        assert not winograd_training.fast_cpu_training(x, weight, 1, 'zeros')
    previous = fast_conv.set_fast_cpu_convs(False)
    try:
        assert not winograd_training.fast_cpu_training(x, weight, 1, 'zeros')
    finally:
        fast_conv.set_fast_cpu_convs(previous)


def test_training_convolutions_are_opt_in(winograd_always, monkeypatch):
    from r2rnet_plugin.archs import r2r_blocks
    calls = []
    monkeypatch.setattr(r2r_blocks, 'conv3x3_train',
                        lambda *args: calls.append(args) or reference(*args[:3], 1, args[3]))
    block = r2r_blocks.ComplexResidualBlock(3)
    x = torch.randn(1, 6, 16, 16, requires_grad=True)
    block(x).sum().backward()
    assert calls == []  # PyTorch's convolutions by default
    assert r2r_blocks.use_fast_cpu_training(block) == 3
    block(x).sum().backward()
    assert len(calls) == 3
    r2r_blocks.use_fast_cpu_training(block, False)
    conv = r2r_blocks.conv3x3(6, 4)
    r2r_blocks.use_fast_cpu_training(conv)
    conv(x).sum().backward()
    assert len(calls) == 4


def test_training_path_only_for_wide_convolutions_on_large_maps():
    weight = torch.randn(128, 128, 3, 3, requires_grad=True)
    assert winograd_training.fast_cpu_training(torch.randn(1, 128, 96, 96), weight, 1, 'zeros')
    assert not winograd_training.fast_cpu_training(torch.randn(1, 128, 48, 48), weight, 1, 'zeros')
    narrow = torch.randn(64, 64, 3, 3, requires_grad=True)
    assert not winograd_training.fast_cpu_training(torch.randn(1, 64, 96, 96), narrow, 1, 'zeros')


@pytest.mark.parametrize('height,width', [(28, 42), (37, 23), (13, 5), (96, 49)])
@pytest.mark.parametrize('replicate', [True, False])
def test_tiled_weight_gradient_matches_onednn(height, width, replicate):
    torch.manual_seed(height * width)
    x, grad = torch.randn(2, 5, height, width), torch.randn(2, 7, height, width)
    padded = F.pad(x, (1, 1, 1, 1), mode='replicate' if replicate else 'constant')
    want = torch.ops.aten.convolution_backward(grad, padded, torch.empty(7, 5, 3, 3), None, [1, 1], [0, 0], [1, 1],
                                               False, [0, 0], 1, [False, True, False])[1]
    got = tiled_weight_gradient.weight_gradient_3x3(x, grad, replicate)
    torch.testing.assert_close(got, want, atol=1e-4 * want.abs().max().item(), rtol=1e-4)


def test_weight_gradient_falls_back_to_onednn(winograd_always, monkeypatch):

    def refuse(*args):
        raise RuntimeError('NNPACK SpatialConvolution_updateOutput failed')

    monkeypatch.setattr(winograd_training, 'weight_gradient_3x3', refuse)
    torch.manual_seed(2)
    x, weight = torch.randn(2, 3, 11, 9), torch.randn(4, 3, 3, 3, requires_grad=True)
    for padding_mode in ('zeros', 'replicate'):
        got, = torch.autograd.grad(winograd_training.conv3x3_train(x, weight, None, padding_mode).sum(), weight)
        want, = torch.autograd.grad(reference(x, weight, None, 1, padding_mode).sum(), weight)
        torch.testing.assert_close(got, want, atol=1e-4, rtol=1e-4)


def test_tiled_weight_gradient_in_chunks_of_images(monkeypatch):
    torch.manual_seed(3)
    x, grad = torch.randn(5, 4, 20, 30), torch.randn(5, 6, 20, 30)
    whole = tiled_weight_gradient.weight_gradient_3x3(x, grad, True)
    monkeypatch.setattr(tiled_weight_gradient, '_MAX_CHUNK_ELEMENTS', 2 * 6 * 16 * 16 * 6)  # 2 images per call
    calls = []
    tiled = tiled_weight_gradient._tiled
    monkeypatch.setattr(tiled_weight_gradient, '_tiled', lambda x, *a: calls.append(len(x)) or tiled(x, *a))
    torch.testing.assert_close(tiled_weight_gradient.weight_gradient_3x3(x, grad, True), whole, atol=1e-4, rtol=1e-4)
    assert calls == [2, 2, 1]


def test_replicate_padding_under_autocast_happens_in_bfloat16():
    """CPU autocast would pad in float32 and cast the padded copy back: the padding is done in bf16."""
    from r2rnet_plugin.archs.r2r_blocks import conv3x3
    torch.manual_seed(0)
    conv = conv3x3(8, 4)
    x = torch.randn(2, 8, 12, 10, requires_grad=True)
    with torch.autocast('cpu', dtype=torch.bfloat16):
        out = conv(x)
    want = F.conv2d(
        F.pad(x.detach().bfloat16(), (1, 1, 1, 1), mode='replicate'),
        conv.weight.detach().bfloat16(),
        conv.bias.detach().bfloat16())
    assert out.dtype == torch.bfloat16 and torch.equal(out, want)
    out.float().sum().backward()
    assert x.grad.dtype == torch.float32 and conv.weight.grad.dtype == torch.float32
    assert x.grad[:, :, 0].abs().sum() > 0  # the replicated border row receives its share
