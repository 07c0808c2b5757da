"""`python -m r2rnet_plugin.demo`: R2RNet end to end on embedded data, nothing downloaded.

1. Synthesises low/normal-light pairs from photos bundled with scikit-image (train and
   validation split by photo) and packs them into LMDBs (``prepare_lmdb``'s library).
2. Trains Decom-Net, Denoise-Net and Relight-Net in turn with ``python -m basicsr.train``.
   Trains two other low-light enhancers, RetinexNet and Zero-DCE, on the same data.
3. Tests with ``python -m basicsr.test`` and enhances two real low-light photos with
   ``python -m r2rnet_plugin.enhance``.
4. Compares R2RNet with the baselines with ``python -m r2rnet_plugin.benchmark``.
5. Writes a report: PSNR/SSIM of the input and of each stage's output, image sheets, and the
   comparison table and plot.

``--seed N`` (default 0) seeds the synthesised degradations, every training run and the
benchmark; the training recipe and why it is what it is: docs/demo.md. Re-running reuses every
finished step (delete ``--out`` to start over). ``--quick`` runs the same path on a tiny
configuration in about a minute. Short schedules and a narrow network keep the full run within
about 15 minutes on two CPU cores; the perceptual loss is left out because VGG16 weights would
have to be downloaded (see options/ for the published configuration).
"""
import argparse
import glob
import os
import subprocess
import sys
import time

import torch
import yaml

import r2rnet_plugin  # noqa: F401  (registers the plugin)
from r2rnet_plugin.archs.r2r_blocks import LEAKY_SLOPE
from r2rnet_plugin.archs.r2rnet_arch import R2RNet
from r2rnet_plugin.data.image_io import decode_image
from r2rnet_plugin.demo.basicsr_runner import run_basicsr
from r2rnet_plugin.demo.data import TRAIN_PHOTOS, VAL_PHOTOS, build_demo_data
from r2rnet_plugin.demo.options import (BASELINES, baseline_options, benchmark_options, dataset_options, init_path,
                                        stage_options, test_options, weights_path)
from r2rnet_plugin.demo.report import evaluate, write_report
from r2rnet_plugin.lmdb_tool.pack import pack_pairs
from r2rnet_plugin.weights.state_dicts import read_state_dict

STAGES = ('decom', 'denoise', 'relight')
SAMPLES = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), 'samples')

# yapf: disable
FULL = dict(train_photos=TRAIN_PHOTOS, val_photos=VAL_PHOTOS, versions=(4, 2), max_side=(384, 256), channel=16,
            gt_size=64, batch=4, lr={'decom': 2e-3, 'denoise': 1e-3, 'relight': 1e-3}, he_init=('decom', 'denoise'),
            warmup={'decom': 15},
            iters={'decom': 150, 'denoise': 100, 'relight': 150, 'retinexnet': 150, 'zerodce': 150},
            baseline_channel={'retinexnet': 32, 'zerodce': 32}, cost_size=(256, 256), niqe=True)
QUICK = dict(FULL, train_photos=TRAIN_PHOTOS[:2], val_photos=VAL_PHOTOS[:1], versions=(1, 1), max_side=(96, 96),
             channel=8, gt_size=48, batch=2, warmup={'decom': 2},
             iters={'decom': 5, 'denoise': 5, 'relight': 5, 'retinexnet': 3, 'zerodce': 3},
             baseline_channel={'retinexnet': 8, 'zerodce': 8}, cost_size=(64, 64), niqe=False)
# yapf: enable
PRESETS = {'full': FULL, 'quick': QUICK}  # quick: the same path on a tiny configuration


def step(message):
    print(f'\n==> {message}', flush=True)


def prepare_data(root, preset, seed=0):
    if not os.path.isdir(os.path.join(root, 'data', 'val', 'high')):
        step('synthesising low-light pairs from scikit-image photos')
        build_demo_data(
            os.path.join(root, 'data'), preset['train_photos'], preset['val_photos'], preset['versions'],
            preset['max_side'], seed)
    for split in ('train', 'val'):
        if not os.path.isdir(os.path.join(root, 'lmdb', split, 'high.lmdb')):
            step(f'packing the {split} pairs into LMDBs')
            source = {'layout': 'lol', 'dataroot': os.path.join(root, 'data', split)}
            pack_pairs(source, os.path.join(root, 'lmdb', split), workers=1)


def train_run(run, opt, iters, run_dir, logs, weights, desc=None):
    """Train ``opt`` with ``python -m basicsr.train`` in ``run_dir`` unless ``weights`` (relative
    to it) exists; option file and log go to ``logs``. Returns the seconds spent (0: reused)."""
    if os.path.isfile(os.path.join(run_dir, weights)):
        print(f'{run}: already trained ({weights})')
        return 0.0
    step(f'training {run} with python -m basicsr.train')
    os.makedirs(logs, exist_ok=True)
    start = time.perf_counter()
    run_basicsr(
        'basicsr.train',
        opt,
        os.path.join(logs, f'train_{run}.yml'),
        os.path.join(logs, f'train_{run}.log'),
        run_dir,
        iters,
        desc=desc or run)
    return time.perf_counter() - start


# How write_initial_weights starts each sub-network's output convolution (``out_conv``): whether
# its weights are He-initialised as well, and the biases of its first output channels. Both
# outputs pass a LeakyReLU(0.01): a channel whose bias starts negative learns at a hundredth of the
# slope, and which channels start so is down to the seed. Decom-Net's three reflectance channels
# start at sigmoid(1) = 0.73 (its illumination channel is left as drawn); Denoise-Net's output, the
# reflectance itself, starts near 0.5 from PyTorch's small output weights.
OUTPUT_START = {'decom': (True, (1.0, 1.0, 1.0)), 'denoise': (False, (0.5, 0.5, 0.5))}


def write_initial_weights(run_dir, stage, preset, seed):
    """The starting weights of ``stage`` for the stages in ``preset['he_init']``, drawn from
    ``seed``: PyTorch's default initialisation, then every convolution's weights drawn anew by He's
    rule for LeakyReLU(0.01) (biases kept), and the output convolution as OUTPUT_START says.
    PyTorch's default shrinks the signal layer by layer: a freshly built Decom- or Denoise-Net
    gives the same output whatever its input, and a short schedule must first grow its weights by
    orders of magnitude, which is where runs go wrong (docs/demo.md)."""
    path = os.path.join(run_dir, init_path(stage))
    if os.path.isfile(path):
        return
    torch.manual_seed(seed)
    net = getattr(R2RNet(preset['channel']), stage)
    he_output, biases = OUTPUT_START.get(stage, (True, ()))
    for module in net.modules():
        if isinstance(module, torch.nn.Conv2d) and (he_output or module is not net.out_conv):
            torch.nn.init.kaiming_normal_(module.weight, a=LEAKY_SLOPE, nonlinearity='leaky_relu')
    with torch.no_grad():
        net.out_conv.bias[:len(biases)] = torch.tensor(biases)
    os.makedirs(os.path.dirname(path), exist_ok=True)
    torch.save({'params': net.state_dict()}, path)


def train_stages(root, preset, seed=0, run_dir=None, logs=None, train=None, desc=''):
    """R2RNet's three stages on the data under ``root``, trained in ``run_dir`` (default ``root``)
    from ``seed``; ``train``: options added to each stage's ``train:``. Returns the seconds spent."""
    run_dir = run_dir or root
    seconds = 0.0
    for stage in STAGES:
        if stage in preset.get('he_init', ()):
            write_initial_weights(run_dir, stage, preset, seed)
        opt = stage_options(stage, root, preset, seed)
        opt['train'].update(train or {})
        seconds += train_run(stage, opt, preset['iters'][stage], run_dir, logs or os.path.join(run_dir, 'logs'),
                             weights_path(stage), f'{stage} {desc}'.strip())
    return seconds


def train_runs(root, preset, seed=0):
    """R2RNet's three stages, then the two learned baselines, each skipped when already trained."""
    train_stages(root, preset, seed)
    for name in BASELINES:
        train_run(name, baseline_options(name, root, preset, seed), preset['iters'][name], root,
                  os.path.join(root, 'logs'), weights_path(name, 'g'))


def test_and_enhance(root, preset):
    logs = os.path.join(root, 'logs')
    step('testing on the validation pairs with python -m basicsr.test')
    run_basicsr('basicsr.test', test_options(root, preset), os.path.join(logs, 'test.yml'),
                os.path.join(logs, 'test.log'), root)
    step('enhancing the real low-light photos with python -m r2rnet_plugin.enhance')
    command = [
        sys.executable, '-m', 'r2rnet_plugin.enhance', '-i', SAMPLES, '-o',
        os.path.join(root, 'enhanced'), '--weights',
        os.path.join(root, weights_path('relight', 'g')), '--save-components'
    ]
    subprocess.run(command, check=True)


def run_benchmark(root, preset, seed=0):
    """``python -m r2rnet_plugin.benchmark``: R2RNet beside the baselines on the validation pairs."""
    out = os.path.join(root, 'benchmark')
    if os.path.isfile(os.path.join(out, 'crops.png')):  # written last: results.md grows row by row
        print(f'benchmark: already run ({out})')
        return out
    step('comparing R2RNet with other low-light enhancers with python -m r2rnet_plugin.benchmark')
    option_file = os.path.join(root, 'logs', 'benchmark.yml')
    with open(option_file, 'w') as f:
        yaml.safe_dump(benchmark_options(root, preset, seed), f, sort_keys=False)
    command = [sys.executable, '-m', 'r2rnet_plugin.benchmark', '-opt', option_file, '--out', out]
    subprocess.run(command, cwd=root, check=True)
    return out


def validation_set(root, preset):
    """The validation pairs under ``root`` as an ``LLIEPairedDataset``."""
    from r2rnet_plugin.data.llie_paired_dataset import LLIEPairedDataset
    return LLIEPairedDataset({'phase': 'val', **dataset_options(root, 'val', 'val', preset)})


def evaluate_trained(root, run_dir, preset, device):
    """The R2RNet that the relight stage saved under ``run_dir``, evaluated on the validation
    pairs under ``root``: ``(net, metrics, images)`` as :func:`evaluate` gives them."""
    from basicsr.archs import build_network
    net = build_network({'type': 'R2RNet', 'channel': preset['channel']})
    net.load_state_dict(read_state_dict(os.path.join(run_dir, weights_path('relight', 'g')), 'params', 'demo weights'))
    net.to(device).eval()
    return (net, *evaluate(net, validation_set(root, preset), device))


def report(root, preset, benchmark, seconds, seed=0):
    device = torch.device('cuda' if torch.cuda.is_available() else 'cpu')
    net, metrics, val_images = evaluate_trained(root, root, preset, device)
    samples = []
    for path in sorted(glob.glob(os.path.join(SAMPLES, '*.png'))):
        with open(path, 'rb') as f:
            img = torch.from_numpy(decode_image(f.read(), path).transpose(2, 0, 1).copy())[None].to(device)
        with torch.no_grad():
            parts = net.components(img)._asdict()
        parts['lq'] = img
        samples.append((os.path.basename(path), parts, None))
    settings = (f"R2RNet width {preset['channel']}, {preset['batch']}x{preset['gt_size']}px crops, iterations "
                f"{', '.join(f'{s} {n}' for s, n in preset['iters'].items())}; no perceptual loss (no VGG16 "
                f"weights offline); seed {seed}. Wall time {seconds / 60:.1f} min on {device.type}.")
    return write_report(os.path.join(root, 'report'), metrics, val_images, samples, settings, benchmark), metrics


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split('\n\n')[0])
    parser.add_argument('--quick', action='store_true', help='tiny configuration (about a minute)')
    parser.add_argument('--out', default=None, help='working folder (default: demo_output or demo_quick)')
    parser.add_argument(
        '--seed',
        type=int,
        default=0,
        help='seeds the synthesised data and every training run (manual_seed); default 0')
    args = parser.parse_args(argv)
    preset = PRESETS['quick' if args.quick else 'full']
    root = os.path.abspath(args.out or ('demo_quick' if args.quick else 'demo_output'))
    os.makedirs(root, exist_ok=True)
    start = time.time()
    prepare_data(root, preset, args.seed)
    train_runs(root, preset, args.seed)
    test_and_enhance(root, preset)
    benchmark = run_benchmark(root, preset, args.seed)
    path, metrics = report(root, preset, benchmark, time.time() - start, args.seed)
    step('done')
    for label, (psnr, ssim) in metrics.items():
        print(f'  {label:<26} PSNR {psnr:6.2f} dB   SSIM {ssim:.4f}')
    print(f'report: {path}')
    return 0


if __name__ == '__main__':
    sys.exit(main())
