"""Work that must not run on the GUI thread: computing a run, and preparing the frames of its steps.

ARCHITECTURE §3: a 4096² matmul takes seconds, and reading a step's tensors out of a big timeline
takes tens of milliseconds, so both happen in worker threads and reach the GUI as queued signals.

* :class:`ComputeWorker` turns a :class:`RunRequest` (plain frozen data) into a timeline with
  :func:`compute.stream_op`. Requests carry a run id; the window bumps its id on every edit, so a
  request that became stale while queued is skipped, and a late result is dropped by the window.
  Once the run is on its way to the screen, the same thread checks it against the independent
  reference (:func:`compute.verify_run`) and reports that too: the badge never delays the run.
* :class:`FrameWorker` calls ``canvas.prepare_frame(n)``. It keeps only the newest request: when
  requests arrive faster than frames are prepared, the ones in between are never computed.
* :class:`BlasLimiter` pins BLAS to one thread while an animation plays, leaving a core to paint.

Big runs are *progressive* (:func:`use_progressive`): ``stream_op(..., progressive=True)`` returns
at once, the timeline reaches the window before its first panel is computed, and the window shows
steps as they become available. The compute thread then waits for the run's end (or its cancel)
before it verifies it, so the next request queues behind a run the window has cancelled for at
most one panel.
"""

from __future__ import annotations

import os
import threading
import traceback
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from opscope import compute
from opscope.compute.errors import OpScopeError
from opscope.compute.progressive import BLAS_ONE_THREAD
from opscope.gui.canvas.canvas import DEFAULT_MAX_SHAPE
from opscope.gui.canvas.frame import warm_input_frames
from opscope.gui.canvas.program_layout import warm_band
from PySide6.QtCore import QObject, QThread, Signal, Slot


@dataclass(frozen=True)
class RunRequest:
    """Everything one run needs, as plain data, so a worker never reads a widget."""

    run_id: int
    op: str
    inputs: Mapping[str, Any]
    params: Mapping[str, Any] = field(default_factory=dict)
    granularity: str | None = None
    tile: int | None = None
    kblock: int | None = None
    #: A program's text: run it with :func:`compute.stream_program` instead of ``op`` (None: the
    #: operation itself). ``granularity`` may then also be a dict line name → granularity.
    program: str | None = None
    #: A program's per-line stepping options, line name → {"tile": …, "kblock": …} (None: none).
    options: Mapping[str, Any] | None = None
    #: The program canvas' (width, height, digit_px, metrics), so the worker chooses the run's
    #: overview band before handing it over, off the GUI thread (None: the canvas does it).
    band_hint: tuple | None = None


def _warm_first_frame(tl, hint: tuple | None) -> None:
    """What the first frame of ``tl`` costs the GUI thread, done ahead on the worker: the overview
    band of a program (see :func:`gui.canvas.program_layout.warm_band`; ``hint`` None: the canvas
    is not on screen) and the inputs' reduced display frames (:func:`gui.canvas.frame.warm_input_frames`).
    A failure here only costs the canvas that work: it is reported, never the run's error."""
    try:
        if hint is not None:
            warm_band(tl, *hint)
        warm_input_frames(tl, DEFAULT_MAX_SHAPE)
    except Exception:  # noqa: BLE001 - the canvas does the work itself then, and says what is wrong
        traceback.print_exc()


@dataclass(frozen=True)
class FrameRequest:
    """Prepare step ``n`` of ``timeline`` for ``canvas`` (both identify the run it belongs to);
    ``generation`` tells frames asked for before a synchronous :meth:`MainWindow.show_step` apart."""

    timeline: Any
    canvas: Any
    n: int
    generation: int = 0


@dataclass(frozen=True)
class FrameResult:
    """A prepared frame, or the error that prevented it; ``stage`` and ``caption`` of step ``n``."""

    request: FrameRequest
    frame: Any = None
    stage: str = ""
    caption: str = ""
    error: str = ""


#: Runs of at least this many floating-point operations stream progressively: a 2048² matmul
#: (17 GFLOP, 0.3–1 s here) does, a 1024² one (2 GFLOP, 30–80 ms: a few frames) stays eager, as
#: do all lessons. Only operations with a progressive path (matmul, attention's tile steps) can.
PROGRESSIVE_MIN_FLOPS = 4 * 10**9


def use_progressive(req: RunRequest) -> bool:
    """Whether ``req`` should run progressively: a program, or an operation with a progressive
    path, whose run is at least :data:`PROGRESSIVE_MIN_FLOPS` (a program's lines then appear as
    they are computed, its matmul and attention lines panel by panel). Bad inputs answer False:
    the eager path then reports what is wrong, as before."""
    if req.program is not None:
        try:
            from opscope.compute.program import program_flops  # noqa: PLC0415

            shapes = {k: tuple(getattr(a, "shape", ())) for k, a in req.inputs.items() if a is not None}
            return program_flops(req.program, shapes) >= PROGRESSIVE_MIN_FLOPS
        except Exception:  # noqa: BLE001 - the run itself will say what is wrong with it
            return False
    try:
        from opscope.compute.registry import get_spec  # noqa: PLC0415

        spec = get_spec(req.op)
        if "progressive" not in spec.extra:
            return False
        # From shapes and checked parameters alone: nothing is cast or copied for the decision.
        shapes = {k: tuple(getattr(a, "shape", ())) for k, a in req.inputs.items() if a is not None}
        params = spec.check(shapes, spec.validate_params(dict(req.params)))
        flops = spec.flops(shapes, params)
    except Exception:  # noqa: BLE001 - the run itself will say what is wrong with it
        return False
    return flops >= PROGRESSIVE_MIN_FLOPS


def describe_error(exc: BaseException) -> str:
    """One readable line (or a few) for the user: the message of OpScope's own errors, the type
    and message otherwise. Never a traceback."""
    if isinstance(exc, OpScopeError):
        return str(exc)
    if isinstance(exc, MemoryError):
        return f"Out of memory: {exc}" if str(exc) else "Out of memory for this run; try smaller inputs."
    return f"{type(exc).__name__}: {exc}"


def verify_program(tl):
    """The badge of a program's run: :func:`compute.verify.verify_program` (operation lines against
    their operations' references, arithmetic lines recomputed in float64 from their operands).
    Returns a :class:`compute.Verification`, or a ``str`` when no line could be checked."""
    from opscope.compute.verify import verify_program as check  # noqa: PLC0415 - compute owns the check

    return check(tl)


class ComputeWorker(QObject):
    """Computes timelines; lives in its own :class:`QThread`.

    Signals
    -------
    run_finished(int, object)
        run id and the :class:`compute.Timeline`.
    run_failed(int, str)
        run id and a message for the user.
    run_verified(int, object)
        run id and its :class:`compute.Verification`, or a ``str`` saying why it could not be checked.
    """

    run_finished = Signal(int, object)
    run_failed = Signal(int, str)
    run_verified = Signal(int, object)

    def __init__(self):
        super().__init__()
        # Written by the GUI thread, read here: an int assignment is atomic under the GIL.
        self.latest_run_id = 0
        #: The progressive timeline this thread is waiting for (None when none): stop() cancels it.
        self.in_flight = None

    @Slot(object)
    def compute(self, req: RunRequest) -> None:
        """Run ``req`` unless a newer run was asked for meanwhile."""
        if req.run_id != self.latest_run_id:
            return
        try:
            if req.program is not None:
                tl = compute.stream_program(req.program, dict(req.inputs), granularity=req.granularity,
                                            options=req.options, progressive=use_progressive(req))
                # The window tells runs apart by its own ids (stale results, the badge).
                tl.run_id = req.run_id
                _warm_first_frame(tl, req.band_hint)
            else:
                tl = compute.stream_op(req.op, dict(req.inputs), req.granularity, tile=req.tile,
                                       kblock=req.kblock, run_id=req.run_id, progressive=use_progressive(req),
                                       **dict(req.params))
                _warm_first_frame(tl, None)
            # Levels are computed lazily on first use; touch them here so neither the GUI thread
            # (editor colours) nor the first frame pays a full pass over a big tensor.
            for name in tl.tensor_names:
                tl.levels[name]
        except Exception as exc:  # noqa: BLE001 - a worker must report, never die: the window shows it
            if not isinstance(exc, (OpScopeError, MemoryError)):
                traceback.print_exc()
            self.run_failed.emit(req.run_id, describe_error(exc))
            return
        if tl.done:
            self.run_finished.emit(req.run_id, tl)
            self.verify(req.run_id, tl)
            return
        # A progressive run: on screen at once, verified once it has ended (not if cancelled).
        self.in_flight = tl
        try:
            self.run_finished.emit(req.run_id, tl)
            try:
                finished = tl.wait()
            except Exception:  # noqa: BLE001 - the window reads the run's error from the timeline
                finished = False
        finally:
            self.in_flight = None
        if finished:
            self.verify(req.run_id, tl)

    def verify(self, run_id: int, tl) -> None:
        """Check ``tl`` against the reference and emit ``run_verified`` (skipped once stale).

        The run's own device arrays are passed, not host copies: a sampled check of a big GPU run
        brings only the sampled entries to the host.
        """
        if run_id != self.latest_run_id:
            return  # the user has moved on; the window would drop the verdict anyway
        try:
            if tl.op == "program":
                verdict = verify_program(tl)
            else:
                run = tl.run
                verdict = compute.verify_run(tl.op, run.inputs, tl.params, run.outputs, tl.dtype("result"))
        except Exception as exc:  # noqa: BLE001 - an unverifiable run is shown as such, never a crash
            if not isinstance(exc, (OpScopeError, MemoryError)):
                traceback.print_exc()
            verdict = f"not verified: {describe_error(exc)}"
        self.run_verified.emit(run_id, verdict)


class FrameWorker(QObject):
    """Prepares frames off the GUI thread, always the newest request only.

    Signals
    -------
    frame_ready(object)
        a :class:`FrameResult`.
    """

    frame_ready = Signal(object)
    _wake = Signal()

    def __init__(self):
        super().__init__()
        self._lock = threading.Lock()
        self._pending: FrameRequest | None = None
        self._scheduled = False
        self._wake.connect(self._drain)  # queued: the receiver lives in the worker thread

    def request(self, req: FrameRequest) -> None:
        """Ask for a frame (from any thread); replaces a request not yet started."""
        with self._lock:
            self._pending = req
            if self._scheduled:
                return
            self._scheduled = True
        self._wake.emit()

    @Slot()
    def _drain(self) -> None:
        while True:
            with self._lock:
                req, self._pending = self._pending, None
                if req is None:
                    self._scheduled = False
                    return
            self.frame_ready.emit(self._prepare(req))

    @staticmethod
    def _prepare(req: FrameRequest) -> FrameResult:
        try:
            frame = req.canvas.prepare_frame(req.n)
            step = req.timeline[req.n]
            return FrameResult(req, frame, step.stage, step.caption)
        except Exception as exc:  # noqa: BLE001 - shown in the caption bar instead of crashing the thread
            traceback.print_exc()
            return FrameResult(req, error=describe_error(exc))


class WorkerThreads:
    """The two worker threads of a window, started together and stopped together."""

    def __init__(self):
        self.compute = ComputeWorker()
        self.frames = FrameWorker()
        self._threads: list[QThread] = []
        for worker, name in ((self.compute, "opscope-compute"), (self.frames, "opscope-frames")):
            thread = QThread()
            thread.setObjectName(name)
            worker.moveToThread(thread)
            thread.start()
            self._threads.append(thread)

    def stop(self, timeout_ms: int = 30000) -> None:
        """Ask both threads to finish and wait for them (a compute in progress runs to its end:
        ``stream_op`` cannot be interrupted, and a 4096² run takes about a second)."""
        self.compute.latest_run_id = -1  # anything still queued is now stale and skipped
        running = self.compute.in_flight
        if running is not None:
            running.cancel(wait=False)  # its workers stop within one block; the wait below ends
        for thread in self._threads:
            thread.quit()
        for thread in self._threads:
            thread.wait(timeout_ms)
        self._threads.clear()

    @property
    def running(self) -> bool:
        return bool(self._threads)


class BlasLimiter:
    """Limits BLAS to one thread while an animation plays (ARCHITECTURE §3: with 2 cores, BLAS
    on both makes painting stall). The limit is process-wide and refcounted
    (:data:`compute.progressive.BLAS_ONE_THREAD`): this takes one lease on play and gives it back
    on pause; a progressive run's panel pool takes its own while it computes."""

    def __init__(self):
        self._held = False

    def limit(self, on: bool) -> None:
        # One lease on the process-wide count: a progressive run's panel pool holds another, and
        # whichever ends last restores BLAS's own setting (compute.progressive.BLAS_ONE_THREAD).
        if on and not self._held and (os.cpu_count() or 1) > 1:
            BLAS_ONE_THREAD.acquire()
            self._held = True
        elif not on and self._held:
            BLAS_ONE_THREAD.release()
            self._held = False
