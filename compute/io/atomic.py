"""Atomic file writes: a save either replaces the old file completely or leaves it untouched.

The data goes to a temporary file in the target's own folder (so ``os.replace`` is a rename on the
same file system, which POSIX and Windows both perform atomically), is flushed and fsynced, and
only then renamed over the target. A crash, a full disk or an exception half-way through leaves
the previous file intact and removes the temporary one.

Debris of killed saves
----------------------
A process killed mid-write cannot remove its temporary file (``.NAME.<pid>.XXXXXXXX.tmp``; up to
the size of the save). The next save of the same target removes such siblings, and only those
that are certainly dead:

- the name is exactly the pattern :func:`atomic_open` uses for *this* target (the target's name,
  escaped, and ``mkstemp``'s 8 random characters), never any other file of the folder;
- it carries the pid of the process that wrote it: removed when that process no longer exists,
  or when it is this process but the file is not one of the saves it has under way (another
  thread may be saving the same file: its temporary file is kept). A pid alive in another
  process is kept, unless the file is older than :data:`STALE_SECONDS` (the pid was reused by
  then; a live save writes its file continuously, so its modification time stays recent);
- a name without a pid (as OpScope wrote them before) is removed once older than
  :data:`STALE_SECONDS`.

On a folder shared between machines a pid means nothing to the other machine; the worst that
can happen is that a concurrent save from there fails (its rename finds no file) with the old
file left intact: nothing is lost.

Symbolic links
--------------
Saving to a symbolic link writes through it: the temporary file goes beside the link's target,
which is replaced; the link itself stays a link (``os.replace`` on the link would have replaced
the link by a regular file).
"""

from __future__ import annotations

import contextlib
import os
import re
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Iterator
from typing import IO, Any

__all__ = ["STALE_SECONDS", "atomic_open", "atomic_write", "atomic_write_bytes", "remove_stale_temps"]

#: A temporary file this old (unmodified) is debris even when its pid is alive or unknown.
STALE_SECONDS = 15 * 60
# the temporary files of saves under way in this process (other threads' saves must be kept)
_ACTIVE: set[str] = set()
_ACTIVE_LOCK = threading.Lock()
# mkstemp's random part: 8 characters of tempfile._RandomNameSequence's alphabet
_RANDOM = r"[a-z0-9_]{8}"


def _current_umask() -> int:
    # os.umask can only be read by setting it; done once at import, before any worker thread exists.
    mask = os.umask(0o022)
    os.umask(mask)
    return mask


_UMASK = _current_umask()


def _fsync_folder(folder: str) -> None:
    """Make the rename itself durable (POSIX); a no-op where folders cannot be opened (Windows)."""
    try:
        fd = os.open(folder, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


def _temp_prefix(name: str) -> str:
    return f".{name}.{os.getpid()}."


def _pid_alive(pid: int) -> bool:
    """Whether process ``pid`` exists (when in doubt: yes, so that nothing live is removed)."""
    if pid <= 0:
        return True
    if sys.platform == "win32":
        # os.kill(pid, 0) would *terminate* the process on Windows: ask the kernel instead
        import ctypes

        kernel32 = ctypes.windll.kernel32
        handle = kernel32.OpenProcess(0x1000, False, pid)  # PROCESS_QUERY_LIMITED_INFORMATION
        if not handle:
            return kernel32.GetLastError() == 5  # ERROR_ACCESS_DENIED: it exists
        try:
            code = ctypes.c_ulong()
            if not kernel32.GetExitCodeProcess(handle, ctypes.byref(code)):
                return True
            return code.value == 259  # STILL_ACTIVE
        finally:
            kernel32.CloseHandle(handle)
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except OSError:
        return True  # EPERM: it exists, owned by someone else
    return True


def remove_stale_temps(path: str | os.PathLike, now: float | None = None) -> list[str]:
    """Remove the temporary files that killed saves of ``path`` left beside it (see the module notes).

    Parameters
    ----------
    path : str or os.PathLike
        The target file (not resolved: pass the path the temporary files were made beside).
    now : float, optional
        The current time (tests).

    Returns
    -------
    list of str
        The names removed. Errors (a file gone meanwhile, no permission) are ignored: cleaning
        up must never make a save fail.
    """
    path = os.fspath(path)
    folder = os.path.dirname(os.path.abspath(path))
    name = os.path.basename(path)
    pattern = re.compile(rf"\.{re.escape(name)}\.(?:(\d+)\.)?{_RANDOM}\.tmp")
    start = f".{name}."
    now = time.time() if now is None else now
    me = os.getpid()
    removed = []
    try:
        entries = list(os.scandir(folder))
    except OSError:
        return removed
    for entry in entries:
        if not entry.name.startswith(start):
            continue
        m = pattern.fullmatch(entry.name)
        if m is None:
            continue
        try:
            if not entry.is_file(follow_symlinks=False):
                continue
            age = now - entry.stat(follow_symlinks=False).st_mtime
        except OSError:
            continue
        if m.group(1) is None:
            stale = age > STALE_SECONDS  # written before temporary names carried a pid
        else:
            pid = int(m.group(1))
            if pid == me:
                # under the lock: a thread of ours between mkstemp and registering it holds the lock
                with _ACTIVE_LOCK:
                    if entry.path not in _ACTIVE:
                        _unlink(entry, removed)
                continue
            stale = not _pid_alive(pid) or age > STALE_SECONDS
        if stale:
            _unlink(entry, removed)
    return removed


def _unlink(entry: os.DirEntry, removed: list[str]) -> None:
    with contextlib.suppress(OSError):
        os.unlink(entry.path)
        removed.append(entry.name)


@contextlib.contextmanager
def atomic_open(path: str | os.PathLike, mode: str = "wb", encoding: str | None = None,
                newline: str | None = None) -> Iterator[IO[Any]]:
    """Open a temporary file that replaces ``path`` when the ``with`` block ends without an error.

    Parameters
    ----------
    path : str or os.PathLike
        The file to write. Its folder must exist.
    mode : {"wb", "w"}
        Binary or text mode.
    encoding, newline : str, optional
        As for :func:`open`, text mode only (``encoding`` defaults to UTF-8).

    Yields
    ------
    file object
        Write to it; do not close it yourself.

    Notes
    -----
    On any exception (``KeyboardInterrupt`` included) the temporary file is removed, ``path`` keeps
    its old content and the exception propagates. The new file gets the permissions of the file it
    replaces, or the usual ``0o666 & ~umask`` (``mkstemp`` alone would give ``0o600``).
    """
    if mode not in ("wb", "w"):
        raise ValueError(f"atomic_open writes whole files: mode must be 'wb' or 'w', not {mode!r}")
    path = os.fspath(path)
    if os.path.islink(path):
        # write through the link: its target is replaced, the link stays (a chain is followed to its end)
        path = os.path.realpath(path)
    folder = os.path.dirname(os.path.abspath(path))
    if mode == "w" and encoding is None:
        encoding = "utf-8"
    try:
        permissions = os.stat(path).st_mode & 0o7777
    except OSError:
        permissions = 0o666 & ~_UMASK
    remove_stale_temps(path)
    with _ACTIVE_LOCK:
        fd, tmp = tempfile.mkstemp(dir=folder, prefix=_temp_prefix(os.path.basename(path)), suffix=".tmp")
        _ACTIVE.add(tmp)
    try:
        with os.fdopen(fd, mode, encoding=encoding, newline=newline) as f:
            yield f
            f.flush()
            os.fsync(f.fileno())
        with contextlib.suppress(OSError):
            os.chmod(tmp, permissions)
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise
    finally:
        with _ACTIVE_LOCK:
            _ACTIVE.discard(tmp)
    _fsync_folder(folder)


def atomic_write(path: str | os.PathLike, write_fn: Callable[[IO[Any]], object], mode: str = "wb") -> None:
    """Call ``write_fn(file)`` on a temporary file and move it over ``path`` if it returns.

    Parameters
    ----------
    path : str or os.PathLike
        The file to write.
    write_fn : callable
        Receives the open file object and writes the whole content to it.
    mode : {"wb", "w"}
        Binary or text (UTF-8) mode.
    """
    with atomic_open(path, mode) as f:
        write_fn(f)


def atomic_write_bytes(path: str | os.PathLike, data: bytes | bytearray | memoryview) -> None:
    """Replace ``path`` by ``data`` atomically."""
    with atomic_open(path, "wb") as f:
        f.write(data)
