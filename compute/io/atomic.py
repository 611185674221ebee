"""Atomic file writes: a save either replaces the old file completely or leaves it untouched.

The data goes to a temporary file in the target's own folder (so ``os.replace`` is a rename on the
same file system, which POSIX and Windows both perform atomically), is flushed and fsynced, and
only then renamed over the target. A crash, a full disk or an exception half-way through leaves
the previous file intact and removes the temporary one.
"""

from __future__ import annotations

import contextlib
import os
import tempfile
from collections.abc import Callable, Iterator
from typing import IO, Any

__all__ = ["atomic_open", "atomic_write", "atomic_write_bytes"]


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
    folder = os.path.dirname(os.path.abspath(path))
    if mode == "w" and encoding is None:
        encoding = "utf-8"
    try:
        permissions = os.stat(path).st_mode & 0o7777
    except OSError:
        permissions = 0o666 & ~_UMASK
    fd, tmp = tempfile.mkstemp(dir=folder, prefix="." + os.path.basename(path) + ".", suffix=".tmp")
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
