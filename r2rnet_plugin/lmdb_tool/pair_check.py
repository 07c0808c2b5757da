"""Check every image pair of a source before anything is written, and list all that is wrong.

Three kinds of problem, each named by path: an image without a partner on the other side, an
image that is empty, truncated, corrupt or not storable losslessly
(:func:`r2rnet_plugin.lmdb_tool.source_images.read_source_image`), and a pair whose two images
differ in size. Every image is decoded, in worker processes.
"""
from dataclasses import dataclass

from tqdm import tqdm

from r2rnet_plugin.data.image_io import ImageDecodeError
from r2rnet_plugin.data.lmdb_meta import key_problem
from r2rnet_plugin.data.pairing import partition_by_key
from r2rnet_plugin.lmdb_tool.source_images import read_source_image
from r2rnet_plugin.lmdb_tool.worker_pool import WorkerPool


@dataclass(frozen=True)
class PairCheck:
    """The outcome of :func:`check_pairs`.

    Attributes:
        pairs (list[tuple[str, str, str]]): The usable ``(key, lq_path, gt_path)``, sorted by key.
        problems (list[str]): One line per problem, each starting with the path(s) concerned.
        bad_pairs (int): Matched pairs left out of ``pairs`` because of a problem.
        unmatched (int): Images without a partner.
    """

    pairs: list
    problems: list
    bad_pairs: int
    unmatched: int


def check_pairs(found, workers=1, progress=True):
    """Pair the images of a source and check that each pair can be stored.

    Args:
        found (SourceImages): Both sides of the source (:func:`r2rnet_plugin.data.sources.find_images`).
        workers (int): Worker processes that read and decode the images.
        progress (bool): Show a progress bar.

    Returns:
        PairCheck: The usable pairs and the problems.
    """
    matched, only_lq, only_gt = partition_by_key(found.lq_items, found.gt_items)
    problems = [f'{found.lq_items[key]}: no normal-light partner (same stem) in {found.gt_root}' for key in only_lq]
    problems += [f'{found.gt_items[key]}: no low-light partner (same stem) in {found.lq_root}' for key in only_gt]
    good = []
    with WorkerPool(workers) as pool:
        results = tqdm(
            pool.imap(_pair_problems, matched), total=len(matched), desc='check', unit='pair', disable=not progress)
        for pair, pair_problems in zip(matched, results):
            problems.extend(pair_problems)
            if not pair_problems:
                good.append(pair)
    return PairCheck(good, problems, len(matched) - len(good), len(only_lq) + len(only_gt))


def _pair_problems(pair):
    """The problems of one matched ``(key, lq_path, gt_path)``, or an empty list."""
    key, lq_path, gt_path = pair
    problems, sizes = [], []
    reason = key_problem(key)
    if reason:
        problems.append(f'{lq_path!r}, {gt_path!r}: {reason}; rename the files')
    for path in (lq_path, gt_path):
        try:
            img = read_source_image(path)
        except ImageDecodeError as error:
            problems.append(str(error))
        except OSError as error:
            problems.append(f'{path}: cannot read ({error.strerror or error})')
        else:
            sizes.append(img.shape[:2])
    if len(sizes) == 2 and sizes[0] != sizes[1]:
        (lq_h, lq_w), (gt_h, gt_w) = sizes
        problems.append(f'{lq_path} ({lq_w}x{lq_h}), {gt_path} ({gt_w}x{gt_h}): the images of a '
                        'pair differ in size (WxH)')
    return problems
