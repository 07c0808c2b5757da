"""prepare_lmdb and the dataset's LMDB reading with hostile names and damaged databases."""
import os
import subprocess
import sys

import cv2
import numpy as np
import pytest

from r2rnet_plugin import prepare_lmdb
from r2rnet_plugin.data.bad_data import BadSampleError
from r2rnet_plugin.data.file_clients import get_file_client
from r2rnet_plugin.data.image_io import decode_image
from r2rnet_plugin.data.llie_paired_dataset import LLIEPairedDataset
from r2rnet_plugin.data.lmdb_meta import key_problem
from r2rnet_plugin.data.lmdb_open import LmdbReadError

H, W = 12, 16
REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def write_lol(root, stems):
    """LOL layout ``root/{low,high}/<stem>.png``, random pixels; returns the root as text."""
    for seed, stem in enumerate(stems):
        low = np.random.default_rng(seed).integers(0, 256, (H, W, 3), dtype=np.uint8)
        for side, img in (('low', low), ('high', 255 - low)):
            os.makedirs(os.path.join(root, side), exist_ok=True)
            assert cv2.imwrite(os.path.join(root, side, stem + '.png'), img)
    return str(root)


def run(*args):
    return prepare_lmdb.main([*map(str, args), '--workers', '1', '--no-progress'])


def lmdb_dataset(out):
    return LLIEPairedDataset({'phase': 'val', 'layout': 'lol', 'dataroot': str(out), 'io_backend': {'type': 'lmdb'}})


def zero_pages_after_meta(data_file):
    """Overwrite every page but the two meta pages with zeros (the file keeps its size)."""
    size = os.path.getsize(data_file)
    with open(data_file, 'r+b') as f:
        f.seek(2 * 4096)
        f.write(bytes(size - 2 * 4096))


# ------------------------------------------------------------------------ names (item 9)


def test_names_meta_info_cannot_hold_are_refused_naming_the_file(tmp_path, capsys):
    root = write_lol(tmp_path / 'lol', ['ok', ' leading', 'new\nline'])
    out = tmp_path / 'out'
    assert run('--layout', 'lol', '--root', root, '--out', out) == 2
    err = capsys.readouterr().err
    assert "/ leading.png'" in err and "leading blanks" in err
    assert "/new\\nline.png'" in err and 'control character' in err
    assert not out.exists()


@pytest.mark.parametrize('key, ok', [('two words', True), ('trailing ', True), ('v1.2', True), ('Huawei/7', True),
                                     (' lead', False), ('a\tb', False), ('a\rb', False), ('', False), ('é', False)])
def test_key_problem(key, ok):
    assert (key_problem(key) is None) == ok


def test_every_written_lmdb_reads_back_through_the_dataset(tmp_path, capsys):
    stems = ['plain', 'two words', 'trailing ', 'v1.2', ' leading']
    root = write_lol(tmp_path / 'lol', stems)
    out = tmp_path / 'out'
    assert run('--layout', 'lol', '--root', root, '--out', out, '--skip-bad', '--verify') == 0
    assert "/ leading.png'" in capsys.readouterr().out  # skipped, and said so
    dataset = lmdb_dataset(out)
    assert sorted(sample['key'] for sample in dataset) == sorted(stems[:-1])
    for sample in dataset:
        with open(os.path.join(root, 'low', sample['key'] + '.png'), 'rb') as f:
            expected = decode_image(f.read(), sample['key'])
        assert np.array_equal(sample['lq'].numpy().transpose(1, 2, 0), expected)


# ------------------------------------------------------------------------ damaged LMDBs


@pytest.fixture
def written(tmp_path):
    root = write_lol(tmp_path / 'lol', ['a', 'b'])
    out = tmp_path / 'out'
    assert run('--layout', 'lol', '--root', root, '--out', out) == 0
    return root, out


def test_verify_only_reports_a_damaged_page_with_the_key(written, capsys):
    root, out = written
    zero_pages_after_meta(out / 'high.lmdb' / 'data.mdb')
    capsys.readouterr()
    assert run('--layout', 'lol', '--root', root, '--out', out, '--verify-only') == 1
    printed = capsys.readouterr().out
    assert 'Verification FAILED' in printed
    assert f"{out / 'high.lmdb'}[a]: cannot read the record" in printed and 'MDB_CORRUPTED' in printed


def test_verify_only_reports_an_unreadable_meta_info(written, capsys):
    root, out = written
    (out / 'low.lmdb' / 'meta_info.txt').write_bytes(b'\xff\xfe\x00junk')
    assert run('--layout', 'lol', '--root', root, '--out', out, '--verify-only') == 1
    printed = capsys.readouterr().out
    assert 'Verification FAILED' in printed and str(out / 'low.lmdb' / 'meta_info.txt') in printed


@pytest.mark.e2e
def test_truncated_data_mdb_is_named_not_a_crash(written):
    """A cut ``data.mdb`` used to kill the process with SIGBUS: run in a child process."""
    root, out = written
    data_file = out / 'low.lmdb' / 'data.mdb'
    with open(data_file, 'r+b') as f:
        f.truncate(os.path.getsize(data_file) // 2)
    verify = subprocess.run([
        sys.executable, '-m', 'r2rnet_plugin.prepare_lmdb', '--layout', 'lol', '--root', root, '--out',
        str(out), '--verify-only', '--no-progress', '--workers', '1'
    ],
                            capture_output=True,
                            text=True,
                            cwd=REPO,
                            timeout=300)
    assert verify.returncode == 1, verify.stderr
    assert 'Verification FAILED' in verify.stdout and f'LMDB {out / "low.lmdb"}: data.mdb is cut short' in verify.stdout
    code = ('import sys, r2rnet_plugin\n'
            'from r2rnet_plugin.data.llie_paired_dataset import LLIEPairedDataset\n'
            'try:\n'
            f'    LLIEPairedDataset({{"phase": "val", "layout": "lol", "dataroot": {str(out)!r}, '
            '"io_backend": {"type": "lmdb"}})\n'
            'except OSError as error:\n'
            '    print(error)\n'
            '    sys.exit(3)\n')
    dataset = subprocess.run([sys.executable, '-c', code], capture_output=True, text=True, cwd=REPO, timeout=300)
    assert dataset.returncode == 3, dataset.stderr
    assert f'LMDB {out / "low.lmdb"}: data.mdb is cut short' in dataset.stdout


def test_dataset_names_the_lmdb_of_a_damaged_key_tree(written):
    _, out = written
    zero_pages_after_meta(out / 'low.lmdb' / 'data.mdb')
    with pytest.raises(OSError, match=f"LMDB {out / 'low.lmdb'}: cannot list the keys .*MDB_CORRUPTED"):
        lmdb_dataset(out)


def test_dataset_names_the_lmdb_and_key_of_a_record_damaged_after_opening(written):
    _, out = written
    dataset = lmdb_dataset(out)
    zero_pages_after_meta(out / 'high.lmdb' / 'data.mdb')  # seen through the open read-only map
    with pytest.raises(BadSampleError, match=f"LMDB {out / 'high.lmdb'}: cannot read key 'a'"):
        dataset[0]


def test_dataset_names_the_lmdb_that_is_not_an_lmdb(written):
    _, out = written
    (out / 'high.lmdb' / 'data.mdb').write_bytes(os.urandom(8192))
    with pytest.raises(OSError, match=f"LMDB {out / 'high.lmdb'}: cannot open its data.mdb"):
        lmdb_dataset(out)


def test_file_client_names_the_lmdb_of_a_key_it_cannot_look_up(written):
    _, out = written
    client = get_file_client('lmdb', str(out / 'low.lmdb'))
    assert client.get('a')[:4] == b'\x89PNG' and client.get('zz') is None
    with pytest.raises(LmdbReadError, match=f"LMDB {out / 'low.lmdb'}: key 'é' is not ASCII"):
        client.get('é')
