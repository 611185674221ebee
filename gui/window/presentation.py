"""Presentation mode, and the keys of a lecture: the clicker and the keyboard drive the animation
wherever the focus is.

:class:`Presentation` belongs to the main window (``window.presentation``) and owns:

- **Presentation mode** (F5, Shift+F5, View › Presentation mode, the header's *Present* button):
  full screen; the menu bar, side panels, status bar, restore bar and program bar hidden; the
  player slimmed to its buttons, slider and read-out (the room sees "step 3 / 5 · masked"); the
  header and caption in :class:`~gui.window.widgets.ProjectorFonts` (large type scaled with the
  window height), the window in :func:`~gui.window.widgets.projector_palette` (black on white,
  whatever the desktop theme); the caption box of a fixed height.
  Everything hidden comes back as it was when the mode is left.
- **Esc**, in this order: cancel a run being computed (``window.cancel_run()``); give the keys back
  from a text field (the focus goes to the canvas); leave presentation mode; leave F11 full screen.
- **B or "."** blacks the screen, **W** whitens it (PowerPoint's and Keynote's keys, and what
  clickers send), in presentation mode; any key or click brings the picture back.
- **Who gets a key.** PageDown, →, Space (play) and PageUp, ←, Home, End drive the animation
  whatever widget has the focus: a table of the inputs panel, a combo box, a button, the mistake
  view, a spin box whose arrows were clicked. They stay with the focus widget only while the user
  is typing there:

  ===============================================  =================================================
  focus                                            the navigation keys go to
  ===============================================  =================================================
  a table's cell editor is open (typing a value)   the editor (all keys; Esc cancels the edit)
  a spin box with typed, not yet committed text    the spin box (all keys; Enter commits)
  a text field: the program editor, a line edit    the field for ←, →, Home, End, Space; the
                                                   clicker's PageDown / PageUp step the animation
  anything else                                    the animation
  ===============================================  =================================================

  A printable character typed into a side panel (a digit or "l" into a table cell) is typed there,
  not taken by the window's one-key shortcuts (loop, faster); elsewhere it is the shortcut.

Keys reach a window's shortcuts unless the focus widget claims them in its ``ShortcutOverride``
event (QLineEdit, QPlainTextEdit and item views claim the arrows and Space); so the window puts an
event filter on whichever of its widgets has the focus and decides there.

:func:`take_presentation_screenshot` renders the window offscreen at an exact size, in presentation
mode, and writes the canvas's layout report (``main.py --present --size WxH --layout-report``).
"""

from __future__ import annotations

import json
import sys

from PySide6.QtCore import QEvent, QObject, QSize, Qt
from PySide6.QtGui import QAction, QColor, QFont, QKeySequence, QPalette
from PySide6.QtWidgets import (
    QAbstractItemView,
    QAbstractSpinBox,
    QApplication,
    QComboBox,
    QDoubleSpinBox,
    QLineEdit,
    QPlainTextEdit,
    QSpinBox,
    QTextEdit,
    QWidget,
)

from .widgets import ProjectorFonts, projector_palette

#: Keys that step or play the animation (no modifier, keypad allowed).
NAV_KEYS = frozenset({Qt.Key_Space, Qt.Key_Left, Qt.Key_Right, Qt.Key_Home, Qt.Key_End, Qt.Key_PageUp,
                      Qt.Key_PageDown})
#: What clickers send for next / back: they step the animation even from a text field.
CLICKER_KEYS = frozenset({Qt.Key_PageUp, Qt.Key_PageDown})

#: Who gets a key (see the module docstring).
ANIMATION = "animation"
WIDGET = "widget"

BLANK_COLORS = {"black": QColor("#000000"), "white": QColor("#ffffff")}


def types_text(event) -> bool:
    """Whether ``event`` types a plain character ("l", "]", "5"): a value in a table cell, not the
    one-key shortcut (loop, faster) it is elsewhere; with Ctrl, Alt or Meta it is a shortcut again."""
    held = event.modifiers() & (Qt.ControlModifier | Qt.AltModifier | Qt.MetaModifier)
    return bool(event.text()) and event.text().isprintable() and not held


def cell_editing(widget: QWidget | None) -> bool:
    """Whether ``widget`` is an open cell editor of an item view (the user is typing a value)."""
    p = widget.parentWidget() if widget is not None else None
    while p is not None:
        if isinstance(p, QAbstractItemView):
            return p.state() == QAbstractItemView.EditingState
        p = p.parentWidget()
    return False


def spin_typing(widget: QWidget | None) -> bool:
    """Whether ``widget`` is a spin box holding typed text that is not its value yet (Enter or
    leaving the box commits it). A spin box focused by a click on its arrows is not typing."""
    if not isinstance(widget, QAbstractSpinBox) or widget.lineEdit() is None:
        return False
    text = widget.lineEdit().text()
    if isinstance(widget, (QSpinBox, QDoubleSpinBox)):
        if widget.specialValueText() and widget.value() == widget.minimum():
            return text != widget.specialValueText()
        return text != widget.prefix() + widget.textFromValue(widget.value()) + widget.suffix()
    return widget.lineEdit().isModified()


def text_field(widget: QWidget | None) -> bool:
    """Whether ``widget`` is a writable text field (the program editor, a line edit, an editable combo
    box), where the arrows, Home, End and Space edit text."""
    if isinstance(widget, QLineEdit):
        return not widget.isReadOnly()
    if isinstance(widget, (QPlainTextEdit, QTextEdit)):
        return not widget.isReadOnly()
    if isinstance(widget, QComboBox):
        return widget.isEditable()
    return False


def key_owner(widget: QWidget | None, event, *, in_panels: bool) -> str | None:
    """Who gets the key ``event`` with ``widget`` focused: :data:`ANIMATION` (the window's shortcut),
    :data:`WIDGET` (the widget, no shortcut), or None (Qt decides as usual).

    ``in_panels`` says whether the widget is in a side panel, where typed characters are values.
    """
    if cell_editing(widget) or spin_typing(widget):
        return WIDGET
    mods = event.modifiers() & ~Qt.KeypadModifier
    key = event.key()
    if key in NAV_KEYS and mods == Qt.NoModifier:
        if text_field(widget) and key not in CLICKER_KEYS:
            return WIDGET
        return ANIMATION
    if key == Qt.Key_Escape and mods == Qt.NoModifier:
        return ANIMATION
    if in_panels and types_text(event):
        return WIDGET
    return None


class _Blank(QWidget):
    """A black (or white) sheet over the whole window; any key or click takes it away."""

    def __init__(self, owner: Presentation, parent: QWidget):
        super().__init__(parent)
        self._owner = owner
        self.setAutoFillBackground(True)
        self.setFocusPolicy(Qt.StrongFocus)
        self.setCursor(Qt.BlankCursor)
        self.hide()

    def paint_with(self, color: QColor) -> None:
        pal = self.palette()
        pal.setColor(QPalette.Window, color)
        self.setPalette(pal)

    def event(self, event) -> bool:
        if event.type() == QEvent.ShortcutOverride:
            event.accept()  # every key is ours while blank: no shortcut acts behind the sheet
            return True
        return super().event(event)

    def keyPressEvent(self, event) -> None:  # noqa: N802 - Qt's name
        event.accept()
        self._owner.unblank()

    def mousePressEvent(self, event) -> None:  # noqa: N802 - Qt's name
        event.accept()
        self._owner.unblank()


class Presentation(QObject):
    """Presentation mode, the blank screens, Esc and the routing of keys of ``window``.

    Parameters
    ----------
    window : MainWindow
        Its header, caption bar, player, docks and program bar exist already; it has the signal
        ``presentation_changed(bool)``.
    view_menu : QMenu
        The View menu, which gets the entries.

    Attributes
    ----------
    present_action, black_action, white_action, escape_action : QAction
    present_button : QToolButton
        The header's *Present* button (hidden while presenting).
    """

    def __init__(self, window, view_menu):
        super().__init__(window)
        self.window = window
        self._presenting = False
        self._full_screen = False
        self._saved: dict = {}
        self._fonts: ProjectorFonts | None = None
        self._blank_color: str | None = None
        self._focus_before_blank: QWidget | None = None
        self._blank = _Blank(self, window)

        view_menu.addSeparator()
        self.present_action = self._action("&Presentation mode", ["F5", "Shift+F5"],
                                           lambda: self.set_presenting(True), view_menu,
                                           "Full screen for a lecture: large type, panels hidden (Esc leaves)")
        self.present_action.setCheckable(True)
        self.black_action = self._action("&Black screen", ["B", "."], lambda: self.blank("black"), view_menu,
                                         "In presentation mode: a black screen (any key or click returns)")
        self.white_action = self._action("&White screen", ["W"], lambda: self.blank("white"), view_menu,
                                         "In presentation mode: a white screen (any key or click returns)")
        for a in (self.black_action, self.white_action):
            a.setEnabled(False)
        self.escape_action = self._action("Cancel / leave presentation or full screen", ["Esc"], self.escape, None,
                                          "Cancel a computation; leave a text field, presentation mode or full screen")
        self.present_button = window.header.add_button(self.present_action)
        self.present_button.setText("Present")
        self.present_button.setToolTip("Presentation mode (F5)")
        self.present_button.setToolButtonStyle(Qt.ToolButtonTextOnly)

        window.installEventFilter(self)  # resizes: the projector type follows the window height
        QApplication.instance().focusChanged.connect(self._focus_changed)

    def _action(self, text, keys, slot, menu, tip) -> QAction:
        a = QAction(text, self.window)
        a.setShortcuts([QKeySequence(k) for k in keys])
        a.triggered.connect(lambda _checked=False: slot())
        a.setStatusTip(tip)
        a.setToolTip(tip)
        if menu is not None:
            menu.addAction(a)
        self.window.addAction(a)  # active whenever the window is, also with the menu bar hidden
        return a

    # ------------------------------------------------------------------------------------------
    # presentation mode
    @property
    def presenting(self) -> bool:
        return self._presenting

    def set_presenting(self, on: bool, *, full_screen: bool = True) -> None:
        """Enter (``on``) or leave presentation mode; ``full_screen=False`` keeps the window's size
        (offscreen screenshots at an exact size). Emits ``window.presentation_changed``."""
        on = bool(on)
        if on == self._presenting:
            self.present_action.setChecked(on)
            return
        if on:
            self._enter(full_screen)
        else:
            self._leave()
        self.present_action.setChecked(on)
        self.window.presentation_changed.emit(on)

    def _bars(self) -> list[QWidget]:
        w = self.window
        bars = [w.menuBar(), w.statusBar(), w.operation_dock, w.inputs_dock, w.program_bar,
                w.animation.speed, w.animation.loop]
        restore = getattr(w.files, "restore_bar", None)
        return bars + ([restore] if restore is not None else [])

    def _enter(self, full_screen: bool) -> None:
        w = self.window
        self._saved = {"state": w.windowState(), "hidden": {b: b.isHidden() for b in self._bars()},
                       "readout": QFont(w.animation.readout.font()),
                       "palette": QPalette(w.palette()) if w.testAttribute(Qt.WA_SetPalette) else None}
        # The projector's black on white for the whole window (the canvas's labels too), whatever
        # the desktop theme.
        w.setPalette(projector_palette())
        for b in self._bars():
            b.hide()
        self._presenting = True
        self._full_screen = full_screen
        self._apply_theme(force=True)
        for a in (self.black_action, self.white_action):
            a.setEnabled(True)
        if full_screen:
            w.showFullScreen()
        w.setFocus()  # the canvas area (the window's focus proxy): keys drive the animation

    def _leave(self) -> None:
        w = self.window
        self.unblank()
        for a in (self.black_action, self.white_action):
            a.setEnabled(False)
        self._presenting = False
        self._fonts = None
        w.header.set_projector(None)
        w.caption_bar.set_projector(None)
        saved = self._saved
        if "readout" in saved:
            w.animation.readout.setFont(saved["readout"])
            w.setPalette(saved["palette"] if saved["palette"] is not None else QPalette())  # inherit again
        for b, hidden in saved.get("hidden", {}).items():
            b.setHidden(hidden)
        if self._full_screen:
            state = saved.get("state", Qt.WindowNoState)
            if state & Qt.WindowFullScreen:
                w.showFullScreen()
            elif state & Qt.WindowMaximized:
                w.showMaximized()
            else:
                w.showNormal()
        self._saved = {}

    def _apply_theme(self, force: bool = False) -> None:
        fonts = ProjectorFonts.for_height(self.window.height())
        if fonts == self._fonts and not force:
            return
        self._fonts = fonts
        w = self.window
        w.header.set_projector(fonts)
        w.caption_bar.set_projector(fonts)
        f = QFont(w.animation.readout.font())
        f.setPixelSize(max(18, round(fonts.caption_px * 0.7)))
        w.animation.readout.setFont(f)

    @property
    def fonts(self) -> ProjectorFonts | None:
        """The projector type in use (None outside presentation mode)."""
        return self._fonts

    # ------------------------------------------------------------------------------------------
    # blank screens
    @property
    def blanked(self) -> str | None:
        """``"black"`` or ``"white"`` while the screen is blanked, else None."""
        return self._blank_color

    def blank(self, color: str = "black") -> None:
        """Cover the window in ``color`` ("black" or "white"), in presentation mode only."""
        if not self._presenting:
            return
        if self._blank_color is None:
            self._focus_before_blank = QApplication.focusWidget()
        self._blank_color = color
        self._blank.paint_with(BLANK_COLORS[color])
        self._blank.setGeometry(self.window.rect())
        self._blank.show()
        self._blank.raise_()
        self._blank.setFocus()

    def unblank(self) -> None:
        """Show the picture again (the focus goes back where it was)."""
        if self._blank_color is None:
            return
        self._blank_color = None
        self._blank.hide()
        back = self._focus_before_blank
        self._focus_before_blank = None
        if back is not None and back.isVisible():
            back.setFocus()
        else:
            self.window.setFocus()

    # ------------------------------------------------------------------------------------------
    # Esc
    def escape(self) -> str:
        """Esc: the first of cancel a run, leave a text field, leave presentation mode, leave full
        screen; returns what it did (``"cancelled"``, ``"focus"``, ``"presentation"``,
        ``"full_screen"`` or ``""``)."""
        w = self.window
        if w.cancel_run():
            w.status.flash("Computation cancelled")
            return "cancelled"
        focus = QApplication.focusWidget()
        if focus is not None and text_field(focus) and self._belongs(focus):
            w.setFocus()
            return "focus"
        if self._presenting:
            self.set_presenting(False)
            return "presentation"
        if w.isFullScreen():
            w.set_full_screen(False)
            return "full_screen"
        if focus is not None and self._in_panels(focus):
            w.setFocus()
            return "focus"
        return ""

    # ------------------------------------------------------------------------------------------
    # keys
    def _belongs(self, widget: QWidget) -> bool:
        p = widget
        while p is not None:
            if p is self.window:
                return True
            p = p.parentWidget()
        return False

    def _in_panels(self, widget: QWidget) -> bool:
        w = self.window
        return any(p is widget or p.isAncestorOf(widget)
                   for p in (w.operation_dock, w.inputs_dock, w.program_bar, w.animation))

    def _focus_changed(self, old, new) -> None:
        # The filter sits on the focus widget only: ShortcutOverride is sent to it first, and a
        # line edit or a text editor that claims a key never lets its parents see it.
        if old is not None and old is not self.window:
            try:
                old.removeEventFilter(self)
            except RuntimeError:  # already deleted (a closed cell editor)
                pass
        if new is not None and self._belongs(new):
            new.installEventFilter(self)

    def eventFilter(self, obj, event) -> bool:  # noqa: N802 - Qt's name
        t = event.type()
        if t == QEvent.ShortcutOverride:
            if self._blank_color is not None:
                return False  # the sheet has the focus and takes every key
            focus = QApplication.focusWidget()
            if obj is not focus and obj is not self.window:
                return False
            if focus is not None and not self._belongs(focus):
                return False
            owner = key_owner(focus, event, in_panels=focus is not None and self._in_panels(focus))
            if owner == ANIMATION:
                event.ignore()  # not claimed: the window's shortcut acts
                return True
            if owner == WIDGET:
                event.accept()  # claimed: the key goes to the widget
                return True
            return False
        if obj is self.window and t in (QEvent.ApplicationPaletteChange, QEvent.PaletteChange):
            # A child with a stylesheet keeps its own palette, so Qt tells only the window: pass it on.
            w = self.window
            w.header.restyle()
            w.caption_bar.restyle()
            w.status.restyle()
        if obj is self.window and t == QEvent.Resize:
            if self._presenting:
                self._apply_theme()
            if self._blank_color is not None:
                self._blank.setGeometry(self.window.rect())
        return False


def take_presentation_screenshot(path: str | None, *, lesson: str | None = None, op: str | None = None,
                                 granularity: str | None = None, step: int | None = None,
                                 size: tuple[int, int] | None = None, present: bool = True,
                                 report: str | None = None, deck=None) -> int:
    """Render the window offscreen at exactly ``size`` (default: its default size), in presentation
    mode with ``present``, at ``step`` (0-based; negative counts from the end; past the end clamps);
    save a PNG to ``path`` and the canvas's layout report (JSON) to ``report`` (either may be None).
    A ``deck`` (``main.py --deck``) opens its first entry instead, at its range's first step.
    Returns an exit status; messages go to stderr, one line each.

    The report is ``{"size": [w, h], "views": canvas.layout_report()}``: per view the tensor, the
    leading indices shown, the slice's shape, the cell size and digit height in pixels, and whether
    numbers were drawn, measured from the paint.
    """
    from opscope.gui.app import create_application, screenshot_step, settle, wait_for_run
    from opscope.gui.lessons import DEFAULT_LESSON

    from .main_window import MainWindow

    app = create_application()
    window = MainWindow(lesson=None, autoplay=False)
    want = QSize(*size) if size is not None else MainWindow.DEFAULT_SIZE
    try:
        if deck is not None:
            window.decks.open_deck(deck)
        elif op is not None:
            window.select_op(op, granularity=granularity)
        else:
            window.open_lesson(lesson or DEFAULT_LESSON, autoplay=False)
            if granularity is not None:
                window.set_granularity(granularity)
                window.run_now()
        window.resize(want)
        window.show()
        if present:
            window.set_presentation(True, full_screen=False)
        for _ in range(3):  # once the layouts know the docks and bars are gone, nothing keeps it bigger
            app.processEvents()
            if window.size() == want:
                break
            window.resize(want)
        if not wait_for_run(window):
            print("opscope: the run did not finish within the time limit", file=sys.stderr)
            return 1
        if window.error:
            print(f"opscope: {window.error.splitlines()[0]}", file=sys.stderr)
            return 1
        total = len(window.timeline)
        if step is None and deck is not None:
            step = deck[0].span(total)[0]
        window.show_step(screenshot_step(step, total))
        settle(window)
        if window.size() != want:
            got = window.size()
            print(f"opscope: the window cannot be {want.width()}×{want.height()} (it is "
                  f"{got.width()}×{got.height()}: its smallest size)", file=sys.stderr)
            return 1
        if path and not window.grab().save(path, "PNG"):
            print(f"opscope: could not write {path}", file=sys.stderr)
            return 1
        if report:
            data = {"size": [want.width(), want.height()], "views": window.canvas.layout_report()}
            try:
                with open(report, "w", encoding="utf-8") as fh:
                    json.dump(data, fh, indent=1)
                    fh.write("\n")
            except OSError as exc:
                print(f"opscope: could not write {report}: {exc.strerror or exc}", file=sys.stderr)
                return 1
        return 0
    finally:
        window.close()
        window.deleteLater()
        app.processEvents()
