"""Session files (``.opscope``): what is on screen, saved so that it can be reopened exactly.

A session is a zip (deflated) of ``manifest.json`` (operation, parameters, granularity, options,
step, view) and ``tensors.npz`` (the inputs, read back with pickles refused). JSON keeps the
manifest readable and safe; the format number lets a later OpScope migrate old files and lets this
one refuse newer ones with a message instead of misreading them. Also here: where autosaves and
the recent-files list live.
"""

from __future__ import annotations

import contextlib
import io
import json
import os
import shutil
import sys
import tempfile
import zipfile
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from .atomic import atomic_open, atomic_write_bytes
from .file_checks import FileFormatError, _as_savable, _limit, _open_checked, parse_json
from .run_archive import restore_tuples, to_jsonable
from .tensor_files import _read_npz, _write_npz

__all__ = [
    "SESSION_FORMAT",
    "SESSION_VERSION",
    "RecentFiles",
    "Session",
    "SessionError",
    "autosave_path",
    "data_dir",
    "load_session",
    "save_session",
]

SESSION_FORMAT = "opscope-session"
SESSION_VERSION = 1
SESSION_EXTENSION = ".opscope"
_MANIFEST = "manifest.json"
_TENSORS = "tensors.npz"
_MAX_MANIFEST = 16 << 20
_IN_MEMORY = 64 << 20
# version n -> a function turning a format-n manifest into a format-(n + 1) one; none yet
_MIGRATIONS: dict[int, Callable[[dict], dict]] = {}


class SessionError(FileFormatError):
    """A session file that cannot be opened; the message names the file and the problem."""


@dataclass(frozen=True, eq=False)
class Session:
    """Everything needed to reopen a view: plain data, no Qt.

    Parameters
    ----------
    op : str
        Operation name.
    params : mapping
        Its parameters (JSON-able; tuples under keys such as ``axis`` come back as tuples).
    inputs : mapping of str to numpy.ndarray
        The input tensors by name.
    granularity : str or None
        Step granularity (``"auto"``, ``"element"``, ``"tile"``, ...).
    options : mapping
        Plan options, e.g. ``{"tile": (64, 64)}``.
    step : int
        The step on screen.
    view : mapping
        Free-form JSON state of the GUI (zoom, selected slice, panels...), returned as saved.
    """

    op: str
    params: Mapping[str, Any] = field(default_factory=dict)
    inputs: Mapping[str, np.ndarray] = field(default_factory=dict)
    granularity: str | None = "auto"
    options: Mapping[str, Any] = field(default_factory=dict)
    step: int = 0
    view: Mapping[str, Any] = field(default_factory=dict)


def _app_version() -> str:
    try:
        from importlib.metadata import version

        return version("opscope")
    except Exception:  # not installed (running from a checkout)
        return "unknown"


def _json_field(where: str, name: str, value: Any) -> Any:
    try:
        return to_jsonable(value, name)
    except FileFormatError as exc:
        raise SessionError(f"{where}: {exc}") from None


def save_session(path: str | os.PathLike, session: Session) -> None:
    """Write ``session`` atomically to ``path`` (a failed save leaves the old file intact).

    Raises
    ------
    SessionError
        A field that cannot be saved (non-JSON params, complex inputs, ...) or a failed write.
    """
    path = os.fspath(path)
    where = os.path.basename(path) or path
    if not isinstance(session.op, str) or not session.op:
        raise SessionError(f"{where}: the session has no operation name")
    if session.granularity is not None and not isinstance(session.granularity, str):
        raise SessionError(f"{where}: granularity must be a string or None, not {session.granularity!r}")
    if isinstance(session.step, bool) or not isinstance(session.step, (int, np.integer)) or session.step < 0:
        raise SessionError(f"{where}: step must be a non-negative integer, not {session.step!r}")
    arrays = {}
    for name, value in session.inputs.items():
        if not isinstance(name, str) or not name:
            raise SessionError(f"{where}: input names must be non-empty strings, not {name!r}")
        try:
            arrays[name] = _as_savable(where, name, value)
        except FileFormatError as exc:
            raise SessionError(str(exc)) from None
    manifest = {
        "format": SESSION_FORMAT,
        "version": SESSION_VERSION,
        "app_version": _app_version(),
        "op": session.op,
        "params": _json_field(where, "params", session.params),
        "granularity": session.granularity,
        "options": _json_field(where, "options", session.options),
        "step": int(session.step),
        "view": _json_field(where, "view", session.view),
        "inputs": list(arrays),
    }
    try:
        text = json.dumps(manifest, indent=2, sort_keys=False)
        with atomic_open(path, "wb") as f:
            # level 1: float data barely compresses, and autosaves must not stall the window
            with zipfile.ZipFile(f, "w", compression=zipfile.ZIP_DEFLATED, compresslevel=1, allowZip64=True) as zf:
                zf.writestr(_MANIFEST, text)
                with zf.open(_TENSORS, "w", force_zip64=True) as m:
                    _write_npz(m, arrays)
    except OSError as exc:
        raise SessionError(f"{where}: cannot write it ({exc.strerror or exc})") from exc


def _migrate(where: str, manifest: dict) -> dict:
    version = manifest.get("version")
    if isinstance(version, bool) or not isinstance(version, int):
        raise SessionError(f"{where}: the session has no valid format version ({version!r})")
    if version > SESSION_VERSION:
        raise SessionError(
            f"{where} was written by a newer OpScope (format {version}); "
            f"this version reads format ≤ {SESSION_VERSION}. Update OpScope to open it."
        )
    while version < SESSION_VERSION:
        step = _MIGRATIONS.get(version)
        if step is None:
            raise SessionError(f"{where}: session format {version} is too old for this OpScope to read")
        manifest = step(dict(manifest))
        version += 1
        manifest["version"] = version
    return manifest


def _checked(where: str, manifest: dict, name: str, kinds: tuple[type, ...], default: Any) -> Any:
    value = manifest.get(name, default)
    # bool is an int in Python, but never a step count
    if not isinstance(value, kinds) or (isinstance(value, bool) and bool not in kinds):
        raise SessionError(f"{where}: the manifest's '{name}' is malformed ({manifest.get(name)!r:.60})")
    return value


def _read_manifest(zf: zipfile.ZipFile, where: str) -> dict:
    try:
        info = zf.getinfo(_MANIFEST)
    except KeyError:
        raise SessionError(f"{where} is not an OpScope session: it has no {_MANIFEST}") from None
    if info.file_size > _MAX_MANIFEST:
        raise SessionError(f"{where}: its {_MANIFEST} is implausibly large ({info.file_size} bytes)")
    try:
        manifest = parse_json(zf.read(info), f"{where}: its {_MANIFEST}")
    except FileFormatError as exc:
        raise SessionError(str(exc)) from None
    if not isinstance(manifest, dict):
        raise SessionError(f"{where}: its {_MANIFEST} is not a JSON object")
    if manifest.get("format") != SESSION_FORMAT:
        raise SessionError(
            f"{where} is not an OpScope session (manifest format {manifest.get('format')!r:.40}, "
            f"expected {SESSION_FORMAT!r})"
        )
    return _migrate(where, manifest)


def _read_inputs(zf: zipfile.ZipFile, where: str, names: list[str], limit: int) -> dict[str, np.ndarray]:
    if not names:
        return {}
    try:
        info = zf.getinfo(_TENSORS)
    except KeyError:
        raise SessionError(
            f"{where}: the session lists inputs {', '.join(map(repr, names))} but holds no {_TENSORS}"
        ) from None
    # npy headers take ~128 bytes a tensor; the exact limit is applied to the headers' shapes below
    if info.file_size > limit + 4096 * (len(names) + 1):
        raise SessionError(f"{where}: its tensors ({info.file_size} bytes) exceed the limit of {limit} bytes "
                           f"(the memory budget; OPSCOPE_MEMORY_BUDGET raises it)")
    # seeking backwards in a deflated member restarts decompression, so the inner zip is copied out
    # to a seekable file first: memory when small, a temporary file when large. (Not
    # SpooledTemporaryFile: before Python 3.11 it lacks the seekable() that zipfile calls.)
    source = f"{where} ({_TENSORS})"
    if info.file_size <= _IN_MEMORY:
        return _read_npz(io.BytesIO(zf.read(info)), source, names, limit)
    with zf.open(info) as src, tempfile.TemporaryFile() as tmp:
        shutil.copyfileobj(src, tmp, 1 << 20)
        tmp.seek(0)
        return _read_npz(tmp, source, names, limit)


def load_session(path: str | os.PathLike, *, max_bytes: int | None = None) -> Session:
    """Read a session written by :func:`save_session`.

    Parameters
    ----------
    path : str or os.PathLike
        The ``.opscope`` file.
    max_bytes : int, optional
        Refuse inputs larger than this in total (default: the memory budget).

    Returns
    -------
    Session

    Raises
    ------
    SessionError
        Anything wrong with the file: missing, not a zip, no manifest, another format, a newer
        version, malformed fields, missing or pickled or truncated tensors, too large.
    """
    path = os.fspath(path)
    try:
        where, _size = _open_checked(path)
        limit = _limit(max_bytes)
        try:
            zf = zipfile.ZipFile(path)
        except zipfile.BadZipFile:
            raise SessionError(f"{where} is not an OpScope session (not a zip archive; truncated or another file)") \
                from None
        with zf:
            manifest = _read_manifest(zf, where)
            op = _checked(where, manifest, "op", (str,), None)
            params = _checked(where, manifest, "params", (dict,), {})
            granularity = _checked(where, manifest, "granularity", (str, type(None)), "auto")
            options = _checked(where, manifest, "options", (dict,), {})
            step = _checked(where, manifest, "step", (int,), 0)
            view = _checked(where, manifest, "view", (dict,), {})
            names = _checked(where, manifest, "inputs", (list,), [])
            if not op or step < 0:
                raise SessionError(f"{where}: the manifest's operation or step is malformed")
            if not all(isinstance(n, str) and n for n in names) or len(set(names)) != len(names):
                raise SessionError(f"{where}: the manifest's input names are malformed")
            inputs = _read_inputs(zf, where, names, limit)
    except SessionError:
        raise
    except FileFormatError as exc:
        raise SessionError(str(exc)) from exc
    except OSError as exc:
        raise SessionError(f"{path}: cannot read it ({exc.strerror or exc})") from exc
    except Exception as exc:  # zipfile/zlib failures on corrupt bytes: CRC, bad stream, odd compression
        raise SessionError(f"{os.path.basename(path)} is corrupt ({type(exc).__name__}: {exc})") from exc
    return Session(op=op, params=restore_tuples(params), inputs={n: inputs[n] for n in names},
                   granularity=granularity, options=restore_tuples(options), step=step, view=view)


# ---------------------------------------------------------------------------------------------
# where OpScope keeps its own files


def data_dir(create: bool = True) -> Path:
    """OpScope's folder for autosaves and the recent-files list.

    ``$OPSCOPE_HOME`` when set; otherwise ``%LOCALAPPDATA%\\OpScope`` (Windows),
    ``~/Library/Application Support/OpScope`` (macOS) or ``$XDG_DATA_HOME/opscope``, by default
    ``~/.local/share/opscope`` (elsewhere). Created unless ``create`` is false.
    """
    home = os.environ.get("OPSCOPE_HOME")
    if home:
        base = Path(home).expanduser()
    elif sys.platform == "win32":
        base = Path(os.environ.get("LOCALAPPDATA") or Path.home() / "AppData" / "Local") / "OpScope"
    elif sys.platform == "darwin":
        base = Path.home() / "Library" / "Application Support" / "OpScope"
    else:
        xdg = os.environ.get("XDG_DATA_HOME", "")
        # the XDG spec says to ignore a relative XDG_DATA_HOME
        base = (Path(xdg) if os.path.isabs(xdg) else Path.home() / ".local" / "share") / "opscope"
    if create:
        base.mkdir(parents=True, exist_ok=True)
    return base


def autosave_path() -> Path:
    """The file the app autosaves its session to (its folder is created)."""
    return data_dir() / ("autosave" + SESSION_EXTENSION)


class RecentFiles:
    """The recently opened files, most recent first, kept in ``recent.json`` in :func:`data_dir`.

    Reads the file on every call, so several windows share one list. Writing is best effort:
    an unwritable list must not break the save or open that updates it.

    Parameters
    ----------
    path : str or os.PathLike, optional
        The JSON file (default: ``data_dir() / "recent.json"``).
    max_items : int
        How many entries to keep.
    """

    def __init__(self, path: str | os.PathLike | None = None, max_items: int = 10):
        self.path = Path(path) if path is not None else data_dir() / "recent.json"
        self.max_items = int(max_items)

    def items(self) -> list[str]:
        """The list, most recent first; empty when the file is missing or unreadable."""
        try:
            value = parse_json(self.path.read_bytes(), "recent.json")
        except (OSError, FileFormatError):
            return []
        if not isinstance(value, list):
            return []
        return [v for v in value if isinstance(v, str) and v][: self.max_items]

    def _write(self, entries: list[str]) -> list[str]:
        entries = entries[: self.max_items]
        with contextlib.suppress(OSError):
            self.path.parent.mkdir(parents=True, exist_ok=True)
            atomic_write_bytes(self.path, json.dumps(entries, indent=1).encode("utf-8"))
        return entries

    @staticmethod
    def _same(a: str, b: str) -> bool:
        return os.path.normcase(a) == os.path.normcase(b)

    def add(self, file: str | os.PathLike) -> list[str]:
        """Put ``file`` (made absolute) first, dropping an older entry for it; returns the list."""
        entry = os.path.abspath(os.fspath(file))
        return self._write([entry] + [e for e in self.items() if not self._same(e, entry)])

    def remove(self, file: str | os.PathLike) -> list[str]:
        """Drop ``file`` (e.g. after it failed to open); returns the list."""
        entry = os.path.abspath(os.fspath(file))
        return self._write([e for e in self.items() if not self._same(e, entry)])

    def clear(self) -> None:
        """Empty the list."""
        self._write([])
