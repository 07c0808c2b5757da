"""Build an R2RNet from a weights file: BasicSR-style, or the three published checkpoints.

Files are read by the one reader, :mod:`r2rnet_plugin.weights.state_dicts` (no pickled code runs).
"""
from r2rnet_plugin.archs.r2rnet_arch import R2RNet
from r2rnet_plugin.utils.safe_load import CheckpointError
from r2rnet_plugin.weights.official import STAGES, convert_official
from r2rnet_plugin.weights.state_dicts import WeightsError, check_finite, key_problems, read_state_dict

_WIDTH_KEY = 'decom.in_conv.weight'  # its first dimension is the network's channel width


def read_basicsr_state(path):
    """The state dict of a BasicSR weights file, by the one reader's EMA rule (:mod:`.state_dicts`)."""
    try:
        return read_state_dict(path)
    except CheckpointError as err:  # not a PyTorch file, or one carrying pickled code
        raise WeightsError(str(err)) from err


def model_from_state(state, source):
    """An ``R2RNet`` of the width the state dict has, with its weights loaded (strict).

    Raises:
        WeightsError: keys or shapes that do not fit, or NaN/infinite values.
    """
    if _WIDTH_KEY not in state:
        hint = (' It looks like one published stage checkpoint: pass all three (decom, denoise, relight).' if any(
            k.startswith(('conv0', 'RM0', 'Denoise', 'EnhanceModule')) for k in state) else '')
        raise WeightsError(f'{source} is not an R2RNet weights file (no {_WIDTH_KEY}).{hint}')
    model = R2RNet(channel=state[_WIDTH_KEY].shape[0])
    problems = key_problems(state, model.state_dict())
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
