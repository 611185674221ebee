"""Bad input: clear messages naming shapes, axes and rules; the budget checked before allocating."""

from __future__ import annotations

import numpy as np
import pytest
from opscope import compute
from opscope.compute import BudgetError, InputError, ParamError, ShapeError


def test_matmul_mismatch_names_both_shapes_the_axis_the_rule_and_a_hint():
    with pytest.raises(ShapeError) as e:
        compute.run_op("matmul", {"A": np.ones((4, 3)), "B": np.ones((4, 3))})
    msg = str(e.value)
    assert msg.startswith("matmul: A (4, 3) @ B (4, 3): A's last axis (3) must equal B's second-to-last (4)")
    assert "Did you mean B.T?" in msg
    assert isinstance(e.value, ValueError)


def test_broadcast_error_right_aligns_shapes_and_names_the_failing_axis():
    with pytest.raises(ShapeError) as e:
        compute.run_op("hadamard", {"A": np.ones((2, 3)), "B": np.ones((4,))})
    msg = str(e.value)
    assert "A (2, 3) and B (4,)" in msg and "axis -1 has 3 vs 4" in msg
    assert "aligned from the right" in msg
    assert "  A: (2, 3)\n  B: (   4)" in msg


def test_batch_broadcast_error_in_matmul():
    with pytest.raises(ShapeError, match="batch axes that do not broadcast"):
        compute.run_op("matmul", {"A": np.ones((2, 4, 3)), "B": np.ones((5, 3, 2))})


@pytest.mark.parametrize(("op", "inputs", "params", "pattern"), [
    ("dot", {"a": np.ones(3), "b": np.ones(4)}, {}, r"last axes must have the same length \(3 vs 4\)"),
    ("matvec", {"A": np.ones((2, 3)), "x": np.ones(2)}, {}, r"Did you mean A.T\?"),
    ("linear", {"X": np.ones((2, 3)), "W": np.ones((3, 4))}, {}, r"in_features = 4"),
    ("layernorm", {"X": np.ones((2, 3)), "gamma": np.ones(2)}, {}, r"gamma \(2,\) must equal the last 1 axes"),
    ("batchnorm", {"X": np.ones((2, 3)), "gamma": np.ones(2)}, {}, r"must be \(3,\), one value per channel"),
    ("attention", {"Q": np.ones((3, 4)), "K": np.ones((3, 5)), "V": np.ones((3, 2))}, {}, r"d_k.*\(4 vs 5\)"),
    ("attention", {"Q": np.ones((3, 4)), "K": np.ones((3, 4)), "V": np.ones((3, 2)), "mask": np.ones((2, 3), bool)},
     {}, r"mask \(2, 3\) must broadcast to the scores \(3, 3\)"),
    ("mha", {"X": np.ones((4, 6)), **{w: np.ones((6, 6)) for w in ("W_q", "W_k", "W_v", "W_o")}}, {"num_heads": 4},
     r"d_model 6 is not divisible by num_heads 4"),
    ("sum", {"X": np.ones((2, 3))}, {"axis": 2}, r"axis 2 is out of range for X with 2 dimension"),
    ("max", {"X": np.ones((0, 3))}, {"axis": 0}, r"no elements along axis 0"),
])
def test_shape_errors_say_what_and_why(op, inputs, params, pattern):
    with pytest.raises(ShapeError, match=pattern):
        compute.run_op(op, inputs, **params)


def test_complex_strings_unknown_and_missing_inputs_are_refused_clearly():
    with pytest.raises(InputError, match="complex"):
        compute.run_op("matmul", {"A": np.ones((2, 2), complex), "B": np.ones((2, 2))})
    with pytest.raises(InputError, match="not numbers"):
        compute.run_op("sum", {"X": np.array(["a", "b"])})
    with pytest.raises(InputError, match="unknown input"):
        compute.run_op("sum", {"X": np.ones(2), "Y": np.ones(2)})
    with pytest.raises(InputError, match="missing input"):
        compute.run_op("matmul", {"A": np.ones((2, 2))})
    with pytest.raises(ParamError, match="unknown parameter"):
        compute.run_op("sum", {"X": np.ones(2)}, axes=0)
    with pytest.raises(ParamError, match="unknown operation 'matmull'; valid: dot"):
        compute.run_op("matmull", {})
    with pytest.raises(ParamError, match="ord must be"):
        compute.run_op("norm", {"X": np.ones(2)}, ord=3)
    with pytest.raises(ParamError, match="granularity 'kblock' is not available"):
        compute.stream_op("softmax", {"X": np.ones(2)}, granularity="kblock")


def test_budget_refuses_before_allocating(monkeypatch):
    compute.set_memory_budget(1 << 20)
    try:
        calls = []
        monkeypatch.setattr(compute.api, "_compute", lambda *a: calls.append(a))  # must never be reached
        with pytest.raises(BudgetError) as e:
            compute.run_op("matmul", {"A": np.ones((1, 600), np.float32), "B": np.ones((600, 600), np.float32)})
    finally:
        compute.set_memory_budget(None)
    assert not calls
    msg = str(e.value)
    assert "over the memory budget of 1.0 MiB" in msg and "OPSCOPE_MEMORY_BUDGET" in msg


def test_a_20_gb_request_is_refused_by_the_default_budget():
    # broadcast views cost nothing to build, but the outputs would be 20+ GB: refused before numpy allocates them
    a = np.broadcast_to(np.float32(1), (80_000, 1))
    b = np.broadcast_to(np.float32(1), (1, 80_000))
    with pytest.raises(BudgetError, match="needs about"):
        compute.run_op("hadamard", {"A": a, "B": b})


def test_budget_from_environment(monkeypatch):
    monkeypatch.setenv("OPSCOPE_MEMORY_BUDGET", "2K")
    with pytest.raises(BudgetError, match="2.0 KiB"):
        compute.run_op("sum", {"X": np.ones(1000)})
