"""One tensor as a heatmap: a 2-D slice drawn cell by cell, with numbers, regions and a colour bar.

:class:`HeatmapView` shows a 2-D slice of the last two axes of a tensor (vectors as one row, or
one column when ``transpose=True``; scalars as one cell). Cell ``(i, j)`` is centred on the
integer point ``(j, i)`` and row 0 is on top, so tensor indices and scene coordinates agree and
region boxes (``compute.Region``) draw without conversion.

Colours go through 8-bit indices and a 256-entry lookup table (:mod:`gui.colormaps`) with
reserved entries for NaN (not yet written: grey) and ±inf, so infinities never wreck the levels,
and the levels are fixed for a run and passed on every frame. The arrays come from
``Timeline.tensor_at`` (through the canvas); the view never computes on them, it only turns
values into colours and text.

A reduced array (a big tensor shrunk by block means in the worker) covers the same scene
rectangle as the full tensor would: each of its pixels is stretched over its block, so regions and
hover indices stay in full-resolution tensor coordinates.
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable, Sequence

import numpy as np
import pyqtgraph as pg
from opscope.compute.numbers import fmt, fmt_shape
from PySide6.QtCore import QEvent, QPoint, QPointF, QRectF, QSize, Qt, QTimer, Signal
from PySide6.QtGui import QBrush, QColor, QFont, QFontMetrics, QFontMetricsF, QPainter, QPen
from PySide6.QtWidgets import (
    QFrame,
    QGraphicsObject,
    QHBoxLayout,
    QLabel,
    QMenu,
    QSizePolicy,
    QSpinBox,
    QVBoxLayout,
    QWidget,
)

from . import colormaps as cm
from .colour_key import ColourKey

#: Above this many cells a view stops writing numbers into them (they would be unreadable).
LABEL_CELL_LIMIT = 16 * 16
#: Smallest label font (pixels) worth drawing; below it the numbers would only be noise.
MIN_LABEL_PX = 11
#: Cells never grow beyond this many pixels when a whole slice is shown.
MAX_CELL_PX = 320
#: Slices more elongated than this get rectangular cells instead of a hairline.
ASPECT_LOCK_RATIO = 8
#: Largest label font (pixels): big enough for the back of a lecture hall.
MAX_LABEL_PX = 72
#: Font size of cell numbers as a share of the cell height (digits are ~0.73 of the font size).
LABEL_HEIGHT_SHARE = 0.62
#: Cell borders are drawn up to this many cells a side (beyond, they would only grey the picture).
GRID_LINE_LIMIT = 64
GRID_COLOR = QColor(0, 0, 0, 45)
FRAME_COLOR = QColor(0, 0, 0, 110)

TITLE_SIZE = "15pt"
AXIS_FONT = QFont()
AXIS_FONT.setPointSize(11)

# Region styles: (fill colour or None, brush pattern, outline colour, outline width px, pen style).
_B, _P = Qt.BrushStyle, Qt.PenStyle
REGION_STYLES = {
    "reduce": (QColor(140, 40, 190, 55), _B.SolidPattern, QColor(120, 30, 170), 2.0, _P.DashDotLine),
    "masked": (QColor(0, 0, 0, 120), _B.DiagCrossPattern, QColor(40, 40, 40), 2.0, _P.SolidLine),
    "broadcast": (QColor(0, 140, 60, 170), _B.BDiagPattern, QColor(0, 140, 60), 2.5, _P.DashLine),
    "write": (QColor(255, 120, 0, 85), _B.SolidPattern, QColor(225, 70, 0), 3.5, _P.SolidLine),
    "read": (None, _B.NoBrush, QColor(25, 100, 230), 3.5, _P.SolidLine),
    # A cell that differs from the right way (gui.window.mistake_view): red, thick, on top.
    "differ": (None, _B.NoBrush, QColor(220, 0, 0), 3.0, _P.SolidLine),
}
#: Fills are painted in this order (under the numbers), outlines in the same order over them.
REGION_ORDER = ("reduce", "masked", "broadcast", "write", "read", "differ")

ACTIVE_COLOR = "#e86a00"
READ_COLOR = "#2a6fd6"
#: The frame a view paints around itself, by its ``active`` kind: (colour, width px). Painted, not
#: a style sheet: a style sheet fixes the frame's palette (and its children's) when it is
#: polished, so a view built in a dark desktop palette kept light titles on the board's white.
FRAME_PENS = {"write": (ACTIVE_COLOR, 4.0), "read": (READ_COLOR, 3.0)}
#: Room kept for the frame whatever its kind, so the contents never move when it changes.
FRAME_MARGIN = 4


def label_text(value: float, digits: int = 3, decimals: int | None = None) -> str:
    """Short text for a cell: whole numbers without decimals, others with ``digits`` significant
    digits, or with a fixed number of ``decimals`` (narrow cells: ``−0.06`` rather than ``−0.0553``)."""
    v = float(value)
    if math.isnan(v):
        return ""
    if math.isinf(v):
        return "∞" if v > 0 else "−∞"
    if decimals is not None and v != int(v) and abs(v) < 1000:
        text = f"{v:.{decimals}f}".rstrip("0").rstrip(".")
        if text in ("-0", ""):
            text = "0"
        return text.replace("-", "−")
    text = fmt(v, digits)
    if "e" not in text and v != int(v) and abs(float(text) - v) > ROUNDED_REL * abs(v):
        # Rounded to ``digits`` significant digits: keep them all, trailing zeros too, so a rounded
        # 0.2396 reads "0.240" beside 0.219 rather than a "0.24" that looks less precise (or exact).
        # A value the digits hold exactly (0.5, 1.25) stays short.
        padded = f"{v:#.{digits}g}"
        if "e" not in padded:
            text = padded.rstrip(".")
    return text.replace("-", "−")


#: Relative difference below which a cell's short text counts as exact: float32's rounding of a
#: typed 0.1 (3e-9 off) must still print "0.1", not "0.100".
ROUNDED_REL = 1e-6


def exact_text(value: float) -> str:
    """Full precision (shortest round-trip repr) for the hover read-out."""
    v = float(value)
    if math.isnan(v):
        return "not yet written"
    if math.isinf(v):
        return "+inf" if v > 0 else "-inf"
    if v == int(v) and abs(v) < 1e15:
        return str(int(v))
    return repr(v)


def as_2d(values) -> np.ndarray:
    """A float 2-D view of ``values`` that pyqtgraph can draw safely (ARCHITECTURE.md §4).

    0-d → (1, 1); 1-D → one row (1, n); N-d → its first 2-D slice of the last two axes (so an
    (h, w, 3) array is never shown as RGB); complex → NaN (never silently drop the imaginary part);
    booleans and integers → float.
    """
    a = np.asarray(values)
    if a.dtype.kind == "c":
        a = np.full(a.shape, np.nan, dtype=np.float64)
    elif a.dtype.kind not in "f":
        a = a.astype(np.float64)
    if a.ndim == 0:
        return a.reshape(1, 1)
    if a.ndim == 1:
        return a.reshape(1, -1)
    if a.ndim > 2:
        a = a[(0,) * (a.ndim - 2)]
    return a


#: Steps of an index axis's labels, per power of ten: 1, 2, 5, 10, 20, 50, …
_NICE_STEPS = (1, 2, 5)


def index_tick_step(span: float, pixels: float, label_px: float) -> int:
    """The smallest of 1, 2, 5, 10, 20, 50, … index steps at which labels ``label_px`` wide (or
    tall) do not touch along an axis of ``pixels`` showing ``span`` indices."""
    need = span * label_px / max(pixels, 1.0)
    scale = 1
    while True:
        for step in _NICE_STEPS:
            if step * scale >= need:
                return step * scale
        scale *= 10


class IndexAxis(pg.AxisItem):
    """An axis of row or column indices: integer ticks only, none outside 0 … count-1, and as
    sparse as their labels require: pyqtgraph's default would print 0.5 steps on a 4×4 matrix,
    and on a 4096-column slice a few hundred pixels wide it printed "100020003000", the labels
    run together (it spaces ticks by a fixed pixel density, not by their text's width)."""

    def __init__(self, orientation: str):
        super().__init__(orientation)
        self.count = 1
        # Indices need no SI prefix (k, M); left on, every range change re-renders the axis label's
        # HTML: ~300 setHtml calls, ~90 ms of the GUI thread when a 4096² board is built.
        self.enableAutoSIPrefix(False)

    def tickSpacing(self, minVal, maxVal, size):  # noqa: N802 - pyqtgraph API
        fm = QFontMetrics(AXIS_FONT)
        if self.orientation in ("top", "bottom"):  # the widest label and a space on either side
            label = fm.horizontalAdvance("8" * len(str(max(self.count - 1, 0)))) + fm.horizontalAdvance("  ")
        else:
            label = fm.height() * 1.4
        return [(float(index_tick_step(maxVal - minVal, size, label)), 0.0)]

    def tickValues(self, minVal, maxVal, size):  # noqa: N802 - pyqtgraph API
        out = []
        for spacing, ticks in super().tickValues(minVal, maxVal, size):
            ticks = [t for t in ticks if -1e-9 <= t <= self.count - 1 + 1e-9 and abs(t - round(t)) < 1e-9]
            out.append((spacing, ticks))
        return out

    def tickStrings(self, values, scale, spacing):  # noqa: N802 - pyqtgraph API
        return [str(int(round(v))) for v in values]


class CellLayer(QGraphicsObject):
    """Region fills, cell numbers and region outlines, painted in one pass in device pixels.

    Lives in the view box (scene units = cells) but paints with the transform reset, so line
    widths, hatching and font sizes stay the same on screen whatever the zoom.
    """

    def __init__(self):
        super().__init__()
        self._bounds = QRectF()
        self._image_bounds = QRectF()
        self._regions: list[tuple[str, QRectF]] = []
        self._labels: tuple[float, float, float, float, list[list[str]], list[list[QColor]]] | None = None
        self._font = label_font()
        #: What the last paint drew (see :meth:`drawn`): measured there, not predicted.
        self._drawn = {"cell_px": (0.0, 0.0), "font_px": 0.0, "numbers": False}
        self.setZValue(10)
        self.setAcceptedMouseButtons(Qt.MouseButton.NoButton)

    def set_content(self, bounds: QRectF, regions: list[tuple[str, QRectF]], labels) -> None:
        """``bounds``: the image rect; ``regions``: (kind, rect) in scene units; ``labels``:
        (x0, y0, cell_w, cell_h, [texts[row][col] per precision], colours[row][col]) or None."""
        self._image_bounds = QRectF(bounds)
        rect = QRectF(bounds)
        for _kind, r in regions:
            rect = rect.united(r)
        rect = rect.adjusted(-1, -1, 1, 1)
        if rect != self._bounds:
            self.prepareGeometryChange()
            self._bounds = rect
        self._regions = regions
        self._labels = labels
        self.update()

    def boundingRect(self) -> QRectF:  # noqa: N802 - Qt API
        return self._bounds

    def drawn(self) -> dict:
        """What the last paint drew: ``cell_px`` (w, h) of one cell on screen, ``font_px`` (the
        height of the digit "0" in the font the numbers were drawn with; 0 when none were) and
        ``numbers`` (whether any number was drawn)."""
        return dict(self._drawn)

    def paint(self, painter: QPainter, option, widget=None) -> None:
        t = painter.transform()
        painter.save()
        painter.resetTransform()
        painter.setRenderHint(QPainter.RenderHint.Antialiasing, False)
        device = [(kind, t.mapRect(r)) for kind, r in self._regions]
        whole = self._image_bounds
        for kind in REGION_ORDER:
            fill, pattern, _line, _w, _style = REGION_STYLES[kind]
            if fill is None:
                continue
            brush = QBrush(fill, pattern)
            for (k, r), (_k, scene_r) in zip(device, self._regions):
                # A write of the whole slice (a stage) is said by the frame and outline; tinting
                # every cell would only falsify the colours.
                if k == kind and not (kind == "write" and scene_r.contains(whole)):
                    painter.fillRect(r, brush)
        self._drawn = {"cell_px": (abs(t.m11()), abs(t.m22())), "font_px": 0.0, "numbers": False}
        self._paint_grid(painter, t)
        if self._labels is not None:
            self._paint_labels(painter, t)
        painter.setBrush(Qt.BrushStyle.NoBrush)
        for kind in REGION_ORDER:
            _fill, _pattern, line, width, style = REGION_STYLES[kind]
            pen = QPen(line, width, style)
            pen.setJoinStyle(Qt.PenJoinStyle.MiterJoin)
            painter.setPen(pen)
            inset = width / 2.0
            for k, r in device:
                if k == kind:
                    painter.drawRect(r.adjusted(inset, inset, -inset, -inset))
        painter.restore()

    def _paint_grid(self, painter: QPainter, t) -> None:
        """Hairlines between cells and a frame round the matrix: a zero cell (white in the diverging
        map) stays a cell, not a hole in the background."""
        r = t.mapRect(self._image_bounds)
        if r.isEmpty():
            return
        cells_x = max(1, round(self._image_bounds.width()))
        cells_y = max(1, round(self._image_bounds.height()))
        painter.setBrush(Qt.BrushStyle.NoBrush)
        if cells_x <= GRID_LINE_LIMIT and cells_y <= GRID_LINE_LIMIT and r.width() / cells_x >= 6:
            painter.setPen(QPen(GRID_COLOR, 1.0))
            for k in range(1, cells_x):
                x = round(r.x() + r.width() * k / cells_x)
                painter.drawLine(QPointF(x, r.top()), QPointF(x, r.bottom()))
            for k in range(1, cells_y):
                y = round(r.y() + r.height() * k / cells_y)
                painter.drawLine(QPointF(r.left(), y), QPointF(r.right(), y))
        painter.setPen(QPen(FRAME_COLOR, 1.5))
        painter.drawRect(r)

    def _paint_labels(self, painter: QPainter, t) -> None:
        x0, y0, cw, ch, variants, colours = self._labels
        px_w = abs(t.m11()) * cw
        px_h = abs(t.m22()) * ch
        # 3 significant digits first; 2 when the cells are too small for them.
        chosen = next(((texts, size) for texts, ratio in variants
                       if (size := label_font_px(px_w, px_h, ratio)) >= MIN_LABEL_PX), None)
        if chosen is None:
            return
        texts, size = chosen
        self._font.setPixelSize(int(size))
        painter.setFont(self._font)
        painter.setRenderHint(QPainter.RenderHint.TextAntialiasing, True)
        drawn = False
        for i, row in enumerate(texts):
            for j, text in enumerate(row):
                if not text:
                    continue
                c = t.map(QPointF(x0 + (j + 0.5) * cw, y0 + (i + 0.5) * ch))
                painter.setPen(colours[i][j])
                painter.drawText(QRectF(c.x() - px_w / 2, c.y() - px_h / 2, px_w, px_h),
                                 Qt.AlignmentFlag.AlignCenter, text)
                drawn = True
        if drawn:
            digit = QFontMetricsF(self._font).tightBoundingRect("0").height()
            self._drawn.update(font_px=float(digit), numbers=True)


def label_font() -> QFont:
    """The font cell numbers are drawn in: bold and condensed (more digits fit a cell's width)."""
    font = QFont("DejaVu Sans")
    font.setStretch(QFont.Stretch.Condensed)
    font.setBold(True)
    return font


_REF_PX = 100
_REF_METRICS: list[QFontMetricsF] = []


def text_ratio(texts) -> float:
    """Width of the widest of ``texts`` per pixel of font size, in :func:`label_font`."""
    if not _REF_METRICS:
        font = label_font()
        font.setPixelSize(_REF_PX)
        _REF_METRICS.append(QFontMetricsF(font))
    metrics = _REF_METRICS[0]
    longest = sorted({s for s in texts if s}, key=len, reverse=True)[:4]
    return max((metrics.horizontalAdvance(s) for s in longest), default=metrics.horizontalAdvance("0")) / _REF_PX


def label_font_px(cell_w: float, cell_h: float, ratio: float) -> float:
    """The font size (px) for numbers in cells of ``cell_w`` × ``cell_h`` pixels whose widest text
    is ``ratio`` font sizes wide: digits about half the cell's height, the text within 88 % of its
    width, at most :data:`MAX_LABEL_PX`."""
    return min(cell_h * LABEL_HEIGHT_SHARE, cell_w * 0.88 / max(ratio, 0.3), MAX_LABEL_PX)


_MENU_HOLDER: QWidget | None = None


def _menu_holder() -> QWidget:
    """A hidden widget that owns the pyqtgraph menus of every view (see HeatmapView._adopt_menus)."""
    global _MENU_HOLDER
    if _MENU_HOLDER is None:
        _MENU_HOLDER = QWidget()
        _MENU_HOLDER.setObjectName("opscope-menu-holder")
    return _MENU_HOLDER


class HeatmapView(QFrame):
    """A heatmap of one 2-D slice of a tensor, with numbers, region overlays and a colour bar.

    Parameters
    ----------
    name : the tensor's name (title and hover read-out).
    parent : Qt parent.
    colorbar : show a colour bar beside the image.
    labels : write values into cells when they are big enough on screen.
    transpose : display the slice transposed (``Kᵀ``, a vector as a column); data, regions and
        indices stay in the tensor's own orientation.

    Signals
    -------
    lead_changed(tuple) : the user picked another slice of the leading axes.
    view_box_changed(object) : the visible part of a large tensor changed after zooming/panning:
        ``((r0, r1), (c0, c1))`` in tensor coordinates of the last two axes, or None for all of it.
    save_requested(str) : the user chose "Save tensor…" in the context menu (the tensor's name);
        the window does the saving.
    """

    lead_changed = Signal(object)
    view_box_changed = Signal(object)
    save_requested = Signal(str)

    def __init__(self, name: str = "", parent: QWidget | None = None, *, colorbar: bool = True,
                 labels: bool = True, transpose: bool = False):
        super().__init__(parent)
        self.setObjectName("heatmapFrame")
        self.setContentsMargins(FRAME_MARGIN, FRAME_MARGIN, FRAME_MARGIN, FRAME_MARGIN)
        self.name = name
        self.transpose = bool(transpose)
        self.show_labels = bool(labels)
        self._title_override: str | None = None
        self._shape: tuple[int, ...] = ()
        self._levels = (0.0, 1.0)
        self._lut = cm.SEQUENTIAL_LUT
        self._lead: tuple[int, ...] = ()
        self._lead_names: Sequence[str] = ()
        self._data = np.full((1, 1), np.nan)
        self._raw: np.ndarray = self._data
        self._box = None
        self._factor = (1, 1)
        self._max_shape: tuple[int, int] | None = None
        self._regions: tuple = ()
        self._value_source: Callable[[tuple[int, ...]], float] | None = None
        self._active = ""
        self._last_box_emitted = None

        self.setFrameShape(QFrame.Shape.NoFrame)
        outer = QVBoxLayout(self)
        outer.setContentsMargins(3, 3, 3, 3)
        outer.setSpacing(2)
        self._title = QLabel()
        self._title.setTextFormat(Qt.TextFormat.RichText)
        self._title.setAlignment(Qt.AlignmentFlag.AlignCenter)
        # Ignored width: a long title is clipped instead of forcing the whole board wider
        # (pyqtgraph's own title item sets its text width as the plot's minimum width).
        self._title.setSizePolicy(QSizePolicy.Policy.Ignored, QSizePolicy.Policy.Fixed)
        # No colour of its own: the title follows the palette (the canvas gives its board one).
        # A font, not a style sheet: a style sheet fixes the label's palette when it is polished,
        # and a view built by the pool (parentless, in the desktop's palette) kept a dark theme's
        # light text on the board's white when the board adopted it.
        self._title_font = QFont(self._title.font())
        self._title_font.setPointSizeF(float(TITLE_SIZE.rstrip("pt")))
        self._title.setFont(self._title_font)
        outer.addWidget(self._title, 0)
        self._glw = pg.GraphicsLayoutWidget()
        self._glw.setBackground("w")
        self._glw.ci.setContentsMargins(2, 2, 2, 2)
        outer.addWidget(self._glw, 1)
        self._axes = {"left": IndexAxis("left"), "top": IndexAxis("top")}
        # No pyqtgraph context menus (the view has its own): built eagerly, they were ~35 ms of
        # each view's construction on the GUI thread, and parentless menus only gc frees.
        self._plot = self._glw.addPlot(row=0, col=0, axisItems=self._axes, enableMenu=False)
        self._adopt_menus(self._plot)
        for side in ("bottom", "right"):  # hidden, but they follow every range change too
            self._plot.getAxis(side).enableAutoSIPrefix(False)
        self._plot.hideButtons()
        self._plot.setMenuEnabled(False)
        self._vb = self._plot.getViewBox()
        self._vb.invertY(True)
        self._vb.setAspectLocked(True)
        self._vb.setDefaultPadding(0.02)
        self._vb.disableAutoRange()
        for side in ("bottom", "right"):
            self._plot.hideAxis(side)
        for side in ("left", "top"):
            self._plot.showAxis(side)
            ax = self._plot.getAxis(side)
            ax.setStyle(tickFont=AXIS_FONT, tickLength=-4)
            ax.setPen(pg.mkPen((0, 0, 0, 0)))  # index labels only: an axis line beside cells is clutter
            ax.setTextPen(pg.mkPen("#444"))
        self._image = pg.ImageItem(axisOrder="row-major")
        self._plot.addItem(self._image)
        self._layer = CellLayer()
        self._plot.addItem(self._layer)

        self._bar = None
        self._bar_wanted = bool(colorbar)
        self._key_needed = False
        self._key_managed = False
        self._keying = False
        if colorbar:
            self._ensure_bar()

        self._lead_row = QWidget()
        lead_layout = QHBoxLayout(self._lead_row)
        lead_layout.setContentsMargins(4, 0, 4, 0)
        lead_layout.setSpacing(6)
        self._lead_caption = QLabel("slice")
        caption_font = QFont(self._lead_caption.font())
        caption_font.setPointSize(12)
        self._lead_caption.setFont(caption_font)  # (a font, not a style sheet: see the title)
        self._lead_caption.setMinimumWidth(1)  # clipped, never widening a narrow view
        lead_layout.addWidget(self._lead_caption)
        self._spins: list[QSpinBox] = []
        lead_layout.addStretch(1)
        self._lead_row.hide()
        outer.addWidget(self._lead_row, 0)

        self._hover = QLabel(self)
        self._hover.setStyleSheet("background: rgba(255, 255, 240, 235); border: 1px solid #888; "
                                  "padding: 3px 6px; font-size: 13pt; color: #111;")
        self._hover.hide()
        self._glw.scene().sigMouseMoved.connect(self._on_mouse_moved)
        self._glw.scene().sigMouseClicked.connect(self._on_mouse_clicked)
        self._glw.viewport().installEventFilter(self)

        self._range_timer = QTimer(self)
        self._range_timer.setSingleShot(True)
        self._range_timer.setInterval(150)
        self._range_timer.timeout.connect(self._emit_visible_box)
        self._auto_fit = True
        self._cell_cap = float(MAX_CELL_PX)
        self._cell_aspect = 1.0
        self._vb.sigRangeChangedManually.connect(self._on_manual_range)
        self._vb.sigResized.connect(self._on_vb_resized)

        self.set_active("")
        self.set_tensor(name, (), (0.0, 1.0))

    def _adopt_menus(self, plot) -> None:
        """Give the menus pyqtgraph builds without a parent (a plot's control menu, its view box's)
        a Qt parent outside this view, deleted when the view is.

        Left parentless they die whenever Python's garbage collector runs, and a collection that
        landed inside a signal disconnect deleted a QAction under Qt's connection lock: the GUI
        thread deadlocked (seen once in CI, in a pool build). Not parented to the view itself: its
        14 menus (windows, with 80 widgets in them) made every reparenting of the view, each time a
        board placed it, cost 8–10 ms of the GUI thread; without them a placement costs 1.3 ms."""
        for menu in (getattr(plot, "ctrlMenu", None), getattr(plot.getViewBox(), "menu", None)):
            if menu is not None and menu.parent() is None:
                menu.setParent(_menu_holder(), menu.windowFlags())
                self.destroyed.connect(menu.deleteLater)

    def _ensure_bar(self) -> None:
        """Build the colour key (a fraction of a millisecond: see :mod:`gui.colour_key`)."""
        if self._bar is not None:
            return
        self._bar = ColourKey(self._levels, AXIS_FONT)
        self._glw.addItem(self._bar, row=0, col=1)

    def configure(self, *, colorbar: bool, labels: bool, transpose: bool) -> None:
        """Set the flags given to the constructor on an existing view (one built ahead of time by
        :class:`~gui.canvas.pool.ViewPool`)."""
        if colorbar:
            self._ensure_bar()
        self._bar_wanted = bool(colorbar)
        if self._bar is not None and not colorbar:
            self._bar.setVisible(False)
        self.show_labels = bool(labels)
        self.transpose = bool(transpose)

    def sizeHint(self) -> QSize:  # noqa: N802 - Qt API
        # Small on purpose: a board then always has room to spare, and its stretch factors (cells
        # per view) decide the sizes instead of pyqtgraph's large default hint.
        return QSize(160, 140)

    def minimumSizeHint(self) -> QSize:  # noqa: N802 - Qt API
        return QSize(90, 80)

    # --- configuration -----------------------------------------------------------------------
    def set_tensor(self, name: str, shape: Sequence[int], levels, *, title: str | None = None,
                   lead_names: Sequence[str] = (), max_shape: Sequence[int] | None = None) -> None:
        """Show tensor ``name`` of full ``shape`` with fixed ``levels`` (lo, hi) for the run.

        Resets the data to "not yet written", the lead to zeros (one spin box per leading axis)
        and the zoom to the whole slice. ``max_shape`` is what the canvas reduces to: the view asks
        for a zoomed box (:attr:`view_box_changed`) only when the slice is bigger than that.
        """
        self.name = name
        self._shape = tuple(int(s) for s in shape)
        self._title_override = title
        self._lead_names = tuple(lead_names)
        self._max_shape = None if max_shape is None else (int(max_shape[0]), int(max_shape[1]))
        self.set_levels(levels)
        self._lead = (0,) * max(0, len(self._shape) - 2)
        self._build_spins()
        self._key_needed = False
        self._key_managed = False
        self._update_key()
        self._box = None
        self._regions = ()
        self._last_box_emitted = None
        h, w = self.slice_shape()
        th, tw = self._tensor_2d_shape()
        # The "not yet written" placeholder is made at display resolution: a 4096² tensor must not
        # cost a 16 M-element fill and quantize on the GUI thread before its first frame arrives.
        fy = max(1, math.ceil(th / self._max_shape[0])) if self._max_shape else 1
        fx = max(1, math.ceil(tw / self._max_shape[1])) if self._max_shape else 1
        self._factor = (fy, fx)
        self._raw = np.full((math.ceil(th / fy), math.ceil(tw / fx)), np.nan)
        self._data = as_2d(self._raw)
        # All "not yet written": its colour indices without quantizing a display-sized NaN array
        # on the GUI thread (~12 ms a 1024² view, three or more views a board).
        self._render(quantized=np.full(self._data.shape, cm.NAN_INDEX, dtype=np.uint8))
        self._cell_aspect = 1.0  # a pooled view may come from a flow page with wide cells
        self._setup_axes(h, w)
        self.reset_zoom()
        self._update_title()

    def set_levels(self, levels) -> None:
        """Fix the colour scale to ``levels`` (lo, hi); symmetric about 0 when they straddle it."""
        self._levels = cm.display_levels(levels)
        self._lut = cm.lut_for(self._levels)
        if self._bar is not None:
            self._bar.set_levels(self._levels)

    def set_title(self, title: str | None) -> None:
        """Replace the automatic title (name + shape) by ``title`` (HTML allowed); None restores it."""
        self._title_override = title
        self._update_title()

    def levels(self) -> tuple[float, float]:
        """The display levels in use (symmetric about 0 for a diverging map)."""
        return self._levels

    def title_override(self) -> str | None:
        """The title set by :meth:`set_title` (None: automatic)."""
        return self._title_override

    def coverage_key(self) -> tuple:
        """(box, factor) of the data shown: what besides the array itself decides the picture."""
        return self._box, self._factor

    def set_value_source(self, source: Callable[[tuple[int, ...]], float] | None) -> None:
        """``source(full_index) -> float`` gives the hover read-out at full precision (the canvas asks
        the timeline); without one the displayed value is used."""
        self._value_source = source

    def set_lead(self, lead: Sequence[int], *, emit: bool = False) -> None:
        """Select the slice ``lead`` of the leading axes (clamped), updating the spin boxes."""
        lead = tuple(int(i) for i in lead)[: len(self._spins)]
        lead = lead + (0,) * (len(self._spins) - len(lead))
        lead = tuple(max(0, min(i, s - 1)) if s else 0 for i, s in zip(lead, self._shape[: len(lead)]))
        changed = lead != self._lead
        self._lead = lead
        for spin, i in zip(self._spins, lead):
            if spin.value() != i:
                spin.blockSignals(True)
                spin.setValue(i)
                spin.blockSignals(False)
        if changed:
            self._update_title()
            self._apply_regions()
            if emit:
                self.lead_changed.emit(lead)

    def lead(self) -> tuple[int, ...]:
        """The selected index of each leading axis (empty for ≤ 2-D tensors)."""
        return self._lead

    def set_active(self, kind: str) -> None:
        """Frame the view: ``"write"`` (the stage's output: orange), ``"read"`` (blue) or ``""``."""
        kind = kind or ""
        if kind == self._active:
            return
        self._active = kind
        self.update()

    def paintEvent(self, event) -> None:  # noqa: N802 - Qt API
        super().paintEvent(event)
        pen = FRAME_PENS.get(self._active)
        if pen is None:
            return
        colour, width = pen
        painter = QPainter(self)
        painter.setRenderHint(QPainter.RenderHint.Antialiasing, True)
        painter.setPen(QPen(QColor(colour), width))
        painter.setBrush(Qt.BrushStyle.NoBrush)
        half = width / 2.0
        painter.drawRoundedRect(QRectF(self.rect()).adjusted(half, half, -half, -half), 6.0, 6.0)
        painter.end()

    def active(self) -> str:
        return self._active

    # --- data -----------------------------------------------------------------------------------
    def set_data(self, values, quantized: np.ndarray | None = None, *, box=None,
                 factor: Sequence[int] = (1, 1)) -> None:
        """Show ``values``: the current slice in the tensor's orientation (0-d, 1-D or 2-D).

        ``quantized`` are colour indices from :func:`gui.colormaps.quantize` made by a worker (made
        here when None). ``box`` ``((r0, r1), (c0, c1))`` says which part of the slice the values
        cover (None: all of it; for a vector only the column range counts), ``factor`` how many
        tensor rows/columns one value stands for (a reduced array).
        """
        raw = np.asarray(values)
        if raw.dtype.kind == "c":
            raw = np.full(raw.shape, np.nan)
        self._raw = raw
        self._data = as_2d(raw)
        before = (self._box, self._factor)
        self._box = None if box is None else tuple((int(a), int(b)) for a, b in box)
        self._factor = (max(1, int(factor[0])), max(1, int(factor[1])))
        if (self._box, self._factor) != before:
            self._update_title()
        q = None
        if quantized is not None:
            q = np.asarray(quantized)
            q = q.reshape(self._data.shape) if q.dtype == np.uint8 and q.size == self._data.size else None
        if q is None:
            q = cm.quantize(self._data, self._levels)
        self._render(quantized=q)

    def data(self) -> np.ndarray:
        """What the view shows now, in the tensor's orientation and dimensionality (NaN = unwritten)."""
        return self._raw

    def image_data(self) -> np.ndarray:
        """The 2-D array drawn (after the vector/scalar reshape and any transpose)."""
        return self._data.T if self.transpose else self._data

    def slice_shape(self) -> tuple[int, int]:
        """(rows, columns) of the full-resolution slice as displayed (after any transpose)."""
        h, w = self._tensor_2d_shape()
        return (w, h) if self.transpose else (h, w)

    def _tensor_2d_shape(self) -> tuple[int, int]:
        s = self._shape
        if len(s) == 0:
            return 1, 1
        if len(s) == 1:
            return 1, s[0]
        return s[-2], s[-1]

    def set_regions(self, regions: Sequence) -> None:
        """Draw ``regions`` (objects with ``tensor``, ``kind``, ``box``) of this view's tensor.

        Boxes are in the tensor's full shape; a region whose leading-axis range misses the
        selected slice is not drawn. Regions of other tensors are ignored.
        """
        self._regions = tuple(r for r in regions if getattr(r, "tensor", self.name) == self.name)
        self._apply_regions()

    def drawn(self) -> dict:
        """What the last paint of this view drew (see :meth:`CellLayer.drawn`): cell size on
        screen, digit height of the numbers and whether any were drawn. Paint first (``grab()``)
        for a current answer."""
        return self._layer.drawn()

    def region_rects(self) -> list[tuple[str, QRectF]]:
        """(kind, rect in scene units) of the regions drawn now (for tests)."""
        return list(self._region_rects)

    # --- rendering --------------------------------------------------------------------------------
    def _tensor_rect(self, rows: tuple[int, int], cols: tuple[int, int]) -> QRectF:
        """Scene rect of tensor rows × cols, in display orientation."""
        if self.transpose:
            rows, cols = cols, rows
        return QRectF(cols[0] - 0.5, rows[0] - 0.5, cols[1] - cols[0], rows[1] - rows[0])

    def _coverage(self) -> tuple[tuple[int, int], tuple[int, int]]:
        """(rows, cols) of the tensor slice the current data covers, in tensor orientation."""
        h, w = self._data.shape
        fy, fx = self._factor
        if self._box is None:
            r0 = c0 = 0
        elif len(self._shape) <= 1:
            r0, c0 = 0, self._box[-1][0]
        else:
            r0, c0 = self._box[0][0], self._box[1][0]
        return (r0, r0 + h * fy), (c0, c0 + w * fx)

    def _render(self, quantized: np.ndarray | None) -> None:
        data = self._data
        if data.size == 0:
            self._image.clear()
            self._image_rect = QRectF()
            self._apply_regions()
            self._update_title()
            return
        if quantized is None:
            quantized = cm.quantize(data, self._levels)
        img = quantized.T if self.transpose else quantized
        self._image.setImage(np.ascontiguousarray(img), autoLevels=False, levels=(0, 255), lut=self._lut)
        rows, cols = self._coverage()
        self._image_rect = self._tensor_rect(rows, cols)
        self._image.setRect(self._image_rect)
        self._quantized = img
        self._apply_regions()

    def _labels(self):
        if not self.show_labels or self._factor != (1, 1):
            return None
        img = self.image_data()
        if img.size == 0 or img.size > LABEL_CELL_LIMIT:
            return None
        q = self._quantized
        values = img.tolist()
        # Significant digits only, never fixed decimals: 0.04 must not become "0" (issue 9).
        variants = []
        for d in (3, 2):
            texts = [[label_text(v, d) for v in row] for row in values]
            variants.append((texts, text_ratio(s for row in texts for s in row)))
        colours = [[cm.text_color_for_rgba(self._lut[int(k)]) for k in row] for row in q.tolist()]
        r = self._image_rect
        return (r.x(), r.y(), 1.0, 1.0, variants, colours)

    def _apply_regions(self) -> None:
        rects = []
        lead = self._lead
        nd = len(self._shape)
        for reg in self._regions:
            box = tuple(reg.box)
            if len(box) != nd:
                continue
            if nd > 2 and any(not (a <= i < b) for (a, b), i in zip(box[:-2], lead)):
                continue
            if nd == 0:
                rows, cols = (0, 1), (0, 1)
            elif nd == 1:
                rows, cols = (0, 1), box[0]
            else:
                rows, cols = box[-2], box[-1]
            if rows[1] <= rows[0] or cols[1] <= cols[0]:
                continue
            if reg.kind in REGION_STYLES:
                rects.append((reg.kind, self._tensor_rect(tuple(rows), tuple(cols))))
        self._region_rects = rects
        bounds = getattr(self, "_image_rect", QRectF())
        self._layer.set_content(bounds, rects, self._labels())

    def _setup_axes(self, h: int, w: int) -> None:
        nd = len(self._shape)
        left = self._plot.getAxis("left")
        top = self._plot.getAxis("top")
        row_like = nd == 1 and not self.transpose
        col_like = nd == 1 and self.transpose
        self._plot.showAxis("left", show=not (nd == 0 or row_like))
        self._plot.showAxis("top", show=not (nd == 0 or col_like))
        left.count, top.count = h, w
        # The row labels' space from the row count, not grown from what was painted: pyqtgraph resizes
        # an axis to its labels during the paint, a relayout the view box of a pooled view shown
        # again never got (W2 8×4 kept a 35 px axis for 15 px of labels: cells 9 % smaller).
        digits = len(str(max(h - 1, 0)))
        left.setStyle(autoExpandTextSpace=False,
                      tickTextWidth=int(math.ceil(QFontMetrics(AXIS_FONT).horizontalAdvance("8" * digits))) + 1)
        # Square cells read as a matrix; a very elongated slice (a long vector, a 16×1024 panel)
        # would be a hairline, so its cells may stretch instead.
        self._vb.setAspectLocked(max(h, w) <= ASPECT_LOCK_RATIO * min(h, w), ratio=self._cell_aspect)

    def reset_zoom(self) -> None:
        """Show the whole slice again (cells no bigger than :data:`MAX_CELL_PX`)."""
        self._auto_fit = True
        self._fit_range()
        if self._last_box_emitted is not None:
            self._last_box_emitted = None
            self.view_box_changed.emit(None)

    def _fit_range(self) -> None:
        """Fit the whole slice, but with cells of at most MAX_CELL_PX: a 1×3 vector or a scalar
        should not become three giant tiles (and equal cell sizes keep neighbours aligned)."""
        h, w = self.slice_shape()
        h, w = max(h, 1), max(w, 1)
        rect = self._vb.rect()
        px_w, px_h = rect.width(), rect.height()
        cw, ch = w * 1.04, h * 1.04
        if px_w > 0 and px_h > 0:
            cap = self._cell_cap
            if self._vb.state["aspectLocked"]:
                # Cells of cell_aspect : 1 (wider than tall where numbers need the width).
                a = self._cell_aspect
                sy = min(px_w / (cw * a), px_h / ch, cap)
                cw, ch = px_w / (sy * a), px_h / sy
            else:
                cw = max(cw, px_w / cap)
                ch = max(ch, px_h / cap)
        cx, cy = (w - 1) / 2.0, (h - 1) / 2.0
        self._vb.setRange(xRange=(cx - cw / 2, cx + cw / 2), yRange=(cy - ch / 2, cy + ch / 2), padding=0)

    def natural_cell_px(self) -> float | None:
        """Pixels per cell if the whole slice filled the view (None: not laid out, or not square cells)."""
        if not self._vb.state["aspectLocked"]:
            return None
        h, w = self.slice_shape()
        rect = self._vb.rect()
        if rect.width() <= 1 or rect.height() <= 1:
            return None
        a = self._cell_aspect
        return min(rect.width() / (max(w, 1) * 1.04 * a), rect.height() / (max(h, 1) * 1.04))

    def set_cell_cap(self, px: float, aspect: float | None = None) -> None:
        """Never draw cells taller than ``px`` when showing the whole slice (the canvas gives
        neighbouring views one size, so their rows and columns line up). ``aspect`` (width over
        height of a cell, default: unchanged) lets cells be wider than tall, where their numbers
        need the width."""
        px = max(4.0, min(float(px), MAX_CELL_PX))
        changed = abs(px - self._cell_cap) > 0.25
        if aspect is not None and abs(float(aspect) - self._cell_aspect) > 1e-3:
            self._cell_aspect = max(0.2, float(aspect))
            if self._vb.state["aspectLocked"]:
                self._vb.setAspectLocked(True, ratio=self._cell_aspect)
            changed = True
        if changed:
            self._cell_cap = px
            if self._auto_fit:
                self._fit_range()

    def set_key_needed(self, needed: bool) -> None:
        """Say whether this view's numbers are too small to be drawn where it is placed (a flow page
        knows before it paints): colour then carries the values, and a colour key is shown even on
        a view built without one (built now if need be). The placer's word then stands alone: a
        view being moved would otherwise judge by the size it is leaving."""
        self._key_managed = True
        if bool(needed) != self._key_needed:
            self._key_needed = bool(needed)
            self._update_key()

    def _numbers_fit(self) -> bool:
        """Whether numbers would be drawn at the cell size the view has now (its cap included)."""
        px = self.natural_cell_px()
        if px is None:
            return True
        px = min(px, self._cell_cap)
        labels = self._layer._labels
        ratio = min(r for _t, r in labels[4]) if labels is not None and labels[4] else text_ratio(["−0.00"])
        return label_font_px(px * self._cell_aspect, px, ratio) >= MIN_LABEL_PX

    def _update_key(self) -> None:
        """Colour bar shown exactly where colour alone carries the values: numbers in the cells say
        more than a bar and leave the image more room, but a view whose cells are too small for
        them (or too many) keeps its key. Monotone, so it cannot flicker: showing the bar shrinks
        the cells, which never brings the numbers back."""
        if getattr(self, "_keying", True):  # True also while __init__ has not got this far
            return
        h, w = self._tensor_2d_shape()
        fit = True if self._key_managed else self._numbers_fit()
        numbers = self.show_labels and h * w <= LABEL_CELL_LIMIT and not self._key_needed and fit
        want = not numbers and (self._bar_wanted or self._key_needed)
        if want == (self._bar is not None and self._bar.isVisible()):
            return
        self._keying = True
        try:
            if want:
                self._ensure_bar()
            if self._bar is not None:
                self._bar.setVisible(want)
        finally:
            self._keying = False

    def has_key(self) -> bool:
        """Whether a colour key is shown with this view."""
        return self._bar is not None and self._bar.isVisible()

    def cell_aspect(self) -> float:
        """Width over height of a cell when the aspect is locked (1: square)."""
        return self._cell_aspect

    def _on_vb_resized(self, *_args) -> None:
        if self._auto_fit:
            self._fit_range()
        self._update_key()

    def _on_manual_range(self, *_args) -> None:
        self._auto_fit = False
        self._range_timer.start()

    def _update_title(self) -> None:
        lead = "".join(f"[{i}]" for i in self._lead)
        tname = self.name + ("ᵀ" if self.transpose and len(self._shape) >= 2 else "")
        short = f"<b>{tname}</b>{lead}"
        if self._title_override is not None:
            full = self._title_override
            # A narrow slice keeps what names it ("A[1]" of "A[1] batch 1"), not the bare name.
            head = re.sub(r"\s*<span[^>]*>.*?</span>", "", full).strip()
            if head != full and head:
                short = head
        else:
            # The shape of the picture: Kᵀ of a (4, 3) K is drawn, and titled, (3, 4).
            shown = self._shape
            if self.transpose and len(shown) >= 2:
                shown = shown[:-2] + (shown[-1], shown[-2])
            full = f"{short} <span style='color:#666'>{fmt_shape(shown)}</span>"
            if self._data.size == 0:
                full += " <i>(empty)</i>"
            extra = ""
            if self._box is not None and len(self._shape) >= 2:
                extra += " <span style='color:#a33'>[" + ", ".join(f"{a}:{b}" for a, b in self._box) + "]</span>"
            if self._factor != (1, 1):
                extra += f" <span style='color:#a33'>÷{self._factor[0]}×{self._factor[1]}</span>"
            full, short = full + extra, short + extra
        self._titles = (full, short)
        self._fit_title()

    def _fit_title(self) -> None:
        """The full title when it fits the view's width, else the one without the shape."""
        full, short = getattr(self, "_titles", ("", ""))
        metrics = QFontMetrics(self._title_font)
        plain = re.sub(r"<[^>]+>", "", full)
        text = full if metrics.horizontalAdvance(plain) * 1.1 <= max(40, self.width() - 10) else short
        if self._title.text() != text:
            self._title.setText(text)

    def resizeEvent(self, event) -> None:  # noqa: N802 - Qt API
        super().resizeEvent(event)
        self._fit_title()

    def _build_spins(self) -> None:
        layout = self._lead_row.layout()
        for spin in self._spins:
            layout.removeWidget(spin)
            spin.deleteLater()
        self._spins = []
        nlead = max(0, len(self._shape) - 2)
        if not nlead:
            self._lead_row.hide()
            return
        # Names describe the innermost leading axes ("head" of (batch, head, ...)): right-aligned.
        given = list(self._lead_names)[-nlead:] if self._lead_names else []
        names = [f"axis {i}" for i in range(nlead - len(given))] + given
        self._lead_caption.setText(",".join(names) + ":")
        for axis in range(nlead):
            spin = QSpinBox()
            spin.setRange(0, max(0, self._shape[axis] - 1))
            spin.setStyleSheet("font-size: 12pt;")
            spin.setMinimumWidth(44)
            spin.setSizePolicy(QSizePolicy.Policy.Preferred, QSizePolicy.Policy.Fixed)
            spin.setToolTip(f"which index of axis {axis} ({names[axis]}) to show")
            spin.valueChanged.connect(self._on_spin)
            layout.insertWidget(1 + axis, spin)
            self._spins.append(spin)
        self._lead_row.show()

    def _on_spin(self, _value: int) -> None:
        self.set_lead(tuple(s.value() for s in self._spins), emit=True)

    # --- hover and zoom -------------------------------------------------------------------------
    def cell_at(self, scene_pos) -> tuple[int, ...] | None:
        """The full tensor index (lead included) under scene point ``scene_pos``, or None."""
        if not self._vb.sceneBoundingRect().contains(scene_pos):
            return None
        p = self._vb.mapSceneToView(scene_pos)
        x, y = int(math.floor(p.x() + 0.5)), int(math.floor(p.y() + 0.5))
        r, c = (x, y) if self.transpose else (y, x)
        h, w = self._tensor_2d_shape()
        if not (0 <= r < h and 0 <= c < w):
            return None
        nd = len(self._shape)
        if nd == 0:
            return ()
        if nd == 1:
            return (c,)
        return self._lead + (r, c)

    def value_text(self, index: tuple[int, ...]) -> str:
        """``"A[0, 1] = 2.5"`` at full precision for a full tensor index."""
        value = None
        if self._value_source is not None:
            try:
                value = self._value_source(index)
            except Exception:  # noqa: BLE001 - a read-out must never break the GUI
                value = None
        if value is None:
            value = self._displayed_value(index)
        where = "[" + ", ".join(str(i) for i in index) + "]" if index else ""
        return f"{self.name}{where} = {exact_text(value)}"

    def _displayed_value(self, index: tuple[int, ...]) -> float:
        nd = len(self._shape)
        r, c = (0, index[-1]) if nd == 1 else ((0, 0) if nd == 0 else index[-2:])
        (r0, _), (c0, _) = self._coverage()
        fy, fx = self._factor
        i, j = (r - r0) // fy, (c - c0) // fx
        if 0 <= i < self._data.shape[0] and 0 <= j < self._data.shape[1]:
            return float(self._data[i, j])
        return float("nan")

    def _on_mouse_moved(self, scene_pos) -> None:
        index = self.cell_at(scene_pos)
        if index is None:
            self._hover.hide()
            return
        self._hover.setText(self.value_text(index))
        self._hover.adjustSize()
        p = self._glw.mapTo(self, self._glw.mapFromScene(scene_pos))
        x = min(p.x() + 14, max(0, self.width() - self._hover.width() - 2))
        y = p.y() + 16 if p.y() + 16 + self._hover.height() < self.height() else p.y() - self._hover.height() - 8
        self._hover.move(QPoint(int(x), int(max(0, y))))
        self._hover.show()
        self._hover.raise_()

    def _on_mouse_clicked(self, event) -> None:
        if event.double():
            self.reset_zoom()

    def contextMenuEvent(self, event) -> None:  # noqa: N802 - Qt API
        # pyqtgraph's own menu is disabled (setMenuEnabled(False)), so a right click reaches here.
        menu = self.context_menu()
        if menu is None:
            event.ignore()
            return
        self._hover.hide()
        menu.exec(event.globalPos())
        menu.deleteLater()

    def context_menu(self) -> QMenu | None:
        """The right-click menu ("Save <name>…"), or None for a view without a tensor name."""
        if not self.name:
            return None
        menu = QMenu(self)
        menu.addAction(f"Save {self.name}…", lambda: self.save_requested.emit(self.name))
        return menu

    def eventFilter(self, obj, event) -> bool:  # noqa: N802 - Qt API
        if event.type() == QEvent.Type.Leave:
            self._hover.hide()
        return super().eventFilter(obj, event)

    def visible_box(self) -> tuple[tuple[int, int], tuple[int, int]] | None:
        """Tensor rows/columns (last two axes) visible now, or None when the whole slice is."""
        (x0, x1), (y0, y1) = self._vb.viewRange()
        h, w = self.slice_shape()
        c0, c1 = max(0, int(math.floor(x0 + 0.5))), min(w, int(math.ceil(x1 + 0.5)))
        r0, r1 = max(0, int(math.floor(y0 + 0.5))), min(h, int(math.ceil(y1 + 0.5)))
        if c1 <= c0 or r1 <= r0 or (r0 == 0 and c0 == 0 and r1 == h and c1 == w):
            return None
        rows, cols = (r0, r1), (c0, c1)
        if self.transpose:
            rows, cols = cols, rows
        return rows, cols

    def _emit_visible_box(self) -> None:
        if self._max_shape is None or len(self._shape) < 2:
            return
        h, w = self._tensor_2d_shape()
        if h <= self._max_shape[0] and w <= self._max_shape[1]:
            return  # already at full resolution: nothing better to ask for
        box = self.visible_box()
        if box != self._last_box_emitted:
            self._last_box_emitted = box
            self.view_box_changed.emit(box)

    # --- convenience ----------------------------------------------------------------------------
    def show_array(self, values, levels=None, name: str | None = None) -> None:
        """Stand-alone use: show ``values`` (any shape) with ``levels`` (default: its finite range)."""
        a = np.asarray(values)
        if levels is None:
            finite = a[np.isfinite(a)] if a.dtype.kind in "fiub" and a.size else np.zeros(0)
            levels = (float(finite.min()), float(finite.max())) if finite.size else (0.0, 1.0)
        self.set_tensor(name or self.name, a.shape if a.ndim <= 2 else a.shape, levels)
        if a.ndim > 2:
            a = a[self._lead]
        self.set_data(a)

    def plot_item(self) -> pg.PlotItem:
        return self._plot

    def view_box(self) -> pg.ViewBox:
        return self._vb

    def graphics_widget(self) -> pg.GraphicsLayoutWidget:
        return self._glw
