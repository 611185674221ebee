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


# ---------------------------------------------------------------------------------------------
# debris of killed saves, and symbolic links (issue 7)

_WRITER = r"""
import sys, time
sys.path.insert(0, sys.argv[1])
import main
main.use_source_tree()
from opscope.compute.io import atomic_open
with atomic_open(sys.argv[2], "wb") as f:
    f.write(b"half of a big save")
    f.flush()
    print("writing", flush=True)
    time.sleep(60)
"""


def _start_writer(target):
    import subprocess
    import sys
    from pathlib import Path

    root = str(Path(__file__).resolve().parents[2])
    proc = subprocess.Popen([sys.executable, "-c", _WRITER, root, str(target)], stdout=subprocess.PIPE, text=True)
    assert proc.stdout.readline().strip() == "writing"
    return proc


def _temps(folder, name):
    return sorted(p.name for p in folder.iterdir() if p.name.startswith(f".{name}.") and p.name.endswith(".tmp"))


@pytest.mark.skipif(os.name == "nt", reason="POSIX kill")
def test_a_killed_save_leaves_debris_that_the_next_save_removes(tmp_path):
    target = tmp_path / "w.npy"
    target.write_bytes(b"old")
    proc = _start_writer(target)
    try:
        [live] = _temps(tmp_path, "w.npy")
        assert f".{proc.pid}." in live  # the pid is in the name, so that a later save can tell it is dead
        atomic_write_bytes(target, b"while the other is writing")
        assert _temps(tmp_path, "w.npy") == [live]  # a live save's temporary file is kept
    finally:
        proc.kill()
        proc.wait()
    assert _temps(tmp_path, "w.npy") == [live]  # killed: it could not clean up (the bug: 134 left after 210 kills)
    atomic_write_bytes(target, b"new")
    assert target.read_bytes() == b"new"
    assert _listing(tmp_path) == ["w.npy"]


def test_only_stale_temps_of_the_same_target_are_removed(tmp_path):
    import subprocess
    import sys
    import time

    dead = subprocess.Popen([sys.executable, "-c", "pass"])
    dead.wait()
    keep = [
        "f.npy", "g.npy",
        f".g.npy.{dead.pid}.abcdefgh.tmp",  # another target's
        f".f.npy.{dead.pid}.abcdefgh.tmp.bak", f".f.npy.{dead.pid}.abc.tmp", "f.npy.tmp",  # not our pattern
        f".f.npy.{os.getppid()}.abcdefgh.tmp",  # a live process's (the test runner's parent)
        ".f.npy.young123.tmp",  # no pid and recent: could be a save under way by an older OpScope
    ]
    gone = [f".f.npy.{dead.pid}.abcdefgh.tmp", ".f.npy.old_1234.tmp", f".f.npy.{os.getpid()}.zzzzzzzz.tmp"]
    for name in keep + gone:
        (tmp_path / name).write_bytes(b"x")
    old = time.time() - atomic_mod.STALE_SECONDS - 60
    os.utime(tmp_path / ".f.npy.old_1234.tmp", (old, old))
    save_tensor(tmp_path / "f.npy", np.arange(3))
    assert _listing(tmp_path) == sorted(keep)
    # a live pid's file is debris too once it is older than STALE_SECONDS (the pid was reused)
    os.utime(tmp_path / f".f.npy.{os.getppid()}.abcdefgh.tmp", (old, old))
    assert atomic_mod.remove_stale_temps(tmp_path / "f.npy") == [f".f.npy.{os.getppid()}.abcdefgh.tmp"]


def test_a_save_under_way_in_another_thread_is_kept(tmp_path):
    import threading

    target = tmp_path / "s.bin"
    started, release = threading.Event(), threading.Event()

    def slow():
        with atomic_open(target, "wb") as f:
            f.write(b"thread")
            started.set()
            release.wait(10)

    t = threading.Thread(target=slow)
    t.start()
    try:
        assert started.wait(10)
        [theirs] = _temps(tmp_path, "s.bin")
        atomic_write_bytes(target, b"main")
        assert _temps(tmp_path, "s.bin") == [theirs]
    finally:
        release.set()
        t.join()
    assert target.read_bytes() == b"thread" and _listing(tmp_path) == ["s.bin"]


@pytest.mark.skipif(not hasattr(os, "symlink") or os.name == "nt", reason="symlinks")
def test_saving_to_a_symlink_writes_through_it(tmp_path):
    real = tmp_path / "data" / "weights.npy"
    real.parent.mkdir()
    save_tensor(real, np.zeros(2))
    os.chmod(real, 0o640)
    link = tmp_path / "link.npy"
    link.symlink_to(os.path.relpath(real, tmp_path))
    chain = tmp_path / "chain.npy"
    chain.symlink_to(link)
    save_tensor(link, np.arange(4))
    assert link.is_symlink() and os.readlink(link) == os.path.relpath(real, tmp_path)
    np.testing.assert_array_equal(load_tensor(real), np.arange(4))
    assert stat.S_IMODE(os.stat(real).st_mode) == 0o640  # the target keeps its permissions
    save_tensor(chain, np.arange(5))  # a chain of links is followed to its end
    assert chain.is_symlink() and link.is_symlink()
    np.testing.assert_array_equal(load_tensor(real), np.arange(5))
    assert _listing(tmp_path) == ["chain.npy", "data", "link.npy"] and _listing(real.parent) == ["weights.npy"]
    # a dangling link: the file it names is created
    dangling = tmp_path / "new.npy"
    dangling.symlink_to(real.parent / "new-target.npy")
    save_tensor(dangling, np.ones(1))
    assert dangling.is_symlink() and (real.parent / "new-target.npy").is_file()
