"""Starting the window: the application object, the interactive run and offscreen screenshots.

``main.py`` parses the command line and calls :func:`run_window` or :func:`take_screenshot`.
The interactive run checks for a display before Qt is started (no display: one line on stderr and
exit status 2, not Qt's abort), remembers the window between runs (:mod:`gui.window.settings`) and
quits cleanly on Ctrl+C in the terminal.
"""

from __future__ import annotations

import gc
import os
import signal
import sys
import time
from pathlib import Path

from opscope.gui.lessons import DEFAULT_LESSON
from opscope.gui.qt_messages import drop_offscreen_noise
from PySide6.QtCore import QObject, QSize, QTimer
from PySide6.QtGui import QFont, QIcon
from PySide6.QtWidgets import QApplication

#: The source tree's resources/ folder (icon).
RESOURCES = Path(__file__).resolve().parents[1] / "resources"

#: Smallest base font: the window is meant to be read on a projector too.
BASE_POINTS = 11

#: Exit status of a run without a display (the command line's usage errors use 2 too).
NO_DISPLAY_STATUS = 2

#: Exit status after Ctrl+C (128 + SIGINT, what shells report for a program interrupted so).
SIGINT_STATUS = 130

#: Qt platform plugins that need a display server (X11 or Wayland); the others (offscreen,
#: minimal, vnc, eglfs, linuxfb, ...) draw without one.
_DISPLAY_PLUGINS = frozenset({"xcb", "wayland", "wayland-egl", "wayland-brcm"})


def display_problem(environ=None, platform: str | None = None) -> str | None:
    """Why no window can be opened here, or None when one can (as far as can be told before Qt starts).

    On Linux without ``DISPLAY`` and ``WAYLAND_DISPLAY``, Qt's xcb and wayland plugins abort the
    whole process (a core dump, no Python traceback) when the application is created; an explicit
    ``QT_QPA_PLATFORM`` of a plugin that needs no display server is fine. Other systems always
    have a display for a desktop session.
    """
    env = os.environ if environ is None else environ
    plat = sys.platform if platform is None else platform
    if not plat.startswith("linux") or env.get("DISPLAY") or env.get("WAYLAND_DISPLAY"):
        return None
    # "wayland;xcb" lists fallbacks; "xcb:option=value" passes options to a plugin.
    wanted = [p.split(":", 1)[0].strip() for p in env.get("QT_QPA_PLATFORM", "").split(";") if p.strip()]
    if wanted and not all(p in _DISPLAY_PLUGINS for p in wanted):
        return None
    return ("no display to open the window on (DISPLAY and WAYLAND_DISPLAY are not set): run it in a "
            "desktop session, save a picture with --screenshot FILE.png, or set QT_QPA_PLATFORM=offscreen")


class SigintQuit(QObject):
    """Ctrl+C in the terminal quits the application cleanly (the window closes and saves its settings).

    Python runs a signal handler only when the interpreter gets control back, and Qt's event loop
    waits in C++: a timer hands control to Python every ``poll_ms`` so that the handler runs within
    that time. A Ctrl+C before the event loop runs (the window still being built) is remembered, and
    :meth:`exec` then returns at once.

    Parameters
    ----------
    app : QApplication
    poll_ms : int
        How often Python gets to run pending signal handlers.
    """

    def __init__(self, app, poll_ms: int = 200):
        super().__init__(app)
        self.app = app
        self.interrupted = False
        self._previous = signal.getsignal(signal.SIGINT)
        signal.signal(signal.SIGINT, self._handle)
        self._timer = QTimer(self)
        self._timer.timeout.connect(lambda: None)  # nothing to do: waking Python up is the point
        self._timer.start(poll_ms)

    def _handle(self, _signum, _frame) -> None:
        self.interrupted = True
        self.app.quit()  # no-op before the loop runs: exec() checks the flag first

    def exec(self) -> int:
        """Run the event loop; the exit status (:data:`SIGINT_STATUS` after Ctrl+C)."""
        try:
            status = 0 if self.interrupted else self.app.exec()
        finally:
            self._timer.stop()
            signal.signal(signal.SIGINT, self._previous)
        return SIGINT_STATUS if self.interrupted else status


def create_application(argv=None) -> QApplication:
    """The process's QApplication (created once; reused when it exists, as under pytest-qt)."""
    app = QApplication.instance()
    if app is None:
        app = QApplication(list(argv) if argv is not None else sys.argv[:1])
        drop_offscreen_noise()
        app.setApplicationName("OpScope")
        app.setOrganizationName("OpScope")
        icon = RESOURCES / "opscope.svg"
        if icon.is_file():  # absent when only the packages were installed without the source tree
            app.setWindowIcon(QIcon(str(icon)))
        font = QFont(app.font())
        if font.pointSizeF() < BASE_POINTS:
            font.setPointSizeF(BASE_POINTS)
            app.setFont(font)
    return app


def screenshot_step(step: int | None, total: int) -> int:
    """The step a screenshot shows for ``--step`` (0-based; None: 0; negative counts from the end):
    one past either end is clamped, and stderr says so in one line."""
    n = 0 if step is None else int(step)
    if n < 0:
        n += total
    if not 0 <= n < total:
        clamped = max(0, min(n, total - 1))
        print(f"opscope: step {step} is out of range (the timeline has {total} steps, 0..{total - 1}); "
              f"showing step {clamped}", file=sys.stderr)
        n = clamped
    return n


def fit_to_screen(window) -> None:
    """Size ``window`` at its default size, or at the primary screen's available area if smaller."""
    screen = QApplication.primaryScreen()
    if screen is not None:
        avail = screen.availableGeometry().size()
        size = window.DEFAULT_SIZE
        window.resize(QSize(min(size.width(), avail.width()), min(size.height(), avail.height())))


def freeze_heap() -> None:
    """Move every object alive now out of the garbage collector's sight (call once a window is built).

    The widgets, pyqtgraph items and modules built so far live as long as the window does. Freezing
    them keeps Python's full garbage collections from walking them again and again: in a long
    session (or a test process) one such pass was measured at 200 ms, a visible freeze mid-animation.
    """
    gc.collect()
    gc.freeze()


def _open(window, lesson: str | None, op: str | None, granularity: str | None, autoplay: bool) -> None:
    if op is not None:
        window.select_op(op, granularity=granularity, autoplay=autoplay)
    else:
        window.open_lesson(lesson or DEFAULT_LESSON, autoplay=autoplay and granularity is None)
        if granularity is not None:
            window.set_granularity(granularity)
            window.run_now()
            if autoplay:
                window.play()


def wait_for_run(window, timeout: float = 120.0) -> bool:
    """Process events until the window's pending run is computed (or failed); False on timeout."""
    return _process_until(lambda: not window.is_busy and (window.timeline is not None or window.error), timeout)


def _process_until(done, timeout: float) -> bool:
    """Process events until ``done()`` is true (True) or ``timeout`` seconds pass (False)."""
    app = QApplication.instance()
    deadline = time.monotonic() + timeout
    while not done():
        if time.monotonic() > deadline:
            return False
        app.processEvents()
        time.sleep(0.005)
    return True


def settle(window, timeout: float = 30.0) -> None:
    """Process events until the step asked for is shown (its frame comes from a worker thread),
    then a few rounds more so layouts settle and the canvas repaints at its final size. A fixed
    few rounds were not enough on a busy machine: a grab then showed the previous frame, and
    its cells were sized for it (the same --step drew big cells one run, tiny ones the next)."""
    _process_until(lambda: window.is_idle() or window.error, timeout)
    app = QApplication.instance()
    for _ in range(4):
        app.processEvents()
        time.sleep(0.02)


def run_window(lesson: str | None = None, op: str | None = None, granularity: str | None = None,
               step: int | None = None, deck=None, present: bool = False) -> int:
    """Open the window (playing, unless a step was asked for) and run the event loop; the exit status.

    Without a display, says so on stderr and returns :data:`NO_DISPLAY_STATUS` before Qt starts.
    The window's geometry, docks, last folder, speed and loop come back from the last run (a lesson
    named on the command line keeps its own speed).
    """
    problem = display_problem()
    if problem is not None:
        print(f"opscope: {problem}", file=sys.stderr)
        return NO_DISPLAY_STATUS
    from opscope.gui.window import MainWindow
    from opscope.gui.window.settings import WindowSettings

    app = create_application()
    sigint = SigintQuit(app)
    # The interactive app alone autosaves and offers a crashed session back (never screenshots or tests).
    window = MainWindow(lesson=None, offer_restore=True, autosave=True)
    fit_to_screen(window)
    remembered = WindowSettings(window)  # saves on close
    if deck is not None:  # a compute.deck.Deck (main.py --deck): its first entry, paused, for the clicker
        window.decks.open_deck(deck)
    else:
        _open(window, lesson, op, granularity, autoplay=step is None)
    remembered.restore(playback=lesson is None and deck is None)
    window.show()
    if present:  # main.py --present: full screen, bars hidden, the clicker's keys (Esc leaves)
        window.set_presentation(True)
    if step is not None:
        wait_for_run(window)
        if window.timeline is not None:
            total = len(window.timeline)
            if not -total <= step < total:
                print(f"opscope: step {step} is out of range (the timeline has {total} steps, 0..{total - 1}); "
                      f"showing the nearest", file=sys.stderr)
            window.seek(step % total if -total <= step < 0 else step)
    freeze_heap()
    status = sigint.exec()
    if not remembered.saved:  # the loop ended without the window's close event (Ctrl+C early on)
        remembered.save()
    window.shutdown()
    return status


def take_screenshot(path: str, lesson: str | None = None, op: str | None = None, granularity: str | None = None,
                    step: int | None = None, size: QSize | None = None, deck=None) -> int:
    """Render the window at its default size at ``step`` and save it as PNG; returns an exit status.

    Messages (a clamped step, a failed run) go to stderr, one line each.
    """
    from opscope.gui.window import MainWindow

    app = create_application()
    window = MainWindow(lesson=None, autoplay=False)
    window.resize(size or MainWindow.DEFAULT_SIZE)
    try:
        if deck is not None:  # its first entry, at the first step of its range unless --step says
            window.decks.open_deck(deck)
        else:
            _open(window, lesson, op, granularity, autoplay=False)
        window.show()
        if not wait_for_run(window):
            print("opscope: the run did not finish within the time limit", file=sys.stderr)
            return 1
        if window.error:
            print(f"opscope: {window.error.splitlines()[0]}", file=sys.stderr)
            return 1
        total = len(window.timeline)
        if step is None and deck is not None:
            step = deck[0].span(total)[0]
        window.show_step(screenshot_step(step, total))
        settle(window)
        if not window.grab().save(path, "PNG"):
            print(f"opscope: could not write {path}", file=sys.stderr)
            return 1
        return 0
    finally:
        window.close()
        window.deleteLater()
        app.processEvents()
