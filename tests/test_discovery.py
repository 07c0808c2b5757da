"""BasicSR finds the plugin by itself; Python start-up stays free of torch and basicsr."""
import os
import subprocess
import sys
import zipfile

import pytest

pytestmark = pytest.mark.e2e  # starts subprocesses

FIND_R2RNET = ('import sys, basicsr\n'
               'from basicsr.utils.registry import ARCH_REGISTRY\n'
               'print(ARCH_REGISTRY.get("R2RNet").__module__, "r2rnet_plugin" in sys.modules)\n')


def run_python(code, tmp_path, **env):
    environment = {k: v for k, v in os.environ.items() if k != 'R2RNET_PLUGIN_AUTOLOAD'}
    environment.update(env)
    return subprocess.run([sys.executable, '-c', code],
                          cwd=tmp_path,
                          env=environment,
                          capture_output=True,
                          text=True,
                          timeout=300)


def test_basicsr_finds_r2rnet_without_importing_the_plugin(tmp_path):
    result = run_python(FIND_R2RNET, tmp_path)
    assert result.returncode == 0, result.stderr
    assert result.stdout.split() == ['r2rnet_plugin.archs.r2rnet_arch', 'True']
    assert 'Warning' not in result.stderr


def test_plain_start_up_imports_neither_torch_nor_basicsr(tmp_path):
    result = subprocess.run([sys.executable, '-X', 'importtime', '-c', 'pass'],
                            cwd=tmp_path,
                            capture_output=True,
                            text=True,
                            timeout=60)
    imported = [line.rsplit('|', 1)[-1].strip() for line in result.stderr.splitlines()]
    assert 'r2rnet_plugin_autoload' in imported  # the hook is installed...
    assert not [m for m in imported if m.split('.')[0] in ('torch', 'basicsr', 'r2rnet_plugin', 'numpy')]


def test_environment_variable_turns_autoload_off(tmp_path):
    result = run_python(FIND_R2RNET, tmp_path, R2RNET_PLUGIN_AUTOLOAD='0')
    assert result.returncode != 0
    assert 'r2rnet_plugin' not in result.stdout


def test_explicit_import_works_with_autoload_off(tmp_path):
    code = 'import r2rnet_plugin\n' + FIND_R2RNET
    result = run_python(code, tmp_path, R2RNET_PLUGIN_AUTOLOAD='0')
    assert result.returncode == 0, result.stderr
    assert result.stdout.split()[0] == 'r2rnet_plugin.archs.r2rnet_arch'


@pytest.mark.parametrize('first', ['import r2rnet_plugin', 'import basicsr.archs', 'import basicsr.train'])
def test_any_import_order_registers_once(tmp_path, first):
    result = run_python(first + '\n' + FIND_R2RNET, tmp_path)
    assert result.returncode == 0, result.stderr


def test_wheel_ships_the_start_up_hook(tmp_path):
    root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    subprocess.run(
        [sys.executable, '-m', 'pip', 'wheel', '--no-deps', '--no-build-isolation', '-q', '-w',
         str(tmp_path), root],
        check=True,
        capture_output=True,
        timeout=300)
    wheel, = tmp_path.glob('r2rnet_plugin-*.whl')
    names = zipfile.ZipFile(wheel).namelist()
    assert 'r2rnet_plugin_autoload.pth' in names
    assert 'r2rnet_plugin_autoload.py' in names
    assert 'r2rnet_plugin/compat/imports.py' in names


COMMANDS = ('train', 'test', 'enhance', 'benchmark', 'prepare_lmdb', 'convert_official', 'demo')


@pytest.mark.parametrize('command', COMMANDS)
def test_every_command_answers_help_as_module_and_console_script(tmp_path, command):
    module = subprocess.run([sys.executable, '-m', f'r2rnet_plugin.{command}', '--help'],
                            cwd=tmp_path,
                            capture_output=True,
                            text=True,
                            timeout=300)
    assert module.returncode == 0 and 'usage' in module.stdout.lower(), module.stderr[-2000:]
    script = os.path.join(os.path.dirname(sys.executable), 'r2rnet-' + command.replace('_', '-'))
    assert os.path.isfile(script), f'console script {script} is missing'
    installed = subprocess.run([script, '--help'], cwd=tmp_path, capture_output=True, text=True, timeout=300)
    assert installed.returncode == 0 and 'usage' in installed.stdout.lower(), installed.stderr[-2000:]
