"""Vector stills: one step as SVG or PDF, for papers and handouts.

pyqtgraph's own SVG exporter is broken with Qt ≥ 6.11 (ARCHITECTURE.md §4), so the offscreen
canvas of :class:`~.frames.FrameRenderer` is painted with ``QWidget.render`` onto a
:class:`QSvgGenerator` or a :class:`QPdfWriter` instead: Qt's vector paint engines then receive
every line and every glyph run as drawing commands, so titles and cell numbers come out as text
(``<text>`` in the SVG, selectable text in the PDF), axes and region outlines as paths.

Heatmap cells are pictures (a :class:`pyqtgraph.ImageItem`, one pixel a cell); a picture would
be embedded as a PNG that viewers smooth into a blur when zoomed. While the vector page is
painted, each image of at most :data:`VECTOR_CELL_LIMIT` cells is hidden and a stand-in item
paints its cells as filled rectangles of the same colours, at the same place; larger images
(reduced displays of big tensors) stay pictures. The caption band is painted as on every frame.
The file is built in memory and written atomically (:func:`compute.io.atomic_write_bytes`).
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Callable, Iterator, Sequence

import pyqtgraph as pg
from opscope.compute.io import atomic_write_bytes
from PySide6.QtCore import QBuffer, QCoreApplication, QIODevice, QMarginsF, QPoint, QRect, QRectF, QSize, QSizeF
from PySide6.QtGui import QColor, QPageLayout, QPageSize, QPainter, QPdfWriter
from PySide6.QtWidgets import QGraphicsItem, QGraphicsView, QWidget

from .caption_band import paint_band
from .errors import ExportError, describe_error
from .frames import FrameRenderer
from .options import DEFAULT_SIZE, check_size, check_steps, export_format

__all__ = ["VECTOR_CELL_LIMIT", "VECTOR_FORMATS", "export_vector", "render_vector"]

#: Images with at most this many cells are drawn as rectangles; larger ones stay embedded pictures.
VECTOR_CELL_LIMIT = 96 * 96
VECTOR_FORMATS = ("svg", "pdf")


class _CellRects(QGraphicsItem):
    """Paints the pixels of an :class:`pyqtgraph.ImageItem`'s rendered picture as rectangles (in the
    image item's own coordinates: pixel (col, row) covers the unit square at (col, row))."""

    def __init__(self, image: pg.ImageItem):
        super().__init__(image.parentItem())
        qimage = image.qimage
        self._w, self._h = qimage.width(), qimage.height()
        # Read every colour once, here: paint() may run more than once.
        self._colors = [[QColor(qimage.pixelColor(c, r)) for c in range(self._w)] for r in range(self._h)]
        self.setTransform(image.transform())
        self.setPos(image.pos())
        self.setZValue(image.zValue())
        self.setOpacity(image.opacity())

    def boundingRect(self) -> QRectF:  # noqa: N802 - Qt API
        return QRectF(0, 0, self._w, self._h)

    def paint(self, painter: QPainter, option, widget=None) -> None:
        painter.setPen(QColor(0, 0, 0, 0))
        painter.setRenderHint(QPainter.RenderHint.Antialiasing, False)
        for r, row in enumerate(self._colors):
            for c, color in enumerate(row):
                # a hair wider than the cell: no seams between neighbours in viewers that antialias
                painter.fillRect(QRectF(c, r, 1.002, 1.002), color)


def _image_items(canvas: QWidget) -> list[pg.ImageItem]:
    items = []
    for view in canvas.findChildren(pg.GraphicsView):
        scene = view.scene()
        if scene is None:
            continue
        for item in scene.items():
            if isinstance(item, pg.ImageItem) and item.isVisible() and item.image is not None:
                items.append(item)
    return items


@contextlib.contextmanager
def cells_as_rectangles(canvas: QWidget, limit: int = VECTOR_CELL_LIMIT) -> Iterator[int]:
    """While the block runs, the canvas's small heatmap images are drawn as rectangles and its views
    paint their background directly; yields how many images were replaced."""
    swapped: list[tuple[pg.ImageItem, _CellRects]] = []
    # pyqtgraph's views cache their background as a pixmap, which a vector page would embed as a
    # picture of each whole view: painted directly while the page is drawn.
    views = [(v, v.cacheMode()) for v in canvas.findChildren(pg.GraphicsView)]
    try:
        for v, _mode in views:
            v.setCacheMode(QGraphicsView.CacheModeFlag.CacheNone)
            v.resetCachedContent()
        for item in _image_items(canvas):
            if item.qimage is None:
                item.render()
            q = item.qimage
            if q is None or q.isNull() or q.width() * q.height() > limit:
                continue
            stand_in = _CellRects(item)
            item.hide()
            swapped.append((item, stand_in))
        yield len(swapped)
    finally:
        for item, stand_in in swapped:
            scene = stand_in.scene()
            if scene is not None:
                scene.removeItem(stand_in)
            item.show()
        for v, mode in views:
            v.setCacheMode(mode)


def render_vector(renderer: FrameRenderer, n: int, fmt: str) -> bytes:
    """Step ``n`` of ``renderer``'s run as the bytes of an SVG or a PDF page of its frame size."""
    if fmt not in VECTOR_FORMATS:
        raise ExportError(f"render_vector writes {' or '.join(VECTOR_FORMATS)}, not {fmt}")
    c = renderer.canvas
    if c is None:
        raise ExportError("the renderer is closed")
    w, h = renderer.size
    c.show_step(int(n))
    QCoreApplication.sendPostedEvents()
    buf = QBuffer()
    buf.open(QIODevice.OpenModeFlag.WriteOnly)
    if fmt == "svg":
        from PySide6.QtSvg import QSvgGenerator

        device = QSvgGenerator()
        device.setOutputDevice(buf)
        device.setSize(QSize(w, h))
        device.setViewBox(QRect(0, 0, w, h))
        device.setTitle("OpScope")
        device.setDescription(f"{renderer.tl.op}: step {int(n) + 1} of {len(renderer.tl)}")
    else:
        device = QPdfWriter(buf)
        device.setResolution(72)  # one pixel of the frame is one point of the page
        device.setPageLayout(QPageLayout(QPageSize(QSizeF(w, h), QPageSize.Unit.Point, "frame",
                                                   QPageSize.SizeMatchPolicy.ExactMatch),
                                         QPageLayout.Orientation.Portrait, QMarginsF(0, 0, 0, 0)))
        device.setCreator("OpScope")
        device.setTitle(f"{renderer.tl.op}: step {int(n) + 1} of {len(renderer.tl)}")
    p = QPainter(device)
    try:
        p.fillRect(QRectF(0, 0, w, h), renderer.background)
        with cells_as_rectangles(c):
            p.save()
            p.scale(renderer.scale, renderer.scale)
            c.render(p, QPoint(0, 0))
            p.restore()
        if renderer.band is not None:
            paint_band(p, renderer.band, renderer.tl, int(n), renderer.size, renderer.canvas_height)
    finally:
        p.end()
    data = bytes(buf.data())
    buf.close()
    if not data:
        raise ExportError(f"the {fmt.upper()} paint engine wrote nothing")
    return data


def export_vector(canvas_or_tl, path: str | os.PathLike, size: Sequence[int] = DEFAULT_SIZE, *,
                  op: str | None = None, step: int | None = None, caption: bool = True,
                  canvas_factory: Callable | None = None) -> str:
    """Write one step as an SVG or a PDF page of ``size`` (pixels; points in the PDF), atomically.

    Parameters are those of :func:`~.blocking.export_png`; the extension of ``path`` (``.svg`` or
    ``.pdf``) picks the format.

    Raises
    ------
    ExportError
        Bad options, or a failed render or write (an old file at ``path`` is untouched).
    """
    from .blocking import still_source  # noqa: PLC0415 - blocking imports this module for .svg/.pdf

    tl, op, step = still_source(canvas_or_tl, op, step)
    fmt = export_format(path)
    name = os.path.basename(os.fspath(path)) or os.fspath(path)
    if fmt not in VECTOR_FORMATS:
        raise ExportError(f"{name}: export_vector writes .svg or .pdf files")
    n = len(tl) - 1 if step is None else int(step)
    check_steps([n], len(tl))
    size = check_size(size)
    folder = os.path.dirname(os.path.abspath(os.fspath(path)))
    if not os.path.isdir(folder):
        raise ExportError(f"{name}: cannot write it (folder {folder} does not exist)")
    try:
        with FrameRenderer(tl, op, size, caption, [n], canvas_factory) as r:
            data = render_vector(r, n, fmt)
        atomic_write_bytes(path, data)
    except ExportError:
        raise
    except Exception as exc:  # noqa: BLE001 - one message naming the file, as every export failure
        raise ExportError(f"{name}: cannot write it ({describe_error(exc)})") from exc
    return os.fspath(path)

