"""Decks in the window: open, save and step through a :class:`compute.deck.Deck`, with a presenter view.

:class:`DeckController` owns the deck on screen and where it stands (which entry); the window
keeps its own step. The window's ``step_forward`` / ``step_back`` ask :meth:`DeckController.step_forward`
/ :meth:`~DeckController.step_back` first: with a deck open (and its entry's lesson on screen)
PageDown / → walk through the entry's steps and then open the next entry at its first step;
PageUp / ← at an entry's first step open the previous entry at its last step. Anything else
(another lesson picked from the menu) leaves the deck waiting and the keys step the lesson.

An entry is opened with ``MainWindow.open_lesson`` (paused); the step to land on is handed to the
window before its run finishes, so the first frame shown is already the right one.

Menu entries: File › Open Deck… / Save Deck…, Lessons › Course (the built-in deck), Lessons ›
Add Lesson to Deck, Close Deck and Presenter View. With two screens, opening a deck (or entering
presentation mode with one open) puts the :class:`~.presenter_view.PresenterView` on the screen
the window is not on.
"""

from __future__ import annotations

import os

from opscope.compute.deck import COURSE, DECK_EXTENSION, Deck, DeckEntry, DeckError, Move, load_deck, save_deck
from opscope.compute.program.lessons import get_program_lesson, program_lesson_names
from opscope.gui.lessons import get_lesson, lesson_names
from PySide6.QtCore import QObject, Qt, QTimer, Signal
from PySide6.QtGui import QAction, QGuiApplication, QKeySequence
from PySide6.QtWidgets import QFileDialog, QMessageBox

from .presenter_view import PresenterState, PresenterView, presenter_screen

__all__ = ["DeckController", "all_lesson_names", "lesson_title", "resolve_deck"]

#: File dialog filter for decks.
DECK_FILTER = f"OpScope deck (*{DECK_EXTENSION})"
#: The presenter's picture of the canvas is refreshed at most this often while playing (ms).
PICTURE_MS = 150


def all_lesson_names() -> list[str]:
    """Every lesson a deck may name: the operation lessons, then the program lessons."""
    return lesson_names() + program_lesson_names()


def lesson_title(slug: str) -> str:
    """The menu title of lesson ``slug`` (an operation or a program lesson)."""
    if slug in program_lesson_names():
        return get_program_lesson(slug).title
    return get_lesson(slug).title


def resolve_deck(spec: str) -> Deck:
    """``"course"`` (the built-in deck) or the path of a deck file, checked against the lessons.

    Raises
    ------
    compute.deck.DeckError
        the file cannot be read or names an unknown lesson.
    """
    if spec == "course":
        return COURSE
    return load_deck(spec, all_lesson_names())


class DeckController(QObject):
    """The deck on screen: its menu entries, navigation across entries and the presenter view.

    Parameters
    ----------
    window : MainWindow
        The window it drives (``open_lesson``, ``seek``, ``timeline``, ``wanted_step``…).
    file_menu, lessons_menu : QMenu
        Where Open Deck… / Save Deck… and Course / Close Deck / Presenter View go.

    Attributes
    ----------
    deck : compute.deck.Deck or None
        The open deck.
    entry : int
        0-based index of the entry on screen (meaningless without a deck).
    presenter : PresenterView or None
        The presenter view, once made.
    last_error : str
        The last message shown about a deck file ('' when none).

    Signals
    -------
    deck_changed(object)
        a deck was opened (the Deck) or closed (None).
    entry_changed(int)
        another entry is on screen.
    """

    deck_changed = Signal(object)
    entry_changed = Signal(int)

    def __init__(self, window, file_menu, lessons_menu):
        super().__init__(window)
        self.window = window
        self.deck: Deck | None = None
        self.entry = 0
        self.presenter: PresenterView | None = None
        self.last_error = ""
        self._pending: str | int | None = None  # the landing wanted once the entry's run is here
        self._last_dir = ""
        self._box: QMessageBox | None = None
        self._picture_timer = QTimer(self)
        self._picture_timer.setSingleShot(True)
        self._picture_timer.setInterval(PICTURE_MS)
        self._picture_timer.timeout.connect(self._send_picture)
        self._build_actions(file_menu, lessons_menu)
        window.timeline_changed.connect(self._on_timeline)
        window.step_changed.connect(self._on_step)
        presentation = getattr(window, "presentation_changed", None)
        if presentation is not None:  # presentation mode (gui/window/presentation.py), when it exists
            presentation.connect(self._on_presentation)

    # ------------------------------------------------------------------------------------------
    # menus
    def _build_actions(self, file_menu, lessons_menu) -> None:
        w = self.window

        def act(text, slot, tip="", checkable=False):
            a = QAction(text, w, checkable=checkable)
            a.setStatusTip(tip)
            a.setToolTip(tip)
            a.triggered.connect(lambda checked=False: slot(checked) if checkable else slot())
            return a

        self.open_action = act("Open &Deck…", self.open_deck_file,
                               "Open a deck: lessons in order, with step ranges and speaker notes")
        self.save_action = act("Save D&eck…", self.save_deck_file,
                               "Save the open deck (or the built-in course, as a start) to a file")
        # Before the Export submenu, after the session entries (File is built by file_actions.py).
        anchor = None
        for a in file_menu.actions():
            if a.menu() is not None and a.menu().title().replace("&", "") == "Export":
                anchor = a
                break
        if anchor is not None:
            file_menu.insertAction(anchor, self.open_action)
            file_menu.insertAction(anchor, self.save_action)
            file_menu.insertSeparator(anchor)
        else:
            file_menu.addAction(self.open_action)
            file_menu.addAction(self.save_action)
        lessons_menu.addSection("Decks")
        self.course_action = act(f"Course: {COURSE.title}", self.open_course,
                                 f"The built-in deck: {len(COURSE)} lessons, each with a speaker note")
        self.add_action = act("Add Lesson to Deck", self.add_current_lesson,
                              "Append the lesson on screen to the open deck (a new deck when none is open)")
        self.close_action = act("Close Deck", self.close_deck, "Stop stepping through the deck")
        self.presenter_action = act("Presenter View", self.set_presenter_visible,
                                    "Notes, next step and clock for the lecturer (on the second screen)",
                                    checkable=True)
        self.presenter_action.setShortcut(QKeySequence("Ctrl+Shift+P"))
        w.addAction(self.presenter_action)
        for a in (self.course_action, self.add_action, self.close_action, self.presenter_action):
            lessons_menu.addAction(a)
        self._update_actions()

    def _update_actions(self) -> None:
        on = self.deck is not None
        self.close_action.setEnabled(on)

    # ------------------------------------------------------------------------------------------
    # opening and closing
    def open_deck(self, deck: Deck, entry: int = 0) -> None:
        """Show ``deck`` from the first step of entry ``entry``; with two screens, the presenter
        view goes on the other one.

        Raises
        ------
        compute.deck.DeckError
            the deck names a lesson this OpScope lacks (nothing changes).
        IndexError
            ``entry`` is out of range.
        """
        from opscope.compute.deck import check_lessons

        check_lessons(deck, all_lesson_names())
        if not 0 <= entry < len(deck):
            raise IndexError(f"entry {entry} is out of range: the deck has {len(deck)} entries")
        self.deck = deck
        self._update_actions()
        self.deck_changed.emit(deck)
        self._go(Move(entry, "first"))
        if self.presenter is not None:
            self.presenter.restart_timer()
        self.place_presenter()

    def open_course(self) -> None:
        """Lessons › Course: the built-in deck from its start."""
        self.open_deck(COURSE)

    def close_deck(self) -> None:
        """Forget the deck (the lesson on screen stays); the presenter view is hidden."""
        if self.deck is None:
            return
        self.deck = None
        self._pending = None
        self._update_actions()
        self.set_presenter_visible(False)
        self.deck_changed.emit(None)

    def open_deck_file(self, path: str | None = None) -> bool:
        """File › Open Deck…: ``path`` or the one asked for; False when cancelled or refused."""
        path = path or self._ask_open_path()
        if not path:
            return False
        try:
            deck = load_deck(path, all_lesson_names())
        except DeckError as exc:
            return self._fail(f"Cannot open the deck: {exc}")
        self._last_dir = os.path.dirname(os.path.abspath(path))
        self.open_deck(deck)
        self._note(f"Opened the deck {os.path.basename(path)}: {len(deck)} lessons")
        return True

    def save_deck_file(self, path: str | None = None) -> bool:
        """File › Save Deck…: the open deck (the built-in course when none is open) to ``path`` or
        the file asked for; False when cancelled or failed."""
        deck = self.deck or COURSE
        path = path or self._ask_save_path(deck)
        if not path:
            return False
        if not os.path.splitext(path)[1]:
            path += DECK_EXTENSION
        try:
            save_deck(path, deck)
        except DeckError as exc:
            return self._fail(f"Cannot save the deck: {exc}")
        self._last_dir = os.path.dirname(os.path.abspath(path))
        self._note(f"Saved the deck ({len(deck)} lessons) to {path}")
        return True

    def add_current_lesson(self) -> bool:
        """Append the lesson on screen (all its steps) to the open deck, or start a deck with it."""
        slug = self.window.lesson
        if slug is None or slug not in all_lesson_names():
            return self._fail("Open a lesson first: a deck is made of lessons.")
        entry = DeckEntry(slug)
        if self.deck is None:
            self.deck = Deck("My deck", (entry,))
            self.entry = 0
        else:
            self.deck = Deck(self.deck.title, (*self.deck.entries, entry))
            if self.window.lesson == slug:
                self.entry = len(self.deck) - 1
        self._update_actions()
        self.deck_changed.emit(self.deck)
        self._update_presenter()
        self._note(f"Added {slug} to the deck: {len(self.deck)} lessons")
        return True

    # ------------------------------------------------------------------------------------------
    # navigation
    def is_active(self) -> bool:
        """A deck is open and its entry's lesson is on screen (so the keys walk the deck)."""
        return (self.deck is not None and 0 <= self.entry < len(self.deck)
                and self.window.lesson == self.deck[self.entry].lesson)

    def step_forward(self) -> bool:
        """The clicker's "next": True when the deck handled it (the window then does nothing)."""
        return self._step(forward=True)

    def step_back(self) -> bool:
        """The clicker's "back": True when the deck handled it."""
        return self._step(forward=False)

    def _step(self, forward: bool) -> bool:
        if not self.is_active():
            return False
        if self._pending is not None:
            return True  # the entry's run is still computing: a press now would step the old one
        tl = self.window.timeline
        if tl is None or len(tl) == 0:
            return True
        move = (self.deck.forward if forward else self.deck.back)(self.entry, self.window.wanted_step, len(tl))
        if move is None:
            return True  # the deck's first or last step: stay
        self._go(move)
        return True

    def go_to_entry(self, entry: int, where: str = "first") -> None:
        """Open entry ``entry`` of the open deck at its ``"first"`` or ``"last"`` step."""
        if self.deck is None:
            raise RuntimeError("no deck is open")
        self._go(Move(entry, where))

    def _go(self, move: Move) -> None:
        w = self.window
        if not move.changes_entry:
            w.seek(move.step)
            return
        entry = self.deck[move.entry]
        self.entry = move.entry
        self._pending = move.step
        # The window lands its next run on this step (clamped to the run), so no frame of step 0
        # flashes before the right one; _on_timeline checks it once the run's length is known.
        land = entry.first if move.step == "first" else (entry.last if entry.last is not None else 1 << 30)
        w.open_lesson(entry.lesson, autoplay=False, step=land)
        self.entry_changed.emit(move.entry)
        self._update_presenter()

    def _on_timeline(self, tl) -> None:
        if self._pending is None or not self.is_active():
            return
        where, self._pending = self._pending, None
        first, last = self.deck[self.entry].span(len(tl))
        target = first if where == "first" else last
        if self.window.wanted_step != target:
            # The window requests its landing frame after this signal: seek once it has.
            QTimer.singleShot(0, lambda: self.window.seek(target))
        self._update_presenter()

    def _on_step(self, _n: int) -> None:
        if self.presenter is not None and self.presenter.isVisible():
            self._update_presenter()
            if not self._picture_timer.isActive():
                self._picture_timer.start()

    # ------------------------------------------------------------------------------------------
    # the presenter view
    def state(self) -> PresenterState:
        """What the presenter view shows now."""
        w = self.window
        if self.deck is None:
            return PresenterState()
        entry = self.deck[self.entry]
        tl = w.timeline
        ready = self._pending is None and tl is not None and len(tl) > 0 and w.lesson == entry.lesson
        step = w.current_step if ready else -1
        total = len(tl) if ready else 0
        first, last = entry.span(total) if ready else (0, 0)
        next_text = ""
        move = self.deck.forward(self.entry, step, total) if ready else None
        if not ready and self.entry + 1 < len(self.deck):
            move = Move(self.entry + 1, "first")
        if move is not None:
            if move.changes_entry:
                nxt = self.deck[move.entry]
                next_text = f"next lesson ({move.entry + 1} / {len(self.deck)}): {lesson_title(nxt.lesson)}"
            else:
                next_text = f"step {move.step + 1}: {tl[move.step].caption}"
        return PresenterState(self.deck.title, self.entry, len(self.deck), lesson_title(entry.lesson), step, total,
                              first, last, w.caption_text() if ready else "", next_text, entry.note)

    def _update_presenter(self) -> None:
        if self.presenter is not None:
            self.presenter.set_state(self.state())

    def _send_picture(self) -> None:
        canvas = self.window.canvas
        if self.presenter is not None and self.presenter.isVisible() and canvas is not None:
            self.presenter.set_picture(canvas.grab())

    def ensure_presenter(self) -> PresenterView:
        """The presenter view (made on first use; a top-level window of its own)."""
        if self.presenter is None:
            view = PresenterView()
            view.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose, False)
            # The clicker may be pressed while the presenter window has the focus.
            for keys, slot in (([Qt.Key_PageDown, Qt.Key_Right, Qt.Key_Space], self.window.step_forward),
                               ([Qt.Key_PageUp, Qt.Key_Left], self.window.step_back)):
                a = QAction(view)
                a.setShortcuts([QKeySequence(k) for k in keys])
                a.triggered.connect(lambda _c=False, s=slot: s())
                view.addAction(a)
            self.window.destroyed.connect(view.deleteLater)
            self.presenter = view
        return self.presenter

    def set_presenter_visible(self, on: bool) -> None:
        """Show the presenter view (on the second screen when there is one) or hide it."""
        if on:
            view = self.ensure_presenter()
            self._update_presenter()
            screen = presenter_screen(QGuiApplication.screens(), self.window.screen())
            if screen is not None:
                view.setScreen(screen)
                view.setGeometry(screen.availableGeometry())
                view.showMaximized()
            else:
                view.show()
            self._send_picture()
        elif self.presenter is not None:
            self.presenter.hide()
        if self.presenter_action.isChecked() != on:
            self.presenter_action.setChecked(on)

    def place_presenter(self) -> bool:
        """With two screens and a deck open, show the presenter view on the other screen; True if shown."""
        if self.deck is None or presenter_screen(QGuiApplication.screens(), self.window.screen()) is None:
            return False
        self.set_presenter_visible(True)
        return True

    def _on_presentation(self, on: bool) -> None:
        if on:
            self.place_presenter()

    def shutdown(self) -> None:
        """Close the presenter view (the window is closing)."""
        self._picture_timer.stop()
        if self.presenter is not None:
            self.presenter.close()

    # ------------------------------------------------------------------------------------------
    # dialogs and messages: small methods, so that tests replace them
    def _ask_open_path(self) -> str | None:
        path, _ = QFileDialog.getOpenFileName(self.window, "Open deck", self._last_dir, DECK_FILTER)
        return path or None

    def _ask_save_path(self, deck: Deck) -> str | None:
        name = "".join(c if c.isalnum() else "-" for c in (deck.title or "deck").lower()).strip("-")[:40] or "deck"
        path, _ = QFileDialog.getSaveFileName(self.window, "Save deck",
                                              os.path.join(self._last_dir, name + DECK_EXTENSION), DECK_FILTER)
        return path or None

    def _fail(self, text: str) -> bool:
        self.last_error = text
        self.window.statusBar().showMessage(f"⚠ {text}", 15000)
        if self._box is None:
            self._box = QMessageBox(QMessageBox.Icon.Warning, "OpScope", text, QMessageBox.StandardButton.Ok,
                                    self.window)
            self._box.setWindowModality(Qt.WindowModality.NonModal)
        self._box.setText(text)
        self._box.show()
        return False

    def _note(self, text: str) -> None:
        self.window.statusBar().showMessage(text, 8000)
