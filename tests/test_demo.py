"""The demo's quick path: data, LMDBs, BasicSR training (R2RNet, baselines), test, enhance, benchmark, report."""
import os
import subprocess
import sys
import pytest

pytestmark = pytest.mark.e2e  # starts subprocesses


def test_demo_quick_writes_its_report_and_reuses_finished_steps(tmp_path):
    out = tmp_path / 'demo'
    command = [sys.executable, '-m', 'r2rnet_plugin.demo', '--quick', '--out', str(out)]
    first = subprocess.run(command, cwd=tmp_path, capture_output=True, text=True, timeout=900)
    assert first.returncode == 0, first.stdout[-3000:] + first.stderr[-3000:]
    report = out / 'report' / 'report.md'
    assert f'report: {report}' in first.stdout
    text = report.read_text()
    for row in ('input (low light)', 'Decom-Net: R', 'Denoise-Net: R_denoised', 'Relight-Net: output'):
        assert f'| {row} |' in text
    assert sorted(p.name for p in (out / 'report').glob('sheet_*.png'))[:2] == ['sheet_46.png', 'sheet_490.png']
    assert len(list((out / 'report').glob('sheet_*.png'))) == 3  # 1 validation image, 2 real photos
    for method in ('Identity (no enhancement)', 'Gamma (auto)', 'CLAHE', 'RetinexNet', 'Zero-DCE', 'R2RNet'):
        row = next(line for line in text.splitlines() if line.startswith(f'| {method} |'))
        assert row.endswith('| ok |'), row
    for name in ('results.csv', 'quality_vs_latency.png', 'crops.png'):
        assert (out / 'benchmark' / name).is_file()
    assert sorted(os.listdir(out / 'enhanced'))[:2] == ['46.png', '46_I_delta.png']
    for stage in ('decom', 'denoise', 'relight'):
        assert (out / 'experiments' / f'demo_{stage}' / 'models' / f'net_{stage}_latest.pth').is_file()
    for baseline in ('retinexnet', 'zerodce'):
        assert (out / 'experiments' / f'demo_{baseline}' / 'models' / 'net_g_latest.pth').is_file()
    assert list((out / 'results' / 'demo_test' / 'visualization' / 'demo_val').glob('*_r2rnet.png'))

    second = subprocess.run(command, cwd=tmp_path, capture_output=True, text=True, timeout=900)
    assert second.returncode == 0, second.stderr[-3000:]
    assert second.stdout.count('already trained') == 5
    assert 'benchmark: already run' in second.stdout
    assert 'synthesising' not in second.stdout
