"""Write a benchmark's results: results.md (a table), results.csv and results.json.

Each file is replaced in one step (:func:`r2rnet_plugin.atomic_files.atomic_write_text`), so
the runner can rewrite all three after every finished method: an interruption keeps the rows
written so far and never leaves a half-written file.
"""
import csv
import io
import json
import math
import os
from collections import OrderedDict

from r2rnet_plugin.atomic_files import atomic_write_text

# (key, Markdown header, decimals; None: text)
COLUMNS = (
    ('method', 'Method', None),
    ('arch', 'Arch', None),
    ('psnr', 'PSNR', 2),
    ('ssim', 'SSIM', 4),
    ('psnr_y', 'PSNR-Y', 2),
    ('ssim_y', 'SSIM-Y', 4),
    ('psnr_gtmean', 'PSNR GT-mean', 2),
    ('ssim_gtmean', 'SSIM GT-mean', 4),
    ('psnr_y_gtmean', 'PSNR-Y GT-mean', 2),
    ('ssim_y_gtmean', 'SSIM-Y GT-mean', 4),
    ('niqe', 'NIQE', 3),
    ('params_m', 'Params (M)', 4),
    ('gmacs', 'MACs (G)', 3),
    ('latency_ms', 'Latency (ms)', 3),
    ('peak_memory_mb', 'Peak mem (MiB)', 1),
    ('status', 'Status', None),
)


def row_values(method):
    """The table's values of one :class:`~r2rnet_plugin.benchmarking.runner.MethodResult`."""
    cost = method.cost
    values = OrderedDict(method=method.name, arch=method.arch)
    values.update(method.quality)
    values.update(params_m=cost.params / 1e6, gmacs=cost.macs / 1e9, latency_ms=cost.latency_ms,
                  peak_memory_mb=cost.peak_memory_mb, status=method.status)
    return values


def _format(value, decimals):
    if decimals is None:
        return str(value)
    return 'NaN' if math.isnan(value) else f'{value:.{decimals}f}'


def _finite_or_none(value):
    """JSON has no NaN: NaN and infinities become null."""
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if isinstance(value, dict):
        return {k: _finite_or_none(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_finite_or_none(v) for v in value]
    return value


def _setting_lines(result):
    height, width = result.cost_size
    return [
        f'- dataset: {result.dataset} ({len(result.image_keys)} images)',
        f'- device: {result.device}; precision: {result.precision}',
        f'- cost (MACs, latency, peak memory) on a 1x3x{height}x{width} input; latency: median of '
        f'{result.repeats} timed run(s) after {result.warmup} warm-up run(s)',
        '- GT-mean: the output scaled so that its mean grey level equals the ground truth\'s; '
        'MACs count convolutions and matrix products only',
    ]


def markdown_text(result):
    """results.md: the settings, the table and the notes."""
    lines = [f'# Benchmark: {result.name}', ''] + _setting_lines(result) + ['']
    lines.append('| ' + ' | '.join(header for _, header, _ in COLUMNS) + ' |')
    lines.append('|' + '|'.join('---' if d is None else '---:' for _, _, d in COLUMNS) + '|')
    for method in result.methods:
        values = row_values(method)
        cells = [_format(values[key], d).replace('|', '\\|') for key, _, d in COLUMNS]
        lines.append('| ' + ' | '.join(cells) + ' |')
    notes = [(m.name, ([f'error: {m.error}'] if m.error else []) + m.notes) for m in result.methods]
    notes = [(name, items) for name, items in notes if items]
    if notes:
        lines += ['', '## Notes', '']
        lines += [f'- **{name}**: ' + '; '.join(items) for name, items in notes]
    return '\n'.join(lines) + '\n'


def csv_text(result):
    """results.csv: one row per method."""
    keys = [key for key, _, _ in COLUMNS]
    text = io.StringIO(newline='')
    writer = csv.writer(text)
    writer.writerow(keys + ['weights', 'error', 'notes'])
    for method in result.methods:
        values = row_values(method)
        writer.writerow([values[k] for k in keys] + [method.weights, method.error or '', '; '.join(method.notes)])
    return text.getvalue()


def json_text(result):
    """results.json: the settings and every method with its per-image values (NaN as null)."""
    data = OrderedDict(
        name=result.name, dataset=result.dataset, images=result.image_keys, device=result.device,
        precision=result.precision, cost_size=list(result.cost_size), warmup=result.warmup,
        repeats=result.repeats,
        methods=[OrderedDict(
            name=m.name, arch=m.arch, weights=m.weights, status=m.status, error=m.error, notes=m.notes,
            quality=m.quality, params=m.cost.params, macs=m.cost.macs, latency_ms=m.cost.latency_ms,
            peak_memory_mb=m.cost.peak_memory_mb, per_image=m.per_image) for m in result.methods])
    return json.dumps(_finite_or_none(data), indent=2) + '\n'


REPORTS = OrderedDict([('md', markdown_text), ('csv', csv_text), ('json', json_text)])


def write_reports(result, out_dir):
    """Write (or replace) the three files in ``out_dir``, each atomically; returns their paths.

    Args:
        result (BenchmarkResult): The rows finished so far (all of them at the end).
        out_dir (str): An existing folder.
    """
    paths = []
    for extension, text in REPORTS.items():
        paths.append(os.path.join(out_dir, f'results.{extension}'))
        atomic_write_text(paths[-1], text(result))
    return paths
