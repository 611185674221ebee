"""The data flow of a program, as plain data: which tensors to draw, where, and how big.

Nothing here touches Qt, so the layout can be tested (and reasoned about) without widgets.
:func:`build_graph` reads a :class:`~compute.program.timeline.ProgramTimeline` into a
:class:`FlowGraph`: one :class:`FlowColumn` per program line, in program order, holding the
line's result and the program inputs it is the first to read (so inputs sit above the line that
uses them first, and the flow runs from the inputs to the result).

The canvas shows the whole program at once, as focus + context (:func:`layout`):

* the **overview** (:func:`place` with :data:`OVERVIEW` metrics) draws every column compact in a
  band across the top, wrapping into rows where that gives bigger cells; where space is short the
  inputs become name chips (:func:`overview_graph`). Its band (:func:`choose_band`) depends only on
  the canvas' size, never on the line in play, so it does not move while a program plays;
* the **focus** (:func:`place_focus`) draws the line in play below it, big: its operands in a grid,
  an arrow, its result, all at one cell size, sized so numbers keep digits of ``digit_px`` where
  the space allows, split into pages of operands where they do not all fit so
  (:func:`focus_pages`). It changes only when the line in play (or its page) does; a step that
  makes one of the line's internal tensors (``a.weights`` inside ``mha``) gets the pages of what
  it reads and makes instead (:func:`step_pages`).

Cells are sized from the space the canvas has, never from a fixed cell size (ARCHITECTURE.md §9);
a slice longer than :data:`DISPLAY_SIDE` takes the room of that many cells.
"""

from __future__ import annotations

import dataclasses
import functools
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

import numpy as np

#: A 3-D/4-D tensor with at most this many 2-D slices is drawn as small multiples (every head,
#: every batch at once); more slices get one view with a slice selector.
MAX_MULTIPLES = 8
#: Slices bigger than this a side are never repeated as small multiples (one would not fit).
MAX_MULTIPLE_SIDE = 64
#: A slice longer than this along a side takes the room of this many cells (see :attr:`Tile.span`).
DISPLAY_SIDE = 32
#: How HeatmapView sizes the numbers in its cells (gui/heatmap.py: ``label_font_px``): the font is
#: at most this share of the cell's height, and the widest text at most ``TEXT_WIDTH_SHARE`` of
#: its width. Mirrored here (Qt-free) so a layout can be sized for readable digits before any view
#: exists; the canvas tests measure what the views really drew (``layout_report``).
LABEL_HEIGHT_SHARE = 0.62
TEXT_WIDTH_SHARE = 0.88
#: Height of a digit per pixel of font size in the cells' bold condensed DejaVu Sans (measured).
DIGIT_HEIGHT_EM = 0.77
#: Advance widths in that font per pixel of font size (measured): digits, the point, the minus.
DIGIT_EM, POINT_EM, MINUS_EM = 0.54, 0.29, 0.65
#: A chip (a tensor drawn as its name only): pixels per character of its name, padding, height.
CHIP_CHAR_PX, CHIP_PAD_PX, CHIP_H_PX = 8.0, 14.0, 20.0
#: A cell at least this big carries numbers with digits of ~16 px (one-character numbers).
READABLE_CELL_PX = 16.0 / DIGIT_HEIGHT_EM / LABEL_HEIGHT_SHARE


@dataclass(frozen=True)
class Metrics:
    """Pixels a view needs besides its cells, and the gaps between views (measured on HeatmapView:
    title ~24 px, top index axis ~20, left axis ~15, margins; cells are fitted with 4 % padding)."""

    view_dx: float = 36.0
    view_dy: float = 66.0
    selector_dy: float = 30.0
    colorbar_dx: float = 62.0
    pad: float = 1.04
    gap: float = 26.0  # between columns and rows: arrows run here, so never less than an arrowhead
    tile_gap: float = 6.0  # between the small multiples of one tensor
    label_h: float = 54.0  # the line's text, two lines of ~16 px
    label_min_w: float = 150.0
    margin: float = 8.0
    min_cell: float = 6.0
    max_cell: float = 140.0


@dataclass(frozen=True)
class Tile:
    """One heatmap view: tensor ``tensor`` at leading index ``lead`` (``()``: a whole ≤ 2-D tensor,
    or, when ``selector``, the slice the view's selector picks)."""

    key: str
    tensor: str
    lead: tuple[int, ...]
    rows: int
    cols: int
    selector: bool = False
    colorbar: bool = False

    @functools.cached_property
    def span(self) -> tuple[float, float]:
        """(rows, cols) in layout cells: the slice's own, or, for a slice longer than
        :data:`DISPLAY_SIDE`, scaled down to that many along its longer side (a 512×256 tensor is
        laid out like a 32×16 one: its numbers are unreadable anyway, its picture is what shows).
        Cached: the layout search asks for it hundreds of thousands of times."""
        longest = max(self.rows, self.cols)
        if longest <= DISPLAY_SIDE:
            return float(self.rows), float(self.cols)
        f = DISPLAY_SIDE / longest
        return max(1.0, self.rows * f), max(1.0, self.cols * f)


@dataclass(frozen=True)
class FlowItem:
    """One tensor on the canvas: its tiles laid out as a ``grid`` (rows, cols) of small multiples."""

    tensor: str
    shape: tuple[int, ...]
    tiles: tuple[Tile, ...]
    grid: tuple[int, int] = (1, 1)
    line: str | None = None  # the line that writes it (None: a program input)
    text_em: float = 0.0  # width of its widest number (2 significant digits) per px of font; 0: none
    chip: bool = False  # drawn as its name only (an input in a crowded overview), of a fixed size
    text_em3: float = 0.0  # the same with 3 significant digits (what views draw first); 0: ~1.25×

    @property
    def em3(self) -> float:
        """Width of its widest 3-significant-digit number per px of font (0: no numbers)."""
        if not self.text_em or self.chip:
            return 0.0
        return self.text_em3 or self.text_em * 1.25

    def font_px(self, s: float, aspect: float = 1.0) -> float:
        """Font size (px) HeatmapView gives its 3-digit numbers in cells ``s`` px high and
        ``aspect`` × ``s`` wide (0 when it carries none)."""
        if not self.em3:
            return 0.0
        return min(s * LABEL_HEIGHT_SHARE, s * aspect * TEXT_WIDTH_SHARE / self.em3)

    def readable_px(self, digit_px: float = 16.0) -> float:
        """The cell size at which HeatmapView draws this item's numbers with digits ``digit_px``
        high (0 when its cells carry no numbers)."""
        if not self.text_em:
            return 0.0
        font = digit_px / DIGIT_HEIGHT_EM
        return max(font / LABEL_HEIGHT_SHARE, font * self.text_em / TEXT_WIDTH_SHARE)

    def width(self, s: float, m: Metrics, aspect: float = 1.0) -> float:
        """Width at cells ``s`` px high and ``aspect`` × ``s`` wide."""
        if self.chip:
            return CHIP_CHAR_PX * len(self.tensor) + CHIP_PAD_PX
        t = self.tiles[0]
        one = m.pad * t.span[1] * s * aspect + m.view_dx + (m.colorbar_dx if t.colorbar else 0.0)
        return self.grid[1] * one + (self.grid[1] - 1) * m.tile_gap

    def height(self, s: float, m: Metrics) -> float:
        if self.chip:
            return CHIP_H_PX
        t = self.tiles[0]
        one = m.pad * t.span[0] * s + m.view_dy + (m.selector_dy if t.selector else 0.0)
        return self.grid[0] * one + (self.grid[0] - 1) * m.tile_gap


@dataclass(frozen=True)
class FlowColumn:
    """One program line: its ``result`` item, the ``inputs`` it reads first, and every tensor it
    reads (``operands``: program inputs and earlier lines, in the order they appear in its text)."""

    line: str
    text: str
    result: FlowItem
    inputs: tuple[FlowItem, ...]
    operands: tuple[str, ...]


@dataclass(frozen=True)
class FlowGraph:
    """Every column in program order; ``items`` by tensor name; ``column_of`` tensor → column index.

    ``internals`` are the tensors an operation line makes on its way to its result (``a.scores``,
    ``a.weights`` of an ``mha`` line; ``h.mean`` of a ``layernorm``), by name: never in the
    overview, drawn in the focus on the pages of the steps that make them (:func:`step_pages`).
    """

    columns: tuple[FlowColumn, ...]
    items: dict[str, FlowItem] = field(default_factory=dict)
    column_of: dict[str, int] = field(default_factory=dict)
    internals: dict[str, FlowItem] = field(default_factory=dict)
    #: A product line's element steps' own tensors (``S.products``, ``S.running``: the k products
    #: of the cell in play and their running sum), by name → (item, the local name); drawn on the
    #: focus page of those steps where they fit with the line (see :func:`line_partials`).
    partials: dict[str, tuple[FlowItem, str]] = field(default_factory=dict)

    def item(self, name: str) -> FlowItem:
        """The item of tensor ``name``: a line's result, a program input, an internal or a partial."""
        it = self.items.get(name) or self.internals.get(name)
        return it if it is not None else self.partials[name][0]

    def drawn(self, name: str) -> bool:
        """Whether the canvas can draw tensor ``name`` (a ``K.T`` operand's ``S.B`` it cannot)."""
        return name in self.items or name in self.internals or name in self.partials

    def partials_of(self, line: str) -> tuple[str, ...]:
        """The partials of line ``line``, in order (products, then running sum)."""
        return tuple(n for n, (it, _local) in self.partials.items() if it.line == line)

    @property
    def tiles(self) -> list[Tile]:
        return [t for item in self.items.values() for t in item.tiles]


Rect = tuple[float, float, float, float]  # x, y, width, height in pixels


@dataclass(frozen=True)
class Placement:
    """Where the columns of a flow go in one area of the canvas.

    Attributes
    ----------
    cell_px : the cell size every tensor is given (the same for all, so rows line up).
    tiles : tile key → rect; items : tensor → rect around its tiles; labels : line → rect of its text.
    columns : indices of the columns placed; wrap : columns per row; stack : sub-columns a
    column's inputs are stacked in; height : the height used (from the area's top).
    """

    cell_px: float
    tiles: dict[str, Rect]
    items: dict[str, Rect]
    labels: dict[str, Rect]
    columns: tuple[int, ...]
    wrap: int
    stack: int
    height: float = 0.0

    @property
    def readable(self) -> bool:
        return self.cell_px >= READABLE_CELL_PX


def lead_key(tensor: str, lead: Sequence[int]) -> str:
    """The view key of slice ``lead`` of ``tensor``: ``"weights[1]"``, ``"x[0,2]"``."""
    return f"{tensor}[{','.join(str(int(i)) for i in lead)}]"


def _slice_dims(shape: tuple[int, ...]) -> tuple[int, int]:
    if len(shape) == 0:
        return 1, 1
    if len(shape) == 1:
        return 1, max(1, shape[0])
    return max(1, shape[-2]), max(1, shape[-1])


def make_item(tensor: str, shape: Sequence[int], line: str | None = None, *,
              max_multiples: int = MAX_MULTIPLES, text_em: float = 0.0, text_em3: float = 0.0) -> FlowItem:
    """The item of one tensor: one tile for ≤ 2-D, small multiples of its 2-D slices for 3-D/4-D
    tensors with few enough slices, else one tile with a slice selector."""
    shape = tuple(int(s) for s in shape)
    rows, cols = _slice_dims(shape)
    # Numbers say more than a colour bar; the bar is only worth its width where cells go unlabelled.
    colorbar = rows * cols > 16 * 16
    lead_shape = shape[:-2]
    count = math.prod(lead_shape) if lead_shape else 1
    if len(shape) <= 2:
        tile = Tile(tensor, tensor, (), rows, cols, colorbar=colorbar)
        return FlowItem(tensor, shape, (tile,), (1, 1), line, text_em, text_em3=text_em3)
    if len(shape) <= 4 and 0 < count <= max_multiples and max(rows, cols) <= MAX_MULTIPLE_SIDE:
        if len(shape) == 4:
            grid = lead_shape
        else:
            per_row = count if count <= 4 else 4
            grid = (math.ceil(count / per_row), per_row)
        leads = [tuple(int(i) for i in idx) for idx in _indices(lead_shape)]
        tiles = tuple(Tile(lead_key(tensor, ld), tensor, ld, rows, cols, colorbar=colorbar) for ld in leads)
        return FlowItem(tensor, shape, tiles, (int(grid[0]), int(grid[1])), line, text_em, text_em3=text_em3)
    return FlowItem(tensor, shape, (Tile(tensor, tensor, (), rows, cols, selector=True, colorbar=colorbar),),
                    (1, 1), line, text_em, text_em3=text_em3)


def text_em(text: str) -> float:
    """Width of ``text`` per pixel of font size in the cells' font (digits, point, minus)."""
    return sum(POINT_EM if ch == "." else MINUS_EM if ch in "-−" else DIGIT_EM for ch in text)


def number_em(values, limit: int = 16 * 16, digits: int = 2) -> float:
    """Width (per px of font) of the widest ``digits``-significant-digit number in ``values`` when
    its 2-D slices are small enough to carry numbers (0 otherwise, or when nothing is finite).
    Two digits: HeatmapView falls back to them when three do not fit a cell."""
    from opscope.compute.numbers import fmt  # noqa: PLC0415 - Qt-free, compute side

    a = np.asarray(values)
    rows, cols = _slice_dims(a.shape)
    if rows * cols > limit or a.size == 0 or a.size > 64 * limit or a.dtype.kind not in "biuf":
        return 0.0
    flat = a.reshape(-1).astype(np.float64)
    texts = {fmt(float(v), digits) for v in flat if math.isfinite(float(v))}
    width = max((text_em(t) for t in texts), default=0.0)
    if np.isinf(flat).any():
        width = max(width, text_em("-8"))  # "−∞"
    return width


def pending_em(shape, limit: int = 16 * 16, digits: int = 2) -> float:
    """:func:`number_em` of a tensor not computed yet: 0 where its slices are too big to carry
    numbers (as :func:`number_em` says from the shape alone), else the width of a typical
    number of ``digits`` significant digits ("−0.12", "−0.123")."""
    rows, cols = _slice_dims(tuple(shape))
    size = math.prod(shape)
    if rows * cols > limit or size == 0 or size > 64 * limit:
        return 0.0
    return text_em("-0.12" if digits <= 2 else "-0." + "1" * digits)


def _indices(shape: tuple[int, ...]):
    if not shape:
        yield ()
        return
    for i in range(shape[0]):
        for rest in _indices(shape[1:]):
            yield (i,) + rest


def build_graph(tl, *, max_multiples: int = MAX_MULTIPLES) -> FlowGraph:
    """The :class:`FlowGraph` of program timeline ``tl``: every line's result and every program
    input (scalars included) that a line reads, and the operation tensors a line makes on the way
    to its result (``a.scores`` of an ``mha`` line) as :attr:`FlowGraph.internals`. Left out: an
    operation's inputs that are sub-expressions (``scores.B`` for ``K.T``: the focus shows ``K``)
    and broadcast copies (the focus shows the operands themselves)."""
    from opscope.compute.program.parse import walk_names  # noqa: PLC0415 - Qt-free, compute side

    inputs = set(tl.input_names)
    lines = {p.name for p in tl.lines}
    by_line = {ln.name: ln for ln in tl.program.lines}
    placed: set[str] = set()
    written: set[str] = set()
    columns, items, column_of, internals, partials = [], {}, {}, {}, {}
    # Numbers are measured on the final values: the widest text a cell will ever need to hold.
    # A progressive run has only its finished lines' (never wait for the rest on the GUI thread).
    finals = {**tl.inputs(), **tl.computed_values()}

    def em(name: str, digits: int = 2) -> float:
        if name in finals:
            return number_em(finals[name], digits=digits)
        return pending_em(tl.shape(name), digits=digits)
    for i, part in enumerate(tl.lines):
        expr = by_line[part.name].expr
        operands = []
        for node in walk_names(expr):
            name = node.id
            if name in operands:
                continue
            if name in inputs or (name in lines and name in written):
                operands.append(name)
        new_inputs = []
        for name in operands:
            if name in inputs and name not in placed:
                placed.add(name)
                item = make_item(name, tl.shape(name), None, max_multiples=max_multiples,
                                 text_em=number_em(finals[name]) if name in finals else 0.0,
                                 text_em3=number_em(finals[name], digits=3) if name in finals else 0.0)
                items[name] = item
                column_of[name] = i
                new_inputs.append(item)
        result = make_item(part.name, tl.shape(part.name), part.name, max_multiples=max_multiples,
                           text_em=em(part.name), text_em3=em(part.name, 3))
        items[part.name] = result
        column_of[part.name] = i
        written.add(part.name)
        columns.append(FlowColumn(part.name, part.text, result, tuple(new_inputs), tuple(operands)))
        for name, local, k in line_partials(part, tl):
            # Their numbers are as wide as the result's or the operands' (products of the two, the
            # sums on the way to a result cell): the widest of those, or a typical one until known.
            sizes = [items[n] for n in (*operands, part.name) if n in items]
            known = part.name in finals and all(it.text_em for it in sizes)
            partials[name] = (make_item(
                name, (k,), part.name, max_multiples=max_multiples,
                text_em=max(it.text_em for it in sizes) if known else pending_em((k,)),
                text_em3=max(it.em3 for it in sizes) if known else pending_em((k,), digits=3)), local)
        for name in line_internals(part):
            value = tl.final_value(name) if part.name in finals else None  # never wait for a run
            internals[name] = make_item(
                name, tl.shape(name), part.name, max_multiples=max_multiples,
                text_em=number_em(value) if value is not None else pending_em(tl.shape(name)),
                text_em3=number_em(value, digits=3) if value is not None else pending_em(tl.shape(name), digits=3))
    return FlowGraph(tuple(columns), items, column_of, internals, partials)


#: The step tensors of a product's element steps: the products of the cell in play, their running sum.
PARTIALS = ("products", "running")


def line_partials(part, tl) -> list[tuple[str, str, int]]:
    """(program name, local name, length k) of the partials line ``part``'s element steps carry:
    a product operation's (its spec's ``strip_roles``, as the operation canvas' strips) k products
    of the cell in play and their running sum, ``S.products`` and ``S.running``."""
    from opscope.compute import get_spec  # noqa: PLC0415 - Qt-free, compute side

    if part.op is None or part.granularity != "element":
        return []
    roles = get_spec(part.op).strip_roles
    if len(roles) != 2 or roles[0] not in part.names:
        return []
    k = int(tl.shape(part.names[roles[0]])[-1])
    return [(f"{part.name}.{local}", local, k) for local in PARTIALS]


def line_internals(part) -> list[str]:
    """The program names of the tensors line ``part``'s operation makes besides its result
    (broadcast copies left out: they repeat an operand)."""
    if part.op is None:
        return []
    return [part.names[local] for local in part.timeline.output_names
            if local != "result" and not local.endswith("_broadcast") and local in part.names]


# --- placing --------------------------------------------------------------------------------------
def _asp(aspect: float | Mapping[str, float], it: FlowItem) -> float:
    """The cell aspect (width over height) of ``it``: one for every item, or one per tensor name
    (focus views share a cell height, so their rows line up, and each is as wide as its numbers)."""
    return float(aspect) if isinstance(aspect, (int, float)) else float(aspect.get(it.tensor, 1.0))


def _grid(items: Sequence[FlowItem], per_row: int, s: float, m: Metrics,
          aspect: float | Mapping[str, float] = 1.0):
    """(width, height, [(item, dx, dy)]) of ``items`` laid row-major, ``per_row`` to a row."""
    per_row = max(1, min(per_row, len(items)))
    rows = [items[i:i + per_row] for i in range(0, len(items), per_row)]
    col_w = [0.0] * per_row
    for row in rows:
        for j, it in enumerate(row):
            col_w[j] = max(col_w[j], it.width(s, m, _asp(aspect, it)))
    out, y = [], 0.0
    for row in rows:
        h = max(it.height(s, m) for it in row)
        x = 0.0
        for j, it in enumerate(row):
            out.append((it, x + (col_w[j] - it.width(s, m, _asp(aspect, it))) / 2.0, y + (h - it.height(s, m))))
            x += col_w[j] + m.gap
        y += h + m.gap
    width = sum(col_w) + m.gap * (per_row - 1)
    return width, y - m.gap, out


def _grid_size(items: Sequence[FlowItem], per_row: int, s: float, m: Metrics,
               aspect: float | Mapping[str, float] = 1.0):
    """(width, height) of :func:`_grid` (the same arithmetic), without placing the items: the
    layout search measures thousands of arrangements and places one."""
    per_row = max(1, min(per_row, len(items)))
    col_w = [0.0] * per_row
    y = 0.0
    for i in range(0, len(items), per_row):
        row = items[i:i + per_row]
        for j, it in enumerate(row):
            col_w[j] = max(col_w[j], it.width(s, m, _asp(aspect, it)))
        y += max(it.height(s, m) for it in row) + m.gap
    return sum(col_w) + m.gap * (per_row - 1), y - m.gap


def _extent(cols: Sequence[FlowColumn], wrap: int, stack: int, s: float, m: Metrics) -> tuple[float, float]:
    """Total (width, height) of ``cols`` wrapped ``wrap`` to a row at cell size ``s``."""
    width = height = 0.0
    rows = [cols[i:i + wrap] for i in range(0, len(cols), wrap)]
    for row in rows:
        w = 0.0
        h_in = h_res = 0.0
        for c in row:
            iw, ih = _grid_size(c.inputs, stack, s, m) if c.inputs else (0.0, 0.0)
            w += max(iw, c.result.width(s, m), m.label_min_w)
            h_in = max(h_in, ih + m.gap if c.inputs else 0.0)
            h_res = max(h_res, c.result.height(s, m))
        width = max(width, w + m.gap * (len(row) - 1))
        height += h_in + m.label_h + h_res
    height += m.gap * (len(rows) - 1)
    return width + 2 * m.margin, height + 2 * m.margin


def largest_fit(extent, width: float, height: float, hi: float) -> float:
    """The largest cell size ``s`` in [0, ``hi``] whose ``extent(s)`` (width, height) fits in
    ``width`` × ``height`` (0 when none does).

    Extents are sums and maxima of sizes linear in ``s``: convex, piecewise linear and increasing,
    and so is ``over(s)``, how far the worse side sticks out. Newton steps from above land on its
    root in a few evaluations (each one reaches a new linear piece, never overshooting a convex
    function's root), where the bisection this replaced took 22–24 per arrangement: the program
    canvas measures hundreds of arrangements per board. A few halvings absorb rounding."""
    def over(x: float) -> float:
        w, h = extent(x)
        return max(w - width, h - height)

    if over(hi) <= 0:
        return hi
    if over(0.0) > 0:
        return 0.0
    x = hi
    for _ in range(16):
        g = over(x)
        if g <= 0:
            return x
        e = max(1e-7, x * 1e-7)
        slope = (g - over(x - e)) / e
        if slope <= 0:
            break
        nxt = x - g / slope
        if not 0.0 <= nxt < x:
            break
        x = nxt if nxt < x - 1e-9 else x - 1e-9
    lo, top = 0.0, x  # rounding left x just outside: bisect the last stretch
    if over(max(0.0, x - 1e-3)) <= 0:
        lo = max(0.0, x - 1e-3)
    for _ in range(12):
        mid = (lo + top) / 2.0
        if over(mid) <= 0:
            lo = mid
        else:
            top = mid
    return lo


#: Most inputs of one line laid side by side above it in the overview.
MAX_STACK = 6


def _best(cols: Sequence[FlowColumn], width: float, height: float, m: Metrics) -> tuple[float, int, int]:
    """(cell px, wrap, stack) of the arrangement of ``cols`` with the biggest cells that fits."""
    best = (0.0, len(cols), 1)
    most_inputs = max((len(c.inputs) for c in cols), default=0)
    lowest = (math.inf, len(cols), 1)  # where nothing fits: the arrangement that overflows least
    for wrap in range(1, len(cols) + 1):
        if wrap < len(cols) and math.ceil(len(cols) / wrap) == math.ceil(len(cols) / (wrap + 1)):
            continue  # same number of rows as a wider wrap: never better balanced, skip it
        # Up to MAX_STACK inputs side by side: a short band fits mha's five inputs as one row.
        for stack in range(1, max(1, min(MAX_STACK, most_inputs)) + 1):
            lo, hi = 0.0, m.max_cell
            w0, h0 = _extent(cols, wrap, stack, m.min_cell, m)
            if w0 > width * 4:
                continue
            if w0 <= width and h0 < lowest[0]:
                lowest = (h0, wrap, stack)
            if best[0] > 0.0:
                # Extents grow with s: if this arrangement does not fit just above the best cells so
                # far, its bisection cannot beat them. Skipping it changes no result.
                w, h = _extent(cols, wrap, stack, best[0] + 1e-6, m)
                if w > width or h > height:
                    continue
            lo = largest_fit(lambda x, wrap=wrap, stack=stack: _extent(cols, wrap, stack, x, m), width, height, hi)
            if lo > best[0] + 1e-6:
                best = (lo, wrap, stack)
    if best[0] <= 0.0 and math.isfinite(lowest[0]):
        return 0.0, lowest[1], lowest[2]
    return best


def needed_px(cols: Sequence[FlowColumn], digit_px: float, m: Metrics = Metrics()) -> float:
    """The cell size at which every number of ``cols`` has ``digit_px`` digits (at most
    ``m.max_cell``)."""
    need = 0.0
    for c in cols:
        for it in (c.result, *c.inputs):
            need = max(need, it.readable_px(digit_px))
    return min(need, m.max_cell)


def place(graph: FlowGraph, width: float, height: float, m: Metrics = Metrics(), *,
          columns: Sequence[int] | None = None, top: bool = False) -> Placement:
    """Rects for the columns ``columns`` (default: all) in a ``width`` × ``height`` area, centred
    (or, with ``top``, from the area's top edge, so a caller can give what is left below to others)."""
    indices = tuple(range(len(graph.columns))) if columns is None else tuple(columns)
    cols = [graph.columns[i] for i in indices]
    if not cols:
        return Placement(0.0, {}, {}, {}, indices, 1, 1)
    s, wrap, stack = _best(cols, width, height, m)
    s = max(s, m.min_cell)
    total_w, total_h = _extent(cols, wrap, stack, s, m)
    ox = max(0.0, (width - total_w) / 2.0) + m.margin
    y = (0.0 if top else max(0.0, (height - total_h) / 2.0)) + m.margin
    tiles: dict[str, Rect] = {}
    items: dict[str, Rect] = {}
    labels: dict[str, Rect] = {}

    for r0 in range(0, len(cols), wrap):
        row = cols[r0:r0 + wrap]
        grids = [(_grid(c.inputs, stack, s, m) if c.inputs else (0.0, 0.0, [])) for c in row]
        h_in = max((g[1] + m.gap for c, g in zip(row, grids) if c.inputs), default=0.0)
        h_res = max(c.result.height(s, m) for c in row)
        x = ox
        for c, (iw, ih, cells) in zip(row, grids):
            cw = max(iw, c.result.width(s, m), m.label_min_w)
            # Inputs hang just above their line's label, so short stacks do not float far from it.
            top_y = y + h_in - (ih + m.gap if c.inputs else 0.0)
            for it, dx, dy in cells:
                _put(it, x + (cw - iw) / 2.0 + dx, top_y + dy, s, m, tiles, items)
            labels[c.line] = (x, y + h_in, cw, m.label_h)
            _put(c.result, x + (cw - c.result.width(s, m)) / 2.0, y + h_in + m.label_h, s, m, tiles, items)
            x += cw + m.gap
        y += h_in + m.label_h + h_res + m.gap
    return Placement(s, tiles, items, labels, indices, wrap, stack, total_h)


def _put(item: FlowItem, x: float, y0: float, s: float, m: Metrics, tiles: dict, items: dict,
         aspect: float | Mapping[str, float] = 1.0) -> None:
    """Rects of ``item``'s tiles (its small multiples as a grid) with its top-left at (x, y0)."""
    aspect = _asp(aspect, item)
    gr, gc = item.grid
    tw = (item.width(s, m, aspect) - (gc - 1) * m.tile_gap) / gc
    th = (item.height(s, m) - (gr - 1) * m.tile_gap) / gr
    for k, tile in enumerate(item.tiles):
        r, c = divmod(k, item.grid[1])
        tiles[tile.key] = (x + c * (tw + m.tile_gap), y0 + r * (th + m.tile_gap), tw, th)
    items[item.tensor] = (x, y0, item.width(s, m, aspect), item.height(s, m))


# --- overview + focus -----------------------------------------------------------------------------
#: Metrics of the overview: tensors painted as bare cells under a one-line name (no axes, no bars).
OVERVIEW = Metrics(view_dx=2.0, view_dy=20.0, selector_dy=0.0, colorbar_dx=0.0, pad=1.0, gap=18.0,
                   tile_gap=3.0, label_h=22.0, label_min_w=56.0, margin=6.0, min_cell=2.0, max_cell=30.0)
#: Space between the operands of the line in play and its result: the arrow runs here.
FOCUS_ARROW = 56.0
#: Overview band heights tried, as fractions of the canvas height (the largest that leaves every
#: line's focus readable wins, so the overview is as big as it can be without costing legibility).
OVERVIEW_FRACTIONS = (0.16, 0.2, 0.24, 0.28, 0.32, 0.36, 0.4, 0.45, 0.5)
#: The lines alone (:data:`LINES_ONLY`) fit shorter bands: a row of labels over small result tiles.
LINES_FRACTIONS = (0.1, 0.12, 0.14, *OVERVIEW_FRACTIONS)
#: Gap between the overview band and the focus below it.
BAND_GAP = 14.0


def focus_top(band: float) -> float:
    """Where the focus starts below an overview band ``band`` px high (at the top: no band)."""
    return band + BAND_GAP if band > 0 else 0.0


@dataclass(frozen=True)
class FocusPage:
    """One page of a line's focus: the result with ``operands`` (names, text order), every slice
    of them, or only those at leading index ``lead`` (batch or head ``lead`` of the tensors whose
    first axis is the result's; the others whole) where the line's slices do not fit side by side.
    """

    operands: tuple[str, ...]
    lead: int | None = None
    #: False: a build page of one operand alone (it and the result together are not readable).
    result: bool = True
    #: The tensor drawn in the result's place: None for the line's result; else what one step
    #: makes (an internal such as ``a.weights``), with the tensors that step reads as ``operands``.
    target: str | None = None


@dataclass(frozen=True)
class Focus:
    """The line in play, drawn big: its result and its operands (every tensor its text reads, in
    text order), or, where they do not all fit with readable numbers, one page of them.

    Attributes
    ----------
    column : index of the line's column; cell_px : the cell height of every view in it.
    tiles, items : rects as in :class:`Placement`; label : rect of the line's text above them.
    arrow : (x0, y0, x1, y1) from the operands to the result (None without operands).
    beside : operands left of the result (True) or above it (False); per_row : operands a row.
    aspects : tensor → width over height of its cells (above 1 where its numbers need the width);
    cell_aspect : the widest of them (1: every cell square).
    pages : the line's :class:`FocusPage` s (one page holding every operand and slice where they
    fit with readable numbers); page : the index of the page drawn.
    """

    column: int
    cell_px: float
    tiles: dict[str, Rect]
    items: dict[str, Rect]
    label: Rect
    arrow: tuple[float, float, float, float] | None
    beside: bool
    per_row: int
    aspects: dict[str, float] = field(default_factory=dict)
    pages: tuple[FocusPage, ...] = (FocusPage(()),)
    page: int = 0

    @property
    def cell_aspect(self) -> float:
        return max(self.aspects.values(), default=1.0)

    @property
    def operands(self) -> tuple[str, ...]:
        """The operands drawn (those of the page shown)."""
        return self.pages[self.page].operands if self.pages else ()


@dataclass(frozen=True)
class FlowLayout:
    """The whole program for one canvas size and one line in play: the ``overview`` (every
    column, compact, in the band ``(0, band)``; its inputs drawn as name chips when ``chips``)
    and the ``focus`` of the line in play below it."""

    overview: Placement
    focus: Focus
    band: float
    chips: bool = False


#: Overview cells below this are too small to tell colours apart: such a band is a last resort.
OVERVIEW_MIN_CELL = 10.0


#: The overview mode that draws the lines alone (their labels and results, arrows between them):
#: the program's inputs are on the focus pages only. The last resort of a short canvas, where even
#: a row of name chips costs an 8-row operand its readable numbers.
LINES_ONLY = "lines"


def overview_graph(graph: FlowGraph, chips: bool | str) -> FlowGraph:
    """``graph`` with its columns' inputs drawn as name chips (``chips`` True), left out
    (:data:`LINES_ONLY`) or unchanged (False)."""
    if not chips:
        return graph
    if chips == LINES_ONLY:
        inputs = {i.tensor for c in graph.columns for i in c.inputs}
        columns = tuple(dataclasses.replace(c, inputs=()) for c in graph.columns)
        items = {k: v for k, v in graph.items.items() if k not in inputs}
        return FlowGraph(columns, items, {k: v for k, v in graph.column_of.items() if k not in inputs})
    columns = tuple(dataclasses.replace(c, inputs=tuple(dataclasses.replace(i, chip=True) for i in c.inputs))
                    for c in graph.columns)
    items = dict(graph.items)
    for c in columns:
        for i in c.inputs:
            items[i.tensor] = i
    return FlowGraph(columns, items, dict(graph.column_of))


def focus_items(graph: FlowGraph, column: int) -> tuple[list[FlowItem], FlowItem]:
    """The operands (text order) and the result item of column ``column``."""
    col = graph.columns[column]
    ops = [graph.items[n] for n in col.operands if n in graph.items and n != col.line]
    return ops, col.result


def _focus_extent(ops: Sequence[FlowItem], res: FlowItem, beside: bool, per_row: int, s: float,
                  m: Metrics, aspect: float | Mapping[str, float] = 1.0) -> tuple[float, float]:
    ra = _asp(aspect, res)
    if not ops:
        return res.width(s, m, ra), m.label_h + res.height(s, m)
    gw, gh = _grid_size(ops, per_row, s, m, aspect)
    if beside:
        return gw + FOCUS_ARROW + res.width(s, m, ra), m.label_h + max(gh, res.height(s, m))
    return max(gw, res.width(s, m, ra)), m.label_h + gh + FOCUS_ARROW * 0.6 + res.height(s, m)


#: Widest cells the focus gives (width over height): enough for "−0.0681" at the height's font.
MAX_CELL_ASPECT = 3.0


def item_aspect(it: FlowItem) -> float:
    """Width over height of cells whose numbers (3 significant digits) are as big as the cell's
    height allows: 1 for cells without numbers or with narrow ones, at most :data:`MAX_CELL_ASPECT`."""
    return min(MAX_CELL_ASPECT, max(1.0, LABEL_HEIGHT_SHARE * it.em3 / TEXT_WIDTH_SHARE))


def _wanted_aspect(items: Sequence[FlowItem]) -> float:
    """The widest :func:`item_aspect` of ``items``."""
    return max((item_aspect(it) for it in items), default=1.0)


def _scaled(wanted: Mapping[str, float], t: float) -> dict[str, float]:
    return {k: 1.0 + t * (a - 1.0) for k, a in wanted.items()}


def _focus_aspect(ops: Sequence[FlowItem], res: FlowItem, beside: bool, per_row: int, s: float,
                  width: float, m: Metrics) -> dict[str, float]:
    """Per tensor, the widest cells up to its :func:`item_aspect` that keep the focus within
    ``width`` (every one widened by the same share of what it wants): square cells leave small
    numbers between wide empty margins when a line's tensors are few and narrow."""
    wanted = {it.tensor: item_aspect(it) for it in (res, *ops)}
    room = width - 2 * m.margin
    if max(wanted.values()) <= 1.0 or _focus_extent(ops, res, beside, per_row, s, m, wanted)[0] <= room:
        return wanted
    lo, hi = 0.0, 1.0
    for _ in range(16):
        mid = (lo + hi) / 2.0
        if _focus_extent(ops, res, beside, per_row, s, m, _scaled(wanted, mid))[0] <= room:
            lo = mid
        else:
            hi = mid
    return _scaled(wanted, lo)


def _focus_best(ops: Sequence[FlowItem], res: FlowItem, width: float, height: float,
                m: Metrics, aspect: float | Mapping[str, float] = 1.0) -> tuple[float, bool, int]:
    """(cell px, beside, per_row) of the focus arrangement with the biggest cells (``aspect``:
    the cells' width over height, one or per tensor)."""
    best = (0.0, True, max(1, len(ops)))
    for beside in (True, False):
        for per_row in range(1, max(1, len(ops)) + 1):
            lo, hi = 0.0, m.max_cell
            if best[0] > 0.0 and ops:
                # Monotone in s, as in _best: what does not fit just above the bar cannot clear it.
                w, h = _focus_extent(ops, res, beside, per_row, best[0] + 0.5, m, aspect)
                if w > width - 2 * m.margin or h > height - 2 * m.margin:
                    continue
            lo = largest_fit(lambda x, beside=beside, per_row=per_row: _focus_extent(ops, res, beside, per_row,
                                                                                      x, m, aspect),
                             width - 2 * m.margin, height - 2 * m.margin, hi)
            if lo > best[0] + 0.5:  # clearly bigger: otherwise keep the earlier (beside, one row)
                best = (lo, beside, per_row)
            if not ops:
                return best
    return best


def digit_of_font(font_px: float) -> float:
    """Digit height (px) of numbers drawn at font size ``font_px``: views draw whole pixel sizes,
    and the bold condensed "0" is ~0.75 of them less half a pixel (measured from 14 to 40 px:
    22 → 16, 28 → 21, 30 → 22), a little under :data:`DIGIT_HEIGHT_EM`."""
    return 0.75 * math.floor(font_px) - 0.5


def _digits_px(items: Sequence[FlowItem], s: float, aspects: Mapping[str, float]) -> float:
    """Digit height of the smallest numbers among ``items`` at cells ``s`` high (inf: no numbers)."""
    fonts = [it.font_px(s, aspects.get(it.tensor, 1.0)) for it in items if it.em3]
    return digit_of_font(min(fonts)) if fonts else math.inf


def _arrange(ops: Sequence[FlowItem], res: FlowItem, width: float, height: float,
             m: Metrics) -> tuple[float, bool, int, dict[str, float], float]:
    """(cell px, beside, per_row, aspects, digit px) of the focus of ``ops`` → ``res``: of square
    cells widened into the room left, and of cells each as wide as its own numbers want, the one
    whose smallest numbers are the biggest (square on a tie: bigger colour cells). Cached: the
    band search asks for the same pages at the same sizes many times (items are frozen)."""
    s, beside, per_row, aspects, digits = _arrange_cached(tuple(ops), res, float(width), float(height), m)
    return s, beside, per_row, dict(aspects), digits


@functools.lru_cache(maxsize=4096)
def _arrange_cached(ops: tuple[FlowItem, ...], res: FlowItem, width: float, height: float,
                    m: Metrics) -> tuple[float, bool, int, tuple, float]:
    s, beside, per_row, aspects, digits = _arrange_once(ops, res, width, height, m)
    return s, beside, per_row, tuple(aspects.items()), digits


def _arrange_once(ops: Sequence[FlowItem], res: FlowItem, width: float, height: float,
                  m: Metrics) -> tuple[float, bool, int, dict[str, float], float]:
    s, beside, per_row = _focus_best(ops, res, width, height, m)
    s = max(s, m.min_cell)
    aspects = _focus_aspect(ops, res, beside, per_row, s, width, m)
    square = (s, beside, per_row, aspects, _digits_px((res, *ops), s, aspects))
    wanted = {it.tensor: item_aspect(it) for it in (res, *ops)}
    if max(wanted.values()) <= 1.0:
        return square
    ws, wb, wp = _focus_best(ops, res, width, height, m, wanted)
    ws = max(ws, m.min_cell)
    wide = (ws, wb, wp, wanted, _digits_px((res, *ops), ws, wanted))
    return wide if wide[4] > square[4] + 0.25 else square


def _readable(ops: Sequence[FlowItem], res: FlowItem, width: float, height: float, digit_px: float,
              m: Metrics) -> bool:
    return _arrange(ops, res, width, height, m)[4] >= digit_px - 1e-6


def lead_count(res: FlowItem) -> int:
    """How many leading slices (batches, heads) a page can show one at a time: the size of the
    result's first axis where it is drawn as small multiples of more than one, else 0."""
    if len(res.shape) < 3 or len(res.tiles) < 2 or not res.tiles[0].lead:
        return 0
    return int(res.shape[0])


def _at_lead(it: FlowItem, lead: int | None, count: int) -> FlowItem:
    """``it`` with only its slices at leading index ``lead`` where its first axis is the result's
    (``count`` long, drawn as small multiples); else ``it`` whole."""
    if lead is None or len(it.shape) < 3 or int(it.shape[0]) != count or not it.tiles[0].lead:
        return it
    tiles = tuple(t for t in it.tiles if t.lead[0] == lead)
    per_row = min(len(tiles), 4)
    return dataclasses.replace(it, tiles=tiles, grid=(math.ceil(len(tiles) / per_row), per_row))


def page_items(graph: FlowGraph, column: int, page: FocusPage) -> tuple[list[FlowItem], FlowItem]:
    """The operand items and the result item that ``page`` of column ``column`` draws."""
    if page.target is None:
        ops, res = focus_items(graph, column)
    else:
        ops, res = [graph.item(n) for n in page.operands], graph.item(page.target)
    count = lead_count(res)
    keep = set(page.operands)
    ops = [_at_lead(o, page.lead, count) for o in ops if o.tensor in keep]
    if not page.result and len(ops) == 1:
        return [], ops[0]  # an operand alone, placed where the result would be
    return ops, _at_lead(res, page.lead, count)


def step_pages(graph: FlowGraph, column: int, reads: Sequence[str], target: str, width: float, height: float,
               digit_px: float = 16.0, m: Metrics = Metrics()) -> tuple[FocusPage, ...]:
    """The focus pages of one step of column ``column`` that makes ``target`` from ``reads``:
    :func:`focus_pages` of those tensors (the ones the canvas draws, in the order given) instead
    of the line's operands and result. How an ``mha`` line's heads get on screen: its weights step
    shows ``a.scores`` → ``a.weights``, every head."""
    drawn = [n for n in dict.fromkeys(reads) if n != target and graph.drawn(n)]
    return focus_pages(graph, column, width, height, digit_px, m, reads=tuple(drawn), target=target)


def focus_pages(graph: FlowGraph, column: int, width: float, height: float, digit_px: float = 16.0,
                m: Metrics = Metrics(), *, reads: tuple[str, ...] | None = None,
                target: str | None = None) -> tuple[FocusPage, ...]:
    """Column ``column``'s focus as pages (:class:`FocusPage`), each drawn with the result, so
    that every number has ``digit_px`` digits where that can be had (a lecturer steps through
    them as a slide's builds):

    1. one page of every operand and slice, where that is readable;
    2. else, for a result of several batches or heads, one page per leading index with every
       operand (batch 0 of ``weights @ V``, then batch 1), where each of those is readable;
    3. else pages of consecutive operands (text order), each as many as stay readable, and any
       of those still not readable split per leading index as in 2 where that reads better (an
       operand not readable even alone gets a page of its own: the nearest to readable there is);
    4. a page still not readable whose result and operands each are readable alone becomes the
       result's page and a build page per operand (``result=False``), after all the result pages.

    With ``target``, the pages of ``reads`` → ``target`` instead (see :func:`step_pages`).
    """
    if target is None:
        ops, res = focus_items(graph, column)
    else:
        ops, res = [graph.item(n) for n in reads], graph.item(target)
    names = tuple(o.tensor for o in ops)

    new_page = functools.partial(FocusPage, target=target)  # every page of this call has the target
    if _readable(ops, res, width, height, digit_px, m):
        return (new_page(names),)
    count = lead_count(res)

    def readable(page: FocusPage) -> bool:
        return _readable(*page_items(graph, column, page), width, height, digit_px, m)

    def digits(page: FocusPage) -> float:
        return _arrange(*page_items(graph, column, page), width, height, m)[4]

    if count > 1:
        by_lead = tuple(new_page(names, k) for k in range(count))
        if all(readable(p) for p in by_lead):
            return by_lead
    groups: list[list[str]] = []
    for name in names:
        if groups and readable(new_page((*groups[-1], name))):
            groups[-1].append(name)
        else:
            groups.append([name])
    if not groups:
        groups = [[]]
    pages: list[FocusPage] = []
    for g in groups:
        whole = new_page(tuple(g))
        split = tuple(new_page(tuple(g), k) for k in range(count)) if count > 1 else ()
        if split and not readable(whole) and min(digits(p) for p in split) > digits(whole) + 0.25:
            pages.extend(split)
        else:
            pages.append(whole)
    kept: list[FocusPage] = []
    builds: list[FocusPage] = []
    for page in pages:
        alone = [new_page((o,), page.lead, result=False) for o in page.operands]
        bare = new_page((), page.lead)
        if page.operands and not readable(page) and readable(bare) and all(readable(a) for a in alone):
            if bare not in kept:
                kept.append(bare)
            builds.extend(a for a in alone if a not in builds)
        else:
            kept.append(page)
    return tuple(kept + builds)


def place_focus(graph: FlowGraph, column: int, x: float, y: float, width: float, height: float,
                m: Metrics = Metrics(), *, digit_px: float = 16.0, page: int = 0,
                pages: tuple[FocusPage, ...] | None = None) -> Focus:
    """The :class:`Focus` of column ``column`` in the area (x, y, width, height): page ``page``
    (clamped) of its :func:`focus_pages` (``pages``, when the caller has them already)."""
    if pages is None:
        pages = focus_pages(graph, column, width, height, digit_px, m)
    page = max(0, min(int(page), len(pages) - 1))
    ops, res = page_items(graph, column, pages[page])
    s, beside, per_row, a, _digits = _arrange(ops, res, width, height, m)
    total_w, total_h = _focus_extent(ops, res, beside, per_row, s, m, a)
    ox = x + max(0.0, (width - total_w) / 2.0)
    oy = y + min(max(0.0, (height - total_h) / 2.0), 10.0)  # near the overview it belongs to
    tiles: dict[str, Rect] = {}
    items: dict[str, Rect] = {}
    label = (ox, oy, max(total_w, min(width, 360.0)), m.label_h)
    if label[2] > total_w:  # a narrow focus still gets a label wide enough for its text
        label = (x + (width - label[2]) / 2.0, oy, label[2], m.label_h)
    top = oy + m.label_h
    arrow = None
    rw, rh = res.width(s, m, _asp(a, res)), res.height(s, m)
    if not ops:
        _put(res, ox, top, s, m, tiles, items, a)
    else:
        gw, gh, cells = _grid(ops, per_row, s, m, a)
        if beside:
            body = max(gh, rh)
            gy = top + (body - gh) / 2.0
            for it, dx, dy in cells:
                _put(it, ox + dx, gy + dy, s, m, tiles, items, a)
            rx, ry = ox + gw + FOCUS_ARROW, top + (body - rh) / 2.0
            _put(res, rx, ry, s, m, tiles, items, a)
            mid = top + body / 2.0
            arrow = (ox + gw + 6.0, mid, rx - 6.0, mid)
        else:
            body_w = max(gw, rw)
            gx = ox + (body_w - gw) / 2.0
            for it, dx, dy in cells:
                _put(it, gx + dx, top + dy, s, m, tiles, items, a)
            rx, ry = ox + (body_w - rw) / 2.0, top + gh + FOCUS_ARROW * 0.6
            _put(res, rx, ry, s, m, tiles, items, a)
            cx = ox + body_w / 2.0
            arrow = (cx, top + gh + 4.0, cx, ry - 4.0)
    return Focus(column, s, tiles, items, label, arrow, beside, per_row, dict(a), tuple(pages), page)


def _line_fit(graph: FlowGraph, column: int, width: float, height: float, digit_px: float,
              m: Metrics) -> tuple[float, int]:
    """(readability, pages) of column ``column``'s focus in ``width`` × ``height``: the smallest
    digit height over its pages per ``digit_px`` (at most 1; 1 for a line without numbers) and
    how many pages it takes."""
    pages = focus_pages(graph, column, width, height, digit_px, m)
    worst = 1.0
    for page in pages:
        digits = _arrange(*page_items(graph, column, page), width, height, m)[4]
        worst = min(worst, digits / digit_px)
    return worst, len(pages)


def graph_key(graph: FlowGraph) -> tuple:
    """What a layout of ``graph`` depends on, hashable: each column's line, operands and the
    items it places (names, shapes, grids, number widths)."""
    def item(it: FlowItem) -> tuple:
        return it.tensor, it.shape, it.grid, it.text_em, it.text_em3, it.chip, tuple(it.tiles)

    return tuple((c.line, c.operands, item(c.result), tuple(item(i) for i in c.inputs)) for c in graph.columns)


#: Bands chosen lately, by (graph_key, size, digits, metrics): re-running a program (an edit that
#: keeps its shapes, a lesson opened again) finds its band at once. The search costs ~0.5 s of the
#: GUI thread for the transformer block at seq 4096 (19 overview placements, each a size search).
_BANDS: dict[tuple, tuple[float, bool]] = {}
_BANDS_KEPT = 32


def choose_band(graph: FlowGraph, width: float, height: float, digit_px: float = 16.0,
                m: Metrics = Metrics(), om: Metrics = OVERVIEW) -> tuple[float, bool]:
    """(height, chips) of the overview band for this canvas: one band for every line of the
    program, so the overview never moves while the line in play changes (remembered per graph
    and size: see :data:`_BANDS`).

    Every band height of :data:`OVERVIEW_FRACTIONS`, with inputs drawn as tensors or as name chips,
    is tried. Among the bands that leave every page of every line's focus with ``digit_px`` digits
    (:func:`focus_pages`), those whose overview cells are big enough to see
    (:data:`OVERVIEW_MIN_CELL`) come first, then the one that needs the fewest pages, then has the
    biggest overview cells, wins (tensors preferred to chips unless chips get cells a third
    bigger; the lines alone, :data:`LINES_ONLY`, only where no band with inputs is readable).
    Where none does, the one whose least readable focus is the most readable, then whose lines are
    the most readable on average (a line no band makes readable must not decide alone).
    """
    n = len(graph.columns)
    if n <= 1:
        return 0.0, False  # one line: the focus is the whole program, an overview would repeat it
    key = (graph_key(graph), float(width), float(height), float(digit_px), m, om)
    band = _BANDS.get(key)
    if band is None:
        if len(_BANDS) >= _BANDS_KEPT:
            _BANDS.clear()
        band = _BANDS[key] = _choose_band(graph, width, height, digit_px, m, om)
    return band


def warm_band(tl, width: float, height: float, digit_px: float = 16.0, m: Metrics = Metrics()) -> None:
    """Choose the overview band of program timeline ``tl`` for a canvas of this size now, so the
    canvas finds it in :data:`_BANDS` when it shows the run. Qt-free: the run worker calls it
    before it hands a run over, which takes the band search (0.14 s idle, ~0.4 s while a
    progressive run computes, for the transformer block at seq 4096) off the GUI thread."""
    choose_band(build_graph(tl), float(width), float(height), float(digit_px), m)


def _choose_band(graph: FlowGraph, width: float, height: float, digit_px: float, m: Metrics,
                 om: Metrics) -> tuple[float, bool]:
    n = len(graph.columns)
    focus_cache: dict[float, tuple[float, float, int]] = {}

    def fit_for(rest: float) -> tuple[float, float, int]:
        key = round(rest, 1)
        if key not in focus_cache:
            fits = [_line_fit(graph, i, width, rest, digit_px, m) for i in range(n)]
            focus_cache[key] = (min(f[0] for f in fits), sum(f[0] for f in fits) / n, sum(f[1] for f in fits))
        return focus_cache[key]

    cands = []
    for chips in (False, True, LINES_ONLY):
        if chips == LINES_ONLY and any(c[0] >= 1.0 - 1e-6 for c in cands):
            break  # a band with inputs is readable: the lines alone cannot win (and cost ~0.1 s)
        og = overview_graph(graph, chips)
        for frac in (LINES_FRACTIONS if chips == LINES_ONLY else OVERVIEW_FRACTIONS):
            ov = place(og, width, height * frac, om, top=True)
            if ov.height > height * frac + 0.5 and ov.cell_px <= om.min_cell + 1e-6:
                continue  # even its smallest cells overflow the band into the focus
            band = min(height * frac, ov.height)
            worst, mean, pages = fit_for(height - focus_top(band))
            looks = min(ov.cell_px, 24.0) * {False: 1.0, True: 0.75, LINES_ONLY: 0.25}[chips]
            cands.append((worst, ov.cell_px, looks, -band, chips, band, -pages, mean))
    readable = [c for c in cands if c[0] >= 1.0 - 1e-6]
    if readable:
        useful = [c for c in readable if c[1] >= OVERVIEW_MIN_CELL] or readable
        # (The lines alone are among them only where no band with inputs is: see the loop.)
        best = max(useful, key=lambda c: (c[6], c[2], c[3]))
    else:
        # Readable numbers in the focus come before overview cells big enough to tell colours
        # apart: an 8-row operand at 1024×768 needs nearly all the height.
        best = max(cands, key=lambda c: (round(min(c[0], 1.0), 2), c[1] >= OVERVIEW_MIN_CELL,
                                         round(c[7], 2), c[6], c[2], c[3]))
    return best[5], best[4]


def layout(graph: FlowGraph, width: float, height: float, active: int, *,
           band: tuple[float, bool] | None = None, digit_px: float = 16.0, m: Metrics = Metrics(),
           om: Metrics = OVERVIEW, page: int = 0,
           pages: tuple[FocusPage, ...] | None = None) -> FlowLayout:
    """The overview of every column in the top band (``band``: (height, chips), default
    :func:`choose_band`) and page ``page`` of the focus of column ``active`` below it (of
    ``pages``, its :func:`focus_pages`, when the caller has them)."""
    if band is None:
        band = choose_band(graph, width, height, digit_px, m, om)
    height_o, chips = band
    ov = (place(overview_graph(graph, chips), width, height_o, om, top=True) if height_o > 0
          else Placement(0.0, {}, {}, {}, (), 0, 0))  # no overview: a one-line program (choose_band)
    y0 = focus_top(height_o)
    if graph.columns:
        focus = place_focus(graph, max(0, min(active, len(graph.columns) - 1)), 0.0, y0, width,
                            max(1.0, height - y0), m, digit_px=digit_px, page=page, pages=pages)
    else:
        focus = Focus(0, 0.0, {}, {}, (0.0, 0.0, 0.0, 0.0), None, True, 1)
    return FlowLayout(ov, focus, height_o, chips)
