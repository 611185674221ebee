"""Every operation's outputs against plain numpy, with hypothesis over shapes, broadcasting and dtypes."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp
from opscope import compute

from . import reference as ref

FLOATS = st.sampled_from([np.float16, np.float32, np.float64])
SETTINGS = settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])


def values(dtype, shape):
    # Bounded values keep float16 sums finite; NaN/Inf are tested separately.
    return hnp.arrays(dtype, shape, elements=st.floats(-4, 4, width=16).map(float))


@SETTINGS
@given(data=st.data(), dtype=FLOATS)
def test_matmul_matches_numpy_with_broadcast_batches(data, dtype):
    shapes = data.draw(hnp.mutually_broadcastable_shapes(signature=np.matmul.signature, max_dims=4, max_side=5))
    a = data.draw(values(dtype, shapes.input_shapes[0]))
    b = data.draw(values(dtype, shapes.input_shapes[1]))
    out = compute.run_op("matmul", {"A": a, "B": b})["result"]
    expected = np.matmul(a.astype(np.float64), b.astype(np.float64))
    assert out.shape == expected.shape
    assert out.dtype == dtype
    k = a.shape[-1]
    t = ref.tol(dtype)
    np.testing.assert_allclose(out, expected, rtol=t["rtol"], atol=t["atol"] * max(1, k) * 4)


@SETTINGS
@given(data=st.data(), dtype=FLOATS)
def test_hadamard_and_add_broadcast_like_numpy(data, dtype):
    shapes = data.draw(hnp.mutually_broadcastable_shapes(num_shapes=2, max_dims=4, max_side=4))
    a = data.draw(values(dtype, shapes.input_shapes[0]))
    b = data.draw(values(dtype, shapes.input_shapes[1]))
    h = compute.run_op("hadamard", {"A": a, "B": b})
    s = compute.run_op("add", {"A": a, "B": b})
    np.testing.assert_array_equal(h["result"], a * b)
    np.testing.assert_array_equal(s["result"], a + b)
    np.testing.assert_array_equal(h["A_broadcast"], np.broadcast_to(a, shapes.result_shape))
    np.testing.assert_array_equal(h["B_broadcast"], np.broadcast_to(b, shapes.result_shape))


@st.composite
def array_and_axis(draw, min_side=1):
    shape = draw(hnp.array_shapes(min_dims=1, max_dims=4, min_side=min_side, max_side=5))
    x = draw(values(np.float64, shape))
    nd = len(shape)
    axis = draw(st.one_of(st.none(), st.integers(-nd, nd - 1),
                          st.lists(st.integers(0, nd - 1), min_size=1, max_size=nd, unique=True).map(tuple)))
    return x, axis, draw(st.booleans())


@SETTINGS
@given(case=array_and_axis())
def test_reductions_match_numpy(case):
    x, axis, keepdims = case
    for name, f in (("sum", np.sum), ("mean", np.mean), ("max", np.max)):
        out = compute.run_op(name, {"X": x}, axis=axis, keepdims=keepdims)["result"]
        np.testing.assert_allclose(out, f(x, axis=axis, keepdims=keepdims), rtol=1e-12, atol=1e-12)
    n1 = compute.run_op("norm", {"X": x}, ord=1, axis=axis, keepdims=keepdims)["result"]
    n2 = compute.run_op("norm", {"X": x}, ord=2, axis=axis, keepdims=keepdims)["result"]
    ninf = compute.run_op("norm", {"X": x}, ord="inf", axis=axis, keepdims=keepdims)["result"]
    np.testing.assert_allclose(n1, np.abs(x).sum(axis=axis, keepdims=keepdims), rtol=1e-12)
    np.testing.assert_allclose(n2, np.sqrt((x**2).sum(axis=axis, keepdims=keepdims)), rtol=1e-12, atol=1e-12)
    np.testing.assert_allclose(ninf, np.abs(x).max(axis=axis, keepdims=keepdims), rtol=1e-12)


def test_norm_matches_linalg_for_vectors_and_frobenius():
    rng = np.random.default_rng(3)
    x = rng.standard_normal((4, 5))
    for o in (1, 2, np.inf):
        np.testing.assert_allclose(compute.run_op("norm", {"X": x}, ord=o, axis=1)["result"],
                                   np.linalg.norm(x, ord=o, axis=1))
    np.testing.assert_allclose(compute.run_op("norm", {"X": x}, ord="fro", axis=(0, 1))["result"],
                               np.linalg.norm(x, "fro"))


@SETTINGS
@given(data=st.data())
def test_cumsum_matches_numpy(data):
    x = data.draw(values(np.float64, hnp.array_shapes(min_dims=1, max_dims=3, max_side=5)))
    axis = data.draw(st.one_of(st.none(), st.integers(-x.ndim, x.ndim - 1)))
    np.testing.assert_allclose(compute.run_op("cumsum", {"X": x}, axis=axis)["result"], np.cumsum(x, axis=axis))


@SETTINGS
@given(data=st.data(), dtype=FLOATS)
def test_softmax_matches_reference_and_is_stable(data, dtype):
    x = data.draw(values(dtype, hnp.array_shapes(min_dims=1, max_dims=3, max_side=6)))
    axis = data.draw(st.integers(-x.ndim, x.ndim - 1))
    t = data.draw(st.sampled_from([1.0, 0.5, 2.0]))
    out = compute.run_op("softmax", {"X": x}, axis=axis, temperature=t)
    np.testing.assert_allclose(out["result"], ref.softmax(x.astype(np.float64) / t, axis), **ref.tol(dtype))
    np.testing.assert_allclose(out["result"].astype(np.float64).sum(axis=axis), 1.0, **ref.tol(dtype))


def test_softmax_of_huge_logits_does_not_overflow():
    out = compute.run_op("softmax", {"X": np.array([1000.0, 1001.0, 1002.0], dtype=np.float32)})["result"]
    np.testing.assert_allclose(out, ref.softmax([0.0, 1.0, 2.0]), rtol=1e-6)


@SETTINGS
@given(data=st.data(), dtype=st.sampled_from([np.float32, np.float64]))
def test_layernorm_rmsnorm_match_reference(data, dtype):
    shape = data.draw(hnp.array_shapes(min_dims=1, max_dims=4, min_side=2, max_side=5))
    nd = data.draw(st.integers(1, len(shape)))
    x = data.draw(values(dtype, shape))
    g = data.draw(values(dtype, shape[-nd:]))
    b = data.draw(values(dtype, shape[-nd:]))
    out = compute.run_op("layernorm", {"X": x, "gamma": g, "beta": b}, eps=1e-5)
    x64, g64, b64 = (t.astype(np.float64) for t in (x, g, b))
    np.testing.assert_allclose(out["result"], ref.layernorm(x64, g64, b64, 1e-5), rtol=1e-3 if dtype == np.float32
                               else 1e-9, atol=1e-3 if dtype == np.float32 else 1e-9)
    r = compute.run_op("rmsnorm", {"X": x, "gamma": g}, eps=1e-6)["result"]
    np.testing.assert_allclose(r, ref.rmsnorm(x64, g64, 1e-6), rtol=1e-3 if dtype == np.float32 else 1e-9,
                               atol=1e-3 if dtype == np.float32 else 1e-9)


@SETTINGS
@given(data=st.data())
def test_batchnorm_training_matches_reference(data):
    shape = data.draw(hnp.array_shapes(min_dims=2, max_dims=4, min_side=2, max_side=4))
    x = data.draw(values(np.float64, shape))
    g = data.draw(values(np.float64, (shape[1],)))
    b = data.draw(values(np.float64, (shape[1],)))
    out = compute.run_op("batchnorm", {"X": x, "gamma": g, "beta": b})
    np.testing.assert_allclose(out["result"], ref.batchnorm_train(x, g, b, 1e-5), rtol=1e-9, atol=1e-9)
    axes = (0,) + tuple(range(2, x.ndim))
    np.testing.assert_allclose(out["mean"], x.mean(axis=axes), rtol=1e-12, atol=1e-12)
    np.testing.assert_allclose(out["var"], x.var(axis=axes), rtol=1e-9, atol=1e-12)


def test_batchnorm_inference_uses_running_statistics_and_training_updates_them():
    rng = np.random.default_rng(0)
    x = rng.standard_normal((6, 3, 2))
    rm, rv = np.array([0.5, -1.0, 2.0]), np.array([1.0, 4.0, 0.25])
    out = compute.run_op("batchnorm", {"X": x, "running_mean": rm, "running_var": rv}, training=False)
    np.testing.assert_allclose(out["result"], (x - rm[None, :, None]) / np.sqrt(rv[None, :, None] + 1e-5))
    tr = compute.run_op("batchnorm", {"X": x, "running_mean": rm, "running_var": rv}, training=True, momentum=0.1)
    n = x.shape[0] * x.shape[2]
    np.testing.assert_allclose(tr["new_running_mean"], 0.9 * rm + 0.1 * x.mean(axis=(0, 2)))
    np.testing.assert_allclose(tr["new_running_var"], 0.9 * rv + 0.1 * x.var(axis=(0, 2)) * n / (n - 1))


def test_layernorm_and_batchnorm_normalize_different_axes():
    x = np.array([[1.0, 2.0, 3.0, 4.0], [2.0, 4.0, 6.0, 8.0], [0.0, 0.0, 1.0, 1.0]])
    ln = compute.run_op("layernorm", {"X": x, "gamma": np.ones(4)})["result"]
    bn = compute.run_op("batchnorm", {"X": x})["result"]
    np.testing.assert_allclose(ln.mean(axis=1), 0, atol=1e-12)  # each sample (row) centred
    np.testing.assert_allclose(bn.mean(axis=0), 0, atol=1e-12)  # each feature (column) centred


@st.composite
def qkv(draw):
    batch = draw(hnp.array_shapes(min_dims=0, max_dims=2, max_side=3))
    lq, lk, d, dv = (draw(st.integers(1, 5)) for _ in range(4))
    q = draw(values(np.float64, batch + (lq, d)))
    k = draw(values(np.float64, batch + (lk, d)))
    v = draw(values(np.float64, batch + (lk, dv)))
    return q, k, v


@SETTINGS
@given(t=qkv(), causal=st.booleans())
def test_attention_matches_reference(t, causal):
    q, k, v = t
    keep = np.tril(np.ones((q.shape[-2], k.shape[-2]), bool)) if causal else None
    out = compute.run_op("attention", {"Q": q, "K": k, "V": v}, mask="causal" if causal else None)
    exp_out, exp_w = ref.attention(q, k, v, keep)
    np.testing.assert_allclose(out["result"], exp_out, rtol=1e-9, atol=1e-9)
    np.testing.assert_allclose(out["weights"], exp_w, rtol=1e-9, atol=1e-9)
    np.testing.assert_allclose(out["scores"], q @ np.swapaxes(k, -1, -2), rtol=1e-12, atol=1e-12)
    assert not np.isnan(out["result"]).any()


def test_attention_masks_boolean_padding_additive_and_fully_masked_rows():
    rng = np.random.default_rng(5)
    q, k, v = rng.standard_normal((2, 3, 4)), rng.standard_normal((2, 5, 4)), rng.standard_normal((2, 5, 2))
    keep = rng.random((2, 3, 5)) > 0.4
    keep[0, 1, :] = False  # a fully masked row
    out = compute.run_op("attention", {"Q": q, "K": k, "V": v, "mask": keep})
    exp, _w = ref.attention(q, k, v, keep)
    np.testing.assert_allclose(out["result"], exp, atol=1e-12)
    np.testing.assert_array_equal(out["result"][0, 1], 0.0)
    np.testing.assert_array_equal(out["weights"][0, 1], 0.0)
    assert any("masked" in n for n in out.notices)
    # padding: key lengths per batch entry
    pad = compute.run_op("attention", {"Q": q, "K": k, "V": v}, mask=[2, 5])
    lengths = np.array([2, 5])
    pkeep = np.arange(5)[None, None, :] < lengths[:, None, None]
    np.testing.assert_allclose(pad["result"], ref.attention(q, k, v, pkeep)[0], atol=1e-12)
    # an additive float mask of 0 / -inf equals the boolean one
    add = np.where(keep, 0.0, -np.inf)
    out2 = compute.run_op("attention", {"Q": q, "K": k, "V": v, "mask": add})
    np.testing.assert_allclose(out2["result"], out["result"], atol=1e-12)
    # a mask array given by keyword goes to the inputs
    out3 = compute.run_op("attention", {"Q": q, "K": k, "V": v}, mask=keep)
    np.testing.assert_allclose(out3["result"], out["result"], atol=1e-12)


@SETTINGS
@given(data=st.data())
def test_mha_matches_per_head_reference(data):
    h = data.draw(st.sampled_from([1, 2, 4]))
    d = h * data.draw(st.integers(1, 3))
    s = data.draw(st.integers(1, 5))
    batch = data.draw(st.sampled_from([(), (2,)]))
    x = data.draw(values(np.float64, batch + (s, d)))
    w = {n: data.draw(values(np.float64, (d, d))) for n in ("W_q", "W_k", "W_v", "W_o")}
    causal = data.draw(st.booleans())
    out = compute.run_op("mha", {"X": x, **w}, num_heads=h, mask="causal" if causal else None)
    keep = np.tril(np.ones((s, s), bool)) if causal else None
    exp = ref.mha(x, x, x, w["W_q"], w["W_k"], w["W_v"], w["W_o"], h, keep)
    np.testing.assert_allclose(out["result"], exp, rtol=1e-9, atol=1e-9)
    assert out["weights"].shape == batch + (h, s, s)
    np.testing.assert_allclose(out["concat"] @ w["W_o"], out["result"], atol=1e-9)


def test_mha_cross_attention_with_biases():
    rng = np.random.default_rng(2)
    xq, xkv = rng.standard_normal((3, 8)), rng.standard_normal((5, 6))
    w = {"W_q": rng.standard_normal((8, 8)), "W_k": rng.standard_normal((6, 8)), "W_v": rng.standard_normal((6, 8)),
         "W_o": rng.standard_normal((8, 4))}
    b = {"b_q": rng.standard_normal(8), "b_k": rng.standard_normal(8), "b_v": rng.standard_normal(8),
         "b_o": rng.standard_normal(4)}
    out = compute.run_op("mha", {"query": xq, "key": xkv, "value": xkv, **w, **b}, num_heads=2)
    exp = ref.mha(xq, xkv, xkv, w["W_q"], w["W_k"], w["W_v"], w["W_o"], 2, None, b["b_q"], b["b_k"], b["b_v"],
                  b["b_o"])
    np.testing.assert_allclose(out["result"], exp, rtol=1e-10, atol=1e-10)


@SETTINGS
@given(data=st.data())
def test_products_match_numpy(data):
    n, m, k = (data.draw(st.integers(1, 5)) for _ in range(3))
    a = data.draw(values(np.float64, (k,)))
    b = data.draw(values(np.float64, (k,)))
    A = data.draw(values(np.float64, (m, k)))
    W = data.draw(values(np.float64, (n, k)))
    bias = data.draw(values(np.float64, (n,)))
    np.testing.assert_allclose(compute.run_op("dot", {"a": a, "b": b})["result"], np.dot(a, b), atol=1e-12)
    np.testing.assert_allclose(compute.run_op("matvec", {"A": A, "x": a})["result"], A @ a, atol=1e-12)
    np.testing.assert_allclose(compute.run_op("outer", {"a": a, "b": bias})["result"], np.outer(a, bias))
    np.testing.assert_allclose(compute.run_op("linear", {"X": A, "W": W, "b": bias})["result"], A @ W.T + bias,
                               atol=1e-12)
    cos = compute.run_op("cosine", {"a": a, "b": b})["result"]
    denom = np.linalg.norm(a) * np.linalg.norm(b)
    np.testing.assert_allclose(cos, np.dot(a, b) / denom if denom > 1e-8 else np.dot(a, b) / 1e-8, atol=1e-9)


@pytest.mark.parametrize("dtype", [np.int32, np.int64])
def test_integer_inputs_compute_exactly_in_float64(dtype):
    a = np.arange(6, dtype=dtype).reshape(2, 3)
    b = np.arange(6, dtype=dtype).reshape(3, 2)
    out = compute.run_op("matmul", {"A": a, "B": b})["result"]
    assert out.dtype == np.float64
    np.testing.assert_array_equal(out, a @ b)


@pytest.mark.filterwarnings("ignore::RuntimeWarning")
def test_nan_and_inf_propagate_as_in_numpy():
    a = np.array([[1.0, np.nan], [np.inf, 2.0]])
    b = np.eye(2)
    np.testing.assert_array_equal(compute.run_op("matmul", {"A": a, "B": b})["result"], a @ b)
    np.testing.assert_array_equal(compute.run_op("hadamard", {"A": a, "B": b})["result"], a * b)
    assert np.isnan(compute.run_op("max", {"X": a})["result"])


@SETTINGS
@given(t=qkv(), data=st.data(), chunk=st.sampled_from([1, 3, 1 << 18]))
def test_attention_with_broadcast_masks_matches_reference_at_any_chunk_size(t, data, chunk):
    from opscope.compute.ops import attention as att

    q, k, v = t
    batch = np.broadcast_shapes(q.shape[:-2], k.shape[:-2], v.shape[:-2])
    full = batch + (q.shape[-2], k.shape[-2])
    # a mask shape that broadcasts to the scores: some leading axes dropped, some axes set to 1
    drop = data.draw(st.integers(0, len(full) - 1))
    mshape = tuple(s if data.draw(st.booleans()) else 1 for s in full[drop:])
    keep = data.draw(hnp.arrays(bool, mshape))
    old = att.CHUNK_SCORES
    att.CHUNK_SCORES = chunk
    try:
        out = compute.run_op("attention", {"Q": q, "K": k, "V": v, "mask": keep})
        add = compute.run_op("attention", {"Q": q, "K": k, "V": v, "mask": np.where(keep, 0.0, -np.inf)})
        both = compute.run_op("attention", {"Q": q, "K": k, "V": v, "mask": keep}, mask="causal")
    finally:
        att.CHUNK_SCORES = old
    exp, w = ref.attention(q, k, v, keep)
    np.testing.assert_allclose(out["result"], exp, rtol=1e-9, atol=1e-9)
    np.testing.assert_allclose(out["weights"], w, rtol=1e-9, atol=1e-9)
    np.testing.assert_allclose(add["result"], exp, rtol=1e-9, atol=1e-9)
    causal = np.tril(np.ones(full[-2:], bool))
    np.testing.assert_allclose(both["result"], ref.attention(q, k, v, np.broadcast_to(keep, full) & causal)[0],
                               rtol=1e-9, atol=1e-9)
    assert not np.isnan(out["result"]).any()
