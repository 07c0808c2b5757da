"""BasicSR option dicts of the demo's runs: R2RNet's three stages, its test, and the baselines."""
import os

METRICS = {'psnr': {'type': 'calculate_psnr', 'crop_border': 0}, 'ssim': {'type': 'calculate_ssim', 'crop_border': 0}}
STAGE_LOSSES = {
    'decom': {
        'decom_opt': {
            'type': 'RetinexDecomLoss',
            'perceptual_weight': 0.0,
            'smooth_weight': 0.1
        }
    },
    'denoise': {
        'pixel_opt': {
            'type': 'L1Loss',
            'loss_weight': 1.0
        }
    },
    'relight': {
        'pixel_opt': {
            'type': 'L1Loss',
            'loss_weight': 1.0
        },
        'frequency_opt': {
            'type': 'FrequencyWassersteinLoss',
            'loss_weight': 0.01
        }
    },
}
# The baselines' losses are those of options/train/baselines/train_{retinexnet,zerodce}_lol.yml.
BASELINES = {
    'retinexnet':
    dict(
        network={
            'type': 'R2RPluginRetinexNet',
            'num_layers': 5
        },
        lr=1e-3,
        train={
            'decom_opt': {
                'type': 'RetinexDecomLoss',
                'loss_weight': 1.0,
                'recon_weight': 1.0,
                'mutual_weight': 0.001,
                'perceptual_weight': 0,
                'smooth_weight': 0.1
            },
            'reflectance_opt': {
                'type': 'L1Loss',
                'loss_weight': 0.01
            },
            'pixel_opt': {
                'type': 'L1Loss',
                'loss_weight': 1.0
            },
            'illumination_opt': {
                'type': 'IlluminationSmoothnessLoss',
                'loss_weight': 3.0
            }
        }),
    'zerodce':
    dict(
        network={
            'type': 'R2RPluginZeroDCE',
            'iterations': 8
        },
        lr=1e-3,
        train={
            'grad_clip_norm': 0.1,
            'nonref_opt': {
                'type': 'R2RPluginZeroDCELoss',
                'loss_weight': 1.0,
                'spatial_weight': 1.0,
                'exposure_weight': 10.0,
                'color_weight': 5.0,
                'smoothness_weight': 200.0,
                'exposure_level': 0.6,
                'exposure_patch': 16,
                'spatial_region': 4
            }
        }),
}


def dataset_options(root, split, phase, preset):
    """``LLIEPairedDataset`` options of the demo's LMDBs (``split``: train or val)."""
    opt = {
        'name': f'demo_{split}',
        'type': 'LLIEPairedDataset',
        'layout': 'lol',
        'dataroot': os.path.join(root, 'lmdb', split),
        'io_backend': {
            'type': 'lmdb'
        }
    }
    if phase == 'train':
        opt.update(
            gt_size=preset['gt_size'],
            use_flip=True,
            use_rot=True,
            num_worker_per_gpu=0,
            batch_size_per_gpu=preset['batch'],
            dataset_enlarge_ratio=1,
            prefetch_mode=None)
    return opt


def weights_path(run, name=None):
    """Where the demo's training run ``run`` saves ``net_<name>`` (relative to the demo folder)."""
    return os.path.join('experiments', f'demo_{run}', 'models', f'net_{name or run}_latest.pth')


def init_path(run):
    """Where the demo writes the initial weights of ``run`` (relative to the run's folder)."""
    return os.path.join('experiments', 'demo_init', f'net_{run}_init.pth')


def training_options(run, model_type, network, root, preset, iters, lr, train, path=None, seed=0):
    """A short BasicSR training run on the demo LMDBs, validated once at its end (``seed``: its
    ``manual_seed``, which seeds the initialisation and the crops)."""
    return {
        'name': f'demo_{run}',
        'model_type': model_type,
        'num_gpu': 'auto',
        'manual_seed': seed,
        'datasets': {
            'train': dataset_options(root, 'train', 'train', preset),
            'val': dataset_options(root, 'val', 'val', preset)
        },
        'network_g': network,
        'path': {
            'strict_load_g': True,
            'resume_state': None,
            **(path or {})
        },
        'train': {
            'total_iter': iters,
            'warmup_iter': preset.get('warmup', {}).get(run, -1),
            'optim_g': {
                'type': 'Adam',
                'lr': lr,
                'weight_decay': 1e-4,
                'betas': [0.9, 0.999]
            },
            'scheduler': {
                'type': 'MultiStepLR',
                'milestones': [int(iters * 0.8)],
                'gamma': 0.1
            },
            **train
        },
        'val': {
            'val_freq': iters,
            'save_img': True,
            'pbar': False,
            'metrics': METRICS
        },
        'logger': {
            'print_freq': 1,
            'save_checkpoint_freq': iters,
            'use_tb_logger': True
        },
    }


def stage_options(stage, root, preset, seed=0):
    """One of R2RNet's three training stages (the published recipe, shortened)."""
    earlier = {'denoise': ('decom', ), 'relight': ('decom', 'denoise')}.get(stage, ())
    path = {f'pretrain_network_{n}': weights_path(n) for n in earlier}
    if stage in preset.get('he_init', ()):
        path[f'pretrain_network_{stage}'] = init_path(stage)  # written by demo.write_initial_weights
    return training_options(
        stage,
        'R2RNetModel', {
            'type': 'R2RNet',
            'channel': preset['channel']
        },
        root,
        preset,
        preset['iters'][stage],
        preset['lr'][stage], {
            'stage': stage,
            **STAGE_LOSSES[stage]
        },
        path=path,
        seed=seed)


def baseline_network(name, preset):
    """``network_g`` of the baseline ``name`` (in BASELINES) at the preset's width."""
    return {**BASELINES[name]['network'], 'channel': preset['baseline_channel'][name]}


def baseline_options(name, root, preset, seed=0):
    """RetinexNet or Zero-DCE (``name`` in BASELINES) trained with the plugin's LLIEModel."""
    spec = BASELINES[name]
    return training_options(
        name,
        'R2RPluginLLIEModel',
        baseline_network(name, preset),
        root,
        preset,
        preset['iters'][name],
        spec['lr'],
        dict(spec['train']),
        seed=seed)


def test_options(root, preset):
    """``basicsr.test`` of the trained R2RNet on the validation pairs, components saved."""
    return {
        'name': 'demo_test',
        'model_type': 'R2RNetModel',
        'num_gpu': 'auto',
        'datasets': {
            'test_1': dataset_options(root, 'val', 'test', preset)
        },
        'network_g': {
            'type': 'R2RNet',
            'channel': preset['channel']
        },
        'path': {
            'pretrain_network_g': weights_path('relight', 'g'),
            'strict_load_g': True
        },
        'val': {
            'save_img': True,
            'suffix': 'r2rnet',
            'save_components': True,
            'pbar': False,
            'metrics': METRICS
        }
    }


def benchmark_options(root, preset, seed=0):
    """The benchmark of R2RNet beside the baselines, all trained on the demo data."""
    return {
        'name':
        'demo',
        'dataset':
        dataset_options(root, 'val', 'test', preset),
        'seed':
        seed,
        'device':
        'auto',
        'precision':
        'fp32',
        'cost_size':
        list(preset['cost_size']),
        'warmup':
        1,
        'repeats':
        3,
        'metrics': {
            'crop_border': 0,
            'niqe': preset['niqe']
        },
        'sheet': {
            'images': 2,
            'crop': preset['gt_size']
        },
        'methods': [
            {
                'name': 'Identity (no enhancement)',
                'network': {
                    'type': 'R2RPluginIdentity'
                },
                'weights': None
            },
            {
                'name': 'Gamma (auto)',
                'network': {
                    'type': 'R2RPluginGamma',
                    'target_mean': 0.5
                },
                'weights': None
            },
            {
                'name': 'CLAHE',
                'network': {
                    'type': 'R2RPluginCLAHE',
                    'clip_limit': 2.0,
                    'tile_grid': 8
                },
                'weights': None
            },
            {
                'name': 'RetinexNet',
                'network': baseline_network('retinexnet', preset),
                'weights': os.path.join(root, weights_path('retinexnet', 'g'))
            },
            {
                'name': 'Zero-DCE',
                'network': baseline_network('zerodce', preset),
                'weights': os.path.join(root, weights_path('zerodce', 'g'))
            },
            {
                'name': 'R2RNet',
                'network': {
                    'type': 'R2RNet',
                    'channel': preset['channel']
                },
                'weights': os.path.join(root, weights_path('relight', 'g'))
            },
        ],
    }
