"""Where each operation's tensors go: blackboard layouts, one function per family of operations.

A layout receives a :class:`~gui.canvas.board.Board` for a timeline and places heatmaps, signs and
notes; it may add frame hooks (titles that name the row and column in play, the geometric view)
and region hooks (the columns of the head in play). Layouts read only shapes, parameters and
captions; values reach the views through frames.
"""

from __future__ import annotations

import math

from opscope.compute import get_spec, operations
from opscope.compute.numbers import fmt_shape
from opscope.compute.ops.elementwise import broadcast_note
from opscope.compute.shapes import batch_alignment

from . import flow
from .board import Board, cell_weight, display_shape
from .geometry import GeometryView

PRODUCTS = ("matmul", "matvec", "outer", "linear")
ELEMENTWISE = ("hadamard", "add")
REDUCTIONS = ("sum", "mean", "max", "norm")


def union_levels(*levels) -> tuple[float, float]:
    """The smallest (lo, hi) covering every finite pair given."""
    los = [float(lv[0]) for lv in levels if lv is not None and math.isfinite(float(lv[0]))]
    his = [float(lv[1]) for lv in levels if lv is not None and math.isfinite(float(lv[1]))]
    if not los or not his:
        return 0.0, 1.0
    return min(los), max(his)


def product_levels(la, lb) -> tuple[float, float]:
    """Display levels for products a·b of values within ``la`` and ``lb`` (their extreme products)."""
    c = [la[0] * lb[0], la[0] * lb[1], la[1] * lb[0], la[1] * lb[1]]
    return min(c), max(c)


def box_text(box, shape) -> str:
    """``[0, :]`` for a box selecting row 0 and every column of a tensor of ``shape``."""
    parts = []
    for (a, b), s in zip(box, shape):
        if b - a == 1:
            parts.append(str(a))
        elif (a, b) == (0, s):
            parts.append(":")
        else:
            parts.append(f"{a}:{b}")
    return "[" + ", ".join(parts) + "]" if parts else ""


def batch_note(tl, a: str, b: str, out: str, core_a: int, core_b: int, core_out: int) -> str | None:
    """How the batch axes of ``a`` and ``b`` broadcast into ``out`` (:func:`compute.shapes.batch_alignment`
    of the run's shapes), or None if unbatched."""
    return batch_alignment((a, tl.shape(a), core_a), (b, tl.shape(b), core_b), (out, tl.shape(out), core_out))


# --- products -----------------------------------------------------------------------------------
def _strips(board: Board, row: int, col: int, *, vertical: bool = True) -> None:
    """Beside the output: the k products of the element in play and their running sum, with numbers
    (stacked, or side by side where the row below a flow is short). The two inputs multiplied are
    the spec's ``strip_roles`` (compute/ops owns them)."""
    tl = board.tl
    roles = get_spec(tl.op).strip_roles
    if tl.granularity != "element" or len(roles) != 2 or not all(board.has(n) for n in roles):
        return
    a, b = roles
    k = int(tl.shape(a)[-1])
    lp = product_levels(tl.levels[a], tl.levels[b])
    out = "result" if tl.op != "linear" else "XW"
    lr = union_levels(lp, tl.levels[out], (0.0, 0.0))
    common = {"source": "step", "shape": (k,), "colorbar": False}
    prod, run = board.stack(row, col, [("products", {"key": "step:products", "levels": lp, **common}),
                                       ("running", {"key": "step:running", "levels": lr, **common})],
                            vertical=vertical)
    sa, sb = tl.shape(a), tl.shape(b)

    def titles(frame):
        step = frame.step
        if step is None or "products" not in step.tensors:
            prod.set_title("<b>products</b>")
            run.set_title("<b>running sum</b>")
            return
        ra = step.regions_of(a, "read")
        rb = step.regions_of(b, "read")
        ta = f"{a}{box_text(ra[0].box, sa)}" if ra else a
        tb = f"{b}{box_text(rb[0].box, sb)}" if rb else b
        prod.set_title(f"<b>products</b> {ta} ⊙ {tb}")
        run.set_title("<b>running sum</b> Σ")

    board.on_frame(titles)


def layout_products(board: Board) -> None:
    tl = board.tl
    op = tl.op
    if op == "matmul" and max(len(board.shape(n)) for n in ("A", "B", "result")) > 2:
        # A batch: every slice at once (small multiples) while they fit, the batch rule beside.
        sa, sb = board.shape("A"), board.shape("B")
        f = flow.FlowBuilder(board, board.digit_px)
        f.piece("A", lead_names=("batch",))
        f.piece("B", transpose=len(sb) == 1, lead_names=("batch",))
        f.piece("result", transpose=len(sb) == 1 and len(sa) >= 2, lead_names=("batch",))
        f.stage("result", left=("A",), top="B")
        f.finish(0, 0, 1, 2)
        note = batch_note(tl, "A", "B", "result", min(2, len(sa)), min(2, len(sb)),
                          (len(sa) >= 2) + (len(sb) >= 2))
        # No blank line: the strips' row is short, and at 1024×768 the note's last line was clipped.
        board.note("C = A @ B\nC[i, j] = Σₖ A[i, k]·B[k, j]" + (f"\n{note}" if note else ""), 1, 0)
        # The flow (B above the result, as on a blackboard) needs the height; the strips side by
        # side each keep the row's: at 1024×768 the flow had too little for B at 16 px digits.
        board.weight(rows={0: 22.0, 1: 9.0})
        _strips(board, 1, 1, vertical=False)
    elif op == "matmul":
        sa, sb = board.shape("A"), board.shape("B")
        board.heat("A", 1, 0, lead_names=("batch",))
        board.heat("B", 0, 1, transpose=len(sb) == 1, lead_names=("batch",))
        board.heat("result", 1, 1, transpose=len(sb) == 1 and len(sa) >= 2, lead_names=("batch",))
        note = batch_note(tl, "A", "B", "result", min(2, len(sa)), min(2, len(sb)),
                          (len(sa) >= 2) + (len(sb) >= 2))
        text = "C = A @ B\nC[i, j] = Σₖ A[i, k]·B[k, j]" + (f"\n\n{note}" if note else "")
        board.note(text, 0, 0)
        _strips(board, 1, 2)
    elif op == "matvec":
        board.heat("A", 1, 0, lead_names=("batch",))
        board.heat("x", 0, 1, transpose=True, lead_names=("batch",))
        board.heat("result", 1, 1, transpose=True, lead_names=("batch",))
        board.note("y = A x\ny[i] = Σₖ A[i, k]·x[k]", 0, 0)
        _strips(board, 1, 2)
        if board.shape("A") == (2, 2) and board.shape("x") == (2,):
            geo = GeometryView()
            board.widget_at(geo, 0, 3, 2, 1, col_weight=8.0)

            def plane(frame):
                A, x, y = (frame.arrays.get(k) for k in ("A", "x", "result"))
                if A is not None and x is not None and y is not None:
                    geo.update_plane(A, x, y)

            board.on_frame(plane)
    elif op == "outer":
        board.heat("a", 1, 0, transpose=True)
        board.heat("b", 0, 1)
        board.heat("result", 1, 1)
        board.note("C = a ⊗ b\nC[i, j] = a[i]·b[j]", 0, 0)
    elif op == "linear":
        sx = board.shape("X")
        board.heat("X", 1, 0, lead_names=("batch",))
        board.heat("W", 0, 1, transpose=True, title=None)
        board.heat("XW", 1, 1, lead_names=("batch",))
        if board.has("b"):
            board.heat("b", 0, 3)
            board.sign("+b\n→", 1, 2)
        else:
            board.sign("→", 1, 2)
        board.heat("result", 1, 3, lead_names=("batch",))
        board.note("XWᵀ = X @ Wᵀ\nresult = XWᵀ + b" if board.has("b") else "XWᵀ = X @ Wᵀ", 0, 0)
        if len(sx) >= 1:
            _strips(board, 1, 4)


def layout_dot(board: Board) -> None:
    board.heat("a", 0, 0, lead_names=("batch",))
    board.sign("⊙", 1, 1)
    board.heat("b", 1, 0, lead_names=("batch",))
    board.heat("products", 2, 0, lead_names=("batch",))
    board.sign("Σ\n→", 2, 1)
    board.heat("result", 2, 2)
    tl = board.tl
    if tl.granularity == "element":
        k = int(tl.shape("a")[-1])
        lr = union_levels(tl.levels["products"], tl.levels["result"], (0.0, 0.0))
        run = board.heat("running", 3, 0, key="step:running", source="step", shape=(k,), levels=lr, colorbar=False)
        run.set_title("<b>running sum</b> Σ")


# --- element-wise ---------------------------------------------------------------------------------
def layout_elementwise(board: Board) -> None:
    tl = board.tl
    symbol = "×" if tl.op == "hadamard" else "+"
    board.heat("A", 0, 0, colorbar=False)
    board.heat("B", 0, 2, colorbar=False)
    board.note(broadcast_note(tl) or "A and B already have the same shape", 0, 3, 1, 2)
    for name, col in (("A_broadcast", 0), ("B_broadcast", 2)):
        v = board.heat(name, 1, col)
        if v is not None:
            copied = board.has(name[0]) and tuple(board.shape(name[0])) != tuple(board.shape(name))
            # Hatching marks copies: an operand already of the result's shape has none to mark.
            v.set_title(f"<b>{name[0]}</b> broadcast {fmt_shape(board.shape(name))}"
                        + (" <span style='color:#0a7a3a'>(hatched: copies)</span>" if copied
                           else " <span style='color:#666'>(as it is)</span>"))
    board.sign(symbol, 1, 1)
    board.sign("=", 1, 3)
    board.heat("result", 1, 4)
    h = display_shape(board.shape("result"), False)[0] if board.has("result") else 1
    board.weight(rows={0: 0.6 * cell_weight(h)})


# --- reductions -----------------------------------------------------------------------------------
def _reduced_as(tl) -> str:
    """Where the result sits relative to X: "column" (a row-wise reduction of a matrix), "row"
    (a column-wise one) or "right" (anything else)."""
    x, r = tl.shape("X"), tl.shape("result")
    axes = tuple(tl.params.get("axis") or ())
    if len(x) == 2 and len(r) == 1:
        return "column" if axes == (1,) else "row" if axes == (0,) else "right"
    return "right"


def layout_reduction(board: Board) -> None:
    tl = board.tl
    where = _reduced_as(tl)
    board.heat("X", 0, 0)
    mids = [m for m in ("terms", "sum") if board.has(m) and (m != "sum" or tl.op == "mean")]
    titles = {"terms": f"<b>terms</b> {'|x|' if tl.params.get('ord') in (1, 'inf') else 'x²'}",
              "sum": "<b>sum</b>"}
    if where == "row":
        # Column-wise reduction of a matrix: the sums sit under the columns they come from.
        row = 1
        for mid in mids:
            board.heat(mid, row, 0, title=titles[mid])
            row += 1
        board.heat("result", row, 0)
        col = 0
    else:
        col = 1
        for mid in mids:
            board.sign("→", 0, col)
            board.heat(mid, 0, col + 1, transpose=where == "column" and mid == "sum", title=titles[mid])
            col += 2
        board.sign("→", 0, col)
        board.heat("result", 0, col + 1, transpose=where == "column")
    if tl.granularity == "element":
        axes = tuple(tl.params.get("axis") or ())
        r = int(math.prod(tl.shape("X")[a] for a in axes)) if axes else 1
        lx = tl.levels["X"]
        extra = tl.levels["sum"] if "sum" in tl.tensor_names else tl.levels["result"]
        if tl.op == "norm":
            extra = union_levels(tl.levels["terms"], tl.levels["result"])
        common = {"source": "step", "shape": (r,), "colorbar": False}
        rows = 1 if where != "row" else 2 + len(mids)
        # A norm's running sum adds the line's terms (|x| or x²), so its first panel shows those,
        # on the terms' colour scale: the raw x beside a running |x| sum read as a wrong sum.
        line, line_levels = ("line_terms", tl.levels["terms"]) if tl.op == "norm" else ("values", lx)
        vals, run = board.stack(0, col + 2, [(line, {"key": f"step:{line}", "levels": line_levels, **common}),
                                             ("running", {"key": "step:running",
                                                          "levels": union_levels(line_levels, extra), **common})],
                                rowspan=rows)
        # The grey part is what a narrow view drops from its title ("terms |x|", "running").
        grey = "<span style='color:#666'>{}</span>".format
        vals.set_title((titles["terms"] if tl.op == "norm" else "<b>values</b>") + " " + grey("of the line reduced"))
        running_max = tl.op == "max" or (tl.op == "norm" and tl.params.get("ord") == "inf")  # ‖X‖_∞ = max|x|
        run.set_title("<b>running</b> " + grey("max" if running_max else "sum of the terms"))


def layout_cumsum(board: Board) -> None:
    board.heat("X", 0, 0)
    board.sign("Σ\n→", 0, 1)
    board.heat("result", 0, 2, title=None)


# --- normalization pipelines ---------------------------------------------------------------------
def layout_pipeline(board: Board) -> None:
    tl = board.tl
    chain = [n for n in get_spec(tl.op).pipeline if board.has(n)]
    nd = len(tl.shape("X"))
    # BatchNorm's statistics are per channel (axis 1): with N-d X the slice shown has the channels
    # as rows, so the statistics stand as a column beside them.
    column_stats = tl.op == "batchnorm" and nd >= 3
    lead_names = ("sample",) if tl.op == "batchnorm" else ()
    f = flow.FlowBuilder(board, board.digit_px)
    for name in chain:
        f.piece(name, transpose=column_stats and name in ("mean", "var"), lead_names=lead_names)
    extras = [n for n in tl.tensor_names if n not in chain]
    for name in extras:
        f.piece(name, colorbar=False)
    for i, name in enumerate(chain[1:], start=1):
        left = (chain[i - 1],) if i < len(chain) - 1 else (chain[i - 1], *extras)
        f.stage(name, left=left, sign="→")
    f.finish(0, 0)


# --- attention ------------------------------------------------------------------------------------
def layout_attention(board: Board) -> None:
    tl = board.tl
    lead = {"lead_names": ("batch", "head")}
    scale = float(tl.params.get("scale") or 1.0)
    f = flow.FlowBuilder(board, board.digit_px)
    f.piece("Q", **lead)
    f.piece("K", transpose=True, **lead)
    for name in ("scores", "scaled", "mask", "masked", "weights", "V", "result"):
        f.piece(name, title={"scaled": f"<b>scaled</b> = scores × {scale:.3g}",
                             "weights": "<b>weights</b> = softmax"}.get(name), colorbar=name != "mask", **lead)
    f.stage("scores", left=("Q",), top="K")
    f.stage("scaled", left=("scores",), sign="×s\n→")
    f.stage("masked", left=("scaled",), top="mask", sign="mask\n→")
    f.stage("weights", left=("masked",), sign="softmax\n→")
    f.stage("result", left=("weights",), top="V", sign="@V\n→")
    f.finish(0, 0)


def layout_mha(board: Board) -> None:
    tl = board.tl
    batch = {"lead_names": ("batch",)}
    heads = {"lead_names": ("batch", "head")}
    f = flow.FlowBuilder(board, board.digit_px)
    for n in ("X", "query", "key", "value"):
        f.piece(n, colorbar=False, **batch)
    for n in ("W_q", "b_q", "W_k", "b_k", "W_v", "b_v"):
        f.piece(n, colorbar=False)
    for n in ("Q", "K", "V"):
        f.piece(n, **batch)
    for n in ("scores", "weights", "heads"):
        f.piece(n, **heads)
    f.piece("concat", **batch)
    f.piece("W_o", colorbar=False)
    f.piece("result", **batch)
    src = {"Q": "query", "K": "key", "V": "value"}
    for n in ("Q", "K", "V"):
        x = src[n] if board.has(src[n]) else "X"
        f.stage(n, left=(x,), top=f"W_{n.lower()}")
    f.stage("scores", left=("Q", "K"), sign="Q Kᵀ\n→")
    f.stage("weights", left=("scores",), sign="softmax\n→")
    f.stage("heads", left=("weights", "V"), sign="@V\n→")
    f.stage("concat", left=("heads",), sign="concat\n→")
    f.stage("result", left=("concat",), top="W_o", sign="@W_o\n→")
    f.finish(0, 0)
    # Head j reads columns dh·j … dh·j + dh − 1 of Q, K and V: the heads' own width, read from the
    # run's shapes (compute splits the heads; its steps cover every head at once).
    hs = tl.shape("heads")
    h, dh = int(hs[-3]), int(hs[-1])
    note = board.note(f"{h} heads × {dh} columns: head j uses columns {dh}·j … {dh}·j+{dh - 1} of Q, K, V", 1, 0)
    note.setMaximumHeight(60)
    board.weight(rows={0: 20.0, 1: 0.0})


# --- fallback -------------------------------------------------------------------------------------
def layout_generic(board: Board) -> None:
    """Every input in one row, every output in the next: works for any operation."""
    tl = board.tl
    board.hrow(0, list(tl.input_names))
    board.hrow(1, list(tl.output_names))


LAYOUTS = {
    **{op: layout_products for op in PRODUCTS},
    "dot": layout_dot,
    **{op: layout_elementwise for op in ELEMENTWISE},
    **{op: layout_reduction for op in REDUCTIONS},
    "cumsum": layout_cumsum,
    # Every operation whose spec names a chain of stages (OpSpec.pipeline): a new normalization
    # registered in compute/ gets this layout without a line here.
    **{spec.name: layout_pipeline for spec in operations() if spec.pipeline},
    "attention": layout_attention,
    "mha": layout_mha,
}


def build(board: Board) -> None:
    """Place the views of ``board.tl``'s operation (the generic layout for operations without one).

    A specific layout that fails on an unusual shape falls back to the generic one, so a canvas
    always shows something.
    """
    LAYOUTS.get(board.tl.op, layout_generic)(board)
