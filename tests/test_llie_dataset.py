"""LLIEPairedDataset: sources (folders, LSRW, LOL, LMDB), pairing, decoding, training crops."""
import os
import random

import cv2
import numpy as np
import pytest
import torch

import r2rnet_plugin  # noqa: F401  (registers the dataset)
from basicsr.utils.lmdb_util import make_lmdb_from_imgs
from r2rnet_plugin.data.image_io import ImageDecodeError, decode_image
from r2rnet_plugin.data.llie_paired_dataset import LLIEPairedDataset

H, W = 40, 48


def write_pair(root, stem, seed, low='low', high='high', low_ext='.png', high_ext='.png', size=(H, W)):
    """Write random noise as the low image and its negative (255 - low) as the high image."""
    lq = np.random.default_rng(seed).integers(0, 256, (*size, 3), dtype=np.uint8)
    for folder, name, img in ((low, stem + low_ext, lq), (high, stem + high_ext, 255 - lq)):
        os.makedirs(os.path.join(root, folder), exist_ok=True)
        assert cv2.imwrite(os.path.join(root, folder, name), img)
    return lq


def make_lol(root, stems=('c', 'a', 'b')):
    for seed, stem in enumerate(stems):
        write_pair(root, stem, seed)
    return str(root)


def make_lsrw(root):
    """Huawei 1, 2 and Nikon 1, 3 (stem '1' on both cameras)."""
    for seed, (camera, stem) in enumerate([('Nikon', '3'), ('Huawei', '2'), ('Nikon', '1'), ('Huawei', '1')]):
        write_pair(root, stem, seed, low=f'{camera}/low', high=f'{camera}/high')
    return str(root)


def make_lmdb(root, name, rel_paths, keys):
    make_lmdb_from_imgs(str(root), os.path.join(str(root), name), rel_paths, keys)
    return os.path.join(str(root), name)


def dataset(phase='val', **opt):
    return LLIEPairedDataset({'phase': phase, 'io_backend': {'type': 'disk'}, **opt})


def rgb_of(path):
    return cv2.imread(path, cv2.IMREAD_UNCHANGED)[..., ::-1].astype(np.float32) / 255


def hwc(tensor):
    return tensor.permute(1, 2, 0).numpy()


# ---------------------------------------------------------------- sources and pairing


def test_folders_source_sorted_full_size_rgb(tmp_path):
    for seed, stem in enumerate(['c', 'a', 'b']):  # high side in another (lossless) format
        write_pair(tmp_path, stem, seed, low='lq', high='gt', high_ext='.bmp')
    ds = dataset(dataroot_lq=str(tmp_path / 'lq'), dataroot_gt=str(tmp_path / 'gt'))
    assert len(ds) == 3
    items = [ds[i] for i in range(len(ds))]
    assert [os.path.basename(it['lq_path']) for it in items] == ['a.png', 'b.png', 'c.png']
    assert [os.path.basename(it['gt_path']) for it in items] == ['a.bmp', 'b.bmp', 'c.bmp']
    for it in items:
        assert it['lq'].shape == it['gt'].shape == (3, H, W)
        assert it['lq'].dtype == it['gt'].dtype == torch.float32
        assert np.array_equal(hwc(it['lq']), rgb_of(it['lq_path']))  # RGB order, /255
        assert torch.allclose(it['lq'] + it['gt'], torch.ones(3, H, W))


def test_lol_layout(tmp_path):
    ds = dataset(layout='lol', dataroot=make_lol(tmp_path))
    assert [it['key'] for it in ds] == ['a', 'b', 'c']
    assert ds[0]['lq_path'] == os.path.join(str(tmp_path), 'low', 'a.png')
    assert ds[0]['gt_path'] == os.path.join(str(tmp_path), 'high', 'a.png')


def test_lsrw_layout_two_cameras_and_filter(tmp_path):
    root = make_lsrw(tmp_path)
    ds = dataset(layout='lsrw', dataroot=root)
    assert [ds[i]['key'] for i in range(len(ds))] == ['Huawei/1', 'Huawei/2', 'Nikon/1', 'Nikon/3']
    assert ds[2]['lq_path'] == os.path.join(root, 'Nikon', 'low', '1.png')
    assert ds[2]['gt_path'] == os.path.join(root, 'Nikon', 'high', '1.png')
    nikon = dataset(layout='lsrw', dataroot=root, cameras=['Nikon'])
    assert [nikon[i]['key'] for i in range(len(nikon))] == ['Nikon/1', 'Nikon/3']


def test_unmatched_files_listed_per_side(tmp_path):
    for seed, stem in enumerate(['a', 'b']):
        write_pair(tmp_path, stem, seed)
    write_pair(tmp_path, 'only_low', 5, high='spare')
    write_pair(tmp_path, 'only_high', 6, low='spare')
    low, high = str(tmp_path / 'low'), str(tmp_path / 'high')
    with pytest.raises(ValueError) as info:
        dataset(layout='lol', dataroot=str(tmp_path))
    message = str(info.value)
    assert f"1 in {low} without a partner in {high}: '{os.path.join(low, 'only_low.png')}'" in message
    assert f"1 in {high} without a partner in {low}: '{os.path.join(high, 'only_high.png')}'" in message


def test_empty_or_missing_source_names_folder(tmp_path):
    (tmp_path / 'low').mkdir()
    (tmp_path / 'high').mkdir()
    (tmp_path / 'low' / 'notes.txt').write_text('not an image')
    with pytest.raises(ValueError, match=f"'{tmp_path / 'low'}' holds no image"):
        dataset(layout='lol', dataroot=str(tmp_path))
    with pytest.raises(FileNotFoundError, match=str(tmp_path / 'Huawei' / 'low')):
        dataset(layout='lsrw', dataroot=str(tmp_path))


def test_same_stem_twice_on_one_side_is_an_error(tmp_path):
    make_lol(tmp_path, stems=['a'])
    write_pair(tmp_path, 'a', 1, high='other', low_ext='.bmp')
    with pytest.raises(ValueError, match='same stem'):
        dataset(layout='lol', dataroot=str(tmp_path))


@pytest.mark.parametrize('opt, message', [
    ({
        'layout': 'lol'
    }, 'needs dataroot'),
    ({
        'layout': 'sid',
        'dataroot': 'x'
    }, 'Unknown layout'),
    ({
        'layout': 'lol',
        'dataroot': 'x',
        'dataroot_lq': 'y'
    }, 'not both'),
    ({
        'dataroot_lq': 'x'
    }, 'needs dataroot_lq and dataroot_gt'),
    ({
        'dataroot_lq': 'x',
        'dataroot_gt': 'y',
        'cameras': ['Nikon']
    }, 'cameras applies'),
    ({
        'dataroot_lq': 'x',
        'dataroot_gt': 'y',
        'io_backend': {
            'type': 'memcached'
        }
    }, 'not supported'),
])
def test_option_errors(opt, message):
    with pytest.raises(ValueError, match=message):
        LLIEPairedDataset({'phase': 'val', **opt})


def test_train_needs_gt_size(tmp_path):
    with pytest.raises(ValueError, match='gt_size'):
        dataset('train', layout='lol', dataroot=make_lol(tmp_path))


# ---------------------------------------------------------------- LMDB backend


@pytest.fixture
def lsrw_with_lmdb(tmp_path):
    root = make_lsrw(tmp_path)
    keys = ['Huawei/1', 'Huawei/2', 'Nikon/1', 'Nikon/3']
    for side in ('low', 'high'):
        rel = [f'{key.split("/")[0]}/{side}/{key.split("/")[1]}.png' for key in keys]
        make_lmdb(root, f'{side}.lmdb', rel, keys)
    return root


def test_lmdb_gives_the_disk_pixels(lsrw_with_lmdb):
    root = lsrw_with_lmdb
    lmdb_opt = {'phase': 'val', 'layout': 'lsrw', 'dataroot': root, 'io_backend': {'type': 'lmdb'}}
    disk, lmdb = dataset(layout='lsrw', dataroot=root), LLIEPairedDataset(lmdb_opt)
    assert len(lmdb) == len(disk) == 4
    for a, b in zip(disk, lmdb):
        assert a['key'] == b['key'] == b['lq_path'] == b['gt_path']
        assert torch.equal(a['lq'], b['lq']) and torch.equal(a['gt'], b['gt'])
    assert lmdb_opt['io_backend'] == {'type': 'lmdb'}  # the option dict is left as it was
    explicit = LLIEPairedDataset({
        'phase': 'val',
        'io_backend': {
            'type': 'lmdb'
        },
        'cameras': ['Huawei'],
        'dataroot_lq': os.path.join(root, 'low.lmdb'),
        'dataroot_gt': os.path.join(root, 'high.lmdb')
    })
    assert [it['key'] for it in explicit] == ['Huawei/1', 'Huawei/2']
    assert torch.equal(explicit[1]['gt'], disk[1]['gt'])


def test_lmdb_in_dataloader_workers(lsrw_with_lmdb):
    ds = LLIEPairedDataset({
        'phase': 'train',
        'layout': 'lsrw',
        'dataroot': lsrw_with_lmdb,
        'gt_size': 16,
        'io_backend': {
            'type': 'lmdb'
        }
    })
    ds[0]  # opens the LMDB in this process before the workers fork
    batches = list(torch.utils.data.DataLoader(ds, batch_size=2, num_workers=2))
    assert [b['lq'].shape for b in batches] == [(2, 3, 16, 16)] * 2
    assert all(torch.allclose(b['lq'] + b['gt'], torch.ones_like(b['lq'])) for b in batches)
    assert ds[1]['lq'].shape == (3, 16, 16)  # the parent's handles survive the workers


def test_lmdb_unmatched_keys_listed(tmp_path):
    make_lol(tmp_path, stems=['a', 'b', 'c'])
    low = make_lmdb(tmp_path, 'low.lmdb', ['low/a.png', 'low/b.png'], ['a', 'b'])
    high = make_lmdb(tmp_path, 'high.lmdb', ['high/a.png', 'high/c.png'], ['a', 'c'])
    with pytest.raises(ValueError) as info:
        LLIEPairedDataset({'phase': 'val', 'layout': 'lol', 'dataroot': str(tmp_path), 'io_backend': {'type': 'lmdb'}})
    assert f"in {low} without a partner in {high}: 'b'" in str(info.value)
    assert f"in {high} without a partner in {low}: 'c'" in str(info.value)


# ---------------------------------------------------------------- decoding


def encode(img, ext='.png'):
    ok, buf = cv2.imencode(ext, img)
    assert ok
    return buf.tobytes()


def test_decode_grey_rgba_16bit():
    grey = np.arange(12, dtype=np.uint8).reshape(3, 4)
    out = decode_image(encode(grey), 'grey.png')
    assert out.shape == (3, 4, 3) and out.dtype == np.float32
    assert np.array_equal(out, np.repeat(grey[..., None] / np.float32(255), 3, axis=2))
    bgra = np.zeros((2, 2, 4), np.uint8)
    bgra[..., 0], bgra[..., 2], bgra[..., 3] = 255, 51, 7  # blue, red, alpha
    assert np.allclose(decode_image(encode(bgra), 'rgba.png')[0, 0], [0.2, 0, 1])
    deep = np.full((2, 2, 3), 65535 // 5, np.uint16)
    assert np.allclose(decode_image(encode(deep), 'deep.png'), 0.2, atol=1e-6)


def test_undecodable_file_is_named(tmp_path):
    make_lol(tmp_path, stems=['a'])
    (tmp_path / 'low' / 'b.png').write_bytes(b'not an image')
    (tmp_path / 'high' / 'b.png').write_bytes(b'')
    with pytest.raises(ValueError, match=str(tmp_path / 'high' / 'b.png') + '.*empty'):  # found when built
        dataset(layout='lol', dataroot=str(tmp_path))
    write_pair(tmp_path, 'b', 1, low='spare')
    ds = dataset(layout='lol', dataroot=str(tmp_path))
    with pytest.raises(ImageDecodeError, match=str(tmp_path / 'low' / 'b.png')):  # found when read
        ds[1]
    with pytest.raises(ImageDecodeError, match='empty|Cannot decode'):
        decode_image(b'', str(tmp_path / 'high' / 'b.png'))


def test_pair_of_different_sizes_names_both(tmp_path):
    write_pair(tmp_path, 'a', 0)
    cv2.imwrite(str(tmp_path / 'high' / 'a.png'), np.zeros((H, W - 4, 3), np.uint8))
    with pytest.raises(ValueError, match='same size') as info:
        dataset(layout='lol', dataroot=str(tmp_path))[0]
    assert str(tmp_path / 'low' / 'a.png') in str(info.value)
    assert str(tmp_path / 'high' / 'a.png') in str(info.value)


# ---------------------------------------------------------------- training crop and augmentation


def window_transform(patch, image):
    """The (turns, flipped) that map ``patch`` back onto a window of ``image``, or None."""
    size = patch.shape[0]
    for flipped in (False, True):
        for turns in range(4):
            candidate = np.rot90(np.fliplr(patch) if flipped else patch, turns)
            for top in range(image.shape[0] - size + 1):
                for left in range(image.shape[1] - size + 1):
                    if np.array_equal(candidate, image[top:top + size, left:left + size]):
                        return turns, flipped
    return None


@pytest.mark.parametrize('use_flip, use_rot, min_kinds, max_kinds', [(True, True, 4, 8), (False, False, 1, 1)])
def test_train_crop_same_window_on_lq_and_gt(tmp_path, use_flip, use_rot, min_kinds, max_kinds):
    root = make_lol(tmp_path, stems=['a'])
    ds = dataset('train', layout='lol', dataroot=root, gt_size=24, use_flip=use_flip, use_rot=use_rot)
    image = rgb_of(os.path.join(root, 'low', 'a.png'))
    kinds = set()
    for seed in range(24):
        random.seed(seed)
        item = ds[0]
        assert item['lq'].shape == item['gt'].shape == (3, 24, 24)
        assert item['lq'].is_contiguous()
        assert torch.allclose(item['lq'] + item['gt'], torch.ones(3, 24, 24))  # gt = 1 - lq, pixelwise
        kind = window_transform(hwc(item['lq']), image)
        assert kind is not None, 'the training patch is not a flipped/rotated window of the image'
        kinds.add(kind)
    assert min_kinds <= len(kinds) <= max_kinds


def test_train_is_reproducible_with_the_seed(tmp_path):
    ds = dataset('train', layout='lol', dataroot=make_lol(tmp_path), gt_size=24)
    random.seed(7)
    first = [ds[i]['lq'] for i in range(3)]
    random.seed(7)
    assert all(torch.equal(a, ds[i]['lq']) for i, a in enumerate(first))


def test_image_smaller_than_gt_size_names_file_and_size(tmp_path):
    ds = dataset('train', layout='lol', dataroot=make_lol(tmp_path), gt_size=W + 1)
    with pytest.raises(ValueError, match=f'gt_size={W + 1}') as info:
        ds[0]
    assert str(tmp_path / 'low' / 'a.png') in str(info.value)


# ---------------------------------------------------------------- BasicSR integration


def test_basicsr_build_dataset_finds_it(tmp_path):
    from basicsr.data import build_dataset
    opt = {
        'name': 'lol',
        'type': 'LLIEPairedDataset',
        'phase': 'val',
        'layout': 'lol',
        'dataroot': make_lol(tmp_path),
        'io_backend': {
            'type': 'disk'
        },
        'scale': 1
    }
    ds = build_dataset(opt)
    assert type(ds).__module__ == 'r2rnet_plugin.data.llie_paired_dataset'
    assert len(ds) == 3 and ds[0]['lq'].shape == (3, H, W)
