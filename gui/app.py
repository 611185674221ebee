"""Starting the window: the application object, the interactive run and offscreen screenshots.

``main.py`` parses the command line and calls :func:`run_window` or :func:`take_screenshot`.
"""

from __future__ import annotations

import gc
import sys
import time
from pathlib import Path

from opscope.gui.lessons import DEFAULT_LESSON
from opscope.gui.qt_messages import drop_offscreen_noise
from PySide6.QtCore import QSize
from PySide6.QtGui import QFont, QIcon
from PySide6.QtWidgets import QApplication

#: The source tree's resources/ folder (icon).
RESOURCES = Path(__file__).resolve().parents[1] / "resources"

#: Smallest base font: the window is meant to be read on a projector too.
BASE_POINTS = 11


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
    app = QApplication.instance()
    deadline = time.monotonic() + timeout
    while window.is_busy or (window.timeline is None and not window.error):
        if time.monotonic() > deadline:
            return False
        app.processEvents()
        time.sleep(0.005)
    return True


def run_window(lesson: str | None = None, op: str | None = None, granularity: str | None = None,
               step: int | None = None) -> int:
    """Open the window (playing, unless a step was asked for) and run the event loop."""
    from opscope.gui.window import MainWindow

    app = create_application()
    # The interactive app alone autosaves and offers a crashed session back (never screenshots or tests).
    window = MainWindow(lesson=None, offer_restore=True, autosave=True)
    screen = app.primaryScreen()
    if screen is not None:
        avail = screen.availableGeometry().size()
        size = MainWindow.DEFAULT_SIZE
        window.resize(QSize(min(size.width(), avail.width()), min(size.height(), avail.height())))
    _open(window, lesson, op, granularity, autoplay=step is None)
    window.show()
    if step is not None:
        wait_for_run(window)
        if window.timeline is not None:
            total = len(window.timeline)
            if not -total <= step < total:
                print(f"opscope: step {step} is out of range (the timeline has {total} steps, 0..{total - 1}); "
                      f"showing the nearest", file=sys.stderr)
            window.seek(step % total if -total <= step < 0 else step)
    # The widgets, pyqtgraph items and modules built so far live as long as the window does. Freezing
    # them keeps Python's full garbage collections from walking them again and again: in a long
    # session (or a test process) one such pass was measured at 200 ms, a visible freeze mid-animation.
    gc.collect()
    gc.freeze()
    return app.exec()


def take_screenshot(path: str, lesson: str | None = None, op: str | None = None, granularity: str | None = None,
                    step: int | None = None, size: QSize | None = None) -> int:
    """Render the window at its default size at ``step`` and save it as PNG; returns an exit status.

    Messages (a clamped step, a failed run) go to stderr, one line each.
    """
    from opscope.gui.window import MainWindow

    app = create_application()
    window = MainWindow(lesson=None, autoplay=False)
    window.resize(size or MainWindow.DEFAULT_SIZE)
    try:
        _open(window, lesson, op, granularity, autoplay=False)
        window.show()
        if not wait_for_run(window):
            print("opscope: the run did not finish within the time limit", file=sys.stderr)
            return 1
        if window.error:
            print(f"opscope: {window.error.splitlines()[0]}", file=sys.stderr)
            return 1
        total = len(window.timeline)
        n = 0 if step is None else int(step)
        if n < 0:
            n += total
        if not 0 <= n < total:
            clamped = max(0, min(n, total - 1))
            print(f"opscope: step {step} is out of range (the timeline has {total} steps, 0..{total - 1}); "
                  f"showing step {clamped}", file=sys.stderr)
            n = clamped
        window.show_step(n)
        for _ in range(3):  # let layouts settle and the canvas repaint at its final size
            app.processEvents()
            time.sleep(0.02)
        if not window.grab().save(path, "PNG"):
            print(f"opscope: could not write {path}", file=sys.stderr)
            return 1
        return 0
    finally:
        window.close()
        window.deleteLater()
        app.processEvents()
