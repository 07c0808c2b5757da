"""R2RNetModel: staged training through BasicSR's own entry points, on tiny data made here."""
import logging
import os
import subprocess
import sys

import pytest
import torch
from tiny_setup import runtime_options, stage_options, write_lol_pairs, write_options, write_vgg_file

from basicsr.models import build_model
from r2rnet_plugin.models import mixed_precision

DECOM = 'experiments/tiny_decom/models/net_decom_latest.pth'
DENOISE = 'experiments/tiny_denoise/models/net_denoise_latest.pth'

pytestmark = pytest.mark.slow  # trains networks in-process for minutes


@pytest.fixture(scope='module')
def tiny(tmp_path_factory):
    root = tmp_path_factory.mktemp('tiny')
    return {'root': root, 'data': write_lol_pairs(root / 'data'), 'vgg': write_vgg_file(root / 'vgg16.weight')}


def run_basicsr(module, option_file, cwd, *args):
    env = {k: v for k, v in os.environ.items() if k != 'R2RNET_PLUGIN_AUTOLOAD'}
    result = subprocess.run([sys.executable, '-m', module, '-opt', option_file, *args],
                            cwd=cwd,
                            env=env,
                            capture_output=True,
                            text=True,
                            timeout=600)
    assert result.returncode == 0, result.stdout[-4000:] + result.stderr[-4000:]
    return result.stdout + result.stderr


def load_params(path):
    return torch.load(path, map_location='cpu', weights_only=True)['params']


@pytest.fixture(scope='module')
def chained(tiny):
    """decom -> denoise -> relight, 2 iterations each, through ``python -m basicsr.train``."""
    work = tiny['root'] / 'work'
    work.mkdir()
    stages = [('decom', {}), ('denoise', {
        'pretrain_network_decom': DECOM
    }), ('relight', {
        'pretrain_network_decom': DECOM,
        'pretrain_network_denoise': DENOISE
    })]
    logs = {}
    for stage, paths in stages:
        option_file = write_options(stage_options(stage, tiny['data'], tiny['vgg'], **paths), work)
        logs[stage] = run_basicsr('basicsr.train', option_file, work)
    return work, logs


@pytest.mark.e2e
def test_each_stage_saves_what_the_next_one_loads(chained):
    work, logs = chained
    models = work / 'experiments'
    assert sorted(os.listdir(models / 'tiny_decom' / 'models')) == ['net_decom_2.pth', 'net_decom_latest.pth']
    assert sorted(os.listdir(models / 'tiny_denoise' / 'models')) == ['net_denoise_2.pth', 'net_denoise_latest.pth']
    assert sorted(os.listdir(models / 'tiny_relight' / 'models')) == [
        'net_g_2.pth', 'net_g_latest.pth', 'net_relight_2.pth', 'net_relight_latest.pth'
    ]
    assert f'Loading R2RDecomNet model from {DECOM}' in logs['denoise']
    assert f'Loading R2RDenoiseNet model from {DENOISE}' in logs['relight']
    for stage in ('decom', 'denoise', 'relight'):
        assert (models / f'tiny_{stage}' / 'training_states' / '2.state').is_file()
        assert list((work / 'tb_logger' / f'tiny_{stage}').iterdir())
    assert list((models / 'tiny_relight' / 'visualization').rglob('*_2_I_delta.png'))


@pytest.mark.e2e
def test_frozen_networks_are_saved_unchanged(chained):
    work, _ = chained
    whole = load_params(work / 'experiments' / 'tiny_relight' / 'models' / 'net_g_latest.pth')
    for name, path in (('decom', DECOM), ('denoise', DENOISE)):
        earlier = load_params(work / path)
        for key, value in earlier.items():
            assert torch.equal(whole[f'{name}.{key}'], value), key
    relight = load_params(work / 'experiments' / 'tiny_relight' / 'models' / 'net_relight_latest.pth')
    assert all(torch.equal(whole[f'relight.{k}'], v) for k, v in relight.items())


@pytest.mark.e2e
def test_basicsr_test_writes_metrics_and_images(chained, tiny):
    work, _ = chained
    opt = stage_options('relight', tiny['data'], tiny['vgg'])
    test_opt = {
        'name': 'tiny_test',
        'model_type': 'R2RNetModel',
        'num_gpu': 0,
        'datasets': {
            'test_1': dict(opt['datasets']['val'], name='tiny_lol')
        },
        'network_g': opt['network_g'],
        'path': {
            'pretrain_network_g': 'experiments/tiny_relight/models/net_g_latest.pth'
        },
        'val': dict(opt['val'], suffix='r2r', save_components=True)
    }
    log = run_basicsr('basicsr.test', write_options(test_opt, work), work)
    assert '# psnr:' in log and '# ssim:' in log
    folder = work / 'results' / 'tiny_test' / 'visualization' / 'tiny_lol'
    assert len(list(folder.glob('*_r2r.png'))) == 4
    assert len(list(folder.glob('*_r2r_I_delta.png'))) == 4
    assert list((work / 'results' / 'tiny_test').glob('test_tiny_test_*.log'))


@pytest.mark.e2e
def test_auto_resume_continues_from_the_saved_iteration(chained, tiny):
    work, _ = chained
    paths = {'pretrain_network_decom': DECOM, 'pretrain_network_denoise': DENOISE}
    opt = stage_options('relight', tiny['data'], tiny['vgg'], total_iter=4, name='tiny_resume', **paths)
    opt['logger']['save_checkpoint_freq'] = 2
    first = dict(opt, train=dict(opt['train'], total_iter=2))
    run_basicsr('basicsr.train', write_options(first, work, 'resume.yml'), work)
    log = run_basicsr('basicsr.train', write_options(opt, work, 'resume.yml'), work, '--auto_resume')
    assert 'Resuming training from epoch: ' in log and 'iter: 2.' in log
    assert 'iter:       3,' in log and 'iter:       1,' not in log
    assert (work / 'experiments' / 'tiny_resume' / 'models' / 'net_relight_4.pth').is_file()
    assert not list((work / 'experiments').glob('tiny_resume_archived_*'))


@pytest.mark.e2e
def test_python_m_r2rnet_plugin_train(tiny, tmp_path):
    option_file = write_options(stage_options('decom', tiny['data'], tiny['vgg'], total_iter=1), tmp_path)
    run_basicsr('r2rnet_plugin.train', option_file, tmp_path)
    assert (tmp_path / 'experiments' / 'tiny_decom' / 'models' / 'net_decom_latest.pth').is_file()


# ------------------------------------------------------------------------------------ in-process


def build(tiny, stage, lr=None, **paths):
    opt = stage_options(stage, tiny['data'], tiny['vgg'], **paths)
    if lr is not None:
        opt['train']['optim_g']['lr'] = lr
    return build_model(runtime_options(opt, tiny['root']))


@pytest.fixture(scope='module')
def pretrained(tiny):
    """Weights files for the earlier stages (a narrow R2RNet, saved per sub-network)."""
    from r2rnet_plugin.archs.r2rnet_arch import R2RNet
    torch.manual_seed(1)
    net = R2RNet(channel=8)
    # Narrow networks with PyTorch's default init give near-constant R, L and R_denoised, which
    # would leave Relight-Net nothing to learn from: He-initialise the earlier stages instead.
    for sub in (net.decom, net.denoise):
        for module in sub.modules():
            if isinstance(module, (torch.nn.Conv2d, torch.nn.ConvTranspose2d)):
                torch.nn.init.kaiming_normal_(module.weight, a=0.01, nonlinearity='leaky_relu')
                torch.nn.init.zeros_(module.bias)
    torch.nn.init.constant_(net.denoise.out_conv.bias, 0.5)  # a live, mid-grey R_denoised
    files = {}
    for name in ('decom', 'denoise', 'relight'):
        files[f'pretrain_network_{name}'] = str(tiny['root'] / f'{name}.pth')
        torch.save({'params': getattr(net, name).state_dict()}, files[f'pretrain_network_{name}'])
    return files


def fixed_batch(tiny):
    from r2rnet_plugin.data.llie_paired_dataset import LLIEPairedDataset
    dataset = LLIEPairedDataset({
        'phase': 'train',
        'layout': 'lol',
        'dataroot': tiny['data'],
        'gt_size': 32,
        'io_backend': {
            'type': 'disk'
        }
    })
    items = [dataset[i] for i in range(2)]
    return {key: torch.stack([it[key] for it in items]) for key in ('lq', 'gt')}


STAGE_PATHS = {
    'decom': (),
    'denoise': ('decom', ),
    'relight': ('decom', 'denoise'),
    'joint': ('decom', 'denoise', 'relight')
}


# Decom-Net ends in LeakyReLU then sigmoid (as published), so pushing R or L below 0.5 needs
# large weights: its stage needs a larger learning rate to move within a few steps.
@pytest.mark.parametrize('stage, lr, steps, precision', [('decom', 1e-2, 60, 'fp32'), ('denoise', 1e-3, 40, 'fp32'),
                                                         ('relight', 1e-3, 40, 'fp32'), ('joint', 1e-3, 40, 'fp32'),
                                                         ('relight', 1e-3, 40, 'bf16'), ('decom', 1e-2, 60, 'bf16')])
def test_overfitting_one_batch_lowers_the_loss_and_leaves_frozen_networks_alone(tiny, pretrained, stage, lr, steps,
                                                                                precision):
    paths = {f'pretrain_network_{n}': pretrained[f'pretrain_network_{n}'] for n in STAGE_PATHS[stage]}
    torch.manual_seed(0)
    opt = stage_options('relight' if stage == 'joint' else stage, tiny['data'], tiny['vgg'], **paths)
    opt['train'].update(stage=stage, mixed_precision=precision)
    opt['train']['optim_g']['lr'] = lr
    model = build_model(runtime_options(opt, tiny['root']))
    frozen = {
        n: {
            k: v.clone()
            for k, v in getattr(model.net_g, n).state_dict().items()
        }
        for n in ('decom', 'denoise', 'relight') if n not in model.stage.trained
    }
    batch = fixed_batch(tiny)
    losses = []
    for it in range(1, steps + 1):
        model.feed_data(batch)
        model.optimize_parameters(it)
        losses.append(model.get_current_log()['l_total'])
    assert losses[-1] < 0.9 * losses[0], losses
    for name, state in frozen.items():
        sub = getattr(model.net_g, name)
        assert not sub.training
        assert all(torch.equal(sub.state_dict()[k], v) for k, v in state.items()), name
        assert all(not p.requires_grad for p in sub.parameters())


def relight_model(tiny, pretrained, precision, num_gpu=0):
    paths = {f'pretrain_network_{n}': pretrained[f'pretrain_network_{n}'] for n in STAGE_PATHS['relight']}
    opt = stage_options('relight', tiny['data'], tiny['vgg'], **paths)
    opt['train']['mixed_precision'] = precision
    opt['num_gpu'] = num_gpu
    torch.manual_seed(0)  # the same Relight-Net initialisation for every precision
    return build_model(runtime_options(opt, tiny['root']))


def test_mixed_precision_trains_in_bf16_and_validates_in_fp32(tiny, pretrained):
    models = {precision: relight_model(tiny, pretrained, precision) for precision in ('fp32', 'bf16')}
    conv_dtypes, phase = {'optimize_parameters': set(), 'test': set()}, ['optimize_parameters']
    model = models['bf16']
    for module in model.net_g.modules():
        if isinstance(module, torch.nn.Conv2d):
            module.register_forward_hook(lambda module, inputs, out: conv_dtypes[phase[0]].add(out.dtype))
    batch = fixed_batch(tiny)
    first_losses = {}
    for precision, each in models.items():
        each.feed_data(batch)
        each.optimize_parameters(1)
        first_losses[precision] = each.get_current_log()['l_total']
    assert conv_dtypes['optimize_parameters'] == {torch.bfloat16}  # frozen and trained networks alike
    # Same weights, same batch: the loss agrees to bfloat16's precision, and is not the float32 one.
    assert first_losses['bf16'] != first_losses['fp32']
    assert abs(first_losses['bf16'] - first_losses['fp32']) < 0.02 * first_losses['fp32']
    assert all(p.dtype == torch.float32 for p in model.net_g.parameters())
    assert all(p.grad.dtype == torch.float32 for p in model.net_g.relight.parameters())
    phase[0] = 'test'
    model.test()
    assert conv_dtypes['test'] == {torch.float32}
    assert model.get_current_visuals()['result'].dtype == torch.float32


@pytest.mark.parametrize('native', [True, False])
def test_auto_precision_trains_in_bf16_only_on_a_cpu_with_native_bf16(tiny, pretrained, monkeypatch, native):
    monkeypatch.setattr(mixed_precision, 'cpu_supports_bf16', lambda: native)
    records, logger = [], logging.getLogger('basicsr')  # BasicSR's logger does not propagate
    handler = logging.Handler(logging.INFO)
    handler.emit = records.append
    level = logger.level
    logger.addHandler(handler)
    logger.setLevel(logging.INFO)
    try:
        model = relight_model(tiny, pretrained, 'auto')
    finally:
        logger.removeHandler(handler)
        logger.setLevel(level)
    assert model.autocast_dtype is (torch.bfloat16 if native else None)
    said = [r.getMessage() for r in records if r.getMessage().startswith('Training precision')]
    assert said == [f"Training precision: {'bf16' if native else 'float32'} (train: mixed_precision: auto, on cpu)"]


@pytest.mark.skipif(not torch.cuda.is_available(), reason='needs CUDA')
def test_fp16_training_scales_the_loss_and_keeps_the_scale_in_the_training_state(tiny, pretrained):
    model = relight_model(tiny, pretrained, 'fp16', num_gpu=1)
    batch = fixed_batch(tiny)
    for it in (1, 2, 3):
        model.feed_data(batch)
        model.optimize_parameters(it)
    assert torch.isfinite(torch.tensor(model.get_current_log()['l_total']))
    state = model.extra_training_state()
    scale = state['grad_scaler']['scale']
    assert scale > 0 and state['nonfinite_in_a_row'] == 0
    resumed = relight_model(tiny, pretrained, 'fp16', num_gpu=1)
    resumed.load_extra_training_state(state)
    assert resumed.grad_scaler.get_scale() == scale
    assert 'grad_scaler' not in relight_model(tiny, pretrained, 'bf16', num_gpu=1).extra_training_state()


def test_missing_earlier_stage_stops_at_start_up(tiny, pretrained):
    with pytest.raises(ValueError, match=r"'path: pretrain_network_denoise'"):
        build(tiny, 'relight', pretrain_network_decom=pretrained['pretrain_network_decom'])
    with pytest.raises(FileNotFoundError, match='pretrain_network_decom'):
        build(tiny, 'denoise', pretrain_network_decom=str(tiny['root'] / 'nope.pth'))


def test_unknown_stage_is_named(tiny):
    opt = stage_options('decom', tiny['data'], tiny['vgg'])
    opt['train']['stage'] = 'relite'
    with pytest.raises(ValueError, match="'train: stage'.*relite"):
        build_model(runtime_options(opt, tiny['root']))


def test_stage_losses_equal_the_reference(tiny, reference_states, fixture):
    """Published-width model with the fixture's weights: each stage's loss terms match."""
    from r2rnet_plugin.weights.official import convert_official
    weights = tiny['root'] / 'reference_r2rnet.pth'
    torch.save({'params': convert_official(*reference_states)}, weights)
    expected = fixture['losses']
    checks = {
        'decom': {
            'l_decom': 'decom_total'
        },
        'denoise': {
            'l_pix': 'denoise_l1',
            'l_total': 'denoise_total'
        },
        'relight': {
            'l_pix': 'relight_l1',
            'l_freq': 'relight_frequency',
            'l_total': 'relight_total'
        }
    }
    for stage, names in checks.items():
        opt = stage_options(stage, tiny['data'], tiny['vgg'], pretrain_network_g=str(weights))
        opt['network_g']['channel'] = 64
        opt['train']['optim_g']['lr'] = 0.0
        model = build_model(runtime_options(opt, tiny['root']))
        model.feed_data({'lq': fixture['input_low'], 'gt': fixture['input_high']})
        model.optimize_parameters(1)
        log = model.get_current_log()
        for ours, theirs in names.items():
            scale = {'l_freq': 0.01}.get(ours, 1.0)
            assert log[ours] == pytest.approx(scale * expected[theirs], rel=1e-4), (stage, ours)
