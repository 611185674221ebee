"""The dark band burned in below each frame: the step's caption and a "step n / N · stage" read-out.

Its geometry (:class:`CaptionBand`) is fitted once per export to the longest caption, so the canvas
above it never jumps from frame to frame.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

from PySide6.QtCore import QPointF, Qt
from PySide6.QtGui import QColor, QFont, QFontMetricsF, QPainter, QTextLayout, QTextOption
from PySide6.QtWidgets import QApplication

__all__ = ["BAND_COLOR", "CAPTION_COLOR", "READOUT_COLOR", "STAGE_COLOR", "CaptionBand", "fit_band", "paint_band"]

BAND_COLOR = QColor(24, 26, 32)
CAPTION_COLOR = QColor(248, 248, 248)
READOUT_COLOR = QColor(160, 170, 184)
STAGE_COLOR = QColor(255, 150, 60)


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
class CaptionBand:
    """The caption band's geometry, fixed for a whole export so the canvas never jumps."""

    height: int
    pad: int
    caption_font: QFont
    readout_font: QFont
    max_lines: int


def fit_band(captions: Sequence[str], width: int, height: int) -> CaptionBand:
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
    return CaptionBand(band, pad, font, readout, max_lines)


def paint_band(p: QPainter, band: CaptionBand, tl, n: int, size: tuple[int, int], top: int) -> None:
    """Paint step ``n`` of ``tl``'s band with ``p`` on a ``size`` frame, from row ``top`` to the bottom."""
    b = band
    w, h = size
    y0 = top
    p.fillRect(0, y0, w, h - y0, BAND_COLOR)
    p.setRenderHint(QPainter.RenderHint.TextAntialiasing, True)
    step = tl[n]
    x = b.pad
    y = y0 + b.pad
    fm = QFontMetricsF(b.readout_font)
    p.setFont(b.readout_font)
    p.setPen(READOUT_COLOR)
    head = f"step {n + 1} / {len(tl)}"
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
