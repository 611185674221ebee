"""The event loop never stalls: while a 4096² matmul is computed, streamed, played, scrubbed and
recomputed, nothing holds the GUI thread for long (ARCHITECTURE §3: a 5 ms heartbeat paused at most
15–45 ms with compute in a worker, 320–880 ms with the same compute on the GUI thread).

What is asserted is what *our code* does to the GUI thread, not what the machine does to it. A 5 ms
heartbeat timer samples the GUI thread at every beat; for each gap between two beats it takes

* **cpu**: the GUI thread's own CPU time (``time.thread_time``): the work the event loop did instead
  of beating (our slots, painting, layout, Qt itself). Time the thread spent preempted by other
  processes is not in it (contention still slows the work itself, see :data:`GOAL_CPU_S`), yet a
  slot that computes for 200 ms shows as 200 ms. Bound: :data:`MAX_CPU_S` while the run streams,
  plays, is scrubbed and is recomputed, :data:`MAX_BOARD_CHANGE_CPU_S` while a new board is built
  and first painted (a known debt, see there); gaps over the 50 ms product goal
  (:data:`GOAL_CPU_S`) are counted in the report.
* **blocked**: the wall-clock gap minus that CPU time, minus the time the thread was runnable but
  waiting for a core (its run-queue delay, Linux ``/proc/self/task/<tid>/schedstat``), minus the
  time other threads of this process waited for a core meanwhile (a worker that holds the GIL and
  is preempted makes the GUI thread wait because of the machine), minus the heartbeat's own
  interval. What is left is time the GUI thread was kept waiting by our code: for the GIL held by a
  worker (ARCHITECTURE §3: keep workers in vectorized numpy), a lock, a worker. Bound:
  :data:`MAX_BLOCKED_S`.
* **wall**: the plain wall-clock gap, reported for information only: on a loaded 2-core machine the
  scheduler alone stretches it past 100 ms (144–482 ms seen here in runs that passed every bound).

The worst gaps name the window's state and our handler calls in them (the clock tick, the frame,
run and slider handlers, the operation change and the view pool's build step are wrapped to time
each call), so a failure says which handler to look at.

The ``test_detector_*`` tests prove the measure catches what it is for, on a small run: a slot
that computes 150 ms on the GUI thread, and a worker that holds the GIL for 150 ms.
"""

from __future__ import annotations

import ctypes
import functools
import gc
import os
import threading
import time

import numpy as np
import pytest
from opscope import gui  # noqa: F401  (PySide6 before pyqtgraph)
from opscope.gui.canvas.pool import ViewPool, shared_pool
from opscope.gui.window import MainWindow
from opscope.gui.window import player as player_module
from opscope.gui.window import workers as workers_module
from PySide6.QtCore import Qt, QTimer

#: The matmul's side. OPSCOPE_RESPONSIVENESS_N=8192 measures the product's own case (issue 10's
#: heartbeat goal, minutes of run time on 2 cores): the same bounds, read in the printed report.
N = int(os.environ.get("OPSCOPE_RESPONSIVENESS_N", "4096"))
HEARTBEAT_MS = 5
#: The product goal for a stall (ARCHITECTURE §3): the GUI thread busy at most 50 ms at a time.
#: Reported (gaps over it are counted), not asserted: the GUI thread's CPU time for the same work
#: grows 1.5–2.5× on this 2-core VM when neighbours load it (a fixed numpy + Python workload: 3.2 ms
#: to 8.1 ms; the pool's build step 17 to 36 ms; painting a played frame 25–40 to 53 ms), so a 50 ms
#: bound on 25–45 ms of work fails under load, the defect this test was rewritten to remove.
GOAL_CPU_S = 0.050
#: Longest the GUI thread may compute between two heartbeats while the run streams, plays, is
#: scrubbed and recomputed: the bound the wall-clock heartbeat had, now on our own CPU time only,
#: so for these gaps never looser than before (a gap's CPU time is at most its wall time).
MAX_CPU_S = 0.100
#: ...except while the board changes: from choosing an operation or a run landing on a new canvas
#: until the first frame of that run has been painted. Measured here: 30–40 ms in
#: ``_on_run_finished`` for a 4096² matmul board (it was 75–200 ms before views stopped carrying
#: pyqtgraph's menus and colour bars, and the placeholder stopped being quantized), 50–120 ms for
#: the whole change with the first paint sharing its turn. A debt against the 50 ms goal: bring
#: this down to MAX_CPU_S once a board is built and first painted in steps. A rerun on the same
#: board (20–30 ms) is held to MAX_CPU_S.
MAX_BOARD_CHANGE_CPU_S = 0.200
#: Longest the GUI thread may be kept waiting (GIL, locks) between two heartbeats, not counting
#: the machine's doing.
MAX_BLOCKED_S = 0.050

#: The handlers that run on the GUI thread, timed per call for the report: (class, method name).
GUI_HANDLERS = (
    (MainWindow, "select_op"),
    (MainWindow, "_on_run_finished"),
    (MainWindow, "_on_run_failed"),
    (MainWindow, "_on_frame_ready"),
    (MainWindow, "_send_run"),
    (MainWindow, "_request_frame"),
    (MainWindow, "_run_advanced"),
    (MainWindow, "_run_ended"),
    (MainWindow, "cancel_run"),
    (player_module.RunProgress, "poll"),
    (player_module.PlayerClock, "_tick"),
    (player_module.AnimationPanel, "_slider_moved"),
    (ViewPool, "_build_one"),
)


class _RunQueueDelay:
    """Seconds this process's threads spent runnable but not running (waiting for a core), from
    Linux's ``/proc/self/task/<tid>/schedstat``; ``available`` is False elsewhere."""

    def __init__(self):
        self.available = os.path.exists(f"/proc/self/task/{threading.get_native_id()}/schedstat")

    @staticmethod
    def _read(tid) -> float | None:
        try:
            with open(f"/proc/self/task/{tid}/schedstat", "rb") as f:
                return int(f.read().split()[1]) * 1e-9
        except (OSError, IndexError, ValueError):
            return None  # the thread has ended

    def sample(self) -> tuple[float, dict[str, float]]:
        """(this thread's delay, {other thread id: its delay})."""
        if not self.available:
            return 0.0, {}
        me = str(threading.get_native_id())
        own, others = 0.0, {}
        for tid in os.listdir("/proc/self/task"):
            d = self._read(tid)
            if d is None:
                continue
            if tid == me:
                own = d
            else:
                others[tid] = d
        return own, others


class GuiThreadMonitor:
    """A heartbeat on the GUI thread that measures, for every gap between consecutive beats, the GUI
    thread's CPU time and the time it was kept waiting by our code (see the module docstring), and
    keeps the worst of each with the window's state and our handler calls in that gap."""

    def __init__(self, window=None, interval_ms: int = HEARTBEAT_MS):
        self.window = window
        self.interval = interval_ms / 1000
        self.timer = QTimer()
        self.timer.setInterval(interval_ms)
        self.timer.setTimerType(Qt.PreciseTimer)
        self.timer.timeout.connect(self._beat)
        self.delays = _RunQueueDelay()
        self.gui_thread = threading.get_ident()
        self.beats = 0
        self.worst = {"cpu": 0.0, "board_cpu": 0.0, "blocked": 0.0, "wall": 0.0}
        #: The GUI thread's own CPU time in the gap where it was kept waiting longest.
        self.cpu_when_most_blocked = 0.0
        self.where = dict.fromkeys(self.worst, "none")
        self.machine_wait = 0.0  # the GUI thread's run-queue delay, in all
        self.handlers: dict[str, tuple[float, float, int]] = {}  # name -> worst cpu, worst wall, calls
        self.off_thread: set[str] = set()  # GUI handlers that ran in another thread
        self.over_goal = 0  # gaps outside board changes with more CPU than GOAL_CPU_S
        self._calls: list[tuple[str, float, float]] = []
        self._depth = 0
        self._last = None
        self._canvas = None
        self._board_change = ""  # "" (none), "until frame", "its paint"

    # sampling
    def _sample(self):
        own, others = self.delays.sample()
        return time.perf_counter(), time.thread_time(), own, others

    def start(self):
        self._last = self._sample()
        self._calls = []
        self._canvas = self.window.canvas if self.window is not None else None
        self.timer.start()

    def stop(self):
        self.timer.stop()

    def _beat(self):
        now = self._sample()
        (wall0, cpu0, own0, others0), (wall1, cpu1, own1, others1) = self._last, now
        self._last = now
        self.beats += 1
        wall, cpu, own_wait = wall1 - wall0, cpu1 - cpu0, own1 - own0
        self.machine_wait += own_wait
        # Off the CPU and not waiting for one: sleeping in the event loop until the next beat was
        # due, or waiting for another thread. Only that part of the gap can have been spent waiting
        # for another thread of ours that was itself waiting for a core (a preempted GIL holder).
        off = max(0.0, wall - cpu - own_wait)
        others_wait = sum(max(0.0, d - others0.get(tid, d)) for tid, d in others1.items())
        blocked = max(0.0, off - others_wait - self.interval)
        calls, self._calls = self._calls, []
        board = self._track_board_change(calls)
        self.over_goal += not board and cpu > GOAL_CPU_S
        for key, value in (("board_cpu" if board else "cpu", cpu), ("blocked", blocked), ("wall", wall)):
            if value > self.worst[key]:
                self.worst[key] = value
                self.where[key] = self._describe(wall, cpu, blocked, own_wait, calls)
                if key == "blocked":
                    self.cpu_when_most_blocked = cpu

    def _track_board_change(self, calls) -> bool:
        """Whether this gap belongs to a board change: an operation chosen, or a new canvas, until
        one gap after the one where the first frame of the new run was applied (its paint)."""
        names = {name for name, _c, _t in calls}
        canvas = self.window.canvas if self.window is not None else None
        if "MainWindow.select_op" in names or canvas is not self._canvas:
            self._canvas = canvas
            self._board_change = "until frame"
        elif self._board_change == "its paint":
            self._board_change = ""
            return True
        if self._board_change == "until frame" and "MainWindow._on_frame_ready" in names and (
                canvas is not None and canvas.current_index >= 0):
            self._board_change = "its paint"
        return bool(self._board_change)

    def _describe(self, wall, cpu, blocked, own_wait, calls) -> str:
        w = self.window
        state = f"step {w.current_step}, busy={w.is_busy}, playing={w.is_playing}" if w is not None else ""
        top = sorted(calls, key=lambda c: -c[1])[:3]
        handlers = ", ".join(f"{name} {c * 1e3:.0f}/{t * 1e3:.0f}" for name, c, t in top) or "none of ours"
        return (f"wall {wall * 1e3:.0f}, cpu {cpu * 1e3:.0f}, blocked {blocked * 1e3:.0f}, waiting for a core "
                f"{own_wait * 1e3:.0f} ms at {state}; handlers (cpu/wall ms): {handlers}")

    # handler timing
    def wrap(self, monkeypatch, cls, name):
        """Time every outermost call of ``cls.name`` (patch before the objects connect to it)."""
        original = getattr(cls, name)
        label = f"{cls.__name__}.{name}"
        monitor = self

        # functools.wraps keeps __name__: PySide6 treats a function set on a class as the
        # receiver's method (queued to the receiver's thread) only when the names match.
        @functools.wraps(original)
        def timed(*args, **kwargs):
            if threading.get_ident() != monitor.gui_thread:
                monitor.off_thread.add(label)
                return original(*args, **kwargs)
            if monitor._depth:
                return original(*args, **kwargs)
            monitor._depth += 1
            c, t = time.thread_time(), time.perf_counter()
            try:
                return original(*args, **kwargs)
            finally:
                monitor._depth -= 1
                cpu, wall = time.thread_time() - c, time.perf_counter() - t
                monitor._calls.append((label, cpu, wall))
                worst_cpu, worst_wall, n = monitor.handlers.get(label, (0.0, 0.0, 0))
                monitor.handlers[label] = (max(worst_cpu, cpu), max(worst_wall, wall), n + 1)

        monkeypatch.setattr(cls, name, timed)

    # the verdict
    def report(self) -> str:
        def ms(key):
            return f"{self.worst[key] * 1e3:.1f} ms [{self.where[key]}]"

        handlers = ", ".join(f"{k} {c * 1e3:.0f}/{t * 1e3:.0f} ms ×{n}"
                             for k, (c, t, n) in sorted(self.handlers.items()))
        return (f"{self.beats} beats. Worst GUI-thread CPU between beats {ms('cpu')}; while the board changed "
                f"{ms('board_cpu')}; worst blocked {ms('blocked')}; worst wall-clock gap (information) "
                f"{ms('wall')}; {self.over_goal} gaps outside board changes over the {GOAL_CPU_S * 1e3:.0f} ms "
                f"goal; the GUI thread waited {self.machine_wait * 1e3:.0f} ms in all for a core. "
                f"Worst call of each handler (cpu/wall): {handlers}")

    def failures(self, min_beats: int = 100) -> list[str]:
        """What is wrong, one line each (empty: all good)."""
        out = []
        if self.beats < min_beats:
            out.append(f"too few heartbeats ({self.beats})")
        if self.off_thread:
            out.append(f"GUI handlers ran outside the GUI thread: {sorted(self.off_thread)}")
        if self.worst["cpu"] > MAX_CPU_S:
            out.append(f"our code held the GUI thread {self.worst['cpu'] * 1e3:.0f} ms")
        if self.worst["board_cpu"] > MAX_BOARD_CHANGE_CPU_S:
            out.append(f"changing the board held the GUI thread {self.worst['board_cpu'] * 1e3:.0f} ms")
        if self.delays.available and self.worst["blocked"] > MAX_BLOCKED_S:
            # (without schedstat the machine's waits cannot be told from ours: not asserted)
            out.append(f"the GUI thread was kept waiting {self.worst['blocked'] * 1e3:.0f} ms")
        return out

    def check(self, min_beats: int = 100) -> None:
        failures = self.failures(min_beats)
        assert not failures, "; ".join(failures) + ". " + self.report()


def _reconnect_pool():
    """The shared pool's timer was connected to ``_build_one`` when the pool was made: connect it
    again so that it calls the class's current (timed, or restored) method."""
    pool = shared_pool()
    try:
        pool._timer.timeout.disconnect()
        pool._timer.timeout.connect(pool._build_one)
    except (AttributeError, RuntimeError, TypeError):  # the pool changed: its build is just not timed
        pass


@pytest.fixture
def monitored_window(qtbot, monkeypatch):
    """``make()`` returns (monitor, shown main window) with the GUI handlers timed. Garbage is
    frozen as the app does at start-up (gui/app.py), so a full collection of the test session's
    objects (~200 ms) cannot land in the measurement."""
    made = []

    def make():
        hb = GuiThreadMonitor()
        for cls, name in GUI_HANDLERS:
            if hasattr(cls, name):
                hb.wrap(monkeypatch, cls, name)
        _reconnect_pool()
        w = MainWindow(lesson=None)
        qtbot.addWidget(w)
        w.show()
        hb.window = w
        made.append((hb, w))
        return hb, w

    gc.collect()
    gc.freeze()
    try:
        yield make
    finally:
        for hb, w in made:
            hb.stop()
            w.shutdown()
        monkeypatch.undo()
        _reconnect_pool()
        gc.unfreeze()


@pytest.fixture
def big_inputs():
    rng = np.random.default_rng(0)
    return rng.standard_normal((N, N), dtype=np.float32), rng.standard_normal((N, N), dtype=np.float32)


def test_heartbeat_never_pauses_while_a_4096_matmul_streams_and_plays(qtbot, monitored_window, big_inputs):
    a, b = big_inputs
    hb, w = monitored_window()
    qtbot.wait(50)
    hb.start()
    try:
        w.set_speed(30)
        w.select_op("matmul", {"A": a, "B": b}, autoplay=True)
        qtbot.waitUntil(lambda: w.timeline is not None and w.current_step >= 3, timeout=30000)
        assert w.timeline.shape("result") == (N, N)
        qtbot.wait(1500)  # plays: a frame per tick, reduced to display size in the frame worker
        assert w.is_playing and w.current_step > 10
        for n in (200, 20, 150, 60):  # scrubbing, as a dragged slider
            w.animation.slider.setValue(n)
            qtbot.wait(30)
        qtbot.waitUntil(w.is_idle, timeout=10000)
        first = w.timeline
        w.set_granularity("kblock")  # recompute while the old run stays on screen
        w.play()
        qtbot.waitUntil(lambda: w.timeline is not first and w.current_step >= 2, timeout=30000)
        qtbot.wait(500)
    finally:
        hb.stop()
    print(hb.report())
    hb.check()


#: The handlers a progressive run adds to the GUI thread (polling it, showing its new steps and
#: progress, cancelling it): each call is held to the 50 ms goal itself, not only to MAX_CPU_S.
#: They read counters and ask for frames (measured 0–2 ms a call), so the bound holds with room
#: to spare for the 1.5–2.5× a loaded machine adds to the same work.
PROGRESSIVE_HANDLERS = ("MainWindow._run_advanced", "MainWindow._run_ended", "MainWindow.cancel_run",
                        "RunProgress.poll")


def test_heartbeat_while_a_progressive_run_is_computed_played_scrubbed_and_cancelled(
        qtbot, monitored_window, big_inputs, monkeypatch):
    """A progressive 4096² run (8192² is the product's case; 4096² keeps this test to seconds on a
    loaded 2-core CI machine): its first steps are shown and played while later panels are still
    computed, scrubbed within the frontier, then the run is cancelled by an edit and the next run
    starts at once. A gate holds the computation before one panel, so the mid-run states exist
    however fast or slow the machine is."""
    from opscope.compute.ops import products

    release, reached = threading.Event(), threading.Event()
    edited = threading.Event()  # the last panel waits for the edit: the run is still in flight then
    calls = [0]
    real = products._matmul_panel

    def gated(a, b, out):
        calls[0] += 1
        if calls[0] == 6:
            reached.set()
            release.wait(60)
        base = out.base  # the result, when this call writes a piece of it (not a k-block's sum)
        if base is not None and (out.ctypes.data - base.ctypes.data) // base.strides[0] + len(out) >= len(base):
            edited.wait(60)
        real(a, b, out)

    monkeypatch.setattr(products, "_matmul_panel", gated)
    a, b = big_inputs
    hb, w = monitored_window()
    qtbot.wait(50)
    hb.start()
    try:
        w.set_speed(240)
        w.select_op("matmul", {"A": a, "B": b}, autoplay=True)
        qtbot.waitUntil(lambda: w.timeline is not None and reached.is_set(), timeout=60000)
        tl = w.timeline
        assert tl.progressive
        qtbot.waitUntil(lambda: tl.available() > 2 and w.current_step == tl.available() - 1, timeout=30000)
        qtbot.wait(300)  # plays, waiting at the frontier
        got = tl.available()
        assert w.is_playing and not tl.done and w.current_step == got - 1
        for n in (got - 1, 0, got // 2, 10 * got):  # scrubbing, as a dragged slider; clamped at the frontier
            w.animation.slider.setValue(n)
            qtbot.wait(30)
        assert w.wanted_step == got - 1
        release.set()
        w.play()
        qtbot.waitUntil(lambda: tl.available() > got + 20, timeout=60000)
        qtbot.wait(300)  # plays behind the frontier while panels land
        # An edit cancels the run in flight and starts the next, on the same board: a new tile
        # size. (Replacing a 4096² input copies it on the GUI thread, and a new granularity builds
        # a new board: costs of their own, not of progressive runs; tests/gui/
        # test_progressive_window.py checks that an input edit cancels.)
        # N // 32: 128 at 4096²; at 8192², tile 128 would be 4096 tiles, and the automatic
        # granularity would take the one stage step instead of streaming tiles.
        w.document.set_options(tile=N // 32)
        assert tl.cancelled
        edited.set()
        qtbot.waitUntil(lambda: w.timeline is not tl and w.current_step >= 2, timeout=60000)
        qtbot.wait(300)
        assert w.cancel_run()  # Esc / Cancel on the new run
        qtbot.waitUntil(lambda: w.timeline.done, timeout=30000)
        qtbot.wait(100)
    finally:
        release.set()
        edited.set()
        hb.stop()
    print(hb.report())
    hb.check()
    slow = {k: v for k, v in hb.handlers.items() if k in PROGRESSIVE_HANDLERS and v[0] > GOAL_CPU_S}
    assert not slow, f"progressive handlers over {GOAL_CPU_S * 1e3:.0f} ms of GUI CPU: {slow}. {hb.report()}"
    assert hb.handlers.get("RunProgress.poll", (0, 0, 0))[2] > 5, hb.report()  # it was polled, not waited on


# ----------------------------------------------------------------------------------------------
# the detector detects: a small run plays, with one stall planted in it

HOG_S = 0.150


def _play_small_run(qtbot, w, hb):
    rng = np.random.default_rng(1)
    a, b = rng.standard_normal((64, 64)), rng.standard_normal((64, 64))
    hb.start()
    try:
        w.set_speed(60)
        w.select_op("matmul", {"A": a, "B": b}, autoplay=True)
        qtbot.waitUntil(lambda: w.timeline is not None and w.current_step >= 12, timeout=15000)
        qtbot.wait(200)
    finally:
        hb.stop()


def _burn_cpu(seconds: float) -> None:
    """Compute on this thread for ``seconds`` of its own CPU time, however busy the machine is."""
    m = np.full((64, 64), 0.01)
    end = time.thread_time() + seconds
    while time.thread_time() < end:
        m = np.tanh(m @ m)


def test_detector_catches_a_handler_computing_on_the_gui_thread(qtbot, monitored_window, monkeypatch):
    frames = []
    original = MainWindow._on_frame_ready

    @functools.wraps(original)  # the same __name__, or PySide6 calls it in the worker's thread
    def slow_frame_ready(self, res):
        frames.append(res)
        if len(frames) == 5:
            _burn_cpu(HOG_S)  # as a numpy reduction of a big slice on the GUI thread would
        return original(self, res)

    monkeypatch.setattr(MainWindow, "_on_frame_ready", slow_frame_ready)
    hb, w = monitored_window()
    _play_small_run(qtbot, w, hb)
    print(hb.report())
    assert len(frames) >= 5
    assert hb.worst["cpu"] >= 0.9 * HOG_S, hb.report()
    assert "MainWindow._on_frame_ready" in hb.where["cpu"], hb.report()  # the culprit is named
    assert hb.handlers["MainWindow._on_frame_ready"][0] >= 0.9 * HOG_S, hb.report()
    assert any(f.startswith("our code held the GUI thread") for f in hb.failures(min_beats=10)), hb.report()


@pytest.mark.skipif(not _RunQueueDelay().available, reason="needs Linux's per-thread schedstat")
def test_detector_catches_a_worker_holding_the_gil(qtbot, monitored_window, monkeypatch):
    # A C call made without releasing the GIL, as an extension that forgets to would: usleep called
    # through ctypes.PyDLL keeps the GIL all along, and uses no CPU.
    libc = ctypes.PyDLL(None)
    prepared = []
    original = workers_module.FrameWorker._prepare

    def gil_holding_prepare(req):
        prepared.append(req)
        if len(prepared) == 8:  # once the board's first paints are over
            libc.usleep(int(HOG_S * 1e6))
        return original(req)

    monkeypatch.setattr(workers_module.FrameWorker, "_prepare", staticmethod(gil_holding_prepare))
    hb, w = monitored_window()
    # The pool's idle builds (a view or a colour bar a turn, 20–40 ms each) would add CPU to the
    # very gap this test needs to see as blocked, not busy: let it finish, and refill nothing
    # while the run plays. (Their cost is the main test's business.)
    qtbot.waitUntil(lambda: not shared_pool()._unfinished(), timeout=30000)
    monkeypatch.setattr(ViewPool, "prewarm", lambda self: None)
    _play_small_run(qtbot, w, hb)
    print(hb.report())
    assert len(prepared) >= 8
    # Not all of the 150 ms need show: where the GUI thread also waited for a core meanwhile, that
    # part is the machine's. It must show well over the bound, and not as CPU of the GUI thread in
    # that gap (other gaps' CPU is the main test's business: a paint under load is not this check's).
    assert hb.worst["blocked"] > MAX_BLOCKED_S, hb.report()
    assert hb.cpu_when_most_blocked < hb.worst["blocked"] / 2, hb.report()
    assert any(f.startswith("the GUI thread was kept waiting") for f in hb.failures(min_beats=10)), hb.report()
