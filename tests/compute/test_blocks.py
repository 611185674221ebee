"""Blocks of an output and the parts of broadcast operands they read (compute.blocks), and the
program lines computed block by block with them (Evaluator.blocked_value)."""

from __future__ import annotations

import math
import re
import threading

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from opscope import compute
from opscope.compute.blocks import blocks, operand_key
from opscope.compute.program import evaluate
from opscope.compute.progressive import CancelledRunError

SETTINGS = settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])

shapes = st.lists(st.integers(0, 6), min_size=0, max_size=4).map(tuple)


@SETTINGS
@given(shape=shapes, elements=st.integers(1, 40))
def test_blocks_cover_every_element_once_in_c_order_as_contiguous_views(shape, elements):
    a = np.arange(math.prod(shape)).reshape(shape)
    if not shape or not a.size:
        assert blocks(shape, elements) == [()]  # the whole array, which is one element or none
        return
    seen = []
    for key in blocks(shape, elements):
        part = a[key]
        assert isinstance(part, np.ndarray) and part.flags.c_contiguous and np.shares_memory(part, a)
        assert part.size <= max(elements, 1) or key == ()
        seen.extend(np.ravel(part).tolist())
    assert seen == list(range(a.size))  # each element once, in C order (blocks are C-order runs)


@st.composite
def broadcast_pairs(draw):
    out = draw(st.lists(st.integers(1, 5), min_size=1, max_size=4).map(tuple))
    k = draw(st.integers(0, len(out)))
    own = tuple(1 if draw(st.booleans()) else s for s in out[len(out) - k:])
    return out, own


@SETTINGS
@given(pair=broadcast_pairs(), elements=st.integers(1, 30))
def test_an_operands_block_broadcasts_to_the_outputs_block(pair, elements):
    out, own = pair
    x = np.random.default_rng(0).standard_normal(own)
    full = np.broadcast_to(x, out)
    for key in blocks(out, elements):
        part = x[operand_key(key, len(out), own)]
        np.testing.assert_array_equal(np.broadcast_to(part, full[key].shape), full[key])


#: Element-wise lines with every kind of part: operators, signs, element-wise functions, a product
#: and a transpose computed whole, operands that broadcast, numbers, a sub-expression smaller than
#: the line (exp(b): computed whole, not once per block).
LINES = ["y = x / sqrt(d)", "y = x * 2 + b", "y = relu(x @ W + b)", "y = gelu(x) * sigmoid(x)",
         "y = exp(x - b) / 3", "y = where(x, x, b) ** 2", "y = tanh(x) + erf(W.T)", "y = -x + abs(b)",
         "y = maximum(x, b) - minimum(x, 0.5)", "y = log(abs(x)) * b", "y = x + exp(b)",
         "y = (x + b) * (x - b) / (b + 2)"]


@pytest.mark.parametrize("dtype", [np.float16, np.float32, np.float64])
@pytest.mark.parametrize("shape", [(3, 24, 24), (2, 2, 24, 24), (24, 24)])
def test_a_big_element_wise_line_is_computed_block_by_block_with_the_whole_lines_numbers(monkeypatch, dtype, shape):
    r = np.random.default_rng(5)
    env = {"x": (r.standard_normal(shape) * 3).astype(dtype), "b": r.standard_normal(shape[-1]).astype(dtype),
           "W": r.standard_normal((24, 24)).astype(dtype), "d": 64}
    used = []
    real = evaluate.Evaluator.blocked_value
    monkeypatch.setattr(evaluate.Evaluator, "blocked_value", lambda self, *a: used.append(1) or real(self, *a))
    for text in LINES:
        inputs = {k: v for k, v in env.items() if k in re.findall(r"\w+", text)}
        monkeypatch.setattr(evaluate, "MIN_ELEMENTS", 10**12)
        whole = compute.run_program(text, inputs)["y"]
        assert not used
        monkeypatch.setattr(evaluate, "MIN_ELEMENTS", 0)
        for chunk in (7, 100, 1000):  # ragged blocks, blocks across rows, one block a matrix
            monkeypatch.setattr(evaluate, "CHUNK_ELEMENTS", chunk)
            got = compute.run_program(text, inputs)["y"]
            assert got.dtype == whole.dtype and got.shape == whole.shape
            assert got.tobytes() == whole.tobytes(), (text, chunk)  # bitwise, NaN included
        assert len(used) == 3
        used.clear()


def test_lines_that_are_not_element_wise_or_small_are_computed_whole(monkeypatch):
    used = []
    real = evaluate.Evaluator.blocked_value
    monkeypatch.setattr(evaluate.Evaluator, "blocked_value", lambda self, *a: used.append(1) or real(self, *a))
    x = np.ones((40, 30))
    for text in ("y = x @ x.T", "y = x.T", "y = softmax(x)", "y = split_heads(x, 2)", "y = x"):
        compute.run_program(text, {"x": x})
    compute.run_program("y = x / 2", {"x": x})  # 1200 elements: below MIN_ELEMENTS
    assert not used
    monkeypatch.setattr(evaluate, "MIN_ELEMENTS", 0)
    compute.run_program("y = x / 2", {"x": x})
    assert used


def test_cancel_stops_an_element_wise_line_between_two_blocks(monkeypatch):
    """``scaled = scores / sqrt(64)`` at 16 × 4096² was computed whole on the worker, and a cancel
    waited 2.8 s for it; it now stops between two blocks of a few ms."""
    monkeypatch.setattr(evaluate, "MIN_ELEMENTS", 0)
    monkeypatch.setattr(evaluate, "CHUNK_ELEMENTS", 64)  # 64 blocks of the (64, 64) line
    held, release = threading.Event(), threading.Event()
    handed = []
    real = evaluate.blocks

    def gated(shape, elements):
        for i, key in enumerate(real(shape, elements)):
            handed.append(key)
            if i == 2:
                held.set()
                assert release.wait(30)
            yield key

    monkeypatch.setattr(evaluate, "blocks", gated)
    s = np.random.default_rng(0).standard_normal((64, 64))
    tl = compute.stream_program("scaled = s / sqrt(d)\nw = softmax(scaled)", {"s": s, "d": 64}, progressive=True)
    try:
        assert held.wait(30)
        assert tl.available() == 0 and not tl.done
        tl.cancel(wait=False)
    finally:
        release.set()
    tl.cancel()
    assert tl.done and tl.cancelled and tl.error is None and not tl.thread.is_alive()
    assert len(handed) == 3  # no block was asked for after the cancel, and the one in hand is not computed
    assert tl.available() == 0
    with pytest.raises(CancelledRunError):
        tl.result()
