"""Atomic writes: a failed save leaves the old file as it was and no temporary file behind."""

import os
import stat

import numpy as np
import pytest
from opscope.compute.io import FileFormatError, atomic_open, atomic_write, atomic_write_bytes, load_tensor, save_tensor
from opscope.compute.io import atomic as atomic_mod


def _listing(folder):
    return sorted(p.name for p in folder.iterdir())


def test_write_creates_and_replaces(tmp_path):
    target = tmp_path / "f.bin"
    atomic_write_bytes(target, b"one")
    atomic_write_bytes(target, b"two")
    assert target.read_bytes() == b"two"
    assert _listing(tmp_path) == ["f.bin"]


def test_text_mode_and_callback(tmp_path):
    target = tmp_path / "f.txt"
    atomic_write(target, lambda f: f.write("héllo\n"), mode="w")
    assert target.read_text(encoding="utf-8") == "héllo\n"


def test_exception_half_way_keeps_old_file(tmp_path):
    target = tmp_path / "f.bin"
    target.write_bytes(b"old content")

    def half(f):
        f.write(b"new, but only half")
        raise RuntimeError("disk on fire")

    with pytest.raises(RuntimeError, match="disk on fire"):
        atomic_write(target, half)
    assert target.read_bytes() == b"old content"
    assert _listing(tmp_path) == ["f.bin"]


def test_failing_replace_keeps_old_file(tmp_path, monkeypatch):
    target = tmp_path / "f.bin"
    target.write_bytes(b"old content")

    def broken_replace(src, dst):
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(atomic_mod.os, "replace", broken_replace)
    with pytest.raises(OSError):
        with atomic_open(target) as f:
            f.write(b"x" * 1000)
    assert target.read_bytes() == b"old content"
    assert _listing(tmp_path) == ["f.bin"]


def test_interrupted_tensor_save_keeps_old_tensor(tmp_path, monkeypatch):
    path = tmp_path / "t.npy"
    save_tensor(path, np.arange(4.0))

    def broken_replace(src, dst):
        raise OSError(5, "Input/output error")

    monkeypatch.setattr(atomic_mod.os, "replace", broken_replace)
    with pytest.raises(FileFormatError, match="cannot write"):
        save_tensor(path, np.zeros((100, 100)))
    monkeypatch.undo()
    np.testing.assert_array_equal(load_tensor(path), np.arange(4.0))
    assert _listing(tmp_path) == ["t.npy"]


def test_keyboard_interrupt_cleans_up(tmp_path):
    target = tmp_path / "f.bin"
    with pytest.raises(KeyboardInterrupt):
        with atomic_open(target) as f:
            f.write(b"partial")
            raise KeyboardInterrupt
    assert _listing(tmp_path) == []


@pytest.mark.skipif(os.name != "posix", reason="POSIX permissions")
def test_permissions_are_not_mkstemp_private(tmp_path):
    target = tmp_path / "f.bin"
    atomic_write_bytes(target, b"x")
    assert stat.S_IMODE(target.stat().st_mode) == 0o666 & ~atomic_mod._UMASK
    os.chmod(target, 0o640)
    atomic_write_bytes(target, b"y")
    assert stat.S_IMODE(target.stat().st_mode) == 0o640


def test_refuses_read_and_append_modes(tmp_path):
    for mode in ("r", "ab", "r+b"):
        with pytest.raises(ValueError, match="mode"):
            with atomic_open(tmp_path / "f", mode):
                pass
