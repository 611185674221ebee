"""The document's workspace history seen as a :class:`QUndoStack` (for the editors and the Edit menu).

:class:`compute.document.History` is Qt-free; this adapter gives it the QUndoStack methods and
signals the editor's buttons and the window's Edit menu already use, so every editor and the menu
drive one history: the whole workspace's.
"""

from __future__ import annotations

from opscope import gui  # noqa: F401  (PySide6 before pyqtgraph)

# isort: split

from PySide6.QtCore import QObject, Signal

__all__ = ["WorkspaceUndo"]


class WorkspaceUndo(QObject):
    """A :class:`compute.document.Document`'s history with QUndoStack's interface.

    The signal names are QUndoStack's (``canUndoChanged``...), so it stands in for one.

    Parameters
    ----------
    document : compute.document.Document
    parent : QObject, optional
    """

    canUndoChanged = Signal(bool)  # noqa: N815 - QUndoStack's names
    canRedoChanged = Signal(bool)  # noqa: N815
    undoTextChanged = Signal(str)  # noqa: N815
    redoTextChanged = Signal(str)  # noqa: N815
    indexChanged = Signal(int)  # noqa: N815

    def __init__(self, document, parent=None):
        super().__init__(parent)
        self._doc = document
        self._history = document.history
        self._last = self._facts()
        document.events.history_changed.connect(self._changed)
        self.destroyed.connect(lambda *_: document.events.history_changed.disconnect(self._changed))

    def _facts(self):
        h = self._history
        return h.can_undo, h.can_redo, h.undo_text, h.redo_text, h.index

    def _changed(self) -> None:
        now = self._facts()
        old, self._last = self._last, now
        for i, sig in enumerate((self.canUndoChanged, self.canRedoChanged, self.undoTextChanged,
                                 self.redoTextChanged, self.indexChanged)):
            if now[i] != old[i]:
                sig.emit(now[i])

    def undo(self) -> None:
        self._doc.undo()

    def redo(self) -> None:
        self._doc.redo()

    def canUndo(self) -> bool:  # noqa: N802
        return self._history.can_undo

    def canRedo(self) -> bool:  # noqa: N802
        return self._history.can_redo

    def undoText(self) -> str:  # noqa: N802
        return self._history.undo_text

    def redoText(self) -> str:  # noqa: N802
        return self._history.redo_text

    def index(self) -> int:
        return self._history.index

    def count(self) -> int:
        return len(self._history)

    def clear(self) -> None:
        self._history.clear()
