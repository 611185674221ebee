"""ProgramCanvas: a program drawn as a data flow, from its inputs to its result, step by step.

Same driving API as :class:`~gui.canvas.canvas.OperationCanvas`, so the window can swap one for
the other::

    canvas.set_timeline(tl)          # a ProgramTimeline: one column per line, views for its tensors
    frame = canvas.prepare_frame(n)  # any thread, no Qt: reads the timeline, returns a Frame
    canvas.apply_frame(frame)        # GUI thread, cheap: setImage, highlights, arrows
    canvas.show_step(n)              # both at once, synchronously

The canvas has two parts (:mod:`gui.canvas.program_layout`). The **overview** across the top
draws the whole program as a flow, every line a column: the inputs it reads first above it (as
small tensors, or as name chips where space is short), its text as a label, its result below,
arrows from each line's operands to it; its tensors are painted as bare cells (numbers where
they fit), the line in play framed in orange and its operands in blue. The **focus** below
draws the line in play big, as heatmap views with readable numbers: its operands, an arrow, its
result. A step that makes one of its line's internal tensors (the scores, weights and heads
of an ``mha`` line, a ``layernorm``'s mean and variance, a ``softmax``'s exp) is shown by what it
reads and makes instead, every head over its pages, so the numbers its caption quotes are on
screen; those views are made when first shown, and frames read only the internals on screen.
The overview's size depends only on the canvas' size, so it never moves; the focus changes only
when the line in play (or its page, or a step's own tensors) does. Lines not reached yet show
their tensors unwritten (grey: the timeline gives NaN before a line's first step). 3-D/4-D tensors show every head /
batch slice at once when they fit, else one slice with a selector. Frames come from the same
:func:`~gui.canvas.frame.prepare` as the operation canvas (one immutable
:class:`~gui.canvas.frame.Snapshot` per change), and views from the shared
:class:`~gui.canvas.pool.ViewPool`.
"""

from __future__ import annotations

import dataclasses
import functools
import html
import math
import re
from dataclasses import dataclass

import numpy as np
from opscope.compute import get_spec
from opscope.compute.numbers import fmt_shape
from PySide6.QtCore import QPointF, QRectF, Qt, QTimer, Signal
from PySide6.QtGui import QColor, QFont, QFontMetrics, QImage, QPainter, QPainterPath, QPen, QPolygonF
from PySide6.QtWidgets import QLabel, QSizePolicy, QWidget

from .. import colormaps as cm
from ..heatmap import ACTIVE_COLOR, READ_COLOR, TITLE_SIZE, HeatmapView, label_text
from . import program_layout as pl
from .canvas import DEFAULT_MAX_SHAPE, _same_array, follow_levels, use_board_palette
from .flow import digit_target
from .frame import Frame, Snapshot, ViewEntry, prepare
from .pages import StepPages
from .pool import shared_pool

EDGE_COLOR = QColor(120, 120, 120, 150)
PENDING_TEXT = "#a0a0a0"
OVERVIEW_BG = QColor(246, 247, 250)
#: Overview cells at least this big carry numbers (small, but a lecturer can point at them).
OVERVIEW_NUMBER_PX = 15.0
LABEL_STYLES = {
    "active": f"color: #111; background: #fff1e3; border: 3px solid {ACTIVE_COLOR}; border-radius: 6px;",
    "done": "color: #222; background: #f6f6f2; border: 1px solid #ccc; border-radius: 6px;",
    "pending": f"color: {PENDING_TEXT}; background: transparent; border: 1px dashed #ccc; border-radius: 6px;",
}

#: Titles of a product line's partials (as the operation canvas' strips); a narrow view keeps the
#: bold part (HeatmapView drops a title's grey span first), never the long "scores.running".
PARTIAL_TITLES = {"products": "<b>products</b> <span style='color:#666'>of the cell</span>",
                  "running": "<b>running</b> <span style='color:#666'>sum Σ</span>"}

_TITLE_FONT = QFont()
_TITLE_FONT.setPointSizeF(float(TITLE_SIZE.rstrip("pt")))


@dataclass(frozen=True)
class _SliceRegion:
    """A step region moved onto one 2-D slice (what a small-multiple view is given)."""

    tensor: str
    kind: str
    box: tuple


class ProgramCanvas(StepPages, QWidget):
    """The data flow of a :class:`~compute.program.timeline.ProgramTimeline` (see the module docstring).

    Parameters
    ----------
    parent : Qt parent.
    digit_px : the digit height the focus is sized for (default: :func:`gui.canvas.flow.digit_target`
        of the canvas' size: 16 px on a 1024×768 projector, 22 px on 1920×1080).

    Attributes
    ----------
    max_shape : (rows, cols) above which a slice is block-reduced before it reaches a view.

    Signals
    -------
    caption_changed(str) : the caption of the step just applied.
    save_requested(str) : a view's "Save tensor…" was chosen (the tensor's name).
    step_requested(int) : a line of the overview was clicked: its first step (the window seeks).
    """

    caption_changed = Signal(str)
    save_requested = Signal(str)
    step_requested = Signal(int)

    def __init__(self, parent: QWidget | None = None, *, digit_px: float | None = None):
        super().__init__(parent)
        self.max_shape = DEFAULT_MAX_SHAPE
        self._digit_px = None if digit_px is None else float(digit_px)
        self._page = 0  # the focus page shown (see program_layout.focus_pages)
        self._sub: tuple[int, ...] = ()  # the pages the step in play spreads over (next_page walks them)
        self._sub_index: int | None = None  # the step they were chosen for
        # ((reads, target), …) of the step in play where it makes its line's internals (a.weights):
        # the focus then shows that step's tensors (program_layout.step_pages); None: the line's.
        self._step_key: tuple[tuple[tuple[str, ...], str], ...] | None = None
        self._internal_shown: set[str] = set()  # view keys of internals whose entries are published
        self._entries_changed = False
        self._in_frame = False
        self._pages: dict[tuple, tuple[pl.FocusPage, ...]] = {}
        self._label_html: dict[str, str] = {}
        self.metrics = pl.Metrics()
        self._tl = None
        self._index = -1
        self._active_line: str | None = None
        self._snapshot = Snapshot()
        self._graph = pl.FlowGraph(())
        self._layout: pl.FlowLayout | None = None
        self._overview_graph = self._graph
        self._band: tuple[float, bool] = (0.0, False)
        self._band_for: tuple = ()
        self._frame: Frame | None = None
        self._images: dict[str, tuple[np.ndarray, QImage]] = {}
        self._views: dict[str, HeatmapView] = {}
        self._tiles: dict[str, pl.Tile] = {}
        self._labels: dict[str, QLabel] = {}
        self._states: dict[str, str] = {}
        self._entries: dict[str, ViewEntry] = {}
        self._relayout_timer = QTimer(self)
        self._relayout_timer.setSingleShot(True)
        self._relayout_timer.setInterval(0)
        self._relayout_timer.timeout.connect(self.relayout)
        use_board_palette(self)
        self.setSizePolicy(QSizePolicy.Policy.Expanding, QSizePolicy.Policy.Expanding)
        shared_pool().prewarm()

    # --- public API ----------------------------------------------------------------------------
    @property
    def digit_px(self) -> float:
        """The digit height (px) the focus is sized for at the canvas' size now."""
        if self._digit_px is not None:
            return self._digit_px
        return digit_target(float(max(1, self.width())), float(max(1, self.height())))

    @property
    def timeline(self):
        """The program timeline shown (None before :meth:`set_timeline`)."""
        return self._tl

    @property
    def current_index(self) -> int:
        """Index of the step shown now (-1 before any)."""
        return self._index

    @property
    def graph(self) -> pl.FlowGraph:
        """The data flow drawn (columns, items, tiles)."""
        return self._graph

    @property
    def flow_layout(self) -> pl.FlowLayout | None:
        """Where everything is now: the overview's placement, the focus and the band between."""
        return self._layout

    @property
    def views(self) -> dict[str, HeatmapView]:
        """View key → :class:`HeatmapView`: tensor names, ``"weights[1]"`` for small multiples."""
        return dict(self._views)

    def view(self, key: str) -> HeatmapView:
        """The view of ``key`` (a tensor name, or a slice key such as ``"weights[1]"``)."""
        if key not in self._views:
            raise KeyError(f"no view named {key!r}; views: {', '.join(self._views) or 'none'}")
        return self._views[key]

    def views_of(self, tensor: str) -> list[HeatmapView]:
        """Every view of ``tensor`` (its small multiples in order, or its one view)."""
        item = self._graph.items.get(tensor)
        return [] if item is None else [self._views[t.key] for t in item.tiles]

    def line_state(self, line: str) -> str:
        """``"done"``, ``"active"`` (the line in play) or ``"pending"`` (not reached yet)."""
        return self._states.get(line, "pending")

    def set_timeline(self, tl, show_first: bool = True) -> None:
        """Show a new program run: one column per line, views with the run's fixed levels; then
        (unless ``show_first`` is False) step 0 synchronously."""
        self._tl = tl
        self._index = -1
        self._active_line = None
        self._states = {}
        self._rebuild(tl)
        if len(tl) and show_first:
            self.show_step(0)

    def prepare_frame(self, n: int) -> Frame:
        """The frame of step ``n`` (clamped): thread-safe, makes no Qt calls."""
        return prepare(self._snapshot, n)

    def apply_frame(self, frame: Frame) -> None:
        """Show ``frame`` (GUI thread). Frames of another run are ignored."""
        tl = self._tl
        if tl is None or frame.run_id != tl.run_id:
            return
        step = frame.step
        part, _local = tl.locate(frame.index)
        active = part.name
        col = self._graph.column_of.get(active)
        operands = set(self._graph.columns[col].operands) if col is not None else set()
        regions = step.regions if step is not None else ()
        writes = tuple(dict.fromkeys(r.tensor for r in regions if r.kind == "write"))
        reads = tuple(dict.fromkeys(r.tensor for r in regions if r.kind == "read"))
        self._set_states(active)  # (relayout places the focus of the active line)
        if self._layout is not None and col is not None:
            page, sub, step_key = self._page_for(step, col, reads, writes)
            self._sub = sub
            if col != self._layout.focus.column or page != self._layout.focus.page or step_key != self._step_key:
                self._page, self._step_key = page, step_key
                if self._relayout_for_frame():
                    # Views of internals came on screen: the frame gets their arrays (only theirs,
                    # here on the GUI thread, as for a slice picked by hand), then is shown.
                    self.apply_frame(self._completed(frame))
                    return
        for key, view in self._views.items():
            a = frame.arrays.get(key)
            if a is None:
                continue
            tile = self._tiles[key]
            box = frame.boxes.get(key)
            factor = frame.factors.get(key, (1, 1))
            lead = frame.leads.get(key, ())
            if tile.selector and lead != view.lead():
                view.set_lead(lead)
            if not (_same_array(a, view.data()) and view.coverage_key() == (box, tuple(factor))):
                view.set_data(a, frame.quantized.get(key), box=box, factor=factor)
            regions = step.regions_of(tile.tensor) if step is not None else ()
            if tile.lead:
                regions = _onto_slice(regions, tile.lead)
            view.set_regions(tuple(regions))
            if tile.tensor in self._graph.internals:  # framed by what the step does with it
                kind = "write" if tile.tensor in writes else "read" if tile.tensor in reads else ""
            elif tile.tensor in self._graph.partials:  # made by the step in play, as the cell it sums
                kind = "write"
            elif tile.tensor == active:
                kind = "write"
            elif tile.tensor in operands:
                kind = "read"
            else:
                kind = ""
            view.set_active(kind)
        self._index = frame.index
        self._frame = frame
        self.update()  # the overview's cells and the arrows of the line in play
        self.caption_changed.emit(step.caption if step is not None else "")

    def show_step(self, n: int) -> None:
        """Show step ``n`` now: ``apply_frame(prepare_frame(n))``."""
        self.apply_frame(self.prepare_frame(n))

    def displayed(self, name: str) -> np.ndarray:
        """What the canvas shows of tensor (or view key) ``name`` now, in the tensor's orientation:
        small multiples are stacked back into the whole tensor; a view with a selector gives its
        slice; NaN marks elements not yet written."""
        item = self._graph.items.get(name)
        if item is None or len(item.tiles) == 1:
            key = item.tiles[0].key if item is not None else name
            return self.view(key).data()
        slices = [np.asarray(self._views[t.key].data()) for t in item.tiles]
        return np.stack(slices).reshape(item.shape[:-2] + slices[0].shape)

    def _show_page(self) -> None:
        self.relayout()

    def _focus_pages(self, col: int, step_key: tuple | None = None) -> tuple[pl.FocusPage, ...]:
        """The focus pages of column ``col`` at the canvas' size (cached per size): the line's, or,
        with ``step_key`` ((reads, target), …), those of one step's own tensors, target by target."""
        w, h = float(max(1, self.width())), float(max(1, self.height()))
        key = (col, step_key, w, h, self.digit_px, self._band)
        pages = self._pages.get(key)
        if pages is None:
            if len(self._pages) > 64:  # a window being resized: keep the cache to a few sizes
                self._pages.clear()
            height = max(1.0, h - pl.focus_top(self._band[0]))
            if step_key is None:
                pages = pl.focus_pages(self._graph, col, w, height, self.digit_px, self.metrics)
            else:
                pages = tuple(page for reads, target in step_key
                              for page in pl.step_pages(self._graph, col, reads, target, w, height,
                                                        self.digit_px, self.metrics))
            self._pages[key] = pages
        return pages

    def _step_target(self, reads: tuple[str, ...], writes: tuple[str, ...]) -> tuple | None:
        """((reads, target), …) where ``step`` makes one of its line's internals, or reads one
        (``a.scores`` → ``a.weights``): the focus shows those, not the line's operands, whose pages
        would leave what the caption speaks of off screen. A step that makes several internals from
        one shared tensor and one more each (mha's ``X`` with ``W_q``, ``W_k``, ``W_v`` → ``Q``,
        ``K``, ``V``) shows each of them in turn. None otherwise (the step's tensors are the line's:
        its operands and result)."""
        internals = self._graph.internals
        if len(writes) == 1 and (writes[0] in internals or any(r in internals for r in reads)):
            return ((reads, writes[0]),)
        if len(writes) > 1 and all(w in internals for w in writes) and len(reads) == len(writes) + 1:
            return tuple(((reads[0], other), made) for other, made in zip(reads[1:], writes))
        return None

    def _partials_target(self, step, col: int) -> tuple | None:
        """(the line's operands and the step's partials, the line) where ``step`` carries partials
        (the k products and their running sum of a product's element step) and they fit with the
        line's operands and result, readable, on one page (or one page per batch or head, each
        with all of them); else None (the line's own pages)."""
        column = self._graph.columns[col]
        partials = self._graph.partials_of(column.line)
        if step is None or not partials or not all(p in step.tensors for p in partials):
            return None
        names = tuple(o for o in column.operands if o != column.line) + partials
        key = ((names, column.line),)
        pages = self._focus_pages(col, key)
        whole = all(set(p.operands) == set(names) and p.result for p in pages)
        return key if whole and (len(pages) == 1 or all(p.lead is not None for p in pages)) else None

    def _page_for(self, step, col: int, reads: tuple[str, ...], writes: tuple[str, ...]
                  ) -> tuple[int, tuple[int, ...], tuple | None]:
        """(page, pages the step spreads over, its step key or None) for ``step`` of column ``col``
        (``reads`` and ``writes``: the tensors of its regions, in order)."""
        step_key = self._step_target(reads, writes) or self._partials_target(step, col)
        if step_key is not None:
            # A step's own pages, walked with next_page from the first (kept while it is in play);
            # of pages per batch or head, those of the slices it writes.
            pages = self._focus_pages(col, step_key)
            leads = _written_leads(step, {target for _reads, target in step_key})
            homes = [k for k, p in enumerate(pages) if p.lead is None or not leads or p.lead in leads] or [0]
            same = step_key == self._step_key and col == getattr(self._layout.focus, "column", None)
            page = self._page if same and self._page in homes else homes[0]
            return page, tuple(homes) if len(homes) > 1 else (), step_key
        return (*self._line_page_for(step, col), None)

    def _line_page_for(self, step, col: int) -> tuple[int, tuple[int, ...]]:
        """(page, pages it spreads over) for ``step`` of column ``col``: the pages of the operands it
        reads, and of the slices it writes where pages hold one batch or head each (the first of
        several, the others a :meth:`next_page` away); the page shown while it reads no operand
        drawn in the focus (mha's inner steps read its own Q, K, V) and writes no one slice."""
        pages = self._focus_pages(col)
        if len(pages) <= 1:
            return 0, ()
        same = self._layout is not None and col == self._layout.focus.column and self._step_key is None
        current = min(self._page, len(pages) - 1) if same else 0
        regions = step.regions if step is not None else ()
        reads = {r.tensor for r in regions if r.kind == "read"}
        line = self._graph.columns[col].line
        leads = _written_leads(step, {line}) if step is not None else set()  # its batches / heads
        drawn = {n for p in pages for n in p.operands}
        at = [k for k, p in enumerate(pages) if p.lead is None or not leads or p.lead in leads]
        # The pages with the result that show what the step reads (all of them when none does),
        # then the build pages of the operands it reads alone.
        with_result = [k for k in at if pages[k].result]
        homes = [k for k in with_result if reads & set(pages[k].operands)] or with_result
        homes = tuple(homes + [k for k in at if not pages[k].result and reads & set(pages[k].operands)])
        if not homes or len(homes) == len(pages) and not (reads & drawn) and not leads:
            return current, ()
        sub = homes if len(homes) > 1 else ()
        index = getattr(step, "index", None)
        again = index is not None and index == self._sub_index  # a repaint or resize, not a new step
        self._sub_index = index
        if same and current in homes and (len(homes) == 1 or (self._sub == homes and again)):
            return current, sub
        return homes[0], sub

    def layout_report(self) -> list[dict]:
        """One dict per visible view, measured from what it just drew (see
        :func:`gui.canvas.report.views_report`)."""
        from .report import views_report  # noqa: PLC0415 - owned by the operation canvas' module set

        return views_report((t.tensor, t.lead, self._views[k]) for k, t in self._tiles.items())

    # --- layout ---------------------------------------------------------------------------------
    def band_hint(self) -> tuple | None:
        """(width, height, digit_px, metrics) a run worker needs to choose the overview band of
        the next run ahead (:func:`.program_layout.warm_band`); None while not on screen."""
        if not self.isVisible() or self.width() <= 1 or self.height() <= 1:
            return None
        return float(self.width()), float(self.height()), float(self.digit_px), self.metrics

    def resizeEvent(self, event) -> None:  # noqa: N802 - Qt API
        super().resizeEvent(event)
        self._relayout_timer.start()

    def showEvent(self, event) -> None:  # noqa: N802 - Qt API
        super().showEvent(event)
        self._relayout_timer.start()

    def relayout(self) -> None:
        """Size the overview for the canvas' current size (once per size: it never moves while
        the line in play changes), and place the focus of the line in play below it."""
        if self._tl is None or not self._graph.columns:
            return
        w, h = float(max(1, self.width())), float(max(1, self.height()))
        m = self.metrics
        if self._band_for != (w, h, self.digit_px):
            self._band = pl.choose_band(self._graph, w, h, self.digit_px, m)
            self._band_for = (w, h, self.digit_px)
            self._overview_graph = pl.overview_graph(self._graph, self._band[1])
        col = self._graph.column_of.get(self._active_line, 0) if self._active_line else 0
        pages = self._focus_pages(col, self._step_key)
        self._page = max(0, min(self._page, len(pages) - 1))
        self._layout = pl.layout(self._graph, w, h, col, band=self._band, digit_px=self.digit_px, m=m,
                                 page=self._page, pages=pages)
        focus = self._layout.focus
        s = focus.cell_px
        refresh = self._ensure_views(focus.tiles)
        if refresh and self._in_frame:
            self._entries_changed = True  # apply_frame shows the step again
            refresh = False
        for key, view in self._views.items():
            rect = focus.tiles.get(key)
            if rect is None:
                view.hide()
                continue
            x, y, rw, rh = rect
            view.setGeometry(int(round(x)), int(round(y)), int(math.floor(rw)), int(math.floor(rh)))
            # One cell height for every view, so rows line up across the focus; each as wide as
            # its own numbers need.
            view.set_cell_cap(s, aspect=focus.aspects.get(self._tiles[key].tensor, 1.0))
            view.show()
        font_px = int(max(14, min(26, s * 0.45)))
        active = self._graph.columns[focus.column].line
        for line, label in self._labels.items():
            if line != active:
                label.hide()
                continue
            x, y, rw, rh = focus.label
            label.setGeometry(int(round(x)), int(round(y + 4)), int(rw), int(rh - 10))
            text = self._label_html.get(line, label.text())
            if len(focus.pages) > 1:  # which operands this page holds, like a slide's "2/3"
                page = focus.pages[focus.page]
                if page.lead is not None:
                    where = f": {html.escape(page.target or line)}[{page.lead}]"
                else:  # pages of several tensors a step makes name theirs (X W_q → a.Q, then a.K)
                    where = f": {html.escape(page.target)}" if len({p.target for p in focus.pages}) > 1 else ""
                text += (f" <span style='color:#2f6fd0'>· page {focus.page + 1} of {len(focus.pages)}"
                         f"{where}</span>")
            if label.text() != text:
                label.setText(text)
            _fit_font(label, font_px)
            label.show()
        self._fit_titles()
        self.update()
        if refresh:  # a resize or a page turn put internals on screen: the step again, with their arrays
            self._refresh()

    def _relayout_for_frame(self) -> bool:
        """Relayout for a new page of the frame in hand; True when it put views of internals on
        screen that the frame has no arrays for (see :meth:`_completed`)."""
        self._in_frame = True
        try:
            self.relayout()
        finally:
            self._in_frame = False
        changed, self._entries_changed = self._entries_changed, False
        return changed

    def _completed(self, frame: Frame) -> Frame:
        """``frame`` with the arrays of the published entries it lacks (prepared now)."""
        missing = tuple(e for e in self._snapshot.entries if e.key not in frame.arrays)
        extra = prepare(dataclasses.replace(self._snapshot, entries=missing), frame.index)

        def merged(field: str) -> dict:
            return {**getattr(frame, field), **getattr(extra, field)}

        return dataclasses.replace(frame, arrays=merged("arrays"), quantized=merged("quantized"),
                                   leads=merged("leads"), boxes=merged("boxes"), factors=merged("factors"))

    def _ensure_views(self, keys) -> bool:
        """Views for the internals' tiles among ``keys`` (made on first need: most are never shown),
        and the snapshot's entries for exactly the internals on screen (a frame reads no other).
        True when those entries changed (the frame in hand lacks their arrays)."""
        wanted = {t.key: t for it in self._hidden_items() for t in it.tiles if t.key in keys}
        made = False
        for key, tile in wanted.items():
            if key not in self._views:
                self._views[key] = self._make_view(tile)
                self._tiles[key] = tile
                self._configure(self._views[key], tile, self._tl)
                made = True
        shown = set(wanted)
        if made or shown != self._internal_shown:
            self._internal_shown = shown
            self._publish()
            return True
        return False

    def _hidden_items(self) -> list[pl.FlowItem]:
        """Items with no view until a step's page shows them: internals and partials."""
        return [*self._graph.internals.values(), *(it for it, _local in self._graph.partials.values())]

    def _make_view(self, tile: pl.Tile) -> HeatmapView:
        view = shared_pool().take(tile.tensor, colorbar=tile.colorbar, labels=True, transpose=False)
        view.setParent(self)
        view.setProperty("_pc_flags", (tile.colorbar,))
        view.lead_changed.connect(functools.partial(self._on_lead_changed, tile.key))
        view.view_box_changed.connect(functools.partial(self._on_box_changed, tile.key))
        view.save_requested.connect(self.save_requested.emit)
        # Opaque, so an arrow routed behind a view never shows through its margins.
        view.setAutoFillBackground(True)
        return view

    def _fit_titles(self) -> None:
        """Titles of small multiples with the tensor's shape where it fits the tile, else without
        (never dropping the slice index, which the view's own fallback would)."""
        if self._layout is None:
            return
        metrics = QFontMetrics(_TITLE_FONT)
        for key, tile in self._tiles.items():
            rect = self._layout.focus.tiles.get(key)
            if rect is None or tile.tensor in self._graph.partials:  # (a partial's title is fixed)
                continue
            item = self._graph.item(tile.tensor)
            state = self.line_state(item.line) if item.line else "done"
            internal = tile.tensor in self._graph.internals
            title = self._title(tile, item.shape, state, True, internal)
            if title is not None:
                plain = re.sub(r"<[^>]+>", "", title)
                if metrics.horizontalAdvance(plain) * 1.1 > rect[2] - 10:
                    title = self._title(tile, item.shape, state, False, internal)
            if title != self._views[key].title_override():
                self._views[key].set_title(title)

    def paintEvent(self, event) -> None:  # noqa: N802 - Qt API
        # The overview is painted here (no widgets: a whole program of views would be too many to
        # keep small), and the focus' arrow under its views (children paint over their parent).
        super().paintEvent(event)
        lay = self._layout
        if lay is None:
            return
        painter = QPainter(self)
        painter.setRenderHint(QPainter.RenderHint.Antialiasing, True)
        if lay.band > 0:
            painter.fillRect(QRectF(0, 0, self.width(), lay.band), OVERVIEW_BG)
            painter.setPen(QPen(QColor(210, 212, 220), 1.0))
            y = lay.band + pl.BAND_GAP / 2
            painter.drawLine(QPointF(0, y), QPointF(self.width(), y))
            self._paint_overview(painter, lay)
        if lay.focus.arrow is not None:
            x0, y0, x1, y1 = lay.focus.arrow
            pen = QPen(QColor(READ_COLOR), 5.0)
            pen.setCapStyle(Qt.PenCapStyle.RoundCap)
            painter.setPen(pen)
            tip = QPointF(x1, y1)
            back = QPointF(x0, y0)
            painter.drawLine(back, tip)
            _head(painter, back, tip, QColor(READ_COLOR), 18.0)
        painter.end()

    def line_at(self, x: float, y: float) -> str | None:
        """The line whose overview label or result is at (x, y) in the canvas (None: none)."""
        lay = self._layout
        if lay is None or y > lay.band:
            return None
        for column in self._graph.columns:
            for rect in (lay.overview.labels.get(column.line), lay.overview.items.get(column.line)):
                if rect is not None and QRectF(*rect).contains(QPointF(x, y)):
                    return column.line
        return None

    def mousePressEvent(self, event) -> None:  # noqa: N802 - Qt API
        line = self.line_at(event.position().x(), event.position().y())
        if line is not None and self._tl is not None and event.button() == Qt.MouseButton.LeftButton:
            self.step_requested.emit(self._tl.part(line).start)
            event.accept()
            return
        super().mousePressEvent(event)

    def _paint_overview(self, painter: QPainter, lay: pl.FlowLayout) -> None:
        """Every column of the program, compact: arrows, labels, chips and cells."""
        ov = lay.overview
        graph = self._overview_graph
        active = self._active_line
        col = graph.column_of.get(active) if active else None
        operands = set(graph.columns[col].operands) if col is not None else set()
        for ci in ov.columns:
            column = graph.columns[ci]
            target = ov.labels.get(column.line)
            if target is None:
                continue
            hot = column.line == active
            pen = QPen(QColor(READ_COLOR) if hot else EDGE_COLOR, 2.4 if hot else 1.3)
            for name in column.operands:
                src = ov.items.get(name)
                if src is not None:
                    self._arrow(painter, src, target, graph.column_of.get(name) == ci, pen, 7.0)
        small = QFont(self.font())
        small.setPixelSize(12)
        bold = QFont(small)
        bold.setBold(True)
        for ci in ov.columns:
            column = graph.columns[ci]
            rect = ov.labels.get(column.line)
            if rect is not None:
                self._paint_label(painter, column, QRectF(*rect).adjusted(1, 3, -1, -3), bold, small)
        for name, item in graph.items.items():
            rect = ov.items.get(name)
            if rect is None:
                continue
            state = self.line_state(item.line) if item.line else "done"
            if item.chip:
                self._paint_chip(painter, name, QRectF(*rect), bold, name in operands)
                continue
            for k, tile in enumerate(item.tiles):
                trect = ov.tiles.get(tile.key)
                if trect is not None:
                    self._paint_tile(painter, tile, QRectF(*trect), ov.cell_px, small, bold, state,
                                     first=k == 0)
            if name == active or name in operands:
                color = QColor(ACTIVE_COLOR) if name == active else QColor(READ_COLOR)
                painter.setPen(QPen(color, 3.0 if name == active else 2.2))
                painter.setBrush(Qt.BrushStyle.NoBrush)
                painter.drawRoundedRect(QRectF(*rect).adjusted(-3, -1, 3, 3), 5, 5)

    def _paint_label(self, painter: QPainter, column, rect: QRectF, bold: QFont, small: QFont) -> None:
        state = self.line_state(column.line)
        if state == "active":
            painter.setPen(QPen(QColor(ACTIVE_COLOR), 2.5))
            painter.setBrush(QColor("#fff1e3"))
        elif state == "done":
            painter.setPen(QPen(QColor("#c8c8c8"), 1.0))
            painter.setBrush(QColor("#ffffff"))
        else:
            pen = QPen(QColor("#cccccc"), 1.0)
            pen.setStyle(Qt.PenStyle.DashLine)
            painter.setPen(pen)
            painter.setBrush(Qt.BrushStyle.NoBrush)
        painter.drawRoundedRect(rect, 5, 5)
        color = QColor(PENDING_TEXT) if state == "pending" else QColor("#111")
        painter.setPen(color)
        inner = rect.adjusted(5, 0, -5, 0)
        name_w = QFontMetrics(bold).horizontalAdvance(column.line)
        rest = QFontMetrics(small).elidedText(f" = {column.text}", Qt.TextElideMode.ElideRight,
                                              max(0, int(inner.width() - name_w)))
        rest_w = QFontMetrics(small).horizontalAdvance(rest)
        x = inner.x() + max(0.0, (inner.width() - name_w - rest_w) / 2.0)
        painter.setFont(bold)
        painter.drawText(QRectF(x, inner.y(), name_w + 2, inner.height()), Qt.AlignmentFlag.AlignVCenter, column.line)
        painter.setFont(small)
        painter.drawText(QRectF(x + name_w, inner.y(), rest_w + 2, inner.height()), Qt.AlignmentFlag.AlignVCenter,
                         rest)

    @staticmethod
    def _paint_chip(painter: QPainter, name: str, rect: QRectF, font: QFont, hot: bool) -> None:
        painter.setPen(QPen(QColor(READ_COLOR) if hot else QColor("#9aa4b8"), 2.2 if hot else 1.0))
        painter.setBrush(QColor("#e8effc") if hot else QColor("#ffffff"))
        painter.drawRoundedRect(rect.adjusted(0.5, 0.5, -0.5, -0.5), 9, 9)
        painter.setFont(font)
        painter.setPen(QColor("#1d2a44"))
        painter.drawText(rect, Qt.AlignmentFlag.AlignCenter, name)

    def _paint_tile(self, painter: QPainter, tile: pl.Tile, rect: QRectF, s: float, small: QFont, bold: QFont,
                    state: str, first: bool) -> None:
        """One 2-D slice as bare cells: a one-line title, colours from the frame, numbers where
        the cells are big enough, the step's written region outlined."""
        m = pl.OVERVIEW
        title_h = m.view_dy - 2.0
        name = tile.tensor if first or not tile.lead else ""
        lead = "".join(f"[{i}]" for i in tile.lead) if tile.lead else ""
        frame = self._frame
        if tile.selector and frame is not None:
            lead = "".join(f"[{i}]" for i in frame.leads.get(tile.key, ()))
        painter.setPen(QColor(PENDING_TEXT) if state == "pending" else QColor("#222"))
        painter.setFont(bold)
        title = QFontMetrics(bold).elidedText(name + lead, Qt.TextElideMode.ElideRight, int(rect.width()))
        painter.drawText(QRectF(rect.x(), rect.y(), rect.width(), title_h), Qt.AlignmentFlag.AlignCenter, title)
        span_r, span_c = tile.span
        cw, ch = span_c * s, span_r * s
        cells = QRectF(rect.x() + (rect.width() - cw) / 2.0, rect.y() + title_h, cw, ch)
        if frame is None or tile.key not in frame.quantized:
            painter.fillRect(cells, QColor(*cm.NAN_RGBA))
            return
        q = frame.quantized[tile.key]
        entry = self._entries.get(tile.key)
        lut = cm.lut_for(entry.levels if entry is not None else (0.0, 1.0))
        cached = self._images.get(tile.key)
        if cached is None or cached[0] is not q:
            # An overview tile is drawn a few dozen pixels across, without smoothing (nearest
            # samples): colour only about the samples that can show, not a 512² frame per paint.
            qa = np.asarray(q)
            fy = max(1, qa.shape[0] // max(1, math.ceil(ch * 2))) if qa.ndim == 2 else 1
            fx = max(1, qa.shape[1] // max(1, math.ceil(cw * 2))) if qa.ndim == 2 else 1
            rgba = np.ascontiguousarray(lut[qa[::fy, ::fx] if fy > 1 or fx > 1 else qa])
            img = QImage(rgba.data, rgba.shape[1], rgba.shape[0], rgba.strides[0], QImage.Format.Format_RGBA8888).copy()
            cached = (q, img)
            self._images[tile.key] = cached
        painter.setRenderHint(QPainter.RenderHint.SmoothPixmapTransform, False)
        painter.drawImage(cells, cached[1])
        values = np.asarray(frame.arrays.get(tile.key))
        gx, gy = cw / max(1, q.shape[1]), ch / max(1, q.shape[0])  # px per element drawn
        if min(gx, gy) >= OVERVIEW_NUMBER_PX and q.size <= 16 * 16 and values.size == q.size:
            self._paint_numbers(painter, cells, values.reshape(q.shape), q, lut, min(gx, gy))
        if min(gx, gy) >= 6 and q.shape[0] * q.shape[1] <= 64 * 64:
            painter.setPen(QPen(QColor(0, 0, 0, 40), 1.0))
            for j in range(1, q.shape[1]):
                painter.drawLine(QPointF(cells.x() + j * gx, cells.top()), QPointF(cells.x() + j * gx, cells.bottom()))
            for i in range(1, q.shape[0]):
                painter.drawLine(QPointF(cells.left(), cells.y() + i * gy), QPointF(cells.right(), cells.y() + i * gy))
        painter.setPen(QPen(QColor(90, 90, 90), 1.0))
        painter.setBrush(Qt.BrushStyle.NoBrush)
        painter.drawRect(cells)
        step = frame.step
        if step is not None and tile.tensor == self._active_line and frame.factors.get(tile.key, (1, 1)) == (1, 1):
            regions = step.regions_of(tile.tensor)
            lead = tile.lead or (frame.leads.get(tile.key, ()) if tile.selector else ())
            if lead:
                regions = _onto_slice(regions, tuple(lead))
            painter.setPen(QPen(QColor(ACTIVE_COLOR), 2.0))
            for r in regions:
                box = tuple(r.box)
                if r.kind != "write" or not box or len(box) > 2:
                    continue
                (r0, r1), (c0, c1) = ((0, 1), box[0]) if len(box) == 1 else box
                px, py = cw / max(1, tile.cols), ch / max(1, tile.rows)  # px per tensor element
                painter.drawRect(QRectF(cells.x() + c0 * px, cells.y() + r0 * py, (c1 - c0) * px, (r1 - r0) * py))

    @staticmethod
    def _paint_numbers(painter: QPainter, cells: QRectF, values: np.ndarray, q: np.ndarray, lut, s: float) -> None:
        texts = [[label_text(float(v), 2) for v in row] for row in values.tolist()]
        longest = max((pl.text_em(t) for row in texts for t in row if t), default=0.0)
        if not longest:
            return
        size = min(s * pl.LABEL_HEIGHT_SHARE, s * pl.TEXT_WIDTH_SHARE / longest)
        if size < 8:
            return
        font = QFont("DejaVu Sans")
        font.setStretch(QFont.Stretch.Condensed)
        font.setBold(True)
        font.setPixelSize(int(size))
        painter.setFont(font)
        for i, row in enumerate(texts):
            for j, text in enumerate(row):
                if text:
                    painter.setPen(cm.text_color_for_rgba(lut[int(q[i, j])]))
                    painter.drawText(QRectF(cells.x() + j * s, cells.y() + i * s, s, s), Qt.AlignmentFlag.AlignCenter,
                                     text)

    @staticmethod
    def _arrow(painter: QPainter, src, dst, same_column: bool, pen: QPen, head: float = 11.0) -> None:
        sx, sy, sw, sh = src
        dx, dy, dw, dh = dst
        if same_column or sy + sh <= dy - 4:
            start = QPointF(sx + sw / 2.0, sy + sh + 2)
            end = QPointF(dx + dw / 2.0, dy - 2)
            c1 = QPointF(start.x(), (start.y() + end.y()) / 2.0)
            c2 = QPointF(end.x(), (start.y() + end.y()) / 2.0)
        else:
            start = QPointF(sx + sw + 2, sy + sh / 2.0)
            end = QPointF(dx - 2, dy + dh / 2.0)
            mid = (start.x() + end.x()) / 2.0
            c1, c2 = QPointF(mid, start.y()), QPointF(mid, end.y())
        path = QPainterPath(start)
        path.cubicTo(c1, c2, end)
        painter.setPen(pen)
        painter.setBrush(Qt.BrushStyle.NoBrush)
        painter.drawPath(path)
        _head(painter, c2, end, pen.color(), head)

    # --- building -------------------------------------------------------------------------------
    def _rebuild(self, tl) -> None:
        graph = pl.build_graph(tl)
        old = self._views
        self._views, self._tiles, self._entries = {}, {}, {}
        self._graph = graph  # (views are configured against it)
        # Every item gets a view now; an internal or partial keeps the one it had in the last run
        # (hidden until a step shows it), else gets one when a step first shows it (_ensure_views).
        hidden = [t for it in self._hidden_items() for t in it.tiles]
        for tile, needed in [*((t, True) for t in graph.tiles), *((t, False) for t in hidden)]:
            view = old.pop(tile.key, None)
            if view is not None and view.property("_pc_flags") != (tile.colorbar,):
                view.deleteLater()
                view = None
            if view is None:
                if not needed:
                    continue
                view = self._make_view(tile)
            self._configure(view, tile, tl)
            self._views[tile.key] = view
            self._tiles[tile.key] = tile
        for view in old.values():
            view.deleteLater()
        for label in self._labels.values():
            label.deleteLater()
        self._labels = {}
        self._label_html = {}
        self._pages = {}
        self._page, self._sub, self._step_key = 0, (), None
        self._internal_shown: set[str] = set()
        for column in graph.columns:
            label = QLabel(self)
            label.setTextFormat(Qt.TextFormat.RichText)
            label.setWordWrap(True)
            label.setAlignment(Qt.AlignmentFlag.AlignCenter)
            shape = fmt_shape(tl.shape(column.line))
            self._label_html[column.line] = (f"<b>{html.escape(column.line)}</b> = {html.escape(column.text)}"
                                             f" <span style='color:#888'>→ {html.escape(shape)}</span>")
            label.setText(self._label_html[column.line])
            label.setToolTip(f"{column.line} = {column.text}")
            font = QFont("DejaVu Sans Mono")
            font.setStyleHint(QFont.StyleHint.Monospace)
            label.setFont(font)
            self._labels[column.line] = label
        self._graph = graph
        self._overview_graph = graph
        self._band_for = ()
        self._layout = None
        self._frame = None
        self._images = {}
        self._publish()
        self._set_states(None)
        self.relayout()

    def _configure(self, view: HeatmapView, tile: pl.Tile, tl) -> None:
        if tile.tensor in self._graph.partials:
            self._configure_partial(view, tile, tl)
            return
        shape = tuple(tl.shape(tile.tensor))
        levels = tl.levels[tile.tensor]
        if tile.lead:
            # A small multiple is a 2-D view of one slice: its own selector would only confuse.
            view_shape = shape[-2:]
            view.set_value_source(functools.partial(self._value_at, tile.tensor, tile.lead))
        else:
            view_shape = shape
            view.set_value_source(functools.partial(self._value_at, tile.tensor, ()))
        view.set_tensor(tile.tensor, view_shape, levels, title=self._title(tile, shape, "done"),
                        max_shape=self.max_shape)
        self._entries[tile.key] = ViewEntry(key=tile.key, tensor=tile.tensor, source="tensor", shape=shape,
                                            lead=tile.lead or view.lead(), max_shape=tuple(self.max_shape),
                                            levels=view.levels(), follow=not tile.lead)

    def _configure_partial(self, view: HeatmapView, tile: pl.Tile, tl) -> None:
        """A partial's view: the step's own tensor (no timeline tensor holds it), on the levels of
        what it sums (products of the two operands' ranges; the running sum also the result's), as
        the operation canvas' strips."""
        from .layouts import product_levels, union_levels  # noqa: PLC0415 - the strips' own rule

        item, local = self._graph.partials[tile.tensor]
        part = tl.part(item.line)
        a, b = (part.names[r] for r in get_spec(part.op).strip_roles)
        levels = product_levels(tl.levels[a], tl.levels[b])
        if local == "running":
            levels = union_levels(levels, tl.levels[item.line], (0.0, 0.0))
        view.set_value_source(None)
        view.set_tensor(tile.tensor, item.shape, levels, title=PARTIAL_TITLES[local], max_shape=self.max_shape)
        self._entries[tile.key] = ViewEntry(key=tile.key, tensor=tile.tensor, source="step", shape=item.shape,
                                            levels=tuple(levels), follow=False)

    @staticmethod
    def _title(tile: pl.Tile, shape, state: str, with_shape: bool = True, internal: bool = False) -> str | None:
        """A slice's title (None: the view's own), with the shape on the first slice. An internal's
        names its line in grey, then itself in bold (``a.weights[1]``): a view too narrow for it
        keeps the bold part alone (HeatmapView drops grey spans first), never a clipped "weights.sur"."""
        if not tile.lead and state != "pending" and not internal:
            return None  # the view's own title: name, slice and shape
        lead = "".join(f"[{i}]" for i in tile.lead)
        first = not tile.lead or not any(tile.lead)
        shape_txt = f" <span style='color:#888'>{fmt_shape(shape)}</span>" if first and with_shape else ""
        if internal:
            line, _dot, local = tile.tensor.rpartition(".")
            return f"<span style='color:#666'>{html.escape(line)}.</span><b>{html.escape(local)}</b>{lead}{shape_txt}"
        if state == "pending":
            return f"<span style='color:{PENDING_TEXT}'><b>{html.escape(tile.tensor)}</b>{lead}</span>{shape_txt}"
        return f"<b>{html.escape(tile.tensor)}</b>{lead}{shape_txt}"

    def _set_states(self, active: str | None) -> None:
        """Label and title styles for done / active / pending lines (only where they changed)."""
        self._active_line = active
        order = [c.line for c in self._graph.columns]
        at = order.index(active) if active in order else -1
        for i, line in enumerate(order):
            state = "done" if i < at else "active" if i == at else "pending"
            if self._states.get(line) == state:
                continue
            self._states[line] = state
            label = self._labels.get(line)
            if label is not None:
                label.setStyleSheet(LABEL_STYLES[state] + " padding: 2px 6px;")
        self._fit_titles()

    def _publish(self) -> None:
        tl = self._tl
        hidden = self._graph.internals.keys() | self._graph.partials.keys()
        entries = tuple(e for k, e in self._entries.items() if e.tensor not in hidden or k in self._internal_shown)
        self._snapshot = Snapshot(tl, tl.run_id if tl is not None else 0, entries)

    def refresh_levels(self) -> bool:
        """Follow a progressive run's levels as its lines are computed (:func:`follow_levels`):
        a line's views start at (0, 1) and take its values' range once it exists. True when a
        view's colours changed (the overview's tiles are repainted here)."""
        if not follow_levels(self._tl, self._entries, self._views):
            return False
        self._publish()
        self.update()
        return True

    def _value_at(self, name: str, lead: tuple[int, ...], index: tuple[int, ...]) -> float:
        """Full-precision hover read-out, asked of the timeline (never recomputed)."""
        return self._tl.value_at(name, max(0, self._index), tuple(lead) + tuple(index))

    def _refresh(self) -> None:
        if self._tl is not None and self._index >= 0:
            self.show_step(self._index)

    def _on_lead_changed(self, key: str, lead) -> None:
        """The user picked a slice: stop following the step in that view, re-show."""
        e = self._entries.get(key)
        if e is None:
            return
        self._entries[key] = dataclasses.replace(e, lead=tuple(lead), follow=False)
        self._publish()
        self._refresh()

    def _on_box_changed(self, key: str, box) -> None:
        """A big view was zoomed: ask for its visible box at full (or better) resolution."""
        e = self._entries.get(key)
        if e is None:
            return
        self._entries[key] = dataclasses.replace(e, box=box)
        self._publish()
        self._refresh()


def _written_leads(step, tensors) -> set[int]:
    """The first-axis indices (batches, heads) of ``tensors`` that ``step`` writes."""
    return {i for r in step.regions if r.kind == "write" and r.tensor in tensors and len(r.box) >= 3
            for i in range(int(r.box[0][0]), int(r.box[0][1]))}


def _onto_slice(regions, lead: tuple[int, ...]) -> list[_SliceRegion]:
    """The regions that touch slice ``lead``, with their boxes cut to the last two axes."""
    out = []
    n = len(lead)
    for r in regions:
        box = tuple(r.box)
        if len(box) != n + 2:
            continue
        if all(a <= i < b for (a, b), i in zip(box[:n], lead)):
            out.append(_SliceRegion(r.tensor, r.kind, box[n:]))
    return out


def _head(painter: QPainter, before: QPointF, tip: QPointF, color: QColor, size: float = 11.0) -> None:
    """A filled arrowhead ``size`` px long at ``tip``, pointing from ``before``."""
    ang = math.atan2(tip.y() - before.y(), tip.x() - before.x())
    left = QPointF(tip.x() - size * math.cos(ang - 0.45), tip.y() - size * math.sin(ang - 0.45))
    right = QPointF(tip.x() - size * math.cos(ang + 0.45), tip.y() - size * math.sin(ang + 0.45))
    painter.setPen(Qt.PenStyle.NoPen)
    painter.setBrush(color)
    painter.drawPolygon(QPolygonF([tip, left, right]))


def _fit_font(label: QLabel, px: int, min_px: int = 11) -> None:
    """The largest font up to ``px`` whose word-wrapped text fits ``label`` (a long line such as
    ``mha(X, W_q, …)`` shrinks instead of being cut off)."""
    plain = re.sub(r"<[^>]+>", "", label.text())
    plain = html.unescape(plain)
    font = QFont(label.font())
    room = label.contentsRect().adjusted(4, 2, -4, -2)
    for size in range(int(px), min_px - 1, -1):
        font.setPixelSize(size)
        r = QFontMetrics(font).boundingRect(room, int(Qt.TextFlag.TextWordWrap | Qt.AlignmentFlag.AlignCenter), plain)
        if r.width() <= room.width() and r.height() <= room.height():
            break
    label.setFont(font)
