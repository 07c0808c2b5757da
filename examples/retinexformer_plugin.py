"""Benchmark plugin: Retinexformer (Cai et al., ICCV 2023) from its own arch file, loaded by path.

Retinexformer's code is itself a package named ``basicsr``, so ``from basicsr.models.archs...``
finds the real BasicSR, not Retinexformer. This plugin executes the arch file under a module
name of its own (``importlib.util.spec_from_file_location``) and registers its network in
BasicSR's ARCH_REGISTRY, unchanged. Usage::

    git clone https://github.com/caiyuanhao1998/Retinexformer
    pip install einops
    export RETINEXFORMER_ARCH=Retinexformer/basicsr/models/archs/RetinexFormer_arch.py
    python -m r2rnet_plugin.benchmark -opt my_benchmark.yml --plugin examples/retinexformer_plugin.py

with, in ``methods:`` of ``my_benchmark.yml`` (the network halves H and W twice: ``pad_to: 4``)::

    - name: Retinexformer (LOL-v1)
      network: {type: RetinexFormer, in_channels: 3, out_channels: 3, n_feat: 40, stage: 1, num_blocks: [1, 2, 2]}
      weights: Retinexformer/pretrained_weights/LOL_v1.pth
      pad_to: 4
"""
import importlib.util
import os

from basicsr.utils.registry import ARCH_REGISTRY

ARCH_FILE = os.environ.get('RETINEXFORMER_ARCH', 'Retinexformer/basicsr/models/archs/RetinexFormer_arch.py')
MODULE_NAME = 'retinexformer_arch_loaded_by_path'  # anything but basicsr.*


def load_file(path, module_name):
    """Execute the Python file ``path`` as a new module called ``module_name``; return the module."""
    if not os.path.isfile(path):
        raise ImportError(f'Retinexformer arch file not found: {path} (set RETINEXFORMER_ARCH to the '
                          'RetinexFormer_arch.py of a clone of github.com/caiyuanhao1998/Retinexformer)')
    spec = importlib.util.spec_from_file_location(module_name, path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


_retinexformer = load_file(ARCH_FILE, MODULE_NAME)


@ARCH_REGISTRY.register()
class RetinexFormer(_retinexformer.RetinexFormer):
    """Retinexformer's network as published (same parameter names, so its weights load)."""
    llie_arch = True  # listed among the LLIE archs when a network type is unknown
