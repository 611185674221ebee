"""The editor's grid: fixed-size cells, a cell editor that flags bad values as they are typed, and
the editor's keys (copy, paste, undo, redo, delete), claimed before any window-wide shortcut."""

from __future__ import annotations

from typing import TYPE_CHECKING

from opscope.compute.text_parse import TextParseError, parse_scalar
from PySide6.QtCore import QEvent, Qt
from PySide6.QtGui import QKeySequence
from PySide6.QtWidgets import (
    QAbstractButton,
    QAbstractItemView,
    QHeaderView,
    QLineEdit,
    QStyledItemDelegate,
    QTableView,
)

if TYPE_CHECKING:
    from .widget import MatrixEditor

__all__ = ["COPY_NUMPY_KEY", "PASTE_REPLACE_KEY", "CellDelegate", "EditorGrid"]

COLUMN_WIDTH = 74
ROW_HEIGHT = 24
BAD_INPUT_STYLE = "QLineEdit { border: 2px solid #b3261e; background: #fff3f2; }"

PASTE_REPLACE_KEY = QKeySequence("Ctrl+Shift+V")
COPY_NUMPY_KEY = QKeySequence("Ctrl+Shift+C")
REDO_KEYS = (QKeySequence("Ctrl+Shift+Z"), QKeySequence("Ctrl+Y"))


class CellDelegate(QStyledItemDelegate):
    """A line edit that turns red while its text is not a valid value for the tensor's dtype.

    The check is only feedback: the model validates again on commit and refuses there, so a value
    that does not parse never reaches the tensor and the cell keeps its old value.
    """

    def __init__(self, editor: MatrixEditor):
        super().__init__(editor)
        self._editor = editor

    def createEditor(self, parent, option, index):
        line = QLineEdit(parent)
        line.setAlignment(Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter)
        line.setFrame(False)
        line.textChanged.connect(lambda text, line=line: self._feedback(line, text))
        return line

    def setEditorData(self, editor, index):
        editor.setText(index.data(Qt.ItemDataRole.EditRole) or "")

    def setModelData(self, editor, model, index):
        model.setData(index, editor.text(), Qt.ItemDataRole.EditRole)

    def _feedback(self, line: QLineEdit, text: str) -> None:
        try:
            parse_scalar(text, self._editor._array.dtype)
        except TextParseError as exc:
            line.setStyleSheet(BAD_INPUT_STYLE)
            line.setToolTip(str(exc).replace("value: ", "", 1))
        else:
            line.setStyleSheet("")
            line.setToolTip("")


class EditorGrid(QTableView):
    """The grid: fixed section sizes (never resize-to-contents: 30 s at 1000², §5) and the editor's
    keys (copy, paste, undo, redo, delete), claimed before any window-wide shortcut."""

    def __init__(self, editor: MatrixEditor):
        super().__init__(editor)
        self._editor = editor
        for header, size in ((self.horizontalHeader(), COLUMN_WIDTH), (self.verticalHeader(), ROW_HEIGHT)):
            header.setSectionResizeMode(QHeaderView.ResizeMode.Fixed)
            header.setDefaultSectionSize(size)
            header.setMinimumSectionSize(min(size, 20))
            header.setHighlightSections(True)
        self.verticalHeader().setDefaultAlignment(Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter)
        self.setWordWrap(False)
        self.setTextElideMode(Qt.TextElideMode.ElideRight)
        self.setSelectionMode(QAbstractItemView.SelectionMode.ExtendedSelection)
        self.setEditTriggers(
            QAbstractItemView.EditTrigger.DoubleClicked
            | QAbstractItemView.EditTrigger.EditKeyPressed
            | QAbstractItemView.EditTrigger.AnyKeyPressed
        )
        self.setContextMenuPolicy(Qt.ContextMenuPolicy.CustomContextMenu)
        self.setGridStyle(Qt.PenStyle.SolidLine)
        corner = self.findChild(QAbstractButton, "qt_tableview_cornerbutton")
        if corner is not None:  # Qt's select-all corner has neither text nor a name for screen readers
            corner.setAccessibleName("Select all cells")
            corner.setToolTip("Select all cells")

    def _command_for(self, event) -> str | None:
        if event.matches(QKeySequence.StandardKey.Copy):
            return "copy"
        if event.matches(QKeySequence.StandardKey.Paste):
            return "paste"
        if event.matches(QKeySequence.StandardKey.Undo):
            return "undo"
        combo = QKeySequence(event.keyCombination())
        if combo == PASTE_REPLACE_KEY:
            return "paste_replace"
        if combo == COPY_NUMPY_KEY:
            return "copy_numpy"
        if event.matches(QKeySequence.StandardKey.Redo) or combo in REDO_KEYS:
            return "redo"
        if event.key() in (Qt.Key.Key_Delete, Qt.Key.Key_Backspace) and event.modifiers() in (
            Qt.KeyboardModifier.NoModifier,
            Qt.KeyboardModifier.KeypadModifier,
        ):
            return "clear"
        return None

    def event(self, event):
        # Claim our keys so that a main-window action with the same shortcut does not steal them.
        if event.type() == QEvent.Type.ShortcutOverride and self.state() != QAbstractItemView.State.EditingState:
            if self._command_for(event) is not None:
                event.accept()
                return True
        return super().event(event)

    def keyPressEvent(self, event):
        command = self._command_for(event) if self.state() != QAbstractItemView.State.EditingState else None
        if command is None:
            super().keyPressEvent(event)
            return
        event.accept()
        self._editor._run_command(command)
