"""``python -m r2rnet_plugin.benchmark`` with hostile names, unwritable outputs, interruptions and bad crops."""
import csv
import os

import pytest
import yaml
from tiny_setup import write_lol_pairs, write_options

from r2rnet_plugin.benchmark import main
from r2rnet_plugin.comparison import runner as runner_module

# Two narrow R2RNets without weights: cheap, and named by the plugin, not by a baseline arch.
METHODS = [{
    'name': 'first',
    'network': {
        'type': 'R2RNet',
        'channel': 4
    }
}, {
    'name': 'second',
    'network': {
        'type': 'R2RNet',
        'channel': 4
    }
}]


@pytest.fixture(scope='module')
def data(tmp_path_factory):
    return write_lol_pairs(tmp_path_factory.mktemp('bench_hostile') / 'data', count=2, size=(32, 40))


def bench_file(folder, data, **options):
    """The benchmark option file ``folder/bench.yml`` on ``data``, ``options`` replacing the defaults."""
    opt = {
        'name': 'tiny',
        'dataset': {
            'name': 'tiny_lol',
            'layout': 'lol',
            'dataroot': data
        },
        'device': 'cpu',
        'cost_size': [16, 16],
        'warmup': 0,
        'repeats': 1,
        'metrics': {
            'niqe': False
        },
        'sheet': {
            'images': 1,
            'crop': 16
        },
        'methods': METHODS
    }
    opt.update(options)
    return write_options(opt, folder, 'bench.yml')


def files_under(folder):
    return sorted(
        os.path.relpath(os.path.join(root, name), folder) for root, _, names in os.walk(folder) for name in names)


def csv_methods(out):
    with open(os.path.join(out, 'results.csv'), newline='') as f:
        return [row['method'] for row in csv.DictReader(f)]


@pytest.fixture
def never_runs(monkeypatch):
    """Fail the test if any method starts."""

    def run(*args, **kwargs):
        raise AssertionError('the benchmark ran')

    monkeypatch.setattr(runner_module.BenchmarkRunner, 'run', run)


# ------------------------------------------------------------------------ names (item 4)


@pytest.mark.parametrize('name', ['{elsewhere}', '../escape', 'a/b', '..', '.', 'a\\b', 'new\nline', ' '])
def test_name_that_is_a_path_is_refused(tmp_path, monkeypatch, data, name, never_runs, capsys):
    work = tmp_path / 'work'
    work.mkdir()
    monkeypatch.chdir(work)
    name = name.format(elsewhere=tmp_path / 'elsewhere')
    assert main(['-opt', bench_file(str(tmp_path), data, name=name), '--no-progress']) == 2
    err = capsys.readouterr().err
    assert "option 'name' must be a plain folder name" in err and repr(name) in err
    assert files_under(tmp_path) == ['bench.yml']


def test_default_name_from_the_file_stem_is_checked_too(tmp_path, monkeypatch, data, never_runs, capsys):
    monkeypatch.chdir(tmp_path)
    path = bench_file(str(tmp_path), data)
    options = yaml.safe_load(open(path))
    del options['name']
    with open(tmp_path / 'new\nline.yml', 'w') as f:
        yaml.safe_dump(options, f)
    assert main(['-opt', str(tmp_path / 'new\nline.yml'), '--no-progress']) == 2
    assert "option 'name'" in capsys.readouterr().err and not (tmp_path / 'results').exists()


# ------------------------------------------------------------------------ output folder (item 12)


def test_unwritable_out_stops_before_any_method_runs(tmp_path, data, never_runs, capsys):
    blocker = tmp_path / 'a_file'
    blocker.write_text('')
    out = blocker / 'out'
    assert main(['-opt', bench_file(str(tmp_path), data), '--out', str(out), '--no-progress']) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith(f'error: --out {out} is not a writable folder') and '\n' not in err


def test_ctrl_c_keeps_finished_rows_and_leaves_no_partial_file(tmp_path, data, monkeypatch, capsys):
    out = tmp_path / 'out'
    out.mkdir()
    victim = tmp_path / 'victim'
    victim.write_text('keep me')
    os.symlink(victim, out / 'results.json')  # planted: replaced, never written through
    run_dataset = runner_module.BenchmarkRunner._run_dataset

    def interrupted_in_second(self, net, images, sheet, name, bar):
        if name == 'second':
            raise KeyboardInterrupt
        return run_dataset(self, net, images, sheet, name, bar)

    monkeypatch.setattr(runner_module.BenchmarkRunner, '_run_dataset', interrupted_in_second)
    assert main(['-opt', bench_file(str(tmp_path), data), '--out', str(out), '--no-progress']) == 130
    err = capsys.readouterr().err.strip()
    assert err.startswith('Interrupted') and str(out / 'results.csv') in err and '\n' not in err
    assert sorted(os.listdir(out)) == ['results.csv', 'results.json', 'results.md', 'summary.csv']
    assert csv_methods(out) == ['first']
    assert '| first |' in (out / 'results.md').read_text()
    assert victim.read_text() == 'keep me' and not (out / 'results.json').is_symlink()


def test_late_failure_keeps_every_row(tmp_path, data, monkeypatch):
    out = tmp_path / 'out'

    real_measure_cost, calls = runner_module.measure_cost, []

    def measure_cost(*args):
        calls.append(args)
        if len(calls) == 2:
            raise RuntimeError('out of memory')
        return real_measure_cost(*args)

    monkeypatch.setattr(runner_module, 'measure_cost', measure_cost)
    assert main(['-opt', bench_file(str(tmp_path), data), '--out', str(out), '--no-progress']) == 1
    assert csv_methods(out) == ['first', 'second']
    with open(out / 'results.csv', newline='') as f:
        second = list(csv.DictReader(f))[1]
    assert second['status'] == 'error' and 'cost measurement failed: RuntimeError: out of memory' in second['error']
    assert second['psnr'] != 'nan'  # its quality was measured before the cost failed


def test_reports_are_written_after_each_method(tmp_path, data, monkeypatch):
    out = tmp_path / 'out'
    seen = []
    run_method = runner_module.BenchmarkRunner._run_method

    def recording(self, spec, *args):
        seen.append(csv_methods(out) if (out / 'results.csv').exists() else None)
        return run_method(self, spec, *args)

    monkeypatch.setattr(runner_module.BenchmarkRunner, '_run_method', recording)
    assert main(['-opt', bench_file(str(tmp_path), data), '--out', str(out), '--no-progress']) == 0
    assert seen == [None, ['first']]


# ------------------------------------------------------------------------ crop_border


def test_crop_border_larger_than_the_images_is_named(tmp_path, data, never_runs, capsys):
    path = bench_file(str(tmp_path), data, metrics={'crop_border': 20, 'niqe': False})
    assert main(['-opt', path, '--out', str(tmp_path / 'out'), '--no-progress']) == 2
    err = capsys.readouterr().err.strip()
    assert "option 'metrics: crop_border' is 20 but image '0' is 40x32 (WxH)" in err and 'use at most 10' in err
    assert '\n' not in err and not (tmp_path / 'out').exists()
