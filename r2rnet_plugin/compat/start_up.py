"""``start_up_folders``: a run that fails before it has saved anything leaves no folders behind.

BasicSR makes ``experiments/<name>`` (``results/<name>`` for tests) and ``tb_logger/<name>``
first, renaming a folder of that name to ``<name>_archived_<time>``. A run that then fails at
start-up (a missing earlier stage, a batch larger than the data) left those folders, and the
next run archived them again. For runs that get the fix every folder made that way is recorded;
when the run fails before any network, training state or image was saved, they are removed
and each archived folder gets its name back.
"""
import os
import shutil

from r2rnet_plugin.compat import scope

RESULT_FOLDERS = ('models', 'training_states', 'visualization')
_made = []  # (path, the folder it archived or None), in the order made


def _archived_siblings(path):
    parent, base = os.path.split(os.path.abspath(path))
    prefix = base + '_archived_'
    return {os.path.join(parent, n)
            for n in os.listdir(parent or '.') if n.startswith(prefix)} if os.path.isdir(parent or '.') else set()


def make_recording_mkdir(original):
    """``mkdir_and_rename`` that also records what it made and archived."""

    def mkdir_and_rename(path):
        before = _archived_siblings(path)
        original(path)
        archived = sorted(_archived_siblings(path) - before)
        _made.append((path, archived[-1] if archived else None))

    return mkdir_and_rename


def holds_results(path):
    """Whether ``path`` holds anything a run saved (a network, a training state, an image)."""
    for folder, _, files in os.walk(path):
        if files and os.path.relpath(folder, path).split(os.sep)[0] in RESULT_FOLDERS:
            return True
    return False


def undo_start_up_folders():
    """After a failed run: remove its folders unless one holds results, and restore archived ones."""
    made, _made[:] = list(_made), []
    if any(holds_results(path) for path, _ in made):
        return
    for path, archived in reversed(made):
        shutil.rmtree(path, ignore_errors=True)
        if archived and os.path.isdir(archived) and not os.path.exists(path):
            os.rename(archived, path)


def current_options(*args, **kwargs):
    """The options of the run being started (``mkdir_and_rename`` is not handed them)."""
    return scope.current_run() or {}


def make_mkdir_and_rename(original):
    """``make`` of the patch: the recording version for runs that get the fix, else the original."""
    return scope.choosing('start_up_folders', make_recording_mkdir(original), current_options)(original)
