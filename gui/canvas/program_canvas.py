"""ProgramCanvas: a program drawn as a data flow, from its inputs to its result, step by step.

Same driving API as :class:`~gui.canvas.canvas.OperationCanvas`, so the window can swap one for
the other::

    canvas.set_timeline(tl)          # a ProgramTimeline: one column per line, views for its tensors
    frame = canvas.prepare_frame(n)  # any thread, no Qt: reads the timeline, returns a Frame
    canvas.apply_frame(frame)        # GUI thread, cheap: setImage, highlights, arrows
    canvas.show_step(n)              # both at once, synchronously

Each line is a column (:mod:`gui.canvas.program_layout`): the inputs it reads first above it, its
text as a label, its result below; arrows run from each line's operands to it. The line in play is
framed in orange and its operands in blue; lines not reached yet show their tensors unwritten
(grey: the timeline gives NaN before a line's first step) under a dimmed label. 3-D/4-D tensors
show every head / batch slice at once when they fit, else one slice with a selector. Frames come
from the same :func:`~gui.canvas.frame.prepare` as the operation canvas (one immutable
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
from opscope.compute.numbers import fmt_shape
from PySide6.QtCore import QPointF, QRectF, Qt, QTimer, Signal
from PySide6.QtGui import QColor, QFont, QFontMetrics, QPainter, QPainterPath, QPalette, QPen, QPolygonF
from PySide6.QtWidgets import QLabel, QSizePolicy, QWidget

from ..heatmap import ACTIVE_COLOR, READ_COLOR, TITLE_SIZE, HeatmapView
from . import program_layout as pl
from .canvas import DEFAULT_MAX_SHAPE, _same_array
from .frame import Frame, Snapshot, ViewEntry, prepare
from .pool import shared_pool

#: Width (px) kept left of a page for the stubs of operands made on earlier pages.
STUB_STRIP = 84.0
EDGE_COLOR = QColor(120, 120, 120, 150)
PENDING_TEXT = "#a0a0a0"
LABEL_STYLES = {
    "active": f"color: #111; background: #fff1e3; border: 3px solid {ACTIVE_COLOR}; border-radius: 6px;",
    "done": "color: #222; background: #f6f6f2; border: 1px solid #ccc; border-radius: 6px;",
    "pending": f"color: {PENDING_TEXT}; background: transparent; border: 1px dashed #ccc; border-radius: 6px;",
}

_TITLE_FONT = QFont()
_TITLE_FONT.setPointSizeF(float(TITLE_SIZE.rstrip("pt")))


@dataclass(frozen=True)
class _SliceRegion:
    """A step region moved onto one 2-D slice (what a small-multiple view is given)."""

    tensor: str
    kind: str
    box: tuple


class ProgramCanvas(QWidget):
    """The data flow of a :class:`~compute.program.timeline.ProgramTimeline` (see the module docstring).

    Parameters
    ----------
    parent : Qt parent.
    paging : when the whole program cannot get cells of ``readable_px``, show the page of columns
        around the line in play instead (each page as long as its numbers stay readable).
    digit_px : the digit height pages are sized for (16 px: the projector floor at 1024×768).

    Attributes
    ----------
    max_shape : (rows, cols) above which a slice is block-reduced before it reaches a view.

    Signals
    -------
    caption_changed(str) : the caption of the step just applied.
    save_requested(str) : a view's "Save tensor…" was chosen (the tensor's name).
    """

    caption_changed = Signal(str)
    save_requested = Signal(str)

    def __init__(self, parent: QWidget | None = None, *, paging: bool = True,
                 digit_px: float = 16.0):
        super().__init__(parent)
        self.max_shape = DEFAULT_MAX_SHAPE
        self.paging = bool(paging)
        self.digit_px = float(digit_px)
        self.metrics = pl.Metrics()
        self._tl = None
        self._index = -1
        self._active_line: str | None = None
        self._snapshot = Snapshot()
        self._graph = pl.FlowGraph(())
        self._placement: pl.Placement | None = None
        self._pages: tuple[tuple[int, ...], ...] = ((),)
        self._pages_for: tuple = ()
        self._views: dict[str, HeatmapView] = {}
        self._tiles: dict[str, pl.Tile] = {}
        self._labels: dict[str, QLabel] = {}
        self._states: dict[str, str] = {}
        self._entries: dict[str, ViewEntry] = {}
        self._relayout_timer = QTimer(self)
        self._relayout_timer.setSingleShot(True)
        self._relayout_timer.setInterval(0)
        self._relayout_timer.timeout.connect(self.relayout)
        pal = self.palette()
        pal.setColor(QPalette.ColorRole.Window, QColor(255, 255, 255))
        self.setPalette(pal)
        self.setAutoFillBackground(True)
        self.setSizePolicy(QSizePolicy.Policy.Expanding, QSizePolicy.Policy.Expanding)
        shared_pool().prewarm()

    # --- public API ----------------------------------------------------------------------------
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
    def placement(self) -> pl.Placement | None:
        """Where everything is now (cell size, rects, the page shown)."""
        return self._placement

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
            if tile.tensor == active:
                kind = "write"
            elif tile.tensor in operands:
                kind = "read"
            else:
                kind = ""
            view.set_active(kind)
        self._index = frame.index
        self._set_states(active)
        if self.paging and self._placement is not None and col is not None and col not in self._placement.columns:
            self.relayout()
        self.update()  # the arrows of the line in play
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

    # --- layout ---------------------------------------------------------------------------------
    def resizeEvent(self, event) -> None:  # noqa: N802 - Qt API
        super().resizeEvent(event)
        self._relayout_timer.start()

    def showEvent(self, event) -> None:  # noqa: N802 - Qt API
        super().showEvent(event)
        self._relayout_timer.start()

    def relayout(self) -> None:
        """Size the cells for the canvas' current size and place every view, label and arrow (the
        page of the line in play only, when paging)."""
        if self._tl is None or not self._graph.columns:
            return
        w, h = float(max(1, self.width())), float(max(1, self.height()))
        m = self.metrics
        if self._pages_for != (w, h, self.paging, self.digit_px):
            self._pages = pl.paginate(self._graph, w, h, m, self.digit_px) if self.paging else (
                tuple(range(len(self._graph.columns))),)
            self._pages_for = (w, h, self.paging, self.digit_px)
        col = self._graph.column_of.get(self._active_line, 0) if self._active_line else 0
        page = next((p for p in self._pages if col in p), self._pages[0])
        # A page after the first gets a left strip for the named stubs of operands made earlier.
        strip = STUB_STRIP if page and page[0] > 0 else 0.0
        placement = _shifted(pl.place(self._graph, w - strip, h, m, page=page, pages=self._pages), strip)
        self._placement = placement
        s = placement.cell_px
        for key, view in self._views.items():
            rect = placement.tiles.get(key)
            if rect is None:
                view.hide()
                continue
            x, y, rw, rh = rect
            view.setGeometry(int(round(x)), int(round(y)), int(math.floor(rw)), int(math.floor(rh)))
            view.set_cell_cap(s)  # one cell size for every view: rows line up across the flow
            view.show()
        font_px = int(max(13, min(22, s * 0.42)))
        for line, label in self._labels.items():
            rect = placement.labels.get(line)
            if rect is None:
                label.hide()
                continue
            x, y, rw, rh = rect
            label.setGeometry(int(round(x)), int(round(y + 4)), int(rw), int(rh - 10))
            _fit_font(label, font_px)
            label.show()
        self._fit_titles()
        self.update()

    def _fit_titles(self) -> None:
        """Titles of small multiples with the tensor's shape where it fits the tile, else without
        (never dropping the slice index, which the view's own fallback would)."""
        placement = self._placement
        if placement is None:
            return
        metrics = QFontMetrics(_TITLE_FONT)
        for key, tile in self._tiles.items():
            rect = placement.tiles.get(key)
            if rect is None:
                continue
            item = self._graph.items[tile.tensor]
            state = self.line_state(item.line) if item.line else "done"
            title = self._title(tile, item.shape, state, True)
            if title is not None:
                plain = re.sub(r"<[^>]+>", "", title)
                if metrics.horizontalAdvance(plain) * 1.1 > rect[2] - 10:
                    title = self._title(tile, item.shape, state, False)
            if title != self._views[key].title_override():
                self._views[key].set_title(title)

    def paintEvent(self, event) -> None:  # noqa: N802 - Qt API
        # Arrows are painted under the views (children paint over their parent), so an arrow that
        # must cross a view is hidden by it instead of scribbling over its numbers.
        super().paintEvent(event)
        placement = self._placement
        if placement is None:
            return
        painter = QPainter(self)
        painter.setRenderHint(QPainter.RenderHint.Antialiasing, True)
        active = self._active_line
        shown = set(placement.columns)
        first = min(shown) if shown else 0
        for ci in placement.columns:
            column = self._graph.columns[ci]
            target = placement.labels.get(column.line)
            if target is None:
                continue
            hot = column.line == active
            color = QColor(READ_COLOR) if hot else EDGE_COLOR
            pen = QPen(color, 3.0 if hot else 1.8)
            stubs = 0
            for name in column.operands:
                src = placement.items.get(name)
                if src is None:  # made on an earlier page: a stub from the left edge, named
                    if self._graph.column_of.get(name, first) < first:
                        self._stub(painter, name, target, pen, stubs)
                        stubs += 1
                    continue
                self._arrow(painter, src, target, self._graph.column_of.get(name) == ci, pen)
        painter.end()

    @staticmethod
    def _arrow(painter: QPainter, src, dst, same_column: bool, pen: QPen) -> None:
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
        _head(painter, c2, end, pen.color())

    def _stub(self, painter: QPainter, name: str, dst, pen: QPen, k: int) -> None:
        dx, dy, _dw, dh = dst
        end = QPointF(dx - 2, dy + dh / 2.0 + 24 * k)
        start = QPointF(max(2.0, dx - STUB_STRIP + 6), end.y())
        painter.setPen(pen)
        painter.drawLine(start, end)
        _head(painter, start, end, pen.color())
        font = QFont(self.font())
        font.setPixelSize(14)
        font.setBold(True)
        painter.setFont(font)
        painter.setPen(pen)
        painter.drawText(QRectF(start.x(), end.y() - 22, STUB_STRIP - 8, 18), Qt.AlignmentFlag.AlignLeft, name)

    # --- building -------------------------------------------------------------------------------
    def _rebuild(self, tl) -> None:
        graph = pl.build_graph(tl)
        old = self._views
        self._views, self._tiles, self._entries = {}, {}, {}
        for tile in graph.tiles:
            view = old.pop(tile.key, None)
            if view is not None and view.property("_pc_flags") != (tile.colorbar,):
                view.deleteLater()
                view = None
            if view is None:
                view = shared_pool().take(tile.tensor, colorbar=tile.colorbar, labels=True, transpose=False)
                view.setParent(self)
                view.setProperty("_pc_flags", (tile.colorbar,))
                view.lead_changed.connect(functools.partial(self._on_lead_changed, tile.key))
                view.view_box_changed.connect(functools.partial(self._on_box_changed, tile.key))
                view.save_requested.connect(self.save_requested.emit)
            # Opaque, so an arrow routed behind a view never shows through its margins.
            view.setAutoFillBackground(True)
            self._configure(view, tile, tl)
            self._views[tile.key] = view
            self._tiles[tile.key] = tile
        for view in old.values():
            view.deleteLater()
        for label in self._labels.values():
            label.deleteLater()
        self._labels = {}
        for column in graph.columns:
            label = QLabel(self)
            label.setTextFormat(Qt.TextFormat.RichText)
            label.setWordWrap(True)
            label.setAlignment(Qt.AlignmentFlag.AlignCenter)
            shape = fmt_shape(tl.shape(column.line))
            label.setText(f"<b>{html.escape(column.line)}</b> = {html.escape(column.text)}"
                          f" <span style='color:#888'>→ {html.escape(shape)}</span>")
            label.setToolTip(f"{column.line} = {column.text}")
            font = QFont("DejaVu Sans Mono")
            font.setStyleHint(QFont.StyleHint.Monospace)
            label.setFont(font)
            self._labels[column.line] = label
        self._graph = graph
        self._pages_for = ()
        self._placement = None
        self._publish()
        self._set_states(None)
        self.relayout()

    def _configure(self, view: HeatmapView, tile: pl.Tile, tl) -> None:
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

    @staticmethod
    def _title(tile: pl.Tile, shape, state: str, with_shape: bool = True) -> str | None:
        if not tile.lead and state != "pending":
            return None  # the view's own title: name, slice and shape
        lead = "".join(f"[{i}]" for i in tile.lead)
        first = not tile.lead or not any(tile.lead)
        shape_txt = f" <span style='color:#888'>{fmt_shape(shape)}</span>" if first and with_shape else ""
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
        self._snapshot = Snapshot(tl, tl.run_id if tl is not None else 0, tuple(self._entries.values()))

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


def _shifted(p: pl.Placement, dx: float) -> pl.Placement:
    """``p`` moved ``dx`` pixels to the right."""
    if not dx:
        return p

    def move(rects):
        return {k: (x + dx, y, w, h) for k, (x, y, w, h) in rects.items()}

    return dataclasses.replace(p, tiles=move(p.tiles), items=move(p.items), labels=move(p.labels))


def _head(painter: QPainter, before: QPointF, tip: QPointF, color: QColor) -> None:
    """A filled arrowhead at ``tip``, pointing from ``before``."""
    ang = math.atan2(tip.y() - before.y(), tip.x() - before.x())
    size = 11.0
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
