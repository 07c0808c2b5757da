"""Where a run's outputs go, checked before anything is written.

- The output folder must be a folder (or creatable) and writable, and never the input folder,
  compared by identity (``os.path.samefile``), so a symlink to the input folder is caught.
- No output may be the same file as an input (a hard link, or a symlink to it).
- No file is written twice in one run: ``x.png`` with ``--save-components`` writes ``x_R.png``,
  which is also the output of an input ``x_R.png``; ``y.jpg`` and ``y.png`` both write
  ``y_R.png``. Every input taking part in such a collision is refused (none of them written).
"""
import os
from collections import defaultdict

from r2rnet_plugin.inference.enhancer import COMPONENTS


class OutputFolderError(ValueError):
    """An output folder that cannot or must not be used."""


def output_path(src, out_dir):
    """Where the enhanced ``src`` goes: same file name in ``out_dir``."""
    return os.path.join(out_dir, os.path.basename(src))


def component_paths(out_path):
    """PNG paths of the components beside ``out_path``: ``<stem>_R.png``, ``<stem>_L.png``, ..."""
    stem = os.path.splitext(out_path)[0]
    return {name: f'{stem}_{name}.png' for name in COMPONENTS}


def output_files(src, out_dir, save_components):
    """Every file enhancing ``src`` writes: the enhanced image first, then its components."""
    dst = output_path(src, out_dir)
    return [dst] + (list(component_paths(dst).values()) if save_components else [])


def _existing_ancestor(path):
    path = os.path.abspath(path)
    while not os.path.lexists(path):
        path = os.path.dirname(path)
    return path


def check_output_folder(out_dir, source):
    """Check that ``out_dir`` can hold the outputs of the input ``source`` (a file or folder).

    Raises:
        OutputFolderError: ``out_dir`` is not a folder, cannot be created or written, or is the input folder.
    """
    if os.path.lexists(out_dir) and not os.path.isdir(out_dir):
        raise OutputFolderError(f'output folder {out_dir} exists and is not a folder')
    existing = _existing_ancestor(out_dir)
    if not os.path.isdir(existing):
        raise OutputFolderError(f'cannot create output folder {out_dir}: {existing} is not a folder')
    if not os.access(existing, os.W_OK | os.X_OK):
        what = 'output folder' if existing == os.path.abspath(out_dir) else 'its parent'
        raise OutputFolderError(f'cannot write to output folder {out_dir}: {what} {existing} is not writable')
    input_dir = source if os.path.isdir(source) else (os.path.dirname(source) or '.')
    if os.path.isdir(out_dir) and os.path.samefile(out_dir, input_dir):
        raise OutputFolderError(f'output folder {out_dir} is the input folder {input_dir} '
                                '(the originals would be overwritten); choose another output folder')


def _identity(path):
    try:
        st = os.stat(path)
    except OSError:
        return None
    return st.st_dev, st.st_ino


def plan_outputs(paths, out_dir, save_components):
    """The outputs of every input, and the inputs refused before anything is written.

    Returns:
        tuple: ``{src: [output paths]}`` and ``{src: reason}`` for inputs whose outputs collide with
        another input's outputs or are the same file as an input.
    """
    plan = {src: output_files(src, out_dir, save_components) for src in paths}
    writers = defaultdict(list)
    for src, outputs in plan.items():
        for out in outputs:
            writers[os.path.normcase(out)].append(src)
    refused = {}
    for out, sources in writers.items():
        if len(sources) > 1:
            names = ', '.join(os.path.basename(s) for s in sources)
            for src in sources:
                refused.setdefault(src, f'{names} would all write {out}; refused (rename one of them)')
    inputs = {_identity(src): src for src in paths}
    inputs.pop(None, None)
    for src, outputs in plan.items():
        for out in outputs:
            same = inputs.get(_identity(out))
            if same is not None:
                refused.setdefault(src, f'its output {out} is the input file {same} (a link to it); refused')
    return plan, refused
