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
