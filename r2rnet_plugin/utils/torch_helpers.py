"""Small torch helpers every command shares: precision names, device names, parameter counts."""
import torch

PRECISION_DTYPES = {'fp32': torch.float32, 'bf16': torch.bfloat16, 'fp16': torch.float16}


def resolve_device(name, where='--device'):
    """``'auto'`` (CUDA where available), ``'cpu'``, ``'cuda'`` or ``'cuda:N'`` as a :class:`torch.device`.

    ``where`` names the option in the error (``--device``, ``option 'device'``).
    """
    if name == 'auto':
        name = 'cuda' if torch.cuda.is_available() else 'cpu'
    if str(name).startswith('cuda') and not torch.cuda.is_available():
        raise ValueError(f'{where}: {name}, but CUDA is not available here (use cpu or auto)')
    return torch.device(name)


def count_parameters(net):
    """The number of parameters of ``net``."""
    return sum(p.numel() for p in net.parameters())
