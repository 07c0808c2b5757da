"""How far the fast CPU training convolutions' results are from PyTorch's convolution.

Usage::

    python benchmarks/training_conv_error.py                  # published width 64, batch 4, 96x96
    python benchmarks/training_conv_error.py --networks decom  # fewer whole-network rows

Part 1, per layer shape: every 3x3 convolution of R2RNet that the fast training path
(``train: fast_cpu_conv: true``, :mod:`r2rnet_plugin.ops.winograd_training`) takes at this
width, batch and crop size, run on random data (inputs N(0, 1), He-scaled weights, output
gradient N(0, 1)) three ways: the fast path (float32), ``F.conv2d`` (PyTorch's own, oneDNN on the
CPU, float32), and ``F.conv2d`` in float64, the truth. Each error is max |x - truth| / max |truth|
over the tensor: the output, the input gradient and the weight gradient.

Part 2, per sub-network: gradients of every parameter for the loss ``sum(output * r)`` (``r``
fixed random) on crops of the sample photos: fast path against float64, PyTorch's float32
against float64, and fast path against PyTorch's float32 (what a user switching the mode sees);
the worst tensor, by the same ratio, and the median over tensors. Some gradients are sums that
cancel (tiny against their terms): there float32 rounding alone moves them by ~1e-2.

Everything here is float32 on the CPU; the fast path needs NNPACK.
"""
import argparse
import os
import statistics

import cv2
import numpy as np
import torch
import torch.nn.functional as F

from r2rnet_plugin.archs.r2r_blocks import ComplexConv2d, Conv3x3, use_fast_cpu_training
from r2rnet_plugin.archs.r2rnet_arch import R2RNet
from r2rnet_plugin.ops.winograd_training import conv3x3_train, fast_cpu_training

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
SAMPLES = [os.path.join(REPO, 'r2rnet_plugin', 'samples', f'{n}.png') for n in (46, 490)]


def parse_args(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split('\n\n')[0])
    parser.add_argument('--channel', type=int, default=64, help='network width (default: 64, published)')
    parser.add_argument('--batch', type=int, default=4)
    parser.add_argument('--size', type=int, default=96, help='crop size (default: 96)')
    parser.add_argument(
        '--networks',
        nargs='*',
        default=['decom', 'denoise', 'relight'],
        choices=['decom', 'denoise', 'relight'],
        help='whole-network rows (default: all)')
    return parser.parse_args(argv)


def relative_error(value, truth):
    return ((value.double() - truth).abs().max() / truth.abs().max().clamp_min(1e-300)).item()


def fast_layer_shapes(net, x):
    """``{(in, out, H, W, padding_mode)}`` of the 3x3 convolutions the fast training path takes."""
    shapes = set()

    def record(module, args):
        inp = args[0]
        if isinstance(module, Conv3x3):
            weight, dilation, mode = module.weight, module.dilation[0], module.padding_mode
        elif module.padding == 1 and module.conv_r.kernel_size == (3, 3):
            weight, dilation, mode = module.fused_weight_and_bias()[0], 1, 'zeros'
        else:
            return
        if fast_cpu_training(inp, weight, dilation, mode):
            shapes.add((weight.shape[1], weight.shape[0], inp.shape[-2], inp.shape[-1], mode))

    hooks = [m.register_forward_pre_hook(record) for m in net.modules() if isinstance(m, (Conv3x3, ComplexConv2d))]
    try:
        net.relight(*reversed(net.decom(x)))  # Relight-Net gets (L, R) like the denoise stage's input
        net.denoise(*reversed(net.decom(x)))
    finally:
        for hook in hooks:
            hook.remove()
    return sorted(shapes, key=lambda s: (-s[0] * s[1] * s[2] * s[3], s))


def layer_errors(shape, batch):
    """Errors of (output, input gradient, weight gradient) for the fast path and for ``F.conv2d``."""
    c_in, c_out, h, w, mode = shape
    g = torch.Generator().manual_seed(c_in * 1000 + c_out + h)
    x = torch.randn(batch, c_in, h, w, generator=g)
    weight = torch.randn(c_out, c_in, 3, 3, generator=g) * (2 / (9 * c_in))**0.5
    bias = torch.randn(c_out, generator=g) * 0.1
    grad = torch.randn(batch, c_out, h, w, generator=g)

    def run(conv, dtype):
        xi, wi, bi = (t.to(dtype).requires_grad_() for t in (x, weight, bias))
        out = conv(xi, wi, bi)
        return (out, *torch.autograd.grad(out, (xi, wi), grad.to(dtype)))

    def pytorch(xi, wi, bi):
        return F.conv2d(
            F.pad(xi, (1, ) * 4, mode=mode) if mode != 'zeros' else xi, wi, bi, padding=1 if mode == 'zeros' else 0)

    truth = run(pytorch, torch.float64)
    fast = run(lambda *a: conv3x3_train(*a, mode), torch.float32)
    onednn = run(pytorch, torch.float32)
    return [relative_error(v, t) for v, t in zip(fast, truth)], [relative_error(v, t) for v, t in zip(onednn, truth)]


def sample_batch(batch, size):
    crops = []
    for i in range(batch):
        img = cv2.imread(SAMPLES[i % 2], cv2.IMREAD_COLOR)[:, :, ::-1].astype(np.float32) / 255
        top, left = 40 + 24 * (i // 2), 60 + 32 * (i // 2)
        crops.append(torch.from_numpy(np.ascontiguousarray(img[top:top + size, left:left + size].transpose(2, 0, 1))))
    return torch.stack(crops)


def _flat(output):
    return torch.cat(output, dim=1) if isinstance(output, tuple) else output


def network_errors(net, name, x):
    """Per-parameter gradient errors of sub-network ``name``: (fast path, PyTorch float32) vs float64."""
    with torch.no_grad():
        R, L = net.decom(x)
        inputs = {'decom': (x, ), 'denoise': (L, R), 'relight': (L, R)}[name]
    sub = getattr(net, name)
    probe = torch.randn_like(_flat(sub(*inputs)), generator=torch.Generator().manual_seed(1))

    def grads(dtype, fast):
        use_fast_cpu_training(sub, fast)
        sub.to(dtype).zero_grad()
        (_flat(sub(*(t.to(dtype) for t in inputs))) * probe.to(dtype)).sum().backward()
        use_fast_cpu_training(sub, False)
        return {k: p.grad.detach().double().clone() for k, p in sub.named_parameters()}

    truth = grads(torch.float64, False)
    fast, pytorch = grads(torch.float32, True), grads(torch.float32, False)
    rows = []
    for value, reference in ((fast, truth), (pytorch, truth), (fast, pytorch)):
        errors = {k: relative_error(value[k], reference[k]) for k in truth if reference[k].abs().max() > 0}
        worst = max(errors, key=errors.get)
        rows.append((errors[worst], worst, statistics.median(errors.values())))
    sub.float()
    return rows


def main(argv=None):
    args = parse_args(argv)
    torch.manual_seed(0)
    net = R2RNet(args.channel).train()
    x = sample_batch(args.batch, args.size)
    print(f'torch {torch.__version__}, threads {torch.get_num_threads()}, width {args.channel}, '
          f'batch {args.batch}, crops {args.size}x{args.size}; error = max|x - float64| / max|float64|')
    use_fast_cpu_training(net)
    shapes = fast_layer_shapes(net, x)
    use_fast_cpu_training(net, False)
    if not shapes:
        print('no convolution takes the fast training path here (NNPACK unusable, or the layers too small)')
    else:
        print('\nper layer shape (random data): fast path / PyTorch F.conv2d, both float32')
        print(f"{'in->out':>9} {'map':>7} {'padding':>9} {'output':>19} {'input grad':>19} {'weight grad':>19}")
        for shape in shapes:
            fast, onednn = layer_errors(shape, args.batch)
            cells = ' '.join(f'{f:8.1e} / {o:8.1e}' for f, o in zip(fast, onednn))
            print(f'{shape[0]:>4}->{shape[1]:<4} {shape[2]:>3}x{shape[3]:<3} {shape[4]:>9} {cells}')
    if args.networks:
        print('\nwhole sub-network, gradient of every parameter for sum(output * r), sample crops;')
        print('worst tensor (its name) and median over tensors:')
        print(f"{'network':<8} {'compared':<30} {'worst':>8} {'median':>8}  worst tensor")
        labels = ('fast_cpu_conv vs float64', 'PyTorch float32 vs float64', 'fast_cpu_conv vs PyTorch fp32')
        for name in args.networks:
            for label, (worst, key, median) in zip(labels, network_errors(net, name, x)):
                print(f'{name:<8} {label:<30} {worst:8.1e} {median:8.1e}  {key}')


if __name__ == '__main__':
    main()
