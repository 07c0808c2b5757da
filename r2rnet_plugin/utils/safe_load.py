"""The one way the plugin opens a checkpoint or weights file: no pickled code ever runs.

A ``.pth``/``.tar``/``.state`` file is a pickle: loaded with ``torch.load(weights_only=False)``
(BasicSR 1.4.2's ``load_network`` does so) it can run any code its author put in it. Here every
file is read with ``weights_only=True``, which rebuilds only tensors, containers, numbers and
strings, plus an explicit allow-list (:data:`NUMPY_SAFE_GLOBALS`) for the numpy scalars and
arrays that many third-party checkpoints hold (``np.float64`` metrics, ``np.ndarray`` stats):
numpy's array reconstruction and the numeric/string dtypes, under both the numpy 2 names
(``numpy._core``) and the numpy 1 names (``numpy.core``) old files were written with. Object
arrays are not allowed. A file that needs anything else is refused with
:class:`UnsafeCheckpointError` naming the file and the refused global, before it runs.
"""
import os
import pickle
import re

import numpy as np
import torch


class CheckpointError(ValueError):
    """A checkpoint that cannot be used: unreadable, corrupt, or of the wrong content."""


class UnsafeCheckpointError(CheckpointError):
    """A checkpoint that holds pickled objects other than weights (its code was not run)."""


def _numpy_safe_globals():
    multiarray = np._core.multiarray if hasattr(np, '_core') else np.core.multiarray
    functions = [multiarray._reconstruct, multiarray.scalar]
    allowed = list(functions) + [np.ndarray, np.dtype]
    for function in functions:  # files written under numpy 1 name numpy.core.multiarray
        allowed.append((function, f'numpy.core.multiarray.{function.__name__}'))
    dtypes = (np.bool_, np.int8, np.int16, np.int32, np.int64, np.uint8, np.uint16, np.uint32, np.uint64, np.float16,
              np.float32, np.float64, np.longdouble, np.complex64, np.complex128, np.str_, np.bytes_)
    allowed += sorted({type(np.dtype(t)) for t in dtypes}, key=lambda cls: cls.__name__)
    return allowed


NUMPY_SAFE_GLOBALS = _numpy_safe_globals()


def load_checkpoint(path, what='checkpoint'):
    """Read a checkpoint onto the CPU without running any pickled code.

    Args:
        path (str | os.PathLike): The file.
        what (str): What the file is, for messages (e.g. ``"option 'path: pretrain_network_g'"``).

    Returns:
        The file's content (usually a dict of tensors or of such dicts).

    Raises:
        FileNotFoundError: No such file.
        UnsafeCheckpointError: The file holds pickled objects outside the allow-list.
        CheckpointError: The file is not a readable PyTorch file (empty, truncated, corrupt).
    """
    path = os.fspath(path)
    if not os.path.isfile(path):
        raise FileNotFoundError(f'{what} {path} does not exist')
    try:
        with torch.serialization.safe_globals(NUMPY_SAFE_GLOBALS):
            return torch.load(path, map_location='cpu', weights_only=True)
    except pickle.UnpicklingError as error:
        refused = _refused_global(str(error))
        if refused:
            raise UnsafeCheckpointError(
                f'refused to load {what} {path}: it holds a pickled reference to {refused}, which is not '
                'weights data; unpickling it could run arbitrary code, so it was not loaded. Only tensors, '
                'containers, numbers, strings and numpy scalars/arrays are accepted. If you trust the file, '
                're-save its tensors (e.g. torch.save(state_dict, ...)) and load that.') from None
        raise CheckpointError(f'{what} {path} is not a readable PyTorch file (corrupt?): {_reason(error)}') from None
    except Exception as error:  # zip, struct, EOF and tensor errors all mean a damaged file
        raise CheckpointError(f'{what} {path} is not a readable PyTorch file (empty, truncated or corrupt?): '
                              f'{_reason(error)}') from None


def _refused_global(message):
    """The global (or class) the weights-only unpickler refused, or None for other errors."""
    found = (
        re.search(r'GLOBAL (\S+)', message)
        or re.search(r'Can only (?:build|create new object for) .* but got (<[^>]+>)', message)
        or re.search(r'call reduce for unrecognized function (\S+)', message))
    return found.group(1) if found else None


def _reason(error):
    """The informative line of a torch.load error (not its boiler-plate about weights_only)."""
    boiler = ('Weights only load failed', 'Check the documentation', 'Please file an issue', 'In PyTorch 2.6')
    lines = [line.strip() for line in str(error).splitlines() if line.strip() and not line.strip().startswith(boiler)]
    return f'{type(error).__name__}: {lines[-1]}' if lines else type(error).__name__


def strip_module_prefix(state):
    """``state`` with the ``module.`` prefix of (Distributed)DataParallel removed from its keys."""
    return {k[len('module.'):] if k.startswith('module.') else k: v for k, v in state.items()}
