"""Reductions and norms: sum, mean, max, norm (ord 1, 2, inf, 'fro') and cumsum, over any axes.

Each reduction is "terms, then combine, then finish": sum (x, +), mean (x, +, ÷n), max (x, max),
norm 1 (|x|, +), norm 2 / fro (x², +, √), norm inf (|x|, max). Steps walk one output element's
line (``element``), blocks of outputs (``tile``), or blocks of the reduced terms with every output
holding its running value (``kblock``).
"""

from __future__ import annotations

import itertools
import math
from dataclasses import dataclass

import numpy as np

from ..backend import to_host
from ..errors import ParamError, ShapeError
from ..numbers import fmt_index, fmt_list, fmt_shape, fmt_terms, num, term
from ..plans import FULL, ConcatPlan, FuncPlan, GridPlan, Stage, StagePlan, auto_tile
from ..registry import Input, OpSpec, Param, register
from ..shapes import normalize_axis
from ..step import Region, StepContent

ALL = ("element", "tile", "kblock", "stage")


def _prod(shape) -> int:
    """Number of elements, in Python ints: np.prod in int64 wraps around for huge broadcast shapes,
    which would let an impossible run through the budget."""
    return math.prod(int(s) for s in shape)


@dataclass(frozen=True)
class Reducer:
    """How one reduction turns a line of x into a value: ``terms`` (x, |x| or x²), ``combine``
    (``"sum"`` or ``"max"``) and ``finish`` (``""``, ``"mean"`` or ``"sqrt"``)."""

    terms: str
    combine: str
    finish: str = ""

    def make_terms(self, xp, x):
        if self.terms == "abs":
            return xp.abs(x)
        if self.terms == "square":
            return x * x
        return x

    def reduce(self, xp, t, axis, keepdims, count):
        if self.combine == "max" and not count:
            # max|x| of no terms is 0 (the least value |x| can take: the ∞-norm of an empty vector);
            # numpy's max has no identity and raises. A plain max of nothing is refused in check().
            return xp.zeros(_reduced_shape(t.shape, axis, keepdims), dtype=t.dtype)
        r = t.sum(axis=axis, keepdims=keepdims) if self.combine == "sum" else t.max(axis=axis, keepdims=keepdims)
        if self.finish == "mean":
            with np.errstate(invalid="ignore", divide="ignore"):
                r = r / count if count else r * np.nan
        elif self.finish == "sqrt":
            r = xp.sqrt(r)
        return r

    def line_terms(self, values: np.ndarray) -> np.ndarray:
        """The terms of one line of x (host): x, |x| or x² (x² may overflow to inf, as in the result)."""
        with np.errstate(invalid="ignore", over="ignore"):
            return self.make_terms(np, values)

    def running(self, terms: np.ndarray) -> np.ndarray:
        """Running values along a line of :meth:`line_terms` (host): their cumulative sums or maxima."""
        with np.errstate(invalid="ignore", over="ignore"):  # inf − inf is NaN, as in the result itself
            return np.cumsum(terms) if self.combine == "sum" else np.maximum.accumulate(terms)

    def formula(self, values: np.ndarray, result: float, label: str, count: int | None = None) -> str:
        """``"sum[0] = 1 + 4 = 5"``: one output from its terms. ``values`` may be the first few
        entries of a longer line of ``count`` terms; the formula then says how many there are."""
        v = values.ravel()[:6]
        count = values.size if count is None else int(count)
        if not count:
            return f"{label} = {num(result)} (no terms: an empty {'maximum' if self.combine == 'max' else 'sum'})"
        if self.combine == "max":
            each = (lambda x: f"|{num(x)}|") if self.terms == "abs" else num
            inner = ", ".join(each(x) for x in v) + (f", … ({count} values)" if count > v.size else "")
            return f"{label} = max({inner}) = {num(result)}"
        more = f" + … ({count} terms)" if count > v.size else ""
        if self.terms == "square":
            return f"{label} = √({' + '.join(f'{term(x)}²' for x in v)}{more}) = {num(result)}"
        if self.terms == "abs":
            body = " + ".join(f"|{num(x)}|" for x in v) + more
        else:
            body = fmt_terms(v) + more
        if self.finish == "mean":
            return f"{label} = ({body}) / {count} = {num(result)}"
        return f"{label} = {body} = {num(result)}"

    def running_formula(self, before: float | None, values: np.ndarray, count: int, result: float, label: str,
                        total: int) -> str:
        """One k-block folded into one output: ``"sum[0] so far = 1 + 4 = 5"``.

        ``before`` is the combined value of the terms folded in earlier (None for the first
        block), ``values`` the raw x of this block (only a few entries: the caption shortens),
        ``count`` the number of terms in the block, ``result`` the output so far and ``total`` the
        number of terms of the whole reduction (a mean divides by it from the first block on)."""
        v = values.ravel()[:6]
        if not count and before is None:
            return f"{label} so far = {num(result)} (no terms)"
        more = f" {'+' if self.combine == 'sum' else ','} … ({count} terms)" if count > v.size else ""
        if self.terms == "square":
            parts = [f"{term(x)}²" for x in v]
        elif self.terms == "abs":
            parts = [f"|{num(x)}|" for x in v]
        else:
            parts = [term(x) for x in v]
        if before is not None:
            parts.insert(0, term(before))
        elif len(parts) == 1 and not more and self.terms == "plain" and not self.finish:
            return f"{label} so far = {num(result)}"  # one plain term: "= 1 = 1" says nothing
        if self.combine == "max":
            return f"{label} so far = max({', '.join(parts)}{more}) = {num(result)}"
        body = " + ".join(parts) + more
        if self.finish == "mean":
            return f"{label} so far = ({body}) / {total} = {num(result)}"
        if self.finish == "sqrt":
            return f"{label} so far = √({body}) = {num(result)}"
        return f"{label} so far = {body} = {num(result)}"


def _reduced_shape(shape, axis, keepdims) -> tuple[int, ...]:
    """The shape of a reduction of ``shape`` over ``axis`` (int, tuple or None)."""
    nd = len(shape)
    axes = range(nd) if axis is None else [a % nd for a in ((axis,) if isinstance(axis, int) else axis)]
    if keepdims:
        return tuple(1 if i in axes else s for i, s in enumerate(shape))
    return tuple(s for i, s in enumerate(shape) if i not in axes)


NORMS = {1: Reducer("abs", "sum"), 2: Reducer("square", "sum", "sqrt"), "inf": Reducer("abs", "max"),
         "fro": Reducer("square", "sum", "sqrt")}


def parse_ord(value):
    """``1``, ``2``, ``inf`` (also ``"inf"``, ``np.inf``) or ``"fro"``; anything else is a ParamError."""
    if isinstance(value, str):
        v = value.strip().lower()
        if v in ("fro", "inf"):
            return v
        try:
            value = float(v)
        except ValueError:
            raise ParamError(f"norm: ord must be 1, 2, inf or 'fro', not {value!r}") from None
    try:
        f = float(value)
    except (TypeError, ValueError):
        raise ParamError(f"norm: ord must be 1, 2, inf or 'fro', not {value!r}") from None
    if math.isinf(f) and f > 0:
        return "inf"
    if f in (1.0, 2.0):
        return int(f)
    raise ParamError(f"norm: ord must be 1, 2, inf or 'fro', not {value!r}")


class Geometry:
    """Where the reduced and kept axes of X are, and how output indices map back onto X."""

    def __init__(self, shape, axes, keepdims):
        self.shape = tuple(shape)
        self.axes = tuple(axes)
        self.keepdims = bool(keepdims)
        self.kept = tuple(i for i in range(len(shape)) if i not in axes)
        self.r = _prod([shape[a] for a in axes])
        self.out_shape = tuple(1 if i in axes else s for i, s in enumerate(shape)) if keepdims else \
            tuple(shape[i] for i in self.kept)

    def x_index(self, out_index) -> tuple:
        """Index of X (ints on kept axes, full slices on reduced ones) for one output element."""
        out_index = tuple(out_index)
        if self.keepdims:
            kept_vals = [out_index[i] for i in self.kept]
        else:
            kept_vals = list(out_index)
        it = iter(kept_vals)
        return tuple(slice(None) if i in self.axes else int(next(it)) for i in range(len(self.shape)))

    def x_box(self, out_box, reduced=None) -> tuple[tuple[int, int], ...]:
        """Box of X under an output box; ``reduced`` restricts the first reduced axis."""
        out_box = tuple(out_box)
        kept_boxes = [out_box[i] for i in self.kept] if self.keepdims else list(out_box)
        it = iter(kept_boxes)
        first = self.axes[0] if self.axes else None
        box = []
        for i, s in enumerate(self.shape):
            if i in self.axes:
                box.append(reduced if (reduced is not None and i == first) else (0, s))
            else:
                box.append(next(it))
        return tuple(box)

    def lines(self, xp, x):
        """X as (kept..., r): every output's terms in a row (a copy when axes must move)."""
        moved = xp.moveaxis(x, self.axes, tuple(range(-len(self.axes), 0))) if self.axes else x[..., None]
        return moved.reshape(tuple(self.shape[i] for i in self.kept) + (self.r,))


def _also_written(names, box) -> tuple[Region, ...]:
    """``write`` regions of the outputs revealed with the result (mean's sum), over ``box``."""
    return tuple(Region(n, "write", tuple(box)) for n in names)


def line_formula(run, geo: Geometry, reducer: Reducer, label: str, idx, result: str = "result") -> str:
    """The formula of output ``idx`` of ``result``: its line of X is indexed on the device and only
    its first few entries reach the host (a caption never copies a long line)."""
    line = run.tensor("X")[geo.x_index(idx)].reshape(-1)
    values = np.asarray(to_host(line[:6]))
    return reducer.formula(values, run.scalar(result, idx), f"{label}{fmt_index(idx)}", geo.r)


def reduction_plan(run, granularity, options, reducer: Reducer, label: str):
    """Steps of a reduction of run input ``X`` into ``result`` (see the module docstring)."""
    xp = run.xp
    x = run.inputs["X"]
    geo = Geometry(x.shape, run.params["axis"], run.params["keepdims"])
    out = geo.out_shape
    reduce_region = Region("X", "reduce", geo.x_box(tuple((0, s) for s in out)))
    also = tuple(n for n in ("sum",) if n in run.outputs)  # mean's sum is revealed with its result

    def first_formula(idx) -> str:
        return line_formula(run, geo, reducer, label, idx)

    many = _prod(out) > 1
    if granularity == "stage":
        text = (f"{label} of X {fmt_shape(x.shape)} over axis {_axes_text(geo.axes)} ({geo.r} terms each) → "
                f"{fmt_shape(out)}")
        if _prod(out):
            text += ": " + first_formula((0,) * len(out)) + (", …" if many else "")
        return StagePlan(run, [Stage(label, ("result",) + also, ("X",), text)])
    if granularity == "element":
        def describe(n, box):
            idx = tuple(a for a, _ in box)
            values = run.host("X", geo.x_index(idx)).ravel()
            terms = reducer.line_terms(values)
            running = reducer.running(terms)
            running.setflags(write=False)
            caption = reducer.formula(values, run.scalar("result", idx), f"{label}{fmt_index(idx)}")
            regions = (Region("X", "read", geo.x_box(box)), reduce_region) + _also_written(also, box)
            partials = {"values": values, "running": running}
            if reducer.terms != "plain":
                # A norm sums |x| or x², not x: the line's terms are what the running sum adds.
                terms.setflags(write=False)
                partials["line_terms"] = terms  # not "terms": that is the whole tensor of terms
            return StepContent("element", caption, partials, regions)

        return GridPlan(run, "result", (1,) * len(out), describe, also_writes=also)
    if granularity == "tile":
        t = options.get("tile") or auto_tile(out[-2:] if len(out) >= 2 else (1,) + tuple(out or (1,)), 256)
        tile = ((1,) * max(0, len(out) - 2) + tuple(t[-min(2, len(out)):])) if out else ()

        def describe_tile(n, box):
            regions = (Region("X", "read", geo.x_box(box)), reduce_region) + _also_written(also, box)
            first = tuple(a for a, _ in box)
            if all(b - a == 1 for a, b in box):  # a tile of one output: its whole formula
                return StepContent("tile", first_formula(first), {}, regions)
            where = ", ".join(f"{a}:{b}" for a, b in box)
            return StepContent("tile", f"{label}[{where}]: {geo.r} terms each, reduced at once: "
                               f"{first_formula(first)}, …", {}, regions)

        g = GridPlan(run, "result", tile, describe_tile, also_writes=also)
        g.options = {"tile": tuple(t)}
        return g
    # kblock: blocks of the flattened reduced terms, every output holding its running value.
    kb = options.get("kblock") or max(1, math.ceil(geo.r / 32))
    nkb = max(1, math.ceil(geo.r / kb))
    # Terms per index of the first reduced axis; at least 1, so an empty axis after it cannot divide by 0.
    inner = max(1, _prod([geo.shape[a] for a in geo.axes[1:]]) if geo.axes else 1)
    lines_cache = {}

    def partial(k1):
        if "lines" not in lines_cache:
            lines_cache["lines"] = reducer.make_terms(xp, geo.lines(xp, x))
        if not k1:  # no term folded in yet (an empty reduction): the identity
            return xp.zeros(out, dtype=x.dtype) if reducer.finish != "mean" else xp.full(out, xp.nan, dtype=x.dtype)
        t = lines_cache["lines"][..., :k1]
        r = Reducer("plain", reducer.combine, "").reduce(xp, t, -1, False, k1)
        if reducer.finish == "mean":
            r = r / geo.r
        elif reducer.finish == "sqrt":
            r = xp.sqrt(r)
        return r.reshape(out)

    def running(k0, k1, value) -> str:
        """How output 0's running value takes in terms k0..k1−1 (one line of X, indexed on the device)."""
        idx0 = (0,) * len(out)
        line = x[geo.x_index(idx0)].reshape(-1)
        values = np.asarray(to_host(line[k0:min(k1, k0 + 6)]))
        before = None
        if k0:
            t = reducer.make_terms(xp, line[:k0])
            before = t.max() if reducer.combine == "max" else t.sum()
            before = before.item() if hasattr(before, "item") else float(before)
        return reducer.running_formula(before, values, k1 - k0, value, f"{label}{fmt_index(idx0)}", geo.r)

    def step(n):
        k0, k1 = n * kb, min(geo.r, (n + 1) * kb)
        first = geo.axes[0] if geo.axes else 0
        red = (min(k0, k1) // inner, min(geo.shape[first] if geo.axes else 1, -(-k1 // inner)))
        regions = (Region("X", "read", geo.x_box(tuple((0, s) for s in out), red)), reduce_region) + tuple(
            Region(a, "write", tuple((0, s) for s in out)) for a in ("result",) + also)
        if geo.r:
            terms = f"term {k0}" if k1 - k0 == 1 else f"terms {k0}..{k1 - 1}"
            caption = f"{label}: {terms} of {geo.r} folded in (block {n + 1}/{nkb})"
        else:
            caption = f"{label}: X {fmt_shape(geo.shape)} has no terms along axis {_axes_text(geo.axes)}"
        tensors = {}
        if _prod(out) <= 4096:
            p = partial(k1)
            host = np.asarray(p.get() if hasattr(p, "get") else p)
            host.setflags(write=False)
            tensors["partial"] = host
            if host.size:  # an empty output has no first element to quote
                caption += " → " + running(k0, k1, host.reshape(-1)[0])
            else:
                caption += f" → {label} is empty {fmt_shape(out)}"
        return StepContent("kblock", caption, tensors, regions)

    def state(name, n):
        if n >= nkb - 1:
            return FULL
        k1 = min(geo.r, (n + 1) * kb)
        if name == "sum":  # mean's sum so far: the running mean times the count
            return partial(k1) * geo.r
        return partial(k1)

    plan = FuncPlan(nkb, step, state, ("result",) + also)
    plan.options = {"kblock": kb}
    return plan


def _axes_text(axes) -> str:
    return str(axes[0]) if len(axes) == 1 else "(" + ", ".join(map(str, axes)) + ")"


def _check_reduction(op, empty_ok):
    def check(shapes, params):
        shape = shapes["X"]
        axes = normalize_axis(op, params.get("axis"), len(shape))
        r = _prod([shape[a] for a in axes])
        out_size = _prod([s for i, s in enumerate(shape) if i not in axes])
        # A max of nothing is undefined, but an empty output holds no value: that is well defined.
        if r == 0 and not empty_ok and out_size:
            raise ShapeError(f"{op}: X {fmt_shape(shape)} has no elements along axis {_axes_text(axes)}; "
                             f"{op} of nothing is undefined (it has no identity).")
        return {**params, "axis": axes, "keepdims": bool(params.get("keepdims", False))}

    return check


_SUBSCRIPT = str.maketrans("0123456789", "₀₁₂₃₄₅₆₇₈₉")


def norm_label(order) -> str:
    """The norm's name in captions: ‖X‖₁, ‖X‖₂ (a subscript, not TeX's "_"), ‖X‖_∞, ‖X‖_F."""
    text = str(order)
    if text.isdigit():
        return "‖X‖" + text.translate(_SUBSCRIPT)
    return "‖X‖_" + {"inf": "∞", "fro": "F"}.get(text, text)


def make_reduction(name, reducer: Reducer, doc, order, extra_outputs=(), empty_ok=True, extra_params=()):
    def compute(xp, inp, params):
        x = inp["X"]
        geo = Geometry(x.shape, params["axis"], params["keepdims"])
        red = NORMS[params["ord"]] if name == "norm" else reducer
        terms = red.make_terms(xp, x)
        out = {}
        if name == "norm":
            out["terms"] = terms
        if name == "mean":
            out["sum"] = terms.sum(axis=params["axis"], keepdims=params["keepdims"])
            with np.errstate(invalid="ignore", divide="ignore"):
                out["result"] = out["sum"] / geo.r if geo.r else out["sum"] * np.nan
        else:
            out["result"] = red.reduce(xp, terms, params["axis"], params["keepdims"], geo.r)
        return out

    def plan(run, granularity, options):
        red = NORMS[run.params["ord"]] if name == "norm" else reducer
        label = norm_label(run.params["ord"]) if name == "norm" else name
        main = reduction_plan(run, granularity, options, red, label)
        pre = []
        if name == "norm":
            what = {"abs": "|x|", "square": "x²"}[red.terms]
            shown = ""
            if 0 < _prod(run.shape("X")) <= 6:
                xs = run.host("X").reshape(-1)
                each = (lambda v: f"{term(v)}²") if red.terms == "square" else (lambda v: f"|{num(v)}|")
                shown = " = [" + ", ".join(each(v) for v in xs) + "] = " + fmt_list(run.host("terms"))
            pre.append(Stage("terms", ("terms",), ("X",), f"terms = {what} for every entry of X{shown}"))
        if name == "mean" and granularity == "stage":
            r = Geometry(run.shape("X"), run.params["axis"], False).r
            out = run.shape("result")
            sum_text = mean_text = ""
            if _prod(out):
                idx = (0,) * len(out)
                more = ", …" if _prod(out) > 1 else ""
                plain = Reducer("plain", "sum")
                geo = Geometry(run.shape("X"), run.params["axis"], run.params["keepdims"])
                sum_text = ": " + line_formula(run, geo, plain, "sum", idx, "sum") + more
                mean_text = f": mean{fmt_index(idx)} = {term(run.scalar('sum', idx))} / {r} = " \
                            f"{num(run.scalar('result', idx))}{more}"
            main = StagePlan(run, [Stage("sum", ("sum",), ("X",), f"sum over axis {_axes_text(run.params['axis'])}"
                                         + sum_text),
                                   Stage("mean", ("result",), ("sum",), f"mean = sum / {r}" + mean_text)])
        if not pre:
            return main
        p = ConcatPlan([StagePlan(run, pre), main])
        p.options = getattr(main, "options", {})
        return p

    def check(shapes, params):
        p = _check_reduction(name, empty_ok)(shapes, params)
        if name == "norm":
            p["ord"] = parse_ord(params.get("ord", 2))
        return p

    def estimate(shapes, itemsize, params):
        n = _prod(shapes["X"])
        return {"terms": n * itemsize * (2 if name == "norm" else 1), "lines": n * itemsize}

    params = (Param("axis", "axis", None, "axis, tuple of axes, or None for all"),
              Param("keepdims", "bool", False, "keep reduced axes with length 1")) + tuple(extra_params)
    register(OpSpec(
        name=name, group="Reductions & norms", doc=doc, inputs=(Input("X"),), params=params,
        outputs=tuple(extra_outputs) + ("result",), granularities=ALL,
        check=check, estimate=estimate, compute=compute, plan=plan,
        flops=lambda s, p: _prod(s["X"]) * (2 if name == "norm" else 1),
        example=lambda: {"X": np.array([[1.0, 2.0, 3.0], [4.0, 5.0, 6.0]])},
        extra={"order": order},
    ))


make_reduction("sum", Reducer("plain", "sum"), "Sum of X over an axis (or several, or all).", 1)
make_reduction("mean", Reducer("plain", "sum", "mean"), "Mean of X over an axis: sum ÷ count.", 2,
               extra_outputs=("sum",))
make_reduction("max", Reducer("plain", "max"), "Maximum of X over an axis (NaN propagates).", 3, empty_ok=False)
make_reduction("norm", Reducer("square", "sum", "sqrt"),
               "Vector norm of X over an axis: ord 1 Σ|x|, 2 √Σx², inf max|x|, 'fro' √Σx² over all given axes.",
               5, extra_outputs=("terms",),
               extra_params=(Param("ord", "ord", 2, "1, 2, inf or 'fro'", choices=(1, 2, "inf", "fro")),))


# --- cumsum -------------------------------------------------------------------------------------
def _cumsum_check(shapes, params):
    axis = params.get("axis", -1)
    shape = shapes["X"]
    if axis is None:
        return {**params, "axis": None}
    if isinstance(axis, (tuple, list)):
        if len(axis) != 1:
            raise ParamError(f"cumsum: axis must be one int or None (flatten), not {axis!r}")
        axis = axis[0]
    (a,) = normalize_axis("cumsum", axis, len(shape))
    return {**params, "axis": a}


def _cumsum_compute(xp, inp, params):
    x = inp["X"]
    return {"result": xp.cumsum(x.reshape(-1) if params["axis"] is None else x, axis=0 if params["axis"] is None
                                else params["axis"])}


#: Lines of a cumsum whose new cells a caption writes out; a bigger tensor says how many lines it has.
CUMSUM_LINES = 4


def _cumsum_cell(run, at, k: int, flat: bool) -> str:
    """``"result[1,2] = result[1,1] + X[1,2] = 7 + 2 = 9"``: how one cell of a cumsum is made.

    ``at(k)`` is the cell's index at position ``k`` of its line; a flattened cumsum reads X in C
    order. Three numbers are indexed on the device, nothing more."""
    xshape = run.shape("X")
    x_index = tuple(int(i) for i in np.unravel_index(k, xshape)) if flat else at(k)
    x_value = run.scalar("X", x_index) if xshape else run.scalar("X", ())
    val = run.scalar("result", at(k))
    if k == 0:
        return f"result{fmt_index(at(0))} = X{fmt_index(x_index)} = {num(val)}"
    prev = run.scalar("result", at(k - 1))
    return (f"result{fmt_index(at(k))} = result{fmt_index(at(k - 1))} + X{fmt_index(x_index)} = "
            f"{term(prev)} + {term(x_value)} = {num(val)}")


def _cumsum_block(run, at, k0: int, k1: int, flat: bool) -> str:
    """``"result[0,7] = result[0,3] + X[0,4] + … + X[0,7] = 10 + 5 + 6 + 7 + 8 = 36"``: the last cell
    of a block of positions, from the running sum before the block (at most a few X read)."""
    xshape = run.shape("X")
    idx = (lambda k: tuple(int(i) for i in np.unravel_index(k, xshape))) if flat else at
    ks = list(range(k0, k1))
    shown = ks if len(ks) <= 4 else ks[:2] + ks[-1:]
    names = [f"X{fmt_index(idx(k))}" for k in shown]
    values = [term(run.scalar("X", idx(k))) for k in shown]
    if len(ks) > 4:
        names.insert(2, "…")
        values.insert(2, "…")
    if k0:
        names.insert(0, f"result{fmt_index(at(k0 - 1))}")
        values.insert(0, term(run.scalar("result", at(k0 - 1))))
    return (f"result{fmt_index(at(k1 - 1))} = {' + '.join(names)} = {' + '.join(values)} = "
            f"{num(run.scalar('result', at(k1 - 1)))}")


def _cumsum_plan(run, granularity, options):
    xp = run.xp
    axis = run.params["axis"]
    out = run.shape("result")
    ax = 0 if axis is None else axis
    length = out[ax] if out else 0
    if granularity == "stage" or _prod(out) == 0:
        # An empty result (any axis of length 0) has no position to walk: one step shows it.
        where = "(flattened)" if axis is None else ax
        empty = f" — X {fmt_shape(run.shape('X'))} is empty, so is the result" if _prod(out) == 0 else ""
        example = ""
        if not empty:
            def at(k):
                r = [0] * len(out)
                r[ax] = k
                return tuple(r)

            example = ": " + _cumsum_block(run, at, 0, length, axis is None)
        return StagePlan(run, [Stage("cumsum", ("result",), ("X",),
                                     f"result[k] = X[0] + … + X[k] along axis {where}{empty}{example}")])
    if granularity == "element":
        block = 1
    else:
        block = options.get("kblock") or (options.get("tile") or (None,))[-1] or max(1, math.ceil(length / 32))
    nsteps = math.ceil(length / block)
    pos_shape = [1] * len(out)
    pos_shape[ax] = length

    def step(n):
        k0, k1 = n * block, min(length, (n + 1) * block)
        box_w = [(0, s) for s in out]
        box_w[ax] = (k0, k1)
        xshape = run.shape("X")
        if axis is None:
            xread = None
        else:
            xread = [(0, s) for s in xshape]
            xread[ax] = (k0, k1)
        regions = (Region("result", "write", tuple(box_w)),)
        if xread is not None:
            regions += (Region("X", "read", tuple(xread)),)
        # Every line along the axis gets one new running sum per position; the caption explains
        # each cell this step writes (the first few lines of a big tensor), indexing single numbers.
        rest_shape = [s for i, s in enumerate(out) if i != ax] if axis is not None else []
        nlines = _prod(rest_shape)
        parts = []
        shown = CUMSUM_LINES if block == 1 else 1  # a block's caption is longer: one line of it
        for rest in itertools.islice(np.ndindex(*rest_shape), shown):
            def at(k, rest=rest):
                r = list(rest)
                r.insert(ax, k)
                return tuple(r)

            if block == 1:
                parts.append(_cumsum_cell(run, at, k0, axis is None))
            else:
                parts.append(_cumsum_block(run, at, k0, k1, axis is None))
        caption = "; ".join(parts)
        if block > 1:
            caption = f"positions {k0}..{k1 - 1} along axis {ax}: running sums → {caption}"
        if nlines > shown:
            caption += f"; … ({nlines} lines)"
        return StepContent("element" if block == 1 else granularity, caption, {}, regions)

    def state(name, n):
        if n >= nsteps - 1:
            return FULL
        k1 = min(length, (n + 1) * block)
        pos = xp.arange(length).reshape(pos_shape)
        return xp.where(pos < k1, run.tensor("result"), xp.nan)

    plan = FuncPlan(nsteps, step, state, ("result",))
    plan.options = {"kblock": block}
    return plan


register(OpSpec(
    name="cumsum", group="Reductions & norms",
    doc="Running sum of X along an axis (axis None: of the flattened X).",
    inputs=(Input("X"),), params=(Param("axis", "axis", -1, "one axis, or None to flatten"),),
    outputs=("result",), granularities=ALL,
    check=_cumsum_check, estimate=lambda s, i, p: {"result": _prod(s["X"]) * i},
    compute=_cumsum_compute, plan=_cumsum_plan, flops=lambda s, p: _prod(s["X"]),
    example=lambda: {"X": np.array([[1.0, 2.0, 3.0, 4.0], [5.0, 6.0, 7.0, 8.0]])},
    extra={"order": 4},
))
