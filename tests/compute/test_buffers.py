"""The buffer pool reuses a dead run's memory, and never memory that anyone can still see."""

from __future__ import annotations

import gc

import numpy as np
from opscope import compute
from opscope.compute.buffers import POOL, BufferPool

from . import reference as ref


def _qkv(seed=0, shape=(2, 16, 8)):
    rng = np.random.default_rng(seed)
    return {n: rng.standard_normal(shape) for n in ("Q", "K", "V")}


def test_a_dead_timelines_buffers_are_reused_and_results_stay_right():
    POOL.clear()
    for seed in range(4):
        inputs = _qkv(seed)
        tl = compute.stream_op("attention", inputs, granularity="stage", mask="causal")
        keep = np.tril(np.ones((16, 16), bool))
        out, w = ref.attention(inputs["Q"], inputs["K"], inputs["V"], keep)
        np.testing.assert_allclose(tl.tensor_at("result", len(tl) - 1), out, atol=1e-12)
        np.testing.assert_allclose(tl.tensor_at("weights", len(tl) - 1), w, atol=1e-12)
        del tl
        gc.collect()
        assert POOL.idle_bytes > 0  # scores, scaled, weights came back


def test_memory_someone_still_holds_is_never_reused():
    POOL.clear()
    tl = compute.stream_op("attention", _qkv(1), granularity="stage")
    weights = tl.result()["weights"]  # a view: it keeps the buffer referenced
    scores = tl.run.outputs["scores"]
    snapshot_w, snapshot_s = weights.copy(), scores.copy()
    del tl
    gc.collect()
    for seed in range(3):  # new runs of the same shapes must not write into what we hold
        compute.stream_op("attention", _qkv(10 + seed), granularity="stage")
        gc.collect()
    np.testing.assert_array_equal(weights, snapshot_w)
    np.testing.assert_array_equal(scores, snapshot_s)


def test_give_back_takes_only_its_own_unreferenced_arrays():
    pool = BufferPool()
    held = pool.empty(np, (4, 4), np.float64)
    base = pool.empty(np, (8, 8), np.float64)
    view = base[:4]
    del base  # only the view refers to it now
    stranger = np.ones((3, 3))  # not from this pool: never taken, even with no other reference
    pool.give_back([held, view, pool.empty(np, (2, 2), np.float64), stranger])
    del stranger
    assert pool.idle_bytes == 2 * 2 * 8  # only the pool's array that nobody else refers to
    reused = pool.empty(np, (2, 2), np.float64)
    assert pool.idle_bytes == 0 and reused.shape == (2, 2) and reused.flags.writeable
    assert pool.empty(np, (2, 2), np.float32).dtype == np.float32  # dtype must match too


def test_the_pool_is_bounded():
    pool = BufferPool(max_bytes=1000)
    pool.give_back([pool.empty(np, (100,), np.float64), pool.empty(np, (100,), np.float64)])
    assert pool.idle_bytes == 800  # 800 bytes each: only one fits


def test_a_run_that_never_asks_the_pool_for_a_buffer_holds_nothing_after_it():
    """The pool took back a dead run's arrays at the next buffer it handed out, and until then held
    all of them, also those it never issued: streams of softmax (which asks for none) kept every
    earlier result alive, 3 GiB a run at 16 × 4096², until a run was refused for memory."""
    import weakref

    tl = compute.stream_op("softmax", {"X": np.ones((4, 4))})
    gone = [weakref.ref(tl.run.tensor(k)) for k in ("shifted", "exp", "result")]
    del tl
    gc.collect()
    assert all(w() is None for w in gone)
