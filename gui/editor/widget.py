"""The matrix editor: edit an N-d tensor like a spreadsheet, one 2-D slice at a time.

Modelled on Spyder's array editor (ARCHITECTURE.md §5) with what it lacks: paste, N-d tensors,
fills, undo/redo of every change and colours that agree with the heatmaps.

:class:`MatrixEditor` holds the tensor, its undo history, the selection and the messages; its
parts live beside it: the grid (:mod:`.grid`), the controls bar (:mod:`.controls`), the actions and
context menu (:mod:`.actions`), the paste rule (:mod:`.paste`) and file drops (:mod:`.file_drop`).
"""

from __future__ import annotations

from opscope import gui  # noqa: F401  (PySide6 before pyqtgraph)

# isort: split

import math

import numpy as np
from opscope.compute.budget import BudgetError
from opscope.compute.errors import InputError, OpScopeError
from opscope.compute.fills import MASK_KINDS, astype_checked, canonical_kind, fill, resize
from opscope.compute.numbers import fmt_shape
from opscope.compute.text_parse import format_numpy, format_tsv
from opscope.compute.timeline import finite_levels
from PySide6.QtCore import QItemSelection, QItemSelectionModel, Qt, Signal
from PySide6.QtGui import QUndoStack
from PySide6.QtWidgets import QHBoxLayout, QLabel, QSizePolicy, QTableView, QToolTip, QVBoxLayout, QWidget

from .actions import EditorActions
from .commands import RegionCommand, ReplaceCommand, trim_history
from .controls import ShapeControls
from .file_drop import FileDropTarget, dropped_tensor_file
from .grid import CellDelegate, EditorGrid
from .model import ArrayTableModel, as_table, index_text
from .options import DTYPES, FILLS, MAX_ELEMENTS, MAX_NDIM, MAX_SIDE
from .paste import PasteRule

__all__ = ["DTYPES", "FILLS", "MAX_ELEMENTS", "MAX_NDIM", "MAX_SIDE", "MatrixEditor", "dropped_tensor_file"]

#: Bytes of tensor copies the undo history may keep; older steps are dropped beyond it.
UNDO_BYTES = 512 << 20
ERROR_STYLE = "color: #b3261e;"
NOTICE_STYLE = "color: #44546a;"


class MatrixEditor(PasteRule, EditorActions, ShapeControls, FileDropTarget, QWidget):
    """Edit one tensor (0-D to N-d, real or bool) like a spreadsheet.

    Parameters
    ----------
    name : str
        The tensor's name (title, tooltips, "Copy as numpy code").
    array : array-like
        The initial tensor; copied, the editor owns its copy.
    parent : QWidget, optional
    document : compute.document.Document, optional
        Bind the editor to input ``name`` of this document: the editor then shows the document's
        (read-only) array without a copy of its own, every change goes through the document (one
        step of the workspace history) and the editor re-reads it on :meth:`document_changed`.
        ``array`` is ignored.
    history : WorkspaceUndo, optional
        With ``document``: the workspace history its buttons and keys undo (default: the
        editor's own :class:`QUndoStack`, used only when unbound).

    Notes
    -----
    Public API used by the main window::

        ed.array() -> np.ndarray            # a copy of the whole N-d tensor
        ed.set_array(a, undoable=True)      # replace
        ed.array_changed                    # Signal(object): the new array after every accepted change
        ed.message_changed                  # Signal(str): refusals and notices
        ed.load_requested                   # Signal(str): "Load from file…" ('') or a dropped file (its path)
        ed.save_requested                   # Signal(): "Save tensor…"
        ed.set_levels(lo, hi)               # colour cells like the heatmap; (None, None): own levels
        ed.undo_stack                       # QUndoStack
        ed.paste_text(text) -> bool         # what Ctrl+V does with the clipboard's text
        ed.copy_text() -> str               # TSV of the selection (the whole slice if none)

    See the module docstring for the paste rule. Fills apply to the whole tensor (every slice).
    """

    #: The whole tensor (a copy) after every accepted change: edit, paste, fill, resize, dtype,
    #: ``set_array``, undo and redo.
    array_changed = Signal(object)
    #: A refusal ("A[1, 2]: 'abc' is not a number") or a notice ("3 values were rounded ...").
    message_changed = Signal(str)
    #: The user wants a file loaded into this tensor: a dropped file's path, or ``""`` to be asked
    #: for one ("Load from file…"). The window does the reading (and its checks); the editor only asks.
    load_requested = Signal(str)
    #: The user wants this tensor saved to a file ("Save tensor…").
    save_requested = Signal()

    def __init__(self, name: str, array, parent=None, *, document=None, history=None):
        super().__init__(parent)
        self._name = str(name)
        self._document = document
        if document is not None:
            # The document's frozen array itself: views share it, edits replace it (copy-on-write).
            self._array = document.input(self._name)
            self._lead = tuple(document.slice(self._name))
        else:
            self._array = self._validated(array)
            self._lead: tuple[int, ...] = (0,) * max(self._array.ndim - 2, 0)
        self._fixed_levels: tuple[float, float] | None = None
        if document is not None and history is not None:
            self.undo_stack = history
        else:
            self.undo_stack = QUndoStack(self)
            # A count limit for small tensors; UNDO_BYTES bounds the memory of big ones (_push).
            self.undo_stack.setUndoLimit(500)

        self._model = ArrayTableModel(self._array, self._name, self)
        self._model.set_writer(self._write_cell)
        self._model.edit_refused.connect(self._on_edit_refused)

        self._build_ui()
        self._model.set_source(self._array, self._lead)
        self._update_levels()
        self._sync_controls()

    # ================================================================== public API

    def name(self) -> str:
        """The tensor's name."""
        return self._name

    def set_name(self, name: str) -> None:
        """Rename the tensor (title, tooltips, code); not an undo step."""
        self._name = str(name)
        self._model.set_name(self._name)
        self._sync_controls()

    def array(self) -> np.ndarray:
        """A copy of the whole N-d tensor."""
        return self._array.copy()

    def set_array(self, a, undoable: bool = True) -> None:
        """Replace the tensor by (a copy of) ``a``; emits :attr:`array_changed`.

        Parameters
        ----------
        a : array-like
            Real or bool, at most :data:`MAX_ELEMENTS` elements.
        undoable : bool
            ``True``: one undo step. ``False``: the undo history is cleared (its steps would refer
            to another tensor), e.g. after loading a file.

        Raises
        ------
        InputError
            For complex/object dtypes or tensors over the editor's size limits.
        """
        if self._document is not None:
            self._check_editable(a)
            self._doc_change(lambda: self._document.set_input(self._name, a, text=f"Replace {self._name}",
                                                         record=undoable))
            return
        new = self._validated(a)
        if undoable:
            self._push_replace(new, f"Replace {self._name}")
        else:
            self.undo_stack.clear()
            self._install(new, self._lead)

    def set_levels(self, lo, hi) -> None:
        """Colour cells against the levels ``(lo, hi)`` the heatmap of this tensor uses.

        ``set_levels(None, None)`` returns to the editor's own levels (finite min/max of the tensor,
        updated on every change).
        """
        if lo is None or hi is None:
            self._fixed_levels = None
        else:
            self._fixed_levels = (float(lo), float(hi))
        self._update_levels()

    def levels(self) -> tuple[float, float]:
        """The display levels the cells are coloured with."""
        return self._model.levels()

    def current_slice(self) -> tuple[int, ...]:
        """Index of the leading axes of the slice shown (``()`` for tensors of at most 2 axes)."""
        return self._lead

    def set_slice(self, lead) -> None:
        """Show the 2-D slice at index ``lead`` of the leading axes (clipped into range)."""
        lead = self._clamp_lead(lead, self._array.shape)
        if self._document is not None:
            self._doc_change(lambda: self._document.set_slice(self._name, lead))  # the document calls back
            return
        self._lead = lead
        self._model.set_source(self._array, self._lead)
        self._sync_controls()

    # ================================================================== bound to a document

    def document_changed(self) -> None:
        """Re-read the document's array and slice of this input (after any change of it)."""
        self._array = self._document.input(self._name)
        self._lead = self._clamp_lead(self._document.slice(self._name), self._array.shape)
        self._model.set_source(self._array, self._lead)
        self._after_change()

    def document_slice_changed(self) -> None:
        """Re-read the slice shown from the document."""
        self._lead = self._clamp_lead(self._document.slice(self._name), self._array.shape)
        self._model.set_source(self._array, self._lead)
        self._sync_controls()

    def _doc_change(self, change) -> bool:
        """Run a change of the document; a refusal is said in the editor and changes nothing."""
        try:
            change()
        except (InputError, BudgetError, OpScopeError) as exc:
            self._refuse(str(exc))
            return False
        return True

    def _check_editable(self, a) -> None:
        arr = np.asarray(a)
        if arr.dtype.kind not in "biuf":
            raise InputError(
                f"{self._name}: dtype {arr.dtype} cannot be edited; use a float, integer or bool tensor"
            )
        problem = self._size_problem(arr.shape, resizing=False)
        if problem:
            raise InputError(f"{self._name}: {problem}")

    def select_cells(self, row: int, col: int, rows: int = 1, cols: int = 1) -> None:
        """Select a block of the shown slice and make its top-left cell current."""
        sm = self._view.selectionModel()
        top_left = self._model.index(row, col)
        bottom_right = self._model.index(row + rows - 1, col + cols - 1)
        sm.setCurrentIndex(top_left, QItemSelectionModel.SelectionFlag.NoUpdate)
        sm.select(QItemSelection(top_left, bottom_right), QItemSelectionModel.SelectionFlag.ClearAndSelect)

    def copy_text(self) -> str:
        """Tab-separated text of the selected block (bounding box of the selection), or of the
        whole shown slice when nothing is selected; full precision."""
        box = self._selection_box()
        table = self._model.table()
        if box is None:
            return format_tsv(table)
        r0, c0, r1, c1 = box
        return format_tsv(table[r0:r1, c0:c1])

    def copy_numpy_text(self) -> str:
        """The whole tensor as Python code (``A = np.array([...])``), exact."""
        return format_numpy(self._array, self._name)

    def apply_fill(self, kind: str, seed: int | None = None) -> bool:
        """Fill the whole tensor (every slice, same shape) with ``kind`` (see :func:`compute.fills.fill`).

        Random fills use ``seed`` (default: the seed box), so the same seed gives the same numbers.
        Masks make the tensor bool; random and arange fills make a non-float tensor float64.
        Returns ``False`` (with a message) when refused, e.g. identity of a vector.
        """
        try:
            kind = canonical_kind(kind)
        except InputError as exc:
            self._refuse(str(exc))
            return False
        dtype = self._array.dtype
        notice = ""
        if kind in ("normal", "uniform", "arange") and dtype.kind != "f":
            dtype = np.dtype(np.float64)
            notice = f"{self._name} is now float64: {kind} values need a float dtype."
        elif kind in MASK_KINDS and dtype != np.bool_:
            notice = f"{self._name} is now bool: a mask is True/False."
        if seed is None:
            seed = self._seed.value()
        try:
            new = fill(kind, self._array.shape, seed=seed, dtype=dtype)
        except (InputError, BudgetError) as exc:
            self._refuse(f"Fill refused: {exc}")
            return False
        label = dict((k, t) for t, k in FILLS).get(kind, kind).split(" (")[0]
        self._push_replace(new, f"Fill {self._name}: {label}")
        if notice:
            self._notice(notice)
        return True

    def set_shape(self, shape) -> bool:
        """Resize to ``shape``: the same number of axes pads with zeros / crops; another number of
        axes adds leading axes of size 1 or keeps the first slice of dropped leading axes.
        Returns ``False`` (with a message) when refused."""
        try:
            shape = tuple(int(s) for s in shape)
        except (TypeError, ValueError):
            self._refuse(f"Resize refused: {shape!r} is not a shape")
            return False
        if shape == self._array.shape:
            return True
        problem = self._size_problem(shape)
        if problem:
            self._refuse(f"Resize refused: {problem}")
            self._sync_controls()
            return False
        a = self._array
        notice = ""
        if len(shape) > a.ndim:
            a = a.reshape((1,) * (len(shape) - a.ndim) + a.shape)
        elif len(shape) < a.ndim:
            dropped = a.ndim - len(shape)
            a = a[(0,) * dropped]
            notice = f"Kept {index_text(self._name, (0,) * dropped)}: the other slices of the dropped axes are gone."
        try:
            new = resize(a, shape)
        except (InputError, BudgetError) as exc:
            self._refuse(f"Resize refused: {exc}")
            self._sync_controls()
            return False
        self._push_replace(new, f"Resize {self._name} to {fmt_shape(shape)}")
        if notice:
            self._notice(notice)
        return True

    def set_dtype(self, dtype) -> bool:
        """Convert to ``dtype``; says which values changed (fractions to ints, NaN to 0, ...)."""
        try:
            new, note = astype_checked(self._array, dtype)
        except (InputError, BudgetError) as exc:
            self._refuse(f"Conversion refused: {exc}")
            self._sync_controls()
            return False
        if new.dtype == self._array.dtype:
            return True
        self._push_replace(new, f"Convert {self._name} to {new.dtype.name}")
        if note:
            self._notice(f"Converted {self._name} to {new.dtype.name}: {note}. Undo (Ctrl+Z) restores the values.")
        return True

    def clear_selection_values(self) -> bool:
        """Set the selected cells to 0 (False for bool): what Delete does."""
        if self._selection_box() is None:
            return False
        return self._write_selected(self._array.dtype.type(0), f"Clear cells of {self._name}")

    def table_view(self) -> QTableView:
        """The grid (for tests and for the main window's focus handling)."""
        return self._view

    def model(self) -> ArrayTableModel:
        return self._model

    # ================================================================== building the UI

    def _build_ui(self) -> None:
        self._title = QLabel()
        self._title.setTextFormat(Qt.TextFormat.RichText)
        self._title.setSizePolicy(QSizePolicy.Policy.Expanding, QSizePolicy.Policy.Preferred)
        self._build_actions()

        top = QHBoxLayout()
        top.setContentsMargins(0, 0, 0, 0)
        top.addWidget(self._title, 1)
        for b in self._build_action_buttons():
            b.setAutoRaise(False)
            top.addWidget(b)

        controls, slice_host = self._build_controls()

        self._view = EditorGrid(self)
        self._view.setModel(self._model)
        self._view.setItemDelegate(CellDelegate(self))
        self._view.customContextMenuRequested.connect(self._show_context_menu)

        self._status = QLabel()
        self._status.setWordWrap(True)
        self._status.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self._status.setMinimumHeight(self._status.fontMetrics().height() + 4)
        self._status.setText(self._hint())
        self._status.setStyleSheet(NOTICE_STYLE)

        layout = QVBoxLayout(self)
        layout.setContentsMargins(6, 6, 6, 6)
        layout.setSpacing(4)
        layout.addLayout(top)
        layout.addLayout(controls)
        layout.addWidget(slice_host)
        layout.addWidget(self._view, 1)
        layout.addWidget(self._status)
        # Drops over the table reach the editor: the table itself does not accept drops.
        self.setAcceptDrops(True)

    def _hint(self) -> str:
        return "Type to edit · Ctrl+V pastes TSV/CSV/numpy text at the current cell · Ctrl+Z undoes"

    # ================================================================== changes (via undo commands)

    def _validated(self, a) -> np.ndarray:
        self._check_editable(a)
        arr = np.asarray(a)
        # C order and native byte order: the table's views and the undo copies rely on both.
        return np.array(arr, dtype=arr.dtype.newbyteorder("="), order="C", copy=True)

    def _size_problem(self, shape, resizing: bool = True) -> str:
        """Why the editor will not hold ``shape`` ("" if it will).

        Only :data:`MAX_ELEMENTS` binds a tensor handed in (``set_array``, a replacing paste); the
        per-axis and number-of-axes limits are those of the shape controls, so that any tensor the
        main window accepts (it checks the element count only) opens here.
        """
        if any(s < 0 for s in shape):
            return f"shape {fmt_shape(shape)} has a negative size"
        if resizing and len(shape) > max(MAX_NDIM, self._array.ndim):
            return f"{len(shape)} axes; the editor handles at most {MAX_NDIM}"
        if resizing and any(s > MAX_SIDE for s in shape):
            return f"shape {fmt_shape(shape)}: an axis is longer than {MAX_SIDE:,}"
        n = math.prod(shape)
        if n > MAX_ELEMENTS:
            return f"shape {fmt_shape(shape)} has {n:,} elements; the editor handles at most {MAX_ELEMENTS:,}"
        return ""

    @staticmethod
    def _clamp_lead(lead, shape) -> tuple[int, ...]:
        k = max(len(shape) - 2, 0)
        lead = tuple(int(i) for i in tuple(lead)[:k]) + (0,) * max(k - len(tuple(lead)), 0)
        return tuple(min(max(i, 0), max(shape[ax] - 1, 0)) for ax, i in enumerate(lead))

    def _push(self, command) -> None:
        if self._document is not None:
            # Bound: the command only describes the change; the document records and applies it.
            if isinstance(command, RegionCommand):
                c = command
                self._doc_change(lambda: self._document.set_region(self._name, c._lead, c._row, c._col, c._new,
                                                                   text=c.text()))
            else:
                self._doc_change(lambda: self._document.set_input(self._name, command._new, text=command.text(),
                                                             lead=command._lead_new))
            return
        self.undo_stack.push(command)
        dropped = trim_history(self.undo_stack, UNDO_BYTES)
        if dropped:
            self._notice(f"The {dropped} oldest undo step{'s' if dropped != 1 else ''} of {self._name} were "
                         f"dropped to keep the undo memory under {UNDO_BYTES >> 20} MiB.")

    def _push_replace(self, new: np.ndarray, text: str) -> None:
        lead_new = self._clamp_lead(self._lead, new.shape)
        if self._document is not None:  # no copy of the old tensor: the document keeps it (frozen)
            new.setflags(write=False)  # ours alone (a fill, a resize): the document takes it without a copy
            self._doc_change(lambda: self._document.set_input(self._name, new, text=text, lead=lead_new))
            return
        self._push(ReplaceCommand(self, self._array.copy(), new, text, self._lead, lead_new))

    def _push_region(self, row: int, col: int, values: np.ndarray, text: str) -> None:
        h, w = values.shape
        old = self._model.table()[row:row + h, col:col + w].copy()
        new = np.array(values, dtype=self._array.dtype)
        self._push(RegionCommand(self, self._lead, row, col, old, new, text))

    def _write_cell(self, row: int, col: int, value) -> None:
        full = self._model.full_index(row, col)
        where = index_text(self._name, full)
        if self._document is not None:  # one copy of the tensor in all: the document's copy-on-write
            self._doc_change(lambda: self._document.set_cell(self._name, full, value, text=f"Edit {where}"))
            return
        self._push_region(row, col, np.array([[value]], dtype=self._array.dtype), f"Edit {where}")

    def _install(self, array: np.ndarray, lead) -> None:
        """Make (a copy of) ``array`` the tensor; used by :class:`ReplaceCommand` only."""
        self._array = array.copy()
        self._lead = self._clamp_lead(lead, self._array.shape)
        self._model.set_source(self._array, self._lead)
        self._after_change()

    def _write_region(self, lead, row: int, col: int, block: np.ndarray) -> None:
        """Write ``block`` into slice ``lead`` at ``(row, col)``; used by :class:`RegionCommand` only.

        Shows that slice first, so undoing an edit made on another slice is visible.
        """
        lead = tuple(lead)
        if lead != self._lead:
            self._lead = lead
            self._model.set_source(self._array, self._lead)
        h, w = block.shape
        as_table(self._array, lead)[row:row + h, col:col + w] = block
        self._model.refresh()
        self._after_change()

    def _after_change(self) -> None:
        self._update_levels()
        self._sync_controls()
        self._clear_message()
        # Bound, the array is the document's frozen one: shared, not copied.
        self.array_changed.emit(self._array if self._document is not None else self._array.copy())

    def _update_levels(self) -> None:
        if self._fixed_levels is not None:
            self._model.set_levels(*self._fixed_levels)
        else:
            self._model.set_levels(*finite_levels(np, self._array))

    # ================================================================== selection

    def _selection_box(self) -> tuple[int, int, int, int] | None:
        """(top, left, bottom + 1, right + 1) of the selection's bounding box, or ``None``."""
        sel = self._view.selectionModel().selection() if self._view.selectionModel() else []
        ranges = [r for r in sel if r.isValid()]
        if not ranges:
            return None
        return (min(r.top() for r in ranges), min(r.left() for r in ranges),
                max(r.bottom() for r in ranges) + 1, max(r.right() for r in ranges) + 1)

    def _selected_count(self) -> int:
        # Sum of range areas, not len(selectedIndexes()): that would build a million index objects
        # for a selected 1000×1000 slice.
        return sum(r.height() * r.width() for r in self._view.selectionModel().selection() if r.isValid())

    def _whole_slice_selected(self) -> bool:
        rows, cols = self._model.table().shape
        box = self._selection_box()
        return box == (0, 0, rows, cols) and self._selected_count() >= rows * cols

    def _anchor(self) -> tuple[int, int]:
        box = self._selection_box()
        if box is not None:
            return box[0], box[1]
        cur = self._view.currentIndex()
        return (cur.row(), cur.column()) if cur.isValid() else (0, 0)

    # ================================================================== messages

    def _on_edit_refused(self, message: str) -> None:
        self._refuse(f"{message} — the cell keeps its value.")
        # Also show it where the user is looking: at the cell.
        cur = self._view.currentIndex()
        if cur.isValid() and self.isVisible():
            rect = self._view.visualRect(cur)
            QToolTip.showText(self._view.viewport().mapToGlobal(rect.bottomLeft()), message, self._view)

    def _refuse(self, message: str) -> None:
        self._status.setStyleSheet(ERROR_STYLE)
        self._status.setText(message)
        self.message_changed.emit(message)

    def _notice(self, message: str) -> None:
        self._status.setStyleSheet(NOTICE_STYLE)
        self._status.setText(message)
        self.message_changed.emit(message)

    def _clear_message(self) -> None:
        self._status.setStyleSheet(NOTICE_STYLE)
        self._status.setText("")

    def message(self) -> str:
        """The message the editor currently shows (refusal, notice or hint)."""
        return self._status.text()
