"""Other LLIE archs (non-learned baselines, RetinexNet, Zero-DCE), ZeroDCELoss and LLIEModel."""
import os
import subprocess
import sys

import pytest
import torch
import yaml
from tiny_setup import REPO, write_lol_pairs, write_options

from basicsr.utils.registry import ARCH_REGISTRY, LOSS_REGISTRY, MODEL_REGISTRY
from r2rnet_plugin.archs.llie_baselines_arch import CLAHELLIE, GammaLLIE, IdentityLLIE
from r2rnet_plugin.archs.retinexnet_arch import RetinexNet
from r2rnet_plugin.archs.zero_dce_arch import ZeroDCE, apply_curves
from r2rnet_plugin.losses.zero_dce_loss import ZeroDCELoss
from r2rnet_plugin.models.llie_model import LLIEModel


def dark_image(size=(2, 3, 37, 53)):
    return torch.rand(size, generator=torch.Generator().manual_seed(1)) * 0.2


def test_archs_model_and_loss_are_registered():
    for name in ('R2RPluginIdentity', 'R2RPluginGamma', 'R2RPluginCLAHE', 'R2RPluginRetinexNet', 'R2RPluginZeroDCE'):
        assert name in ARCH_REGISTRY and ARCH_REGISTRY.get(name).llie_arch
    assert 'R2RPluginZeroDCELoss' in LOSS_REGISTRY and 'R2RPluginLLIEModel' in MODEL_REGISTRY


# ------------------------------------------------------------------------------ non-learned
def test_identity_returns_input():
    x = dark_image()
    assert IdentityLLIE()(x) is x


def test_gamma_fixed_and_auto():
    x = dark_image()
    assert torch.allclose(GammaLLIE(gamma=0.5)(x), x.sqrt(), atol=1e-6)
    flat = torch.full((2, 3, 8, 8), 0.1)
    flat[1] = 0.02
    out = GammaLLIE(target_mean=0.5)(flat)  # auto gamma: each image's mean goes to 0.5
    assert torch.allclose(out.mean(dim=(1, 2, 3)), torch.tensor([0.5, 0.5]), atol=1e-4)
    with pytest.raises(ValueError, match='gamma must be positive'):
        GammaLLIE(gamma=0)


@pytest.mark.parametrize('dtype', [torch.float32, torch.bfloat16])
def test_clahe_keeps_shape_dtype_and_raises_contrast(dtype):
    ramp = torch.linspace(0, 0.15, 64).view(1, 1, 1, 64).expand(1, 3, 48, 64).to(dtype)
    out = CLAHELLIE()(ramp)
    assert out.shape == ramp.shape and out.dtype == dtype and out.device == ramp.device
    assert 0 <= out.min() and out.max() <= 1
    assert out.float().std() > ramp.float().std()
    assert not list(CLAHELLIE().parameters())


# ------------------------------------------------------------------------------ RetinexNet
def test_retinexnet_any_size_and_components():
    net = RetinexNet(channel=8).eval()
    x = dark_image()
    with torch.no_grad():
        parts = net.components(x)
        enhanced = net(x)
    assert parts.R.shape == x.shape and parts.L.shape == (2, 1, 37, 53) and parts.I_delta.shape == (2, 1, 37, 53)
    assert 0 < parts.R.min() and parts.R.max() < 1 and 0 < parts.L.min() and parts.L.max() < 1
    assert torch.allclose(parts.enhanced, parts.R * parts.I_delta)
    assert torch.allclose(enhanced, parts.enhanced)
    assert net.decom.shallow.kernel_size == (9, 9) and len(net.decom.layers) == 5


# ------------------------------------------------------------------------------ Zero-DCE
def test_zero_dce_shapes_names_and_curves():
    net = ZeroDCE().eval()
    x = dark_image()
    with torch.no_grad():
        curves, enhanced = net.components(x)
    assert curves.shape == (2, 24, 37, 53) and curves.abs().max() <= 1
    assert enhanced.shape == x.shape
    assert {k.split('.')[0] for k in net.state_dict()} == {f'e_conv{i}' for i in range(1, 8)}
    assert sum(p.numel() for p in net.parameters()) == 79416  # the paper's 79,416


def test_zero_dce_curves_are_the_quadratic_le():
    x = torch.rand(1, 3, 5, 5)
    a = torch.rand(1, 3, 5, 5) * 2 - 1
    # the paper's LE(x) = x + a x (1 - x) is the authors' code's form with r = -a
    assert torch.allclose(apply_curves(x, -a), x + a * x * (1 - x))
    net = ZeroDCE()
    torch.nn.init.zeros_(net.e_conv7.weight)  # zero curves: the identity
    with torch.no_grad():
        assert torch.allclose(net(x), x)


def test_zero_dce_loss_terms():
    loss = ZeroDCELoss()
    low = dark_image((2, 3, 32, 32))
    well_exposed = torch.full((2, 3, 32, 32), 0.6)
    flat_curves = torch.full((2, 24, 32, 32), 0.3)
    terms = loss.terms(well_exposed, low, flat_curves)
    assert terms['exposure'] < 1e-10 and terms['color'] < 1e-5 and terms['smoothness'] == 0
    assert loss.terms(low, low, flat_curves)['spatial'] == 0
    enhanced = (low * 3).requires_grad_()
    curves = torch.rand(2, 24, 32, 32, requires_grad=True)
    total = loss(enhanced, low, curves)
    total.backward()
    assert torch.isfinite(total) and set(loss.last_terms) == {'spatial', 'exposure', 'color', 'smoothness'}
    assert torch.isfinite(enhanced.grad).all() and curves.grad.abs().sum() > 0


# ------------------------------------------------------------------------------ LLIEModel
def model_options(network, is_train=True, **train):
    return {
        'name':
        'unit',
        'num_gpu':
        0,
        'is_train':
        is_train,
        'dist':
        False,
        'rank':
        0,
        'world_size':
        1,
        'network_g':
        network,
        'path': {},
        'train':
        dict(
            {
                'optim_g': {
                    'type': 'Adam',
                    'lr': 1e-3
                },
                'scheduler': {
                    'type': 'MultiStepLR',
                    'milestones': [10],
                    'gamma': 0.5
                }
            }, **train)
    }


def test_non_learned_archs_cannot_be_trained_but_can_be_tested():
    with pytest.raises(ValueError, match='no parameters to train.*non-learned'):
        LLIEModel(model_options({'type': 'R2RPluginGamma'}, pixel_opt={'type': 'L1Loss'}))
    model = LLIEModel(model_options({'type': 'R2RPluginGamma', 'gamma': 0.5}, is_train=False))
    model.feed_data({'lq': dark_image((1, 3, 8, 8))})
    model.test()
    assert torch.allclose(model.get_current_visuals()['result'], model.lq.sqrt(), atol=1e-6)


def test_llie_model_needs_a_loss_and_names_missing_outputs():
    with pytest.raises(ValueError, match="at least one loss.*'train: pixel_opt'"):
        LLIEModel(model_options({'type': 'R2RPluginZeroDCE', 'channel': 8}))
    with pytest.raises(ValueError, match='does not know the loss option.*pixle_opt'):
        LLIEModel(model_options({'type': 'R2RPluginZeroDCE', 'channel': 8}, pixle_opt={'type': 'L1Loss'}))
    model = LLIEModel(
        model_options({
            'type': 'R2RPluginRetinexNet',
            'channel': 8
        }, nonref_opt={'type': 'R2RPluginZeroDCELoss'}))
    model.feed_data({'lq': dark_image((1, 3, 16, 16)), 'gt': torch.rand(1, 3, 16, 16)})
    with pytest.raises(ValueError, match='nonref_opt needs curves.*RetinexNet'):
        model.optimize_parameters(1)


def test_retinexnet_losses_reach_every_part():
    opt = yaml.safe_load(open(os.path.join(REPO, 'options', 'train', 'baselines', 'train_retinexnet_lol.yml')))
    losses = {k: v for k, v in opt['train'].items() if k.endswith('_opt')}
    model = LLIEModel(model_options({'type': 'R2RPluginRetinexNet', 'channel': 8}, **losses))
    model.feed_data({'lq': dark_image((2, 3, 24, 24)), 'gt': torch.rand(2, 3, 24, 24)})
    model.optimize_parameters(1)
    log = model.get_current_log()
    assert {'l_decom', 'l_reflectance', 'l_pixel', 'l_illumination', 'l_recon_low', 'l_smooth', 'l_total'} <= set(log)
    assert all(p.grad is not None for p in model.net_g.parameters())


@pytest.mark.parametrize('network, losses', [({
    'type': 'R2RPluginZeroDCE',
    'channel': 8
}, {
    'nonref_opt': {
        'type': 'R2RPluginZeroDCELoss'
    },
    'grad_clip_norm': 0.1
}),
                                             ({
                                                 'type': 'R2RPluginRetinexNet',
                                                 'channel': 8
                                             }, {
                                                 'decom_opt': {
                                                     'type': 'RetinexDecomLoss',
                                                     'perceptual_weight': 0
                                                 },
                                                 'pixel_opt': {
                                                     'type': 'L1Loss'
                                                 }
                                             })])
def test_llie_model_trains_under_bf16_autocast(network, losses):
    model = LLIEModel(model_options(network, mixed_precision='bf16', **losses))
    conv_dtypes = set()
    for module in model.net_g.modules():
        if isinstance(module, torch.nn.Conv2d):
            module.register_forward_hook(lambda module, inputs, out: conv_dtypes.add(out.dtype))
    before = {k: v.clone() for k, v in model.net_g.state_dict().items()}
    model.feed_data({'lq': dark_image((2, 3, 24, 24)), 'gt': torch.rand(2, 3, 24, 24)})
    model.optimize_parameters(1)
    assert conv_dtypes == {torch.bfloat16}
    assert all(torch.isfinite(torch.as_tensor(v)) for v in model.get_current_log().values())
    after = model.net_g.state_dict()
    assert all(after[k].dtype == torch.float32 for k in after)
    assert any(not torch.equal(after[k], before[k]) for k in after)


def shrunk_options(name, data, total_iter=2):
    """The project's option file for ``name`` shrunk to tiny data and a few CPU iterations."""
    with open(os.path.join(REPO, 'options', 'train', 'baselines', f'train_{name}_lol.yml')) as f:
        opt = yaml.safe_load(f)
    opt.update(name=f'tiny_{name}', num_gpu=0)
    for dataset in opt['datasets'].values():
        dataset['dataroot'] = data
    opt['datasets']['train'].update(gt_size=32, num_worker_per_gpu=0, batch_size_per_gpu=2)
    opt['network_g']['channel'] = 8
    opt['train']['total_iter'] = total_iter
    opt['val']['val_freq'] = total_iter
    opt['logger'].update(print_freq=1, save_checkpoint_freq=total_iter, use_tb_logger=False)
    return opt


@pytest.mark.parametrize('name, log_terms', [('retinexnet', ('l_decom', 'l_pixel', 'l_illumination')),
                                             ('zerodce', ('l_nonref', 'l_exposure', 'l_smoothness'))])
@pytest.mark.e2e
def test_option_file_trains_through_basicsr(tmp_path, name, log_terms):
    data = write_lol_pairs(tmp_path / 'data', count=3)
    path = write_options(shrunk_options(name, data), tmp_path)
    env = {k: v for k, v in os.environ.items() if k != 'R2RNET_PLUGIN_AUTOLOAD'}
    result = subprocess.run([sys.executable, '-m', 'basicsr.train', '-opt', path],
                            cwd=tmp_path,
                            env=env,
                            capture_output=True,
                            text=True,
                            timeout=600)
    output = result.stdout + result.stderr
    assert result.returncode == 0, output[-3000:]
    experiment = tmp_path / 'experiments' / f'tiny_{name}'
    assert (experiment / 'models' / 'net_g_latest.pth').is_file()
    state = torch.load(experiment / 'models' / 'net_g_latest.pth', weights_only=True)['params']
    network = {'retinexnet': RetinexNet, 'zerodce': ZeroDCE}[name](channel=8)
    network.load_state_dict(state)
    for term in log_terms:
        assert f'{term}: ' in output
    assert '# psnr: ' in output
