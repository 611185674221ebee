"""Exports in one blocking call, for scripts, the command line and tests: :func:`export_png`, :func:`export_animation`.

Frames are rendered on the calling (GUI) thread and encoded in an :class:`~.encoder.Encoder` thread.
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable, Sequence

from PySide6.QtWidgets import QWidget

from .encoder import END, Encoder
from .errors import ExportError, describe_error
from .file_writer import FileWriter
from .frames import FrameRenderer, card_text
from .options import (
    DEFAULT_FPS,
    DEFAULT_SIZE,
    HOLD_SECONDS,
    TITLE_SECONDS,
    check_fps,
    check_size,
    check_steps,
    codec_size,
    export_format,
    frame_plan,
)

__all__ = ["export_animation", "export_png"]


def still_source(canvas_or_tl, op, step):
    """``(timeline, op, step)`` of a still export of ``canvas_or_tl``: a timeline as given, or a
    live canvas's run, operation and step on screen (where the caller named none).

    Raises
    ------
    ExportError
        a canvas that shows no run yet.
    """
    if not isinstance(canvas_or_tl, QWidget):
        return canvas_or_tl, op, step
    tl = getattr(canvas_or_tl, "timeline", None)
    if tl is None:
        raise ExportError("the canvas shows no run yet: nothing to export")
    op = op or getattr(canvas_or_tl, "op_name", None)
    if step is None and getattr(canvas_or_tl, "current_index", -1) >= 0:
        step = canvas_or_tl.current_index
    return tl, op, step


def export_png(canvas_or_tl, path: str | os.PathLike, size: Sequence[int] = DEFAULT_SIZE, *, op: str | None = None,
               step: int | None = None, caption: bool = True, canvas_factory: Callable | None = None) -> str:
    """Write one step as a PNG of exactly ``size`` pixels (or an SVG / PDF of that size), atomically.

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
    tl, op, step = still_source(canvas_or_tl, op, step)
    fmt = export_format(path)
    if fmt in ("svg", "pdf"):  # the same still, as vector graphics
        from .vector import export_vector

        return export_vector(canvas_or_tl, path, size, op=op, step=step, caption=caption,
                             canvas_factory=canvas_factory)
    if fmt != "png":
        raise ExportError(f"{os.path.basename(os.fspath(path))}: export_png writes .png, .svg or .pdf files")
    n = len(tl) - 1 if step is None else int(step)
    check_steps([n], len(tl))
    size = check_size(size)
    writer = FileWriter(path, "png", size, 1.0)
    try:
        with FrameRenderer(tl, op, size, caption, [n], canvas_factory) as r:
            frame = r.render(n)
        writer.append(frame)
        writer.commit()
    except BaseException as exc:
        writer.abort()
        if isinstance(exc, (ExportError, KeyboardInterrupt)) or not isinstance(exc, Exception):
            raise
        raise ExportError(f"{writer.name}: cannot write it ({describe_error(exc)})") from exc
    return os.fspath(path)


def export_animation(tl, op: str | None, path: str | os.PathLike, fps: float = DEFAULT_FPS,
                     size: Sequence[int] = DEFAULT_SIZE, steps: Sequence[int] | None = None, caption: bool = True,
                     progress: Callable[[int, int], object] | None = None, cancel: Callable[[], bool] | None = None,
                     canvas_factory: Callable | None = None, stats: dict | None = None,
                     title: str | None = None, description: str | None = None,
                     title_seconds: float = TITLE_SECONDS, hold_seconds: float = HOLD_SECONDS) -> str | None:
    """Write the steps of a run as a GIF or MP4 (one step a frame), atomically, opening with a title
    card and holding the last step.

    Frames are rendered on the calling thread (the GUI thread) and encoded in a worker thread.

    Parameters
    ----------
    tl : compute.Timeline
        The run.
    op : str or None
        Operation whose canvas draws it (None: ``tl.op``).
    path : str or os.PathLike
        ``.gif`` (loops forever; Pillow merges identical consecutive frames, keeping the timing) or
        ``.mp4`` (H.264, yuv420p); ``.png``, ``.svg`` and ``.pdf`` write the first step.
    fps : float
        Frames (steps) per second.
    size : (int, int)
        (width, height); MP4 rounds odd sides up to even (:func:`codec_size`).
    steps : sequence of int, optional
        0-based step indices, in order; repeats allowed (default: every step).
    caption : bool
        Burn in the caption and the step read-out.
    progress : callable, optional
        ``progress(i, n)`` after each of the ``n`` entries of the frame plan (title card, steps)
        is handed to the encoder.
    cancel : callable, optional
        Polled between frames; returning True stops the export.
    stats : dict, optional
        Filled with ``render_s``, ``encode_s`` (encoder thread busy time), ``wall_s``, ``frames`` (in the
        file; an MP4 repeats held frames) and ``entries`` (of the frame plan).
    title, description : str, optional
        The title card's text (default: the operation's name and summary).
    title_seconds : float
        How long the title card shows (0: no card).
    hold_seconds : float
        How long the last step shows beyond its frame (0: no hold), so that a looping GIF does
        not restart the moment the result appears.

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
    picked = check_steps(range(len(tl)) if steps is None else steps, len(tl))
    fps = check_fps(fps)
    frame_size = codec_size(size, fmt)
    if fmt in ("png", "svg", "pdf"):
        return export_png(tl, path, frame_size, op=op, step=picked[0], caption=caption, canvas_factory=canvas_factory)
    plan = frame_plan(picked, fps, title_seconds, hold_seconds)
    card = card_text(tl, op, title, description)
    t_start = time.perf_counter()
    render_s = 0.0
    encoder = Encoder(FileWriter(path, fmt, frame_size, fps))
    encoder.start()
    cancelled = False
    try:
        with FrameRenderer(tl, op, frame_size, caption, picked, canvas_factory) as r:
            for i, (what, seconds) in enumerate(plan):
                if cancel is not None and cancel():
                    cancelled = True
                    break
                t0 = time.perf_counter()
                frame = r.render_title(*card) if what == "title" else r.render(what)
                render_s += time.perf_counter() - t0
                if not encoder.put((frame, seconds), cancel):
                    cancelled = encoder.error is None
                    break
                if progress is not None:
                    progress(i + 1, len(plan))
        if not cancelled and encoder.error is None:
            encoder.put(END)
            encoder.thread.join()
    finally:
        if not encoder.committed:
            encoder.stop()
    if stats is not None:
        stats.update(render_s=render_s, encode_s=encoder.busy, wall_s=time.perf_counter() - t_start,
                     frames=encoder.writer.count, entries=encoder.done)
    failure = encoder.failure()
    if failure is not None:
        raise failure from encoder.error
    return None if cancelled else os.fspath(path)
