"""Write a benchmark's results: results.md (a table per dataset and the summary), results.csv
(one row per dataset and method), summary.csv (mean ranks) and results.json.

Each file is replaced in one step (:func:`r2rnet_plugin.utils.atomic_files.atomic_write_text`), so
the runner can rewrite them after every finished method: an interruption keeps the rows
written so far and never leaves a half-written file. A value that could not be measured is
``n/a`` (null in JSON; the notes say why); PSNR/SSIM of a dataset without ground truth are
absent from its table and ``-`` in results.csv.
"""
import csv
import io
import json
import math
import os
from collections import OrderedDict

from r2rnet_plugin.comparison.figures import figure_files
from r2rnet_plugin.comparison.ranking import mean_ranks, ranked_columns
from r2rnet_plugin.utils.atomic_files import atomic_write_text

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
    ('loe', 'LOE', 1),
    ('params_m', 'Params (M)', 4),
    ('gmacs', 'MACs (G)', 3),
    ('latency_ms', 'Latency (ms)', 3),
    ('peak_memory_mb', 'Peak mem (MiB)', 1),
    ('status', 'Status', None),
)
QUALITY_KEYS = ('psnr', 'ssim', 'psnr_y', 'ssim_y', 'psnr_gtmean', 'ssim_gtmean', 'psnr_y_gtmean', 'ssim_y_gtmean',
                'niqe', 'loe')
ABSENT, NOT_MEASURED = '-', 'n/a'


def columns(dataset):
    """The table columns of ``dataset``: without the full-reference ones where it has no ground truth."""
    return [c for c in COLUMNS if c[0] not in QUALITY_KEYS or c[0] in dataset.measures]


def row_values(method, dataset):
    """The table's values of one method on ``dataset``; ``status`` says why when not ok."""
    cost, scores = method.cost, method.scores.get(dataset.name)
    status, error = method.outcome(dataset.name)
    values = OrderedDict(method=method.name, arch=method.arch)
    values.update((measure, scores.quality[measure] if scores else math.nan) for measure in dataset.measures)
    values.update(
        params_m=cost.params / 1e6,
        gmacs=cost.macs / 1e9,
        latency_ms=cost.latency_ms,
        peak_memory_mb=cost.peak_memory_mb,
        status=status if error is None else f'{status}: {error}')
    return values


def _format(value, decimals):
    if decimals is None:
        return str(value)
    return NOT_MEASURED if math.isnan(value) else f'{value:.{decimals}f}'


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
    datasets = ', '.join(f'{d.name} ({len(d.image_keys)} images{"" if d.paired else ", no ground truth"})'
                         for d in result.datasets)
    return [
        f'- dataset{"s" if len(result.datasets) > 1 else ""}: {datasets}',
        f'- device: {result.device}; precision: {result.precision}; seed: {result.seed}',
        f'- cost (MACs, latency, peak memory) on a 1x3x{height}x{width} input; latency: median of '
        f'{result.repeats} timed run(s) after {result.warmup} warm-up run(s)',
        '- GT-mean: the output scaled so that its mean grey level equals the ground truth\'s; '
        'MACs count convolutions and matrix products only',
        f'- NIQE and LOE: lower is better; LOE (lightness-order error) on copies subsampled to a '
        f'smaller side of {result.loe_side}-{2 * result.loe_side - 1} pixels; n/a: not measured (see the notes)',
    ]


def _table(cells_rows, cols):
    lines = [
        '| ' + ' | '.join(header for _, header, _ in cols) + ' |',
        '|' + '|'.join('---' if d is None else '---:' for _, _, d in cols) + '|'
    ]
    lines += [
        '| ' + ' | '.join(cell.replace('|', '\\|').replace('\n', ' ') for cell in cells) + ' |' for cells in cells_rows
    ]
    return lines


def _dataset_section(result, index, dataset, heading):
    cols = columns(dataset)
    rows = []
    for method in result.methods:
        values = row_values(method, dataset)
        rows.append([_format(values[key], d) for key, _, d in cols])
    lines = _table(rows, cols)
    notes = []
    for method in result.methods:
        scores = method.scores.get(dataset.name)
        items = method.notes + (scores.notes if scores else [])
        if items:
            notes.append(f'- **{method.name}**: ' + '; '.join(items))
    if notes:
        lines += ['', f'{heading}# Notes', ''] + notes
    if len(result.datasets) == 1:  # quality_vs_latency.png and crops.png
        return lines
    plot, sheet = figure_files(index, len(result.datasets))
    return lines + ['', f'Figures: [{plot}]({plot}), [{sheet}]({sheet})']


def _summary_section(result):
    ranked = ranked_columns(result)
    cols = [('method', 'Method', None), ('mean_rank', 'Mean rank', 2), ('count', 'Ranked in', None)]
    rows = [[r.name, _format(r.mean_rank, 2), f'{len(r.ranks)} of {len(ranked)}'] for r in mean_ranks(result)]
    measured = ', '.join(f'{d}/{m}' for d, m, _ in ranked) or 'none'
    return [
        'Mean rank per method over the datasets and measures (1 = best; PSNR, SSIM higher is better, '
        f'NIQE, LOE lower is better; ties share their mean rank). Ranked: {measured}.', ''
    ] + _table(rows, cols)


def markdown_text(result):
    """results.md: the settings, a table per dataset with its notes, and the summary."""
    lines = [f'# Benchmark: {result.name}', ''] + _setting_lines(result) + ['']
    single = len(result.datasets) == 1
    for index, dataset in enumerate(result.datasets):
        if single:
            lines += _dataset_section(result, index, dataset, '#') + ['']
        else:
            kind = 'paired' if dataset.paired else 'no ground truth'
            lines += [f'## {dataset.name} ({len(dataset.image_keys)} images, {kind})', '']
            lines += _dataset_section(result, index, dataset, '##') + ['']
    lines += ['## Summary', ''] + _summary_section(result)
    return '\n'.join(lines) + '\n'


def _csv_cell(method, dataset, key, values):
    if key in QUALITY_KEYS and key not in dataset.measures:
        return ABSENT
    value = values[key]
    return NOT_MEASURED if isinstance(value, float) and math.isnan(value) else value


def csv_text(result):
    """results.csv: one row per dataset and method (``-``: not a measure of that dataset)."""
    keys = [key for key, _, _ in COLUMNS]
    text = io.StringIO(newline='')
    writer = csv.writer(text)
    writer.writerow(['dataset'] + keys + ['weights', 'error', 'notes'])
    for dataset in result.datasets:
        for method in result.methods:
            values = row_values(method, dataset)
            scores = method.scores.get(dataset.name)
            values['status'] = method.outcome(dataset.name)[0]
            writer.writerow([dataset.name] + [_csv_cell(method, dataset, k, values) for k in keys] + [
                method.weights,
                method.outcome(dataset.name)[1] or '', '; '.join(method.notes + (scores.notes if scores else []))
            ])
    return text.getvalue()


def summary_csv_text(result):
    """summary.csv: each method's mean rank and its rank in every (dataset, measure)."""
    ranked = [f'{d}/{m}' for d, m, _ in ranked_columns(result)]
    text = io.StringIO(newline='')
    writer = csv.writer(text)
    writer.writerow(['method', 'mean_rank', 'ranked_in'] + ranked)
    for entry in mean_ranks(result):
        mean = NOT_MEASURED if math.isnan(entry.mean_rank) else entry.mean_rank
        writer.writerow([entry.name, mean, len(entry.ranks)] + [entry.ranks.get(k, NOT_MEASURED) for k in ranked])
    return text.getvalue()


def json_text(result):
    """results.json: the settings, every method's cost, every dataset's rows (per image too), the summary."""
    data = OrderedDict(
        name=result.name,
        device=result.device,
        precision=result.precision,
        cost_size=list(result.cost_size),
        warmup=result.warmup,
        repeats=result.repeats,
        seed=result.seed,
        loe_side=result.loe_side,
        methods=[
            OrderedDict(
                name=m.name,
                arch=m.arch,
                weights=m.weights,
                status=m.status,
                error=m.error,
                notes=m.notes,
                params=m.cost.params,
                macs=m.cost.macs,
                latency_ms=m.cost.latency_ms,
                peak_memory_mb=m.cost.peak_memory_mb) for m in result.methods
        ],
        datasets=[
            OrderedDict(
                name=d.name,
                paired=d.paired,
                measures=list(d.measures),
                images=d.image_keys,
                methods=[_dataset_row(m, d) for m in result.methods]) for d in result.datasets
        ],
        summary=[OrderedDict(method=r.name, mean_rank=r.mean_rank, ranks=r.ranks) for r in mean_ranks(result)])
    return json.dumps(_finite_or_none(data), indent=2) + '\n'


def _dataset_row(method, dataset):
    scores = method.scores.get(dataset.name)
    status, error = method.outcome(dataset.name)
    return OrderedDict(
        name=method.name,
        status=status,
        error=error,
        notes=scores.notes if scores else [],
        quality=scores.quality if scores else {k: math.nan
                                               for k in dataset.measures},
        per_image=scores.per_image if scores else [])


REPORTS = OrderedDict([('results.md', markdown_text), ('results.csv', csv_text), ('summary.csv', summary_csv_text),
                       ('results.json', json_text)])


def write_reports(result, out_dir):
    """Write (or replace) the report files in ``out_dir``, each atomically; returns their paths.

    Args:
        result (BenchmarkResult): The rows finished so far (all of them at the end).
        out_dir (str): An existing folder.
    """
    paths = []
    for filename, text in REPORTS.items():
        paths.append(os.path.join(out_dir, filename))
        atomic_write_text(paths[-1], text(result))
    return paths
