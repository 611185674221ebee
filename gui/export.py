"""Export: PNG stills and GIF / MP4 animations of a run, rendered offscreen at a fixed size.

Frames are never grabbed from the live window (ARCHITECTURE.md §7): an offscreen canvas
(:func:`gui.canvas.create_canvas`, shown with ``WA_DontShowOnScreen`` so its layouts and views
resize as on screen) is sized to the export, stepped with ``show_step(n)`` and painted into a
preallocated :class:`QImage`; the caption and a "step n / N · stage" read-out are burned in on a
dark band below it. The result does not depend on the window's size, the screen's pixel ratio or
what the user does meanwhile.

Qt widgets can only be painted on the GUI thread, so rendering stays there; encoding (palette
quantization for GIF, libx264 through imageio-ffmpeg for MP4) runs in a Python thread fed by a
small queue, so the two overlap on two cores. Every file is written to a temporary file in the
target's folder and moved over the target only when complete: a cancelled or failed export leaves
no partial file and the previous file intact.

Public API
----------
- :func:`render_frames` — a generator of ``(H, W, 3)`` uint8 frames.
- :func:`export_png`, :func:`export_animation` — blocking exports (scripts, the CLI, tests).
- :class:`ExportDialog`, :class:`ExportRunner`, :func:`start_export` — the File › Export path of the
  window: the GUI stays responsive (one frame per event-loop turn) with a progress dialog and Cancel.
- :func:`build_export_parser`, :func:`run_export` — the ``export`` sub-command of ``main.py``.

Frame sizes: MP4 (libx264, yuv420p) needs even sides, so :func:`codec_size` rounds each side to
the nearest even number; imageio's ``macro_block_size`` is set to 2 so that it never rescales a
frame. (H.264 codes 16×16 macroblocks but stores the crop in the stream, so 1920×1080 plays
everywhere; imageio's default of 16 would have stretched it to 1920×1088.) GIF and PNG keep the
exact size.
"""

from __future__ import annotations

import argparse
import contextlib
import math
import os
import queue
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass

import numpy as np
from PySide6.QtCore import QCoreApplication, QObject, QPointF, QRectF, QSize, Qt, QTimer, Signal, qInstallMessageHandler
from PySide6.QtGui import QColor, QFont, QFontMetricsF, QImage, QPainter, QTextLayout, QTextOption
from PySide6.QtWidgets import (
    QApplication,
    QCheckBox,
    QDialog,
    QDialogButtonBox,
    QDoubleSpinBox,
    QFileDialog,
    QFormLayout,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QMessageBox,
    QProgressDialog,
    QPushButton,
    QSpinBox,
    QVBoxLayout,
    QWidget,
)

from compute.errors import OpScopeError

__all__ = [
    "DEFAULT_FPS",
    "DEFAULT_SIZE",
    "FORMATS",
    "ExportDialog",
    "ExportError",
    "ExportOptions",
    "ExportRunner",
    "FrameRenderer",
    "build_export_parser",
    "codec_size",
    "export_animation",
    "export_format",
    "export_png",
    "parse_size",
    "parse_steps",
    "render_frames",
    "run_export",
    "start_export",
]

#: File extension -> format name; the format is always taken from the file name.
FORMATS = {".png": "png", ".gif": "gif", ".mp4": "mp4"}
FORMAT_TITLES = {"png": "PNG image (one step)", "gif": "GIF animation (loops)", "mp4": "MP4 video (H.264)"}
DEFAULT_SIZE = (1280, 720)
DEFAULT_FPS = 5.0
MIN_SIDE = 64
MAX_SIDE = 7680
MAX_FPS = 60.0
MIN_FPS = 0.1
#: MP4 frame sides are multiples of this: yuv420p stores colour at half resolution, so libx264 needs
#: even sides. Not 16: H.264 crops padded macroblocks itself, and 1080 is not a multiple of 16.
MP4_BLOCK = 2
#: imageio's 0–10 quality scale; for libx264 it becomes ``-crf round(51 × (1 − q/10))`` = 15 for 7:
#: visually lossless for flat colours and text, which is what the canvas is made of.
MP4_QUALITY = 7
#: Frames waiting for the encoder: enough to absorb jitter, few enough to bound memory
#: (4 × 2.7 MB at 1280×720).
QUEUE_FRAMES = 4
#: The canvas is laid out as if the frame (without the caption band) were this size and scaled up
#: for larger exports, so a 1920×1080 export looks like the 1280×720 one, only sharper.
REFERENCE_SIZE = (1280, 720)
#: Above this many pixels in all, the dialog suggests MP4 instead of a GIF.
GIF_LARGE_PIXELS = 300 * 1280 * 720
#: Smaller frames are laid out at this size (or the canvas's minimum, if larger) and scaled down:
#: a thumbnail of a readable layout, rather than a layout squeezed until its views are unreadable.
MIN_LAYOUT = QSize(640, 300)
BAND_COLOR = QColor(24, 26, 32)
CAPTION_COLOR = QColor(248, 248, 248)
READOUT_COLOR = QColor(160, 170, 184)
STAGE_COLOR = QColor(255, 150, 60)
EXIT_BAD_INPUT = 2


class ExportError(OpScopeError, ValueError):
    """An export that cannot be made; the message names the file or option and the problem."""


# ---------------------------------------------------------------------------------------------
# options


def export_format(path: str | os.PathLike) -> str:
    """The format of an export file from its extension: ``"png"``, ``"gif"`` or ``"mp4"``.

    Raises
    ------
    ExportError
        For any other extension.
    """
    name = os.path.basename(os.fspath(path))
    ext = os.path.splitext(name)[1].lower()
    if ext not in FORMATS:
        raise ExportError(f"{name or path!r}: cannot export to {ext or 'a file without an extension'}; "
                          f"use {', '.join(FORMATS)}")
    return FORMATS[ext]


def check_size(size: Sequence[int]) -> tuple[int, int]:
    """``size`` as ``(width, height)`` ints, each side between :data:`MIN_SIDE` and :data:`MAX_SIDE`."""
    try:
        w, h = (int(v) for v in size)
    except (TypeError, ValueError):
        raise ExportError(f"size {size!r}: give (width, height) in pixels, e.g. (1280, 720)") from None
    if not (MIN_SIDE <= w <= MAX_SIDE and MIN_SIDE <= h <= MAX_SIDE):
        raise ExportError(f"size {w}×{h}: each side must be between {MIN_SIDE} and {MAX_SIDE} pixels")
    return w, h


def codec_size(size: Sequence[int], fmt: str) -> tuple[int, int]:
    """The frame size actually written for ``size`` in format ``fmt``.

    MP4 sides are rounded to the nearest even number (:data:`MP4_BLOCK`): 1280×720 and 1920×1080
    stay, 1001×501 becomes 1002×502. GIF and PNG keep ``size``.
    """
    w, h = check_size(size)
    if fmt == "mp4":
        w, h = (max(MP4_BLOCK, int(math.floor(v / MP4_BLOCK + 0.5)) * MP4_BLOCK) for v in (w, h))
    return w, h


def parse_size(text: str) -> tuple[int, int]:
    """``"1280x720"`` (also ``1280X720``, ``1280×720``, ``1280,720``) -> ``(1280, 720)``."""
    t = str(text).strip().lower().replace("×", "x").replace(",", "x").replace("*", "x")
    parts = [p.strip() for p in t.split("x")]
    if len(parts) != 2 or not all(p.isdigit() for p in parts):
        raise ExportError(f"--size {text!r}: write WIDTHxHEIGHT in pixels, e.g. 1280x720")
    return check_size((int(parts[0]), int(parts[1])))


def parse_steps(text: str, total: int) -> range:
    """``--steps`` text -> a range of step indices, 0-based like ``main.py --step`` and a session's step.

    ``"A:B"`` is half-open like a Python slice (``"0:10"``: the first ten steps), ``"A:"`` runs to
    the end, ``":B"`` starts at 0, ``"A"`` is step A alone; negative numbers count from the end.
    Out-of-range or empty ranges are errors rather than silently clipped.
    """
    t = str(text).strip()
    first, sep, last = t.partition(":")
    try:
        a = int(first) if first.strip() else 0
        b = (int(last) if last.strip() else total) if sep else None
    except ValueError:
        raise ExportError(f"--steps {text!r}: write A:B with 0-based step numbers (e.g. 0:{total} for all "
                          f"{total}), A:, :B or one step A") from None
    a = a + total if a < 0 else a
    if b is None:
        b = a + 1
    elif b < 0:
        b += total
    if not (0 <= a < b <= total):
        raise ExportError(f"--steps {text!r}: the run has {total} steps, 0..{total - 1}; "
                          f"A:B is half-open and must hold at least one of them")
    return range(a, b)


def _check_steps(steps: Sequence[int], total: int) -> list[int]:
    out = [int(n) for n in steps]
    if not out:
        raise ExportError("no steps to export: the step range is empty")
    bad = [n for n in out if not 0 <= n < total]
    if bad:
        raise ExportError(f"step index {bad[0]} is out of range: the run has {total} steps (0..{total - 1})")
    return out


def _check_fps(fps: float) -> float:
    try:
        f = float(fps)
    except (TypeError, ValueError):
        raise ExportError(f"fps {fps!r} is not a number") from None
    if not (math.isfinite(f) and MIN_FPS <= f <= MAX_FPS):
        raise ExportError(f"fps {fps!r}: frames per second must be between {MIN_FPS:g} and {MAX_FPS:g}")
    return f


@dataclass(frozen=True)
class ExportOptions:
    """One export, as plain data (what :class:`ExportDialog` returns and :class:`ExportRunner` runs).

    Attributes
    ----------
    path : the file to write; its extension chooses the format.
    steps : 0-based step indices, in order (for PNG only the first is used).
    fps : frames per second (one step per frame).
    size : (width, height) requested; MP4 rounds it with :func:`codec_size`.
    caption : burn in the caption band and the step read-out.
    """

    path: str
    steps: tuple[int, ...]
    fps: float = DEFAULT_FPS
    size: tuple[int, int] = DEFAULT_SIZE
    caption: bool = True

    @property
    def fmt(self) -> str:
        return export_format(self.path)

    @property
    def frame_size(self) -> tuple[int, int]:
        return codec_size(self.size, self.fmt)


# ---------------------------------------------------------------------------------------------
# rendering


def _require_app() -> QApplication:
    app = QApplication.instance()
    if not isinstance(app, QApplication):
        raise ExportError("rendering frames needs a QApplication (create one first, or use run_export)")
    return app


def _wrap(text: str, font: QFont, width: float) -> list[str]:
    """``text`` broken into lines no wider than ``width`` in ``font``: at spaces where possible,
    inside a word when one word alone is too wide (long formulas must not run off the frame)."""
    option = QTextOption()
    option.setWrapMode(QTextOption.WrapMode.WrapAtWordBoundaryOrAnywhere)
    lines: list[str] = []
    for para in str(text).split("\n"):
        layout = QTextLayout(para, font)
        layout.setTextOption(option)
        layout.beginLayout()
        while True:
            line = layout.createLine()
            if not line.isValid():
                break
            line.setLineWidth(width)
            lines.append(para[line.textStart():line.textStart() + line.textLength()].rstrip())
        layout.endLayout()
    return lines or [""]


@dataclass(frozen=True)
class _Band:
    """The caption band's geometry, fixed for a whole export so the canvas never jumps."""

    height: int
    pad: int
    caption_font: QFont
    readout_font: QFont
    max_lines: int


def _fit_band(captions: Sequence[str], width: int, height: int) -> _Band:
    """A band tall enough for the longest caption, at a size readable on a projector.

    The caption font is ~4.2 % of the frame height (30 px at 720p); it shrinks to no less than
    two thirds of that when a caption would need more than three lines, and the band never takes
    more than 40 % of the frame (longer captions are cut with an ellipsis).
    """
    base = int(min(72, max(12, round(height * 0.042))))
    pad = max(4, round(base * 0.45))
    text_w = max(10, width - 2 * pad)
    font = QFont(QApplication.font())
    font.setWeight(QFont.Weight.Medium)
    unique = sorted(set(captions), key=len, reverse=True)[:200]  # the longest captions decide the height
    floor = max(10, round(base * 2 / 3))
    px = base
    while True:
        font.setPixelSize(px)
        lines = max((len(_wrap(c, font, text_w)) for c in unique), default=1)
        if lines <= 3 or px <= floor:
            break
        px = max(floor, px - 2)
    readout = QFont(QApplication.font())
    readout.setPixelSize(max(10, round(px * 0.62)))
    line_h = QFontMetricsF(font).lineSpacing()
    top = QFontMetricsF(readout).lineSpacing() + pad * 0.35
    room = int((height * 0.4 - 2 * pad - top) // line_h)
    max_lines = max(1, min(lines, room))
    band = int(math.ceil(2 * pad + top + max_lines * line_h))
    return _Band(band, pad, font, readout, max_lines)


def _show_quietly(widget: QWidget) -> None:
    """``widget.show()`` without the offscreen platform's "does not support propagateSizeHints()"
    warning, which would be the only line a successful ``export`` command prints on stderr."""
    def handler(mode, context, message):
        if "propagateSizeHints" in message:
            return
        if previous is not None:
            previous(mode, context, message)
        else:
            print(message, file=sys.stderr)

    previous = qInstallMessageHandler(handler)
    try:
        widget.show()
    finally:
        qInstallMessageHandler(previous)


def _canvas_factory(factory: Callable | None) -> Callable:
    if factory is not None:
        return factory
    from .canvas import create_canvas

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
            self._band = _fit_band([tl[n].caption for n in picked], w, h)
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
                self._paint_band(p, int(n))
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

    def _paint_band(self, p: QPainter, n: int) -> None:
        b = self._band
        w, h = self.size
        y0 = self._canvas_h
        p.fillRect(0, y0, w, h - y0, BAND_COLOR)
        p.setRenderHint(QPainter.RenderHint.TextAntialiasing, True)
        step = self.tl[n]
        x = b.pad
        y = y0 + b.pad
        fm = QFontMetricsF(b.readout_font)
        p.setFont(b.readout_font)
        p.setPen(READOUT_COLOR)
        head = f"step {n + 1} / {len(self.tl)}"
        p.drawText(QPointF(x, y + fm.ascent()), head)
        if step.stage:
            p.setPen(STAGE_COLOR)
            p.drawText(QPointF(x + fm.horizontalAdvance(head + "  "), y + fm.ascent()), f"·  {step.stage}")
        y += fm.lineSpacing() + b.pad * 0.35
        text_w = w - 2 * b.pad
        lines = _wrap(step.caption, b.caption_font, text_w)
        cm = QFontMetricsF(b.caption_font)
        if len(lines) > b.max_lines:
            cut = lines[b.max_lines - 1] + " " + " ".join(lines[b.max_lines:])
            lines = lines[: b.max_lines - 1] + [cm.elidedText(cut, Qt.TextElideMode.ElideRight, text_w)]
        p.setFont(b.caption_font)
        p.setPen(CAPTION_COLOR)
        for line in lines:
            p.drawText(QPointF(x, y + cm.ascent()), line)
            y += cm.lineSpacing()

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
    picked = _check_steps(range(len(tl)) if steps is None else steps, len(tl))
    with FrameRenderer(tl, op, size, caption, picked, canvas_factory) as r:
        for n in picked:
            yield r.render(n)


# ---------------------------------------------------------------------------------------------
# writing


def _target_mode(path: str) -> int:
    """Permissions for the new file: those of the file it replaces, else the usual ``0o666 & ~umask``."""
    try:
        return os.stat(path).st_mode & 0o7777
    except OSError:
        from compute.io.atomic import _UMASK

        return 0o666 & ~_UMASK


def _describe(exc: BaseException) -> str:
    text = " ".join(str(exc).split("\n")[0].split()) or type(exc).__name__
    return text if isinstance(exc, OpScopeError) else f"{type(exc).__name__}: {text}"


class _FileWriter:
    """One animation file, written to a temporary file beside ``path`` and moved over it by
    :meth:`commit`; :meth:`abort` removes the temporary file. Used from one thread at a time."""

    def __init__(self, path: str | os.PathLike, fmt: str, size: tuple[int, int], fps: float):
        self.path = os.fspath(path)
        self.fmt = fmt
        self.size = size
        self.fps = fps
        self.name = os.path.basename(self.path) or self.path
        folder = os.path.dirname(os.path.abspath(self.path))
        if not os.path.isdir(folder):
            raise ExportError(f"{self.name}: cannot write it (folder {folder} does not exist)")
        if os.path.isdir(self.path):
            raise ExportError(f"{self.path} is a folder")
        ext = os.path.splitext(self.path)[1].lower()
        try:
            # the temporary name keeps the extension: ffmpeg picks the container from it
            fd, self.tmp = tempfile.mkstemp(dir=folder, prefix="." + self.name + ".", suffix=".tmp" + ext)
        except OSError as exc:
            raise ExportError(f"{self.name}: cannot write it ({exc.strerror or exc})") from exc
        os.close(fd)
        self._writer = None
        self._frames: list = []
        self.count = 0

    def append(self, frame: np.ndarray) -> None:
        if frame.shape != (self.size[1], self.size[0], 3):
            raise ExportError(f"{self.name}: frame of shape {frame.shape}, expected {(self.size[1], self.size[0], 3)}")
        if self.fmt == "mp4":
            if self._writer is None:
                import imageio.v2 as iio2

                self._writer = iio2.get_writer(
                    self.tmp, format="FFMPEG", mode="I", fps=self.fps, codec="libx264", quality=MP4_QUALITY,
                    pixelformat="yuv420p", macro_block_size=MP4_BLOCK, ffmpeg_log_level="error",
                    # the index first, so a browser or slide deck can start playing before the end arrives
                    ffmpeg_params=["-movflags", "+faststart"])
            self._writer.append_data(frame)
        elif self.fmt == "gif":
            from PIL import Image

            # Quantized now, in the encoder thread, to one byte a pixel: Pillow keeps every GIF frame
            # until the end, and RGB frames would take three times the memory (a better reason than
            # style to call Pillow here rather than imageio's pillow plugin, which keeps RGB frames).
            # Fast octree: 7 ms a 1280×720 frame against 50 ms for median cut, with a similar colour
            # error on these flat heatmaps; no dithering, which would speckle flat cells and text.
            self._frames.append(Image.fromarray(frame, "RGB").quantize(256, method=Image.Quantize.FASTOCTREE,
                                                                        dither=Image.Dither.NONE))
        else:
            if self._frames:
                raise ExportError(f"{self.name}: a PNG holds one frame")
            self._frames.append(frame)
        self.count += 1

    def commit(self) -> None:
        """Finish the file and move it over ``path``."""
        if self.count == 0:
            raise ExportError(f"{self.name}: no frames were rendered")
        if self.fmt == "mp4":
            w, self._writer = self._writer, None
            w.close()
        elif self.fmt == "gif":
            frames, self._frames = self._frames, []
            # loop=0: forever; Pillow stores durations in 10 ms units
            frames[0].save(self.tmp, format="GIF", save_all=True, append_images=frames[1:],
                           duration=int(round(1000 / self.fps)), loop=0)
        else:
            import imageio.v3 as iio

            data = iio.imwrite("<bytes>", self._frames[0], extension=".png")
            with open(self.tmp, "wb") as f:
                f.write(data)
        if os.path.getsize(self.tmp) == 0:
            raise ExportError(f"{self.name}: the encoder wrote nothing")
        with open(self.tmp, "rb+") as f:
            os.fsync(f.fileno())
        with contextlib.suppress(OSError):
            os.chmod(self.tmp, _target_mode(self.path))
        os.replace(self.tmp, self.path)
        self.tmp = None
        from compute.io.atomic import _fsync_folder

        _fsync_folder(os.path.dirname(os.path.abspath(self.path)))

    def abort(self) -> None:
        """Drop everything written so far; the target is untouched."""
        w, self._writer = self._writer, None
        if w is not None:
            with contextlib.suppress(Exception):  # ffmpeg may already have failed; the file goes anyway
                w.close()
        self._frames = []
        if self.tmp is not None:
            with contextlib.suppress(OSError):
                os.unlink(self.tmp)
            self.tmp = None


_END = object()


class _Encoder:
    """Feeds frames from a small queue to a :class:`_FileWriter` in a Python thread.

    The thread owns the writer from :meth:`start` on: it commits after the end marker, and aborts
    (temporary file removed) on :meth:`stop` or on any error, which it keeps in :attr:`error`.
    """

    def __init__(self, writer: _FileWriter, maxsize: int = QUEUE_FRAMES):
        self.writer = writer
        self.queue: queue.Queue = queue.Queue(maxsize)
        self.stop_event = threading.Event()
        self.error: BaseException | None = None
        self.committed = False
        self.done = 0
        self.busy = 0.0  # seconds spent encoding, for the benchmark
        self.thread = threading.Thread(target=self._run, name=f"opscope-export {writer.name}")

    def start(self) -> None:
        self.thread.start()

    def _run(self) -> None:
        try:
            while not self.stop_event.is_set():
                try:
                    item = self.queue.get(timeout=0.05)
                except queue.Empty:
                    continue
                if self.stop_event.is_set():
                    break
                t0 = time.perf_counter()
                if item is _END:
                    self.writer.commit()
                    self.committed = True
                    self.busy += time.perf_counter() - t0
                    break
                self.writer.append(item)
                self.busy += time.perf_counter() - t0
                self.done += 1
        except BaseException as exc:  # reported by the thread that renders; never lost in this one
            self.error = exc
        finally:
            if not self.committed:
                self.writer.abort()

    def alive(self) -> bool:
        return self.thread.is_alive()

    def offer(self, item) -> bool:
        """Hand over a frame (or the end marker) without blocking; False when the queue is full."""
        try:
            self.queue.put_nowait(item)
        except queue.Full:
            return False
        return True

    def put(self, item, cancel: Callable[[], bool] | None = None) -> bool:
        """Hand over ``item``, waiting while the queue is full; False if cancelled or the encoder died."""
        while True:
            if self.error is not None or not self.alive() or (cancel is not None and cancel()):
                return False
            try:
                self.queue.put(item, timeout=0.05)
                return True
            except queue.Full:
                continue

    def stop(self, wait: bool = True) -> None:
        """Abandon the export: the thread stops and removes the temporary file."""
        self.stop_event.set()
        if wait and self.thread.ident is not None:
            self.thread.join()

    def failure(self) -> ExportError | None:
        if self.error is None:
            return None
        if isinstance(self.error, ExportError):
            return self.error
        return ExportError(f"{self.writer.name}: cannot write it ({_describe(self.error)})")


def export_png(canvas_or_tl, path: str | os.PathLike, size: Sequence[int] = DEFAULT_SIZE, *, op: str | None = None,
               step: int | None = None, caption: bool = True, canvas_factory: Callable | None = None) -> str:
    """Write one step as a PNG of exactly ``size`` pixels, atomically.

    Parameters
    ----------
    canvas_or_tl : compute.Timeline or OperationCanvas
        A timeline, or a live canvas: its timeline and current step are rendered offscreen
        (the live canvas is not resized or touched).
    path : str or os.PathLike
        The ``.png`` file.
    size : (int, int)
        (width, height) in pixels.
    op : str, optional
        Operation name (default: the canvas's, else ``tl.op``).
    step : int, optional
        0-based step (default: the canvas's current step, else the last step of the run).
    caption : bool
        Burn in the caption band.

    Returns
    -------
    str
        ``path``.
    """
    tl = canvas_or_tl
    if isinstance(canvas_or_tl, QWidget):
        tl = getattr(canvas_or_tl, "timeline", None)
        if tl is None:
            raise ExportError("the canvas shows no run yet: nothing to export")
        op = op or getattr(canvas_or_tl, "op_name", None)
        if step is None and getattr(canvas_or_tl, "current_index", -1) >= 0:
            step = canvas_or_tl.current_index
    if export_format(path) != "png":
        raise ExportError(f"{os.path.basename(os.fspath(path))}: export_png writes .png files")
    n = len(tl) - 1 if step is None else int(step)
    _check_steps([n], len(tl))
    size = check_size(size)
    writer = _FileWriter(path, "png", size, 1.0)
    try:
        with FrameRenderer(tl, op, size, caption, [n], canvas_factory) as r:
            frame = r.render(n)
        writer.append(frame)
        writer.commit()
    except BaseException as exc:
        writer.abort()
        if isinstance(exc, (ExportError, KeyboardInterrupt)) or not isinstance(exc, Exception):
            raise
        raise ExportError(f"{writer.name}: cannot write it ({_describe(exc)})") from exc
    return os.fspath(path)


def export_animation(tl, op: str | None, path: str | os.PathLike, fps: float = DEFAULT_FPS,
                     size: Sequence[int] = DEFAULT_SIZE, steps: Sequence[int] | None = None, caption: bool = True,
                     progress: Callable[[int, int], object] | None = None, cancel: Callable[[], bool] | None = None,
                     canvas_factory: Callable | None = None, stats: dict | None = None) -> str | None:
    """Write the steps of a run as a GIF or MP4 (one step a frame), atomically.

    Frames are rendered on the calling thread (the GUI thread) and encoded in a worker thread.

    Parameters
    ----------
    tl : compute.Timeline
        The run.
    op : str or None
        Operation whose canvas draws it (None: ``tl.op``).
    path : str or os.PathLike
        ``.gif`` (loops forever; Pillow merges identical consecutive frames, keeping the timing) or
        ``.mp4`` (H.264, yuv420p); ``.png`` writes the first step.
    fps : float
        Frames (steps) per second.
    size : (int, int)
        (width, height); MP4 rounds odd sides up to even (:func:`codec_size`).
    steps : sequence of int, optional
        0-based step indices, in order; repeats allowed (default: every step).
    caption : bool
        Burn in the caption and the step read-out.
    progress : callable, optional
        ``progress(i, n)`` after each of the ``n`` frames is handed to the encoder.
    cancel : callable, optional
        Polled between frames; returning True stops the export.
    stats : dict, optional
        Filled with ``render_s``, ``encode_s`` (encoder thread busy time), ``wall_s`` and ``frames``.

    Returns
    -------
    str or None
        ``path``, or None when cancelled (then no file was written and an old one is untouched).

    Raises
    ------
    ExportError
        Bad options, or a failed render or write (an old file at ``path`` is untouched).
    """
    fmt = export_format(path)
    picked = _check_steps(range(len(tl)) if steps is None else steps, len(tl))
    fps = _check_fps(fps)
    frame_size = codec_size(size, fmt)
    if fmt == "png":
        return export_png(tl, path, frame_size, op=op, step=picked[0], caption=caption, canvas_factory=canvas_factory)
    t_start = time.perf_counter()
    render_s = 0.0
    encoder = _Encoder(_FileWriter(path, fmt, frame_size, fps))
    encoder.start()
    cancelled = False
    try:
        with FrameRenderer(tl, op, frame_size, caption, picked, canvas_factory) as r:
            for i, n in enumerate(picked):
                if cancel is not None and cancel():
                    cancelled = True
                    break
                t0 = time.perf_counter()
                frame = r.render(n)
                render_s += time.perf_counter() - t0
                if not encoder.put(frame, cancel):
                    cancelled = encoder.error is None
                    break
                if progress is not None:
                    progress(i + 1, len(picked))
        if not cancelled and encoder.error is None:
            encoder.put(_END)
            encoder.thread.join()
    finally:
        if not encoder.committed:
            encoder.stop()
    if stats is not None:
        stats.update(render_s=render_s, encode_s=encoder.busy, wall_s=time.perf_counter() - t_start,
                     frames=encoder.done)
    failure = encoder.failure()
    if failure is not None:
        raise failure from encoder.error
    return None if cancelled else os.fspath(path)


# ---------------------------------------------------------------------------------------------
# the window's export: dialog, runner, progress


class ExportDialog(QDialog):
    """Asks where and how to export a run: file (its extension picks PNG / GIF / MP4), step range,
    frames per second, size (default 1280×720) and whether to burn in the caption.

    Steps are numbered 1..N here, as in the step read-out.

    Parameters
    ----------
    tl : compute.Timeline
        The run to export.
    parent : QWidget, optional
    path : str
        Initial file name.
    step : int, optional
        0-based current step: the default for a PNG.
    fps : float
        Initial frames per second.
    """

    def __init__(self, tl, parent: QWidget | None = None, path: str = "", step: int | None = None,
                 fps: float = DEFAULT_FPS):
        super().__init__(parent)
        self.setWindowTitle("Export")
        self.setMinimumWidth(460)  # room for a real path
        total = len(tl)
        self._total = total
        self._step = 0 if step is None else max(0, min(int(step), total - 1))
        self.path_edit = QLineEdit(path)
        self.path_edit.setPlaceholderText("animation.mp4, animation.gif or frame.png")
        browse = QPushButton("Browse…")
        browse.clicked.connect(self._browse)
        row = QHBoxLayout()
        row.addWidget(self.path_edit, 1)
        row.addWidget(browse)
        self.format_label = QLabel()
        self.first_spin = QSpinBox()
        self.last_spin = QSpinBox()
        for s in (self.first_spin, self.last_spin):
            s.setRange(1, max(1, total))
        self.first_spin.setValue(1)
        self.last_spin.setValue(max(1, total))
        self.first_spin.valueChanged.connect(lambda v: self.last_spin.setValue(max(v, self.last_spin.value())))
        self.last_spin.valueChanged.connect(lambda v: self.first_spin.setValue(min(v, self.first_spin.value())))
        steps_row = QHBoxLayout()
        steps_row.addWidget(self.first_spin)
        self.to_label = QLabel("to")
        steps_row.addWidget(self.to_label)
        steps_row.addWidget(self.last_spin)
        steps_row.addWidget(QLabel(f"of {total}"))
        steps_row.addStretch(1)
        self.fps_spin = QDoubleSpinBox()
        self.fps_spin.setRange(MIN_FPS, MAX_FPS)
        self.fps_spin.setDecimals(1)
        self.fps_spin.setValue(float(fps))
        self.fps_spin.setSuffix(" frames/s")
        self.width_spin = QSpinBox()
        self.height_spin = QSpinBox()
        for s, v in ((self.width_spin, DEFAULT_SIZE[0]), (self.height_spin, DEFAULT_SIZE[1])):
            s.setRange(MIN_SIDE, MAX_SIDE)
            s.setValue(v)
            s.setSuffix(" px")
        size_row = QHBoxLayout()
        size_row.addWidget(self.width_spin)
        size_row.addWidget(QLabel("×"))
        size_row.addWidget(self.height_spin)
        size_row.addStretch(1)
        self.caption_check = QCheckBox("Burn in the caption and step number")
        self.caption_check.setChecked(True)
        self.summary_label = QLabel()
        self.summary_label.setWordWrap(True)
        form = QFormLayout()
        form.addRow("File:", row)
        form.addRow("Format:", self.format_label)
        form.addRow("Steps:", steps_row)
        form.addRow("Speed:", self.fps_spin)
        form.addRow("Size:", size_row)
        form.addRow("", self.caption_check)
        self.buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Ok | QDialogButtonBox.StandardButton.Cancel)
        self.buttons.button(QDialogButtonBox.StandardButton.Ok).setText("Export")
        self.buttons.accepted.connect(self.accept)
        self.buttons.rejected.connect(self.reject)
        lay = QVBoxLayout(self)
        lay.addLayout(form)
        lay.addWidget(self.summary_label)
        lay.addWidget(self.buttons)
        for sig in (self.path_edit.textChanged, self.first_spin.valueChanged, self.last_spin.valueChanged,
                    self.fps_spin.valueChanged, self.width_spin.valueChanged, self.height_spin.valueChanged):
            sig.connect(self._update)
        self._png_first_set = False
        self._update()

    def _browse(self) -> None:
        start = self.path_edit.text() or "animation.mp4"
        path, _ = QFileDialog.getSaveFileName(self, "Export", start,
                                              "MP4 video (*.mp4);;GIF animation (*.gif);;PNG image (*.png)")
        if path:
            self.path_edit.setText(path)

    def _format(self) -> str | None:
        try:
            return export_format(self.path_edit.text().strip()) if self.path_edit.text().strip() else None
        except ExportError:
            return None

    def _update(self, *_args) -> None:
        fmt = self._format()
        text = self.path_edit.text().strip()
        ok = fmt is not None
        if fmt is None:
            self.format_label.setText("choose a file ending in .mp4, .gif or .png" if not text else
                                      f"unsupported: {os.path.splitext(text)[1] or 'no extension'} "
                                      f"(use .mp4, .gif or .png)")
        else:
            self.format_label.setText(FORMAT_TITLES[fmt])
        png = fmt == "png"
        if png and not self._png_first_set:
            # a still: the step on screen, unless the user picks another
            self._png_first_set = True
            self.first_spin.setValue(self._step + 1)
        self.last_spin.setEnabled(not png)
        self.to_label.setEnabled(not png)
        self.fps_spin.setEnabled(not png)
        size = (self.width_spin.value(), self.height_spin.value())
        if fmt is not None:
            w, h = codec_size(size, fmt)
            frames = 1 if png else self.last_spin.value() - self.first_spin.value() + 1
            parts = [f"{frames} frame{'s' if frames != 1 else ''} of {w}×{h}"]
            if not png:
                parts.append(f"{frames / self.fps_spin.value():.1f} s")
            if fmt == "gif" and frames * w * h > GIF_LARGE_PIXELS:
                # Pillow keeps every GIF frame (one byte a pixel) until the file is written
                parts.append(f"a large GIF (~{frames * w * h / 1e6:.0f} MB while writing): MP4 is far smaller")
            if (w, h) != size:
                parts.append("MP4 needs even sides")
            self.summary_label.setText(", ".join(parts) + ".")
        else:
            self.summary_label.setText("")
        self.buttons.button(QDialogButtonBox.StandardButton.Ok).setEnabled(ok)

    def options(self) -> ExportOptions:
        """The export as chosen (0-based steps)."""
        fmt = export_format(self.path_edit.text().strip())
        a = self.first_spin.value() - 1
        b = a + 1 if fmt == "png" else self.last_spin.value()
        return ExportOptions(path=self.path_edit.text().strip(), steps=tuple(range(a, b)),
                             fps=float(self.fps_spin.value()),
                             size=(self.width_spin.value(), self.height_spin.value()),
                             caption=self.caption_check.isChecked())


class ExportRunner(QObject):
    """Runs one export while the window stays responsive.

    Qt widgets can only be painted on the GUI thread, so frames are rendered there, one per
    event-loop turn (a 0 ms single-shot timer chain; a turn takes one frame's render, ~10–40 ms),
    and handed to a Python thread that encodes them through a small queue. When the queue is full
    the runner waits on a short timer instead of blocking. The encoder thread emits no Qt signals:
    the GUI side polls its state, so every signal comes from the GUI thread.

    Parameters
    ----------
    tl : compute.Timeline
    op : str or None
        Operation whose canvas draws it (None: ``tl.op``).
    options : ExportOptions
    parent : QObject, optional
        When it is destroyed (the window closes), a running export is abandoned.
    canvas_factory : callable, optional
        ``factory(op) -> canvas`` (default :func:`gui.canvas.create_canvas`).

    Signals
    -------
    progress_changed(int, int) : frames encoded, frames in all.
    finished_with(str) : the file was written (its path).
    failed(str) : one line saying why nothing was written.
    cancelled() : the export was abandoned; nothing was written.
    """

    progress_changed = Signal(int, int)
    finished_with = Signal(str)
    failed = Signal(str)
    cancelled = Signal()

    def __init__(self, tl, op: str | None, options: ExportOptions, parent: QObject | None = None,
                 canvas_factory: Callable | None = None):
        super().__init__(parent)
        self._tl = tl
        self._op = op
        self.options = options
        self._factory = canvas_factory
        self._renderer: FrameRenderer | None = None
        self._encoder: _Encoder | None = None
        self._steps: list[int] = []
        self._next = 0
        self._state = "idle"  # idle, running, finishing, done, failed, cancelled
        self._reported = -1
        self.render_s = 0.0
        self._timer = QTimer(self)
        self._timer.setSingleShot(True)
        self._timer.timeout.connect(self._tick)
        app = QCoreApplication.instance()
        if app is not None:
            app.aboutToQuit.connect(self._abandon)
        # The window closing mid-export destroys this runner with it: a plain function (not a slot of
        # this object) then stops the encoder thread, which removes its temporary file.
        encoder_ref = self._encoder_ref = [None]
        if parent is not None:
            parent.destroyed.connect(lambda *_: encoder_ref[0] is not None and encoder_ref[0].stop(wait=True))

    @property
    def state(self) -> str:
        """``"idle"``, ``"running"``, ``"finishing"``, ``"done"``, ``"failed"`` or ``"cancelled"``."""
        return self._state

    def is_running(self) -> bool:
        return self._state in ("running", "finishing")

    @property
    def total(self) -> int:
        return len(self.options.steps)

    def start(self) -> None:
        """Check the options and begin; problems arrive as :attr:`failed` (on the next turn)."""
        if self._state != "idle":
            raise RuntimeError("an ExportRunner runs once")
        self._state = "running"
        try:
            opts = self.options
            fmt = opts.fmt
            self._steps = _check_steps(opts.steps[:1] if fmt == "png" else opts.steps, len(self._tl))
            fps = _check_fps(opts.fps) if fmt != "png" else 1.0
            size = codec_size(opts.size, fmt)
            self._renderer = FrameRenderer(self._tl, self._op, size, opts.caption, self._steps, self._factory)
            self._encoder = _Encoder(_FileWriter(opts.path, fmt, size, fps))
            self._encoder_ref[0] = self._encoder
            self._encoder.start()
        except Exception as exc:  # noqa: BLE001 - reported as failed(), never raised into the event loop
            self._fail(exc if isinstance(exc, ExportError) else ExportError(_describe(exc)))
            return
        self._reported = 0
        self.progress_changed.emit(0, self.total)
        if self.is_running():  # unless a slot cancelled at once
            self._timer.start(0)

    def cancel(self) -> None:
        """Abandon the export (no file is written; an old one is untouched). Emits :attr:`cancelled`."""
        if not self.is_running():
            return
        self._timer.stop()
        self._cleanup(wait=True)
        self._state = "cancelled"
        self.cancelled.emit()

    def _abandon(self) -> None:
        if self.is_running():
            self._timer.stop()
            self._cleanup(wait=True)
            self._state = "cancelled"

    def _tick(self) -> None:
        enc = self._encoder
        if not self.is_running() or enc is None:
            return
        if enc.error is not None or (not enc.alive() and not enc.committed):
            enc.thread.join()
            self._fail(enc.failure() or ExportError(f"{enc.writer.name}: the encoder stopped"))
            return
        self._report()
        if self._encoder is not enc:  # a slot of progress_changed cancelled or failed the export
            return
        if self._state == "running":
            if self._next < len(self._steps):
                if enc.queue.full():
                    self._timer.start(5)  # the encoder is behind: let it catch up without blocking
                    return
                t0 = time.perf_counter()
                try:
                    frame = self._renderer.render(self._steps[self._next])
                except Exception as exc:  # noqa: BLE001 - a canvas bug must not leave a thread or temp file
                    self._fail(ExportError(f"{enc.writer.name}: rendering step {self._steps[self._next] + 1} "
                                           f"failed ({_describe(exc)})"))
                    return
                self.render_s += time.perf_counter() - t0
                enc.offer(frame)  # cannot be full: only this thread puts
                self._next += 1
                self._timer.start(0)
                return
            if not enc.offer(_END):
                self._timer.start(5)
                return
            self._state = "finishing"
            self._close_renderer()
        if enc.alive():
            self._timer.start(15)
            return
        enc.thread.join()
        if not enc.committed:
            self._fail(enc.failure() or ExportError(f"{enc.writer.name}: the encoder stopped"))
            return
        self._encoder = None
        self._state = "done"
        self._report()
        self._tl = None
        self.finished_with.emit(os.fspath(self.options.path))

    def _report(self) -> None:
        enc = self._encoder
        done = enc.done if enc is not None else self.total
        if done != self._reported:
            self._reported = done
            self.progress_changed.emit(done, self.total)

    def _close_renderer(self) -> None:
        r, self._renderer = self._renderer, None
        if r is not None:
            r.close()

    def _cleanup(self, wait: bool) -> None:
        self._close_renderer()
        enc, self._encoder = self._encoder, None
        if enc is not None:
            enc.stop(wait=wait)
        self._tl = None

    def _fail(self, exc: ExportError) -> None:
        self._timer.stop()
        self._cleanup(wait=True)
        self._state = "failed"
        self.failed.emit(" ".join(str(exc).split()))


def start_export(parent: QWidget | None, tl, op: str | None = None, step: int | None = None,
                 options: ExportOptions | None = None, path: str = "") -> ExportRunner | None:
    """File › Export in one call: ask with :class:`ExportDialog`, then export with a progress dialog.

    Parameters
    ----------
    parent : QWidget or None
        The main window (owns the dialogs; its status bar, if any, reports success).
    tl : compute.Timeline
        The run on screen.
    op : str, optional
        Its operation (default ``tl.op``).
    step : int, optional
        0-based step on screen: the default for a PNG.
    options : ExportOptions, optional
        Skip the dialog and export these (scripts, tests).
    path : str
        Initial file name in the dialog.

    Returns
    -------
    ExportRunner or None
        The running export (already started), or None when the dialog was cancelled.
    """
    if tl is None or len(tl) == 0:
        QMessageBox.information(parent, "Export", "There is no run to export yet.")
        return None
    if options is None:
        dialog = ExportDialog(tl, parent, path=path, step=step)
        if dialog.exec() != QDialog.DialogCode.Accepted:
            return None
        options = dialog.options()
    runner = ExportRunner(tl, op, options, parent)
    bar = QProgressDialog(f"Exporting {os.path.basename(options.path)}…", "Cancel", 0, max(1, runner.total), parent)
    bar.setWindowTitle("Export")
    # window-modal: the window repaints and stays movable, but the run cannot change mid-export
    bar.setWindowModality(Qt.WindowModality.WindowModal)
    bar.setMinimumDuration(300)
    bar.setAutoClose(False)
    bar.setAutoReset(False)
    bar.canceled.connect(runner.cancel)
    runner.progress_changed.connect(lambda done, total: bar.setValue(done))

    def finished(path: str) -> None:
        bar.reset()
        bar.deleteLater()
        status = getattr(parent, "statusBar", None)
        if callable(status):
            status().showMessage(f"Exported {path}", 8000)

    def failed(message: str) -> None:
        bar.reset()
        bar.deleteLater()
        box = QMessageBox(QMessageBox.Icon.Warning, "Export failed", message, QMessageBox.StandardButton.Ok, parent)
        box.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose, True)
        box.open()  # not exec(): no nested event loop while the runner unwinds

    def cancelled() -> None:
        bar.deleteLater()

    runner.finished_with.connect(finished)
    runner.failed.connect(failed)
    runner.cancelled.connect(cancelled)
    runner.start()
    return runner


# ---------------------------------------------------------------------------------------------
# command line


def _one_line_error(message: str) -> None:
    print(f"opscope export: error: {message}", file=sys.stderr)
    sys.exit(EXIT_BAD_INPUT)


def build_export_parser(subparsers=None) -> argparse.ArgumentParser:
    """The ``export`` parser, added to ``main.py``'s sub-commands (or standalone without one)."""
    kw = {"description": "Render a lesson or a saved session offscreen to a PNG, GIF or MP4 "
                         "(one step a frame, caption burned in). Needs no display."}
    p = (subparsers.add_parser("export", help="export a lesson or session as PNG, GIF or MP4", **kw)
         if subparsers is not None else argparse.ArgumentParser(prog="opscope export", **kw))
    src = p.add_mutually_exclusive_group(required=True)
    src.add_argument("--lesson", metavar="NAME", help="a ready-made lesson (an unknown name lists them)")
    src.add_argument("--session", metavar="FILE.opscope", help="a session saved by the app")
    p.add_argument("--out", required=True, metavar="FILE.png|FILE.gif|FILE.mp4",
                   help="the file to write; its extension picks the format")
    p.add_argument("--fps", type=float, default=None, metavar="N",
                   help="frames (steps) per second (default: the lesson's speed, else 2)")
    p.add_argument("--size", default=f"{DEFAULT_SIZE[0]}x{DEFAULT_SIZE[1]}", metavar="WxH",
                   help=f"frame size in pixels (default {DEFAULT_SIZE[0]}x{DEFAULT_SIZE[1]}; "
                        "MP4 rounds odd sides up to even)")
    p.add_argument("--steps", default=None, metavar="A:B",
                   help="0-based steps like --step, half-open like a Python slice (0:10 is the first ten; "
                        "A:, :B, negative from the end; A alone is one step); default: all, or for a PNG "
                        "the session's step / the lesson's last step")
    p.add_argument("--no-caption", dest="caption", action="store_false", help="do not burn in the caption band")
    p.add_argument("--quiet", action="store_true", help="print nothing on success")
    # bad arguments: one line on stderr, like every other failure of this command
    p.error = _one_line_error
    if subparsers is not None:
        p.set_defaults(func=run_export)
    return p


def _ensure_app() -> QApplication:
    app = QApplication.instance()
    if app is None:
        if sys.platform.startswith("linux") and not (os.environ.get("DISPLAY") or os.environ.get("WAYLAND_DISPLAY")):
            os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
        app = QApplication(sys.argv[:1] or ["opscope"])
    if not isinstance(app, QApplication):
        raise ExportError("a QCoreApplication without widgets is running; export needs a QApplication")
    return app


def _timeline_from_args(args):
    """``(timeline, default 0-based step for a PNG, default fps)`` from ``--lesson`` or ``--session``."""
    import compute

    if args.lesson is not None:
        from .lessons import get_lesson

        try:
            lesson = get_lesson(args.lesson)
        except KeyError as exc:
            raise ExportError(exc.args[0] if exc.args else f"unknown lesson {args.lesson!r}") from None
        tl = compute.stream_op(lesson.op, dict(lesson.inputs), lesson.granularity, **dict(lesson.params))
        return tl, len(tl) - 1, float(getattr(lesson, "speed", 2.0) or 2.0)
    from compute.io import load_session

    s = load_session(args.session)
    granularity = None if s.granularity in (None, "auto") else s.granularity
    options = dict(s.options)
    tl = compute.stream_op(s.op, dict(s.inputs), granularity, tile=options.get("tile"),
                           kblock=options.get("kblock"), **dict(s.params))
    speed = s.view.get("speed") if isinstance(s.view, dict) else None
    fps = float(speed) if isinstance(speed, (int, float)) and not isinstance(speed, bool) and speed > 0 else 2.0
    return tl, min(max(0, int(s.step)), len(tl) - 1), fps


def run_export(args) -> int:
    """Execute a parsed ``export`` command; returns the process exit status (0, or 2 with one line on stderr)."""
    t0 = time.perf_counter()
    try:
        fmt = export_format(args.out)
        size = parse_size(args.size)
        if args.fps is not None:
            _check_fps(args.fps)
        tl, default_step, default_fps = _timeline_from_args(args)
        if len(tl) == 0:
            raise ExportError("the run has no steps to export")
        if args.steps is not None:
            steps = parse_steps(args.steps, len(tl))
        else:
            steps = range(default_step, default_step + 1) if fmt == "png" else range(len(tl))
        fps = _check_fps(args.fps if args.fps is not None else min(MAX_FPS, max(MIN_FPS, default_fps)))
        _app = _ensure_app()  # noqa: F841 - kept alive while rendering
        frame_size = codec_size(size, fmt)
        if fmt == "png":
            export_png(tl, args.out, frame_size, step=steps[0], caption=args.caption)
            frames = 1
        else:
            export_animation(tl, None, args.out, fps=fps, size=frame_size, steps=steps, caption=args.caption)
            frames = len(steps)
    except (OpScopeError, OSError) as exc:
        text = " ".join(str(exc).split("\n")[0].split())
        print(f"opscope export: error: {text}", file=sys.stderr)
        return EXIT_BAD_INPUT
    if not args.quiet:
        extra = f" at {fps:g} fps" if fmt != "png" else f" (step {steps[0]} of 0..{len(tl) - 1})"
        print(f"{tl.op}: wrote {args.out}: {frames} frame{'s' if frames != 1 else ''} of "
              f"{frame_size[0]}×{frame_size[1]}{extra} in {time.perf_counter() - t0:.1f} s")
    return 0


def main(argv=None) -> int:
    """Entry point for ``python -m gui.export`` (the same as ``python main.py export``)."""
    return run_export(build_export_parser().parse_args(argv))


if __name__ == "__main__":
    sys.exit(main())
