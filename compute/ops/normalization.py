"""Softmax and the normalizations (LayerNorm, BatchNorm, RMSNorm), one step per named stage.

Captions carry the numbers of the first row (or channel) so a learner can follow one case through
every stage: shifted → exp → sum → divide; mean → var → normalized → γ·norm + β.
"""

from __future__ import annotations

import math

import numpy as np

from ..backend import to_host
from ..errors import ParamError, ShapeError
from ..numbers import fmt_index, fmt_list, fmt_shape, num, term
from ..plans import Stage, StagePlan
from ..registry import Input, OpSpec, Param, register
from ..shapes import aligned, normalize_axis
from . import row_stages
from .row_stages import row_view


def _prod(shape) -> int:
    """Number of elements, in Python ints: np.prod in int64 wraps around for huge broadcast shapes,
    which would let an impossible run through the budget."""
    return math.prod(int(s) for s in shape)


def _row(run, name, axis=-1, limit=6) -> str:
    """The first line of tensor ``name`` along ``axis``, as ``[1, 2, 3]`` (shortened when long).

    Only that line is indexed (and, on a GPU, copied to the host): captions never touch the rest.
    """
    shape = run.shape(name)
    if not shape:
        return num(run.scalar(name, ()))
    if 0 in shape:
        return "[]"
    axis %= len(shape)
    index = tuple(slice(0, limit) if i == axis else 0 for i in range(len(shape)))
    a = run.host(name, index)
    body = ", ".join(num(v) for v in a)
    return "[" + body + (f", … ({shape[axis]} values)" if shape[axis] > limit else "") + "]"


def _line(run, name, axis=-1, limit=6, lead=None) -> np.ndarray:
    """The first ``limit`` entries of the first line of ``name`` along ``axis`` (a host array);
    ``lead`` fixes the other axes (default 0). Only those entries leave the device."""
    shape = run.shape(name)
    axis %= len(shape)
    lead = [0] * len(shape) if lead is None else list(lead)
    index = tuple(slice(0, limit) if i == axis else int(lead[i]) for i in range(len(shape)))
    return np.asarray(run.host(name, index)).reshape(-1)


def _line_name(shape, axis) -> str:
    """What the first line along ``axis`` is called in a caption: ``"row 0"``, ``"column 0"``,
    ``"X[0, :, 0]"``, or ``""`` for a vector (the line is X itself)."""
    nd = len(shape)
    axis %= nd
    if nd == 1:
        return ""
    if nd == 2:
        return "row 0" if axis == 1 else "column 0"
    return "X[" + ", ".join(":" if i == axis else "0" for i in range(nd)) + "]"


def _named(name: str, text: str) -> str:
    """``"; row 0: text"`` (or ``": text"`` when the line has no name)."""
    return f"; {name}: {text}" if name else f": {text}"


def _mean_text(values: np.ndarray, count: int, square: bool = False) -> str:
    """``"(1 + 2 + 3) / 3"`` or, with ``square``, ``"((−1)² + 0² + 1²) / 3"``: the first few terms of a
    mean of ``count`` terms."""
    each = (lambda v: f"{term(v)}²") if square else term
    body = " + ".join(each(v) for v in values) + (f" + … ({count} terms)" if count > values.size else "")
    return f"({body}) / {count}"


def _first(run, name) -> str:
    shape = run.shape(name)
    return num(run.scalar(name, (0,) * len(shape))) if 0 not in shape else "–"


def _positive(op, name, value, allow_zero=False):
    try:
        v = float(value)
    except (TypeError, ValueError):
        raise ParamError(f"{op}: {name} must be a number, not {value!r}") from None
    if not math.isfinite(v) or v < 0 or (v == 0 and not allow_zero):
        raise ParamError(f"{op}: {name} must be a finite number > 0, not {value!r}")
    return v


# --- softmax ------------------------------------------------------------------------------------
def _softmax_check(shapes, params):
    shape = shapes["X"]
    if len(shape) == 0:
        raise ShapeError("softmax: X is a scalar (); softmax needs at least one axis of logits.")
    (axis,) = normalize_axis("softmax", params.get("axis", -1), len(shape))
    t = _positive("softmax", "temperature", params.get("temperature", 1.0))
    return {**params, "axis": axis, "temperature": t}


def softmax_stages(xp, x, axis, temperature=1.0):
    """(shifted, exp, sum, result) of a numerically stable softmax along ``axis``.

    Subtracting the row maximum first keeps exp() ≤ 1, so large logits never overflow; rows whose
    maximum is ±inf or NaN give NaN, as numpy's formula would. The temperature divides *after* the
    shift: (x − max x)/t equals x/t − max(x/t) for t > 0, but x/t alone can overflow (float16 and
    t = 1e-5 turn 1 into inf, and inf − inf into NaN) where (x − max x)/t only goes to −inf (exp 0).
    """
    if x.shape[axis] == 0:
        # Softmax of an empty vector is the empty vector (the sum of no exponentials is 0); the
        # shift is skipped because the max of nothing is undefined.
        e = xp.exp(x)
        return x.copy(), e, e.sum(axis=axis, keepdims=True), e.copy()
    m = x.max(axis=axis, keepdims=True)
    with np.errstate(invalid="ignore", over="ignore"):
        shifted = x - m
        if temperature != 1.0:
            shifted /= temperature
    e = xp.exp(shifted)
    s = e.sum(axis=axis, keepdims=True)
    return shifted, e, s, e / s


def _softmax_compute(xp, inp, params):
    shifted, e, s, r = softmax_stages(xp, inp["X"], params["axis"], params["temperature"])
    return {"shifted": shifted, "exp": e, "sum": s, "result": r}


def _softmax_plan(run, granularity, options):
    ax = run.params["axis"]
    t = run.params["temperature"]
    tx = f"/{num(t)}" if t != 1.0 else ""
    shape = run.shape("X")
    where = _line_name(shape, ax)
    n = shape[ax]
    numbers = bool(n and _prod(shape))

    # One line of X followed through the four stages: its max and sum are one reduction each over
    # that line, on the device; only the first few entries reach the host. Each stage's numbers
    # are read when its step is built, and only from what that stage and the ones before it
    # wrote: a progressive run plans its steps before its outputs are computed.
    def line(k):
        return fmt_list(_line(run, k, ax)) if n <= 6 else _row(run, k, ax)

    def shift_text():
        first = tuple(slice(None) if i == ax % len(shape) else 0 for i in range(len(shape)))
        top = run.tensor("X")[first].max()
        top = top.item() if hasattr(top, "item") else float(top)
        shift = f"{line('X')} − {term(top)}" if t == 1.0 else f"({line('X')} − {term(top)}) / {num(t)}"
        return _named(where, f"{shift} = {line('shifted')}")

    def exp_text():
        return _named(where, f"exp({line('shifted')}) = {line('exp')}")

    def sum_text():
        exp_terms = " + ".join(term(v) for v in _line(run, "exp", ax)) + (f" + … ({n} terms)" if n > 6 else "")
        return _named(where, f"{exp_terms} = {num(run.scalar('sum', tuple(0 for _ in shape)))}")

    def divide_text():
        return _named(where, f"{line('exp')} / {num(run.scalar('sum', tuple(0 for _ in shape)))} = {line('result')}")

    def caption(head, text):
        return (lambda: head + text()) if numbers else head

    return StagePlan(run, [
        Stage("shifted", ("shifted",), ("X",),
              caption(f"shifted = x{tx} − max(x{tx}) along axis {ax}", shift_text)),
        Stage("exp", ("exp",), ("shifted",), caption("exp(shifted), all ≤ 1: no overflow", exp_text)),
        Stage("sum", ("sum",), ("exp",), caption(f"sum of exp along axis {ax}", sum_text)),
        Stage("divide", ("result",), ("exp", "sum"),
              caption("softmax = exp / sum, each line sums to 1", divide_text)),
    ])


def _softmax_progressive(inputs, params, granularity):
    """Softmax's four stages over chunks of whole lines (:mod:`.row_stages`), the eager path's own
    calls on each chunk; None (eager) when the axis is 0 or the run is small."""
    x, ax, t = inputs["X"], params["axis"], params["temperature"]
    if not row_stages.can_stream(x, ax, granularity):
        return None
    dtypes = row_stages.probe_dtypes(lambda inp: _softmax_compute(np, inp, params), inputs, ax)
    sum_shape = x.shape[:ax] + (1,) + x.shape[ax + 1:]
    outputs = {k: np.empty(sum_shape if k == "sum" else x.shape, dtypes[k])
               for k in ("shifted", "exp", "sum", "result")}
    xv = row_view(x, ax)
    sh, e, s, r = (row_view(outputs[k], ax) for k in ("shifted", "exp", "sum", "result"))

    def shift(r0, r1):
        blk = xv[r0:r1]
        np.subtract(blk, blk.max(axis=1, keepdims=True), out=sh[r0:r1])
        if t != 1.0:
            sh[r0:r1] /= t

    def exp(r0, r1):
        np.exp(sh[r0:r1], out=e[r0:r1])

    def total(r0, r1):
        s[r0:r1] = e[r0:r1].sum(axis=1, keepdims=True)

    def divide(r0, r1):
        np.divide(e[r0:r1], s[r0:r1], out=r[r0:r1])

    return row_stages.stage_panels(outputs, xv.shape[0], math.prod(xv.shape[1:]), [
        (("shifted",), shift), (("exp",), exp), (("sum",), total), (("result",), divide)], ax)


register(OpSpec(
    name="softmax", group="Normalization",
    pipeline=("X", "shifted", "exp", "sum", "result"),
    doc="Softmax along an axis, numerically stable (x − max first), with a temperature.",
    inputs=(Input("X", "logits"),),
    params=(Param("axis", "int", -1, "axis that sums to 1"),
            Param("temperature", "float", 1.0, "divides the logits (>0)", minimum=1e-6)),
    outputs=("shifted", "exp", "sum", "result"), granularities=("stage",),
    check=_softmax_check, estimate=lambda s, i, p: {"stages": 3 * _prod(s["X"]) * i},
    compute=_softmax_compute, plan=_softmax_plan, flops=lambda s, p: 5 * _prod(s["X"]),
    example=lambda: {"X": np.array([[1.0, 2.0, 3.0], [1.0, 1.0, 1.0]])},
    extra={"order": 1, "progressive": _softmax_progressive},
))


# --- layernorm / rmsnorm ------------------------------------------------------------------------
def _trailing_check(op):
    def check(shapes, params):
        sx, sg = shapes["X"], shapes["gamma"]
        if len(sg) == 0 or len(sg) > len(sx) or tuple(sx[len(sx) - len(sg):]) != tuple(sg):
            raise ShapeError(f"{op}: gamma {fmt_shape(sg)} must equal the last {max(1, len(sg))} axes of X "
                             f"{fmt_shape(sx)}: {op} normalizes over the trailing axes gamma covers.\n"
                             + aligned(sx, sg, "X", "gamma"))
        if "beta" in shapes and tuple(shapes["beta"]) != tuple(sg):
            raise ShapeError(f"{op}: beta {fmt_shape(shapes['beta'])} must have gamma's shape {fmt_shape(sg)}.")
        if _prod(sg) == 0:
            raise ShapeError(f"{op}: gamma {fmt_shape(sg)} is empty; there is nothing to normalize over.")
        eps = _positive(op, "eps", params.get("eps", 1e-5), allow_zero=True)
        return {**params, "eps": eps}

    return check


def _layernorm_compute(xp, inp, params):
    x, g = inp["X"], inp["gamma"]
    axes = tuple(range(x.ndim - g.ndim, x.ndim))
    mean = x.mean(axis=axes, keepdims=True)
    centered = x - mean
    var = (centered * centered).mean(axis=axes, keepdims=True)
    normalized = centered / xp.sqrt(var + params["eps"])
    result = normalized * g
    if "beta" in inp:
        result += inp["beta"]
    return {"mean": mean, "var": var, "normalized": normalized, "result": result}


def _sample_parts(run):
    """For LayerNorm / RMSNorm: (name of the first sample, its first few values, its size).

    A sample is X over the normalized trailing axes; the caption follows the first one, read along
    its last axis (a few entries, indexed on the device)."""
    sx, ng = run.shape("X"), len(run.shape("gamma"))
    nd = len(sx)
    if ng == 1 and nd == 2:
        name = "row 0"
    elif nd == ng:
        name = ""
    else:
        name = "sample X" + fmt_index((0,) * (nd - ng))
    return name, _line(run, "X", -1), _prod(sx[nd - ng:])


def _layernorm_plan(run, granularity, options):
    g = run.shape("gamma")
    axes = tuple(range(len(run.shape("X")) - len(g), len(run.shape("X"))))
    ax = str(axes[0]) if len(axes) == 1 else str(axes)
    has_beta = "beta" in run.inputs
    eps = num(run.params["eps"])
    numbers = bool(_prod(run.shape("X")))
    zero = (0,) * len(run.shape("X"))

    # Each stage's numbers are read when its step is built, from what it and the stages before it
    # wrote (a progressive run plans before computing; see _softmax_plan).
    def sample():
        name, x, count = _sample_parts(run)
        return name, x, count, count == x.size or len(g) == 1  # every term can be written out

    def mean_text():
        name, x, count, whole = sample()
        mu = run.scalar("mean", zero)
        return _named(name, f"μ = {_mean_text(x, count)} = {num(mu)}" if whole else f"μ = {num(mu)}")

    def var_text():
        name, x, count, whole = sample()
        mu, var = run.scalar("mean", zero), run.scalar("var", zero)
        return _named(name, f"σ² = {_mean_text(x - mu, count, square=True)} = {num(var)}" if whole
                      else f"σ² = {num(var)}")

    def norm_text():
        name = sample()[0]
        mu, var = run.scalar("mean", zero), run.scalar("var", zero)
        return _named(name, f"(x − {term(mu)}) / √({num(var)} + {eps}) = {_row(run, 'normalized')}")

    def affine_text():
        affine = f"{fmt_list(_line(run, 'gamma', -1))}·norm" + (f" + {fmt_list(_line(run, 'beta', -1))}"
                                                                if has_beta else "")
        return _named(sample()[0], f"{affine} = {_row(run, 'result')}")

    def caption(head, text):
        return (lambda: head + text()) if numbers else head

    return StagePlan(run, [
        Stage("mean", ("mean",), ("X",),
              caption(f"μ = mean over axis {ax} (each sample's own features)", mean_text)),
        Stage("var", ("var",), ("X", "mean"), caption(f"σ² = mean((x − μ)²) over axis {ax} (biased)", var_text)),
        Stage("normalized", ("normalized",), ("X", "mean", "var"),
              caption(f"norm = (x − μ) / √(σ² + {eps})", norm_text)),
        Stage("affine", ("result",), ("normalized", "gamma") + (("beta",) if has_beta else ()),
              caption(f"y = γ·norm{' + β' if has_beta else ''}", affine_text)),
    ])


def _norm_estimate(shapes, itemsize, params):
    return {"normalized": _prod(shapes["X"]) * itemsize * 3}


def _trailing_views(inputs, params, granularity, compute, names):
    """(lead, normalized axes of the row views, outputs, X's row view, the outputs' row views) of a
    LayerNorm / RMSNorm run over chunks of samples, or None when it is computed eagerly (see
    :mod:`.row_stages`)."""
    x, g = inputs["X"], inputs["gamma"]
    lead = x.ndim - g.ndim
    if not row_stages.can_stream(x, lead, granularity):
        return None
    dtypes = row_stages.probe_dtypes(lambda inp: compute(np, inp, params), inputs, lead)
    stat = x.shape[:lead] + (1,) * g.ndim
    outputs = {k: np.empty(stat if k in ("mean", "var", "ms", "rms") else x.shape, dtypes[k]) for k in names}
    axes = tuple(range(1, g.ndim + 1))
    return lead, axes, outputs, row_view(x, lead), {k: row_view(v, lead) for k, v in outputs.items()}


def _layernorm_progressive(inputs, params, granularity):
    """LayerNorm's four stages over chunks of samples, the eager path's own calls on each chunk."""
    got = _trailing_views(inputs, params, granularity, _layernorm_compute, ("mean", "var", "normalized", "result"))
    if got is None:
        return None
    lead, axes, outputs, xv, v = got
    g, beta, eps = inputs["gamma"], inputs.get("beta"), params["eps"]

    def mean(r0, r1):
        v["mean"][r0:r1] = xv[r0:r1].mean(axis=axes, keepdims=True)

    def var(r0, r1):
        centered = xv[r0:r1] - v["mean"][r0:r1]
        v["var"][r0:r1] = (centered * centered).mean(axis=axes, keepdims=True)

    def normalized(r0, r1):
        centered = xv[r0:r1] - v["mean"][r0:r1]
        np.divide(centered, np.sqrt(v["var"][r0:r1] + eps), out=v["normalized"][r0:r1])

    def affine(r0, r1):
        np.multiply(v["normalized"][r0:r1], g, out=v["result"][r0:r1])
        if beta is not None:
            v["result"][r0:r1] += beta

    return row_stages.stage_panels(outputs, xv.shape[0], math.prod(xv.shape[1:]), [
        (("mean",), mean), (("var",), var), (("normalized",), normalized), (("result",), affine)], lead)


register(OpSpec(
    name="layernorm", group="Normalization",
    pipeline=("X", "mean", "var", "normalized", "result"),
    doc="LayerNorm: each sample normalized over its last len(gamma.shape) axes, then γ·norm + β.",
    inputs=(Input("X"), Input("gamma", "shape of X's trailing axes"), Input("beta", optional=True)),
    params=(Param("eps", "float", 1e-5, "added to the variance", minimum=0.0),),
    outputs=("mean", "var", "normalized", "result"), granularities=("stage",),
    check=_trailing_check("layernorm"), estimate=_norm_estimate, compute=_layernorm_compute,
    plan=_layernorm_plan, flops=lambda s, p: 8 * _prod(s["X"]),
    example=lambda: {"X": np.array([[1.0, 2.0, 3.0, 4.0], [2.0, 4.0, 6.0, 8.0], [0.0, 0.0, 1.0, 1.0]]),
                     "gamma": np.ones(4), "beta": np.zeros(4)},
    extra={"order": 2, "progressive": _layernorm_progressive},
))


def _rmsnorm_compute(xp, inp, params):
    x, g = inp["X"], inp["gamma"]
    axes = tuple(range(x.ndim - g.ndim, x.ndim))
    ms = (x * x).mean(axis=axes, keepdims=True)
    rms = xp.sqrt(ms + params["eps"])
    normalized = x / rms
    return {"ms": ms, "rms": rms, "normalized": normalized, "result": normalized * g}


def _rmsnorm_plan(run, granularity, options):
    eps = num(run.params["eps"])
    numbers = bool(_prod(run.shape("X")))
    zero = (0,) * len(run.shape("X"))

    # Read when each step is built, from what its stage and the ones before it wrote (see
    # _softmax_plan).
    def ms_text():
        name, x, count = _sample_parts(run)
        whole = count == x.size or len(run.shape("gamma")) == 1
        return _named(name, f"{_mean_text(x, count, square=True) if whole else 'ms'} = {num(run.scalar('ms', zero))}")

    def rms_text():
        return _named(_sample_parts(run)[0], f"√({num(run.scalar('ms', zero))} + {eps}) = "
                                             f"{num(run.scalar('rms', zero))}")

    def norm_text():
        return _named(_sample_parts(run)[0], f"{_row(run, 'X')} / {num(run.scalar('rms', zero))} = "
                                             f"{_row(run, 'normalized')}")

    def scale_text():
        return _named(_sample_parts(run)[0], f"{fmt_list(_line(run, 'gamma', -1))}·norm = {_row(run, 'result')}")

    def caption(head, text):
        return (lambda: head + text()) if numbers else head

    return StagePlan(run, [
        Stage("ms", ("ms",), ("X",), caption("ms = mean of squares over the trailing axes", ms_text)),
        Stage("rms", ("rms",), ("ms",), caption(f"rms = √(ms + {eps}) (no centering)", rms_text)),
        Stage("normalized", ("normalized",), ("X", "rms"), caption("norm = x / rms", norm_text)),
        Stage("scale", ("result",), ("normalized", "gamma"), caption("y = γ·norm", scale_text)),
    ])


def _rmsnorm_progressive(inputs, params, granularity):
    """RMSNorm's four stages over chunks of samples, the eager path's own calls on each chunk."""
    got = _trailing_views(inputs, params, granularity, _rmsnorm_compute, ("ms", "rms", "normalized", "result"))
    if got is None:
        return None
    lead, axes, outputs, xv, v = got
    g, eps = inputs["gamma"], params["eps"]

    def ms(r0, r1):
        blk = xv[r0:r1]
        v["ms"][r0:r1] = (blk * blk).mean(axis=axes, keepdims=True)

    def rms(r0, r1):
        v["rms"][r0:r1] = np.sqrt(v["ms"][r0:r1] + eps)

    def normalized(r0, r1):
        np.divide(xv[r0:r1], v["rms"][r0:r1], out=v["normalized"][r0:r1])

    def scale(r0, r1):
        np.multiply(v["normalized"][r0:r1], g, out=v["result"][r0:r1])

    return row_stages.stage_panels(outputs, xv.shape[0], math.prod(xv.shape[1:]), [
        (("ms",), ms), (("rms",), rms), (("normalized",), normalized), (("result",), scale)], lead)


def _rmsnorm_check(shapes, params):
    return _trailing_check("rmsnorm")(shapes, params)


register(OpSpec(
    name="rmsnorm", group="Normalization",
    pipeline=("X", "ms", "rms", "normalized", "result"),
    doc="RMSNorm: x / √(mean(x²) + eps) · γ over the last len(gamma.shape) axes (no mean subtraction).",
    inputs=(Input("X"), Input("gamma")),
    params=(Param("eps", "float", 1e-6, "added to the mean square", minimum=0.0),),
    outputs=("ms", "rms", "normalized", "result"), granularities=("stage",),
    check=_rmsnorm_check, estimate=_norm_estimate, compute=_rmsnorm_compute, plan=_rmsnorm_plan,
    flops=lambda s, p: 5 * _prod(s["X"]),
    example=lambda: {"X": np.array([[1.0, 2.0, 3.0, 4.0], [2.0, 4.0, 6.0, 8.0]]), "gamma": np.ones(4)},
    extra={"order": 4, "progressive": _rmsnorm_progressive},
))


# --- batchnorm ----------------------------------------------------------------------------------
def _batchnorm_check(shapes, params):
    sx = shapes["X"]
    if len(sx) < 2:
        raise ShapeError(f"batchnorm: X {fmt_shape(sx)} must be (N, C) or (N, C, L, …): axis 0 is the batch, "
                         f"axis 1 the channels.")
    c = sx[1]
    for name in ("gamma", "beta", "running_mean", "running_var"):
        if name in shapes and tuple(shapes[name]) != (c,):
            raise ShapeError(f"batchnorm: {name} {fmt_shape(shapes[name])} must be ({c},), one value per channel "
                             f"(X {fmt_shape(sx)} has {c} channels on axis 1).")
    # Its kind was checked by Param.validate: a bool, never a string ('maybe' is not inference).
    training = bool(params.get("training", True))
    if not training and ("running_mean" not in shapes or "running_var" not in shapes):
        raise ShapeError("batchnorm: inference mode (training=False) normalizes with running_mean and running_var; "
                         "give both as inputs, or use training=True to use the batch's own statistics.")
    n = sx[0] * _prod(sx[2:])
    if training and n == 0:
        raise ShapeError(f"batchnorm: X {fmt_shape(sx)} has no samples per channel to take statistics over.")
    eps = _positive("batchnorm", "eps", params.get("eps", 1e-5), allow_zero=True)
    mom = _positive("batchnorm", "momentum", params.get("momentum", 0.1), allow_zero=True)
    if mom > 1.0:
        raise ParamError(f"batchnorm: momentum must be a number in [0, 1], not {mom}")
    return {**params, "eps": eps, "training": training, "momentum": mom}


def _bshape(x):
    return (1, x.shape[1]) + (1,) * (x.ndim - 2)


def _batchnorm_compute(xp, inp, params):
    x = inp["X"]
    axes = (0,) + tuple(range(2, x.ndim))
    bs = _bshape(x)
    out = {}
    if params["training"]:
        mean = x.mean(axis=axes)
        centered = x - mean.reshape(bs)
        var = (centered * centered).mean(axis=axes)
        count = x.shape[0] * _prod(x.shape[2:])  # samples per channel; x.size // C divides by 0 when C = 0
        if "running_mean" in inp and "running_var" in inp:
            m = params["momentum"]
            unbiased = var * (count / max(1, count - 1))  # torch updates running_var with the unbiased one
            out["new_running_mean"] = (1 - m) * inp["running_mean"] + m * mean
            out["new_running_var"] = (1 - m) * inp["running_var"] + m * unbiased
    else:
        mean, var = inp["running_mean"], inp["running_var"]
        centered = x - mean.reshape(bs)
    normalized = centered / xp.sqrt(var.reshape(bs) + params["eps"])
    result = normalized
    if "gamma" in inp:
        result = result * inp["gamma"].reshape(bs)
    if "beta" in inp:
        result = result + inp["beta"].reshape(bs)
    if result is normalized:
        result = normalized.copy()
    out.update({"mean": mean, "var": var, "normalized": normalized, "result": result})
    return out


def _channel0(run, name, limit=6) -> tuple[np.ndarray, int]:
    """The first ``limit`` values of channel 0 of ``name`` (N, C, …) over the batch and spatial
    axes, and how many there are (a strided view, reshaped on the device: one channel at most)."""
    a = run.tensor(name)
    count = a.shape[0] * _prod(a.shape[2:])
    # The first values in order: sample 0's own, then the next samples' (never a copy of the channel).
    per = _prod(a.shape[2:])
    rows = a[: max(1, math.ceil(limit / per)) if per else 1, 0]
    line = rows.reshape(-1)[:limit] if per else rows.reshape(-1)
    return np.asarray(to_host(line)), int(count)


def _batchnorm_plan(run, granularity, options):
    train = run.params["training"]
    nd = len(run.shape("X"))
    axes = "axis 0" if nd == 2 else "axes (0" + "".join(f", {i}" for i in range(2, nd)) + ")"
    src = f"over the batch, {axes} (one value per channel)" if train else "from running_mean (inference)"
    eps = num(run.params["eps"])
    mean_t = var_t = norm_t = ""
    if _prod(run.shape("X")):
        x, count = _channel0(run, "X")
        mu, var = run.scalar("mean", (0,)), run.scalar("var", (0,))
        z, _ = _channel0(run, "normalized")
        more = f", … ({count} values)" if count > z.size else ""
        ch = "channel 0 (column 0)" if nd == 2 else "channel 0"
        if train:
            mean_t = f"; {ch}: μ = {_mean_text(x, count)} = {num(mu)}"
            var_t = f"; {ch}: σ² = {_mean_text(x - mu, count, square=True)} = {num(var)}"
        norm_t = (f"; {ch}: ([{fmt_list(x)[1:-1]}{more}] − {term(mu)}) / √({num(var)} + {eps}) = "
                  f"[{fmt_list(z)[1:-1]}{more}]")
    stages = [
        Stage("mean", ("mean",), ("X",) if train else ("running_mean",), f"μ per channel {src}: "
                                                                           f"{_row(run, 'mean')}{mean_t}"),
        Stage("var", ("var",), ("X", "mean") if train else ("running_var",),
              f"σ² per channel {'(biased, over the batch)' if train else 'from running_var'}: "
              f"{_row(run, 'var')}{var_t}"),
        Stage("normalized", ("normalized",), ("X", "mean", "var"),
              f"norm = (x − μ) / √(σ² + {eps}), each channel with its own μ, σ²{norm_t}"),
        Stage("affine", ("result",), ("normalized",) + tuple(n for n in ("gamma", "beta") if n in run.inputs),
              "y = γ·norm + β, per channel" + f"; sample 0, every channel: {_row(run, 'result', 1)}"),
    ]
    if "new_running_mean" in run.outputs:
        m = num(run.params["momentum"])
        stages.append(Stage("running", ("new_running_mean", "new_running_var"), ("mean", "var"),
                            f"running stats ← (1 − {m})·running + {m}·batch (var unbiased): "
                            f"running_mean {_row(run, 'new_running_mean')}, "
                            f"running_var {_row(run, 'new_running_var')}"))
    return StagePlan(run, stages)


register(OpSpec(
    name="batchnorm", group="Normalization",
    pipeline=("X", "mean", "var", "normalized", "result"),
    doc="BatchNorm: each channel (axis 1) normalized over the batch and spatial axes; inference uses running stats.",
    inputs=(Input("X", "(N, C) or (N, C, L, …)"), Input("gamma", "(C,)", optional=True),
            Input("beta", "(C,)", optional=True), Input("running_mean", "(C,)", optional=True),
            Input("running_var", "(C,)", optional=True)),
    params=(Param("eps", "float", 1e-5, "added to the variance", minimum=0.0),
            Param("training", "bool", True, "batch statistics (True) or running statistics (False)"),
            Param("momentum", "float", 0.1, "running-stat update rate", minimum=0.0, maximum=1.0)),
    outputs=("mean", "var", "normalized", "result", "new_running_mean", "new_running_var"),
    granularities=("stage",),
    check=_batchnorm_check, estimate=_norm_estimate, compute=_batchnorm_compute, plan=_batchnorm_plan,
    flops=lambda s, p: 8 * _prod(s["X"]),
    example=lambda: {"X": np.array([[1.0, 2.0, 3.0, 4.0], [2.0, 4.0, 6.0, 8.0], [0.0, 0.0, 1.0, 1.0]]),
                     "gamma": np.ones(4), "beta": np.zeros(4)},
    extra={"order": 3},
))
