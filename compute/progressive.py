"""Progressive runs: a timeline that exists at once and fills in while a worker thread computes.

``stream_op(..., progressive=True)`` returns a :class:`ProgressiveTimeline` before the output is
computed. A worker thread computes it in *panels* large enough to keep BLAS efficient (row panels
of 256–512 rows for matmul, chunks of query rows for attention; ARCHITECTURE.md §2 and §9) and
publishes each finished panel. The plan's steps are finer than the panels (a 512² tile, one
element): a step is available once every output row it reveals lies in finished panels.

The contract between an operation and this module is :class:`Panels`: the operation allocates its
outputs, names how many *units* (flattened leading rows) they have, and gives a generator that
computes one panel per ``next()`` and yields the number of units finished so far. Every output of
a progressive run reshapes to ``(total, -1)`` and its first ``frontier`` rows are final; that one
rule gives step availability, provisional display levels and the finished part of a cancelled run.

Threads: the worker is a plain non-daemon ``threading.Thread`` that holds no reference to its
timeline, so a timeline nobody holds any more is garbage-collected, and its finalizer asks the
worker to stop (it does so within one panel). Finished and cancelled timelines join their thread.
numpy's BLAS and ufuncs release the GIL, and the worker runs no Python loop per element, so the
GUI thread keeps running while a panel is computed.
"""

from __future__ import annotations

import threading
import time
import weakref
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field

import numpy as np

from .errors import OpScopeError
from .plans import Plan, Run
from .timeline import Timeline, finite_levels

#: Rows of one matmul panel: 256–512 full-width rows cost 1.03–1.09× one direct ``A @ B``
#: (ARCHITECTURE.md §2); 256 keeps a panel of an 8192² float32 product near 0.2 s, so a cancel
#: lands within that.
PANEL_ROWS = 256


class CancelledRunError(OpScopeError, RuntimeError):
    """A step or result of a progressive run that was cancelled before computing it."""


@dataclass
class Panels:
    """How one operation computes a progressive run (built by the operation's ``progressive`` hook).

    Attributes
    ----------
    outputs : the run's named outputs, allocated up front; the worker fills them in place.
    total : units of work; every output reshapes to ``(total, -1)`` and units are its rows.
    chunks : generator that computes one panel per ``next()`` and yields the units finished so
        far (increasing, the last one ``total``).
    need : ``need(plan, n)``: the units step ``n`` of ``plan`` needs (non-decreasing in ``n``).
    notices : messages the computation adds when it ends (e.g. fully masked rows).
    """

    outputs: dict
    total: int
    chunks: Iterator[int]
    need: Callable[[Plan, int], int]
    notices: list = field(default_factory=list)


#: Panel heights are multiples of this: BLAS kernels work on blocks of 4–16 rows and round a
#: ragged block's rows differently, so aligned panels match the whole product more often
#: (bitwise, for float64, whenever OpenBLAS's own thread split is aligned too).
PANEL_ALIGN = 64


def row_panels(m: int, rows: int = PANEL_ROWS) -> list[tuple[int, int]]:
    """``m`` rows split into panels of about ``rows`` rows (multiples of :data:`PANEL_ALIGN`,
    only the last one shorter)."""
    if m <= 0:
        return []
    size = max(PANEL_ALIGN, rows // PANEL_ALIGN * PANEL_ALIGN)
    return [(r0, min(m, r0 + size)) for r0 in range(0, m, size)]


class _Progress:
    """What the worker and the timeline share: the frontier, the end, the error, the cancel flag.

    It holds no reference to the timeline, so the timeline can be garbage-collected while the
    worker runs (its finalizer then sets :attr:`stop`).
    """

    def __init__(self, total: int):
        self.total = int(total)
        self.frontier = 0
        self.done = False
        self.error: BaseException | None = None
        self.stop = threading.Event()
        self.cond = threading.Condition()
        self.started = time.perf_counter()
        self.elapsed = 0.0

    @property
    def cancelled(self) -> bool:
        return self.stop.is_set() and self.frontier < self.total


def _work(state: _Progress, chunks: Iterator[int]) -> None:
    """The worker thread: one panel per ``next()``, the frontier published after each, the
    cancel flag checked between panels."""
    try:
        # NaN and Inf propagate as in run_op; numpy's warnings about them are noise here too.
        with np.errstate(invalid="ignore", divide="ignore", over="ignore"):
            for frontier in chunks:
                with state.cond:
                    state.frontier = int(frontier)
                    state.cond.notify_all()
                if state.stop.is_set():
                    break
    except BaseException as exc:  # noqa: BLE001 - handed to whoever waits, as it was raised
        state.error = exc
    finally:
        close = getattr(chunks, "close", None)
        if close is not None:
            close()
        with state.cond:
            state.elapsed = time.perf_counter() - state.started
            state.done = True
            state.cond.notify_all()


class ProgressiveLevels(Mapping):
    """Display levels of a progressive run: exact (and cached) for inputs and for outputs once the
    run has finished; until then, provisional levels over the finished rows (recomputed only when
    the frontier moves), so a view can draw partial results with levels that widen as panels come."""

    def __init__(self, run: Run, names: Sequence[str], state: _Progress):
        self._run = run
        self._names = tuple(names)
        self._state = state
        self._final: dict[str, tuple[float, float]] = {}
        self._partial: dict[str, tuple[int, tuple[float, float]]] = {}
        self._lock = threading.Lock()

    def __getitem__(self, name: str) -> tuple[float, float]:
        if name not in self._names:
            raise KeyError(name)
        state = self._state
        with self._lock:
            if name in self._final:
                return self._final[name]
            complete = name not in self._run.outputs or (state.done and state.frontier >= state.total
                                                         and state.error is None)
            a = self._run.tensor(name)
            if complete:
                self._final[name] = finite_levels(self._run.xp, a)
                return self._final[name]
            rows = state.frontier
            cached = self._partial.get(name)
            if cached is not None and cached[0] == rows:
                return cached[1]
            part = a.reshape(state.total, -1)[:rows] if rows else a[:0]
            levels = finite_levels(self._run.xp, part)
            self._partial[name] = (rows, levels)
            return levels

    def __iter__(self):
        return iter(self._names)

    def __len__(self) -> int:
        return len(self._names)


class ProgressiveTimeline(Timeline):
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

    def __init__(self, run: Run, plan: Plan, panels: Panels, **kwargs):
        self._state = _Progress(panels.total)
        self._panels = panels
        self._base_notices: tuple[str, ...] = ()
        super().__init__(run, plan, **kwargs)
        self.levels = ProgressiveLevels(run, self.input_names + self.output_names, self._state)
        self._avail = (-1, 0)  # (frontier, steps available at it): available() is polled per frame
        self.thread = threading.Thread(target=_work, args=(self._state, panels.chunks),
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
    def elapsed(self) -> float:
        """Seconds the computation took (so far, while it runs)."""
        st = self._state
        return st.elapsed if st.done else time.perf_counter() - st.started

    @elapsed.setter
    def elapsed(self, value) -> None:  # Timeline.__init__ sets it; the worker's clock is the truth
        pass

    @property
    def done(self) -> bool:
        """True once the worker has stopped (finished, cancelled or failed)."""
        return self._state.done

    @property
    def cancelled(self) -> bool:
        """True when the run was cancelled before it finished."""
        return self._state.cancelled

    @property
    def error(self) -> BaseException | None:
        """The error the computation raised, if it failed."""
        return self._state.error

    def progress(self) -> float:
        """Fraction of the computation done, 0..1 (finer than :meth:`available` for a few big steps)."""
        st = self._state
        return 1.0 if st.total == 0 else st.frontier / st.total

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

    def _join(self) -> None:
        t = self.thread
        if t is not threading.current_thread() and t.is_alive():
            t.join()

    def _reap(self) -> None:
        """Join a worker that has ended (a thread is not gone until it is joined)."""
        if self._state.done:
            self._join()

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
