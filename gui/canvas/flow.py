"""Flow pages: an operation's stages as a row of views sized to the canvas, paged when it must.

A layout that draws a chain of stages (attention: Q Kᵀ → scaled → masked → weights → result; a
normalization pipeline; multi-head attention) describes it with :class:`FlowBuilder`: *pieces*
(one tensor each: one view, or small multiples of its 2-D slices, every head and every batch
element at once, as the program canvas draws them) and *stages* (the piece a stage writes, the
pieces it reads placed before it or above it, the sign before it).

:func:`place` is plain arithmetic, no Qt: it wraps a page's columns into lines every possible
way and keeps the arrangement with the biggest cells, cells wider than tall where the numbers
need the width. :func:`paginate` keeps the whole chain on one page when its numbers stay
readable (digits of ``digit_px``), else splits it into runs of stages that are, each with the
pieces it reads; a stage alone that still is not readable drops its context. The
:class:`FlowPanel` shows the page of the stage in play, so geometry changes only between pages,
never between the steps of one page (ARCHITECTURE.md §9: size cells from the space there is).
"""

from __future__ import annotations

import itertools
import math
from dataclasses import dataclass, field

from PySide6.QtCore import QSize
from PySide6.QtGui import QFontMetricsF
from PySide6.QtWidgets import QLabel, QWidget

from ..heatmap import LABEL_HEIGHT_SHARE, MAX_LABEL_PX, label_font
from .board import sign_label

#: A 3-D/4-D tensor with at most this many 2-D slices is drawn as small multiples.
MAX_MULTIPLES = 8
#: Slices bigger than this a side are never repeated as small multiples.
MAX_MULTIPLE_SIDE = 32
#: Widest cell, as a multiple of its height.
MAX_ASPECT = 2.6


def digit_target(width: float, height: float) -> float:
    """The digit height (px) a canvas of ``width`` × ``height`` should give numbers: 16 px on a
    1024×768 projector, 22 px on 1920×1080 (the canvas about 1920×900), in between by size."""
    return max(16.0, min(22.0, 22.0 * min(width / 1920.0, height / 900.0)))


@dataclass(frozen=True)
class Chrome:
    """Pixels a view needs besides its cells (title, index axes, margins, frame) and the gaps."""

    view_dx: float = 50.0
    view_dy: float = 80.0
    selector_dy: float = 34.0
    pad: float = 1.04
    gap: float = 10.0
    tile_gap: float = 4.0
    sign_w: float = 92.0
    margin: float = 6.0
    max_cell: float = 200.0


@dataclass(frozen=True)
class Piece:
    """One tensor of the flow: ``keys`` of its views (one, or its small multiples in a ``grid``),
    each showing ``rows`` × ``cols`` cells; ``ratio`` is the width of its widest number per pixel
    of font size (0: its cells carry no numbers)."""

    name: str
    keys: tuple[str, ...]
    leads: tuple[tuple[int, ...], ...]
    rows: int
    cols: int
    grid: tuple[int, int] = (1, 1)
    ratio: float = 0.0
    selector: bool = False

    def width(self, sw: float, c: Chrome) -> float:
        one = c.pad * self.cols * sw + c.view_dx
        return self.grid[1] * one + (self.grid[1] - 1) * c.tile_gap

    def height(self, sh: float, c: Chrome) -> float:
        one = c.pad * self.rows * sh + c.view_dy + (c.selector_dy if self.selector else 0.0)
        return self.grid[0] * one + (self.grid[0] - 1) * c.tile_gap


@dataclass(frozen=True)
class Stage:
    """A stage writing piece ``out``, reading ``left`` (placed before it) and ``top`` (above it,
    columns aligned as on a blackboard), with ``sign`` drawn before it."""

    out: str
    left: tuple[str, ...] = ()
    top: str | None = None
    sign: str = ""


@dataclass(frozen=True)
class Column:
    """Pieces stacked in one column, with the sign before it ("" for none)."""

    pieces: tuple[str, ...]
    sign: str = ""


@dataclass(frozen=True)
class Page:
    """The stages ``stages`` (indices) drawn as ``columns``."""

    stages: tuple[int, ...]
    columns: tuple[Column, ...]


@dataclass(frozen=True)
class Placement:
    """Rects (x, y, w, h) of every view key and sign of one page, and the cell size (w, h) px."""

    cell: tuple[float, float]
    views: dict = field(default_factory=dict)
    signs: list = field(default_factory=list)
    font_px: float = 0.0


def page_columns(pieces: dict, stages: list[Stage], chosen: tuple[int, ...], context: str = "full") -> Page:
    """The columns of a page holding stages ``chosen``: each stage's reads (``context``: "full"
    both, "top" only the one above, "none" neither) not placed yet, then the stage's column."""
    placed: set[str] = set()
    cols: list[Column] = []
    for i in chosen:
        st = stages[i]
        if context == "full":
            for name in st.left:
                if name in pieces and name not in placed:
                    cols.append(Column((name,), ""))
                    placed.add(name)
        top = st.top if context in ("full", "top") and st.top in pieces and st.top not in placed else None
        stack = (top, st.out) if top else (st.out,)
        placed.update(stack)
        cols.append(Column(stack, st.sign if cols else ""))
    return Page(tuple(chosen), tuple(cols))


def _aspect(pieces: dict, page: Page) -> float:
    ratio = max((pieces[n].ratio for col in page.columns for n in col.pieces), default=0.0)
    if ratio <= 0:
        return 1.0
    return max(1.0, min(MAX_ASPECT, LABEL_HEIGHT_SHARE * ratio / 0.88))


def _extent(pieces: dict, lines, sh: float, a: float, c: Chrome) -> tuple[float, float]:
    width = height = 0.0
    for line in lines:
        w = 0.0
        h = 0.0
        for k, col in enumerate(line):
            if k and col.sign:
                w += c.sign_w
            w += max(pieces[n].width(sh * a, c) for n in col.pieces) + (c.gap if k else 0.0)
            h = max(h, sum(pieces[n].height(sh, c) for n in col.pieces) + c.gap * (len(col.pieces) - 1))
        width = max(width, w)
        height += h
    height += c.gap * (len(lines) - 1)
    return width + 2 * c.margin, height + 2 * c.margin


def _splits(n: int, most: int = 4):
    """Every way of cutting ``n`` columns into at most ``most`` consecutive lines."""
    for k in range(0, min(most, n) ):
        for cuts in itertools.combinations(range(1, n), k):
            yield (0, *cuts, n)


def best_cell(pieces: dict, page: Page, width: float, height: float, c: Chrome = Chrome()):
    """(cell height px, aspect, lines) of the arrangement of ``page`` with the biggest cells."""
    a = _aspect(pieces, page)
    cols = page.columns
    best = (0.0, a, (cols,))
    for cuts in _splits(len(cols)):
        lines = tuple(cols[cuts[i]:cuts[i + 1]] for i in range(len(cuts) - 1))
        lo, hi = 0.0, c.max_cell
        if _extent(pieces, lines, 1.0, a, c)[0] > width or _extent(pieces, lines, 1.0, a, c)[1] > height:
            continue
        if _extent(pieces, lines, best[0], a, c)[0] > width or _extent(pieces, lines, best[0], a, c)[1] > height:
            continue  # cannot beat the best so far
        for _ in range(22):
            mid = (lo + hi) / 2.0
            w, h = _extent(pieces, lines, mid, a, c)
            if w <= width and h <= height:
                lo = mid
            else:
                hi = mid
        if lo > best[0] + 1e-6:
            best = (lo, a, lines)
    return best


def digit_px_for(pieces: dict, page: Page, sh: float, a: float, digit_ratio: float) -> float:
    """The smallest digit height (px) the page's numbers get with cells of ``sh`` × ``a·sh``."""
    need = [pieces[n].ratio for col in page.columns for n in col.pieces if pieces[n].ratio > 0]
    if not need:
        return math.inf
    font = min(sh * LABEL_HEIGHT_SHARE, a * sh * 0.88 / max(need), MAX_LABEL_PX)
    return font * digit_ratio


def paginate(pieces: dict, stages: list[Stage], width: float, height: float, digit_px: float,
             digit_ratio: float, c: Chrome = Chrome()) -> tuple[Page, ...]:
    """Pages of consecutive stages whose numbers keep ``digit_px`` digits: one page when the whole
    chain does; a stage alone (with fewer of its reads, if need be) when nothing more fits."""
    n = len(stages)

    def readable(page: Page) -> bool:
        sh, a, _lines = best_cell(pieces, page, width, height, c)
        return digit_px_for(pieces, page, sh, a, digit_ratio) >= digit_px - 1e-6

    whole = page_columns(pieces, stages, tuple(range(n)))
    if n == 0 or readable(whole):
        return (whole,)
    pages, start = [], 0
    while start < n:
        end = start + 1
        while end < n and readable(page_columns(pieces, stages, tuple(range(start, end + 1)))):
            end += 1
        chosen = tuple(range(start, end))
        page = page_columns(pieces, stages, chosen)
        if len(chosen) == 1 and not readable(page):
            for context in ("top", "none"):
                page = page_columns(pieces, stages, chosen, context)
                if readable(page):
                    break
        pages.append(page)
        start = end
    return tuple(pages)


def place(pieces: dict, page: Page, width: float, height: float, c: Chrome = Chrome()) -> Placement:
    """Rects for ``page`` in a ``width`` × ``height`` panel, centred, with the biggest cells."""
    sh, a, lines = best_cell(pieces, page, width, height, c)
    sh = max(sh, 4.0)
    sw = sh * a
    total_w, total_h = _extent(pieces, lines, sh, a, c)
    y = max(0.0, (height - total_h) / 2.0) + c.margin
    views: dict = {}
    signs: list = []
    for line in lines:
        line_w, _ = _extent(pieces, (line,), sh, a, c)
        x = max(0.0, (width - line_w) / 2.0) + c.margin
        line_h = max(sum(pieces[n].height(sh, c) for n in col.pieces) + c.gap * (len(col.pieces) - 1)
                     for col in line)
        for k, col in enumerate(line):
            if k:
                x += c.gap
                if col.sign:
                    signs.append((col.sign, (x, y, c.sign_w, line_h)))
                    x += c.sign_w
            col_w = max(pieces[n].width(sw, c) for n in col.pieces)
            col_h = sum(pieces[n].height(sh, c) for n in col.pieces) + c.gap * (len(col.pieces) - 1)
            py = y + (line_h - col_h)  # bottom-aligned: outputs of one line share a baseline
            for name in col.pieces:
                p = pieces[name]
                pw, ph = p.width(sw, c), p.height(sh, c)
                px = x + (col_w - pw) / 2.0
                gr, gc = p.grid
                tw = (pw - (gc - 1) * c.tile_gap) / gc
                th = (ph - (gr - 1) * c.tile_gap) / gr
                for idx, key in enumerate(p.keys):
                    r, q = divmod(idx, gc)
                    views[key] = (px + q * (tw + c.tile_gap), py + r * (th + c.tile_gap), tw, th)
                py += ph + c.gap
            x += col_w
        y += line_h + c.gap
    return Placement((sw, sh), views, signs)


def _digit_ratio() -> float:
    font = label_font()
    font.setPixelSize(100)
    return QFontMetricsF(font).tightBoundingRect("0").height() / 100.0


class FlowPanel(QWidget):
    """The views of a flow, positioned by :func:`place` for the page of the stage in play.

    Parameters
    ----------
    pieces : name -> :class:`Piece`; stages : the chain, in order; views : view key -> HeatmapView
        (re-parented here); digit_px : callable ``(width, height) -> digit height`` the pages are
        sized for.
    """

    def __init__(self, pieces: dict, stages: list[Stage], views: dict, digit_px, parent=None):
        super().__init__(parent)
        self.setObjectName("opscopeFlow")
        self.pieces = dict(pieces)
        self.stages = list(stages)
        self.views = dict(views)
        self.digit_px = digit_px
        self.chrome = Chrome()
        self._digit_ratio = _digit_ratio()
        self._pages: tuple[Page, ...] = ()
        self._pages_for: tuple = ()
        self._page = 0
        self._joint: Page | None = None
        self._signs: list[QLabel] = []
        self.placement: Placement | None = None
        for view in self.views.values():
            view.setParent(self)
            view.setMinimumSize(1, 1)
        self._stage_of = {st.out: i for i, st in enumerate(self.stages)}

    def sizeHint(self) -> QSize:  # noqa: N802 - Qt API
        return QSize(400, 300)

    def minimumSizeHint(self) -> QSize:  # noqa: N802 - Qt API
        return QSize(100, 80)

    @property
    def pages(self) -> tuple[Page, ...]:
        """The pages for the panel's current size."""
        self._ensure_pages()
        return self._pages

    @property
    def page_index(self) -> int:
        return self._page

    def _ensure_pages(self) -> None:
        w, h = float(max(1, self.width())), float(max(1, self.height()))
        target = float(self.digit_px(w, h))
        if self._pages_for != (w, h, target):
            self._pages = paginate(self.pieces, self.stages, w, h, target, self._digit_ratio, self.chrome)
            self._pages_for = (w, h, target)
            self._page = min(self._page, len(self._pages) - 1)
            if self._page < 0 and self._joint is None:
                self._page = 0
            self.placement = None

    def show_step(self, step) -> None:
        """Show the page of the stage ``step`` writes (the first page before any is written; the
        same page while the step's stage is on it)."""
        self._ensure_pages()
        written = set()
        if step is not None:
            written = {r.tensor for r in step.regions if r.kind == "write"}
        stages = sorted({self._stage_of[t] for t in written if t in self._stage_of})
        page = self._page
        current = self._shown_page()
        if stages and not set(stages) <= set(current.stages):
            homes = {k for k, p in enumerate(self._pages) for i in stages if i in p.stages}
            if len(homes) == 1:
                page = homes.pop()
            else:
                # One step writes stages of several pages (mha's projection writes Q, K and V at
                # once): all of them with what they read when that is readable, else the first.
                joint = page_columns(self.pieces, self.stages, tuple(stages))
                if self._readable(joint):
                    if joint != self._joint:
                        self._joint = joint
                        self.placement = None
                    page = -1
                else:
                    page = min(homes)
        elif not stages and step is not None and getattr(step, "index", 1) == 0:
            page = 0
        if page != self._page or self.placement is None:
            self._page = page
            self.relayout()

    def _readable(self, page: Page) -> bool:
        w, h = float(max(1, self.width())), float(max(1, self.height()))
        sh, a, _lines = best_cell(self.pieces, page, w, h, self.chrome)
        return digit_px_for(self.pieces, page, sh, a, self._digit_ratio) >= float(self.digit_px(w, h)) - 1e-6

    def _shown_page(self) -> Page:
        if self._page < 0 and self._joint is not None:
            return self._joint
        return self._pages[max(0, self._page)]

    def resizeEvent(self, event) -> None:  # noqa: N802 - Qt API
        super().resizeEvent(event)
        self.relayout()

    def relayout(self) -> None:
        """Place the page shown (views, signs, cell sizes) for the panel's size."""
        self._ensure_pages()
        if not self._pages:
            return
        page = self._shown_page()
        p = place(self.pieces, page, float(max(1, self.width())), float(max(1, self.height())), self.chrome)
        self.placement = p
        sw, sh = p.cell
        for key, view in self.views.items():
            rect = p.views.get(key)
            if rect is None:
                view.hide()
                continue
            x, y, w, h = rect
            view.setGeometry(int(round(x)), int(round(y)), int(math.floor(w)), int(math.floor(h)))
            view.set_cell_cap(sh, aspect=sw / sh)
            view.show()
        for label in self._signs:
            label.deleteLater()
        self._signs = []
        for text, (x, y, w, h) in p.signs:
            label = sign_label(text)
            label.setParent(self)
            label.setGeometry(int(x), int(y), int(w), int(h))
            label.show()
            self._signs.append(label)


class FlowBuilder:
    """Describes a flow on a board (see the module docstring), then places it as one panel."""

    def __init__(self, board, digit_px=None):
        self.board = board
        self.digit_px = digit_px or digit_target
        self.pieces: dict[str, Piece] = {}
        self.stages: list[Stage] = []
        self._views: dict = {}

    def piece(self, tensor: str, *, transpose: bool = False, title: str | None = None,
              lead_names: tuple[str, ...] = (), multiples: bool = True, colorbar: bool = True) -> Piece | None:
        """Add tensor ``tensor`` (skipped when the run has none): small multiples of its 2-D slices
        when it has at most :data:`MAX_MULTIPLES` small ones, else one view (with a selector when
        it has leading axes)."""
        from .board import ViewSpec, display_shape  # noqa: PLC0415 - same package, avoids a cycle at import

        board = self.board
        if not board.has(tensor):
            return None
        shape = board.shape(tensor)
        rows, cols = display_shape(shape, transpose)
        lead_shape = shape[:-2] if len(shape) > 2 else ()
        count = math.prod(lead_shape) if lead_shape else 1
        ratio = number_ratio(board.tl, tensor)
        small = count <= MAX_MULTIPLES and max(rows, cols) <= MAX_MULTIPLE_SIDE
        if lead_shape and multiples and len(shape) <= 4 and small:
            leads = tuple(itertools.product(*(range(s) for s in lead_shape)))
            if len(lead_shape) == 2:
                grid = (int(lead_shape[0]), int(lead_shape[1]))
            else:
                grid = (1, count) if count <= 4 else (math.ceil(count / 4), 4)
            names = list(lead_names)[-len(lead_shape):] if lead_names else []
            keys = []
            for lead in leads:
                key = f"{tensor}[{','.join(str(i) for i in lead)}]"
                label = ", ".join(f"{n} {i}" for n, i in zip(names, lead)) if names else ""
                sym = tensor + ("ᵀ" if transpose else "")
                head = f"<b>{sym}</b>[{','.join(str(i) for i in lead)}]"
                spec = ViewSpec(key=key, tensor=tensor, transpose=transpose, colorbar=colorbar,
                                title=head + (f" <span style='color:#666'>{label}</span>" if label else ""),
                                lead=tuple(int(i) for i in lead))
                self._views[key] = board._add_view(spec)
                keys.append(key)
            p = Piece(tensor, tuple(keys), leads, rows, cols, grid, ratio)
        else:
            spec = ViewSpec(key=tensor, tensor=tensor, transpose=transpose, colorbar=colorbar, title=title,
                            lead_names=lead_names)
            self._views[tensor] = board._add_view(spec)
            p = Piece(tensor, (tensor,), ((),), rows, cols, (1, 1), ratio, selector=bool(lead_shape))
        self.pieces[tensor] = p
        return p

    def stage(self, out: str, *, left: tuple[str, ...] = (), top: str | None = None, sign: str = "") -> None:
        """A stage writing ``out`` (skipped when it is not a piece)."""
        if out in self.pieces:
            self.stages.append(Stage(out, tuple(n for n in left if n in self.pieces),
                                     top if top in self.pieces else None, sign))

    def finish(self, row: int = 0, col: int = 0, rowspan: int = 1, colspan: int = 1) -> FlowPanel:
        """Put the panel on the board; it follows the step in play (a frame hook)."""
        panel = FlowPanel(self.pieces, self.stages, self._views, self.digit_px)
        self.board.widget_at(panel, row, col, rowspan, colspan, row_weight=10.0, col_weight=10.0)
        self.board.flow_keys.update(self._views)
        self.board.flows.append(panel)
        self.board.on_frame(lambda frame: panel.show_step(frame.step))
        return panel


def number_ratio(tl, tensor: str, limit: int = 4096) -> float:
    """Width of the widest 3-significant-digit number ``tensor`` holds at the run's last step, per
    pixel of font size (0 when it is too big to carry numbers)."""
    from ..heatmap import LABEL_CELL_LIMIT, label_text, text_ratio  # noqa: PLC0415

    shape = tuple(tl.shape(tensor))
    rows, cols = (1, 1) if not shape else (1, shape[0]) if len(shape) == 1 else shape[-2:]
    size = math.prod(shape) if shape else 1
    if rows * cols > LABEL_CELL_LIMIT or size > limit or len(tl) == 0:
        return 0.0
    try:
        import numpy as np  # noqa: PLC0415

        values = np.asarray(tl.tensor_at(tensor, len(tl) - 1), dtype=float).reshape(-1)
    except Exception:  # noqa: BLE001 - a tensor the timeline cannot give yet: assume wide numbers
        return text_ratio(["−0.000"])
    return text_ratio(label_text(v) for v in values if math.isfinite(v)) if values.size else 0.0
