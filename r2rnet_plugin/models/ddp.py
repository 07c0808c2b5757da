"""Wrapping networks for distributed training: only what is trained, on CPU (gloo) or CUDA (nccl)."""
import torch
from torch import nn
from torch.nn.parallel import DistributedDataParallel


class ComponentsForward(nn.Module):
    """Makes ``net.components(x)`` a module's ``forward``, so DDP synchronises what it computes."""

    def __init__(self, net):
        super().__init__()
        self.net = net

    def forward(self, *args, **kwargs):
        return self.net.components(*args, **kwargs)


def wrap_for_training(module, opt, device):
    """``module`` in DistributedDataParallel when ``opt['dist']`` (device ids only on CUDA), else as is.

    Frozen networks are never wrapped: they cost no gradient communication.
    """
    if not opt.get('dist') or not any(p.requires_grad for p in module.parameters()):
        return module
    device_ids = [device.index if device.index is not None else torch.cuda.current_device()] \
        if device.type == 'cuda' else None
    return DistributedDataParallel(
        module, device_ids=device_ids, find_unused_parameters=opt.get('find_unused_parameters', False))
