"""The File menu: sessions, tensor files, run archives, exports, and the autosave behind them.

Everything here goes through :mod:`compute.io` (no pickles, atomic writes) and :mod:`gui.export`;
this module only asks the user, reads or writes the window's state, and reports. Every problem
with a file (:class:`~compute.io.FileFormatError`, :class:`~compute.io.SessionError`, ``OSError``)
becomes one message naming the file and the problem: red in the status bar and in a non-modal
message box, and the workspace is left as it was.

Loading a tensor into an input
------------------------------
The file's tensors are listed with key, shape and dtype (read from the headers by
:func:`~compute.io.describe_file`) before anything is loaded, and the user picks one. The chosen
tensor replaces the input **as a typed edit would**: it is accepted into the editor even when the
operation will refuse its shape, because the editor is where the user fixes that (the next run
then shows the operation's usual error, and the last good run stays on screen). It is one undo
step: Ctrl+Z in the editor brings the old array back. A tensor too big to edit as a table
(more than :data:`gui.editor.MAX_ELEMENTS` values) is held as given, as a session would hold it.

Dialogs
-------
Every dialog is a small method (``_ask_open_path``, ``_ask_save_path``, ``_choose_key``,
``_choose_tensor``, ``_show_message``) so that tests replace them; nothing here runs a modal loop
of its own except those.

Autosave
--------
After a change (an edit, a new run, a step chosen while paused, the speed...) the session is written to
:func:`compute.io.autosave_path` at most every :data:`AUTOSAVE_MS` ms, in a short-lived thread
(the zip is small, but the fsync of an atomic write can take tens of ms on a slow disk, and the
window must not stutter during an animation). A clean exit deletes it; a file left at the next
start means OpScope crashed or was killed, and the window offers it back in a :class:`RestoreBar`.
Until the user answers, the old autosave is never overwritten nor deleted.
"""

from __future__ import annotations

import contextlib
import os
import re
import threading

import numpy as np
from opscope import compute
from opscope.compute.errors import InputError, OpScopeError
from opscope.compute.io import (
    SUPPORTED_EXTENSIONS,
    FileFormatError,
    RecentFiles,
    Session,
    SessionError,
    autosave_path,
    describe_file,
    load_session,
    load_tensor,
    save_program_run,
    save_run,
    save_session,
    save_tensor,
    split_path_key,
)
from opscope.compute.numbers import fmt_shape
from opscope.gui.editor import MAX_ELEMENTS, MatrixEditor
from opscope.gui.lessons import LESSONS
from PySide6.QtCore import QObject, Qt, QTimer, Signal
from PySide6.QtGui import QAction, QKeySequence
from PySide6.QtWidgets import QFileDialog, QInputDialog, QMessageBox

from .key_picker import pick_key
from .restore_bar import RestoreBar

__all__ = ["AUTOSAVE_MS", "MAX_RECENT", "FileActions", "tensor_item_text"]

#: Wait this long after a change before autosaving (and autosave at most this often while playing).
AUTOSAVE_MS = 2000
#: Entries of File › Open Recent.
MAX_RECENT = 10
SESSION_EXTENSION = ".opscope"
SESSION_FILTER = "OpScope session (*.opscope);;All files (*)"
TENSOR_FILTER = ("Tensors (*.npy *.npz *.safetensors *.csv *.tsv *.pt *.pth *.bin *.index.json);;"
                 "PyTorch checkpoints (*.pt *.pth *.bin);;All files (*)")
SAVE_TENSOR_FILTER = ("NumPy array (*.npy);;NumPy archive (*.npz);;safetensors (*.safetensors);;"
                      "CSV table, 2-D (*.csv);;TSV table, 2-D (*.tsv)")
RUN_FILTER = "NumPy archive (*.npz);;safetensors (*.safetensors)"
RUN_EXTENSIONS = (".npz", ".safetensors")
#: The same red as the window's run errors.
_RED_STATUS = "QStatusBar { color: #c62828; }"
_LESSONS = {lesson.slug: lesson for lesson in LESSONS}


def tensor_item_text(key: str, shape, dtype) -> str:
    """``"weights (4, 3) float32"``: how a tensor is offered in a list before it is loaded or saved."""
    return f"{key} {fmt_shape(shape)} {np.dtype(dtype).name}"


def _file_name_for(name: str) -> str:
    """A file name made from a tensor name (``step:products`` -> ``step_products``)."""
    return re.sub(r"[^\w.-]+", "_", name).strip("._") or "tensor"


def _filter_extension(selected: str) -> str:
    """``"CSV table, 2-D (*.csv)"`` -> ``".csv"`` ('' when the filter names none)."""
    m = re.search(r"\*(\.[\w.]+)", selected or "")
    return m.group(1) if m else ""


def _unfinished(tl, name: str | None = None) -> str | None:
    """Why the outputs of ``tl`` (or output ``name``) cannot be saved yet, or None: a progressive
    run still being computed (saving would wait for it on the GUI thread) or one cancelled before
    it finished (it has no final values). A program's finished lines can be saved at once."""
    if tl.done and not tl.cancelled and getattr(tl, "error", None) is None:
        return None
    if name is not None and tl.op == "program":
        owner = tl.owner(name)
        if owner is not None and (owner in tl.computed_values() or name == "result" and
                                  tl.program.result_name in tl.computed_values()):
            return None
    what = f"{name} is" if name else "the run's outputs are"
    if not tl.done:
        return (f"Not saved: {what} still being computed ({tl.available()} of {len(tl)} steps so far). "
                f"Save when the run has finished, or press Esc to cancel it. Nothing was written.")
    return (f"Not saved: the run {'failed' if getattr(tl, 'error', None) else 'was cancelled'} after "
            f"{tl.available()} of {len(tl)} steps, so {what} not final. Run it again to save them. "
            f"Nothing was written.")


class FileActions(QObject):
    """The File menu of a :class:`~gui.window.MainWindow` and what its entries do.

    Parameters
    ----------
    window : MainWindow
        The window whose state is saved and restored (its panels must exist already).
    menu : QMenu
        The menu to fill.

    Attributes
    ----------
    session_path : str or None
        The session file that File › Save writes (None: it asks first).
    last_error, last_message : str
        The last error, and the last message of any kind, shown to the user (for tests).
    recent : RecentFiles
        The recently opened or saved sessions.
    restore_bar : RestoreBar or None
        The bar offering an autosaved session back (created when there is one to offer).

    Signals
    -------
    message_changed(str)
        a message was shown (an error or a notice such as "Saved …").
    """

    message_changed = Signal(str)

    def __init__(self, window, menu):
        super().__init__(window)
        self.window = window
        self.menu = menu
        self.recent = RecentFiles(max_items=MAX_RECENT)
        self.session_path: str | None = None
        self.last_error = ""
        self.last_message = ""
        self.restore_bar: RestoreBar | None = None
        self.autosave_error = ""
        self._last_dir = ""
        self._box: QMessageBox | None = None
        self._status_text: str | None = None
        self._runner = None
        self._shut = False
        self._autosave_on = False
        # The file at autosave_path() is ours to overwrite and delete: not while the user has not
        # answered whether to restore a crashed session's autosave.
        self._autosave_owned = False
        self._autosave_thread: threading.Thread | None = None
        self.autosave_timer = QTimer(self)
        self.autosave_timer.setSingleShot(True)
        self.autosave_timer.setInterval(AUTOSAVE_MS)
        self.autosave_timer.timeout.connect(self.autosave_now)
        self._build_menu(menu)
        window.inputs_panel.load_requested.connect(lambda name, path: self.load_input(name, path or None))
        window.inputs_panel.save_requested.connect(lambda name: self.save_editor(name))
        window.statusBar().messageChanged.connect(self._status_message_changed)

    # ------------------------------------------------------------------------------------------
    # the menu
    def _build_menu(self, menu) -> None:
        w = self.window

        def action(text, slot, keys=None, tip=""):
            a = QAction(text, w)
            if keys:
                a.setShortcut(QKeySequence(keys))
                w.addAction(a)  # also with the menu bar hidden (full screen)
            if tip:
                a.setStatusTip(tip)
                a.setToolTip(tip)
            a.triggered.connect(lambda _checked=False: slot())
            menu.addAction(a)
            return a

        self.open_action = action("&Open Session…", self.open_session, "Ctrl+O", "Open a .opscope session")
        self.recent_menu = menu.addMenu("Open &Recent")
        self.recent_menu.aboutToShow.connect(self.fill_recent_menu)
        self.save_action = action("&Save Session", self.save_session, "Ctrl+S",
                                  "Save the operation, its parameters, inputs, step and view")
        self.save_as_action = action("Save Session &As…", self.save_session_as, "Ctrl+Shift+S")
        menu.addSeparator()
        self.load_input_action = action("&Load Input from File…", self.load_input, None,
                                        "Replace the input of the current tab by a tensor from "
                                        ".npy, .npz, .safetensors, .csv or .tsv")
        self.save_tensor_action = action("Save &Tensor…", self.save_tensor, None,
                                         "Save an input or output of the run as .npy, .npz, .safetensors, .csv or .tsv")
        self.save_run_action = action("Save R&un…", self.save_run, None,
                                      "Save the inputs, every output, the operation and its parameters "
                                      "to one .npz or .safetensors")
        menu.addSeparator()
        export = menu.addMenu("&Export")
        self.export_menu = export
        self.export_png_action = QAction("&PNG of the Canvas…", w)
        self.export_png_action.triggered.connect(lambda _c=False: self.export_png())
        self.export_animation_action = QAction("&Animation (GIF/MP4)…", w)
        self.export_animation_action.setShortcut(QKeySequence("Ctrl+E"))
        w.addAction(self.export_animation_action)
        self.export_animation_action.triggered.connect(lambda _c=False: self.export_animation())
        export.addAction(self.export_png_action)
        export.addAction(self.export_animation_action)
        menu.addSeparator()
        self.quit_action = QAction("&Quit", w)
        # Not StandardKey.Quit: it is empty on some platforms (Windows, offscreen); Ctrl is Cmd on macOS
        self.quit_action.setShortcut(QKeySequence("Ctrl+Q"))
        w.addAction(self.quit_action)
        self.quit_action.triggered.connect(w.close)
        menu.addAction(self.quit_action)
        self.fill_recent_menu()

    def fill_recent_menu(self) -> None:
        """Rebuild File › Open Recent from the recent-files list (it is shared by every window)."""
        m = self.recent_menu
        m.clear()
        items = self.recent.items()
        for i, path in enumerate(items):
            mnemonic = f"&{i + 1}" if i < 9 else "1&0"
            a = m.addAction(f"{mnemonic}  {os.path.basename(path)}")
            a.setToolTip(path)
            a.setStatusTip(path)
            a.setData(path)
            a.triggered.connect(lambda _c=False, p=path: self.open_recent(p))
        if not items:
            m.addAction("(no recent sessions)").setEnabled(False)
        else:
            m.addSeparator()
            m.addAction("Clear List", self._clear_recent)
        m.setToolTipsVisible(True)

    def _clear_recent(self) -> None:
        self.recent.clear()
        self.fill_recent_menu()

    # ------------------------------------------------------------------------------------------
    # dialogs: small methods, so that tests replace them
    def _ask_open_path(self, title: str, filters: str) -> str | None:
        """A file to read, or None when the user cancels."""
        path, _ = QFileDialog.getOpenFileName(self.window, title, self._last_dir, filters)
        return path or None

    def _ask_save_path(self, title: str, suggested: str, filters: str) -> str | None:
        """A file to write (with the chosen filter's extension when none was typed), or None."""
        path, selected = QFileDialog.getSaveFileName(self.window, title, os.path.join(self._last_dir, suggested),
                                                     filters)
        if path and not os.path.splitext(path)[1]:
            path += _filter_extension(selected)
        return path or None

    def _choose_key(self, path: str, infos, target: str) -> str | None:
        """Which tensor of ``path`` to load into input ``target`` (None: cancel).

        Key, shape and dtype of every tensor are shown before anything is read, also for a file
        holding one, so that a wrong file is noticed before it replaces the input.
        """
        # a searchable table (gui.window.key_picker): checkpoints hold hundreds of keys
        return pick_key(self.window, path, infos, target)

    def _choose_tensor(self, names: list[str], labels: list[str]) -> str | None:
        """Which tensor of the run to save (None: cancel)."""
        item, ok = QInputDialog.getItem(self.window, "Save tensor", "Tensor of the run on screen:", labels, 0, False)
        return names[labels.index(item)] if ok and item in labels else None

    def _show_message(self, title: str, text: str) -> None:
        """A non-modal message box (one at a time: a new message replaces the last)."""
        if self._box is None:
            self._box = QMessageBox(QMessageBox.Icon.Warning, title, text, QMessageBox.StandardButton.Ok, self.window)
            self._box.setWindowModality(Qt.WindowModality.NonModal)
        self._box.setWindowTitle(title)
        self._box.setText(text)
        self._box.show()

    # ------------------------------------------------------------------------------------------
    # messages
    def _fail(self, text: str, box: bool = True) -> bool:
        """Show ``text`` as an error (red status bar + message box); returns False for ``return``."""
        self.last_error = self.last_message = text
        self._status(text, error=True)
        if box:
            self._show_message("OpScope", text)
        self.message_changed.emit(text)
        return False

    def _note(self, text: str) -> None:
        self.last_message = text
        self._status(text, error=False)
        self.message_changed.emit(text)

    def _status(self, text: str, error: bool) -> None:
        bar = self.window.statusBar()
        shown = ("⚠ " if error else "") + text
        self._status_text = shown  # before showMessage: its messageChanged must not undo the red
        bar.setStyleSheet(_RED_STATUS if error else "")
        bar.showMessage(shown, 15000 if error else 8000)

    def _status_message_changed(self, text: str) -> None:
        # Our red is for our message only: a later message (or none) gets the usual colour.
        if text != self._status_text:
            self._status_text = None
            self.window.statusBar().setStyleSheet("")

    def _remember_folder(self, path: str) -> None:
        self._last_dir = os.path.dirname(os.path.abspath(path))

    @property
    def last_folder(self) -> str:
        """The folder the file dialogs open in: the last one used ('' before any); kept between runs
        by :mod:`gui.window.settings`."""
        return self._last_dir

    @last_folder.setter
    def last_folder(self, folder: str) -> None:
        self._last_dir = str(folder or "")

    # ------------------------------------------------------------------------------------------
    # sessions
    def current_session(self) -> Session:
        """The window's state as a :class:`~compute.io.Session` (plain data; arrays are copies).

        Raises
        ------
        SessionError
            No operation is open.
        """
        w = self.window
        if w.op_name is None:
            raise SessionError("nothing to save: no operation is open")
        view = {
            "speed": float(w.animation.speed.value()),
            "loop": bool(w.animation.loop.isChecked()),
            "lesson": w.lesson,
            "panels": bool(w.panels_action.isChecked()),
        }
        # The document, not the widgets: its parameters are the last valid ones (a field holding
        # unfinished text is not saved), its arrays frozen (shared, not copied).
        s = w.document.to_session(view=view)
        if w.timeline is None:
            s = Session(op=s.op, params=s.params, inputs=s.inputs, granularity=s.granularity, options=s.options,
                        step=0, view=s.view)
        return s

    def apply_session(self, session: Session, source: str = "the session") -> bool:
        """Show ``session``: operation, parameters, inputs, steps, view; then land on its step.

        Returns False (with a message, the workspace unchanged) when it cannot be shown.
        """
        w = self.window
        try:
            spec = compute.get_spec(session.op)
        except ValueError as exc:
            return self._fail(f"{source}: {exc} (was it written by a newer OpScope?)")
        known = {i.name for i in spec.inputs}
        bad = [n for n, a in session.inputs.items() if np.asarray(a).dtype.kind not in "biuf"]
        if bad:
            return self._fail(f"{source}: input {bad[0]!r} has dtype {np.asarray(session.inputs[bad[0]]).dtype}; "
                              "OpScope edits float, integer and bool tensors")
        inputs = {n: np.asarray(a) for n, a in session.inputs.items() if n in known}
        view = session.view if isinstance(session.view, dict) else {}
        # A session of a program (its text in the view) keeps the extra inputs the program reads.
        program = view.get("program") if isinstance(view.get("program"), str) else None
        extras = {n: np.asarray(a) for n, a in session.inputs.items() if n not in known}
        ignored = [] if program is not None else list(extras)
        lesson = _LESSONS.get(view.get("lesson")) if isinstance(view.get("lesson"), str) else None
        granularity = session.granularity if session.granularity not in (None, "auto") else None
        before = self.current_session() if w.op_name is not None else None
        try:
            speed = view.get("speed")
            if isinstance(speed, (int, float)) and not isinstance(speed, bool) and np.isfinite(speed):
                w.set_speed(float(speed))
            if isinstance(view.get("loop"), bool):
                w.set_loop(view["loop"])
            if isinstance(view.get("panels"), bool):
                w.set_panels_visible(view["panels"])
            if w.isFullScreen():
                w.set_full_screen(False)  # never reopen full screen: the projector is not always there
            w.select_op(session.op, inputs, dict(session.params), granularity, autoplay=False,
                        title=lesson.title if lesson else None, description=lesson.description if lesson else None,
                        options=dict(session.options), step=int(session.step),
                        lesson=lesson.slug if lesson else None, record=False)
            steps = view.get("line_steps")  # the lines' own steps (the document checks them)
            if program is not None and program.strip() and (program != w.document.program_text or steps):
                w.document.set_program(program, extras, record=False, line_steps=steps or {})
        except Exception as exc:  # noqa: BLE001 - a malformed field must not leave half a session
            if before is not None:
                with contextlib.suppress(Exception):
                    w.select_op(before.op, dict(before.inputs), dict(before.params), before.granularity,
                                options=dict(before.options), step=before.step, lesson=before.view.get("lesson"),
                                record=False)
            return self._fail(f"{source} cannot be shown: {type(exc).__name__}: {exc}")
        if ignored:
            self._note(f"{source}: {session.op} has no input {', '.join(map(repr, ignored))}; ignored.")
        return True

    def open_session(self, path: str | None = None) -> bool:
        """File › Open Session: read ``path`` (asked when None) and show it."""
        if path is None:
            path = self._ask_open_path("Open session", SESSION_FILTER)
            if not path:
                return False
        try:
            session = load_session(path)
        except (SessionError, OSError) as exc:
            return self._fail(f"Cannot open the session: {exc}")
        if not self.apply_session(session, os.path.basename(path)):
            return False
        self.session_path = os.path.abspath(path)
        self._remember_folder(path)
        self.recent.add(path)
        self.fill_recent_menu()
        self._note(f"Opened {path}")
        return True

    def open_recent(self, path: str) -> bool:
        """File › Open Recent › ``path``; a file that is gone is removed from the list, with a message."""
        if not os.path.isfile(path):
            self.recent.remove(path)
            self.fill_recent_menu()
            return self._fail(f"{path} no longer exists; it was removed from Open Recent.")
        return self.open_session(path)

    def save_session(self, path: str | None = None) -> bool:
        """File › Save Session: to ``path``, else the session's own file, else a file asked for."""
        if self.window.op_name is None:
            return self._fail("Nothing to save yet: open an operation or a lesson first.")
        if path is None:
            path = self.session_path
        if path is None:
            return self.save_session_as()
        if not os.path.splitext(path)[1]:
            path += SESSION_EXTENSION
        try:
            save_session(path, self.current_session())
        except (SessionError, OSError) as exc:
            return self._fail(f"Cannot save the session: {exc}")
        self.session_path = os.path.abspath(path)
        self._remember_folder(path)
        self.recent.add(path)
        self.fill_recent_menu()
        self._note(f"Saved the session to {path}")
        return True

    def save_session_as(self) -> bool:
        """File › Save Session As: always asks for a file."""
        if self.window.op_name is None:
            return self._fail("Nothing to save yet: open an operation or a lesson first.")
        suggested = os.path.basename(self.session_path or "") or f"{self.window.lesson or self.window.op_name}.opscope"
        path = self._ask_save_path("Save session", suggested, SESSION_FILTER)
        if not path:
            return False
        return self.save_session(path)

    # ------------------------------------------------------------------------------------------
    # tensors in
    def load_input(self, name: str | None = None, path: str | None = None, key: str | None = None) -> bool:
        """Replace input ``name`` (default: the current tab's) by a tensor from ``path`` (asked when None).

        ``path`` may carry the key (``weights.npz:W``); otherwise the user picks it from the file's
        list of tensors (key, shape, dtype). One undo step in the editor. Returns True when loaded.
        """
        w = self.window
        panel = w.inputs_panel
        name = name or panel.current_name()
        if w.op_name is None or name is None:
            return self._fail("Open an operation first: there is no input to load into.")
        if path is None:
            path = self._ask_open_path(f"Load {name} from file", TENSOR_FILTER)
            if not path:
                return False
        if key is None:
            path, key = split_path_key(path)
        where = os.path.basename(path)
        try:
            infos = describe_file(path)
            if not infos:
                return self._fail(f"{where} holds no tensor: {name} is unchanged.")
            if key is None:
                key = self._choose_key(path, infos, name)
                if key is None:
                    return False
            array = load_tensor(path, key)
        except (OpScopeError, OSError) as exc:  # every loader problem is an OpScopeError (FileFormatError...)
            return self._fail(f"Cannot load {name}: {exc}. {name} is unchanged.")
        except Exception as exc:  # noqa: BLE001 - a loader bug is shown, never lost in Qt's event loop
            return self._fail(f"Cannot load {name}: unexpected {type(exc).__name__}: {exc}. {name} is unchanged.")
        self._remember_folder(path)
        editor = w.editor(name)
        shown = tensor_item_text(key, array.shape, array.dtype)
        if isinstance(editor, MatrixEditor) and array.size > MAX_ELEMENTS:
            return self._hold_input(name, array, f"{where}: {shown}")
        try:
            editor.set_array(array)
        except InputError as exc:
            return self._fail(f"Cannot load {name} from {where}: {exc}. {name} is unchanged.")
        if not panel.is_used(name):
            panel.set_used(name, True)  # loading into an input says "use it"
        panel.set_current(name)
        undo = " Ctrl+Z in the editor undoes." if isinstance(editor, MatrixEditor) else ""
        self._note(f"Loaded {shown} from {where} into {name}.{undo}")
        return True

    def _hold_input(self, name: str, array: np.ndarray, what: str) -> bool:
        """An input too big for the table editor: rebuilt as a held input, the rest of the session kept."""
        s = self.current_session()
        inputs = dict(s.inputs)
        inputs[name] = array
        held = Session(op=s.op, params=s.params, inputs=inputs, granularity=s.granularity, options=s.options,
                       step=s.step, view=s.view)
        if not self.apply_session(held, what):
            return False
        self._note(f"Loaded {what} into {name}: too large to edit as a table ({array.size:,} values), "
                   "it is used as given (no undo).")
        return True

    # ------------------------------------------------------------------------------------------
    # tensors out
    def save_editor(self, name: str, path: str | None = None) -> bool:
        """An editor's "Save tensor…": the numbers in input ``name``'s editor (edits not yet run included)."""
        return self._save_array(name, np.asarray(self.window.editor(name).array()), path)

    def save_tensor(self, name: str | None = None, path: str | None = None) -> bool:
        """File › Save Tensor: an input or output of the run on screen (picked from a list when None)."""
        tl = self.window.timeline
        if tl is None:
            return self._fail("There is no run yet: nothing to save.")
        names = list(tl.tensor_names)
        if name is None:
            kinds = ["input" if n in tl.input_names else "output" for n in names]
            labels = [f"{tensor_item_text(n, tl.shape(n), tl.dtype(n))} — {k}" for n, k in zip(names, kinds)]
            name = self._choose_tensor(names, labels)
            if name is None:
                return False
        if name not in names:
            return self._fail(f"The run has no tensor {name!r}; it has {', '.join(names)}.")
        if name not in tl.input_names and (why := _unfinished(tl, name)):
            return self._fail(why)
        return self._save_array(name, self._run_tensor(tl, name), path)

    def save_view(self, key: str, path: str | None = None) -> bool:
        """A canvas view's "Save tensor…": its whole tensor, or what a step strip shows."""
        w = self.window
        tl, canvas = w.timeline, w.canvas
        if tl is None or canvas is None:
            return self._fail("There is no run yet: nothing to save.")
        if key in tl.tensor_names:  # a tensor drawn as small multiples asks by its name: all of it
            return self.save_tensor(key, path)
        try:
            view = canvas.view(key)
        except KeyError as exc:
            return self._fail(str(exc))
        if view.name in tl.tensor_names:
            return self.save_tensor(view.name, path)
        return self._save_array(view.name or key, np.asarray(canvas.displayed(key)), path)

    @staticmethod
    def _run_tensor(tl, name: str) -> np.ndarray:
        if tl.op == "program":  # a line's operation tensors ("w.weights") are not in its result
            return tl.final_value(name)
        return tl.inputs()[name] if name in tl.input_names else tl.result()[name]

    def _save_array(self, name: str, array: np.ndarray, path: str | None) -> bool:
        if path is None:
            path = self._ask_save_path(f"Save {name}", f"{_file_name_for(name)}.npy", SAVE_TENSOR_FILTER)
            if not path:
                return False
        where = os.path.basename(path)
        ext = os.path.splitext(path)[1].lower()
        if ext not in SUPPORTED_EXTENSIONS:
            return self._fail(f"{where}: unknown file type {ext or '(none)'}; save a tensor as "
                              f"{', '.join(SUPPORTED_EXTENSIONS)}. Nothing was written.")
        if ext in (".csv", ".tsv") and array.ndim > 2:
            return self._fail(f"{where}: CSV and TSV hold 2-D tables, and {name} is {fmt_shape(array.shape)} "
                              f"({array.ndim}-D). Save it as .npy, .npz or .safetensors. Nothing was written.")
        try:
            save_tensor(path, array, key=name)
        except (FileFormatError, OSError) as exc:
            return self._fail(f"Cannot save {name}: {exc}")
        self._remember_folder(path)
        self._note(f"Saved {tensor_item_text(name, array.shape, array.dtype)} to {path}")
        return True

    def save_run(self, path: str | None = None) -> bool:
        """File › Save Run: inputs, every output, the operation and its parameters, in one file."""
        tl = self.window.timeline
        if tl is None:
            return self._fail("There is no run yet: nothing to save.")
        if path is None:
            path = self._ask_save_path("Save run", f"{tl.op}-run.npz", RUN_FILTER)
            if not path:
                return False
        where = os.path.basename(path)
        if os.path.splitext(path)[1].lower() not in RUN_EXTENSIONS:
            return self._fail(f"{where}: a run is saved as .npz or .safetensors. Nothing was written.")
        if why := _unfinished(tl):
            return self._fail(why)
        try:
            if tl.op == "program":  # its text and every line's tensor, as main.py compute --program saves
                save_program_run(path, tl.text, tl.inputs(), tl.result(), tl.params)
            else:
                save_run(path, tl.op, tl.params, tl.inputs(), tl.result())
        except (FileFormatError, OSError) as exc:
            return self._fail(f"Cannot save the run: {exc}")
        self._remember_folder(path)
        self._note(f"Saved the run of {tl.op} ({len(tl.input_names)} inputs, {len(tl.output_names)} outputs) "
                   f"to {path}")
        return True

    # ------------------------------------------------------------------------------------------
    # export
    def export_png(self, options=None):
        """File › Export › PNG of the canvas (the step on screen; size asked in the export dialog)."""
        w = self.window
        tl = w.timeline
        step = max(w.current_step, 0)
        return self._export(options, f"{tl.op if tl else 'opscope'}-step{step + 1}.png")

    def export_animation(self, options=None):
        """File › Export › Animation: GIF or MP4 with steps, fps, size and caption asked."""
        tl = self.window.timeline
        return self._export(options, f"{tl.op if tl else 'opscope'}.mp4")

    def _export(self, options, suggested: str):
        """Hand over to :func:`gui.export.start_export` (its own dialog unless ``options`` are given)."""
        from opscope.gui.export import start_export  # imageio and the renderer load on first use only

        w = self.window
        tl = w.timeline
        if tl is None:
            return self._fail("There is no run yet: nothing to export.")
        if self._runner is not None and self._runner.is_running():
            return self._fail("An export is already running; wait for it or cancel it.")
        w.pause()
        path = os.path.join(self._last_dir, suggested) if self._last_dir else suggested
        # the title card of a video: the lesson's title and description, as the header shows them
        self._runner = start_export(w, tl, tl.op, max(w.current_step, 0), options=options, path=path,
                                    title=w.header.title.text(), description=w.header.description.text())
        if self._runner is not None:
            self._remember_folder(self._runner.options.path)
            # start_export shows its own message box; the status bar says it too, in red
            self._runner.failed.connect(lambda message: self._fail(f"Export failed: {message}", box=False))
        return self._runner

    # ------------------------------------------------------------------------------------------
    # autosave and restore
    def start(self, autosave: bool, offer_restore: bool) -> None:
        """Called once by the window when it is built: wire autosave, offer a leftover one."""
        self._autosave_on = bool(autosave)
        w = self.window
        if self._autosave_on:
            w.timeline_changed.connect(lambda _tl: self.schedule_autosave())
            # While playing, the step changes many times a second and says little: save where it stops.
            w.step_changed.connect(lambda _n: None if w.is_playing else self.schedule_autosave())
            w.playing_changed.connect(lambda playing: None if playing else self.schedule_autosave())
            w.inputs_panel.inputs_changed.connect(lambda _n: self.schedule_autosave())
            w.operation_panel.params.params_changed.connect(self.schedule_autosave)
            w.operation_panel.stepping.stepping_changed.connect(self.schedule_autosave)
            w.animation.speed_changed.connect(lambda _s: self.schedule_autosave())
            w.animation.loop_changed.connect(lambda _on: self.schedule_autosave())
        path = autosave_path()
        if offer_restore and path.is_file():
            self._offer_restore(path.stat().st_mtime)
        else:
            self._autosave_owned = self._autosave_on

    def schedule_autosave(self) -> None:
        """Autosave soon: at most every :data:`AUTOSAVE_MS` ms (not postponed by further changes,
        so that a long animation is still saved every few seconds)."""
        if self._autosave_on and self._autosave_owned and not self._shut and not self.autosave_timer.isActive():
            self.autosave_timer.start()

    def autosave_now(self) -> None:
        """Write the autosave (in a short-lived thread; the state itself is captured here)."""
        if self._shut or not self._autosave_owned or self.window.op_name is None:
            return
        if self._autosave_thread is not None and self._autosave_thread.is_alive():
            self.autosave_timer.start()  # the last one is still writing: try again shortly
            return
        if self.autosave_error:
            self.window.status.flash(f"Autosave failed: {self.autosave_error}")
            self.autosave_error = ""
        try:
            session = self.current_session()
        except SessionError:
            return
        self._autosave_thread = threading.Thread(target=self._write_autosave, args=(autosave_path(), session),
                                                 name="opscope-autosave")
        self._autosave_thread.start()

    def _write_autosave(self, path, session: Session) -> None:
        # No Qt calls in this thread: a failure is kept and reported by the next autosave.
        try:
            save_session(path, session)
        except Exception as exc:  # noqa: BLE001 - an autosave must never take the app down
            self.autosave_error = str(exc)

    def wait_autosave(self, timeout: float = 10.0) -> None:
        """Block until an autosave being written is on disk (tests, shutdown)."""
        t = self._autosave_thread
        if t is not None:
            t.join(timeout)

    def _offer_restore(self, saved_at: float) -> None:
        if self.restore_bar is None:
            self.restore_bar = RestoreBar()
            self.restore_bar.restore_requested.connect(self.restore_autosave)
            self.restore_bar.discard_requested.connect(self.discard_autosave)
            self.window.centralWidget().layout().insertWidget(0, self.restore_bar)
        self.restore_bar.offer(saved_at)

    def _answered(self) -> None:
        if self.restore_bar is not None:
            self.restore_bar.hide()
        self._autosave_owned = True

    def restore_autosave(self) -> bool:
        """The restore bar's Restore: show the autosaved session."""
        path = autosave_path()
        try:
            session = load_session(path)
        except (SessionError, OSError) as exc:
            self._answered()
            self.schedule_autosave()
            return self._fail(f"The autosaved session cannot be restored: {exc}")
        ok = self.apply_session(session, "the autosaved session")
        self._answered()
        self.schedule_autosave()
        if ok:
            self._note("Restored the autosaved session.")
        return ok

    def discard_autosave(self) -> None:
        """The restore bar's Discard: delete the autosave and carry on."""
        with contextlib.suppress(OSError):
            os.unlink(autosave_path())
        self._answered()
        self.schedule_autosave()
        self._note("Discarded the autosaved session.")

    def shutdown(self) -> None:
        """A clean exit: stop autosaving, wait for a save being written, delete the autosave.

        An autosave the user has not answered about (the restore bar still up) is kept for the next start.
        """
        if self._shut:
            return
        self._shut = True
        self.autosave_timer.stop()
        self.wait_autosave()
        if self._runner is not None and self._runner.is_running():
            self._runner.cancel()
        if self._autosave_owned:
            with contextlib.suppress(OSError):
                os.unlink(autosave_path())
        if self._box is not None:
            self._box.close()
