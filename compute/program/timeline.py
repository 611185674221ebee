"""``stream_program``: one random-access timeline for a whole program, line after line.

Each line becomes a part: a line whose expression is a registered operation's call (or a single
``@``, ``+`` or ``*`` between float tensors of one dtype: ``matmul``, ``add``, ``hadamard``) is that
operation's own :func:`compute.stream_op` timeline, stepped with the line's granularity (element,
tile, kblock or stage where the operation offers it); any other line is one ``stage`` step. The
parts play one after another (like :class:`~compute.plans.ConcatPlan` does for the parts of one
operation), and ``tl[n]`` maps ``n`` to (line, step in the line) in O(log lines).

Tensor names. The program's tensors are its inputs (``"Q"``, ``"d_k"``) and its lines
(``"scores"``, ``"w"``; ``"result"`` is also the last line). An operation line's other tensors are
qualified by the line: output ``scores`` of line ``w`` is ``"w.scores"``, and an argument that is
a sub-expression rather than a name, e.g. ``K.T`` in ``w = attention(Q, K.T, V)``, is the line's
input ``"w.K"``. Steps' captions start with their line (``"w: scores = Q Kᵀ …"``) and their
regions and tensors use these program-wide names; the operation's captions are rewritten to the
program's names (``r1[0,3] = X[0,3] + a[0,3]``, not ``result[0,3] = A[0,3] + B[0,3]``; see
:mod:`.captions`). A line's tensors are empty (NaN) before the
line's first step, as in one operation's timeline.
"""

from __future__ import annotations

import bisect
import itertools
import math
import re
import threading
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from types import MappingProxyType

import numpy as np

from ..api import plan_ahead, stream_op
from ..backend import backend_info
from ..errors import ParamError
from ..numbers import fmt, fmt_index, fmt_list, fmt_shape
from ..plans import Run, Stage, StagePlan
from ..registry import GRANULARITIES, get_spec
from ..step import Region, Step, frozen
from ..timeline import ComputedWhole, Timeline
from .captions import line_labels, node_label, relabel
from .dtypes import DtypeEvaluator, stand_in
from .evaluate import ENGINE_OPS, Evaluator, as_operand, engine_operands, is_number
from .nodes import BinOp, Call, Name, Num, Transpose, Unary, short
from .parse import RESULT, walk_names
from .run import prepare_program

# Program timelines number their runs far above stream_op's counter, so a view that keys on
# run_id never mistakes a program's steps for an operation's.
_run_ids = itertools.count(1 << 40)

_STAGE_NAMES = {"+": "add", "-": "subtract", "*": "multiply", "/": "divide", "@": "matmul", "**": "power"}


@dataclass(frozen=True)
class LinePart:
    """One line in a program's timeline: its ``name`` and expression ``text``; ``op`` (the
    registered operation it streams, or None for a one-step ``stage`` line); its own
    ``timeline``; ``start`` (its first step in the program's); ``names``, its timeline's tensor
    names → the program's; ``labels``, how its captions name the operation's inputs and ``result``
    (see :mod:`.captions`)."""

    name: str
    text: str
    op: str | None
    timeline: Timeline
    start: int
    names: Mapping[str, str]
    labels: Mapping[str, str] = field(default_factory=dict)
    #: Operation inputs that are a program tensor transposed (``B`` of ``Q @ K.T`` → ``"K"``): a
    #: step's regions on them are also given on that tensor, last two axes swapped, so the view of
    #: ``K`` outlines the row a step reads (Kᵀ's column j is K's row j).
    transposed: Mapping[str, str] = field(default_factory=dict)
    #: ``(Q, K)`` for a line ``Q @ K.T`` of names of one shape's batch: its element captions also
    #: read as the loop the product replaces, ``S[i,j] = Q[i] · K[j] = …`` (the articles' manual
    #: loop; ``S[b,i,j] = Q[b,i] · K[b,j]`` over a batch).
    row_dot: tuple[str, str] | None = None

    @property
    def granularity(self) -> str:
        return self.timeline.granularity

    def __len__(self) -> int:
        return len(self.timeline)


class ProgramLevels(Mapping):
    """Display levels by program tensor name, read from the timeline of the line owning each.

    It holds what it reads (the owner table and the lines' parts), not the program timeline: the
    timeline holds it, and that cycle kept a dropped timeline and every line's tensors alive until
    the interpreter's next full collection (a progressive one's worker too: its finalizer, which
    stops it, waited as long). Steps hold it, so it must outlive the timeline."""

    def __init__(self, tl: ProgramTimeline):
        self._owner = tl._owner
        self._parts = tl._parts  # a progressive run's, replaced in place as its lines are computed
        self._input_tl = tl._input_tl
        self._names = tl.tensor_names

    def _resolve(self, name: str) -> tuple[Timeline, str]:
        i, local = self._owner[name]
        return (self._input_tl if i < 0 else self._parts[i].timeline), local

    def __getitem__(self, name: str) -> tuple[float, float]:
        owner, local = self._resolve(name)
        return owner.levels[local]

    def __iter__(self):
        return iter(self._names)

    def __len__(self) -> int:
        return len(self._names)


class ProgramTimeline(ComputedWhole, Sequence):
    """The steps of a whole program, with the API of :class:`~compute.timeline.Timeline`:
    ``len(tl)``, ``tl[n]`` (a :class:`~compute.step.Step`, built on demand), ``tensor_at``,
    ``value_at``, ``shape``, ``dtype``, ``is_written``, ``first_step_writing``, ``result()``,
    ``inputs()``, ``levels``, ``tensor_names``, and the progress calls (``done``, ``available``,
    ``wait``, ``cancel``, ``progress``) of a timeline computed whole.

    Attributes
    ----------
    op : ``"program"``.
    program : the parsed :class:`~.nodes.Program`; ``text`` its source.
    lines : the :class:`LinePart` of each line, in order.
    params : the scalar parameters given.
    granularity : the granularity asked for (a name, ``"per line"`` for a dict, or ``"default"``);
        ``granularities`` the one each line uses.
    run_id, backend, notices, flops, elapsed : as for an operation's timeline (flops and elapsed
        summed over the lines).
    options : line name → the tile / kblock options its timeline used.
    """

    def __init__(self, prep, parts: Sequence[LinePart], values: Mapping[str, np.ndarray], *, run_id: int,
                 granularity: str, params: Mapping, notices: Sequence[str], elapsed: float):
        self.program = prep.program
        self.text = prep.program.text
        self.op = "program"
        self._parts = list(parts)
        self.params = dict(params)
        self.granularity = granularity
        self.granularities = {p.name: p.granularity for p in parts}
        self.options = {p.name: dict(p.timeline.options) for p in parts if p.op}
        self.run_id = int(run_id)
        self.backend = backend_info()
        self.notices = tuple(notices)
        self.flops = sum(int(p.timeline.flops) if p.op else math.prod(p.timeline.shape("result")) for p in parts)
        self.elapsed = float(elapsed)
        self.input_names = tuple(prep.inputs)
        self.output_names = prep.program.line_names
        self._inputs = dict(prep.inputs)
        self._values = dict(values)
        holder = Run("inputs", np, dict(prep.inputs), {}, {})
        self._input_tl = Timeline(holder, StagePlan(holder, [Stage("inputs", (), (), "inputs")]),
                                  granularity="stage", run_id=self.run_id, backend=self.backend,
                                  input_names=self.input_names)
        self._starts = [p.start for p in parts]
        self._len = sum(len(p) for p in parts)
        owner: dict[str, tuple[int, str]] = {n: (-1, n) for n in self.input_names}
        names: list[str] = list(self.input_names)
        for i, p in enumerate(parts):
            mine = [prog for local, prog in p.names.items() if prog not in owner]
            for local, prog in p.names.items():
                owner.setdefault(prog, (i, local))
            names.extend(n for n in mine if n != p.name)
            names.append(p.name)
        if RESULT not in owner:
            owner[RESULT] = owner[prep.program.result_name]
        self._owner = owner
        self.tensor_names = tuple(names)
        self.levels = ProgramLevels(self)
        self._result: dict | None = None
        self._lock = threading.Lock()

    @property
    def lines(self) -> tuple[LinePart, ...]:
        """The :class:`LinePart` of each line, in order."""
        return tuple(self._parts)

    # --- Sequence -------------------------------------------------------------------------
    def __len__(self) -> int:
        return self._len

    def locate(self, n: int) -> tuple[LinePart, int]:
        """The line holding step ``n`` and the step's index within the line's own timeline."""
        n = int(n)
        if n < 0:
            n += self._len
        if not 0 <= n < self._len:
            raise IndexError(f"step {n} out of range (timeline has {self._len} steps)")
        i = bisect.bisect_right(self._starts, n) - 1
        return self._parts[i], n - self._starts[i]

    def line_at(self, n: int) -> str:
        """The name of the line step ``n`` belongs to."""
        return self.locate(n)[0].name

    def part(self, line: str) -> LinePart:
        """The :class:`LinePart` of line ``line`` (``"result"``: the last line)."""
        if line == RESULT:
            line = self.program.result_name
        for p in self.lines:
            if p.name == line:
                return p
        raise KeyError(line)

    def __getitem__(self, n):
        if isinstance(n, slice):
            return [self[i] for i in range(*n.indices(self._len))]
        part, local = self.locate(n)
        n = part.start + local
        s = part.timeline[local]
        regions = tuple(Region(self._name(part, r.tensor), r.kind, r.box) for r in s.regions)
        if part.transposed:
            regions += tuple(Region(part.transposed[r.tensor], r.kind, _swap_last_two(r.box))
                             for r in s.regions if r.tensor in part.transposed)
        tensors = {self._name(part, k): v for k, v in s.tensors.items()}
        caption = _line_caption(part, relabel(s.caption, part.labels), s.stage)
        return Step(self.run_id, n, self._len, s.stage, caption, tensors, regions, self.levels)

    @staticmethod
    def _name(part: LinePart, local: str) -> str:
        return part.names.get(local) or f"{part.name}.{local}"

    # --- tensors ---------------------------------------------------------------------------
    def _resolve(self, name: str) -> tuple[Timeline, str]:
        try:
            return self.levels._resolve(name)  # one place maps a program name to its line's tensor
        except KeyError:
            raise KeyError(f"no tensor {name!r} in this program; tensors: {', '.join(self.tensor_names)}") from None

    def owner(self, name: str) -> str | None:
        """The line that makes tensor ``name`` (None for inputs)."""
        i, _local = self._owner[name]
        return None if i < 0 else self.lines[i].name

    def shape(self, name: str) -> tuple[int, ...]:
        tl, local = self._resolve(name)
        return tl.shape(local)

    def dtype(self, name: str) -> np.dtype:
        tl, local = self._resolve(name)
        return tl.dtype(local)

    def is_written(self, name: str) -> bool:
        """True for every tensor a line makes (it starts empty); False for inputs."""
        return self._owner[name][0] >= 0

    def first_step_writing(self, name: str) -> int | None:
        i, local = self._owner[name]
        if i < 0:
            return None
        part = self.lines[i]
        if not part.timeline.is_written(local):
            return part.start
        first = part.timeline.first_step_writing(local)
        return None if first is None else part.start + first

    def tensor_at(self, name: str, n: int, lead: Sequence[int] = (), max_shape: Sequence[int] | None = None,
                  box: Sequence[tuple[int, int]] | None = None) -> np.ndarray:
        """Tensor ``name`` as it stands after step ``n`` (NaN where not yet written), read-only;
        ``lead``, ``box`` and ``max_shape`` as in :meth:`compute.timeline.Timeline.tensor_at`."""
        if name not in self._owner:
            self._resolve(name)  # raises the KeyError listing the tensors
        i, local = self._owner[name]
        if i < 0:
            return self._input_tl.tensor_at(local, 0, lead, max_shape, box)
        if n < 0:
            n += self._len
        n = max(0, min(int(n), self._len - 1))
        part = self.lines[i]
        if n < part.start:
            return _empty_frame(part.timeline.shape(local), part.timeline.dtype(local), lead, max_shape, box)
        return part.timeline.tensor_at(local, min(n - part.start, len(part) - 1), lead, max_shape, box)

    def value_at(self, name: str, n: int, index: Sequence[int]) -> float:
        """One element of ``tensor_at(name, n)`` at full precision (for hover read-outs)."""
        index = tuple(int(i) for i in index)
        lead, last = index[:-2], index[-2:]
        box = tuple((i, i + 1) for i in last)
        a = self.tensor_at(name, n, lead=lead, box=box if len(last) == 2 else None)
        if len(last) < 2:
            return float(a[last] if last else a)
        return float(a.reshape(-1)[0])

    def result(self) -> dict[str, np.ndarray]:
        """Every line's value as a read-only host array, plus ``"result"`` (equal to ``run_program``'s)."""
        with self._lock:
            if self._result is None:
                res = {k: frozen(v) for k, v in self._values.items()}
                res[RESULT] = res[self.program.result_name]
                self._result = res
            return self._result

    def final_value(self, name: str) -> np.ndarray:
        """The final value of any tensor of the program, in its own dtype (read-only): an input, a
        line, or one of a line's operation tensors (``"w.weights"``, ``"w.K"``), which
        :meth:`result` does not hold."""
        tl, local = self._resolve(name)
        if tl is self._input_tl or local in tl.input_names:
            return frozen(tl.inputs()[local])
        return frozen(tl.result()[local])

    def computed_values(self) -> dict[str, np.ndarray]:
        """Every line's value computed so far (read-only host arrays, no waiting): all of
        :meth:`result` here; a progressive run's finished lines while it runs."""
        return self.result()

    def inputs(self) -> dict[str, np.ndarray]:
        """The inputs and parameters as computed (cast to the program's dtype), as host arrays."""
        return dict(self._inputs)

    @property
    def run(self) -> Run:
        """The program as one :class:`~compute.plans.Run` (host inputs, every line as an output)."""
        return Run("program", np, dict(self._inputs), dict(self._values), dict(self.params))


def names_line(line: str, caption: str) -> bool:
    """Whether ``caption`` starts by naming what line ``line`` writes: ``S[1,1] = …``,
    ``n = g·norm + b…``, ``s (1, 2) = …`` (then it needs no ``line:`` prefix)."""
    return re.match(rf"{re.escape(line)}(\[| = | \()", caption) is not None


def _line_caption(part: LinePart, caption: str, stage: str) -> str:
    """A step's caption in the program: prefixed with its line's name, unless it already starts by
    naming what the line writes (``S[1,1] = …``, not ``S: S[1,1] = …``); a ``Q @ K.T`` line's
    element steps also say which rows they pair (:attr:`LinePart.row_dot`)."""
    written = re.match(rf"{re.escape(part.name)}\[(\d+(?:,\s*\d+)+)\] = ", caption)
    if part.row_dot is not None and stage == "element" and written is not None:
        (q, k), index = part.row_dot, [i.strip() for i in written.group(1).split(",")]
        lead, (i, j) = index[:-2], index[-2:]
        caption = (f"{caption[:written.end()]}{q}[{','.join([*lead, i])}] · {k}[{','.join([*lead, j])}] = "
                   f"{caption[written.end():]}")
    if names_line(part.name, caption):
        return caption
    return f"{part.name}: {caption}"


def _swap_last_two(box):
    """A region box of ``x.T`` as a box of ``x``: its last two axes swapped (1-D and 0-d: as is)."""
    box = tuple(box)
    return box[:-2] + (box[-1], box[-2]) if len(box) >= 2 else box


def _empty_frame(shape, dtype, lead, max_shape, box) -> np.ndarray:
    """The NaN frame a tensor shows before its line starts (the shape ``tensor_at`` would give)."""
    index = tuple(int(i) for i in lead)
    if box is not None:
        index += tuple(slice(int(a), int(b)) for a, b in box)
    shp = np.broadcast_to(np.empty((), np.int8), tuple(shape))[index].shape
    if max_shape is not None and len(shp) >= 2:
        shp = shp[:-2] + tuple(math.ceil(s / max(1, math.ceil(s / m))) for s, m in zip(shp[-2:], max_shape))
    out = np.full(shp, np.nan, dtype=np.float64 if np.dtype(dtype).itemsize > 4 else np.float32)
    out.setflags(write=False)
    return out


def _line_granularity(granularity, line: str, offered: Sequence[str], op: str | None) -> str | None:
    """The granularity line ``line`` streams with: the one asked for where its operation offers it
    (a dict asking for one it lacks is an error; a single name applies only where offered)."""
    if isinstance(granularity, Mapping):
        want = granularity.get(line)
        if want is not None and want not in offered:
            what = f"{op} steps by {', '.join(offered)}" if op else "it is one stage step (not an operation call)"
            raise ParamError(f"line {line}: granularity {want!r} is not available; {what}")
        return want
    return granularity if granularity in offered else None


def _stage_caption(text: str, value: np.ndarray, name: str = "") -> str:
    """A one-step line's caption: its text, its shape and real numbers (a scalar's value, a
    vector's entries, else the first row it wrote: ``f1[0] = [1.569, 0, …]``), not the shape
    alone."""
    cap = f"{short(text, 72)} → {fmt_shape(value.shape)}"
    v = np.asarray(value)
    if v.size == 1:
        cap += f" = {fmt(v.reshape(-1)[0])}"
    elif v.ndim == 1:
        cap += f" = {fmt_list(v, limit=8)}"
    elif v.size:
        first = (0,) * (v.ndim - 1)
        cap += f"; {name or 'row'}{fmt_index(first)} = {fmt_list(v[first], limit=8)}"
    return cap


def _stage_name(node) -> str:
    if isinstance(node, BinOp):
        return _STAGE_NAMES[node.op]
    if isinstance(node, Unary):
        return "negate" if node.op == "-" else "copy"
    if isinstance(node, Transpose):
        return "transpose"
    if isinstance(node, Call):
        return node.func
    if isinstance(node, Num):
        return "constant"
    return "copy"


#: The stepping options a line's operation may take (as ``stream_op``'s keywords).
LINE_OPTIONS = ("tile", "kblock")


def _check_options(options, line_names) -> dict[str, dict]:
    """``options`` (None, or line name → {"tile": …, "kblock": …}) checked for names and keys."""
    if options is None:
        return {}
    if not isinstance(options, Mapping):
        raise ParamError(f"options must be a dict line name -> {{'tile': ..., 'kblock': ...}}, not {options!r}")
    unknown = [k for k in options if k not in line_names]
    if unknown:
        raise ParamError(f"options for unknown line(s) {', '.join(map(str, unknown))}; "
                         f"lines: {', '.join(line_names)}")
    out = {}
    for line, opts in options.items():
        if not isinstance(opts, Mapping):
            raise ParamError(f"line {line}: options must be a dict like {{'tile': 4}}, not {opts!r}")
        bad = [k for k in opts if k not in LINE_OPTIONS]
        if bad:
            raise ParamError(f"line {line}: unknown option(s) {', '.join(map(str, bad))}; valid: "
                             f"{', '.join(LINE_OPTIONS)}")
        out[line] = {k: v for k, v in opts.items() if v is not None}
    return out


def stream_program(text: str, inputs: Mapping, granularity=None, options=None, progressive: bool = False,
                   **params) -> ProgramTimeline:
    """Compute the program ``text`` on ``inputs`` (and scalar ``params``, as in ``run_program``)
    and return its :class:`ProgramTimeline`.

    Parameters
    ----------
    granularity : None (each line's default: the finest that keeps its timeline under
        ``MAX_DEFAULT_STEPS``), a name (``"element"``, ``"tile"``, ``"kblock"``, ``"stage"``) used by
        every line whose operation offers it, or a dict line name → granularity.
    options : None, or a dict line name → that line's stepping options, ``{"tile": 4}`` (an int or
        (rows, cols) for ``tile`` steps) and/or ``{"kblock": 2}`` (for ``kblock`` steps), given to
        the line's operation as :func:`compute.stream_op` takes them. A line that is no
        operation call (one ``stage`` step) takes none.

    progressive : return at once a
        :class:`~compute.program.progressive.ProgressiveProgramTimeline`: every line's steps are
        planned from shapes and dtypes (so ``len(tl)`` and the tensor names are final at once) and
        a worker thread computes the lines in order, matmul and attention lines panel by panel
        (``tl.available()``, ``tl.wait(n, timeout)``, ``tl.cancel()``, ``tl.progress()``,
        ``tl.time_left()``, ``tl.result()``, as ``stream_op(..., progressive=True)``). Every step
        that is available equals the non-progressive timeline's.

    The whole program's memory (every line and every operation's kept tensors) is checked against
    the budget before anything is computed; ``tl.result()`` equals ``run_program``'s.
    """
    if granularity is not None and not isinstance(granularity, Mapping) and granularity not in GRANULARITIES:
        raise ParamError(f"unknown granularity {granularity!r}; valid: {', '.join(GRANULARITIES)}, "
                         f"or a dict line name -> granularity")
    prep = prepare_program(text, inputs, params, keep_all=True)
    line_options = _check_options(options, prep.program.line_names)
    if isinstance(granularity, Mapping):
        unknown = [k for k in granularity if k not in prep.program.line_names]
        if unknown:
            raise ParamError(f"granularity for unknown line(s) {', '.join(map(str, unknown))}; "
                             f"lines: {', '.join(prep.program.line_names)}")
        bad = [v for v in granularity.values() if v not in GRANULARITIES]
        if bad:
            raise ParamError(f"unknown granularity {bad[0]!r}; valid: {', '.join(GRANULARITIES)}")
    t0 = time.perf_counter()
    run_id = next(_run_ids)
    builder = LineBuilder(prep, granularity, line_options, run_id)
    if progressive:
        from .progressive import ProgressiveProgramTimeline  # noqa: PLC0415 - it builds on this module

        return ProgressiveProgramTimeline(prep, builder.plan_all(), builder, run_id=run_id,
                                          granularity=builder.granularity_name, params=params)
    env = dict(prep.inputs)
    ev = Evaluator(prep.analysis, env, prep.dtype)
    parts: list[LinePart] = []
    values: dict[str, np.ndarray] = {}
    notices: list[str] = []
    start = 0
    for line in prep.program.lines:
        part = builder.build(line, start, ev, env)
        value = part.timeline.result()["result"]
        notices.extend(f"{line.name}: {n}" for n in part.timeline.notices)
        env[line.name] = value
        values[line.name] = value
        parts.append(part)
        start += len(part)
    notices = list(ev.notices) + notices
    return ProgramTimeline(prep, parts, values, run_id=run_id, granularity=builder.granularity_name,
                           params=params, notices=notices, elapsed=time.perf_counter() - t0)


class LineBuilder:
    """Makes the :class:`LinePart` of each line of one prepared program: planned ahead from shapes
    and dtypes alone (:meth:`plan`, for a progressive run's numbering) or computed (:meth:`build`,
    eagerly or as a progressive operation timeline). One place decides what a line is (an
    operation's stream or one ``stage`` step), its granularity, options and tensor names, so a
    planned part and its computed part always agree."""

    def __init__(self, prep, granularity, line_options: dict, run_id: int):
        self.prep = prep
        self.granularity = granularity
        self.line_options = line_options
        self.run_id = run_id
        g = granularity
        self.granularity_name = g if isinstance(g, str) else ("per line" if g else "default")

    def _text(self, node) -> str:
        return self.prep.program.source(node.span)

    def _kind(self, root, value_of):
        """What a line is: ``((op, params, inputs, argument nodes), None)`` for a line that streams
        an operation (``inputs``: a bound call, or the operands of ``@``, ``+``, ``*``), or
        ``(None, operands)`` for a ``stage`` line (``operands``: the evaluated operands of such an
        operator that the engine does not take, else None); ``value_of(node)`` gives a value."""
        prep = self.prep
        if isinstance(root, Call) and root in prep.analysis.calls:
            bound = prep.analysis.calls[root]
            return (bound.spec.name, bound.params, bound, bound.inputs), None
        if isinstance(root, BinOp) and root.op in ENGINE_OPS:
            a, b = value_of(root.left), value_of(root.right)
            a, b = as_operand(a, b), as_operand(b, a)
            if engine_operands(a, b):
                return (ENGINE_OPS[root.op], {}, {"A": a, "B": b}, {"A": root.left, "B": root.right}), None
            return None, (a, b)
        return None, None

    def _op_part(self, line, start, op, tl, arg_nodes) -> LinePart:
        spec = get_spec(op)
        names = {}
        for local in tl.input_names:
            node = arg_nodes.get(local)
            if isinstance(node, Name):
                names[local] = node.id
            else:
                names[local] = f"{line.name}.{local}" + ("_in" if local in spec.outputs else "")
        for local in tl.output_names:
            names[local] = line.name if local == "result" else f"{line.name}.{local}"
        labels = line_labels(line.name, {local: node_label(node, self._text(node))
                                         for local, node in arg_nodes.items() if node is not None}, op)
        transposed = {local: node.operand.id for local, node in arg_nodes.items()
                      if local in tl.input_names and isinstance(node, Transpose) and isinstance(node.operand, Name)}
        a, b = arg_nodes.get("A"), arg_nodes.get("B")
        row_dot = None
        if op == "matmul" and isinstance(a, Name) and isinstance(b, Transpose) and isinstance(b.operand, Name):
            sa, sb = tl.run.shape("A"), tl.run.shape("B")
            if len(sa) == len(sb) >= 2 and sa[:-2] == sb[:-2] and len(tl.run.shape("result")) == len(sa):
                row_dot = (a.id, b.operand.id)  # (no batch broadcast: Q[b] meets K[b])
        return LinePart(line.name, self._text(line.expr), op, tl, start, names, MappingProxyType(labels),
                        MappingProxyType(transposed), row_dot)

    def _stage_check(self, line) -> None:
        _line_granularity(self.granularity, line.name, ("stage",), None)
        if self.line_options.get(line.name):
            raise ParamError(f"line {line.name}: options {', '.join(self.line_options[line.name])} are not "
                             f"available; it is one stage step (not an operation call)")

    def _stage_part(self, line, start, reads, run, caption) -> LinePart:
        stage = Stage(_stage_name(line.expr), ("result",), reads, caption)
        tl = Timeline(run, StagePlan(run, [stage]), granularity="stage", run_id=self.run_id, backend=backend_info(),
                      input_names=reads)
        return LinePart(line.name, self._text(line.expr), None, tl, start, {**{n: n for n in reads},
                                                                              "result": line.name})

    def _op_granularity(self, line, op):
        return _line_granularity(self.granularity, line.name, get_spec(op).granularities, op)

    def _options_error(self, line, exc):
        if line.name not in self.line_options:
            raise exc
        raise ParamError(f"line {line.name}: {exc}") from None

    # --- computed ------------------------------------------------------------------------------
    def build(self, line, start: int, ev: Evaluator, env: dict, progressive: bool = False) -> LinePart:
        """The computed part of ``line`` (starting at program step ``start``) over ``env``: an
        operation line's own ``stream_op`` timeline (started and still filling in when
        ``progressive`` and the operation has a progressive path), or one ``stage`` step."""
        ev.line = line.name
        root = line.expr
        with np.errstate(all="ignore"):
            kind, operands = self._kind(root, ev.value)
        if kind is not None:
            op, op_params, bound, arg_nodes = kind
            with np.errstate(all="ignore"):
                op_inputs = ev.op_inputs(bound) if not isinstance(bound, dict) else bound
            try:
                tl = stream_op(op, op_inputs, granularity=self._op_granularity(line, op), run_id=self.run_id,
                               progressive=progressive, **self.line_options.get(line.name, {}), **op_params)
            except ParamError as exc:
                self._options_error(line, exc)
            return self._op_part(line, start, op, tl, arg_nodes)
        if operands is None:
            value = ev.line_value(line)
        else:
            with np.errstate(all="ignore"):
                value = ev.own(ev.binop(root.op, *operands))
        self._stage_check(line)
        reads = tuple(dict.fromkeys(n.id for n in walk_names(root)))
        run = Run(line.name, np, {n: env[n] for n in reads}, {"result": value}, {})
        return self._stage_part(line, start, reads, run, _stage_caption(self._text(root), value, line.name))

    # --- planned ahead ---------------------------------------------------------------------------
    def plan_all(self) -> list[LinePart]:
        """Every line's part planned from shapes and dtypes alone (:func:`compute.api.plan_ahead`):
        the real step counts, tensor names, shapes and written steps, with zeros for values."""
        prep = self.prep
        shapes = prep.analysis.shapes
        dev = DtypeEvaluator(prep.analysis, {k: a.dtype for k, a in prep.inputs.items()}, prep.dtype)
        parts, start = [], 0
        for line in prep.program.lines:
            root = line.expr
            kind, _operands = self._kind(root, dev.value)
            if kind is not None:
                op, op_params, bound, arg_nodes = kind
                stand = dev.op_inputs(bound) if not isinstance(bound, dict) else bound
                op_shapes = {k: tuple(shapes.get(node, ())) for k, node in arg_nodes.items() if k in stand}
                try:
                    tl = plan_ahead(op, op_shapes, {k: v.dtype for k, v in stand.items()},
                                    self._op_granularity(line, op), run_id=self.run_id,
                                    **self.line_options.get(line.name, {}), **op_params)
                except ParamError as exc:
                    self._options_error(line, exc)
                part = self._op_part(line, start, op, tl, arg_nodes)
                dev.env[line.name] = stand_in(tl.dtype("result"))
            else:
                self._stage_check(line)
                value = dev.value(root)
                dtype = prep.dtype if is_number(value) else np.asarray(value).dtype
                reads = tuple(dict.fromkeys(n.id for n in walk_names(root)))
                zeros = {n: np.broadcast_to(np.zeros((), prep.inputs[n].dtype if n in prep.inputs else
                                                     parts[_index(parts, n)].timeline.dtype("result")),
                                            tuple(prep.analysis.inputs.get(n, prep.analysis.lines.get(n, ()))))
                         for n in reads}
                result = np.broadcast_to(np.zeros((), dtype), tuple(prep.analysis.lines[line.name]))
                run = Run(line.name, np, zeros, {"result": result}, {})
                part = self._stage_part(line, start, reads, run, f"{short(self._text(root), 72)} (being computed)")
                dev.bind(line.name, value)
            parts.append(part)
            start += len(part)
        return parts


def _index(parts: Sequence[LinePart], name: str) -> int:
    return next(i for i, p in enumerate(parts) if p.name == name)
