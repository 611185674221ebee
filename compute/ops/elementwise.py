"""Element-wise products and sums with numpy broadcasting: hadamard (A ⊙ B) and add (A + B).

Both output the operands expanded to the broadcast shape (``A_broadcast``, ``B_broadcast``) so a
view can draw the copies broadcasting makes, and mark them with ``broadcast`` regions. They are
read-only views (numpy's ``broadcast_to``: the operand's own memory, its repeated axes of stride
0), never tensor-sized copies: the attention program's ``scaled + causal_mask(n)`` copied 2 GiB at
16 × 4096² to show ``scaled`` unchanged and the mask repeated over the heads.

A progressive run of a big one (``stream_op(..., progressive=True)``, a program's ``x + y`` line)
goes block by block (:mod:`compute.blocks`): the copies' levels, then the result, so a cancel
lands within a block of a few ms and each output's levels are folded in while its block is in
cache.
"""

from __future__ import annotations

import math

import numpy as np

from ..blocks import blocks, operand_key
from ..numbers import fmt_index, fmt_list, fmt_shape, num, term
from ..plans import GridPlan, Stage, StagePlan, auto_tile
from ..registry import Input, OpSpec, register
from ..shapes import aligned, broadcast_shapes, stretched_axes
from ..step import Region, StepContent
from . import row_stages


def _prod(shape) -> int:
    """Number of elements, in Python ints: np.prod in int64 wraps around for huge broadcast shapes,
    which would let an impossible run through the budget."""
    return math.prod(int(s) for s in shape)


def _source_index(shape, out_index) -> tuple[int, ...]:
    """The element of an operand of ``shape`` that broadcasting copies to ``out_index``."""
    own = out_index[len(out_index) - len(shape):] if shape else ()
    return tuple(0 if s == 1 else int(i) for s, i in zip(shape, own))


def _source_box(shape, out_box) -> tuple[tuple[int, int], ...]:
    own = out_box[len(out_box) - len(shape):] if shape else ()
    return tuple((0, 1) if s == 1 else (a, b) for s, (a, b) in zip(shape, own))


def broadcast_copy(xp, x, out):
    """``x`` expanded to the shape ``out``: ``x`` itself when it already has that shape, else a
    read-only broadcast view of it (no memory of its own; ``timeline.finite_range`` reads only its
    distinct part)."""
    if tuple(x.shape) == tuple(out):
        return x
    return xp.broadcast_to(x, out)


def _broadcast_regions(run, out_shape) -> tuple[Region, ...]:
    """``broadcast`` regions over the copies: every index of a stretched axis past the first."""
    regions = []
    for name in ("A", "B"):
        shape = run.shape(name)
        for axis in stretched_axes(shape, out_shape):
            box = [(0, s) for s in out_shape]
            box[axis] = (1, out_shape[axis]) if out_shape[axis] > 1 else (0, 0)
            if out_shape[axis] > 1:
                regions.append(Region(f"{name}_broadcast", "broadcast", tuple(box)))
    return tuple(regions)


def _nested(a) -> str:
    """``[[10], [20]]``: a small N-d array written as nested lists."""
    return fmt_list(a) if a.ndim == 1 else "[" + ", ".join(_nested(r) for r in a) + "]"


def _alignment_lines(sa, sb, out, host=None) -> list[str]:
    """What broadcasting copies, as lines: the target shape, each copied operand (with its numbers
    when it is small, ≤ 6 values, read through ``host(name)``), then the shapes aligned."""
    parts = []
    for name, s in (("A", sa), ("B", sb)):
        axes = stretched_axes(s, out)
        if axes:
            values = ""
            if host is not None and _prod(s) <= 6:
                a = host(name)
                values = " = " + (num(a[()]) if not s else fmt_list(a) if len(s) == 1 else _nested(a))
            parts.append(f"{name} {fmt_shape(s)}{values} copied along axis {', '.join(str(a) for a in axes)}")
    how = "; ".join(parts) if parts else "same shapes, nothing copied"
    return [f"broadcast to {fmt_shape(out)}:", f"{how}.", "Shapes aligned from the right:", aligned(sa, sb)]


def _alignment_caption(sa, sb, out, run=None) -> str:
    """The broadcast step's caption: :func:`_alignment_lines` on one line, the alignment below."""
    head, how, rule, table = _alignment_lines(sa, sb, out, run.host if run is not None else None)
    return f"{head} {how} {rule}\n{table}"


def broadcast_note(tl) -> str | None:
    """The note a board shows beside an element-wise run's operands: what broadcasting copies,
    one fact a line, with the copied operand's numbers when small (None when nothing is copied
    and the shapes are equal)."""
    sa, sb, out = tuple(tl.shape("A")), tuple(tl.shape("B")), tuple(tl.shape("result"))
    if sa == sb == out:
        return None
    inputs = tl.inputs()
    return "\n".join(_alignment_lines(sa, sb, out, lambda name: np.asarray(inputs[name])))


def make_elementwise(name: str, symbol: str, word: str, func, order: int, example):
    """Register the broadcasting element-wise operation ``name`` computing ``func(xp, a, b)``
    (``func(xp, a, b, out=block)`` writes into ``block``)."""

    def check(shapes, params):
        broadcast_shapes(name, shapes["A"], shapes["B"])
        return params

    def estimate(shapes, itemsize, params):
        # The broadcast copies are views of the operands (broadcast_copy): they allocate nothing.
        return {"result": _prod(broadcast_shapes(name, shapes["A"], shapes["B"])) * itemsize}

    def compute(xp, inp, params):
        a, b = inp["A"], inp["B"]
        out = tuple(broadcast_shapes(name, a.shape, b.shape))
        return {"A_broadcast": broadcast_copy(xp, a, out), "B_broadcast": broadcast_copy(xp, b, out),
                "result": func(xp, a, b)}

    def progressive(inputs, params, granularity):
        """Both stages block by block over the output's shape (:func:`compute.blocks.blocks`):
        the broadcast views' levels, then the result, each block the eager path's own numpy call
        on the operands' matching parts, so the numbers are the eager run's. None (eager) for a
        run under :data:`~.row_stages.MIN_ELEMENTS` elements."""
        a, b = inputs["A"], inputs["B"]
        out = tuple(broadcast_shapes(name, a.shape, b.shape))
        if _prod(out) < row_stages.MIN_ELEMENTS:
            return None
        with np.errstate(all="ignore"):  # the dtype the eager call gives (it does not depend on sizes)
            dtype = func(np, *(x[(slice(0, 1),) * x.ndim] for x in (a, b))).dtype
        res, n = np.empty(out, dtype), len(out)
        outputs = {"A_broadcast": broadcast_copy(np, a, out), "B_broadcast": broadcast_copy(np, b, out), "result": res}

        def expand(key):  # nothing to compute: the block's levels are folded in by block_panels
            pass

        def combine(key):
            func(np, a[operand_key(key, n, a.shape)], b[operand_key(key, n, b.shape)], out=res[key])

        return row_stages.block_panels(outputs, outputs, blocks(out, row_stages.CHUNK_ELEMENTS),
                                       [(("A_broadcast", "B_broadcast"), expand), (("result",), combine)])

    def plan(run, granularity, options):
        sa, sb, out = run.shape("A"), run.shape("B"), run.shape("result")
        bregions = _broadcast_regions(run, out)
        expand = Stage("broadcast", ("A_broadcast", "B_broadcast"), ("A", "B"), _alignment_caption(sa, sb, out, run))
        def formula(idx) -> str:
            """``"result[0,1] = A[0,1] × B[1] = 2 × 20 = 40"``: one output element, from the two
            elements broadcasting pairs there (three numbers indexed, nothing else copied)."""
            ia, ib = _source_index(sa, idx), _source_index(sb, idx)
            va, vb = run.scalar("A", ia), run.scalar("B", ib)
            return (f"result{fmt_index(idx)} = A{fmt_index(ia)} {symbol} B{fmt_index(ib)} = "
                    f"{term(va)} {symbol} {term(vb)} = {num(run.scalar('result', idx))}")

        if granularity == "stage":
            text = f"result = A {symbol} B, element by element {fmt_shape(out)}"
            if _prod(out):  # read when the step is built: a progressive run plans before it computes
                head, more = text + ": ", ", …" if _prod(out) > 1 else ""
                text = lambda: head + formula((0,) * len(out)) + more  # noqa: E731
            final = Stage(word, ("result",), ("A_broadcast", "B_broadcast"), text)
            p = StagePlan(run, [expand, final])
            return p

        def describe_element(n, box):
            idx = tuple(a for a, _ in box)
            ia, ib = _source_index(sa, idx), _source_index(sb, idx)
            regions = (Region("A", "read", tuple((i, i + 1) for i in ia)),
                       Region("B", "read", tuple((i, i + 1) for i in ib)),
                       Region("A_broadcast", "read", box), Region("B_broadcast", "read", box)) + bregions
            return StepContent("element", formula(idx), {}, regions)

        def describe_tile(n, box):
            regions = (Region("A", "read", _source_box(sa, box)), Region("B", "read", _source_box(sb, box)),
                       Region("A_broadcast", "read", box), Region("B_broadcast", "read", box)) + bregions
            if all(b - a == 1 for a, b in box):
                return StepContent("tile", formula(tuple(a for a, _ in box)), {}, regions)
            where = ", ".join(f"{a}:{b}" for a, b in box)
            first = formula(tuple(a for a, _ in box)) if all(b > a for a, b in box) else ""
            return StepContent("tile", f"result[{where}] = A {symbol} B on this block" + (f": {first}, …" if first
                                                                                          else ""), {}, regions)

        if granularity == "element":
            grid = GridPlan(run, "result", (1,) * len(out), describe_element)
        else:
            t = options.get("tile") or auto_tile(out[-2:] if len(out) >= 2 else (1,) + tuple(out), 256)
            tile = (1,) * max(0, len(out) - 2) + tuple(t[-min(2, len(out)):]) if out else ()
            grid = GridPlan(run, "result", tile, describe_tile)
            grid.options = {"tile": tuple(t)}
        from ..plans import ConcatPlan

        p = ConcatPlan([StagePlan(run, [expand]), grid])
        p.options = getattr(grid, "options", {})
        return p

    register(OpSpec(
        name=name, group="Element-wise",
        doc=f"{word.capitalize()} A {symbol} B, element by element, with numpy broadcasting "
            f"(scalar, row, column, N-d).",
        inputs=(Input("A"), Input("B")), params=(),
        outputs=("A_broadcast", "B_broadcast", "result"), granularities=("element", "tile", "stage"),
        check=check, estimate=estimate, compute=compute, plan=plan,
        flops=lambda s, p: _prod(broadcast_shapes(name, s["A"], s["B"])),
        example=example, extra={"order": order, "progressive": progressive},
    ))


make_elementwise("hadamard", "×", "product", lambda xp, a, b, **out: xp.multiply(a, b, **out), 1,
                 lambda: {"A": np.array([[1.0, 2.0, 3.0], [4.0, 5.0, 6.0]]), "B": np.array([10.0, 20.0, 30.0])})
make_elementwise("add", "+", "sum", lambda xp, a, b, **out: xp.add(a, b, **out), 2,
                 lambda: {"A": np.array([[1.0, 2.0, 3.0], [4.0, 5.0, 6.0]]), "B": np.array([[10.0], [20.0]])})
