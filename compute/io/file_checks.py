"""What every tensor file format shares: the error, the tensor description, and the checks made
before anything is read or written (dtype, size against the memory budget, the file itself).

Kept apart from the format modules so that :mod:`.tensor_files` (binary formats) and
:mod:`.tables` (CSV/TSV text) can both use it without importing each other.
"""

from __future__ import annotations

import json
import math
import os
from typing import Any, NamedTuple

import numpy as np

from ..budget import human_bytes, memory_budget
from ..errors import OpScopeError

_PICKLE_MESSAGE = "holds Python objects (pickle); OpScope never unpickles files"
_NPY_MAGIC = b"\x93NUMPY"
#: JSON nested deeper than this is refused: no file OpScope reads needs more than a handful of
#: levels, json.loads raises RecursionError (not ValueError) from about 1000, and our own recursive
#: walks (restore_tuples) must not meet a depth that the interpreter's stack cannot hold.
MAX_JSON_DEPTH = 64


class FileFormatError(OpScopeError, ValueError):
    """A file OpScope cannot read or write; the message names the file and the problem."""


class TensorInfo(NamedTuple):
    """What :func:`describe_file` reports for one tensor, read from headers only."""

    key: str
    shape: tuple[int, ...]
    dtype: np.dtype

    @property
    def nbytes(self) -> int:
        """Bytes the tensor takes once loaded."""
        return math.prod(self.shape) * self.dtype.itemsize


def _dtype_problem(dtype: np.dtype) -> str | None:
    """Why OpScope cannot hold ``dtype`` (it computes on real numbers), or None when it can."""
    if dtype.hasobject:
        return None  # the caller reports pickles with its own wording
    if dtype.kind == "c":
        return f"has complex dtype {dtype}; OpScope works with real numbers (bool, int, float)"
    if dtype.fields is not None or dtype.subdtype is not None:
        return f"has structured dtype {dtype}; OpScope works with plain numeric arrays"
    if dtype.kind not in "biuf":
        return f"has dtype {dtype}; OpScope works with numbers (bool, int, float)"
    return None


def _check_loaded_dtype(where: str, key: str, dtype: np.dtype) -> None:
    if dtype.hasobject:
        raise FileFormatError(f"{where}: tensor '{key}' {_PICKLE_MESSAGE}")
    problem = _dtype_problem(dtype)
    if problem:
        raise FileFormatError(f"{where}: tensor '{key}' {problem}")


def _as_savable(where: str, key: str, array: Any) -> np.ndarray:
    try:
        arr = np.asarray(array)
    except Exception as exc:  # ragged lists and the like
        raise FileFormatError(f"{where}: tensor '{key}' is not an array ({exc})") from exc
    if arr.dtype.hasobject:
        raise FileFormatError(f"{where}: tensor '{key}' holds Python objects; OpScope saves numeric arrays only")
    problem = _dtype_problem(arr.dtype)
    if problem:
        raise FileFormatError(f"{where}: cannot save tensor '{key}': it {problem}")
    return arr


def _native(arr: np.ndarray) -> np.ndarray:
    """C-contiguous, native byte order, writeable: what the rest of OpScope expects."""
    if not arr.dtype.isnative:
        arr = arr.astype(arr.dtype.newbyteorder("="))
    # np.ascontiguousarray would turn a 0-d array into shape (1,)
    if not (arr.flags.c_contiguous and arr.flags.writeable):
        arr = arr.copy(order="C")
    return arr


def _limit(max_bytes: int | None) -> int:
    return memory_budget() if max_bytes is None else int(max_bytes)


def _guard_size(where: str, infos: list[TensorInfo], max_bytes: int | None) -> None:
    total = sum(i.nbytes for i in infos)
    limit = _limit(max_bytes)
    if total > limit:
        largest = sorted(infos, key=lambda i: -i.nbytes)[:3]
        items = ", ".join(f"'{i.key}' {human_bytes(i.nbytes)}" for i in largest)
        raise FileFormatError(
            f"{where}: loading would need {human_bytes(total)} ({items}), over the limit of "
            f"{human_bytes(limit)} (the memory budget; OPSCOPE_MEMORY_BUDGET raises it)"
        )


def _json_depth_over(value: Any, limit: int) -> bool:
    """Whether ``value`` (parsed JSON) nests lists/dicts deeper than ``limit``; iterative, no recursion."""
    stack = [(value, 1)]
    while stack:
        item, depth = stack.pop()
        if isinstance(item, dict):
            item = list(item.values())
        elif not isinstance(item, list):
            continue
        if depth > limit:
            return True
        stack.extend((v, depth + 1) for v in item if isinstance(v, (list, dict)))
    return False


def parse_json(data: str | bytes, what: str) -> Any:
    """Parse JSON read from a file, refusing what is not plain, shallow JSON with one clear message.

    Parameters
    ----------
    data : str or bytes
        The text (bytes are decoded as UTF-8).
    what : str
        Names the text in the message, e.g. ``"m.safetensors: its header"``.

    Raises
    ------
    FileFormatError
        Bytes that are not UTF-8, text that is not JSON, or JSON nested deeper than
        :data:`MAX_JSON_DEPTH` (``[[[[...`` a hundred thousand deep made ``json.loads`` raise
        ``RecursionError``, which escaped every ``except ValueError``).
    """
    try:
        text = data.decode("utf-8") if isinstance(data, (bytes, bytearray, memoryview)) else data
        if not isinstance(text, str):
            raise TypeError(f"not text but {type(text).__name__}")
        value = json.loads(text)
    except UnicodeDecodeError as exc:
        raise FileFormatError(f"{what} is not UTF-8 text ({exc.reason} at byte {exc.start})") from None
    except RecursionError:
        raise FileFormatError(f"{what} is JSON nested too deeply to read (over {MAX_JSON_DEPTH} levels)") from None
    except (ValueError, TypeError) as exc:
        raise FileFormatError(f"{what} is not valid JSON ({exc})") from None
    if _json_depth_over(value, MAX_JSON_DEPTH):
        raise FileFormatError(f"{what} is JSON nested too deeply to read (over {MAX_JSON_DEPTH} levels)")
    return value


def _open_checked(path: str) -> tuple[str, int]:
    """The display name of ``path`` and its size; refuses missing, unreadable and empty files."""
    name = os.path.basename(path) or path
    try:
        st = os.stat(path)
    except FileNotFoundError:
        raise FileFormatError(f"{path}: no such file") from None
    except OSError as exc:
        raise FileFormatError(f"{path}: cannot read it ({exc.strerror or exc})") from exc
    if not os.path.isfile(path):
        raise FileFormatError(f"{path}: not a file")
    if st.st_size == 0:
        raise FileFormatError(f"{name} is empty")
    return name, st.st_size


def _sniff(head: bytes) -> str:
    """A hint on what a file with the wrong content really is."""
    if head.startswith(_NPY_MAGIC):
        return " (it looks like a .npy file)"
    if head.startswith(b"PK"):
        return " (it looks like a zip / .npz file)"
    if head[:1] == b"\x80":
        return " (it looks like a Python pickle; OpScope never unpickles files)"
    if len(head) >= 9 and head[8:9] == b"{":
        return " (it looks like a .safetensors file)"
    return ""


def _select(where: str, infos: list[TensorInfo], keys: list[str] | None) -> list[TensorInfo]:
    if keys is None:
        return infos
    by_key = {i.key: i for i in infos}
    missing = [k for k in keys if k not in by_key]
    if missing:
        raise FileFormatError(
            f"{where} has no tensor '{missing[0]}'; it holds: {', '.join(repr(i.key) for i in infos)}"
        )
    return [by_key[k] for k in keys]
