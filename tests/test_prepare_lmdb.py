"""prepare_lmdb: BasicSR LMDBs from LSRW/LOL/folders, checked, atomic, verified, read by the dataset."""
import glob
import os
import subprocess
import sys

import cv2
import lmdb
import numpy as np
import pytest
import torch

import r2rnet_plugin  # noqa: F401  (registers the dataset)
from r2rnet_plugin import prepare_lmdb
from r2rnet_plugin.data.llie_paired_dataset import LLIEPairedDataset
from r2rnet_plugin.data.lmdb_meta import read_lmdb_meta
from r2rnet_plugin.lmdb_tool import writer as lmdb_writer
from r2rnet_plugin.lmdb_tool.source_images import find_truncation

H, W = 24, 32
REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def noise(seed, shape=(H, W, 3), dtype=np.uint8):
    top = np.iinfo(dtype).max
    return np.random.default_rng(seed).integers(0, top + 1, shape, dtype=dtype)


def write_pair(root, stem, seed, low_ext='.png', high_ext='.png', shape=(H, W, 3), dtype=np.uint8):
    """Noise as the low image, its negative as the high image; returns the two paths."""
    low = noise(seed, shape, dtype)
    paths = []
    for side, ext, img in (('low', low_ext, low), ('high', high_ext, np.iinfo(dtype).max - low)):
        os.makedirs(os.path.join(root, side), exist_ok=True)
        paths.append(os.path.join(root, side, stem + ext))
        assert cv2.imwrite(paths[-1], img)
    return paths


def run(*args, workers=1):
    return prepare_lmdb.main([*map(str, args), '--workers', str(workers), '--no-progress'])


def stored(lmdb_path):
    """{key: decoded array} of a BasicSR LMDB, in meta_info order."""
    env = lmdb.open(str(lmdb_path), readonly=True, lock=False)
    try:
        with env.begin() as txn:
            return {
                line.key: cv2.imdecode(np.frombuffer(txn.get(line.key.encode()), np.uint8), cv2.IMREAD_UNCHANGED)
                for line in read_lmdb_meta(str(lmdb_path))
            }
    finally:
        env.close()


def outputs(out):
    return sorted(os.path.basename(p) for p in glob.glob(os.path.join(str(out), '*.lmdb')))


# ---------------------------------------------------------------- round trip


@pytest.mark.parametrize(
    'ext, shape, dtype',
    [
        ('.png', (H, W, 3), np.uint8),
        ('.png', (H, W, 3), np.uint16),
        ('.jpg', (H, W, 3), np.uint8),
        ('.png', (H, W), np.uint8),  # grey stays 1-channel
        ('.png', (H, W, 4), np.uint16),  # 16-bit with alpha
    ],
    ids=['png8', 'png16', 'jpeg', 'grey', 'rgba16'])
def test_round_trip_equals_decoded_source(tmp_path, ext, shape, dtype):
    root, out = tmp_path / 'lol', tmp_path / 'out'
    sources = {stem: write_pair(root, stem, seed, ext, ext, shape, dtype) for seed, stem in enumerate('ba')}
    assert run('--layout', 'lol', '--root', root, '--out', out, '--verify', workers=2) == 0
    for side, lmdb_name in enumerate(('low.lmdb', 'high.lmdb')):
        images = stored(out / lmdb_name)
        assert list(images) == ['a', 'b']
        for key, img in images.items():
            source = cv2.imread(sources[key][side], cv2.IMREAD_UNCHANGED)  # JPEG: its decoded pixels
            assert img.dtype == source.dtype and np.array_equal(img, source)
    meta = read_lmdb_meta(str(out / 'low.lmdb'))
    assert meta[0].shape == (H, W, shape[2] if len(shape) == 3 else 1) and meta[0].compress_level == 1
    disk = LLIEPairedDataset({'phase': 'val', 'layout': 'lol', 'dataroot': str(root)})
    from_lmdb = LLIEPairedDataset({
        'phase': 'val',
        'layout': 'lol',
        'dataroot': str(out),
        'io_backend': {
            'type': 'lmdb'
        }
    })
    for a, b in zip(disk, from_lmdb):
        assert a['key'] == b['key'] and torch.equal(a['lq'], b['lq']) and torch.equal(a['gt'], b['gt'])


def test_lsrw_keys_and_training_batches(tmp_path):
    root, out = tmp_path / 'lsrw', tmp_path / 'lmdb'
    for seed, (camera, stem) in enumerate([('Huawei', '1'), ('Huawei', '2'), ('Nikon', '1'), ('Nikon', '3')]):
        write_pair(root / camera, stem, seed, low_ext='.jpg' if camera == 'Nikon' else '.png')
    assert run('--layout', 'lsrw', '--root', root, '--out', out, '--compress-level', 6) == 0
    meta = read_lmdb_meta(str(out / 'high.lmdb'))
    assert [line.key for line in meta] == ['Huawei/1', 'Huawei/2', 'Nikon/1', 'Nikon/3']
    assert {line.compress_level for line in meta} == {6}
    assert [line.key for line in read_lmdb_meta(str(out / 'low.lmdb'))] == [line.key for line in meta]
    train = LLIEPairedDataset({
        'phase': 'train',
        'layout': 'lsrw',
        'dataroot': str(out),
        'gt_size': 16,
        'io_backend': {
            'type': 'lmdb'
        }
    })
    for workers in (0, 2):
        batches = list(torch.utils.data.DataLoader(train, batch_size=2, shuffle=True, num_workers=workers))
        assert [b['lq'].shape for b in batches] == [(2, 3, 16, 16)] * 2
        assert sorted(k for b in batches for k in b['key']) == ['Huawei/1', 'Huawei/2', 'Nikon/1', 'Nikon/3']
    explicit = LLIEPairedDataset({
        'phase': 'val',
        'io_backend': {
            'type': 'lmdb'
        },
        'cameras': ['Huawei'],
        'dataroot_lq': str(out / 'low.lmdb'),
        'dataroot_gt': str(out / 'high.lmdb')
    })
    assert [it['key'] for it in explicit] == ['Huawei/1', 'Huawei/2']
    assert torch.allclose(explicit[0]['lq'] + explicit[0]['gt'], torch.ones(3, H, W))


def test_folders_layout_and_camera_subset(tmp_path):
    write_pair(tmp_path / 'src', 'x', 0)
    assert run('--layout', 'folders', '--lq', tmp_path / 'src' / 'low', '--gt', tmp_path / 'src' / 'high', '--out',
               tmp_path / 'out') == 0
    assert list(stored(tmp_path / 'out' / 'low.lmdb')) == ['x']
    for camera in ('Huawei', 'Nikon'):
        write_pair(tmp_path / 'lsrw' / camera, '1', 0)
    assert run('--layout', 'lsrw', '--root', tmp_path / 'lsrw', '--cameras', 'Nikon', '--out', tmp_path / 'nikon') == 0
    assert list(stored(tmp_path / 'nikon' / 'high.lmdb')) == ['Nikon/1']


# ---------------------------------------------------------------- checks before writing


@pytest.fixture
def bad_tree(tmp_path):
    """Good pairs a, b; c: truncated low JPEG; d: empty high file; e: no high; f: sizes differ."""
    root = tmp_path / 'lol'
    write_pair(root, 'a', 0)
    write_pair(root, 'b', 1, low_ext='.jpg')
    truncated, _ = write_pair(root, 'c', 2, low_ext='.jpg')
    content = open(truncated, 'rb').read()
    open(truncated, 'wb').write(content[:len(content) * 2 // 3])
    _, empty = write_pair(root, 'd', 3)
    open(empty, 'wb').close()
    unmatched, high_e = write_pair(root, 'e', 4)
    os.remove(high_e)
    mismatched = write_pair(root, 'f', 5)
    cv2.imwrite(mismatched[1], noise(6, (H, W - 4, 3)))
    return root, [truncated, empty, unmatched, *mismatched]


def test_bad_sources_all_listed_nothing_written(tmp_path, bad_tree, capsys):
    root, bad_paths = bad_tree
    out = tmp_path / 'out'
    assert run('--layout', 'lol', '--root', root, '--out', out) == 2
    error = capsys.readouterr().err
    assert '4 problem(s)' in error and '--skip-bad' in error
    for path in bad_paths:
        assert path in error
    assert 'truncated JPEG' in error and 'empty file' in error and 'differ in size' in error
    assert not out.exists()


def test_skip_bad_skips_exactly_those(tmp_path, bad_tree, capsys):
    root, _ = bad_tree
    out = tmp_path / 'out'
    assert run('--layout', 'lol', '--root', root, '--out', out, '--skip-bad', '--verify') == 0
    printed = capsys.readouterr().out
    assert 'skipped 3 pair(s)' in printed and '1 image(s) without a partner' in printed
    assert 'Verified 2 pairs' in printed
    assert list(stored(out / 'low.lmdb')) == list(stored(out / 'high.lmdb')) == ['a', 'b']
    assert run('--layout', 'lol', '--root', root, '--out', out, '--skip-bad', '--verify-only') == 0


@pytest.mark.parametrize('make', ['jpeg', 'progressive', 'restarts', 'png'])
def test_truncation_found_whatever_the_decoder_does(make):
    img = noise(0, (40, 48, 3))
    params = {
        'progressive': [cv2.IMWRITE_JPEG_PROGRESSIVE, 1],
        'restarts': [cv2.IMWRITE_JPEG_RST_INTERVAL, 1]
    }.get(make, [])
    content = cv2.imencode('.png' if make == 'png' else '.jpg', img, params)[1].tobytes()
    assert find_truncation(content) is None
    assert find_truncation(content + b'\0trailing bytes') is None
    for cut in (2, 13, len(content) // 3):
        assert 'truncated' in find_truncation(content[:-cut])
    if make == 'jpeg':  # an EXIF-like segment holding a complete JPEG (its own end marker) first
        embedded = content[:2] + b'\xff\xe1' + (len(content) + 2).to_bytes(2, 'big') + content + content[2:]
        assert find_truncation(embedded) is None
        assert 'truncated' in find_truncation(embedded[:-40])
    if make == 'png':
        corrupt = bytearray(content)
        corrupt[len(content) // 2] ^= 0xFF
        assert 'bad CRC' in find_truncation(bytes(corrupt))


def test_float_images_refused(tmp_path, capsys):
    write_pair(tmp_path / 'lol', 'a', 0, low_ext='.tiff', high_ext='.tiff')
    cv2.imwrite(str(tmp_path / 'lol' / 'low' / 'a.tiff'), noise(0).astype(np.float32) / 255)
    assert run('--layout', 'lol', '--root', tmp_path / 'lol', '--out', tmp_path / 'out') == 2
    assert 'float32 pixels cannot be stored losslessly' in capsys.readouterr().err


@pytest.mark.parametrize('args', [
    ['--layout', 'folders', '--lq', 'x'],
    ['--layout', 'lol', '--lq', 'x', '--gt', 'y'],
    ['--layout', 'lol', '--root', 'x', '--cameras', 'Nikon'],
    ['--layout', 'lol', '--root', 'x', '--compress-level', '10'],
])
def test_argument_errors(tmp_path, args, capsys):
    assert run(*args, '--out', tmp_path / 'out') == 2
    assert 'error' in capsys.readouterr().err


def test_missing_source_folder(tmp_path, capsys):
    assert run('--layout', 'lsrw', '--root', tmp_path, '--out', tmp_path / 'out') == 2
    assert str(tmp_path / 'Huawei' / 'low') in capsys.readouterr().err


# ---------------------------------------------------------------- atomic output, overwrite


def fail_after(monkeypatch, count, error=RuntimeError('simulated crash')):
    """Make the writer raise ``error`` after ``count`` images have been added to an LMDB."""
    added = []
    original = lmdb_writer._LmdbBuilder.add

    def add(self, *args):
        if len(added) == count:
            raise error
        added.append(args)
        original(self, *args)

    monkeypatch.setattr(lmdb_writer._LmdbBuilder, 'add', add)


@pytest.mark.parametrize('workers', [1, 2])
def test_interrupted_write_leaves_nothing(tmp_path, monkeypatch, workers):
    for seed in range(4):
        write_pair(tmp_path / 'lol', f'{seed}', seed)
    fail_after(monkeypatch, 3)
    with pytest.raises(RuntimeError, match='simulated crash'):
        run('--layout', 'lol', '--root', tmp_path / 'lol', '--out', tmp_path / 'out', workers=workers)
    assert os.listdir(tmp_path / 'out') == []
    monkeypatch.undo()
    fail_after(monkeypatch, 5, KeyboardInterrupt())  # Ctrl-C: exit status 130, nothing left either
    assert run('--layout', 'lol', '--root', tmp_path / 'lol', '--out', tmp_path / 'out', workers=workers) == 130
    assert os.listdir(tmp_path / 'out') == []


def test_interrupted_overwrite_keeps_the_old_output(tmp_path, monkeypatch, capsys):
    root, out = tmp_path / 'lol', tmp_path / 'out'
    write_pair(root, 'a', 0)
    assert run('--layout', 'lol', '--root', root, '--out', out) == 0
    write_pair(root, 'b', 1)
    fail_after(monkeypatch, 1)
    with pytest.raises(RuntimeError):
        run('--layout', 'lol', '--root', root, '--out', out, '--overwrite')
    assert sorted(os.listdir(out)) == ['high.lmdb', 'low.lmdb']
    assert list(stored(out / 'low.lmdb')) == ['a']


@pytest.mark.e2e
def test_killed_write_leaves_no_output(tmp_path):
    """A hard kill (SIGKILL) in the middle of writing: no low.lmdb/high.lmdb, only a hidden temp folder."""
    for seed in range(4):
        write_pair(tmp_path / 'lol', f'{seed}', seed)
    script = ('import os, signal, sys\n'
              'from r2rnet_plugin import prepare_lmdb\n'
              'from r2rnet_plugin.lmdb_tool import writer as lmdb_writer\n'
              'original = lmdb_writer._LmdbBuilder.add\n'
              'def add(self, *args):\n'
              '    original(self, *args)\n'
              '    if len(self.meta_lines) == 2 and self.path.endswith("high.lmdb"):\n'
              '        self._commit()\n'
              '        os.kill(os.getpid(), signal.SIGKILL)\n'
              'lmdb_writer._LmdbBuilder.add = add\n'
              'sys.exit(prepare_lmdb.main(sys.argv[1:]))\n')
    out = tmp_path / 'out'
    result = subprocess.run([
        sys.executable, '-c', script, '--layout', 'lol', '--root',
        str(tmp_path / 'lol'), '--out',
        str(out), '--workers', '1', '--no-progress'
    ],
                            cwd=REPO,
                            capture_output=True)
    assert result.returncode == -9, result.stderr.decode()
    assert outputs(out) == [] and len(lmdb_writer.leftover_temp_dirs(str(out))) == 1


def test_refuses_to_overwrite_without_flag(tmp_path, capsys):
    root, out = tmp_path / 'lol', tmp_path / 'out'
    write_pair(root, 'a', 0)
    assert run('--layout', 'lol', '--root', root, '--out', out) == 0
    write_pair(root, 'b', 1)
    capsys.readouterr()
    assert run('--layout', 'lol', '--root', root, '--out', out) == 2
    error = capsys.readouterr().err
    assert 'already exist' in error and '--overwrite' in error
    assert list(stored(out / 'low.lmdb')) == ['a']
    assert run('--layout', 'lol', '--root', root, '--out', out, '--overwrite') == 0
    assert list(stored(out / 'low.lmdb')) == ['a', 'b']
    assert sorted(os.listdir(out)) == ['high.lmdb', 'low.lmdb']


# ---------------------------------------------------------------- verification


def replace_value(lmdb_path, key, content):
    env = lmdb.open(str(lmdb_path), map_size=1 << 24, lock=False)
    with env.begin(write=True) as txn:
        txn.put(key.encode(), content)
    env.close()


def edit_meta(lmdb_path, old, new):
    meta = lmdb_path / 'meta_info.txt'
    meta.write_text(meta.read_text().replace(old, new))


TAMPERS = {
    'pixels': (lambda out: replace_value(out / 'low.lmdb', 'b',
                                         cv2.imencode('.png', noise(9))[1].tobytes()), 'low.lmdb[b]: '),
    'corrupt-png':
    (lambda out: replace_value(out / 'high.lmdb', 'a', b'\x89PNG\r\n\x1a\n' + b'\0' * 40), 'high.lmdb[a]: corrupt PNG'),
    'meta-shape':
    (lambda out: edit_meta(out / 'high.lmdb', f'a.png ({H},{W},3)', f'a.png ({H},{W - 1},3)'), 'meta_info.txt says'),
    'meta-line-lost': (lambda out: edit_meta(out / 'low.lmdb', f'b.png ({H},{W},3) 1\n', ''), "1 key(s) missing: 'b'"),
}


@pytest.mark.parametrize('tamper', list(TAMPERS))
def test_verify_detects_a_tampered_lmdb(tmp_path, tamper, capsys):
    root, out = tmp_path / 'lol', tmp_path / 'out'
    for seed, stem in enumerate('ab'):
        write_pair(root, stem, seed)
    assert run('--layout', 'lol', '--root', root, '--out', out, '--verify') == 0
    change, message = TAMPERS[tamper]
    change(out)
    capsys.readouterr()
    assert run('--layout', 'lol', '--root', root, '--out', out, '--verify-only', workers=2) == 1
    printed = capsys.readouterr().out
    assert 'Verification FAILED' in printed and message in printed


def test_verify_only_without_output(tmp_path, capsys):
    write_pair(tmp_path / 'lol', 'a', 0)
    assert run('--layout', 'lol', '--root', tmp_path / 'lol', '--out', tmp_path / 'out', '--verify-only') == 2
    assert 'does not exist' in capsys.readouterr().err


# ---------------------------------------------------------------- option files


def load_option_file(name):
    import yaml
    with open(os.path.join(REPO, 'options', name)) as option_file:
        return yaml.safe_load(option_file)


def without_names(opt):
    """``opt`` with its experiment name and the names in its weights paths taken out."""
    import re
    opt.pop('name')
    opt['path'] = {
        k: re.sub(r'experiments/\w+?(_lmdb)?/', 'experiments/NAME/', v) if isinstance(v, str) else v
        for k, v in opt['path'].items()
    }
    return opt


@pytest.mark.parametrize('stage', ['decom', 'denoise', 'relight'])
@pytest.mark.parametrize('disk_file, lmdb_file, root',
                         [('train_r2r_{}.yml', 'train/lsrw_lmdb/train_r2r_{}.yml', 'datasets/LSRW/lmdb'),
                          ('train/lol/train_r2r_{}.yml', 'train/lol_lmdb/train_r2r_{}.yml', 'datasets/LOL/lmdb')])
def test_lmdb_option_files_differ_only_in_data_source(stage, disk_file, lmdb_file, root):
    disk, lmdb_opt = load_option_file(disk_file.format(stage)), load_option_file(lmdb_file.format(stage))
    assert lmdb_opt['name'] == disk['name'] + '_lmdb'  # its own experiments folder
    for phase, folder in (('train', 'train'), ('val', 'eval')):
        assert lmdb_opt['datasets'][phase].pop('dataroot') == f'{root}/{folder}'
        assert lmdb_opt['datasets'][phase].pop('io_backend') == {'type': 'lmdb'}
        disk['datasets'][phase].pop('dataroot')
        disk['datasets'][phase].pop('io_backend')
    assert without_names(lmdb_opt) == without_names(disk)


@pytest.mark.parametrize('stage', ['decom', 'denoise', 'relight'])
def test_lsrw_lmdb_option_files_read_prepared_lmdbs(tmp_path, stage):
    from basicsr.data import build_dataset
    for camera in ('Huawei', 'Nikon'):
        write_pair(tmp_path / 'lsrw' / camera, '1', 0)
    assert run('--layout', 'lsrw', '--root', tmp_path / 'lsrw', '--out', tmp_path / 'lmdb') == 0
    train = dict(
        load_option_file(f'train/lsrw_lmdb/train_r2r_{stage}.yml')['datasets']['train'],
        phase='train',
        dataroot=str(tmp_path / 'lmdb'),
        gt_size=16)
    assert build_dataset(train)[1]['key'] == 'Nikon/1'
