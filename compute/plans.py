"""Generic step plans: the ways an operation's steps reveal its tensors.

A plan is a random-access description of a run's steps. ``step(n)`` builds one step's content in
O(1) (no replay from step 0), and ``tensor_at(name, n)`` says what a tensor looks like after step
``n``: :data:`FULL` (its final value), :data:`EMPTY` (nothing written yet: shown as NaN), or an
array (partly written, or partial sums). Three building blocks cover most operations:

- :class:`StagePlan`: one step per named intermediate (every op's ``stage`` granularity);
- :class:`GridPlan`: one step per tile of an output, tiles in row-major order (``element`` is a
  tile of ones, ``tile`` a bigger box);
- :class:`ConcatPlan`: plans played one after another (e.g. scores by tile, then the stages).
"""

from __future__ import annotations

import bisect
import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np

from .step import Region, StepContent

FULL = "full"
EMPTY = "empty"


@dataclass
class Run:
    """A computed run: the operation, its (device) inputs and outputs and the parameters.

    Plans read it to describe steps; only the small parts a step shows are copied to the host.
    """

    op: str
    xp: object
    inputs: dict
    outputs: dict
    params: dict

    def tensor(self, name: str):
        if name in self.outputs:
            return self.outputs[name]
        return self.inputs[name]

    def host(self, name: str, index=...) -> np.ndarray:
        """``tensor(name)[index]`` as a read-only numpy array (only that part leaves the device)."""
        a = self.tensor(name)[index]
        if hasattr(a, "get") and not isinstance(a, np.ndarray):
            a = a.get()
        a = np.asarray(a)
        if a.flags.writeable:
            a = a.view()
            a.setflags(write=False)
        return a

    def scalar(self, name: str, index) -> float:
        """One element as a Python number (for captions)."""
        v = self.tensor(name)[index]
        return v.item() if hasattr(v, "item") else float(v)

    def shape(self, name: str) -> tuple[int, ...]:
        return tuple(self.tensor(name).shape)


class Plan:
    """Base of every plan. Subclasses set ``writes`` and implement ``__len__``, ``step``, ``tensor_at``."""

    writes: tuple[str, ...] = ()

    def __len__(self) -> int:  # pragma: no cover - abstract
        raise NotImplementedError

    def step(self, n: int) -> StepContent:  # pragma: no cover - abstract
        raise NotImplementedError

    def tensor_at(self, name: str, n: int):
        """:data:`FULL`, :data:`EMPTY` or an array: tensor ``name`` as it stands after step ``n``."""
        return FULL

    def reveal_order(self, name: str):
        """For tensors revealed element by element: an int array (broadcastable to the tensor) giving
        the step that writes each element, so a view can build any frame from a reduced copy of the
        final values; None when the plan reveals ``name`` another way (partial sums, stages)."""
        return None

    def has_reveal_order(self, name: str) -> bool:
        """Whether :meth:`reveal_order_at` answers for ``name`` (without building any array)."""
        return self.reveal_order(name) is not None

    def reveal_order_at(self, name: str, lead: tuple, rows, cols):
        """The reveal order of a ≥ 2-D tensor on one grid: leading index ``lead`` (ints for every
        axis before the last two), then the 1-D int arrays ``rows`` × ``cols`` of the last two axes.
        Returns a (len(rows), len(cols)) int array. Orders are non-decreasing along each axis (tiles
        in row-major order), so a display block's order is the order of its last element: a frame
        of any size costs its pixels, never a pass over the tensor."""
        o = self.reveal_order(name)
        o = np.asarray(o.get() if hasattr(o, "get") and not isinstance(o, np.ndarray) else o)  # CuPy: small
        lead = tuple(int(i) for i in lead)
        o = o.reshape((1,) * max(0, len(lead) + 2 - o.ndim) + o.shape)
        o = o[tuple(0 if size == 1 else i for size, i in zip(o.shape, lead))]  # broadcast axes: index 0
        rows, cols = np.asarray(rows, dtype=np.intp), np.asarray(cols, dtype=np.intp)
        rows = rows if o.shape[0] > 1 else np.zeros_like(rows)
        cols = cols if o.shape[1] > 1 else np.zeros_like(cols)
        return o[np.ix_(rows, cols)]


def full_box(shape) -> tuple[tuple[int, int], ...]:
    """The box covering a whole tensor."""
    return tuple((0, int(s)) for s in shape)


@dataclass(frozen=True)
class Stage:
    """One stage: its ``name``, the tensors it ``writes`` and ``reads``, and its caption.

    ``caption`` is a string, or a callable giving it when the step is built: a caption that
    quotes a value of what the stage writes must not read it when the plan is made, because a
    progressive run plans its steps before its outputs are computed (they are still uninitialized
    memory then)."""

    name: str
    writes: tuple[str, ...]
    reads: tuple[str, ...]
    caption: str | Callable[[], str]
    tensors: tuple[str, ...] = ()

    @property
    def text(self) -> str:
        """The caption (evaluated now when it is a callable)."""
        return self.caption() if callable(self.caption) else self.caption


class StagePlan(Plan):
    """One step per stage; each stage reveals the tensors it writes, whole."""

    def __init__(self, run: Run, stages: Sequence[Stage]):
        self.run = run
        self.stages = tuple(stages)
        first: dict[str, int] = {}
        for i, s in enumerate(self.stages):
            for w in s.writes:
                first.setdefault(w, i)
        self._first = first
        self.writes = tuple(first)

    def __len__(self) -> int:
        return len(self.stages)

    def step(self, n: int) -> StepContent:
        s = self.stages[n]
        regions = tuple(Region(t, "read", full_box(self.run.shape(t))) for t in s.reads)
        regions += tuple(Region(t, "write", full_box(self.run.shape(t))) for t in s.writes)
        tensors = {t: self.run.host(t) for t in s.tensors}
        return StepContent(s.name, s.text, tensors, regions)

    def tensor_at(self, name: str, n: int):
        first = self._first.get(name)
        if first is None:
            return FULL
        return FULL if n >= first else EMPTY


def grid_linear_index(xp, shape, tile) -> object:
    """For every element of a tensor of ``shape``, the row-major index of the tile holding it."""
    grid = [math.ceil(s / t) if s else 0 for s, t in zip(shape, tile)]
    lin = xp.zeros((1,) * len(shape), dtype=xp.int64)
    stride = 1
    for axis in range(len(shape) - 1, -1, -1):
        coord = xp.arange(shape[axis], dtype=xp.int64) // tile[axis]
        view_shape = [1] * len(shape)
        view_shape[axis] = shape[axis]
        lin = lin + coord.reshape(view_shape) * stride
        stride *= grid[axis]
    return lin


class GridPlan(Plan):
    """One step per tile of output ``out`` (tiles of shape ``tile``, row-major order).

    ``describe(n, box)`` returns a :class:`StepContent` for tile ``n`` covering ``box`` (one
    ``(start, stop)`` per axis); the plan adds the ``write`` region of ``out`` itself.
    """

    def __init__(self, run: Run, out: str, tile: Sequence[int], describe: Callable[[int, tuple], StepContent],
                 also_writes: Sequence[str] = ()):
        self.run = run
        self.out = out
        self.shape = run.shape(out)
        self.tile = tuple(max(1, min(int(t), int(s) if s else 1)) for t, s in zip(tile, self.shape))
        self.grid = tuple(math.ceil(s / t) if s else 0 for s, t in zip(self.shape, self.tile))
        self.count = int(np.prod(self.grid)) if self.grid else 1
        self.describe = describe
        self.writes = (out, *also_writes)
        self._lin = None

    def __len__(self) -> int:
        return self.count

    def box(self, n: int) -> tuple[tuple[int, int], ...]:
        """The box of tile ``n``."""
        coords = []
        for g in reversed(self.grid):  # plain divmod: np.unravel_index costs more than the rest of a step
            n, c = divmod(n, g) if g else (n, 0)
            coords.append(c)
        coords.reverse()
        return tuple((c * t, min((c + 1) * t, s)) for c, t, s in zip(coords, self.tile, self.shape))

    def step(self, n: int) -> StepContent:
        box = self.box(n)
        content = self.describe(n, box)
        regions = content.regions + (Region(self.out, "write", box),)
        return StepContent(content.stage, content.caption, content.tensors, regions)

    def tensor_at(self, name: str, n: int):
        if n >= self.count - 1:
            return FULL
        xp = self.run.xp
        final = self.run.tensor(name)
        if not self.shape:
            return FULL
        if name != self.out and tuple(final.shape) != self.shape:
            return FULL
        return xp.where(self.reveal_order(self.out) <= n, final, xp.nan)

    def reveal_order(self, name: str):
        if name != self.out or not self.shape:
            return None
        if self._lin is None:  # built once per plan: seeking is then one vectorized where()
            self._lin = grid_linear_index(self.run.xp, self.shape, self.tile)
        return self._lin

    def has_reveal_order(self, name: str) -> bool:
        return name == self.out and bool(self.shape)

    def reveal_order_at(self, name: str, lead: tuple, rows, cols):
        """Tile indices on a grid, from the tile coordinates alone: the full-size order (int64,
        8 bytes an element: 512 MiB for an 8192² product) is never built."""
        stride = 1
        strides = []
        for g in reversed(self.grid):
            strides.append(stride)
            stride *= g
        strides.reverse()
        nlead = len(self.shape) - 2
        base = sum((int(i) // t) * s for i, t, s in zip(lead, self.tile[:nlead], strides[:nlead]))
        r = (np.asarray(rows, dtype=np.int64) // self.tile[-2]) * strides[-2]
        c = (np.asarray(cols, dtype=np.int64) // self.tile[-1]) * strides[-1]
        return base + r[:, None] + c[None, :]


class ConcatPlan(Plan):
    """Plans played one after the other; each tensor is revealed by the first part that writes it."""

    def __init__(self, parts: Sequence[Plan]):
        self.parts = tuple(p for p in parts if len(p))
        self.starts = []
        total = 0
        for p in self.parts:
            self.starts.append(total)
            total += len(p)
        self.total = total
        writes: list[str] = []
        for p in self.parts:
            writes.extend(w for w in p.writes if w not in writes)
        self.writes = tuple(writes)

    def __len__(self) -> int:
        return self.total

    def locate(self, n: int) -> tuple[Plan, int]:
        """The part holding step ``n`` and the step's index within it."""
        i = bisect.bisect_right(self.starts, n) - 1
        return self.parts[i], n - self.starts[i]

    def step(self, n: int) -> StepContent:
        part, local = self.locate(n)
        return part.step(local)

    def reveal_order(self, name: str):
        for part, start in zip(self.parts, self.starts):
            if name in part.writes:
                order = part.reveal_order(name)
                return None if order is None else order + start
        return None

    def has_reveal_order(self, name: str) -> bool:
        for part in self.parts:
            if name in part.writes:
                return part.has_reveal_order(name)
        return False

    def reveal_order_at(self, name: str, lead: tuple, rows, cols):
        for part, start in zip(self.parts, self.starts):
            if name in part.writes:
                return part.reveal_order_at(name, lead, rows, cols) + start
        raise KeyError(name)

    def tensor_at(self, name: str, n: int):
        for part, start in zip(self.parts, self.starts):
            if name not in part.writes:
                continue
            if n < start:
                return EMPTY
            if n < start + len(part):
                return part.tensor_at(name, n - start)
            return FULL
        return FULL


def auto_tile(shape2d: Sequence[int], target_steps: int = 256) -> tuple[int, int]:
    """A square-ish tile that splits a (rows, cols) output into about ``target_steps`` tiles."""
    rows, cols = (int(shape2d[0]), int(shape2d[1])) if len(shape2d) >= 2 else (1, int(shape2d[-1]) if shape2d else 1)
    side = int(math.ceil(math.sqrt(max(1, rows * cols) / target_steps)))
    side = 1 << max(0, (side - 1).bit_length())  # powers of two suit BLAS and read well ("tile 64")
    return max(1, min(side, rows)), max(1, min(side, cols))


class FuncPlan(Plan):
    """A plan made of two closures: ``step_fn(n) -> StepContent`` and ``state_fn(name, n)``.

    Operations whose steps do not fit :class:`StagePlan` or :class:`GridPlan` (k-blocks of partial
    sums, running reductions) describe them with closures over their run; ``state_fn`` returns
    :data:`FULL`, :data:`EMPTY` or an array, exactly like :meth:`Plan.tensor_at`.
    """

    def __init__(self, length: int, step_fn: Callable[[int], StepContent],
                 state_fn: Callable[[str, int], object], writes: Sequence[str]):
        self._length = int(length)
        self._step_fn = step_fn
        self._state_fn = state_fn
        self.writes = tuple(writes)

    def __len__(self) -> int:
        return self._length

    def step(self, n: int) -> StepContent:
        return self._step_fn(n)

    def tensor_at(self, name: str, n: int):
        if name not in self.writes:
            return FULL
        return self._state_fn(name, n)
