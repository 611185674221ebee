"""Progressive programs: stream_program(..., progressive=True) returns at once and fills in, line by
line (issue 10's contract for programs), and the plan-ahead it rests on (compute.api.plan_ahead,
opshapes.output_shapes, the dtype walk) agrees with real runs."""

import gc
import threading

import numpy as np
import pytest
from opscope import compute
from opscope.compute.api import plan_ahead
from opscope.compute.errors import ShapeError
from opscope.compute.ops import products
from opscope.compute.program import evaluate
from opscope.compute.program import timeline as program_timeline
from opscope.compute.program.lessons import program_lessons
from opscope.compute.program.mistakes import mistakes
from opscope.compute.program.opshapes import output_shapes
from opscope.compute.program.progressive import ProgressiveProgramTimeline
from opscope.compute.progressive import CancelledRunError
from opscope.compute.registry import get_spec, operations

_R = np.random.default_rng(3)


def _n(*s):
    return _R.standard_normal(s)


#: Operation calls beyond the examples: broadcast, batched, optional inputs, params that change
#: which outputs exist (batchnorm's running statistics) or their shapes (softmax's axis).
CASES = [
    ("dot", {"a": _n(2, 3), "b": _n(3)}, {}),
    ("cosine", {"a": _n(3), "b": _n(2, 3)}, {"axis": 0}),
    ("linear", {"X": _n(2, 5, 3), "W": _n(4, 3), "b": _n(4)}, {}),
    ("hadamard", {"A": _n(2, 1, 3), "B": _n(4, 1)}, {}),
    ("add", {"A": _n(3), "B": _n(2, 1)}, {}),
    ("mean", {"X": _n(2, 3, 4)}, {"axis": 1, "keepdims": True}),
    ("norm", {"X": _n(2, 3, 4)}, {"axis": (0, 2)}),
    ("softmax", {"X": _n(2, 3, 4)}, {"axis": 1}),
    ("layernorm", {"X": _n(2, 3, 4), "gamma": _n(3, 4), "beta": _n(3, 4)}, {}),
    ("rmsnorm", {"X": _n(2, 3, 4), "gamma": _n(4)}, {}),
    ("batchnorm", {"X": _n(5, 3, 2)}, {}),
    ("batchnorm", {"X": _n(5, 3), "running_mean": _n(3), "running_var": np.abs(_n(3))}, {}),
    ("batchnorm", {"X": _n(5, 3), "running_mean": _n(3), "running_var": np.abs(_n(3))}, {"training": False}),
    ("attention", {"Q": _n(2, 4, 3), "K": _n(5, 3), "V": _n(1, 5, 2)}, {"mask": "causal"}),
    ("attention", {"Q": _n(2, 4, 3), "K": _n(2, 5, 3), "V": _n(2, 5, 2), "mask": np.zeros((4, 5))}, {}),
    ("mha", {"X": _n(2, 4, 8), "W_q": _n(8, 8), "W_k": _n(8, 8), "W_v": _n(8, 6), "W_o": _n(6, 8)},
     {"num_heads": 2}),
    ("mha", {"query": _n(3, 8), "key": _n(5, 8), "W_q": _n(8, 4), "W_k": _n(8, 4), "W_v": _n(8, 4),
             "W_o": _n(4, 8), "b_q": _n(4)}, {"num_heads": 4}),
    ("matmul", {"A": _n(300, 200).astype(np.float32), "B": _n(200, 100).astype(np.float32)}, {}),
] + [(s.name, s.example(), {}) for s in operations()]


@pytest.mark.parametrize("op, inputs, params", CASES, ids=[c[0] for c in CASES])
def test_output_shapes_are_run_ops_in_its_order(op, inputs, params):
    spec = get_spec(op)
    shapes = {k: np.shape(v) for k, v in inputs.items()}
    got = output_shapes(spec, shapes, spec.check(shapes, spec.validate_params(params)))
    want = {k: np.shape(v) for k, v in compute.run_op(op, inputs, **params).items()}
    assert list(got.items()) == list(want.items())


@pytest.mark.parametrize("op, inputs, params", CASES, ids=[c[0] for c in CASES])
def test_plan_ahead_is_the_real_timeline_without_values(op, inputs, params):
    spec = get_spec(op)
    shapes = {k: np.shape(v) for k, v in inputs.items()}
    dtypes = {k: np.asarray(v).dtype for k, v in inputs.items()}
    for g in (None,) + spec.granularities:
        for opts in ({}, {"tile": 2}, {"kblock": 2}):
            real = compute.stream_op(op, inputs, g, **opts, **params)
            planned = plan_ahead(op, shapes, dtypes, g, **opts, **params)
            names = real.tensor_names
            assert (len(planned), planned.granularity, planned.options, planned.tensor_names, planned.flops) == \
                (len(real), real.granularity, real.options, names, real.flops)
            assert [planned.shape(n) for n in names] == [real.shape(n) for n in names]
            assert [planned.dtype(n) for n in names] == [real.dtype(n) for n in names]
            assert [planned.is_written(n) for n in names] == [real.is_written(n) for n in names]
            assert [planned.first_step_writing(n) for n in names] == [real.first_step_writing(n) for n in names]


def _program_cases():
    cases = [(f"lesson-{L.slug}", L.text, {**L.inputs, **L.params}, L.granularity) for L in program_lessons()]
    for m in mistakes():
        cases.append((f"mistake-{m.slug}-right", m.right, {**m.inputs, **m.params}, None))
        if not m.wrong_raises:
            cases.append((f"mistake-{m.slug}-wrong", m.wrong, {**m.inputs, **m.params}, None))
    r = np.random.default_rng(0)
    # Dtypes decide what a line is: a bool mask times float32 is one stage step; float32 + 1 is
    # the engine's add (the 1 is weak); bool + bool stays bool.
    cases.append(("dtypes", "m2 = mask * s\nt = s + 1\nu = t * t\nv = mask + mask\nw = u @ u",
                  {"mask": r.random((3, 3)) > 0.5, "s": r.standard_normal((3, 3)).astype(np.float32)}, None))
    cases.append(("chain", "a = x @ y\nb = relu(a) * 2\nc = softmax(b)\nd = layernorm(c, g, be)\ne = d.T @ d",
                  {"x": r.standard_normal((5, 4)), "y": r.standard_normal((4, 6)), "g": np.ones(6),
                   "be": np.zeros(6)}, {"a": "tile"}))
    return [pytest.param(text, inputs, granularity, id=name) for name, text, inputs, granularity in cases]


@pytest.mark.parametrize("text, inputs, granularity", _program_cases())
def test_progressive_program_equals_the_eager_one_at_every_step(text, inputs, granularity):
    eager = compute.stream_program(text, inputs, granularity=granularity)
    tl = compute.stream_program(text, inputs, granularity=granularity, progressive=True)
    assert isinstance(tl, ProgressiveProgramTimeline) and tl.progressive
    names = eager.tensor_names
    assert (len(tl), tl.tensor_names, tl.granularities, tl.options) == \
        (len(eager), names, eager.granularities, eager.options)
    assert [tl.shape(n) for n in names] == [eager.shape(n) for n in names]
    assert [tl.dtype(n) for n in names] == [eager.dtype(n) for n in names]
    assert [tl.first_step_writing(n) for n in names] == [eager.first_step_writing(n) for n in names]
    for n in range(len(eager)):
        s, r = tl[n], eager[n]
        assert (s.index, s.total, s.stage, s.caption, s.regions) == (r.index, r.total, r.stage, r.caption, r.regions)
        for t in names:
            np.testing.assert_array_equal(tl.tensor_at(t, n), eager.tensor_at(t, n))
    got, want = tl.result(), eager.result()
    assert got.keys() == want.keys()
    for k in want:
        np.testing.assert_array_equal(got[k], want[k])
    assert tl.done and tl.available() == len(tl) and tl.progress() == 1.0 and not tl.cancelled
    assert tl.notices == eager.notices
    assert [tl.levels[t] for t in names] == [eager.levels[t] for t in names]
    assert not tl.thread.is_alive()


class _LineGate:
    """Holds a progressive run's worker before it computes line ``line`` until released (eager
    runs, on the test's own thread, pass)."""

    def __init__(self, monkeypatch, line: str):
        self.release = threading.Event()
        self.reached = threading.Event()
        real = program_timeline.LineBuilder.build

        def build(builder, ln, start, ev, env, progressive=False):
            if ln.name == line and progressive:
                self.reached.set()
                assert self.release.wait(30)
            return real(builder, ln, start, ev, env, progressive)

        monkeypatch.setattr(program_timeline.LineBuilder, "build", build)


PROGRAM = "s = x @ y\nw = softmax(s)\nz = w @ y.T"


def _xy():
    r = np.random.default_rng(5)
    return {"x": r.standard_normal((6, 4)), "y": r.standard_normal((4, 5))}


def test_it_returns_before_any_line_is_computed_and_fills_in(monkeypatch):
    gate = _LineGate(monkeypatch, "s")
    tl = compute.stream_program(PROGRAM, _xy(), progressive=True)
    eager = compute.stream_program(PROGRAM, _xy())
    assert gate.reached.wait(30)
    assert len(tl) == len(eager) and tl.tensor_names == eager.tensor_names  # planned before computing
    assert tl.available() == 0 and not tl.done and tl.progress() == 0.0
    assert tl.wait(0, timeout=0.01) is False
    assert np.isnan(tl.tensor_at("w", 0)).all()  # a later line's tensor: empty, at once
    np.testing.assert_array_equal(tl.tensor_at("x", 0), eager.tensor_at("x", 0))
    assert tl.levels["w"] == (0.0, 1.0)  # not computed: neutral levels, not a pass over zeros
    gate.release.set()
    seen = [tl.available()]
    while not tl.done:
        seen.append(tl.available())
    tl.result()
    seen.append(tl.available())
    assert seen == sorted(seen) and seen[-1] == len(tl)
    assert tl.wait(len(tl) - 1) and tl.time_left() == 0.0


def test_cancel_between_lines_keeps_the_finished_ones(monkeypatch):
    gate = _LineGate(monkeypatch, "w")
    tl = compute.stream_program(PROGRAM, _xy(), progressive=True)
    eager = compute.stream_program(PROGRAM, _xy())
    assert gate.reached.wait(30)
    tl.cancel(wait=False)
    gate.release.set()
    tl.cancel()
    assert tl.done and tl.cancelled and tl.error is None and not tl.thread.is_alive()
    got = tl.available()
    first_z = tl.part("z").start
    assert eager.part("s").start < got <= first_z  # s (and the line being computed) stay; z never started
    last = got - 1
    assert tl[last].caption == eager[last].caption
    np.testing.assert_array_equal(tl.tensor_at("s", last), eager.tensor_at("s", last))
    assert tl.wait(last) and not tl.wait(len(tl) - 1)
    with pytest.raises(CancelledRunError, match="cancelled"):
        tl[len(tl) - 1]
    with pytest.raises(CancelledRunError):
        tl.tensor_at("z", len(tl) - 1)
    with pytest.raises(CancelledRunError):
        tl.result()
    assert 0 < tl.progress() < 1


def test_cancel_stops_a_streamed_line_within_a_panel(monkeypatch):
    calls = []
    hold = threading.Event()
    real = products._matmul_panel

    def panel(a, b, out):
        calls.append(1)
        if len(calls) == 3:
            hold.set()
        real(a, b, out)

    monkeypatch.setattr(products, "_matmul_panel", panel)
    r = np.random.default_rng(1)
    a = r.standard_normal((2048, 256))
    tl = compute.stream_program("p = a @ a.T\nq = p + 1", {"a": a}, granularity={"p": "tile"}, progressive=True)
    assert hold.wait(60)
    tl.cancel()
    assert tl.done and tl.cancelled and not tl.thread.is_alive()
    assert 0 < tl.available() < tl.part("p").start + len(tl.part("p"))
    assert tl.part("p").timeline.cancelled  # the line's own panels stopped, not only later lines


def test_errors_surface_on_wait_and_result(monkeypatch):
    real = program_timeline.LineBuilder.build

    def build(builder, ln, start, ev, env, progressive=False):
        if ln.name == "z":
            raise ShapeError("z: injected failure")
        return real(builder, ln, start, ev, env, progressive)

    monkeypatch.setattr(program_timeline.LineBuilder, "build", build)
    tl = compute.stream_program(PROGRAM, _xy(), progressive=True)
    with pytest.raises(ShapeError, match="injected"):
        tl.result()
    assert tl.done and isinstance(tl.error, ShapeError) and not tl.cancelled
    assert tl.available() == tl.part("z").start  # the lines before the failure stay readable
    tl[tl.available() - 1]
    with pytest.raises(ShapeError, match="injected"):
        tl.wait(len(tl) - 1)
    with pytest.raises(ShapeError):
        tl[len(tl) - 1]


def test_bad_programs_fail_before_anything_starts():
    with pytest.raises(ShapeError, match=r"x @ x"):
        compute.stream_program("s = x @ x", {"x": np.ones((2, 3))}, progressive=True)
    with pytest.raises(compute.ParamError, match="granularity"):
        compute.stream_program(PROGRAM, _xy(), granularity={"w": "tile"}, progressive=True)
    compute.set_memory_budget(1 << 20)
    try:
        with pytest.raises(compute.BudgetError):
            compute.stream_program("p = a @ a.T", {"a": np.zeros((2048, 64))}, progressive=True)
    finally:
        compute.set_memory_budget(None)
    assert not [t for t in threading.enumerate() if t.name.startswith("opscope-progressive-program")]


def test_garbage_collected_program_stops_its_thread(monkeypatch):
    gate = _LineGate(monkeypatch, "w")
    tl = compute.stream_program(PROGRAM, _xy(), progressive=True)
    thread = tl.thread
    assert gate.reached.wait(30)
    del tl
    gc.collect()
    gate.release.set()
    thread.join(30)  # the finalizer set the stop flag: no line after the current one starts
    assert not thread.is_alive()


def test_program_flops_counts_calls_products_and_elements():
    shapes = {"Q": (2, 4, 3), "K": (2, 4, 3), "V": (2, 4, 3)}
    text = "s = Q @ K.T\nw = softmax(s)\no = attention(Q, K, V)"
    want = 2 * (2 * 4 * 4) * 3 + compute.get_spec("softmax").flops({"X": (2, 4, 4)}, {"axis": -1, "temperature": 1.0})
    want += compute.get_spec("attention").flops(shapes, {"mask": None, "scale": None})
    assert compute.program.program_flops(text, shapes) == want
    with pytest.raises(ShapeError):
        compute.program.program_flops("s = Q @ K", shapes)


def test_a_big_product_inside_a_line_is_computed_by_panels_with_the_same_numbers(monkeypatch):
    # relu(a @ b + c) is one stage step, not a matmul line: its product is the engine's progressive
    # one when the run can be stopped (float64 panels are bitwise the whole product's).
    monkeypatch.setattr(evaluate, "STOPPABLE_MATMUL_FLOPS", 1)
    r = np.random.default_rng(3)
    inputs = {"a": r.standard_normal((300, 40)), "b": r.standard_normal((40, 20)), "c": r.standard_normal(20)}
    text = "f = relu(a @ b + c)\ng = f + 1"
    eager = compute.stream_program(text, inputs)
    calls = []
    real = products._matmul_panel
    monkeypatch.setattr(products, "_matmul_panel", lambda a, b, out: (calls.append(1), real(a, b, out)))
    tl = compute.stream_program(text, inputs, progressive=True)
    for k, v in eager.result().items():
        np.testing.assert_array_equal(tl.result()[k], v)
    assert calls  # the panels computed it
    assert tl.notices == eager.notices


def test_cancel_stops_a_big_product_inside_a_line_within_a_panel(monkeypatch):
    """relu(h @ W1 + c1) of the transformer block at seq 4096 × d_model 1024 cost a cancel ~0.47 s
    (the whole product); it is given up within one of its panels now, as a matmul line's."""
    monkeypatch.setattr(evaluate, "STOPPABLE_MATMUL_FLOPS", 1)
    calls = []
    hold, release = threading.Event(), threading.Event()
    real = products._matmul_panel

    def panel(a, b, out):
        calls.append(1)
        if len(calls) == 2:
            hold.set()
            release.wait(30)
        real(a, b, out)

    monkeypatch.setattr(products, "_matmul_panel", panel)
    r = np.random.default_rng(1)
    a = r.standard_normal((2048, 256))
    tl = compute.stream_program("f = relu(a @ a.T + 1)\ng = f + 1", {"a": a}, progressive=True)
    assert hold.wait(60)
    tl.cancel(wait=False)
    release.set()
    tl.cancel()
    assert tl.done and tl.cancelled and tl.error is None and not tl.thread.is_alive()
    assert tl.available() == 0  # the line never finished; nothing of it or of g shows
    stopped = len(calls)
    compute.stream_op("matmul", {"A": a, "B": a.T}, granularity="stage", progressive=True).result()
    assert stopped < len(calls) - stopped  # its panels stopped: fewer than a whole product's
    with pytest.raises(CancelledRunError):
        tl.result()


def test_cancel_stops_a_softmax_line_between_chunks_of_rows(monkeypatch):
    """weights = softmax(scores) over 16 × 4096² float32 was computed whole, ~1 s, before a cancel
    could land; its stages now go a chunk of rows at a time, and their steps show as they finish."""
    from opscope.compute.ops import row_stages

    monkeypatch.setattr(row_stages, "MIN_ELEMENTS", 0)
    monkeypatch.setattr(row_stages, "CHUNK_ELEMENTS", 8 * 32)  # 8 rows a chunk
    chunks = []
    hold, release = threading.Event(), threading.Event()
    real = row_stages.stage_panels

    def stage_panels(outputs, rows, per_row, stages, lead):
        def divide(r0, r1, fn=stages[3][1]):
            chunks.append(r0)
            if len(chunks) == 3:
                hold.set()
                assert release.wait(30)
            fn(r0, r1)

        return real(outputs, rows, per_row, [*stages[:3], (stages[3][0], divide)], lead)

    monkeypatch.setattr(row_stages, "stage_panels", stage_panels)
    s = np.random.default_rng(3).standard_normal((2, 64, 32))
    text = "w = softmax(s)\nv = w + 1"
    ref = compute.stream_program(text, {"s": s})
    tl = compute.stream_program(text, {"s": s}, progressive=True)
    try:
        assert hold.wait(60)
        assert tl.wait(2, timeout=30)  # the program's worker publishes the line as its chunks run
        assert tl.available() == 3 and not tl.done  # shifted, exp, sum of the line; not its result
        for n in range(3):
            assert tl[n].caption == ref[n].caption
            np.testing.assert_array_equal(tl.tensor_at("w.exp", n), ref.tensor_at("w.exp", n))
        tl.cancel(wait=False)
    finally:
        release.set()
    tl.cancel()
    assert tl.done and tl.cancelled and tl.error is None and not tl.thread.is_alive()
    assert len(chunks) == 3 and tl.available() == 3  # no chunk after the cancel; nothing of v
    with pytest.raises(CancelledRunError):
        tl.result()


@pytest.mark.parametrize("progressive", [False, True])
def test_a_step_reads_its_levels_after_its_program_timeline_is_dropped(progressive):
    # The levels no longer refer to the timeline (a cycle that kept its tensors alive); a step,
    # which holds them, must still read them.
    x = np.arange(6.0).reshape(2, 3)
    tl = compute.stream_program("s = x @ x.T\nw = softmax(s)", {"x": x}, progressive=progressive)
    tl.result()
    step, want = tl[len(tl) - 1], dict(tl.levels)
    del tl
    gc.collect()
    assert dict(step.levels) == want and step.levels["w"] == want["w"]


def test_the_worker_computes_the_levels_of_the_tensors_each_line_owns_once(monkeypatch):
    """``scaled = scores / sqrt(d)`` reads ``scores``: its levels are the scores line's, and the
    worker's pass over them again for the scaled line cost 0.2 s at 16 × 4096²."""
    from opscope.compute import timeline as engine_timeline

    seen = []
    real = engine_timeline.finite_levels
    monkeypatch.setattr(engine_timeline, "finite_levels", lambda xp, a: seen.append(a.shape) or real(xp, a))
    r = np.random.default_rng(0)
    x = r.standard_normal((6, 5))
    text = "s = x / 2\nt = s / 3\nu = t - s"  # stage lines: each owns its value only
    tl = compute.stream_program(text, {"x": x}, progressive=True)
    tl.result()
    assert len(seen) == 3  # s, t and u, each once; not x, s or t again as a later line's operand
    ref = compute.stream_program(text, {"x": x})
    assert {k: tl.levels[k] for k in ("s", "t", "u")} == {k: ref.levels[k] for k in ("s", "t", "u")}
