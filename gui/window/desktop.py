"""The window's desktop conventions: Edit › Undo / Redo, the speed and loop keys of the Playback
menu, and the Help menu (keyboard shortcuts, About).

Undo and Redo act on the whole workspace: the window's document keeps one history of every edit
of every input, parameter, step option and operation (:mod:`compute.document`), seen through
:class:`gui.editor.history.WorkspaceUndo`; the menu entries say what they undo ("Undo Edit A[0, 1]")
and are greyed out when there is nothing to undo. With the focus in an editor's table (or any text
field) the keys stay there (the table claims them), so they never act twice.
"""

from __future__ import annotations

from PySide6.QtCore import QObject
from PySide6.QtGui import QAction, QKeySequence
from PySide6.QtWidgets import QToolButton

from .help_dialogs import AboutDialog, ShortcutsDialog

#: How long the status bar shows a new speed or loop state.
FLASH_MS = 2500


class DesktopActions(QObject):
    """Builds the Edit, Playback and Help entries of ``window`` and runs them.

    Parameters
    ----------
    window : MainWindow
        The window (its panels, player and menu bar exist already).
    edit_menu, playback_menu : QMenu
        The (empty) Edit menu, and the Playback menu to add the speed and loop entries to.

    Attributes
    ----------
    undo_history : WorkspaceUndo
        The window's workspace history (``window.undo_history``), which Undo and Redo drive.
    undo_action, redo_action, faster_action, slower_action, loop_action, shortcuts_action, about_action : QAction
    help_menu : QMenu
    """

    def __init__(self, window, edit_menu, playback_menu):
        super().__init__(window)
        self.window = window
        self._shortcuts_dialog: ShortcutsDialog | None = None
        self._about_dialog: AboutDialog | None = None

        # --- Edit ---------------------------------------------------------------------------------
        self.undo_history = window.undo_history
        self.undo_action = self._action("&Undo", [QKeySequence.StandardKey.Undo], self.undo_history.undo, edit_menu,
                                        tip="Undo the last change (an input, a parameter, the operation...)")
        # Ctrl+Shift+Z is Linux's and macOS's redo, Ctrl+Y Windows': accept both everywhere.
        self.redo_action = self._action("&Redo", ["Ctrl+Shift+Z", "Ctrl+Y"], self.undo_history.redo, edit_menu,
                                        tip="Redo the last change undone")
        for act, label in ((self.undo_action, "Undo"), (self.redo_action, "Redo")):
            act.setProperty("shortcut_label", label)  # the text changes ("Undo Paste"); the list keeps this
            act.setEnabled(False)
        g = self.undo_history
        g.canUndoChanged.connect(self.undo_action.setEnabled)
        g.canRedoChanged.connect(self.redo_action.setEnabled)
        g.undoTextChanged.connect(lambda t: self.undo_action.setText(f"&Undo {t}" if t else "&Undo"))
        g.redoTextChanged.connect(lambda t: self.redo_action.setText(f"&Redo {t}" if t else "&Redo"))
        self.undo_action.setEnabled(g.canUndo())
        self.redo_action.setEnabled(g.canRedo())

        # --- Playback -----------------------------------------------------------------------------
        playback_menu.addSeparator()
        self.faster_action = self._action("Faster", ["]", "Ctrl+Up"], self.faster, playback_menu,
                                          tip="Play faster (next speed up)")
        self.slower_action = self._action("Slower", ["[", "Ctrl+Down"], self.slower, playback_menu,
                                          tip="Play slower (next speed down)")
        self.loop_action = self._action("Loop", ["L"], None, playback_menu,
                                        tip="Start again from the first step at the end")
        self.loop_action.setCheckable(True)
        loop_box = window.animation.loop
        self.loop_action.setChecked(loop_box.isChecked())
        # One state, two controls: the menu entry and the panel's check box follow each other.
        self.loop_action.toggled.connect(self._loop_toggled)
        loop_box.toggled.connect(self.loop_action.setChecked)

        # --- Help ---------------------------------------------------------------------------------
        self.help_menu = window.menuBar().addMenu("&Help")
        self.shortcuts_action = self._action("&Keyboard Shortcuts…", ["F1"], self.show_shortcuts, self.help_menu,
                                             tip="Every key of the window")
        self.help_menu.addSeparator()
        self.about_action = self._action("&About OpScope", [], self.show_about, self.help_menu,
                                         tip="Version, backend and the versions of the libraries in use")
        self.about_action.setMenuRole(QAction.AboutRole)

        # The menu bar's overflow button (shown when the window is too narrow for every menu) is
        # icon-only and nameless in Qt: name it for screen readers.
        for button in window.menuBar().findChildren(QToolButton):
            if not button.text() and not button.accessibleName():
                button.setAccessibleName("More menus")
                button.setToolTip("More menus")

    def _action(self, text, keys, slot, menu, tip="") -> QAction:
        a = QAction(text, self.window)
        a.setShortcuts([QKeySequence(k) for k in keys])
        if slot is not None:
            a.triggered.connect(lambda _checked=False: slot())
        if tip:
            a.setStatusTip(tip)
            a.setToolTip(tip)
        menu.addAction(a)
        self.window.addAction(a)  # active whenever the window is, also with the menu bar hidden (full screen)
        return a

    # ------------------------------------------------------------------------------------------
    def faster(self) -> None:
        """Playback › Faster: the next speed up, said in the status bar."""
        self._flash_speed(self.window.animation.speed_up())

    def slower(self) -> None:
        """Playback › Slower: the next speed down, said in the status bar."""
        self._flash_speed(self.window.animation.slow_down())

    def _flash_speed(self, speed: float) -> None:
        self.window.status.flash(f"Speed: {speed:g} steps/s", FLASH_MS)

    def _loop_toggled(self, on: bool) -> None:
        box = self.window.animation.loop
        if box.isChecked() != on:
            box.setChecked(on)  # emits loop_changed: the clock follows
            self.window.status.flash("Loop on" if on else "Loop off", FLASH_MS)

    def show_shortcuts(self) -> ShortcutsDialog:
        """Help › Keyboard Shortcuts (one dialog, raised when already open); returns it."""
        if self._shortcuts_dialog is None:
            self._shortcuts_dialog = ShortcutsDialog(self.window)
        d = self._shortcuts_dialog
        if d.isVisible():
            d.refresh()
        d.show()
        d.raise_()
        d.activateWindow()
        return d

    def show_about(self) -> AboutDialog:
        """Help › About OpScope (window-modal, not blocking); returns the dialog."""
        if self._about_dialog is None:
            self._about_dialog = AboutDialog(self.window)
        self._about_dialog.open()
        return self._about_dialog
