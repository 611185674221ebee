"""Big runs stream into the window (issue 10): steps appear as they are computed, a progress bar with
the time left and a Cancel button, play waits at the frontier, scrubbing stops there, an edit
cancels the run in flight, and small runs stay as they were.

A gate holds the computation before a chosen panel, so every mid-run state is deterministic (no
timing: the machine may be as slow as it likes)."""

import threading

import numpy as np
import pytest
from opscope.compute.ops import products
from opscope.compute.progressive import ProgressiveTimeline
from opscope.gui.window import workers
from opscope.gui.window.player import MAX_SPEED, format_time_left
from PySide6.QtCore import Qt

N = 2048  # 17 GFLOP: over workers.PROGRESSIVE_MIN_FLOPS, a few seconds at most here


class _Gate:
    """Holds the panel pool before its call ``after`` until released (at the latest on teardown)."""

    def __init__(self, monkeypatch, after: int):
        self.after = after
        self.calls = 0
        self.lock = threading.Lock()
        self.release = threading.Event()
        self.reached = threading.Event()
        real = products._matmul_panel

        def panel(a, b, out):
            with self.lock:
                mine = self.calls
                self.calls += 1
            if mine >= self.after:
                self.reached.set()
                self.release.wait(30)
            real(a, b, out)

        monkeypatch.setattr(products, "_matmul_panel", panel)


@pytest.fixture
def gate(monkeypatch):
    made = []

    def make(after):
        g = _Gate(monkeypatch, after)
        made.append(g)
        return g

    yield make
    for g in made:
        g.release.set()


def _inputs(seed=0):
    rng = np.random.default_rng(seed)
    return {"A": rng.standard_normal((N, N), dtype=np.float32), "B": rng.standard_normal((N, N), dtype=np.float32)}


def _held_run(qtbot, make_window, gate, after=5):
    g = gate(after)
    w = make_window(lesson=None)
    w.select_op("matmul", _inputs())
    qtbot.waitUntil(lambda: w.timeline is not None, timeout=30000)
    assert g.reached.wait(30)
    tl = w.timeline
    # Tasks before the gate may still be finishing on the other pool thread.
    qtbot.waitUntil(lambda: tl.available() > 0 and w.current_step == tl.available() - 1, timeout=30000)
    return w, tl, g


def test_a_big_run_shows_its_computed_steps_with_progress_and_cancel(qtbot, make_window, gate):
    w, tl, g = _held_run(qtbot, make_window, gate)
    assert isinstance(tl, ProgressiveTimeline) and not tl.done
    got = tl.available()
    assert 0 < got < len(tl)
    assert w.animation.progress.isVisible() and w.animation.cancel_button.isVisible()
    assert "left" in w.animation.progress.format() or "estimating" in w.animation.progress.format()
    assert not w.is_idle()  # a run is still being computed
    # Scrubbing stops at the frontier; steps before it are shown.
    w.seek(len(tl) - 1)
    assert w.wanted_step == got - 1
    w.seek(got // 2)
    qtbot.waitUntil(lambda: w.current_step == got // 2, timeout=10000)
    # Play waits at the frontier: it does not end, and never asks for a step not computed.
    w.set_speed(MAX_SPEED)
    w.play()
    qtbot.waitUntil(lambda: w.current_step == got - 1, timeout=10000)
    qtbot.wait(100)
    assert w.is_playing and w.wanted_step == got - 1
    w.pause()
    # Cancel: the run stops, what was computed stays and can be scrubbed.
    assert w.cancel_run() is True
    assert w.cancel_run() is False  # nothing in flight any more
    assert not w.animation.cancel_button.isVisible()
    g.release.set()
    qtbot.waitUntil(lambda: tl.done, timeout=30000)
    qtbot.waitUntil(w.is_idle, timeout=30000)
    assert tl.cancelled and got <= tl.available() < len(tl)
    assert "cancelled" in w.status.message.text()
    w.seek(0)
    qtbot.waitUntil(lambda: w.current_step == 0, timeout=10000)
    w.last()
    qtbot.waitUntil(lambda: w.current_step == tl.available() - 1, timeout=10000)


def test_esc_cancels_a_run_in_flight(qtbot, make_window, gate):
    w, tl, g = _held_run(qtbot, make_window, gate)
    w.activateWindow()
    qtbot.keyClick(w, Qt.Key_Escape)
    assert tl.cancelled
    g.release.set()
    qtbot.waitUntil(lambda: tl.done, timeout=30000)


def test_editing_an_input_cancels_the_run_and_starts_the_next(qtbot, make_window, gate):
    w, tl, g = _held_run(qtbot, make_window, gate)
    g.after = 10**9  # the next run is not held
    new = _inputs(1)
    w.set_input("A", new["A"])
    assert tl.cancelled  # at once, before the next run is even sent
    g.release.set()
    qtbot.waitUntil(lambda: w.timeline is not tl, timeout=60000)
    qtbot.waitUntil(w.is_idle, timeout=60000)
    assert w.timeline.done and not w.timeline.cancelled
    assert not w.animation.progress.isVisible()
    np.testing.assert_allclose(w.timeline.result()["result"][:4, :4], new["A"][:4] @ _inputs()["B"][:, :4],
                               rtol=1e-4, atol=1e-3)


def test_a_big_run_follows_its_frontier_to_the_end_and_small_runs_stay_eager(qtbot, make_window, gate):
    w, tl, g = _held_run(qtbot, make_window, gate, after=3)
    assert w.current_step == tl.available() - 1  # the newest computed step is on screen
    g.release.set()
    qtbot.waitUntil(w.is_idle, timeout=60000)
    assert tl.done and not tl.cancelled
    assert w.current_step == len(tl) - 1  # it followed the computation to the end
    assert not w.animation.progress.isVisible()
    small = make_window(lesson="matmul_2x2", autoplay=False)
    qtbot.waitUntil(small.is_idle, timeout=15000)
    assert not small.timeline.progressive
    assert small.cancel_run() is False


def test_use_progressive_threshold():
    big = workers.RunRequest(1, "matmul", _inputs())
    small = workers.RunRequest(1, "matmul", {"A": np.ones((64, 64)), "B": np.ones((64, 64))})
    softmax = workers.RunRequest(1, "softmax", {"x": np.ones((2048, 2048))})
    bad = workers.RunRequest(1, "matmul", {"A": np.ones((3, 4)), "B": np.ones((3, 4))})
    assert workers.use_progressive(big)
    assert not workers.use_progressive(small)
    assert not workers.use_progressive(softmax)  # no progressive path: eager as before
    assert not workers.use_progressive(bad)  # the eager run reports the shape error


def test_speed_box_takes_1000_and_refuses_more_with_a_message(qtbot, make_window):
    w = make_window(lesson="matmul_2x2", autoplay=False)
    box = w.animation.speed
    box.setFocus()
    box.selectAll()
    qtbot.keyClicks(box, "1000")
    qtbot.keyClick(box, Qt.Key_Return)
    assert box.value() == 1000.0
    box.selectAll()
    qtbot.keyClicks(box, "5000")
    qtbot.keyClick(box, Qt.Key_Return)
    assert box.value() == MAX_SPEED
    assert "5000" in w.animation.last_message and "1000" in w.animation.last_message


def test_time_left_text():
    assert format_time_left(None) == "estimating…"
    assert format_time_left(0.3) == "< 1 s left"
    assert format_time_left(12.4) == "~12 s left"
    assert format_time_left(600) == "~10 min left"


def test_a_big_program_streams_its_lines_with_progress_cancel_and_a_badge(qtbot, make_window, gate):
    """A program over the threshold runs progressively: the window shows its first line's computed
    tiles while the rest is still being computed, follows it to the end and verifies it; a second
    run is cancelled mid-line and keeps what was computed."""
    from opscope.compute.program.progressive import ProgressiveProgramTimeline

    text = "p = A @ B\nw = softmax(p)"
    assert workers.use_progressive(workers.RunRequest(1, None, _inputs(), program=text))
    assert not workers.use_progressive(workers.RunRequest(1, None, {"A": np.ones((8, 8)), "B": np.ones((8, 8))},
                                                          program=text))
    g = gate(4)
    w = make_window(lesson=None)
    w.show_program(text, _inputs(), {"p": "tile"}, autoplay=False)
    qtbot.waitUntil(lambda: isinstance(w.timeline, ProgressiveProgramTimeline), timeout=30000)
    tl = w.timeline
    assert g.reached.wait(30)
    qtbot.waitUntil(lambda: tl.available() > 0 and w.current_step == tl.available() - 1, timeout=30000)
    assert not tl.done and tl.available() < tl.part("p").start + len(tl.part("p"))
    assert w.animation.progress.isVisible() and w.animation.cancel_button.isVisible()
    assert w.status.verified.text() == "checked when computed"  # not "verifying…" while it computes
    w.seek(len(tl) - 1)
    assert w.wanted_step == tl.available() - 1  # scrubbing stops at the frontier
    # Saving what is not computed yet would wait on the GUI thread: refused, with the reason.
    w.files._show_message = lambda *a: None
    assert not w.files.save_run("/tmp/opscope-never-written.npz")
    assert "still being computed" in w.files.last_error
    assert not w.files.save_tensor("w", "/tmp/opscope-never-written.npy")
    assert w.files.save_tensor("A", "/tmp/opscope-test-input.npy")  # inputs are there already
    g.release.set()
    qtbot.waitUntil(w.is_idle, timeout=60000)
    assert tl.done and not tl.cancelled
    w.last()  # the scrub above stopped following the frontier; every step is there now
    qtbot.waitUntil(lambda: w.current_step == len(tl) - 1, timeout=30000)
    qtbot.waitUntil(lambda: w.status.verified.text().startswith(("✓", "⚠", "not verified")), timeout=60000)
    assert w.status.verified.text().startswith("✓")
    assert not w.animation.progress.isVisible()
    # Lines computed after the board was built started at levels (0, 1): their views follow.
    from opscope.gui import colormaps as cm

    assert w.canvas.views_of("w")
    for name in ("p", "w"):
        for view in w.canvas.views_of(name):
            assert view.levels() == cm.display_levels(tl.levels[name])
    assert cm.display_levels(tl.levels["p"]) != (0.0, 1.0)

    g2 = gate(2)
    w.show_program(text, _inputs(2), {"p": "tile"}, autoplay=False)
    qtbot.waitUntil(lambda: w.timeline is not tl and isinstance(w.timeline, ProgressiveProgramTimeline),
                    timeout=30000)
    tl2 = w.timeline
    assert g2.reached.wait(30)
    assert w.cancel_run() is True
    g2.release.set()
    qtbot.waitUntil(lambda: tl2.done, timeout=30000)
    qtbot.waitUntil(w.is_idle, timeout=30000)
    assert tl2.cancelled and tl2.available() < len(tl2)
    assert "cancelled" in w.status.message.text()


@pytest.mark.parametrize("program", [None, "y = x * 2\nz = y @ x.T"])
def test_the_run_worker_reduces_the_inputs_display_frames_before_handing_a_run_over(monkeypatch, program):
    """The GUI thread's first open of the transformer block at seq 4096 spent ~70 ms of its ~90 ms
    on block means of the inputs (X, W1, W2, the projections); the run worker makes them now, and
    the first frame finds them in the timeline's display cache."""
    from opscope.compute import timeline as engine_timeline
    from opscope.gui.canvas.canvas import DEFAULT_MAX_SHAPE

    x = np.random.default_rng(0).standard_normal((1100, 700))
    inputs = {"x": x} if program else {"A": x, "B": x.T}
    req = workers.RunRequest(1, "matmul", inputs, program=program)
    worker = workers.ComputeWorker()
    worker.latest_run_id = 1
    got, where = [], []
    worker.run_finished.connect(lambda rid, tl: got.append(tl))
    real = engine_timeline.block_reduce
    monkeypatch.setattr(engine_timeline, "block_reduce", lambda xp, a, *r, **k: where.append(a.shape) or real(
        xp, a, *r, **k))
    worker.compute(req)
    assert got and (1100, 700) in where
    where.clear()
    tl = got[0]
    name = "x" if program else "A"
    frame = tl.tensor_at(name, 0, max_shape=DEFAULT_MAX_SHAPE)
    assert (1100, 700) not in where  # the worker's reduction, from the cache
    np.testing.assert_array_equal(frame, real(np, x, DEFAULT_MAX_SHAPE))  # 3 × 2 block means: 367 × 350
