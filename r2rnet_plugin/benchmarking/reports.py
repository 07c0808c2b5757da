"""Write a benchmark's results: results.md (a table), results.csv and results.json."""
import csv
import json
import math
import os
from collections import OrderedDict

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


def write_markdown(result, path):
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
    with open(path, 'w', encoding='utf-8') as f:
        f.write('\n'.join(lines) + '\n')


def write_csv(result, path):
    keys = [key for key, _, _ in COLUMNS]
    with open(path, 'w', newline='', encoding='utf-8') as f:
        writer = csv.writer(f)
        writer.writerow(keys + ['weights', 'error', 'notes'])
        for method in result.methods:
            values = row_values(method)
            writer.writerow([values[k] for k in keys] + [method.weights, method.error or '', '; '.join(method.notes)])


def write_json(result, path):
    data = OrderedDict(
        name=result.name, dataset=result.dataset, images=result.image_keys, device=result.device,
        precision=result.precision, cost_size=list(result.cost_size), warmup=result.warmup,
        repeats=result.repeats,
        methods=[OrderedDict(
            name=m.name, arch=m.arch, weights=m.weights, status=m.status, error=m.error, notes=m.notes,
            quality=m.quality, params=m.cost.params, macs=m.cost.macs, latency_ms=m.cost.latency_ms,
            peak_memory_mb=m.cost.peak_memory_mb, per_image=m.per_image) for m in result.methods])
    with open(path, 'w', encoding='utf-8') as f:
        json.dump(_finite_or_none(data), f, indent=2)
        f.write('\n')


def write_reports(result, out_dir):
    """Write the three files into ``out_dir``; returns their paths."""
    os.makedirs(out_dir, exist_ok=True)
    paths = OrderedDict((name, os.path.join(out_dir, f'results.{name}')) for name in ('md', 'csv', 'json'))
    write_markdown(result, paths['md'])
    write_csv(result, paths['csv'])
    write_json(result, paths['json'])
    return list(paths.values())
