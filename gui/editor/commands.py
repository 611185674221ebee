"""Undo commands of the matrix editor: every accepted change is exactly one of these.

Two kinds keep memory proportional to what changed: a *region* command stores only the old and
new values of the cells it writes (a typed cell, a paste inside the tensor, a cleared selection),
a *replace* command stores the whole tensor before and after (fill, resize, dtype change, a paste
that changes the shape). ``redo`` is also the first application, so "do" and "redo" share one path.
"""

from __future__ import annotations

from opscope import gui  # noqa: F401  (PySide6 before pyqtgraph)

# isort: split

import numpy as np
from PySide6.QtGui import QUndoCommand

__all__ = ["RegionCommand", "ReplaceCommand", "trim_history"]


class _ArrayCommand(QUndoCommand):
    """Shared by both commands: the arrays held, and dropping them when history gets too big."""

    _old: np.ndarray | None
    _new: np.ndarray | None

    def nbytes(self) -> int:
        """Bytes of tensor data this step keeps alive."""
        return sum(a.nbytes for a in (self._old, self._new) if a is not None)

    def drop(self) -> None:
        """Forget the arrays; the step becomes a no-op that Qt removes when it is reached."""
        self._old = self._new = None
        self.setObsolete(True)

    def dropped(self) -> bool:
        return self._old is None


def trim_history(stack, budget: int) -> int:
    """Drop the oldest steps of ``stack`` until the rest keep at most ``budget`` bytes alive.

    ``QUndoStack``'s limit counts steps, not bytes, and can only be set on an empty stack; a step of
    a 4-million-element tensor holds 64 MiB, so a count alone cannot bound memory. The newest step is
    always kept. Returns how many steps were dropped.
    """
    commands = [stack.command(i) for i in range(stack.count())]
    commands = [c for c in commands if isinstance(c, _ArrayCommand) and not c.dropped()]
    total = sum(c.nbytes() for c in commands)
    dropped = 0
    for c in commands[:-1]:
        if total <= budget:
            break
        total -= c.nbytes()
        c.drop()
        dropped += 1
    return dropped


class ReplaceCommand(_ArrayCommand):
    """Replace the editor's whole tensor (shape and dtype may change).

    Parameters
    ----------
    editor : MatrixEditor
    old, new : numpy.ndarray
        Private copies (the command keeps them; the editor installs copies of them).
    text : str
        What the Edit menu / tooltip calls the step ("Fill A with identity").
    lead_old, lead_new : tuple of int
        The slice shown before and after, so undo returns to where the user was.
    """

    def __init__(self, editor, old: np.ndarray, new: np.ndarray, text: str, lead_old=(), lead_new=()):
        super().__init__(text)
        self._editor = editor
        self._old, self._new = old, new
        self._lead_old, self._lead_new = tuple(lead_old), tuple(lead_new)

    def redo(self) -> None:
        if self._new is not None:
            self._editor._install(self._new, self._lead_new)

    def undo(self) -> None:
        if self._old is not None:
            self._editor._install(self._old, self._lead_old)


class RegionCommand(_ArrayCommand):
    """Write a rectangular block of cells of one 2-D slice (shape and dtype unchanged).

    Parameters
    ----------
    editor : MatrixEditor
    lead : tuple of int
        The slice (index of the leading axes) written to.
    row, col : int
        Top-left cell of the block in the slice.
    old, new : numpy.ndarray
        2-D blocks of the slice's dtype, before and after.
    text : str
    """

    def __init__(self, editor, lead, row: int, col: int, old: np.ndarray, new: np.ndarray, text: str):
        super().__init__(text)
        self._editor = editor
        self._lead = tuple(lead)
        self._row, self._col = int(row), int(col)
        self._old, self._new = old, new

    def redo(self) -> None:
        if self._new is not None:
            self._editor._write_region(self._lead, self._row, self._col, self._new)

    def undo(self) -> None:
        if self._old is not None:
            self._editor._write_region(self._lead, self._row, self._col, self._old)
