"""`python -m r2rnet_plugin.enhance`: formats, failures, tiling, weights, skipping, components."""
import cv2
import numpy as np
import pytest
import torch

from r2rnet_plugin.archs.r2rnet_arch import R2RNet
from r2rnet_plugin.enhance import main
from r2rnet_plugin.inference.enhancer import Enhancer
from r2rnet_plugin.inference.tiling import tile_starts, windows
from r2rnet_plugin.weights.reader import load_r2rnet
from r2rnet_plugin.weights.state_dicts import WeightsError

# Tiled vs whole-image output of the narrow model on a small image (docs/enhance.md, tiling).
TILE_TOLERANCE_MAX = 0.01
TILE_TOLERANCE_MEAN = 0.001


def narrow_model():
    torch.manual_seed(0)
    model = R2RNet(channel=8)
    torch.nn.init.constant_(model.relight.out_conv.bias, 0.5)
    return model.eval()


@pytest.fixture(scope='module')
def weights(tmp_path_factory):
    """A narrow R2RNet saved BasicSR-style (``{'params': ...}``)."""
    path = tmp_path_factory.mktemp('weights') / 'r2rnet_narrow.pth'
    torch.save({'params': narrow_model().state_dict()}, path)
    return str(path)


def dark_image(height, width, channels=3, dtype=np.uint8, seed=0):
    rng = np.random.default_rng(seed)
    top = 60 if dtype == np.uint8 else 15000
    return rng.integers(0, top, (height, width, channels) if channels > 1 else (height, width)).astype(dtype)


def read(path):
    return cv2.imread(str(path), cv2.IMREAD_UNCHANGED)


def run(*args):
    return main([str(a) for a in args] + ['--device', 'cpu', '--no-progress'])


def test_mixed_folder_formats_and_a_corrupt_file(tmp_path, weights, capsys):
    src, out = tmp_path / 'in', tmp_path / 'out'
    src.mkdir()
    rgba = dark_image(20, 24, 4)
    rgba[:, :, 3] = np.arange(24, dtype=np.uint8)[None, :] * 10
    cv2.imwrite(str(src / 'odd.jpg'), dark_image(37, 53))
    cv2.imwrite(str(src / 'deep.png'), dark_image(16, 21, dtype=np.uint16))
    cv2.imwrite(str(src / 'grey.bmp'), dark_image(19, 30, channels=1))
    cv2.imwrite(str(src / 'alpha.png'), rgba)
    (src / 'broken.png').write_bytes(b'\x89PNG\r\n\x1a\n this is not an image')
    (src / 'notes.txt').write_text('not an image, ignored')

    assert run('-i', src, '-o', out, '--weights', weights) == 1

    odd, deep, grey, alpha = (read(out / n) for n in ('odd.jpg', 'deep.png', 'grey.bmp', 'alpha.png'))
    assert odd.shape == (37, 53, 3) and odd.dtype == np.uint8
    assert deep.shape == (16, 21, 3) and deep.dtype == np.uint16
    assert grey.shape == (19, 30) and grey.dtype == np.uint8
    assert alpha.shape == (20, 24, 4) and np.array_equal(alpha[:, :, 3], rgba[:, :, 3])
    assert deep.max() > 255  # 16-bit values, not 8-bit ones stored in 16 bits
    assert not (out / 'broken.png').exists()
    assert sorted(p.name for p in out.iterdir()) == ['alpha.png', 'deep.png', 'grey.bmp', 'odd.jpg']
    printed = capsys.readouterr()
    assert '4 ok, 0 skipped, 1 failed' in printed.out
    assert 'broken.png' in printed.out and 'not a decodable image' in printed.out


def test_grey_png_stays_one_channel(tmp_path, weights):
    cv2.imwrite(str(tmp_path / 'g.png'), dark_image(12, 17, channels=1, dtype=np.uint16))
    assert run('-i', tmp_path / 'g.png', '-o', tmp_path / 'out', '--weights', weights) == 0
    grey = read(tmp_path / 'out' / 'g.png')
    assert grey.shape == (12, 17) and grey.dtype == np.uint16


def test_output_is_clamped_enhancement(tmp_path, weights):
    img = dark_image(24, 32)
    cv2.imwrite(str(tmp_path / 'a.png'), img)
    assert run('-i', tmp_path / 'a.png', '-o', tmp_path / 'out', '--weights', weights) == 0
    x = torch.from_numpy(img[:, :, ::-1].astype(np.float32) / 255).permute(2, 0, 1)[None]
    with torch.no_grad():
        expected = narrow_model()(x)[0].permute(1, 2, 0).clamp(0, 1).numpy()
    got = read(tmp_path / 'out' / 'a.png')[:, :, ::-1].astype(np.float32) / 255
    assert np.abs(got - expected).max() <= 0.5 / 255 + 1e-4


def test_tiles_cover_the_image_with_the_overlap():
    assert tile_starts(100, 128, 16) == [0]
    for length, tile, overlap in [(300, 64, 16), (257, 64, 8), (1000, 512, 32)]:
        starts = tile_starts(length, tile, overlap)
        assert starts[0] == 0 and starts[-1] + tile == length
        assert all(0 < b - a <= tile - overlap for a, b in zip(starts, starts[1:]))
    assert len(windows(100, 150, 64, 16)) == 2 * 3


def test_tiled_matches_whole_image():
    rgb = dark_image(72, 96).astype(np.float32) / 255
    model = narrow_model()
    whole = Enhancer(model)(rgb)['enhanced'].clip(0, 1)
    tiled = Enhancer(model, tile=48, tile_overlap=16)(rgb, with_components=True)
    diff = np.abs(tiled['enhanced'].clip(0, 1) - whole)
    assert tiled['enhanced'].shape == whole.shape and tiled['L'].shape == (72, 96, 1)
    assert diff.max() <= TILE_TOLERANCE_MAX and diff.mean() <= TILE_TOLERANCE_MEAN


def test_tiled_cli_run(tmp_path, weights):
    cv2.imwrite(str(tmp_path / 'a.png'), dark_image(40, 70))
    assert run('-i', tmp_path / 'a.png', '-o', tmp_path / 'out', '--weights', weights, '--tile', 32, '--tile-overlap',
               8, '--save-components') == 0
    assert read(tmp_path / 'out' / 'a.png').shape == (40, 70, 3)
    assert read(tmp_path / 'out' / 'a_I_delta.png').shape == (40, 70)


def test_official_checkpoints_load(tmp_path, reference_states, reference_model):
    paths = []
    for stage, state in zip(('decom', 'denoise', 'relight'), reference_states):
        paths.append(tmp_path / f'{stage}.tar')
        torch.save(state, paths[-1])
    model = load_r2rnet([str(p) for p in paths])
    for key, value in reference_model.state_dict().items():
        assert torch.equal(model.state_dict()[key], value)

    img = dark_image(16, 24)
    cv2.imwrite(str(tmp_path / 'a.png'), img)
    assert run('-i', tmp_path / 'a.png', '-o', tmp_path / 'out', '--weights', *paths) == 0
    assert run('-i', tmp_path / 'a.png', '-o', tmp_path / 'out2', '--decom', paths[0], '--denoise', paths[1],
               '--relight', paths[2]) == 0
    assert np.array_equal(read(tmp_path / 'out' / 'a.png'), read(tmp_path / 'out2' / 'a.png'))


def test_params_ema_preferred_and_bad_weights(tmp_path, weights, reference_states):
    ema = narrow_model()
    torch.nn.init.constant_(ema.relight.out_conv.bias, 0.25)
    both = tmp_path / 'both.pth'
    torch.save({'params': torch.load(weights)['params'], 'params_ema': ema.state_dict()}, both)
    assert load_r2rnet(str(both)).relight.out_conv.bias[0].item() == 0.25

    one_stage = tmp_path / 'decom.tar'
    torch.save(reference_states[0], one_stage)
    with pytest.raises(WeightsError, match='pass all three'):
        load_r2rnet(str(one_stage))
    cv2.imwrite(str(tmp_path / 'a.png'), dark_image(8, 8))
    assert run('-i', tmp_path / 'a.png', '-o', tmp_path / 'out', '--weights', one_stage) == 2
    assert run('-i', tmp_path / 'a.png', '-o', tmp_path / 'out', '--weights', tmp_path / 'missing.pth') == 2


def test_skip_existing(tmp_path, weights, capsys):
    src, out = tmp_path / 'in', tmp_path / 'out'
    src.mkdir()
    cv2.imwrite(str(src / 'a.png'), dark_image(16, 16))
    cv2.imwrite(str(src / 'b.png'), dark_image(16, 16, seed=1))
    out.mkdir()
    (out / 'a.png').write_bytes(b'kept')
    assert run('-i', src, '-o', out, '--weights', weights, '--skip-existing') == 0
    assert (out / 'a.png').read_bytes() == b'kept'
    assert read(out / 'b.png').shape == (16, 16, 3)
    assert '1 ok, 1 skipped, 0 failed' in capsys.readouterr().out


def test_save_components(tmp_path, weights):
    cv2.imwrite(str(tmp_path / 'photo.jpg'), dark_image(21, 34))
    assert run('-i', tmp_path / 'photo.jpg', '-o', tmp_path / 'out', '--weights', weights, '--save-components') == 0
    shapes = {name: read(tmp_path / 'out' / f'photo_{name}.png').shape for name in ('R', 'L', 'R_denoised', 'I_delta')}
    assert shapes == {'R': (21, 34, 3), 'L': (21, 34), 'R_denoised': (21, 34, 3), 'I_delta': (21, 34)}
    assert read(tmp_path / 'out' / 'photo.jpg').shape == (21, 34, 3)


def test_channels_last_gives_the_same_output():
    rgb = dark_image(40, 56).astype(np.float32) / 255
    model = narrow_model()
    nchw = Enhancer(model, channels_last=False)(rgb, with_components=True)
    nhwc = Enhancer(model, channels_last=True)
    assert any(p.dim() == 4 and p.is_contiguous(memory_format=torch.channels_last) and not p.is_contiguous()
               for p in nhwc.model.parameters())
    for name, values in nhwc(rgb, with_components=True).items():
        np.testing.assert_allclose(values, nchw[name], atol=1e-4, rtol=1e-4)
