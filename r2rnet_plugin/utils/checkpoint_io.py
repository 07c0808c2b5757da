"""Checkpoints that survive a kill, and the choice of a complete one to resume from.

- :func:`atomic_save` writes a temporary file next to the target, flushes and ``fsync``-s it,
  then renames it over the target (``os.replace``, atomic on POSIX and Windows) and syncs the
  folder: the target is the old file or the new one, never half of one, whatever moment the
  process is killed at. Temporaries left by a kill (``<name>.tmp.<pid>-<random>``) are removed
  the next time that file is saved.
- :func:`capture_rng_state` / :func:`restore_rng_state`: Python's, NumPy's and torch's (CPU and
  CUDA) random states, as plain data (tensors, lists, ints) that ``weights_only`` loading accepts.
- :func:`find_resume_state` picks the newest training state that loads and whose network files
  (listed in the state; for older states, ``*_<iter>.pth`` in the models folder) all load, so a
  state whose networks are missing or corrupt is passed over for the previous complete one.

:mod:`r2rnet_plugin.compat` makes BasicSR's ``save_network``, ``save_training_state``,
``resume_training`` and ``--auto_resume`` use these.
"""
import errno
import os
import random
import re
import secrets
import time

import numpy as np
import torch

from r2rnet_plugin.utils.fsync import sync_folder
from r2rnet_plugin.utils.safe_load import CheckpointError, UnsafeCheckpointError, load_checkpoint

TEMP_MARK = '.tmp.'
SAVE_RETRIES = 3
DISK_FULL_ERRNOS = frozenset(getattr(errno, name) for name in ('ENOSPC', 'EDQUOT') if hasattr(errno, name))


class DiskFullError(OSError):
    """No space (or no quota) left to save a checkpoint; the files saved before are intact."""

    def __init__(self, path, error):
        super().__init__(f'disk full: could not write {path} ({error.strerror or error}); nothing was replaced, '
                         'the checkpoints saved before are intact. Free space, then resume (--auto_resume).')
        self.errno, self.path = error.errno, path  # (not .filename: str() would then drop the message)


def atomic_save(obj, path, retries=SAVE_RETRIES, logger=None):
    """``torch.save(obj, path)`` so that ``path`` is never left partly written.

    Args:
        obj: What to save.
        path (str): The target file; its folder must exist.
        retries (int): Attempts on an I/O error (a full disk, a network file system), 1 s apart.
        logger (logging.Logger, optional): Where failed attempts are reported.

    Raises:
        DiskFullError: The disk or the quota is full (not retried); ``path`` is as it was.
        OSError: Every attempt failed; the message names the file.
    """
    remove_stale_temporaries(path)
    for attempt in range(1, retries + 1):
        try:
            temp = write_temporary(obj, path)
            try:
                os.replace(temp, path)
            except BaseException:
                _remove(temp)
                raise
            sync_folder(os.path.dirname(os.path.abspath(path)))
            return
        except OSError as error:
            if error.errno in DISK_FULL_ERRNOS:
                raise DiskFullError(path, error) from error
            if attempt == retries:
                raise OSError(f'cannot save {path} ({retries} attempts): {error}') from error
            if logger is not None:
                logger.warning(f'Saving {path} failed ({error}); {retries - attempt} attempt(s) left.')
            time.sleep(1)


def write_temporary(obj, path):
    """Save ``obj`` to a new temporary file beside ``path``, synced to disk; return its name."""
    temp = f'{path}{TEMP_MARK}{os.getpid()}-{secrets.token_hex(4)}'
    try:
        with open(temp, 'xb') as handle:
            torch.save(obj, handle)
            handle.flush()
            os.fsync(handle.fileno())
    except BaseException:
        _remove(temp)
        raise
    return temp


def remove_stale_temporaries(path):
    """Remove ``<path>.tmp.*`` files (left by a process killed while saving ``path``)."""
    folder, name = os.path.split(os.path.abspath(path))
    if os.path.isdir(folder):
        for entry in os.listdir(folder):
            if entry.startswith(name + TEMP_MARK):
                _remove(os.path.join(folder, entry))


def _remove(path):
    try:
        os.remove(path)
    except FileNotFoundError:
        pass


# ------------------------------------------------------------------------------------- RNG states
def capture_rng_state():
    """Python's, NumPy's and torch's random states (CUDA's too where CUDA is in use)."""
    name, keys, position, has_gauss, cached = np.random.get_state()
    state = {
        'python': random.getstate(),
        'numpy': (name, keys.tolist(), position, has_gauss, cached),
        'torch': torch.get_rng_state()
    }
    if torch.cuda.is_available() and torch.cuda.is_initialized():
        state['cuda'] = torch.cuda.get_rng_state_all()
    return state


def restore_rng_state(state):
    """Undo :func:`capture_rng_state`: put every random generator back where it was."""
    version, internal, gauss = state['python']
    random.setstate((version, tuple(internal), gauss))
    name, keys, position, has_gauss, cached = state['numpy']
    np.random.set_state((name, np.asarray(keys, dtype=np.uint32), position, has_gauss, cached))
    torch.set_rng_state(state['torch'])
    cuda = state.get('cuda')
    if cuda is not None and torch.cuda.is_available() and len(cuda) == torch.cuda.device_count():
        torch.cuda.set_rng_state_all(cuda)


# ------------------------------------------------------------------------------ resume choice
def training_states(folder):
    """``[(iter, path)]`` of the ``<iter>.state`` files in ``folder``, newest first."""
    if not folder or not os.path.isdir(folder):
        return []
    found = [(int(name[:-len('.state')]), os.path.join(folder, name)) for name in os.listdir(folder)
             if name.endswith('.state') and name[:-len('.state')].isdigit()]
    return sorted(found, reverse=True)


def network_files(state, iteration, models_folder):
    """The network files saved with a training state: listed in it, else ``*_<iter>.pth``."""
    names = state.get('networks')
    if not names:
        pattern = re.compile(rf'.+_{iteration}\.pth$')
        names = sorted(n for n in os.listdir(models_folder) if pattern.match(n)) if os.path.isdir(models_folder) else []
    if not names:
        raise CheckpointError(f'no network file *_{iteration}.pth in {models_folder}')
    return [os.path.join(models_folder, name) for name in names]


def find_resume_state(states_folder, models_folder):
    """The newest complete training state of an experiment.

    A state is complete when it loads and so does every network file saved with it. States
    that are not (a file cut short by a kill in an older, non-atomic save; network files
    deleted or damaged) are passed over, each with the reason.

    Args:
        states_folder (str): ``path: training_states``.
        models_folder (str): ``path: models``.

    Returns:
        tuple: ``(path, state, passed_over)``: the chosen file and its content (None, None when
        there is none) and ``['<file>: <reason>', ...]`` for the newer ones passed over.

    Raises:
        UnsafeCheckpointError: A state or network file carries pickled code: it is not run, and
            the resume stops there rather than quietly falling back past a tampered file.
    """
    passed_over = []
    for iteration, path in training_states(states_folder):
        try:
            state = load_checkpoint(path, 'training state')
            if not isinstance(state, dict) or state.get('iter') != iteration:
                raise CheckpointError(f'training state {path} does not hold iteration {iteration}')
            for network in network_files(state, iteration, models_folder):
                load_checkpoint(network, f'network file of {os.path.basename(path)}')
        except UnsafeCheckpointError:
            raise
        except (CheckpointError, FileNotFoundError) as error:
            passed_over.append(f'{path}: {error}')
            continue
        return path, state, passed_over
    return None, None, passed_over
