"""Tiny data, weights and option files for tests that train through BasicSR (made on the fly)."""
import os

import cv2
import numpy as np
import torch
import yaml
from reference_weights import reference_state_dict

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def write_lol_pairs(root, count=4, size=(40, 48), seed=0):
    """LOL-layout pairs ``root/{low,high}/<i>.png``: smooth normal-light images and dark, noisy copies."""
    rng = np.random.default_rng(seed)
    yy, xx = np.mgrid[0:size[0], 0:size[1]] / max(size)
    for sub in ('low', 'high'):
        os.makedirs(os.path.join(root, sub), exist_ok=True)
    for i in range(count):
        phase = rng.uniform(0, 6, 3)
        high = 0.5 + 0.4 * np.sin(6 * xx[..., None] + 4 * yy[..., None] + phase)
        low = 0.2 * high + rng.normal(0, 0.01, high.shape)
        for sub, img in (('high', high), ('low', low)):
            pixels = (np.clip(img, 0, 1) * 255).round().astype(np.uint8)
            cv2.imwrite(os.path.join(root, sub, f'{i}.png'), pixels)
    return str(root)


def write_vgg_file(path):
    """A VGG16 weights file in the reference's ``vgg16.weight`` layout (recipe weights)."""
    torch.save(reference_state_dict('VGG16'), path)
    return str(path)


def write_earlier_stages(folder, seed=None, **extra):
    """Weights files of the decom and denoise sub-networks of a width-8 R2RNet (default init).

    Returns:
        tuple: ``({'pretrain_network_decom': path, 'pretrain_network_denoise': path}, net)``;
        ``extra`` entries are saved in each file beside ``params``.
    """
    from r2rnet_plugin.archs.r2rnet_arch import R2RNet
    if seed is not None:
        torch.manual_seed(seed)
    net = R2RNet(channel=8)
    paths = {}
    for name in ('decom', 'denoise'):
        paths[f'pretrain_network_{name}'] = os.path.join(str(folder), f'{name}.pth')
        torch.save({'params': getattr(net, name).state_dict(), **extra}, paths[f'pretrain_network_{name}'])
    return paths, net


def stage_options(stage, data, vgg_path, total_iter=2, channel=8, name=None, **path):
    """The project's option file for ``stage`` shrunk to tiny data and a few CPU iterations."""
    with open(os.path.join(REPO, 'options', f'train_r2r_{stage}.yml')) as f:
        opt = yaml.safe_load(f)
    opt['name'] = name or f'tiny_{stage}'
    opt['num_gpu'] = 0
    for phase, dataset in opt['datasets'].items():
        dataset.update(layout='lol', dataroot=data)
        dataset.pop('cameras', None)
    opt['datasets']['train'].update(gt_size=32, num_worker_per_gpu=0, batch_size_per_gpu=2)
    opt['network_g']['channel'] = channel
    train = opt['train']
    train['total_iter'] = total_iter
    train['mixed_precision'] = 'fp32'  # the same arithmetic on every machine (auto depends on the CPU)
    train['scheduler']['milestones'] = [max(1, total_iter // 2)]
    for key in ('decom_opt', 'perceptual_opt'):
        if key in train:
            train[key]['vgg_path'] = vgg_path
    opt['path'] = {k: v for k, v in opt['path'].items() if not k.startswith('pretrain_network_')}
    opt['path'].update(path)
    opt['val'].update(val_freq=total_iter)
    opt['logger'].update(print_freq=1, save_checkpoint_freq=total_iter)
    return opt


def write_options(opt, folder, filename=None):
    path = os.path.join(folder, filename or f"{opt['name']}.yml")
    with open(path, 'w') as f:
        yaml.safe_dump(opt, f)
    return path


def runtime_options(opt, root, is_train=True):
    """Fill in what ``basicsr.utils.options.parse_options`` adds, for building a model in-process."""
    import copy
    opt = copy.deepcopy(opt)
    opt.update(dist=False, rank=0, world_size=1, is_train=is_train, auto_resume=False)
    exp = os.path.join(str(root), 'experiments', opt['name'])
    opt['path'].update(
        experiments_root=exp,
        models=os.path.join(exp, 'models'),
        training_states=os.path.join(exp, 'training_states'),
        log=exp,
        visualization=os.path.join(exp, 'visualization'))
    for key in ('models', 'training_states'):
        os.makedirs(opt['path'][key], exist_ok=True)
    return opt
