"""Small display widgets of the main window: lesson header, caption bar and status bar fields."""

from __future__ import annotations

from PySide6.QtCore import Qt
from PySide6.QtGui import QFont, QFontDatabase
from PySide6.QtWidgets import QFrame, QLabel, QSizePolicy, QStatusBar, QVBoxLayout

#: Caption size in points: readable from the back of a lecture room on a projector.
CAPTION_POINTS = 24
ERROR_STYLE = "color: #c62828;"
#: The verified badge: green when the run matches the reference, a red-on-rose warning when it does
#: not (it must be seen from across a room), grey while checking or when it could not check.
BADGE_OK_STYLE = "color: #1b5e20; font-weight: bold;"
BADGE_WARN_STYLE = ("color: #b71c1c; background: #fdecea; border: 1px solid #e57373; border-radius: 3px; "
                    "font-weight: bold; padding: 0px 6px;")
BADGE_PENDING_STYLE = "color: #777;"


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


class HeaderBar(QFrame):
    """The lesson's (or operation's) title and what to watch for, above the canvas."""

    def __init__(self, parent=None):
        super().__init__(parent)
        self.setObjectName("header")
        self.setStyleSheet("#header { background: #f3f5f9; border-bottom: 1px solid #d5d9e0; }")
        self.title = QLabel()
        f = QFont(self.title.font())
        f.setPointSize(18)
        f.setBold(True)
        self.title.setFont(f)
        self.title.setWordWrap(True)
        self.description = QLabel()
        f = QFont(self.description.font())
        f.setPointSize(13)
        self.description.setFont(f)
        self.description.setWordWrap(True)
        self.description.setStyleSheet("color: #333;")
        lay = QVBoxLayout(self)
        lay.setContentsMargins(14, 8, 14, 8)
        lay.setSpacing(2)
        lay.addWidget(self.title)
        lay.addWidget(self.description)
        self.setSizePolicy(QSizePolicy.Preferred, QSizePolicy.Maximum)

    def set_text(self, title: str, description: str) -> None:
        self.title.setText(title)
        self.description.setText(description)
        self.description.setVisible(bool(description))


class CaptionBar(QFrame):
    """The step's formula with its numbers, big; below it, in red, why the last edit did not run."""

    def __init__(self, parent=None):
        super().__init__(parent)
        self.setObjectName("caption")
        self.setStyleSheet("#caption { background: #fffdf5; border-top: 1px solid #d5d9e0; "
                           "border-bottom: 1px solid #d5d9e0; }")
        self.caption = QLabel()
        self.caption.setWordWrap(True)
        self.caption.setTextFormat(Qt.PlainText)
        self.caption.setTextInteractionFlags(Qt.TextSelectableByMouse)
        self._prose = QFont(self.caption.font())
        self._prose.setPointSize(CAPTION_POINTS)
        # Multi-line captions align shapes in columns ("A: (  3)" over "B: (2 3)"): those need monospace.
        self._mono = QFontDatabase.systemFont(QFontDatabase.FixedFont)
        self._mono.setPointSize(CAPTION_POINTS - 4)
        self.caption.setFont(self._prose)
        self.caption.setMinimumHeight(int(CAPTION_POINTS * 2.2))
        self.error = QLabel()
        self.error.setWordWrap(True)
        self.error.setTextFormat(Qt.PlainText)
        self.error.setTextInteractionFlags(Qt.TextSelectableByMouse)
        f = QFont(self.error.font())
        f.setPointSize(15)
        f.setBold(True)
        self.error.setFont(f)
        self.error.setStyleSheet(ERROR_STYLE)
        self.error.hide()
        lay = QVBoxLayout(self)
        lay.setContentsMargins(16, 8, 16, 8)
        lay.setSpacing(4)
        lay.addWidget(self.caption)
        lay.addWidget(self.error)
        self.setSizePolicy(QSizePolicy.Preferred, QSizePolicy.Maximum)

    def set_caption(self, text: str) -> None:
        if text == self.caption.text():
            return
        self.caption.setFont(self._mono if "\n" in text else self._prose)
        self.caption.setText(text)

    def set_error(self, text: str) -> None:
        self.error.setText(f"⚠ {text}\n(the last good run stays on screen)" if text else "")
        self.error.setVisible(bool(text))


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

    def set_verifying(self) -> None:
        """A new run is on screen and its check against the reference is under way."""
        self.verification = None
        self.verified.setStyleSheet(BADGE_PENDING_STYLE)
        self.verified.setText("verifying…")
        self.verified.setToolTip("Checking this run against an independent float64 reference")

    def set_verification(self, verdict) -> None:
        """Show ``verdict``: a :class:`compute.Verification`, or a ``str`` when the run could not be checked."""
        self.verification = verdict
        if isinstance(verdict, str):
            self.verified.setStyleSheet(BADGE_PENDING_STYLE)
            self.verified.setText(verdict.splitlines()[0] if verdict else "")
            self.verified.setToolTip(verdict)
            return
        self.verified.setStyleSheet(BADGE_OK_STYLE if verdict.ok else BADGE_WARN_STYLE)
        self.verified.setText(verdict.message)
        self.verified.setToolTip(verdict.details)

    def set_notices(self, notices) -> None:
        text = " · ".join(notices)
        self.message.setStyleSheet("color: #b26a00;" if text else "")
        self.message.setText(f"⚠ {text}" if text else "")
        self.message.setToolTip(text)

    def set_error(self, text: str) -> None:
        self.message.setStyleSheet(ERROR_STYLE if text else "")
        self.message.setText(text.splitlines()[0] if text else "")
        self.message.setToolTip(text)

    def flash(self, text: str, ms: int = 6000) -> None:
        """A passing message (a refused cell, a bad paste)."""
        self.bar.showMessage(text, ms)
