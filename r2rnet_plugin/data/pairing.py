"""Match low-light and normal-light images into pairs by key, in a deterministic order.

A key is what names one scene on both sides: a file stem (``12`` for ``low/12.jpg`` and
``high/12.png``), a camera-qualified stem (``Huawei/12``) or an LMDB key. BasicSR's
``paired_paths_from_folder`` neither sorts (its order follows the file system) nor reports
which files lack a partner; here pairs are sorted by key and every unmatched entry is listed.
"""
from r2rnet_plugin.utils.text import first_items

MAX_LISTED = 20


def match_by_key(lq_items, gt_items, lq_side, gt_side):
    """Pair the entries of two ``{key: reference}`` mappings that share a key.

    Args:
        lq_items (dict[str, str]): Low-light side, key -> file path or LMDB key.
        gt_items (dict[str, str]): Normal-light side, key -> file path or LMDB key.
        lq_side (str): How to name the low-light side in errors (e.g. its folder).
        gt_side (str): How to name the normal-light side in errors.

    Returns:
        list[tuple[str, str, str]]: ``(key, lq_reference, gt_reference)``, sorted by key.

    Raises:
        ValueError: Some keys are on one side only; the message lists them for each side.
    """
    pairs, only_lq, only_gt = partition_by_key(lq_items, gt_items)
    if only_lq or only_gt:
        problems = []
        if only_lq:
            problems.append(f'{len(only_lq)} in {lq_side} without a partner in {gt_side}: '
                            f'{format_list([lq_items[k] for k in only_lq])}')
        if only_gt:
            problems.append(f'{len(only_gt)} in {gt_side} without a partner in {lq_side}: '
                            f'{format_list([gt_items[k] for k in only_gt])}')
        raise ValueError('Unmatched images (pairs are matched by file stem / key): ' + '; '.join(problems) + '.')
    return pairs


def partition_by_key(lq_items, gt_items):
    """Split two ``{key: reference}`` mappings into pairs and the keys found on one side only.

    Args:
        lq_items (dict[str, str]): Low-light side, key -> file path or LMDB key.
        gt_items (dict[str, str]): Normal-light side, key -> file path or LMDB key.

    Returns:
        tuple[list, list[str], list[str]]: ``(key, lq_reference, gt_reference)`` for the shared
        keys, then the keys only in ``lq_items`` and those only in ``gt_items``, each sorted.
    """
    pairs = [(key, lq_items[key], gt_items[key]) for key in sorted(lq_items) if key in gt_items]
    return pairs, sorted(set(lq_items) - set(gt_items)), sorted(set(gt_items) - set(lq_items))


def format_list(names, limit=MAX_LISTED):
    """``['a', 'b', ...]`` as text, cut after ``limit`` names with a count of the rest."""
    return first_items((repr(name) for name in names), limit)
