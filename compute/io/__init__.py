"""OpScope's file layer, free of Qt: tensors, run archives and sessions, always written atomically.

It also reads, and never writes, PyTorch checkpoints (:mod:`.checkpoints`, through
``torch.load(weights_only=True)`` only) and sharded safetensors indexes (:mod:`.shards`).

Every problem with a file raises :class:`FileFormatError` (sessions: its subclass
:class:`SessionError`), a :class:`~compute.errors.OpScopeError` and ``ValueError`` whose message
names the file and the problem. Pickles are never read.
"""

from __future__ import annotations

from .atomic import atomic_open, atomic_write, atomic_write_bytes, remove_stale_temps
from .checkpoints import TORCH_EXTENSIONS, CheckpointError
from .file_checks import parse_json
from .run_archive import (
    ProgramArchive,
    RunArchive,
    load_any_run,
    load_program_run,
    load_run,
    params_from_json,
    params_to_json,
    save_program_run,
    save_run,
)
from .session import RecentFiles, Session, SessionError, autosave_path, data_dir, load_session, save_session
from .shards import INDEX_SUFFIX
from .tensor_files import (
    LOADABLE_EXTENSIONS,
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
    "INDEX_SUFFIX",
    "LOADABLE_EXTENSIONS",
    "SUPPORTED_EXTENSIONS",
    "TORCH_EXTENSIONS",
    "CheckpointError",
    "FileFormatError",
    "RecentFiles",
    "ProgramArchive",
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
    "load_any_run",
    "load_program_run",
    "load_run",
    "load_session",
    "load_tensor",
    "load_tensors",
    "params_from_json",
    "params_to_json",
    "parse_json",
    "remove_stale_temps",
    "parse_table",
    "save_program_run",
    "save_run",
    "save_session",
    "save_tensor",
    "save_tensors",
    "split_path_key",
]
