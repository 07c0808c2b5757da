"""The code follows the project's style (flake8, isort, yapf; configured in setup.cfg, as BasicSR does)."""
import glob
import os

import pytest

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
CONFIG = os.path.join(REPO, 'setup.cfg')
FOLDERS = ('r2rnet_plugin', 'tests', 'benchmarks', 'scripts', 'examples')


def python_files():
    files = [os.path.join(REPO, 'setup.py'), os.path.join(REPO, 'r2rnet_plugin_autoload.py')]
    for folder in FOLDERS:
        files += glob.glob(os.path.join(REPO, folder, '**', '*.py'), recursive=True)
    return sorted(files)


def relative(path):
    return os.path.relpath(path, REPO)


def test_flake8(capsys):
    flake8 = pytest.importorskip('flake8.api.legacy')
    report = flake8.get_style_guide(config=CONFIG).check_files(python_files())
    assert report.total_errors == 0, capsys.readouterr().out


def test_isort():
    isort = pytest.importorskip('isort')
    config = isort.Config(settings_path=REPO)
    unsorted = [relative(p) for p in python_files() if not isort.check_file(p, config=config, show_diff=False)]
    assert not unsorted, f'isort would change: {unsorted} (run: isort {" ".join(FOLDERS)})'


def test_yapf():
    yapf_api = pytest.importorskip('yapf.yapflib.yapf_api')
    changed = [relative(p) for p in python_files() if yapf_api.FormatFile(p, style_config=CONFIG)[2]]
    assert not changed, f'yapf would change: {changed} (run: yapf -i -r {" ".join(FOLDERS)})'
