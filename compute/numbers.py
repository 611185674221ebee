"""Formatting numbers for captions: short, exact where exact, readable from the back of a room.

:func:`fmt` is the plain spelling (ASCII ``-``, as a user types it; the matrix editor shows it).
Captions use :func:`num` (a true minus sign, ``−4``) for a value standing alone and :func:`term`
for an operand inside a formula, where a negative number goes in parentheses so the sign cannot
be read as an operator: ``1×6 + (−2)×8``, ``(−4)²``, ``× (−0.544)``.
"""

from __future__ import annotations

import math

import numpy as np


def fmt(x, digits: int = 4) -> str:
    """Format one scalar for a caption.

    Integers (and floats that are whole and not huge) print without a decimal point, other floats
    with ``digits`` significant digits; NaN and infinities print as ``nan``, ``inf``, ``-inf``;
    booleans as ``True``/``False``.
    """
    if isinstance(x, (bool, np.bool_)):
        return "True" if x else "False"
    if isinstance(x, (int, np.integer)):
        return str(int(x))
    v = float(x)
    if math.isnan(v):
        return "nan"
    if math.isinf(v):
        return "inf" if v > 0 else "-inf"
    if v == int(v) and abs(v) < 1e15:
        return str(int(v))
    text = f"{v:.{digits}g}"
    if "e" in text:
        mant, exp = text.split("e")
        return f"{mant}e{int(exp)}"
    return text


MINUS = "\u2212"


def num(x, digits: int = 4) -> str:
    """:func:`fmt` with a true minus sign (U+2212) and infinity written as in a textbook:
    ``-0.5`` -> ``"−0.5"``, ``-inf`` -> ``"−∞"``."""
    text = fmt(x, digits)
    if text in ("inf", "-inf"):
        text = text.replace("inf", "∞")
    return MINUS + text[1:] if text.startswith("-") else text


def term(x, digits: int = 4) -> str:
    """An operand inside a formula: :func:`num`, in parentheses when negative (``"(−4)"``)."""
    text = num(x, digits)
    return f"({text})" if text.startswith(MINUS) else text


def fmt_list(values, digits: int = 4, limit: int = 6, count: int | None = None) -> str:
    """``"[1, −2, 3]"`` for a short vector; a long one shows its first ``limit`` entries and its length.

    ``count`` is the length of the whole vector when ``values`` holds only its first entries (so a
    caption can index a few numbers on the device and still say how many there are)."""
    v = np.asarray(values).ravel()
    count = v.size if count is None else int(count)
    shown = v[:min(limit, count)]
    body = ", ".join(num(x, digits) for x in shown)
    return "[" + body + (f", … ({count} values)" if count > shown.size else "") + "]"


def fmt_index(index) -> str:
    """``(0, 1)`` -> ``"[0,1]"``; an empty index (a scalar) -> ``""``."""
    index = tuple(int(i) for i in index)
    return "[" + ",".join(str(i) for i in index) + "]" if index else ""


def fmt_sum_of_products(a, b, limit: int = 6) -> str:
    """``"1×6 + (−2)×8"`` for short vectors; long ones show the first terms and the count.

    Every product is written as it is computed, negative factors in parentheses, so each term of
    the sum can be checked by hand (``0×1 + (−1)×0.5``, never ``0×1 − 1×0.5``)."""
    a = np.asarray(a).ravel()
    b = np.asarray(b).ravel()
    terms = [f"{term(x)}×{term(y)}" for x, y in zip(a[:limit], b[:limit])]
    text = " + ".join(terms)
    if a.size > limit:
        text += f" + … ({a.size} terms)"
    return text


def fmt_terms(values, op: str = "+", limit: int = 6) -> str:
    """``"1 + (−2) + 3"`` (or with another operator) for short vectors, shortened for long ones."""
    v = np.asarray(values).ravel()
    text = f" {op} ".join(term(x) for x in v[:limit])
    if v.size > limit:
        text += f" {op} … ({v.size} terms)"
    return text


def fmt_shape(shape) -> str:
    """``(4, 3)`` -> ``"(4, 3)"``; a scalar -> ``"()"``."""
    shape = tuple(int(s) for s in shape)
    return "(" + ", ".join(str(s) for s in shape) + ("," if len(shape) == 1 else "") + ")"
