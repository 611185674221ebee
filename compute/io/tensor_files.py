"""Read and write tensors as .npy, .npz, .safetensors, .csv and .tsv, refusing anything unsafe.

Every problem with a file (missing, empty, truncated, corrupt, pickled, too large, of an unknown
type or dtype) raises :class:`FileFormatError`, whose message names the file and says what is
wrong, so a GUI can show it as it is. Pickles are never loaded (``allow_pickle=False`` everywhere):
a pickle can run arbitrary code on load. Sizes are read from headers and checked against a byte
limit *before* any data is read, because numpy would otherwise happily try to allocate them.
"""

from __future__ import annotations

import contextlib
import json
import math
import os
import re
import struct
import zipfile
from collections.abc import Iterator, Mapping
from typing import IO, Any, NamedTuple

import numpy as np
from numpy.lib import format as npy_format

from ..budget import human_bytes, memory_budget
from ..errors import OpScopeError
from .atomic import atomic_open

__all__ = [
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
DEFAULT_KEYS = {".npy": "array", ".npz": "array", ".safetensors": "tensor", ".csv": "table", ".tsv": "table"}

_PICKLE_MESSAGE = "holds Python objects (pickle); OpScope never unpickles files"
_NPY_MAGIC = b"\x93NUMPY"
# safetensors dtype names -> numpy; BF16 has no numpy dtype and is widened to float32 on load.
_ST_DTYPES = {
    "BOOL": np.bool_, "U8": np.uint8, "I8": np.int8, "U16": np.uint16, "I16": np.int16, "U32": np.uint32,
    "I32": np.int32, "U64": np.uint64, "I64": np.int64, "F16": np.float16, "F32": np.float32, "F64": np.float64,
    "BF16": np.float32,
}
_ST_MAX_HEADER = 100 << 20  # the limit the safetensors library itself applies


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


# ---------------------------------------------------------------------------------------------
# paths, dtypes, sizes


def _ext(path: str) -> str:
    ext = os.path.splitext(path)[1].lower()
    if ext not in SUPPORTED_EXTENSIONS:
        shown = f"'{ext}'" if ext else "without an extension"
        raise FileFormatError(
            f"{os.path.basename(path) or path}: unknown file type {shown}; "
            f"OpScope reads and writes {', '.join(SUPPORTED_EXTENSIONS)}"
        )
    return ext


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
    exts = "|".join(re.escape(e) for e in SUPPORTED_EXTENSIONS)
    m = re.match(rf"^(.*?(?:{exts})):(.+)$", text, flags=re.IGNORECASE | re.DOTALL)
    if m:
        return m.group(1), m.group(2)
    return text, None


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
            header = json.loads(f.read(n).decode("utf-8"))
        except (UnicodeDecodeError, ValueError) as exc:
            raise FileFormatError(f"{where} has a corrupt safetensors header ({exc})") from exc
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
# .csv / .tsv


_BRACKET_PREFIX = re.compile(r"^\s*(?:(?:np|numpy)\.)?array\s*\((.*)\)\s*$", re.DOTALL)
_LITERAL_START = re.compile(r"\s*(?:\[|(?:(?:np|numpy)\.)?array\s*\()")
_DTYPE_SUFFIX = re.compile(r",\s*dtype\s*=\s*[\w.'\"]+\s*$")


def _unbracket(text: str, source: str) -> list[tuple[str, str]] | None:
    """Rows of a numpy/Python list literal (``[[1, 2], [3, 4]]``, ``array([...])``, ``[[1. 2.]]``),
    or None when ``text`` is not one. Each row is (label for messages, row text)."""
    if not _LITERAL_START.match(text):
        return None  # checked first: a large CSV must not be copied just to learn it is no literal
    m = _BRACKET_PREFIX.match(text)
    body = _DTYPE_SUFFIX.sub("", m.group(1)) if m else text
    body = body.strip()
    if not body.startswith("["):
        return None
    depth = max_depth = 0
    for ch in body:
        if ch == "[":
            depth += 1
            max_depth = max(max_depth, depth)
        elif ch == "]":
            depth -= 1
            if depth < 0:
                break
    if depth != 0:
        raise FileFormatError(f"{source}: unbalanced brackets in a list literal")
    if max_depth > 2:
        raise FileFormatError(f"{source}: a list nested {max_depth} deep is not a 2-D table")
    groups = re.findall(r"\[([^\[\]]*)\]", body)
    rest = re.sub(r"\[([^\[\]]*)\]", "", body)
    # a 1-D literal is one bracket pair; between rows of a 2-D one only commas and blanks may stand
    if (max_depth == 1 and len(groups) != 1) or not re.fullmatch(r"[\s,\[\]]*", rest):
        raise FileFormatError(f"{source}: unexpected text outside the brackets of a list literal")
    return [(f"row {i + 1}", " ".join(g.split())) for i, g in enumerate(groups)]


def _split_cells(line: str, sep: str | None) -> list[str]:
    if sep is None:
        cells = line.split()
    else:
        # cells keep their blanks (float() ignores them; stripping 4 M cells costs a fifth of a load)
        cells = line.split(sep)
        while cells and not cells[-1].strip():
            cells.pop()  # trailing separators, as spreadsheets write them
    if '"' not in line and "'" not in line:
        return cells
    out = []
    for c in cells:
        c = c.strip()
        if len(c) >= 2 and c[0] == c[-1] and c[0] in "\"'":
            c = c[1:-1].strip()
        out.append(c)
    return out


def _is_number(cell: str) -> bool:
    try:
        float(cell)
    except ValueError:
        return False
    return True


def parse_table(text: str, source: str = "text", max_bytes: int | None = None) -> np.ndarray:
    """Parse a 2-D table of numbers from text, as spreadsheets, numpy and people write them.

    Parameters
    ----------
    text : str
        Rows on lines (``\\n``, ``\\r\\n`` or a bare ``\\r``), cells separated by tabs, semicolons,
        commas or whitespace (sniffed in that order). Blank lines, ``#`` comment lines, trailing
        separators, a BOM, quoted cells and one header row of non-numeric names are skipped. With
        ``;`` separators a decimal comma is accepted (``1,5;2,5``). A numpy or Python list literal
        (``[[1, 2], [3, 4]]``, ``array([[1., 2.]])``, ``[[1. 2.]]``) is accepted too.
    source : str
        Names the text in error messages (a file name).
    max_bytes : int, optional
        Refuse tables larger than this (default: the memory budget).

    Returns
    -------
    numpy.ndarray
        A 2-D float64 array; a single line gives one row.

    Raises
    ------
    FileFormatError
        For anything else, naming the line and column of the first bad cell, or the first row
        whose length differs.
    """
    if text.startswith("\ufeff"):
        text = text[1:]
    rows = _unbracket(text, source)
    if rows is not None:
        sep = "," if any("," in r for _, r in rows) else None
    else:
        rows = []
        for lineno, line in enumerate(re.split(r"\r\n|\r|\n", text), start=1):
            stripped = line.strip()
            if stripped and not stripped.startswith("#"):
                rows.append((f"line {lineno}", line))
        sep = next((s for s in ("\t", ";", ",") if any(s in r for _, r in rows)), None)
    if sep == ";":
        rows = [(label, r.replace(",", ".")) for label, r in rows]
    table = [(label, cells) for label, r in rows if (cells := _split_cells(r, sep))]
    if table and not any(_is_number(c) for c in table[0][1]):
        table = table[1:]  # a header row of column names
    if not table:
        raise FileFormatError(f"{source} is empty" if not text.strip() else f"{source} holds no numbers")
    ncols = len(table[0][1])
    nbytes = len(table) * ncols * 8
    limit = _limit(max_bytes)
    if nbytes > limit:
        raise FileFormatError(
            f"{source}: a {len(table)}×{ncols} table needs {human_bytes(nbytes)}, over the limit of "
            f"{human_bytes(limit)} (the memory budget)"
        )
    out = np.empty((len(table), ncols), dtype=np.float64)
    first_label = table[0][0]
    for i, (label, cells) in enumerate(table):
        if len(cells) != ncols:
            raise FileFormatError(
                f"{source}: {label} has {len(cells)} value{'s' * (len(cells) != 1)} but {first_label} has {ncols}; "
                f"every row of a table needs the same number of values"
            )
        try:
            out[i] = [float(c) for c in cells]
        except ValueError:
            col = next(j for j, c in enumerate(cells) if not _is_number(c))
            cell = cells[col].strip()
            shown = "an empty cell" if cell == "" else f"{cell[:40]!r}{'...' if len(cell) > 40 else ''}"
            raise FileFormatError(f"{source}: {label}, column {col + 1}: {shown} is not a number") from None
    return out


def _format_row(row: np.ndarray) -> list[str]:
    if row.dtype == np.float64:
        return [repr(v) for v in row.tolist()]  # shortest text that reads back to the same float64
    if row.dtype.kind == "f":
        return [str(v) for v in row]  # numpy's shortest round-trip text for float16/float32
    if row.dtype.kind == "b":
        return ["1" if v else "0" for v in row.tolist()]
    return [str(v) for v in row.tolist()]


def _table_2d(where: str, arr: np.ndarray) -> np.ndarray:
    if arr.ndim == 1:
        return arr.reshape(1, -1)
    if arr.ndim != 2:
        raise FileFormatError(
            f"{where}: CSV/TSV holds 2-D tables; this tensor is {tuple(arr.shape)}: "
            f"save it as .npy/.npz/.safetensors"
        )
    return arr


def format_table(array: Any, sep: str = "\t") -> str:
    """The text of a 1-D or 2-D array, one row a line, that :func:`parse_table` reads back exactly.

    Parameters
    ----------
    array : array_like
        Bool, int or float; float64 is written with the shortest text that reads back to the same
        value (``repr``), float16/32 with the shortest for their own precision; NaN and infinities
        as ``nan``, ``inf``, ``-inf``.
    sep : str
        Cell separator (tab for spreadsheets' clipboards).
    """
    arr = _table_2d("table", _as_savable("table", "table", array))
    return "".join(sep.join(_format_row(row)) + "\n" for row in arr)


def _write_table(f: IO[bytes], arr: np.ndarray, sep: str) -> None:
    for row in arr:
        f.write((sep.join(_format_row(row)) + "\n").encode("ascii"))


def _load_table(path: str, where: str, size: int, keys: list[str] | None, max_bytes: int | None):
    # the text alone takes the file's size, and every cell at least two bytes of it
    _select(where, [TensorInfo("table", (0, 0), np.dtype(np.float64))], keys)
    limit = _limit(max_bytes)
    if size > limit:
        raise FileFormatError(
            f"{where}: the file is {human_bytes(size)}, over the limit of {human_bytes(limit)} (the memory budget)"
        )
    with open(path, "rb") as f:
        raw = f.read()
    if raw.startswith((b"\xff\xfe", b"\xfe\xff")):
        encoding = "utf-16"  # Excel's "Unicode text" export
    elif b"\x00" in raw[:4096]:
        raise FileFormatError(f"{where} is a binary file, not a CSV/TSV text table{_sniff(raw[:16])}")
    else:
        encoding = "utf-8-sig"
    try:
        text = raw.decode(encoding)
    except UnicodeDecodeError:
        text = raw.decode("latin-1")  # numbers are ASCII; a latin-1 header row must not stop the load
    return {"table": parse_table(text, where, max_bytes=limit)}


# ---------------------------------------------------------------------------------------------
# public API


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


def _read(path: str | os.PathLike, keys: list[str] | None = None,
          max_bytes: int | None = None) -> tuple[dict[str, np.ndarray], dict[str, str]]:
    """Tensors (all, or ``keys``) and the safetensors metadata (empty for other formats)."""
    path = os.fspath(path)
    ext = _ext(path)
    where, size = _open_checked(path)
    try:
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
        A .npy, .npz, .safetensors, .csv or .tsv file.

    Returns
    -------
    list of TensorInfo
        ``(key, shape, dtype)`` named tuples, in file order; the dtype is the one loading gives
        (bfloat16 loads as float32, CSV/TSV as float64).

    Raises
    ------
    FileFormatError
        The file cannot be loaded (its data is checked for truncation, not read).
    """
    path = os.fspath(path)
    ext = _ext(path)
    where, size = _open_checked(path)
    try:
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
    except OSError as exc:
        raise FileFormatError(f"{where}: cannot read it ({exc.strerror or exc})") from exc


def load_tensors(path: str | os.PathLike, *, max_bytes: int | None = None) -> dict[str, np.ndarray]:
    """Every tensor in a file.

    Parameters
    ----------
    path : str or os.PathLike
        ``.npy`` gives ``{"array": ...}``; ``.npz`` and ``.safetensors`` all their keys;
        ``.csv``/``.tsv`` ``{"table": <2-D float64>}``.
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
        keys = ["table"] if _ext(path) in (".csv", ".tsv") else [i.key for i in describe_file(path)]
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
