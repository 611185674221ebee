"""Timelines: every granularity ends at run_op's result, and the steps in between are right too."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp
from opscope import compute
from opscope.compute.plans import EMPTY

SETTINGS = settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])
CASES = [(s.name, g) for s in compute.operations() for g in s.granularities]


@pytest.mark.parametrize(("op", "granularity"), CASES)
def test_every_stream_ends_at_the_direct_result(op, granularity):
    spec = compute.get_spec(op)
    inputs = spec.example()
    direct = compute.run_op(op, inputs)
    tl = compute.stream_op(op, inputs, granularity=granularity)
    assert len(tl) >= 1
    last = len(tl) - 1
    for name, value in direct.items():
        np.testing.assert_allclose(tl.tensor_at(name, last), value.astype(np.float64), rtol=1e-12, equal_nan=True)
    # every step is well-formed: index, total, caption, regions inside their tensors
    for i in range(len(tl)):
        step = tl[i]
        assert (step.index, step.total, step.run_id) == (i, len(tl), tl.run_id)
        assert step.caption
        for r in step.regions:
            shape = tl.shape(r.tensor)
            assert len(r.box) == len(shape), (r, shape)
            assert all(0 <= a <= b <= s for (a, b), s in zip(r.box, shape)), (r, shape)
        for arr in step.tensors.values():
            assert not arr.flags.writeable


def test_steps_are_immutable_and_random_access_is_order_free():
    a, b = np.arange(12.0).reshape(3, 4), np.arange(20.0).reshape(4, 5)
    tl = compute.stream_op("matmul", {"A": a, "B": b}, granularity="element")
    step = tl[7]
    with pytest.raises(dataclasses.FrozenInstanceError):
        step.caption = "x"
    backwards = [tl[i].caption for i in reversed(range(len(tl)))][::-1]
    forwards = [tl[i].caption for i in range(len(tl))]
    assert backwards == forwards
    np.testing.assert_array_equal(tl.tensor_at("result", 7), compute.stream_op(
        "matmul", {"A": a, "B": b}, granularity="element").tensor_at("result", 7))


@SETTINGS
@given(data=st.data())
def test_matmul_element_tile_and_kblock_steps_hold_the_right_partial_values(data):
    shapes = data.draw(hnp.mutually_broadcastable_shapes(signature=np.matmul.signature, max_dims=3, max_side=5))
    a = data.draw(hnp.arrays(np.float64, shapes.input_shapes[0], elements=st.integers(-5, 5).map(float)))
    b = data.draw(hnp.arrays(np.float64, shapes.input_shapes[1], elements=st.integers(-5, 5).map(float)))
    c = np.matmul(a, b)
    tl = compute.stream_op("matmul", {"A": a, "B": b}, granularity="element")
    assert len(tl) == max(1, c.size)
    n = data.draw(st.integers(0, len(tl) - 1))
    shown = tl.tensor_at("result", n)
    flat = np.arange(c.size).reshape(c.shape)
    np.testing.assert_array_equal(shown[flat <= n], c[flat <= n])
    assert np.isnan(shown[flat > n]).all()
    step = tl[n]
    if c.ndim and a.shape[-1]:
        np.testing.assert_allclose(step.tensors["running"][-1], c.reshape(-1)[n])
    kb = data.draw(st.integers(1, 3))
    tk = compute.stream_op("matmul", {"A": a, "B": b}, granularity="kblock", kblock=kb)
    k = a.shape[-1]
    n = data.draw(st.integers(0, len(tk) - 1))
    k1 = min(k, (n + 1) * kb)
    a2 = a if a.ndim > 1 else a[None, :]
    b2 = b if b.ndim > 1 else b[:, None]
    partial = np.matmul(a2[..., :k1], b2[..., :k1, :]).reshape(c.shape)
    np.testing.assert_allclose(tk.tensor_at("result", n), partial, atol=1e-12)
    tt = compute.stream_op("matmul", {"A": a, "B": b}, granularity="tile", tile=2)
    np.testing.assert_array_equal(tt.tensor_at("result", len(tt) - 1), c)


def test_seed_matmul_element_captions_carry_the_real_numbers():
    tl = compute.stream_op("matmul", {"A": [[1, 2], [3, 4]], "B": [[5, 6], [7, 8]]}, granularity="element")
    assert [s.caption for s in tl] == ["result[0,0] = 1×5 + 2×7 = 19", "result[0,1] = 1×6 + 2×8 = 22",
                                       "result[1,0] = 3×5 + 4×7 = 43", "result[1,1] = 3×6 + 4×8 = 50"]
    np.testing.assert_array_equal(tl[1].tensors["products"], [6, 16])
    np.testing.assert_array_equal(tl[1].tensors["running"], [6, 22])
    assert {(r.tensor, r.kind, r.box) for r in tl[1].regions} >= {
        ("A", "read", ((0, 1), (0, 2))), ("B", "read", ((0, 2), (1, 2))), ("result", "write", ((0, 1), (1, 2)))}


def test_dot_kblock_walks_the_products_one_term_at_a_time():
    tl = compute.stream_op("dot", {"a": [1, 2, 3], "b": [4, 5, 6]})
    assert tl.granularity == "kblock" and len(tl) == 3
    assert tl[2].caption == "result after k = 2: 1×4 + 2×5 + 3×6 = 32"
    assert [float(tl.tensor_at("result", i)) for i in range(3)] == [4, 14, 32]


@SETTINGS
@given(data=st.data())
def test_reduction_streams_reveal_running_values(data):
    shape = data.draw(hnp.array_shapes(min_dims=1, max_dims=3, max_side=5))
    x = data.draw(hnp.arrays(np.float64, shape, elements=st.integers(-9, 9).map(float)))
    axis = data.draw(st.integers(0, x.ndim - 1))
    for g in ("element", "tile", "kblock", "stage"):
        tl = compute.stream_op("sum", {"X": x}, granularity=g, axis=axis)
        np.testing.assert_allclose(tl.tensor_at("result", len(tl) - 1), x.sum(axis=axis))
    tk = compute.stream_op("sum", {"X": x}, granularity="kblock", kblock=1, axis=axis)
    n = data.draw(st.integers(0, len(tk) - 1))
    np.testing.assert_allclose(tk.tensor_at("result", n), np.take(x, range(n + 1), axis=axis).sum(axis=axis))
    tc = compute.stream_op("cumsum", {"X": x}, granularity="element", axis=axis)
    n = data.draw(st.integers(0, len(tc) - 1))
    shown = tc.tensor_at("result", n)
    pos = np.arange(x.shape[axis]).reshape([-1 if i == axis else 1 for i in range(x.ndim)])
    np.testing.assert_allclose(np.where(pos <= n, shown, 0), np.where(pos <= n, np.cumsum(x, axis=axis), 0))
    assert np.isnan(np.where(pos > n, shown, np.nan)).all()


def test_stage_streams_reveal_intermediates_in_order():
    x = np.array([[1.0, 2.0, 3.0], [1.0, 1.0, 1.0]])
    tl = compute.stream_op("softmax", {"X": x})
    assert [s.stage for s in tl] == ["shifted", "exp", "sum", "divide"]
    assert np.isnan(tl.tensor_at("exp", 0)).all()
    np.testing.assert_allclose(tl.tensor_at("exp", 1), np.exp(x - x.max(axis=1, keepdims=True)))
    assert "[0.09003, 0.2447, 0.6652]" in tl[3].caption


def test_attention_tile_stream_reveals_query_rows():
    rng = np.random.default_rng(0)
    q, k, v = rng.standard_normal((2, 6, 4)), rng.standard_normal((2, 5, 4)), rng.standard_normal((2, 5, 3))
    tl = compute.stream_op("attention", {"Q": q, "K": k, "V": v}, granularity="tile", tile=2, mask="causal")
    assert len(tl) == 2 * 3
    res = compute.run_op("attention", {"Q": q, "K": k, "V": v}, mask="causal")["result"]
    shown = tl.tensor_at("result", 1)  # batch 0, rows 0..3
    np.testing.assert_allclose(shown[0, :4], res[0, :4])
    assert np.isnan(shown[0, 4:]).all() and np.isnan(shown[1]).all()


def test_default_granularity_keeps_timelines_short_and_finer_is_available():
    a = np.ones((300, 300), dtype=np.float32)
    tl = compute.stream_op("matmul", {"A": a, "B": a})
    assert tl.granularity == "tile" and len(tl) <= compute.MAX_DEFAULT_STEPS
    fine = compute.stream_op("matmul", {"A": a, "B": a}, granularity="element")
    assert len(fine) == 90000
    assert fine[89999].caption.startswith("result[299,299] = 1×1 + 1×1")


def test_tensor_at_reduces_large_tensors_for_display_on_the_device_side():
    a = np.arange(512 * 512, dtype=np.float32).reshape(512, 512)
    tl = compute.stream_op("hadamard", {"A": a, "B": np.float32(2)}, granularity="stage")
    small = tl.tensor_at("result", len(tl) - 1, max_shape=(64, 64))
    assert small.shape == (64, 64)
    np.testing.assert_allclose(small[0, 0], (2 * a[:8, :8]).mean())
    assert tl.levels["result"] == (0.0, float(2 * a.max()))


def test_tile_stream_steps_materialize_only_the_tile():
    a = np.ones((256, 256), dtype=np.float32)
    tl = compute.stream_op("matmul", {"A": a, "B": a}, granularity="tile", tile=64)
    assert len(tl) == 16
    step = tl[5]
    assert step.tensors["tile"].shape == (64, 64)
    np.testing.assert_array_equal(step.tensors["tile"], 256.0)
    first = tl.tensor_at("result", 0)
    np.testing.assert_array_equal(first[:64, :64], 256.0)
    assert np.isnan(first[64:, :]).all() and np.isnan(first[:, 64:]).all()
    assert tl._plan.tensor_at("result", 0) is not EMPTY


@pytest.mark.parametrize("tile", [64, 50])
def test_display_frames_of_big_tile_timelines_equal_the_block_mean_of_the_full_frame(tile):
    from opscope.compute.timeline import block_reduce

    rng = np.random.default_rng(0)
    a, b = rng.standard_normal((300, 70)), rng.standard_normal((70, 260))
    tl = compute.stream_op("matmul", {"A": a, "B": b}, granularity="tile", tile=tile)
    for n in (0, len(tl) // 3, len(tl) - 2):
        full = np.asarray(tl.tensor_at("result", n))
        small = tl.tensor_at("result", n, max_shape=(64, 64))
        np.testing.assert_allclose(small, block_reduce(np, full, (64, 64)), rtol=1e-12, equal_nan=True)
        assert not small.flags.writeable


@SETTINGS
@given(data=st.data())
def test_empty_tensors_stream_at_every_granularity(data):
    shapes = data.draw(hnp.mutually_broadcastable_shapes(signature=np.matmul.signature, max_dims=3, min_side=0,
                                                         max_side=3))
    a = np.ones(shapes.input_shapes[0])
    b = np.ones(shapes.input_shapes[1])
    expected = np.matmul(a, b)
    for g in ("element", "tile", "kblock", "stage"):
        tl = compute.stream_op("matmul", {"A": a, "B": b}, granularity=g)
        for i in range(min(len(tl), 50)):
            assert tl[i].caption
        np.testing.assert_array_equal(tl.tensor_at("result", len(tl) - 1), expected)


@st.composite
def op_case(draw):
    """An operation with random inputs of compatible random shapes (products, element-wise, reductions)."""
    op = draw(st.sampled_from(["dot", "matvec", "outer", "linear", "hadamard", "add", "sum", "mean", "max", "norm",
                               "cumsum"]))
    ints = st.integers(-5, 5).map(float)
    m, k, n = (draw(st.integers(1, 4)) for _ in range(3))
    batch = draw(st.sampled_from([(), (2,), (2, 1)]))
    arr = lambda shape: draw(hnp.arrays(np.float64, shape, elements=ints))  # noqa: E731
    params = {}
    if op == "dot":
        inputs = {"a": arr(batch + (k,)), "b": arr((k,))}
    elif op == "matvec":
        inputs = {"A": arr(batch + (m, k)), "x": arr((k,))}
    elif op == "outer":
        inputs = {"a": arr((m,)), "b": arr((n,))}
    elif op == "linear":
        inputs = {"X": arr(batch + (m, k)), "W": arr((n, k)), "b": arr((n,))}
    elif op in ("hadamard", "add"):
        shapes = draw(hnp.mutually_broadcastable_shapes(num_shapes=2, max_dims=3, max_side=4))
        inputs = {"A": arr(shapes.input_shapes[0]), "B": arr(shapes.input_shapes[1])}
    else:
        x = arr(batch + (m, k))
        inputs = {"X": x}
        params["axis"] = draw(st.integers(-x.ndim, x.ndim - 1))
        if op == "norm":
            params["ord"] = draw(st.sampled_from([1, 2, "inf"]))
    return op, inputs, params


@SETTINGS
@given(case=op_case(), data=st.data())
def test_every_granularity_ends_at_run_ops_result_for_random_shapes(case, data):
    op, inputs, params = case
    direct = compute.run_op(op, inputs, **params)
    for g in compute.get_spec(op).granularities:
        tl = compute.stream_op(op, inputs, granularity=g, **params)
        n = data.draw(st.integers(0, len(tl) - 1))
        assert tl[n].caption and tl[n].index == n
        for name, value in direct.items():
            np.testing.assert_allclose(tl.tensor_at(name, len(tl) - 1), value, rtol=1e-12, atol=1e-12)


def test_norm_element_steps_carry_the_terms_their_running_sum_adds():
    # ‖[3, −4, 0]‖: the running sum adds |x| (ord 1) or x² (ord 2), never the raw x, so the step
    # carries those terms next to the raw values, and the last running value is the sum of terms.
    for order, terms, running in ((1, [3, 4, 0], [3, 7, 7]), (2, [9, 16, 0], [9, 25, 25])):
        tl = compute.stream_op("norm", {"X": [3.0, -4.0, 0.0]}, granularity="element", ord=order)
        step = tl[len(tl) - 1]
        np.testing.assert_array_equal(step.tensors["values"], [3, -4, 0])
        np.testing.assert_array_equal(step.tensors["line_terms"], terms)
        np.testing.assert_array_equal(step.tensors["running"], running)
    plain = compute.stream_op("sum", {"X": [3.0, -4.0, 0.0]}, granularity="element")
    assert "line_terms" not in plain[0].tensors


def test_mha_captions_write_the_per_head_tensors_with_subscripts():
    # "Q_h K_hᵀ" and "weights V_h" showed their TeX underscores on screen.
    rng = np.random.default_rng(0)
    x = rng.standard_normal((4, 8))
    w = {k: rng.standard_normal((8, 8)) for k in ("W_q", "W_k", "W_v", "W_o")}
    tl = compute.stream_op("mha", {"X": x, **w}, granularity="stage", num_heads=2)
    captions = " ".join(s.caption for s in tl)
    assert "Qₕ Kₕᵀ" in captions and "weights Vₕ" in captions and "_h" not in captions


def test_an_explicit_tile_size_is_stepped_by_tiles_even_past_the_default_length():
    # 300² by tiles of 5 is 3600 tiles, past MAX_DEFAULT_STEPS: the tile asked for is what comes,
    # not one stage step; a tile of 1 (90000 steps) is past what a request may ask and falls back.
    a = np.ones((300, 300), dtype=np.float32)
    tl = compute.stream_op("matmul", {"A": a, "B": a}, tile=5)
    assert tl.granularity == "tile" and len(tl) == 3600 > compute.MAX_DEFAULT_STEPS
    np.testing.assert_array_equal(tl.tensor_at("result", len(tl) - 1), a @ a)
    assert compute.stream_op("matmul", {"A": a, "B": a}, tile=1).granularity == "stage"
    prog = compute.stream_op("matmul", {"A": a, "B": a}, tile=5, progressive=True)
    try:
        assert prog.granularity == "tile" and len(prog) == 3600
        np.testing.assert_array_equal(prog.result()["result"], a @ a)
    finally:
        prog.cancel()
