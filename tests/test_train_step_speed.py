"""benchmarks/train_step_speed.py runs end to end (tiny sizes; the timings themselves are not checked)."""
import os
import re
import subprocess
import sys

from tiny_setup import REPO


def test_train_step_benchmark_times_each_precision_and_the_reference_style_step():
    script = os.path.join(REPO, 'benchmarks', 'train_step_speed.py')
    result = subprocess.run([sys.executable, script, '--stages', 'relight', '--precisions', 'fp32', 'bf16',
                             '--repeats', '1', '--channel', '8', '--size', '32', '--batch', '2', '--device', 'cpu'],
                            capture_output=True, text=True, timeout=600)
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    out = result.stdout
    assert re.search(r'^relight +\d+\.\d{3} +\d+\.\d{3}$', out, re.M), out
    assert re.search(r'reference-style relight step \(float32\): \d+\.\d{3} s/iter', out), out
    for precision in ('fp32', 'bf16'):
        assert re.search(rf'ours, {precision}: \d+\.\d{{3}} s/iter, \d+\.\d\dx faster', out), out
