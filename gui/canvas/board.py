"""The board a layout draws on: a grid of heatmaps, operator signs and notes.

Layouts (:mod:`gui.canvas.layouts`) place views the way a lecturer draws on a blackboard; the
board turns that into a :class:`QGridLayout` whose row and column stretches follow the tensors'
sizes in cells, so a matrix's rows line up with the rows of the product beside it.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from PySide6.QtCore import QSize, Qt
from PySide6.QtGui import QFont, QFontMetrics
from PySide6.QtWidgets import QGridLayout, QHBoxLayout, QLabel, QSizePolicy, QVBoxLayout, QWidget

from ..heatmap import HeatmapView

#: Cells beyond this count do not earn a view more room (a 512-wide matrix must not squash a vector).
WEIGHT_CAP = 12
#: Room for a view's title, axes and colour bar, in "cells".
WEIGHT_OVERHEAD = 2.5

NOTE_STYLE = ("color: #222; font-family: 'DejaVu Sans Mono', 'Consolas', monospace; "
              "background: #f6f6f2; border: 1px solid #ddd; border-radius: 6px; padding: 8px;")
HEADING_STYLE = "font-size: 18pt; font-weight: bold; color: #333;"


@dataclass(frozen=True)
class ViewSpec:
    """One view on the board.

    ``key`` names the view (``canvas.displayed(key)``); ``tensor`` is the timeline tensor (or, with
    ``source="step"``, the step tensor) it shows; ``shape``/``levels`` are given for step tensors,
    which the timeline does not describe; ``lead_names`` label the leading-axis spin boxes.
    ``lead``, when given, fixes the view on that slice of the leading axes (a small multiple: one
    head or one batch element, no selector).
    """

    key: str
    tensor: str
    source: str = "tensor"
    transpose: bool = False
    colorbar: bool = True
    labels: bool = True
    title: str | None = None
    shape: tuple[int, ...] | None = None
    levels: tuple[float, float] | None = None
    lead_names: tuple[str, ...] = ()
    lead: tuple[int, ...] = ()


class NoteLabel(QLabel):
    """A monospace note that shrinks its font (down to 9 pt) rather than be clipped by its cell."""

    MAX_PT = 14.0
    MIN_PT = 9.0

    def __init__(self, text: str):
        super().__init__(text)
        self._fitting = False

    def sizeHint(self) -> QSize:  # noqa: N802 - Qt API
        # The size at full font: the grid grants up to this, and _fit shrinks the font to what it got.
        font = QFont(self.font())
        font.setPointSizeF(self.MAX_PT)
        metrics = QFontMetrics(font)
        lines = self.text().split("\n") or [""]
        return QSize(max(metrics.horizontalAdvance(ln) for ln in lines) + 26, metrics.lineSpacing() * len(lines) + 22)

    def minimumSizeHint(self) -> QSize:  # noqa: N802 - Qt API
        return QSize(40, 20)

    def resizeEvent(self, event) -> None:  # noqa: N802 - Qt API
        super().resizeEvent(event)
        self._fit()

    def _fit(self) -> None:
        if self._fitting:
            return
        self._fitting = True
        try:
            font = self.font()
            size = self.MAX_PT
            lines = self.text().split("\n") or [""]
            while size > self.MIN_PT:
                font.setPointSizeF(size)
                metrics = QFontMetrics(font)
                wide = max(metrics.horizontalAdvance(ln) for ln in lines) + 24
                tall = metrics.lineSpacing() * len(lines) + 20
                if wide <= self.width() and tall <= self.height():
                    break
                size -= 0.5
            font.setPointSizeF(size)
            self.setFont(font)
        finally:
            self._fitting = False


def sign_label(text: str) -> QLabel:
    """An operator sign: symbols big, words (``softmax``) smaller above them."""
    lines = text.split("\n")
    html = "<br>".join(f"<span style='font-size:{30 if len(ln.strip()) <= 2 else 15}pt'>{ln}</span>" for ln in lines)
    label = QLabel(html)
    label.setTextFormat(Qt.TextFormat.RichText)
    label.setStyleSheet("font-weight: bold; color: #555;")
    label.setAlignment(Qt.AlignmentFlag.AlignCenter)
    label.setSizePolicy(QSizePolicy.Policy.Fixed, QSizePolicy.Policy.Preferred)
    return label


def cell_weight(n: int) -> float:
    return min(max(int(n), 1), WEIGHT_CAP) + WEIGHT_OVERHEAD


def display_shape(shape, transpose: bool) -> tuple[int, int]:
    """(rows, cols) a view of a tensor of ``shape`` occupies on screen."""
    s = tuple(shape)
    h, w = (1, 1) if len(s) == 0 else (1, s[0]) if len(s) == 1 else (s[-2], s[-1])
    return (w, h) if transpose else (h, w)


class Board:
    """A grid being filled by a layout for one timeline ``tl`` (views come from ``obtain``)."""

    def __init__(self, tl, obtain: Callable[[ViewSpec], HeatmapView]):
        self.tl = tl
        self._obtain = obtain
        self.widget = QWidget()
        self.widget.setObjectName("opscopeBoard")
        self.grid = QGridLayout(self.widget)
        self.grid.setContentsMargins(4, 4, 4, 4)
        self.grid.setHorizontalSpacing(6)
        self.grid.setVerticalSpacing(6)
        self.specs: dict[str, ViewSpec] = {}
        self.views: dict[str, HeatmapView] = {}
        self.frame_hooks: list[Callable] = []
        self.links: list[tuple[str, ...]] = []
        #: Keys of views placed by a flow panel (:mod:`gui.canvas.flow`), which sizes their cells.
        self.flow_keys: set[str] = set()
        self.flows: list = []
        #: ``(width, height) -> digit px`` flow pages are sized for (None: gui.canvas.flow.digit_target).
        self.digit_px = None
        self._rows: dict[int, float] = {}
        self._cols: dict[int, float] = {}

    # --- queries -----------------------------------------------------------------------------
    def has(self, name: str) -> bool:
        return name in self.tl.tensor_names

    def shape(self, name: str) -> tuple[int, ...]:
        return tuple(self.tl.shape(name))

    # --- placing -----------------------------------------------------------------------------
    def heat(self, tensor: str, row: int, col: int, rowspan: int = 1, colspan: int = 1, *, weigh: bool = True,
             **kw) -> HeatmapView | None:
        """A heatmap of ``tensor`` at grid cell (row, col); None when the run has no such tensor."""
        spec = ViewSpec(key=kw.pop("key", tensor), tensor=tensor, **kw)
        if spec.source == "tensor" and not self.has(tensor):
            return None
        view = self._add_view(spec)
        self.grid.addWidget(view, row, col, rowspan, colspan)
        if weigh:
            h, w = display_shape(spec.shape if spec.shape is not None else self.shape(tensor), spec.transpose)
            if rowspan == 1:
                self._rows[row] = max(self._rows.get(row, 0.0), cell_weight(h))
            if colspan == 1:
                self._cols[col] = max(self._cols.get(col, 0.0), cell_weight(w))
        return view

    def _add_view(self, spec: ViewSpec) -> HeatmapView:
        view = self._obtain(spec)
        self.specs[spec.key] = spec
        self.views[spec.key] = view
        return view

    def sign(self, text: str, row: int, col: int, rowspan: int = 1, colspan: int = 1) -> QLabel:
        """A big operator sign (→, ×, =, +) between views; its column takes no stretch."""
        label = sign_label(text)
        self.grid.addWidget(label, row, col, rowspan, colspan)
        self._cols.setdefault(col, 0.0)
        return label

    def note(self, text: str, row: int, col: int, rowspan: int = 1, colspan: int = 1, *,
             weight: float | None = None) -> QLabel:
        """A text box (shape alignment, broadcasting rules, formulas) in monospace."""
        label = NoteLabel(text)
        label.setStyleSheet(NOTE_STYLE)
        label.setAlignment(Qt.AlignmentFlag.AlignCenter)
        label.setWordWrap(False)
        label.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        # Ignored: a note is clipped rather than forcing its column wider than the views want;
        # centred at its natural size so a short note does not become a big empty box.
        label.setSizePolicy(QSizePolicy.Policy.Ignored, QSizePolicy.Policy.Preferred)
        self.grid.addWidget(label, row, col, rowspan, colspan, Qt.AlignmentFlag.AlignCenter)
        if weight is not None:
            if rowspan == 1:
                self._rows[row] = max(self._rows.get(row, 0.0), weight)
            if colspan == 1:
                self._cols[col] = max(self._cols.get(col, 0.0), weight)
        return label

    def widget_at(self, widget: QWidget, row: int, col: int, rowspan: int = 1, colspan: int = 1,
                  row_weight: float | None = None, col_weight: float | None = None) -> QWidget:
        self.grid.addWidget(widget, row, col, rowspan, colspan)
        if row_weight is not None:
            self._rows[row] = max(self._rows.get(row, 0.0), row_weight)
        if col_weight is not None:
            self._cols[col] = max(self._cols.get(col, 0.0), col_weight)
        return widget

    def hrow(self, row: int, items, colspan: int = 1, col: int = 0) -> list:
        """A row of views and signs that does not share columns with the other rows.

        ``items`` are tensor names, ``(tensor, options)`` pairs, or ``("sign", text)``; tensors the
        run lacks are skipped. The row's height follows its tallest view.
        """
        return self.stack(row, col, items, vertical=False, colspan=colspan)

    def stack(self, row: int, col: int, items, *, vertical: bool = True, rowspan: int = 1, colspan: int = 1) -> list:
        """Views (and signs) in one grid cell, stacked vertically or side by side.

        Items are as for :meth:`hrow`. The cell's row and column weights follow the stack's content.
        """
        box = QWidget()
        lay = QVBoxLayout(box) if vertical else QHBoxLayout(box)
        lay.setContentsMargins(0, 0, 0, 0)
        lay.setSpacing(6)
        placed = []
        along = across = 0.0
        pending_sign = None
        for item in items:
            if isinstance(item, tuple) and item[0] == "sign":
                pending_sign = item[1]
                continue
            name, opts = (item, {}) if isinstance(item, str) else (item[0], dict(item[1]))
            spec = ViewSpec(key=opts.pop("key", name), tensor=name, **opts)
            if spec.source == "tensor" and not self.has(name):
                continue
            if pending_sign and placed:
                lay.addWidget(sign_label(pending_sign), 0)
            pending_sign = None
            view = self._add_view(spec)
            h, w = display_shape(spec.shape if spec.shape is not None else self.shape(name), spec.transpose)
            main, cross = (h, w) if vertical else (w, h)
            lay.addWidget(view, int(cell_weight(main) * 10))
            along += cell_weight(main)
            across = max(across, cell_weight(cross))
            placed.append(view)
        if not placed:
            box.deleteLater()
            return placed
        self.grid.addWidget(box, row, col, rowspan, colspan)
        row_w, col_w = (along, across) if vertical else (across, along)
        if rowspan == 1:
            self._rows[row] = max(self._rows.get(row, 0.0), row_w)
        if colspan == 1:
            self._cols[col] = max(self._cols.get(col, 0.0), col_w)
        return placed

    def link(self, *keys: str) -> None:
        """Views whose leading-axis selection moves together (one head selector for all)."""
        keys = tuple(k for k in keys if k in self.views)
        if len(keys) > 1:
            self.links.append(keys)

    def weight(self, *, rows: dict | None = None, cols: dict | None = None) -> None:
        """Override the stretch of some rows/columns (in cells, like the automatic weights)."""
        self._rows.update(rows or {})
        self._cols.update(cols or {})

    def on_frame(self, hook: Callable) -> None:
        """``hook(frame)`` runs after each applied frame (titles, geometry, notes)."""
        self.frame_hooks.append(hook)

    def finish(self) -> None:
        """Apply the stretches: rows/columns in proportion to the cells they show."""
        for r, wgt in self._rows.items():
            self.grid.setRowStretch(r, int(round(wgt * 10)))
        for c, wgt in self._cols.items():
            self.grid.setColumnStretch(c, int(round(wgt * 10)))
