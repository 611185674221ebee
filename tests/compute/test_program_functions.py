"""Every operator and built-in function of the program grammar against a plain numpy reference."""

import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp
from opscope import compute
from opscope.compute.program.erf import erf, erfc

FINITE = st.floats(-10, 10, allow_nan=False, width=64)
SETTINGS = settings(max_examples=25, deadline=None)


def _pair(shapes, dtype=np.float64):
    return st.tuples(*[hnp.arrays(dtype, s, elements=FINITE) for s in shapes])


@pytest.mark.parametrize("op, ref", [("+", np.add), ("-", np.subtract), ("*", np.multiply), ("/", np.divide)])
@SETTINGS
@given(data=st.data(), bs=hnp.mutually_broadcastable_shapes(num_shapes=2, max_dims=4, max_side=4))
def test_broadcasting_operators_match_numpy(op, ref, data, bs):
    a, b = data.draw(_pair(bs.input_shapes))
    out = compute.run_program(f"y = A {op} B", {"A": a, "B": b})
    with np.errstate(all="ignore"):
        expected = ref(a, b)
    checked = compute.check_program(f"y = A {op} B", {"A": a.shape, "B": b.shape})["y"]
    assert out["y"].shape == bs.result_shape == checked
    np.testing.assert_array_equal(out["result"], expected)


@SETTINGS
@given(data=st.data(), bs=hnp.mutually_broadcastable_shapes(signature=np.matmul.signature, max_dims=3,
                                                         max_side=5))
def test_matmul_operator_matches_numpy(data, bs):
    a, b = data.draw(_pair(bs.input_shapes))
    out = compute.run_program("y = A @ B", {"A": a, "B": b})["y"]
    np.testing.assert_allclose(out, a @ b, rtol=1e-12, atol=1e-12)
    tl = compute.stream_program("y = A @ B", {"A": a, "B": b})
    np.testing.assert_array_equal(tl.result()["y"], out)


@SETTINGS
@given(x=hnp.arrays(np.float64, hnp.array_shapes(min_dims=2, max_dims=4, max_side=4), elements=FINITE))
def test_unary_minus_power_and_transpose(x):
    out = compute.run_program("a = -x\nb = x ** 2\nc = x.T\nd = 2 ** 3 * x", {"x": x})
    np.testing.assert_array_equal(out["a"], -x)
    np.testing.assert_array_equal(out["b"], x ** 2)
    np.testing.assert_array_equal(out["c"], np.swapaxes(x, -1, -2))
    np.testing.assert_array_equal(out["d"], 8.0 * x)
    assert out["c"].base is None  # a line owns its value: never a view of an input


def _vec(f):
    return np.vectorize(f, otypes=[float])


UNARY = {
    "exp": np.exp, "log": np.log, "sqrt": np.sqrt, "abs": np.abs, "tanh": np.tanh,
    "relu": lambda x: np.maximum(x, 0),
    "sigmoid": _vec(lambda v: 1 / (1 + math.exp(-v)) if v > -700 else 0.0),
    "gelu": _vec(lambda v: 0.5 * v * math.erfc(-v / math.sqrt(2))),
    "erf": _vec(math.erf),
}


@pytest.mark.parametrize("name", sorted(UNARY))
@SETTINGS
@given(x=hnp.arrays(np.float64, hnp.array_shapes(min_dims=0, max_dims=3, max_side=5), elements=FINITE))
def test_unary_functions_match_reference(name, x):
    out = compute.run_program(f"y = {name}(x)", {"x": x})["y"]
    with np.errstate(all="ignore"):
        expected = UNARY[name](x)
    assert out.shape == x.shape and out.dtype == np.float64
    # gelu: x/√2 is rounded before erfc, whose relative error then grows by 2y² in the tail.
    rtol = 1e-14 if name == "gelu" else 2e-15
    np.testing.assert_allclose(out, expected, rtol=rtol, atol=1e-300, equal_nan=True)


def test_erf_and_gelu_are_accurate_to_float64_rounding():
    x = np.linspace(-12, 12, 24001)
    np.testing.assert_allclose(erf(x), [math.erf(v) for v in x], rtol=1e-15, atol=3e-16)
    ref = np.array([math.erfc(v) for v in x])
    np.testing.assert_allclose(erfc(x), ref, rtol=2e-15, atol=0)
    assert erf(np.array([np.inf, -np.inf])).tolist() == [1.0, -1.0] and np.isnan(erf(np.array([np.nan])))[0]
    x32 = x.astype(np.float32)
    g = compute.run_program("y = gelu(x)", {"x": x32})["y"]
    assert g.dtype == np.float32
    np.testing.assert_allclose(g, [0.5 * float(v) * math.erfc(-float(v) / math.sqrt(2)) for v in x32],
                               rtol=2e-6, atol=1e-30)


def test_gelu_is_not_the_tanh_approximation():
    out = compute.run_program("y = gelu(x)", {"x": np.array([1.0])})["y"][0]
    assert out == pytest.approx(0.8413447460685429, abs=1e-15)  # 1·Φ(1); the tanh form gives 0.8411920


@SETTINGS
@given(x=hnp.arrays(np.float64, hnp.array_shapes(min_dims=1, max_dims=4, max_side=4), elements=FINITE), data=st.data())
def test_transpose_and_reshape(x, data):
    perm = tuple(data.draw(st.permutations(range(x.ndim))))
    out = compute.run_program(f"t = transpose(x, {perm})\nr = reshape(x, (-1,))\nu = transpose(x)", {"x": x})
    np.testing.assert_array_equal(out["t"], np.transpose(x, perm))
    np.testing.assert_array_equal(out["r"], x.reshape(-1))
    np.testing.assert_array_equal(out["u"], x.T)


@SETTINGS
@given(lead=hnp.array_shapes(min_dims=0, max_dims=2, max_side=3), s=st.integers(1, 4), h=st.integers(1, 3),
       d=st.integers(1, 3))
def test_split_and_merge_heads_are_inverse(lead, s, h, d):
    x = np.arange(math.prod(lead) * s * h * d, dtype=float).reshape(lead + (s, h * d))
    out = compute.run_program(f"a = split_heads(x, {h})\nb = merge_heads(a)", {"x": x})
    expected = np.moveaxis(x.reshape(lead + (s, h, d)), -2, -3)
    np.testing.assert_array_equal(out["a"], expected)
    np.testing.assert_array_equal(out["b"], x)
    assert compute.check_program(f"a = split_heads(x, h={h})", {"x": x.shape})["a"] == lead + (h, s, d)


def test_causal_mask_and_where():
    m = compute.run_program("m = causal_mask(3)", {"x": np.zeros(1, np.float32)})["m"]
    assert m.dtype == np.float32
    np.testing.assert_array_equal(m, [[0, -np.inf, -np.inf], [0, 0, -np.inf], [0, 0, 0]])
    c = np.array([[True, False], [False, True]])
    out = compute.run_program("y = where(c, a, b)", {"c": c, "a": np.ones((2, 2)), "b": np.array([5.0, 6.0])})["y"]
    np.testing.assert_array_equal(out, np.where(c, 1.0, [5.0, 6.0]))


def test_numbers_are_weak_and_scalars_take_the_program_dtype():
    x = np.ones((2, 2), np.float32)
    out = compute.run_program("a = 0.5 * x + 1\nb = x / sqrt(d_k)\nc = 2 ** 0.5", {"x": x}, d_k=np.float64(4.0))
    assert out["a"].dtype == out["b"].dtype == out["c"].dtype == np.float32
    np.testing.assert_array_equal(out["b"], x / 2)
    huge = compute.run_program("y = 9 ** 9 ** 9 * x", {"x": x})["y"]  # no hang: numbers are float64
    assert np.isinf(huge).all()
    ints = compute.run_program("y = a + b", {"a": np.array([1, 2]), "b": np.array([3, 4])})["y"]
    assert ints.dtype == np.float64 and ints.tolist() == [4.0, 6.0]


def test_operation_calls_bind_inputs_in_declared_order_and_keywords():
    rng = np.random.default_rng(3)
    x, g, b = rng.standard_normal((3, 4)), rng.standard_normal(4), rng.standard_normal(4)
    out = compute.run_program("y = layernorm(x, g, b, eps=1e-3)\nz = softmax(x, axis=0)\ns = sum(x, axis=(0, 1))",
                              {"x": x, "g": g, "b": b})
    np.testing.assert_array_equal(out["y"], compute.run_op("layernorm", {"X": x, "gamma": g, "beta": b},
                                                           eps=1e-3)["result"])
    np.testing.assert_array_equal(out["z"], compute.run_op("softmax", {"X": x}, axis=0)["result"])
    assert out["s"] == pytest.approx(x.sum())
    by_name = compute.run_program("y = layernorm(X=x, gamma=g)", {"x": x, "g": g})["y"]
    np.testing.assert_array_equal(by_name, compute.run_op("layernorm", {"X": x, "gamma": g})["result"])


@pytest.mark.parametrize("name, ref", [("minimum", np.minimum), ("maximum", np.maximum), ("multiply", np.multiply)])
@SETTINGS
@given(data=st.data(), bs=hnp.mutually_broadcastable_shapes(num_shapes=2, max_dims=4, max_side=4))
def test_binary_functions_broadcast_like_numpy(name, ref, data, bs):
    a, b = data.draw(_pair(bs.input_shapes))
    text = f"y = {name}(A, B)"
    out = compute.run_program(text, {"A": a, "B": b})
    assert compute.check_program(text, {"A": a.shape, "B": b.shape})["y"] == bs.result_shape
    np.testing.assert_array_equal(out["y"], ref(a, b))
    tl = compute.stream_program(text, {"A": a, "B": b})
    np.testing.assert_array_equal(tl.result()["y"], ref(a, b))


def test_minimum_mask_of_the_articles_and_its_errors():
    """seeds/003 masks with ``tf.math.minimum(scores, mask)``: a −inf entry wins, NaN stays NaN,
    and shapes that do not broadcast are refused at the call with both shapes."""
    scores = np.array([[1.0, 2.0], [np.nan, 4.0]])
    mask = np.array([[0.0, -np.inf], [0.0, 0.0]])
    out = compute.run_program("m = minimum(scores, mask)", {"scores": scores, "mask": mask})["m"]
    np.testing.assert_array_equal(out, [[0.0, -np.inf], [np.nan, 0.0]])
    with pytest.raises(compute.ShapeError, match=r"minimum\(s, m\).*\(2, 3\).*\(4, 4\)"):
        compute.check_program("y = minimum(s, m)", {"s": (2, 3), "m": (4, 4)})
    with pytest.raises(compute.ParamError):
        compute.check_program("y = minimum(s)", {"s": (2, 3)})


@given(x=hnp.arrays(np.float64, hnp.array_shapes(min_dims=0, max_dims=3, max_side=3), elements=FINITE), data=st.data())
@SETTINGS
def test_expand_dims_matches_numpy(x, data):
    axis = data.draw(st.integers(-x.ndim - 1, x.ndim))
    out = compute.run_program(f"y = expand_dims(x, {axis})", {"x": x})["y"]
    np.testing.assert_array_equal(out, np.expand_dims(x, axis))
    with pytest.raises(compute.ShapeError, match="out of range"):
        compute.check_program(f"y = expand_dims(x, {x.ndim + 2})", {"x": x.shape})


@pytest.mark.parametrize("text, want", [("reshape(0, 1)", [0.0]), ("y = expand_dims(3, 0) * 2", [6.0]),
                                        ("y = reshape(2.5, (1, 1)) + 1", [[3.5]]), ("y = transpose(2) + 1", 3.0)])
def test_a_built_in_that_makes_a_tensor_of_numbers_gives_one_of_the_programs_dtype(text, want):
    """Found by the parser fuzz: ``reshape(0, 1)`` raised numpy's TypeError (a number's function
    was turned into a float whatever its shape). Streamed, progressive or not, it is the same."""
    r = compute.run_program(text, {})
    np.testing.assert_array_equal(r["result"], np.asarray(want))
    assert r["result"].dtype == r.dtype
    for progressive in (False, True):
        got = compute.stream_program(text, {}, progressive=progressive).result()["result"]
        assert got.dtype == r.dtype and got.shape == np.shape(want)
        np.testing.assert_array_equal(got, want)
