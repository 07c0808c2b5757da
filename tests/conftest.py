"""Shared fixtures: the reference fixture and R2RNet models loaded with its weights."""
import os
import sys

import pytest
import torch

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import r2rnet_plugin  # noqa: E402,F401  (registers everything)
from reference_weights import load_fixture, load_schema, reference_state_dict  # noqa: E402

REFERENCE_NETS = ('DecomNet', 'DenoiseNet', 'RelightNet')


@pytest.fixture(scope='session')
def fixture():
    return load_fixture()


@pytest.fixture(scope='session')
def reference_states():
    """Reference-format state dicts of the three networks, rebuilt from the recipe."""
    schema = load_schema()
    return [reference_state_dict(net, schema) for net in REFERENCE_NETS]


@pytest.fixture(scope='session')
def reference_model(reference_states):
    """``R2RNet`` carrying the reference fixture's weights, in eval mode."""
    from r2rnet_plugin.archs.r2rnet_arch import R2RNet
    from r2rnet_plugin.convert_official import convert_official
    model = R2RNet()
    model.load_state_dict(convert_official(*reference_states))
    return model.eval()


@pytest.fixture(autouse=True)
def _no_grad_default():
    torch.manual_seed(0)
    yield
