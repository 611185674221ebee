"""An independent float64 reference for a program's arithmetic lines (the verified badge).

A line that is an operation call (``a = mha(X, …)``, or a single ``@``/``+``/``*`` the engine
streams as ``matmul``/``add``/``hadamard``) is checked by :func:`compute.verify_run` against that
operation's reference. Every other line (``scaled = scores / sqrt(d_k)``,
``f1 = relu(h @ W1 + c1)``) is recomputed here from the line's operands, as the program computed
them, in float64 numpy written independently of :mod:`.evaluate` and :mod:`.functions` (GELU and
erf through :func:`math.erf`, not the engine's Cody erf; matmul as ``einsum``).

Each value carries, besides its float64 reference, a *magnitude* and a count of rounded *terms*,
propagated to first order (``|f'(x)| · magnitude(x)`` for an element-wise function, ``Σ |a||b|``
for a product), so :func:`compute.verify._compare` can give every entry the same kind of
tolerance as an operation's check: ``u · (16 + 4 √terms)`` relative to ``max(|ref|, magnitude)``.
A line holding a nested operation call (``softmax(x) * 2``) has no reference here and is left
unchecked (the caller says so).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from .nodes import BinOp, Call, Name, Node, Num, Transpose, Unary

#: Above this many float64 terms of work a line is not recomputed (the badge says so): the check
#: runs after every run, and a 2048-token block's FFN line alone would cost seconds twice over.
MAX_LINE_WORK = 1 << 27

_erf = np.vectorize(math.erf, otypes=[np.float64])


class NoReference(Exception):
    """The line holds something this reference does not recompute (a nested operation call)."""


@dataclass(frozen=True)
class Ref:
    """A float64 reference value with its magnitude and rounded-term count (broadcastable)."""

    value: np.ndarray
    mag: np.ndarray
    terms: np.ndarray


def _ref(v, mag=None, terms=0.0) -> Ref:
    v = np.asarray(v, dtype=np.float64)
    m = np.abs(v) if mag is None else np.asarray(mag, dtype=np.float64)
    return Ref(v, m, np.asarray(terms, dtype=np.float64))


def _structural(r: Ref, fn) -> Ref:
    """``fn`` (a transpose, reshape, …) applied alike to value, magnitude and terms."""
    shape = r.value.shape
    return Ref(fn(r.value), fn(np.broadcast_to(r.mag, shape)), fn(np.broadcast_to(r.terms, shape)))


def _unary(x: Ref, value, slope) -> Ref:
    """An element-wise function: value ``value``, derivative ``slope`` at x (first-order error)."""
    with np.errstate(all="ignore"):
        mag = np.maximum(np.abs(value), np.nan_to_num(np.abs(slope) * x.mag, nan=0.0, posinf=np.inf))
    return Ref(np.asarray(value, dtype=np.float64), mag, x.terms + 1.0)


def _pick(cond, a: Ref, b: Ref, value) -> Ref:
    return Ref(np.asarray(value, dtype=np.float64), np.where(cond, a.mag, b.mag), np.where(cond, a.terms, b.terms))


def _gelu(x: np.ndarray) -> np.ndarray:
    return 0.5 * x * (1.0 + _erf(x / math.sqrt(2.0))) if x.size else x.copy()


def _split_heads(x: np.ndarray, h: int) -> np.ndarray:
    # Head j is columns j·D/h … (j+1)·D/h − 1: written with an index, not a reshape.
    d = x.shape[-1] // h
    return np.stack([x[..., j * d:(j + 1) * d] for j in range(h)], axis=-3)


def _merge_heads(x: np.ndarray) -> np.ndarray:
    return np.concatenate([x[..., j, :, :] for j in range(x.shape[-3])], axis=-1)


class LineReference:
    """Recompute the expression of one line from ``env`` (name → array: the program's inputs and
    the earlier lines' values, as computed), with the built-in calls' literals of ``builtins``
    (node → (function, literals), from :func:`~.shapes.analyze`)."""

    def __init__(self, env, builtins, dtype):
        self.env = env
        self.builtins = builtins
        self.dtype = np.dtype(dtype)

    def f64(self, a) -> np.ndarray:
        h = np.asarray(a)
        if h.dtype == bool:
            return h.astype(np.float64)
        if h.dtype.kind == "f" and h.dtype != self.dtype:
            h = h.astype(self.dtype)
        return h.astype(np.float64)

    def __call__(self, node: Node) -> Ref:
        with np.errstate(all="ignore"):
            return self._eval(node)

    def _eval(self, node: Node) -> Ref:
        if isinstance(node, Num):
            return _ref(float(node.value))
        if isinstance(node, Name):
            return _ref(self.f64(self.env[node.id]))
        if isinstance(node, Unary):
            r = self._eval(node.operand)
            return r if node.op == "+" else Ref(-r.value, r.mag, r.terms)
        if isinstance(node, Transpose):
            return _structural(self._eval(node.operand), lambda a: np.swapaxes(a, -1, -2))
        if isinstance(node, BinOp):
            return self._binop(node.op, self._eval(node.left), self._eval(node.right))
        if isinstance(node, Call):
            return self._call(node)
        raise NoReference(type(node).__name__)

    def _binop(self, op: str, a: Ref, b: Ref) -> Ref:
        x, y = a.value, b.value
        if op in "+-":
            v = x + y if op == "+" else x - y
            return Ref(v, a.mag + b.mag, np.maximum(a.terms, b.terms) + 1.0)
        if op == "*":
            return Ref(x * y, a.mag * b.mag, a.terms + b.terms + 1.0)
        if op == "/":
            v = x / y
            return Ref(v, np.maximum(np.abs(v), a.mag / np.abs(y)), a.terms + b.terms + 1.0)
        if op == "**":
            v = np.power(x, y)
            # d(x^y) = y x^(y-1) dx + x^y ln x dy: both as magnitudes of the value's own size.
            slope = np.abs(y) * a.mag / np.where(x == 0, 1.0, np.abs(x)) + np.abs(np.log(np.abs(x))) * b.mag
            return Ref(v, np.abs(v) * np.maximum(1.0, np.nan_to_num(slope, nan=0.0)), a.terms + b.terms + 1.0)
        if op == "@":
            return self._matmul(a, b)
        raise NoReference(op)

    def _matmul(self, a: Ref, b: Ref) -> Ref:
        x, y = a.value, b.value
        vec_a, vec_b = x.ndim == 1, y.ndim == 1
        xa, ya = (x[None, :] if vec_a else x), (y[:, None] if vec_b else y)
        ma = np.broadcast_to(a.mag, x.shape)
        mb = np.broadcast_to(b.mag, y.shape)
        ma, mb = (ma[None, :] if vec_a else ma), (mb[:, None] if vec_b else mb)
        k = xa.shape[-1]
        v = np.einsum("...ik,...kj->...ij", xa, ya)
        mag = np.einsum("...ik,...kj->...ij", ma, mb)
        ta = float(np.max(a.terms)) if a.terms.size else 0.0
        tb = float(np.max(b.terms)) if b.terms.size else 0.0
        if vec_a:
            v, mag = v[..., 0, :], mag[..., 0, :]
        if vec_b:
            v, mag = v[..., 0], mag[..., 0]
        return Ref(v, mag, np.asarray(ta + tb + k, dtype=np.float64))

    def _call(self, node: Call) -> Ref:
        built = self.builtins.get(node)
        if built is None:
            raise NoReference(f"{node.func}(…) is an operation call inside an expression")
        fn, lits = built
        args = [self._eval(a) for a in node.args[:fn.tensors]]
        name = fn.name
        if name == "causal_mask":
            n = int(lits["n"])
            return _ref(np.where(np.arange(n)[None, :] > np.arange(n)[:, None], -np.inf, 0.0), 0.0)
        x = args[0] if args else None
        if name in ("minimum", "maximum"):
            a, b = args
            take_a = (a.value <= b.value) if name == "minimum" else (a.value >= b.value)
            take_a = take_a | np.isnan(a.value)
            return _pick(take_a, a, b, np.where(take_a, a.value, b.value))
        if name == "multiply":
            return self._binop("*", args[0], args[1])
        if name == "where":
            c, a, b = args
            cond = c.value != 0
            return _pick(cond, a, b, np.where(cond, a.value, b.value))
        if name == "transpose":
            axes = lits.get("axes")
            return _structural(x, lambda a: np.transpose(a, axes))
        if name == "reshape":
            return _structural(x, lambda a: np.reshape(a, lits["shape"]))
        if name == "expand_dims":
            return _structural(x, lambda a: np.expand_dims(a, lits["axis"]))
        if name == "split_heads":
            return _structural(x, lambda a: _split_heads(a, int(lits["h"])))
        if name == "merge_heads":
            return _structural(x, _merge_heads)
        v = x.value
        if name == "exp":
            e = np.exp(v)
            return _unary(x, e, e)
        if name == "log":
            return _unary(x, np.log(v), 1.0 / v)
        if name == "sqrt":
            s = np.sqrt(v)
            return _unary(x, s, 0.5 / s)
        if name == "abs":
            return _unary(x, np.abs(v), 1.0)
        if name == "relu":
            return _unary(x, np.where(v > 0, v, np.where(np.isnan(v), v, 0.0)), (v > 0).astype(np.float64))
        if name == "tanh":
            t = np.tanh(v)
            return _unary(x, t, 1.0 - t * t)
        if name == "sigmoid":
            s = 1.0 / (1.0 + np.exp(-v))
            return _unary(x, s, s * (1.0 - s))
        if name == "erf":
            return _unary(x, _erf(v), 2.0 / math.sqrt(math.pi) * np.exp(-v * v))
        if name == "gelu":
            # Φ(x) + x φ(x) is at most ~1.13 in size.
            return _unary(x, _gelu(v), 1.13)
        raise NoReference(f"no reference for {name}")


def _children(node: Node):
    if isinstance(node, BinOp):
        return (node.left, node.right)
    if isinstance(node, (Unary, Transpose)):
        return (node.operand,)
    if isinstance(node, Call):
        return tuple(node.args)
    return ()


def line_work(expr: Node, shapes) -> float:
    """Float64 terms of work to recompute ``expr`` twice (value and magnitude), from the analysis'
    node shapes: every node's size, times the inner dimension for a product."""
    total = 0.0
    stack = [expr]
    while stack:
        node = stack.pop()
        shape = shapes.get(node)
        if shape is not None:
            size = float(math.prod(shape))
            if isinstance(node, BinOp) and node.op == "@":
                left = shapes.get(node.left, ())
                size *= float(left[-1]) if left else 1.0
            total += 2.0 * size
        stack.extend(_children(node))
    return total
