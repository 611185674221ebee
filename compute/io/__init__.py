"""OpScope's file layer, free of Qt: tensors, run archives and sessions, always written atomically.

Every problem with a file raises :class:`FileFormatError` (sessions: its subclass
:class:`SessionError`), a :class:`~compute.errors.OpScopeError` and ``ValueError`` whose message
names the file and the problem. Pickles are never read.
"""

from __future__ import annotations

from .atomic import atomic_open, atomic_write, atomic_write_bytes
from .run_archive import RunArchive, load_run, params_from_json, params_to_json, save_run
from .session import RecentFiles, Session, SessionError, autosave_path, data_dir, load_session, save_session
from .tensor_files import (
    SUPPORTED_EXTENSIONS,
    FileFormatError,
    TensorInfo,
    describe_file,
    format_table,
    load_tensor,
    load_tensors,
    parse_table,
    save_tensor,
    save_tensors,
    split_path_key,
)

__all__ = [
    "SUPPORTED_EXTENSIONS",
    "FileFormatError",
    "RecentFiles",
    "RunArchive",
    "Session",
    "SessionError",
    "TensorInfo",
    "atomic_open",
    "atomic_write",
    "atomic_write_bytes",
    "autosave_path",
    "data_dir",
    "describe_file",
    "format_table",
    "load_run",
    "load_session",
    "load_tensor",
    "load_tensors",
    "params_from_json",
    "params_to_json",
    "parse_table",
    "save_run",
    "save_session",
    "save_tensor",
    "save_tensors",
    "split_path_key",
]
