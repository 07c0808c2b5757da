"""Shared fixtures: the reference fixture and R2RNet models loaded with its weights."""
import os
import subprocess
import sys

import pytest
import torch

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from reference_weights import load_fixture, load_schema, reference_state_dict  # noqa: E402

import r2rnet_plugin  # noqa: E402,F401  (registers everything)

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
    from r2rnet_plugin.weights.official import convert_official
    model = R2RNet()
    model.load_state_dict(convert_official(*reference_states))
    return model.eval()


@pytest.fixture(autouse=True)
def _no_grad_default():
    torch.manual_seed(0)
    yield


def starts_python(args):
    """Whether Popen ``args`` start a Python program (the interpreter, torchrun, pip, a console script)."""
    program = args if isinstance(args, (str, bytes, os.PathLike)) else (list(args) or [''])[0]
    program = os.fsdecode(program).split()[0] if os.fsdecode(program).strip() else ''
    folder = os.path.dirname(sys.executable)
    return os.path.basename(program).startswith('python') or os.path.dirname(program) == folder


@pytest.fixture(autouse=True)
def _python_subprocesses_only_in_e2e_tests(request, monkeypatch):
    """A test that starts a Python program must be marked ``e2e``, so ``-m "not e2e"`` stays fast."""
    if request.node.get_closest_marker('e2e') is None:
        original = subprocess.Popen.__init__

        def checked(self, args, *rest, **kwargs):
            if starts_python(args):
                raise AssertionError(f'{request.node.nodeid} starts a Python subprocess: mark it @pytest.mark.e2e')
            original(self, args, *rest, **kwargs)

        monkeypatch.setattr(subprocess.Popen, '__init__', checked)
    yield
