"""What an export is made of, as plain data: format, frame size, steps and speed, title card and final
hold, and their checks.

Animations open with a title card (the lesson's title and description, :data:`TITLE_SECONDS`) and
hold their last step for :data:`HOLD_SECONDS` more, so a looping GIF does not restart the moment the
answer appears; :func:`frame_plan` turns both into what is written. Stills are PNG (pixels) or SVG
and PDF (vector: text stays text, cells are rectangles; see :mod:`.vector`).

Frame sizes: MP4 (libx264, yuv420p) needs even sides, so :func:`codec_size` rounds each side to
the nearest even number; imageio's ``macro_block_size`` is set to 2 so that it never rescales a
frame. (H.264 codes 16×16 macroblocks but stores the crop in the stream, so 1920×1080 plays
everywhere; imageio's default of 16 would have stretched it to 1920×1088.) GIF and PNG keep the
exact size.
"""

from __future__ import annotations

import math
import os
from collections.abc import Sequence
from dataclasses import dataclass

from .errors import ExportError

__all__ = [
    "DEFAULT_FPS",
    "DEFAULT_SIZE",
    "FORMATS",
    "HOLD_SECONDS",
    "MAX_CARD_SECONDS",
    "STILL_FORMATS",
    "TITLE_SECONDS",
    "MAX_FPS",
    "MAX_SIDE",
    "MIN_FPS",
    "MIN_SIDE",
    "MP4_BLOCK",
    "ExportOptions",
    "check_fps",
    "check_seconds",
    "frame_plan",
    "frame_repeats",
    "check_size",
    "check_steps",
    "codec_size",
    "export_format",
]

#: File extension -> format name; the format is always taken from the file name.
FORMATS = {".png": "png", ".gif": "gif", ".mp4": "mp4", ".svg": "svg", ".pdf": "pdf"}
#: Formats holding one step (the others are animations).
STILL_FORMATS = ("png", "svg", "pdf")
#: How long an animation's title card is shown (seconds; 0: no card).
TITLE_SECONDS = 1.5
#: How long an animation's last step is held beyond its own frame (seconds; 0: no hold).
HOLD_SECONDS = 2.0
#: Longest title card or hold accepted (seconds).
MAX_CARD_SECONDS = 60.0
DEFAULT_SIZE = (1280, 720)
DEFAULT_FPS = 5.0
MIN_SIDE = 64
MAX_SIDE = 7680
MAX_FPS = 60.0
MIN_FPS = 0.1
#: MP4 frame sides are multiples of this: yuv420p stores colour at half resolution, so libx264 needs
#: even sides. Not 16: H.264 crops padded macroblocks itself, and 1080 is not a multiple of 16.
MP4_BLOCK = 2


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


def check_seconds(seconds: float, what: str) -> float:
    """``seconds`` (of the title card or the final hold, named by ``what``) between 0 and
    :data:`MAX_CARD_SECONDS`."""
    try:
        v = float(seconds)
    except (TypeError, ValueError):
        raise ExportError(f"{what} {seconds!r} is not a number of seconds") from None
    if not (math.isfinite(v) and 0.0 <= v <= MAX_CARD_SECONDS):
        raise ExportError(f"{what} {seconds!r}: give seconds between 0 and {MAX_CARD_SECONDS:g}")
    return v


def frame_plan(steps: Sequence[int], fps: float, title_seconds: float = TITLE_SECONDS,
               hold_seconds: float = HOLD_SECONDS) -> list[tuple[str | int, float]]:
    """What an animation shows, in order: ``("title", seconds)`` for the title card (when
    ``title_seconds > 0``), then ``(step, seconds)`` for every step, the last one lasting
    ``1 / fps + hold_seconds``.

    A GIF stores each entry as one frame of that duration; an MP4 repeats the frame
    ``round(seconds × fps)`` times (at least once): see :func:`frame_repeats`.
    """
    fps = check_fps(fps)
    title_seconds = check_seconds(title_seconds, "title card")
    hold_seconds = check_seconds(hold_seconds, "final hold")
    plan: list[tuple[str | int, float]] = [("title", title_seconds)] if title_seconds > 0 else []
    plan += [(int(n), 1.0 / fps) for n in steps]
    if steps and hold_seconds > 0:
        plan[-1] = (plan[-1][0], plan[-1][1] + hold_seconds)
    return plan


def frame_repeats(seconds: float, fps: float) -> int:
    """How many frames at ``fps`` show something for ``seconds`` (at least one)."""
    return max(1, int(math.floor(seconds * fps + 0.5)))


def check_steps(steps: Sequence[int], total: int) -> list[int]:
    """``steps`` as a non-empty list of 0-based indices into a run of ``total`` steps."""
    out = [int(n) for n in steps]
    if not out:
        raise ExportError("no steps to export: the step range is empty")
    bad = [n for n in out if not 0 <= n < total]
    if bad:
        raise ExportError(f"step index {bad[0]} is out of range: the run has {total} steps (0..{total - 1})")
    return out


def check_fps(fps: float) -> float:
    """``fps`` as a float between :data:`MIN_FPS` and :data:`MAX_FPS`."""
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
    title_seconds : the title card's time (animations; 0: none).
    hold_seconds : the last step's extra time (animations; 0: none).
    title, description : the title card's text (default: the operation's name and summary).
    """

    path: str
    steps: tuple[int, ...]
    fps: float = DEFAULT_FPS
    size: tuple[int, int] = DEFAULT_SIZE
    caption: bool = True
    title_seconds: float = TITLE_SECONDS
    hold_seconds: float = HOLD_SECONDS
    title: str = ""
    description: str = ""

    @property
    def fmt(self) -> str:
        return export_format(self.path)

    @property
    def frame_size(self) -> tuple[int, int]:
        return codec_size(self.size, self.fmt)
