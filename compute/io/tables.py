"""CSV/TSV text tables: :func:`parse_table` reads them as people, spreadsheets and numpy write
them, :func:`format_table` writes them so that they read back bit for bit.

Pasted text has its own parser, :func:`compute.text_parse.parse_matrix_text`; the two share only
the separator rule (:func:`~compute.text_parse.sniff_separator`). Files differ on purpose: cells go
straight to :func:`float` (a million-line file must load fast; ``1e999`` reads as inf), one ``;`` line
is one row (paste reads MATLAB rows), with ``;`` every comma is a decimal point, a header row and
``#`` lines are skipped, results are always 2-D, and errors are :class:`FileFormatError` naming lines.
"""

from __future__ import annotations

import re
from typing import IO, Any

import numpy as np

from ..budget import human_bytes
from ..text_parse import sniff_separator
from .file_checks import FileFormatError, TensorInfo, _as_savable, _limit, _select, _sniff

__all__ = ["format_table", "parse_table"]


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
        sep = sniff_separator([r for _, r in rows])
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
