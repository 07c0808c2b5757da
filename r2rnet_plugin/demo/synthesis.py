"""Realistic low-light synthesis: normal-light photos into seeded, reproducible low/normal pairs.

The model follows how a camera records a dark scene: the sRGB photo is linearised, its exposure
reduced, photon (Poisson) and read (Gaussian) noise added at sensor level, a slight colour cast
applied (white balance off in the dark), then re-encoded to sRGB and quantised to 8 bits.
"""
from dataclasses import dataclass

import numpy as np


def srgb_to_linear(x):
    """sRGB in [0, 1] to linear light (IEC 61966-2-1)."""
    return np.where(x <= 0.04045, x / 12.92, ((x + 0.055) / 1.055)**2.4)


def linear_to_srgb(x):
    """Linear light in [0, 1] to sRGB."""
    x = np.clip(x, 0.0, 1.0)
    return np.where(x <= 0.0031308, 12.92 * x, 1.055 * np.power(x, 1 / 2.4) - 0.055)


@dataclass(frozen=True)
class LowLightParams:
    """Ranges the degradation is drawn from (uniform, or log-uniform for the exposure).

    Attributes:
        exposure: linear exposure factor range (0.03-0.15: 3.7 to 5 stops darker).
        full_well: photons at full scale (lower: more shot noise).
        read_noise: std of the Gaussian read noise, in linear units of full scale.
        cast: max relative deviation of each channel's gain (colour cast).
    """
    exposure: tuple = (0.03, 0.15)
    full_well: tuple = (300.0, 3000.0)
    read_noise: tuple = (0.0005, 0.003)
    cast: float = 0.06


def synthesize_low_light(image, rng, params=LowLightParams()):
    """One low-light version of ``image``.

    Args:
        image (ndarray): ``[H, W, 3]`` uint8 sRGB normal-light photo.
        rng (numpy.random.Generator): the source of randomness (seed it for reproducibility).
        params (LowLightParams): degradation ranges.

    Returns:
        ndarray: ``[H, W, 3]`` uint8 sRGB low-light image.
    """
    if image.dtype != np.uint8 or image.ndim != 3 or image.shape[2] != 3:
        raise ValueError(f'expected an [H, W, 3] uint8 image, got {image.shape} {image.dtype}')
    linear = srgb_to_linear(image.astype(np.float64) / 255.0)
    exposure = np.exp(rng.uniform(*np.log(params.exposure)))
    gains = 1.0 + rng.uniform(-params.cast, params.cast, size=3)
    signal = np.clip(linear * exposure * gains, 0.0, 1.0)
    full_well = rng.uniform(*params.full_well)
    photons = rng.poisson(signal * full_well) / full_well
    noisy = photons + rng.normal(0.0, rng.uniform(*params.read_noise), size=signal.shape)
    return np.round(linear_to_srgb(noisy) * 255.0).astype(np.uint8)
