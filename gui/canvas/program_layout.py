"""The data flow of a program, as plain data: which tensors to draw, where, and how big.

Nothing here touches Qt, so the layout can be tested (and reasoned about) without widgets.
:func:`build_graph` reads a :class:`~compute.program.timeline.ProgramTimeline` into a
:class:`FlowGraph`: one :class:`FlowColumn` per program line, in program order, holding the
line's result and the program inputs it is the first to read (so inputs sit above the line that
uses them first, and the flow runs from the inputs to the result). :func:`place` then sizes the
cells from the space the canvas has: it tries every way of wrapping the columns into rows (and
of stacking a column's inputs), and keeps the one that gives the biggest cells. When even the
best arrangement of the whole program leaves cells too small to carry readable numbers, the
columns are split into *pages* that do, and the canvas shows the page of the line in play
(ARCHITECTURE.md §9: size cells from the space the canvas has, never from a fixed cell size).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np

#: A 3-D/4-D tensor with at most this many 2-D slices is drawn as small multiples (every head,
#: every batch at once); more slices get one view with a slice selector.
MAX_MULTIPLES = 8
#: Slices bigger than this a side are never repeated as small multiples (one would not fit).
MAX_MULTIPLE_SIDE = 64
#: Cells at least this big carry numbers with digits of ~16 px (HeatmapView sizes its font to
#: 0.42 of the cell height and 0.9 of its width over the text's length).
READABLE_CELL_PX = 40.0


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
    max_cell: float = 96.0


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


@dataclass(frozen=True)
class FlowItem:
    """One tensor on the canvas: its tiles laid out as a ``grid`` (rows, cols) of small multiples."""

    tensor: str
    shape: tuple[int, ...]
    tiles: tuple[Tile, ...]
    grid: tuple[int, int] = (1, 1)
    line: str | None = None  # the line that writes it (None: a program input)
    chars: int = 0  # longest number its cells show (3 significant digits); 0: no numbers

    def readable_px(self, digit_px: float = 16.0) -> float:
        """The cell size at which HeatmapView draws this item's numbers with ``digit_px`` digits
        (its font is 0.42 of the cell height and at most 0.9 of the width over 0.62 em a char)."""
        if not self.chars:
            return 0.0
        return max(digit_px / 0.42, digit_px * 0.62 * self.chars / 0.9)

    def width(self, s: float, m: Metrics) -> float:
        t = self.tiles[0]
        one = m.pad * t.cols * s + m.view_dx + (m.colorbar_dx if t.colorbar else 0.0)
        return self.grid[1] * one + (self.grid[1] - 1) * m.tile_gap

    def height(self, s: float, m: Metrics) -> float:
        t = self.tiles[0]
        one = m.pad * t.rows * s + m.view_dy + (m.selector_dy if t.selector else 0.0)
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
    """Every column in program order; ``items`` by tensor name; ``column_of`` tensor → column index."""

    columns: tuple[FlowColumn, ...]
    items: dict[str, FlowItem] = field(default_factory=dict)
    column_of: dict[str, int] = field(default_factory=dict)

    @property
    def tiles(self) -> list[Tile]:
        return [t for item in self.items.values() for t in item.tiles]


Rect = tuple[float, float, float, float]  # x, y, width, height in pixels


@dataclass(frozen=True)
class Placement:
    """Where everything goes for one canvas size.

    Attributes
    ----------
    cell_px : the cell size every view is given (the same for all, so rows line up).
    tiles : tile key → rect; only tiles on the page shown.
    items : tensor → rect around its tiles; labels : line → rect of its text.
    columns : indices of the columns shown; pages : every page (tuple of column indices).
    wrap : columns per row; stack : sub-columns a column's inputs are stacked in.
    """

    cell_px: float
    tiles: dict[str, Rect]
    items: dict[str, Rect]
    labels: dict[str, Rect]
    columns: tuple[int, ...]
    pages: tuple[tuple[int, ...], ...]
    wrap: int
    stack: int

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
              max_multiples: int = MAX_MULTIPLES, chars: int = 0) -> FlowItem:
    """The item of one tensor: one tile for ≤ 2-D, small multiples of its 2-D slices for 3-D/4-D
    tensors with few enough slices, else one tile with a slice selector."""
    shape = tuple(int(s) for s in shape)
    rows, cols = _slice_dims(shape)
    # Numbers say more than a colour bar; the bar is only worth its width where cells go unlabelled.
    colorbar = rows * cols > 16 * 16
    lead_shape = shape[:-2]
    count = math.prod(lead_shape) if lead_shape else 1
    if len(shape) <= 2:
        return FlowItem(tensor, shape, (Tile(tensor, tensor, (), rows, cols, colorbar=colorbar),), (1, 1), line, chars)
    if len(shape) <= 4 and 0 < count <= max_multiples and max(rows, cols) <= MAX_MULTIPLE_SIDE:
        if len(shape) == 4:
            grid = lead_shape
        else:
            per_row = count if count <= 4 else 4
            grid = (math.ceil(count / per_row), per_row)
        leads = [tuple(int(i) for i in idx) for idx in _indices(lead_shape)]
        tiles = tuple(Tile(lead_key(tensor, ld), tensor, ld, rows, cols, colorbar=colorbar) for ld in leads)
        return FlowItem(tensor, shape, tiles, (int(grid[0]), int(grid[1])), line, chars)
    return FlowItem(tensor, shape, (Tile(tensor, tensor, (), rows, cols, selector=True, colorbar=colorbar),),
                    (1, 1), line, chars)


def number_chars(values, limit: int = 16 * 16) -> int:
    """Length of the longest 3-significant-digit number in ``values`` when its 2-D slices are
    small enough to carry numbers (0 otherwise, or when nothing is finite)."""
    from opscope.compute.numbers import fmt  # noqa: PLC0415 - Qt-free, compute side

    a = np.asarray(values)
    rows, cols = _slice_dims(a.shape)
    if rows * cols > limit or a.size == 0 or a.size > 64 * limit or a.dtype.kind not in "biuf":
        return 0
    flat = a.reshape(-1)
    texts = [fmt(float(v), 3) for v in flat if math.isfinite(float(v))]
    if any(math.isinf(float(v)) for v in flat):
        texts.append("-inf")
    return max((len(t) for t in texts), default=0)


def _indices(shape: tuple[int, ...]):
    if not shape:
        yield ()
        return
    for i in range(shape[0]):
        for rest in _indices(shape[1:]):
            yield (i,) + rest


def build_graph(tl, *, max_multiples: int = MAX_MULTIPLES) -> FlowGraph:
    """The :class:`FlowGraph` of program timeline ``tl``: every line's result and every program
    input (scalars included) that a line reads. A line's operator-internal tensors (``a.scores``
    of an ``mha`` line, ``scores.B`` for ``K.T``) are left to the single-operation canvas."""
    from opscope.compute.program.parse import walk_names  # noqa: PLC0415 - Qt-free, compute side

    inputs = set(tl.input_names)
    lines = {p.name for p in tl.lines}
    by_line = {ln.name: ln for ln in tl.program.lines}
    placed: set[str] = set()
    written: set[str] = set()
    columns, items, column_of = [], {}, {}
    # Numbers are measured on the final values: the widest text a cell will ever need to hold.
    finals = {**tl.inputs(), **tl.result()}
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
                                 chars=number_chars(finals[name]) if name in finals else 0)
                items[name] = item
                column_of[name] = i
                new_inputs.append(item)
        result = make_item(part.name, tl.shape(part.name), part.name, max_multiples=max_multiples,
                           chars=number_chars(finals[part.name]))
        items[part.name] = result
        column_of[part.name] = i
        written.add(part.name)
        columns.append(FlowColumn(part.name, part.text, result, tuple(new_inputs), tuple(operands)))
    return FlowGraph(tuple(columns), items, column_of)


# --- placing --------------------------------------------------------------------------------------
def _grid(items: Sequence[FlowItem], per_row: int, s: float, m: Metrics):
    """(width, height, [(item, dx, dy)]) of ``items`` laid row-major, ``per_row`` to a row."""
    per_row = max(1, min(per_row, len(items)))
    rows = [items[i:i + per_row] for i in range(0, len(items), per_row)]
    col_w = [0.0] * per_row
    for row in rows:
        for j, it in enumerate(row):
            col_w[j] = max(col_w[j], it.width(s, m))
    out, y = [], 0.0
    for row in rows:
        h = max(it.height(s, m) for it in row)
        x = 0.0
        for j, it in enumerate(row):
            out.append((it, x + (col_w[j] - it.width(s, m)) / 2.0, y + (h - it.height(s, m))))
            x += col_w[j] + m.gap
        y += h + m.gap
    width = sum(col_w) + m.gap * (per_row - 1)
    return width, y - m.gap, out


def _extent(cols: Sequence[FlowColumn], wrap: int, stack: int, s: float, m: Metrics) -> tuple[float, float]:
    """Total (width, height) of ``cols`` wrapped ``wrap`` to a row at cell size ``s``."""
    width = height = 0.0
    rows = [cols[i:i + wrap] for i in range(0, len(cols), wrap)]
    for row in rows:
        w = 0.0
        h_in = h_res = 0.0
        for c in row:
            iw, ih, _ = _grid(c.inputs, stack, s, m) if c.inputs else (0.0, 0.0, [])
            w += max(iw, c.result.width(s, m), m.label_min_w)
            h_in = max(h_in, ih + m.gap if c.inputs else 0.0)
            h_res = max(h_res, c.result.height(s, m))
        width = max(width, w + m.gap * (len(row) - 1))
        height += h_in + m.label_h + h_res
    height += m.gap * (len(rows) - 1)
    return width + 2 * m.margin, height + 2 * m.margin


def _best(cols: Sequence[FlowColumn], width: float, height: float, m: Metrics) -> tuple[float, int, int]:
    """(cell px, wrap, stack) of the arrangement of ``cols`` with the biggest cells that fits."""
    best = (0.0, len(cols), 1)
    most_inputs = max((len(c.inputs) for c in cols), default=0)
    for wrap in range(1, len(cols) + 1):
        if wrap < len(cols) and math.ceil(len(cols) / wrap) == math.ceil(len(cols) / (wrap + 1)):
            continue  # same number of rows as a wider wrap: never better balanced, skip it
        for stack in range(1, max(1, min(3, most_inputs)) + 1):
            lo, hi = 0.0, m.max_cell
            if _extent(cols, wrap, stack, m.min_cell, m)[0] > width * 4:
                continue
            for _ in range(24):  # extents grow with s: bisect the largest s that fits
                mid = (lo + hi) / 2.0
                w, h = _extent(cols, wrap, stack, mid, m)
                if w <= width and h <= height:
                    lo = mid
                else:
                    hi = mid
            if lo > best[0] + 1e-6:
                best = (lo, wrap, stack)
    return best


def needed_px(cols: Sequence[FlowColumn], digit_px: float, m: Metrics = Metrics()) -> float:
    """The cell size at which every number of ``cols`` has ``digit_px`` digits (at most
    ``m.max_cell``; at least :data:`READABLE_CELL_PX` scaled to ``digit_px``)."""
    need = READABLE_CELL_PX * digit_px / 16.0
    for c in cols:
        for it in (c.result, *c.inputs):
            need = max(need, it.readable_px(digit_px))
    return min(need, m.max_cell)


def paginate(graph: FlowGraph, width: float, height: float, m: Metrics = Metrics(),
             digit_px: float = 16.0) -> tuple[tuple[int, ...], ...]:
    """Consecutive runs of columns, each as long as its numbers keep ``digit_px`` digits (one page
    holding every column when the whole program is readable; a column alone when even it is not)."""
    cols = graph.columns
    n = len(cols)
    if n == 0:
        return ((),)

    def ok(a: int, b: int) -> bool:
        return _best(cols[a:b], width, height, m)[0] >= needed_px(cols[a:b], digit_px, m) - 1e-6

    if ok(0, n):
        return (tuple(range(n)),)
    pages, start = [], 0
    while start < n:
        end = start + 1
        while end < n and ok(start, end + 1):
            end += 1
        pages.append(tuple(range(start, end)))
        start = end
    return tuple(pages)


def place(graph: FlowGraph, width: float, height: float, m: Metrics = Metrics(), *,
          page: Sequence[int] | None = None, pages: Sequence[Sequence[int]] | None = None) -> Placement:
    """Rects for the columns ``page`` (default: all) in a ``width`` × ``height`` canvas."""
    indices = tuple(range(len(graph.columns))) if page is None else tuple(page)
    cols = [graph.columns[i] for i in indices]
    pages = tuple(tuple(p) for p in pages) if pages is not None else (indices,)
    if not cols:
        return Placement(0.0, {}, {}, {}, indices, pages, 1, 1)
    s, wrap, stack = _best(cols, width, height, m)
    s = max(s, m.min_cell)
    total_w, total_h = _extent(cols, wrap, stack, s, m)
    ox = max(0.0, (width - total_w) / 2.0) + m.margin
    y = max(0.0, (height - total_h) / 2.0) + m.margin
    tiles: dict[str, Rect] = {}
    items: dict[str, Rect] = {}
    labels: dict[str, Rect] = {}

    def put(item: FlowItem, x: float, y0: float) -> None:
        gr, gc = item.grid
        tw = (item.width(s, m) - (gc - 1) * m.tile_gap) / gc
        th = (item.height(s, m) - (gr - 1) * m.tile_gap) / gr
        for k, tile in enumerate(item.tiles):
            r, c = divmod(k, item.grid[1])
            tiles[tile.key] = (x + c * (tw + m.tile_gap), y0 + r * (th + m.tile_gap), tw, th)
        items[item.tensor] = (x, y0, item.width(s, m), item.height(s, m))

    for r0 in range(0, len(cols), wrap):
        row = cols[r0:r0 + wrap]
        grids = [(_grid(c.inputs, stack, s, m) if c.inputs else (0.0, 0.0, [])) for c in row]
        h_in = max((g[1] + m.gap for c, g in zip(row, grids) if c.inputs), default=0.0)
        h_res = max(c.result.height(s, m) for c in row)
        x = ox
        for c, (iw, ih, cells) in zip(row, grids):
            cw = max(iw, c.result.width(s, m), m.label_min_w)
            # Inputs hang just above their line's label, so short stacks do not float far from it.
            top = y + h_in - (ih + m.gap if c.inputs else 0.0)
            for it, dx, dy in cells:
                put(it, x + (cw - iw) / 2.0 + dx, top + dy)
            labels[c.line] = (x, y + h_in, cw, m.label_h)
            put(c.result, x + (cw - c.result.width(s, m)) / 2.0, y + h_in + m.label_h)
            x += cw + m.gap
        y += h_in + m.label_h + h_res + m.gap
    return Placement(s, tiles, items, labels, indices, pages, wrap, stack)
