"""CSV/TSV text tables: :func:`parse_table` reads them as people, spreadsheets and numpy write
them, :func:`format_table` writes them so that they read back bit for bit.

Pasted text has its own parser, :func:`compute.text_parse.parse_matrix_text`; the two share only
the separator rule (:func:`~compute.text_parse.sniff_separator`). Files differ on purpose: cells go
straight to :func:`float` (a million-line file must load fast; ``1e999`` reads as inf), one ``;`` line
is one row (paste reads MATLAB rows), with ``;`` every comma is a decimal point, a header row and
``#`` lines are skipped, results are always 2-D, and errors are :class:`FileFormatError` naming lines.
"""

from __future__ import annotations

import codecs
import re
from collections.abc import Callable, Iterable, Iterator
from typing import IO, Any

import numpy as np

from ..budget import human_bytes
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


def _split_cells(line: str, sep: str | None, trailing: bool = True) -> list[str]:
    """The cells of a row (or of a piece of a long one: ``trailing`` only for its last piece)."""
    if sep is None:
        cells = line.split()
    else:
        # cells keep their blanks (float() ignores them; stripping 4 M cells costs a fifth of a load)
        cells = line.split(sep)
        while trailing and cells and not cells[-1].strip():
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


# ---------------------------------------------------------------------------------------------
# the streaming parser behind parse_table and CSV/TSV files
#
# A table is read one line at a time into a flat float64 buffer that grows in place, so the peak
# memory is about the result's size (plus one line), not the 19-84x the file's size that holding
# the text, every line and every cell as Python strings at once took (a 60 MB CSV peaked at
# 1.13 GB). The separator rule (sniff_separator: a tab if *any* row has one, else ";", else ",")
# looks at every row, so the parse starts with the separators seen so far and starts over in the
# rare file where a later row brings a separator of higher rank: the result is exactly that of a
# parse that had sniffed all rows first.

_PIECE = 1 << 16  # characters: a longer line is split at separators so that its cells never all exist at once
_FLUSH = 1 << 12  # values gathered in a Python list before they are copied into the buffer
_NEWLINE = re.compile(r"\r\n|\r|\n")
_BLANK = re.compile(r"\s")
# the separators that outrank each one (sniff_separator's order)
_HIGHER = {None: ("\t", ";", ","), ",": ("\t", ";"), ";": ("\t",), "\t": ()}
# holding the whole text of a list literal (the only form not read line by line) costs about this
# many times its size (text, rows, one row's cells): measured with tracemalloc, rounded up
_LITERAL_FACTOR = 4
_MAX_RESERVE = 8 << 20  # values (64 MiB) reserved from the first row's guess at most


class _Restart(Exception):
    """A row has a separator that outranks the one the rows so far were read with."""

    def __init__(self, sep: str):
        super().__init__(sep)
        self.sep = sep


class _Values:
    """A flat float64 buffer that grows in place up to the byte limit, then refuses with a message."""

    def __init__(self, source: str, limit: int):
        self.source, self.limit = source, limit
        self.max_values = max(int(limit), 0) // 8
        self.buf = np.empty(0, dtype=np.float64)
        self.n = 0
        self.pending: list[float] = []

    def reserve(self, values: int) -> None:
        """Make room for ``values`` values in all (an estimate: more still grows the buffer)."""
        values = min(values, self.max_values)
        if values > self.buf.size:
            # the buffer is never viewed outside this class, so resizing in place (a realloc) is safe
            self.buf.resize(values, refcheck=False)

    def add(self, vals: list[float], rows: int, ncols: int | None) -> None:
        self.pending.extend(vals)
        if len(self.pending) >= _FLUSH:
            self.flush(rows, ncols)

    def flush(self, rows: int, ncols: int | None) -> None:
        k = len(self.pending)
        if not k:
            return
        need = self.n + k
        if need > self.max_values:
            shape = f"at least {need // ncols:,}×{ncols}" if ncols else f"at least {need:,} values"
            raise FileFormatError(
                f"{self.source}: the table ({shape}) needs more than {human_bytes(self.limit)}, over the limit of "
                f"{human_bytes(self.limit)} (the memory budget; OPSCOPE_MEMORY_BUDGET raises it)"
            )
        if need > self.buf.size:
            self.reserve(max(need, self.buf.size + self.buf.size // 2, 1024))
        self.buf[self.n:need] = self.pending
        self.n = need
        self.pending.clear()

    def result(self, rows: int, ncols: int) -> np.ndarray:
        self.flush(rows, ncols)
        self.buf.resize(self.n, refcheck=False)  # shrinking in place: no copy
        return self.buf.reshape(rows, ncols)


def _pieces(line: str, sep: str | None) -> Iterator[tuple[str, bool]]:
    """``(piece, is_last)``: the whole line, or, when very long, pieces cut at a separator (dropped)."""
    start, n = 0, len(line)
    if n > _PIECE and sep is not None:
        # trailing separators are dropped from the row's end, which a cut could otherwise hide
        end = len(line.rstrip())
        while end and line[end - 1] == sep:
            end = len(line[:end - 1].rstrip())
        if end < n:
            line, n = line[:end], end
    while n - start > _PIECE:
        if sep is None:
            m = _BLANK.search(line, start + _PIECE)
            cut = m.start() if m else -1
        else:
            cut = line.find(sep, start + _PIECE)
        if cut < 0:
            break
        yield line[start:cut], False
        start = cut + 1
    yield (line[start:] if start else line), True


def _shown(cell: str) -> str:
    cell = cell.strip()
    return "an empty cell" if cell == "" else f"{cell[:40]!r}{'...' if len(cell) > 40 else ''}"


def _parse_pass(rows: Iterable[tuple[int, str]], kind: str, source: str, limit: int, sep: str | None,
                sniff: bool, comments: bool, size_hint: int) -> tuple[np.ndarray | None, bool]:
    """One reading of ``rows`` (numbered lines or literal rows) with separator ``sep``.

    Returns the table (None when there is no number) and whether any row had non-blank text;
    raises :class:`_Restart` when a row brings a separator of higher rank after rows were read.
    """
    values = _Values(source, limit)
    higher = _HIGHER[sep] if sniff else ()
    ncols: int | None = None
    first_label = ""
    nrows = 0
    header_done = False
    read_any = False  # a row was split with the current separator
    nonblank = False
    error: FileFormatError | None = None
    for number, line in rows:
        if comments:
            stripped = line.strip()
            if not stripped:
                continue
            nonblank = True
            if stripped.startswith("#"):
                continue
        if higher:
            found = next((s for s in higher if s in line), None)
            if found is not None:
                if read_any:
                    raise _Restart(found)
                sep, higher = found, _HIGHER[found]
        if error is not None:
            continue  # only looking for a separator that would change how the table reads
        read_any = True
        if sep == ";":
            line = line.replace(",", ".")  # with ';' separators every comma is a decimal point
        count = 0
        any_number = False
        bad: tuple[int, str] | None = None
        for piece, is_last in _pieces(line, sep):
            cells = _split_cells(piece, sep, trailing=is_last)
            if bad is None:
                try:
                    vals = [float(c) for c in cells]
                except ValueError:
                    j = next(j for j, c in enumerate(cells) if not _is_number(c))
                    bad = (count + j, cells[j])
                    any_number = any_number or j > 0 or any(_is_number(c) for c in cells[j + 1:])
                else:
                    any_number = any_number or bool(vals)
                    values.add(vals, nrows, ncols)
            elif not header_done and not any_number:
                any_number = any(_is_number(c) for c in cells)
            count += len(cells)
        if count == 0:
            continue  # a line of separators only
        if not header_done:
            header_done = True
            if not any_number:
                continue  # a header row of column names
        label = f"{kind} {number}"
        if ncols is None:
            ncols, first_label = count, label
            # room for the whole table, guessed from this row's share of the text; capped, because
            # comment lines would inflate the guess, and growing in place later costs little
            guess = int(size_hint / (len(line) + 1) * 1.05 * count) + count
            values.reserve(min(guess, _MAX_RESERVE))
        elif count != ncols:
            error = FileFormatError(
                f"{source}: {label} has {count} value{'s' * (count != 1)} but {first_label} has {ncols}; "
                f"every row of a table needs the same number of values"
            )
            continue
        if bad is not None:
            error = FileFormatError(f"{source}: {label}, column {bad[0] + 1}: {_shown(bad[1])} is not a number")
            continue
        nrows += 1
    if error is not None:
        raise error
    if ncols is None:
        return None, nonblank
    return values.result(nrows, ncols), nonblank


def _parse_rows(make_rows: Callable[[], Iterable[tuple[int, str]]], kind: str, source: str, limit: int,
                sep: str | None = None, sniff: bool = True, comments: bool = True, size_hint: int = 0,
                nonblank: bool = False) -> np.ndarray:
    """A 2-D float64 table from the rows ``make_rows()`` yields (called again on a restart)."""
    while True:
        rows = make_rows()
        try:
            table, seen = _parse_pass(rows, kind, source, limit, sep, sniff, comments, size_hint)
        except _Restart as restart:
            sep = restart.sep
            continue
        finally:
            close = getattr(rows, "close", None)
            if close is not None:
                close()  # a file's generator closes its file
        if table is None:
            raise FileFormatError(f"{source} holds no numbers" if seen or nonblank else f"{source} is empty")
        return table


def _text_lines(text: str) -> Iterator[tuple[int, str]]:
    """Numbered lines of ``text``, split at ``\\r\\n``, ``\\r`` or ``\\n`` without copying it all."""
    pos = 0
    number = 0
    for m in _NEWLINE.finditer(text):
        number += 1
        yield number, text[pos:m.start()]
        pos = m.end()
    yield number + 1, text[pos:]


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
    limit = _limit(max_bytes)
    rows = _unbracket(text, source)
    if rows is not None:
        literal = [(i, r) for i, (_label, r) in enumerate(rows, start=1)]
        sep = "," if any("," in r for _, r in literal) else None
        return _parse_rows(lambda: iter(literal), "row", source, limit, sep=sep, sniff=False, comments=False,
                           size_hint=len(text), nonblank=bool(text.strip()))
    return _parse_rows(lambda: _text_lines(text), "line", source, limit, size_hint=len(text))


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


def _latin1_fallback(exc: UnicodeError) -> tuple[str, int]:
    """Decode bytes that are not UTF-8 as latin-1: numbers are ASCII, and a latin-1 header row
    (``température``) must not stop the load."""
    if not isinstance(exc, UnicodeDecodeError):
        raise exc
    return exc.object[exc.start:exc.end].decode("latin-1"), exc.end


codecs.register_error("opscope-latin1", _latin1_fallback)


def _file_lines(path: str, encoding: str) -> Iterator[tuple[int, str]]:
    """Numbered lines of a text file, read one at a time (universal newlines: ``\r\n``, ``\r``, ``\n``)."""
    with open(path, encoding=encoding, errors="opscope-latin1", newline=None) as f:
        for number, line in enumerate(f, start=1):
            yield number, line[:-1] if line.endswith("\n") else line


def _load_table(path: str, where: str, size: int, keys: list[str] | None, max_bytes: int | None):
    _select(where, [TensorInfo("table", (0, 0), np.dtype(np.float64))], keys)
    limit = _limit(max_bytes)
    with open(path, "rb") as f:
        head = f.read(4096)
    if head.startswith((b"\xff\xfe", b"\xfe\xff")):
        encoding, chars = "utf-16", size // 2  # Excel's "Unicode text" export
    elif b"\x00" in head:
        raise FileFormatError(f"{where} is a binary file, not a CSV/TSV text table{_sniff(head[:16])}")
    else:
        encoding, chars = "utf-8-sig", size
    with open(path, encoding=encoding, errors="opscope-latin1") as f:
        start = f.read(4096)
    if _LITERAL_START.match(start.lstrip("\ufeff")):
        # a numpy/Python list literal spans lines, so it is read whole: the text must fit
        if size * _LITERAL_FACTOR > limit:
            raise FileFormatError(
                f"{where}: the file is {human_bytes(size)}; reading it as a list literal needs about "
                f"{human_bytes(size * _LITERAL_FACTOR)}, over the limit of {human_bytes(limit)} (the memory budget)"
            )
        with open(path, encoding=encoding, errors="opscope-latin1", newline="") as f:
            text = f.read()
        return {"table": parse_table(text, where, max_bytes=limit)}
    # read line by line: the peak is about the table's own size, whatever the file's
    return {"table": _parse_rows(lambda: _file_lines(path, encoding), "line", where, limit, size_hint=chars)}
