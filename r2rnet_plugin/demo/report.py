"""The demo's report: PSNR/SSIM of the input and of each stage's output, and image sheets."""
import os

import cv2
import numpy as np
import torch

from basicsr.metrics import calculate_psnr, calculate_ssim
from basicsr.utils import tensor2img

# (row label, R2RComponents field or 'lq' for the input)
STAGE_ROWS = (('input (low light)', 'lq'), ('Decom-Net: R', 'R'), ('Denoise-Net: R_denoised', 'R_denoised'),
              ('Relight-Net: output', 'enhanced'))


def to_uint8(tensor):
    """``[1, C, H, W]`` in [0, 1] to an ``[H, W, 3]`` BGR uint8 image (grey maps repeated)."""
    img = tensor2img(tensor.detach().cpu().clamp(0, 1))
    return img if img.ndim == 3 else np.repeat(img[..., None], 3, axis=2)


@torch.no_grad()
def evaluate(net, dataset, device):
    """Average PSNR/SSIM (RGB, BasicSR's metrics) of every row of :data:`STAGE_ROWS` and the
    components of each image, for the report's table and sheets."""
    sums = {label: [0.0, 0.0] for label, _ in STAGE_ROWS}
    images = []
    for item in dataset:
        lq, gt = item['lq'][None].to(device), item['gt'][None]
        parts = net.components(lq)._asdict()
        parts['lq'] = lq
        gt_img = to_uint8(gt)
        for label, field in STAGE_ROWS:
            out = to_uint8(parts[field])
            sums[label][0] += calculate_psnr(out, gt_img, crop_border=0)
            sums[label][1] += calculate_ssim(out, gt_img, crop_border=0)
        images.append((item['key'], parts, gt))
    count = max(len(dataset), 1)
    return {label: (p / count, s / count) for label, (p, s) in sums.items()}, images


def sheet(parts, gt=None):
    """One row: input | R | L | output (| ground truth), with labels."""
    tiles = [('input', parts['lq']), ('R', parts['R']), ('L', parts['L']), ('output', parts['enhanced'])]
    if gt is not None:
        tiles.append(('ground truth', gt))
    row = []
    for label, tensor in tiles:
        img = np.ascontiguousarray(to_uint8(tensor))
        cv2.putText(img, label, (6, 20), cv2.FONT_HERSHEY_SIMPLEX, 0.6, (255, 255, 255), 2, cv2.LINE_AA)
        row.append(img)
    return np.concatenate(row, axis=1)


def markdown_table(metrics):
    lines = ['| output | PSNR (dB) | SSIM |', '|---|---:|---:|']
    lines += [f'| {label} | {psnr:.2f} | {ssim:.4f} |' for label, (psnr, ssim) in metrics.items()]
    return '\n'.join(lines)


def benchmark_section(benchmark, folder):
    """The benchmark's table (its results.md without the title) and plot, linked from ``folder``."""
    with open(os.path.join(benchmark, 'results.md')) as f:
        body = f.read().split('\n', 1)[1].strip()
    plot = os.path.relpath(os.path.join(benchmark, 'quality_vs_latency.png'), folder)
    crops = os.path.relpath(os.path.join(benchmark, 'crops.png'), folder)
    return [
        '## Beside other low-light enhancers (same validation pairs)', '',
        'RetinexNet and Zero-DCE trained on the same data with the same short schedules; identity, '
        'gamma and CLAHE need no training.', '', body, '', f'![PSNR against latency]({plot})', '',
        f'![crops: input, methods, ground truth]({crops})', ''
    ]


def write_report(folder, metrics, val_images, sample_images, settings, benchmark=None):
    """Write ``report.md`` and the PNG sheets into ``folder``; return the report's path.

    ``benchmark``: a folder written by ``python -m r2rnet_plugin.benchmark``, shown at the end.
    """
    os.makedirs(folder, exist_ok=True)
    lines = [
        '# R2RNet demo report', '', settings, '', '## Validation (scenes never seen in training)', '',
        markdown_table(metrics), ''
    ]
    gain = metrics['Relight-Net: output'][0] - metrics['input (low light)'][0]
    lines += [f'PSNR gain of the output over the input: {gain:+.2f} dB.', '']
    for title, images in (('Validation images', val_images), ('Real low-light photos', sample_images)):
        lines += [
            f'## {title}', '', 'input | R | L | output' + (' | ground truth' if title.startswith('V') else ''), ''
        ]
        for key, parts, gt in images:
            name = f"sheet_{os.path.splitext(str(key))[0].replace('/', '_')}.png"
            cv2.imwrite(os.path.join(folder, name), sheet(parts, gt))
            lines += [f'![{key}]({name})', '']
    if benchmark:
        lines += benchmark_section(benchmark, folder)
    path = os.path.join(folder, 'report.md')
    with open(path, 'w') as f:
        f.write('\n'.join(lines))
    return path
