"""Pack a clean dataset into BasicSR LMDBs in one call (for programs; the command has more choices)."""
from r2rnet_plugin.data.sources import find_images
from r2rnet_plugin.lmdb_tool.pair_check import check_pairs
from r2rnet_plugin.lmdb_tool.verify import verify_lmdb_pair
from r2rnet_plugin.lmdb_tool.writer import write_lmdb_pair


class PackError(ValueError):
    """The source has problems, or the written LMDBs do not match it."""


def pack_pairs(source, out, workers=1, progress=True, compress_level=1):
    """Write ``out/low.lmdb`` and ``out/high.lmdb`` from ``source`` and verify them.

    Args:
        source (dict): ``LLIEPairedDataset`` source options (``layout`` + ``dataroot``, or
            ``dataroot_lq`` + ``dataroot_gt``).

    Raises:
        PackError: any bad or unmatched image (nothing written), or a verification mismatch.
    """
    check = check_pairs(find_images(source), workers, progress)
    if check.problems or not check.pairs:
        problems = check.problems or ['no usable image pair']
        raise PackError(f'cannot pack {source}: ' + '; '.join(problems))
    summary = write_lmdb_pair(out, check.pairs, compress_level, workers, False, progress)
    report = verify_lmdb_pair(out, check.pairs, workers, progress)
    if not report.ok:
        raise PackError(f'{out}: the LMDBs do not match their source: ' + '; '.join(report.problems))
    return summary
