"""Progressive runs: a timeline that exists at once and fills in while worker threads compute.

``stream_op(..., progressive=True)`` returns a :class:`ProgressiveTimeline` before the output is
computed. Worker threads compute it in *panels* large enough to keep BLAS efficient (row panels
of 1024 rows in column pieces for matmul, chunks of query rows for attention; ARCHITECTURE.md §2
and §9) and publish each finished panel. The plan's steps are finer than the panels (a 512² tile,
one element): a step is available once everything it reveals lies in finished panels.

The contract between an operation and this module is :class:`Panels`: the operation allocates its
outputs and describes its work as *units* counted from the start, either as a generator that
computes one panel per ``next()`` and yields the units finished so far (attention), or as a list
of independent tasks (matmul), run by :data:`PANEL_THREADS` threads with BLAS pinned to one
thread each. The frontier is the number of units finished without a gap; ``need(plan, n)`` says
which frontier step ``n`` needs and ``final(k)`` which part of the outputs is final at frontier
``k`` (a *staircase* over the outputs seen as ``(rows, -1)``: by default the first ``k`` rows).
That one description gives step availability, provisional display levels, the finished part of
a cancelled run, and display copies that are reduced as panels land.

Why a pool of one-thread BLAS calls and not OpenBLAS's own threads (measured on this 2-core
machine, shared, 4096² float32, ÷ one ``A @ B``): 256-row panels through OpenBLAS's 2 threads
cost 1.3–1.7× (each call splits in two and the halves wait for each other, spinning, whenever the
other core is busy); the same panels as independent one-thread calls on 2 threads cost 0.5–0.65×
loaded and about 1× idle. Each thread takes one column piece of a panel (8192² float32: full-width
one-thread calls on both threads at once cost 1.27–1.41× one ``A @ B``, column halves of 1024-row
panels 1.12–1.16×). The first row band of a product is computed in column pieces, so the
first tile is there after about 1/256 of the work instead of a whole band.

Display copies: a view of a big tensor asks for block-reduced frames (``tensor_at(...,
max_shape=...)``). Rebuilding that reduction per frame costs a pass over the tensor (2.5 s for an
8192² product); here the worker reduces each finished panel into every display copy a view has
asked for (and one at the default display size, made before the first frame is asked for),
before it publishes the panel. A frame is then one ``where`` over display pixels at any step.

Threads: the workers are plain non-daemon threads that hold no reference to their timeline, so
a timeline nobody holds any more is garbage-collected, and its finalizer asks the workers to stop
(they do so within one panel). Finished and cancelled timelines join their threads. numpy's BLAS
and ufuncs release the GIL, and the workers run no Python loop per element, so the GUI thread
keeps running while a panel is computed.
"""

from __future__ import annotations

import math
import os
import threading
import time
import weakref
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field

import numpy as np

from .errors import OpScopeError
from .plans import Plan, Run
from .timeline import Timeline, _display_dtype, block_means, finite_levels, finite_range, widen_levels

#: Rows of one matmul panel (its column pieces are tasks of their own). Every call packs its part
#: of B once, so taller panels cost less (8192² float32, column halves: 256 rows 1.25–1.29× one
#: ``A @ B``, 512 rows 1.16–1.21×, 1024 rows 1.12–1.16×); a cancel waits for one k-block of a
#: task (``products.TASK_FLOPS``), not for a panel.
PANEL_ROWS = 1024

#: Width of the column pieces of a product's first row band (at least; a tile's width when wider).
BAND_PIECE_COLS = 512

#: Threads that compute a pool of panels (each calls BLAS with one thread). All cores: the pool
#: is as fast as OpenBLAS's own threads on an idle machine and much faster on a busy one.
PANEL_THREADS = max(1, min(8, len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity")
                           else (os.cpu_count() or 1)))

#: The display size views ask for by default (gui/canvas/canvas.py's DEFAULT_MAX_SHAPE): a
#: reduced copy of this size is built for every big 2-D output as its panels land, so the first
#: frame of a result is ready at any step.
DISPLAY_MAX_SHAPE = (512, 512)

#: Display copies one progressive run keeps up to date (a few views × zoom levels).
MAX_DISPLAY_COPIES = 8


class CancelledRunError(OpScopeError, RuntimeError):
    """A step or result of a progressive run that was cancelled before computing it."""


@dataclass
class Panels:
    """How one operation computes a progressive run (built by the operation's ``progressive`` hook).

    Attributes
    ----------
    outputs : the run's named outputs, allocated up front; the workers fill them in place.
    total : units of work (the frontier goes from 0 to ``total``).
    chunks : generator that computes one panel per ``next()`` and yields the units finished so
        far (increasing, the last one ``total``); None when ``tasks`` are given instead.
    need : ``need(plan, n)``: the frontier step ``n`` of ``plan`` needs (non-decreasing in ``n``).
    notices : messages the computation adds when it ends (e.g. fully masked rows).
    stages : for an operation computed stage by stage rather than in rows (multi-head attention):
        the outputs each unit finishes, whole (``total`` entries). Their levels then come as each
        output is finished, and display copies are reduced per frame from finished outputs.
    bounds : finite (min, max) of outputs the operation folded in while computing them (see
        :mod:`compute.ops.row_stages`); other finished outputs get a pass of their own.
    tasks : ``total`` independent callables, unit ``i`` = task ``i``, run by a pool of
        :data:`PANEL_THREADS` threads with BLAS at one thread each (None: ``chunks``). Each is
        called with the run's stop event and may return False when it stopped before finishing.
    bind : called with the plan before the work starts (an operation that shapes its panels
        after the plan's tiles builds ``tasks`` there); returns the new ``total`` (or None).
        Its closures must not refer to the Panels: a cycle keeps the outputs alive after the run.
    rows : rows of every output seen as ``(rows, -1)`` (default ``total``: a unit is a row).
    final : ``final(k)``: the part of every output that is final at frontier ``k``, as a staircase
        ``((r_0, c_0), (r_1, c_1), …)``: rows below ``r_i`` are final in columns below ``c_i``
        (None: every column). Default: ``((k, None),)``, the first ``k`` rows.
    """

    outputs: dict
    total: int
    chunks: Iterator[int] | None
    need: Callable[[Plan, int], int]
    notices: list = field(default_factory=list)
    tasks: list | None = None
    bind: Callable[[Plan], None] | None = None
    rows: int | None = None
    final: Callable[[int], tuple] | None = None
    stages: tuple[tuple[str, ...], ...] | None = None
    bounds: dict = field(default_factory=dict)

    def staircase(self, k: int) -> tuple:
        """What is final at frontier ``k`` (see :attr:`final`)."""
        if self.stages is not None:  # whole outputs, not rows: no row of any output is final before the end
            return ((int(self.rows or self.total), None),) if k >= self.total else ((0, None),)
        return ((int(k), None),) if self.final is None else tuple(self.final(int(k)))

    def finished_outputs(self, k0: int, k1: int) -> tuple[str, ...]:
        """Outputs that became whole between frontiers ``k0`` and ``k1`` (``stages`` runs only)."""
        return tuple(name for unit in (self.stages or ())[k0:k1] for name in unit)

    def final_rows(self, k: int) -> int:
        """Rows of ``(rows, -1)`` final in every column at frontier ``k``."""
        return max((r for r, c in self.staircase(k) if c is None), default=0)


#: Panel heights are multiples of this: BLAS kernels work on blocks of 4–16 rows and round a
#: ragged block's rows differently, so aligned panels match the whole product more often
#: (bitwise, for float64, whenever OpenBLAS's own thread split is aligned too).
PANEL_ALIGN = 64


def row_panels(m: int, rows: int | None = None, start: int = 0) -> list[tuple[int, int]]:
    """Rows ``start..m`` split into panels of about ``rows`` rows (default :data:`PANEL_ROWS`;
    multiples of :data:`PANEL_ALIGN`, only the last one shorter)."""
    if m <= start:
        return []
    rows = PANEL_ROWS if rows is None else rows
    size = max(PANEL_ALIGN, rows // PANEL_ALIGN * PANEL_ALIGN)
    return [(r0, min(m, r0 + size)) for r0 in range(start, m, size)]


class _BlasLease:
    """BLAS pinned to one thread while anyone holds a lease (refcounted, process-wide).

    threadpoolctl's limit is global to the process: a progressive run's pool and the window's
    "one BLAS thread while playing" must share one count, or whichever restores last would put
    back the other's setting.
    """

    def __init__(self):
        self._lock = threading.Lock()
        self._count = 0
        self._limiter = None
        self._controller = None

    def acquire(self) -> None:
        with self._lock:
            self._count += 1
            if self._count == 1:
                try:
                    if self._controller is None:
                        from threadpoolctl import ThreadpoolController  # noqa: PLC0415 - optional

                        self._controller = ThreadpoolController()
                    self._limiter = self._controller.limit(limits=1, user_api="blas")
                except Exception:  # noqa: BLE001 - a missing or odd BLAS only costs speed
                    self._limiter = None

    def release(self) -> None:
        with self._lock:
            self._count = max(0, self._count - 1)
            if self._count == 0 and self._limiter is not None:
                try:
                    self._limiter.restore_original_limits()
                finally:
                    self._limiter = None

    @property
    def held(self) -> bool:
        """True while some lease holds BLAS at one thread."""
        return self._count > 0


#: The process's one lease counter (the GUI's BlasLimiter takes a lease too).
BLAS_ONE_THREAD = _BlasLease()


class _DisplayCopy:
    """A block-reduced copy of one 2-D slice of an output, filled as its part becomes final.

    ``done[i]`` is how many block columns of block row ``i`` are reduced. A block is reduced once
    every element in it is final, so a frame may show a block wherever its reveal order says so.
    """

    def __init__(self, run: Run, name: str, lead: tuple, rect: tuple, max_shape: tuple):
        a = run.tensor(name)
        self.name, self.lead, self.rect = name, lead, rect
        r0, r1, c0, c1 = rect
        self.h, self.w = r1 - r0, c1 - c0
        self.fy = max(1, math.ceil(self.h / max(1, max_shape[0])))
        self.fx = max(1, math.ceil(self.w / max(1, max_shape[1])))
        gh, gw = math.ceil(self.h / self.fy), math.ceil(self.w / self.fx)
        dtype = np.float64 if a.dtype.itemsize > 4 and a.dtype.kind == "f" or a.dtype.kind in "biu" else np.float32
        self.values = np.full((gh, gw), np.nan, dtype)
        self.done = np.zeros(gh, np.int64)
        self.gw = gw
        # Where this slice sits among the output's (rows, -1) rows: the staircase is over those.
        m = a.shape[-2]
        lin = int(np.ravel_multi_index(lead, a.shape[:-2])) if lead else 0
        self.base = lin * m
        self.slice = a[lead]
        self.lock = threading.Lock()
        #: True once every block is reduced: later panels cost this copy nothing.
        self.complete = False

    def update(self, stair: tuple) -> None:
        """Reduce every block that became final under ``stair`` (see :attr:`Panels.final`)."""
        gh = self.done.size
        if not gh or self.complete:
            return
        if max((int(r) for r, _c in stair), default=0) <= self.base + self.rect[0]:
            return  # nothing of this slice is final yet: most panels of a run with many slices
        r0, _r1, c0, _c1 = self.rect
        last = np.minimum(np.arange(1, gh + 1) * self.fy, self.h) - 1 + r0  # each block row's last row
        row_units = self.base + last + 1  # the count of (rows, -1) rows that covers it
        final_cols = np.zeros(gh, np.int64)
        for r, c in stair:
            cols = self.w + c0 if c is None else int(c)
            final_cols = np.where(row_units <= r, np.maximum(final_cols, cols), final_cols)
        fc = np.clip(final_cols - c0, 0, self.w)
        new = np.where(fc >= self.w, self.gw, fc // self.fx)
        with self.lock:
            todo = np.flatnonzero(new > self.done)
            # Consecutive block rows with the same columns to add are one reduction.
            start = 0
            while start < todo.size:
                i = todo[start]
                a, b = int(self.done[i]), int(new[i])
                end = start + 1
                while end < todo.size and todo[end] == todo[end - 1] + 1 and self.done[todo[end]] == a \
                        and new[todo[end]] == b:
                    end += 1
                j = int(todo[end - 1]) + 1
                self._reduce(int(i), j, a, b)
                self.done[i:j] = b
                start = end
            self.complete = bool((self.done >= self.gw).all())

    def _reduce(self, i0: int, i1: int, j0: int, j1: int) -> None:
        r0, _r1, c0, _c1 = self.rect
        ra, rb = r0 + i0 * self.fy, r0 + min(self.h, i1 * self.fy)
        ca, cb = c0 + j0 * self.fx, c0 + min(self.w, j1 * self.fx)
        part = _display_dtype(np, self.slice[ra:rb, ca:cb]).astype(self.values.dtype, copy=False)
        ph, pw = (i1 - i0) * self.fy - (rb - ra), (j1 - j0) * self.fx - (cb - ca)
        if ph or pw:  # the slice's last blocks: padded with edge values, as block_reduce does
            part = np.pad(part, ((0, ph), (0, pw)), mode="edge")
        self.values[i0:i1, j0:j1] = block_means(np, part, self.fy, self.fx)  # as the whole tensor's frames

    def frame_values(self) -> np.ndarray:
        """The copy as it stands, read-only and not copied: only blocks not final yet are still
        written, and a frame never shows those (their reveal order lies beyond the frontier)."""
        out = self.values.view()
        out.setflags(write=False)
        return out


class LinkedStop(threading.Event):
    """A run's own stop flag that also reads as set once ``parent`` is set (a caller's cancel
    flag, such as a program run's for a product inside one of its lines). Setting it, as the
    run's cancel and its finalizer do, leaves ``parent`` as it is. Only :meth:`is_set` reads the
    parent (the workers poll it between panels; nothing waits on the flag)."""

    def __init__(self, parent: threading.Event):
        super().__init__()
        self.parent = parent

    def is_set(self) -> bool:
        return super().is_set() or self.parent.is_set()


class WorkerState:
    """What a progressive timeline's worker thread shares with it, whatever it computes: the
    end, the error, the stop flag, the condition waiters sleep on, and the worker's clock (read
    by :class:`BackgroundRun`). It holds no reference to the timeline. ``parent``: a caller's
    stop flag that stops this run too (:class:`LinkedStop`)."""

    def __init__(self, parent: threading.Event | None = None):
        self.done = False
        self.error: BaseException | None = None
        self.stop = threading.Event() if parent is None else LinkedStop(parent)
        self.cond = threading.Condition()
        self.started = time.perf_counter()
        self.elapsed = 0.0


class _Progress(WorkerState):
    """What the workers and the timeline share: the frontier, the end, the error, the cancel flag,
    and the display copies the workers keep up to date.

    It holds no reference to the timeline, so the timeline can be garbage-collected while the
    workers run (its finalizer then sets :attr:`stop`).
    """

    def __init__(self, panels: Panels, parent: threading.Event | None = None):
        super().__init__(parent)
        self.panels = panels
        self.total = int(panels.total)
        self.frontier = 0
        # Held while the frontier moves and while a display copy is made: a copy made between a
        # panel's reduction and its publication would miss that panel.
        self.publish = threading.Lock()
        self.copies: dict[tuple, _DisplayCopy] = {}
        #: Finite (min, max) of each output over its final rows (None while nothing is finite).
        self.bounds: dict[str, tuple[float, float] | None] = {}

    @property
    def cancelled(self) -> bool:
        return self.stop.is_set() and self.frontier < self.total

    def advance(self, frontier: int) -> None:
        """Reduce what became final into the display copies, then publish ``frontier``."""
        with self.publish:
            if frontier <= self.frontier:
                return
            if self.panels.stages is not None:
                known = self.panels.bounds
                for name in self.panels.finished_outputs(self.frontier, frontier):
                    self.bounds[name] = known[name] if name in known else finite_range(np, self.panels.outputs[name])
            else:
                stair = self.panels.staircase(frontier)
                for copy in list(self.copies.values()):
                    copy.update(stair)
                self._update_bounds(self.panels.final_rows(self.frontier), self.panels.final_rows(frontier))
            with self.cond:
                self.frontier = int(frontier)
                self.cond.notify_all()

    def _update_bounds(self, r0: int, r1: int) -> None:
        """Fold rows ``r0..r1`` of every output (seen as ``(rows, -1)``) into :attr:`bounds`."""
        if r1 <= r0:
            return
        rows = self.panels.rows or self.total
        seen: dict[int, str] = {}
        for name, a in self.panels.outputs.items():
            if a.ndim == 0 or math.prod(a.shape) % max(1, rows):
                continue
            if id(a) in seen:  # one buffer under two names (attention's masked is scaled without a mask)
                self.bounds[name] = self.bounds[seen[id(a)]]
                continue
            seen[id(a)] = name
            part = a.reshape(rows, -1)[r0:r1]
            self.bounds[name] = merge_bounds(self.bounds.get(name), finite_range(np, part))


def merge_bounds(old, new):
    """The finite (min, max) of two parts from theirs (either may be None: nothing finite)."""
    if old is None:
        return new
    if new is None:
        return old
    return min(old[0], new[0]), max(old[1], new[1])


def _work(state: _Progress) -> None:
    """The worker thread: panels one by one (a generator) or a pool of tasks; the frontier is
    published after each, the cancel flag checked between panels."""
    panels = state.panels
    try:
        # NaN and Inf propagate as in run_op; numpy's warnings about them are noise here too.
        with np.errstate(invalid="ignore", divide="ignore", over="ignore"):
            if panels.tasks is not None:
                _run_pool(state, panels.tasks)
            else:
                for frontier in panels.chunks:
                    state.advance(frontier)
                    if state.stop.is_set():
                        break
    except BaseException as exc:  # noqa: BLE001 - handed to whoever waits, as it was raised
        state.error = exc
    finally:
        close = getattr(panels.chunks, "close", None)
        if close is not None:
            close()
        with state.cond:
            state.elapsed = time.perf_counter() - state.started
            state.done = True
            state.cond.notify_all()


def _run_pool(state: _Progress, tasks: list) -> None:
    """Tasks taken in order by :data:`PANEL_THREADS` threads (this one included), BLAS at one
    thread each; the frontier is the count of tasks finished without a gap."""
    lock = threading.Lock()
    finished = [False] * len(tasks)
    nxt = [0]
    front = [0]
    errors: list[BaseException] = []

    def loop() -> None:
        try:
            with np.errstate(invalid="ignore", divide="ignore", over="ignore"):
                while not state.stop.is_set():
                    with lock:
                        if errors or nxt[0] >= len(tasks):
                            return
                        i = nxt[0]
                        nxt[0] += 1
                    if tasks[i](state.stop) is False:  # stopped between its blocks: not finished
                        return
                    with lock:
                        finished[i] = True
                        k = front[0]
                        while k < len(tasks) and finished[k]:
                            k += 1
                        moved = k > front[0]
                        front[0] = k
                    if moved:
                        state.advance(k)
        except BaseException as exc:  # noqa: BLE001 - the first error ends the run
            with lock:
                errors.append(exc)

    n = min(PANEL_THREADS, len(tasks))
    BLAS_ONE_THREAD.acquire()
    try:
        helpers = [threading.Thread(target=loop, name=f"{threading.current_thread().name}-{i}", daemon=False)
                   for i in range(1, n)]
        for t in helpers:
            t.start()
        loop()
        for t in helpers:
            t.join()
    finally:
        BLAS_ONE_THREAD.release()
    if errors:
        raise errors[0]


class ProgressiveLevels(Mapping):
    """Display levels of a progressive run: exact (and cached) for inputs; for outputs, the finite
    min/max over the rows finished so far, which the workers keep as each panel lands
    (:meth:`_Progress.advance`), so reading them never costs a pass over a tensor on the caller's
    thread. They widen as panels come and are exact once the run has finished."""

    def __init__(self, run: Run, names: Sequence[str], state: _Progress):
        self._run = run
        self._names = tuple(names)
        self._state = state
        self._final: dict[str, tuple[float, float]] = {}
        self._lock = threading.Lock()

    def __getitem__(self, name: str) -> tuple[float, float]:
        if name not in self._names:
            raise KeyError(name)
        with self._lock:
            if name in self._final:
                return self._final[name]
            if name not in self._run.outputs:
                self._final[name] = finite_levels(self._run.xp, self._run.tensor(name))
                return self._final[name]
        state = self._state
        complete = state.done and state.frontier >= state.total and state.error is None
        levels = widen_levels(state.bounds.get(name))
        if complete:
            with self._lock:
                self._final[name] = levels
        return levels

    def __iter__(self):
        return iter(self._names)

    def __len__(self) -> int:
        return len(self._names)


class BackgroundRun:
    """What a timeline filled in by a worker thread answers from its shared state (``self._state``:
    ``started``, ``elapsed``, ``done``, ``error``) and its ``self.thread``: the clock, the end,
    the error, an estimate of the time left (from ``self.progress()``) and joining the worker."""

    @property
    def elapsed(self) -> float:
        """Seconds the computation took (so far, while it runs)."""
        st = self._state
        return st.elapsed if st.done else time.perf_counter() - st.started

    @elapsed.setter
    def elapsed(self, value) -> None:  # the timeline's __init__ sets it; the worker's clock is the truth
        pass

    @property
    def done(self) -> bool:
        """True once the worker has stopped (finished, cancelled or failed)."""
        return self._state.done

    @property
    def error(self) -> BaseException | None:
        """The error the computation raised, if it failed."""
        return self._state.error

    def time_left(self) -> float | None:
        """Seconds the computation still needs, estimated from its pace so far (None before any
        progress, 0.0 once it has ended)."""
        if self._state.done:
            return 0.0
        frac = self.progress()
        if frac <= 0:
            return None
        return self.elapsed * (1 - frac) / frac

    def _join(self) -> None:
        t = self.thread
        if t is not threading.current_thread() and t.is_alive():
            t.join()

    def _reap(self) -> None:
        """Join a worker that has ended (a thread is not gone until it is joined)."""
        if self._state.done:
            self._join()


class ProgressiveTimeline(BackgroundRun, Timeline):
    """A :class:`~compute.timeline.Timeline` whose run is still being computed.

    ``len(tl)`` is the planned number of steps from the start; :meth:`available` says how many are
    computed so far. Reading a step that is not computed yet (``tl[n]``, :meth:`tensor_at`,
    :meth:`value_at`) blocks until it is; if the run is cancelled first it raises
    :class:`CancelledRunError`, and if the computation failed it raises that error. A step that is
    available is exactly the step the non-progressive timeline gives, with one exception:
    :attr:`levels` of outputs are provisional (over the finished rows) until the run ends.

    Attributes (besides :class:`Timeline`'s)
    ----------------------------------------
    progressive : True.
    thread : the worker thread (ended once :attr:`done`, after a join by :meth:`wait`,
        :meth:`result` or :meth:`cancel`).
    """

    progressive = True

    def __init__(self, run: Run, plan: Plan, panels: Panels, stop: threading.Event | None = None, **kwargs):
        if panels.bind is not None:
            total = panels.bind(plan)
            if total is not None:
                panels.total = int(total)
        self._state = _Progress(panels, stop)
        self._panels = panels
        self._base_notices: tuple[str, ...] = ()
        super().__init__(run, plan, **kwargs)
        self.levels = ProgressiveLevels(run, self.input_names + self.output_names, self._state)
        self._avail = (-1, 0)  # (frontier, steps available at it): available() is polled per frame
        for name in self.output_names:  # the first frame of a big output costs a where, not a pass
            a = run.tensor(name)
            if a.ndim >= 2 and (a.shape[-2] > DISPLAY_MAX_SHAPE[0] or a.shape[-1] > DISPLAY_MAX_SHAPE[1]):
                self._display_copy(name, (0,) * (a.ndim - 2), (0, a.shape[-2], 0, a.shape[-1]),
                                   DISPLAY_MAX_SHAPE)
        self.thread = threading.Thread(target=_work, args=(self._state,),
                                       name=f"opscope-progressive-{self.op}-{self.run_id}", daemon=False)
        # A timeline nobody holds stops its worker; the finalizer must not hold the timeline.
        weakref.finalize(self, self._state.stop.set)
        self.thread.start()

    # --- attributes that change when the run ends ---------------------------------------------
    @property
    def notices(self) -> tuple[str, ...]:
        """Messages about the run; the computation's own come once it has finished."""
        extra = tuple(self._panels.notices) if self._state.done else ()
        return self._base_notices + extra

    @notices.setter
    def notices(self, value) -> None:
        self._base_notices = tuple(value)

    @property
    def cancelled(self) -> bool:
        """True when the run was cancelled before it finished."""
        return self._state.cancelled

    def progress(self) -> float:
        """Fraction of the computation done, 0..1: the final part of the outputs (finer than
        :meth:`available` for a few big steps, and fair to units of unequal size)."""
        st = self._state
        if st.total == 0 or st.frontier >= st.total:
            return 1.0
        if self._panels.stages is not None:
            return st.frontier / st.total
        rows = self._panels.rows or st.total
        first = next(iter(self._panels.outputs.values()), None)
        width = first.size // rows if first is not None and rows and first.size % rows == 0 else 1
        if rows <= 0 or width <= 0:
            return st.frontier / st.total
        stair = sorted((int(r), width if c is None else min(width, int(c))) for r, c in self._panels.staircase(
            st.frontier))
        area, prev = 0, 0
        for i, (r, _c) in enumerate(stair):
            cols = max(c for _r, c in stair[i:])  # rows prev..r are final as far as the widest entry above
            area += max(0, min(r, rows) - prev) * cols
            prev = max(prev, min(r, rows))
        return min(1.0, area / (rows * width))

    # --- display copies, reduced as panels land ---------------------------------------------------
    def _display_copy(self, name, lead, rect, max_shape) -> _DisplayCopy | None:
        """The display copy of one slice, made (and filled with what is final) on first use."""
        a = self._run.tensor(name)
        if self._panels.stages is not None or math.prod(a.shape[:-1]) != (self._panels.rows or self._state.total):
            return None  # this output's rows are not the units' rows: reduced per frame instead
        key = (name, lead, rect, max_shape)
        st = self._state
        copy = st.copies.get(key)
        if copy is not None:
            return copy
        with st.publish:
            copy = st.copies.get(key)
            if copy is None:
                copy = _DisplayCopy(self._run, name, lead, rect, max_shape)
                copy.update(self._panels.staircase(st.frontier))
                if len(st.copies) >= MAX_DISPLAY_COPIES:  # the oldest one a view asked for goes
                    st.copies.pop(next(iter(st.copies)))
                st.copies[key] = copy
        return copy

    def _display_values(self, name, lead, rect, max_shape) -> np.ndarray:
        if name not in self._run.outputs:
            return super()._display_values(name, lead, rect, max_shape)
        copy = self._display_copy(name, lead, rect, max_shape)
        if copy is None:
            stages = self._panels.stages is not None
            if self._final_ready() or stages and name in self._panels.finished_outputs(0, self._state.frontier):
                return super()._display_values(name, lead, rect, max_shape)
            r0, r1, c0, c1 = rect
            from .timeline import block_reduce  # noqa: PLC0415

            a = _display_dtype(np, self._run.tensor(name)[lead + (slice(r0, r1), slice(c0, c1))])
            return block_reduce(np, a, max_shape)
        return copy.frame_values()

    # --- the progressive contract ---------------------------------------------------------------
    def _need(self, n: int) -> int:
        if n >= self._len - 1:  # the last step shows the final values: it needs everything
            return self._state.total
        return min(self._state.total, int(self._panels.need(self._plan, n)))

    def _count(self, frontier: int) -> int:
        """Steps whose needs lie within ``frontier`` (``need`` is non-decreasing: bisect)."""
        if frontier >= self._state.total:
            return self._len
        lo, hi = 0, self._len
        while lo < hi:
            mid = (lo + hi) // 2
            if self._need(mid) <= frontier:
                lo = mid + 1
            else:
                hi = mid
        return lo

    def available(self) -> int:
        """Number of steps computed so far (steps ``0 .. available() - 1`` can be read at once)."""
        st = self._state
        frontier = st.frontier
        seen, count = self._avail
        if seen != frontier:
            count = self._count(frontier)
            self._avail = (frontier, count)
        self._reap()
        return count

    def _index(self, n: int) -> int:
        n = int(n)
        if n < 0:
            n += self._len
        if not 0 <= n < self._len:
            raise IndexError(f"step {n} out of range (timeline has {self._len} steps)")
        return n

    def wait(self, n: int | None = None, timeout: float | None = None) -> bool:
        """Block until step ``n`` (default: the last) is computed; True when it is.

        Returns False when ``timeout`` seconds pass first, or when the run was cancelled before
        step ``n``. Raises the computation's own error if it failed before step ``n``.
        """
        n = self._len - 1 if n is None else self._index(n)
        need = self._need(n)
        st = self._state
        deadline = None if timeout is None else time.monotonic() + max(0.0, float(timeout))
        with st.cond:
            while st.frontier < need and not st.done:
                left = None if deadline is None else deadline - time.monotonic()
                if left is not None and left <= 0:
                    return False
                st.cond.wait(left)
        if st.frontier >= need:
            self._reap()
            return True
        self._reap()
        if st.error is not None:
            raise st.error
        return False

    def cancel(self, wait: bool = True) -> None:
        """Stop the computation (within one panel); what was computed stays readable.

        With ``wait`` (the default) this returns once the worker has ended; a GUI that must not
        block for one panel passes ``wait=False`` and reads :attr:`done` later.
        """
        self._state.stop.set()
        if wait:
            self._join()

    def result(self, timeout: float | None = None) -> dict[str, np.ndarray]:
        """Wait for the end and return every named output (equal to ``run_op``'s).

        Raises
        ------
        CancelledRunError
            the run was cancelled before it finished.
        TimeoutError
            ``timeout`` seconds passed first.
        OpScopeError
            whatever the computation raised.
        """
        if not self.wait(None, timeout):
            if not self._state.done:
                raise TimeoutError(f"{self.op}: the run did not finish within {timeout} s "
                                   f"({self.available()} of {self._len} steps computed)")
            raise CancelledRunError(f"{self.op}: the run was cancelled after {self.available()} of {self._len} "
                                    f"steps; there is no final result (steps 0..{self.available() - 1} "
                                    f"can still be read)")
        return super().result()

    def _require(self, n: int) -> None:
        """Block until step ``n`` is computed, or raise why it never will be."""
        if self.wait(n):
            return
        raise CancelledRunError(f"{self.op}: step {n} was not computed: the run was cancelled after "
                                f"{self.available()} of {self._len} steps (steps 0..{self.available() - 1} "
                                f"can be read)")

    def _final_ready(self) -> bool:
        st = self._state
        return st.done and st.error is None and st.frontier >= st.total

    # --- reading steps: block until computed -------------------------------------------------------
    def __getitem__(self, n):
        if isinstance(n, slice):
            return [self[i] for i in range(*n.indices(self._len))]
        n = self._index(n)
        self._require(n)
        return super().__getitem__(n)

    def tensor_at(self, name: str, n: int, lead: Sequence[int] = (), max_shape: Sequence[int] | None = None,
                  box: Sequence[tuple[int, int]] | None = None) -> np.ndarray:
        """As :meth:`Timeline.tensor_at`, blocking until step ``n`` is computed."""
        if n < 0:
            n += self._len
        n = max(0, min(int(n), self._len - 1))
        self._require(n)
        return super().tensor_at(name, n, lead=lead, max_shape=max_shape, box=box)
