"""The presenter view: what the lecturer sees on the second screen while the projector shows the canvas.

It shows the deck's position (entry i / N, step s / M), a picture of the canvas now on the
projector, the current caption, what the next press shows (the next step's caption, or the next
entry's title), the speaker note, the time of day and the time elapsed since the talk began.

The view keeps no state of the deck: :class:`~.deck_controller.DeckController` hands it a
:class:`PresenterState` (plain data) after every move, and the view only displays it.
:func:`presenter_screen` picks the screen it goes on: any screen but the projector's.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import dataclass

from PySide6.QtCore import QSize, Qt, QTime, QTimer
from PySide6.QtGui import QFont, QPixmap
from PySide6.QtWidgets import QFrame, QGridLayout, QLabel, QPushButton, QSizePolicy, QVBoxLayout, QWidget

__all__ = ["PresenterState", "PresenterView", "elapsed_text", "presenter_screen"]


@dataclass(frozen=True)
class PresenterState:
    """What the presenter view shows; made by the deck controller.

    Attributes
    ----------
    deck_title : the deck's title.
    entry : 0-based index of the entry on screen; ``entries``: how many the deck has.
    title : the lesson's title.
    step : 0-based step on screen (-1: its run is still computing); ``total``: steps of the run.
    first, last : the entry's step range (0-based, inclusive), clamped to the run.
    caption : the caption on screen.
    next_text : what the next press shows ("" at the end of the deck).
    note : the speaker note.
    """

    deck_title: str = ""
    entry: int = 0
    entries: int = 0
    title: str = ""
    step: int = -1
    total: int = 0
    first: int = 0
    last: int = 0
    caption: str = ""
    next_text: str = ""
    note: str = ""


def elapsed_text(seconds: float) -> str:
    """``"m:ss"`` under an hour, ``"h:mm:ss"`` from then on (negative times count as 0)."""
    s = max(0, int(seconds))
    h, rest = divmod(s, 3600)
    m, sec = divmod(rest, 60)
    return f"{h}:{m:02d}:{sec:02d}" if h else f"{m}:{sec:02d}"


def presenter_screen(screens: Sequence, projector) -> object | None:
    """The screen for the presenter view: the first of ``screens`` that is not ``projector`` (the
    screen the main window shows on), or None when there is only that one.

    ``screens`` are :class:`QScreen` objects (``QGuiApplication.screens()``), compared by identity.
    """
    screens = list(screens)
    if len(screens) < 2:
        return None
    others = [s for s in screens if s is not projector]
    return others[0] if others else None


def _label(points: float, bold: bool = False, color: str = "#e8ecf2", wrap: bool = True) -> QLabel:
    lab = QLabel()
    f = QFont(lab.font())
    f.setPointSizeF(points)
    f.setBold(bold)
    lab.setFont(f)
    lab.setWordWrap(wrap)
    lab.setStyleSheet(f"color: {color};")
    lab.setTextInteractionFlags(Qt.TextInteractionFlag.NoTextInteraction)
    return lab


class PresenterView(QWidget):
    """The lecturer's screen: position, a picture of the projected canvas, caption, next, note, clock.

    Parameters
    ----------
    parent : QWidget, optional
        None for a top-level window (the usual case: it goes on its own screen).

    Attributes
    ----------
    position_label, title_label, caption_label, next_label, note_label, clock_label,
    elapsed_label : QLabel
        The texts shown (tests read them).
    current_picture : QLabel
        The canvas on the projector, scaled to fit.
    """

    def __init__(self, parent: QWidget | None = None):
        super().__init__(parent)
        self.setWindowTitle("OpScope — presenter view")
        self.setObjectName("presenter")
        self.setStyleSheet("#presenter { background: #16181d; }")
        self.setAttribute(Qt.WidgetAttribute.WA_StyledBackground, True)
        self.state = PresenterState()
        self._started = time.monotonic()
        self._picture = QPixmap()

        self.position_label = _label(15, color="#9aa4b2")
        self.title_label = _label(22, bold=True)
        self.current_picture = QLabel()
        self.current_picture.setAlignment(Qt.AlignmentFlag.AlignCenter)
        self.current_picture.setMinimumSize(320, 180)
        self.current_picture.setSizePolicy(QSizePolicy.Policy.Ignored, QSizePolicy.Policy.Ignored)
        self.current_picture.setStyleSheet("background: #0d0e11; border: 1px solid #333a44;")
        self.caption_label = _label(18)
        next_head = _label(13, bold=True, color="#ffb060", wrap=False)
        next_head.setText("NEXT")
        self.next_label = _label(17, color="#ffd9a8")
        note_head = _label(13, bold=True, color="#7fc8ff", wrap=False)
        note_head.setText("NOTE")
        self.note_label = _label(21, color="#ffffff")
        self.note_label.setAlignment(Qt.AlignmentFlag.AlignTop | Qt.AlignmentFlag.AlignLeft)
        self.clock_label = _label(34, bold=True, wrap=False)
        self.elapsed_label = _label(34, bold=True, color="#8fe39a", wrap=False)
        self.reset_button = QPushButton("Restart timer")
        self.reset_button.setFocusPolicy(Qt.FocusPolicy.NoFocus)  # keys stay with the deck
        self.reset_button.clicked.connect(self.restart_timer)

        left = QVBoxLayout()
        left.addWidget(self.position_label)
        left.addWidget(self.title_label)
        left.addWidget(self.current_picture, 1)
        left.addWidget(self.caption_label)
        right = QVBoxLayout()
        clocks = QGridLayout()
        clocks.addWidget(_caption("time"), 0, 0)
        clocks.addWidget(_caption("elapsed"), 0, 1)
        clocks.addWidget(self.clock_label, 1, 0)
        clocks.addWidget(self.elapsed_label, 1, 1)
        clocks.addWidget(self.reset_button, 2, 1)
        right.addLayout(clocks)
        right.addWidget(_rule())
        right.addWidget(next_head)
        right.addWidget(self.next_label)
        right.addWidget(_rule())
        right.addWidget(note_head)
        right.addWidget(self.note_label, 1)
        grid = QGridLayout(self)
        grid.setContentsMargins(18, 14, 18, 14)
        grid.setHorizontalSpacing(24)
        grid.addLayout(left, 0, 0)
        grid.addLayout(right, 0, 1)
        grid.setColumnStretch(0, 3)
        grid.setColumnStretch(1, 2)

        self._tick = QTimer(self)
        self._tick.setInterval(1000)
        self._tick.timeout.connect(self._update_clock)
        self._update_clock()

    def sizeHint(self) -> QSize:  # noqa: N802 - Qt API
        return QSize(1280, 720)

    # ------------------------------------------------------------------------------------------
    def set_state(self, state: PresenterState) -> None:
        """Show ``state`` (the deck controller calls this after every move)."""
        self.state = state
        if state.entries:
            where = f"entry {state.entry + 1} / {state.entries}"
            if state.step >= 0:
                where += f"  ·  step {state.step + 1} / {state.total}"
                if (state.first, state.last) != (0, max(0, state.total - 1)):
                    where += f" (this entry: {state.first + 1}–{state.last + 1})"
            else:
                where += "  ·  computing…"
            self.position_label.setText(f"{state.deck_title}  ·  {where}" if state.deck_title else where)
        else:
            self.position_label.setText("no deck open")
        self.title_label.setText(state.title)
        self.caption_label.setText(state.caption)
        self.next_label.setText(state.next_text or "— end of the deck —")
        self.note_label.setText(state.note or "(no note)")

    def set_picture(self, pixmap: QPixmap) -> None:
        """The canvas as the projector shows it (scaled to the space here, aspect kept)."""
        self._picture = QPixmap(pixmap)
        self._fit_picture()

    def restart_timer(self) -> None:
        """Elapsed time counts from now."""
        self._started = time.monotonic()
        self._update_clock()

    def elapsed(self) -> float:
        """Seconds since the talk began (or since :meth:`restart_timer`)."""
        return time.monotonic() - self._started

    def _update_clock(self) -> None:
        self.clock_label.setText(QTime.currentTime().toString("HH:mm"))
        self.elapsed_label.setText(elapsed_text(self.elapsed()))

    def _fit_picture(self) -> None:
        if self._picture.isNull():
            self.current_picture.clear()
            return
        size = self.current_picture.size()
        self.current_picture.setPixmap(self._picture.scaled(size, Qt.AspectRatioMode.KeepAspectRatio,
                                                            Qt.TransformationMode.SmoothTransformation))

    # Qt overrides -----------------------------------------------------------------------------
    def resizeEvent(self, event) -> None:  # noqa: N802 - Qt API
        super().resizeEvent(event)
        self._fit_picture()

    def showEvent(self, event) -> None:  # noqa: N802 - Qt API
        super().showEvent(event)
        self._tick.start()
        self._update_clock()

    def hideEvent(self, event) -> None:  # noqa: N802 - Qt API
        self._tick.stop()
        super().hideEvent(event)


def _caption(text: str) -> QLabel:
    lab = _label(11, color="#9aa4b2", wrap=False)
    lab.setText(text.upper())
    return lab


def _rule() -> QFrame:
    line = QFrame()
    line.setFrameShape(QFrame.Shape.HLine)
    line.setStyleSheet("color: #333a44;")
    return line
