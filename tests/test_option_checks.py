"""Bad options in the models' and losses' sections, and the non-finite loss guard."""
import logging

import pytest
import torch
from tiny_setup import runtime_options, stage_options, write_earlier_stages

from basicsr.models import build_model
from r2rnet_plugin.losses.frequency_wasserstein_loss import FrequencyWassersteinLoss
from r2rnet_plugin.losses.retinex_decom_loss import RetinexDecomLoss
from r2rnet_plugin.models.llie_model import LLIEModel
from r2rnet_plugin.models.training_guard import NonFiniteLossError
from r2rnet_plugin.utils.option_checks import OptionError, check_known_keys


def relight_options(tmp_path, **train):
    """A width-8 relight stage without the perceptual loss; earlier stages from fresh files."""
    paths, _ = write_earlier_stages(tmp_path)
    opt = stage_options('relight', str(tmp_path), str(tmp_path / 'vgg16.weight'), **paths)
    opt['train'].pop('perceptual_opt')
    opt['train'].update(train)
    return opt


def build(opt, root):
    return build_model(runtime_options(opt, root))


def test_closest_key_is_suggested():
    with pytest.raises(OptionError, match="unknown option 'train: stgae'; did you mean 'stage'\\?"):
        check_known_keys({'stgae': 'relight'}, ('stage', 'total_iter'), 'train')
    with pytest.raises(OptionError, match='known options: stage, total_iter'):
        check_known_keys({'zzz': 1}, ('stage', 'total_iter'), 'train')


@pytest.mark.parametrize('edit, message', [
    (lambda o: o['train'].update(stgae='relight'), "unknown option 'train: stgae'; did you mean 'stage'\\?"),
    (lambda o: o['train'].update(stage='relite'),
     "'train: stage' must be one of .*'relite'; did you mean 'relight'\\?"),
    (lambda o: o['train'].update(total_iters=4), "'train: total_iters'; did you mean 'total_iter'"),
    (lambda o: o['train'].update(perceptual_opt={
        'type': 'R2RPerceptualLoss',
        'vgg_pth': 'x.pth'
    }), "unknown option 'train: perceptual_opt: vgg_pth' for R2RPerceptualLoss; did you mean 'vgg_path'\\?"),
    (lambda o: o['train']['pixel_opt'].update(loss_weight=-1.0),
     "'train: pixel_opt: loss_weight' must be a finite number >= 0; got -1.0"),
    (lambda o: o['train']['pixel_opt'].update(loss_weight='1e-4'),
     "'train: pixel_opt: loss_weight' .* got '1e-4' \\(a string: YAML reads 1e-4 as text"),
    (lambda o: o['train']['pixel_opt'].update(type='L1loss'),
     "'train: pixel_opt: type': no loss called 'L1loss' is registered; did you mean 'L1Loss'"),
    (lambda o: o['train']['frequency_opt'].update(loss_weigth=0.1), "did you mean 'loss_weight'"),
    (lambda o: o['train'].update(ema_decay=0.999), "'train: ema_decay'"),
    (lambda o: o['train'].update(max_nonfinite_steps=0), "'train: max_nonfinite_steps' must be a positive integer"),
    (lambda o: o['train'].update(total_iter=10.5), "'train: total_iter' must be a positive integer"),
    (lambda o: o['train'].update(mixed_precision='bf61'),
     "'train: mixed_precision' must be one of fp32, auto, bf16, fp16; got 'bf61'; did you mean 'bf16'\\?"),
    (lambda o: o['train'].update(mixed_precision='fp16'), "'train: mixed_precision': fp16 training needs CUDA"),
    (lambda o: o['val'].update(save_imgs=True), "unknown option 'val: save_imgs'; did you mean 'save_img'"),
    (lambda o: o['val'].update(val_freq=0), "'val: val_freq' must be a positive integer"),
])
def test_r2rnet_model_option_errors(tmp_path, edit, message):
    opt = relight_options(tmp_path)
    edit(opt)
    with pytest.raises(OptionError, match=message):
        build(opt, tmp_path)


def test_known_options_pass(tmp_path):
    opt = relight_options(tmp_path, ema_decay=0, max_nonfinite_steps=3, mixed_precision='fp32')
    opt['val'].update(suffix='x', pbar=False, tb_images=1, save_components=True, output='enhanced')
    assert build(opt, tmp_path).max_nonfinite_steps == 3


def llie_options(**train):
    return {
        'name':
        'unit',
        'num_gpu':
        0,
        'is_train':
        True,
        'dist':
        False,
        'rank':
        0,
        'world_size':
        1,
        'network_g': {
            'type': 'R2RPluginZeroDCE',
            'channel': 8
        },
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
                },
                'nonref_opt': {
                    'type': 'R2RPluginZeroDCELoss'
                }
            }, **train)
    }


def test_llie_model_option_errors():
    with pytest.raises(OptionError, match="'train: grad_clip_nrom'; did you mean 'grad_clip_norm'"):
        LLIEModel(llie_options(grad_clip_nrom=0.1))
    with pytest.raises(
            OptionError,
            match="'train: nonref_opt: exposure_wieght' for R2RPluginZeroDCELoss; did you mean "
            "'exposure_weight'"):
        LLIEModel(llie_options(nonref_opt={'type': 'R2RPluginZeroDCELoss', 'exposure_wieght': 10.0}))
    with pytest.raises(OptionError, match="'train: grad_clip_norm' must be a finite number"):
        LLIEModel(llie_options(grad_clip_norm='big'))
    with pytest.raises(OptionError, match="'train: mixed_precision' must be one of"):
        LLIEModel(llie_options(mixed_precision=True))


def test_losses_check_their_weights_when_built_directly():
    with pytest.raises(OptionError, match="'FrequencyWassersteinLoss: loss_weight' must be a finite number >= 0"):
        FrequencyWassersteinLoss(loss_weight=float('nan'))
    with pytest.raises(OptionError, match="'RetinexDecomLoss: mutual_weight'"):
        RetinexDecomLoss(mutual_weight='0.1', perceptual_weight=0)


# ------------------------------------------------------------------------------ non-finite losses


def batch(nan=False):
    lq = torch.rand(1, 3, 16, 16, generator=torch.Generator().manual_seed(0))
    if nan:
        lq[0, 0, 3, 3] = float('nan')
    return {'lq': lq, 'gt': torch.rand(1, 3, 16, 16, generator=torch.Generator().manual_seed(1))}


def params(model):
    return {k: v.clone() for k, v in model.net_g.state_dict().items()}


def same(a, b):
    return all(torch.equal(a[k], b[k]) for k in a)


def check_guard(model, caplog):
    """``max_nonfinite_steps: 2``: NaN (skipped), finite (resets the count), NaN, NaN (stops)."""
    before = params(model)
    model.feed_data(batch(nan=True))
    with caplog.at_level(logging.WARNING):
        model.optimize_parameters(1)
    assert same(params(model), before) and not model.optimizer_g.state  # no optimizer step at all
    assert 'iter 1: non-finite loss' in caplog.text and 'optimizer step skipped (1 in a row' in caplog.text
    model.feed_data(batch())
    model.optimize_parameters(2)
    assert model.nonfinite_in_a_row == 0 and not same(params(model), before)
    assert model.extra_training_state() == {'nonfinite_in_a_row': 0}
    model.feed_data(batch(nan=True))
    model.optimize_parameters(3)
    assert model.extra_training_state() == {'nonfinite_in_a_row': 1}
    with pytest.raises(NonFiniteLossError, match="iter 4: .*2 iterations in a row.*'train: max_nonfinite_steps': 2"):
        model.optimize_parameters(4)


def test_r2rnet_model_skips_nonfinite_steps_then_stops(tmp_path, caplog):
    check_guard(build(relight_options(tmp_path, max_nonfinite_steps=2), tmp_path), caplog)


def test_llie_model_skips_nonfinite_steps_then_stops(caplog):
    check_guard(LLIEModel(llie_options(max_nonfinite_steps=2)), caplog)


def test_shipped_option_files_use_known_keys():
    import glob
    import os

    import yaml

    from r2rnet_plugin.data.llie_paired_dataset import BASICSR_KEYS, OPTION_KEYS
    from r2rnet_plugin.models.r2rnet_model import R2RNetModel
    from r2rnet_plugin.models.training_guard import check_model_options
    models = {'R2RNetModel': R2RNetModel, 'R2RPluginLLIEModel': LLIEModel}
    repo = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    files = sorted(glob.glob(os.path.join(repo, 'options', '**', '*.yml'), recursive=True))
    files = [f for f in files if os.sep + 'benchmark' + os.sep not in f]  # benchmark files have their own checks
    assert files
    for path in files:
        with open(path) as f:
            opt = yaml.safe_load(f)
        opt['is_train'] = 'train' in opt
        check_model_options(opt, **models[opt['model_type']].OPTION_KEYS)
        for dataset in (opt.get('datasets') or {}).values():
            if dataset.get('type') == 'LLIEPairedDataset':
                check_known_keys(dataset, OPTION_KEYS + BASICSR_KEYS, path)
