"""Make tests/data/published_step_fixture.pt: one published training step per stage.

Usage::

    python benchmarks/published_step_fixture.py --published-code ~/src/R2RNet [--commit cf59012]

``--published-code`` is a checkout of github.com/JianghaiSCU/R2RNet whose ``model.py`` is run
unchanged (on the CPU its ``.cuda()`` calls are no-ops; it needs complexPyTorch, pytorch-msssim,
tensorboardX and SciPy installed). Two run-time adjustments, neither touching its arithmetic:

- width 16 instead of 64, to keep the fixture and the test small: the published ``DecomNet``
  and ``RelightNet`` build their sub-modules at those classes' default width (they do not
  pass ``channel`` on), so the default ``channel`` of every class that has one is set to 16;
- in the float64 run, its ``Variable(torch.FloatTensor(x))`` input conversion casts to float64
  (the batch's values are float32 numbers either way, as its train.py loads them), and the
  complexPyTorch functions it uses, which cast their results to ``complex64`` (``apply_complex``
  behind ``ComplexConv2d``, and ``complex_relu``), cast to ``complex128`` instead.

For each stage (Decom, Denoise, Relight), in float32 and in float64, it builds the published
``R2RNet`` (all three networks, recipe weights from tests/step_fixture.py, the recipe VGG16 file
in ``model/vgg16.weight``), runs ``R2RNet.forward`` on the fixed batch (two 96x96 crops of the
sample photos, normal light = clip(3.5 * low, 0, 1)), then what its train.py does for that
phase: ``zero_grad``, the phase loss's ``backward``, one ``Adam`` step of the phase's network
(lr 1e-4, betas (0.9, 0.999), weight decay 1e-4). Stored: every loss term, the gradients of the
phase's network and, in float64, each parameter's update (after - before), as summaries
(tests/step_fixture.py), with the weights' schema and the batch's uint8 crops. Only numbers.
"""
import argparse
import inspect
import os
import subprocess
import sys

import torch
import torch.nn.functional as F
from torch import nn

sys.path.insert(0, os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), 'tests'))
# isort: off
# yapf: disable
from published_relight_step import loading_problem, published_model_module  # noqa: E402
from reference_weights import reference_state_dict  # noqa: E402
from step_fixture import (BETAS, CHANNEL, CROPS, FIXTURE, LR, SIZE, STAGE_NETS, WEIGHT_DECAY,  # noqa: E402
                          batch_arrays, low_crops_uint8, recipe_states, summarize)
# yapf: enable
# isort: on

# Loss attributes the published R2RNet.forward sets, by phase (the first is the phase's total).
LOSS_TERMS = {
    'decom':
    ('loss_Decom', 'recon_loss_low', 'recon_loss_high', 'recon_loss_mutal_low', 'recon_loss_mutal_high', 'vgg_loss'),
    'denoise': ('loss_Denoise', 'denoise_loss', 'denoise_vgg'),
    'relight': ('loss_Relight', 'Relight_loss', 'Relight_vgg', 'fre_loss'),
}


def parse_args(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split('\n\n')[0])
    parser.add_argument('--published-code', required=True, help='checkout of JianghaiSCU/R2RNet')
    parser.add_argument('--commit', help='its commit, recorded as provenance (default: asked of git)')
    parser.add_argument('--out', default=FIXTURE)
    return parser.parse_args(argv)


def set_default_width(published, channel):
    """Make ``channel`` the default width of every network class of ``published`` that has one."""
    for cls in vars(published).values():
        if not (isinstance(cls, type) and issubclass(cls, nn.Module) and cls.__module__ == published.__name__):
            continue
        names = [n for n in inspect.signature(cls.__init__).parameters if n != 'self']
        defaults = list(cls.__init__.__defaults__ or ())
        if 'channel' in names and defaults:
            defaults[names.index('channel') - (len(names) - len(defaults))] = channel
            cls.__init__.__defaults__ = tuple(defaults)


def published_step(published, stage, states, low, high):
    """One published training step of ``stage``; returns (losses, gradients, updates, I_delta max)."""
    torch.manual_seed(0)
    net = published.R2RNet()
    for name, state in states.items():
        getattr(net, name).load_state_dict(state)
    trained = getattr(net, STAGE_NETS[stage])
    before = {k: v.detach().clone() for k, v in trained.named_parameters()}
    optimizer = torch.optim.Adam(trained.parameters(), lr=LR, betas=BETAS, weight_decay=WEIGHT_DECAY)
    net.forward(low, high)
    optimizer.zero_grad()
    getattr(net, LOSS_TERMS[stage][0]).backward()
    optimizer.step()
    losses = {name: getattr(net, name).item() for name in LOSS_TERMS[stage]}
    params = dict(trained.named_parameters())
    grads = {k: summarize(k, p.grad) for k, p in params.items()}
    updates = {k: summarize('update.' + k, (p.detach() - before[k])) for k, p in params.items()}
    return losses, grads, updates, net.output_I_delta.max().item()


def complex_relu_128(z):
    """complexPyTorch's ``complex_relu`` (ReLU of both parts), keeping complex128."""
    return F.relu(z.real).type(torch.complex128) + 1j * F.relu(z.imag).type(torch.complex128)


def commit_of(code_dir):
    try:
        return subprocess.run(['git', '-C', code_dir, 'rev-parse', 'HEAD'], capture_output=True, text=True,
                              check=True).stdout.strip()
    except (OSError, subprocess.CalledProcessError):
        return None


def main(argv=None):
    args = parse_args(argv)
    problem = loading_problem(args.published_code)
    if problem:
        sys.exit(f'error: {problem}')
    low_uint8 = low_crops_uint8()
    low, high = batch_arrays(low_uint8)
    result = {
        'provenance': {
            'code': 'github.com/JianghaiSCU/R2RNet model.py',
            'commit': args.commit or commit_of(args.published_code),
            'torch': str(torch.__version__),
            'script': 'benchmarks/published_step_fixture.py'
        },
        'channel': CHANNEL,
        'crops': CROPS,
        'size': SIZE,
        'low_uint8': low_uint8,
        'optimizer': {
            'type': 'Adam',
            'lr': LR,
            'betas': BETAS,
            'weight_decay': WEIGHT_DECAY
        },
        'stages': {
            stage: {}
            for stage in STAGE_NETS
        },
    }
    default_dtype = torch.get_default_dtype()
    with published_model_module(args.published_code) as published:
        from complexPyTorch.complexLayers import apply_complex  # what its ComplexConv2d calls
        set_default_width(published, CHANNEL)
        nets = {name: getattr(published, name)() for name in STAGE_NETS.values()}
        result['schema'] = {
            name: [[k, list(v.shape)] for k, v in net.state_dict().items()]
            for name, net in nets.items()
        }
        states = recipe_states(result['schema'])
        os.makedirs('model')
        torch.save(reference_state_dict('VGG16'), os.path.join('model', 'vgg16.weight'))
        convert, complex_defaults, relu = published.Variable, apply_complex.__defaults__, published.complex_relu
        try:
            for dtype in (torch.float32, torch.float64):
                torch.set_default_dtype(dtype)
                if dtype == torch.float64:
                    published.Variable = lambda t: t.to(torch.float64)
                    apply_complex.__defaults__ = (torch.complex128, )
                    published.complex_relu = complex_relu_128
                for stage in STAGE_NETS:
                    losses, grads, updates, i_delta_max = published_step(published, stage, states, low, high)
                    if i_delta_max <= 0:
                        sys.exit('error: the RelightNet output is all zero (dead ReLU): the gradients would be 0')
                    entry = {'losses': losses, 'grads': grads}
                    if dtype == torch.float64:
                        entry['updates'] = updates
                    result['stages'][stage][str(dtype).replace('torch.', '')] = entry
                    print(f'{stage:8} {dtype}: ' + ', '.join(f'{k} {v:.8g}' for k, v in losses.items()))
        finally:
            torch.set_default_dtype(default_dtype)
            published.Variable, apply_complex.__defaults__, published.complex_relu = convert, complex_defaults, relu
    torch.save(result, args.out)
    print(f'wrote {args.out} ({os.path.getsize(args.out) / 1e6:.2f} MB)')


if __name__ == '__main__':
    main()
