"""The verified badge of a program: operation lines against their operations' references and
arithmetic lines recomputed in float64 from their operands (compute.verify.verify_program)."""

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp
from opscope import compute
from opscope.compute.program.lessons import get_program_lesson, program_lesson_names
from opscope.compute.verify import verify_program

ARITH = """
s = Q @ K.T / sqrt(d)
m = minimum(s, mask)
f = gelu(m * 0.5 + 1) - abs(m) ** 2
g = where(m, exp(-f), log(1 + sigmoid(f)))
h = merge_heads(split_heads(transpose(reshape(g, (4, 4)), (1, 0)), 2))
y = tanh(relu(h) @ K) / 3
"""


def _inputs(rng, dtype=np.float64):
    return {"Q": rng.standard_normal((4, 3)).astype(dtype), "K": rng.standard_normal((4, 3)).astype(dtype),
            "mask": np.triu(np.full((4, 4), -3.0), 1).astype(dtype), "d": np.asarray(3.0, dtype)}


@pytest.mark.parametrize("slug", program_lesson_names())
def test_every_line_of_the_lessons_is_checked(slug):
    tl = get_program_lesson(slug).stream()
    v = verify_program(tl)
    assert v.ok, v.message
    assert f"{len(tl.lines)} of {len(tl.lines)} lines checked" in v.message


@pytest.mark.parametrize("dtype", [np.float64, np.float32, np.float16])
def test_arithmetic_lines_match_within_rounding(dtype):
    rng = np.random.default_rng(3)
    tl = compute.stream_program(ARITH, _inputs(rng, dtype))
    assert all(p.op is None for p in tl.lines)  # every line is arithmetic
    assert np.isfinite(tl.result()["y"]).all()
    v = verify_program(tl)
    assert v.ok, v.message
    assert "6 of 6 lines checked" in v.message


@settings(max_examples=20, deadline=None)
@given(data=st.data(), bs=hnp.mutually_broadcastable_shapes(num_shapes=2, max_dims=3, max_side=4))
def test_random_broadcasting_arithmetic_is_not_flagged(data, bs):
    fin = st.floats(-4, 4, allow_nan=False, width=32)
    a, b = (data.draw(hnp.arrays(np.float32, s, elements=fin)) for s in bs.input_shapes)
    tl = compute.stream_program("y = exp(a * 0.5) / (1 + b * b) - maximum(a, b)", {"a": a, "b": b})
    v = verify_program(tl)
    assert v.ok, v.message


@pytest.mark.parametrize("line", ["f", "h", "y"])
def test_a_wrong_arithmetic_entry_is_flagged(line):
    rng = np.random.default_rng(5)
    tl = compute.stream_program(ARITH, _inputs(rng))
    wrong = np.array(tl.result()[line])
    flat = wrong.reshape(-1)
    flat[-1] += 1e-9 * max(1.0, abs(flat[-1]))  # far beyond float64 rounding, far below what a screen shows
    tl._values[line] = wrong
    tl._result = None
    v = verify_program(tl)
    assert not v.ok
    assert v.worst[0] == line and "differs from reference" in v.message


def test_nested_operation_calls_are_left_out_and_said():
    x = np.arange(6.0).reshape(2, 3)
    tl = compute.stream_program("p = softmax(x, axis=-1) / 2\nq = p + 1\n", {"x": x})
    v = verify_program(tl)
    assert v.ok and "1 of 2 lines checked; 1 line not checked" in v.message
