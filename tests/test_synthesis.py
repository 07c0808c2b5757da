"""Low-light synthesis: darker, noisy, reproducible, in sRGB 8-bit."""
import numpy as np
import pytest

from r2rnet_plugin.demo.synthesis import LowLightParams, linear_to_srgb, srgb_to_linear, synthesize_low_light


def photo():
    rng = np.random.default_rng(0)
    yy, xx = np.mgrid[0:64, 0:96]
    base = np.stack([xx / 95, yy / 63, 0.5 + 0 * xx], axis=2) * 200 + 30
    return np.clip(base + rng.normal(0, 2, base.shape), 0, 255).astype(np.uint8)


def test_srgb_round_trip():
    x = np.linspace(0, 1, 101)
    assert np.allclose(linear_to_srgb(srgb_to_linear(x)), x, atol=1e-9)


def test_darker_noisy_and_reproducible():
    img = photo()
    low = synthesize_low_light(img, np.random.default_rng(7))
    assert low.shape == img.shape and low.dtype == np.uint8
    assert low.mean() < 0.5 * img.mean()
    assert np.array_equal(low, synthesize_low_light(img, np.random.default_rng(7)))
    assert not np.array_equal(low, synthesize_low_light(img, np.random.default_rng(8)))


def test_noise_is_signal_dependent_and_cast_is_mild():
    flat = np.full((128, 128, 3), 180, np.uint8)
    params = LowLightParams(exposure=(0.1, 0.1), full_well=(500, 500), read_noise=(0.001, 0.001), cast=0.05)
    low = synthesize_low_light(flat, np.random.default_rng(1), params).astype(float)
    assert low.std(axis=(0, 1)).min() > 0.5  # shot and read noise
    means = low.mean(axis=(0, 1))
    assert means.max() / means.min() < 1.2  # a slight colour cast only
    brighter = synthesize_low_light(np.full((128, 128, 3), 250, np.uint8), np.random.default_rng(1), params)
    assert brighter.mean() > low.mean()


def test_rejects_non_rgb_uint8():
    with pytest.raises(ValueError, match='uint8'):
        synthesize_low_light(np.zeros((4, 4), np.uint8), np.random.default_rng(0))
