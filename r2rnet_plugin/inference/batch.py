"""Enhance a list of photo files into an output folder, one failure never stopping the others."""
import os
from dataclasses import dataclass
from typing import Optional

from r2rnet_plugin.inference.enhancer import COMPONENTS
from r2rnet_plugin.inference.image_io import is_image_file, read_photo, write_map, write_photo

OK, SKIPPED, FAILED = 'ok', 'skipped', 'failed'


@dataclass
class Outcome:
    """What happened to one input file."""
    path: str
    status: str  # OK, SKIPPED or FAILED
    reason: Optional[str] = None


def list_inputs(source):
    """The image files to enhance: ``source`` itself, or the image files of the folder ``source``, sorted.

    Raises:
        FileNotFoundError: ``source`` does not exist.
    """
    if os.path.isdir(source):
        names = sorted(n for n in os.listdir(source) if is_image_file(n))
        return [os.path.join(source, n) for n in names if os.path.isfile(os.path.join(source, n))]
    if os.path.exists(source):
        return [source]
    raise FileNotFoundError(f'input not found: {source}')


def output_path(src, out_dir):
    """Where the enhanced ``src`` goes: same file name in ``out_dir``."""
    return os.path.join(out_dir, os.path.basename(src))


def component_paths(out_path):
    """PNG paths of the components beside ``out_path``: ``<stem>_R.png``, ``<stem>_L.png``, ..."""
    stem = os.path.splitext(out_path)[0]
    return {name: f'{stem}_{name}.png' for name in COMPONENTS}


def enhance_file(enhancer, src, dst, save_components=False, on_tile=None):
    """Read ``src``, enhance it, write ``dst`` (and its components).

    Raises:
        ImageReadError, OSError, RuntimeError: the file could not be read, enhanced or written.
    """
    photo = read_photo(src)
    outputs = enhancer(photo.rgb, with_components=save_components, on_tile=on_tile)
    write_photo(dst, outputs['enhanced'], photo)
    if save_components:
        for name, path in component_paths(dst).items():
            write_map(path, outputs[name], photo.dtype)


def _reason(err):
    text = str(err).strip() or type(err).__name__
    if isinstance(err, MemoryError) or 'out of memory' in text.lower():
        text += ' (try --tile 512)'
    return text


def enhance_files(enhancer, paths, out_dir, save_components=False, skip_existing=False,
                  on_done=None, on_tile=None):
    """Enhance every file of ``paths`` into ``out_dir``; a file that fails is recorded and skipped.

    Args:
        on_done (callable, optional): called with each :class:`Outcome` as soon as it is known.
        on_tile (callable, optional): called after each tile of a tiled run.

    Returns:
        list[Outcome]: one per input, in order.
    """
    os.makedirs(out_dir, exist_ok=True)
    outcomes = []
    for src in paths:
        dst = output_path(src, out_dir)
        if skip_existing and os.path.exists(dst):
            outcome = Outcome(src, SKIPPED, 'output exists')
        elif os.path.abspath(dst) == os.path.abspath(src):
            outcome = Outcome(src, FAILED, 'the output would overwrite the input (choose another output folder)')
        else:
            try:
                enhance_file(enhancer, src, dst, save_components, on_tile)
                outcome = Outcome(src, OK)
            except (ValueError, OSError, RuntimeError, MemoryError) as err:
                outcome = Outcome(src, FAILED, _reason(err))
        outcomes.append(outcome)
        if on_done is not None:
            on_done(outcome)
    return outcomes


def summary(outcomes):
    """E.g. ``'3 ok, 1 skipped, 1 failed'`` followed by one ``'  name: reason'`` line per failure."""
    counts = {status: sum(o.status == status for o in outcomes) for status in (OK, SKIPPED, FAILED)}
    lines = [', '.join(f'{n} {status}' for status, n in counts.items())]
    lines += [f'  {o.path}: {o.reason}' for o in outcomes if o.status == FAILED]
    return '\n'.join(lines)
