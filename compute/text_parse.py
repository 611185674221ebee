"""Turning copied text into arrays and arrays into text people can paste elsewhere.

What people copy: spreadsheet cells (TSV), CSV, semicolon-separated values, whitespace-separated
rows, MATLAB-like ``1 2; 3 4``, and numpy / Python / torch printouts (``[[1, 2], [3, 4]]``,
``array([[1., 2.], [3., 4.]])``, ``[[1. 2.]\\n [3. 4.]]``). Nothing is ever ``eval``-ed: the
bracket part is read by a small tokenizer, every cell by :func:`float` after a strict check.

Dimensionality of the result
----------------------------
* A bracket literal has the nesting depth it is written with (``[1, 2]`` is 1-D, ``[[1, 2]]`` 2-D).
* Plain text: one value is 0-D, one line of values 1-D, several lines (or ``;``-separated rows on
  one line, MATLAB style) 2-D.

Separators in plain text
------------------------
A tab anywhere makes every line tab-separated (spreadsheets); otherwise a ``;`` inside lines makes
them ``;``-separated (European CSV, where ``1,5`` is then read as 1.5); otherwise a comma makes them
comma-separated; otherwise runs of whitespace separate. On a *single* line ``;`` separates rows
(MATLAB ``1 2; 3 4``). Trailing separators, blank lines, a BOM, ``\\r\\n`` and bare ``\\r`` line
endings and the unicode minus ``−`` are all accepted.

Table files have their own parser, :func:`compute.io.parse_table`; the two share only the separator
rule (:func:`sniff_separator`). Paste differs on purpose: each cell is checked strictly (names such as
``np.nan``, complex numbers and overflow get their own messages), one line with ``;`` is MATLAB rows,
literals keep any nesting depth, and errors are :class:`TextParseError` naming rows, not file lines.
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Sequence

import numpy as np

from .errors import InputError

__all__ = [
    "TextParseError", "fit_dtype", "format_numpy", "format_tsv", "format_value", "parse_matrix_text", "parse_scalar",
    "sniff_separator",
]

#: Deepest nesting accepted in a literal (numpy itself stops at 64 dimensions).
MAX_NDIM = 32

# Characters people paste that mean something plain: unicode minus and dashes, the BOM, the
# no-break / thin spaces spreadsheets put in numbers' surroundings.
_TRANSLATE = str.maketrans({
    "\u2212": "-", "\u2012": "-", "\u2013": "-", "\ufe63": "-", "\uff0d": "-",
    "\ufeff": "", "\u200b": "",
    "\u00a0": " ", "\u2007": " ", "\u2009": " ", "\u202f": " ",
})

# A number as a cell may hold it. float() alone would also take '1_0', Arabic-Indic digits and
# 'infinity' spelled oddly; the regex keeps what is accepted to what people actually write.
_NUMBER_RE = re.compile(
    r"""[+-]?(?:
        (?:\d+\.?\d*|\.\d+)(?:[eE][+-]?\d+)?
        |nan|inf|infinity
    )""",
    re.VERBOSE | re.IGNORECASE,
)
_NAMED = {
    "np.nan": "nan", "numpy.nan": "nan", "math.nan": "nan", "np.inf": "inf", "numpy.inf": "inf",
    "math.inf": "inf", "np.infty": "inf", "np.pi": repr(math.pi), "np.e": repr(math.e),
    "true": "1", "false": "0", "np.true_": "1", "np.false_": "0",
}
_COMPLEX_RE = re.compile(r"^[+-]?[\d.eE+\-]*[jJ]$|^\(?[+-]?[\d.eE]+[+-][\d.eE]*[jJ]\)?$")
_DECIMAL_COMMA_RE = re.compile(r"^[+-]?\d+,\d*(?:[eE][+-]?\d+)?$")
# numpy 2 prints list elements as np.float64(1.5); torch prints tensor(1.5).
_SCALAR_WRAPPER_RE = re.compile(r"\b(?:np|numpy)\.(?:float|int|uint|bool)\w*\(\s*([^()]*?)\s*\)")
_ARRAY_WRAPPER_RE = re.compile(r"^\s*(?:[A-Za-z_]\w*\s*=\s*)?(?:(?:np|numpy|torch)\.)?(?:array|asarray|tensor)\s*\(")
# Values without commas or brackets keep this linear: no nested quantifier can backtrack.
_TRAILING_KWARGS_RE = re.compile(r"^\s*(?:,\s*[A-Za-z_]\w*\s*=\s*[^()\[\],]*)*,?\s*\)\s*;?\s*$")
_ASSIGN_RE = re.compile(r"^[A-Za-z_]\w*\s*=\s*(?=\[)")
_LINE_SPLIT_RE = re.compile(r"\r\n|\r|\n")
_JSON_SAFE_RE = re.compile(r"[\d\s.,eE+\-\[\]]*")
_TABLE_SAFE_RE = re.compile(r"[\d\s.,;eE+\-]*")
_BRACKET_RE = re.compile(r"[\[\]]")
_TOKEN_RE = re.compile(r"\s+|[\[\],;]|[^\s\[\],;]+")


class TextParseError(InputError):
    """Text that is not a rectangular table of real numbers.

    The message names the row and column (1-based, as a person counts) of the first bad cell, e.g.
    ``"row 2, column 3: 'abc' is not a number"``.
    """


def _cell_name(row: int, col: int) -> str:
    return f"row {row + 1}, column {col + 1}"


def _short(cell: str, limit: int = 24) -> str:
    return repr(cell if len(cell) <= limit else cell[: limit - 1] + "…")


def _number(cell: str, where: str) -> float:
    """Parse one cell (already stripped) or raise :class:`TextParseError` naming ``where``."""
    text = cell.strip().strip("\"'").strip()
    if not text:
        raise TextParseError(f"{where}: the cell is empty")
    low = text.lower()
    neg = low.startswith("-")
    key = low.lstrip("+-")
    if key in _NAMED:
        text = ("-" if neg else "") + _NAMED[key]
    if not _NUMBER_RE.fullmatch(text):
        if _COMPLEX_RE.match(text):
            raise TextParseError(f"{where}: {_short(cell)} is a complex number; only real numbers are supported")
        if text == "...":
            raise TextParseError(
                f"{where}: '...' marks a shortened numpy printout; print it in full "
                "(np.set_printoptions(threshold=sys.maxsize)) and copy again"
            )
        raise TextParseError(f"{where}: {_short(cell)} is not a number")
    value = float(text)
    if math.isinf(value) and "inf" not in text.lower():
        raise TextParseError(f"{where}: {_short(cell)} is too large for float64")
    return value


def parse_scalar(text: str, dtype=np.float64, where: str = "value"):
    """Parse one cell's text as a value of ``dtype``, refusing what the dtype cannot hold exactly.

    Parameters
    ----------
    text : str
        What was typed: a number, ``nan``, ``inf``, ``True``/``False`` (as 1/0).
    dtype : numpy dtype-like
        The array's dtype: integers refuse fractions, NaN and out-of-range values; ``bool``
        accepts only 0/1/True/False; float16/32 refuse finite values that would overflow to inf.
    where : str
        How messages name the cell (e.g. ``"A[1, 2]"``).

    Returns
    -------
    numpy scalar of ``dtype``

    Raises
    ------
    TextParseError
        With a message saying why (``"'abc' is not a number"``, ``"2.5 is not an integer (int32)"``).
    """
    if not isinstance(text, str):
        text = str(text)
    value = _number(text.translate(_TRANSLATE), where)
    return _coerce(value, np.dtype(dtype), where)


def _coerce(value: float, dtype: np.dtype, where: str):
    """``value`` as a ``dtype`` scalar, or :class:`TextParseError` when the dtype would change it."""
    shown = format_value(value)
    if dtype == np.bool_:
        if value not in (0.0, 1.0):
            raise TextParseError(f"{where}: {shown} is not a truth value (bool takes 0/1 or True/False)")
        return np.bool_(value == 1.0)
    if dtype.kind in "iu":
        if not math.isfinite(value) or value != math.floor(value):
            raise TextParseError(f"{where}: {shown} is not an integer ({dtype.name})")
        info = np.iinfo(dtype)
        if not info.min <= value <= info.max:
            raise TextParseError(f"{where}: {shown} is out of range for {dtype.name} ({info.min} … {info.max})")
        return dtype.type(int(value))
    if dtype.kind == "f":
        if math.isfinite(value) and abs(value) > float(np.finfo(dtype).max):
            raise TextParseError(
                f"{where}: {shown} is out of range for {dtype.name} (largest {format_value(np.finfo(dtype).max)})"
            )
        return dtype.type(value)
    raise TextParseError(f"{where}: dtype {dtype} is not supported (use a float, int or bool dtype)")


def fit_dtype(values, dtype, what: str = "") -> np.ndarray:
    """``values`` (parsed, float64) converted to ``dtype``, refusing any value the dtype would change.

    Integer dtypes refuse fractions, NaN/inf and out-of-range values; ``bool`` refuses anything but
    0 and 1; float16/float32 refuse finite values that would overflow to inf (rounding to the
    dtype's precision is accepted: that is what typing into a float32 cell means).

    Parameters
    ----------
    values : array-like
        Real numbers, e.g. the result of :func:`parse_matrix_text`.
    dtype : numpy dtype-like
    what : str
        Prefix of the message, e.g. ``"pasted text"``.

    Raises
    ------
    TextParseError
        Naming the first bad cell: ``"pasted text, row 2, column 1: 2.5 is not an integer (int32)"``.
    """
    a = np.asarray(values, dtype=np.float64)
    dt = np.dtype(dtype)
    if dt.kind == "f":
        with np.errstate(over="ignore", invalid="ignore"):
            out = a.astype(dt)
        bad = np.isfinite(a) & ~np.isfinite(out)
    elif dt.kind in "iu":
        info = np.iinfo(dt)
        finite = np.isfinite(a)
        safe = np.where(finite, a, 0.0)
        bad = ~finite | (safe != np.floor(safe)) | (safe < info.min) | (safe > info.max)
        out = None
    elif dt.kind == "b":
        bad = (a != 0.0) & (a != 1.0)
        out = None
    else:
        raise TextParseError(f"dtype {dt} is not supported (use a float, int or bool dtype)")
    if bad.any():
        first = tuple(int(i) for i in np.argwhere(bad)[0])
        where = _where(first) if first else "value"
        _coerce(float(a[first]), dt, f"{what}, {where}" if what else where)
    return out if out is not None else a.astype(dt)


def parse_matrix_text(text: str) -> np.ndarray:
    """Parse pasted text into a float64 array.

    Parameters
    ----------
    text : str
        Spreadsheet TSV, CSV, ``;``-separated or whitespace-separated rows, MATLAB-like ``1 2; 3 4``
        (bracketed or not), or a numpy/Python/torch list literal, optionally wrapped in
        ``np.array(...)`` / ``array(...)`` / ``tensor(...)`` (keyword arguments such as ``dtype=`` are
        ignored). See the module docstring for how separators and dimensions are decided.

    Returns
    -------
    numpy.ndarray
        float64, 0-D for one value, 1-D for one line, 2-D for several lines; a literal keeps its
        nesting depth (up to :data:`MAX_NDIM`).

    Raises
    ------
    TextParseError
        Empty text, ragged rows, a cell that is not a real number (complex numbers included); the
        message names the row and column of the first bad cell.
    """
    if not isinstance(text, str):
        raise TextParseError(f"expected text, got {type(text).__name__}")
    text = text.translate(_TRANSLATE).strip()
    if not text:
        raise TextParseError("nothing to paste: the text is empty")
    # A regex scan of a megabyte costs ~0.2 s; substring tests cost almost nothing.
    if any(f"{mod}.{kind}" in text for mod in ("np", "numpy") for kind in ("float", "int", "uint", "bool")):
        text = _SCALAR_WRAPPER_RE.sub(r"\1", text)
    wrapper = _ARRAY_WRAPPER_RE.match(text)
    if wrapper:
        return _parse_wrapped(text, wrapper.end())
    assign = _ASSIGN_RE.match(text)
    if assign:
        text = text[assign.end():]
    if text.startswith("["):
        body, rest = _split_bracket(text, 0)
        if rest.strip().strip(";,").strip():
            raise TextParseError(f"unexpected text after the closing bracket: {_short(rest.strip())}")
        return _parse_bracketed(body)
    return _parse_table(text)


def _parse_wrapped(text: str, start: int) -> np.ndarray:
    """``array(<literal or number>, dtype=...)``: parse the first argument only."""
    inner = text[start:].lstrip()
    if inner.startswith("["):
        body, rest = _split_bracket(inner, 0)
        if not _TRAILING_KWARGS_RE.match(rest):
            raise TextParseError(f"unexpected text after the array literal: {_short(rest.strip())}")
        return _parse_bracketed(body)
    # A 0-D array prints as array(1.5) or array(1.5, dtype=float32).
    m = re.match(r"^([^,()\[\]]*)", inner)
    rest = inner[m.end():]
    if not _TRAILING_KWARGS_RE.match(rest):
        raise TextParseError(f"unexpected text in the array literal: {_short(inner)}")
    return np.array(_number(m.group(1), _cell_name(0, 0)), dtype=np.float64)


def _split_bracket(text: str, start: int) -> tuple[str, str]:
    """``text[start]`` is ``[``: return the balanced bracket part and what follows it."""
    depth = 0
    # Visit only the brackets (a regex scan), not every character of a megabyte of numbers.
    for m in _BRACKET_RE.finditer(text, start):
        if m.group() == "[":
            depth += 1
            if depth > MAX_NDIM + 1:
                raise TextParseError(f"brackets nested deeper than {MAX_NDIM} levels")
        else:
            depth -= 1
            if depth == 0:
                i = m.start()
                return text[start: i + 1], text[i + 1:]
    raise TextParseError(f"unbalanced brackets: {depth} '[' not closed")


def _parse_bracketed(body: str) -> np.ndarray:
    """A balanced ``[...]``: a MATLAB matrix when it has ``;`` and one level, else a nested literal."""
    inner = body[1:-1]
    if ";" in inner and "[" not in inner:
        return _parse_table(inner, force_2d=True)
    if _JSON_SAFE_RE.fullmatch(body):
        # Comma-separated plain numbers (our own "Copy as numpy code", Python lists): the C JSON
        # parser is ~20× faster than the tokenizer. Anything it refuses or turns into an infinity
        # (1e999) goes through the tokenizer, which names the bad cell.
        try:
            nested = json.loads(body)
        except ValueError:
            nested = None
        if isinstance(nested, list):
            result = _rectangular(nested)
            if not np.isinf(result).any():
                return result
    return _parse_literal(body)


def _parse_literal(body: str) -> np.ndarray:
    """A nested list literal. Elements are separated by commas or whitespace (numpy ``str()`` output).

    Iterative (no recursion) so that deep garbage cannot overflow the stack.
    """
    stack: list[list] = []
    result = None
    index: list[int] = []  # index of the element being read, for messages
    for m in _TOKEN_RE.finditer(body):
        tok = m.group()
        if tok.isspace() or tok == ",":
            continue
        if result is not None:
            raise TextParseError(f"unexpected text after the closing bracket: {_short(tok)}")
        if tok == "[":
            if stack:
                index[-1] = len(stack[-1])
            new: list = []
            if stack:
                stack[-1].append(new)
            stack.append(new)
            index.append(0)
        elif tok == "]":
            done = stack.pop()
            index.pop()
            if not stack:
                result = done
        elif tok == ";":
            raise TextParseError("';' inside a nested list: use commas, or MATLAB rows without inner brackets")
        else:
            if not stack:
                raise TextParseError(f"unexpected text outside the brackets: {_short(tok)}")
            index[-1] = len(stack[-1])
            stack[-1].append(_number(tok, _where(index)))
    if result is None:
        raise TextParseError("unbalanced brackets")
    return _rectangular(result)


def _where(index) -> str:
    """A person's name for a literal's element: row/column of the last two axes (1-based)."""
    index = list(index)
    if len(index) == 1:
        return _cell_name(0, index[0])
    lead = index[:-2]
    text = _cell_name(index[-2], index[-1])
    if lead:
        text += " of slice [" + ", ".join(str(i) for i in lead) + "]"
    return text


def _rectangular(nested: list) -> np.ndarray:
    """Check that a nested list is a full rectangular block, naming the first ragged part."""
    shape: list[int] = []
    level = [nested]
    paths: list[tuple[int, ...]] = [()]
    while True:
        kinds = {isinstance(x, list) for lst in level for x in lst}
        if len(kinds) > 1:
            for lst, path in zip(level, paths):
                for j, x in enumerate(lst):
                    if isinstance(x, list) != isinstance(level[0][0], list):
                        raise TextParseError(f"{_where(path + (j,))}: mixes numbers and lists (ragged nesting)")
        lengths = {len(lst) for lst in level}
        if len(lengths) > 1:
            first = len(level[0])
            for lst, path in zip(level, paths):
                if len(lst) != first:
                    leaf = not any(isinstance(x, list) for x in lst)
                    raise TextParseError(_ragged_message(path, len(lst), paths[0], first, leaf))
        n = lengths.pop()
        shape.append(n)
        if n == 0:
            raise TextParseError("the list is empty: there are no numbers to paste")
        if not isinstance(level[0][0], list):
            break
        if len(shape) >= MAX_NDIM:
            raise TextParseError(f"brackets nested deeper than {MAX_NDIM} levels")
        paths = [p + (j,) for lst, p in zip(level, paths) for j in range(len(lst))]
        level = [x for lst in level for x in lst]
    flat = [x for lst in level for x in lst]
    return np.array(flat, dtype=np.float64).reshape(shape)


def _plural(n: int, word: str) -> str:
    return f"{n} {word}" if n == 1 else f"{n} {word}s"


def _ragged_message(path: tuple[int, ...], n: int, first_path: tuple[int, ...], first: int, leaf: bool) -> str:
    if leaf and len(path) >= 1:
        # Lists of numbers are rows: name them as a person counts them (1-based).
        where = f"row {path[-1] + 1}"
        if len(path) > 1:
            where += " of slice [" + ", ".join(str(i) for i in path[:-1]) + "]"
        return f"{where} has {_plural(n, 'value')} but row 1 has {first} (rows must be equally long)"
    return f"element {list(path)} has {_plural(n, 'item')} but element {list(first_path)} has {first} (ragged nesting)"


def _split_lines(text: str) -> list[str]:
    return [ln.strip() for ln in _LINE_SPLIT_RE.split(text) if ln.strip()]


def sniff_separator(lines: Sequence[str]) -> str | None:
    """The cell separator of delimited text: a tab if any line has one, else ``;``, else ``,``.

    Shared by pasted text (:func:`parse_matrix_text`) and table files
    (:func:`compute.io.parse_table`), so that a table reads the same whether pasted or loaded.

    Returns
    -------
    str or None
        ``None`` when no line has any of them: cells are then separated by runs of whitespace.
    """
    return next((sep for sep in ("\t", ";", ",") if any(sep in line for line in lines)), None)


def _parse_table(text: str, force_2d: bool = False) -> np.ndarray:
    """Plain delimited text, one row per line (or per ``;`` on a single line)."""
    lines = [ln.rstrip(" \t,;").strip() for ln in _split_lines(text)]
    lines = [ln for ln in lines if ln]
    if not lines:
        raise TextParseError("nothing to paste: the text has no numbers")
    matlab = False
    if len(lines) == 1 and ";" in lines[0]:
        # MATLAB rows on one line: '1 2; 3 4'.
        lines = [seg.strip() for seg in lines[0].split(";")]
        matlab = True
        for i, seg in enumerate(lines):
            if not seg:
                raise TextParseError(f"row {i + 1} is empty (two ';' in a row)")
    if matlab or force_2d:
        delim = "\t" if any("\t" in ln for ln in lines) else ("," if any("," in ln for ln in lines) else None)
    else:
        delim = sniff_separator(lines)
    rows: list[list[float]] = []
    width = None
    for r, line in enumerate(lines):
        cells = line.split() if delim is None else [c.strip() for c in line.split(delim)]
        if delim in (";", "\t") and "," in line:
            # European spreadsheets write decimals with a comma when the separator is not one.
            cells = [c.replace(",", ".") if _DECIMAL_COMMA_RE.match(c) else c for c in cells]
        try:
            # Fast path: with only digits, signs, dots and exponents in the line, float() accepts
            # exactly what _NUMBER_RE does, so one regex per line replaces one per cell.
            if not _TABLE_SAFE_RE.fullmatch(line):
                raise ValueError
            values = [float(c) for c in cells]
            if any(math.isinf(v) for v in values):
                raise ValueError
        except ValueError:
            values = [_number(c, _cell_name(r, j)) for j, c in enumerate(cells)]
        if width is None:
            width = len(values)
        elif len(values) != width:
            raise TextParseError(
                f"row {r + 1} has {_plural(len(values), 'value')} but row 1 has {width} (rows must be equally long)"
            )
        rows.append(values)
    arr = np.array(rows, dtype=np.float64)
    if force_2d or matlab or len(rows) > 1:
        return arr
    if width == 1:
        return arr.reshape(())
    return arr.reshape(width)


# --------------------------------------------------------------------------------------------- output


def format_value(x) -> str:
    """The shortest text that reads back as exactly ``x`` in its own dtype.

    Whole floats below 1e15 print without a decimal point (``3``), which spreadsheets prefer; ``-0.0``
    keeps its sign; NaN/inf print as ``nan``/``inf``/``-inf``; booleans as ``True``/``False``.
    """
    if isinstance(x, (bool, np.bool_)):
        return "True" if x else "False"
    if isinstance(x, (int, np.integer)):
        return str(int(x))
    if isinstance(x, float) or (isinstance(x, np.floating) and x.dtype == np.float64):
        return _format_float64(float(x))
    if not isinstance(x, np.floating):
        return _format_float64(float(x))
    v = float(x)
    if math.isnan(v):
        return "nan"
    if math.isinf(v):
        return "inf" if v > 0 else "-inf"
    if v == 0.0 and math.copysign(1.0, v) < 0:
        return "-0.0"
    if v == math.floor(v) and abs(v) < 1e15:
        return str(int(v))
    # str() of a numpy float scalar is the shortest repr that round-trips in that precision, so a
    # float32 0.1 prints as 0.1, not 0.10000000149011612.
    return str(x)


def _format_float64(v: float) -> str:
    """:func:`format_value` of a Python float: ``repr`` is already the shortest round-trip text and
    about 5× faster than going through a numpy scalar (copying a 1000×1000 block)."""
    if v != v:
        return "nan"
    if v in (math.inf, -math.inf):
        return "inf" if v > 0 else "-inf"
    if v.is_integer() and abs(v) < 1e15:
        return "-0.0" if v == 0.0 and math.copysign(1.0, v) < 0 else str(int(v))
    return repr(v)


def _as_real_array(array) -> np.ndarray:
    a = np.asarray(array)
    if a.dtype.kind not in "biuf":
        raise InputError(f"cannot format an array of dtype {a.dtype}: only real numbers and bool are supported")
    return a


def format_tsv(array) -> str:
    """Tab-separated text of a 0-D, 1-D or 2-D array, one row per line, for spreadsheets and paste.

    Every value is written at full precision (:func:`format_value`), so
    ``parse_matrix_text(format_tsv(a))`` gives back ``a`` exactly (as float64).

    Raises
    ------
    InputError
        For arrays of more than 2 dimensions (copy a 2-D slice) and non-real dtypes.
    """
    a = _as_real_array(array)
    if a.ndim > 2:
        raise InputError(f"TSV holds at most 2 dimensions; this array has shape {a.shape}: copy one 2-D slice")
    if a.ndim == 0:
        return format_value(a[()])
    rows = a.reshape(1, -1) if a.ndim == 1 else a
    if a.dtype == np.float64:
        # tolist() gives Python floats: the fast formatting path.
        return "\n".join("\t".join(map(_format_float64, row)) for row in rows.tolist())
    if a.dtype.kind in "iu":
        return "\n".join("\t".join(map(str, row)) for row in rows.tolist())
    return "\n".join("\t".join(format_value(x) for x in row) for row in rows)


_NP_VALUE = {"nan": "np.nan", "inf": "np.inf", "-inf": "-np.inf"}


def _code_value(x, kind: str) -> str:
    text = format_value(x)
    if text in _NP_VALUE:
        return _NP_VALUE[text]
    if kind == "f" and re.fullmatch(r"-?\d+", text):
        return text + ".0"  # keeps a float array's literal a float literal
    return text


def format_numpy(array, name: str | None = None) -> str:
    """Python code that rebuilds ``array`` exactly: ``A = np.array([[1.0, 2.0], [3.0, 4.0]])``.

    Parameters
    ----------
    array : array-like
        Real or bool, any number of dimensions.
    name : str, optional
        Assigned to when it is a Python identifier (other characters are replaced by ``_``).

    Returns
    -------
    str
        Code using ``np`` (``import numpy as np``); non-float64 dtypes are named (``dtype=np.int32``);
        NaN/inf are ``np.nan``/``np.inf``. Short arrays are one line, longer ones one row per line.
    """
    a = _as_real_array(array)
    kind = a.dtype.kind

    def nested(sub, depth: int, indent: int) -> str:
        if sub.ndim == 0:
            return _code_value(sub[()], kind)
        if sub.ndim == 1:
            return "[" + ", ".join(_code_value(x, kind) for x in sub) + "]"
        parts = [nested(s, depth + 1, indent + 1) for s in sub]
        one_line = "[" + ", ".join(parts) + "]"
        if len(one_line) + indent <= 100:
            return one_line
        sep = "," + "\n" * (sub.ndim - 1) + " " * (indent + 1)
        return "[" + sep.join(parts) + "]"

    prefix = ""
    if name:
        ident = re.sub(r"\W", "_", str(name))
        if ident[:1].isdigit():
            ident = "_" + ident
        prefix = ident + " = "
    head = prefix + "np.array("
    body = nested(a, 0, len(head))
    if a.dtype == np.float64:
        dtype = ""
    elif a.dtype == np.bool_:
        dtype = ", dtype=bool"
    else:
        dtype = f", dtype=np.{a.dtype.name}"
    return f"{head}{body}{dtype})"
