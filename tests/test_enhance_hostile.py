"""`python -m r2rnet_plugin.enhance` against hostile or careless inputs (issue 18): planted symlinks,
huge declared sizes, output folders that are the input, NaN, collisions, full disks, animations,
bad options, Ctrl-C and FIFOs. Tiny images and a width-4 network throughout."""
import errno
import os
import struct
import threading
import zlib

import cv2
import numpy as np
import pytest
import torch
from PIL import Image

from r2rnet_plugin.archs.r2rnet_arch import R2RNet
from r2rnet_plugin.enhance import main
from r2rnet_plugin.inference import memory, safe_write
from r2rnet_plugin.inference.image_io import ImageReadError, read_photo, write_image
from r2rnet_plugin.inference.image_probe import ImageInfo


def tiny_state(**overrides):
    torch.manual_seed(0)
    state = R2RNet(channel=4).state_dict()
    state.update(overrides)
    return state


@pytest.fixture(scope='module')
def weights(tmp_path_factory):
    path = tmp_path_factory.mktemp('weights') / 'tiny.pth'
    torch.save({'params': tiny_state()}, path)
    return str(path)


def image(path, height=8, width=12, seed=0):
    pixels = np.random.default_rng(seed).integers(0, 60, (height, width, 3)).astype(np.uint8)
    cv2.imwrite(str(path), pixels)
    return path


def run(*args):
    return main([str(a) for a in args] + ['--device', 'cpu', '--no-progress'])


def listing(folder):
    return sorted(p.name for p in folder.iterdir())


# item 2: temporary files


def test_planted_symlinks_are_never_written_through(tmp_path, weights):
    src, out = tmp_path / 'in', tmp_path / 'out'
    src.mkdir()
    out.mkdir()
    image(src / 'a.png')
    image(src / 'b.png', seed=1)
    victim, victim2 = tmp_path / 'victim', tmp_path / 'victim2'
    victim.write_bytes(b'precious')
    victim2.write_bytes(b'precious too')
    os.symlink(victim, out / 'a.png.part')  # where the old code put its temporary file
    os.symlink(victim2, out / 'b.png')  # a link at the final name is replaced, not followed

    assert run('-i', src, '-o', out, '--weights', weights) == 0
    assert victim.read_bytes() == b'precious' and victim2.read_bytes() == b'precious too'
    for name in ('a.png', 'b.png'):
        assert not (out / name).is_symlink() and cv2.imread(str(out / name)).shape == (8, 12, 3)
    assert os.readlink(out / 'a.png.part') == str(victim)
    assert listing(out) == ['a.png', 'a.png.part', 'b.png']


def test_two_writers_of_one_file_never_tear_it(tmp_path, monkeypatch):
    """A second run writes the same output while the first is between writing and renaming."""
    path = str(tmp_path / 'a.png')
    first, second = np.zeros((4, 4), np.uint8), np.full((4, 4), 200, np.uint8)
    real_replace, calls = os.replace, []

    def replace_after_another_writer(tmp, dst):
        calls.append(tmp)
        if len(calls) == 1:
            write_image(path, second)
        real_replace(tmp, dst)

    monkeypatch.setattr(os, 'replace', replace_after_another_writer)
    write_image(path, first)
    assert calls[0] != calls[1]
    assert np.array_equal(cv2.imread(path, cv2.IMREAD_UNCHANGED), first)
    assert listing(tmp_path) == ['a.png']


# item 3: pixel limit


def png_declaring(path, width, height):
    """A valid-looking PNG header declaring ``width`` x ``height`` RGB pixels, with one tiny IDAT."""

    def chunk(kind, data):
        return struct.pack('>I', len(data)) + kind + data + struct.pack('>I', zlib.crc32(kind + data))

    ihdr = struct.pack('>IIBBBBB', width, height, 8, 2, 0, 0, 0)
    path.write_bytes(b'\x89PNG\r\n\x1a\n' + chunk(b'IHDR', ihdr) + chunk(b'IDAT', zlib.compress(b'\0' * 64)) +
                     chunk(b'IEND', b''))
    return path


def test_huge_declared_size_is_refused_before_decoding(tmp_path, weights, monkeypatch, capsys):
    monkeypatch.setattr(memory, 'available_host_memory', lambda: 2 * memory.GIB)
    monkeypatch.setattr(cv2, 'imdecode', lambda *a: pytest.fail('decoded a file that cannot fit'))
    big = png_declaring(tmp_path / 'big.png', 20000, 20000)
    assert big.stat().st_size < 1000

    assert run('-i', big, '-o', tmp_path / 'out', '--weights', weights) == 1
    printed = capsys.readouterr()
    assert 'big.png' in printed.err and '20000x20000' in printed.err and 'decoding it needs' in printed.err
    assert listing(tmp_path / 'out') == []


def test_whole_image_pass_that_does_not_fit_suggests_a_tile(tmp_path, weights, monkeypatch, capsys):
    pic = image(tmp_path / 'a.png', 128, 128)
    whole = memory.network_bytes(128, 128, 4)
    tiled = memory.network_bytes(64, 64, 4) + memory.host_bytes(128 * 128, False, tiled=True)
    assert tiled < whole / 2
    monkeypatch.setattr(memory, 'available_host_memory', lambda: int((tiled + whole) / 2 / memory.USABLE_FRACTION))

    assert run('-i', pic, '-o', tmp_path / 'out', '--weights', weights) == 1
    printed = capsys.readouterr()
    assert 'a.png' in printed.err and 'rerun with --tile 64' in printed.err
    assert listing(tmp_path / 'out') == []
    assert run('-i', pic, '-o', tmp_path / 'out', '--weights', weights, '--tile', 64) == 0
    assert listing(tmp_path / 'out') == ['a.png']


def test_on_cuda_the_network_must_fit_the_gpu_and_the_rest_the_ram(monkeypatch):
    info = ImageInfo(width=1000, height=800, sample_bytes=1, frames=1, file_bytes=1000)
    net, rest = memory.network_bytes(800, 1000, 8), memory.host_bytes(800 * 1000, True, tiled=False)
    cuda = torch.device('cuda')
    monkeypatch.setattr(memory, 'available_host_memory', lambda: 2 * rest)
    monkeypatch.setattr(memory, 'available_device_memory', lambda device: 2 * net if device == cuda else None)
    memory.check_pass(info, 8, cuda, with_components=True)  # fits: the RAM need not hold the network
    with pytest.raises(memory.MemoryLimitError, match=r'1000x800 pixels: .* GiB of RAM available\); rerun'):
        memory.check_pass(info, 8, torch.device('cpu'), with_components=True)
    monkeypatch.setattr(memory, 'available_device_memory', lambda device: net // 2)
    with pytest.raises(memory.MemoryLimitError, match='GiB on cuda available\\); rerun with --tile 512'):
        memory.check_pass(info, 8, cuda, with_components=True)


# item 6: the output folder or file is an input


def test_output_folder_linked_to_the_input_folder_is_refused(tmp_path, weights, capsys):
    src = tmp_path / 'in'
    src.mkdir()
    original = image(src / 'a.png').read_bytes()
    os.symlink(src, tmp_path / 'link')
    assert run('-i', src, '-o', tmp_path / 'link', '--weights', weights) == 2
    assert run('-i', src / 'a.png', '-o', tmp_path / 'link', '--weights', weights) == 2
    assert 'is the input folder' in capsys.readouterr().err
    assert (src / 'a.png').read_bytes() == original and listing(src) == ['a.png']


def test_output_file_linked_to_an_input_is_refused(tmp_path, weights, capsys):
    src, out = tmp_path / 'in', tmp_path / 'out'
    src.mkdir()
    out.mkdir()
    hard = image(src / 'a.png').read_bytes()
    soft = image(src / 'b.png', seed=1).read_bytes()
    os.link(src / 'a.png', out / 'a.png')
    os.symlink(src / 'b.png', out / 'b.png')
    assert run('-i', src, '-o', out, '--weights', weights) == 1
    assert (src / 'a.png').read_bytes() == hard and (src / 'b.png').read_bytes() == soft
    assert os.path.samefile(out / 'a.png', src / 'a.png') and (out / 'b.png').is_symlink()
    assert '0 ok, 0 skipped, 2 failed' in capsys.readouterr().out


# item 7: NaN and infinity


def test_weights_with_nan_are_refused_naming_the_tensor(tmp_path, capsys):
    bad = tiny_state()
    bad['denoise.unet.stem.1.weight'] = bad['denoise.unet.stem.1.weight'].clone()
    bad['denoise.unet.stem.1.weight'].view(-1)[3] = float('nan')
    path = tmp_path / 'nan.pth'
    torch.save({'params': bad}, path)
    assert run('-i', image(tmp_path / 'a.png'), '-o', tmp_path / 'out', '--weights', path) == 1
    err = capsys.readouterr().err
    assert 'denoise.unet.stem.1.weight (1 NaN, 0 inf of' in err and 'non-finite' in err
    assert 'nothing was enhanced' in err
    assert not (tmp_path / 'out').exists()


def test_non_finite_result_fails_the_file(tmp_path, capsys):
    huge = torch.finfo(torch.float32).max
    state = tiny_state()
    state['relight.out_conv.weight'] = torch.full_like(state['relight.out_conv.weight'], huge)
    state['relight.out_conv.bias'] = torch.full_like(state['relight.out_conv.bias'], huge)
    path = tmp_path / 'overflow.pth'
    torch.save({'params': state}, path)
    assert run('-i', image(tmp_path / 'a.png'), '-o', tmp_path / 'out', '--weights', path) == 1
    err = capsys.readouterr().err
    assert 'a.png' in err and 'non-finite' in err
    assert listing(tmp_path / 'out') == []


def test_non_finite_input_pixels_are_refused(tmp_path, weights, capsys):
    pixels = np.full((8, 12, 3), 0.1, np.float32)
    pixels[2, 3, 1] = np.nan
    pixels[4, 5, 0] = np.inf
    cv2.imwrite(str(tmp_path / 'f.tif'), pixels)
    assert run('-i', tmp_path / 'f.tif', '-o', tmp_path / 'out', '--weights', weights) == 1
    err = capsys.readouterr().err
    assert 'f.tif' in err and '2 non-finite pixel values' in err
    assert listing(tmp_path / 'out') == []


# item 8: outputs colliding within a run


def test_colliding_outputs_are_refused_before_anything_is_written(tmp_path, weights, capsys):
    src, out = tmp_path / 'in', tmp_path / 'out'
    src.mkdir()
    for name in ('x.png', 'x_R.png', 'y.jpg', 'y.png', 'z.png'):
        image(src / name)
    assert run('-i', src, '-o', out, '--weights', weights, '--save-components') == 1
    assert listing(out) == ['z.png', 'z_I_delta.png', 'z_L.png', 'z_R.png', 'z_R_denoised.png']
    printed = capsys.readouterr().out
    assert '1 ok, 0 skipped, 4 failed' in printed
    assert 'x.png, x_R.png would all write' in printed and 'y.jpg, y.png would all write' in printed


# item 11: full disk


def test_full_disk_leaves_nothing_and_stops(tmp_path, weights, monkeypatch, capsys):
    src, out = tmp_path / 'in', tmp_path / 'out'
    src.mkdir()
    image(src / 'a.png')
    image(src / 'b.png')

    def full(fd, data):
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))

    monkeypatch.setattr(safe_write, '_write_all', full)
    assert run('-i', src, '-o', out, '--weights', weights) == 1
    printed = capsys.readouterr().out
    assert 'disk full: cannot write' in printed and 'not attempted: disk full' in printed
    assert listing(out) == []


@pytest.mark.parametrize('where, code', [('_write_all', errno.EDQUOT), ('_create_temporary', errno.ENOSPC)])
def test_disk_full_is_recognised_wherever_it_happens(tmp_path, monkeypatch, where, code):

    def full(*args):
        raise OSError(code, os.strerror(code))

    monkeypatch.setattr(safe_write, where, full)
    with pytest.raises(safe_write.DiskFullError, match=r'^disk full: cannot write .*a\.png'):
        write_image(str(tmp_path / 'a.png'), np.zeros((4, 4), np.uint8))
    assert listing(tmp_path) == []


# item 13: several frames


def test_animations_and_multi_page_files_fail_per_file(tmp_path, weights, capsys):
    frames = [Image.new('RGB', (12, 8), (10 * i, 20, 30)) for i in range(3)]
    frames[0].save(tmp_path / 'pages.tif', save_all=True, append_images=frames[1:])
    frames[0].save(tmp_path / 'anim.gif', save_all=True, append_images=frames[1:], duration=50)
    for name in ('pages.tif', 'anim.gif'):
        assert run('-i', tmp_path / name, '-o', tmp_path / 'out', '--weights', weights) == 1
        assert f'{name}: holds 3 frames' in capsys.readouterr().err
    assert listing(tmp_path / 'out') == []


# tracebacks where a message is due


def test_unusable_output_folders_exit_2(tmp_path, weights, monkeypatch, capsys):
    pic = image(tmp_path / 'a.png')
    (tmp_path / 'file').write_text('x')
    assert run('-i', pic, '-o', tmp_path / 'file', '--weights', weights) == 2
    assert run('-i', pic, '-o', tmp_path / 'file' / 'sub', '--weights', weights) == 2
    locked = tmp_path / 'locked'
    locked.mkdir()
    real_access = os.access
    monkeypatch.setattr(os, 'access', lambda p, mode: os.fspath(p) != str(locked) and real_access(p, mode))
    assert run('-i', pic, '-o', locked / 'out', '--weights', weights) == 2
    err = capsys.readouterr().err
    assert 'exists and is not a folder' in err and f'{tmp_path / "file"} is not a folder' in err
    assert f'its parent {locked} is not writable' in err and 'Traceback' not in err


@pytest.mark.parametrize('option, value, message', [
    ('--threads', -1, '--threads must be at least 1 (got -1)'),
    ('--threads', 0, '--threads must be at least 1 (got 0)'),
    ('--tile', 16, '--tile must be at least 32 (got 16)'),
])
def test_bad_numbers_are_usage_errors(tmp_path, weights, capsys, option, value, message):
    with pytest.raises(SystemExit) as stop:
        run('-i', tmp_path, '-o', tmp_path / 'out', '--weights', weights, option, value, '--tile-overlap', 8)
    assert stop.value.code == 2 and message in capsys.readouterr().err


def test_ctrl_c_exits_130_and_leaves_no_partial_file(tmp_path, weights, monkeypatch, capsys):
    calls = []
    real_write = safe_write._write_all

    def interrupted(fd, data):
        calls.append(fd)
        if len(calls) == 2:  # after the enhanced image, during its first component
            raise KeyboardInterrupt
        real_write(fd, data)

    monkeypatch.setattr(safe_write, '_write_all', interrupted)
    pic = image(tmp_path / 'a.png')
    assert run('-i', pic, '-o', tmp_path / 'out', '--weights', weights, '--save-components') == 130
    assert listing(tmp_path / 'out') == []
    err = capsys.readouterr().err
    assert err.strip().startswith('interrupted') and 'Traceback' not in err


@pytest.fixture
def fifo(tmp_path):
    """A FIFO named like an image; should anything open it for reading, a writer ends that read
    (empty) so that the test fails instead of hanging."""
    path = tmp_path / 'pipe.png'
    os.mkfifo(path)
    done = threading.Event()

    def release_readers():
        while not done.wait(0.05):
            try:
                os.close(os.open(path, os.O_WRONLY | os.O_NONBLOCK))  # ENXIO while nobody reads
            except OSError:
                pass

    thread = threading.Thread(target=release_readers, daemon=True)
    thread.start()
    yield path
    done.set()
    thread.join()


def test_fifo_input_is_refused_without_blocking(tmp_path, weights, fifo, capsys):
    assert run('-i', fifo, '-o', tmp_path / 'out', '--weights', weights) == 2
    assert 'pipe.png: not a regular file but a FIFO' in capsys.readouterr().err
    with pytest.raises(ImageReadError, match='not a regular file'):
        read_photo(str(fifo))  # a file swapped for a FIFO after listing is not waited on either
