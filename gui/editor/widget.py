"""The matrix editor: edit an N-d tensor like a spreadsheet, one 2-D slice at a time.

Modelled on Spyder's array editor (ARCHITECTURE.md §5) with what it lacks: paste, N-d tensors,
fills, undo/redo of every change and colours that agree with the heatmaps.

Paste rule
----------
The clipboard text is parsed whole first (:func:`compute.text_parse.parse_matrix_text`); text that
does not parse changes nothing and the message names the bad row and column. Then:

1. **Replace the whole tensor** (it takes the pasted shape) when the user asked for it ("Paste
   replacing tensor", Ctrl+Shift+V, ``paste_text(text, replace=True)``), when the text is a
   literal of 3 or more dimensions, or when every cell of a tensor of at most 2 dimensions is
   selected (Ctrl+A) and the pasted block has another shape. The dtype is kept when every value
   fits it, else the tensor becomes float64 (with a notice).
2. **Otherwise write into the shown slice**, the block's top-left corner at the top-left selected
   cell (the current cell when nothing is selected): a single value pasted over several selected
   cells goes into each of them; a block that runs past the last row or column grows the tensor
   to fit (padding with zeros) and says so. The values must fit the dtype (no fractions into an
   int tensor): else nothing changes and the message names the cell.

Every accepted paste is one undo step.
"""

from __future__ import annotations

import gui  # noqa: F401  (PySide6 before pyqtgraph)

# isort: split

import math
import os

import numpy as np
from PySide6.QtCore import QEvent, QItemSelection, QItemSelectionModel, Qt, Signal
from PySide6.QtGui import QAction, QGuiApplication, QKeySequence, QUndoStack
from PySide6.QtWidgets import (
    QAbstractItemView,
    QComboBox,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QLineEdit,
    QMenu,
    QSizePolicy,
    QSpinBox,
    QStyledItemDelegate,
    QTableView,
    QToolButton,
    QToolTip,
    QVBoxLayout,
    QWidget,
)

from compute.budget import BudgetError
from compute.errors import InputError
from compute.fills import MASK_KINDS, astype_checked, canonical_kind, fill, resize
from compute.io import SUPPORTED_EXTENSIONS
from compute.numbers import fmt_shape
from compute.text_parse import (
    TextParseError,
    fit_dtype,
    format_numpy,
    format_tsv,
    parse_matrix_text,
    parse_scalar,
)
from compute.timeline import finite_levels

from .commands import RegionCommand, ReplaceCommand, trim_history
from .model import ArrayTableModel, as_table, index_text

__all__ = ["DTYPES", "FILLS", "MAX_ELEMENTS", "MAX_NDIM", "MAX_SIDE", "MatrixEditor", "dropped_tensor_file"]

#: Most elements a tensor in the editor may have (32 MiB of float64): the table stays lazy at any
#: size, but undo keeps copies and every view recomputes on each change.
MAX_ELEMENTS = 4_000_000
#: Bytes of tensor copies the undo history may keep; older steps are dropped beyond it.
UNDO_BYTES = 512 << 20
#: Longest axis the shape controls accept.
MAX_SIDE = 100_000
#: Most axes the shape controls offer.
MAX_NDIM = 6
#: The dtypes the selector offers (a tensor of another real dtype adds its own entry).
DTYPES = ("float64", "float32", "float16", "int64", "int32", "bool")
#: Fill menu: (label, kind of :func:`compute.fills.fill`).
FILLS = (
    ("Zeros", "zeros"),
    ("Ones", "ones"),
    ("Identity (per slice)", "identity"),
    ("Arange 0, 1, 2, …", "arange"),
    ("Random normal (seed)", "normal"),
    ("Random uniform [0, 1) (seed)", "uniform"),
    ("Causal mask (bool, lower triangle)", "causal"),
    ("Padding mask (bool, lengths L, L−1, …)", "padding"),
)

COLUMN_WIDTH = 74
ROW_HEIGHT = 24
ERROR_STYLE = "color: #b3261e;"
NOTICE_STYLE = "color: #44546a;"
_BAD_INPUT_STYLE = "QLineEdit { border: 2px solid #b3261e; background: #fff3f2; }"

_PASTE_REPLACE_KEY = QKeySequence("Ctrl+Shift+V")
_COPY_NUMPY_KEY = QKeySequence("Ctrl+Shift+C")
_REDO_KEYS = (QKeySequence("Ctrl+Shift+Z"), QKeySequence("Ctrl+Y"))


def dropped_tensor_file(mime) -> str | None:
    """The local tensor file (.npy, .npz, .safetensors, .csv, .tsv) a drag carries, or None.

    Only the first URL counts: an input takes one tensor. Files of other types are not accepted at
    all, so the cursor already says "no" before the drop.
    """
    if mime is None or not mime.hasUrls():
        return None
    urls = [u for u in mime.urls() if u.isLocalFile()]
    if not urls:
        return None
    path = urls[0].toLocalFile()
    return path if os.path.splitext(path)[1].lower() in SUPPORTED_EXTENSIONS else None


class _CellDelegate(QStyledItemDelegate):
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
            line.setStyleSheet(_BAD_INPUT_STYLE)
            line.setToolTip(str(exc).replace("value: ", "", 1))
        else:
            line.setStyleSheet("")
            line.setToolTip("")


class _Table(QTableView):
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

    def _command_for(self, event) -> str | None:
        if event.matches(QKeySequence.StandardKey.Copy):
            return "copy"
        if event.matches(QKeySequence.StandardKey.Paste):
            return "paste"
        if event.matches(QKeySequence.StandardKey.Undo):
            return "undo"
        combo = QKeySequence(event.keyCombination())
        if combo == _PASTE_REPLACE_KEY:
            return "paste_replace"
        if combo == _COPY_NUMPY_KEY:
            return "copy_numpy"
        if event.matches(QKeySequence.StandardKey.Redo) or combo in _REDO_KEYS:
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


class MatrixEditor(QWidget):
    """Edit one tensor (0-D to N-d, real or bool) like a spreadsheet.

    Parameters
    ----------
    name : str
        The tensor's name (title, tooltips, "Copy as numpy code").
    array : array-like
        The initial tensor; copied, the editor owns its copy.
    parent : QWidget, optional

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

    def __init__(self, name: str, array, parent=None):
        super().__init__(parent)
        self._name = str(name)
        self._array = self._validated(array)
        self._lead: tuple[int, ...] = (0,) * max(self._array.ndim - 2, 0)
        self._fixed_levels: tuple[float, float] | None = None
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
        self._lead = self._clamp_lead(lead, self._array.shape)
        self._model.set_source(self._array, self._lead)
        self._sync_controls()

    def select_cells(self, row: int, col: int, rows: int = 1, cols: int = 1) -> None:
        """Select a block of the shown slice and make its top-left cell current."""
        sm = self._view.selectionModel()
        top_left = self._model.index(row, col)
        bottom_right = self._model.index(row + rows - 1, col + cols - 1)
        sm.setCurrentIndex(top_left, QItemSelectionModel.SelectionFlag.NoUpdate)
        sm.select(QItemSelection(top_left, bottom_right), QItemSelectionModel.SelectionFlag.ClearAndSelect)

    def paste_text(self, text: str, replace: bool = False) -> bool:
        """Paste ``text`` as Ctrl+V (or "Paste replacing tensor" with ``replace=True``) would.

        Returns
        -------
        bool
            ``True`` when the tensor changed (one undo step); ``False`` when refused, with the
            reason in :attr:`message_changed`.
        """
        try:
            block = parse_matrix_text(text)
        except TextParseError as exc:
            self._refuse(f"Paste refused, nothing changed: {exc}")
            return False
        table = self._model.table()
        block2 = as_table(block)
        whole = self._whole_slice_selected()
        if replace or block.ndim > 2 or (self._array.ndim <= 2 and whole and block2.shape != table.shape):
            return self._paste_replace(block)
        try:
            values = fit_dtype(block2, self._array.dtype, "pasted text")
        except TextParseError as exc:
            self._refuse(
                f"Paste refused, nothing changed: {exc}. Change the dtype first, or use 'Paste replacing tensor'."
            )
            return False
        box = self._selection_box()
        if values.shape == (1, 1) and box is not None and self._selected_count() > 1:
            return self._write_selected(values[0, 0], f"Paste {self._name} into selection")
        r0, c0 = self._anchor()
        h, w = values.shape
        rows, cols = table.shape
        where = index_text(self._name, self._model.full_index(r0, c0))
        if r0 + h <= rows and c0 + w <= cols:
            self._push_region(r0, c0, values, f"Paste {h}×{w} at {where}")
            return True
        return self._paste_growing(values, r0, c0, where)

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

        self._undo_action = QAction("Undo", self)
        self._undo_action.setShortcut(QKeySequence.StandardKey.Undo)
        self._undo_action.triggered.connect(self.undo_stack.undo)
        self._redo_action = QAction("Redo", self)
        self._redo_action.setShortcut(QKeySequence("Ctrl+Shift+Z"))
        self._redo_action.triggered.connect(self.undo_stack.redo)
        self.undo_stack.canUndoChanged.connect(self._undo_action.setEnabled)
        self.undo_stack.canRedoChanged.connect(self._redo_action.setEnabled)
        self.undo_stack.undoTextChanged.connect(lambda t: self._undo_action.setToolTip(f"Undo {t} (Ctrl+Z)"))
        self.undo_stack.redoTextChanged.connect(lambda t: self._redo_action.setToolTip(f"Redo {t} (Ctrl+Shift+Z)"))
        self._undo_action.setEnabled(False)
        self._redo_action.setEnabled(False)

        self._copy_action = QAction("Copy as TSV", self)
        self._copy_action.setShortcut(QKeySequence.StandardKey.Copy)
        self._copy_action.setToolTip("Copy the selection (or the whole slice) as tab-separated text (Ctrl+C)")
        self._copy_action.triggered.connect(lambda: self._run_command("copy"))
        self._copy_numpy_action = QAction("Copy as numpy code", self)
        self._copy_numpy_action.setShortcut(_COPY_NUMPY_KEY)
        self._copy_numpy_action.setToolTip("Copy the whole tensor as np.array(...) code (Ctrl+Shift+C)")
        self._copy_numpy_action.triggered.connect(lambda: self._run_command("copy_numpy"))
        self._paste_action = QAction("Paste at current cell", self)
        self._paste_action.setShortcut(QKeySequence.StandardKey.Paste)
        self._paste_action.setToolTip(
            "Paste TSV / CSV / numpy text with its top-left corner at the current cell (Ctrl+V); "
            "with every cell selected, a block of another shape replaces the tensor"
        )
        self._paste_action.triggered.connect(lambda: self._run_command("paste"))
        self._paste_replace_action = QAction("Paste replacing tensor", self)
        self._paste_replace_action.setShortcut(_PASTE_REPLACE_KEY)
        self._paste_replace_action.setToolTip("Replace the whole tensor by the pasted one, shape included")
        self._paste_replace_action.triggered.connect(lambda: self._run_command("paste_replace"))
        self._clear_action = QAction("Clear cells (set to 0)", self)
        self._clear_action.setShortcut(QKeySequence(Qt.Key.Key_Delete))
        self._clear_action.triggered.connect(lambda: self._run_command("clear"))
        self._load_action = QAction("Load from file…", self)
        self._load_action.setToolTip("Replace the tensor by one read from .npy, .npz, .safetensors, .csv or .tsv "
                                     "(Ctrl+Z undoes); dropping a file here does the same")
        self._load_action.triggered.connect(lambda: self.load_requested.emit(""))
        self._save_action = QAction("Save tensor…", self)
        self._save_action.setToolTip("Save the tensor as .npy, .npz, .safetensors, .csv or .tsv")
        self._save_action.triggered.connect(lambda: self.save_requested.emit())
        # The keys themselves are handled by the table (it claims them); the shortcuts above are
        # shown in menus only, so they must not fire from elsewhere in a window.
        for act in (self._undo_action, self._redo_action, self._copy_action, self._copy_numpy_action,
                    self._paste_action, self._paste_replace_action, self._clear_action):
            act.setShortcutContext(Qt.ShortcutContext.WidgetShortcut)
            act.setShortcutVisibleInContextMenu(True)

        self._fill_menu = QMenu("Fill", self)
        for label, kind in FILLS:
            act = self._fill_menu.addAction(label)
            act.triggered.connect(lambda _=False, kind=kind: self.apply_fill(kind))
        self._fill_button = QToolButton()
        self._fill_button.setText("Fill")
        self._fill_button.setMenu(self._fill_menu)
        self._fill_button.setPopupMode(QToolButton.ToolButtonPopupMode.InstantPopup)
        self._fill_button.setToolTip("Fill the whole tensor (every slice); random fills use the seed")
        self._seed = QSpinBox()
        self._seed.setRange(0, 2**31 - 1)
        self._seed.setValue(0)
        self._seed.setToolTip("Seed of the random fills: the same seed gives the same numbers")
        self._seed.setMinimumWidth(64)
        self._seed.setMaximumWidth(110)

        self._dtype_box = QComboBox()
        self._dtype_box.setToolTip("dtype: converting says which values change (Ctrl+Z undoes)")
        self._dtype_box.activated.connect(lambda _i: self.set_dtype(self._dtype_box.currentText()))

        copy_button = QToolButton()
        copy_button.setDefaultAction(self._copy_action)
        copy_button.setText("Copy")
        copy_menu = QMenu(copy_button)
        copy_menu.addAction(self._copy_action)
        copy_menu.addAction(self._copy_numpy_action)
        copy_button.setMenu(copy_menu)
        copy_button.setPopupMode(QToolButton.ToolButtonPopupMode.MenuButtonPopup)
        paste_button = QToolButton()
        paste_button.setDefaultAction(self._paste_action)
        paste_button.setText("Paste")
        paste_menu = QMenu(paste_button)
        paste_menu.addAction(self._paste_action)
        paste_menu.addAction(self._paste_replace_action)
        paste_button.setMenu(paste_menu)
        paste_button.setPopupMode(QToolButton.ToolButtonPopupMode.MenuButtonPopup)
        undo_button = QToolButton()
        undo_button.setDefaultAction(self._undo_action)
        redo_button = QToolButton()
        redo_button.setDefaultAction(self._redo_action)
        self._buttons = (copy_button, paste_button, undo_button, redo_button)

        top = QHBoxLayout()
        top.setContentsMargins(0, 0, 0, 0)
        top.addWidget(self._title, 1)
        for b in (undo_button, redo_button, copy_button, paste_button):
            b.setAutoRaise(False)
            top.addWidget(b)

        # Shape: one spin box per axis ("2 × 3 × 4") and the number of axes.
        self._shape_row = QHBoxLayout()
        self._shape_row.setContentsMargins(0, 0, 0, 0)
        self._shape_row.setSpacing(2)
        self._shape_spins: list[QSpinBox] = []
        self._shape_host = QWidget()
        self._shape_host.setLayout(self._shape_row)
        self._ndim_spin = QSpinBox()
        self._ndim_spin.setRange(0, MAX_NDIM)
        self._ndim_spin.setKeyboardTracking(False)
        self._ndim_spin.setToolTip("Number of axes: more adds leading axes of size 1; fewer keeps the first slice")
        self._ndim_spin.valueChanged.connect(self._on_ndim_spin)

        controls = QHBoxLayout()
        controls.setContentsMargins(0, 0, 0, 0)
        controls.addWidget(QLabel("Shape"))
        controls.addWidget(self._shape_host)
        controls.addSpacing(6)
        controls.addWidget(QLabel("axes"))
        controls.addWidget(self._ndim_spin)
        controls.addSpacing(10)
        controls.addWidget(QLabel("dtype"))
        controls.addWidget(self._dtype_box)
        controls.addStretch(1)
        controls.addWidget(self._fill_button)
        controls.addWidget(QLabel("seed"))
        controls.addWidget(self._seed)

        # Slice selectors for the leading axes of an N-d tensor.
        self._slice_host = QWidget()
        self._slice_row = QHBoxLayout(self._slice_host)
        self._slice_row.setContentsMargins(0, 0, 0, 0)
        self._slice_row.setSpacing(2)
        self._slice_spins: list[QSpinBox] = []

        self._view = _Table(self)
        self._view.setModel(self._model)
        self._view.setItemDelegate(_CellDelegate(self))
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
        layout.addWidget(self._slice_host)
        layout.addWidget(self._view, 1)
        layout.addWidget(self._status)
        # Drops over the table reach the editor: the table itself does not accept drops.
        self.setAcceptDrops(True)

    def _hint(self) -> str:
        return "Type to edit · Ctrl+V pastes TSV/CSV/numpy text at the current cell · Ctrl+Z undoes"

    def _show_context_menu(self, pos) -> None:
        menu = self.context_menu()
        menu.exec(self._view.viewport().mapToGlobal(pos))
        menu.deleteLater()

    def context_menu(self) -> QMenu:
        """The table's right-click menu (built afresh each time; the caller runs and deletes it)."""
        menu = QMenu(self)
        menu.addAction(self._copy_action)
        menu.addAction(self._copy_numpy_action)
        menu.addSeparator()
        menu.addAction(self._paste_action)
        menu.addAction(self._paste_replace_action)
        menu.addAction(self._clear_action)
        menu.addSeparator()
        menu.addMenu(self._fill_menu)
        menu.addSeparator()
        menu.addAction(self._undo_action)
        menu.addAction(self._redo_action)
        menu.addSeparator()
        menu.addAction(self._load_action)
        menu.addAction(self._save_action)
        return menu

    # ================================================================== files dropped on the editor

    def dragEnterEvent(self, event) -> None:  # noqa: N802 - Qt's name
        if dropped_tensor_file(event.mimeData()) is not None:
            event.acceptProposedAction()
        else:
            event.ignore()

    def dragMoveEvent(self, event) -> None:  # noqa: N802 - Qt's name
        self.dragEnterEvent(event)

    def dropEvent(self, event) -> None:  # noqa: N802 - Qt's name
        path = dropped_tensor_file(event.mimeData())
        if path is None:
            event.ignore()
            return
        event.acceptProposedAction()
        self.load_requested.emit(path)

    # ================================================================== controls <-> tensor

    def _sync_controls(self) -> None:
        """Make title, shape, slice and dtype controls show the tensor (signals blocked: this is
        display, not a user change)."""
        a = self._array
        self._title.setText(
            f"<b style='font-size:13pt'>{self._name}</b>&nbsp;&nbsp;"
            f"<span style='color:#555'>{fmt_shape(a.shape)} · {a.dtype.name}</span>"
        )
        self.setWindowTitle(f"{self._name} {fmt_shape(a.shape)} {a.dtype.name}")

        if len(self._shape_spins) != a.ndim:
            self._rebuild_shape_spins(a.ndim)
        for axis, spin in enumerate(self._shape_spins):
            spin.blockSignals(True)
            spin.setRange(min(1, a.shape[axis]), max(MAX_SIDE, a.shape[axis]))
            spin.setValue(a.shape[axis])
            spin.blockSignals(False)
        self._ndim_spin.blockSignals(True)
        self._ndim_spin.setMaximum(max(MAX_NDIM, a.ndim))
        self._ndim_spin.setValue(a.ndim)
        self._ndim_spin.blockSignals(False)

        lead_axes = max(a.ndim - 2, 0)
        if len(self._slice_spins) != lead_axes:
            self._rebuild_slice_spins(lead_axes)
        for axis, spin in enumerate(self._slice_spins):
            spin.blockSignals(True)
            spin.setRange(0, max(a.shape[axis] - 1, 0))
            spin.setValue(self._lead[axis])
            spin.blockSignals(False)
        self._slice_host.setVisible(lead_axes > 0)
        if lead_axes:
            self._slice_name.setText(f"{self._name}[")
            n_slices = math.prod(a.shape[:lead_axes])
            self._slice_count.setText(f"one of {n_slices} slices of {fmt_shape(a.shape[-2:])}")

        self._dtype_box.blockSignals(True)
        self._dtype_box.clear()
        names = list(DTYPES)
        if a.dtype.name not in names:
            names.append(a.dtype.name)
        self._dtype_box.addItems(names)
        self._dtype_box.setCurrentText(a.dtype.name)
        self._dtype_box.blockSignals(False)

    def _rebuild_shape_spins(self, ndim: int) -> None:
        while self._shape_row.count():
            item = self._shape_row.takeAt(0)
            if item.widget() is not None:
                item.widget().hide()  # deleteLater only acts in the event loop; hide it now
                item.widget().deleteLater()
        self._shape_spins = []
        if ndim == 0:
            self._shape_row.addWidget(QLabel("() scalar"))
            return
        names = [f"axis {i}" for i in range(ndim - 2)] + (["rows", "columns"] if ndim >= 2 else ["length"])
        for axis in range(ndim):
            if axis:
                self._shape_row.addWidget(QLabel("×"))
            spin = QSpinBox()
            spin.setRange(1, MAX_SIDE)
            spin.setKeyboardTracking(False)  # one resize per Enter, not one per digit typed
            spin.setToolTip(f"{names[axis]} (axis {axis}): growing pads with zeros, shrinking crops")
            spin.setAccelerated(True)
            spin.setMaximumWidth(84)
            spin.valueChanged.connect(self._on_shape_spin)
            self._shape_row.addWidget(spin)
            self._shape_spins.append(spin)

    def _rebuild_slice_spins(self, lead_axes: int) -> None:
        while self._slice_row.count():
            item = self._slice_row.takeAt(0)
            if item.widget() is not None:
                item.widget().hide()
                item.widget().deleteLater()
        self._slice_spins = []
        if not lead_axes:
            return
        self._slice_row.addWidget(QLabel("Slice  "))
        self._slice_name = QLabel(f"{self._name}[")
        self._slice_row.addWidget(self._slice_name)
        for axis in range(lead_axes):
            spin = QSpinBox()
            spin.setWrapping(True)
            spin.setToolTip(f"Index along axis {axis}: the table shows one 2-D slice at a time")
            spin.valueChanged.connect(self._on_slice_spin)
            self._slice_row.addWidget(spin)
            self._slice_row.addWidget(QLabel(","))
            self._slice_spins.append(spin)
        self._slice_row.addWidget(QLabel(":, :]"))
        self._slice_count = QLabel()
        self._slice_count.setStyleSheet("color: #555;")
        self._slice_row.addSpacing(8)
        self._slice_row.addWidget(self._slice_count)
        self._slice_row.addStretch(1)

    def _on_shape_spin(self, _value: int) -> None:
        self.set_shape(tuple(s.value() for s in self._shape_spins))

    def _on_ndim_spin(self, ndim: int) -> None:
        a = self._array
        if ndim > a.ndim:
            shape = (1,) * (ndim - a.ndim) + a.shape
        else:
            shape = a.shape[a.ndim - ndim:]
        self.set_shape(shape)

    def _on_slice_spin(self, _value: int) -> None:
        self.set_slice(tuple(s.value() for s in self._slice_spins))

    # ================================================================== changes (via undo commands)

    def _validated(self, a) -> np.ndarray:
        arr = np.asarray(a)
        if arr.dtype.kind not in "biuf":
            raise InputError(
                f"{self._name}: dtype {arr.dtype} cannot be edited; use a float, integer or bool tensor"
            )
        problem = self._size_problem(arr.shape, resizing=False)
        if problem:
            raise InputError(f"{self._name}: {problem}")
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
        self.undo_stack.push(command)
        dropped = trim_history(self.undo_stack, UNDO_BYTES)
        if dropped:
            self._notice(f"The {dropped} oldest undo step{'s' if dropped != 1 else ''} of {self._name} were "
                         f"dropped to keep the undo memory under {UNDO_BYTES >> 20} MiB.")

    def _push_replace(self, new: np.ndarray, text: str) -> None:
        lead_new = self._clamp_lead(self._lead, new.shape)
        self._push(ReplaceCommand(self, self._array.copy(), new, text, self._lead, lead_new))

    def _push_region(self, row: int, col: int, values: np.ndarray, text: str) -> None:
        h, w = values.shape
        old = self._model.table()[row:row + h, col:col + w].copy()
        new = np.array(values, dtype=self._array.dtype)
        self._push(RegionCommand(self, self._lead, row, col, old, new, text))

    def _write_cell(self, row: int, col: int, value) -> None:
        where = index_text(self._name, self._model.full_index(row, col))
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
        self.array_changed.emit(self._array.copy())

    def _update_levels(self) -> None:
        if self._fixed_levels is not None:
            self._model.set_levels(*self._fixed_levels)
        else:
            self._model.set_levels(*finite_levels(np, self._array))

    # ================================================================== paste helpers

    def _paste_replace(self, block: np.ndarray) -> bool:
        problem = self._size_problem(block.shape, resizing=False)
        if problem:
            self._refuse(f"Paste refused, nothing changed: the pasted tensor's {problem}")
            return False
        notice = ""
        try:
            new = fit_dtype(block, self._array.dtype)
        except TextParseError as exc:
            new = block
            notice = f"{self._name} is now float64: the pasted values do not fit {self._array.dtype.name} ({exc})."
        self._push_replace(new, f"Paste replacing {self._name} by {fmt_shape(new.shape)}")
        self._notice(notice or f"{self._name} replaced by the pasted tensor {fmt_shape(new.shape)}.")
        return True

    def _paste_growing(self, values: np.ndarray, r0: int, c0: int, where: str) -> bool:
        a = self._array
        rows, cols = self._model.table().shape
        h, w = values.shape
        rows2, cols2 = max(rows, r0 + h), max(cols, c0 + w)
        if a.ndim >= 2:
            shape = a.shape[:-2] + (rows2, cols2)
        elif rows2 == 1:
            shape = (cols2,)
        else:
            shape = (rows2, cols2)  # a vector (or scalar) receiving several rows becomes a matrix
        problem = self._size_problem(shape)
        if problem:
            self._refuse(f"Paste refused, nothing changed: growing {self._name} to fit would give {problem}")
            return False
        try:
            base = a if a.ndim >= 2 else as_table(a)
            grown = resize(base, shape if a.ndim >= 2 else (rows2, cols2))
        except (InputError, BudgetError) as exc:
            self._refuse(f"Paste refused, nothing changed: {exc}")
            return False
        as_table(grown, self._lead)[r0:r0 + h, c0:c0 + w] = values
        new = grown.reshape(shape)
        self._push_replace(new, f"Paste {h}×{w} at {where}, growing {self._name} to {fmt_shape(shape)}")
        self._notice(f"{self._name} grew from {fmt_shape(a.shape)} to {fmt_shape(shape)} to fit the pasted {h}×{w} "
                     "block (new cells are 0). Ctrl+Z undoes.")
        return True

    def _write_selected(self, value, text: str) -> bool:
        box = self._selection_box()
        if box is None:
            return False
        r0, c0, r1, c1 = box
        old = self._model.table()[r0:r1, c0:c1].copy()
        new = old.copy()
        for rng in self._view.selectionModel().selection():
            new[rng.top() - r0: rng.bottom() + 1 - r0, rng.left() - c0: rng.right() + 1 - c0] = value
        self._push(RegionCommand(self, self._lead, r0, c0, old, new, text))
        return True

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

    # ================================================================== keys, messages

    def _run_command(self, command: str) -> None:
        if command == "copy":
            QGuiApplication.clipboard().setText(self.copy_text())
            self._notice("Copied the selection as tab-separated text." if self._selection_box() else
                         "Copied the slice as tab-separated text.")
        elif command == "copy_numpy":
            QGuiApplication.clipboard().setText(self.copy_numpy_text())
            self._notice(f"Copied {self._name} as numpy code.")
        elif command in ("paste", "paste_replace"):
            text = QGuiApplication.clipboard().text()
            self.paste_text(text, replace=command == "paste_replace")
        elif command == "undo":
            self.undo_stack.undo()
        elif command == "redo":
            self.undo_stack.redo()
        elif command == "clear":
            self.clear_selection_values()

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
