"""The dark band burned in below each frame: the step's caption and a "step n / N · stage" read-out;
and the title card that opens an exported video (:func:`paint_title`), in the same colours.

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

__all__ = ["BAND_COLOR", "CAPTION_COLOR", "READOUT_COLOR", "STAGE_COLOR", "CaptionBand", "fit_band", "paint_band",
           "paint_title"]

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


TITLE_COLOR = QColor(255, 255, 255)
DESCRIPTION_COLOR = QColor(205, 212, 222)


def paint_title(p: QPainter, size: tuple[int, int], title: str, description: str, tl=None) -> None:
    """Paint a title card on a ``size`` frame already filled with :data:`BAND_COLOR`: ``title``
    (~7 % of the height, bold, at most three lines), ``description`` below it (~3.6 %, cut with an
    ellipsis when it would leave the frame) and, small at the bottom, the run's operation and steps."""
    w, h = size
    p.setRenderHint(QPainter.RenderHint.TextAntialiasing, True)
    pad = max(8, round(w * 0.07))
    text_w = max(10, w - 2 * pad)
    tfont = QFont(QApplication.font())
    tfont.setWeight(QFont.Weight.Bold)
    tfont.setPixelSize(int(min(96, max(14, round(h * 0.07)))))
    dfont = QFont(QApplication.font())
    dfont.setPixelSize(int(min(48, max(10, round(h * 0.036)))))
    tlines = _wrap(title, tfont, text_w)
    tm, dm = QFontMetricsF(tfont), QFontMetricsF(dfont)
    if len(tlines) > 3:
        tlines = tlines[:2] + [tm.elidedText(" ".join(tlines[2:]), Qt.TextElideMode.ElideRight, text_w)]
    dlines = _wrap(description, dfont, text_w) if description else []
    room = max(0, int((h * 0.82 - len(tlines) * tm.lineSpacing() - dm.lineSpacing()) // dm.lineSpacing()))
    if len(dlines) > room:
        dlines = dlines[:max(0, room - 1)] + ([dm.elidedText(" ".join(dlines[max(0, room - 1):]),
                                                              Qt.TextElideMode.ElideRight, text_w)] if room else [])
    block = len(tlines) * tm.lineSpacing() + (dm.lineSpacing() * (len(dlines) + 0.6) if dlines else 0)
    y = max(pad * 0.5, (h - block) / 2)
    p.setFont(tfont)
    p.setPen(TITLE_COLOR)
    for line in tlines:
        p.drawText(QPointF(pad, y + tm.ascent()), line)
        y += tm.lineSpacing()
    if dlines:
        y += dm.lineSpacing() * 0.6
        p.setPen(STAGE_COLOR)
        rule_y = y - dm.lineSpacing() * 0.3
        p.drawLine(QPointF(pad, rule_y), QPointF(pad + min(text_w, w * 0.18), rule_y))
        p.setFont(dfont)
        p.setPen(DESCRIPTION_COLOR)
        for line in dlines:
            p.drawText(QPointF(pad, y + dm.ascent()), line)
            y += dm.lineSpacing()
    if tl is not None:
        small = QFont(QApplication.font())
        small.setPixelSize(int(max(10, round(h * 0.024))))
        p.setFont(small)
        p.setPen(READOUT_COLOR)
        sm = QFontMetricsF(small)
        p.drawText(QPointF(pad, h - pad * 0.5 - sm.descent()), f"OpScope · {tl.op} · {len(tl)} steps")
