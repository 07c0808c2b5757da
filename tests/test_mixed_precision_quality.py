"""benchmarks/mixed_precision_quality.py end to end on the demo's tiny configuration."""
import os
import re
import subprocess
import sys

import pytest
from tiny_setup import REPO

pytestmark = pytest.mark.e2e  # starts subprocesses

SCRIPT = os.path.join(REPO, 'benchmarks', 'mixed_precision_quality.py')
CELL = r'\d+\.\d\d dB \(([+-]\d\.\d{3})\) \d\.\d{4}'  # PSNR (difference) SSIM


def row(precision, seed):
    """A run's line: precision, seed, training seconds, then a cell per stage output."""
    return rf'^{precision} +{seed} +(\d+\.\d) +' + ' +'.join([CELL] * 3) + '$'


def mean_row(precision):
    """A precision's line of means: PSNR (spread) per stage output."""
    return rf'^{precision} +' + ' +'.join([r'\d+\.\d\d dB \(\d+\.\d{3}\)'] * 3) + '$'


def run(out):
    result = subprocess.run([sys.executable, SCRIPT, '--quick', '--seeds', '0', '1', '--out',
                             str(out)],
                            capture_output=True,
                            text=True,
                            timeout=900,
                            cwd=out.parent)
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    return result.stdout


def test_trains_each_precision_and_seed_and_compares_them_on_the_validation_pairs(tmp_path):
    out = tmp_path / 'mpq'
    first = run(out)
    runs = [(p, seed) for p in ('fp32', 'bf16') for seed in (0, 1)]
    rows = {run_: re.search(row(*run_), first, re.M) for run_ in runs}
    assert all(rows.values()), first
    assert all(rows['fp32', seed].groups()[1:] == ('+0.000', ) * 3 for seed in (0, 1))  # the baseline
    assert all(float(row.group(1)) > 0 for row in rows.values())
    assert all(re.search(mean_row(p), first, re.M) for p in ('fp32', 'bf16')), first
    for precision, seed in runs:
        said = {'fp32': 'float32'}.get(precision, precision)
        for stage in ('decom', 'denoise', 'relight'):
            log = (out / f'{precision}-seed{seed}' / f'train_{stage}.log').read_text()
            assert f'Training precision: {said} (train: mixed_precision: {precision}' in log
            assert f'manual_seed: {seed}' in (out / f'{precision}-seed{seed}' / f'train_{stage}.yml').read_text()
    # A second run reuses every trained stage and gives the same numbers.
    again = run(out)
    rerun = {run_: re.search(row(*run_), again, re.M) for run_ in runs}
    assert all(float(m.group(1)) == 0.0 for m in rerun.values()), again
    assert [m.group(0).split()[3:] for m in rerun.values()] == [m.group(0).split()[3:] for m in rows.values()]
