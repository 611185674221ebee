"""A searchable list of a file's tensors (key, shape, dtype), to pick the one to load.

Checkpoints hold hundreds of keys (``encoder.layer.11.attention.self.query.weight``...), which a
combo box cannot present. The dialog shows them in a table read from the file's headers (nothing
is loaded before the choice), filtered as the user types: a case-insensitive substring of the
key, shape or dtype. It is made for the keyboard: the filter has the focus, ↑/↓/PgUp/PgDn move
in the table without leaving it, Enter picks the highlighted tensor, Esc cancels; a double click
picks too.
"""

from __future__ import annotations

import html
import math
import os

import numpy as np
from opscope.compute.budget import human_bytes
from opscope.compute.numbers import fmt_shape
from PySide6.QtCore import QEvent, QObject, QSortFilterProxyModel, Qt
from PySide6.QtGui import QKeySequence, QShortcut, QStandardItem, QStandardItemModel
from PySide6.QtWidgets import (
    QAbstractItemView,
    QDialog,
    QDialogButtonBox,
    QHeaderView,
    QLabel,
    QLineEdit,
    QTableView,
    QVBoxLayout,
)

__all__ = ["KeyPicker", "pick_key"]

_COLUMNS = ("Key", "Shape", "Dtype", "Size")
# keys the filter box hands to the table: it keeps the focus, so typing always filters
_NAVIGATION = {Qt.Key.Key_Up, Qt.Key.Key_Down, Qt.Key.Key_PageUp, Qt.Key.Key_PageDown}


class KeyPicker(QDialog):
    """Pick one tensor of ``infos`` (``(key, shape, dtype)`` tuples, e.g. from ``describe_file``).

    Parameters
    ----------
    infos : sequence of (str, tuple, dtype)
        The tensors, in file order.
    title, text : str
        The window title and the line above the filter.
    parent : QWidget, optional

    Attributes
    ----------
    filter_edit : QLineEdit
    table : QTableView
        Shows the rows that match the filter (a proxy over all of them).
    """

    def __init__(self, infos, title: str = "Choose a tensor", text: str = "", parent=None):
        super().__init__(parent)
        self.setWindowTitle(title)
        self.setObjectName("KeyPicker")
        self._keys = [str(i[0]) for i in infos]
        layout = QVBoxLayout(self)
        self.label = QLabel(text)
        self.label.setWordWrap(True)
        layout.addWidget(self.label)
        self.filter_edit = QLineEdit()
        self.filter_edit.setPlaceholderText("Type to filter keys, shapes, dtypes…")
        self.filter_edit.setClearButtonEnabled(True)
        layout.addWidget(self.filter_edit)

        self.model = QStandardItemModel(0, len(_COLUMNS), self)
        self.model.setHorizontalHeaderLabels(list(_COLUMNS))
        for key, shape, dtype in ((i[0], i[1], i[2]) for i in infos):
            dtype = np.dtype(dtype)
            nbytes = math.prod(shape) * dtype.itemsize
            row = [QStandardItem(str(key)), QStandardItem(fmt_shape(shape)), QStandardItem(dtype.name),
                   QStandardItem(human_bytes(nbytes))]
            # one search text a row: key, shape and dtype, so that "float16" or "(768," filter too
            row[0].setData(f"{key} {fmt_shape(shape)} {dtype.name}", Qt.ItemDataRole.UserRole + 1)
            row[0].setToolTip(str(key))
            for item in row:
                item.setEditable(False)
            for item in row[1:]:
                item.setTextAlignment(Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter)
            self.model.appendRow(row)
        self.proxy = QSortFilterProxyModel(self)
        self.proxy.setSourceModel(self.model)
        self.proxy.setFilterCaseSensitivity(Qt.CaseSensitivity.CaseInsensitive)
        self.proxy.setFilterKeyColumn(0)
        self.proxy.setFilterRole(Qt.ItemDataRole.UserRole + 1)

        self.table = QTableView()
        self.table.setModel(self.proxy)
        self.table.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
        self.table.setSelectionMode(QAbstractItemView.SelectionMode.SingleSelection)
        self.table.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        self.table.verticalHeader().hide()
        self.table.setShowGrid(False)
        self.table.setAlternatingRowColors(True)
        self.table.setWordWrap(False)
        self.table.setTextElideMode(Qt.TextElideMode.ElideMiddle)  # the end of a long key says most
        header = self.table.horizontalHeader()
        header.setSectionResizeMode(0, QHeaderView.ResizeMode.Stretch)
        for col in range(1, len(_COLUMNS)):
            header.setSectionResizeMode(col, QHeaderView.ResizeMode.ResizeToContents)
        self.table.verticalHeader().setDefaultSectionSize(self.table.fontMetrics().height() + 6)
        layout.addWidget(self.table, 1)

        self.count_label = QLabel()
        layout.addWidget(self.count_label)
        self.buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Ok | QDialogButtonBox.StandardButton.Cancel)
        self.buttons.button(QDialogButtonBox.StandardButton.Ok).setText("Load")
        self.buttons.accepted.connect(self.accept)
        self.buttons.rejected.connect(self.reject)
        layout.addWidget(self.buttons)

        self.filter_edit.textChanged.connect(self._filter)
        self.filter_edit.installEventFilter(self)
        self.filter_edit.returnPressed.connect(self.accept)
        self.table.doubleClicked.connect(lambda _index: self.accept())
        self.table.selectionModel().currentRowChanged.connect(lambda *_: self._update())
        # Ctrl+F / F3 bring the focus back to the filter from the table
        for seq in (QKeySequence.StandardKey.Find, QKeySequence("F3")):
            QShortcut(seq, self, activated=self._focus_filter)
        self._filter("")
        self.filter_edit.setFocus()
        self.resize(640, 420)

    # ------------------------------------------------------------------------------------------
    def _focus_filter(self) -> None:
        self.filter_edit.setFocus()
        self.filter_edit.selectAll()

    def _filter(self, text: str) -> None:
        self.proxy.setFilterFixedString(text.strip())
        if self.proxy.rowCount() and not self.table.currentIndex().isValid():
            self.table.setCurrentIndex(self.proxy.index(0, 0))
        elif not self.proxy.rowCount():
            self.table.clearSelection()
        self._update()

    def _update(self) -> None:
        shown, total = self.proxy.rowCount(), self.model.rowCount()
        self.count_label.setText(f"{total} tensors" if shown == total else f"{shown} of {total} tensors match")
        self.buttons.button(QDialogButtonBox.StandardButton.Ok).setEnabled(self.chosen_key() is not None)

    def eventFilter(self, obj: QObject, event: QEvent) -> bool:  # noqa: N802 - Qt's name
        if obj is self.filter_edit and event.type() == QEvent.Type.KeyPress and event.key() in _NAVIGATION:
            # ↑/↓ in the filter move the highlight in the table; the text keeps the focus
            self.table.keyPressEvent(event)
            return True
        return super().eventFilter(obj, event)

    def accept(self) -> None:
        if self.chosen_key() is not None:  # Enter with nothing matching does nothing
            super().accept()

    def chosen_key(self) -> str | None:
        """The highlighted tensor's key among those shown, or None."""
        index = self.table.currentIndex()
        if not index.isValid() or not self.proxy.rowCount():
            return None
        return self._keys[self.proxy.mapToSource(index).row()]

    def set_filter(self, text: str) -> None:
        """Filter as if ``text`` had been typed (tests, scripts)."""
        self.filter_edit.setText(text)


def pick_key(parent, path: str, infos, target: str) -> str | None:
    """Ask which tensor of ``path`` to load into input ``target``; None when cancelled."""
    name, target = html.escape(os.path.basename(path)), html.escape(target)
    n = len(infos)
    text = (f"<b>{name}</b> holds {n} tensors. Load which into <b>{target}</b>?" if n > 1 else
            f"<b>{name}</b> holds one tensor. Load it into <b>{target}</b>?")
    dialog = KeyPicker(infos, f"Load {html.unescape(target)}", text, parent)
    try:
        return dialog.chosen_key() if dialog.exec() == QDialog.DialogCode.Accepted else None
    finally:
        dialog.deleteLater()
