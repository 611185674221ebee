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
from .frames import FrameRenderer
from .options import DEFAULT_FPS, DEFAULT_SIZE, check_fps, check_size, check_steps, codec_size, export_format

__all__ = ["export_animation", "export_png"]


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
    picked = check_steps(range(len(tl)) if steps is None else steps, len(tl))
    fps = check_fps(fps)
    frame_size = codec_size(size, fmt)
    if fmt == "png":
        return export_png(tl, path, frame_size, op=op, step=picked[0], caption=caption, canvas_factory=canvas_factory)
    t_start = time.perf_counter()
    render_s = 0.0
    encoder = Encoder(FileWriter(path, fmt, frame_size, fps))
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
            encoder.put(END)
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
