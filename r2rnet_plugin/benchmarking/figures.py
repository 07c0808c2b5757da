"""The benchmark's pictures, drawn with OpenCV (matplotlib is not a dependency of the plugin):
a scatter plot of quality (PSNR) against latency, and a sheet of the same crops from every
method beside the input and the ground truth.
"""
import math

import cv2
import numpy as np

from r2rnet_plugin.atomic_files import atomic_write_bytes

FONT = cv2.FONT_HERSHEY_SIMPLEX
BLACK, GREY, LIGHT, WHITE = (0, 0, 0), (110, 110, 110), (225, 225, 225), (255, 255, 255)
PALETTE = ((180, 119, 31), (14, 127, 255), (44, 160, 44), (40, 39, 214), (189, 103, 148),
           (75, 86, 140), (194, 119, 227), (127, 127, 127), (34, 189, 188), (207, 190, 23))  # BGR


def _save_png(path, img):
    """Write ``img`` (BGR) as a PNG, replacing ``path`` in one step."""
    ok, buffer = cv2.imencode('.png', img)
    if not ok:
        raise ValueError(f'OpenCV could not encode the {img.shape[1]}x{img.shape[0]} picture {path} as PNG')
    atomic_write_bytes(path, buffer.tobytes())


def _text(img, text, org, scale=0.45, color=BLACK, thickness=1):
    cv2.putText(img, text, org, FONT, scale, color, thickness, cv2.LINE_AA)


def _fit_text(text, width, scale=0.45):
    """``text`` cut (with '..') so that it fits ``width`` pixels."""
    while text and cv2.getTextSize(text, FONT, scale, 1)[0][0] > width:
        text = text[:-3] + '..' if len(text) > 3 else ''
    return text


def _number(value):
    """3 significant digits, without exponent notation from 1000 on."""
    return f'{value:.0f}' if value >= 1000 else f'{value:.3g}'


def nice_ticks(low, high, count=5):
    """Round tick values covering [low, high] (steps of 1, 2 or 5 times a power of ten)."""
    span = max(high - low, 1e-9)
    raw = span / count
    magnitude = 10 ** math.floor(math.log10(raw))
    step = next(m * magnitude for m in (1, 2, 5, 10) if m * magnitude >= raw)
    first = math.ceil(low / step) * step
    return [first + i * step for i in range(int((high - first) / step + 1e-9) + 1)]


def _padded_range(values, log=False):
    values = [math.log10(v) for v in values] if log else list(values)
    low, high = min(values), max(values)
    pad = max((high - low) * 0.12, 0.3 if log else 0.5)
    return low - pad, high + pad


def draw_quality_latency(points, path, title, size=(960, 600), metric='PSNR (dB)'):
    """Scatter of ``points`` (``[(label, latency_ms, quality)]``), latency on a log axis.

    Points with a non-finite or non-positive value are left out; with none left the plot says so.
    """
    width, height = size
    left, right, top, bottom = 80, 240, 64, 60
    img = np.full((height, width, 3), 255, np.uint8)
    _text(img, _fit_text(title, width - 20, 0.55), (10, 26), 0.55)
    points = [(lbl, lat, q) for lbl, lat, q in points if math.isfinite(lat) and lat > 0 and math.isfinite(q)]
    x0, x1, y0, y1 = left, width - right, height - bottom, top
    cv2.rectangle(img, (x0, y1), (x1, y0), BLACK, 1)
    _text(img, 'latency (ms, log scale)', ((x0 + x1) // 2 - 80, height - 15))
    _text(img, metric, (10, top - 8))
    if not points:
        _text(img, 'no method has both a quality and a latency', (x0 + 20, (y0 + y1) // 2))
        _save_png(path, img)
        return path
    lx_low, lx_high = _padded_range([p[1] for p in points], log=True)
    q_low, q_high = _padded_range([p[2] for p in points])

    def to_px(latency, quality):
        x = x0 + (math.log10(latency) - lx_low) / (lx_high - lx_low) * (x1 - x0)
        y = y0 - (quality - q_low) / (q_high - q_low) * (y0 - y1)
        return int(round(x)), int(round(y))

    for exponent in nice_ticks(lx_low, lx_high, 6):
        x = to_px(10 ** exponent, q_low)[0]
        cv2.line(img, (x, y0), (x, y1), LIGHT, 1)
        _text(img, _number(10 ** exponent), (x - 15, y0 + 18), 0.4, GREY)
    for value in nice_ticks(q_low, q_high, 6):
        y = to_px(10 ** lx_low, value)[1]
        cv2.line(img, (x0, y), (x1, y), LIGHT, 1)
        _text(img, f'{value:g}', (x0 - 55, y + 4), 0.4, GREY)
    cv2.rectangle(img, (x0, y1), (x1, y0), BLACK, 1)
    for i, (label, latency, quality) in enumerate(points):
        color = PALETTE[i % len(PALETTE)]
        center = to_px(latency, quality)
        cv2.circle(img, center, 6, color, -1, cv2.LINE_AA)
        legend_y = top + 20 + 22 * i
        cv2.circle(img, (x1 + 20, legend_y - 4), 6, color, -1, cv2.LINE_AA)
        _text(img, _fit_text(f'{label}: {quality:.2f} dB, {_number(latency)} ms', right - 40, 0.4),
              (x1 + 32, legend_y), 0.4)
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
    """Rows: the sheet's images; columns: input, every method, ground truth."""
    names = ['Low-light input'] + list(sheet.methods) + ['Ground truth']
    label_w, header_h = 110, 28
    rows = len(sheet.keys)
    width = label_w + len(names) * (tile + gap)
    height = header_h + max(rows, 1) * (tile + gap)
    img = np.full((height, width, 3), 255, np.uint8)
    for c, name in enumerate(names):
        _text(img, _fit_text(name, tile), (label_w + c * (tile + gap), header_h - 9))
    if not rows:
        _text(img, 'no image', (10, header_h + tile // 2))
    for r, key in enumerate(sheet.keys):
        y = header_h + r * (tile + gap)
        top, left, side = sheet.boxes[r]
        _text(img, _fit_text(str(key), label_w - 8), (4, y + 18))
        _text(img, f'{side}px at', (4, y + 40), 0.38, GREY)
        _text(img, f'({left}, {top})', (4, y + 58), 0.38, GREY)
        crops = [sheet.inputs[r]] + [crops[r] for crops in sheet.methods.values()] + [sheet.gts[r]]
        for c, crop in enumerate(crops):
            x = label_w + c * (tile + gap)
            img[y:y + tile, x:x + tile] = _tile(crop, tile)
    _save_png(path, img)
    return path
