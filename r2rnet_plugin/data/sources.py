"""Turn the source options of :class:`LLIEPairedDataset` into a sorted list of image pairs.

Three ways to name the data, each read from folders (``io_backend: {type: disk}``) or from a
pair of BasicSR LMDBs (``io_backend: {type: lmdb}``):

- ``dataroot_lq`` + ``dataroot_gt``: two folders of images, or two ``.lmdb`` folders;
- ``layout: lsrw`` + ``dataroot``: ``<dataroot>/<camera>/low/*`` and ``<camera>/high/*`` for each
  of ``cameras`` (default Huawei and Nikon); keys are ``<camera>/<stem>``;
- ``layout: lol`` + ``dataroot``: ``<dataroot>/low/*`` and ``<dataroot>/high/*``.

With the LMDB backend and a layout, the databases are ``<dataroot>/low.lmdb`` and
``<dataroot>/high.lmdb``; ``cameras`` keeps the keys whose first path part is a camera.
"""
import os
from dataclasses import dataclass

from r2rnet_plugin.data.lmdb_meta import read_lmdb_keys
from r2rnet_plugin.data.pairing import format_list, match_by_key
from r2rnet_plugin.utils.image_files import IMAGE_EXTENSIONS

BACKENDS = ('disk', 'lmdb')
LAYOUTS = ('lsrw', 'lol')
LSRW_CAMERAS = ('Huawei', 'Nikon')
LOW_NAME, HIGH_NAME = 'low', 'high'
IMG_EXTENSIONS = IMAGE_EXTENSIONS


@dataclass(frozen=True)
class PairSource:
    """Where the pairs are and how to name them.

    Attributes:
        backend (str): ``'disk'`` or ``'lmdb'``.
        pairs (list[tuple[str, str, str]]): ``(key, lq_ref, gt_ref)`` sorted by key; a ref is a
            file path (disk) or an LMDB key (lmdb).
        lq_root (str): Low-light folder or LMDB (the first camera's folder for LSRW on disk).
        gt_root (str): Normal-light folder or LMDB.
    """

    backend: str
    pairs: list
    lq_root: str
    gt_root: str

    def root(self, side):
        """The folder or LMDB of ``side`` ('lq' or 'gt')."""
        return self.lq_root if side == 'lq' else self.gt_root

    def describe(self, ref, side):
        """A reference as an error message should name it (``side`` is 'lq' or 'gt')."""
        return f'{ref!r} in {self.root(side)}' if self.backend == 'lmdb' else ref


def resolve_source(opt):
    """Find and pair the images named by a dataset option dict.

    Args:
        opt (dict): Dataset options (``dataroot_lq``/``dataroot_gt`` or ``layout``/``dataroot``,
            ``cameras``, ``io_backend``).

    Returns:
        PairSource: The sorted pairs and the backend to read them with.

    Raises:
        ValueError: Contradictory options, empty sources or unmatched images.
        FileNotFoundError: A folder or LMDB does not exist.
    """
    backend = backend_type(opt)
    found = find_images(opt, backend)
    pairs = match_by_key(found.lq_items, found.gt_items, found.lq_root, found.gt_root)
    return PairSource(backend, pairs, found.lq_root, found.gt_root)


@dataclass(frozen=True)
class SourceImages:
    """The images of both sides of a source, found but not yet paired.

    Attributes:
        lq_items (dict[str, str]): Low-light side, key -> file path (disk) or LMDB key (lmdb).
        gt_items (dict[str, str]): Normal-light side, the same.
        lq_root (str): Low-light folder or LMDB, as named in messages (for LSRW on disk,
            ``<dataroot>/{Huawei,Nikon}/low``).
        gt_root (str): Normal-light folder or LMDB, the same.
    """

    lq_items: dict
    gt_items: dict
    lq_root: str
    gt_root: str


def find_images(opt, backend='disk'):
    """List the images of both sides of a source, keyed as :func:`resolve_source` pairs them.

    Unlike :func:`resolve_source`, images without a partner are no error here (see
    :func:`r2rnet_plugin.data.pairing.partition_by_key`).

    Args:
        opt (dict): Source options, as for :func:`resolve_source` (``io_backend`` is ignored).
        backend (str): ``'disk'`` or ``'lmdb'``.

    Returns:
        SourceImages: Both sides' ``{key: reference}``.

    Raises:
        ValueError: Contradictory options or an empty source.
        FileNotFoundError: A folder or LMDB does not exist.
    """
    layout = _check_layout(opt)
    cameras = _cameras(opt, layout, backend)
    if backend == 'disk' and layout == 'lsrw':
        return _lsrw_folders(opt['dataroot'], cameras)
    if layout is None:
        lq_root, gt_root = opt['dataroot_lq'], opt['dataroot_gt']
    else:
        suffix = '.lmdb' if backend == 'lmdb' else ''
        lq_root = os.path.join(opt['dataroot'], LOW_NAME + suffix)
        gt_root = os.path.join(opt['dataroot'], HIGH_NAME + suffix)
    if backend == 'lmdb':
        return SourceImages(_lmdb_items(lq_root, cameras), _lmdb_items(gt_root, cameras), lq_root, gt_root)
    return SourceImages(scan_images(lq_root), scan_images(gt_root), lq_root, gt_root)


def backend_type(opt):
    """The ``io_backend`` type (default ``'disk'``), checked against :data:`BACKENDS`."""
    backend = (opt.get('io_backend') or {}).get('type', 'disk')
    if backend not in BACKENDS:
        raise ValueError(f'io_backend type {backend!r} is not supported by LLIEPairedDataset; '
                         f'use one of {BACKENDS}.')
    return backend


def scan_images(folder, key_prefix=''):
    """Map ``key_prefix + stem`` to the path of each image file directly in ``folder``.

    Hidden files, sub-folders and files without an image extension are skipped.

    Raises:
        FileNotFoundError: ``folder`` does not exist.
        ValueError: ``folder`` holds no image, or two images with the same stem.
    """
    if not os.path.isdir(folder):
        raise FileNotFoundError(f'Image folder {folder!r} does not exist.')
    names = sorted(
        entry.name for entry in os.scandir(folder)
        if entry.is_file() and not entry.name.startswith('.') and entry.name.lower().endswith(IMG_EXTENSIONS))
    if not names:
        raise ValueError(f'Image folder {folder!r} holds no image ({", ".join(IMG_EXTENSIONS)}).')
    items, clashes = {}, []
    for name in names:
        key = key_prefix + os.path.splitext(name)[0]
        if key in items:
            clashes.append(os.path.join(folder, name))
        items.setdefault(key, os.path.join(folder, name))
    if clashes:
        raise ValueError(f'Image folder {folder!r} has several images with the same stem, so '
                         f'pairs would be ambiguous: {format_list(clashes)}.')
    return items


def _lsrw_folders(dataroot, cameras):
    """LSRW on disk: ``<dataroot>/<camera>/{low,high}``, keys ``<camera>/<stem>``."""
    lq_items, gt_items = {}, {}
    for camera in cameras:
        lq_items.update(scan_images(os.path.join(dataroot, camera, LOW_NAME), f'{camera}/'))
        gt_items.update(scan_images(os.path.join(dataroot, camera, HIGH_NAME), f'{camera}/'))
    lq_side = os.path.join(dataroot, '{' + ','.join(cameras) + '}', LOW_NAME)
    gt_side = os.path.join(dataroot, '{' + ','.join(cameras) + '}', HIGH_NAME)
    return SourceImages(lq_items, gt_items, lq_side, gt_side)


def _lmdb_items(lmdb_path, cameras):
    """``{key: key}`` of an LMDB, restricted to ``cameras`` (first key part) when given."""
    keys = read_lmdb_keys(lmdb_path)
    if cameras is None:
        return {key: key for key in keys}
    kept = {key: key for key in keys if key.split('/', 1)[0] in cameras}
    found = {key.split('/', 1)[0] for key in kept}
    missing = [camera for camera in cameras if camera not in found]
    if missing:
        raise ValueError(f'LMDB {lmdb_path!r} has no key for camera(s) {missing} '
                         f'(keys look like {format_list(keys, 3)}).')
    return kept


def _check_layout(opt):
    """The ``layout`` option (None for ``dataroot_lq``/``dataroot_gt``), checked for consistency."""
    layout = opt.get('layout')
    if layout is not None:
        layout = str(layout).lower()
        if layout not in LAYOUTS:
            raise ValueError(f'Unknown layout {opt["layout"]!r}; use one of {LAYOUTS}, or give '
                             'dataroot_lq and dataroot_gt without a layout.')
        if not opt.get('dataroot'):
            raise ValueError(f'layout: {layout} needs dataroot (the folder holding the dataset).')
        if opt.get('dataroot_lq') or opt.get('dataroot_gt'):
            raise ValueError('Give either layout + dataroot or dataroot_lq + dataroot_gt, not both.')
        return layout
    if not (opt.get('dataroot_lq') and opt.get('dataroot_gt')):
        raise ValueError('LLIEPairedDataset needs dataroot_lq and dataroot_gt, or layout '
                         f'({" | ".join(LAYOUTS)}) with dataroot.')
    return None


def _cameras(opt, layout, backend):
    """The cameras to keep: LSRW's default is all; elsewhere only LMDB keys can be filtered."""
    cameras = opt.get('cameras')
    if cameras is None:
        return list(LSRW_CAMERAS) if layout == 'lsrw' else None
    if layout != 'lsrw' and backend != 'lmdb':
        raise ValueError('cameras applies to layout: lsrw or to the lmdb backend (keys '
                         '"<camera>/<stem>"); remove it for this source.')
    cameras = [cameras] if isinstance(cameras, str) else list(cameras)
    if not cameras:
        raise ValueError('cameras is empty: name at least one camera, e.g. [Huawei, Nikon].')
    return cameras
