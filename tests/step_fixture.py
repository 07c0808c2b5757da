"""The published-step fixture's batch, weights and tensor summaries (see tests/data/README.md).

Shared by ``benchmarks/published_step_fixture.py``, which runs the published code to make
``tests/data/published_step_fixture.pt``, and ``tests/test_step_fidelity.py``, which checks
R2RNetModel's training step against it.

Tensors are not stored whole: a few MB would not hold the gradients of three networks twice.
Each is stored as a summary (:func:`summarize`): its largest magnitude and norm, its values at
seeded random positions, and its projections on seeded random unit directions (a difference
spread over the tensor moves them by about its typical size); tensors of at most
``FULL_NUMEL`` values (biases, small kernels) are stored whole.
"""
import os
import zlib

import numpy as np
import torch
from PIL import Image
from reference_weights import reference_state_dict

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
FIXTURE = os.path.join(REPO, 'tests', 'data', 'published_step_fixture.pt')
SAMPLES = os.path.join(REPO, 'r2rnet_plugin', 'samples')
# (file, top, left) of the batch's crops; normal light = clip(3.5 * low, 0, 1).
CROPS = (('46.png', 150, 250), ('490.png', 200, 300))
BRIGHTEN = 3.5
CHANNEL, SIZE = 16, 96
LR, WEIGHT_DECAY, BETAS = 1e-4, 1e-4, (0.9, 0.999)
SAMPLE_COUNT, PROJECTION_COUNT, FULL_NUMEL = 48, 8, 512
# Each stage's published network and optimizer step.
STAGE_NETS = {'decom': 'DecomNet', 'denoise': 'DenoiseNet', 'relight': 'RelightNet'}


def low_crops_uint8(size=SIZE):
    """``[2, 3, size, size]`` uint8: the low-light crops, RGB."""
    crops = []
    for name, top, left in CROPS:
        img = np.asarray(Image.open(os.path.join(SAMPLES, name)).convert('RGB'))
        crops.append(img[top:top + size, left:left + size].transpose(2, 0, 1))
    return torch.from_numpy(np.stack(crops))


def batch_arrays(low_uint8):
    """``(low, high)`` float32 NumPy ``[B, 3, H, W]``, computed as the published train.py loads
    images (``uint8 / 255.0`` in float32)."""
    low = low_uint8.numpy().astype('float32') / 255.0
    return low, np.clip(BRIGHTEN * low, 0, 1).astype('float32')


def recipe_states(schema):
    """Published-format state dicts ``{net: state}`` rebuilt from the recipe, for ``schema``
    (``{net: [[key, shape], ...]}``)."""
    return {net: reference_state_dict(net, schema) for net in schema}


def _directions(key, numel):
    g = torch.Generator().manual_seed(zlib.crc32(key.encode()))
    index = torch.randint(numel, (SAMPLE_COUNT, ), generator=g)
    directions = torch.randn(PROJECTION_COUNT, numel, generator=g, dtype=torch.float64)
    return index, directions / directions.norm(dim=1, keepdim=True)


def summarize(key, tensor):
    """The stored summary of ``tensor`` (any dtype; kept in float64); ``key`` seeds positions."""
    flat = tensor.detach().to('cpu', torch.float64).flatten()
    summary = {'max_abs': flat.abs().max().item(), 'norm': flat.norm().item()}
    if flat.numel() <= FULL_NUMEL:
        summary['full'] = flat.clone()
    else:
        index, directions = _directions(key, flat.numel())
        summary.update(samples=flat[index].clone(), projections=directions @ flat)
    return summary


def summary_difference(key, tensor, expected):
    """Largest difference between ``tensor``'s summary and ``expected``: of the stored values, of
    the projections, of the maximum magnitude, and of the norm over ``sqrt(numel)``; each at
    most ``max |tensor - original|`` for a difference spread evenly over the tensor."""
    got = summarize(key, tensor)
    diffs = [abs(got['max_abs'] - expected['max_abs']), abs(got['norm'] - expected['norm']) / tensor.numel()**0.5]
    for part in ('full', 'samples', 'projections'):
        if part in expected:
            diffs.append((got[part] - expected[part]).abs().max().item())
    return max(diffs)
