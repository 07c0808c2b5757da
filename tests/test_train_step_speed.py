"""benchmarks/train_step_speed.py and complex_conv_speed.py run end to end (tiny sizes; the timings
themselves are not checked)."""
import os
import re
import subprocess
import sys
import textwrap

import pytest
from tiny_setup import REPO

pytestmark = pytest.mark.e2e  # starts subprocesses

SCRIPT = os.path.join(REPO, 'benchmarks', 'train_step_speed.py')
TINY = ['--repeats', '1', '--warmup', '1', '--channel', '8', '--size', '32', '--batch', '2', '--device', 'cpu']

# The interface of the published model.py that the benchmark relies on, at a tiny size: it moves
# everything with .cuda(), reads ./model/vgg16.weight, writes ./runs at import, and its forward
# takes NumPy batches and sets loss_Relight. Each call appends a line to $FAKE_PUBLISHED_LOG.
FAKE_PUBLISHED_MODEL = '''
import os
import numpy as np
import torch
from torch import nn

os.makedirs('runs', exist_ok=True)


class Vgg16(nn.Module):
    def __init__(self):
        super().__init__()
        self.conv = nn.Conv2d(3, 4, 3)


class R2RNet(nn.Module):
    def __init__(self):
        super().__init__()
        self.DecomNet = nn.Conv2d(3, 4, 1)
        self.DenoiseNet = nn.Conv2d(4, 3, 1)
        self.RelightNet = nn.Conv2d(4, 1, 1)
        self.vgg = Vgg16()
        self.vgg.load_state_dict(torch.load(os.path.join('./model', 'vgg16.weight')))

    def forward(self, input_low, input_high):
        low = torch.from_numpy(input_low).cuda()
        high = torch.from_numpy(input_high).cuda()
        RI = self.DecomNet(low)
        R = self.DenoiseNet(RI)
        I = self.RelightNet(torch.cat((RI[:, 3:], R), 1))
        self.loss_Relight = (R * I - high).abs().mean()
        with open(os.environ['FAKE_PUBLISHED_LOG'], 'a') as f:
            f.write(f"{os.getcwd()} {self.RelightNet.weight.sum().item()} {self.DecomNet.weight.sum().item()}\\n")
'''


def run_benchmark(*extra, env=None, cwd=None):
    result = subprocess.run([sys.executable, SCRIPT, '--stages', 'relight', *TINY, *extra],
                            capture_output=True,
                            text=True,
                            timeout=600,
                            env=env,
                            cwd=cwd)
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    return result.stdout


def test_train_step_benchmark_times_each_precision_and_the_reference_style_step():
    out = run_benchmark('--precisions', 'fp32', 'bf16')
    assert re.search(r'^relight +\d+\.\d{3} +\d+\.\d{3}$', out, re.M), out
    assert "our stages train with PyTorch's convolutions (train: fast_cpu_conv: false, the default)" in out
    assert re.search(r'reference-style relight step \(float32\): \d+\.\d{3} s/iter', out), out
    assert re.search(r"^the option files' train: mixed_precision: auto trains in (fp32|bf16) here$", out, re.M), out
    for precision in ('fp32', 'bf16'):
        assert re.search(rf'ours, {precision}: \d+\.\d{{3}} s/iter, \d+\.\d\dx faster$', out, re.M), out


def test_published_code_step_runs_from_its_checkout_in_a_scratch_directory(tmp_path):
    checkout = tmp_path / 'R2RNet'
    checkout.mkdir()
    (checkout / 'model.py').write_text(textwrap.dedent(FAKE_PUBLISHED_MODEL))
    log = tmp_path / 'calls.log'
    workdir = tmp_path / 'work'
    workdir.mkdir()
    env = dict(os.environ, FAKE_PUBLISHED_LOG=str(log))
    out = run_benchmark('--precisions', 'fp32', '--published-code', str(checkout), env=env, cwd=workdir)
    assert re.search(r"published code's relight step \(float32\): \d+\.\d{3} s/iter", out), out
    assert re.search(r'ours, fp32: .*x faster; \d+\.\d\dx faster than the published code', out), out

    calls = [line.rsplit(' ', 2) for line in log.read_text().splitlines()]
    assert len(calls) == 2  # one warm-up step, one timed
    cwds = {cwd for cwd, _, _ in calls}
    assert len(cwds) == 1 and not os.path.exists(cwds.pop())  # a scratch directory, removed after
    assert calls[0][1] != calls[1][1]  # RelightNet was stepped ...
    assert calls[0][2] == calls[1][2]  # ... and only RelightNet
    assert os.listdir(workdir) == [] and os.listdir(checkout) == ['model.py']


@pytest.mark.parametrize('model_py, message', [
    (None, '--published-code: no model.py in'),
    ('import numpy\nfrom not_installed_pkg_r2r.layers import X\nimport torch\n',
     'model.py imports not_installed_pkg_r2r, not installed here: install it'),
])
def test_published_code_problems_are_reported_before_any_timing(tmp_path, model_py, message):
    if model_py is not None:
        (tmp_path / 'model.py').write_text(model_py)
    result = subprocess.run([sys.executable, SCRIPT, *TINY, '--published-code',
                             str(tmp_path)],
                            capture_output=True,
                            text=True,
                            timeout=300)
    assert result.returncode == 2
    assert message in result.stderr and '--published-code: ' in result.stderr, result.stderr
    assert 's/iter' not in result.stdout


def test_complex_conv_benchmark_times_both_modes_side_by_side():
    script = os.path.join(REPO, 'benchmarks', 'complex_conv_speed.py')
    result = subprocess.run([sys.executable, script, *TINY], capture_output=True, text=True, timeout=600)
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    out = result.stdout
    assert re.search(r'^  step 1: fused \d+\.\d{3} s, published \d+\.\d{3} s, ratio \d+\.\d\d$', out, re.M), out
    assert re.search(r'^complex_conv fused: \d+\.\d{3} s/iter, published: \d+\.\d{3} s/iter$', out, re.M), out
    assert re.search(r'^published / fused: \d+\.\d\dx \(median of the per-step ratios\)$', out, re.M), out
