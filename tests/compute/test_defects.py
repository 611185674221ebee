"""Regression tests of issue 7 ("no wrong number and no traceback on any input"): one per defect."""

from __future__ import annotations

import math
import sys
import tracemalloc
import types

import numpy as np
import pytest
from opscope import compute
from opscope.compute import BudgetError, OpScopeError, ParamError, ShapeError
from opscope.compute import budget as budget_mod

from . import reference as ref


@pytest.fixture
def budget():
    """Set a memory budget for one test; the default comes back afterwards."""
    yield compute.set_memory_budget
    compute.set_memory_budget(None)


# --- 1. cosine with a broadcast operand ------------------------------------------------------------
def _cosine_ref(a, b, axis=-1):
    a, b = np.broadcast_arrays(np.asarray(a, float), np.asarray(b, float))
    return (a * b).sum(axis) / np.maximum(np.linalg.norm(a, axis=axis) * np.linalg.norm(b, axis=axis), 1e-8)


@pytest.mark.parametrize(("a", "b", "axis"), [
    (np.array([1.0, 2, 3]), np.array([1.0]), -1),        # b broadcast along the reduced axis
    (np.array([[1.0, 2, 3], [0, 1, 0]]), np.array([[2.0], [1.0]]), -1),
    (np.ones(3), np.ones((2, 3)), 0),                      # axis 0 exists only in the broadcast shape
    (np.array([1.0, -2, 0.5]), np.array([[1.0, 1, 1], [2, 0, 1]]), 0),
])
def test_cosine_norms_are_of_the_broadcast_vectors(a, b, axis):
    out = compute.run_op("cosine", {"a": a, "b": b}, axis=axis)
    np.testing.assert_allclose(out["result"], _cosine_ref(a, b, axis), rtol=1e-12)
    if a.shape == (3,) and b.shape == (1,):
        np.testing.assert_allclose(out["result"], 6 / math.sqrt(14 * 3))  # 0.9258, not 1.6036
    tl = compute.stream_op("cosine", {"a": a, "b": b}, axis=axis)
    np.testing.assert_allclose(tl.tensor_at("result", len(tl) - 1), out["result"], rtol=0)


def test_cosine_axis_out_of_the_broadcast_shape_is_a_shape_error():
    with pytest.raises(ShapeError, match="axis 2 is out of range"):
        compute.run_op("cosine", {"a": np.ones(3), "b": np.ones((2, 3))}, axis=2)


def test_cosine_of_zero_vectors_in_float16_is_0_not_nan():
    out = compute.run_op("cosine", {"a": np.zeros(3, np.float16), "b": np.ones(3, np.float16)})["result"]
    assert out.dtype == np.float16 and out == 0
    small = np.array([1e-3, 0, 0], np.float16)  # |a||b| = 1e-6: a float16 subnormal, still divided right
    np.testing.assert_allclose(compute.run_op("cosine", {"a": small, "b": small})["result"], 1.0, rtol=2e-2)


def test_softmax_with_a_small_temperature_in_float16_is_not_nan():
    # found by the fuzz: x / 1e-5 overflowed float16 to inf, and inf − inf gave NaN rows
    x = np.array([[0.0, 0.0, 1.0], [0.0, 0.0, 0.0]], np.float16)
    out = compute.run_op("softmax", {"X": x}, temperature=1e-5)["result"]
    np.testing.assert_allclose(out, [[0, 0, 1], [1 / 3, 1 / 3, 1 / 3]], **ref.tol(np.float16))


# --- 2. the budget refuses before it casts ---------------------------------------------------------
def test_budget_refuses_a_uint8_input_before_casting_it(budget):
    x = np.ones((2000, 2000), np.uint8)  # 4 MB; its float64 cast would be 32 MB
    budget(16 << 20)
    tracemalloc.start()
    try:
        with pytest.raises(BudgetError, match="input X"):
            compute.run_op("sum", {"X": x})
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert peak < 2 << 20, f"peaked at {peak / 2**20:.1f} MiB before refusing"


def test_budget_refuses_a_zero_stride_view_without_materializing_it(budget):
    x = np.broadcast_to(np.int8(1), (10**5, 10**5))  # 10 GB of int8 in one byte; 80 GB as float64
    budget(1 << 30)
    tracemalloc.start()
    try:
        with pytest.raises(BudgetError, match="over the memory budget of 1.0 GiB"):
            compute.run_op("sum", {"X": x})
        with pytest.raises(BudgetError):
            compute.stream_op("sum", {"X": x})
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert peak < 1 << 20


def test_huge_broadcast_shapes_do_not_wrap_around_the_budget():
    # 2**32 × 2**32 elements: a product that overflows int64 once multiplied by an itemsize
    a = np.broadcast_to(np.float64(1), (2**32, 1))
    b = np.broadcast_to(np.float64(1), (1, 2**32))
    with pytest.raises(BudgetError):
        compute.run_op("add", {"A": a, "B": b})


def test_a_bad_budget_is_a_param_error():
    for bad in ("1G", 0, -5, True, math.nan):
        with pytest.raises(ParamError, match="memory budget"):
            compute.set_memory_budget(bad)


# --- 3. available memory from psutil ---------------------------------------------------------------
def test_host_memory_comes_from_psutil(monkeypatch):
    fake = types.SimpleNamespace(virtual_memory=lambda: types.SimpleNamespace(available=123 << 20))
    monkeypatch.setitem(sys.modules, "psutil", fake)
    assert budget_mod.host_available_bytes() == 123 << 20
    monkeypatch.delenv("OPSCOPE_MEMORY_BUDGET", raising=False)
    assert compute.memory_budget() == (123 << 20) // 2


def test_host_memory_falls_back_without_psutil(monkeypatch):
    monkeypatch.setitem(sys.modules, "psutil", None)  # import psutil then raises ImportError
    n = budget_mod.host_available_bytes()
    assert isinstance(n, int) and n > 0


# --- 4. non-OpScope exceptions ---------------------------------------------------------------------
X23 = {"X": np.arange(6.0).reshape(2, 3)}


@pytest.mark.parametrize(("call", "error", "pattern"), [
    (lambda: compute.stream_op("matmul", {"A": np.ones((2, 2)), "B": np.ones((2, 2))}, "tile", tile="big"),
     ParamError, r"matmul: tile must be an int ≥ 1 or \(rows, cols\).*not 'big'"),
    (lambda: compute.stream_op("matmul", {"A": np.ones((2, 2)), "B": np.ones((2, 2))}, "tile", tile=float("nan")),
     ParamError, r"tile must be"),
    (lambda: compute.stream_op("matmul", {"A": np.ones((2, 2)), "B": np.ones((2, 2))}, "tile", tile=(1, 2, 3)),
     ParamError, r"tile must be"),
    (lambda: compute.stream_op("sum", X23, "kblock", kblock="x"), ParamError, r"sum: kblock must be an int ≥ 1.*'x'"),
    (lambda: compute.stream_op("sum", X23, "kblock", kblock=0), ParamError, r"kblock must be an int ≥ 1"),
    (lambda: compute.stream_op("sum", X23, run_id="x"), ParamError, r"run_id must be an int"),
    (lambda: compute.stream_op("sum", X23, ["tile"]), ParamError, r"unknown granularity"),
    (lambda: compute.run_op("sum", X23, axis=1.5), ParamError, r"sum: axis must be an int, a tuple of ints or None"),
    (lambda: compute.stream_op("sum", X23, axis=1.5), ParamError, r"axis must be"),
    (lambda: compute.run_op(["matmul"], {}), ParamError, r"operation name must be a string.*valid: dot"),
    (lambda: compute.stream_op(None, {}), ParamError, r"operation name must be a string"),
    (lambda: compute.run_op("batchnorm", {"X": np.ones((3, 2))}, momentum="abc"), ParamError,
     r"batchnorm: momentum must be a number in \[0, 1\], not 'abc'"),
    (lambda: compute.run_op("batchnorm", {"X": np.ones((3, 2))}, momentum=None), ParamError,
     r"momentum must be a number"),
    (lambda: compute.run_op("batchnorm", {"X": np.ones((3, 2))}, momentum=1.5), ParamError, r"momentum"),
    (lambda: compute.run_op("softmax", X23, temperature=math.nan), ParamError, r"temperature must be a finite"),
    (lambda: compute.run_op("attention", {"Q": np.ones((2, 2)), "K": np.ones((2, 2)), "V": np.ones((2, 2))},
                            scale="big"), ParamError, r"attention: scale must be a number"),
])
def test_bad_values_are_opscope_errors_naming_op_parameter_and_valid_values(call, error, pattern):
    with pytest.raises(error, match=pattern):
        call()


@pytest.mark.parametrize("shape", [(0, 5), (2, 0, 3), (0,), (3, 0)])
@pytest.mark.parametrize("granularity", ["element", "tile", "kblock", "stage"])
@pytest.mark.parametrize("axis", [-1, None, 0])
def test_empty_reductions_stream_at_every_granularity(shape, granularity, axis):
    x = np.zeros(shape)
    for op, expected in (("sum", x.sum(axis=axis)), ("norm", np.zeros(np.sum(x, axis=axis).shape))):
        out = compute.run_op(op, {"X": x}, axis=axis)["result"]
        np.testing.assert_array_equal(out, expected)
        tl = compute.stream_op(op, {"X": x}, granularity, axis=axis)
        assert len(tl) >= 1
        assert tl[0].caption and tl[len(tl) - 1].caption
        np.testing.assert_array_equal(tl.tensor_at("result", len(tl) - 1), expected)


def test_kblock_steps_of_an_empty_reduction_build():
    step = compute.stream_op("sum", {"X": np.zeros((0, 5))}, "kblock", axis=-1)[0]
    assert "empty" in step.caption
    tl = compute.stream_op("sum", {"X": np.zeros((2, 0, 3))}, "kblock")
    assert len(tl) == 1 and "no terms" in tl[0].caption
    assert float(tl.tensor_at("result", 0)) == 0.0


def test_an_empty_output_gives_one_step_saying_so():
    tl = compute.stream_op("sum", {"X": np.zeros((0, 5))}, "element", axis=-1)
    assert len(tl) == 1
    assert "empty" in tl[0].caption and "(0,)" in tl[0].caption
    assert tl.tensor_at("result", 0).shape == (0,)


@pytest.mark.parametrize("norm_ord", [1, 2, "inf", "fro"])
def test_norm_of_empty_vectors_is_0(norm_ord):
    out = compute.run_op("norm", {"X": np.zeros((0, 3))}, ord=norm_ord, axis=0)["result"]
    np.testing.assert_array_equal(out, np.zeros(3))
    for g in ("element", "tile", "kblock", "stage"):
        tl = compute.stream_op("norm", {"X": np.zeros((0, 3))}, g, ord=norm_ord, axis=0)
        np.testing.assert_array_equal(tl.tensor_at("result", len(tl) - 1), np.zeros(3))


def test_max_of_an_empty_output_is_empty_but_of_nothing_is_refused():
    np.testing.assert_array_equal(compute.run_op("max", {"X": np.zeros((3, 0))}, axis=0)["result"], np.zeros(0))
    with pytest.raises(ShapeError, match="no elements along axis 0"):
        compute.run_op("max", {"X": np.zeros((0, 3))}, axis=0)


@pytest.mark.parametrize("shape", [(0, 3), (3, 0), (2, 0, 2), (0,)])
def test_cumsum_of_empty_inputs_streams(shape):
    x = np.zeros(shape)
    for axis in (-1, 0, None):
        expected = np.cumsum(x, axis=axis)
        for g in ("element", "tile", "kblock", "stage"):
            tl = compute.stream_op("cumsum", {"X": x}, g, axis=axis)
            assert len(tl) >= 1 and tl[0].caption
            np.testing.assert_array_equal(tl.tensor_at("result", len(tl) - 1), expected)


def test_attention_with_no_keys_gives_zero_outputs_and_says_so():
    q, k, v = np.ones((3, 2)), np.ones((0, 2)), np.ones((0, 4))
    for mask in (None, "causal"):
        out = compute.run_op("attention", {"Q": q, "K": k, "V": v}, mask=mask)
        np.testing.assert_array_equal(out["result"], np.zeros((3, 4)))
        assert out["weights"].shape == (3, 0)
        np.testing.assert_array_equal(out["result"], ref.attention(q, k, v)[0])
        for g in ("tile", "stage"):
            tl = compute.stream_op("attention", {"Q": q, "K": k, "V": v}, g, mask=mask)
            assert tl[0].caption and tl[len(tl) - 1].caption
            np.testing.assert_array_equal(tl.tensor_at("result", len(tl) - 1), np.zeros((3, 4)))
    assert any("no keys" in n for n in compute.run_op("attention", {"Q": q, "K": k, "V": v}).notices)


@pytest.mark.parametrize(("sq", "sk", "sv"), [((0, 2), (3, 2), (3, 2)), ((0, 3, 2), (3, 2), (3, 2)),
                                              ((2, 0), (3, 0), (3, 1)), ((2, 2), (0, 2), (0, 0))])
def test_attention_timelines_of_empty_inputs(sq, sk, sv):
    inputs = {"Q": np.ones(sq), "K": np.ones(sk), "V": np.ones(sv)}
    res = compute.run_op("attention", inputs)
    for g in ("tile", "stage"):
        tl = compute.stream_op("attention", inputs, g)
        assert len(tl) >= 1 and tl[0].caption and tl[len(tl) - 1].caption
        np.testing.assert_array_equal(tl.tensor_at("result", len(tl) - 1), res["result"])


def test_mha_with_no_keys():
    w = {n: np.eye(4) for n in ("W_q", "W_k", "W_v", "W_o")}
    out = compute.run_op("mha", {"query": np.ones((2, 4)), "key": np.ones((0, 4)), **w}, num_heads=2)
    np.testing.assert_array_equal(out["result"], np.zeros((2, 4)))


def test_batchnorm_with_no_channels():
    out = compute.run_op("batchnorm", {"X": np.zeros((2, 0)), "running_mean": np.zeros(0),
                                       "running_var": np.ones(0)})
    assert out["result"].shape == (2, 0) and out["new_running_var"].shape == (0,)
    tl = compute.stream_op("batchnorm", {"X": np.zeros((2, 0, 3))})
    assert tl[len(tl) - 1].caption


# --- 5. silent coercions -----------------------------------------------------------------------------
MHA = {"X": np.arange(16.0).reshape(4, 4) / 10, **{w: np.eye(4) for w in ("W_q", "W_k", "W_v", "W_o")}}


@pytest.mark.parametrize(("op", "inputs", "params", "pattern"), [
    ("sum", X23, {"keepdims": "no"}, r"sum: keepdims must be True or False, not 'no'"),
    ("sum", X23, {"keepdims": 1}, r"keepdims must be True or False"),
    ("sum", X23, {"axis": True}, r"sum: axis must be an int, a tuple of ints or None, not True"),
    ("sum", X23, {"axis": (0, False)}, r"axis must be"),
    ("cumsum", X23, {"axis": True}, r"axis must be"),
    ("softmax", X23, {"axis": np.bool_(True)}, r"softmax: axis must be an int"),
    ("cosine", {"a": np.ones(2), "b": np.ones(2)}, {"axis": 0.0}, r"cosine: axis must be an int"),
    ("mha", MHA, {"num_heads": 2.5}, r"mha: num_heads must be an int ≥ 1, not 2.5"),
    ("mha", MHA, {"num_heads": True}, r"num_heads must be an int ≥ 1, not True"),
    ("mha", MHA, {"num_heads": 0}, r"num_heads must be an int ≥ 1, not 0"),
    ("mha", MHA, {"num_heads": "2"}, r"num_heads must be an int"),
    ("batchnorm", {"X": np.ones((3, 2))}, {"training": "maybe"}, r"batchnorm: training must be True or False"),
    ("batchnorm", {"X": np.ones((3, 2))}, {"training": "false"}, r"training must be True or False"),
    ("norm", X23, {"ord": True}, r"norm: ord must be one of 1, 2, 'inf', 'fro'"),
    ("layernorm", {"X": np.ones((2, 3)), "gamma": np.ones(3)}, {"eps": "1e-5"}, r"layernorm: eps must be a number"),
    ("attention", {"Q": np.ones((2, 2)), "K": np.ones((2, 2)), "V": np.ones((2, 2))}, {"mask": True},
     r"attention: mask must be None, 'causal' or key lengths"),
    ("attention", {"Q": np.ones((2, 2)), "K": np.ones((2, 2)), "V": np.ones((2, 2))}, {"mask": ["a"]},
     r"attention: mask must be None, 'causal', or key lengths"),
    ("attention", {"Q": np.ones((2, 2)), "K": np.ones((2, 2)), "V": np.ones((2, 2))}, {"mask": "padding:"},
     r"attention: a padding mask needs at least one key length"),
])
def test_values_of_the_wrong_type_are_refused_not_coerced(op, inputs, params, pattern):
    with pytest.raises(ParamError, match=pattern):
        compute.run_op(op, inputs, **params)


def test_numpy_scalars_are_accepted_where_ints_and_bools_are_documented():
    x = np.arange(6.0).reshape(2, 3)
    out = compute.run_op("sum", {"X": x}, axis=np.int64(1), keepdims=np.bool_(True))
    np.testing.assert_array_equal(out["result"], x.sum(axis=1, keepdims=True))
    assert out.params["keepdims"] is True
    a = compute.run_op("mha", MHA, num_heads=np.int64(2))
    b = compute.run_op("mha", MHA, num_heads=2)
    np.testing.assert_array_equal(a["result"], b["result"])
    assert type(a.params["num_heads"]) is int
    np.testing.assert_array_equal(compute.run_op("sum", {"X": x}, axis=[np.int32(0), 1])["result"], x.sum())
    tl = compute.stream_op("matmul", {"A": x, "B": x.T}, "tile", tile=np.int64(1), kblock=None, run_id=np.int64(7))
    assert len(tl) == 4 and tl.run_id == 7


def test_two_0d_operands_broadcast_to_0d():
    out = compute.run_op("add", {"A": np.float64(1.5), "B": np.float64(2)})
    assert out["A_broadcast"].shape == out["B_broadcast"].shape == out["result"].shape == ()
    assert float(out["result"]) == 3.5
    for g in ("element", "tile", "stage"):
        tl = compute.stream_op("add", {"A": np.float64(1.5), "B": np.float64(2)}, g)
        assert tl.tensor_at("A_broadcast", len(tl) - 1).shape == ()


# --- 6. padding masks of mha belong to sequences, not heads --------------------------------------------
def _mha_inputs(batch, s=4, d=4, seed=3):
    rng = np.random.default_rng(seed)
    return {"X": rng.standard_normal(batch + (s, d)),
            **{w: rng.standard_normal((d, d)) / 2 for w in ("W_q", "W_k", "W_v", "W_o")}}


def test_unbatched_mha_refuses_a_padding_mask_of_several_lengths():
    inputs = _mha_inputs(())
    for mask in ("padding:3,2", [3, 2]):
        with pytest.raises(ParamError, match=r"mha: padding mask gives 2 key lengths.*unbatched.*one length"):
            compute.run_op("mha", inputs, num_heads=2, mask=mask)


def test_unbatched_mha_applies_one_padding_length_to_every_head():
    inputs = _mha_inputs(())
    out = compute.run_op("mha", inputs, num_heads=2, mask="padding:3")
    keep = np.arange(4) < 3
    exp = ref.mha(inputs["X"], inputs["X"], inputs["X"], inputs["W_q"], inputs["W_k"], inputs["W_v"],
                  inputs["W_o"], 2, keep)
    np.testing.assert_allclose(out["result"], exp, rtol=1e-12, atol=1e-12)
    assert np.all(out["weights"][:, :, 3] == 0)  # key 3 is padding for both heads


def test_batched_mha_applies_each_entrys_padding_length_to_all_its_heads():
    inputs = _mha_inputs((2,))
    out = compute.run_op("mha", inputs, num_heads=2, mask=[3, 2])
    keep = np.arange(4)[None, None, :] < np.array([3, 2])[:, None, None]  # (batch, queries, keys)
    exp = ref.mha(inputs["X"], inputs["X"], inputs["X"], inputs["W_q"], inputs["W_k"], inputs["W_v"],
                  inputs["W_o"], 2, keep)
    np.testing.assert_allclose(out["result"], exp, rtol=1e-12, atol=1e-12)
    assert np.all(out["weights"][0, :, :, 3:] == 0) and np.all(out["weights"][1, :, :, 2:] == 0)
    assert np.all(out["weights"][1, :, :, :2] > 0)
    with pytest.raises(ShapeError, match="3 key lengths"):
        compute.run_op("mha", inputs, num_heads=2, mask=[3, 2, 1])


def test_every_error_above_is_an_opscope_error():
    # ShapeError, ParamError and InputError are ValueErrors too, so old `except ValueError` code still works.
    assert issubclass(ParamError, OpScopeError) and issubclass(ParamError, ValueError)
