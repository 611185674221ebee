"""The shape of a registered operation's ``result``, from its input shapes, without computing it.

An :class:`~compute.registry.OpSpec`'s ``check`` validates shapes (its rules and messages stay
there: a program calls it first) but does not return the output shape, so this table holds the
output rule of each operation — one line each, after ``check`` has accepted the shapes. An
operation missing from the table is computed once on zeros when its inputs are small, and refused
with a message otherwise; tests/compute/test_program_shapes.py fails for any registered operation
without a rule here, and compares every rule with ``run_op`` on random shapes.
"""

from __future__ import annotations

import math

import numpy as np

from ..errors import ParamError
from ..registry import OpSpec

#: Largest total input size (elements) computed on zeros to learn an unknown operation's shape.
FALLBACK_ELEMENTS = 1 << 16


def _bc(*shapes) -> tuple[int, ...]:
    return tuple(np.broadcast_shapes(*[tuple(s) for s in shapes]))


def _matmul(s, p):
    a, b = tuple(s["A"]), tuple(s["B"])
    batch = _bc(a[:-2], b[:-2])
    return batch + ((a[-2],) if len(a) >= 2 else ()) + ((b[-1],) if len(b) >= 2 else ())


def _reduced(s, p):
    x = tuple(s["X"])
    axes = set(p["axis"])
    if p.get("keepdims"):
        return tuple(1 if i in axes else n for i, n in enumerate(x))
    return tuple(n for i, n in enumerate(x) if i not in axes)


def _cosine(s, p):
    out = _bc(s["a"], s["b"])
    ax = p["axis"] % len(out)
    return out[:ax] + out[ax + 1:]


def _attention(s, p):
    q, k, v = (tuple(s[n]) for n in ("Q", "K", "V"))
    return _bc(q[:-2], k[:-2], v[:-2]) + (q[-2], v[-1])


def _mha(s, p):
    if "X" in s:
        q = k = v = tuple(s["X"])
    else:
        q = tuple(s["query"])
        k = tuple(s.get("key", q))
        v = tuple(s.get("value", k))
    return _bc(q[:-2], k[:-2], v[:-2]) + (q[-2], tuple(s["W_o"])[1])


RESULT_SHAPES = {
    "dot": lambda s, p: _bc(tuple(s["a"])[:-1], tuple(s["b"])[:-1]),
    "cosine": _cosine,
    "matvec": lambda s, p: _bc(tuple(s["A"])[:-2], tuple(s["x"])[:-1]) + (tuple(s["A"])[-2],),
    "outer": lambda s, p: (tuple(s["a"])[0], tuple(s["b"])[0]),
    "matmul": _matmul,
    "linear": lambda s, p: tuple(s["X"])[:-1] + (tuple(s["W"])[0],),
    "hadamard": lambda s, p: _bc(s["A"], s["B"]),
    "add": lambda s, p: _bc(s["A"], s["B"]),
    "sum": _reduced, "mean": _reduced, "max": _reduced, "norm": _reduced,
    "cumsum": lambda s, p: (math.prod(s["X"]),) if p["axis"] is None else tuple(s["X"]),
    "softmax": lambda s, p: tuple(s["X"]),
    "layernorm": lambda s, p: tuple(s["X"]),
    "rmsnorm": lambda s, p: tuple(s["X"]),
    "batchnorm": lambda s, p: tuple(s["X"]),
    "attention": _attention,
    "mha": _mha,
}


def result_shape(spec: OpSpec, shapes: dict, params: dict) -> tuple[int, ...]:
    """The shape of ``spec``'s ``result`` for input ``shapes`` and ``params`` normalized by its ``check``."""
    rule = RESULT_SHAPES.get(spec.name)
    if rule is not None:
        return tuple(int(n) for n in rule(shapes, params))
    total = sum(math.prod(s) for s in shapes.values())
    if total > FALLBACK_ELEMENTS:
        raise ParamError(f"{spec.name}: its output shape is not known without running it "
                         f"(compute/program/opshapes.py has no rule for it) and its inputs are too big to try")
    zeros = {k: np.zeros(s) for k, s in shapes.items()}
    with np.errstate(all="ignore"):
        out = spec.compute(np, zeros, params)
    return tuple(int(n) for n in np.shape(out["result"]))
