"""The published R2RNet code's own Relight training step, run from a local checkout.

``train_step_speed.py --published-code DIR`` times it beside ours. The checkout's ``model.py``
is imported unchanged. It only runs on CUDA: to time it on the CPU its ``.cuda()`` calls are
made no-ops in the (separate) process that runs it. It runs in a scratch directory, where it
writes its tensorboard folder and reads ``model/vgg16.weight`` (random weights here: the speed
does not depend on them). One step is its train.py's Relight iteration: ``R2RNet.forward`` (all
three networks, every loss of every phase), ``loss_Relight.backward()``, then an Adam step of
RelightNet with the published settings (lr 1e-4, betas (0.9, 0.999), weight decay 1e-4).
"""
import ast
import contextlib
import importlib.util
import os
import sys
import tempfile

import torch
from torch import nn


def loading_problem(code_dir):
    """What stops ``code_dir/model.py`` from loading here (no such file, or top-level imports
    that are not installed), as a message; None when it should load."""
    path = os.path.join(code_dir, 'model.py')
    if not os.path.isfile(path):
        return f'no model.py in {code_dir} (a checkout of JianghaiSCU/R2RNet is expected)'

    with open(path, encoding='utf-8') as f:
        tree = ast.parse(f.read(), path)
    modules = set()
    for node in tree.body:
        if isinstance(node, ast.Import):
            modules.update(alias.name.split('.')[0] for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            modules.add(node.module.split('.')[0])
    absent = sorted(
        m for m in modules
        if not os.path.exists(os.path.join(code_dir, m + '.py')) and importlib.util.find_spec(m) is None)
    if absent:
        return (f"{path} imports {', '.join(absent)}, not installed here: install "
                f"{'it' if len(absent) == 1 else 'them'} into this environment to time the published code")
    return None


@contextlib.contextmanager
def cuda_calls_as_noops():
    """``Tensor.cuda()`` and ``Module.cuda()`` return their object unchanged (the code stays on the CPU)."""
    saved = torch.Tensor.cuda, nn.Module.cuda
    torch.Tensor.cuda = lambda self, *args, **kwargs: self
    nn.Module.cuda = lambda self, *args, **kwargs: self
    try:
        yield
    finally:
        torch.Tensor.cuda, nn.Module.cuda = saved


@contextlib.contextmanager
def published_model_module(code_dir, device='cpu'):
    """Yields the checkout's ``model.py`` imported as a module, inside a scratch working directory
    (where it writes its tensorboard folder); on the CPU its ``.cuda()`` calls are no-ops."""
    code_dir = os.path.abspath(code_dir)
    previous_dir = os.getcwd()
    on_cpu = cuda_calls_as_noops() if device == 'cpu' else contextlib.nullcontext()
    with tempfile.TemporaryDirectory() as scratch, on_cpu:
        os.chdir(scratch)
        sys.path.insert(0, code_dir)  # model.py may import its sibling files
        try:
            spec = importlib.util.spec_from_file_location('r2rnet_published_model', os.path.join(code_dir, 'model.py'))
            published = importlib.util.module_from_spec(spec)
            spec.loader.exec_module(published)
            yield published
            writer = getattr(published, 'writer', None)  # the tensorboard writer it opens at import
            if hasattr(writer, 'close'):
                writer.close()
        finally:
            sys.path.remove(code_dir)
            os.chdir(previous_dir)


@contextlib.contextmanager
def published_relight_step(code_dir, low, high, device='cpu'):
    """Yields a callable doing one published Relight step on the NumPy batches ``low``, ``high``
    (``[B, 3, H, W]`` float32 in [0, 1]) on ``device`` ('cpu' or 'cuda'), inside a scratch
    working directory."""
    with published_model_module(code_dir, device) as published:
        os.makedirs('model')
        torch.save(published.Vgg16().state_dict(), os.path.join('model', 'vgg16.weight'))
        net = published.R2RNet()
        optimizer = torch.optim.Adam(net.RelightNet.parameters(), lr=1e-4, betas=(0.9, 0.999), weight_decay=1e-4)

        def step():
            net.forward(low, high)
            optimizer.zero_grad()
            net.loss_Relight.backward()
            optimizer.step()

        yield step
