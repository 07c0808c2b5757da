"""Benchmark R2RNet against other low-light enhancers registered in BasicSR, on the same images.

Usage::

    python -m r2rnet_plugin.benchmark -opt options/benchmark/lol_demo.yml [--plugin MODULE ...] [--out DIR]

For every method of the option file (schema: :mod:`r2rnet_plugin.comparison.config`), on
every dataset: PSNR and SSIM on RGB and Y and their GT-mean variants (datasets with ground
truth), NIQE and LOE; parameters, MACs, latency and peak memory. Writes results.md,
results.csv, summary.csv (mean ranks), results.json, quality_vs_latency.png and crops.png
(numbered _1, _2, ... with several datasets) into --out (default results/benchmark/<name>;
``name`` must be a plain folder name). --out is created and checked writable before any
method runs; the reports are rewritten (each atomically) after every finished method, the
pictures at the end. docs/benchmark.md describes the option file and the measures.

Exit status: 0 when every method ran; 1 when some method failed or a cost column could not be
measured (its row says why; the others ran and every file is written); 2 for wrong options (a ``name`` that is a path, a
``crop_border`` that leaves no pixels to compare), an unknown network type, a plugin that
cannot be imported, a dataset that cannot be read or an --out that cannot be written; 130
interrupted (the finished rows are kept, no partial file is left).
"""
import argparse
import math
import os
import sys


def parse_args(argv):
    parser = argparse.ArgumentParser(prog='python -m r2rnet_plugin.benchmark', description=__doc__.split('\n\n')[0])
    parser.add_argument('-opt', '--opt', required=True, help='benchmark option file (YAML)')
    parser.add_argument(
        '--plugin',
        action='append',
        default=[],
        metavar='MODULE',
        help='module (dotted name or .py file) to import first; it registers its own archs '
        'in ARCH_REGISTRY (repeatable; also plugins: in the option file)')
    parser.add_argument('--out', help='output folder (default: results/benchmark/<name>)')
    parser.add_argument('--device', choices=('cpu', 'cuda', 'auto'), help='overrides device:')
    parser.add_argument('--precision', choices=('fp32', 'bf16', 'fp16'), help='overrides precision:')
    parser.add_argument('--no-progress', action='store_true', help='no progress bar')
    return parser.parse_args(argv)


def _number(value, fmt):
    return 'n/a' if math.isnan(value) else format(value, fmt)


def _summary(result):
    """A short plain-text table per dataset for the terminal; method names are never cut."""
    from r2rnet_plugin.comparison.ranking import mean_ranks
    width = max([len('method')] + [len(m.name) for m in result.methods])
    lines = []
    for dataset in result.datasets:
        measures = (('psnr', 'PSNR', '7.2f'), ('ssim', 'SSIM', '7.4f')) if dataset.paired else ()
        measures += (('niqe', 'NIQE', '7.3f'), ('loe', 'LOE', '7.1f'))
        lines += [
            f'{dataset.name}:',
            f"{'method':{width}} " + ' '.join(f'{h:>7}' for _, h, _ in measures) + f" {'ms':>10}  status"
        ]
        for m in result.methods:
            scores = m.scores.get(dataset.name)
            status, error = m.outcome(dataset.name)
            cells = ' '.join(_number(scores.quality[k] if scores else math.nan, f).rjust(7) for k, _, f in measures)
            lines.append(f'{m.name:{width}} {cells} {_number(m.cost.latency_ms, "10.2f"):>10}  ' +
                         (status if error is None else f'{status}: {error}'))
    lines.append('mean rank: ' + ', '.join(f'{r.name} {_number(r.mean_rank, ".2f")}' for r in mean_ranks(result)))
    return '\n'.join(lines)


def main(argv=None):
    """Run the benchmark; returns the exit status (see the module doc)."""
    args = parse_args(argv)
    written = []
    try:
        return _run(args, written)
    except KeyboardInterrupt:
        kept = f'; the rows finished so far are in {", ".join(written)}' if written else '; nothing was written'
        print(f'Interrupted{kept}.', file=sys.stderr)
        return 130


def _run(args, written):
    """The benchmark itself; ``written`` receives the report paths as soon as they exist."""
    import r2rnet_plugin  # noqa: F401  (adapts basicsr, registers the plugin's archs)
    from r2rnet_plugin.comparison.config import BenchmarkConfigError, load_config
    from r2rnet_plugin.comparison.figures import draw_crop_sheet, draw_quality_latency, figure_files
    from r2rnet_plugin.comparison.plugins import PluginImportError, import_plugins
    from r2rnet_plugin.comparison.reports import write_reports
    from r2rnet_plugin.comparison.runner import BenchmarkRunner
    from r2rnet_plugin.utils.atomic_files import check_writable_folder

    try:
        config = load_config(args.opt)
        config.device = args.device or config.device
        config.precision = args.precision or config.precision
        import_plugins(args.plugin + config.plugins)
        runner = BenchmarkRunner(config, progress=not args.no_progress)
        out_dir = args.out or os.path.join('results', 'benchmark', config.name)
        check_writable_folder(out_dir, '--out' if args.out else 'the output folder')
    except (BenchmarkConfigError, PluginImportError, OSError, ValueError) as err:
        print(f'error: {err}', file=sys.stderr)
        return 2

    def save_rows(partial):
        written[:] = write_reports(partial, out_dir)

    result = runner.run(on_row=save_rows)
    paths = list(written)
    height, width = config.cost_size
    for index, dataset in enumerate(result.datasets):
        plot, sheet = (os.path.join(out_dir, name) for name in figure_files(index, len(result.datasets)))
        measure, metric, unit = ('psnr', 'PSNR (dB)', ' dB') if dataset.paired else ('niqe', 'NIQE (lower is better)',
                                                                                     '')
        points = [(m.name, m.cost.latency_ms,
                   m.scores[dataset.name].quality[measure] if dataset.name in m.scores else math.nan,
                   m.outcome(dataset.name)[0] == 'error') for m in result.methods]
        title = (f'{config.name}, {dataset.name}: {metric.split(" ")[0]} vs latency ({result.device}, '
                 f'{config.precision}, {height}x{width})')
        paths.append(draw_quality_latency(points, plot, title, metric=metric, unit=unit))
        paths.append(draw_crop_sheet(dataset.sheet, sheet))
    print(_summary(result))
    print('wrote ' + ', '.join(paths))
    return 0 if all(m.ok for m in result.methods) else 1


if __name__ == '__main__':
    sys.exit(main())
