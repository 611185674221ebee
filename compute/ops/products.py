"""Products: dot, cosine, matvec, outer, linear and matmul (numpy semantics, batch broadcasting)."""

from __future__ import annotations

import bisect
import math

import numpy as np

from ..errors import ShapeError
from ..numbers import fmt_list, fmt_shape, fmt_sum_of_products, num, term
from ..plans import FULL, ConcatPlan, FuncPlan, GridPlan, Stage, StagePlan
from ..registry import Input, OpSpec, Param, register
from ..shapes import aligned, broadcast_shapes, normalize_axis
from ..step import Region, StepContent
from .contraction import Contraction, Layout, contraction_plan

ALL = ("element", "tile", "kblock", "stage")


def _prod(shape) -> int:
    """Number of elements, in Python ints: np.prod in int64 wraps around for huge broadcast shapes,
    which would let an impossible run through the budget."""
    return math.prod(int(s) for s in shape)


def _batch(op: str, sa, sb, na: str, nb: str) -> tuple[int, ...]:
    try:
        return broadcast_shapes(op, sa, sb, na, nb)
    except ShapeError as exc:
        raise ShapeError(str(exc).replace("do not broadcast", "have batch axes that do not broadcast")) from None


# --- matmul -----------------------------------------------------------------------------------
def _matmul_shapes(shapes):
    sa, sb = shapes["A"], shapes["B"]
    if len(sa) == 0 or len(sb) == 0:
        which = "A" if len(sa) == 0 else "B"
        raise ShapeError(f"matmul: {which} is a scalar {fmt_shape(shapes[which])}; matmul needs at least 1-D operands. "
                         f"Use hadamard for scalar × matrix.")
    ka = sa[-1]
    kb = sb[-2] if len(sb) >= 2 else sb[-1]
    if ka != kb:
        b_axis = "second-to-last" if len(sb) >= 2 else "length"
        hint = ""
        if len(sb) >= 2 and sb[-1] == ka:
            hint = " Did you mean B.T?"
        elif len(sa) >= 2 and sa[-2] == kb:
            hint = " Did you mean A.T?"
        raise ShapeError(f"matmul: A {fmt_shape(sa)} @ B {fmt_shape(sb)}: A's last axis ({ka}) must equal B's "
                         f"{b_axis} ({kb}). Rule: (…, m, k) @ (…, k, n) → (…, m, n).{hint}")
    batch = _batch("matmul", sa[:-2], sb[:-2], "A batch", "B batch")
    out = batch + ((sa[-2],) if len(sa) >= 2 else ()) + ((sb[-1],) if len(sb) >= 2 else ())
    return batch, out


def _matmul_check(shapes, params):
    _matmul_shapes(shapes)
    return params


def _matmul_estimate(shapes, itemsize, params):
    _batch, out = _matmul_shapes(shapes)
    return {"result": _prod(out) * itemsize}


def _matmul_compute(xp, inp, params):
    return {"result": xp.matmul(inp["A"], inp["B"])}


def _matmul_flops(shapes, params):
    _b, out = _matmul_shapes(shapes)
    return 2 * _prod(out) * shapes["A"][-1]


def _matmul_contraction(run) -> Contraction:
    A, B = run.inputs["A"], run.inputs["B"]
    sa, sb = tuple(A.shape), tuple(B.shape)
    batch, out = _matmul_shapes({"A": sa, "B": sb})
    a1, b1 = len(sa) == 1, len(sb) == 1
    la = Layout("A", sa, 0 if a1 else len(sa) - 2, ("k",) if a1 else ("r", "k"))
    lb = Layout("B", sb, 0 if b1 else len(sb) - 2, ("k",) if b1 else ("k", "c"))
    lc_letters = (() if a1 else ("r",)) + (() if b1 else ("c",))
    lc = Layout("result", out, len(batch), lc_letters)
    a_full = A[None, :] if a1 else A
    b_full = B[:, None] if b1 else B
    m = 1 if a1 else sa[-2]
    n = 1 if b1 else sb[-1]
    return Contraction(run, la, lb, lc, batch, m, sa[-1], n, a_full, b_full)


def _matmul_plan(run, granularity, options):
    con = _matmul_contraction(run)
    sa, sb = run.shape("A"), run.shape("B")
    return contraction_plan(con, granularity, options,
                            f"result {fmt_shape(run.shape('result'))} = A {fmt_shape(sa)} @ B {fmt_shape(sb)}")


def _round_up(x: int, multiple: int) -> int:
    return -(-x // multiple) * multiple


def _matmul_panel(a, b, out) -> None:
    """One panel of a progressive matmul: rows of A times B, written in place (BLAS, no GIL)."""
    np.matmul(a, b, out=out)


#: Multiply-adds ×2 of one call of a progressive matmul task at most (≈ 0.2 s on one core here: a
#: cancel waits that long; 8192² float32 takes 0.20–0.21 s to stop). Smaller blocks cost a sum
#: into the task's output per block.
TASK_FLOPS = 36 * 10**9


def _matmul_progressive(inputs, params, granularity):
    """The :class:`~compute.progressive.Panels` of a matmul: independent tasks, run by a pool.

    Rows of the output seen as (batch…·m, n) are the display rows. Batch entry 0's first row
    band (the height of the plan's first tile row) is computed in column pieces, so the first
    tile exists after about 1/256 of the work; every other row comes in panels of
    :data:`~compute.progressive.PANEL_ROWS` rows, one task per column piece (one per thread).
    1-D operands (a vector-matrix product is one BLAS call, not worth panels) and
    empty outputs return None: computed eagerly. float64 panels are bitwise the whole product's;
    for float32, OpenBLAS's sgemm rounds a panel in the last bit differently from the whole
    product (measured: ~3% of elements, ≤ 1 ulp).
    """
    from ..progressive import BAND_PIECE_COLS, PANEL_ALIGN, PANEL_THREADS, Panels, row_panels

    A, B = inputs["A"], inputs["B"]
    if A.ndim < 2 or B.ndim < 2:
        return None
    batch, out_shape = _matmul_shapes({"A": A.shape, "B": B.shape})
    m, k, n = A.shape[-2], A.shape[-1], B.shape[-1]
    if _prod(out_shape) == 0:
        return None
    result = np.empty(out_shape, np.result_type(A, B))
    a_all = np.broadcast_to(A, batch + (m, k))
    b_all = np.broadcast_to(B, batch + (k, n))
    nb = len(batch)
    nbatch = _prod(batch)
    shape = {"band": 0, "piece": n, "pieces": 0, "first": [], "rest": row_panels(m)}
    # Each full-width panel is PANEL_THREADS tasks side by side, one column piece each: one-thread
    # products of the whole width on every thread at once cost 1.27–1.41× one A @ B of 8192²
    # here (each call packs all of B, and the calls fight over the cache); on column pieces of
    # 1024-row panels, 1.12–1.16×.
    split = PANEL_THREADS if n >= PANEL_THREADS * BAND_PIECE_COLS else 1
    width = _round_up(-(-n // split), PANEL_ALIGN)
    cols = [(c0, min(n, c0 + width)) for c0 in range(0, n, width)]
    split = len(cols)
    tasks: list = []

    def task(idx, r0, r1, c0, c1):
        a, b, c = a_all[idx][r0:r1], b_all[idx][:, c0:c1], result[idx][r0:r1, c0:c1]
        # A task bigger than TASK_FLOPS is summed over even blocks of k, the stop flag checked
        # between them: cancel then waits for one block, not a whole task (0.4 s for 1024 rows ×
        # 4096 columns of an 8192² product on one core). B is packed once per task either way.
        blocks = -(-2 * (r1 - r0) * (c1 - c0) * k // TASK_FLOPS)  # as few blocks as keep each in TASK_FLOPS
        kb = k if blocks <= 1 else max(256, _round_up(-(-k // blocks), 256))  # even blocks, multiples of 256

        def run(stop) -> bool:
            _matmul_panel(a[:, :kb], b[:kb], c)
            if kb >= k:
                return True
            tmp = np.empty_like(c)
            for k0 in range(kb, k, kb):
                if stop.is_set():
                    return False
                _matmul_panel(a[:, k0:k0 + kb], b[k0:k0 + kb], tmp)
                np.add(c, tmp, out=c)
            return True

        return run

    def bind(plan) -> int:
        """Tasks shaped after the plan's tiles: batch entry 0's first band in column pieces; their
        count. (Nothing here refers to the Panels: a cycle through them kept a finished run's
        result alive until the interpreter's next full collection, 1 GiB at 16 × 4096².)"""
        if isinstance(plan, GridPlan):
            th, tw = plan.tile[nb], plan.tile[nb + 1]
            band = min(m, -(-max(th, 1) // PANEL_ALIGN) * PANEL_ALIGN)
            piece = max(tw, BAND_PIECE_COLS)
            if n > piece and band < m * nbatch:
                shape["band"], shape["piece"] = band, piece
                shape["pieces"] = -(-n // piece)
                shape["first"] = row_panels(m, start=band)
        first_idx = (0,) * nb
        for p in range(shape["pieces"]):
            tasks.append(task(first_idx, 0, shape["band"], p * shape["piece"], min(n, (p + 1) * shape["piece"])))
        for bi, idx in enumerate(np.ndindex(*batch)):
            rows = shape["first"] if bi == 0 and shape["pieces"] else shape["rest"]
            tasks.extend(task(idx, r0, r1, c0, c1) for r0, r1 in rows for c0, c1 in cols)
        return len(tasks)

    def units_before(bi: int) -> int:
        """Tasks before batch entry ``bi``'s full-width panels."""
        if bi == 0:
            return shape["pieces"]
        return shape["pieces"] + split * (len(shape["first"] if shape["pieces"] else shape["rest"]) + (bi - 1) * len(
            shape["rest"]))

    def panel_count(bi: int, r1: int) -> int:
        """Full-width panels of entry ``bi`` needed to have rows below ``r1``."""
        rows = shape["first"] if bi == 0 and shape["pieces"] else shape["rest"]
        return bisect.bisect_left([b for _a, b in rows], r1) + 1 if rows and r1 > rows[0][0] else 0

    def need(plan, step: int) -> int:
        if not isinstance(plan, GridPlan):  # k-blocks and the stage reveal the whole output at once
            return len(tasks)
        box = plan.box(step)
        bi = int(np.ravel_multi_index(tuple(a for a, _ in box[:nb]), batch)) if nb else 0
        r1, c1 = box[nb][1], box[nb + 1][1]
        if bi == 0 and shape["pieces"] and r1 <= shape["band"]:
            return -(-c1 // shape["piece"])
        return units_before(bi) + split * panel_count(bi, r1)

    def rows_after(k: int) -> int:
        """The (rows, -1) rows whole after the band and ``k`` full-width panels."""
        first = shape["first"] if shape["pieces"] else shape["rest"]
        if k <= len(first):
            return first[k - 1][1] if k else shape["band"]
        entries, extra = divmod(k - len(first), len(shape["rest"]))
        return (1 + entries) * m + (shape["rest"][extra - 1][1] if extra else 0)

    def final(front: int) -> tuple:
        """The staircase at ``front`` tasks: the band's pieces so far, then whole panels, then the
        column pieces of the next panel done so far."""
        pieces = shape["pieces"]
        if front <= pieces:
            return ((shape["band"], min(n, front * shape["piece"])),) if front else ((0, None),)
        panels, extra = divmod(front - pieces, split)
        whole = ((rows_after(panels), None),)
        return whole + ((rows_after(panels + 1), cols[extra - 1][1]),) if extra else whole

    return Panels({"result": result}, nbatch * len(shape["rest"]), None, need, tasks=tasks, bind=bind,
                  rows=nbatch * m, final=final)


register(OpSpec(
    name="matmul", group="Products",
    strip_roles=("A", "B"),
    doc="Matrix product A @ B with numpy semantics: 1-D promotion and broadcast batch axes.",
    inputs=(Input("A", "(…, m, k) or (k,)"), Input("B", "(…, k, n) or (k,)")),
    params=(), outputs=("result",), granularities=ALL,
    check=_matmul_check, estimate=_matmul_estimate, compute=_matmul_compute, plan=_matmul_plan,
    flops=_matmul_flops,
    example=lambda: {"A": np.array([[1.0, 2.0], [3.0, 4.0]]), "B": np.array([[5.0, 6.0], [7.0, 8.0]])},
    extra={"order": 5, "progressive": _matmul_progressive},
))


# --- dot ----------------------------------------------------------------------------------------
def _dot_shapes(shapes):
    sa, sb = shapes["a"], shapes["b"]
    if len(sa) == 0 or len(sb) == 0:
        raise ShapeError(f"dot: a {fmt_shape(sa)} · b {fmt_shape(sb)}: both must be vectors (at least 1-D).")
    if sa[-1] != sb[-1]:
        raise ShapeError(f"dot: a {fmt_shape(sa)} · b {fmt_shape(sb)}: the last axes must have the same length "
                         f"({sa[-1]} vs {sb[-1]}). Rule: a·b = Σ_k a[k]·b[k] pairs entries one to one.")
    batch = _batch("dot", sa[:-1], sb[:-1], "a batch", "b batch")
    return batch, sa[-1]


def _dot_compute(xp, inp, params):
    a, b = inp["a"], inp["b"]
    products = xp.multiply(a, b)
    return {"products": products, "result": products.sum(axis=-1)}


def _dot_contraction(run) -> Contraction:
    a, b = run.inputs["a"], run.inputs["b"]
    batch, k = _dot_shapes({"a": a.shape, "b": b.shape})
    la = Layout("a", tuple(a.shape), a.ndim - 1, ("k",))
    lb = Layout("b", tuple(b.shape), b.ndim - 1, ("k",))
    lc = Layout("result", batch, len(batch), ())
    return Contraction(run, la, lb, lc, batch, 1, k, 1, a[..., None, :], b[..., :, None])


def _dot_products_text(run) -> str:
    """``"= [1×4, 2×5, 3×6] = [4, 10, 18]"`` for one short pair of vectors, else ``""``.

    Only the first few entries are indexed: a caption never copies a large operand."""
    sa, sb = run.shape("a"), run.shape("b")
    if sa != sb or _prod(sa) > 8:
        return ""
    a, b, p = run.host("a").reshape(-1), run.host("b").reshape(-1), run.host("products").reshape(-1)
    return " = [" + ", ".join(f"{term(x)}×{term(y)}" for x, y in zip(a, b)) + "] = " + fmt_list(p, limit=8)


def _with_products(run, inner):
    """The k-block steps of a dot product, each also writing the products of its block of k: the
    products appear term by term as the sum takes them in, never all at the first step."""
    kb = inner.options["kblock"]
    k = run.shape("products")[-1]
    lead = tuple((0, s) for s in run.shape("products")[:-1])

    def step(n):
        c = inner.step(n)
        box = lead + ((min(k, n * kb), min(k, (n + 1) * kb)),)
        return StepContent(c.stage, c.caption, c.tensors, c.regions + (Region("products", "write", box),))

    def state(name, n):
        if name != "products":
            return inner.tensor_at(name, n)
        if n >= len(inner) - 1:
            return FULL
        xp = run.xp
        return xp.where(xp.arange(k) < min(k, (n + 1) * kb), run.tensor("products"), xp.nan)

    plan = FuncPlan(len(inner), step, state, inner.writes + ("products",))
    plan.options = inner.options
    return plan


def _dot_plan(run, granularity, options):
    con = _dot_contraction(run)
    products = _dot_products_text(run)
    if granularity == "stage":
        r = run.host("result")
        total = "result = Σ products"
        if r.size == 1:
            ps = run.shape("products")
            p = run.host("products", (0,) * (len(ps) - 1) + (slice(0, 6),)).reshape(-1)  # a few terms only
            total += " = " + " + ".join(term(v) for v in p) + (f" + … ({ps[-1]} terms)" if ps[-1] > 6 else "")
            total += f" = {num(r.reshape(-1)[0])}"
        return StagePlan(run, [Stage("products", ("products",), ("a", "b"), "products = a ⊙ b" + products,
                                     ("products",)),
                               Stage("sum", ("result",), ("products",), total)])
    plan = contraction_plan(con, granularity, options, "")
    if granularity == "kblock":  # one step per term: the caption walks through the products
        return _with_products(run, plan)
    # Element and tile steps show the products whole first, then each output's sum.
    first = StagePlan(run, [Stage("products", ("products",), ("a", "b"),
                                  "products = a ⊙ b (each pair multiplied)" + products, ("products",))])
    out = ConcatPlan([first, plan])
    out.options = getattr(plan, "options", {})
    return out


register(OpSpec(
    name="dot", group="Products",
    strip_roles=("a", "b"),
    doc="Dot product a·b = Σ_k a[k]·b[k] (over the last axis; leading axes broadcast).",
    inputs=(Input("a", "(…, k)"), Input("b", "(…, k)")),
    params=(), outputs=("products", "result"), granularities=ALL,
    check=lambda s, p: (_dot_shapes(s), p)[1],
    estimate=lambda s, i, p: {"products": _prod(_dot_shapes(s)[0]) * _dot_shapes(s)[1] * i},
    compute=_dot_compute, plan=_dot_plan,
    flops=lambda s, p: 2 * _prod(_dot_shapes(s)[0]) * _dot_shapes(s)[1],
    example=lambda: {"a": np.array([1.0, 2.0, 3.0]), "b": np.array([4.0, 5.0, 6.0])},
    extra={"order": 1, "prefer": ("kblock", "element", "tile")},
))


# --- cosine -------------------------------------------------------------------------------------
COSINE_EPS = 1e-8


def _cosine_check(shapes, params):
    sa, sb = shapes["a"], shapes["b"]
    out = broadcast_shapes("cosine", sa, sb, "a", "b")
    if not out:
        raise ShapeError(f"cosine: a {fmt_shape(sa)} and b {fmt_shape(sb)} are scalars; cosine needs vectors.")
    (axis,) = normalize_axis("cosine", params.get("axis", -1), len(out), "a ⊙ b")
    return {**params, "axis": axis - len(out)}


def _cosine_compute(xp, inp, params):
    ax = params["axis"]
    # numpy semantics: a and b broadcast to one shape first, then each line along ``axis`` of that
    # shape is a vector. The norms must be of the broadcast vectors: b = [1.] against a = [1, 2, 3]
    # is the vector [1, 1, 1] (norm √3), not [1] (norm 1). ``axis`` indexes the broadcast shape, so
    # it may be an axis that one operand lacks (a (3,) against b (2, 3), axis 0). Views, no copies.
    shape = broadcast_shapes("cosine", inp["a"].shape, inp["b"].shape, "a", "b")
    a, b = xp.broadcast_to(inp["a"], shape), xp.broadcast_to(inp["b"], shape)
    dot = (a * b).sum(axis=ax)
    na = xp.sqrt((a * a).sum(axis=ax))
    nb = xp.sqrt((b * b).sum(axis=ax))
    # torch's convention: a zero vector has cosine 0, not NaN (|a||b| is clamped at eps). In float16
    # eps (1e-8) rounds to 0, giving 0/0 = NaN, and |a||b| overflows past 65504: the division is done
    # in float32 there (output-sized arrays only), then rounded back.
    wide = dot.dtype.itemsize < 4
    up = (lambda t: t.astype(xp.float32)) if wide else (lambda t: t)
    result = up(dot) / xp.maximum(up(na) * up(nb), COSINE_EPS)
    if wide:
        result = result.astype(dot.dtype)
    return {"dot": dot, "norm_a": na, "norm_b": nb, "result": result}


def _cosine_plan(run, granularity, options):
    r = run.host("result")
    d, na, nb = run.host("dot"), run.host("norm_a"), run.host("norm_b")
    one = r.size == 1
    v = (lambda x: " = " + num(x.reshape(-1)[0])) if one else (lambda x: "")
    dot_terms = norm_a = norm_b = ""
    if one and len(run.shape("a")) == 1 and run.shape("a") == run.shape("b"):
        # One pair of plain vectors: every term written out (the first few of a long vector).
        k = run.shape("a")[0]
        a, b = run.host("a", slice(0, 6)), run.host("b", slice(0, 6))
        more = f" + … ({k} terms)" if k > 6 else ""
        dot_terms = " = " + fmt_sum_of_products(a, b) + more
        norm_a = " = √(" + " + ".join(f"{term(x)}²" for x in a) + more + ")"
        norm_b = " = √(" + " + ".join(f"{term(x)}²" for x in b) + more + ")"
    ratio = ""
    if one:
        ratio = f" = {term(d.reshape(-1)[0])} / ({num(na.reshape(-1)[0])} × {num(nb.reshape(-1)[0])})"
    stages = [
        Stage("dot", ("dot",), ("a", "b"), "a·b = Σ a_k b_k" + dot_terms + v(d)),
        Stage("norms", ("norm_a", "norm_b"), ("a", "b"),
              f"‖a‖ = √Σ a_k²{norm_a}{v(na)}   ‖b‖ = √Σ b_k²{norm_b}{v(nb)}"),
        Stage("result", ("result",), ("dot", "norm_a", "norm_b"), "cos θ = a·b / (‖a‖ ‖b‖)" + ratio + v(r)
              + (" (a zero vector gives 0)" if one and float(na.reshape(-1)[0] * nb.reshape(-1)[0]) == 0 else "")),
    ]
    return StagePlan(run, stages)


register(OpSpec(
    name="cosine", group="Products",
    doc="Cosine similarity a·b / (‖a‖‖b‖) along an axis (zero vectors give 0); a and b broadcast to one "
        "shape first (numpy rules) and axis indexes that shape.",
    inputs=(Input("a"), Input("b")),
    params=(Param("axis", "int", -1, "axis of the vectors"),),
    outputs=("dot", "norm_a", "norm_b", "result"), granularities=("stage",),
    check=_cosine_check,
    estimate=lambda s, i, p: {"a*b": _prod(broadcast_shapes("cosine", s["a"], s["b"])) * i * 3},
    compute=_cosine_compute, plan=_cosine_plan,
    flops=lambda s, p: 6 * _prod(broadcast_shapes("cosine", s["a"], s["b"])),
    example=lambda: {"a": np.array([1.0, 2.0, 3.0]), "b": np.array([4.0, 5.0, 6.0])},
    extra={"order": 2},
))


# --- matvec -------------------------------------------------------------------------------------
def _matvec_shapes(shapes):
    sa, sx = shapes["A"], shapes["x"]
    if len(sa) < 2:
        raise ShapeError(f"matvec: A {fmt_shape(sa)} must be a matrix (…, m, k); for two vectors use dot.")
    if len(sx) < 1:
        raise ShapeError(f"matvec: x {fmt_shape(sx)} must be a vector (…, k).")
    if sa[-1] != sx[-1]:
        hint = " Did you mean A.T?" if sa[-2] == sx[-1] else ""
        raise ShapeError(f"matvec: A {fmt_shape(sa)} · x {fmt_shape(sx)}: A's last axis ({sa[-1]}) must equal x's "
                         f"length ({sx[-1]}). Rule: (m, k) · (k,) → (m,).{hint}")
    batch = _batch("matvec", sa[:-2], sx[:-1], "A batch", "x batch")
    return batch, batch + (sa[-2],)


def _matvec_compute(xp, inp, params):
    A, x = inp["A"], inp["x"]
    return {"result": xp.matmul(A, x[..., None])[..., 0]}


def _matvec_plan(run, granularity, options):
    A, x = run.inputs["A"], run.inputs["x"]
    batch, out = _matvec_shapes({"A": A.shape, "x": x.shape})
    con = Contraction(run, Layout("A", tuple(A.shape), A.ndim - 2, ("r", "k")),
                      Layout("x", tuple(x.shape), x.ndim - 1, ("k",)),
                      Layout("result", out, len(batch), ("r",)), batch, A.shape[-2], A.shape[-1], 1, A, x[..., None])
    return contraction_plan(con, granularity, options, f"y = A x {fmt_shape(out)}: each y[i] = A[i, :] · x")


def _matvec_example():
    theta = np.pi / 2
    return {"A": np.array([[np.cos(theta), -np.sin(theta)], [np.sin(theta), np.cos(theta)]]).round(12),
            "x": np.array([1.0, 0.5])}


register(OpSpec(
    name="matvec", group="Products",
    strip_roles=("A", "x"),
    doc="Matrix-vector product y = A x (each y[i] is row i of A dotted with x).",
    inputs=(Input("A", "(…, m, k)"), Input("x", "(…, k)")),
    params=(), outputs=("result",), granularities=ALL,
    check=lambda s, p: (_matvec_shapes(s), p)[1],
    estimate=lambda s, i, p: {"result": _prod(_matvec_shapes(s)[1]) * i},
    compute=_matvec_compute, plan=_matvec_plan,
    flops=lambda s, p: 2 * _prod(_matvec_shapes(s)[1]) * s["A"][-1],
    example=_matvec_example, extra={"order": 3},
))


# --- outer --------------------------------------------------------------------------------------
def _outer_check(shapes, params):
    for n in ("a", "b"):
        if len(shapes[n]) != 1:
            raise ShapeError(f"outer: {n} {fmt_shape(shapes[n])} must be a vector (1-D); flatten it first "
                             f"(outer(a, b)[i, j] = a[i]·b[j]).")
    return params


def _outer_plan(run, granularity, options):
    a, b = run.inputs["a"], run.inputs["b"]
    m, n = a.shape[0], b.shape[0]
    con = Contraction(run, Layout("a", (m,), 0, ("r",)), Layout("b", (n,), 0, ("c",)),
                      Layout("result", (m, n), 0, ("r", "c")), (), m, 1, n, a[:, None], b[None, :])
    return contraction_plan(con, granularity, options, f"result[i, j] = a[i]·b[j]  ({m}×{n})")


register(OpSpec(
    name="outer", group="Products",
    doc="Outer product result[i, j] = a[i]·b[j] (every pair of entries).",
    inputs=(Input("a", "(m,)"), Input("b", "(n,)")),
    params=(), outputs=("result",), granularities=("element", "tile", "stage"),
    check=_outer_check,
    estimate=lambda s, i, p: {"result": s["a"][0] * s["b"][0] * i},
    compute=lambda xp, inp, p: {"result": xp.multiply(inp["a"][:, None], inp["b"][None, :])},
    plan=_outer_plan, flops=lambda s, p: s["a"][0] * s["b"][0],
    example=lambda: {"a": np.array([1.0, 2.0, 3.0]), "b": np.array([4.0, 5.0])},
    extra={"order": 4},
))


def _index(idx) -> str:
    return "[" + ",".join(str(i) for i in idx) + "]" if idx else ""


# --- linear -------------------------------------------------------------------------------------
def _linear_shapes(shapes):
    sx, sw = shapes["X"], shapes["W"]
    if len(sw) != 2:
        raise ShapeError(f"linear: W {fmt_shape(sw)} must be a matrix (out_features, in_features).")
    if len(sx) < 1:
        raise ShapeError(f"linear: X {fmt_shape(sx)} must have at least one axis (…, in_features).")
    if sx[-1] != sw[1]:
        hint = " Did you mean W.T?" if sx[-1] == sw[0] else ""
        raise ShapeError(f"linear: X {fmt_shape(sx)} · Wᵀ with W {fmt_shape(sw)}: X's last axis ({sx[-1]}) must equal "
                         f"W's axis 1 (in_features = {sw[1]}). Rule: X @ W.T + b, W is (out, in).{hint}")
    out = sx[:-1] + (sw[0],)
    if "b" in shapes:
        sb = shapes["b"]
        if sb not in ((sw[0],), ()):
            raise ShapeError(f"linear: b {fmt_shape(sb)} must be ({sw[0]},), one bias per output feature "
                             f"(W {fmt_shape(sw)} has {sw[0]} outputs).\n" + aligned(out, sb, "XWᵀ", "b"))
    return out


def _linear_compute(xp, inp, params):
    xw = xp.matmul(inp["X"], inp["W"].T)
    b = inp.get("b")
    return {"XW": xw, "result": xw + b if b is not None else xw.copy()}


def _linear_plan(run, granularity, options):
    X, W = run.inputs["X"], run.inputs["W"]
    out = _linear_shapes({"X": X.shape, "W": W.shape})
    x1 = X.ndim == 1
    con = Contraction(run, Layout("X", tuple(X.shape), 0 if x1 else X.ndim - 2, ("k",) if x1 else ("r", "k")),
                      Layout("W", tuple(W.shape), 0, ("c", "k")),
                      Layout("XW", out, 0 if x1 else X.ndim - 2, ("c",) if x1 else ("r", "c")),
                      tuple(X.shape[:-2]), 1 if x1 else X.shape[-2], X.shape[-1], W.shape[0],
                      X[None, :] if x1 else X, W.T)
    main = contraction_plan(con, granularity, options, f"XWᵀ = X {fmt_shape(X.shape)} @ Wᵀ {fmt_shape(W.shape[::-1])}")
    has_b = "b" in run.inputs
    words = "result = XWᵀ + b (b added to every row)" if has_b else "result = XWᵀ (no bias)"
    if _prod(out) and has_b:
        first = (0,) * len(out)
        b0 = run.scalar("b", (0,) * len(run.shape("b")))
        xw = term(run.scalar("XW", first))
        words += (f": result{_index(first)} = XW{_index(first)} + b[0] = {xw} + {term(b0)} = "
                  f"{num(run.scalar('result', first))}" + (", …" if _prod(out) > 1 else ""))
    bias = Stage("bias", ("result",), ("XW", "b") if has_b else ("XW",), words)
    plan = ConcatPlan([main, StagePlan(run, [bias])])
    plan.options = getattr(main, "options", {})
    return plan


register(OpSpec(
    name="linear", group="Products",
    strip_roles=("X", "W"),
    doc="Linear layer X @ W.T + b (W is (out_features, in_features), as in torch.nn.Linear).",
    inputs=(Input("X", "(…, in)"), Input("W", "(out, in)"), Input("b", "(out,)", optional=True)),
    params=(), outputs=("XW", "result"), granularities=ALL,
    check=lambda s, p: (_linear_shapes(s), p)[1],
    estimate=lambda s, i, p: {"XW": _prod(_linear_shapes(s)) * i, "result": _prod(_linear_shapes(s)) * i},
    compute=_linear_compute, plan=_linear_plan,
    flops=lambda s, p: 2 * _prod(_linear_shapes(s)) * s["X"][-1] + _prod(_linear_shapes(s)),
    example=lambda: {"X": np.array([[1.0, 2.0, 3.0], [4.0, 5.0, 6.0]]),
                     "W": np.array([[0.5, -1.0, 0.0], [1.0, 1.0, 1.0]]), "b": np.array([0.1, -0.2])},
    extra={"order": 6},
))
