"""The animation panel (play, step, scrub, speed, loop, read-out) and the clock that drives it.

The clock does not count ticks: it computes which step *should* be on screen from the time since
play started (``anchor + elapsed × speed``), so when painting falls behind the animation jumps to
the newest step instead of queueing frames (ARCHITECTURE §3, pyqtgraph's ``ImageView.timeout``).

A progressive run (issue 10) is still being computed while it plays: the clock's ``frontier``
(the steps computed so far) caps the step it asks for, so play waits at the frontier and goes on
as panels land. :class:`RunProgress` polls the run on a timer (the GUI thread never waits on a
computation) and the panel shows a progress bar with the time left and a Cancel button.
"""

from __future__ import annotations

import time

from PySide6.QtCore import QObject, Qt, QTimer, Signal
from PySide6.QtGui import QFont, QValidator
from PySide6.QtWidgets import (
    QCheckBox,
    QDoubleSpinBox,
    QHBoxLayout,
    QLabel,
    QProgressBar,
    QPushButton,
    QSlider,
    QStyle,
    QToolButton,
    QToolTip,
    QWidget,
)

#: Clock period: the newest step is shown at most this often (about 60 Hz).
TICK_MS = 16

#: The speeds (steps per second) that Faster / Slower step through: round numbers, about ×2 apart,
#: so a few key presses cover the whole range of the speed box.
SPEED_LADDER = (0.1, 0.2, 0.5, 1.0, 2.0, 4.0, 8.0, 15.0, 30.0, 60.0, 120.0, 240.0, 500.0, 1000.0)

#: Slowest and fastest speeds the speed box takes (steps per second). Above the 60 Hz clock a
#: speed skips steps, which is what a timeline of thousands of steps needs.
MIN_SPEED, MAX_SPEED = 0.1, 1000.0

#: How often a progressive run is polled for new steps (ms).
PROGRESS_MS = 33


def faster_speed(speed: float) -> float:
    """The next speed of :data:`SPEED_LADDER` above ``speed`` (the top one at the top)."""
    return next((s for s in SPEED_LADDER if s > speed * 1.001), SPEED_LADDER[-1])


def slower_speed(speed: float) -> float:
    """The next speed of :data:`SPEED_LADDER` below ``speed`` (the bottom one at the bottom)."""
    return next((s for s in reversed(SPEED_LADDER) if s < speed * 0.999), SPEED_LADDER[0])


class PlayerClock(QObject):
    """Which step to show while playing.

    Signals
    -------
    seek_requested(int)
        the clock wants step ``n`` on screen.
    playing_changed(bool)
        play / pause.
    """

    seek_requested = Signal(int)
    playing_changed = Signal(bool)

    def __init__(self, parent=None):
        super().__init__(parent)
        self._timer = QTimer(self)
        self._timer.setInterval(TICK_MS)
        self._timer.setTimerType(Qt.PreciseTimer)
        self._timer.timeout.connect(self._tick)
        self.length = 0
        self.speed = 1.0
        self.loop = False
        #: Steps that can be shown (a callable, re-read every tick; None: all ``length``). A
        #: progressive run's ``available``: play waits there and goes on as panels land.
        self.frontier = None
        self._anchor_time = 0.0
        self._anchor_step = 0
        self._last = -1

    @property
    def playing(self) -> bool:
        return self._timer.isActive()

    def play(self, from_step: int) -> None:
        """Start (or restart) the clock at ``from_step``."""
        if self.length <= 0:
            return
        if from_step >= self.length - 1 and not self.loop:
            from_step = 0  # playing from the last step would end at once: start over, like a video player
        self._anchor(from_step)
        was = self.playing
        self._timer.start()
        self.seek_requested.emit(from_step)
        if not was:
            self.playing_changed.emit(True)

    def pause(self) -> None:
        if self.playing:
            self._timer.stop()
            self.playing_changed.emit(False)

    def set_speed(self, speed: float, at_step: int) -> None:
        """Change steps per second without a jump: re-anchor at the step now shown."""
        self.speed = max(1e-3, float(speed))
        if self.playing:
            self._anchor(at_step)

    def _anchor(self, step: int) -> None:
        self._anchor_time = time.monotonic()
        self._anchor_step = int(step)
        self._last = int(step)

    def _tick(self) -> None:
        if self.length <= 0:
            self.pause()
            return
        n = self._anchor_step + int((time.monotonic() - self._anchor_time) * self.speed)
        end = False
        limit = self.length if self.frontier is None else max(1, min(self.length, int(self.frontier())))
        if limit < self.length and n >= limit:
            # At the frontier of a run still computed: wait there, and go on at the same pace
            # from it once the next steps exist (never a burst to catch up).
            n = limit - 1
            self._anchor_time, self._anchor_step = time.monotonic(), n
        elif n >= self.length:
            if self.loop:
                n %= self.length
            else:
                n, end = self.length - 1, True
        if n != self._last:
            self._last = n
            self.seek_requested.emit(n)
        if end:
            self.pause()


def format_time_left(seconds: float | None) -> str:
    """``"~12 s left"``; ``"estimating…"`` before the pace is known."""
    if seconds is None:
        return "estimating…"
    if seconds < 1:
        return "< 1 s left"
    if seconds < 90:
        return f"~{seconds:.0f} s left"
    return f"~{seconds / 60:.0f} min left"


class SpeedBox(QDoubleSpinBox):
    """The speed box: a number typed beyond the range is refused with a message, never silently
    cut to its first digits (a plain spin box drops the key that makes 100 into 1000).

    Signals
    -------
    refused(str)
        a typed value was out of range; the message says so and which value was kept.
    """

    refused = Signal(str)

    def validate(self, text: str, pos: int):  # noqa: N802 - Qt's name
        state = super().validate(text, pos)
        if state[0] == QValidator.Invalid and self._number(text) is not None:
            return (QValidator.Intermediate, text, pos)  # a number: judged when the edit ends
        return state

    def _number(self, text: str) -> float | None:
        body = text.replace(self.suffix(), "").replace(self.prefix(), "").strip().replace(",", ".")
        try:
            return float(body)
        except ValueError:
            return None

    def fixup(self, text: str) -> str:
        value = self._number(text)
        if value is not None and not (self.minimum() <= value <= self.maximum()):
            kept = min(max(value, self.minimum()), self.maximum())
            self.refused.emit(f"{value:g} steps/s is outside the speeds the player takes "
                              f"({self.minimum():g}–{self.maximum():g}); the speed is now {kept:g} steps/s.")
            return self.textFromValue(kept)
        return super().fixup(text)


class RunProgress(QObject):
    """Watches a progressive run from the GUI thread by polling it (never waiting on it).

    Signals
    -------
    advanced(int)
        more steps are available (the new count).
    polled()
        the run was looked at (still computing): progress and time left may have changed.
    ended(object)
        the run has finished, been cancelled or failed (the timeline).
    """

    advanced = Signal(int)
    polled = Signal()
    ended = Signal(object)

    def __init__(self, parent=None):
        super().__init__(parent)
        self._timer = QTimer(self)
        self._timer.setInterval(PROGRESS_MS)
        self._timer.timeout.connect(self.poll)
        self.timeline = None
        self._seen = -1

    def watch(self, tl) -> None:
        """Follow ``tl`` (a finished timeline is let go at once)."""
        self.timeline = tl
        self._seen = -1
        if tl is not None and not tl.done:
            self._timer.start()
        else:
            self._timer.stop()

    @property
    def active(self) -> bool:
        """True while a run is followed (it has not ended)."""
        return self._timer.isActive()

    def poll(self) -> None:
        tl = self.timeline
        if tl is None:
            self._timer.stop()
            return
        done = tl.done  # read first: a run that ends now is seen whole below
        n = tl.available()
        if n != self._seen:
            self._seen = n
            self.advanced.emit(n)
        if done:
            self._timer.stop()
            self.ended.emit(tl)
        else:
            self.polled.emit()


def _button(icon, name: str, tip: str) -> QToolButton:
    b = QToolButton()
    b.setIcon(icon)
    # An icon-only button: screen readers read the accessible name, not the icon.
    b.setAccessibleName(name)
    b.setToolTip(tip)
    b.setAutoRaise(True)
    b.setIconSize(b.iconSize() * 1.6)
    # Buttons never take focus: Space and the arrows stay with the animation, not a focused button.
    b.setFocusPolicy(Qt.NoFocus)
    return b


class AnimationPanel(QWidget):
    """Buttons, scrub slider, speed, loop and the "step 17 / 64 · softmax" read-out.

    Signals
    -------
    play_requested(), first_requested(), back_requested(), forward_requested(), last_requested()
    seek_requested(int)
        the user dragged the slider.
    speed_changed(float), loop_changed(bool)
    """

    play_requested = Signal()
    first_requested = Signal()
    back_requested = Signal()
    forward_requested = Signal()
    last_requested = Signal()
    seek_requested = Signal(int)
    speed_changed = Signal(float)
    loop_changed = Signal(bool)
    cancel_requested = Signal()

    def __init__(self, parent=None):
        super().__init__(parent)
        st = self.style()
        self._play_icon = st.standardIcon(QStyle.SP_MediaPlay)
        self._pause_icon = st.standardIcon(QStyle.SP_MediaPause)
        self.first_button = _button(st.standardIcon(QStyle.SP_MediaSkipBackward), "First step", "first step (Home)")
        self.back_button = _button(st.standardIcon(QStyle.SP_MediaSeekBackward), "Step back",
                                   "step back (← or Page Up)")
        self.play_button = _button(self._play_icon, "Play", "play / pause (Space)")
        self.forward_button = _button(st.standardIcon(QStyle.SP_MediaSeekForward), "Step forward",
                                      "step forward (→ or Page Down)")
        self.last_button = _button(st.standardIcon(QStyle.SP_MediaSkipForward), "Last step", "last step (End)")
        self.slider = QSlider(Qt.Horizontal)
        self.slider.setRange(0, 0)
        self.slider.setFocusPolicy(Qt.NoFocus)
        self.slider.setAccessibleName("Step")
        self.slider.setMinimumWidth(160)  # the progress bar and Cancel never squeeze it away
        self.slider.setToolTip("scrub through the steps")
        self.speed = SpeedBox()
        self.speed.setRange(MIN_SPEED, MAX_SPEED)
        self.speed.setDecimals(1)
        self.speed.setSingleStep(0.5)
        self.speed.setValue(1.0)
        self.speed.setSuffix(" steps/s")
        self.speed.setAccessibleName("Playback speed")
        self.speed.setToolTip("playback speed in steps per second (faster: ], slower: [)")
        self.speed.setKeyboardTracking(False)
        self.loop = QCheckBox("loop")
        self.loop.setFocusPolicy(Qt.NoFocus)
        self.loop.setToolTip("start again from the first step at the end (L)")
        self.readout = QLabel("no steps")
        self.readout.setAccessibleName("Step read-out")
        f = QFont(self.readout.font())
        f.setPointSizeF(max(13.0, f.pointSizeF() * 1.3))
        f.setBold(True)
        self.readout.setFont(f)
        self.readout.setMinimumWidth(280)
        self.readout.setAlignment(Qt.AlignRight | Qt.AlignVCenter)
        # A progressive run: how far it is, how long it still needs, and a way to stop it (Esc).
        self.progress = QProgressBar()
        self.progress.setRange(0, 100)
        self.progress.setTextVisible(True)
        self.progress.setMinimumWidth(150)
        self.progress.setMaximumWidth(200)
        self.progress.setAccessibleName("Computation progress")
        self.cancel_button = QPushButton("Cancel")
        self.cancel_button.setFocusPolicy(Qt.NoFocus)
        self.cancel_button.setAccessibleName("Cancel the run")
        self.cancel_button.setToolTip("stop computing this run; what is computed stays (Esc)")
        self.progress.hide()
        self.cancel_button.hide()
        self.last_message = ""
        self.speed.refused.connect(self._speed_refused)

        lay = QHBoxLayout(self)
        lay.setContentsMargins(8, 2, 8, 2)
        for w in (self.first_button, self.back_button, self.play_button, self.forward_button, self.last_button):
            lay.addWidget(w)
        lay.addWidget(self.slider, 1)
        lay.addWidget(self.progress)
        lay.addWidget(self.cancel_button)
        # Room between the slider's end and the read-out: in presentation mode's large font the
        # two nearly touched, and "step 21 / 51" read as part of the slider.
        lay.addSpacing(16)
        lay.addWidget(self.readout)
        lay.addSpacing(12)
        lay.addWidget(self.speed)
        lay.addWidget(self.loop)

        self.play_button.clicked.connect(self.play_requested)
        self.first_button.clicked.connect(self.first_requested)
        self.back_button.clicked.connect(self.back_requested)
        self.forward_button.clicked.connect(self.forward_requested)
        self.last_button.clicked.connect(self.last_requested)
        self.slider.valueChanged.connect(self._slider_moved)
        self.speed.valueChanged.connect(self.speed_changed)
        self.loop.toggled.connect(self.loop_changed)
        self.cancel_button.clicked.connect(self.cancel_requested)

    def _speed_refused(self, message: str) -> None:
        self.last_message = message
        QToolTip.showText(self.speed.mapToGlobal(self.speed.rect().bottomLeft()), message, self.speed)

    def set_progress(self, fraction: float, steps: int, total: int, seconds_left: float | None) -> None:
        """Show a run being computed: ``steps`` of ``total`` available, ``fraction`` of the work
        done, the estimated seconds left."""
        # QProgressBar.setValue repaints synchronously, and a synchronous repaint flushes every
        # dirty widget of the window with it (the canvas's plots: 50–200 ms measured inside one
        # poll). With updates off it only marks itself dirty; the next paint shows it.
        value = int(max(0.0, min(1.0, fraction)) * 100)
        text = f"{value}% · {format_time_left(seconds_left)}"
        if value != self.progress.value() or text != self.progress.format():
            self.progress.setUpdatesEnabled(False)
            try:
                self.progress.setValue(value)
                self.progress.setFormat(text)
            finally:
                self.progress.setUpdatesEnabled(True)
            self.progress.update()
        self.progress.setToolTip(f"computing: {steps} of {total} steps ready")
        if self.progress.isHidden():
            self.progress.show()
            self.cancel_button.show()

    def hide_progress(self) -> None:
        """The run has ended (or none is computed): no bar, no Cancel."""
        self.progress.hide()
        self.cancel_button.hide()

    def _slider_moved(self, value: int) -> None:
        # Programmatic updates block signals, so this is always the user.
        self.seek_requested.emit(int(value))

    def set_length(self, n: int) -> None:
        self.slider.blockSignals(True)
        try:
            self.slider.setRange(0, max(0, n - 1))
            self.slider.setPageStep(max(1, n // 20))
        finally:
            self.slider.blockSignals(False)

    def set_position(self, n: int, total: int, stage: str) -> None:
        """Show step ``n`` (0-based) of ``total`` in the slider and the read-out."""
        if not self.slider.isSliderDown():  # never fight the user's drag
            self.slider.blockSignals(True)
            try:
                self.slider.setValue(n)
            finally:
                self.slider.blockSignals(False)
        text = f"step {n + 1} / {total}"
        self.readout.setText(f"{text} · {stage}" if stage else text)

    def set_playing(self, playing: bool) -> None:
        self.play_button.setIcon(self._pause_icon if playing else self._play_icon)
        # The name says what a click does, like the icon.
        self.play_button.setAccessibleName("Pause" if playing else "Play")

    def speed_up(self) -> float:
        """Go to the next faster speed of :data:`SPEED_LADDER` (emits :attr:`speed_changed`); returns it."""
        self.speed.setValue(faster_speed(self.speed.value()))
        return self.speed.value()

    def slow_down(self) -> float:
        """Go to the next slower speed of :data:`SPEED_LADDER` (emits :attr:`speed_changed`); returns it."""
        self.speed.setValue(slower_speed(self.speed.value()))
        return self.speed.value()

    def toggle_loop(self) -> bool:
        """Switch looping on or off (emits :attr:`loop_changed`); returns the new state."""
        self.loop.toggle()
        return self.loop.isChecked()
