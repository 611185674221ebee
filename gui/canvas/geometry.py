"""The geometric picture of a 2×2 matrix: how ``A`` moves the plane, ``x`` and ``y = A x``.

Shown beside ``matvec`` when A is 2×2 and x has 2 entries. ``y`` is the run's own result (the
timeline says whether it is written yet); the images of the grid lines and the eigenvectors are
display geometry of the 2×2 matrix on screen, kept in :func:`plane_geometry`.
"""

from __future__ import annotations

import math

import numpy as np
import pyqtgraph as pg
from PySide6.QtCore import QSize, Qt
from PySide6.QtGui import QFont

GRID = 2  # unit grid lines from -GRID to GRID


def plane_geometry(A: np.ndarray) -> dict:
    """What to draw for the 2×2 matrix ``A`` shown on screen: images of the grid lines, of the unit
    square, and the real eigen-directions with their eigenvalues.

    This is display geometry, not an operation's result: the same picture a lecturer sketches on
    the board (where the grid goes, which lines stay put). numpy.linalg on a 2×2 is instant.
    """
    A = np.asarray(A, dtype=np.float64).reshape(2, 2)
    ticks = np.arange(-GRID, GRID + 1, dtype=np.float64)
    ends = np.array([-GRID, GRID], dtype=np.float64)
    lines = []
    for t in ticks:
        for pts in (np.stack([np.full(2, t), ends]), np.stack([ends, np.full(2, t)])):
            lines.append(A @ pts)  # columns are the two end points
    square = A @ np.array([[0.0, 1.0, 1.0, 0.0, 0.0], [0.0, 0.0, 1.0, 1.0, 0.0]])
    eig = []
    if np.all(np.isfinite(A)):
        values, vectors = np.linalg.eig(A)
        for k in range(2):
            if abs(values[k].imag) < 1e-12 and np.all(np.abs(vectors[:, k].imag) < 1e-12):
                v = vectors[:, k].real
                norm = float(np.hypot(v[0], v[1]))
                if norm > 0:
                    eig.append((float(values[k].real), v / norm))
        if len(eig) == 2 and abs(abs(float(eig[0][1] @ eig[1][1])) - 1.0) < 1e-9:
            eig = eig[:1]  # a repeated eigen-direction: draw it once
    return {"lines": lines, "square": square, "eig": eig}


def _text(color, anchor=(0, 1)) -> pg.TextItem:
    item = pg.TextItem(color=color, anchor=anchor)
    font = QFont()
    font.setPointSize(14)
    font.setBold(True)
    item.setFont(font)
    return item


class GeometryView(pg.PlotWidget):
    """The plane under a 2×2 matrix: unit grid (grey) and its image (orange), the unit square's
    image, ``x`` (blue arrow), ``y = A x`` (red arrow) and real eigenvectors (dashed purple)."""

    def __init__(self, parent=None):
        super().__init__(parent, background="w")
        self.setMinimumSize(220, 220)
        pi = self.getPlotItem()
        pi.hideButtons()
        pi.setMenuEnabled(False)
        pi.setAspectLocked(True)
        pi.showGrid(x=False, y=False)
        font = QFont()
        font.setPointSize(11)
        for side in ("left", "bottom"):
            ax = pi.getAxis(side)
            ax.setStyle(tickFont=font)
            ax.setTextPen(pg.mkPen("#444"))
            ax.setPen(pg.mkPen("#999"))
        pi.setTitle("<b>the plane under A</b>", size="14pt", color="#111")
        grey = pg.mkPen((200, 200, 200), width=1)
        for t in range(-GRID, GRID + 1):
            pi.addItem(pg.PlotDataItem([t, t], [-GRID, GRID], pen=grey))
            pi.addItem(pg.PlotDataItem([-GRID, GRID], [t, t], pen=grey))
        self._img_lines = [pg.PlotDataItem(pen=pg.mkPen((240, 150, 60), width=1.5)) for _ in range(4 * GRID + 2)]
        for item in self._img_lines:
            pi.addItem(item)
        self._square = pg.PlotDataItem(pen=pg.mkPen((230, 110, 0), width=2.5), fillLevel=None,
                                       brush=pg.mkBrush(255, 160, 60, 70))
        pi.addItem(self._square)
        self._eig = [pg.InfiniteLine(angle=0, pen=pg.mkPen((130, 40, 180), width=2.5, style=Qt.PenStyle.DashLine))
                     for _ in range(2)]
        self._eig_text = [_text((110, 30, 160)) for _ in range(2)]
        for line, text in zip(self._eig, self._eig_text):
            pi.addItem(line)
            pi.addItem(text)
        self._x = self._arrow((30, 100, 230))
        self._y = self._arrow((215, 40, 30))
        self._note = _text((60, 60, 60), anchor=(0, 1))
        pi.addItem(self._note)
        self._last = None

    def sizeHint(self) -> QSize:  # noqa: N802 - Qt API
        return QSize(240, 240)

    def _arrow(self, color):
        pi = self.getPlotItem()
        shaft = pg.PlotDataItem(pen=pg.mkPen(color, width=4))
        head = pg.ArrowItem(angle=0, headLen=18, tipAngle=35, brush=pg.mkBrush(color), pen=pg.mkPen(color))
        label = _text(color)
        for item in (shaft, head, label):
            pi.addItem(item)
        return shaft, head, label

    @staticmethod
    def _set_arrow(arrow, vec, text) -> None:
        shaft, head, label = arrow
        ok = vec is not None and np.all(np.isfinite(vec))
        for item in arrow:
            item.setVisible(bool(ok))
        if not ok:
            return
        x, y = float(vec[0]), float(vec[1])
        shaft.setData([0.0, x], [0.0, y])
        # ArrowItem's angle is in screen degrees, pointing along -x at 0 (y axis up here).
        head.setStyle(angle=180.0 - math.degrees(math.atan2(y, x)))
        head.setPos(x, y)
        label.setText(text)
        label.setPos(x, y)

    def update_plane(self, A, x, y) -> None:
        """Draw the picture for matrix ``A`` (2×2), vector ``x`` and result ``y`` (NaN: not yet written)."""
        A = np.asarray(A, dtype=np.float64)
        key = (A.tobytes(), np.asarray(x, dtype=np.float64).tobytes(), np.asarray(y, dtype=np.float64).tobytes())
        if key == self._last:
            return
        self._last = key
        if A.shape != (2, 2) or not np.all(np.isfinite(A)):
            return
        geo = plane_geometry(A)
        for item, pts in zip(self._img_lines, geo["lines"]):
            item.setData(pts[0], pts[1])
        self._square.setData(geo["square"][0], geo["square"][1])
        for k in range(2):
            if k < len(geo["eig"]):
                lam, v = geo["eig"][k]
                self._eig[k].setAngle(math.degrees(math.atan2(v[1], v[0])))
                self._eig[k].setPos((0.0, 0.0))
                self._eig[k].show()
                self._eig_text[k].setText(f"λ = {lam:.3g}")
                self._eig_text[k].setPos(1.6 * v[0], 1.6 * v[1])
                self._eig_text[k].show()
            else:
                self._eig[k].hide()
                self._eig_text[k].hide()
        self._note.setText("" if geo["eig"] else "no real eigenvectors\n(A rotates every direction)")
        self._set_arrow(self._x, np.asarray(x, dtype=np.float64).reshape(-1)[:2], "x")
        self._set_arrow(self._y, np.asarray(y, dtype=np.float64).reshape(-1)[:2], "y = Ax")
        pts = [*geo["lines"], geo["square"]]
        ext = max([GRID] + [float(np.nanmax(np.abs(p))) for p in pts if np.isfinite(p).any()]
                  + [float(np.nanmax(np.abs(v))) for v in (x, y) if np.isfinite(np.asarray(v, float)).any()])
        ext = min(ext, 50.0) * 1.1
        self._note.setPos(-ext, -ext)
        self.getPlotItem().setRange(xRange=(-ext, ext), yRange=(-ext, ext), padding=0)
