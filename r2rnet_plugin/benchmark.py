"""Benchmark R2RNet against other low-light enhancers registered in BasicSR, on the same images.

Usage::

    python -m r2rnet_plugin.benchmark -opt options/benchmark/lol_demo.yml [--plugin MODULE ...] [--out DIR]

For every method of the option file (schema: :mod:`r2rnet_plugin.benchmarking.config`): PSNR and
SSIM on RGB and Y, their GT-mean variants, NIQE, parameters, MACs, latency and peak memory.
Writes results.md, results.csv, results.json, quality_vs_latency.png and crops.png into --out
(default results/benchmark/<name>; ``name`` must be a plain folder name). --out is created and
checked writable before any method runs; the three reports are rewritten (each atomically)
after every finished method, the two pictures at the end.

Exit status: 0 when every method ran; 1 when some method failed (its row says why; the others
ran and every file is written); 2 for wrong options (a ``name`` that is a path, a
``crop_border`` that leaves no pixels to compare), an unknown network type, a plugin that
cannot be imported, a dataset that cannot be read or an --out that cannot be written; 130
interrupted (the finished rows are kept, no partial file is left).
"""
import argparse
import math
import os
import sys

PLOT_NAME, SHEET_NAME = 'quality_vs_latency.png', 'crops.png'


def parse_args(argv):
    parser = argparse.ArgumentParser(prog='python -m r2rnet_plugin.benchmark',
                                     description=__doc__.split('\n\n')[0])
    parser.add_argument('-opt', '--opt', required=True, help='benchmark option file (YAML)')
    parser.add_argument('--plugin', action='append', default=[], metavar='MODULE',
                        help='module (dotted name or .py file) to import first; it registers its own archs '
                             'in ARCH_REGISTRY (repeatable; also plugins: in the option file)')
    parser.add_argument('--out', help='output folder (default: results/benchmark/<name>)')
    parser.add_argument('--device', choices=('cpu', 'cuda', 'auto'), help='overrides device:')
    parser.add_argument('--precision', choices=('fp32', 'bf16', 'fp16'), help='overrides precision:')
    parser.add_argument('--no-progress', action='store_true', help='no progress bar')
    return parser.parse_args(argv)


def _summary(result):
    """A short plain-text table for the terminal."""
    lines = [f"{'method':24} {'PSNR':>7} {'SSIM':>7} {'NIQE':>7} {'ms':>10}  status"]
    for m in result.methods:
        def num(value, fmt):
            return 'nan' if math.isnan(value) else format(value, fmt)
        lines.append(f"{m.name[:24]:24} {num(m.quality['psnr'], '7.2f')} {num(m.quality['ssim'], '7.4f')} "
                     f"{num(m.quality['niqe'], '7.3f')} {num(m.cost.latency_ms, '10.2f')}  "
                     + (m.status if m.error is None else f'error: {m.error}'))
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
    from r2rnet_plugin.atomic_files import check_writable_folder
    from r2rnet_plugin.benchmarking.config import BenchmarkConfigError, load_config
    from r2rnet_plugin.benchmarking.figures import draw_crop_sheet, draw_quality_latency
    from r2rnet_plugin.benchmarking.plugins import PluginImportError, import_plugins
    from r2rnet_plugin.benchmarking.reports import write_reports
    from r2rnet_plugin.benchmarking.runner import BenchmarkRunner

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
    points = [(m.name, m.cost.latency_ms, m.quality['psnr']) for m in result.methods]
    height, width = config.cost_size
    title = f'{config.name}: PSNR vs latency ({result.device}, {config.precision}, {height}x{width})'
    paths.append(draw_quality_latency(points, os.path.join(out_dir, PLOT_NAME), title))
    paths.append(draw_crop_sheet(result.sheet, os.path.join(out_dir, SHEET_NAME)))
    print(_summary(result))
    print('wrote ' + ', '.join(paths))
    return 1 if any(m.status != 'ok' for m in result.methods) else 0


if __name__ == '__main__':
    sys.exit(main())
