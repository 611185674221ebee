"""Check a run against an independent reference: the "verified" badge of every result OpScope shows.

:func:`verify_run` recomputes the outputs of a run in float64 numpy with plain formulas written
here, not with the operations' own compute functions (matmul as ``einsum`` or rows times columns,
softmax as ``exp / sum``, LayerNorm as mean and variance, attention with its masks written out), and
compares them with what the run produced.

Small runs are recomputed whole. Large ones are recomputed at a random sample of entries (or rows,
or channels), always with the first and last among them, so that a check costs a bounded amount of
work (:data:`SAMPLE_WORK` float64 terms) whatever the size of the run: a 2048² matmul is checked at 64
entries, each one ``Σ_k A[i, k] B[k, j]``. (mha's projections of the sampled batch entries use
numpy's float64 ``@``: they are checked products already, and its heads, masks and scale are what
the reference is there to check.)

How close is close enough
-------------------------
Every checked entry carries, besides its reference value, a *magnitude*: the size of the terms that
went into it (``Σ |A[i, k] B[k, j]|`` for a product, the condition of the softmax for its weights, …),
which bounds the rounding error of any sensible floating-point evaluation in units of the unit
roundoff ``u`` of the compute dtype. The error of an entry is measured against
``max(|reference|, magnitude)`` so that an entry that is small because its terms cancel is not
flagged for an absolute error its terms explain; the tolerance is ``u · (16 + 4 √n)`` for an entry
built from ``n`` rounded terms. A deliberately wrong entry (a few ulps of the dtype beyond that) is
flagged; random inputs of every dtype are not (tests/compute/test_verify.py).

NaN and ±inf are fine where the reference has the same at the same place (±inf also where the exact
value lies beyond the dtype's range); anything else there is a difference.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping
from dataclasses import dataclass

import numpy as np

from .backend import array_module, is_device_array, to_host
from .registry import get_spec

#: Below this many float64 terms of reference work, every entry of a run is recomputed (a 40³ matmul,
#: a 256² element-wise run, a 128×128 softmax): the numbers a learner types are always checked whole.
FULL_WORK = 1 << 16
#: A sampled check does at most about this many float64 terms of work (at least one entry or row).
SAMPLE_WORK = 1 << 22
#: Entries sampled from products, reductions and element-wise outputs.
SAMPLE_ENTRIES = 64
#: Rows (softmax, norms, attention queries) or channels (batchnorm) sampled from row-wise operations.
SAMPLE_ROWS = 8
#: The tolerance of an entry of ``n`` rounded terms is ``u · (TOL_BASE + TOL_GROWTH · √n)``.
TOL_BASE = 16.0
TOL_GROWTH = 4.0
#: torch's convention for cosine similarity, which the operation documents: |a||b| is clamped here.
COSINE_EPS = 1e-8


@dataclass(frozen=True)
class Verification:
    """The outcome of checking one run against the reference.

    Attributes
    ----------
    ok : bool
        Every checked entry is within tolerance (and every output has the reference's shape).
    max_rel_err : float
        The largest error over the checked entries, relative to ``max(|reference|, magnitude of
        its terms)`` (``inf`` where a NaN or infinity is not where the reference has one).
    worst : (name, index, got, expected) or None
        The entry furthest out of tolerance (when ``ok``: the one closest to it); None when nothing
        was compared (empty outputs, or a shape mismatch).
    checked : str
        ``"all"`` or ``"sample of N"`` (N entries compared).
    message : str
        One line for the status bar: ``"✓ matches reference (max rel err 3e-7)"`` or
        ``"⚠ differs from reference at result[2, 3]: 0.512 vs 0.498 (rel err 3e-2)"``.
    tensors : tuple of str
        The outputs that were compared.
    tolerance : float
        The tolerance of the worst entry (relative, as ``max_rel_err``).
    ratio : float
        The worst entry's error over its tolerance: at most 1 when ``ok``.
    """

    ok: bool
    max_rel_err: float
    worst: tuple[str, tuple[int, ...], float, float] | None
    checked: str
    message: str
    tensors: tuple[str, ...] = ()
    tolerance: float = 0.0
    ratio: float = 0.0

    @property
    def details(self) -> str:
        """A few lines for a tooltip: what was compared, how, and the worst entry."""
        what = "every entry" if self.checked == "all" else f"a {self.checked} entries"
        lines = [self.message, f"checked: {what} of {', '.join(self.tensors) or 'nothing'}, against float64 "
                               f"formulas written independently of the engine"]
        if self.worst is not None:
            name, index, got, expected = self.worst
            g, e = _distinct(got, expected)
            lines.append(f"worst entry: {_label(name, index)} = {g}, reference {e}")
        if self.tolerance:
            lines.append(f"tolerance there: rel err ≤ {_sci(self.tolerance)} (the error relative to the size of "
                         f"the terms behind the entry)")
        return "\n".join(lines)


@dataclass
class _Check:
    """Reference values of one output at ``flat`` (flat indices; None: every entry, in C order)."""

    name: str
    shape: tuple
    flat: np.ndarray | None
    ref: np.ndarray
    mag: np.ndarray
    terms: object = 1
    skip: np.ndarray | None = None


def _prod(shape) -> int:
    return int(np.prod(shape, dtype=np.int64)) if len(shape) else 1


def _take(a, index):
    """``a[index]`` with numpy index arrays, computed where ``a`` lives; only that part comes to the host."""
    if is_device_array(a):
        xp = array_module(a)
        index = tuple(xp.asarray(i) if isinstance(i, np.ndarray) else i for i in index)
        return to_host(a[index])
    return np.asarray(a)[index]


def _bview(a, shape):
    """``a`` broadcast to ``shape`` (a view, on ``a``'s device)."""
    return array_module(a).broadcast_to(a, tuple(shape))


def _flat(shape, axes, rows, pos) -> np.ndarray:
    """Flat indices into ``shape`` of the entries (row, pos): ``rows`` enumerate the axes not in
    ``axes`` (C order), ``pos`` the axes in ``axes`` (C order); ``pos`` is (P,) or (R, P)."""
    shape = tuple(int(s) for s in shape)
    axes = tuple(axes)
    kept = [i for i in range(len(shape)) if i not in axes]
    rows = np.asarray(rows, dtype=np.int64).reshape(-1, 1)
    pos = np.asarray(pos, dtype=np.int64)
    pos = pos.reshape(1, -1) if pos.ndim <= 1 else pos
    if not shape:
        return np.zeros(np.broadcast_shapes(rows.shape, pos.shape), dtype=np.int64)
    full = [None] * len(shape)
    kshape = tuple(shape[i] for i in kept)
    rshape = tuple(shape[i] for i in axes)
    for a, v in zip(kept, np.unravel_index(rows, kshape) if kshape else ()):
        full[a] = v
    for a, v in zip(axes, np.unravel_index(pos, rshape) if rshape else ()):
        full[a] = v
    return np.ravel_multi_index(np.broadcast_arrays(*full), shape)


class _Ctx:
    """What the checks of one run share: its arrays, the compute dtype, the sampling choices."""

    def __init__(self, inputs, params, outputs, dtype, mode, sample, seed):
        self.inputs = inputs
        self.params = params
        self.outputs = outputs
        self.dtype = np.dtype(dtype)
        self.mode = mode
        self.sample = sample
        self.rng = np.random.default_rng(seed)
        self.sampled = False

    def everything(self, work: float) -> bool:
        """Recompute every entry (True) or a sample (False), for a full reference of ``work`` terms."""
        full = self.mode == "all" or (self.mode == "auto" and work <= FULL_WORK)
        self.sampled = self.sampled or not full
        return full

    def count(self, per_item_work: float, wanted: int) -> int:
        """How many items of ``per_item_work`` terms each a sampled check affords (at least one)."""
        wanted = self.sample or wanted
        return int(max(1, min(wanted, SAMPLE_WORK // max(1, int(per_item_work)))))

    def pick(self, total: int, k: int) -> np.ndarray:
        """``k`` distinct sorted indices in ``range(total)``: the first and the last (edge tiles and
        off-by-one errors live there), and random ones between."""
        if k >= total:
            return np.arange(total, dtype=np.int64)
        chosen = {0, total - 1} if k >= 2 else {0}
        while len(chosen) < k:
            chosen.update(int(i) for i in self.rng.integers(0, total, size=k - len(chosen)))
        return np.array(sorted(chosen), dtype=np.int64)

    def f64(self, a) -> np.ndarray:
        """A host float64 copy of ``a`` rounded through the compute dtype, as the run rounded its
        inputs (booleans stay booleans: they are masks)."""
        h = np.asarray(to_host(a))
        if h.dtype == bool:
            return h
        if h.dtype != self.dtype:
            h = h.astype(self.dtype)
        return h.astype(np.float64)

    def lines(self, x, axes, rows) -> np.ndarray:
        """(R, r) float64: the entries of ``x`` along ``axes`` for each of ``rows`` (flat indices
        over the other axes; None: all of them)."""
        xp = array_module(x)
        axes = tuple(axes)
        nd = x.ndim
        moved = xp.moveaxis(x, axes, tuple(range(nd - len(axes), nd))) if axes else x[..., None]
        nred = max(1, len(axes))
        kshape, rshape = moved.shape[: moved.ndim - nred], moved.shape[moved.ndim - nred:]
        r = _prod(rshape)
        if rows is None:
            return self.f64(moved).reshape(_prod(kshape), r)
        rows = np.asarray(rows, dtype=np.int64)
        if not kshape:
            return np.broadcast_to(self.f64(moved).reshape(1, r), (len(rows), r))
        part = _take(moved, tuple(np.unravel_index(rows, kshape)) + (Ellipsis,))
        return self.f64(part).reshape(len(rows), r)


# --- products -------------------------------------------------------------------------------------
def _contract(ctx, A, B, full: bool):
    """Reference of ``C[b, i, j] = Σ_k A[b, i, k] B[b, k, j]`` (A (…, m, k), B (…, k, n), batch axes
    broadcast): ``(flat, j, ref, mag)`` with ``j`` the column of each entry; ``flat`` None when every
    entry is computed (in C order)."""
    batch = tuple(np.broadcast_shapes(tuple(A.shape[:-2]), tuple(B.shape[:-2])))
    m, k, n = A.shape[-2], A.shape[-1], B.shape[-1]
    canon = batch + (m, n)
    if full:
        a, b = ctx.f64(A), ctx.f64(B)
        with np.errstate(invalid="ignore", over="ignore"):
            ref = np.einsum("...ik,...kj->...ij", a, b)
            mag = np.einsum("...ik,...kj->...ij", np.abs(a), np.abs(b))
        return None, np.arange(_prod(canon)) % max(1, n), ref.reshape(-1), mag.reshape(-1)
    flat = ctx.pick(_prod(canon), ctx.count(k, SAMPLE_ENTRIES))
    idx = np.unravel_index(flat, canon)
    bidx, i, j = tuple(idx[:-2]), idx[-2], idx[-1]
    xp = array_module(B)
    rows = ctx.f64(_take(_bview(A, batch + (m, k)), bidx + (i, slice(None))))  # (N, k): A[b, i, :]
    cols = ctx.f64(_take(xp.swapaxes(_bview(B, batch + (k, n)), -1, -2), bidx + (j, slice(None))))  # B[b, :, j]
    with np.errstate(invalid="ignore", over="ignore"):
        terms = rows * cols
        return flat, j, terms.sum(axis=-1), np.abs(terms).sum(axis=-1)


def _v_matmul(ctx):
    A, B = ctx.inputs["A"], ctx.inputs["B"]
    a1, b1 = A.ndim == 1, B.ndim == 1
    A2, B2 = (A[None, :] if a1 else A), (B[:, None] if b1 else B)
    batch = tuple(np.broadcast_shapes(tuple(A2.shape[:-2]), tuple(B2.shape[:-2])))
    shape = batch + (() if a1 else (A2.shape[-2],)) + (() if b1 else (B2.shape[-1],))
    full = ctx.everything(_prod(shape) * A.shape[-1])
    flat, _idx, ref, mag = _contract(ctx, A2, B2, full)
    return [_Check("result", shape, flat, ref, mag, A.shape[-1])]


def _v_matvec(ctx):
    A, x = ctx.inputs["A"], ctx.inputs["x"]
    batch = tuple(np.broadcast_shapes(tuple(A.shape[:-2]), tuple(x.shape[:-1])))
    shape = batch + (A.shape[-2],)
    flat, _idx, ref, mag = _contract(ctx, A, x[..., :, None], ctx.everything(_prod(shape) * A.shape[-1]))
    return [_Check("result", shape, flat, ref, mag, A.shape[-1])]


def _v_outer(ctx):
    a, b = ctx.inputs["a"], ctx.inputs["b"]
    shape = (a.shape[0], b.shape[0])
    flat, _idx, ref, mag = _contract(ctx, a[:, None], b[None, :], ctx.everything(_prod(shape)))
    return [_Check("result", shape, flat, ref, mag, 1)]


def _v_linear(ctx):
    X, W = ctx.inputs["X"], ctx.inputs["W"]
    x1 = X.ndim == 1
    shape = tuple(X.shape[:-1]) + (W.shape[0],)
    k = X.shape[-1]
    flat, col, ref, mag = _contract(ctx, X[None, :] if x1 else X, W.T, ctx.everything(_prod(shape) * k))
    checks = [_Check("XW", shape, flat, ref, mag, k)]
    if "b" in ctx.inputs:
        b = ctx.f64(ctx.inputs["b"])
        bias = b.reshape(-1)[col] if b.ndim else np.full(len(ref), float(b))
        checks.append(_Check("result", shape, flat, ref + bias, mag + np.abs(bias), k + 1))
    else:
        checks.append(_Check("result", shape, flat, ref, mag, k))
    return checks


def _v_dot(ctx):
    a, b = ctx.inputs["a"], ctx.inputs["b"]
    batch = tuple(np.broadcast_shapes(tuple(a.shape[:-1]), tuple(b.shape[:-1])))
    k = a.shape[-1]
    full = ctx.everything(_prod(batch) * k)
    flat, _idx, ref, mag = _contract(ctx, a[..., None, :], b[..., :, None], full)
    pshape = batch + (k,)
    return [_elementwise(ctx, "products", (a, b), lambda x, y: x * y, lambda x, y: np.abs(x * y), pshape, full),
            _Check("result", batch, flat, ref, mag, k)]


def _v_cosine(ctx):
    a, b = ctx.inputs["a"], ctx.inputs["b"]
    out = tuple(np.broadcast_shapes(tuple(a.shape), tuple(b.shape)))
    ax = ctx.params["axis"] % len(out)
    K = out[ax]
    rest = out[:ax] + out[ax + 1:]
    full = ctx.everything(_prod(out) * 3)
    rows = None if full else ctx.pick(_prod(rest), ctx.count(3 * K, SAMPLE_ENTRIES))
    # The vectors are the lines of a and b broadcast to one shape (numpy rules, as documented), so
    # b = [1] against a = [1, 2, 3] is the vector [1, 1, 1]: its norm is √3, not 1.
    la = ctx.lines(_bview(a, out), (ax,), rows)
    lb = ctx.lines(_bview(b, out), (ax,), rows)
    flat = None if full else rows
    with np.errstate(invalid="ignore", over="ignore", divide="ignore"):
        prods = la * lb
        dot, dmag = prods.sum(-1), np.abs(prods).sum(-1)
        na, nb = np.sqrt((la * la).sum(-1)), np.sqrt((lb * lb).sum(-1))
        den = np.maximum(na * nb, COSINE_EPS)  # zero vectors give 0, not 0/0
        res = dot / den
        return [_Check("dot", rest, flat, dot, dmag, K), _Check("norm_a", rest, flat, na, na, K + 1),
                _Check("norm_b", rest, flat, nb, nb, K + 1),
                _Check("result", rest, flat, res, dmag / den + np.abs(res), K + 4)]


# --- element-wise ---------------------------------------------------------------------------------
def _elementwise(ctx, name, operands, fn, magfn, shape, full, terms=1) -> _Check:
    """Check of an output whose every entry is ``fn`` of one entry of each (broadcast) operand."""
    shape = tuple(shape)
    if full:
        vals = [np.broadcast_to(ctx.f64(x), shape).reshape(-1) for x in operands]
        flat = None
    else:
        flat = ctx.pick(_prod(shape), ctx.count(1, 4 * SAMPLE_ENTRIES))
        idx = tuple(np.unravel_index(flat, shape)) if shape else ()
        vals = [ctx.f64(_take(_bview(x, shape), idx)).reshape(-1) for x in operands]
    with np.errstate(invalid="ignore", over="ignore"):
        return _Check(name, shape, flat, fn(*vals), magfn(*vals), terms)


def _v_broadcasting(fn, magfn):
    def check(ctx):
        A, B = ctx.inputs["A"], ctx.inputs["B"]
        shape = tuple(np.broadcast_shapes(tuple(A.shape), tuple(B.shape)))
        full = ctx.everything(_prod(shape))
        return [_elementwise(ctx, "A_broadcast", (A,), lambda x: x, np.abs, shape, full),
                _elementwise(ctx, "B_broadcast", (B,), lambda x: x, np.abs, shape, full),
                _elementwise(ctx, "result", (A, B), fn, magfn, shape, full)]

    return check


# --- reductions -----------------------------------------------------------------------------------
def _reduced(ctx):
    """(X, axes, output shape, rows or None, lines (R, r)) of a reduction of X over ``axis``."""
    X = ctx.inputs["X"]
    axes = tuple(ctx.params["axis"])
    kept = tuple(s for i, s in enumerate(X.shape) if i not in axes)
    out = tuple(1 if i in axes else s for i, s in enumerate(X.shape)) if ctx.params["keepdims"] else kept
    r = _prod([X.shape[a] for a in axes])
    full = ctx.everything(_prod(X.shape))
    rows = None if full else ctx.pick(_prod(kept), ctx.count(r, SAMPLE_ENTRIES))
    return X, axes, out, rows, ctx.lines(X, axes, rows), full


def _v_sum(ctx):
    _X, _axes, out, rows, lines, _full = _reduced(ctx)
    return [_Check("result", out, rows, lines.sum(-1), np.abs(lines).sum(-1), lines.shape[-1])]


def _v_mean(ctx):
    _X, _axes, out, rows, lines, _full = _reduced(ctx)
    r = lines.shape[-1]
    s, mag = lines.sum(-1), np.abs(lines).sum(-1)
    with np.errstate(invalid="ignore", divide="ignore"):
        mean = s / r if r else np.full(s.shape, np.nan)
        return [_Check("sum", out, rows, s, mag, r), _Check("result", out, rows, mean, mag / max(r, 1), r + 1)]


def _v_max(ctx):
    _X, _axes, out, rows, lines, _full = _reduced(ctx)
    # np.max propagates NaN, as the operation documents; a max is exact, so any difference counts.
    m = lines.max(axis=-1)
    return [_Check("result", out, rows, m, np.abs(m), 1)]


def _v_norm(ctx):
    X, _axes, out, rows, lines, full = _reduced(ctx)
    order = ctx.params["ord"]
    r = lines.shape[-1]
    with np.errstate(over="ignore"):
        if order in (2, "fro"):
            ref = np.sqrt((lines * lines).sum(-1))
            terms = _elementwise(ctx, "terms", (X,), lambda x: x * x, lambda x: x * x, X.shape, full)
            checks = [_Check("result", out, rows, ref, ref, r + 1)]
        else:
            a = np.abs(lines)
            ref = a.sum(-1) if order == 1 else (a.max(-1) if r else np.zeros(len(a)))
            terms = _elementwise(ctx, "terms", (X,), np.abs, np.abs, X.shape, full)
            checks = [_Check("result", out, rows, ref, ref, r if order == 1 else 1)]
    return [terms] + checks


def _v_cumsum(ctx):
    X = ctx.inputs["X"]
    axis = ctx.params["axis"]
    if axis is None:
        src, ax, shape = X.reshape(-1), 0, (_prod(X.shape),)
    else:
        src, ax, shape = X, axis, tuple(X.shape)
    n = shape[ax]
    nlines = _prod(shape) // max(1, n)
    if ctx.everything(_prod(shape) * n):
        # Every entry as the sum of its prefix, written out: result[p] = Σ_{q ≤ p} X[q].
        rows = np.arange(nlines)
        lines = ctx.lines(src, (ax,), rows)
        upto = np.arange(n)[None, :] <= np.arange(n)[:, None]  # (p, q): does entry p sum term q
        terms = np.where(upto[None], lines[:, None, :], 0.0)
        return [_Check("result", shape, _flat(shape, (ax,), rows, np.arange(n)).reshape(-1), terms.sum(-1),
                       np.abs(terms).sum(-1), np.arange(1, n + 1))]
    # A few positions on a few lines: the prefix sums there, as the sums of the segments between them.
    # A line longer than SAMPLE_WORK is checked within its first SAMPLE_WORK positions (a bounded cost).
    reach = min(n, SAMPLE_WORK)
    rows = ctx.pick(nlines, ctx.count(reach, 8))
    xp = array_module(src)
    moved = xp.moveaxis(src, ax, -1)
    pos = np.stack([ctx.pick(reach, min(reach, 8)) for _ in rows])
    ref, mag = np.empty(pos.shape), np.empty(pos.shape)
    kshape = tuple(moved.shape[:-1])
    for r, (row, p) in enumerate(zip(rows, pos)):
        lead = tuple(int(i) for i in np.unravel_index(int(row), kshape)) if kshape else ()
        line = ctx.f64(moved[lead + (slice(0, int(p[-1]) + 1),)])  # only the prefix leaves the device
        starts = np.concatenate([[0], p[:-1] + 1])
        ref[r] = np.cumsum(np.add.reduceat(line, starts))
        mag[r] = np.cumsum(np.add.reduceat(np.abs(line), starts))
    return [_Check("result", shape, _flat(shape, (ax,), rows, pos).reshape(-1), ref, mag, pos + 1)]


# --- softmax and the normalizations ---------------------------------------------------------------
def _softmax_rows(z):
    """Softmax of the rows of ``z`` written out, with the error magnitudes of its stages:
    ``(m, shifted, e, s, w, cond)``. ``cond`` is the relative error of ``e`` in units of u: the
    rounding of z and of the shift (each as large as the number it rounds) and of exp. The max is
    exact, and its share of z's error cancels between ``e`` and the sum, so it adds nothing."""
    m = z.max(axis=-1, keepdims=True)
    shifted = z - m
    e = np.exp(shifted)
    s = e.sum(axis=-1, keepdims=True)
    cond = 1.0 + np.abs(z) + np.abs(shifted)
    return m, shifted, e, s, e / s, cond


def _weighted(w, cond, e, s):
    """Error magnitude of softmax weights ``w = e / s``: their own error plus the sum's."""
    me = np.where(e > 0, e * cond, 0.0)
    ms = me.sum(axis=-1, keepdims=True)
    return np.where(w > 0, w * cond, 0.0) + w * ms / s, ms


def _v_softmax(ctx):
    X = ctx.inputs["X"]
    ax = ctx.params["axis"]
    t = ctx.params["temperature"]
    n = X.shape[ax]
    nlines = _prod(X.shape) // max(1, n)
    full = ctx.everything(4 * _prod(X.shape))  # four outputs of X's size
    rows = np.arange(nlines) if full else ctx.pick(nlines, ctx.count(n, SAMPLE_ROWS))
    x = ctx.lines(X, (ax,), rows)
    shape = tuple(X.shape)
    flat = _flat(shape, (ax,), rows, np.arange(n)).reshape(-1)
    sshape = tuple(1 if i == ax else s for i, s in enumerate(shape))
    with np.errstate(invalid="ignore", over="ignore"):
        z = x / t
        m, shifted, e, s, w, cond = _softmax_rows(z)
        mw, ms = _weighted(w, cond, e, s)
        return [_Check("shifted", shape, flat, shifted, np.abs(z) + np.abs(m) + np.abs(shifted), 2),
                _Check("exp", shape, flat, e, e * cond, 3),
                _Check("sum", sshape, rows, s, ms, n + 3),
                _Check("result", shape, flat, w, mw, n + 4)]


def _moments(ctx, x, eps):
    """Mean, variance (biased) and normalized rows of ``x`` (R, D) with their error magnitudes."""
    d = x.shape[-1]
    tiny = float(np.finfo(ctx.dtype).tiny)
    mu = x.mean(axis=-1, keepdims=True)
    # The error of a mean of d terms is about u·mean|x| (none at all for one term, which is exact).
    mmu = np.abs(x).mean(axis=-1, keepdims=True) if d > 1 else np.zeros_like(mu)
    c = x - mu
    var = (c * c).mean(axis=-1, keepdims=True)
    # The run's mean is off by about u·mmu: that shifts every centred value, but not the variance
    # to first order (the shifts sum to zero), which rounds like the squares it sums.
    mvar = var + np.abs(c).mean(axis=-1, keepdims=True) * mmu
    sd = np.sqrt(var + eps)
    norm = c / sd
    # eps itself is rounded to the dtype (it may even be subnormal in float16): eps + tiny.
    mnorm = (np.abs(c) + mmu) / sd + np.abs(norm) * (1.0 + (mvar + eps + tiny) / (var + eps))
    return mu, mmu, var, mvar, norm, mnorm, d, sd


def _normalized_rows(ctx):
    """What LayerNorm and RMSNorm checks share: the rows over gamma's trailing axes (all, or a sample).

    Returns ``(x, gamma, D, rows, shape, sshape, flat)``: the checked rows in float64 ``(rows, D)``,
    gamma as ``(1, D)``, the row length, the row indices, X's shape, the statistics' shape and the
    flat indices of the checked entries of X.
    """
    X, g = ctx.inputs["X"], ctx.inputs["gamma"]
    axes = tuple(range(X.ndim - g.ndim, X.ndim))
    D = _prod(g.shape)
    nrows = _prod(X.shape) // D
    full = ctx.everything(4 * _prod(X.shape))
    rows = np.arange(nrows) if full else ctx.pick(nrows, ctx.count(D, SAMPLE_ROWS))
    shape = tuple(X.shape)
    sshape = shape[: X.ndim - g.ndim] + (1,) * g.ndim
    flat = _flat(shape, axes, rows, np.arange(D)).reshape(-1)
    return ctx.lines(X, axes, rows), ctx.f64(g).reshape(1, D), D, rows, shape, sshape, flat


def _v_layernorm(ctx):
    x, gamma, D, rows, shape, sshape, flat = _normalized_rows(ctx)
    beta = ctx.f64(ctx.inputs["beta"]).reshape(1, D) if "beta" in ctx.inputs else np.zeros((1, D))
    with np.errstate(invalid="ignore", over="ignore", divide="ignore"):
        mu, mmu, var, mvar, norm, mnorm, d, sd = _moments(ctx, x, ctx.params["eps"])
        y = norm * gamma + beta
        undefined = np.broadcast_to(sd == 0, norm.shape)  # 0/0: no value to expect
        return [_Check("mean", sshape, rows, mu, mmu, d), _Check("var", sshape, rows, var, mvar, d + 2),
                _Check("normalized", shape, flat, norm, mnorm, d + 4, undefined),
                _Check("result", shape, flat, y, mnorm * np.abs(gamma) + np.abs(norm * gamma) + np.abs(beta), d + 6,
                       undefined)]


def _v_rmsnorm(ctx):
    x, gamma, D, rows, shape, sshape, flat = _normalized_rows(ctx)
    eps = ctx.params["eps"]
    tiny = float(np.finfo(ctx.dtype).tiny)
    with np.errstate(invalid="ignore", over="ignore", divide="ignore"):
        ms = (x * x).mean(axis=-1, keepdims=True)
        rms = np.sqrt(ms + eps)
        norm = x / rms
        # Sums of squares do not cancel; only eps (rounded to the dtype) and underflow add to the error.
        rel = 1.0 + (eps + tiny) / np.maximum(ms + eps, tiny)
        return [_Check("ms", sshape, rows, ms, ms + tiny, D), _Check("rms", sshape, rows, rms, rms * rel, D + 2),
                _Check("normalized", shape, flat, norm, np.abs(norm) * rel, D + 4),
                _Check("result", shape, flat, norm * gamma, np.abs(norm * gamma) * rel, D + 5)]


def _v_batchnorm(ctx):
    X = ctx.inputs["X"]
    p = ctx.params
    shape = tuple(X.shape)
    C = shape[1]
    axes = (0,) + tuple(range(2, X.ndim))
    M = _prod(shape) // max(1, C)
    full = ctx.everything(4 * _prod(shape))
    chans = np.arange(C) if full else ctx.pick(C, ctx.count(M, 2))
    x = ctx.lines(X, axes, chans)  # (channels, N·L…): one channel's values per row
    # Entries of the normalized output: all of a checked channel's, or a sample of them.
    if full or not len(chans):
        pos = np.broadcast_to(np.arange(M), (len(chans), M))
    else:
        pos = np.stack([ctx.pick(M, min(M, SAMPLE_ENTRIES)) for _ in chans])
    flat = _flat(shape, axes, chans, pos).reshape(-1)

    def per_channel(name):
        return ctx.f64(ctx.inputs[name]).reshape(-1)[chans][:, None] if name in ctx.inputs else None

    gamma, beta = per_channel("gamma"), per_channel("beta")
    rm, rv = per_channel("running_mean"), per_channel("running_var")
    eps = p["eps"]
    tiny = float(np.finfo(ctx.dtype).tiny)
    checks = []
    with np.errstate(invalid="ignore", over="ignore", divide="ignore"):
        if p["training"]:
            mu, mmu, var, mvar, norm, mnorm, _d, sd = _moments(ctx, x, eps)
            checks += [_Check("mean", (C,), chans, mu, mmu, M), _Check("var", (C,), chans, var, mvar, M + 2)]
            if rm is not None and rv is not None:
                mom = p["momentum"]
                unbiased = M / max(1, M - 1)
                checks += [_Check("new_running_mean", (C,), chans, (1 - mom) * rm + mom * mu,
                                  np.abs((1 - mom) * rm) + mom * mmu, M + 3),
                           _Check("new_running_var", (C,), chans, (1 - mom) * rv + mom * var * unbiased,
                                  np.abs((1 - mom) * rv) + mom * mvar * unbiased, M + 5)]
        else:
            mu, var = rm, rv
            sd = np.sqrt(var + eps)
            norm = (x - mu) / sd
            mnorm = (np.abs(x) + np.abs(mu) + np.abs(x - mu)) / sd + np.abs(norm) * (
                1.0 + (np.abs(var) + eps + tiny) / np.abs(var + eps))
            checks += [_Check("mean", (C,), chans, mu, np.abs(mu), 1), _Check("var", (C,), chans, var, np.abs(var), 1)]
        g = gamma if gamma is not None else 1.0
        b = beta if beta is not None else 0.0
        y = norm * g + b
        my = mnorm * np.abs(g) + np.abs(norm * g) + np.abs(b)
        def at(a):
            return np.take_along_axis(np.broadcast_to(a, norm.shape), pos, axis=1)

        undefined = at(np.broadcast_to(sd == 0, norm.shape))
        checks += [_Check("normalized", shape, flat, at(norm), at(mnorm), M + 4, undefined),
                   _Check("result", shape, flat, at(y), at(my), M + 6, undefined)]
    return checks


# --- attention ------------------------------------------------------------------------------------
def _keep(ctx, sshape, bidx, heads, qrows, lk):
    """Boolean (H, R, Lk) keep-mask of query ``qrows`` of batch entry ``bidx`` for ``heads`` (an
    index of the axis before the queries, or None when the scores have no such axis), or None.

    Causal keeps keys 0..i for query i; a padding mask keeps the first ``length`` keys, one length
    per entry of the scores' first axis (or one for all); a boolean input mask keeps where True.
    """
    spec = ctx.params.get("mask")
    mask = ctx.inputs.get("mask")
    hidx = np.arange(1) if heads is None else heads
    keep = np.ones((len(hidx), len(qrows), lk), dtype=bool)
    j = np.arange(lk)
    if spec == "causal":
        keep &= j[None, None, :] <= np.asarray(qrows)[None, :, None]
    elif isinstance(spec, tuple):
        lengths = np.broadcast_to(np.asarray(spec, dtype=np.int64), (sshape[0] if len(sshape) > 2 else 1,))
        lead = (tuple(bidx) + (() if heads is None else (None,)))  # the first axis of the scores
        if len(sshape) <= 2:
            keep &= j[None, None, :] < lengths[0]
        elif lead and lead[0] is not None:
            keep &= j[None, None, :] < lengths[lead[0]]
        else:  # no batch axes: the first axis of the scores is the heads'
            keep &= j[None, None, :] < lengths[hidx][:, None, None]
    if mask is not None and mask.dtype == bool:
        keep &= _mask_rows(ctx, mask, sshape, bidx, heads, qrows).astype(bool)
    return keep


def _mask_rows(ctx, mask, sshape, bidx, heads, qrows):
    """The input mask broadcast to the scores, at (heads, qrows) of batch entry ``bidx``: (H, R, Lk)."""
    full = _bview(mask, sshape)
    if heads is None:
        part = _take(full, tuple(int(i) for i in bidx) + (np.asarray(qrows), slice(None)))[None]
    else:
        part = _take(full, tuple(int(i) for i in bidx) + (np.asarray(heads)[:, None], np.asarray(qrows)[None, :],
                                                           slice(None)))
    return ctx.f64(part)


def _attend(ctx, s, ms, sshape, bidx, heads, qrows, v, mv):
    """Masked softmax of scaled scores ``s`` (H, R, Lk) and the weighted sum of ``v`` (H, Lk, dv)
    with error magnitudes (``ms``, ``mv``): ``(masked, mmasked, weights, mweights, out, mout)``."""
    lk = s.shape[-1]
    keep = _keep(ctx, sshape, bidx, heads, qrows, lk)
    mask = ctx.inputs.get("mask")
    masked = np.where(keep, s, -np.inf)
    mmasked = np.where(keep, ms, 0.0)
    if mask is not None and mask.dtype != bool:
        add = _mask_rows(ctx, mask, sshape, bidx, heads, qrows)
        masked = masked + add
        mmasked = mmasked + np.where(np.isfinite(add), np.abs(add), 0.0)
    fully = np.all(masked == -np.inf, axis=-1, keepdims=True)  # no key left: weights 0, output 0
    m = np.where(fully, 0.0, masked.max(axis=-1, keepdims=True))
    shifted = masked - m
    e = np.exp(shifted)
    s_ = np.where(fully, 1.0, e.sum(axis=-1, keepdims=True))
    w = e / s_
    cond = np.where(np.isfinite(masked), 1.0 + np.abs(masked) + np.abs(shifted) + mmasked, 0.0)
    mw, _ = _weighted(w, cond, e, s_)
    out = np.einsum("hrk,hkd->hrd", w, v)
    # First order: the weights' errors times |v|, v's errors times the weights, and the sum's own rounding.
    mout = np.einsum("hrk,hkd->hrd", w + mw, np.abs(v)) + np.einsum("hrk,hkd->hrd", w, mv)
    return masked, mmasked, w, mw, out, mout


def _query_plan(ctx, batch, lq, per_batch_work, per_row_work, full):
    """[(batch index tuple, query rows)]: every one, or a few batch entries with a few rows each."""
    nb = _prod(batch)
    if full:
        bs = range(nb)
        rows = np.arange(lq)
    else:
        bs = ctx.pick(nb, ctx.count(per_batch_work, 3))
        rows = None
    plan = []
    for b in bs:
        r = rows if rows is not None else ctx.pick(lq, ctx.count(per_row_work, max(2, SAMPLE_ROWS // len(bs))))
        plan.append((tuple(int(i) for i in np.unravel_index(int(b), batch)) if batch else (), r))
    return plan


class _Acc:
    """Collects the reference entries of one output over several (batch, rows) blocks."""

    def __init__(self, name, shape, terms):
        self.name, self.shape, self.terms = name, tuple(shape), terms
        self.flat, self.ref, self.mag = [], [], []

    def add(self, index_arrays, ref, mag):
        idx = np.broadcast_arrays(*[np.asarray(i, dtype=np.int64) for i in index_arrays])
        self.flat.append(np.ravel_multi_index(idx, self.shape).reshape(-1) if self.shape else np.zeros(1, np.int64))
        self.ref.append(np.broadcast_to(ref, idx[0].shape).reshape(-1))
        self.mag.append(np.broadcast_to(mag, idx[0].shape).reshape(-1))

    def check(self) -> _Check:
        def cat(xs):
            return np.concatenate(xs) if xs else np.zeros(0)

        return _Check(self.name, self.shape, cat(self.flat).astype(np.int64), cat(self.ref), cat(self.mag),
                      self.terms)


def _bsub(shape_batch, bidx):
    """The index into an operand's own batch axes for broadcast batch index ``bidx`` (size-1 axes: 0)."""
    own = bidx[len(bidx) - len(shape_batch):] if shape_batch else ()
    return tuple(0 if s == 1 else int(i) for s, i in zip(shape_batch, own))


def _v_attention(ctx):
    Q, K, V = ctx.inputs["Q"], ctx.inputs["K"], ctx.inputs["V"]
    batch = tuple(np.broadcast_shapes(tuple(Q.shape[:-2]), tuple(K.shape[:-2]), tuple(V.shape[:-2])))
    lq, d, lk, dv = Q.shape[-2], Q.shape[-1], K.shape[-2], V.shape[-1]
    sshape, oshape = batch + (lq, lk), batch + (lq, dv)
    scale = ctx.params["scale"]
    full = ctx.everything(_prod(sshape) * (d + dv + 16))
    plan = _query_plan(ctx, batch, lq, lk * (d + dv), lk * (d + dv), full)
    accs = {n: _Acc(n, sshape, t) for n, t in (("scores", d), ("scaled", d + 1), ("masked", d + 2),
                                                 ("weights", d + lk + 6))}
    accs["result"] = _Acc("result", oshape, d + 2 * lk + 6)
    for bidx, rows in plan:
        q = ctx.f64(_take(Q, _bsub(Q.shape[:-2], bidx) + (rows, slice(None))))  # (R, d)
        k = ctx.f64(_take(K, _bsub(K.shape[:-2], bidx) + (Ellipsis,)))  # (Lk, d)
        v = ctx.f64(_take(V, _bsub(V.shape[:-2], bidx) + (Ellipsis,)))  # (Lk, dv)
        with np.errstate(invalid="ignore", over="ignore", divide="ignore"):
            s = np.einsum("rd,kd->rk", q, k)[None]
            ms = np.einsum("rd,kd->rk", np.abs(q), np.abs(k))[None]
            scaled, mscaled = s * scale, ms * abs(scale)
            masked, mmasked, w, mw, out, mout = _attend(ctx, scaled, mscaled, sshape, bidx, None, rows,
                                                         v[None], np.zeros_like(v)[None])
        b = [np.full((1, 1), i) for i in bidx]
        ri, kj, oj = rows[:, None], np.arange(lk)[None, :], np.arange(dv)[None, :]
        accs["scores"].add(b + [ri, kj], s[0], ms[0])
        accs["scaled"].add(b + [ri, kj], scaled[0], mscaled[0])
        accs["masked"].add(b + [ri, kj], masked[0], mmasked[0])
        accs["weights"].add(b + [ri, kj], w[0], mw[0])
        accs["result"].add(b + [ri, oj], out[0], mout[0])
    return [a.check() for a in accs.values()]


def _v_mha(ctx):
    inp = ctx.inputs
    h = ctx.params["num_heads"]
    if "X" in inp:
        xq = xk = xv = inp["X"]
    else:
        xq = inp["query"]
        xk = inp.get("key", xq)
        xv = inp.get("value", xk)
    d, dv, dout = inp["W_q"].shape[1], inp["W_v"].shape[1], inp["W_o"].shape[1]
    dh, dvh = d // h, dv // h
    batch = tuple(np.broadcast_shapes(tuple(xq.shape[:-2]), tuple(xk.shape[:-2]), tuple(xv.shape[:-2])))
    lq, lk = xq.shape[-2], xk.shape[-2]
    sshape = batch + (h, lq, lk)
    shapes = {"Q": tuple(xq.shape[:-1]) + (d,), "K": tuple(xk.shape[:-1]) + (d,), "V": tuple(xv.shape[:-1]) + (dv,),
              "scores": sshape, "weights": sshape, "heads": batch + (h, lq, dvh), "concat": batch + (lq, dv),
              "result": batch + (lq, dout)}
    din = max(xq.shape[-1], xk.shape[-1], xv.shape[-1])
    per_batch = lk * din * (d + dv) + h * lq * lk * (dh + dvh)
    full = ctx.everything(_prod(batch) * (per_batch + lq * din * d + lq * dv * dout))
    plan = _query_plan(ctx, batch, lq, per_batch, din * d + lk * (d + dv) + dv * dout, full)
    W = {n: ctx.f64(inp[n]) for n in ("W_q", "W_k", "W_v", "W_o")}
    bias = {n: ctx.f64(inp[n]) if n in inp else 0.0 for n in ("b_q", "b_k", "b_v", "b_o")}
    scale = 1.0 / math.sqrt(dh) if dh else 1.0
    tq = xq.shape[-1] + 1
    tk = xk.shape[-1] + 1
    accs = {"Q": _Acc("Q", shapes["Q"], tq), "K": _Acc("K", shapes["K"], tk),
            "V": _Acc("V", shapes["V"], xv.shape[-1] + 1), "scores": _Acc("scores", sshape, tq + tk + dh + 1),
            "weights": _Acc("weights", sshape, tq + tk + dh + lk + 6)}
    tw = tq + tk + dh + 2 * lk + xv.shape[-1] + 7
    accs["heads"] = _Acc("heads", shapes["heads"], tw)
    accs["concat"] = _Acc("concat", shapes["concat"], tw)
    accs["result"] = _Acc("result", shapes["result"], tw + dv + 1)
    seen_kv = set()

    def project(x, w, b):
        with np.errstate(invalid="ignore", over="ignore"):
            return x @ w + b, np.abs(x) @ np.abs(w) + np.abs(b)

    for bidx, rows in plan:
        bq, bk, bv = _bsub(xq.shape[:-2], bidx), _bsub(xk.shape[:-2], bidx), _bsub(xv.shape[:-2], bidx)
        q, mq = project(ctx.f64(_take(xq, bq + (rows, slice(None)))), W["W_q"], bias["b_q"])  # (R, d)
        k, mk = project(ctx.f64(_take(xk, bk + (Ellipsis,))), W["W_k"], bias["b_k"])  # (Lk, d)
        v, mv = project(ctx.f64(_take(xv, bv + (Ellipsis,))), W["W_v"], bias["b_v"])  # (Lk, dv)
        accs["Q"].add([np.full((1, 1), i) for i in bq] + [rows[:, None], np.arange(d)[None, :]], q, mq)
        if (bk, bv) not in seen_kv:  # every key is projected for the softmax; a few of them are compared
            seen_kv.add((bk, bv))
            kr = np.arange(lk) if full else ctx.pick(lk, SAMPLE_ROWS)
            accs["K"].add([np.full((1, 1), i) for i in bk] + [kr[:, None], np.arange(d)[None, :]], k[kr], mk[kr])
            accs["V"].add([np.full((1, 1), i) for i in bv] + [kr[:, None], np.arange(dv)[None, :]], v[kr], mv[kr])
        # Heads are column blocks: head j takes columns j·dh … (j+1)·dh − 1.
        qh, mqh = q.reshape(-1, h, dh).transpose(1, 0, 2), mq.reshape(-1, h, dh).transpose(1, 0, 2)
        kh, mkh = k.reshape(lk, h, dh).transpose(1, 0, 2), mk.reshape(lk, h, dh).transpose(1, 0, 2)
        vh, mvh = v.reshape(lk, h, dvh).transpose(1, 0, 2), mv.reshape(lk, h, dvh).transpose(1, 0, 2)
        with np.errstate(invalid="ignore", over="ignore", divide="ignore"):
            s = np.einsum("hrd,hkd->hrk", qh, kh) * scale
            aq, ak = np.abs(qh), np.abs(kh)
            ms = (np.einsum("hrd,hkd->hrk", aq + mqh, ak) + np.einsum("hrd,hkd->hrk", aq, mkh)) * scale
            _masked, _mm, w, mw, out, mout = _attend(ctx, s, ms, sshape, bidx, np.arange(h), rows, vh, mvh)
            concat = out.transpose(1, 0, 2).reshape(len(rows), dv)
            mconcat = mout.transpose(1, 0, 2).reshape(len(rows), dv)
            res = concat @ W["W_o"] + bias["b_o"]
            mres = (np.abs(concat) + mconcat) @ np.abs(W["W_o"]) + np.abs(bias["b_o"])
        b = [np.full((1, 1, 1), i) for i in bidx]
        hh, ri = np.arange(h)[:, None, None], rows[None, :, None]
        accs["scores"].add(b + [hh, ri, np.arange(lk)[None, None, :]], s, ms)
        accs["weights"].add(b + [hh, ri, np.arange(lk)[None, None, :]], w, mw)
        accs["heads"].add(b + [hh, ri, np.arange(dvh)[None, None, :]], out, mout)
        b2 = [np.full((1, 1), i) for i in bidx]
        accs["concat"].add(b2 + [rows[:, None], np.arange(dv)[None, :]], concat, mconcat)
        accs["result"].add(b2 + [rows[:, None], np.arange(dout)[None, :]], res, mres)
    return [a.check() for a in accs.values()]


_CHECKS: dict[str, Callable[[_Ctx], list[_Check]]] = {
    "matmul": _v_matmul, "matvec": _v_matvec, "outer": _v_outer, "linear": _v_linear, "dot": _v_dot,
    "cosine": _v_cosine,
    "hadamard": _v_broadcasting(lambda a, b: a * b, lambda a, b: np.abs(a * b)),
    "add": _v_broadcasting(lambda a, b: a + b, lambda a, b: np.abs(a) + np.abs(b)),
    "sum": _v_sum, "mean": _v_mean, "max": _v_max, "norm": _v_norm, "cumsum": _v_cumsum,
    "softmax": _v_softmax, "layernorm": _v_layernorm, "rmsnorm": _v_rmsnorm, "batchnorm": _v_batchnorm,
    "attention": _v_attention, "mha": _v_mha,
}


def checked_operations() -> tuple[str, ...]:
    """The operations :func:`verify_run` has a reference for."""
    return tuple(_CHECKS)


# --- comparing ------------------------------------------------------------------------------------
def _values(out, flat) -> np.ndarray:
    """Entries ``flat`` of ``out`` (all when None) as host float64, fetched where ``out`` lives."""
    shape = tuple(out.shape)
    if flat is not None and len(flat) == _prod(shape) and len(flat) and flat[0] == 0 and np.all(np.diff(flat) == 1):
        flat = None  # every entry in order: one copy, no gather
    if flat is None:
        return np.asarray(to_host(out)).astype(np.float64).reshape(-1)
    if not shape:
        return np.full(len(flat), float(to_host(out)))
    return np.asarray(_take(out, tuple(np.unravel_index(flat, shape)))).astype(np.float64).reshape(-1)


def _sci(x: float) -> str:
    """``3e-7`` style: one significant digit, no zero-padded exponent."""
    x = float(x)
    if x == 0:
        return "0"
    if not math.isfinite(x):
        return str(x)
    mant, exp = f"{x:.0e}".split("e")
    return f"{mant}e{int(exp)}"


def _distinct(got: float, expected: float) -> tuple[str, str]:
    """Both numbers with the fewest significant digits (at least 3) that tell them apart."""
    for p in range(3, 18):
        a, b = f"{got:.{p}g}", f"{expected:.{p}g}"
        if a != b:
            return a, b
    return f"{got:.17g}", f"{expected:.17g}"


def _label(name: str, index) -> str:
    return f"{name}[{', '.join(str(int(i)) for i in index)}]" if len(index) else name


def _normalize(spec, inputs: Mapping, params: Mapping):
    """Inputs without the left-out ones, and the params with defaults filled in and parsed the way
    the run parsed them (spelling, not arithmetic: a mask array given as a keyword moves to the inputs)."""
    arrays = {k: v for k, v in inputs.items() if v is not None}
    params = dict(params or {})
    if "mask" in spec.input_names and isinstance(params.get("mask"), np.ndarray):
        m = params["mask"]
        if m.dtype == bool or m.dtype.kind == "f" or m.ndim >= 2:
            arrays["mask"] = params.pop("mask")
    if hasattr(spec, "validate_params"):  # kinds checked and defaults filled, as prepare() does
        full = spec.validate_params(params)
    else:
        full = {p.name: p.default for p in spec.params}
        full.update({k: v for k, v in params.items() if k in full})
    arrays = {k: (a if hasattr(a, "shape") and hasattr(a, "dtype") else np.asarray(a)) for k, a in arrays.items()}
    return arrays, spec.check({k: tuple(a.shape) for k, a in arrays.items()}, full)


def verify_run(op_name: str, inputs: Mapping[str, object], params: Mapping[str, object] | None,
               outputs: Mapping[str, object], dtype=None, *, mode: str = "auto", sample: int | None = None,
               seed: int | None = None) -> Verification:
    """Check the ``outputs`` of a run of ``op_name`` against an independent float64 reference.

    Parameters
    ----------
    op_name : str
        The operation (any of :func:`compute.operations`).
    inputs : mapping of str to array
        The run's inputs (numpy or CuPy arrays; values are rounded to ``dtype`` first, as the run did).
    params : mapping
        The run's parameters, as given or as normalized (``Timeline.params``); defaults fill the rest.
    outputs : mapping of str to array
        The run's named outputs (numpy or CuPy; ``RunResult`` or ``Timeline.run.outputs``). Outputs
        that are absent are not checked.
    dtype : dtype, optional
        The compute dtype, which sets the tolerance (default: the dtype of ``outputs["result"]``).
    mode : ``"auto"``, ``"all"`` or ``"sample"``
        Recompute every entry, a sample, or (auto) every entry when that costs at most
        :data:`FULL_WORK` terms.
    sample : int, optional
        Entries (rows, for row-wise operations) to sample instead of the defaults.
    seed : int, optional
        Seed of the sample (None: a fresh one each time, so re-runs look at other entries).

    Returns
    -------
    Verification
        ``ok``, the largest relative error, the worst entry and a status-bar message.

    Raises
    ------
    ParamError
        an unknown operation (or one without a reference), or parameters the operation refuses.
    ValueError
        an unknown ``mode``.

    Examples
    --------
    >>> import numpy as np
    >>> from opscope import compute
    >>> a, b = np.array([[1.0, 2.0], [3.0, 4.0]]), np.array([[5.0, 6.0], [7.0, 8.0]])
    >>> compute.verify_run("matmul", {"A": a, "B": b}, {}, {"result": a @ b}).message
    '✓ matches reference (max rel err 0)'
    """
    if mode not in ("auto", "all", "sample"):
        raise ValueError(f"mode must be 'auto', 'all' or 'sample', not {mode!r}")
    spec = get_spec(op_name)
    if op_name not in _CHECKS:
        from .errors import ParamError

        raise ParamError(f"verify_run: no reference for operation {op_name!r}")
    arrays, norm = _normalize(spec, inputs, params or {})
    if dtype is None:
        dtype = getattr(outputs.get("result"), "dtype", np.float64)
    dtype = np.dtype(dtype)
    if dtype.kind != "f":
        dtype = np.dtype(np.float64)
    ctx = _Ctx(arrays, norm, outputs, dtype, mode, sample, seed)
    with np.errstate(all="ignore"):
        checks = _CHECKS[op_name](ctx)
        return _compare(ctx, checks)


def _compare(ctx: _Ctx, checks: list[_Check]) -> Verification:
    dt = ctx.dtype
    fi = np.finfo(dt)
    u = float(fi.eps) / 2
    best = None  # (ratio, rel, name, index, got, expected, tol, hint)
    max_rel = 0.0
    compared = 0
    names = []
    for c in checks:
        out = ctx.outputs.get(c.name)
        if out is None:
            continue
        if tuple(out.shape) != tuple(c.shape):
            shown = "×".join(map(str, tuple(out.shape))) or "scalar"
            want = "×".join(map(str, tuple(c.shape))) or "scalar"
            return Verification(False, math.inf, None, "all", f"⚠ differs from reference: {c.name} has shape {shown}, "
                                                               f"the reference {want}", (c.name,))
        if _prod(c.shape) == 0 or (c.flat is not None and len(c.flat) == 0):
            names.append(c.name)
            continue
        got = _values(out, c.flat)
        ref = np.asarray(c.ref, dtype=np.float64).reshape(-1)
        mag = np.abs(np.asarray(c.mag, dtype=np.float64)).reshape(-1)
        terms = np.broadcast_to(np.asarray(c.terms, dtype=np.float64), np.shape(c.ref)).reshape(-1)
        ref_dt = ref.astype(dt).astype(np.float64)  # beyond the dtype's range the run can only hold ±inf
        finite = np.isfinite(got) & np.isfinite(ref)
        same = (np.isnan(got) & np.isnan(ref)) | (np.isinf(got) & (got == ref_dt))
        den = np.maximum(np.maximum(np.abs(ref), np.where(np.isfinite(mag), mag, 0.0)), float(fi.tiny))
        rel = np.where(finite, np.abs(got - ref) / den, np.where(same, 0.0, np.inf))
        if c.skip is not None:
            rel = np.where(np.broadcast_to(c.skip, np.shape(c.ref)).reshape(-1), 0.0, rel)
        tol = u * (TOL_BASE + TOL_GROWTH * np.sqrt(np.maximum(terms, 1.0)))
        ratio = rel / tol
        i = int(np.argmax(ratio))
        compared += len(got)
        names.append(c.name)
        max_rel = max(max_rel, float(rel.max()))
        if best is None or ratio[i] > best[0]:
            flat_i = int(c.flat[i]) if c.flat is not None else i
            index = tuple(int(x) for x in np.unravel_index(flat_i, tuple(c.shape))) if c.shape else ()
            hint = ""
            if not np.isfinite(got[i]) and np.isfinite(ref[i]) and max(abs(ref[i]), mag[i]) > fi.max / 2:
                hint = f" — beyond {dt.name}'s range (±{float(fi.max):g})"
            best = (float(ratio[i]), float(rel[i]), c.name, index, float(got[i]), float(ref[i]), float(tol[i]), hint)
    checked = f"sample of {compared}" if ctx.sampled else "all"
    if best is None:
        return Verification(True, 0.0, None, checked, "✓ matches reference (empty result: nothing to compare)",
                            tuple(names))
    ratio, rel, name, index, got, expected, tol, hint = best
    ok = ratio <= 1.0
    where = f" at {compared} sampled entries" if ctx.sampled else ""
    if ok:
        message = f"✓ matches reference{where} (max rel err {_sci(max_rel)})"
    else:
        g, e = _distinct(got, expected)
        err = f" (rel err {_sci(rel)})" if math.isfinite(rel) else ""
        message = f"⚠ differs from reference at {_label(name, index)}: {g} vs {e}{err}{hint}"
    return Verification(ok, max_rel, (name, index, got, expected), checked, message, tuple(names), tol, ratio)


def verify_program(tl) -> Verification | str:
    """The badge of a program's run (a :class:`~compute.program.timeline.ProgramTimeline`): every
    line checked, the worst reported.

    A line that streams a registered operation is checked by :func:`verify_run` against that
    operation's reference; any other line (``scores / sqrt(d_k)``, ``relu(h @ W1 + c1)``) is
    recomputed in float64 from its operands as the program computed them
    (:mod:`compute.program.reference`, written independently of the program's evaluator), with
    tolerances from the same magnitudes and term counts. Lines holding a nested operation call,
    or too large to recompute (:data:`~compute.program.reference.MAX_LINE_WORK`), are left out,
    and the message says how many. Returns a :class:`Verification`, or a ``str`` when no line
    could be checked.
    """
    import dataclasses
    import types

    from .program.reference import MAX_LINE_WORK, LineReference, NoReference, line_work
    from .program.shapes import analyze

    env = {**tl.inputs(), **tl.result()}
    analysis = analyze(tl.program, {n: np.shape(a) for n, a in tl.inputs().items()})
    by_name = {ln.name: ln for ln in tl.program.lines}
    verdicts, unchecked = [], 0
    for part in tl.lines:
        if part.op is not None:
            sub, run = part.timeline, part.timeline.run
            verdicts.append(verify_run(part.op, run.inputs, sub.params, run.outputs, sub.dtype("result")))
            continue
        line = by_name[part.name]
        if line_work(line.expr, analysis.shapes) > MAX_LINE_WORK:
            unchecked += 1
            continue
        dtype = np.dtype(tl.dtype(part.name))
        if dtype.kind != "f":
            dtype = np.dtype(np.float64)
        try:
            ref = LineReference(env, analysis.builtins, dtype)(line.expr)
        except NoReference:
            unchecked += 1
            continue
        got = np.asarray(env[part.name])
        shape = tuple(got.shape)
        if ref.value.shape != shape:
            verdicts.append(Verification(False, math.inf, None, "all", f"⚠ differs from reference: {part.name} has "
                                         f"shape {shape}, the reference {ref.value.shape}", (part.name,)))
            continue
        check = _Check(part.name, shape, None, ref.value, np.broadcast_to(ref.mag, shape),
                       np.broadcast_to(ref.terms, shape))
        ctx = types.SimpleNamespace(outputs={part.name: got}, dtype=dtype, sampled=False)
        with np.errstate(all="ignore"):
            verdicts.append(_compare(ctx, [check]))
    if not verdicts:
        return "not verified: no line of this program could be recomputed independently"
    worst = max(verdicts, key=lambda v: (not v.ok, v.ratio))
    ok = all(v.ok for v in verdicts)
    rest = f"; {unchecked} line{'s' if unchecked != 1 else ''} not checked" if unchecked else ""
    head = f"{len(verdicts)} of {len(tl.lines)} lines checked"
    return dataclasses.replace(worst, ok=ok, message=f"{worst.message} ({head}{rest})")
