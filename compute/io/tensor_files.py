"""Read and write tensors as .npy, .npz, .safetensors, .csv and .tsv, refusing anything unsafe.

Every problem with a file (missing, empty, truncated, corrupt, pickled, too large, of an unknown
type or dtype) raises :class:`FileFormatError`, whose message names the file and says what is
wrong, so a GUI can show it as it is. Pickles are never loaded (``allow_pickle=False`` everywhere):
a pickle can run arbitrary code on load. Sizes are read from headers and checked against a byte
limit *before* any data is read, because numpy would otherwise happily try to allocate them.

The binary formats live here, with the dispatch on the extension; CSV/TSV text is in :mod:`.tables`
and the checks every format shares in :mod:`.file_checks`.
"""

from __future__ import annotations

import contextlib
import math
import os
import re
import struct
import zipfile
from collections.abc import Iterator, Mapping
from typing import IO, Any

import numpy as np
from numpy.lib import format as npy_format

from ..budget import human_bytes
from .atomic import atomic_open
from .checkpoints import TORCH_EXTENSIONS
from .file_checks import (
    _NPY_MAGIC,
    _PICKLE_MESSAGE,
    FileFormatError,
    TensorInfo,
    _as_savable,
    _check_loaded_dtype,
    _guard_size,
    _native,
    _open_checked,
    _select,
    _sniff,
    parse_json,
)
from .shards import INDEX_SUFFIX, is_index
from .tables import _load_table, _table_2d, _write_table, format_table, parse_table

__all__ = [
    "LOADABLE_EXTENSIONS",
    "SUPPORTED_EXTENSIONS",
    "FileFormatError",
    "TensorInfo",
    "describe_file",
    "format_table",
    "load_tensor",
    "load_tensors",
    "parse_table",
    "save_tensor",
    "save_tensors",
    "split_path_key",
]

SUPPORTED_EXTENSIONS = (".npy", ".npz", ".safetensors", ".csv", ".tsv")
#: What OpScope reads, and never writes: PyTorch checkpoints (they are pickles, read only through
#: ``torch.load(weights_only=True)``; :mod:`.checkpoints`) and shard indexes (:mod:`.shards`).
LOADABLE_EXTENSIONS = SUPPORTED_EXTENSIONS + TORCH_EXTENSIONS + (INDEX_SUFFIX,)
DEFAULT_KEYS = {".npy": "array", ".npz": "array", ".safetensors": "tensor", ".csv": "table", ".tsv": "table"}
# safetensors dtype names -> numpy; BF16 has no numpy dtype and is widened to float32 on load.
_ST_DTYPES = {
    "BOOL": np.bool_, "U8": np.uint8, "I8": np.int8, "U16": np.uint16, "I16": np.int16, "U32": np.uint32,
    "I32": np.int32, "U64": np.uint64, "I64": np.int64, "F16": np.float16, "F32": np.float32, "F64": np.float64,
    "BF16": np.float32,
}
_ST_MAX_HEADER = 100 << 20  # the limit the safetensors library itself applies


# ---------------------------------------------------------------------------------------------
# paths


def _ext(path: str) -> str:
    """The extension of a file to write (or to read, for the formats OpScope also writes)."""
    ext = os.path.splitext(path)[1].lower()
    if ext in TORCH_EXTENSIONS or is_index(path):
        raise FileFormatError(
            f"{os.path.basename(path) or path}: OpScope reads PyTorch checkpoints and shard indexes but does not "
            f"write them; save as {', '.join(SUPPORTED_EXTENSIONS)}"
        )
    if ext not in SUPPORTED_EXTENSIONS:
        shown = f"'{ext}'" if ext else "without an extension"
        raise FileFormatError(
            f"{os.path.basename(path) or path}: unknown file type {shown}; "
            f"OpScope reads and writes {', '.join(SUPPORTED_EXTENSIONS)} "
            f"(and reads {', '.join(TORCH_EXTENSIONS)} with PyTorch, and {INDEX_SUFFIX} shard indexes)"
        )
    return ext


def _read_kind(path: str) -> str:
    """What to read ``path`` as: its extension, ``".pt"`` for every checkpoint, or the index suffix."""
    if is_index(path):
        return INDEX_SUFFIX
    ext = os.path.splitext(path)[1].lower()
    return ".pt" if ext in TORCH_EXTENSIONS else _ext(path)


def split_path_key(text: str | os.PathLike) -> tuple[str, str | None]:
    """Split ``"weights.npz:inputs/A"`` into ``("weights.npz", "inputs/A")``.

    Parameters
    ----------
    text : str or os.PathLike
        A path, optionally followed by ``:key`` right after a supported extension.

    Returns
    -------
    (path, key) : tuple
        ``key`` is ``None`` when there is none. An existing file whose name contains a colon is
        taken as a plain path; a Windows drive letter (``C:\\...``) is never mistaken for a key.
    """
    text = os.fspath(text)
    if os.path.exists(text):
        return text, None
    exts = "|".join(re.escape(e) for e in LOADABLE_EXTENSIONS)
    m = re.match(rf"^(.*?(?:{exts})):(.+)$", text, flags=re.IGNORECASE | re.DOTALL)
    if m:
        return m.group(1), m.group(2)
    return text, None


# ---------------------------------------------------------------------------------------------
# .npy


def _npy_header(f: IO[bytes], where: str, key: str, available: int) -> TensorInfo:
    """Read an .npy header from ``f`` (positioned at its start) and check ``available`` data bytes."""
    head = f.read(len(_NPY_MAGIC))
    if not head:
        raise FileFormatError(f"{where}: tensor '{key}' is empty")
    if head[:1] == b"\x80":
        raise FileFormatError(f"{where} {_PICKLE_MESSAGE}")
    if not head.startswith(_NPY_MAGIC):
        raise FileFormatError(f"{where} is not a .npy file: it lacks the NumPy header{_sniff(head)}")
    f.seek(-len(head), os.SEEK_CUR)
    start = f.tell()
    try:
        version = npy_format.read_magic(f)
        # format 3.0 differs from 2.0 only in allowing UTF-8 in the header text
        reader = npy_format.read_array_header_1_0 if version == (1, 0) else npy_format.read_array_header_2_0
        shape, _fortran, dtype = reader(f)
    except Exception as exc:
        raise FileFormatError(f"{where}: tensor '{key}' has a corrupt or truncated .npy header ({exc})") from exc
    _check_loaded_dtype(where, key, dtype)
    info = TensorInfo(key, tuple(int(n) for n in shape), dtype)
    needed = f.tell() - start + info.nbytes
    if available < needed:
        raise FileFormatError(
            f"{where}: tensor '{key}' is truncated: its header promises {info.shape} {dtype} "
            f"({human_bytes(needed)}) but the data holds only {human_bytes(available)}"
        )
    return info


def _read_npy_data(f: IO[bytes], where: str, key: str) -> np.ndarray:
    try:
        arr = npy_format.read_array(f, allow_pickle=False)
    except Exception as exc:
        raise FileFormatError(f"{where}: tensor '{key}' cannot be read ({exc})") from exc
    return _native(arr)


def _describe_npy(path: str, where: str, size: int) -> list[TensorInfo]:
    with open(path, "rb") as f:
        return [_npy_header(f, where, DEFAULT_KEYS[".npy"], size)]


def _load_npy(path: str, where: str, size: int, keys: list[str] | None, max_bytes: int | None):
    with open(path, "rb") as f:
        info = _npy_header(f, where, DEFAULT_KEYS[".npy"], size)
        _select(where, [info], keys)
        _guard_size(where, [info], max_bytes)
        f.seek(0)
        return {info.key: _read_npy_data(f, where, info.key)}


# ---------------------------------------------------------------------------------------------
# .npz (a zip of .npy members; np.load's own reader is bypassed so every member is checked first)


@contextlib.contextmanager
def _open_zip(source: str | IO[bytes], where: str) -> Iterator[zipfile.ZipFile]:
    try:
        zf = zipfile.ZipFile(source)
    except zipfile.BadZipFile as exc:
        head = b""
        if isinstance(source, str):
            with open(source, "rb") as f:
                head = f.read(16)
        hint = _sniff(head) if not head.startswith(b"PK") else ""
        raise FileFormatError(
            f"{where} is not a valid .npz (zip) archive: it is truncated or corrupt ({exc}){hint}"
        ) from exc
    except Exception as exc:
        raise FileFormatError(f"{where} is not a valid .npz (zip) archive ({exc})") from exc
    with zf:
        yield zf


def _npz_members(zf: zipfile.ZipFile) -> list[tuple[str, zipfile.ZipInfo]]:
    # np.savez stores each array as "<key>.npy"; anything else was not written by numpy and is skipped
    return [(i.filename[:-4], i) for i in zf.infolist() if i.filename.endswith(".npy") and not i.is_dir()]


def _describe_npz_zip(zf: zipfile.ZipFile, where: str) -> list[tuple[TensorInfo, zipfile.ZipInfo]]:
    out = []
    for key, zinfo in _npz_members(zf):
        try:
            with zf.open(zinfo) as m:
                info = _npy_header(m, where, key, zinfo.file_size)
        except FileFormatError:
            raise
        except Exception as exc:
            raise FileFormatError(f"{where}: member '{key}' is corrupt ({exc})") from exc
        out.append((info, zinfo))
    if not out:
        raise FileFormatError(f"{where} holds no arrays (no .npy members in the archive)")
    return out


def _read_npz(source: str | IO[bytes], where: str, keys: list[str] | None, max_bytes: int | None):
    with _open_zip(source, where) as zf:
        described = _describe_npz_zip(zf, where)
        infos = _select(where, [info for info, _ in described], keys)
        _guard_size(where, infos, max_bytes)
        wanted = {i.key for i in infos}
        out = {}
        for info, zinfo in described:
            if info.key not in wanted:
                continue
            try:
                with zf.open(zinfo) as m:
                    out[info.key] = _read_npy_data(m, where, info.key)
            except FileFormatError:
                raise
            except Exception as exc:  # CRC mismatch, bad deflate stream, ...
                raise FileFormatError(f"{where}: member '{info.key}' is corrupt ({exc})") from exc
        return out


def _write_npz(f: IO[bytes], tensors: Mapping[str, np.ndarray]) -> None:
    """The layout of ``np.savez`` (stored, zip64), written by hand so that keys such as ``file``
    or ``allow_pickle`` cannot collide with ``np.savez``'s own keyword arguments."""
    with zipfile.ZipFile(f, mode="w", compression=zipfile.ZIP_STORED, allowZip64=True) as zf:
        for key, arr in tensors.items():
            with zf.open(key + ".npy", "w", force_zip64=True) as m:
                npy_format.write_array(m, arr, allow_pickle=False)


# ---------------------------------------------------------------------------------------------
# .safetensors


def _safetensors_error(where: str, exc: Exception) -> FileFormatError:
    text = str(exc)
    if "incomplete" in text or "too small" in text or "not fully covered" in text:
        problem = "is truncated or corrupt"
    else:
        problem = "has a corrupt header"
    return FileFormatError(f"{where} {problem} ({text})")


def _safetensors_header(path: str, where: str, size: int) -> tuple[dict, int]:
    """The raw JSON header (with data offsets, which the library does not expose) and where data starts."""
    with open(path, "rb") as f:
        raw = f.read(8)
        if len(raw) < 8:
            raise FileFormatError(f"{where} is truncated: too short for a safetensors header")
        (n,) = struct.unpack("<Q", raw)
        if n > min(_ST_MAX_HEADER, size - 8):
            raise FileFormatError(f"{where} is truncated or not a safetensors file (header length {n}){_sniff(raw)}")
        try:
            header = parse_json(f.read(n), "header")
        except FileFormatError as exc:
            raise FileFormatError(f"{where} has a corrupt safetensors header: {exc}") from None
    if not isinstance(header, dict):
        raise FileFormatError(f"{where} has a corrupt safetensors header (not a JSON object)")
    return header, 8 + n


def _describe_safetensors(path: str, where: str, size: int) -> tuple[list[TensorInfo], dict[str, str]]:
    from safetensors import safe_open

    header, _ = _safetensors_header(path, where, size)
    try:
        # safe_open validates what our quick parse does not: offsets, coverage, dtypes, shapes
        with safe_open(path, framework="numpy") as f:
            metadata = dict(f.metadata() or {})
            entries = [(k, f.get_slice(k)) for k in f.keys()]
            raw_infos = [(k, tuple(int(n) for n in s.get_shape()), s.get_dtype()) for k, s in entries]
    except Exception as exc:
        raise _safetensors_error(where, exc) from exc
    infos = []
    for key, shape, st_dtype in raw_infos:
        if st_dtype not in _ST_DTYPES:
            if st_dtype.startswith("C"):
                raise FileFormatError(
                    f"{where}: tensor '{key}' has complex dtype {st_dtype}; OpScope works with real numbers"
                )
            raise FileFormatError(
                f"{where}: tensor '{key}' has dtype {st_dtype}, which numpy cannot hold; "
                f"supported: {', '.join(_ST_DTYPES)}"
            )
        if key not in header:
            raise FileFormatError(f"{where} has a corrupt safetensors header (no entry for '{key}')")
        infos.append(TensorInfo(key, shape, np.dtype(_ST_DTYPES[st_dtype])))
    if not infos:
        raise FileFormatError(f"{where} holds no tensors")
    return infos, metadata


def _read_bf16(path: str, where: str, entry: dict, data_start: int, shape: tuple[int, ...]) -> np.ndarray:
    begin, end = (int(x) for x in entry["data_offsets"])
    with open(path, "rb") as f:
        f.seek(data_start + begin)
        raw = f.read(end - begin)
    if len(raw) != 2 * math.prod(shape):
        raise FileFormatError(f"{where}: a bfloat16 tensor is truncated")
    # bfloat16 is the upper half of a float32: widening it is exact
    bits = np.frombuffer(raw, dtype="<u2").astype(np.uint32) << 16
    return bits.view(np.float32).reshape(shape)


def _load_safetensors(path: str, where: str, size: int, keys: list[str] | None, max_bytes: int | None):
    from safetensors import safe_open

    infos, metadata = _describe_safetensors(path, where, size)
    infos = _select(where, infos, keys)
    _guard_size(where, infos, max_bytes)
    header, data_start = _safetensors_header(path, where, size)
    out = {}
    try:
        with safe_open(path, framework="numpy") as f:
            for info in infos:
                if header[info.key].get("dtype") == "BF16":
                    arr = _read_bf16(path, where, header[info.key], data_start, info.shape)
                else:
                    arr = f.get_tensor(info.key)
                out[info.key] = _native(arr)
    except FileFormatError:
        raise
    except Exception as exc:
        raise _safetensors_error(where, exc) from exc
    return out, metadata


def _safetensors_bytes(where: str, tensors: Mapping[str, np.ndarray], metadata: Mapping[str, str] | None) -> bytes:
    import safetensors.numpy

    if metadata is not None and not all(isinstance(k, str) and isinstance(v, str) for k, v in metadata.items()):
        raise FileFormatError(f"{where}: safetensors metadata must map strings to strings")
    prepared = {}
    for key, arr in tensors.items():
        if arr.dtype.kind == "f" and arr.dtype.itemsize > 8:
            raise FileFormatError(f"{where}: safetensors cannot hold {arr.dtype} (tensor '{key}'); save it as .npy")
        # safetensors stores little-endian, contiguous data
        prepared[key] = np.asarray(arr, dtype=arr.dtype.newbyteorder("<"), order="C")
    try:
        return safetensors.numpy.save(prepared, metadata=dict(metadata) if metadata else None)
    except Exception as exc:
        raise FileFormatError(f"{where}: cannot write safetensors ({exc})") from exc


# ---------------------------------------------------------------------------------------------
# public API


def _read(path: str | os.PathLike, keys: list[str] | None = None,
          max_bytes: int | None = None) -> tuple[dict[str, np.ndarray], dict[str, str]]:
    """Tensors (all, or ``keys``) and the safetensors metadata (empty for other formats)."""
    path = os.fspath(path)
    ext = _read_kind(path)
    where, size = _open_checked(path)
    try:
        if ext == INDEX_SUFFIX:
            from .shards import load_index

            return load_index(path, keys, max_bytes), {}
        if ext == ".pt":
            from .checkpoints import load_checkpoint

            return load_checkpoint(path, where, size, keys, max_bytes), {}
        if ext == ".npy":
            return _load_npy(path, where, size, keys, max_bytes), {}
        if ext == ".npz":
            return _read_npz(path, where, keys, max_bytes), {}
        if ext == ".safetensors":
            return _load_safetensors(path, where, size, keys, max_bytes)
        return _load_table(path, where, size, keys, max_bytes), {}
    except FileFormatError:
        raise
    except MemoryError as exc:
        raise FileFormatError(f"{where}: not enough memory to load it") from exc
    except OSError as exc:
        raise FileFormatError(f"{where}: cannot read it ({exc.strerror or exc})") from exc


def describe_file(path: str | os.PathLike) -> list[TensorInfo]:
    """Key, shape and dtype of every tensor in a file, read from its headers (CSV/TSV are parsed).

    Parameters
    ----------
    path : str or os.PathLike
        A .npy, .npz, .safetensors, .csv or .tsv file; a PyTorch checkpoint (.pt, .pth, .bin: with
        PyTorch installed, which reads the whole file); a ``*.safetensors.index.json`` shard index
        (each shard's header is read).

    Returns
    -------
    list of TensorInfo
        ``(key, shape, dtype)`` named tuples, in file order; the dtype is the one loading gives
        (bfloat16 loads as float32, CSV/TSV as float64); checkpoints' keys are dotted paths.

    Raises
    ------
    FileFormatError
        The file cannot be loaded (its data is checked for truncation, not read).
    """
    path = os.fspath(path)
    ext = _read_kind(path)
    where, size = _open_checked(path)
    try:
        if ext == INDEX_SUFFIX:
            from .shards import describe_index

            return describe_index(path)
        if ext == ".pt":
            from .checkpoints import describe_checkpoint

            return describe_checkpoint(path, where, size)
        if ext == ".npy":
            return _describe_npy(path, where, size)
        if ext == ".npz":
            with _open_zip(path, where) as zf:
                return [info for info, _ in _describe_npz_zip(zf, where)]
        if ext == ".safetensors":
            return _describe_safetensors(path, where, size)[0]
        table = _load_table(path, where, size, None, None)["table"]
        return [TensorInfo("table", table.shape, table.dtype)]
    except FileFormatError:
        raise
    except MemoryError as exc:
        raise FileFormatError(f"{where}: not enough memory to read it") from exc
    except OSError as exc:
        raise FileFormatError(f"{where}: cannot read it ({exc.strerror or exc})") from exc


def load_tensors(path: str | os.PathLike, *, max_bytes: int | None = None) -> dict[str, np.ndarray]:
    """Every tensor in a file.

    Parameters
    ----------
    path : str or os.PathLike
        ``.npy`` gives ``{"array": ...}``; ``.npz`` and ``.safetensors`` all their keys;
        ``.csv``/``.tsv`` ``{"table": <2-D float64>}``; a PyTorch checkpoint (``.pt``, ``.pth``,
        ``.bin``) its tensors by dotted key; a ``.safetensors.index.json`` every shard's tensors.
    max_bytes : int, optional
        Refuse the file, before reading any data, if its tensors need more bytes than this
        (default: the memory budget, :func:`compute.budget.memory_budget`).

    Returns
    -------
    dict of str to numpy.ndarray
        C-contiguous, native byte order, writeable arrays.

    Raises
    ------
    FileFormatError
        For every problem with the file.
    """
    return _read(path, None, max_bytes)[0]


def load_tensor(path: str | os.PathLike, key: str | None = None, *, max_bytes: int | None = None) -> np.ndarray:
    """One tensor of a file; ``path`` may be written ``"file.npz:key"``.

    Parameters
    ----------
    path : str or os.PathLike
        The file, optionally with ``:key`` (see :func:`split_path_key`).
    key : str, optional
        Which tensor; needed when the file holds several.
    max_bytes : int, optional
        As in :func:`load_tensors`, for this tensor alone.

    Raises
    ------
    FileFormatError
        For every problem with the file, an unknown key, or a missing key where the file holds
        several tensors (the message lists them).
    """
    if key is None:
        path, key = split_path_key(path)
    path = os.fspath(path)
    if key is None:
        # a table file holds one tensor: no need to parse it twice to learn its key
        keys = ["table"] if _read_kind(path) in (".csv", ".tsv") else [i.key for i in describe_file(path)]
        if len(keys) > 1:
            name = os.path.basename(path)
            raise FileFormatError(
                f"{name} holds {len(keys)} tensors; choose one of: {', '.join(map(repr, keys))} "
                f"(e.g. '{name}:{keys[0]}')"
            )
        key = keys[0]
    return _read(path, [key], max_bytes)[0][key]


def save_tensors(path: str | os.PathLike, tensors: Mapping[str, Any],
                 metadata: Mapping[str, str] | None = None) -> None:
    """Save several named tensors atomically to a .npz or .safetensors file.

    Parameters
    ----------
    path : str or os.PathLike
        Ends in ``.npz`` or ``.safetensors`` (``.npy``, ``.csv`` and ``.tsv`` hold one tensor:
        use :func:`save_tensor`).
    tensors : mapping of str to array_like
        Bool, int or float arrays; complex and object arrays are refused.
    metadata : mapping of str to str, optional
        Stored in the safetensors header; refused for .npz.

    Raises
    ------
    FileFormatError
        A tensor or key that cannot be saved, or a failed write (the old file is left intact).
    """
    path = os.fspath(path)
    ext = _ext(path)
    where = os.path.basename(path) or path
    if ext not in (".npz", ".safetensors"):
        raise FileFormatError(f"{where}: {ext} holds a single tensor; save several as .npz or .safetensors")
    if metadata and ext != ".safetensors":
        raise FileFormatError(f"{where}: only .safetensors files carry metadata")
    if not tensors:
        raise FileFormatError(f"{where}: nothing to save")
    arrays = {}
    for key, value in tensors.items():
        if not isinstance(key, str) or not key:
            raise FileFormatError(f"{where}: tensor names must be non-empty strings, not {key!r}")
        arrays[key] = _as_savable(where, key, value)
    try:
        if ext == ".npz":
            with atomic_open(path, "wb") as f:
                _write_npz(f, arrays)
        else:
            data = _safetensors_bytes(where, arrays, metadata)
            with atomic_open(path, "wb") as f:
                f.write(data)
    except OSError as exc:
        raise FileFormatError(f"{where}: cannot write it ({exc.strerror or exc})") from exc


def save_tensor(path: str | os.PathLike, array: Any, key: str | None = None) -> None:
    """Save one tensor atomically, in the format of the extension of ``path``.

    Parameters
    ----------
    path : str or os.PathLike
        ``.npy``, ``.npz`` (under ``key``, default ``"array"``), ``.safetensors`` (default key
        ``"tensor"``), ``.csv`` or ``.tsv`` (1-D or 2-D only; a vector is one row). CSV/TSV keep
        every digit: float64 reads back bit for bit.
    array : array_like
        Bool, int or float; complex and object arrays are refused.
    key : str, optional
        The tensor's name inside .npz/.safetensors; ignored by the other formats.

    Raises
    ------
    FileFormatError
        A tensor that the format cannot hold, or a failed write (the old file is left intact).
    """
    path = os.fspath(path)
    ext = _ext(path)
    where = os.path.basename(path) or path
    key = key or DEFAULT_KEYS[ext]
    if ext in (".npz", ".safetensors"):
        save_tensors(path, {key: array})
        return
    arr = _as_savable(where, key, array)
    try:
        if ext == ".npy":
            with atomic_open(path, "wb") as f:
                npy_format.write_array(f, arr, allow_pickle=False)
        else:
            table = _table_2d(where, arr)
            with atomic_open(path, "wb") as f:
                _write_table(f, table, "," if ext == ".csv" else "\t")
    except OSError as exc:
        raise FileFormatError(f"{where}: cannot write it ({exc.strerror or exc})") from exc
