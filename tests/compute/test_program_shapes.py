"""Shapes before anything runs: messages at the failing sub-expression, operations' output rules,
and the memory budget of the whole program."""

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from opscope import compute
from opscope.compute.errors import BudgetError, ParamError, ShapeError
from opscope.compute.program.opshapes import RESULT_SHAPES


def test_matmul_mismatch_names_the_subexpression_both_shapes_the_rule_and_a_fix():
    with pytest.raises(ShapeError) as e:
        compute.check_program("s = Q @ K", {"Q": (4, 3), "K": (4, 3)})
    msg = str(e.value)
    assert ("Q @ K: Q (4, 3) @ K (4, 3): the last axis of Q (3) must equal the second-to-last axis of K (4)"
            in msg)
    assert msg.endswith("Did you mean K.T?")
    assert (e.value.lineno, e.value.col, e.value.end_col, e.value.snippet) == (1, 4, 9, "Q @ K")


def test_errors_point_at_the_innermost_failing_subexpression_and_keep_earlier_shapes():
    text = "a = X @ W\nb = softmax(a + bias, axis=-1) * 2"
    with pytest.raises(ShapeError) as e:
        compute.check_program(text, {"X": (2, 3), "W": (3, 4), "bias": (3,)})
    assert e.value.snippet == "a + bias" and e.value.lineno == 2
    assert "a (2, 4) and bias (3,) do not broadcast" in str(e.value)
    assert e.value.partial == {"a": (2, 4)}


def test_operation_errors_reuse_the_operations_own_rules():
    with pytest.raises(ShapeError, match=r"attention\(q, k, v\): attention: Q \(4, 3\) and K \(4, 5\)"):
        compute.check_program("y = attention(q, k, v)", {"q": (4, 3), "k": (4, 5), "v": (4, 5)})
    with pytest.raises(ShapeError, match="not divisible by num_heads 3"):
        compute.check_program("y = mha(X, A, A, A, A, num_heads=3)", {"X": (4, 8), "A": (8, 8)})
    with pytest.raises(ParamError, match="unknown keyword 'foo'"):
        compute.check_program("y = softmax(x, foo=1)", {"x": (3,)})
    with pytest.raises(ParamError, match="missing input"):
        compute.check_program("y = layernorm(x)", {"x": (3,)})


def test_unknown_names_list_the_inputs_and_functions():
    with pytest.raises(ParamError) as e:
        compute.check_program("y = Q @ Kt", {"Q": (2, 2), "K": (2, 2)})
    msg = str(e.value)
    assert "unknown name 'Kt'" in msg and "Inputs: Q, K" in msg and "softmax" in msg and "gelu" in msg


def test_check_returns_every_line_and_result():
    shapes = compute.check_program("s = Q @ K.T\nw = softmax(s / sqrt(d))\nw @ V",
                                   {"Q": (2, 4, 3), "K": (2, 4, 3), "V": (2, 4, 5)}, d=3)
    assert shapes == {"s": (2, 4, 4), "w": (2, 4, 4), "result": (2, 4, 5)}


def test_every_registered_operation_has_an_output_shape_rule():
    assert {s.name for s in compute.operations()} <= set(RESULT_SHAPES)


@pytest.mark.parametrize("spec", compute.operations(), ids=lambda s: s.name)
def test_output_shape_rules_agree_with_run_op_on_the_examples(spec):
    ex = spec.example()
    text = f"y = {spec.name}({', '.join(f'{k}={k}' for k in ex)})"
    got = compute.check_program(text, {k: np.shape(v) for k, v in ex.items()})["y"]
    assert got == compute.run_op(spec.name, ex)["result"].shape


REDUCTIONS = ["sum", "mean", "max", "norm"]


@settings(max_examples=30, deadline=None)
@given(op=st.sampled_from(REDUCTIONS), shape=st.lists(st.integers(1, 4), min_size=1, max_size=4), data=st.data())
def test_reduction_shape_rules_on_random_axes(op, shape, data):
    axis = data.draw(st.one_of(st.none(), st.integers(-len(shape), len(shape) - 1)))
    keep = data.draw(st.booleans())
    x = np.random.default_rng(0).standard_normal(shape)
    text = f"y = {op}(x, axis={axis}, keepdims={keep})"
    assert compute.check_program(text, {"x": x.shape})["y"] == compute.run_program(text, {"x": x})["y"].shape


@settings(max_examples=20, deadline=None)
@given(b=st.lists(st.integers(1, 3), max_size=2), lq=st.integers(1, 4), lk=st.integers(1, 4), d=st.integers(1, 4),
       dv=st.integers(1, 4))
def test_attention_shape_rule_with_broadcast_batches(b, lq, lk, d, dv):
    shapes = {"Q": tuple(b) + (lq, d), "K": (lk, d), "V": (1,) * len(b) + (lk, dv)}
    arrays = {k: np.ones(s) for k, s in shapes.items()}
    text = "y = attention(Q, K, V)"
    assert compute.check_program(text, shapes)["y"] == compute.run_program(text, arrays)["y"].shape


def test_the_budget_refuses_the_whole_program_before_allocating():
    x = np.ones((64, 64), np.float32)
    compute.set_memory_budget(200_000)
    try:
        # Each line alone fits (16 KiB); all of them together (and the 64 MiB mask) do not.
        with pytest.raises(BudgetError, match="program: this run needs about"):
            compute.run_program("a = x + 1\nm = causal_mask(4096)\nb = a * 2", {"x": x})
        with pytest.raises(BudgetError):
            compute.stream_program("a = x + 1\nm = causal_mask(4096)", {"x": x})
        assert compute.run_program("a = x + 1\nb = a * 2", {"x": x})["b"].shape == (64, 64)
    finally:
        compute.set_memory_budget(None)


# --- shapes of missing inputs ----------------------------------------------------------------------
from opscope.compute.program import infer_input_shapes, parse_program  # noqa: E402


@pytest.mark.parametrize("text, known, expected", [
    ("s = Q @ W", {"Q": (4, 3)}, {"W": (3, 3)}),
    ("s = W @ Q", {"Q": (4, 3)}, {"W": (4, 4)}),
    # The free size is the one the next line needs: s (4, n) @ K.T (4, 5) forces n = 4.
    ("s = Q @ W\nt = s @ K.T", {"Q": (4, 3), "K": (5, 4)}, {"W": (3, 4)}),
    ("s = Q @ K.T / sqrt(d_k)\nw = softmax(s, axis=-1) @ V", {"Q": (2, 4, 3)},
     {"K": (2, 4, 3), "d_k": (), "V": (2, 4, 4)}),
    ("h = layernorm(x, g, b)", {"x": (4, 8)}, {"g": (8,), "b": (8,)}),
    ("f = relu(h @ W1 + c1) @ W2 + c2\ny = f + h", {"h": (4, 6)},
     {"W1": (6, 6), "c1": (6,), "W2": (6, 6), "c2": (6,)}),
    ("a = mha(X, W_q, W_k, W_v, W_o, num_heads=2)", {"X": (4, 8)},
     {"W_q": (8, 8), "W_k": (8, 8), "W_v": (8, 8), "W_o": (8, 8)}),
    ("m = minimum(s, mask)", {"s": (2, 4, 4)}, {"mask": (2, 4, 4)}),
])
def test_missing_input_shapes_are_inferred_from_the_program(text, known, expected):
    program = parse_program(text)
    got = infer_input_shapes(program, known, list(expected))
    assert got == expected
    compute.check_program(text, {**known, **got})  # and the program checks with them


def test_a_name_nothing_decides_gets_the_default_and_errors_stay_for_check_program():
    got = infer_input_shapes(parse_program("y = exp(a) * 2"), {}, ["a"], default=(2, 2))
    assert got == {"a": (2, 2)}
    # A program that cannot check whatever the shapes: no exception, the defaults.
    bad = infer_input_shapes(parse_program("y = A @ B\nz = y @ C"), {"A": (2, 3), "B": (4, 5)}, ["C"],
                             default=(2, 2))
    assert bad == {"C": (2, 2)}
