"""Progressive timelines: stream_op(..., progressive=True) fills in on a worker thread (issue 10)."""

import gc
import threading

import numpy as np
import pytest
from opscope import compute
from opscope.compute import progressive
from opscope.compute.errors import ShapeError
from opscope.compute.ops import products
from opscope.compute.progressive import CancelledRunError, ProgressiveTimeline
from opscope.compute.registry import operations


def _rng():
    return np.random.default_rng(10)


def _same_step(s, r, exact=True):
    """Same step; ``exact=False`` allows float64 BLAS rounding (a panel vs the whole product)."""
    assert (s.index, s.total, s.stage, s.regions) == (r.index, r.total, r.stage, r.regions)
    assert s.caption == r.caption or not exact
    assert s.tensors.keys() == r.tensors.keys()
    for k in r.tensors:
        if exact:
            np.testing.assert_array_equal(s.tensors[k], r.tensors[k])
        else:
            np.testing.assert_allclose(s.tensors[k], r.tensors[k], rtol=1e-12, atol=1e-12)


class _Gate:
    """Holds the worker before panel ``after`` until released: deterministic mid-run states."""

    def __init__(self, monkeypatch, after: int):
        self.after = after
        self.calls = 0
        self.release = threading.Event()
        self.reached = threading.Event()
        real = products._matmul_panel

        def panel(a, b, out):
            if self.calls == self.after:
                self.reached.set()
                self.release.wait(10)
            self.calls += 1
            real(a, b, out)

        monkeypatch.setattr(products, "_matmul_panel", panel)


def test_available_grows_monotonically_to_len():
    a = _rng().standard_normal((1024, 1024))
    tl = compute.stream_op("matmul", {"A": a, "B": a}, granularity="tile", progressive=True)
    assert isinstance(tl, ProgressiveTimeline) and tl.progressive
    seen = [tl.available()]
    while not tl.done:
        seen.append(tl.available())
    tl.result()
    seen.append(tl.available())
    assert seen == sorted(seen)
    assert seen[-1] == len(tl) == len(compute.stream_op("matmul", {"A": a, "B": a}, granularity="tile"))
    assert not tl.thread.is_alive()


@pytest.mark.parametrize("granularity", ["tile", "element", "kblock", "stage", None])
def test_matmul_steps_equal_eager(granularity):
    rng = _rng()
    a, b = rng.standard_normal((300, 200)), rng.standard_normal((200, 130))
    kw = {"tile": (64, 32)} if granularity == "tile" else {}
    tl = compute.stream_op("matmul", {"A": a, "B": b}, granularity=granularity, progressive=True, **kw)
    ref = compute.stream_op("matmul", {"A": a, "B": b}, granularity=granularity, **kw)
    assert (len(tl), tl.granularity, tl.options) == (len(ref), ref.granularity, ref.options)
    for n in sorted({0, min(1, len(ref) - 1), len(ref) // 3, len(ref) // 2, len(ref) - 1}):
        assert tl.wait(n)
        _same_step(tl[n], ref[n], exact=False)
        for kwargs in ({}, {"max_shape": (16, 16)}, {"box": ((0, 40), (0, 30))}):
            np.testing.assert_allclose(tl.tensor_at("result", n, **kwargs), ref.tensor_at("result", n, **kwargs),
                                       rtol=1e-12, atol=1e-12)
    np.testing.assert_allclose(tl.result()["result"], compute.run_op("matmul", {"A": a, "B": b})["result"],
                               rtol=1e-12, atol=1e-12)
    np.testing.assert_allclose(list(tl.levels.values()), list(ref.levels.values()), rtol=1e-12)


@pytest.mark.parametrize("granularity", ["stage", "kblock", "element", "tile"])
def test_captions_quote_computed_values_not_the_memory_before_it(monkeypatch, granularity):
    # A progressive run plans its steps before its panels are computed; a caption that read the
    # output then quoted uninitialized memory (the stage caption's "= 6.9e-310"). Filling the
    # fresh outputs with NaN makes such a read visible every time.
    spec = compute.get_spec("matmul")
    hook = spec.extra["progressive"]

    def poisoned(inputs, params, g):
        panels = hook(inputs, params, g)
        if panels is not None:
            for a in panels.outputs.values():
                a.fill(np.nan)
        return panels

    monkeypatch.setitem(spec.extra, "progressive", poisoned)
    a = np.arange(1.0, 17.0).reshape(4, 4)
    tl = compute.stream_op("matmul", {"A": a, "B": a}, granularity=granularity, progressive=True)
    ref = compute.stream_op("matmul", {"A": a, "B": a}, granularity=granularity)
    assert [tl[n].caption for n in range(len(ref))] == [ref[n].caption for n in range(len(ref))]
    assert "nan" not in " ".join(tl[n].caption for n in range(len(ref)))


def test_big_matmul_float64_mid_run_steps_and_exact_result():
    a = _rng().standard_normal((1024, 1024))
    tl = compute.stream_op("matmul", {"A": a, "B": a.T}, granularity="tile", progressive=True)
    ref = compute.stream_op("matmul", {"A": a, "B": a.T}, granularity="tile")
    n = len(tl) // 4
    assert tl.wait(n, timeout=60)
    _same_step(tl[n], ref[n])
    np.testing.assert_array_equal(tl.tensor_at("result", n), ref.tensor_at("result", n))
    np.testing.assert_array_equal(tl.result()["result"], compute.run_op("matmul", {"A": a, "B": a.T})["result"])


def test_float32_matmul_result_within_blas_rounding():
    a = _rng().standard_normal((1024, 512)).astype(np.float32)
    tl = compute.stream_op("matmul", {"A": a, "B": a.T}, granularity="tile", progressive=True)
    direct = compute.run_op("matmul", {"A": a, "B": a.T})["result"]
    got = tl.result()["result"]
    assert got.dtype == direct.dtype == np.float32
    # OpenBLAS's sgemm rounds a row panel differently in the last bit (float64 is bitwise equal).
    np.testing.assert_allclose(got, direct, rtol=1e-5, atol=1e-4)


@pytest.mark.parametrize("sa, sb", [((3, 300, 40), (40, 50)), ((2, 1, 270, 30), (4, 30, 20)), ((5, 7, 9), (9, 3))])
def test_batched_and_broadcast_matmul(sa, sb):
    rng = _rng()
    a, b = rng.standard_normal(sa), rng.standard_normal(sb)
    tl = compute.stream_op("matmul", {"A": a, "B": b}, granularity="tile", progressive=True, tile=(64, 16))
    ref = compute.stream_op("matmul", {"A": a, "B": b}, granularity="tile", tile=(64, 16))
    mid = len(ref) // 2
    assert tl.wait(mid)
    _same_step(tl[mid], ref[mid], exact=False)
    lead = (0,) * (len(ref.shape("result")) - 2)
    # Bitwise equality needs OpenBLAS to split the whole product where the panels split it; for
    # these shapes it does not (its thread split and ragged row blocks): equal to BLAS rounding.
    np.testing.assert_allclose(tl.tensor_at("result", mid, lead=lead), ref.tensor_at("result", mid, lead=lead),
                               rtol=1e-12, atol=1e-12)
    np.testing.assert_allclose(tl.result()["result"], compute.run_op("matmul", {"A": a, "B": b})["result"],
                               rtol=1e-12, atol=1e-12)


@pytest.mark.parametrize("mask", [None, "causal", "padding:300,17"])
def test_attention_tile_chunks_equal_eager(mask):
    rng = _rng()
    q, k, v = (rng.standard_normal((2, 600, 32)).astype(np.float32) for _ in range(3))
    inputs = {"Q": q, "K": k, "V": v}
    tl = compute.stream_op("attention", inputs, granularity="tile", progressive=True, mask=mask)
    ref = compute.stream_op("attention", inputs, granularity="tile", mask=mask)
    assert isinstance(tl, ProgressiveTimeline) and len(tl) == len(ref)
    for n in (0, len(ref) // 2, len(ref) - 1):
        assert tl.wait(n)
        _same_step(tl[n], ref[n])
        for name in ("scores", "weights", "result"):
            np.testing.assert_array_equal(tl.tensor_at(name, n), ref.tensor_at(name, n))
    direct = compute.run_op("attention", inputs, mask=mask)
    for name, value in tl.result().items():
        np.testing.assert_array_equal(value, direct[name])
    assert tl.notices == ref.notices


def test_cancel_stops_and_keeps_what_was_computed(monkeypatch):
    monkeypatch.setattr(progressive, "PANEL_ROWS", 256)  # eight tasks: a cancel leaves some undone
    gate = _Gate(monkeypatch, after=2)
    a = _rng().standard_normal((1024, 512))
    tl = compute.stream_op("matmul", {"A": a, "B": a.T}, granularity="tile", tile=(256, 256), progressive=True)
    ref = compute.stream_op("matmul", {"A": a, "B": a.T}, granularity="tile", tile=(256, 256))
    assert gate.reached.wait(30)
    tl.cancel(wait=False)
    gate.release.set()
    tl.cancel()  # joins: the worker stops after the panel it was computing
    assert tl.done and tl.cancelled and not tl.thread.is_alive()
    got = tl.available()
    assert 0 < got < len(tl)
    assert tl.wait(got - 1) and not tl.wait(got)
    _same_step(tl[got - 1], ref[got - 1])
    np.testing.assert_array_equal(tl.tensor_at("result", got - 1), ref.tensor_at("result", got - 1))
    with pytest.raises(CancelledRunError, match="cancelled"):
        tl[got]
    with pytest.raises(CancelledRunError):
        tl.tensor_at("result", len(tl) - 1)
    with pytest.raises(CancelledRunError):
        tl.result()
    lo, hi = tl.levels["result"]  # provisional: over the finished rows
    assert np.isfinite(lo) and np.isfinite(hi)


def test_wait_times_out_while_held(monkeypatch):
    gate = _Gate(monkeypatch, after=0)
    a = _rng().standard_normal((600, 300))
    tl = compute.stream_op("matmul", {"A": a, "B": a.T}, granularity="tile", progressive=True)
    assert gate.reached.wait(30)
    assert tl.available() == 0 and not tl.done
    assert tl.wait(0, timeout=0.01) is False
    gate.release.set()
    assert tl.wait(0)
    tl.result()


def test_errors_surface_on_wait_and_result(monkeypatch):
    calls = []
    real = products._matmul_panel
    monkeypatch.setattr(progressive, "PANEL_ROWS", 256)  # four panels of the 1024 rows, one a tile row
    split = min(progressive.PANEL_THREADS, 2)  # each panel of 1024 columns is that many tasks

    def panel(a, b, out):
        calls.append(1)
        if len(calls) == 2 * split + 1:
            raise ShapeError("matmul: injected failure in panel 3")
        real(a, b, out)

    monkeypatch.setattr(products, "_matmul_panel", panel)
    a = _rng().standard_normal((1024, 128))
    tl = compute.stream_op("matmul", {"A": a, "B": a.T}, granularity="tile", tile=(256, 1024), progressive=True)
    with pytest.raises(ShapeError, match="injected"):
        tl.result()
    assert tl.done and not tl.thread.is_alive()
    assert tl.available() == 2  # the panels before the failure stay readable
    tl[1]
    with pytest.raises(ShapeError, match="injected"):
        tl.wait(len(tl) - 1)
    with pytest.raises(ShapeError):
        tl[len(tl) - 1]


def test_budget_checked_before_starting():
    a = np.zeros((4096, 4096), np.float32)
    compute.set_memory_budget(16 << 20)
    try:
        with pytest.raises(compute.BudgetError):
            compute.stream_op("matmul", {"A": a, "B": a}, granularity="tile", progressive=True)
    finally:
        compute.set_memory_budget(None)  # the default again, not today's figure frozen as an override
    assert not [t for t in threading.enumerate() if t.name.startswith("opscope-progressive")]


def test_every_op_accepts_progressive():
    for spec in operations():
        tl = compute.stream_op(spec.name, spec.example(), progressive=True)
        assert 0 <= tl.available() <= len(tl)  # a progressive run may not have a step yet
        assert tl.wait(len(tl) - 1)
        tl.result()
        assert tl.available() == len(tl)
        tl.cancel()  # a no-op once finished, or for an eager timeline


def test_garbage_collected_timeline_stops_its_thread(monkeypatch):
    gate = _Gate(monkeypatch, after=1)
    a = _rng().standard_normal((1024, 256))
    tl = compute.stream_op("matmul", {"A": a, "B": a.T}, granularity="tile", progressive=True)
    thread = tl.thread
    assert gate.reached.wait(30)
    del tl
    gc.collect()
    gate.release.set()
    thread.join(30)  # the finalizer set the stop flag: it ends after the current panel
    assert not thread.is_alive()


def test_row_panels_cover_rows_evenly():
    for m in (1, 255, 256, 257, 1000, 8192):
        panels = progressive.row_panels(m)
        assert panels[0][0] == 0 and panels[-1][1] == m
        assert all(p[1] == q[0] for p, q in zip(panels, panels[1:]))
        assert all(a % progressive.PANEL_ALIGN == 0 for a, _ in panels)
        assert max(b - a for a, b in panels) <= progressive.PANEL_ROWS


# --- issue 10, second part: the panel pool, the first band in pieces, display copies ---------------
from opscope.compute.budget import stream_sizes  # noqa: E402
from opscope.compute.plans import ConcatPlan, GridPlan, Run  # noqa: E402


@pytest.mark.parametrize("shape, tile", [((7, 5), (2, 3)), ((3, 10, 9), (1, 4, 2)), ((2, 2, 6, 6), (1, 2, 5, 1))])
def test_reveal_order_at_equals_the_full_order(shape, tile):
    rng = _rng()
    run = Run("x", np, {}, {"out": np.zeros(shape), "other": np.zeros(shape)}, {})
    plan = GridPlan(run, "out", tile, lambda n, box: None)
    full = np.broadcast_to(plan.reveal_order("out"), shape)
    for _ in range(5):
        lead = tuple(int(rng.integers(0, s)) for s in shape[:-2])
        rows = np.sort(rng.integers(0, shape[-2], 4))
        cols = np.sort(rng.integers(0, shape[-1], 3))
        np.testing.assert_array_equal(plan.reveal_order_at("out", lead, rows, cols), full[lead][np.ix_(rows, cols)])
    cat = ConcatPlan([GridPlan(run, "other", shape, lambda n, box: None), plan])
    np.testing.assert_array_equal(cat.reveal_order_at("out", (0,) * (len(shape) - 2), [0], [0]), [[1]])


def test_first_band_in_column_pieces_gives_the_first_tile_early(monkeypatch):
    gate = _Gate(monkeypatch, after=1)  # only the first piece of the first band is computed
    a = _rng().standard_normal((1024, 256))
    b = _rng().standard_normal((256, 1536))
    tl = compute.stream_op("matmul", {"A": a, "B": b}, granularity="tile", tile=(64, 64), progressive=True)
    ref = compute.stream_op("matmul", {"A": a, "B": b}, granularity="tile", tile=(64, 64))
    assert gate.reached.wait(30)
    assert tl.wait(0, timeout=30)
    got = tl.available()
    assert got == progressive.BAND_PIECE_COLS // 64  # the tiles of the first piece, nothing more
    assert 0 < tl.progress() < 0.1
    for kwargs in ({"max_shape": (40, 40)}, {"max_shape": (512, 512)}, {"box": ((0, 64), (0, 700))}):
        np.testing.assert_allclose(tl.tensor_at("result", got - 1, **kwargs), ref.tensor_at("result", got - 1,
                                                                                             **kwargs),
                                   rtol=1e-12, atol=1e-12)
    gate.release.set()
    np.testing.assert_allclose(tl.result()["result"], a @ b, rtol=1e-12, atol=1e-12)
    for n in (got, len(tl) // 2, len(tl) - 1):
        np.testing.assert_allclose(tl.tensor_at("result", n, max_shape=(40, 40)),
                                   ref.tensor_at("result", n, max_shape=(40, 40)), rtol=1e-12, atol=1e-12)
    assert tl.progress() == 1.0 and tl.time_left() == 0.0


def test_display_copy_of_a_big_output_is_built_as_panels_land():
    a = _rng().standard_normal((1100, 700)).astype(np.float32)
    tl = compute.stream_op("matmul", {"A": a, "B": a.T}, granularity="tile", progressive=True)
    tl.result()
    copies = tl._state.copies  # the one made before the first frame was asked for
    assert [k[0] for k in copies] == ["result"] and all(k[3] == progressive.DISPLAY_MAX_SHAPE for k in copies)
    ref = compute.stream_op("matmul", {"A": a, "B": a.T}, granularity="tile")
    for n in (0, len(tl) // 2, len(tl) - 1):
        np.testing.assert_allclose(tl.tensor_at("result", n, max_shape=(512, 512)),
                                   ref.tensor_at("result", n, max_shape=(512, 512)), rtol=1e-4, atol=1e-4)
    # Reduced a few block rows per panel, the copy is exactly the whole tensor's reduction: a
    # block's arithmetic does not depend on how many block rows are reduced together.
    from opscope.compute.timeline import block_reduce

    np.testing.assert_array_equal(tl.tensor_at("result", len(tl) - 1, max_shape=(512, 512)),
                                  block_reduce(np, tl.result()["result"], (512, 512)))


def test_big_panels_are_summed_over_k_blocks_and_cancel_between_them(monkeypatch):
    from opscope.compute.ops import products as prod

    rows = progressive.PANEL_ROWS
    monkeypatch.setattr(prod, "TASK_FLOPS", 2 * rows * 128 * 256)  # k-blocks of 256: 8 per panel
    a = _rng().standard_normal((2 * rows, 2048))
    b = _rng().standard_normal((2048, 128))
    tl = compute.stream_op("matmul", {"A": a, "B": b}, granularity="tile", tile=(64, 128), progressive=True)
    np.testing.assert_allclose(tl.result()["result"], a @ b, rtol=1e-12, atol=1e-12)
    gate = _Gate(monkeypatch, after=1)  # inside a panel, between its k-blocks
    tl = compute.stream_op("matmul", {"A": a, "B": b}, granularity="tile", tile=(64, 128), progressive=True)
    assert gate.reached.wait(30)
    tl.cancel(wait=False)
    gate.release.set()
    tl.cancel()
    # Stopped between k-blocks: not every block of both panels was computed, and the run is cancelled.
    assert tl.cancelled and tl.available() < len(tl) and gate.calls < 2 * 8


def test_levels_of_a_running_output_come_from_the_finished_rows():
    a = _rng().standard_normal((600, 200))
    a[5, 3] = np.inf
    a[590, :] = np.nan
    tl = compute.stream_op("matmul", {"A": a, "B": a.T}, granularity="tile", progressive=True)
    tl.result()
    ref = compute.stream_op("matmul", {"A": a, "B": a.T}, granularity="tile")
    assert tl.levels["result"] == pytest.approx(ref.levels["result"], rel=1e-12)


def test_blas_lease_is_counted():
    threadpoolctl = pytest.importorskip("threadpoolctl")
    before = [i["num_threads"] for i in threadpoolctl.threadpool_info() if i["user_api"] == "blas"]
    lease = progressive.BLAS_ONE_THREAD
    lease.acquire()
    lease.acquire()
    lease.release()
    assert lease.held
    assert all(i["num_threads"] == 1 for i in threadpoolctl.threadpool_info() if i["user_api"] == "blas")
    lease.release()
    assert not lease.held
    assert [i["num_threads"] for i in threadpoolctl.threadpool_info() if i["user_api"] == "blas"] == before


def test_budget_counts_what_steps_show():
    assert stream_sizes({"result": 100, "tmp": 40}, "kblock", ("tile", "kblock", "stage")) == {
        "a step's partial values": 100}
    assert stream_sizes({"result": 100}, "stage", ("tile", "stage")) == {}
    assert stream_sizes({"result": 100}, None, ("stage",)) == {}
    a = np.zeros((512, 512))
    sizes = compute.api.stream_budget_sizes("matmul", {"A": a, "B": a}, {}, "kblock")
    compute.set_memory_budget(sum(sizes.values()) - 1)
    try:
        with pytest.raises(compute.BudgetError):
            compute.stream_op("matmul", {"A": a, "B": a}, granularity="kblock")
        compute.stream_op("matmul", {"A": a, "B": a}, granularity="stage")  # no partial state: fits
    finally:
        compute.set_memory_budget(None)


def _mha_cases():
    r = np.random.default_rng(7)

    def n(*s):
        return r.standard_normal(s).round(2)

    return [
        ({"X": n(2, 4, 8), "W_q": n(8, 8), "W_k": n(8, 8), "W_v": n(8, 6), "W_o": n(6, 8)}, {"num_heads": 2}),
        ({"query": n(3, 8), "key": n(5, 8), "W_q": n(8, 4), "W_k": n(8, 4), "W_v": n(8, 4), "W_o": n(4, 8),
          "b_q": n(4)}, {"num_heads": 4}),
        ({"X": n(4, 8), "W_q": n(8, 8), "W_k": n(8, 8), "W_v": n(8, 8), "W_o": n(8, 8), "b_o": n(8)},
         {"num_heads": 4, "mask": "causal"}),
        # Some query rows lose every key: the notice must come too.
        ({"X": n(2, 5, 12), "W_q": n(12, 12), "W_k": n(12, 12), "W_v": n(12, 6), "W_o": n(6, 3),
          "mask": np.tril(np.ones((5, 5), bool), -1)}, {"num_heads": 6}),
    ]


@pytest.mark.parametrize("inputs, params", _mha_cases())
def test_mha_stages_stream_and_equal_eager(inputs, params):
    tl = compute.stream_op("mha", inputs, progressive=True, **params)
    ref = compute.stream_op("mha", inputs, **params)
    assert isinstance(tl, ProgressiveTimeline) and len(tl) == len(ref) == 6
    for n in range(len(ref)):
        _same_step(tl[n], ref[n])
        for name in ref.tensor_names:
            for kw in ({}, {"max_shape": (2, 2)}):
                np.testing.assert_array_equal(tl.tensor_at(name, n, **kw), ref.tensor_at(name, n, **kw))
    for k, v in ref.result().items():
        np.testing.assert_array_equal(tl.result()[k], v)  # one code path: bitwise the eager numbers
    assert list(tl.levels.values()) == list(ref.levels.values())
    assert tl.notices == ref.notices


def test_mha_projections_are_there_while_the_softmax_is_computed(monkeypatch):
    from opscope.compute.ops import attention

    inputs, params = _mha_cases()[0]
    ref = compute.stream_op("mha", inputs, **params)
    held, release = threading.Event(), threading.Event()
    real = attention.masked_softmax

    def softmax(*args, **kwargs):
        held.set()
        assert release.wait(30)
        return real(*args, **kwargs)

    monkeypatch.setattr(attention, "masked_softmax", softmax)
    tl = compute.stream_op("mha", inputs, progressive=True, **params)
    try:
        assert held.wait(30)
        assert tl.available() == 2 and not tl.done  # project and scores; the weights are being computed
        assert 0 < tl.progress() < 1
        for n in (0, 1):
            _same_step(tl[n], ref[n])
        np.testing.assert_array_equal(tl.tensor_at("scores", 1), ref.tensor_at("scores", 1))
        assert tl.levels["Q"] == ref.levels["Q"]  # a finished output's own levels, before the run ends
        assert tl.wait(2, timeout=0.01) is False
    finally:
        release.set()
    tl.result()
    assert tl.available() == 6


def test_mha_goes_a_chunk_of_heads_at_a_time_and_cancels_between_chunks(monkeypatch):
    from opscope.compute.ops import attention

    inputs, params = _mha_cases()[0]  # 2 heads of (batch 2) × 4 × 4 scores
    eager = compute.run_op("mha", inputs, **params)
    monkeypatch.setattr(attention, "MHA_CHUNK_ELEMENTS", 2 * 4 * 4)  # one head per chunk
    assert attention.mha_head_chunks(eager["scores"].shape) == [(0, 1), (1, 2)]
    chunked = compute.run_op("mha", inputs, **params)
    for k in eager:
        np.testing.assert_array_equal(chunked[k], eager[k])  # chunks are the same calls
    held, release = threading.Event(), threading.Event()
    calls = []
    real = attention.masked_softmax

    def softmax(*args, **kwargs):
        calls.append(1)
        if len(calls) == 2:  # the second head's softmax
            held.set()
            assert release.wait(30)
        return real(*args, **kwargs)

    monkeypatch.setattr(attention, "masked_softmax", softmax)
    tl = compute.stream_op("mha", inputs, progressive=True, **params)
    assert held.wait(30)
    tl.cancel(wait=False)
    release.set()
    tl.cancel()
    # The chunk being computed finishes (it completes the weights), and nothing after it starts.
    assert tl.done and tl.cancelled and len(calls) == 2
    assert tl.available() == 3  # project, scores and weights stay readable
    np.testing.assert_array_equal(tl.tensor_at("weights", 2), eager["weights"])
    with pytest.raises(CancelledRunError):
        tl[3]


def _block_mean(a: np.ndarray, f: tuple[int, int]) -> np.ndarray:
    """Block means of the last two axes by factors ``f`` (shapes divisible): NaN where a block
    holds an element not written yet."""
    *lead, h, w = a.shape
    return a.reshape(*lead, h // f[0], f[0], w // f[1], f[1]).mean(axis=(-3, -1))


@pytest.mark.parametrize("progressive", [False, True])
def test_a_reduced_frame_of_a_whole_batched_tensor_is_the_block_mean_of_its_state(progressive):
    # The whole (heads, rows, cols) tensor reduced, no slice picked: built from the reveal order
    # alone, never from a `where` over the tensor; it must still be the state's block means.
    rng = _rng()
    q, k, v = (rng.standard_normal((3, 16, 8)) for _ in range(3))
    tl = compute.stream_op("attention", {"Q": q, "K": k, "V": v}, granularity="tile", progressive=progressive,
                           tile=(4, 16))
    ref = compute.stream_op("attention", {"Q": q, "K": k, "V": v}, granularity="tile", tile=(4, 16))
    assert len(tl) == 12
    for n in (0, 3, 5, 11):
        for name, f in (("weights", (4, 4)), ("result", (4, 2))):
            state = ref.tensor_at(name, n)
            got = tl.tensor_at(name, n, max_shape=(4, 4))
            np.testing.assert_allclose(got, _block_mean(state, f), rtol=1e-12, atol=1e-12, err_msg=f"{name} {n}")
            assert np.isnan(got).any() == (n < len(tl) - 1)


# --- stage-by-stage operations in chunks of rows (softmax, LayerNorm, RMSNorm) --------------------
def _row_stage_cases():
    r = np.random.default_rng(11)

    def n(*s, dtype=np.float64):
        return (r.standard_normal(s) * 3).astype(dtype)

    cases = []
    for dt in (np.float16, np.float32, np.float64):
        cases += [
            ("softmax", {"X": n(37, 53, dtype=dt)}, {}),
            ("softmax", {"X": n(3, 17, 29, dtype=dt)}, {"axis": 1, "temperature": 0.3}),
            ("layernorm", {"X": n(41, 30, dtype=dt), "gamma": n(30, dtype=dt), "beta": n(30, dtype=dt)}, {}),
            ("layernorm", {"X": n(3, 5, 6, 7, dtype=dt), "gamma": n(6, 7, dtype=dt)}, {"eps": 0.1}),
            ("rmsnorm", {"X": n(33, 65, dtype=dt), "gamma": n(65, dtype=dt)}, {}),
        ]
    x = n(40, 9)
    x[3, 2], x[5, :] = np.inf, np.nan  # levels over what is finite; NaN rows stay NaN
    cases.append(("softmax", {"X": x}, {}))
    return cases


@pytest.mark.parametrize("op, inputs, params", _row_stage_cases())
def test_row_stage_ops_stream_their_stages_in_chunks_with_the_eager_numbers(monkeypatch, op, inputs, params):
    from opscope.compute.ops import row_stages

    monkeypatch.setattr(row_stages, "MIN_ELEMENTS", 0)
    monkeypatch.setattr(row_stages, "CHUNK_ELEMENTS", 70)  # a few rows per chunk, a ragged last one
    tl = compute.stream_op(op, inputs, progressive=True, **params)
    ref = compute.stream_op(op, inputs, **params)
    assert isinstance(tl, ProgressiveTimeline) and not isinstance(ref, ProgressiveTimeline)
    assert len(tl) == len(ref) == 4
    for n in range(len(ref)):
        _same_step(tl[n], ref[n])  # captions too: read from what the stage and those before it wrote
        for name in ref.tensor_names:
            for kw in ({}, {"max_shape": (2, 2)}):
                np.testing.assert_array_equal(tl.tensor_at(name, n, **kw), ref.tensor_at(name, n, **kw))
    for k, v in ref.result().items():
        got = tl.result()[k]
        assert got.dtype == v.dtype and got.shape == v.shape
        np.testing.assert_array_equal(got, v)  # bitwise: the eager calls, on blocks of whole lines
    assert list(tl.levels.values()) == list(ref.levels.values())


def test_small_runs_axis_0_and_strided_inputs_are_computed_eagerly(monkeypatch):
    from opscope.compute.ops import row_stages

    x = np.random.default_rng(0).standard_normal((64, 48))
    assert not isinstance(compute.stream_op("softmax", {"X": x}, progressive=True), ProgressiveTimeline)
    monkeypatch.setattr(row_stages, "MIN_ELEMENTS", 0)
    assert isinstance(compute.stream_op("softmax", {"X": x}, progressive=True), ProgressiveTimeline)
    for inputs, params in (({"X": x}, {"axis": 0}), ({"X": x.T}, {})):  # nothing to chunk; not C-contiguous
        tl = compute.stream_op("softmax", inputs, progressive=True, **params)
        assert not isinstance(tl, ProgressiveTimeline)
        np.testing.assert_array_equal(tl.result()["result"], compute.run_op("softmax", inputs, **params)["result"])


def test_a_softmax_stage_shows_while_the_next_is_computed_and_cancel_stops_between_chunks(monkeypatch):
    """Softmax over 16 × 4096² float32 scores is ~1 s of whole-tensor passes here, and a cancel
    waited for all of them; it now stops within one chunk of rows."""
    from opscope.compute.ops import row_stages

    monkeypatch.setattr(row_stages, "MIN_ELEMENTS", 0)
    monkeypatch.setattr(row_stages, "CHUNK_ELEMENTS", 4 * 48)  # 4 rows a chunk: 16 chunks a stage
    held, release = threading.Event(), threading.Event()
    exp_chunks = []
    real = row_stages.stage_panels

    def stage_panels(outputs, rows, per_row, stages, lead):
        def exp(r0, r1, fn=stages[1][1]):
            exp_chunks.append((r0, r1))
            if len(exp_chunks) == 2:
                held.set()
                assert release.wait(30)
            fn(r0, r1)

        return real(outputs, rows, per_row, [stages[0], (stages[1][0], exp), *stages[2:]], lead)

    monkeypatch.setattr(row_stages, "stage_panels", stage_panels)
    x = np.random.default_rng(2).standard_normal((64, 48))
    ref = compute.stream_op("softmax", {"X": x})
    tl = compute.stream_op("softmax", {"X": x}, progressive=True)
    try:
        assert held.wait(30)
        assert tl.available() == 1 and not tl.done  # shifted is whole; exp is being computed
        assert 0 < tl.progress() < 0.5
        _same_step(tl[0], ref[0])
        assert tl.levels["shifted"] == ref.levels["shifted"]
        assert tl.wait(1, timeout=0.01) is False
        tl.cancel(wait=False)
    finally:
        release.set()
    tl.cancel()
    assert tl.done and tl.cancelled and tl.error is None
    assert len(exp_chunks) == 2  # the chunk in hand finished; no other started
    assert tl.available() == 1
    np.testing.assert_array_equal(tl.tensor_at("shifted", 0), ref.tensor_at("shifted", 0))
    with pytest.raises(CancelledRunError):
        tl[1]


def test_a_dropped_timeline_frees_its_tensors_without_waiting_for_a_full_collection():
    """Reference cycles (a matmul's Panels and their closures; a program timeline and its levels)
    kept finished runs' tensors, GiBs at seq 4096, until the interpreter's next full collection,
    and a dropped progressive program's worker ran on until then."""
    import weakref

    from opscope.compute.ops import row_stages

    r = np.random.default_rng(0)
    a = r.standard_normal((300, 200))
    runs = [
        lambda: compute.stream_op("matmul", {"A": a, "B": a.T}, granularity="tile", progressive=True),
        lambda: compute.stream_op("matmul", {"A": a, "B": a.T}, granularity="kblock", progressive=True),
        lambda: compute.stream_op("softmax", {"X": a}, progressive=True),
        lambda: compute.stream_op("layernorm", {"X": a, "gamma": np.ones(200)}, progressive=True),
        lambda: compute.stream_program("s = x @ x.T\nw = softmax(s)\nv = w + 1", {"x": a}),
        lambda: compute.stream_program("s = x @ x.T\nw = softmax(s)\nv = w + 1", {"x": a}, progressive=True),
    ]
    saved, row_stages.MIN_ELEMENTS = row_stages.MIN_ELEMENTS, 0
    gc.collect()
    gc.disable()
    try:
        for make in runs:
            tl = make()
            tl.result()
            thread = getattr(tl, "thread", None)
            if thread is not None:
                thread.join(30)
            lines = getattr(tl, "lines", None)
            tensors = [p.timeline.run.tensor(k) for p in lines for k in p.timeline.output_names] if lines else [
                tl.run.tensor(k) for k in tl.output_names]
            refs = [weakref.ref(t) for t in tensors]
            del tl, tensors, lines
            assert not any(w() is not None for w in refs), make
    finally:
        gc.enable()
        row_stages.MIN_ELEMENTS = saved


def _elementwise_cases():
    r = np.random.default_rng(7)
    cases = []
    for op in ("add", "hadamard"):
        for sa, sb in (((3, 20, 16), (16,)), ((3, 20, 16), (3, 20, 16)), ((20, 1), (3, 1, 16)), ((), (24, 16)),
                       ((3, 1, 5, 7), (4, 1, 7))):
            for dtype in (np.float32, np.float64):
                cases.append((op, r.standard_normal(sa).astype(dtype), r.standard_normal(sb).astype(dtype)))
    a = r.standard_normal((16, 20))
    cases.append(("add", a.T, r.standard_normal((20, 1))))  # A of the output's shape (its own copy), strided
    return cases


@pytest.mark.parametrize("op, a, b", _elementwise_cases())
@pytest.mark.parametrize("granularity", [None, "stage", "tile"])
def test_add_and_hadamard_stream_their_stages_in_blocks_with_the_eager_numbers(monkeypatch, op, a, b, granularity):
    from opscope.compute.ops import row_stages

    ref = compute.stream_op(op, {"A": a, "B": b}, granularity)
    monkeypatch.setattr(row_stages, "MIN_ELEMENTS", 0)
    monkeypatch.setattr(row_stages, "CHUNK_ELEMENTS", 37)  # blocks across rows, ragged ones
    tl = compute.stream_op(op, {"A": a, "B": b}, granularity, progressive=True)
    assert isinstance(tl, ProgressiveTimeline) and not isinstance(ref, ProgressiveTimeline)
    assert len(tl) == len(ref) and tl.granularity == ref.granularity
    for n in sorted({0, 1, len(ref) // 2, len(ref) - 1}):
        _same_step(tl[n], ref[n])  # captions too: the stage's numbers are read once it is computed
        for name in ref.tensor_names:
            np.testing.assert_array_equal(tl.tensor_at(name, n), ref.tensor_at(name, n))
    for k, v in ref.result().items():
        got = tl.result()[k]
        assert got.dtype == v.dtype and got.shape == v.shape
        np.testing.assert_array_equal(got, v)  # bitwise: the eager ufunc on each block's operands
    assert dict(tl.levels) == dict(ref.levels)


def test_broadcast_copies_are_views_of_the_operands(monkeypatch):
    """``scaled + causal_mask(n)`` made two tensor-sized copies (2 GiB at 16 × 4096²) only to show
    ``scaled`` unchanged and the mask repeated over the heads. An operand of the output's shape
    is shown as itself, one that broadcasts as a read-only view, eager or progressive; the budget
    counts neither, and their levels read only the operand's distinct values."""
    from opscope.compute.ops import row_stages
    from opscope.compute.timeline import finite_range

    r = np.random.default_rng(8)
    a, b = r.standard_normal((4, 30, 30)), r.standard_normal((30, 30))
    b[0, 1] = -np.inf
    for progressive_run in (False, True):
        monkeypatch.setattr(row_stages, "MIN_ELEMENTS", 0 if progressive_run else 10**12)
        tl = compute.stream_op("add", {"A": a, "B": b}, progressive=progressive_run)
        res = tl.result()
        assert np.shares_memory(res["A_broadcast"], a) and np.shares_memory(res["B_broadcast"], b)
        assert not res["A_broadcast"].flags.writeable and not res["B_broadcast"].flags.writeable
        np.testing.assert_array_equal(res["B_broadcast"], np.broadcast_to(b, a.shape))
        assert tl.levels["B_broadcast"] == finite_range(np, b) == (float(b[np.isfinite(b)].min()), b.max())
        t = a.transpose(0, 2, 1)  # not C-contiguous: still the array itself
        assert np.shares_memory(compute.stream_op("add", {"A": t, "B": b}, progressive=progressive_run).result()[
            "A_broadcast"], a)
    sizes = compute.api.stream_budget_sizes("add", {"A": a, "B": b}, {}, "stage")
    assert "A_broadcast" not in sizes and "B_broadcast" not in sizes  # the budget counts what is made


def test_cancel_stops_an_add_between_two_blocks(monkeypatch):
    from opscope.compute.ops import row_stages

    monkeypatch.setattr(row_stages, "MIN_ELEMENTS", 0)
    monkeypatch.setattr(row_stages, "CHUNK_ELEMENTS", 8 * 48)  # 8 blocks a stage
    held, release = threading.Event(), threading.Event()
    units = []
    real = row_stages.block_panels

    def block_panels(outputs, views, keys, stages):
        def combine(key, fn=stages[1][1]):
            units.append(key)
            if len(units) == 2:
                held.set()
                assert release.wait(30)
            fn(key)

        return real(outputs, views, keys, [stages[0], (stages[1][0], combine)])

    monkeypatch.setattr(row_stages, "block_panels", block_panels)
    a, b = np.random.default_rng(9).standard_normal((64, 48)), np.arange(48.0)
    ref = compute.stream_op("add", {"A": a, "B": b}, "stage")
    tl = compute.stream_op("add", {"A": a, "B": b}, "stage", progressive=True)
    try:
        assert held.wait(30)
        assert tl.available() == 1 and not tl.done  # the broadcast copies are shown; the sum is being made
        _same_step(tl[0], ref[0])
        assert tl.levels["B_broadcast"] == ref.levels["B_broadcast"]
        tl.cancel(wait=False)
    finally:
        release.set()
    tl.cancel()
    assert tl.done and tl.cancelled and tl.error is None
    assert len(units) == 2  # the block in hand finished; no other started
    with pytest.raises(CancelledRunError):
        tl[1]


def test_a_callers_stop_flag_stops_a_progressive_run_and_its_own_cancel_leaves_the_flag_alone(monkeypatch):
    """A product inside a program line used to poll the program's flag every 20 ms and cancel
    its run; panels kept coming in between (all of them, on a busy machine). The run's workers
    read the caller's flag themselves now."""
    gate = _Gate(monkeypatch, after=2)
    a = np.random.default_rng(4).standard_normal((2048, 64))
    flag = threading.Event()
    try:
        tl = compute.stream_op("matmul", {"A": a, "B": a.T}, granularity="stage", progressive=True, stop=flag)
        assert gate.reached.wait(30)
        flag.set()
    finally:
        gate.release.set()
    assert tl.wait(None, timeout=30) is False
    assert tl.done and tl.cancelled and gate.calls <= 4  # the panels in hand (two threads), then no more
    other = threading.Event()
    tl2 = compute.stream_op("matmul", {"A": a, "B": a.T}, granularity="stage", progressive=True, stop=other)
    tl2.cancel()
    assert not other.is_set()


def test_an_inputs_display_frame_is_reduced_once_while_the_run_goes_on(monkeypatch):
    """Mid-run, every frame re-reduced the inputs (50–125 ms an 8192² input here): only final
    values are cached, and an input's are final from the start."""
    from opscope.compute import timeline as engine_timeline

    gate = _Gate(monkeypatch, after=1)
    calls = []
    real = engine_timeline.block_reduce
    monkeypatch.setattr(engine_timeline, "block_reduce",
                        lambda xp, a, *r, **k: calls.append(a.shape) or real(xp, a, *r, **k))
    a = np.random.default_rng(6).standard_normal((1024, 256))
    tl = compute.stream_op("matmul", {"A": a, "B": a.T}, granularity="tile", progressive=True)
    try:
        assert gate.reached.wait(30) and not tl.done
        first = tl.tensor_at("A", 0, max_shape=(64, 64))
        again = tl.tensor_at("A", 0, max_shape=(64, 64))
        assert again is first and calls.count((1024, 256)) == 1
        np.testing.assert_allclose(first, a.reshape(64, 16, 64, 4).mean(axis=(1, 3)), rtol=1e-12, atol=1e-15)
    finally:
        gate.release.set()
    tl.result()


@pytest.mark.parametrize("sa, sb, tile", [((2, 300, 64), (64, 1100), (64, 64)), ((700, 32), (32, 1300), (512, 512)),
                                          ((3, 200, 16), (3, 16, 1024), (1, 1))])
def test_the_matmul_staircase_is_what_its_tasks_have_written(monkeypatch, sa, sb, tile):
    """Panels go in column pieces, one per thread (a band's pieces, then each panel's): what the
    staircase says is final at every frontier is exactly what the tasks before it wrote."""
    from opscope.compute.api import prepare
    from opscope.compute.ops import products as prod
    from opscope.compute.plans import Run

    monkeypatch.setattr(progressive, "PANEL_ROWS", 128)
    monkeypatch.setattr(progressive, "PANEL_THREADS", 2)
    r = np.random.default_rng(3)
    a, b = r.standard_normal(sa), r.standard_normal(sb)
    prep = prepare("matmul", {"A": a, "B": b}, {})
    panels = prod._matmul_progressive(prep.inputs, {}, "tile")
    res = panels.outputs["result"]
    res[...] = np.nan
    run = Run("matmul", np, dict(prep.inputs), panels.outputs, {})
    plan = compute.get_spec("matmul").plan(run, "tile", {"tile": tile})
    total = panels.bind(plan)
    assert total == len(panels.tasks)
    rows = res.reshape(-1, res.shape[-1])
    pieces = set()
    for k in range(total + 1):
        final = np.zeros(rows.shape, bool)
        for r1, c1 in panels.staircase(k):
            final[:r1, :(rows.shape[1] if c1 is None else c1)] = True
        np.testing.assert_array_equal(final, ~np.isnan(rows), err_msg=f"at frontier {k} of {total}")
        pieces.update(len(st) for st in [panels.staircase(k)])
        if k < total:
            assert panels.tasks[k](threading.Event()) is not False
    np.testing.assert_allclose(res, a @ b, rtol=1e-12, atol=1e-12)
    assert 2 in pieces  # a panel half done: whole rows above, its first column piece
