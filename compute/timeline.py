"""A run's timeline: a random-access, immutable sequence of steps over one computed run."""

from __future__ import annotations

import math
import threading
from collections.abc import Mapping, Sequence

import numpy as np

from .backend import BackendInfo, to_host
from .plans import EMPTY, FULL, Plan, Run
from .step import Step


class LazyLevels(Mapping):
    """Display levels per tensor, computed once per run on first use (finite min/max of the final
    values; NaN/Inf never wreck them). Shared by every step of a run."""

    def __init__(self, run: Run, names: Sequence[str]):
        self._run = run
        self._names = tuple(names)
        self._cache: dict[str, tuple[float, float]] = {}
        self._lock = threading.Lock()

    def __getitem__(self, name: str) -> tuple[float, float]:
        if name not in self._names:
            raise KeyError(name)
        with self._lock:
            if name not in self._cache:
                self._cache[name] = finite_levels(self._run.xp, self._run.tensor(name))
            return self._cache[name]

    def __iter__(self):
        return iter(self._names)

    def __len__(self) -> int:
        return len(self._names)


#: Elements of one block of :func:`finite_range`'s pass over a tensor holding ±inf or NaN.
FINITE_BLOCK_ELEMENTS = 1 << 22

#: Elements of one block of :func:`finite_range`'s min and max of a C-contiguous host tensor: the
#: block is still in cache for the max after its min (1 GiB of float32: 0.145 s → 0.10 s here).
MINMAX_BLOCK_ELEMENTS = 1 << 16


def finite_range(xp, a) -> tuple[float, float] | None:
    """Finite (min, max) of ``a``; None when nothing is finite or ``a`` is empty ((0, 1) for bool)."""
    if a.size == 0:
        return None
    if a.dtype == bool:
        return 0.0, 1.0
    if 0 in a.strides:  # a broadcast view (add's B_broadcast): its repeated axes add no values
        a = a[tuple(0 if st == 0 else slice(None) for st in a.strides)]
    lo, hi = _min_max(xp, a)
    if math.isfinite(lo) and math.isfinite(hi):
        return lo, hi
    if xp is not np:  # CuPy's min/max take no where=: one copy of the finite values, on the device
        finite = a[xp.isfinite(a)]
        return (float(finite.min()), float(finite.max())) if finite.size else None
    # Some values are ±inf or NaN (a causal mask's −inf): a reduction over the finite ones, block by
    # block along the first axis. A copy of the finite values (a fancy index) cost 1.3 s and a
    # tensor's size of memory for 16 × 4096² float32 scores plus a mask.
    rows = a.reshape(1, -1) if a.ndim <= 1 else a
    step = max(1, FINITE_BLOCK_ELEMENTS // max(1, math.prod(rows.shape[1:])))
    lo, hi = math.inf, -math.inf
    for r0 in range(0, rows.shape[0], step):
        block = rows[r0:r0 + step]
        keep = np.isfinite(block)
        lo = min(lo, float(block.min(where=keep, initial=np.inf)))
        hi = max(hi, float(block.max(where=keep, initial=-np.inf)))
    return (lo, hi) if lo <= hi else None


def _min_max(xp, a) -> tuple[float, float]:
    """``(a.min(), a.max())`` as floats; a non-finite one when ``a`` holds ±inf or NaN. A big
    C-contiguous host array goes block by block (:data:`MINMAX_BLOCK_ELEMENTS`), so the max reads
    each block from cache instead of a second pass over memory."""
    if xp is not np or not a.flags.c_contiguous or a.size <= MINMAX_BLOCK_ELEMENTS:
        return float(a.min()), float(a.max())
    flat = a.reshape(-1)
    lo, hi = math.inf, -math.inf
    for i in range(0, flat.size, MINMAX_BLOCK_ELEMENTS):
        block = flat[i:i + MINMAX_BLOCK_ELEMENTS]
        b_lo, b_hi = float(block.min()), float(block.max())
        if not (math.isfinite(b_lo) and math.isfinite(b_hi)):
            return b_lo, b_hi  # ±inf or NaN: finite_range takes its other path
        lo, hi = min(lo, b_lo), max(hi, b_hi)
    return lo, hi


def widen_levels(bounds: tuple[float, float] | None) -> tuple[float, float]:
    """Display levels from a finite (min, max): widened when flat; (0, 1) for None (nothing finite)."""
    if bounds is None:
        return 0.0, 1.0
    lo, hi = bounds
    if lo == hi:
        pad = abs(lo) * 0.5 or 1.0
        return lo - pad, hi + pad
    return lo, hi


def finite_levels(xp, a) -> tuple[float, float]:
    """(lo, hi) over the finite values of ``a``; widened when flat; (0, 1) when nothing is finite."""
    return widen_levels(finite_range(xp, a))


def _display_dtype(xp, a):
    """``a`` in a dtype a view can show with NaN holes: bool and ints as float64, float16 as float32."""
    if a.dtype == bool or a.dtype.kind in "iu":
        return a.astype(xp.float64)
    if a.dtype.itemsize < 4:
        return a.astype(xp.float32)
    return a


def block_reduce(xp, a, max_shape: Sequence[int], how: str = "mean"):
    """Shrink the last two axes of ``a`` to at most ``max_shape`` by block means (on ``a``'s device).

    Blocks are whole: a few trailing rows/columns that do not fill a block are averaged into a
    last, smaller block rather than dropped, so nothing on screen goes missing.
    """
    if a.ndim < 2:
        return a
    h, w = a.shape[-2:]
    mh, mw = (int(max_shape[0]), int(max_shape[1]))
    fy = max(1, math.ceil(h / mh))
    fx = max(1, math.ceil(w / mw))
    if fy == 1 and fx == 1:
        return a
    ph = math.ceil(h / fy) * fy - h
    pw = math.ceil(w / fx) * fx - w
    af = a if how == "max" else a.astype(xp.float32 if a.dtype.itemsize <= 4 else xp.float64, copy=False)
    if ph or pw:
        pad = [(0, 0)] * (a.ndim - 2) + [(0, ph), (0, pw)]
        af = xp.pad(af, pad, mode="edge")
    if how == "max":
        shp = af.shape[:-2] + (af.shape[-2] // fy, fy, af.shape[-1] // fx, fx)
        return af.reshape(shp).max(axis=(-3, -1))
    return block_means(xp, af, fy, fx)


def block_means(xp, a, fy: int, fx: int):
    """Means of the ``fy`` × ``fx`` blocks of the last two axes of ``a`` (sizes multiples of them).

    The rows of each block are added first (whole rows at a time, memory-bound), then the
    columns of that ``fy`` times smaller sum: 3–4× faster than one mean over both block axes of a
    4096² float32 (55 → 15 ms here), and each block's arithmetic does not depend on how many
    block rows are reduced together, so a progressive run's display copies, reduced a few block
    rows per panel, equal the whole tensor's reduction exactly.
    """
    lead, (h, w) = a.shape[:-2], a.shape[-2:]
    rows = a.reshape(lead + (h // fy, fy, w)).sum(axis=-2)
    sums = rows.reshape(lead + (h // fy, w // fx, fx)).sum(axis=-1)
    return sums / (fy * fx)


class ComputedWhole:
    """The progress calls of a timeline whose run was computed before the timeline existed
    (``stream_op`` without ``progressive``, and programs): every step is there at once. Needs
    ``self._len``, the number of steps."""

    _len: int

    @property
    def done(self) -> bool:
        """True: the run was computed before the timeline existed."""
        return True

    @property
    def cancelled(self) -> bool:
        return False

    def available(self) -> int:
        """Steps computed so far: every step."""
        return self._len

    def wait(self, n: int | None = None, timeout: float | None = None) -> bool:
        """True: every step is there (``n`` is checked like an index)."""
        if n is not None:
            n = int(n)
            if not -self._len <= n < self._len:
                raise IndexError(f"step {n} out of range (timeline has {self._len} steps)")
        return True

    def cancel(self, wait: bool = True) -> None:
        """Nothing to stop: the run was computed whole."""

    def progress(self) -> float:
        """Fraction of the computation done: 1.0."""
        return 1.0


class Timeline(ComputedWhole, Sequence):
    """The steps of one run, with random access: ``len(tl)``, ``tl[17]``, ``tl[-1]``.

    A step is built on demand from the run's plan in O(1) (no replay), so seeking backwards is as
    fast as forwards. The timeline also answers what a tensor looks like after any step
    (:meth:`tensor_at`), the final outputs (:meth:`result`) and fixed display levels.

    Attributes
    ----------
    op, params, granularity : what was run and how it is stepped.
    run_id : unique id of this run.
    backend : the :class:`~compute.backend.BackendInfo` that computed it.
    notices : messages about the run (fallbacks, fully masked rows...).
    flops : floating-point operations of the direct computation.
    elapsed : seconds the computation took.
    options : tile / kblock options actually used.
    progressive : False here; a :class:`~compute.progressive.ProgressiveTimeline` (from
        ``stream_op(..., progressive=True)``) fills in while it is computed. Both answer
        :meth:`available`, :meth:`wait` and :meth:`cancel`, so a view needs one code path.
    """

    progressive = False

    def __init__(self, run: Run, plan: Plan, *, granularity: str, run_id: int, backend: BackendInfo,
                 notices: Sequence[str] = (), flops: int = 0, elapsed: float = 0.0, input_names: Sequence[str] = (),
                 options: Mapping | None = None):
        self._run = run
        self._plan = plan
        self.op = run.op
        self.params = dict(run.params)
        self.granularity = granularity
        self.run_id = run_id
        self.backend = backend
        self.notices = tuple(notices)
        self.flops = int(flops)
        self.elapsed = float(elapsed)
        self.options = dict(options or {})
        self.input_names = tuple(n for n in input_names if n in run.inputs)
        self.output_names = tuple(run.outputs)
        self.levels = LazyLevels(run, self.input_names + self.output_names)
        self._len = len(plan)
        self._result: dict | None = None
        self._result_lock = threading.Lock()
        self._display_cache: dict = {}

    # --- Sequence -------------------------------------------------------------------------
    def __len__(self) -> int:
        return self._len

    def __getitem__(self, n):
        if isinstance(n, slice):
            return [self[i] for i in range(*n.indices(self._len))]
        n = int(n)
        if n < 0:
            n += self._len
        if not 0 <= n < self._len:
            raise IndexError(f"step {n} out of range (timeline has {self._len} steps)")
        # Steps compute partial sums and captions from the run's values: NaN and Inf propagate as
        # in the result itself, and numpy's warnings about them are noise here too.
        with np.errstate(invalid="ignore", divide="ignore", over="ignore"):
            c = self._plan.step(n)
        return Step(self.run_id, n, self._len, c.stage, c.caption, c.tensors, c.regions, self.levels)

    # --- progress: see ComputedWhole; ProgressiveTimeline overrides these -----------------------
    def _final_ready(self) -> bool:
        """Whether the run's outputs hold their final values (display caches may keep them)."""
        return True

    # --- tensors ---------------------------------------------------------------------------
    @property
    def tensor_names(self) -> tuple[str, ...]:
        """Inputs then outputs, in the order the operation declares them."""
        return self.input_names + self.output_names

    def shape(self, name: str) -> tuple[int, ...]:
        return self._run.shape(name)

    def dtype(self, name: str) -> np.dtype:
        return np.dtype(str(self._run.tensor(name).dtype))

    def is_written(self, name: str) -> bool:
        """True when the steps write ``name`` progressively (it starts empty)."""
        return name in self._plan.writes

    def first_step_writing(self, name: str) -> int | None:
        """Index of the first step whose regions write ``name`` (None if none does)."""
        lo, hi = 0, self._len - 1
        if not self.is_written(name):
            return None
        # tensor_at is monotone: EMPTY before the first write, something else after.
        if self._plan.tensor_at(name, hi) is EMPTY:
            return None
        while lo < hi:
            mid = (lo + hi) // 2
            if self._plan.tensor_at(name, mid) is EMPTY:
                lo = mid + 1
            else:
                hi = mid
        return lo

    def tensor_at(self, name: str, n: int, lead: Sequence[int] = (), max_shape: Sequence[int] | None = None,
                  box: Sequence[tuple[int, int]] | None = None) -> np.ndarray:
        """Tensor ``name`` as it stands after step ``n``, as a read-only float host array.

        Not-yet-written elements are NaN; partial sums show as partial values. ``lead`` indexes
        the leading axes (to get one 2-D slice of an N-d tensor), ``box`` crops the last two axes
        (``((r0, r1), (c0, c1))``) and ``max_shape`` reduces what is left by block means — all on
        the device, so only the displayed pixels cross to the host.
        """
        if n < 0:
            n += self._len
        n = max(0, min(int(n), self._len - 1))
        final = self._run.tensor(name)
        lead = tuple(int(i) for i in lead)
        if (name in self._plan.writes and final.ndim >= 2 and len(lead) == final.ndim - 2
                and self._plan.has_reveal_order(name)):
            return self._ordered_frame(name, n, lead, box, max_shape)
        index = lead if box is None else lead + tuple(slice(int(a), int(b)) for a, b in box)
        if max_shape is not None and name in self._plan.writes and self._plan.has_reveal_order(name):
            # A reduced frame of a tensor revealed in a known order needs only that order: the
            # state below would be a `where` over the whole tensor (16 heads × 4096 × 64 of
            # attention's result: ~10 ms a frame) that the reduced frame never reads.
            order = self._plan.reveal_order(name) if n < self._len - 1 else None  # the last step shows all
            return self._reduced_frame(name, order, n, index, tuple(int(m) for m in max_shape))
        with np.errstate(invalid="ignore", divide="ignore", over="ignore"):  # partial sums of Inf/NaN
            state = self._plan.tensor_at(name, n) if name in self._plan.writes else FULL
        xp = self._run.xp
        if max_shape is not None and state is not EMPTY:
            order = self._plan.reveal_order(name) if state is not FULL else None
            if state is FULL or order is not None:
                return self._reduced_frame(name, order, n, index, tuple(int(m) for m in max_shape))
        if state is EMPTY:
            shape = final[index].shape
            if max_shape is not None and len(shape) >= 2:
                shape = shape[:-2] + tuple(math.ceil(s / max(1, math.ceil(s / m)))
                                           for s, m in zip(shape[-2:], max_shape))
            out = np.full(shape, np.nan, dtype=np.float64 if final.dtype.itemsize > 4 else np.float32)
        else:
            a = final if state is FULL else state
            a = a[index]
            if a.dtype == bool or a.dtype.kind in "iu":
                a = a.astype(xp.float64)
            elif a.dtype.itemsize < 4:
                a = a.astype(xp.float32)
            if max_shape is not None:
                a = block_reduce(xp, a, max_shape)
            out = to_host(a)
        out = np.asarray(out)
        if out.flags.writeable:
            out = out.view()
            out.setflags(write=False)
        return out

    def _ordered_frame(self, name, n, lead, box, max_shape) -> np.ndarray:
        """A frame of a tensor revealed element by element in a known order (tiles): only the
        slice (or its display blocks) is touched. The order is read on the frame's own grid (one
        entry per pixel, the last element of each display block: orders grow along each axis),
        and the final values are block-reduced once and cached (:meth:`_display_values`)."""
        final = self._run.tensor(name)
        h, w = final.shape[-2:]
        (r0, r1), (c0, c1) = ((0, h), (0, w)) if box is None else ((int(a), int(b)) for a, b in box)
        r1, c1 = max(r0, min(r1, h)), max(c0, min(c1, w))
        plan = self._plan
        if max_shape is None or (r1 - r0 <= max_shape[0] and c1 - c0 <= max_shape[1]):
            order = plan.reveal_order_at(name, lead, np.arange(r0, r1), np.arange(c0, c1))
            a = _display_dtype(self._run.xp, final[lead + (slice(r0, r1), slice(c0, c1))])
            if order.size and int(order.max()) > n:
                xp = self._run.xp
                a = xp.where(xp.asarray(order) <= n, a, xp.nan)
            out = np.asarray(to_host(a))
        else:
            max_shape = tuple(int(m) for m in max_shape)
            values = self._display_values(name, lead, (r0, r1, c0, c1), max_shape)
            key = ("order", name, lead, (r0, r1, c0, c1), max_shape)
            with self._result_lock:
                order = self._display_cache.get(key)
            if order is None:
                fy = max(1, math.ceil((r1 - r0) / max_shape[0]))
                fx = max(1, math.ceil((c1 - c0) / max_shape[1]))
                rows = np.minimum(np.arange(r0 + fy - 1, r0 + values.shape[0] * fy, fy), r1 - 1)
                cols = np.minimum(np.arange(c0 + fx - 1, c0 + values.shape[1] * fx, fx), c1 - 1)
                order = plan.reveal_order_at(name, lead, rows, cols)
                with self._result_lock:
                    if len(self._display_cache) > 16:
                        self._display_cache.clear()
                    self._display_cache[key] = order
            out = values if int(order.max(initial=-1)) <= n else np.where(order <= n, values, np.nan).astype(
                values.dtype, copy=False)
        if out.flags.writeable:
            out = out.view()
            out.setflags(write=False)
        return out

    def _display_values(self, name, lead, rect, max_shape) -> np.ndarray:
        """The final values of one 2-D slice (``rect`` = r0, r1, c0, c1) block-reduced to at most
        ``max_shape``, computed once and cached (a progressive timeline builds it as panels land)."""
        key = ("values", name, lead, rect, max_shape)
        with self._result_lock:
            cached = self._display_cache.get(key)
        if cached is not None:
            return cached
        r0, r1, c0, c1 = rect
        a = _display_dtype(self._run.xp, self._run.tensor(name)[lead + (slice(r0, r1), slice(c0, c1))])
        values = np.asarray(to_host(block_reduce(self._run.xp, a, max_shape)))
        values.setflags(write=False)
        with self._result_lock:
            if len(self._display_cache) > 16:  # a few views × zoom levels; never grows without bound
                self._display_cache.clear()
            self._display_cache[key] = values
        return values

    def _reduced_frame(self, name, order, n, index, max_shape) -> np.ndarray:
        """A display frame of a tensor revealed element by element, without touching the full
        tensor per frame: its final values and its reveal order are reduced once (block mean and
        block max) and cached, so each frame is one ``where`` at display resolution. A block shows
        as written when every element in it is."""
        key = (name, repr(index), max_shape, order is None)
        # Only final values may be cached: a progressive run's unfinished panels still change. Its
        # inputs never do: re-reducing an 8192² input every frame cost 50–125 ms mid-run.
        final_ready = name not in self._run.outputs or self._final_ready()
        with self._result_lock:
            cached = self._display_cache.get(key) if final_ready else None
        if cached is None:
            xp = self._run.xp
            final = self._run.tensor(name)
            a = final[index]
            if a.dtype == bool or a.dtype.kind in "iu":
                a = a.astype(xp.float64)
            elif a.dtype.itemsize < 4:
                a = a.astype(xp.float32)
            values = to_host(block_reduce(xp, a, max_shape))
            if values.flags.writeable:
                values.setflags(write=False)
            steps = None
            if order is not None:
                steps = to_host(block_reduce(xp, xp.broadcast_to(order, final.shape)[index], max_shape, "max"))
            cached = (values, steps)
            with self._result_lock:
                if final_ready:
                    if len(self._display_cache) > 8:  # a few views × zoom levels; never grows without bound
                        self._display_cache.clear()
                    self._display_cache[key] = cached
        values, steps = cached
        if order is None or steps is None:
            return values
        out = np.where(steps <= n, values, np.nan).astype(values.dtype, copy=False)
        out.setflags(write=False)
        return out

    def value_at(self, name: str, n: int, index: Sequence[int]) -> float:
        """One element of ``tensor_at(name, n)`` at full precision (for hover read-outs)."""
        index = tuple(int(i) for i in index)
        lead, last = index[:-2], index[-2:]
        box = tuple((i, i + 1) for i in last)
        a = self.tensor_at(name, n, lead=lead, box=box if len(last) == 2 else None)
        if len(last) < 2:
            a = a[last] if last else a
            return float(a)
        return float(a.reshape(-1)[0])

    def result(self) -> dict[str, np.ndarray]:
        """Every named output as a read-only host array (equal to ``run_op``'s)."""
        with self._result_lock:
            if self._result is None:
                res = {}
                for k, v in self._run.outputs.items():
                    h = np.asarray(to_host(v))
                    if h.flags.writeable:
                        h = h.view()
                        h.setflags(write=False)
                    res[k] = h
                self._result = res
            return self._result

    def inputs(self) -> dict[str, np.ndarray]:
        """The inputs as computed (after dtype normalization), as host arrays."""
        return {k: np.asarray(to_host(self._run.inputs[k])) for k in self.input_names}

    @property
    def run(self) -> Run:
        """The underlying run (device arrays); for plans and benchmarks."""
        return self._run
