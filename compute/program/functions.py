"""The built-in functions a program may call besides the registered operations.

Each :class:`Function` owns its signature (how many tensor arguments, which literal ones), its
shape rule (checked before anything runs, with a message naming the rule) and its numpy
computation. Tensor arguments are positional; literal arguments (axes, shapes, head counts) are
positional after them or by keyword, and must be written as literals (``reshape(x, (2, -1))``).
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from ..errors import ParamError, ShapeError
from ..numbers import fmt_shape
from ..shapes import broadcast_shapes
from .erf import erf, erfc


@dataclass(frozen=True)
class Function:
    """One built-in function: ``tensors`` leading tensor arguments, then ``literals`` (the first
    ``required`` of them mandatory); ``shape(shapes, literals)`` gives the output shape or raises;
    ``compute(arrays, literals, dtype)`` computes it with numpy (``dtype``: the program's float dtype).
    ``elementwise``: each output element depends only on the arguments' elements that broadcasting
    pairs with it, so the function can be computed on any block of its output
    (:meth:`~.evaluate.Evaluator.blocked_value`)."""

    name: str
    signature: str
    doc: str
    tensors: int
    shape: Callable[[list, dict], tuple]
    compute: Callable[[list, dict, np.dtype], object]
    literals: tuple[str, ...] = ()
    required: int = 0
    check_literals: Callable[[dict], dict] | None = None
    elementwise: bool = False


def _same(shapes, lits):
    return tuple(shapes[0])


def _float_of(x, like):
    """``x`` in ``like``'s float dtype (functions never change a float tensor's dtype)."""
    dt = np.asarray(like).dtype
    return np.asarray(x).astype(dt if dt.kind == "f" else np.float64, copy=False)


def _gelu(a, lits, dtype):
    x = np.asarray(a[0])
    w = x.astype(np.float64)  # x/√2 rounded in float32 would cost 2y²·2⁻²⁴ of relative precision in the tail
    # 0.5·x·erfc(−x/√2) equals 0.5·x·(1 + erf(x/√2)) but keeps its precision for negative x,
    # where 1 + erf(…) would cancel.
    return _float_of(0.5 * w * erfc(-w / math.sqrt(2.0)), x)


def _sigmoid(a, lits, dtype):
    x = a[0]
    return 1.0 / (1.0 + np.exp(-x))  # exp overflow gives inf → exactly 0, the correct limit


def _unary(name, doc, fn):
    return Function(name, f"{name}(x)", doc, 1, _same, lambda a, lits, dtype: fn(a[0]), elementwise=True)


# --- literal arguments ---------------------------------------------------------------------------
def _int(name, value, minimum=None):
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)):
        raise ParamError(f"{name} must be an integer literal, not {value!r}")
    if minimum is not None and value < minimum:
        raise ParamError(f"{name} must be ≥ {minimum}, not {value}")
    return int(value)


def _axes_literal(lits):
    axes = lits.get("axes")
    if axes is None:
        return {"axes": None}
    if isinstance(axes, (int, np.integer)) and not isinstance(axes, bool):
        axes = (int(axes),)
    if not isinstance(axes, tuple):
        raise ParamError(f"axes must be a tuple of ints like (0, 2, 1), not {axes!r}")
    return {"axes": axes}


def _shape_literal(lits):
    shape = lits.get("shape")
    if isinstance(shape, (int, np.integer)) and not isinstance(shape, bool):
        shape = (int(shape),)
    if not isinstance(shape, tuple):
        raise ParamError(f"shape must be a tuple of ints like (2, -1), not {shape!r}")
    return {"shape": shape}


# --- shape rules ---------------------------------------------------------------------------------
def _transpose_shape(shapes, lits):
    s = tuple(shapes[0])
    axes = lits["axes"]
    if axes is None:
        return s[::-1]
    n = len(s)
    norm = []
    for ax in axes:
        if not -n <= ax < n:
            raise ShapeError(f"axis {ax} is out of range for x {fmt_shape(s)} with {n} axes (valid: {-n}..{n - 1})")
        norm.append(ax % n)
    if sorted(norm) != list(range(n)):
        raise ShapeError(f"axes {axes} must name every axis of x {fmt_shape(s)} exactly once "
                         f"(a permutation of 0..{n - 1})")
    return tuple(s[a] for a in norm)


def _reshape_shape(shapes, lits):
    s = tuple(shapes[0])
    target = lits["shape"]
    size = math.prod(s)
    if sum(1 for t in target if t == -1) > 1:
        raise ShapeError(f"shape {target}: at most one axis may be -1 (the one inferred)")
    if any(t < -1 for t in target):
        raise ShapeError(f"shape {target}: sizes must be ≥ 0 (or -1 for the inferred one)")
    known = math.prod(t for t in target if t != -1)
    if -1 in target:
        if known == 0 or size % known:
            raise ShapeError(f"cannot reshape x {fmt_shape(s)} ({size} elements) to {target}: {size} is not a "
                             f"multiple of {known}. Rule: the number of elements stays the same.")
        return tuple(size // known if t == -1 else t for t in target)
    if known != size:
        raise ShapeError(f"cannot reshape x {fmt_shape(s)} ({size} elements) to {fmt_shape(target)} ({known} "
                         f"elements). Rule: the number of elements stays the same.")
    return tuple(target)


def _split_heads_shape(shapes, lits):
    s = tuple(shapes[0])
    h = lits["h"]
    if len(s) < 2:
        raise ShapeError(f"x {fmt_shape(s)} must be (…, S, D): split_heads cuts the last axis into h heads")
    if s[-1] % h:
        divisors = [d for d in range(1, s[-1] + 1) if s[-1] % d == 0][:12]
        raise ShapeError(f"the last axis of x {fmt_shape(s)} ({s[-1]}) is not divisible by h = {h}: each head takes "
                         f"D/h columns (h could be {divisors})")
    return s[:-2] + (h, s[-2], s[-1] // h)


def _merge_heads_shape(shapes, lits):
    s = tuple(shapes[0])
    if len(s) < 3:
        raise ShapeError(f"x {fmt_shape(s)} must be (…, h, S, d_head): merge_heads puts the heads side by side "
                         f"again (the inverse of split_heads)")
    return s[:-3] + (s[-2], s[-3] * s[-1])


def _binary_shape(name):
    def rule(shapes, lits):
        return broadcast_shapes(name, shapes[0], shapes[1], "a", "b")
    return rule


def _binary(name, doc, fn):
    """A function of two tensors that broadcast against each other (numpy's rules)."""
    return Function(name, f"{name}(a, b)", doc, 2, _binary_shape(name), lambda a, lits, dtype: fn(a[0], a[1]),
                    elementwise=True)


def _expand_dims_shape(shapes, lits):
    s = tuple(shapes[0])
    axis = lits["axis"]
    n = len(s) + 1
    if not -n <= axis < n:
        raise ShapeError(f"axis {axis} is out of range for expand_dims of x {fmt_shape(s)}: the result has {n} "
                         f"axes (valid: {-n}..{n - 1})")
    out = list(s)
    out.insert(axis % n, 1)
    return tuple(out)


def _where_shape(shapes, lits):
    ab = broadcast_shapes("where", shapes[1], shapes[2], "a", "b")
    return broadcast_shapes("where", shapes[0], ab, "cond", "a, b")


# --- computations --------------------------------------------------------------------------------
def split_heads(x, h):
    """(…, S, D) → (…, h, S, D/h): head j takes columns j·D/h … (j+1)·D/h − 1 (as mha does)."""
    s = x.shape
    return np.moveaxis(x.reshape(s[:-1] + (h, s[-1] // h)), -2, -3)


def merge_heads(x):
    """(…, h, S, d) → (…, S, h·d): the inverse of :func:`split_heads` (mha's concat)."""
    m = np.moveaxis(x, -3, -2)
    return np.ascontiguousarray(m).reshape(m.shape[:-2] + (m.shape[-2] * m.shape[-1],))


def causal_mask(n, dtype=np.float64):
    """The (n, n) additive causal mask: 0 on and below the diagonal, −inf above (query i sees keys 0..i)."""
    return np.triu(np.full((n, n), -np.inf, dtype=dtype), k=1)


FUNCTIONS: dict[str, Function] = {f.name: f for f in (
    _unary("exp", "e to the power x, element by element", np.exp),
    _unary("log", "natural logarithm, element by element", np.log),
    _unary("sqrt", "square root, element by element", np.sqrt),
    _unary("abs", "absolute value, element by element", np.abs),
    _unary("tanh", "hyperbolic tangent, element by element", np.tanh),
    _unary("erf", "the error function, element by element", lambda x: _float_of(erf(x), x)),
    Function("sigmoid", "sigmoid(x)", "1 / (1 + e^(−x)), element by element", 1, _same, _sigmoid, elementwise=True),
    Function("relu", "relu(x)", "max(x, 0), element by element (NaN stays NaN)", 1, _same,
             lambda a, lits, dtype: np.maximum(a[0], 0), elementwise=True),
    Function("gelu", "gelu(x)", "x·Φ(x) = 0.5·x·(1 + erf(x/√2)), the exact (erf) form", 1, _same, _gelu,
             elementwise=True),
    Function("transpose", "transpose(x, axes)", "axes permuted (reversed when axes is left out)", 1,
             _transpose_shape, lambda a, lits, dtype: np.transpose(a[0], lits["axes"]), ("axes",), 0, _axes_literal),
    Function("reshape", "reshape(x, shape)", "the same elements in a new shape (one size may be -1)", 1,
             _reshape_shape, lambda a, lits, dtype: np.reshape(a[0], lits["shape"]), ("shape",), 1, _shape_literal),
    Function("split_heads", "split_heads(x, h)", "(…, S, D) → (…, h, S, D/h)", 1, _split_heads_shape,
             lambda a, lits, dtype: split_heads(np.asarray(a[0]), lits["h"]), ("h",), 1,
             lambda lits: {"h": _int("h", lits["h"], 1)}),
    Function("merge_heads", "merge_heads(x)", "(…, h, S, d) → (…, S, h·d), the inverse of split_heads", 1,
             _merge_heads_shape, lambda a, lits, dtype: merge_heads(np.asarray(a[0]))),
    Function("causal_mask", "causal_mask(n)", "(n, n) additive mask: 0 on and below the diagonal, −inf above",
             0, lambda shapes, lits: (lits["n"], lits["n"]),
             lambda a, lits, dtype: causal_mask(lits["n"], dtype), ("n",), 1,
             lambda lits: {"n": _int("n", lits["n"], 0)}),
    # The articles' masks: seeds/003 writes ``tf.math.minimum(scores, mask)``; numpy's NaN rule
    # (a NaN on either side gives NaN) is kept, unlike fmin/fmax.
    _binary("minimum", "the smaller of a and b, element by element (broadcasting)", np.minimum),
    _binary("maximum", "the larger of a and b, element by element (broadcasting)", np.maximum),
    _binary("multiply", "a · b, element by element (broadcasting), like a * b (np.multiply, tf.multiply)",
            np.multiply),
    Function("expand_dims", "expand_dims(x, axis)", "x with a new axis of size 1 at position axis", 1,
             _expand_dims_shape, lambda a, lits, dtype: np.expand_dims(a[0], lits["axis"]), ("axis",), 1,
             lambda lits: {"axis": _int("axis", lits["axis"])}),
    Function("where", "where(cond, a, b)", "a where cond is true (non-zero), else b; all three broadcast", 3,
             _where_shape, lambda a, lits, dtype: np.where(a[0], a[1], a[2]), elementwise=True),
)}
