"""Offscreen rendering of a run's steps to RGB frames of a fixed size.

Frames are never grabbed from the live window (ARCHITECTURE.md §7): an offscreen canvas
(:func:`gui.canvas.create_canvas`, shown with ``WA_DontShowOnScreen`` so its layouts and views
resize as on screen) is sized to the export, stepped with ``show_step(n)`` and painted into a
preallocated :class:`QImage`; the caption band (:mod:`.caption_band`) is burned in below it. The
result does not depend on the window's size, the screen's pixel ratio or what the user does meanwhile.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence

import numpy as np
from PySide6.QtCore import QCoreApplication, QRectF, QSize, Qt
from PySide6.QtGui import QColor, QImage, QPainter
from PySide6.QtWidgets import QApplication, QWidget

from ..qt_messages import offscreen_noise_dropped
from .caption_band import BAND_COLOR, fit_band, paint_band, paint_title
from .errors import ExportError
from .options import DEFAULT_SIZE, check_size, check_steps

__all__ = ["MIN_LAYOUT", "REFERENCE_SIZE", "FrameRenderer", "card_text", "render_frames"]

#: The canvas is laid out as if the frame (without the caption band) were this size and scaled up
#: for larger exports, so a 1920×1080 export looks like the 1280×720 one, only sharper.
REFERENCE_SIZE = (1280, 720)
#: Smaller frames are laid out at this size (or the canvas's minimum, if larger) and scaled down:
#: a thumbnail of a readable layout, rather than a layout squeezed until its views are unreadable.
MIN_LAYOUT = QSize(640, 300)


def card_text(tl, op: str | None = None, title: str | None = None, description: str | None = None) -> tuple[str, str]:
    """The title card's ``(title, description)``: those given, else the operation's name and summary."""
    if title:
        return str(title), str(description or "")
    name = op or tl.op
    doc = ""
    try:
        from opscope import compute

        doc = compute.get_spec(name).doc
    except Exception:  # noqa: BLE001 - "program" and unknown names have no spec: the name alone
        doc = ""
    return name, str(description or doc or "")


def _require_app() -> QApplication:
    app = QApplication.instance()
    if not isinstance(app, QApplication):
        raise ExportError("rendering frames needs a QApplication (create one first, or use run_export)")
    return app


def _show_quietly(widget: QWidget) -> None:
    """``widget.show()`` without the offscreen platform's warning, which would be the only line a
    successful ``export`` command prints on stderr."""
    with offscreen_noise_dropped():
        widget.show()


def _canvas_factory(factory: Callable | None) -> Callable:
    if factory is not None:
        return factory
    from ..canvas import create_canvas

    return create_canvas


class FrameRenderer:
    """Renders steps of a timeline to ``(H, W, 3)`` uint8 arrays at a fixed size, offscreen.

    GUI thread only (it paints a widget). Use as a context manager, or call :meth:`close`.

    Parameters
    ----------
    tl : compute.Timeline
        The run.
    op : str, optional
        Operation name for :func:`~gui.canvas.create_canvas` (default ``tl.op``).
    size : (int, int)
        Frame (width, height) in pixels, caption band included.
    caption : bool
        Burn in the caption and the "step n / N · stage" read-out on a dark band at the bottom.
    steps : sequence of int, optional
        The steps that will be rendered: their captions size the band (default: all).
    canvas_factory : callable, optional
        ``factory(op) -> canvas`` (default :func:`gui.canvas.create_canvas`).
    """

    def __init__(self, tl, op: str | None = None, size: Sequence[int] = DEFAULT_SIZE, caption: bool = True,
                 steps: Sequence[int] | None = None, canvas_factory: Callable | None = None):
        _require_app()
        self.tl = tl
        self.size = check_size(size)
        self.caption = bool(caption)
        w, h = self.size
        total = len(tl)
        if total == 0:
            raise ExportError("the run has no steps to render")
        if caption:
            picked = range(total) if steps is None else steps
            self._band = fit_band([tl[n].caption for n in picked], w, h)
        else:
            self._band = None
        band_h = self._band.height if self._band else 0
        self._canvas_h = h - band_h
        self._canvas = _canvas_factory(canvas_factory)(op or tl.op)
        try:
            self._setup(tl, w, h, band_h)
        except BaseException:
            self.close()
            raise

    def _setup(self, tl, w: int, h: int, band_h: int) -> None:
        c = self._canvas
        ch = self._canvas_h
        # "shown" but never on screen: layouts activate and pyqtgraph views get resize events as in
        # the window, which a merely hidden widget would not get
        c.setAttribute(Qt.WidgetAttribute.WA_DontShowOnScreen, True)
        c.set_timeline(tl)
        _show_quietly(c)
        # The canvas is laid out at a logical size and painted with a device pixel ratio: as on a
        # 1280×720 screen, scaled up for larger frames (same proportions, sharper), and scaled down
        # for frames below MIN_LAYOUT or the canvas's minimum size, so nothing is cut off. A pixel
        # ratio, unlike resampling a picture, draws text and lines at the target resolution.
        ref_h = REFERENCE_SIZE[1] - band_h * REFERENCE_SIZE[1] / h
        scale = max(1.0, min(w / REFERENCE_SIZE[0], ch / max(1.0, ref_h)))
        hint = c.minimumSizeHint().expandedTo(c.minimumSize()).expandedTo(MIN_LAYOUT)
        scale = min(scale, w / hint.width(), ch / hint.height())
        self._scale = scale
        c.resize(max(1, round(w / scale)), max(1, round(ch / scale)))
        QCoreApplication.sendPostedEvents()
        self._canvas_img = QImage(w, ch, QImage.Format.Format_RGBX8888)
        self._canvas_img.setDevicePixelRatio(scale)
        self._image = QImage(w, h, QImage.Format.Format_RGBX8888)
        self._bg = c.palette().color(c.backgroundRole())

    @property
    def canvas(self) -> QWidget:
        """The offscreen canvas (for tests and diagnostics)."""
        return self._canvas

    @property
    def scale(self) -> float:
        """Frame pixels per logical pixel of the canvas layout."""
        return self._scale

    @property
    def band(self):
        """The caption band's :class:`~.caption_band.CaptionBand`, or None without a caption."""
        return self._band

    @property
    def canvas_height(self) -> int:
        """Rows of the frame the canvas takes (the band takes the rest)."""
        return self._canvas_h

    @property
    def background(self) -> QColor:
        """The canvas's background colour."""
        return self._bg

    def render_title(self, title: str, description: str = "") -> np.ndarray:
        """A title card of the frame's size: ``title`` large, ``description`` below it, as a new
        ``(H, W, 3)`` uint8 RGB array."""
        w, h = self.size
        img = QImage(w, h, QImage.Format.Format_RGB888)
        img.fill(BAND_COLOR)
        p = QPainter(img)
        try:
            paint_title(p, (w, h), title, description, self.tl)
        finally:
            p.end()
        raw = np.frombuffer(img.constBits(), np.uint8, count=img.sizeInBytes()).reshape(h, img.bytesPerLine())
        return raw[:, : 3 * w].reshape(h, w, 3).copy()

    def render_image(self, n: int) -> QImage:
        """Step ``n`` painted into the renderer's own :class:`QImage` (reused by the next call)."""
        c = self._canvas
        if c is None:
            raise ExportError("the renderer is closed")
        c.show_step(int(n))
        # layout requests and deferred updates posted by the new frame, handled before painting
        QCoreApplication.sendPostedEvents()
        self._canvas_img.fill(self._bg)
        c.render(self._canvas_img)
        img = self._image
        w, h = self.size
        p = QPainter(img)
        try:
            # the source rect is in physical pixels: copied 1:1 whatever the pixel ratio
            p.drawImage(QRectF(0, 0, w, self._canvas_h), self._canvas_img)
            if self._band is not None:
                paint_band(p, self._band, self.tl, int(n), self.size, self._canvas_h)
        finally:
            p.end()
        return img

    def render(self, n: int) -> np.ndarray:
        """Step ``n`` as a new ``(H, W, 3)`` uint8 RGB array."""
        # Qt's RGB888 conversion (0.8 ms at 1280×720) beats numpy dropping every 4th byte (3 ms)
        img = self.render_image(n).convertToFormat(QImage.Format.Format_RGB888)
        w, h = self.size
        # rows are padded to 4 bytes (bytesPerLine ≥ 3w): cut the padding off, then copy out of Qt's buffer
        raw = np.frombuffer(img.constBits(), np.uint8, count=img.sizeInBytes()).reshape(h, img.bytesPerLine())
        return raw[:, : 3 * w].reshape(h, w, 3).copy()

    def close(self) -> None:
        """Delete the offscreen canvas."""
        c, self._canvas = self._canvas, None
        if c is not None:
            c.hide()
            c.deleteLater()

    def __enter__(self) -> FrameRenderer:
        return self

    def __exit__(self, *exc) -> None:
        self.close()


def render_frames(tl, op: str | None = None, steps: Sequence[int] | None = None,
                  size: Sequence[int] = DEFAULT_SIZE, caption: bool = True,
                  canvas_factory: Callable | None = None) -> Iterator[np.ndarray]:
    """Frames of a run rendered offscreen at a fixed size: one ``(H, W, 3)`` uint8 array per step.

    Parameters
    ----------
    tl : compute.Timeline
        The run.
    op : str, optional
        Operation whose canvas draws it (default ``tl.op``).
    steps : sequence of int, optional
        0-based step indices in the order wanted (default: every step).
    size : (int, int)
        (width, height) of every frame, caption band included.
    caption : bool
        Burn in the caption and a "step n / N · stage" read-out.
    canvas_factory : callable, optional
        ``factory(op) -> canvas`` (default :func:`gui.canvas.create_canvas`).

    Yields
    ------
    numpy.ndarray
        ``(height, width, 3)`` uint8 RGB, a fresh array each time.

    Notes
    -----
    GUI thread only, with a ``QApplication``. The offscreen canvas is deleted when the generator
    is exhausted or closed.
    """
    picked = check_steps(range(len(tl)) if steps is None else steps, len(tl))
    with FrameRenderer(tl, op, size, caption, picked, canvas_factory) as r:
        for n in picked:
            yield r.render(n)
