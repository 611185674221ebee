"""Formatting numbers for captions: short, exact where exact, readable from the back of a room."""

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


def fmt_index(index) -> str:
    """``(0, 1)`` -> ``"[0,1]"``; an empty index (a scalar) -> ``""``."""
    index = tuple(int(i) for i in index)
    return "[" + ",".join(str(i) for i in index) + "]" if index else ""


def fmt_sum_of_products(a, b, limit: int = 6) -> str:
    """``"1×6 + 2×8"`` for short vectors; long ones show the first terms and the count."""
    a = np.asarray(a).ravel()
    b = np.asarray(b).ravel()
    terms = [f"{fmt(x)}×{fmt(y)}" for x, y in zip(a[:limit], b[:limit])]
    text = " + ".join(terms).replace("+ -", "− ")
    if a.size > limit:
        text += f" + … ({a.size} terms)"
    return text


def fmt_terms(values, op: str = "+", limit: int = 6) -> str:
    """``"1 + 2 + 3"`` (or with another operator) for short vectors, shortened for long ones."""
    v = np.asarray(values).ravel()
    text = f" {op} ".join(fmt(x) for x in v[:limit])
    if v.size > limit:
        text += f" {op} … ({v.size} terms)"
    return text


def fmt_shape(shape) -> str:
    """``(4, 3)`` -> ``"(4, 3)"``; a scalar -> ``"()"``."""
    shape = tuple(int(s) for s in shape)
    return "(" + ", ".join(str(s) for s in shape) + ("," if len(shape) == 1 else "") + ")"
