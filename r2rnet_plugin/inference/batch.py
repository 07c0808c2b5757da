"""Enhance a list of photo files into an output folder, one failure never stopping the others.

Before a file is decoded its header is read: several frames, or a size whose decoding or
whole-image pass would not fit in memory, refuse the file (see :mod:`.memory`). Every output
of a file is encoded before the first is written; if a write fails (or Ctrl-C comes) the
outputs of that file already written are removed. A full disk stops the run: the files not
yet attempted are reported as such.
"""
import os
from dataclasses import dataclass
from typing import Optional

from r2rnet_plugin.inference.enhancer import COMPONENTS
from r2rnet_plugin.inference.image_io import encode_image, map_pixels, photo_pixels, read_photo
from r2rnet_plugin.inference.image_probe import ImageReadError, check_regular_file, check_single_frame, probe_image
from r2rnet_plugin.inference.memory import check_decode, check_pass
from r2rnet_plugin.inference.output_plan import plan_outputs
from r2rnet_plugin.inference.safe_write import DiskFullError, remove_quietly, write_file
from r2rnet_plugin.utils.image_files import is_image_file

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
        ValueError: ``source`` is neither a folder nor a regular file (e.g. a FIFO).
    """
    if os.path.isdir(source):
        names = sorted(n for n in os.listdir(source) if is_image_file(n))
        return [os.path.join(source, n) for n in names if os.path.isfile(os.path.join(source, n))]
    if not os.path.exists(source):
        raise FileNotFoundError(f'input not found: {source}')
    try:
        check_regular_file(source)
    except ImageReadError as err:
        raise ValueError(f'input {source}: {err}') from None
    return [source]


def enhance_file(enhancer, src, outputs, save_components=False, on_tile=None):
    """Read ``src``, enhance it, write ``outputs`` (the enhanced image, then its components).

    Raises:
        ImageReadError, MemoryLimitError, OSError, RuntimeError: the file could not be read,
            enhanced or written; no output of it is left.
    """
    info = probe_image(src)
    check_single_frame(info)
    check_decode(info)
    check_pass(info, enhancer.channel, enhancer.device, enhancer.tile, enhancer.tile_overlap, save_components)
    photo = read_photo(src)
    result = enhancer(photo.rgb, with_components=save_components, on_tile=on_tile)
    pixels = [photo_pixels(result['enhanced'], photo)]
    if save_components:
        pixels += [map_pixels(result[name], photo.dtype) for name in COMPONENTS]
    encoded = [encode_image(path, p) for path, p in zip(outputs, pixels)]
    written = []
    try:
        for path, data in zip(outputs, encoded):
            write_file(path, data)
            written.append(path)
    except BaseException:
        for path in written:
            remove_quietly(path)
        raise


def _reason(err):
    text = str(err).strip() or type(err).__name__
    if isinstance(err, MemoryError) or 'out of memory' in text.lower():
        text += ' (try --tile 512)'
    return text


def enhance_files(enhancer, paths, out_dir, save_components=False, skip_existing=False, on_done=None, on_tile=None):
    """Enhance every file of ``paths`` into ``out_dir``; a file that fails is recorded and skipped.

    Inputs whose outputs collide, or would overwrite an input, are refused before anything is
    written (:func:`~r2rnet_plugin.inference.output_plan.plan_outputs`).

    Args:
        on_done (callable, optional): called with each :class:`Outcome` as soon as it is known.
        on_tile (callable, optional): called after each tile of a tiled run.

    Returns:
        list[Outcome]: one per input, in order.
    """
    os.makedirs(out_dir, exist_ok=True)
    plan, refused = plan_outputs(paths, out_dir, save_components)
    outcomes = []
    disk_full = None
    for src in paths:
        if disk_full is not None:
            outcome = Outcome(src, FAILED, f'not attempted: {disk_full}')
        elif src in refused:
            outcome = Outcome(src, FAILED, refused[src])
        elif skip_existing and os.path.exists(plan[src][0]):
            outcome = Outcome(src, SKIPPED, 'output exists')
        else:
            try:
                enhance_file(enhancer, src, plan[src], save_components, on_tile)
                outcome = Outcome(src, OK)
            except DiskFullError as err:
                disk_full = 'disk full'
                outcome = Outcome(src, FAILED, _reason(err))
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
