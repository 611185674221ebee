"""The shape of a registered operation's ``result``, from its input shapes, without computing it.

An :class:`~compute.registry.OpSpec`'s ``check`` validates shapes (its rules and messages stay
there: a program calls it first) but does not return the output shape, so this table holds the
output rule of each operation — one line each, after ``check`` has accepted the shapes. An
operation missing from the table is computed once on zeros when its inputs are small, and refused
with a message otherwise; tests/compute/test_program_shapes.py fails for any registered operation
without a rule here, and compares every rule with ``run_op`` on random shapes.

:func:`output_shapes` gives the shape of *every* named output (the intermediates a timeline shows,
attention's ``scores`` … ``weights``), so a progressive program can plan a line's steps before
the line's inputs exist (:mod:`.progressive`); the same test compares it with ``run_op``.
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
    return _shapes_on_zeros(spec, shapes, params)["result"]


def _shapes_on_zeros(spec: OpSpec, shapes: dict, params: dict) -> dict[str, tuple[int, ...]]:
    """Every output's shape, learned by computing ``spec`` once on zeros (small inputs only)."""
    total = sum(math.prod(s) for s in shapes.values())
    if total > FALLBACK_ELEMENTS:
        raise ParamError(f"{spec.name}: its output shapes are not known without running it "
                         f"(compute/program/opshapes.py has no rule for it) and its inputs are too big to try")
    zeros = {k: np.zeros(s) for k, s in shapes.items()}
    with np.errstate(all="ignore"):
        out = spec.compute(np, zeros, params)
    return {k: tuple(int(n) for n in np.shape(v)) for k, v in out.items() if not k.startswith("__")}


def _keep_trailing(x: tuple, n: int) -> tuple:
    """``x`` with its last ``n`` axes kept as 1 (a mean over them with keepdims)."""
    return x[:len(x) - n] + (1,) * n


def _softmax_parts(s, p, r):
    x = tuple(s["X"])
    ax = int(p["axis"]) % len(x) if x else 0
    return {"shifted": x, "exp": x, "sum": tuple(1 if i == ax else n for i, n in enumerate(x)), "result": r}


def _norm_parts(first: str, second: str):
    def rule(s, p, r):
        x, g = tuple(s["X"]), tuple(s["gamma"])
        stat = _keep_trailing(x, len(g))
        return {first: stat, second: stat, "normalized": x, "result": r}
    return rule


def _batchnorm_parts(s, p, r):
    x = tuple(s["X"])
    ch = (x[1],)
    out = {}
    if p["training"] and "running_mean" in s and "running_var" in s:
        out = {"new_running_mean": ch, "new_running_var": ch}
    return {**out, "mean": ch, "var": ch, "normalized": x, "result": r}


def _attention_parts(s, p, r):
    from ..ops.attention import _attention_shapes  # noqa: PLC0415 - the operation's own rule

    sc = _attention_shapes({n: tuple(s[n]) for n in ("Q", "K", "V")})[1]
    return {"scores": sc, "scaled": sc, "masked": sc, "weights": sc, "result": r}


def _mha_parts(s, p, r):
    from ..ops.attention import mha_output_shapes  # noqa: PLC0415 - the operation's own rule

    return mha_output_shapes({k: tuple(v) for k, v in s.items()}, int(p["num_heads"]))


def _just(r):
    return {"result": r}


#: Every named output's shape, in the order the operation's ``compute`` returns them, from the
#: input shapes, the checked params and the result's shape ``r``.
OUTPUT_SHAPES = {
    "dot": lambda s, p, r: {"products": _bc(s["a"], s["b"]), "result": r},
    "cosine": lambda s, p, r: {"dot": r, "norm_a": r, "norm_b": r, "result": r},
    "matvec": lambda s, p, r: _just(r),
    "outer": lambda s, p, r: _just(r),
    "matmul": lambda s, p, r: _just(r),
    "linear": lambda s, p, r: {"XW": r, "result": r},
    "hadamard": lambda s, p, r: {"A_broadcast": r, "B_broadcast": r, "result": r},
    "add": lambda s, p, r: {"A_broadcast": r, "B_broadcast": r, "result": r},
    "sum": lambda s, p, r: _just(r),
    "mean": lambda s, p, r: {"sum": r, "result": r},
    "max": lambda s, p, r: _just(r),
    "cumsum": lambda s, p, r: _just(r),
    "norm": lambda s, p, r: {"terms": tuple(s["X"]), "result": r},
    "softmax": _softmax_parts,
    "layernorm": _norm_parts("mean", "var"),
    "rmsnorm": _norm_parts("ms", "rms"),
    "batchnorm": _batchnorm_parts,
    "attention": _attention_parts,
    "mha": _mha_parts,
}


def output_shapes(spec: OpSpec, shapes: dict, params: dict) -> dict[str, tuple[int, ...]]:
    """The shape of every named output of ``spec`` (``result`` included), in ``compute``'s order,
    for input ``shapes`` and ``params`` normalized by its ``check``; computed once on zeros for an
    operation without a rule when its inputs are small (see :func:`result_shape`)."""
    r = result_shape(spec, shapes, params)
    rule = OUTPUT_SHAPES.get(spec.name)
    if rule is not None:
        return {k: tuple(int(n) for n in v) for k, v in rule(shapes, params, r).items()}
    return _shapes_on_zeros(spec, shapes, params)
