"""Rebuild the reference fixture's weights from its recipe (see tests/data/README.md)."""
import json
import math
import os
import zlib

import torch

DATA = os.path.join(os.path.dirname(os.path.abspath(__file__)), 'data')
GAINS = {'VGG16': (1.0, 0.01), 'DecomNet': (1.2, 0.05), 'DenoiseNet': (0.7, 0.1), 'RelightNet': (0.7, 0.1)}


def load_schema():
    with open(os.path.join(DATA, 'reference_schema.json')) as f:
        return json.load(f)


def load_fixture():
    return torch.load(os.path.join(DATA, 'reference_r2rnet.pt'), weights_only=True)


def reference_state_dict(net, schema=None):
    """The reference-format state dict of ``net`` ('DecomNet', 'DenoiseNet', 'RelightNet', 'VGG16')."""
    schema = schema or load_schema()
    gain, bias = GAINS[net]
    state = {}
    for key, shape in schema[net]:
        g = torch.Generator().manual_seed(zlib.crc32(f'{net}.{key}'.encode()))
        v = torch.randn(shape, generator=g, dtype=torch.float32)
        fan_in = v.numel() // shape[0]
        state[key] = v * gain * math.sqrt(2 / fan_in) if v.ndim >= 2 else v * bias
    return state


# The RetinexNet PyTorch port fixture (tests/data/README.md), made by benchmarks/retinexnet_port_fixture.py.
PORT_GAINS = {'DecomNet': (1.2, 0.05), 'RelightNet': (1.0, 0.05)}


def load_retinexnet_port_fixture():
    return torch.load(os.path.join(DATA, 'retinexnet_port.pt'), weights_only=True)


def retinexnet_port_state_dict(net, schema):
    """Seeded weights in the port's format for ``net`` ('DecomNet' or 'RelightNet').

    For each key KEY of ``schema[net]`` (``[(key, shape), ...]``): ``v = torch.randn(shape)`` from
    a generator seeded with ``crc32("RetinexNet.NET.KEY")``; weights ``v * gain * sqrt(2 / fan_in)``
    (``fan_in = numel // shape[0]``), biases ``v * bias_scale`` (:data:`PORT_GAINS`).
    """
    gain, bias = PORT_GAINS[net]
    state = {}
    for key, shape in schema[net]:
        g = torch.Generator().manual_seed(zlib.crc32(f'RetinexNet.{net}.{key}'.encode()))
        v = torch.randn(shape, generator=g, dtype=torch.float32)
        state[key] = v * gain * math.sqrt(2 / (v.numel() // shape[0])) if v.ndim >= 2 else v * bias
    return state
