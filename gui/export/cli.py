"""The ``export`` sub-command of ``main.py`` (also ``python -m gui.export``): arguments, run, one-line errors."""

from __future__ import annotations

import argparse
import os
import sys
import time

from opscope.compute.errors import OpScopeError
from PySide6.QtWidgets import QApplication

from .blocking import export_animation, export_png
from .errors import ExportError
from .options import (
    DEFAULT_SIZE,
    HOLD_SECONDS,
    MAX_FPS,
    MIN_FPS,
    STILL_FORMATS,
    TITLE_SECONDS,
    check_fps,
    check_seconds,
    check_size,
    codec_size,
    export_format,
)

__all__ = ["EXIT_BAD_INPUT", "build_export_parser", "main", "parse_size", "parse_steps", "run_export"]

EXIT_BAD_INPUT = 2


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


def _one_line_error(message: str) -> None:
    print(f"opscope export: error: {message}", file=sys.stderr)
    sys.exit(EXIT_BAD_INPUT)


def build_export_parser(subparsers=None) -> argparse.ArgumentParser:
    """The ``export`` parser, added to ``main.py``'s sub-commands (or standalone without one)."""
    kw = {"description": "Render a lesson or a saved session offscreen to a GIF or MP4 (a title card, one step "
                         "a frame with the caption burned in, the last step held), or one step as PNG, SVG or "
                         "PDF (SVG and PDF are vector: text stays text). Needs no display."}
    p = (subparsers.add_parser("export", help="export a lesson or session as GIF, MP4, PNG, SVG or PDF", **kw)
         if subparsers is not None else argparse.ArgumentParser(prog="opscope export", **kw))
    src = p.add_mutually_exclusive_group(required=True)
    src.add_argument("--lesson", metavar="NAME", help="a ready-made lesson (an unknown name lists them)")
    src.add_argument("--session", metavar="FILE.opscope", help="a session saved by the app")
    p.add_argument("--out", required=True, metavar="FILE.gif|FILE.mp4|FILE.png|FILE.svg|FILE.pdf",
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
    p.add_argument("--title-seconds", type=float, default=TITLE_SECONDS, metavar="S",
                   help=f"GIF/MP4: show a title card (the lesson's title and description) for S seconds "
                        f"first (default {TITLE_SECONDS:g}; 0: none)")
    p.add_argument("--hold-seconds", type=float, default=HOLD_SECONDS, metavar="S",
                   help=f"GIF/MP4: hold the last step S seconds more, so a GIF does not loop the moment the "
                        f"result appears (default {HOLD_SECONDS:g}; 0: none)")
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
    """``(timeline, default 0-based step for a still, default fps, title, description)`` from
    ``--lesson`` or ``--session`` (a session's card: its operation's name and summary)."""
    from opscope import compute

    if args.lesson is not None:
        from ..lessons import get_lesson

        try:
            lesson = get_lesson(args.lesson)
        except KeyError as exc:
            raise ExportError(exc.args[0] if exc.args else f"unknown lesson {args.lesson!r}") from None
        tl = compute.stream_op(lesson.op, dict(lesson.inputs), lesson.granularity, **dict(lesson.params))
        return tl, len(tl) - 1, float(getattr(lesson, "speed", 2.0) or 2.0), lesson.title, lesson.description
    from opscope.compute.io import load_session

    s = load_session(args.session)
    granularity = None if s.granularity in (None, "auto") else s.granularity
    options = dict(s.options)
    tl = compute.stream_op(s.op, dict(s.inputs), granularity, tile=options.get("tile"),
                           kblock=options.get("kblock"), **dict(s.params))
    speed = s.view.get("speed") if isinstance(s.view, dict) else None
    fps = float(speed) if isinstance(speed, (int, float)) and not isinstance(speed, bool) and speed > 0 else 2.0
    return tl, min(max(0, int(s.step)), len(tl) - 1), fps, None, None


def run_export(args) -> int:
    """Execute a parsed ``export`` command; returns the process exit status (0, or 2 with one line on stderr)."""
    t0 = time.perf_counter()
    try:
        fmt = export_format(args.out)
        size = parse_size(args.size)
        if args.fps is not None:
            check_fps(args.fps)
        title_s = check_seconds(args.title_seconds, "--title-seconds")
        hold_s = check_seconds(args.hold_seconds, "--hold-seconds")
        tl, default_step, default_fps, title, description = _timeline_from_args(args)
        if len(tl) == 0:
            raise ExportError("the run has no steps to export")
        if args.steps is not None:
            steps = parse_steps(args.steps, len(tl))
        else:
            steps = range(default_step, default_step + 1) if fmt in STILL_FORMATS else range(len(tl))
        fps = check_fps(args.fps if args.fps is not None else min(MAX_FPS, max(MIN_FPS, default_fps)))
        _app = _ensure_app()  # noqa: F841 - kept alive while rendering
        frame_size = codec_size(size, fmt)
        if fmt in STILL_FORMATS:
            export_png(tl, args.out, frame_size, step=steps[0], caption=args.caption)  # .svg/.pdf: vector
            frames = 1
        else:
            stats: dict = {}
            export_animation(tl, None, args.out, fps=fps, size=frame_size, steps=steps, caption=args.caption,
                             title=title, description=description, title_seconds=title_s, hold_seconds=hold_s,
                             stats=stats)
            frames = stats.get("frames", len(steps))
    except (OpScopeError, OSError) as exc:
        text = " ".join(str(exc).split("\n")[0].split())
        print(f"opscope export: error: {text}", file=sys.stderr)
        return EXIT_BAD_INPUT
    if not args.quiet:
        if fmt in STILL_FORMATS:
            extra = f" (step {steps[0]} of 0..{len(tl) - 1})"
        else:
            card = f"{title_s:g} s title card, " if title_s > 0 else ""
            extra = f" at {fps:g} fps ({card}{len(steps)} steps, last held {hold_s:g} s more)"
        print(f"{tl.op}: wrote {args.out}: {frames} frame{'s' if frames != 1 else ''} of "
              f"{frame_size[0]}×{frame_size[1]}{extra} in {time.perf_counter() - t0:.1f} s")
    return 0


def main(argv=None) -> int:
    """Entry point for ``python -m gui.export`` (the same as ``python main.py export``)."""
    return run_export(build_export_parser().parse_args(argv))
