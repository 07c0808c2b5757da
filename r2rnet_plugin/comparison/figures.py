"""The benchmark's pictures, drawn with OpenCV (matplotlib is not a dependency of the plugin):
a scatter plot of quality (PSNR) against latency, and a sheet of the same crops from every
method beside the input and the ground truth.
"""
import math

import cv2
import numpy as np

from r2rnet_plugin.utils.atomic_files import atomic_write_bytes

FONT = cv2.FONT_HERSHEY_SIMPLEX
BLACK, GREY, LIGHT, WHITE = (0, 0, 0), (110, 110, 110), (225, 225, 225), (255, 255, 255)
PALETTE = ((180, 119, 31), (14, 127, 255), (44, 160, 44), (40, 39, 214), (189, 103, 148), (75, 86, 140),
           (194, 119, 227), (127, 127, 127), (34, 189, 188), (207, 190, 23))  # BGR


def _save_png(path, img):
    """Write ``img`` (BGR) as a PNG, replacing ``path`` in one step."""
    ok, buffer = cv2.imencode('.png', img)
    if not ok:
        raise ValueError(f'OpenCV could not encode the {img.shape[1]}x{img.shape[0]} picture {path} as PNG')
    atomic_write_bytes(path, buffer.tobytes())


def _text(img, text, org, scale=0.45, color=BLACK, thickness=1):
    cv2.putText(img, text, org, FONT, scale, color, thickness, cv2.LINE_AA)


def text_width(text, scale=0.45):
    return cv2.getTextSize(text, FONT, scale, 1)[0][0]


def wrap_text(text, width, scale=0.45):
    """``text`` in lines of at most ``width`` pixels, broken at spaces (inside a word if it must); nothing cut."""
    lines = []
    for word in text.split(' '):
        candidate = f'{lines[-1]} {word}' if lines else word
        if lines and text_width(candidate, scale) <= width:
            lines[-1] = candidate
            continue
        while text_width(word, scale) > width and len(word) > 1:
            cut = max(1, max(i for i in range(1, len(word) + 1) if text_width(word[:i], scale) <= width or i == 1))
            lines.append(word[:cut])
            word = word[cut:]
        lines.append(word)
    return lines or ['']


def figure_files(index, count):
    """File names of the plot and the crop sheet of dataset ``index`` of ``count`` (numbered when several)."""
    suffix = '' if count == 1 else f'_{index + 1}'
    return f'quality_vs_latency{suffix}.png', f'crops{suffix}.png'


def _number(value):
    """3 significant digits, without exponent notation from 1000 on."""
    return f'{value:.0f}' if value >= 1000 else f'{value:.3g}'


def nice_ticks(low, high, count=5):
    """Round tick values covering [low, high] (steps of 1, 2 or 5 times a power of ten)."""
    span = max(high - low, 1e-9)
    raw = span / count
    magnitude = 10**math.floor(math.log10(raw))
    step = next(m * magnitude for m in (1, 2, 5, 10) if m * magnitude >= raw)
    first = math.ceil(low / step) * step
    return [first + i * step for i in range(int((high - first) / step + 1e-9) + 1)]


def _padded_range(values, log=False):
    values = [math.log10(v) for v in values] if log else list(values)
    low, high = min(values), max(values)
    pad = max((high - low) * 0.12, 0.3 if log else 0.5)
    return low - pad, high + pad


def legend_entries(points, unit):
    """The legend text of every point ``(label, latency_ms, quality[, failed])``, numbered from 1.

    A failed method reads ``failed``; one without a quality or a latency says which is missing.
    """
    entries = []
    for i, point in enumerate(points, 1):
        label, latency, quality = point[:3]
        failed = len(point) > 3 and point[3]
        if failed:
            entries.append(f'{i} {label}: failed')
        elif not _plottable(latency, quality):
            entries.append(f'{i} {label}: not plotted (no {"latency" if math.isfinite(quality) else "value"})')
        else:
            entries.append(f'{i} {label}: {quality:.3g}{unit}, {_number(latency)} ms')
    return entries


def _plottable(latency, quality):
    return math.isfinite(latency) and latency > 0 and math.isfinite(quality)


LEGEND_WIDTH, LINE = 300, 17  # legend text width, line height (pixels)


def draw_quality_latency(points, path, title, size=(960, 600), metric='PSNR (dB)', unit=' dB'):
    """Scatter of ``points`` (``[(label, latency_ms, quality[, failed])]``), latency on a log axis.

    Every point is numbered on the plot and in the legend; failed methods and those without
    both values are listed in the legend, not plotted. Labels are wrapped, never cut: the
    picture grows to hold them.
    """
    entries = [wrap_text(text, LEGEND_WIDTH) for text in legend_entries(points, unit)]
    left, top, bottom = 80, 64, 60
    right = 40 + max([text_width(line, 0.45) for lines in entries for line in lines] + [160])
    title_lines = wrap_text(title, size[0] - 20, 0.55)
    top += 22 * (len(title_lines) - 1)
    legend_h = sum(LINE * len(lines) + 8 for lines in entries)
    width = max(size[0], left + 420 + right)
    height = max(size[1], top + legend_h + bottom + 20)
    img = np.full((height, width, 3), 255, np.uint8)
    for i, line in enumerate(title_lines):
        _text(img, line, (10, 26 + 22 * i), 0.55)
    x0, x1, y0, y1 = left, width - right, height - bottom, top
    cv2.rectangle(img, (x0, y1), (x1, y0), BLACK, 1)
    _text(img, 'latency (ms, log scale)', ((x0 + x1) // 2 - 80, height - 15))
    _text(img, metric, (10, top - 8))
    legend_y = top + 16
    for i, (point, lines) in enumerate(zip(points, entries)):
        color = GREY if (len(point) > 3 and point[3]) or not _plottable(*point[1:3]) else PALETTE[i % len(PALETTE)]
        filled = color is not GREY
        cv2.circle(img, (x1 + 20, legend_y - 4), 6, color, -1 if filled else 1, cv2.LINE_AA)
        for j, line in enumerate(lines):
            _text(img, line, (x1 + 32, legend_y + LINE * j))
        legend_y += LINE * len(lines) + 8
    plotted = [(i, p) for i, p in enumerate(points) if not (len(p) > 3 and p[3]) and _plottable(*p[1:3])]
    if not plotted:
        _text(img, 'no method has both a quality and a latency', (x0 + 20, (y0 + y1) // 2))
        _save_png(path, img)
        return path
    lx_low, lx_high = _padded_range([p[1] for _, p in plotted], log=True)
    q_low, q_high = _padded_range([p[2] for _, p in plotted])

    def to_px(latency, quality):
        x = x0 + (math.log10(latency) - lx_low) / (lx_high - lx_low) * (x1 - x0)
        y = y0 - (quality - q_low) / (q_high - q_low) * (y0 - y1)
        return int(round(x)), int(round(y))

    for exponent in nice_ticks(lx_low, lx_high, 6):
        x = to_px(10**exponent, q_low)[0]
        cv2.line(img, (x, y0), (x, y1), LIGHT, 1)
        _text(img, _number(10**exponent), (x - 15, y0 + 18), 0.4, GREY)
    for value in nice_ticks(q_low, q_high, 6):
        y = to_px(10**lx_low, value)[1]
        cv2.line(img, (x0, y), (x1, y), LIGHT, 1)
        _text(img, f'{value:g}', (x0 - 55, y + 4), 0.4, GREY)
    cv2.rectangle(img, (x0, y1), (x1, y0), BLACK, 1)
    for i, (label, latency, quality) in ((i, p[:3]) for i, p in plotted):
        center = to_px(latency, quality)
        cv2.circle(img, center, 6, PALETTE[i % len(PALETTE)], -1, cv2.LINE_AA)
        _text(img, str(i + 1), (center[0] + 8, center[1] - 6), 0.45, BLACK)
    _save_png(path, img)
    return path


def _tile(crop, side):
    """A crop (uint8 RGB) scaled to ``side`` x ``side`` BGR; a grey 'failed' tile for None."""
    if crop is None:
        tile = np.full((side, side, 3), 200, np.uint8)
        _text(tile, 'failed', (side // 2 - 25, side // 2))
        return tile
    interpolation = cv2.INTER_NEAREST if crop.shape[0] < side else cv2.INTER_AREA
    return cv2.resize(cv2.cvtColor(crop, cv2.COLOR_RGB2BGR), (side, side), interpolation=interpolation)


def draw_crop_sheet(sheet, path, tile=160, gap=4):
    """Rows: the sheet's images; columns: input, every method, ground truth (where there is one).

    Column and row names are wrapped, never cut; the header grows to hold them.
    """
    names = ['Low-light input'] + list(sheet.methods) + (['Ground truth'] if sheet.gts else [])
    label_w = 110
    headers = [wrap_text(name, tile) for name in names]
    header_h = 12 + LINE * max(len(lines) for lines in headers)
    labels = [wrap_text(str(key), label_w - 8) for key in sheet.keys]
    row_h = [max(tile, 20 + LINE * (len(lines) + 2)) for lines in labels]
    width = label_w + len(names) * (tile + gap)
    height = header_h + (sum(h + gap for h in row_h) if row_h else tile + gap)
    img = np.full((height, width, 3), 255, np.uint8)
    for c, lines in enumerate(headers):
        for j, line in enumerate(lines):
            _text(img, line, (label_w + c * (tile + gap), 4 + LINE * (j + 1)))
    if not sheet.keys:
        _text(img, 'no image', (10, header_h + tile // 2))
    y = header_h
    for r, lines in enumerate(labels):
        top, left, side = sheet.boxes[r]
        for j, line in enumerate(lines + [f'{side}px at', f'({left}, {top})']):
            _text(img, line, (4, y + 18 + LINE * j), 0.45 if j < len(lines) else 0.38,
                  BLACK if j < len(lines) else GREY)
        crops = [sheet.inputs[r]] + [crops[r] for crops in sheet.methods.values()] + sheet.gts[r:r + 1]
        for c, crop in enumerate(crops):
            x = label_w + c * (tile + gap)
            img[y:y + tile, x:x + tile] = _tile(crop, tile)
        y += row_h[r] + gap
    _save_png(path, img)
    return path
