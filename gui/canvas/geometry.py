"""The geometric picture of a 2×2 matrix: the plane morphing from the identity to ``A``, ``x`` and ``y = A x``.

Shown beside ``matvec`` when A is 2×2 and x has 2 entries. As manim's ``ApplyMatrix`` does, the
grid is drawn under ``M(t) = (1 − t) I + t A``: at ``t = 0`` the plain unit grid, at ``t = 1``
its image under A. ``t`` follows the run: it is the share of ``y`` written so far (the timeline
says which entries exist), so stepping moves the plane part of the way, and a step that lands
glides there in :data:`MORPH_MS` instead of jumping. On the plane:

- the basis vectors î, ĵ and their images (the columns of A at ``t = 1``);
- the unit square's image, filled, labelled with its area: the determinant (negative: flipped);
- the real eigen-directions (dashed lines) with an eigenvector on each, which stays on its line
  for every ``t`` (it is only stretched, by ``1 − t + tλ``) while other vectors turn;
- ``x`` (blue), ``y = A x`` (red) once the run has written it, and ``x`` carried by the plane
  (faded red) on its way to ``y``.

Labels are placed by :func:`place_labels`, in screen pixels, so that none covers another, an
arrow head or the determinant. ``y`` is the run's own result; everything else is display geometry
of the 2×2 matrix on screen, computed in :mod:`compute.plane` (:func:`plane_geometry`): what a
lecturer sketches on the board, as numbers this view draws.
"""

from __future__ import annotations

import html
import math
import time
from collections.abc import Sequence

import numpy as np
import pyqtgraph as pg
from opscope.compute.plane import GRID, morph_matrix, plane_extent, plane_geometry
from PySide6.QtCore import QPointF, QSize, Qt, QTimer
from PySide6.QtGui import QFont, QGuiApplication

__all__ = ["GRID", "MORPH_MS", "GeometryView", "morph_matrix", "place_labels", "plane_geometry"]

#: How long the plane takes to glide to a new step's morph (ms).
MORPH_MS = 700
_TICK_MS = 30
#: Label font sizes (pixels), scaled with the plot between these.
LABEL_MIN_PX = 13
LABEL_MAX_PX = 30
_MINUS = "\u2212"

COLORS = {
    "grid": (215, 215, 215), "image": (120, 165, 225), "square": (230, 150, 0), "fill": (255, 200, 70, 90),
    "i": (0, 150, 70), "j": (200, 30, 140), "x": (30, 80, 220), "y": (215, 40, 30), "eig": (120, 40, 175),
    "note": (60, 60, 60),
}


def _num(v: float) -> str:
    text = f"{v:.3g}"
    if text in ("-0", "0"):
        return "0"
    return text.replace("-", _MINUS)


# --- label placement (pure: pixels in, pixels out) ---------------------------------------------------
Rect = tuple[float, float, float, float]  # x, y (top left, y down), width, height


def _overlap(a: Rect, b: Rect) -> float:
    w = min(a[0] + a[2], b[0] + b[2]) - max(a[0], b[0])
    h = min(a[1] + a[3], b[1] + b[3]) - max(a[1], b[1])
    return w * h if w > 0 and h > 0 else 0.0


def _outside(r: Rect, bounds: Rect) -> float:
    inside = _overlap(r, bounds)
    return r[2] * r[3] - inside


# Directions (dx, dy) in screen pixels (y down) a label may sit from its anchor: right, up-right,
# up, up-left, left, down-left, down, down-right.
_DIRECTIONS = [(1, 0), (1, -1), (0, -1), (-1, -1), (-1, 0), (-1, 1), (0, 1), (1, 1)]


def _candidate(anchor: tuple[float, float], size: tuple[float, float], d: tuple[int, int], gap: float) -> Rect:
    ax, ay = anchor
    w, h = size
    dx, dy = d
    x = ax + gap if dx > 0 else (ax - gap - w if dx < 0 else ax - w / 2)
    y = ay + gap if dy > 0 else (ay - gap - h if dy < 0 else ay - h / 2)
    return (x, y, w, h)


def place_labels(anchors: Sequence[tuple[float, float]], sizes: Sequence[tuple[float, float]], bounds: Rect,
                 obstacles: Sequence[Rect] = (), prefer: Sequence[tuple[float, float] | None] | None = None,
                 gaps: Sequence[float] = (6.0, 22.0, 44.0), soft: Sequence[Rect] = ()) -> list[Rect]:
    """Rectangles for labels of ``sizes`` near their ``anchors``, none covering another.

    Parameters
    ----------
    anchors : (x, y) pixel points the labels belong to (an arrow's tip).
    sizes : (width, height) of each label in pixels.
    bounds : (x, y, w, h) the labels should stay in (the plot area).
    obstacles : rectangles no label should cover (arrow heads, fixed labels).
    prefer : per label, a direction to try first (the arrow's direction: beyond its tip), or None.
    gaps : distances from the anchor tried, nearest first.
    soft : rectangles better left uncovered (points along lines): a fifth of an obstacle's weight.

    Returns
    -------
    list of (x, y, w, h)
        One rectangle per label, in order. Labels are placed one after the other, each at the
        first candidate (preferred direction first, nearest gap first) that covers nothing; when
        every candidate covers something, the one covering least (another label counts ten times
        an obstacle: labels never cover each other while any other place is free).
    """
    placed: list[Rect] = []
    for k, (anchor, size) in enumerate(zip(anchors, sizes)):
        order = list(_DIRECTIONS)
        want = prefer[k] if prefer is not None and k < len(prefer) else None
        if want is not None and (want[0] or want[1]):
            ang = math.atan2(want[1], want[0])
            order.sort(key=lambda d, a=ang: abs(math.remainder(math.atan2(d[1], d[0]) - a, 2 * math.pi)))
        best, best_cost = None, math.inf
        for gap in gaps:
            for d in order:
                r = _candidate(anchor, size, d, gap)
                cost = (10.0 * sum(_overlap(r, o) for o in placed) + sum(_overlap(r, o) for o in obstacles)
                        + 0.2 * sum(_overlap(r, o) for o in soft) + 2.0 * _outside(r, bounds))
                if cost < best_cost - 1e-9:
                    best, best_cost = r, cost
                if cost == 0:
                    break
            if best_cost == 0:
                break
        placed.append(best)
    return placed


def _text(color, size: int = 14) -> pg.TextItem:
    item = pg.TextItem(color=color, anchor=(0, 0))
    font = QFont()
    font.setPointSize(size)
    font.setBold(True)
    item.setFont(font)
    item.setZValue(20)
    return item


class GeometryView(pg.PlotWidget):
    """The plane under a 2×2 matrix, morphing from the identity to A as the run writes ``y``.

    Attributes
    ----------
    animate : bool or None
        Glide to a new morph over :data:`MORPH_MS`; None (the default): only where someone watches
        (not on the offscreen platform, not in an export's offscreen canvas), so screenshots and
        exported frames always show a step's final picture.
    """

    animate: bool | None = None

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
        grey = pg.mkPen(COLORS["grid"], width=1)
        for k in range(-GRID, GRID + 1):
            pi.addItem(pg.PlotDataItem([k, k], [-GRID, GRID], pen=grey))
            pi.addItem(pg.PlotDataItem([-GRID, GRID], [k, k], pen=grey))
        self._img_lines = [pg.PlotDataItem(pen=pg.mkPen(COLORS["image"], width=1.5)) for _ in range(4 * GRID + 2)]
        for item in self._img_lines:
            pi.addItem(item)
        self._square = pg.PlotDataItem(pen=pg.mkPen(COLORS["square"], width=2.5), fillLevel=None,
                                       brush=pg.mkBrush(*COLORS["fill"]))
        pi.addItem(self._square)
        self._eig = [pg.InfiniteLine(angle=0, pen=pg.mkPen(COLORS["eig"], width=2, style=Qt.PenStyle.DashLine))
                     for _ in range(2)]
        for line in self._eig:
            pi.addItem(line)
        self._eig_vec = [self._arrow(COLORS["eig"], width=3, head=14) for _ in range(2)]
        self._basis_ref = [pg.PlotDataItem([0, 1], [0, 0], pen=pg.mkPen(COLORS["i"], width=1.5,
                                                                       style=Qt.PenStyle.DotLine)),
                           pg.PlotDataItem([0, 0], [0, 1], pen=pg.mkPen(COLORS["j"], width=1.5,
                                                                       style=Qt.PenStyle.DotLine))]
        for item in self._basis_ref:
            pi.addItem(item)
        self._i = self._arrow(COLORS["i"], width=4, head=16)
        self._j = self._arrow(COLORS["j"], width=4, head=16)
        self._x = self._arrow(COLORS["x"])
        self._carried = self._arrow((*COLORS["y"][:3], 110), width=3, head=14)
        self._y = self._arrow(COLORS["y"])
        self._det = _text((150, 95, 0), 13)
        pi.addItem(self._det)
        self._note = _text(COLORS["note"], 12)
        pi.addItem(self._note)
        self._A: np.ndarray | None = None
        self._xv = np.full(2, np.nan)
        self._yv = np.full(2, np.nan)
        self._last = None
        self._t = 0.0
        self._from = 0.0
        self._target = 0.0
        self._started = 0.0
        self._ext = float(GRID) * 1.1
        self._font_px = 0
        self._timer = QTimer(self)
        self._timer.setInterval(_TICK_MS)
        self._timer.timeout.connect(self._tick)
        pi.getViewBox().sigResized.connect(self._place_labels)
        pi.getViewBox().sigTransformChanged.connect(self._place_labels)

    def sizeHint(self) -> QSize:  # noqa: N802 - Qt API
        return QSize(240, 240)

    def _arrow(self, color, width: float = 4, head: float = 18):
        pi = self.getPlotItem()
        shaft = pg.PlotDataItem(pen=pg.mkPen(color, width=width))
        tip = pg.ArrowItem(angle=0, headLen=head, tipAngle=35, brush=pg.mkBrush(color), pen=pg.mkPen(color))
        label = _text(color[:3])
        for item in (shaft, tip, label):
            pi.addItem(item)
        return shaft, tip, label

    @staticmethod
    def _set_arrow(arrow, vec, text: str | None) -> None:
        shaft, head, label = arrow
        ok = vec is not None and bool(np.all(np.isfinite(vec))) and float(np.hypot(*vec)) > 1e-9
        for item in (shaft, head):
            item.setVisible(ok)
        label.setVisible(ok and bool(text))
        if not ok:
            return
        x, y = float(vec[0]), float(vec[1])
        label.anchor_point = (x, y)  # where the label belongs: _place_labels puts it beside this
        shaft.setData([0.0, x], [0.0, y])
        # ArrowItem's angle is in screen degrees, pointing along -x at 0 (y axis up here).
        head.setStyle(angle=180.0 - math.degrees(math.atan2(y, x)))
        head.setPos(x, y)
        label.setText(text or "")
        label.setPos(x, y)

    # ------------------------------------------------------------------------------------------
    @property
    def morph(self) -> float:
        """The ``t`` drawn now: 0 is the identity grid, 1 is A's image."""
        return self._t

    @property
    def target(self) -> float:
        """The ``t`` the view is gliding to (the share of ``y`` written)."""
        return self._target

    def update_plane(self, A, x, y) -> None:
        """Draw the picture for matrix ``A`` (2×2), vector ``x`` and result ``y`` (NaN: not yet written).

        The morph goes to the share of ``y`` written (0 with none, 1 with all); a new ``A`` starts
        again from the identity.
        """
        A = np.asarray(A, dtype=np.float64)
        xv = np.asarray(x, dtype=np.float64).reshape(-1)[:2]
        yv = np.asarray(y, dtype=np.float64).reshape(-1)[:2]
        key = (A.tobytes(), xv.tobytes(), yv.tobytes())
        if key == self._last:
            return
        self._last = key
        if A.shape != (2, 2) or not np.all(np.isfinite(A)):
            return
        if self._A is None or not np.array_equal(A, self._A):
            self._A = A.copy()
            self._t = 0.0
            self._timer.stop()
            self._fit_range(A, xv, yv)
        self._xv, self._yv = xv, yv
        target = float(np.isfinite(yv).sum()) / max(1, yv.size)
        self.morph_to(target)

    def morph_to(self, t: float) -> None:
        """Go to morph ``t``: gliding when :meth:`animates`, at once otherwise."""
        t = float(min(1.0, max(0.0, t)))
        self._target = t
        if not self.animates() or abs(t - self._t) < 1e-9:
            self.set_morph(t)
            return
        self._from = self._t
        self._started = time.monotonic()
        self._timer.start()
        self._tick()

    def set_morph(self, t: float) -> None:
        """Draw morph ``t`` now (stops a glide)."""
        self._timer.stop()
        self._target = self._t = float(min(1.0, max(0.0, t)))
        self._draw()

    def finish_morph(self) -> None:
        """Jump to the end of a glide under way."""
        self.set_morph(self._target)

    def animates(self) -> bool:
        if self.animate is not None:
            return bool(self.animate)
        if QGuiApplication.platformName() in ("offscreen", "minimal"):
            return False
        top = self.window()
        return not (top is not None and top.testAttribute(Qt.WidgetAttribute.WA_DontShowOnScreen))

    def _tick(self) -> None:
        u = (time.monotonic() - self._started) * 1000.0 / MORPH_MS
        if u >= 1.0:
            self.set_morph(self._target)
            return
        ease = u * u * (3.0 - 2.0 * u)  # smoothstep: starts and lands gently, as manim's smooth
        self._t = self._from + (self._target - self._from) * ease
        self._draw()

    def _fit_range(self, A, xv, yv) -> None:
        # M(t)p is linear in t, so the picture is largest at t = 0 or t = 1: one range for the whole
        # morph, and the plane never jumps while it moves.
        self._ext = plane_extent(A, xv, yv) * 1.12
        self.getPlotItem().setRange(xRange=(-self._ext, self._ext), yRange=(-self._ext, self._ext), padding=0)

    def _draw(self) -> None:
        A = self._A
        if A is None:
            return
        t = self._t
        geo = plane_geometry(A, t, self._xv)
        for item, pts in zip(self._img_lines, geo["lines"]):
            item.setData(pts[0], pts[1])
        self._square.setData(geo["square"][0], geo["square"][1])
        done = t >= 1.0 - 1e-9
        bi, bj = geo["basis"]
        self._set_arrow(self._i, bi, f"Aî = ({_num(bi[0])}, {_num(bi[1])})" if done else "î")
        self._set_arrow(self._j, bj, f"Aĵ = ({_num(bj[0])}, {_num(bj[1])})" if done else "ĵ")
        for k in range(2):
            if k < len(geo["eig"]):
                lam, v, mv = geo["eig"][k]
                self._eig[k].setAngle(math.degrees(math.atan2(v[1], v[0])))
                self._eig[k].setPos((0.0, 0.0))
                self._eig[k].show()
                self._set_arrow(self._eig_vec[k], mv, f"λ = {_num(lam)}")
                if not self._eig_vec[k][2].isVisible():  # λ = 0 has squashed it: the label stays on its line
                    label = self._eig_vec[k][2]
                    label.setText(f"λ = {_num(lam)}")
                    label.anchor_point = (float(v[0]), float(v[1]))
                    label.show()
            else:
                self._eig[k].hide()
                self._set_arrow(self._eig_vec[k], None, None)
        det = geo["det"]
        name = "det A" if done else "area"
        flip = " (flipped)" if det < -1e-12 else ""
        self._det.setText(f"{name} = {_num(det)}{flip}")
        self._det.setVisible(True)
        note = geo["note"]
        self._note.setText(note)
        self._note.setVisible(bool(note))
        x, y = self._xv, self._yv
        self._set_arrow(self._x, x, "x")
        y_ok = bool(np.all(np.isfinite(y)))
        self._set_arrow(self._y, y if y_ok else None, "y = Ax")
        carried = geo["carried"]
        show_carried = carried is not None and not (y_ok and done) and t > 1e-9
        self._set_arrow(self._carried, carried if show_carried else None, None)
        self._merge_coincident_labels()
        self._place_labels()

    def _merge_coincident_labels(self) -> None:
        """Arrows ending at one point (a projection's y = Ax = Aî = the λ = 1 eigenvector) are drawn
        over each other, so only the top one shows: their labels become one label at that point, a
        line each in its arrow's colour, and the others are hidden. Without this three labels
        crowded round one tip, two of them naming arrows nobody could see."""
        groups: list[tuple[tuple[float, float], list]] = []
        for shaft, _head, label in (self._y, self._x, self._i, self._j, *self._eig_vec):
            p = getattr(label, "anchor_point", None)
            if not label.isVisible() or p is None or not shaft.isVisible():
                continue
            tol = 1e-9 * max(1.0, abs(p[0]), abs(p[1]))
            for q, members in groups:
                if abs(q[0] - p[0]) <= tol and abs(q[1] - p[1]) <= tol:
                    members.append(label)
                    break
            else:
                groups.append((p, [label]))
        for _p, members in groups:
            if len(members) < 2:
                continue
            lines = []
            for label in members:
                c = label.color
                lines.append(f"<span style='color: rgb({c.red()}, {c.green()}, {c.blue()})'>"
                             f"{html.escape(label.textItem.toPlainText())}</span>")
            members[0].setHtml("<br>".join(lines))
            for label in members[1:]:
                label.setVisible(False)

    # ------------------------------------------------------------------------------------------
    def _labels(self) -> list[tuple]:
        """(label item, anchor in view coordinates, preferred direction in view coordinates)."""
        out = []
        for _shaft, _head, label in (self._y, self._x, self._i, self._j, *self._eig_vec):
            p = getattr(label, "anchor_point", None)
            if label.isVisible() and p is not None:
                out.append((label, p, p))
        return out

    def _place_labels(self, *_args) -> None:
        """Place every label where it covers no other label, arrow head or the determinant."""
        vb = self.getPlotItem().getViewBox()
        rect = vb.sceneBoundingRect()
        if rect.width() < 10 or rect.height() < 10 or self._A is None:
            return

        def px(p) -> tuple[float, float]:
            q = vb.mapViewToScene(QPointF(float(p[0]), float(p[1])))
            return q.x(), q.y()

        bounds = (rect.x(), rect.y(), rect.width(), rect.height())
        self._scale_fonts(min(rect.width(), rect.height()))
        obstacles: list[Rect] = []
        # Fixed labels first: the note in the bottom-left corner, the determinant inside the square.
        if self._note.isVisible():
            br = self._note.textItem.boundingRect()
            top_left = (rect.x() + 6, rect.bottom() - br.height() - 6)
            self._note.setPos(vb.mapSceneToView(QPointF(*top_left)))
            obstacles.append((*top_left, br.width(), br.height()))
        sq = plane_geometry(self._A, self._t)["square"][:, :4].mean(axis=1)
        br = self._det.textItem.boundingRect()
        cx, cy = px(sq)
        det_rect = (cx - br.width() / 2, cy - br.height() / 2, br.width(), br.height())
        labels = self._labels()
        origin = px((0.0, 0.0))
        heads = [(a[0] - 9, a[1] - 9, 18.0, 18.0) for a in (px(p) for _l, p, _d in labels)]
        heads.append((origin[0] - 6, origin[1] - 6, 12.0, 12.0))
        lines: list[Rect] = []
        # Arrow shafts too: a label across an arrow hides where it points.
        for shaft, _head, _label in (self._y, self._x, self._i, self._j, self._carried, *self._eig_vec):
            xs, ys = shaft.getData()
            if shaft.isVisible() and xs is not None and len(xs) == 2:
                for u in np.linspace(0.15, 0.85, 6):
                    sx, sy = px((xs[1] * u, ys[1] * u))
                    lines.append((sx - 4, sy - 4, 8.0, 8.0))
        # The dashed eigen-lines too (a label on a dashed line is hard to read): points along them.
        for line in self._eig:
            if line.isVisible():
                ang = math.radians(line.angle)
                for u in np.linspace(-self._ext, self._ext, 41):
                    sx, sy = px((u * math.cos(ang), u * math.sin(ang)))
                    lines.append((sx - 3, sy - 3, 6.0, 6.0))
        fixed = [*obstacles, *heads]
        # The determinant sits centred in the square's image unless that covers an arrow.
        if any(_overlap(det_rect, o) for o in (*fixed, *lines)):
            det_rect = place_labels([(cx, cy)], [(br.width(), br.height())], bounds, obstacles=fixed,
                                    gaps=(4.0, 14.0, 30.0), soft=lines)[0]
        anchors, sizes, prefer, items = [], [], [], []
        for label, p, d in labels:
            b = label.textItem.boundingRect()
            items.append(label)
            anchors.append(px(p))
            sizes.append((b.width(), b.height()))
            prefer.append((d[0], -d[1]))  # view y points up, pixels down
        placed = place_labels(anchors, sizes, bounds, obstacles=[*fixed, det_rect], prefer=prefer, soft=lines)
        for label, r in zip([self._det, *items], [det_rect, *placed]):
            label.setPos(vb.mapSceneToView(QPointF(r[0], r[1])))

    def _scale_fonts(self, side: float) -> None:
        """Label fonts grow with the plot (about 4.5 % of its shorter side, 13 to 30 px): readable on a
        projector, never crowding a small view."""
        px_size = int(min(LABEL_MAX_PX, max(LABEL_MIN_PX, round(side * 0.045))))
        if px_size == self._font_px:
            return
        self._font_px = px_size
        for item in (self._det, *(a[2] for a in (self._y, self._x, self._i, self._j, *self._eig_vec))):
            f = item.textItem.font()
            f.setPixelSize(px_size)
            item.setFont(f)
        f = self._note.textItem.font()
        f.setPixelSize(max(LABEL_MIN_PX - 1, round(px_size * 0.8)))
        self._note.setFont(f)

    def label_rects(self) -> list[tuple[str, Rect]]:
        """``(text, (x, y, w, h))`` in scene pixels of every visible label (for tests and checks)."""
        out = []
        for item in (self._det, self._note, *(a[2] for a in (self._y, self._x, self._i, self._j, *self._eig_vec))):
            if item.isVisible() and item.textItem.toPlainText():
                r = item.mapRectToScene(item.boundingRect())
                out.append((item.textItem.toPlainText(), (r.x(), r.y(), r.width(), r.height())))
        return out
