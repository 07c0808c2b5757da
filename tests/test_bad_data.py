"""Bad data and bad dataset options: every problem is named (file, LMDB key or option), at
construction where it is cheap, else at read time; ``bad_data: skip`` leaves bad pairs out."""
import logging
import os
import pickle
import random

import cv2
import numpy as np
import pytest
import torch

import r2rnet_plugin  # noqa: F401  (registers the dataset)
from basicsr.utils.lmdb_util import make_lmdb_from_imgs
from r2rnet_plugin.data.bad_data import BadDataError, BadSampleError
from r2rnet_plugin.data.image_io import ImageDecodeError
from r2rnet_plugin.data.llie_paired_dataset import LLIEPairedDataset
from r2rnet_plugin.data.sample_seeds import SeededIndex, sample_seed
from r2rnet_plugin.utils.option_checks import OptionError

H, W = 40, 48


def write_pair(root, stem, seed=0, ext='.png', lq=None, gt=None):
    rng = np.random.default_rng(seed)
    lq = rng.integers(0, 256, (H, W, 3), dtype=np.uint8) if lq is None else lq
    gt = 255 - lq if gt is None else gt
    for side, img in (('low', lq), ('high', gt)):
        os.makedirs(root / side, exist_ok=True)
        assert cv2.imwrite(str(root / side / f'{stem}{ext}'), img)


def make_set(root, count=5):
    for i in range(count):
        write_pair(root, f'p{i}', i)
    return root


def dataset(root, phase='train', **opt):
    base = {'phase': phase, 'name': 'tiny', 'layout': 'lol', 'dataroot': str(root), 'io_backend': {'type': 'disk'}}
    if phase == 'train':
        base['gt_size'] = 32
    return LLIEPairedDataset({**base, **opt})


def truncate(path, keep=0.6):
    content = path.read_bytes()
    path.write_bytes(content[:int(len(content) * keep)])


# ------------------------------------------------------------------------- what is caught, and where


@pytest.mark.parametrize('damage, message', [
    (lambda p: truncate(p), 'truncated PNG'),
    (lambda p: p.write_bytes(b'just some text, not an image'), 'not a supported image file'),
])
def test_damaged_file_named_at_read_time(tmp_path, damage, message):
    make_set(tmp_path)
    damage(tmp_path / 'high' / 'p2.png')
    ds = dataset(tmp_path)  # cheap checks only: nothing decoded yet
    with pytest.raises(ImageDecodeError, match=f"{tmp_path / 'high' / 'p2.png'}.*{message}"):
        ds[2]


def test_truncated_jpeg_is_not_decoded_as_grey(tmp_path):
    """OpenCV fills a cut JPEG with grey; the dataset refuses it instead."""
    make_set(tmp_path, 1)
    os.remove(tmp_path / 'low' / 'p0.png')
    write_pair(tmp_path, 'p0', 0, ext='.jpg')
    os.remove(tmp_path / 'high' / 'p0.jpg')
    truncate(tmp_path / 'low' / 'p0.jpg', 0.5)
    with pytest.raises(ImageDecodeError, match='p0.jpg.*truncated JPEG'):
        dataset(tmp_path)[0]


def test_empty_files_named_at_construction(tmp_path):
    make_set(tmp_path)
    (tmp_path / 'low' / 'p1.png').write_bytes(b'')
    (tmp_path / 'high' / 'p3.png').write_bytes(b'')
    with pytest.raises(BadSampleError) as info:
        dataset(tmp_path)
    message = str(info.value)
    assert "LLIEPairedDataset 'tiny': 2 of 5 pairs cannot be used" in message
    assert f"{tmp_path / 'low' / 'p1.png'}: empty file (0 bytes)" in message
    assert f"{tmp_path / 'high' / 'p3.png'}: empty file (0 bytes)" in message
    assert 'bad_data: skip' in message


def test_file_removed_after_construction_is_named(tmp_path):
    make_set(tmp_path, 2)
    ds = dataset(tmp_path, phase='val')
    os.remove(tmp_path / 'high' / 'p1.png')
    with pytest.raises(BadSampleError, match=f"Cannot read image '{tmp_path / 'high' / 'p1.png'}'"):
        ds[1]


def test_grey_rgba_and_16_bit_images_are_fine(tmp_path):
    grey = np.random.default_rng(0).integers(0, 256, (H, W), dtype=np.uint8)
    write_pair(tmp_path, 'a', lq=grey, gt=np.dstack([grey] * 3 + [np.full_like(grey, 7)]))
    write_pair(tmp_path, 'b', lq=grey.astype(np.uint16) * 257, gt=np.dstack([grey] * 3))
    ds = dataset(tmp_path, phase='val')
    for item in ds:
        assert torch.allclose(item['lq'], item['gt'], atol=1e-6)  # same picture, other encodings


def test_nan_pixels_are_refused(tmp_path):
    img = np.random.default_rng(0).random((H, W, 3)).astype(np.float32)
    img[3, 4, 1] = np.nan
    write_pair(tmp_path, 'a', ext='.tiff', lq=img, gt=img)
    with pytest.raises(ImageDecodeError, match='a.tiff.*NaN'):
        dataset(tmp_path, phase='val')[0]


def test_pair_of_different_sizes_and_too_small_images(tmp_path):
    make_set(tmp_path, 2)
    cv2.imwrite(str(tmp_path / 'high' / 'p0.png'), np.zeros((H, W - 2, 3), np.uint8))
    with pytest.raises(BadSampleError, match='p0.png is 48x40 .*p0.png is 46x40'):
        dataset(tmp_path)[0]
    with pytest.raises(BadSampleError, match=f"{tmp_path / 'low' / 'p1.png'}.*smaller than gt_size=64"):
        dataset(tmp_path, gt_size=64)[1]


def test_check_images_decodes_everything_at_construction(tmp_path):
    make_set(tmp_path)
    truncate(tmp_path / 'low' / 'p4.png')
    with pytest.raises(BadSampleError, match='1 of 5 pairs cannot be used.*p4.png.: truncated PNG'):
        dataset(tmp_path, check_images=True)
    with pytest.raises(BadSampleError, match='smaller than gt_size=41'):
        dataset(tmp_path, check_images=True, bad_data='fail', gt_size=41)


# ---------------------------------------------------------------------------------- LMDB


@pytest.fixture
def lmdb_set(tmp_path):
    make_set(tmp_path, 4)
    keys = [f'p{i}' for i in range(4)]
    for side in ('low', 'high'):
        make_lmdb_from_imgs(str(tmp_path), str(tmp_path / f'{side}.lmdb'), [f'{side}/{k}.png' for k in keys], keys)
    return tmp_path


def lmdb_dataset(root, **opt):
    return dataset(root, io_backend={'type': 'lmdb'}, **opt)


def add_meta_line(root, key):
    for side in ('low', 'high'):
        with open(root / f'{side}.lmdb' / 'meta_info.txt', 'a') as f:
            f.write(f'{key}.png ({H},{W},3) 1\n')


def test_lmdb_key_missing_from_data_mdb_is_named_at_construction(lmdb_set):
    add_meta_line(lmdb_set, 'ghost')
    with pytest.raises(BadSampleError) as info:
        lmdb_dataset(lmdb_set)
    message = str(info.value)
    assert f"'ghost' in {lmdb_set / 'low.lmdb'}: listed in meta_info.txt but not in data.mdb" in message
    assert 'wrong or stale meta_info.txt' in message
    ds = lmdb_dataset(lmdb_set, bad_data='skip', max_bad_fraction=0.5)
    assert [item['key'] for item in ds] == ['p0', 'p1', 'p2', 'p3']


def test_lmdb_with_a_wrong_meta_info(lmdb_set):
    for side in ('low', 'high'):
        (lmdb_set / f'{side}.lmdb' / 'meta_info.txt').write_text(''.join(f'img{i}.png ({H},{W},3) 1\n'
                                                                         for i in range(4)))
    with pytest.raises(BadSampleError, match="4 of 4 pairs cannot be used: 'img0' in .*4 key"):
        lmdb_dataset(lmdb_set)


def test_lmdb_without_data_mdb(lmdb_set):
    os.remove(lmdb_set / 'high.lmdb' / 'data.mdb')
    with pytest.raises(FileNotFoundError, match=f"{lmdb_set / 'high.lmdb'}.*data.mdb"):
        lmdb_dataset(lmdb_set)


# ---------------------------------------------------------------------------- bad_data: skip


def test_skip_drops_what_construction_finds_and_logs_it(tmp_path, caplog):
    make_set(tmp_path, 10)
    (tmp_path / 'high' / 'p7.png').write_bytes(b'')
    with caplog.at_level(logging.WARNING):
        ds = dataset(tmp_path, bad_data='skip')
    assert len(ds) == 9 and 'p7' not in [key for key, _, _ in ds.source.pairs]
    assert "left out pair 'p7'" in caplog.text and 'empty file' in caplog.text and '1 of 10' in caplog.text


def test_skip_replaces_bad_training_pairs_by_the_next_usable_one(tmp_path, caplog):
    make_set(tmp_path, 10)
    truncate(tmp_path / 'low' / 'p3.png')
    cv2.imwrite(str(tmp_path / 'high' / 'p4.png'), np.zeros((H + 2, W, 3), np.uint8))
    ds = dataset(tmp_path, bad_data='skip', max_bad_fraction=0.2)
    with caplog.at_level(logging.WARNING):
        keys = [ds[SeededIndex(i, 7)]['key'] for i in range(10)]
    assert keys == ['p0', 'p1', 'p2', 'p5', 'p5', 'p5', 'p6', 'p7', 'p8', 'p9']
    assert "left out pair 'p3'" in caplog.text and 'truncated PNG' in caplog.text
    assert "left out pair 'p4'" in caplog.text and 'same size' in caplog.text
    assert caplog.text.count("left out pair 'p3'") == 1  # logged once, however often it is drawn
    assert ds[3]['key'] == 'p5'


def test_skip_stops_when_too_much_is_bad(tmp_path):
    make_set(tmp_path, 10)
    for i in (1, 5):
        truncate(tmp_path / 'low' / f'p{i}.png')
    ds = dataset(tmp_path, bad_data='skip', max_bad_fraction=0.15)
    assert ds[1]['key'] == 'p2'  # p1 left out: 1 of 10 is allowed
    with pytest.raises(BadDataError, match="2 of 10 pairs are bad, more than max_bad_fraction 0.15.*'p1', 'p5'"):
        ds[5]


def test_validation_images_are_never_replaced(tmp_path):
    make_set(tmp_path, 3)
    truncate(tmp_path / 'low' / 'p1.png')
    ds = dataset(tmp_path, phase='val', bad_data='skip', max_bad_fraction=0.5)
    with pytest.raises(ImageDecodeError, match='p1.png'):
        ds[1]


def test_skip_in_dataloader_workers_shares_the_record(tmp_path, caplog):
    make_set(tmp_path, 8)
    truncate(tmp_path / 'high' / 'p5.png')
    ds = dataset(tmp_path, bad_data='skip', max_bad_fraction=0.2)
    loader = torch.utils.data.DataLoader(ds, batch_size=2, num_workers=2)
    keys = [key for batch in loader for key in batch['key']]
    assert keys == ['p0', 'p1', 'p2', 'p3', 'p4', 'p6', 'p6', 'p7']
    assert ds.bad.bad_names() == ["'p5'"]  # seen by a worker, recorded in shared memory


def test_fail_in_a_dataloader_worker_names_the_file(tmp_path):
    make_set(tmp_path, 4)
    truncate(tmp_path / 'high' / 'p2.png')
    loader = torch.utils.data.DataLoader(dataset(tmp_path), batch_size=2, num_workers=1)
    with pytest.raises(ImageDecodeError, match=f"{tmp_path / 'high' / 'p2.png'}.*truncated PNG"):
        list(loader)


def test_a_skipping_dataset_can_be_copied(tmp_path):
    make_set(tmp_path, 3)
    ds = dataset(tmp_path, bad_data='skip', max_bad_fraction=0.5)
    ds.bad.record(1, 'test')
    copy = pickle.loads(pickle.dumps(ds))
    assert copy.bad.bad_names() == ["'p1'"] and copy[1]['key'] == 'p2'


# ------------------------------------------------------------------------- per-sample seeds


def test_seeded_index_makes_the_crop_independent_of_the_process(tmp_path):
    ds = dataset(make_set(tmp_path, 2))
    index = SeededIndex(1, sample_seed(0, 3, 17))
    random.seed(1)
    first = ds[index]['lq']
    random.seed(2)
    assert torch.equal(ds[index]['lq'], first)
    assert torch.equal(ds[pickle.loads(pickle.dumps(index))]['lq'], first)
    others = [ds[SeededIndex(1, sample_seed(0, 3, p))]['lq'] for p in range(18, 24)]
    assert not all(torch.equal(o, first) for o in others)
    assert sample_seed(0, 3, 17) != sample_seed(0, 4, 17) != sample_seed(1, 3, 17)


# ------------------------------------------------------------------------------- options


@pytest.mark.parametrize('opt, message', [
    ({
        'gt_sze': 32
    }, "unknown option 'datasets: train: gt_sze' \\(dataset 'tiny'\\); did you mean 'gt_size'\\?"),
    ({
        'use_flp': True
    }, "did you mean 'use_flip'"),
    ({
        'bad_data': 'skipp'
    }, "'datasets: train: bad_data' must be one of fail, skip; got 'skipp'; did you mean 'skip'"),
    ({
        'max_bad_fraction': 2
    }, "'datasets: train: max_bad_fraction' must be a finite number in \\[0, 1\\]"),
    ({
        'gt_size': '96'
    }, "'datasets: train: gt_size' must be a positive integer; got '96'"),
    ({
        'gt_size': 0
    }, "'datasets: train: gt_size' must be a positive integer; got 0"),
    ({
        'batch_size_per_gpu': 0
    }, "'datasets: train: batch_size_per_gpu' must be a positive integer"),
    ({
        'batch_size_per_gpu': 2.5
    }, "'datasets: train: batch_size_per_gpu' must be a positive integer"),
    ({
        'num_worker_per_gpu': -1
    }, "'datasets: train: num_worker_per_gpu' must be an integer >= 0"),
    ({
        'use_rot': 'false'
    }, "'datasets: train: use_rot' must be true or false; got 'false'"),
])
def test_option_errors_name_the_option(tmp_path, opt, message):
    make_set(tmp_path, 1)
    with pytest.raises(OptionError, match=message):
        dataset(tmp_path, **opt)


def test_basicsr_dataloader_keys_are_known(tmp_path):
    make_set(tmp_path, 2)
    ds = dataset(
        tmp_path,
        type='LLIEPairedDataset',
        scale=1,
        num_worker_per_gpu=0,
        batch_size_per_gpu=2,
        dataset_enlarge_ratio=1,
        prefetch_mode=None,
        pin_memory=False,
        persistent_workers=False)
    assert len(ds) == 2
