"""The window's export: :class:`ExportRunner` pumps frames on the GUI thread, :func:`start_export` adds the
dialog, a progress bar with Cancel and the messages at the end.
"""

from __future__ import annotations

import dataclasses
import os
import time
from collections.abc import Callable

from PySide6.QtCore import QCoreApplication, QObject, Qt, QTimer, Signal
from PySide6.QtWidgets import QDialog, QMessageBox, QProgressDialog, QWidget

from .dialog import ExportDialog
from .encoder import END, Encoder
from .errors import ExportError, describe_error
from .file_writer import FileWriter
from .frames import FrameRenderer, card_text
from .options import STILL_FORMATS, ExportOptions, check_fps, check_steps, codec_size, frame_plan

__all__ = ["ExportRunner", "start_export"]


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
        self._encoder: Encoder | None = None
        self._steps: list[int] = []
        self._plan: list[tuple[str | int, float]] = []  # (step or "title", seconds shown)
        self._fmt = ""
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
        """Entries of the frame plan: the title card (if any) and the steps; 1 for a still."""
        if self._plan:
            return len(self._plan)
        opts = self.options
        try:
            if opts.fmt in STILL_FORMATS:
                return 1
            return len(frame_plan(opts.steps, opts.fps, opts.title_seconds, opts.hold_seconds))
        except ExportError:
            return len(opts.steps)

    def start(self) -> None:
        """Check the options and begin; problems arrive as :attr:`failed` (on the next turn)."""
        if self._state != "idle":
            raise RuntimeError("an ExportRunner runs once")
        self._state = "running"
        try:
            opts = self.options
            fmt = self._fmt = opts.fmt
            still = fmt in STILL_FORMATS
            self._steps = check_steps(opts.steps[:1] if still else opts.steps, len(self._tl))
            fps = check_fps(opts.fps) if not still else 1.0
            self._plan = ([(self._steps[0], 1.0)] if still else
                          frame_plan(self._steps, fps, opts.title_seconds, opts.hold_seconds))
            self._card = card_text(self._tl, self._op, opts.title, opts.description)
            size = codec_size(opts.size, fmt)
            if fmt in ("svg", "pdf"):
                FileWriter(opts.path, "png", size, 1.0).abort()  # the same early checks of folder and name
            self._renderer = FrameRenderer(self._tl, self._op, size, opts.caption, self._steps, self._factory)
            if fmt in ("svg", "pdf"):
                self._reported = 0
                self.progress_changed.emit(0, self.total)
                self._timer.timeout.disconnect(self._tick)
                self._timer.timeout.connect(self._tick_vector)
                self._timer.start(0)
                return
            self._encoder = Encoder(FileWriter(opts.path, fmt, size, fps))
            self._encoder_ref[0] = self._encoder
            self._encoder.start()
        except Exception as exc:  # noqa: BLE001 - reported as failed(), never raised into the event loop
            self._fail(exc if isinstance(exc, ExportError) else ExportError(describe_error(exc)))
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
            if self._next < len(self._plan):
                if enc.queue.full():
                    self._timer.start(5)  # the encoder is behind: let it catch up without blocking
                    return
                what, seconds = self._plan[self._next]
                t0 = time.perf_counter()
                try:
                    frame = self._renderer.render_title(*self._card) if what == "title" else self._renderer.render(what)
                except Exception as exc:  # noqa: BLE001 - a canvas bug must not leave a thread or temp file
                    part = "the title card" if what == "title" else f"step {what + 1}"
                    self._fail(ExportError(f"{enc.writer.name}: rendering {part} failed ({describe_error(exc)})"))
                    return
                self.render_s += time.perf_counter() - t0
                # cannot be full: only this thread puts; a still is one plain frame
                enc.offer(frame if self._fmt == "png" else (frame, seconds))
                self._next += 1
                self._timer.start(0)
                return
            if not enc.offer(END):
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

    def _tick_vector(self) -> None:
        """SVG / PDF: the one page, painted and written in this turn (a vector page has no encoder)."""
        if not self.is_running():
            return
        from opscope.compute.io import atomic_write_bytes

        from .vector import render_vector

        path = self.options.path
        name = os.path.basename(path) or path
        t0 = time.perf_counter()
        try:
            data = render_vector(self._renderer, self._steps[0], self._fmt)
            atomic_write_bytes(path, data)
        except Exception as exc:  # noqa: BLE001 - reported as failed(), never raised into the event loop
            self._fail(exc if isinstance(exc, ExportError) else
                       ExportError(f"{name}: cannot write it ({describe_error(exc)})"))
            return
        self.render_s += time.perf_counter() - t0
        self._close_renderer()
        self._state = "done"
        self._reported = 1
        self.progress_changed.emit(1, 1)
        self._tl = None
        self.finished_with.emit(os.fspath(path))

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
                 options: ExportOptions | None = None, path: str = "", title: str = "",
                 description: str = "") -> ExportRunner | None:
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
    title, description : str
        The title card's text (the lesson's; default: the operation's name and summary).

    Returns
    -------
    ExportRunner or None
        The running export (already started), or None when the dialog was cancelled.
    """
    if tl is None or len(tl) == 0:
        QMessageBox.information(parent, "Export", "There is no run to export yet.")
        return None
    if options is None:
        dialog = ExportDialog(tl, parent, path=path, step=step, title=title, description=description)
        if dialog.exec() != QDialog.DialogCode.Accepted:
            return None
        options = dialog.options()
    elif not options.title and title:  # the caller's options, with the window's title card text
        options = dataclasses.replace(options, title=title, description=description)
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
