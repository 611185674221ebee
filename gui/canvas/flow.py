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

import functools
import itertools
import math
from dataclasses import dataclass, field

from PySide6.QtCore import QSize
from PySide6.QtGui import QFontMetricsF
from PySide6.QtWidgets import QHBoxLayout, QLabel, QToolButton, QWidget

from ..heatmap import LABEL_HEIGHT_SHARE, MAX_LABEL_PX, MIN_LABEL_PX, label_font, label_font_px
from .board import sign_label
from .pages import StepPages

#: A 3-D/4-D tensor with at most this many 2-D slices is drawn as small multiples.
MAX_MULTIPLES = 8
#: Slices bigger than this a side are never repeated as small multiples.
MAX_MULTIPLE_SIDE = 32
#: Widest cell, as a multiple of its height.
MAX_ASPECT = 2.6


#: The projector floor for digits (1024×768); a stage may keep its operands down to
#: ``NEAR_DIGIT_PX`` under a bigger canvas' target, never under this.
MIN_READABLE_DIGIT_PX = 16.0
NEAR_DIGIT_PX = 3.0


def digit_target(width: float, height: float) -> float:
    """The digit height (px) a canvas of ``width`` × ``height`` should give numbers: 16 px on a
    1024×768 projector, 22 px on 1920×1080 (where presentation mode leaves the canvas about
    1920×740–830, under the lesson's title and above its caption), in between by size."""
    return max(16.0, min(22.0, 22.0 * min(width / 1920.0, height / 740.0)))


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

    def tiles(self, flip: bool = False) -> tuple[int, int]:
        """(rows, columns) of small multiples: :attr:`grid`, or its transpose when ``flip`` (heads
        stacked in a column beside the operands they come from, rather than in a row)."""
        return (self.grid[1], self.grid[0]) if flip else self.grid

    def linear(self, a: float, c: Chrome, flip: bool = False) -> tuple[float, float, float, float]:
        """(width slope, width constant, height slope, height constant) in the cell height ``sh``:
        the piece is ``ws·sh + wc`` wide and ``hs·sh + hc`` tall with cells of ``a·sh`` × ``sh``."""
        gr, gc = self.tiles(flip)
        ws = gc * c.pad * self.cols * a
        wc = gc * c.view_dx + (gc - 1) * c.tile_gap
        hs = gr * c.pad * self.rows
        hc = gr * (c.view_dy + (c.selector_dy if self.selector else 0.0)) + (gr - 1) * c.tile_gap
        return ws, wc, hs, hc

    def width(self, sw: float, c: Chrome, flip: bool = False) -> float:
        gr, gc = self.tiles(flip)
        return gc * (c.pad * self.cols * sw + c.view_dx) + (gc - 1) * c.tile_gap

    def height(self, sh: float, c: Chrome, flip: bool = False) -> float:
        gr, gc = self.tiles(flip)
        one = c.pad * self.rows * sh + c.view_dy + (c.selector_dy if self.selector else 0.0)
        return gr * one + (gr - 1) * c.tile_gap


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
    #: Whether a stage's group (its reads, then it) starts here: lines wrap only there, so an
    #: operand is never left at the end of one line while the stage it feeds opens the next.
    opens: bool = True


@dataclass(frozen=True)
class Page:
    """The stages ``stages`` (indices) drawn as ``columns``; ``context`` says which of their reads
    it holds ("full": all, "top": only those above a stage, "some": some, "none": none)."""

    stages: tuple[int, ...]
    columns: tuple[Column, ...]
    context: str = "full"


@dataclass(frozen=True)
class Placement:
    """Rects (x, y, w, h) of every view key and sign of one page, and the cell size (w, h) px."""

    cell: tuple[float, float]
    views: dict = field(default_factory=dict)
    signs: list = field(default_factory=list)
    font_px: float = 0.0
    #: view key -> (w, h) px of its cells (columns keep their own width).
    cells: dict = field(default_factory=dict)


@dataclass(frozen=True)
class Arrangement:
    """How a page is drawn: its columns cut into ``lines``, multiples flipped or not, cells of
    ``sh`` px tall and ``aspect``·``sh`` wide."""

    sh: float
    aspect: float
    lines: tuple
    flip: bool = False


def page_columns(pieces: dict, stages: list[Stage], chosen: tuple[int, ...], context: str = "full",
                 drop: tuple[str, ...] = ()) -> Page:
    """The columns of a page holding stages ``chosen``: each stage's reads (``context``: "full"
    both, "top" only the one above, "none" neither; never those in ``drop``) not placed yet, then
    the stage's column."""
    placed: set[str] = set()
    cols: list[Column] = []
    for i in chosen:
        st = stages[i]
        first = len(cols)
        if context == "full":
            for name in st.left:
                if name in pieces and name not in placed and name not in drop:
                    cols.append(Column((name,), "", opens=len(cols) == first))
                    placed.add(name)
        top = st.top if (context in ("full", "top") and st.top in pieces and st.top not in placed
                         and st.top not in drop) else None
        stack = (top, st.out) if top else (st.out,)
        placed.update(stack)
        cols.append(Column(stack, st.sign if cols else "", opens=len(cols) == first))
    return Page(tuple(chosen), tuple(cols), context if not drop else "some")


def fallbacks(pieces: dict, stages: list[Stage], i: int, shown: frozenset = frozenset()):
    """Pages of stage ``i`` alone with fewer of its reads, most kept first, down to none. Reads the
    page before already ``shown`` go first (the audience just saw them: ``concat`` before
    ``@ W_o``); then later-listed ones (a product keeps its left operand before the one above)."""
    st = stages[i]
    reads = [n for n in (*st.left, st.top) if n and n in pieces]
    reads.sort(key=lambda n: n in shown)  # stable: the unseen first, in their order
    for k in range(1, len(reads)):
        for kept in itertools.combinations(reads, len(reads) - k):
            yield page_columns(pieces, stages, (i,), "full", tuple(n for n in reads if n not in kept))
    yield page_columns(pieces, stages, (i,), "none")


def piece_aspect(piece: Piece) -> float:
    """Width over height of the cells ``piece``'s numbers need (1 without numbers), at most
    :data:`MAX_ASPECT`."""
    if piece.ratio <= 0:
        return 1.0
    return max(1.0, min(MAX_ASPECT, LABEL_HEIGHT_SHARE * piece.ratio / 0.88))


def column_aspects(pieces: dict, page: Page) -> tuple[float, ...]:
    """One cell aspect per column of ``page``: the widest its pieces need. Rows share one cell
    height across the page (rows line up); columns keep their own width, so a matrix of short
    numbers is not drawn with the cells of its widest neighbour."""
    return tuple(max(piece_aspect(pieces[n]) for n in col.pieces) for col in page.columns)


def _aspect(pieces: dict, page: Page) -> float:
    return max(column_aspects(pieces, page), default=1.0)


#: Most lines a page's columns are wrapped into (more would make a page a column of thin strips).
MAX_LINES = 3


def _splits(columns, most: int = MAX_LINES, grouped: bool = False):
    """Every way of cutting ``columns`` into at most ``most`` consecutive lines (``grouped``: only
    where a stage's group opens); bounded: at most 1 + m + C(m, 2) ways for m places to cut."""
    n = len(columns)
    places = [k for k in range(1, n) if columns[k].opens or not grouped]
    for k in range(0, min(most, len(places) + 1)):
        for cuts in itertools.combinations(places, k):
            yield (0, *cuts, n)


class _Model:
    """A page's extent as plain linear functions of the cell height, so one arrangement is checked
    in a few dozen float operations (the search tries each wrapping and each orientation)."""

    def __init__(self, pieces: dict, page: Page, c: Chrome, flip: bool):
        self.c = c
        self.cols = []
        for col, a in zip(page.columns, column_aspects(pieces, page)):
            lins = [pieces[n].linear(a, c, flip) for n in col.pieces]
            gaps = c.gap * (len(col.pieces) - 1)
            hs = sum(t[2] for t in lins)
            hc = sum(t[3] for t in lins) + gaps
            self.cols.append(([(t[0], t[1]) for t in lins], hs, hc, c.sign_w if col.sign else 0.0))

    def extent(self, cuts, sh: float) -> tuple[float, float]:
        c = self.c
        width = 0.0
        height = c.gap * (len(cuts) - 2) + 2 * c.margin
        for i in range(len(cuts) - 1):
            w = h = 0.0
            for k in range(cuts[i], cuts[i + 1]):
                ws, hs, hc, sign = self.cols[k]
                if k > cuts[i]:
                    w += c.gap + sign
                w += max(s * sh + q for s, q in ws)
                h = max(h, hs * sh + hc)
            width = max(width, w)
            height += h
        return width + 2 * c.margin, height

    def biggest(self, cuts, width: float, height: float, hi: float) -> float:
        """The biggest cell height (px, to 0.1) that fits arrangement ``cuts`` (0 when none does)."""
        w, h = self.extent(cuts, 1.0)
        if w > width or h > height:
            return 0.0
        lo = 1.0
        while hi - lo > 0.1:
            mid = (lo + hi) / 2.0
            w, h = self.extent(cuts, mid)
            if w <= width and h <= height:
                lo = mid
            else:
                hi = mid
        return lo


def _flips(pieces: dict, page: Page) -> tuple[bool, ...]:
    many = any(pieces[n].grid[0] != pieces[n].grid[1] for col in page.columns for n in col.pieces)
    return (False, True) if many else (False,)


@functools.lru_cache(maxsize=512)
def _best_cached(items: tuple, page: Page, width: float, height: float, c: Chrome, min_sh: float) -> Arrangement:
    # Lines cut between stages first (an operand stays beside the stage it feeds); cuts inside a
    # stage's group only when those cannot give the cells the numbers need (``min_sh``).
    grouped = _search(dict(items), page, width, height, c, True)
    if grouped.sh >= min_sh > 0 or (min_sh <= 0 and grouped.sh > 0):
        return grouped
    loose = _search(dict(items), page, width, height, c, False)
    return loose if loose.sh > grouped.sh else grouped


def _search(pieces: dict, page: Page, width: float, height: float, c: Chrome, grouped: bool) -> Arrangement:
    a = _aspect(pieces, page)
    best = Arrangement(0.0, a, (page.columns,), False)
    for flip in _flips(pieces, page):
        model = _Model(pieces, page, c, flip)
        for cuts in _splits(page.columns, grouped=grouped):
            # Cheap rejection first: an arrangement that cannot hold the best cells so far is skipped.
            if best.sh > 0:
                w, h = model.extent(cuts, best.sh + 0.1)
                if w > width or h > height:
                    continue
            sh = model.biggest(cuts, width, height, c.max_cell)
            if sh > best.sh + 1e-6:
                lines = tuple(page.columns[cuts[i]:cuts[i + 1]] for i in range(len(cuts) - 1))
                best = Arrangement(sh, a, lines, flip)
    return best


def _items(pieces: dict, page: Page) -> tuple:
    return tuple(sorted((n, pieces[n]) for col in page.columns for n in col.pieces))


def best_arrangement(pieces: dict, page: Page, width: float, height: float, c: Chrome = Chrome(),
                     min_sh: float = 0.0) -> Arrangement:
    """The arrangement of ``page`` (wrapping into at most :data:`MAX_LINES` lines, multiples in
    rows or in columns) with the biggest cells, lines cut between stages unless that leaves cells
    under ``min_sh``. Cached per (pieces, page, size): a page change and a new run of the same
    shape at the same size search nothing."""
    return _best_cached(_items(pieces, page), page, float(width), float(height), c, round(float(min_sh), 2))


def needed_sh(pieces: dict, page: Page, digit_px: float, digit_ratio: float) -> float:
    """The cell height (px) that gives ``page``'s numbers digits of ``digit_px`` (0: no numbers)."""
    shares = [min(LABEL_HEIGHT_SHARE, ca * 0.88 / pieces[n].ratio)
              for col, ca in zip(page.columns, column_aspects(pieces, page)) for n in col.pieces
              if pieces[n].ratio > 0]
    if not shares or digit_px <= 0:
        return 0.0
    # Fonts are set in whole pixels (digit_ratio is measured at the size that reaches the floor)
    # and a view's frame takes a little more than the chrome model says: half a percent more cell.
    return math.ceil(digit_px / digit_ratio - 1e-6) / min(shares) * 1.005


def best_cell(pieces: dict, page: Page, width: float, height: float, c: Chrome = Chrome()):
    """(cell height px, aspect, lines) of :func:`best_arrangement`."""
    arr = best_arrangement(pieces, page, width, height, c)
    return arr.sh, arr.aspect, arr.lines


def digit_px_for(pieces: dict, page: Page, sh: float, a: float, digit_ratio: float) -> float:
    """The smallest digit height (px) the page's numbers get with cells ``sh`` tall (each column
    as wide as :func:`column_aspects` says; ``a`` is kept for callers and unused)."""
    fonts = [min(sh * LABEL_HEIGHT_SHARE, ca * sh * 0.88 / pieces[n].ratio, MAX_LABEL_PX)
             for col, ca in zip(page.columns, column_aspects(pieces, page)) for n in col.pieces
             if pieces[n].ratio > 0]
    return min(fonts) * digit_ratio if fonts else math.inf


def fits_readable(pieces: dict, page: Page, width: float, height: float, digit_px: float, digit_ratio: float,
                  c: Chrome = Chrome()) -> bool:
    """Whether some arrangement of ``page`` gives its numbers digits of ``digit_px``: checked at the
    one cell size that gives exactly those digits, one extent per arrangement, no search."""
    sh = needed_sh(pieces, page, digit_px, digit_ratio)
    if sh <= 0:
        return best_arrangement(pieces, page, width, height, c).sh > 0
    if math.ceil(digit_px / digit_ratio - 1e-6) > MAX_LABEL_PX or sh > c.max_cell:
        return False
    return _fits_cached(_items(pieces, page), page, float(width), float(height), c, round(sh, 2))


@functools.lru_cache(maxsize=1024)
def _fits_cached(items: tuple, page: Page, width: float, height: float, c: Chrome, sh: float) -> bool:
    pieces = dict(items)
    for flip in _flips(pieces, page):
        model = _Model(pieces, page, c, flip)
        for cuts in _splits(page.columns):
            w, h = model.extent(cuts, sh)
            if w <= width and h <= height:
                return True
    return False


def paginate(pieces: dict, stages: list[Stage], width: float, height: float, digit_px: float,
             digit_ratio: float, c: Chrome = Chrome()) -> tuple[Page, ...]:
    """Pages of consecutive stages, each with every operand its stages read, packed as full as
    their numbers allow at ``digit_px`` digits: one page when the whole chain fits; a stage with
    fewer of its reads only when even it alone does not fit with all of them, at digits up to
    :data:`NEAR_DIGIT_PX` smaller (not under :data:`MIN_READABLE_DIGIT_PX`). Cached per
    (pieces, stages, size, digits)."""
    return _paginate_cached(tuple(sorted(pieces.items())), tuple(stages), float(width), float(height),
                            float(digit_px), float(digit_ratio), c)


@functools.lru_cache(maxsize=256)
def _paginate_cached(items: tuple, stages: tuple, width: float, height: float, digit_px: float,
                     digit_ratio: float, c: Chrome) -> tuple[Page, ...]:
    pieces = dict(items)
    stages = list(stages)
    n = len(stages)

    def readable(page: Page) -> bool:
        return fits_readable(pieces, page, width, height, digit_px, digit_ratio, c)

    # A stage keeps what it reads at digits a little under the target rather than lose an
    # operand: mha's Q = X W_q at 1920×1080 misses 22 px digits by a few pixels of height, and
    # without W_q the caption's products cannot be checked. Never under the 16 px floor.
    near = max(MIN_READABLE_DIGIT_PX, digit_px - NEAR_DIGIT_PX)

    def nearly_readable(page: Page) -> bool:
        return near < digit_px and fits_readable(pieces, page, width, height, near, digit_ratio_for(near), c)

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
        extra: list[Page] = []
        if len(chosen) == 1 and not readable(page) and not nearly_readable(page):
            shown = frozenset(n for col in pages[-1].columns for n in col.pieces) if pages else frozenset()
            for page in fallbacks(pieces, stages, start, shown):
                if readable(page):
                    break
            extra = build_pages(pieces, stages, start, page, readable)
        pages.append(page)
        pages.extend(extra)
        start = end
    return tuple(pages)


def build_pages(pieces: dict, stages: list[Stage], i: int, page: Page, readable) -> list[Page]:
    """Pages that show what stage ``i``'s ``page`` had to leave out, one operand each, as a
    slide's builds after it (the clicker's next walks them): the operand with the stage's result
    where that is ``readable``, else the operand alone where that is, else with the result
    anyway. Without them, mha's scores = Q Kᵀ at 1024×768 never showed K."""
    st = stages[i]
    reads = [n for n in (*st.left, st.top) if n and n in pieces]
    kept = {n for col in page.columns for n in col.pieces}
    out = []
    for r in reads:
        if r in kept:
            continue
        with_out = page_columns(pieces, stages, (i,), "full", tuple(n for n in reads if n != r))
        if readable(with_out):
            out.append(with_out)
            continue
        alone = Page((i,), (Column((r,)),), "some")
        out.append(alone if readable(alone) else with_out)
    return out


def place(pieces: dict, page: Page, width: float, height: float, c: Chrome = Chrome(),
          min_sh: float = 0.0) -> Placement:
    """Rects for ``page`` in a ``width`` × ``height`` panel, centred, with the biggest cells (lines
    cut between stages where cells of ``min_sh`` still fit that way)."""
    arr = best_arrangement(pieces, page, width, height, c, min_sh)
    sh = max(arr.sh, 4.0)
    lines, flip = arr.lines, arr.flip
    aspect = dict(zip(page.columns, column_aspects(pieces, page)))

    def col_h(col):
        return sum(pieces[n].height(sh, c, flip) for n in col.pieces) + c.gap * (len(col.pieces) - 1)

    def line_w(line):
        w = 0.0
        for k, col in enumerate(line):
            if k:
                w += c.gap + (c.sign_w if col.sign else 0.0)
            w += max(pieces[n].width(sh * aspect[col], c, flip) for n in col.pieces)
        return w

    total_h = sum(max(col_h(col) for col in line) for line in lines) + c.gap * (len(lines) - 1) + 2 * c.margin
    y = max(0.0, (height - total_h) / 2.0) + c.margin
    views: dict = {}
    cells: dict = {}
    signs: list = []
    for li, line in enumerate(lines):
        x = max(0.0, (width - line_w(line) - 2 * c.margin) / 2.0) + c.margin
        lh = max(col_h(col) for col in line)
        for k, col in enumerate(line):
            if k:
                x += c.gap
                if col.sign:
                    signs.append((col.sign, (x, y, c.sign_w, lh)))
                    x += c.sign_w
            elif li and col.sign:
                # A wrapped line starts with a stage: its sign goes at the end of the line above,
                # so "softmax →" is still read before the tensor it makes.
                prev = lines[li - 1]
                px = max(0.0, (width - line_w(prev) - 2 * c.margin) / 2.0) + c.margin + line_w(prev)
                ph = max(col_h(cl) for cl in prev)
                if px + c.gap + c.sign_w <= width:
                    signs.append((col.sign, (px + c.gap, y - c.gap - ph, c.sign_w, ph)))
            sw = sh * aspect[col]
            cw = max(pieces[n].width(sw, c, flip) for n in col.pieces)
            py = y + (lh - col_h(col))  # bottom-aligned: outputs of one line share a baseline
            for name in col.pieces:
                p = pieces[name]
                pw, ph = p.width(sw, c, flip), p.height(sh, c, flip)
                px = x + (cw - pw) / 2.0
                gr, gc = p.tiles(flip)
                tw = (pw - (gc - 1) * c.tile_gap) / gc
                th = (ph - (gr - 1) * c.tile_gap) / gr
                for idx, key in enumerate(p.keys):
                    r, q = divmod(idx, gc)
                    views[key] = (px + q * (tw + c.tile_gap), py + r * (th + c.tile_gap), tw, th)
                    cells[key] = (sw, sh)
                py += ph + c.gap
            x += cw
        y += lh + c.gap
    return Placement((sh * arr.aspect, sh), views, signs, cells=cells)


def _digit_ratio() -> float:
    font = label_font()
    font.setPixelSize(100)
    return QFontMetricsF(font).tightBoundingRect("0").height() / 100.0


@functools.lru_cache(maxsize=64)
def digit_ratio_for(digit_px: float) -> float:
    """Digit height per pixel of font size at the smallest whole font size whose "0" is at least
    ``digit_px`` tall, measured (hinting makes small fonts' digits shorter than a big font's share)."""
    if digit_px <= 0:
        return _digit_ratio()
    font = label_font()
    for px in range(max(1, int(digit_px)), MAX_LABEL_PX + 1):
        font.setPixelSize(px)
        if QFontMetricsF(font).tightBoundingRect("0").height() >= digit_px - 1e-6:
            return digit_px / px
    return _digit_ratio()


class FlowPanel(StepPages, QWidget):
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
        self._sub: tuple[int, ...] = ()
        self._last_step = None
        self._sub_index = None  # the step the pages in _sub were chosen for
        self.placement: Placement | None = None
        self._bar = QWidget(self)
        bar = QHBoxLayout(self._bar)
        bar.setContentsMargins(6, 2, 6, 2)
        self._prev = QToolButton(text="◂")
        self._next = QToolButton(text="▸")
        self._bar_label = QLabel()
        self._bar_label.setStyleSheet("color: #555; font-size: 12pt;")
        for w in (self._prev, self._bar_label, self._next):
            bar.addWidget(w)
        self._prev.clicked.connect(self.previous_page)
        self._next.clicked.connect(self.next_page)
        self._bar.hide()
        for view in self.views.values():
            view.setParent(self)
            view.setMinimumSize(1, 1)
        self._stage_of = {st.out: i for i, st in enumerate(self.stages)}
        self._piece_of = {key: p.name for p in self.pieces.values() for key in p.keys}

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
            self._pages = paginate(self.pieces, self.stages, w, h, target, digit_ratio_for(target), self.chrome)
            self._pages_for = (w, h, target)
            self._sub = ()
            self._page = min(self._page, len(self._pages) - 1)
            if self._page < 0 and self._joint is None:
                self._page = 0
            self.placement = None

    def show_step(self, step) -> None:
        """Show the page of the stage ``step`` writes (the first page before any is written; the
        same page while the step's stage is on it).

        A step that writes stages of several pages (mha's projection writes Q, K and V at once)
        shows them on one page with what they read when that stays readable; else it gets one page
        per stage, the first shown, the others a :meth:`next_page` away (a slide's builds)."""
        self._ensure_pages()
        self._last_step = step
        written = set()
        if step is not None:
            written = {r.tensor for r in step.regions if r.kind == "write"}
        stages = sorted({self._stage_of[t] for t in written if t in self._stage_of})
        page = self._page
        current = self._shown_page()
        sub: tuple[int, ...] = ()
        index = getattr(step, "index", None)
        homes = sorted({k for k, p in enumerate(self._pages) for i in stages if i in p.stages})
        if stages and not set(stages) <= set(current.stages):
            if len(homes) == 1:
                page = homes[0]
            else:
                joint = page_columns(self.pieces, self.stages, tuple(stages))
                if self._readable(joint):
                    if joint != self._joint:
                        self._joint = joint
                        self.placement = None
                    page = -1
                else:
                    page = homes[0]
                    sub = tuple(homes)
        elif stages and len(homes) > 1 and self._page in homes:
            # On one of the pages of the step's stages (its builds included): the same step again
            # (a repaint, a resize) keeps its page; the next step of the stage starts at the first.
            sub = tuple(homes)
            if index is not None and index != self._sub_index:
                page = homes[0]
        elif not stages and step is not None and getattr(step, "index", 1) == 0:
            page = 0
        self._sub = sub
        self._sub_index = index
        if page != self._page or self.placement is None:
            self._page = page
            self.relayout()
        self._update_bar()

    def resizeEvent(self, event) -> None:  # noqa: N802 - Qt API
        super().resizeEvent(event)
        # New size, maybe new pages: the step in play picks its page (and its pages) again.
        self.show_step(self._last_step)

    def _show_page(self) -> None:
        self.relayout()
        self._update_bar()

    def _update_bar(self) -> None:
        """The "page 2 of 3 ▸" bar: only while the step in play spreads over several pages."""
        if not self._sub or self._page not in self._sub:
            self._bar.hide()
            return
        k = self._sub.index(self._page)
        names = ", ".join(self.stages[i].out for i in self._pages[self._page].stages)
        self._bar_label.setText(f"{names}: page {k + 1} of {len(self._sub)}")
        self._prev.setEnabled(k > 0)
        self._next.setEnabled(k < len(self._sub) - 1)
        self._bar.adjustSize()
        self._bar.move(max(0, self.width() - self._bar.width() - 4), 2)
        self._bar.show()
        self._bar.raise_()

    def _readable(self, page: Page) -> bool:
        w, h = float(max(1, self.width())), float(max(1, self.height()))
        target = float(self.digit_px(w, h))
        return fits_readable(self.pieces, page, w, h, target, digit_ratio_for(target), self.chrome)

    def _shown_page(self) -> Page:
        if self._page < 0 and self._joint is not None:
            return self._joint
        return self._pages[max(0, self._page)]

    def relayout(self) -> None:
        """Place the page shown (views, signs, cell sizes) for the panel's size."""
        self._ensure_pages()
        if not self._pages:
            return
        page = self._shown_page()
        w, h = float(max(1, self.width())), float(max(1, self.height()))
        target = float(self.digit_px(w, h))
        p = place(self.pieces, page, w, h, self.chrome, needed_sh(self.pieces, page, target, digit_ratio_for(target)))
        self.placement = p
        for key, view in self.views.items():
            rect = p.views.get(key)
            if rect is None:
                view.hide()
                continue
            sw, sh = p.cells.get(key, p.cell)
            x, y, w, h = rect
            view.setGeometry(int(round(x)), int(round(y)), int(math.floor(w)), int(math.floor(h)))
            view.set_cell_cap(sh, aspect=sw / sh)
            ratio = self.pieces[self._piece_of[key]].ratio
            # Where the cells are too small for numbers, colour alone carries the values: a key.
            view.set_key_needed(ratio <= 0 or label_font_px(sw, sh, ratio) < MIN_LABEL_PX)
            view.show()
        for label in self._signs:
            label.hide()  # gone from this paint on, not only once the deferred delete runs
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
