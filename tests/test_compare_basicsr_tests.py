"""scripts/compare_basicsr_tests.py: a suite run with the plugin and as released, outcomes compared."""
import os
import subprocess
import sys

import pytest

pytestmark = pytest.mark.e2e  # starts subprocesses

SCRIPT = os.path.join(
    os.path.dirname(os.path.dirname(os.path.abspath(__file__))), 'scripts', 'compare_basicsr_tests.py')

SUITE = '''
import sys

import basicsr


def test_basicsr_imports():
    assert basicsr.__version__


def test_sees_the_plugin():
    assert {sees_plugin}('r2rnet_plugin' in sys.modules)
'''


@pytest.mark.parametrize('sees_plugin, exit_code', [('True or ', 0), ('', 1)])
def test_outcomes_compared(tmp_path, sees_plugin, exit_code):
    (tmp_path / 'tests').mkdir()
    (tmp_path / 'tests' / 'test_suite.py').write_text(SUITE.format(sees_plugin=sees_plugin))
    env = {k: v for k, v in os.environ.items() if not k.startswith('R2RNET_')}
    result = subprocess.run([sys.executable, SCRIPT, str(tmp_path)],
                            capture_output=True,
                            text=True,
                            env=env,
                            timeout=600)
    assert result.returncode == exit_code, result.stdout + result.stderr
    assert 'with the plugin: 2 passed' in result.stdout
    if exit_code:
        assert 'differs: tests.test_suite::test_sees_the_plugin: passed with the plugin, failed as released' \
            in result.stdout
    else:
        assert 'as released: 2 passed' in result.stdout and 'same outcome' in result.stdout


def test_a_folder_without_tests_is_refused(tmp_path):
    result = subprocess.run([sys.executable, SCRIPT, str(tmp_path)], capture_output=True, text=True, timeout=60)
    assert result.returncode == 2 and 'has no tests/ folder' in result.stderr
