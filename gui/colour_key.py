"""The colour key beside a heatmap: its lookup table as a vertical strip, the values at its ends
(and 0 on a diverging map) beside it.

One graphics item that paints itself, instead of pyqtgraph's ``ColorBarItem`` (a whole
``PlotItem``: four axes, a view box, a control menu of 14 sub-menus). That one cost ~36 ms of the
GUI thread to build and 8–10 ms every time its view was placed on a board; this one costs well
under a millisecond, so a board that needs keys no longer waits for them (ARCHITECTURE §3).
"""

from __future__ import annotations

import numpy as np
import pyqtgraph as pg
from opscope.compute.numbers import fmt
from PySide6.QtCore import QPointF, QRectF, QSizeF, Qt
from PySide6.QtGui import QColor, QFont, QFontMetricsF, QImage, QPainter, QPen
from PySide6.QtWidgets import QSizePolicy

from . import colormaps as cm

#: Width of the colour strip, px.
STRIP_PX = 12
#: Gap between the strip's tick marks and their values, px.
GAP_PX = 4
TICK_PX = 4


def key_values(levels) -> list[float]:
    """The values a key labels: both ends, and 0 when the map is diverging (0 is its white)."""
    lo, hi = float(levels[0]), float(levels[1])
    values = [hi, lo]
    if cm.is_diverging((lo, hi)) and lo < 0 < hi:
        values.append(0.0)
    return values


class ColourKey(pg.GraphicsWidget):
    """A vertical colour key for ``levels`` (lo at the bottom, hi at the top), in ``font``.

    Owns nothing but its levels, its strip image (rebuilt when the levels change) and its text
    colour; it lays itself out at a fixed width that fits its longest value.
    """

    def __init__(self, levels, font: QFont, text_colour: str = "#444"):
        super().__init__()
        self._font = QFont(font)
        self._text = QColor(text_colour)
        self._levels = (0.0, 1.0)
        self._strip: QImage | None = None
        self._width = float(STRIP_PX)
        self.setSizePolicy(QSizePolicy.Policy.Fixed, QSizePolicy.Policy.Expanding)
        self.set_levels(levels)

    # --- state ---------------------------------------------------------------------------------
    def levels(self) -> tuple[float, float]:
        return self._levels

    def set_levels(self, levels) -> None:
        """Show ``levels`` (display levels, see :func:`gui.colormaps.display_levels`)."""
        lv = (float(levels[0]), float(levels[1]))
        if lv == self._levels and self._strip is not None:
            return
        self._levels = lv
        lut = np.ascontiguousarray(cm.lut_for(lv)[: cm.N_DATA][::-1, :4])  # hi at the top
        strip = np.ascontiguousarray(lut.reshape(cm.N_DATA, 1, 4))
        # QImage does not own the buffer: copy() makes it, so the array may go.
        self._strip = QImage(strip.data, 1, cm.N_DATA, 4, QImage.Format.Format_RGBA8888).copy()
        width = STRIP_PX + TICK_PX + GAP_PX + self._label_width() + 2
        self._width = width
        self.setMinimumWidth(width)
        self.setMaximumWidth(width)
        self.updateGeometry()
        self.update()

    def labels(self) -> list[str]:
        """The texts shown, top first."""
        return [fmt(v, 3) for v in key_values(self._levels)]

    def _label_width(self) -> float:
        fm = QFontMetricsF(self._font)
        return max(fm.horizontalAdvance(t) for t in self.labels())

    def sizeHint(self, which, constraint=None):  # noqa: N802 - Qt API
        if which in (Qt.SizeHint.MinimumSize, Qt.SizeHint.PreferredSize):
            return QSizeF(self._width, 40.0)  # not minimumWidth(): it asks sizeHint
        return super().sizeHint(which, QSizeF() if constraint is None else constraint)

    # --- painting ------------------------------------------------------------------------------
    def _strip_rect(self) -> QRectF:
        r = self.rect()
        margin = QFontMetricsF(self._font).height() / 2  # the end values are centred on the ends
        return QRectF(r.left() + 1, r.top() + margin, STRIP_PX, max(1.0, r.height() - 2 * margin))

    def paint(self, painter: QPainter, *_args) -> None:
        if self._strip is None:
            return
        strip = self._strip_rect()
        painter.setRenderHint(QPainter.RenderHint.SmoothPixmapTransform, False)
        painter.drawImage(strip, self._strip)
        painter.setPen(QPen(QColor("#888"), 1))
        painter.setBrush(Qt.BrushStyle.NoBrush)
        painter.drawRect(strip)
        painter.setFont(self._font)
        fm = QFontMetricsF(self._font)
        lo, hi = self._levels
        span = hi - lo if hi > lo else 1.0
        for value, text in zip(key_values(self._levels), self.labels(), strict=True):
            y = strip.bottom() - (value - lo) / span * strip.height()
            painter.setPen(QPen(QColor("#888"), 1))
            painter.drawLine(QPointF(strip.right(), y), QPointF(strip.right() + TICK_PX, y))
            painter.setPen(self._text)
            baseline = y + (fm.ascent() - fm.descent()) / 2
            painter.drawText(QPointF(strip.right() + TICK_PX + GAP_PX, baseline), text)
