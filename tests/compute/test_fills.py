"""Generated tensors for the editor's Fill menu, checked against numpy (no Qt)."""

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis.extra.numpy import array_shapes
from opscope.compute.budget import set_memory_budget
from opscope.compute.errors import BudgetError, InputError
from opscope.compute.fills import FILL_KINDS, astype_checked, canonical_kind, fill, resize


def test_zeros_ones_constant_arange():
    np.testing.assert_array_equal(fill("zeros", (2, 3)), np.zeros((2, 3)))
    np.testing.assert_array_equal(fill("ones", (4,), dtype=np.int32), np.ones(4, np.int32))
    assert fill("ones", (4,), dtype=np.int32).dtype == np.int32
    np.testing.assert_array_equal(fill("constant", (2, 2), value=-1.5), np.full((2, 2), -1.5))
    np.testing.assert_array_equal(fill("arange", (2, 3)), np.arange(6.0).reshape(2, 3))
    np.testing.assert_array_equal(fill("arange", (3,), low=5), [5.0, 6.0, 7.0])
    assert fill("zeros", ()).shape == ()


@settings(max_examples=40, deadline=None)
@given(array_shapes(min_dims=2, max_dims=4, min_side=1, max_side=5))
def test_identity_and_causal_batched(shape):
    eye = fill("identity", shape)
    np.testing.assert_array_equal(eye, np.broadcast_to(np.eye(shape[-2], shape[-1]), shape))
    assert eye.flags.c_contiguous and eye.flags.writeable
    mask = fill("causal", shape)
    assert mask.dtype == np.bool_
    np.testing.assert_array_equal(mask, np.broadcast_to(np.tril(np.ones(shape[-2:], bool)), shape))


def test_random_is_seeded_and_matches_numpy_generator():
    a = fill("random normal", (3, 4), seed=7)
    np.testing.assert_array_equal(a, np.random.default_rng(7).standard_normal((3, 4)))
    np.testing.assert_array_equal(a, fill("normal", (3, 4), seed=7))
    assert not np.array_equal(a, fill("normal", (3, 4), seed=8))
    u = fill("uniform", (100,), seed=1, low=-2, high=3)
    np.testing.assert_array_equal(u, np.random.default_rng(1).uniform(-2, 3, (100,)))
    assert u.min() >= -2 and u.max() < 3
    assert fill("normal", (5,), seed=0, dtype=np.float32).dtype == np.float32


def test_padding_mask():
    m = fill("padding mask", (3, 5), lengths=[5, 2, 0])
    np.testing.assert_array_equal(m, np.arange(5)[None, :] < np.array([5, 2, 0])[:, None])
    assert m.dtype == np.bool_
    np.testing.assert_array_equal(fill("padding", (2, 3), lengths=2), [[1, 1, 0], [1, 1, 0]])
    # Default: a staircase L, L-1, ... (at least 1).
    np.testing.assert_array_equal(fill("padding", (3, 3)).sum(axis=1), [3, 2, 1])


@pytest.mark.parametrize(
    "kind, shape, kwargs, match",
    [
        ("zeros", (2, -1), {}, "negative"),
        ("zeros", (2.5,), {}, "not an integer"),
        ("zeros", "ab", {}, "not an integer"),
        ("zeros", (1,) * 33, {}, "dimensions"),
        ("identity", (3,), {}, "at least 2 axes"),
        ("causal", (), {}, "at least 2 axes"),
        ("padding", (2, 3, 4), {}, "(batch, length)"),
        ("padding", (2, 3), {"lengths": [1, 2, 3]}, "3 lengths"),
        ("padding", (2, 3), {"lengths": [1, 4]}, "outside"),
        ("constant", (2,), {}, "needs a value"),
        ("constant", (2,), {"value": 1.5, "dtype": np.int32}, "exactly"),
        ("uniform", (2,), {"low": 2, "high": 1}, "low <= high"),
        ("sparkles", (2,), {}, "unknown fill"),
        ("zeros", (2,), {"dtype": np.complex128}, "not supported"),
    ],
)
def test_refusals(kind, shape, kwargs, match):
    with pytest.raises(InputError, match=match.replace("(", r"\(").replace(")", r"\)")):
        fill(kind, shape, **kwargs)


def test_budget_checked_before_allocating():
    set_memory_budget(1 << 20)
    try:
        with pytest.raises(BudgetError):
            fill("zeros", (100_000, 100_000))  # 80 GB: must be refused, not allocated
        with pytest.raises(BudgetError):
            resize(np.zeros((2, 2)), (10_000, 10_000))
        fill("zeros", (100, 100))
    finally:
        set_memory_budget(None)


def test_kind_names():
    assert canonical_kind("Random uniform") == "uniform"
    assert canonical_kind("causal-mask") == "causal"
    for k in FILL_KINDS:
        assert canonical_kind(k) == k


def test_resize_pads_and_crops():
    a = np.arange(6.0).reshape(2, 3)
    np.testing.assert_array_equal(resize(a, (3, 2)), [[0, 1], [3, 4], [0, 0]])
    assert resize(a.astype(bool), (1, 4)).dtype == np.bool_
    with pytest.raises(InputError, match="number of axes"):
        resize(a, (6,))


def test_astype_checked_reports_changes():
    out, msg = astype_checked(np.array([1.0, 2.0]), np.int32)
    assert out.dtype == np.int32 and msg == ""
    out, msg = astype_checked(np.array([1.5, np.nan, 3e10, -2.0]), np.int32)
    np.testing.assert_array_equal(out, [1, 0, np.iinfo(np.int32).max, -2])
    assert "rounded toward zero" in msg and "NaN/inf became 0" in msg and "clipped" in msg
    out, msg = astype_checked(np.array([0.0, 1.0, 0.5]), bool)
    assert out.tolist() == [False, True, True] and "became True" in msg
    out, msg = astype_checked(np.array([1e5, 0.1]), np.float16)
    assert "±inf" in msg and "precision" in msg
    out, msg = astype_checked(np.array([True, False]), np.float64)
    assert msg == "" and out.tolist() == [1.0, 0.0]
