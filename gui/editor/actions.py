"""The editor's actions (undo, redo, copy, paste, clear, fill, load, save): the toolbar buttons, the
right-click menu, and the commands the grid's keys run."""

from __future__ import annotations

from PySide6.QtCore import Qt
from PySide6.QtGui import QAction, QGuiApplication, QKeySequence
from PySide6.QtWidgets import QMenu, QToolButton

from .grid import COPY_NUMPY_KEY, PASTE_REPLACE_KEY
from .options import FILLS

__all__ = ["EditorActions"]


class EditorActions:
    """Mixin for :class:`~gui.editor.MatrixEditor`: its actions, buttons, context menu and key commands."""

    def _build_actions(self) -> None:
        """The actions (shared by buttons and menus) and the Fill menu; needs the host's ``undo_stack``."""
        self._undo_action = QAction("Undo", self)
        self._undo_action.setShortcut(QKeySequence.StandardKey.Undo)
        self._undo_action.triggered.connect(self.undo_stack.undo)
        self._redo_action = QAction("Redo", self)
        self._redo_action.setShortcut(QKeySequence("Ctrl+Shift+Z"))
        self._redo_action.triggered.connect(self.undo_stack.redo)
        self.undo_stack.canUndoChanged.connect(self._undo_action.setEnabled)
        self.undo_stack.canRedoChanged.connect(self._redo_action.setEnabled)
        # Methods, not lambdas: a workspace history outlives its editors, and Qt disconnects a
        # destroyed editor's methods but not a lambda.
        self.undo_stack.undoTextChanged.connect(self._undo_text_changed)
        self.undo_stack.redoTextChanged.connect(self._redo_text_changed)
        self._undo_action.setEnabled(False)
        self._redo_action.setEnabled(False)

        self._copy_action = QAction("Copy as TSV", self)
        self._copy_action.setShortcut(QKeySequence.StandardKey.Copy)
        self._copy_action.setToolTip("Copy the selection (or the whole slice) as tab-separated text (Ctrl+C)")
        self._copy_action.triggered.connect(lambda: self._run_command("copy"))
        self._copy_numpy_action = QAction("Copy as numpy code", self)
        self._copy_numpy_action.setShortcut(COPY_NUMPY_KEY)
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
        self._paste_replace_action.setShortcut(PASTE_REPLACE_KEY)
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

    def _undo_text_changed(self, text: str) -> None:
        self._undo_action.setToolTip(f"Undo {text} (Ctrl+Z)")

    def _redo_text_changed(self, text: str) -> None:
        self._redo_action.setToolTip(f"Redo {text} (Ctrl+Shift+Z)")

    def _build_action_buttons(self) -> tuple[QToolButton, ...]:
        """The undo, redo, copy and paste buttons of the title row (copy and paste with a menu)."""
        copy_button = _menu_button(self._copy_action, "Copy", (self._copy_action, self._copy_numpy_action))
        paste_button = _menu_button(self._paste_action, "Paste", (self._paste_action, self._paste_replace_action))
        undo_button = QToolButton()
        undo_button.setDefaultAction(self._undo_action)
        redo_button = QToolButton()
        redo_button.setDefaultAction(self._redo_action)
        self._buttons = (copy_button, paste_button, undo_button, redo_button)
        return undo_button, redo_button, copy_button, paste_button

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

    def _run_command(self, command: str) -> None:
        """Run a command named by the grid's keys (:meth:`.grid.EditorGrid._command_for`) or an action."""
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


def _menu_button(default, text: str, actions) -> QToolButton:
    """A button that runs ``default`` on a click and offers ``actions`` in its drop-down menu."""
    button = QToolButton()
    button.setDefaultAction(default)
    button.setText(text)
    menu = QMenu(button)
    for action in actions:
        menu.addAction(action)
    button.setMenu(menu)
    button.setPopupMode(QToolButton.ToolButtonPopupMode.MenuButtonPopup)
    return button
