"""Small display widgets of the main window: lesson header, caption bar and status bar fields.

Colours follow the application's palette (:class:`QPalette` Window, WindowText, Base, Text, Mid),
never fixed hex values, so a dark desktop theme keeps the title, the description and the big caption
readable; they are recomputed when the palette changes. The presentation mode's theme is
:class:`ProjectorFonts` (pixel sizes that scale with the window height) and
:func:`projector_palette` (black on white, the most contrast a projector shows, whatever the
desktop theme).
"""

from __future__ import annotations

import re
from dataclasses import dataclass

import numpy as np
from PySide6.QtCore import QEvent, QRect, Qt
from PySide6.QtGui import QColor, QFont, QFontDatabase, QFontInfo, QFontMetrics, QPalette
from PySide6.QtWidgets import (
    QApplication,
    QFrame,
    QHBoxLayout,
    QLabel,
    QSizePolicy,
    QStatusBar,
    QTabBar,
    QToolButton,
    QVBoxLayout,
)

#: Caption size in points: readable from the back of a lecture room on a projector.
CAPTION_POINTS = 24
#: The desktop caption box holds this many lines of its type; longer captions get smaller type.
DESKTOP_CAPTION_LINES = 3
#: ...down to this size (px); what still does not fit is clipped, and selectable.
DESKTOP_CAPTION_MIN_PX = 15
#: The error line under the caption and in the status bar: red on a light background, a light red
#: on a dark one (the dark red is unreadable there).
ERROR_STYLE = "color: #c62828;"
ERROR_STYLE_DARK = "color: #ff8a80;"
#: The verified badge: green when the run matches the reference, a red-on-rose warning when it does
#: not (it must be seen from across a room), grey while checking or when it could not check.
BADGE_OK_STYLE = "color: #1b5e20; font-weight: bold;"
BADGE_WARN_STYLE = ("color: #b71c1c; background: #fdecea; border: 1px solid #e57373; border-radius: 3px; "
                    "font-weight: bold; padding: 0px 6px;")
BADGE_PENDING_STYLE = "color: #777;"
#: The same badges for a dark palette.
BADGE_OK_STYLE_DARK = "color: #81c784; font-weight: bold;"
BADGE_WARN_STYLE_DARK = ("color: #ffcdd2; background: #5d1a1a; border: 1px solid #e57373; border-radius: 3px; "
                         "font-weight: bold; padding: 0px 6px;")
BADGE_PENDING_STYLE_DARK = "color: #aaa;"
NOTICE_STYLE = "color: #b26a00;"
NOTICE_STYLE_DARK = "color: #ffb74d;"

#: A light caption background is tinted towards this warm paper colour (as much as ``_PAPER_MIX``).
_PAPER = QColor("#fff3d6")
_PAPER_MIX = 0.3


# ----------------------------------------------------------------------------------------------
# colours
def relative_luminance(color: QColor) -> float:
    """WCAG 2 relative luminance of ``color`` (0 black … 1 white)."""

    def lin(c: float) -> float:
        return c / 12.92 if c <= 0.04045 else ((c + 0.055) / 1.055) ** 2.4

    return 0.2126 * lin(color.redF()) + 0.7152 * lin(color.greenF()) + 0.0722 * lin(color.blueF())


def contrast_ratio(a: QColor, b: QColor) -> float:
    """WCAG 2 contrast ratio of two colours: 1 (none) … 21 (black on white); ≥ 4.5 is readable text."""
    la, lb = sorted((relative_luminance(a), relative_luminance(b)), reverse=True)
    return (la + 0.05) / (lb + 0.05)


def mix(a: QColor, b: QColor, t: float) -> QColor:
    """``a`` moved a fraction ``t`` of the way to ``b`` (per RGB channel)."""
    return QColor.fromRgbF(*(x + (y - x) * t for x, y in zip(a.getRgbF()[:3], b.getRgbF()[:3], strict=True)))


def is_dark(palette: QPalette | None = None) -> bool:
    """Whether ``palette`` (default: the application's) draws light text on a dark window."""
    pal = palette if palette is not None else QApplication.palette()
    return relative_luminance(pal.color(QPalette.Window)) < relative_luminance(pal.color(QPalette.WindowText))


def strongest(background: QColor) -> QColor:
    """Black or white, whichever contrasts more with ``background`` (the projector's text colour)."""
    black, white = QColor("#000000"), QColor("#ffffff")
    return black if contrast_ratio(black, background) >= contrast_ratio(white, background) else white


#: The projector's colours: black on white whatever the desktop theme (a projected picture loses
#: contrast in a lit room; the canvas is drawn on white too).
_PROJECTOR_COLORS = ((QPalette.Window, "#ffffff"), (QPalette.WindowText, "#000000"), (QPalette.Base, "#ffffff"),
                     (QPalette.AlternateBase, "#f2f2f2"), (QPalette.Text, "#000000"), (QPalette.Button, "#f0f0f0"),
                     (QPalette.ButtonText, "#000000"), (QPalette.Mid, "#9e9e9e"), (QPalette.Dark, "#757575"),
                     (QPalette.Light, "#ffffff"), (QPalette.Midlight, "#e0e0e0"), (QPalette.Shadow, "#000000"),
                     (QPalette.Highlight, "#1565c0"), (QPalette.HighlightedText, "#ffffff"),
                     (QPalette.PlaceholderText, "#555555"), (QPalette.BrightText, "#ffffff"))


def projector_palette() -> QPalette:
    """The presentation mode's palette: black text on white, for every colour group."""
    pal = QPalette()
    for role, color in _PROJECTOR_COLORS:
        pal.setColor(role, QColor(color))
    return pal


def _hex(c: QColor) -> str:
    return c.name(QColor.HexRgb)


def _fitted(font: QFont, text: str, width: int, height: int, min_px: int) -> QFont:
    """``font`` made smaller (to ``min_px`` at least) until ``text`` wrapped at ``width`` fits ``height``."""
    f = QFont(font)
    px = f.pixelSize()
    if px <= 0 or width <= 0 or not text:
        return f

    def fits(size: int) -> bool:
        f.setPixelSize(size)
        return QFontMetrics(f).boundingRect(QRect(0, 0, width, 1 << 20), Qt.TextWordWrap, text).height() <= height

    if not fits(px):
        # The largest size that fits, by bisection: a caption changes at every step, and trying
        # each size down from the top measured a long caption up to 17 times on the GUI thread.
        lo, hi = min_px, px - 1  # fits(lo) is assumed: min_px is the floor whatever happens
        while lo < hi:
            mid = (lo + hi + 1) // 2
            if fits(mid):
                lo = mid
            else:
                hi = mid - 1
        px = max(min_px, lo)
    f.setPixelSize(px)
    return f


def _cut_to(font: QFont, text: str, width: int, height: int) -> str:
    """``text``, or as many of its first words as fit ``height`` wrapped at ``width``, then "…"."""
    fm = QFontMetrics(font)

    def fits(t: str) -> bool:
        return fm.boundingRect(QRect(0, 0, width, 1 << 20), Qt.TextWordWrap, t).height() <= height

    if fits(text):
        return text
    words = text.split()
    lo, hi = 0, len(words)  # the most words that fit: binary search, a few measurements
    while lo < hi:
        mid = (lo + hi + 1) // 2
        if fits(" ".join(words[:mid]) + " …"):
            lo = mid
        else:
            hi = mid - 1
    return " ".join(words[:lo]) + " …"


@dataclass(frozen=True)
class ProjectorFonts:
    """Pixel sizes of the presentation mode's text, for a window ``height`` pixels high.

    At 1024×768 the title is 31 px, the description 21 px and the caption 28 px; at 1920×1080 43, 29
    and 39 px (digits of a caption are about 0.7 of its size). The caption box holds
    :attr:`caption_lines` lines; a longer caption gets a smaller font (down to :attr:`caption_min_px`)
    instead of a taller box, so the canvas never jumps between steps.
    """

    title_px: int
    description_px: int
    caption_px: int
    caption_min_px: int
    caption_lines: int = 2

    @classmethod
    def for_height(cls, height: int) -> ProjectorFonts:
        h = max(1, int(height))
        return cls(title_px=max(28, round(h * 0.040)), description_px=max(18, round(h * 0.027)),
                   caption_px=max(26, round(h * 0.036)), caption_min_px=max(18, round(h * 0.024)))


# ----------------------------------------------------------------------------------------------
# the texts
class NameTabBar(QTabBar):
    """Tabs that show a tensor name's underscores: Fusion sizes a tab to the text's height and
    clips what lies below the baseline, so ``W_q`` read as "W q" (one name the programs spell
    with the underscore). Each tab is taller by the font's descent."""

    def tabSizeHint(self, index: int):  # noqa: N802 - Qt API
        size = super().tabSizeHint(index)
        size.setHeight(size.height() + self.fontMetrics().descent())
        return size


def shape_text(shape) -> str:
    """``(4, 3)`` → ``"4×3"``; ``(3,)`` → ``"3"``; ``()`` → ``"scalar"``."""
    shape = tuple(int(s) for s in shape)
    return "×".join(map(str, shape)) if shape else "scalar"


def count_text(n: float, unit: str) -> str:
    """``1.37e10`` → ``"13.7 G<unit>"``; small counts exactly."""
    n = float(n)
    for scale, prefix in ((1e12, "T"), (1e9, "G"), (1e6, "M"), (1e3, "k")):
        if n >= scale:
            return f"{n / scale:.3g} {prefix}{unit}"
    return f"{int(n)} {unit}"


def seconds_text(s: float) -> str:
    if s < 1e-3:
        return f"{s * 1e6:.0f} µs"
    if s < 1.0:
        return f"{s * 1e3:.1f} ms"
    return f"{s:.2f} s"


def backend_text(info) -> str:
    """The backend in a few words: ``"CuPy on NVIDIA H200"`` or ``"numpy (CPU) · GPU not used: why"``
    (an install hint in parentheses goes to the tooltip, which has the full text)."""
    if info.name == "cupy":
        return f"CuPy on {info.device}"
    reason = info.reason.split(" (pip")[0] if info.reason else ""
    return f"{info.device} · GPU not used: {reason}" if reason else info.device


def edited_title(title: str) -> str:
    """A lesson's title once its numbers were edited: the title without the numbers it quotes.

    The part before a colon names the lesson ("Dot product: [1, 2, 3] · [4, 5, 6] = 32" → "Dot
    product"); without a colon, parenthesised groups with digits are dropped ("… rotation (90°)").
    ``" (edited)"`` says where the numbers came from.
    """
    head = title.split(":", 1)[0] if ":" in title else re.sub(r"\s*\([^()]*\d[^()]*\)", "", title)
    return f"{head.strip() or title} (edited)"


class LessonHeading:
    """What the header says for an open lesson, and once its numbers no longer are the lesson's.

    Parameters
    ----------
    title, description : str
        The lesson's own header (they may quote its numbers).
    generic : str
        What to say instead once edited (the operation's description, or the program's).
    inputs, params : Mapping
        The numbers the lesson opened with (the document's arrays, which never change in place).
    """

    def __init__(self, title: str, description: str, generic: str, inputs, params):
        self.title = title
        self.description = description
        self.generic = generic
        self._inputs = dict(inputs)
        self._params = dict(params)

    def edited(self, inputs, params) -> bool:
        """Whether ``inputs`` (name → array, the ones the run uses) or ``params`` differ from the lesson's."""
        if set(inputs) != set(self._inputs) or dict(params) != self._params:
            return True
        return any(not np.array_equal(np.asarray(inputs[n]), self._inputs[n]) for n in self._inputs)

    def text(self, inputs, params) -> tuple[str, str]:
        """(title, description) for the header now."""
        if self.edited(inputs, params):
            return edited_title(self.title), self.generic
        return self.title, self.description


# ----------------------------------------------------------------------------------------------
# widgets
class _Themed(QFrame):
    """A frame whose colours come from the application palette, recomputed when it changes."""

    _restyling = False

    def changeEvent(self, event) -> None:  # noqa: N802 - Qt's name
        super().changeEvent(event)
        if event.type() in (QEvent.PaletteChange, QEvent.ApplicationPaletteChange) and not self._restyling:
            self._restyling = True
            try:
                self.restyle()
            finally:
                self._restyling = False

    def restyle(self) -> None:  # pragma: no cover - every subclass has one
        raise NotImplementedError

    def _set_sheet(self, sheet: str) -> None:
        if sheet != self.styleSheet():  # a stylesheet change sends a palette change: no loop
            self.setStyleSheet(sheet)


class HeaderBar(_Themed):
    """The lesson's (or operation's) title and what to watch for, above the canvas.

    Attributes
    ----------
    title, description : QLabel
    colors : dict
        ``{"background", "title", "description"}``: the colours in use (for contrast checks).
    """

    TITLE_POINTS = 18
    DESCRIPTION_POINTS = 13

    def __init__(self, parent=None):
        super().__init__(parent)
        self.setObjectName("header")
        self._projector: ProjectorFonts | None = None
        self._full_description = ""
        self.colors: dict[str, QColor] = {}
        self.title = QLabel()
        self.title.setObjectName("header_title")
        f = QFont(self.title.font())
        f.setPointSize(self.TITLE_POINTS)
        f.setBold(True)
        self.title.setFont(f)
        self.title.setWordWrap(True)
        self.description = QLabel()
        self.description.setObjectName("header_description")
        f = QFont(self.description.font())
        f.setPointSize(self.DESCRIPTION_POINTS)
        self.description.setFont(f)
        self.description.setWordWrap(True)
        self._texts = QVBoxLayout()
        self._texts.setContentsMargins(0, 0, 0, 0)
        self._texts.setSpacing(2)
        self._texts.addWidget(self.title)
        self._texts.addWidget(self.description)
        self._buttons = QHBoxLayout()
        self._buttons.setContentsMargins(0, 0, 0, 0)
        lay = QHBoxLayout(self)
        lay.setContentsMargins(14, 8, 14, 8)
        lay.addLayout(self._texts, 1)
        lay.addLayout(self._buttons)
        lay.setAlignment(self._buttons, Qt.AlignTop)
        self.setSizePolicy(QSizePolicy.Preferred, QSizePolicy.Maximum)
        self.restyle()

    def add_button(self, action) -> QToolButton:
        """A small button for ``action`` at the header's right (it never takes the keyboard focus)."""
        b = QToolButton()
        b.setDefaultAction(action)
        b.setFocusPolicy(Qt.NoFocus)
        b.setAutoRaise(True)
        self._buttons.addWidget(b)
        return b

    def set_text(self, title: str, description: str) -> None:
        self.title.setText(title)
        self._full_description = description
        self.description.setText(description)
        self.description.setToolTip("")
        self.description.setVisible(bool(description))
        self._fit()

    def texts(self) -> tuple[str, str]:
        """(title, description) as set: the description in full, also where the projector shortens it."""
        return self.title.text(), self._full_description

    def set_projector(self, fonts: ProjectorFonts | None) -> None:
        """Presentation mode's large, high-contrast text (``fonts``), or the desktop look (None)."""
        self._projector = fonts
        t, d = QFont(self.title.font()), QFont(self.description.font())
        if fonts is None:
            t.setPointSize(self.TITLE_POINTS)
            d.setPointSize(self.DESCRIPTION_POINTS)
        else:
            t.setPixelSize(fonts.title_px)
            d.setPixelSize(fonts.description_px)
        self.title.setFont(t)
        self.description.setFont(d)
        for b in self.findChildren(QToolButton):
            b.setVisible(fonts is None)
        self.restyle()
        self._fit()

    def resizeEvent(self, event) -> None:  # noqa: N802 - Qt's name
        super().resizeEvent(event)
        self._fit()

    def _fit(self) -> None:
        # On a projector a long description keeps to two lines (smaller type, then cut with "…" and
        # the whole text in the tooltip), so the header never eats the canvas's height.
        fonts = self._projector
        full = self._full_description
        if fonts is None or not full:
            if self.description.text() != full:
                self.description.setText(full)
                self.description.setToolTip("")
            return
        base = QFont(self.description.font())
        base.setPixelSize(fonts.description_px)
        width = self.description.width() if self.description.width() > 50 else max(200, self.width() - 28)
        two = QFontMetrics(base).lineSpacing() * 2
        font = _fitted(base, full, width, two, max(16, fonts.description_px * 3 // 4))
        self.description.setFont(font)
        text = _cut_to(font, full, width, QFontMetrics(font).lineSpacing() * 2)
        self.description.setText(text)
        self.description.setToolTip(full if text != full else "")

    def restyle(self) -> None:
        """Colours from the application palette (the projector's: black on white)."""
        pal = QApplication.palette() if self._projector is None else projector_palette()
        if self._projector is None:
            bg = mix(pal.color(QPalette.Window), pal.color(QPalette.Base), 0.5)
            title = pal.color(QPalette.WindowText)
            desc = mix(title, bg, 0.2)
            border = pal.color(QPalette.Mid)
        else:
            bg = pal.color(QPalette.Base)
            title = desc = strongest(bg)
            border = mix(title, bg, 0.7)
        self.colors = {"background": bg, "title": title, "description": desc}
        self._set_sheet(f"#header {{ background: {_hex(bg)}; border-bottom: 1px solid {_hex(border)}; }}"
                        f"#header_title {{ color: {_hex(title)}; }}"
                        f"#header_description {{ color: {_hex(desc)}; }}")


class CaptionBar(_Themed):
    """The step's formula with its numbers, big; below it, in red, why the last edit did not run.

    Attributes
    ----------
    caption, error : QLabel
    colors : dict
        ``{"background", "caption", "error"}``: the colours in use (for contrast checks).
    """

    def __init__(self, parent=None):
        super().__init__(parent)
        self.setObjectName("caption")
        self._projector: ProjectorFonts | None = None
        self.colors: dict[str, QColor] = {}
        self.caption = QLabel()
        self.caption.setObjectName("caption_text")
        self.caption.setWordWrap(True)
        self.caption.setTextFormat(Qt.PlainText)
        self.caption.setTextInteractionFlags(Qt.TextSelectableByMouse)
        self._prose = QFont(self.caption.font())
        self._prose.setPointSize(CAPTION_POINTS)
        # Multi-line captions align shapes in columns ("A: (   3)" over "B: (2, 3)"): those need monospace.
        self._mono = QFontDatabase.systemFont(QFontDatabase.FixedFont)
        self._mono.setPointSize(CAPTION_POINTS - 4)
        self.caption.setFont(self._prose)
        self._desktop_box()
        self.error = QLabel()
        self.error.setObjectName("caption_error")
        self.error.setWordWrap(True)
        self.error.setTextFormat(Qt.PlainText)
        self.error.setTextInteractionFlags(Qt.TextSelectableByMouse)
        f = QFont(self.error.font())
        f.setPointSize(15)
        f.setBold(True)
        self.error.setFont(f)
        self.error.hide()
        lay = QVBoxLayout(self)
        lay.setContentsMargins(16, 8, 16, 8)
        lay.setSpacing(4)
        lay.addWidget(self.caption)
        lay.addWidget(self.error)
        self.setSizePolicy(QSizePolicy.Preferred, QSizePolicy.Maximum)
        self.restyle()

    def set_caption(self, text: str) -> None:
        if text == self.caption.text():
            return
        self.caption.setText(text)
        self._apply_font()

    def set_error(self, text: str) -> None:
        self.error.setText(f"⚠ {text}\n(the last good run stays on screen)" if text else "")
        self.error.setVisible(bool(text))

    def set_projector(self, fonts: ProjectorFonts | None) -> None:
        """Presentation mode's caption (``fonts``: large type in a box of fixed height), or the desktop one."""
        self._projector = fonts
        if fonts is None:
            self._desktop_box()
        else:
            f = QFont(self._prose)
            f.setPixelSize(fonts.caption_px)
            box = QFontMetrics(f).lineSpacing() * fonts.caption_lines + 4
            self.caption.setFixedHeight(box)
        self.restyle()
        self._apply_font()

    def _desktop_box(self) -> None:
        """A caption box of :data:`DESKTOP_CAPTION_LINES` lines of the caption's type, whatever the
        caption: a box that grew with a long caption shrank the canvas and moved every view at
        that step, and back at the next (measured: 152 ↔ 190 px while a 64² product played)."""
        box = QFontMetrics(self._prose).lineSpacing() * DESKTOP_CAPTION_LINES + 4
        self.caption.setFixedHeight(box)

    def resizeEvent(self, event) -> None:  # noqa: N802 - Qt's name
        super().resizeEvent(event)
        self._apply_font()

    def _apply_font(self) -> None:
        """The caption's type, made smaller where the text would not fit its fixed box."""
        text = self.caption.text()
        font = QFont(self._mono if "\n" in text else self._prose)
        fonts = self._projector
        if fonts is not None:
            font.setPixelSize(fonts.caption_px if "\n" not in text else round(fonts.caption_px * 0.85))
            min_px = fonts.caption_min_px
        else:
            font.setPixelSize(QFontInfo(font).pixelSize())
            min_px = DESKTOP_CAPTION_MIN_PX
        width = self.caption.width() if self.caption.width() > 50 else max(200, self.width() - 32)
        font = _fitted(font, text, width, self.caption.height() or self.caption.minimumHeight(), min_px)
        if font != self.caption.font():
            self.caption.setFont(font)

    def restyle(self) -> None:
        """Colours from the application palette: the caption on the base colour (a warm paper tint
        on a light one); the projector's black on white."""
        pal = QApplication.palette() if self._projector is None else projector_palette()
        base = pal.color(QPalette.Base)
        dark = relative_luminance(base) < 0.4
        if self._projector is None:
            bg = base if dark else mix(base, _PAPER, _PAPER_MIX)
            fg = pal.color(QPalette.Text)
        else:
            bg = base
            fg = strongest(bg)
        border = pal.color(QPalette.Mid)
        err = QColor("#ff8a80" if dark else "#c62828")
        self.colors = {"background": bg, "caption": fg, "error": err}
        self._set_sheet(f"#caption {{ background: {_hex(bg)}; border-top: 1px solid {_hex(border)}; "
                        f"border-bottom: 1px solid {_hex(border)}; }}"
                        f"#caption_text {{ color: {_hex(fg)}; }}")
        self.error.setStyleSheet(ERROR_STYLE_DARK if dark else ERROR_STYLE)


class StatusFields:
    """The status bar's fields: verified badge, backend, shapes, FLOPs, time of the last run,
    notices, errors."""

    def __init__(self, bar: QStatusBar):
        self.bar = bar
        self.message = QLabel()
        self.message.setTextFormat(Qt.PlainText)
        self.verified = QLabel()
        self.verified.setObjectName("verified_badge")
        #: The :class:`compute.Verification` (or the reason there is none) the badge shows.
        self.verification = None
        self.shapes = QLabel()
        self.steps = QLabel()
        self.flops = QLabel()
        self.time = QLabel()
        self.backend = QLabel()
        bar.addWidget(self.message, 1)
        for w in (self.verified, self.shapes, self.steps, self.flops, self.time, self.backend):
            w.setTextFormat(Qt.PlainText)
            w.setContentsMargins(6, 0, 6, 0)
            bar.addPermanentWidget(w)

    def set_run(self, tl) -> None:
        """Describe a finished run."""
        ins = " · ".join(f"{n} {shape_text(tl.shape(n))}" for n in tl.input_names)
        self.shapes.setText(f"{ins} → result {shape_text(tl.shape('result'))}")
        opts = tl.options or {}
        extra = ""
        if tl.granularity == "tile" and "tile" in opts:
            extra = " " + shape_text(opts["tile"])
        elif tl.granularity == "kblock" and "kblock" in opts:
            extra = f" {opts['kblock']}"
        self.steps.setText(f"{len(tl)} steps ({tl.granularity}{extra})")
        self.flops.setText(count_text(tl.flops, "FLOP"))
        self.time.setText(f"computed in {seconds_text(tl.elapsed)}")
        b = tl.backend
        self.backend.setText(backend_text(b))
        self.backend.setToolTip(str(b))
        self.set_notices(tl.notices)

    def restyle(self) -> None:
        """Pick the badge's and the message's colours again (the palette changed)."""
        if self.verification is None:
            if self.verified.text():
                self.set_verifying()
        else:
            self.set_verification(self.verification)
        if self.message.styleSheet():
            error = self.message.styleSheet() in (ERROR_STYLE, ERROR_STYLE_DARK)
            dark = is_dark()
            self.message.setStyleSheet((ERROR_STYLE_DARK if dark else ERROR_STYLE) if error else
                                       (NOTICE_STYLE_DARK if dark else NOTICE_STYLE))

    def set_verifying(self, computing: bool | None = None) -> None:
        """A new run is on screen and its check against the reference is under way; with
        ``computing``, the run is still being computed (progressive) and is checked once it has
        ended. None keeps what the badge said (a restyle)."""
        if computing is not None:
            self._computing = computing
        computing = getattr(self, "_computing", False)
        self.verification = None
        self.verified.setStyleSheet(BADGE_PENDING_STYLE_DARK if is_dark() else BADGE_PENDING_STYLE)
        self.verified.setText("checked when computed" if computing else "verifying…")
        self.verified.setToolTip("This run is checked against an independent float64 reference once it has been "
                                 "computed" if computing else "Checking this run against an independent float64 "
                                 "reference")

    def set_verification(self, verdict) -> None:
        """Show ``verdict``: a :class:`compute.Verification`, or a ``str`` when the run could not be checked."""
        self.verification = verdict
        dark = is_dark()
        if isinstance(verdict, str):
            self.verified.setStyleSheet(BADGE_PENDING_STYLE_DARK if dark else BADGE_PENDING_STYLE)
            self.verified.setText(verdict.splitlines()[0] if verdict else "")
            self.verified.setToolTip(verdict)
            return
        if verdict.ok:
            self.verified.setStyleSheet(BADGE_OK_STYLE_DARK if dark else BADGE_OK_STYLE)
        else:
            self.verified.setStyleSheet(BADGE_WARN_STYLE_DARK if dark else BADGE_WARN_STYLE)
        self.verified.setText(verdict.message)
        self.verified.setToolTip(verdict.details)

    def set_notices(self, notices) -> None:
        text = " · ".join(notices)
        self.message.setStyleSheet((NOTICE_STYLE_DARK if is_dark() else NOTICE_STYLE) if text else "")
        self.message.setText(f"⚠ {text}" if text else "")
        self.message.setToolTip(text)

    def set_error(self, text: str) -> None:
        self.message.setStyleSheet((ERROR_STYLE_DARK if is_dark() else ERROR_STYLE) if text else "")
        self.message.setText(text.splitlines()[0] if text else "")
        self.message.setToolTip(text)

    def flash(self, text: str, ms: int = 6000) -> None:
        """A passing message (a refused cell, a bad paste)."""
        self.bar.showMessage(text, ms)
