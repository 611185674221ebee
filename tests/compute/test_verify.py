"""The verified badge's engine: every operation checked against independent float64 formulas.

Random runs of every operation and dtype must match (no false alarms); one corrupted entry must be
flagged and named; big runs are checked at a bounded sample (counted, not timed); messages read
as the status bar shows them.
"""

import dataclasses
import math
import re

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays, mutually_broadcastable_shapes
from opscope import compute
from opscope.compute import verify as V

OPS = [s.name for s in compute.operations()]
DTYPES = ["float16", "float32", "float64", "int"]


# --- random cases ---------------------------------------------------------------------------------
def _bshape(rng, nd_max=2, lo=1, hi=4):
    return tuple(int(x) for x in rng.integers(lo, hi + 1, size=rng.integers(0, nd_max + 1)))


def _vals(rng, shape, dtype, lo=-3.0, hi=3.0):
    if dtype == "int":
        return rng.integers(-5, 6, size=shape)
    return rng.uniform(lo, hi, size=shape).astype(dtype)


def _bcast_pair(rng, shape):
    """A shape that broadcasts against ``shape``: some axes 1, sometimes fewer axes."""
    s = [1 if rng.random() < 0.3 else d for d in shape]
    drop = int(rng.integers(0, len(s) + 1)) if s else 0
    return tuple(s[drop:]) if rng.random() < 0.3 else tuple(s)


def make_case(op, rng, dtype):
    """Random ``(inputs, params)`` for ``op``: shapes with broadcasting, masks, optional inputs."""
    def size(lo, hi):
        return int(rng.integers(lo, hi + 1))

    def v(shape, **kw):
        return _vals(rng, shape, dtype, **kw)

    if op == "matmul":
        b = _bshape(rng)
        m, k, n = size(1, 6), size(1, 9), size(1, 6)
        sa = b + (m, k) if rng.random() > 0.15 else (k,)
        sb = _bcast_pair(rng, b) + (k, n) if rng.random() > 0.15 else (k,)
        return {"A": v(sa), "B": v(sb)}, {}
    if op == "dot":
        b, k = _bshape(rng), size(1, 9)
        return {"a": v(b + (k,)), "b": v(_bcast_pair(rng, b) + (k,))}, {}
    if op == "cosine":
        b, k = _bshape(rng), size(1, 9)
        a = v(b + (k,))
        other = v(_bcast_pair(rng, b) + ((1,) if rng.random() < 0.2 else (k,)))  # also b broadcast along the axis
        return {"a": a, "b": other}, {"axis": -1}
    if op == "matvec":
        b, m, k = _bshape(rng), size(1, 6), size(1, 9)
        return {"A": v(b + (m, k)), "x": v(_bcast_pair(rng, b) + (k,))}, {}
    if op == "outer":
        return {"a": v((size(1, 7),)), "b": v((size(1, 7),))}, {}
    if op == "linear":
        k, n = size(1, 8), size(1, 6)
        ins = {"X": v(_bshape(rng) + (size(1, 5), k)) if rng.random() > 0.2 else v((k,)), "W": v((n, k))}
        if rng.random() < 0.6:
            ins["b"] = v((n,))
        return ins, {}
    if op in ("hadamard", "add"):
        s = _bshape(rng, 3, 1, 5) + (size(1, 5),)
        return {"A": v(s), "B": v(_bcast_pair(rng, s))}, {}
    if op in ("sum", "mean", "max", "norm", "cumsum"):
        s = tuple(size(1, 5) for _ in range(rng.integers(1, 4)))
        if op == "cumsum":
            return {"X": v(s)}, {"axis": None if rng.random() < 0.3 else int(rng.integers(-len(s), len(s)))}
        r = rng.random()
        axis = None if r < 0.25 else (int(rng.integers(0, len(s))) if r < 0.7 else
                                     tuple(sorted({int(a) for a in rng.integers(0, len(s), size=2)})))
        p = {"axis": axis, "keepdims": bool(rng.random() < 0.3)}
        if op == "norm":
            p["ord"] = [1, 2, "inf", "fro"][int(rng.integers(0, 4))]
        return {"X": v(s)}, p
    if op == "softmax":
        s = tuple(size(1, 6) for _ in range(rng.integers(1, 4)))
        return {"X": v(s, lo=-6, hi=6)}, {"axis": int(rng.integers(-len(s), len(s))),
                                          "temperature": float(rng.choice([1.0, 0.5, 2.0]))}
    if op in ("layernorm", "rmsnorm"):
        lead, trail = _bshape(rng, 2, 1, 5), tuple(size(1, 6) for _ in range(rng.integers(1, 3)))
        ins = {"X": v(lead + trail), "gamma": v(trail, lo=0.5, hi=2)}
        if op == "layernorm" and rng.random() < 0.6:
            ins["beta"] = v(trail)
        return ins, {"eps": float(rng.choice([1e-5, 1e-3]))}
    if op == "batchnorm":
        N, C = size(2, 6), size(1, 4)
        ins = {"X": v((N, C) + tuple(size(1, 4) for _ in range(rng.integers(0, 2))))}
        for name in ("gamma", "beta"):
            if rng.random() < 0.5:
                ins[name] = v((C,))
        training = bool(rng.random() < 0.7)
        if not training or rng.random() < 0.5:
            ins["running_mean"], ins["running_var"] = v((C,)), v((C,), lo=0.5, hi=2)
        return ins, {"training": training, "momentum": float(rng.choice([0.1, 0.5])), "eps": 1e-5}
    if op == "attention":
        b = _bshape(rng, 2, 1, 3)
        lq, lk, d, dv = size(1, 6), size(1, 6), size(1, 6), size(1, 5)
        ins = {"Q": v(b + (lq, d)), "K": v(_bcast_pair(rng, b) + (lk, d)), "V": v(_bcast_pair(rng, b) + (lk, dv))}
        p, r, sshape = {}, rng.random(), b + (lq, lk)
        if r < 0.2:
            p["mask"] = "causal"
        elif r < 0.35:
            p["mask"] = tuple(int(x) for x in rng.integers(0, lk + 1, size=sshape[0] if len(sshape) > 2 else 1))
        elif r < 0.5:
            ins["mask"] = rng.random(_bcast_pair(rng, sshape)) < 0.7
        elif r < 0.6:
            m = v(_bcast_pair(rng, sshape))
            # An additive mask of only 0s and 1s is refused as a likely keep/drop mask (issue 8):
            # shift it, so the case stays an additive number mask.
            ins["mask"] = m - 3 if np.isin(m, (0, 1)).all() else m
        if rng.random() < 0.3:
            p["scale"] = float(rng.choice([0.5, 1.0]))
        return ins, p
    if op == "mha":
        h, dh = int(rng.integers(1, 4)), size(1, 3)
        d, dv = h * dh, h * size(1, 3)
        b, lq, din = _bshape(rng, 1, 1, 3), size(1, 5), size(1, 6)
        ins = {"W_q": v((din, d), lo=-1, hi=1), "W_k": v((din, d), lo=-1, hi=1), "W_v": v((din, dv), lo=-1, hi=1),
               "W_o": v((dv, size(1, 5)), lo=-1, hi=1)}
        if rng.random() < 0.5:
            ins["X"], lk = v(b + (lq, din)), lq
        else:
            lk = size(1, 5)
            ins.update(query=v(b + (lq, din)), key=v(b + (lk, din)), value=v(b + (lk, din)))
        for n, w in (("b_q", d), ("b_k", d), ("b_v", dv), ("b_o", ins["W_o"].shape[1])):
            if rng.random() < 0.3:
                ins[n] = v((w,))
        p, r = {"num_heads": h}, rng.random()
        if r < 0.25:
            p["mask"] = "causal"
        elif r < 0.4:
            ins["mask"] = rng.random(b + (h, lq, lk)) < 0.7
        elif r < 0.5:
            p["mask"] = (int(rng.integers(0, lk + 1)),) * (b[0] if b else 1)
        return ins, p
    raise KeyError(op)


def _run(op, seed, dtype):
    rng = np.random.default_rng(seed)
    ins, p = make_case(op, rng, dtype)
    return rng, ins, p, compute.run_op(op, ins, **p)


FAST = settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])


# --- no false alarms ------------------------------------------------------------------------------
def test_every_registered_operation_has_a_reference():
    assert set(V.checked_operations()) == set(OPS)
    assert len(OPS) == 19


@pytest.mark.parametrize("op", OPS)
@FAST
@given(seed=st.integers(0, 2**32 - 1), dtype=st.sampled_from(DTYPES))
def test_random_runs_match_the_reference(op, seed, dtype):
    _rng, ins, p, out = _run(op, seed, dtype)
    for mode in ("all", "sample"):
        v = compute.verify_run(op, ins, p, out, out["result"].dtype, mode=mode, seed=seed)
        assert v.ok, (mode, v.message, {k: np.shape(a) for k, a in ins.items()}, p)
        assert v.ratio <= 1.0 and v.max_rel_err <= v.tolerance or v.max_rel_err == 0
        assert v.checked == "all" if mode == "all" else v.checked.startswith("sample of ")
        assert set(v.tensors) <= set(out)


@FAST
@given(shapes=mutually_broadcastable_shapes(signature=np.matmul.signature, max_dims=4, max_side=6),
       dtype=st.sampled_from([np.float16, np.float32, np.float64]), data=st.data())
def test_matmul_of_any_broadcast_shapes_matches(shapes, dtype, data):
    sa, sb = shapes.input_shapes
    elements = st.floats(-4, 4, width=16)
    a = data.draw(arrays(dtype, sa, elements=elements))
    b = data.draw(arrays(dtype, sb, elements=elements))
    out = compute.run_op("matmul", {"A": a, "B": b})
    assert compute.verify_run("matmul", {"A": a, "B": b}, {}, out).ok


def test_the_run_timelines_inputs_and_normalized_params_verify_too():
    """The window passes Timeline.run's inputs and outputs and the normalized params."""
    rng = np.random.default_rng(3)
    q, k, v = (rng.standard_normal((2, 5, 4)).astype(np.float32) for _ in range(3))
    tl = compute.stream_op("attention", {"Q": q, "K": k, "V": v}, mask="padding:3,5")
    res = compute.verify_run(tl.op, tl.run.inputs, tl.params, tl.run.outputs, tl.dtype("result"))
    assert res.ok and res.checked == "all", res.message
    assert set(res.tensors) == {"scores", "scaled", "masked", "weights", "result"}


# --- corrupted results are flagged ----------------------------------------------------------------
def _corrupt(out, name, flat_index, factor):
    bad = dict(out)
    arr = np.array(out[name], copy=True, order="C")  # reshape(-1) must be a view (broadcast views copy as K)
    f = arr.reshape(-1)
    f[flat_index] = f[flat_index] + factor * (abs(f[flat_index]) + 1)
    bad[name] = arr
    return bad, tuple(int(i) for i in np.unravel_index(flat_index, arr.shape))


@pytest.mark.parametrize("op", OPS)
@FAST
@given(seed=st.integers(0, 2**32 - 1), dtype=st.sampled_from(DTYPES), pick=st.integers(0, 2**31))
def test_one_corrupted_entry_is_flagged_and_named(op, seed, dtype, pick):
    rng, ins, p, out = _run(op, seed, dtype)
    names = [n for n in compute.get_spec(op).outputs if n in out and out[n].size and np.isfinite(out[n]).any()]
    name = names[pick % len(names)]
    finite = np.flatnonzero(np.isfinite(out[name]))
    i = int(finite[(pick // 7) % len(finite)])
    # float16 bounds are wide (a few % for long chains such as mha): corrupt it by more than that.
    bad, index = _corrupt(out, name, i, 100.0 if out["result"].dtype == np.float16 else 0.5)
    v = compute.verify_run(op, ins, p, bad, out["result"].dtype, mode="all")
    assert not v.ok
    assert v.worst[:2] == (name, index), v.message
    label = f"{name}[{', '.join(map(str, index))}]" if index else name
    assert v.message.startswith(f"⚠ differs from reference at {label}: ")


@pytest.mark.parametrize("dtype, rel", [(np.float64, 1e-11), (np.float32, 1e-4), (np.float16, 5e-2)])
def test_a_small_relative_error_of_the_dtype_is_flagged(dtype, rel):
    rng = np.random.default_rng(0)
    a, b = rng.uniform(0.5, 2, (16, 32)).astype(dtype), rng.uniform(0.5, 2, (32, 8)).astype(dtype)
    out = compute.run_op("matmul", {"A": a, "B": b})
    bad = dict(out)
    bad["result"] = out["result"].copy()
    bad["result"][3, 5] *= 1 + rel
    assert compute.verify_run("matmul", {"A": a, "B": b}, {}, out).ok
    v = compute.verify_run("matmul", {"A": a, "B": b}, {}, bad)
    assert not v.ok and v.worst[:2] == ("result", (3, 5))


# --- sampled checks of big runs -------------------------------------------------------------------
class _Counter:
    """Counts the float64 values the reference reads (every input and output goes through f64)."""

    def __init__(self, monkeypatch):
        self.values = 0
        real = V._Ctx.f64

        def counting(ctx, a):
            h = real(ctx, a)
            self.values += h.size
            return h

        monkeypatch.setattr(V._Ctx, "f64", counting)


def test_a_big_matmul_is_checked_at_64_sampled_entries(monkeypatch):
    rng = np.random.default_rng(1)
    n = 1024
    a, b = rng.standard_normal((n, n)).astype(np.float32), rng.standard_normal((n, n)).astype(np.float32)
    out = compute.run_op("matmul", {"A": a, "B": b})
    count = _Counter(monkeypatch)
    v = compute.verify_run("matmul", {"A": a, "B": b}, {}, out, seed=0)
    assert v.ok and v.checked == "sample of 64", v.message
    assert v.message.startswith("✓ matches reference at 64 sampled entries (max rel err ")
    # 64 rows of A and 64 columns of B: 2·64·k values read, against n² + 2n² for a full check.
    assert count.values == 2 * 64 * n
    # The first and the last entry are always in the sample (edge tiles, off-by-one errors).
    for flat in (0, n * n - 1):
        bad, index = _corrupt(out, "result", flat, 0.5)
        v = compute.verify_run("matmul", {"A": a, "B": b}, {}, bad, seed=0)
        assert not v.ok and v.worst[:2] == ("result", index)


def test_big_row_wise_runs_are_checked_at_a_few_rows(monkeypatch):
    rng = np.random.default_rng(2)
    x = rng.standard_normal((2048, 512)).astype(np.float32)
    out = compute.run_op("softmax", {"X": x})
    count = _Counter(monkeypatch)
    v = compute.verify_run("softmax", {"X": x}, {}, out, seed=0)
    assert v.ok and v.checked == f"sample of {3 * 8 * 512 + 8}", v.message  # 8 rows of 3 outputs, and 8 sums
    assert count.values == 8 * 512
    q = k = val = rng.standard_normal((4, 512, 32)).astype(np.float32)
    out = compute.run_op("attention", {"Q": q, "K": k, "V": val}, mask="causal")
    count.values = 0
    v = compute.verify_run("attention", {"Q": q, "K": k, "V": val}, {"mask": "causal"}, out, seed=0)
    assert v.ok and v.checked.startswith("sample of "), v.message
    assert count.values <= 3 * (8 * 32 + 2 * 512 * 32)  # ≤ 3 batch entries: their rows of Q, all of K and V


@pytest.mark.parametrize("op, ins, params", [
    ("hadamard", {"A": np.ones((1024, 1024), np.float32), "B": np.arange(1024.0, dtype=np.float32)}, {}),
    ("sum", {"X": np.ones((1024, 1024), np.float32)}, {"axis": 0}),
    ("cumsum", {"X": np.ones((4096, 4096), np.float32)}, {"axis": None}),  # one 16M line: capped at SAMPLE_WORK
    ("layernorm", {"X": np.ones((1024, 512), np.float32), "gamma": np.ones(512, np.float32)}, {}),
    ("batchnorm", {"X": np.ones((64, 16, 256), np.float32)}, {}),
])
def test_the_sampled_work_is_bounded(monkeypatch, op, ins, params):
    out = compute.run_op(op, ins, **params)
    count = _Counter(monkeypatch)
    v = compute.verify_run(op, ins, params, out, seed=0)
    assert v.ok and v.checked.startswith("sample of "), v.message
    assert count.values <= V.SAMPLE_WORK + 4096
    assert count.values <= sum(a.size for a in ins.values()) // 4


def test_small_runs_are_checked_whole():
    a = np.arange(12.0).reshape(3, 4)
    v = compute.verify_run("matmul", {"A": a, "B": a.T}, {}, compute.run_op("matmul", {"A": a, "B": a.T}))
    assert v.checked == "all"


# --- NaN, inf, empty, integers, GPU ----------------------------------------------------------------
def test_nan_and_inf_where_the_reference_has_them_are_fine():
    a = np.array([[1.0, np.inf], [2.0, 3.0]])
    b = np.array([[1.0, 0.0], [1.0, 1.0]])
    out = compute.run_op("matmul", {"A": a, "B": b})
    assert np.isnan(out["result"][0, 1]) or np.isinf(out["result"][0, 0])
    assert compute.verify_run("matmul", {"A": a, "B": b}, {}, out).ok
    x = np.array([[1.0, np.inf, 2.0], [1.0, 2.0, 3.0]])
    assert compute.verify_run("softmax", {"X": x}, {}, compute.run_op("softmax", {"X": x})).ok
    q = np.ones((3, 2))
    out = compute.run_op("attention", {"Q": q, "K": q, "V": q}, mask=(0,))  # every key masked: zeros
    assert compute.verify_run("attention", {"Q": q, "K": q, "V": q}, {"mask": (0,)}, out).ok


def test_a_nan_or_inf_the_reference_does_not_have_is_flagged():
    a = np.array([[1.0, 2.0], [3.0, 4.0]])
    out = compute.run_op("matmul", {"A": a, "B": a})
    bad = dict(out, result=out["result"].copy())
    bad["result"][1, 1] = np.nan
    v = compute.verify_run("matmul", {"A": a, "B": a}, {}, bad)
    assert not v.ok and v.max_rel_err == math.inf
    assert v.message == "⚠ differs from reference at result[1, 1]: nan vs 22"
    bad["result"][1, 1] = -np.inf
    assert compute.verify_run("matmul", {"A": a, "B": a}, {}, bad).message.endswith(": -inf vs 22")


def test_float16_overflow_is_fine_when_the_value_is_beyond_range_and_explained_when_not():
    big = np.full((2, 2), 300.0, np.float16)
    out = compute.run_op("matmul", {"A": big, "B": big})  # 180 000 > 65 504: inf is float16's answer
    assert np.isinf(out["result"]).all()
    assert compute.verify_run("matmul", {"A": big, "B": big}, {}, out).ok
    x = np.array([60000.0, 60000.0, -60000.0], np.float16)  # 60 000 fits, but a partial sum overflows
    out = compute.run_op("sum", {"X": x})
    v = compute.verify_run("sum", {"X": x}, {}, out)
    if np.isinf(out["result"]):
        assert not v.ok and "beyond float16's range" in v.message
    else:
        assert v.ok


def test_empty_outputs_are_trivially_ok():
    a, b = np.zeros((0, 3)), np.ones((3, 2))
    v = compute.verify_run("matmul", {"A": a, "B": b}, {}, compute.run_op("matmul", {"A": a, "B": b}))
    assert v.ok and v.worst is None and v.message == "✓ matches reference (empty result: nothing to compare)"
    x = np.zeros((4, 0))
    assert compute.verify_run("softmax", {"X": x}, {"axis": 0}, compute.run_op("softmax", {"X": x}, axis=0)).ok


def test_integer_inputs_are_checked_in_float64():
    a = np.arange(-6, 6).reshape(3, 4)
    out = compute.run_op("matmul", {"A": a, "B": a.T})
    v = compute.verify_run("matmul", {"A": a, "B": a.T}, {}, out)
    assert out["result"].dtype == np.float64 and v.ok and v.max_rel_err == 0


def test_a_wrong_shape_is_flagged():
    a = np.ones((2, 3))
    v = compute.verify_run("matmul", {"A": a, "B": a.T}, {}, {"result": np.ones((3, 3))})
    assert not v.ok and v.message == "⚠ differs from reference: result has shape 3×3, the reference 2×2"


@pytest.mark.gpu
def test_device_arrays_are_checked_where_they_live():
    cupy = pytest.importorskip("cupy")
    try:
        a = cupy.asarray(np.random.default_rng(0).standard_normal((512, 512)).astype(np.float32))
    except Exception as exc:  # noqa: BLE001 - no usable device
        pytest.skip(f"no CuPy device: {exc}")
    out = {"result": a @ a}
    v = compute.verify_run("matmul", {"A": a, "B": a}, {}, out, mode="sample", seed=0)
    assert v.ok and v.checked == "sample of 64", v.message
    out["result"][0, 0] += 1
    assert not compute.verify_run("matmul", {"A": a, "B": a}, {}, out, mode="sample", seed=0).ok


# --- messages -------------------------------------------------------------------------------------
def test_message_formats():
    a, b = np.array([[1.0, 2.0], [3.0, 4.0]]), np.array([[5.0, 6.0], [7.0, 8.0]])
    out = compute.run_op("matmul", {"A": a, "B": b})
    ok = compute.verify_run("matmul", {"A": a, "B": b}, {}, out)
    assert ok.message == "✓ matches reference (max rel err 0)"
    bad = dict(out, result=out["result"].copy())
    bad["result"][1, 0] = 42.0  # 43 is right
    v = compute.verify_run("matmul", {"A": a, "B": b}, {}, bad)
    assert v.message == "⚠ differs from reference at result[1, 0]: 42 vs 43 (rel err 2e-2)"
    assert v.worst == ("result", (1, 0), 42.0, 43.0)
    assert "worst entry: result[1, 0] = 42, reference 43" in v.details
    x = np.random.default_rng(0).standard_normal((64, 64)).astype(np.float32)
    v = compute.verify_run("softmax", {"X": x}, {}, compute.run_op("softmax", {"X": x}))
    assert re.fullmatch(r"✓ matches reference \(max rel err \de-\d+\)", v.message), v.message
    with pytest.raises(dataclasses.FrozenInstanceError):
        v.ok = False


def test_numbers_in_a_warning_get_the_digits_that_tell_them_apart():
    assert V._distinct(0.512, 0.498) == ("0.512", "0.498")
    assert V._distinct(0.5120001, 0.512) == ("0.5120001", "0.512")
    assert V._sci(3.2e-7) == "3e-7" and V._sci(0.0) == "0" and V._sci(2.3e-2) == "2e-2"


def test_unknown_operation_and_mode_are_refused():
    with pytest.raises(compute.ParamError):
        compute.verify_run("conv", {}, {}, {})
    with pytest.raises(ValueError):
        compute.verify_run("sum", {"X": np.ones(2)}, {}, {"result": np.array(2.0)}, mode="most")
