"""The bar that offers to restore an autosaved session after OpScope did not close cleanly.

Non-modal on purpose: the window opens and works as usual underneath, and the question waits at
the top until it is answered. A dialog at start-up would block a lecturer who only wants to start.
"""

from __future__ import annotations

import datetime as _dt

from PySide6.QtCore import Signal
from PySide6.QtWidgets import QFrame, QHBoxLayout, QLabel, QPushButton

__all__ = ["RestoreBar"]

_STYLE = ("QFrame#restoreBar { background: #fff4ce; border-bottom: 1px solid #e0c36a; }"
          "QFrame#restoreBar QLabel { color: #3d3000; font-size: 12pt; }")


class RestoreBar(QFrame):
    """"OpScope did not close cleanly. Restore the session from HH:MM? [Restore] [Discard]".

    Signals
    -------
    restore_requested()
        the user wants the autosaved session back.
    discard_requested()
        the user does not: the autosave may be deleted.
    """

    restore_requested = Signal()
    discard_requested = Signal()

    def __init__(self, parent=None):
        super().__init__(parent)
        self.setObjectName("restoreBar")
        self.setStyleSheet(_STYLE)
        self.label = QLabel()
        self.restore_button = QPushButton("Restore")
        self.restore_button.setDefault(True)
        self.discard_button = QPushButton("Discard")
        self.restore_button.clicked.connect(self.restore_requested)
        self.discard_button.clicked.connect(self.discard_requested)
        lay = QHBoxLayout(self)
        lay.setContentsMargins(12, 6, 12, 6)
        lay.addWidget(self.label, 1)
        lay.addWidget(self.restore_button)
        lay.addWidget(self.discard_button)
        self.hide()

    def offer(self, saved_at: float) -> None:
        """Ask about the autosave written at ``saved_at`` (seconds since the epoch) and show the bar."""
        when = _dt.datetime.fromtimestamp(saved_at)
        day = "" if when.date() == _dt.date.today() else f" of {when:%d %b}"
        self.label.setText(f"OpScope did not close cleanly. Restore the session from {when:%H:%M}{day}?")
        self.show()
