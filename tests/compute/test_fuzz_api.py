"""Fuzz of the whole compute API: random operations, shapes (0-size and 0-d too), dtypes and hostile
parameter values.

What must hold for every input, however wrong:

- any exception is an :class:`~compute.errors.OpScopeError` (anything else is a defect of compute,
  fixed there, never filtered here);
- when ``run_op`` succeeds, its result equals a plain numpy reference (where one exists);
- every ``stream_op`` timeline, at every granularity, has at least one step, its first and last
  steps build, and its last step shows exactly ``run_op``'s outputs.
"""

from __future__ import annotations

import math
import os

import numpy as np
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp
from opscope import compute
from opscope.compute import OpScopeError

from . import reference as ref

#: Examples per fuzz test; ``OPSCOPE_FUZZ_SCALE=20`` hunts for longer (the default keeps it to seconds).
SCALE = float(os.environ.get("OPSCOPE_FUZZ_SCALE", "1"))


def fuzz_settings(n: int):
    return settings(max_examples=max(1, int(n * SCALE)), deadline=None, suppress_health_check=list(HealthCheck))


FUZZ = fuzz_settings(200)
OPS = [s.name for s in compute.operations()]
DTYPES = [np.float16, np.float32, np.float64, np.int8, np.int32, np.int64, np.uint8, np.bool_]

#: Values of the wrong type or range for some parameter kind: each must be refused with an
#: OpScopeError (or, where it happens to be valid, computed right).
HOSTILE = st.sampled_from([
    "abc", "", "inf", "nan", "causal", "padding:3,2", "padding:x", "fro", "True", "0", 1.5, 2.0, -0.0, math.nan,
    math.inf, -math.inf, None, [], [0], [0, 1], [0, 0], ["a"], [1.5], (0,), (0, 1), (5,), [[1]], 10**30, 2**63,
    -(2**63), -1, -5, 0, 1, 2, 3, True, False, np.int64(1), np.int64(-1), np.bool_(True), np.float64(0.5), {"a": 1},
    np.array([1, 2]), np.array(1), b"x", 1j,
])


def _small_ints(dtype):
    """Small values: exact in every dtype (float16 included), so references compare tightly."""
    if np.dtype(dtype) == np.bool_:
        return st.booleans()
    lo = 0 if np.dtype(dtype).kind == "u" else -3
    return st.integers(lo, 3).map(lambda v: np.dtype(dtype).type(v))


def _array(draw, shape):
    dtype = draw(st.sampled_from(DTYPES))
    return draw(hnp.arrays(dtype, shape, elements=_small_ints(dtype)))


def _shape(draw, min_dims=0, max_dims=3):
    return draw(hnp.array_shapes(min_dims=min_dims, max_dims=max_dims, min_side=0, max_side=3))


def _pair(draw, min_dims=0):
    s = draw(hnp.mutually_broadcastable_shapes(num_shapes=2, min_dims=min_dims, max_dims=3, min_side=0, max_side=3))
    return s.input_shapes


@st.composite
def input_shapes(draw, op):
    """Shapes that mostly fit ``op`` (so runs succeed and results get checked), sometimes not."""
    n = lambda lo=0: draw(st.integers(lo, 3))  # noqa: E731
    batch = draw(st.sampled_from([(), (2,), (1,), (0,), (2, 1)]))
    if op == "matmul":
        s = draw(hnp.mutually_broadcastable_shapes(signature=np.matmul.signature, max_dims=3, min_side=0,
                                                   max_side=3))
        shapes = dict(zip("AB", s.input_shapes))
    elif op == "dot":
        a, b = _pair(draw)
        k = n()
        shapes = {"a": a + (k,), "b": b + (k,)}
    elif op == "cosine":
        a, b = _pair(draw)
        shapes = {"a": a, "b": b}
    elif op == "matvec":
        m, k = n(), n()
        shapes = {"A": batch + (m, k), "x": draw(st.sampled_from([(), (2,)])) + (k,)}
    elif op == "outer":
        shapes = {"a": (n(),), "b": (n(),)}
    elif op == "linear":
        k, o = n(), n()
        shapes = {"X": draw(st.sampled_from([(), (n(),), batch + (n(),)])) + (k,), "W": (o, k)}
        if draw(st.booleans()):
            shapes["b"] = draw(st.sampled_from([(o,), ()]))
    elif op in ("hadamard", "add"):
        shapes = dict(zip("AB", _pair(draw)))
    elif op in ("sum", "mean", "max", "norm", "cumsum", "softmax"):
        shapes = {"X": _shape(draw)}
    elif op in ("layernorm", "rmsnorm"):
        x = _shape(draw, min_dims=1)
        g = x[len(x) - draw(st.integers(1, len(x))):]
        shapes = {"X": x, "gamma": g}
        if op == "layernorm" and draw(st.booleans()):
            shapes["beta"] = g
    elif op == "batchnorm":
        x = (n(), n()) + draw(st.sampled_from([(), (n(),)]))
        shapes = {"X": x}
        for name in draw(st.sets(st.sampled_from(["gamma", "beta", "running_mean", "running_var"]))):
            shapes[name] = (x[1],)
    elif op == "attention":
        lq, lk, d, dv = n(), n(), n(), n()
        shapes = {"Q": batch + (lq, d), "K": batch + (lk, d), "V": batch + (lk, dv)}
        if draw(st.booleans()):
            shapes["mask"] = draw(st.sampled_from([(lq, lk), (1, lk), (lk,), batch + (lq, lk)]))
    elif op == "mha":
        h = draw(st.integers(1, 3))
        s, din, dh = n(), n(1), n()
        d = h * dh
        shapes = {"W_q": (din, d), "W_k": (din, d), "W_v": (din, d), "W_o": (d, n())}
        if draw(st.booleans()):
            shapes["X"] = batch + (s, din)
        else:
            shapes["query"], shapes["key"] = batch + (s, din), batch + (n(), din)
        for b in draw(st.sets(st.sampled_from(["b_q", "b_k", "b_v"]))):
            shapes[b] = (d,)
    else:  # an operation added later: its example's shapes
        shapes = {k: np.shape(v) for k, v in compute.get_spec(op).example().items()}
    if draw(st.integers(0, 9)) == 0:  # a shape that probably does not fit
        name = draw(st.sampled_from(sorted(shapes)))
        shapes[name] = _shape(draw)
    return shapes


def _valid_value(draw, op, p, ndim):
    """A value of parameter ``p``'s kind, mostly a sensible one."""
    if p.kind == "axis" or (p.kind == "int" and p.name == "axis"):
        nd = max(1, ndim)
        one = st.integers(-nd - 1, nd)
        if p.kind == "int":  # one axis only
            return draw(st.one_of(one, one.map(np.int64)))
        return draw(st.one_of(one, st.none(), st.lists(one, min_size=1, max_size=2).map(tuple),
                              one.map(np.int64)))
    if p.kind == "int":
        return draw(st.one_of(st.integers(1, 3), st.integers(1, 3).map(np.int64)))
    if p.kind == "float":
        return draw(st.sampled_from([0.5, 1.0, 2.0, 0.1, 1e-5, 0.0, 1, np.float32(0.25)]))
    if p.kind == "bool":
        return draw(st.sampled_from([True, False, np.bool_(True), np.bool_(False)]))
    if p.kind == "ord":
        return draw(st.sampled_from([1, 2, "inf", "fro", math.inf, 2.0, np.inf, "2"]))
    if p.kind == "mask":
        return draw(st.sampled_from([None, "causal", "none", [1], [2, 1], (0,), "padding:1,2", "padding:2",
                                     np.array([1])]))
    return draw(st.sampled_from(p.choices)) if p.choices else p.default


@st.composite
def fuzz_case(draw):
    op = draw(st.sampled_from(OPS))
    spec = compute.get_spec(op)
    shapes = draw(input_shapes(op))
    inputs = {k: _array(draw, s) for k, s in shapes.items()}
    ndim = max((len(s) for s in shapes.values()), default=0)
    params = {}
    for p in spec.params:
        how = draw(st.integers(0, 5))
        if how == 0:
            continue  # the default
        params[p.name] = draw(HOSTILE) if how == 1 else _valid_value(draw, op, p, ndim)
    return op, inputs, params


def _f64(a):
    return np.asarray(a, dtype=np.float64)


def _axes(axis):
    """A user's axis as numpy takes it (numpy refuses lists, we accept them)."""
    return tuple(axis) if isinstance(axis, (list, tuple)) else (None if axis is None else int(axis))


def _mha_keep(spec_mask, batch, s_q, s_k):
    if spec_mask == "causal":
        return np.tril(np.ones((s_q, s_k), bool))
    if isinstance(spec_mask, tuple):
        lengths = np.broadcast_to(np.asarray(spec_mask), (batch[0] if batch else 1,))
        keep = np.arange(s_k)[None, :] < lengths[:, None]
        return keep.reshape((len(lengths),) + (1,) * (len(batch) - 1) + (1, s_k)) if batch else keep[0]
    return None


def reference(op, inputs, params, res):
    """A plain numpy result of ``op`` from the user's inputs and parameters; None where the fuzz has
    no independent reference for this case (the dedicated tests cover those)."""
    x = {k: _f64(v) for k, v in inputs.items()}
    p = {s.name: s.default for s in compute.get_spec(op).params}
    p.update(params)
    if op == "matmul":
        return np.matmul(x["A"], x["B"])
    if op == "dot":
        return (x["a"] * x["b"]).sum(axis=-1)
    if op == "cosine":
        a, b = np.broadcast_arrays(x["a"], x["b"])
        ax = int(p["axis"])
        return (a * b).sum(axis=ax) / np.maximum(np.sqrt((a * a).sum(axis=ax)) * np.sqrt((b * b).sum(axis=ax)), 1e-8)
    if op == "matvec":
        return np.matmul(x["A"], x["x"][..., None])[..., 0]
    if op == "outer":
        return np.outer(x["a"], x["b"])
    if op == "linear":
        out = np.matmul(x["X"], x["W"].T)
        return out + x["b"] if "b" in x else out
    if op == "hadamard":
        return x["A"] * x["B"]
    if op == "add":
        return x["A"] + x["B"]
    if op in ("sum", "mean", "max", "norm"):
        axis, keep = _axes(p["axis"]), bool(p["keepdims"])
        if op == "sum":
            return x["X"].sum(axis=axis, keepdims=keep)
        if op == "mean":
            with np.errstate(invalid="ignore", divide="ignore"):
                return np.mean(x["X"], axis=axis, keepdims=keep) if x["X"].size else res["result"]
        if op == "max":
            return x["X"].max(axis=axis, keepdims=keep, initial=-np.inf)  # an empty output needs an initial
        o = res.params["ord"]
        if o == 1:
            return np.abs(x["X"]).sum(axis=axis, keepdims=keep)
        if o == "inf":  # max|x| of no terms is 0, as np.linalg.norm would say if it took an initial
            return np.abs(x["X"]).max(axis=axis, keepdims=keep, initial=0.0)
        return np.sqrt((x["X"] ** 2).sum(axis=axis, keepdims=keep))
    if op == "cumsum":
        axis = _axes(p["axis"])
        if isinstance(axis, tuple):
            axis = axis[0]
        return np.cumsum(x["X"], axis=axis)
    if op == "softmax":
        if not x["X"].size:  # numpy's max of an empty axis raises; softmax of nothing is empty
            return np.zeros(x["X"].shape)
        return ref.softmax(x["X"] / float(p["temperature"]), axis=int(p["axis"]))
    if op == "layernorm":
        return ref.layernorm(x["X"], x["gamma"], x.get("beta", 0.0), float(p["eps"]))
    if op == "rmsnorm":
        return ref.rmsnorm(x["X"], x["gamma"], float(p["eps"]))
    if op == "batchnorm" and bool(p["training"]):
        c = x["X"].shape[1]
        return ref.batchnorm_train(x["X"], x.get("gamma", np.ones(c)), x.get("beta", np.zeros(c)), float(p["eps"]))
    if op == "attention" and "mask" not in x and res.params["mask"] in (None, "causal"):
        keep = np.tril(np.ones((x["Q"].shape[-2], x["K"].shape[-2]), bool)) if res.params["mask"] else None
        return ref.attention(x["Q"], x["K"], x["V"], keep, res.params["scale"])[0]
    if op == "mha" and "mask" not in x and x["W_q"].shape[1]:  # the reference divides by √d_head
        xq = x.get("X", x.get("query"))
        xk = x.get("X", x.get("key", xq))
        xv = x.get("X", x.get("value", xk))
        batch = np.broadcast_shapes(xq.shape[:-2], xk.shape[:-2], xv.shape[:-2])
        keep = _mha_keep(res.params["mask"], batch, xq.shape[-2], xk.shape[-2])
        return ref.mha(xq, xk, xv, x["W_q"], x["W_k"], x["W_v"], x["W_o"], res.params["num_heads"], keep,
                       x.get("b_q", 0.0), x.get("b_k", 0.0), x.get("b_v", 0.0), x.get("b_o", 0.0))
    return None


def _check_reference(op, inputs, params, res):
    with np.errstate(all="ignore"):  # 0/0 where eps = 0 and a row is constant: NaN on both sides
        expected = reference(op, inputs, params, res)
    if expected is None:
        return
    out = res["result"]
    assert out.shape == np.shape(expected), (op, out.shape, np.shape(expected))
    t = ref.tol(out.dtype)
    # Sums of terms of magnitude ≤ 9 (small ints, their products): rounding grows with the terms.
    terms = max([1] + [int(np.size(v)) for v in inputs.values()])
    np.testing.assert_allclose(_f64(out), expected, rtol=t["rtol"], atol=t["atol"] * terms, equal_nan=True,
                               err_msg=f"{op} {params}")


def _stream_kwargs(draw, spec, g):
    kw = {}
    if g == "tile" and draw(st.booleans()):
        kw["tile"] = draw(st.one_of(st.integers(1, 3), st.tuples(st.integers(1, 3), st.integers(1, 3)),
                                    st.integers(1, 3).map(np.int64)))
    if g == "kblock" and draw(st.booleans()):
        kw["kblock"] = draw(st.integers(1, 3))
    return kw


def _check_timeline(tl, res):
    assert len(tl) >= 1
    first, last = tl[0], tl[len(tl) - 1]
    assert first.caption and last.caption and last.index == len(tl) - 1
    for name, value in res.items():
        shown = tl.tensor_at(name, len(tl) - 1)
        assert shown.shape == value.shape, (name, shown.shape, value.shape)
        np.testing.assert_array_equal(shown, value.astype(shown.dtype), err_msg=f"{tl.op} {tl.granularity} {name}")
        np.testing.assert_array_equal(tl.result()[name], value)


@FUZZ
@given(case=fuzz_case(), data=st.data())
def test_any_input_gives_an_opscope_error_or_the_right_result_and_timelines(case, data):
    op, inputs, params = case
    try:
        res = compute.run_op(op, inputs, **params)
    except OpScopeError:
        res = None
    if res is None:
        # stream_op must refuse the same input the same way (never with another exception)
        try:
            compute.stream_op(op, inputs, **params)
        except OpScopeError:
            return
        raise AssertionError(f"stream_op accepted what run_op refused: {op} {params}")
    _check_reference(op, inputs, params, res)
    spec = compute.get_spec(op)
    for g in (None, *spec.granularities):
        tl = compute.stream_op(op, inputs, g, **_stream_kwargs(data.draw, spec, g), **params)
        _check_timeline(tl, res)


@fuzz_settings(80)
@given(op=st.sampled_from(OPS), granularity=st.one_of(st.none(), st.sampled_from(compute.GRANULARITIES), HOSTILE),
       tile=st.one_of(st.none(), HOSTILE), kblock=st.one_of(st.none(), HOSTILE), run_id=st.one_of(st.none(), HOSTILE))
def test_hostile_stream_options_give_opscope_errors(op, granularity, tile, kblock, run_id):
    inputs = compute.get_spec(op).example()
    try:
        tl = compute.stream_op(op, inputs, granularity, tile=tile, kblock=kblock, run_id=run_id)
    except OpScopeError:
        return
    _check_timeline(tl, compute.run_op(op, inputs))


@fuzz_settings(40)
@given(name=HOSTILE, inputs=st.one_of(HOSTILE, st.just({"X": np.ones(2)})))
def test_hostile_operation_names_and_inputs_give_opscope_errors(name, inputs):
    for call in (compute.run_op, compute.stream_op):
        try:
            call(name, inputs)
        except OpScopeError:
            pass


@fuzz_settings(40)
@given(op=st.sampled_from(OPS), data=st.data())
def test_non_finite_values_never_raise_anything_but_opscope_errors(op, data):
    shapes = data.draw(input_shapes(op))
    special = st.sampled_from([math.nan, math.inf, -math.inf, 0.0, 1.0, -1.0, 1e300, -1e300])
    inputs = {k: data.draw(hnp.arrays(np.float64, s, elements=special)) for k, s in shapes.items()}
    try:
        res = compute.run_op(op, inputs)
    except OpScopeError:
        return
    for g in compute.get_spec(op).granularities:
        _check_timeline(compute.stream_op(op, inputs, g), res)
