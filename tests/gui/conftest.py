"""Fixtures shared by the window tests."""

import pytest
from opscope import gui  # noqa: F401  (PySide6 before pyqtgraph)
from opscope.gui.window import MainWindow


@pytest.fixture
def make_window(qtbot):
    """Build main windows (``make(**kw)``), shown, and shut them down after the test."""
    made = []

    def make(**kw):
        w = MainWindow(**kw)
        qtbot.addWidget(w)
        w.show()
        made.append(w)
        return w

    yield make
    for w in made:
        w.shutdown()


@pytest.fixture
def window(make_window, qtbot):
    """The 2×2 matmul lesson's window, paused and idle (a test module may define its own)."""
    w = make_window(lesson="matmul_2x2", autoplay=False)
    qtbot.waitUntil(w.is_idle, timeout=15000)
    return w
