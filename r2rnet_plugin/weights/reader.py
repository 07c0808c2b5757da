"""Build an R2RNet from a weights file: BasicSR-style, or the three published checkpoints.

Files are read with :func:`r2rnet_plugin.utils.safe_load.load_checkpoint`: no pickled code runs.
"""
import torch

from r2rnet_plugin.archs.r2rnet_arch import R2RNet
from r2rnet_plugin.weights.official import STAGES, convert_official
from r2rnet_plugin.utils.safe_load import CheckpointError, load_checkpoint

# Preferred entries of a BasicSR file: the EMA weights where present (as Real-ESRGAN does).
PARAM_KEYS = ('params_ema', 'params')
_WIDTH_KEY = 'decom.in_conv.weight'  # its first dimension is the network's channel width


class WeightsError(ValueError):
    """Weights that cannot be read or do not fit R2RNet."""


def _shorten(keys, limit=6):
    keys = sorted(keys)
    return ', '.join(keys[:limit]) + (f', ... ({len(keys) - limit} more)' if len(keys) > limit else '')


def read_basicsr_state(path):
    """The state dict of a BasicSR weights file (``params_ema`` preferred, then ``params``, or a bare state dict)."""
    try:
        data = load_checkpoint(path, 'weights file')
    except FileNotFoundError:
        raise WeightsError(f'weights file not found: {path}') from None
    except CheckpointError as err:  # not a PyTorch file, or one carrying pickled code
        raise WeightsError(str(err)) from err
    if isinstance(data, dict):
        data = next((data[k] for k in PARAM_KEYS if isinstance(data.get(k), dict)), data)
    if not isinstance(data, dict) or not all(isinstance(v, torch.Tensor) for v in data.values()):
        raise WeightsError(f'{path} does not hold an R2RNet state dict')
    return {k[len('module.'):] if k.startswith('module.') else k: v for k, v in data.items()}


class NonFiniteWeightsError(WeightsError):
    """Weights holding NaN or infinite values: whatever they enhance comes out non-finite."""


def check_finite(state, source):
    """Raise :class:`NonFiniteWeightsError` naming the first tensors of ``state`` that hold NaN or infinite values."""
    bad = {k: v.numel() - int(torch.isfinite(v).sum()) for k, v in state.items()
           if v.is_floating_point() or v.is_complex()}
    bad = {k: n for k, n in bad.items() if n}
    if bad:
        names = '; '.join(f'{k} ({n} of {state[k].numel()})' for k, n in sorted(bad.items())[:3])
        more = f'; and {len(bad) - 3} more tensors' if len(bad) > 3 else ''
        raise NonFiniteWeightsError(f'{source} holds non-finite (NaN or infinite) weights: {names}{more}')


def model_from_state(state, source):
    """An ``R2RNet`` of the width the state dict has, with its weights loaded (strict).

    Raises:
        WeightsError: keys or shapes that do not fit, or NaN/infinite values.
    """
    if _WIDTH_KEY not in state:
        hint = (' It looks like one published stage checkpoint: pass all three (decom, denoise, relight).'
                if any(k.startswith(('conv0', 'RM0', 'Denoise', 'EnhanceModule')) for k in state) else '')
        raise WeightsError(f'{source} is not an R2RNet weights file (no {_WIDTH_KEY}).{hint}')
    model = R2RNet(channel=state[_WIDTH_KEY].shape[0])
    expected = model.state_dict()
    missing = [k for k in expected if k not in state]
    unexpected = [k for k in state if k not in expected]
    wrong = [k for k, v in state.items() if k in expected and v.shape != expected[k].shape]
    problems = [f'{what}: {_shorten(keys)}' for what, keys in
                (('missing', missing), ('unexpected', unexpected), ('wrong shape', wrong)) if keys]
    if problems:
        raise WeightsError(f'{source} does not fit R2RNet: ' + '; '.join(problems))
    check_finite(state, source)
    model.load_state_dict(state)
    return model.eval()


def load_r2rnet(paths):
    """An R2RNet in eval mode from one BasicSR-style file or three published checkpoints.

    Args:
        paths (str | Sequence[str]): one ``.pth`` file (``{'params': ...}``, ``{'params_ema': ...}``
            or a bare state dict, as written by BasicSR or ``convert_official``), or the Decom-,
            Denoise- and Relight-Net checkpoints of the published code, in that order.

    Raises:
        WeightsError: unreadable files, or weights that do not fit.
    """
    paths = [paths] if isinstance(paths, str) else list(paths)
    if len(paths) == 1:
        return model_from_state(read_basicsr_state(paths[0]), paths[0])
    if len(paths) != len(STAGES):
        raise WeightsError(f'give one R2RNet weights file or the three published checkpoints '
                           f'({", ".join(STAGES)}), not {len(paths)} files')
    try:
        state = convert_official(*paths)
    except (ValueError, FileNotFoundError) as err:  # CheckpointKeyError is a ValueError
        raise WeightsError(str(err)) from err
    return model_from_state(state, 'the published checkpoints')
