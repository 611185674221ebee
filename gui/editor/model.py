"""The table model of the matrix editor: one 2-D slice of an N-d numpy array, read in place.

The model never owns the data (ARCHITECTURE.md §1): the editor owns the N-d array and hands the
model a reference plus the index of the leading axes. The model formats values, colours cells with
the heatmaps' colour map and levels, validates edits and reports refusals through
:attr:`ArrayTableModel.edit_refused`; it never shows a dialog (§5: Spyder's ``QMessageBox`` in
``setData`` forced its tests to monkeypatch dialogs).
"""

from __future__ import annotations

from opscope import gui  # noqa: F401  (PySide6 before pyqtgraph)

# isort: split

from collections.abc import Callable

import numpy as np
from opscope.compute.numbers import fmt
from opscope.compute.text_parse import TextParseError, format_value, parse_scalar
from opscope.gui import colormaps as cm
from PySide6.QtCore import QAbstractTableModel, QModelIndex, Qt, Signal
from PySide6.QtGui import QBrush, QColor

__all__ = ["ArrayTableModel", "as_table", "index_text"]

_ALIGN = int(Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter)


def as_table(array: np.ndarray, lead: tuple[int, ...] = ()) -> np.ndarray:
    """The 2-D view of ``array`` a table shows: 0-D as 1×1, 1-D as one row, N-d at ``lead``.

    Always a view, so writes through it reach ``array``.
    """
    if array.ndim == 0:
        return array.reshape(1, 1)
    if array.ndim == 1:
        return array.reshape(1, -1)
    return array[tuple(lead)]


def index_text(name: str, index) -> str:
    """``("A", (1, 2))`` -> ``"A[1, 2]"``; a scalar's empty index -> ``"A"``."""
    index = tuple(int(i) for i in index)
    return f"{name}[{', '.join(str(i) for i in index)}]" if index else name


class ArrayTableModel(QAbstractTableModel):
    """A :class:`QAbstractTableModel` over one 2-D slice of an N-d numpy array.

    Parameters
    ----------
    array : numpy.ndarray
        The N-d array (real or bool dtype). It is *not* copied: the owner writes to it and calls
        :meth:`refresh`.
    name : str
        Used in tooltips and messages (``A[1, 2] = 0.5``).
    parent : QObject, optional

    Notes
    -----
    Roles: ``DisplayRole`` short (4 significant digits, whole numbers without decimals),
    ``EditRole`` exact (shortest round-tripping text), ``BackgroundRole`` the heatmap colour of the
    value under the levels (:mod:`gui.colormaps`; NaN grey, ±inf reserved colours),
    ``ForegroundRole`` black or white for contrast, ``ToolTipRole`` full index and exact value.
    """

    #: A refused edit's message, e.g. ``"A[1, 2]: 'abc' is not a number"``.
    edit_refused = Signal(str)

    def __init__(self, array: np.ndarray, name: str = "A", parent=None):
        super().__init__(parent)
        self._array = np.asarray(array)
        self._name = str(name)
        self._lead: tuple[int, ...] = (0,) * max(self._array.ndim - 2, 0)
        self._levels = cm.display_levels((0.0, 1.0))
        self._colour_index: np.ndarray | None = None  # uint8 LUT indices of the slice, computed lazily
        self._brushes: list[QBrush] = []
        self._text_colours: list[QColor] = []
        self._writer: Callable[[int, int, object], None] | None = None
        self.last_error = ""
        self._update_palette()

    # ------------------------------------------------------------------ owner's interface

    def set_writer(self, writer: Callable[[int, int, object], None] | None) -> None:
        """Route accepted edits through ``writer(row, col, value)`` (cell of the shown slice; the
        editor pushes an undo command) instead of writing in place."""
        self._writer = writer

    def set_source(self, array: np.ndarray, lead: tuple[int, ...] = ()) -> None:
        """Show ``array`` at leading index ``lead``; resets the view only when the 2-D shape changes."""
        array = np.asarray(array)
        lead = tuple(int(i) for i in lead)[: max(array.ndim - 2, 0)]
        lead = lead + (0,) * (max(array.ndim - 2, 0) - len(lead))
        old_shape = self.table().shape
        new_shape = as_table(array, lead).shape
        if new_shape != old_shape:
            self.beginResetModel()
            self._array, self._lead = array, lead
            self._colour_index = None
            self.endResetModel()
        else:
            self._array, self._lead = array, lead
            self.refresh()

    def refresh(self) -> None:
        """Re-read the values (same shape): the view repaints what it shows."""
        self._colour_index = None
        rows, cols = self.table().shape
        if rows and cols:
            self.dataChanged.emit(self.index(0, 0), self.index(rows - 1, cols - 1))

    def set_levels(self, lo: float, hi: float) -> None:
        """Colour cells against ``(lo, hi)`` (made finite, ordered and symmetric about 0 when they
        straddle it, exactly as heatmaps do)."""
        levels = cm.display_levels((lo, hi))
        if levels != self._levels:
            self._levels = levels
            self._update_palette()
            self.refresh()

    def levels(self) -> tuple[float, float]:
        """The display levels cells are coloured with."""
        return self._levels

    def set_name(self, name: str) -> None:
        self._name = str(name)

    def table(self) -> np.ndarray:
        """The 2-D view being shown (writes through it reach the owner's array)."""
        return as_table(self._array, self._lead)

    def lead(self) -> tuple[int, ...]:
        return self._lead

    def full_index(self, row: int, col: int) -> tuple[int, ...]:
        """The index into the N-d array of table cell ``(row, col)``."""
        if self._array.ndim == 0:
            return ()
        if self._array.ndim == 1:
            return (col,)
        return self._lead + (row, col)

    # ------------------------------------------------------------------ Qt model

    def rowCount(self, parent=QModelIndex()) -> int:  # noqa: B008  (Qt's signature)
        return 0 if parent.isValid() else self.table().shape[0]

    def columnCount(self, parent=QModelIndex()) -> int:  # noqa: B008
        return 0 if parent.isValid() else self.table().shape[1]

    def flags(self, index):
        if not index.isValid():
            return Qt.ItemFlag.NoItemFlags
        return Qt.ItemFlag.ItemIsEnabled | Qt.ItemFlag.ItemIsSelectable | Qt.ItemFlag.ItemIsEditable

    def headerData(self, section, orientation, role=Qt.ItemDataRole.DisplayRole):
        # numpy indices (0-based), so a header agrees with A[i, j] in tooltips and code.
        if role == Qt.ItemDataRole.DisplayRole:
            return str(section)
        if role == Qt.ItemDataRole.TextAlignmentRole:
            return int(Qt.AlignmentFlag.AlignCenter)
        return None

    def data(self, index, role=Qt.ItemDataRole.DisplayRole):
        if not index.isValid():
            return None
        if role in (Qt.ItemDataRole.DisplayRole, Qt.ItemDataRole.EditRole):
            v = self.table()[index.row(), index.column()]
            return fmt(v) if role == Qt.ItemDataRole.DisplayRole else format_value(v)
        if role == Qt.ItemDataRole.BackgroundRole:
            return self._brushes[self._colour_at(index.row(), index.column())]
        if role == Qt.ItemDataRole.ForegroundRole:
            return self._text_colours[self._colour_at(index.row(), index.column())]
        if role == Qt.ItemDataRole.TextAlignmentRole:
            return _ALIGN
        if role == Qt.ItemDataRole.ToolTipRole:
            v = self.table()[index.row(), index.column()]
            where = index_text(self._name, self.full_index(index.row(), index.column()))
            return f"{where} = {format_value(v)}  ({self._array.dtype.name})"
        return None

    def setData(self, index, value, role=Qt.ItemDataRole.EditRole) -> bool:
        """Validate and write one cell; ``False`` (and :attr:`edit_refused`) when refused."""
        if role != Qt.ItemDataRole.EditRole or not index.isValid():
            return False
        full = self.full_index(index.row(), index.column())
        where = index_text(self._name, full)
        text = value if isinstance(value, str) else format_value(value) if value is not None else ""
        try:
            new = parse_scalar(text, self._array.dtype, where=where)
        except TextParseError as exc:
            self.last_error = str(exc)
            self.edit_refused.emit(self.last_error)
            return False
        self.last_error = ""
        old = self._array[full]
        if self._array.dtype.kind == "f":
            same = (old == new and np.signbit(old) == np.signbit(new)) or (np.isnan(old) and np.isnan(new))
        else:
            same = old == new
        if same:
            return True  # nothing changes: no undo step, no signal
        if self._writer is not None:
            self._writer(index.row(), index.column(), new)
        else:
            self._array[full] = new
            self.refresh()
        return True

    # ------------------------------------------------------------------ colours

    def _update_palette(self) -> None:
        lut = cm.lut_for(self._levels)
        self._brushes = [QBrush(QColor(*(int(c) for c in rgba))) for rgba in lut]
        self._text_colours = [cm.text_color_for_rgba(rgba) for rgba in lut]

    def _colour_at(self, row: int, col: int) -> int:
        # Quantizing the whole slice once (vectorised, ~10 ms at 1000²) is cheaper than a numpy
        # call per painted cell, and gives exactly the indices a heatmap of this slice would use.
        if self._colour_index is None:
            self._colour_index = cm.quantize(self.table(), self._levels)
        return int(self._colour_index[row, col])

