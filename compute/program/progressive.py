"""Progressive programs: ``stream_program(..., progressive=True)`` returns at once and fills in.

The timeline exists before any line is computed: every line is first *planned* from shapes and
dtypes alone (:meth:`.timeline.LineBuilder.plan_all`, :func:`compute.api.plan_ahead`), which gives
the real step count of every line, so ``len(tl)`` is the whole program's from the start and
step ``n`` always belongs to the same line. A worker thread then computes the lines in order:
a line whose operation has a progressive path (matmul, attention's ``tile`` steps) is streamed
as that operation's own :class:`~compute.progressive.ProgressiveTimeline` (its panels appear as
they are computed); any other line is computed whole, on the worker thread, and appears at once.

``tl.available()`` counts the steps of the finished lines plus what the current line has, and
reading a step that is not computed yet blocks until it is, as for one operation. ``tl.cancel()``
stops the current line's panels (within one panel; a big product inside a line, such as ``h @ W1``
in ``relu(h @ W1 + c1)``, within one of its panels; another eagerly computed line finishes first)
and computes no further line; what was computed stays readable.

The worker holds no reference to its timeline, so a timeline nobody holds is garbage-collected,
and its finalizer stops the worker.
"""

from __future__ import annotations

import bisect
import math
import threading
import time
import weakref
from collections.abc import Mapping

import numpy as np

from ..errors import OpScopeError
from ..plans import Run
from ..progressive import BackgroundRun, CancelledRunError, WorkerState
from ..step import frozen
from .evaluate import Evaluator
from .parse import RESULT
from .timeline import LineBuilder, LinePart, ProgramLevels, ProgramTimeline

#: How often the worker looks at the cancel flag while it waits for a line's panels (s): a cancel
#: that races the start of a line is seen within this.
_POLL_S = 0.05


class _ProgramProgress(WorkerState):
    """What the worker and the timeline share: each line's part (planned, then computed), how many
    lines are finished, the line being streamed, the values, the end, the error and the stop flag.
    It holds no reference to the timeline."""

    def __init__(self, parts: list[LinePart]):
        super().__init__()
        self.parts = parts
        self.real = [False] * len(parts)
        self.finished = 0
        self.current = None
        self.values: dict[str, np.ndarray] = {}
        self.notices: list[str] = []

    @property
    def complete(self) -> bool:
        return self.finished >= len(self.parts)


def _stop(state: _ProgramProgress) -> None:
    """Stop the worker and the panels of the line it streams (a finalizer: no timeline here)."""
    state.stop.set()
    with state.cond:
        current = state.current
    if current is not None:
        current.cancel(wait=False)


def _same_plan(planned: LinePart, part: LinePart) -> None:
    """A computed line must have the steps and tensors it was planned with: the program's step
    numbers and tensor names were given out before it was computed."""
    if len(part) != len(planned) or dict(part.names) != dict(planned.names):
        raise OpScopeError(f"line {part.name}: planned with {len(planned)} steps and tensors "
                           f"{', '.join(planned.names.values())} but computed with {len(part)} steps and "
                           f"{', '.join(part.names.values())} (a plan that depends on values: please report it)")


def _work(state: _ProgramProgress, builder: LineBuilder) -> None:
    """The worker thread: the lines in order, each streamed or computed whole."""
    prep = builder.prep
    ev = None
    try:
        env = dict(prep.inputs)
        ev = Evaluator(prep.analysis, env, prep.dtype, stop=state.stop)
        named = set(prep.inputs)  # program tensors an earlier line (or the inputs) owns
        for i, line in enumerate(prep.program.lines):
            if state.stop.is_set():
                break
            planned = state.parts[i]
            part = builder.build(line, planned.start, ev, env, progressive=True)
            _same_plan(planned, part)
            tl = part.timeline
            if tl.done:
                # Computed whole here: its levels cost a pass over each tensor, paid on this
                # thread and not by the first frame on the GUI thread. Only the tensors this line
                # owns: the program reads the others' levels from their own line (ProgramLevels),
                # and a pass over ``scores`` again for ``scaled = scores / 8`` cost 0.2 s at seq 4096.
                for local, name in part.names.items():
                    if name not in named:
                        tl.levels[local]
            named.update(part.names.values())
            with state.cond:
                state.parts[i] = part
                state.real[i] = True
                state.current = None if tl.done else tl
                state.cond.notify_all()
            while not tl.done:
                if state.stop.is_set():
                    tl.cancel()
                    break
                tl.wait(None, timeout=_POLL_S)
            if getattr(tl, "error", None) is not None:
                raise tl.error
            if tl.cancelled:
                break
            value = tl.result()["result"]
            env[line.name] = value
            state.values[line.name] = value
            state.notices.extend(f"{line.name}: {n}" for n in tl.notices)
            with state.cond:
                state.current = None
                state.finished = i + 1
                state.cond.notify_all()
    except CancelledRunError as exc:  # a line's own product, stopped by this run's cancel: no error
        if not state.stop.is_set():
            state.error = exc
    except BaseException as exc:  # noqa: BLE001 - handed to whoever waits, as it was raised
        state.error = exc
    finally:
        if ev is not None:
            state.notices[:0] = ev.notices
        with state.cond:
            state.current = None
            state.elapsed = time.perf_counter() - state.started
            state.done = True
            state.cond.notify_all()


class ProgressiveProgramLevels(ProgramLevels):
    """Display levels of a progressive program: a line not computed yet has (0, 1); a streamed
    line's are provisional until it ends (see :class:`~compute.progressive.ProgressiveLevels`)."""

    def __init__(self, tl: ProgressiveProgramTimeline):
        super().__init__(tl)
        self._real = tl._state.real  # the worker's shared flags (the state holds no timeline)

    def __getitem__(self, name: str) -> tuple[float, float]:
        i, local = self._owner[name]
        if i >= 0 and not self._real[i]:
            return 0.0, 1.0
        return super().__getitem__(name)


class ProgressiveProgramTimeline(BackgroundRun, ProgramTimeline):
    """A :class:`~.timeline.ProgramTimeline` whose lines are still being computed.

    ``len(tl)`` is the planned number of steps from the start; :meth:`available` says how many
    are computed. Reading a step that is not computed yet (``tl[n]``, :meth:`tensor_at`,
    :meth:`value_at`) blocks until it is, and raises :class:`~compute.CancelledRunError` if the
    run is cancelled first (or the computation's own error if it failed). A step that is
    available is exactly the step of ``stream_program`` without ``progressive``; levels of lines
    not finished are provisional.

    Attributes (besides :class:`~.timeline.ProgramTimeline`'s)
    ------------------------------------------------------------
    progressive : True.
    thread : the worker thread.
    """

    progressive = True

    def __init__(self, prep, parts: list[LinePart], builder: LineBuilder, *, run_id: int, granularity: str,
                 params: Mapping):
        state = _ProgramProgress(list(parts))
        self._state = state
        self._base_notices: tuple[str, ...] = ()
        super().__init__(prep, parts, {}, run_id=run_id, granularity=granularity, params=params, notices=(),
                         elapsed=0.0)
        self._parts = state.parts  # the worker replaces planned parts by computed ones in place
        self._values = state.values
        self.levels = ProgressiveProgramLevels(self)
        # Progress is weighed by work: a line's flops (its elements for a one-step line).
        self._weights = [max(1, int(p.timeline.flops) if p.op else math.prod(p.timeline.shape("result")))
                         for p in parts]
        self.thread = threading.Thread(target=_work, args=(state, builder),
                                       name=f"opscope-progressive-program-{run_id}", daemon=False)
        weakref.finalize(self, _stop, state)
        self.thread.start()

    # --- attributes that change while it runs ------------------------------------------------------
    @property
    def notices(self) -> tuple[str, ...]:
        """Messages about the run; each line's come once it has been computed."""
        return self._base_notices + tuple(self._state.notices)

    @notices.setter
    def notices(self, value) -> None:
        self._base_notices = tuple(value)

    @property
    def cancelled(self) -> bool:
        """True when the run was stopped before its last line finished."""
        st = self._state
        return st.stop.is_set() and not st.complete and st.error is None

    # --- the progressive contract ------------------------------------------------------------------
    def available(self) -> int:
        """Number of steps computed so far (steps ``0 .. available() - 1`` can be read at once)."""
        st = self._state
        k = st.finished
        if k >= len(self._parts):
            self._reap()
            return self._len
        n = self._starts[k]
        if st.real[k]:
            n += self._parts[k].timeline.available()
        if st.done:
            self._reap()
        return n

    def progress(self) -> float:
        """Fraction of the work done, 0..1 (lines weighed by their flops)."""
        st = self._state
        k = st.finished
        if k >= len(self._parts):
            return 1.0
        done = sum(self._weights[:k])
        if st.real[k]:
            done += self._weights[k] * self._parts[k].timeline.progress()
        return min(1.0, done / sum(self._weights))

    def _wait_line(self, i: int, deadline: float | None) -> bool:
        """Block until line ``i`` has its computed part; False when the run ends first or the
        deadline passes."""
        st = self._state
        with st.cond:
            while not st.real[i] and not st.done:
                left = None if deadline is None else deadline - time.monotonic()
                if left is not None and left <= 0:
                    return False
                st.cond.wait(left)
            return st.real[i]

    def wait(self, n: int | None = None, timeout: float | None = None) -> bool:
        """Block until step ``n`` (default: the last) is computed; True when it is.

        Returns False when ``timeout`` seconds pass first or the run was cancelled before step
        ``n``; raises the computation's error if it failed before step ``n``.
        """
        n = self._len - 1 if n is None else int(n)
        part, local = self.locate(n)
        i = bisect.bisect_right(self._starts, part.start + local) - 1
        deadline = None if timeout is None else time.monotonic() + max(0.0, float(timeout))
        if not self._wait_line(i, deadline):
            self._reap()
            if self._state.error is not None:
                raise self._state.error
            return False
        left = None if deadline is None else max(0.0, deadline - time.monotonic())
        if not self._parts[i].timeline.wait(local, left):
            return False
        if i == len(self._parts) - 1 and local == len(self._parts[i]) - 1:
            # The last step: the run's result must be stored too (the worker does it next).
            st = self._state
            with st.cond:
                while not st.complete and not st.done:
                    rest = None if deadline is None else deadline - time.monotonic()
                    if rest is not None and rest <= 0:
                        return False
                    st.cond.wait(rest)
            if not st.complete:
                if st.error is not None:
                    raise st.error
                return False
        self._reap()
        return True

    def cancel(self, wait: bool = True) -> None:
        """Stop the computation (the current line's panels within one panel; no later line is
        started); what was computed stays readable. ``wait=False`` returns at once."""
        _stop(self._state)
        if wait:
            self._join()

    def result(self, timeout: float | None = None) -> dict[str, np.ndarray]:
        """Wait for the end and return every line's value plus ``"result"`` (as ``run_program``).

        Raises ``CancelledRunError`` if the run was cancelled first, ``TimeoutError`` when
        ``timeout`` passes first, or whatever the computation raised."""
        st = self._state
        deadline = None if timeout is None else time.monotonic() + max(0.0, float(timeout))
        with st.cond:
            while not st.done:
                left = None if deadline is None else deadline - time.monotonic()
                if left is not None and left <= 0:
                    raise TimeoutError(f"program: the run did not finish within {timeout} s "
                                       f"({self.available()} of {self._len} steps computed)")
                st.cond.wait(left)
        self._join()
        if st.error is not None:
            raise st.error
        if not st.complete:
            raise CancelledRunError(f"program: the run was cancelled after {self.available()} of {self._len} "
                                    f"steps; there is no final result (steps 0..{self.available() - 1} "
                                    f"can still be read)")
        return super().result()

    def _require_line(self, i: int) -> None:
        if self._wait_line(i, None):
            return
        if self._state.error is not None:
            raise self._state.error
        raise CancelledRunError(f"program: line {self._parts[i].name} was not computed: the run was cancelled "
                                f"after {self.available()} of {self._len} steps (steps "
                                f"0..{self.available() - 1} can be read)")

    # --- reading: block until computed ---------------------------------------------------------------
    def __getitem__(self, n):
        if isinstance(n, slice):
            return [self[i] for i in range(*n.indices(self._len))]
        part, local = self.locate(n)
        self._require_line(bisect.bisect_right(self._starts, part.start + local) - 1)
        return super().__getitem__(n)

    def tensor_at(self, name, n, lead=(), max_shape=None, box=None) -> np.ndarray:
        """As :meth:`~.timeline.ProgramTimeline.tensor_at`, blocking until step ``n`` of the line
        making ``name`` is computed (a line's tensors are empty before its first step, at once)."""
        if name in self._owner:
            i, _local = self._owner[name]
            m = n + self._len if n < 0 else n
            m = max(0, min(int(m), self._len - 1))
            if i >= 0 and m >= self._parts[i].start:
                self._require_line(i)
        return super().tensor_at(name, n, lead, max_shape, box)

    def computed_values(self) -> dict[str, np.ndarray]:
        """The values of the lines finished so far (read-only host arrays); never waits."""
        st = self._state
        with st.cond:
            names = [p.name for p in self._parts[:st.finished]]
        out = {k: frozen(st.values[k]) for k in names}
        if self.program.result_name in out:
            out[RESULT] = out[self.program.result_name]
        return out

    @property
    def run(self) -> Run:
        """The program as one :class:`~compute.plans.Run` (every line computed so far)."""
        return Run("program", np, dict(self._inputs), dict(self._values), dict(self.params))

