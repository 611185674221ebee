"""OpScope's main window: operation and inputs on the left, the canvas in the middle, the caption
under it and the animation panel at the bottom.

Data flow (ARCHITECTURE §3)::

    edit / param change ──► run id += 1 ──► 150 ms debounce ──► ComputeWorker.compute(RunRequest)
                                                                   │ (worker thread)
    canvas.set_timeline(tl) ◄── run_finished(run id, tl) ◄─────────┘  (stale run ids dropped)
    player clock / keys ──► wanted step ──► FrameWorker (newest request only) ──► canvas.apply_frame

At most one frame is in flight: while it is prepared, newer wishes overwrite the wanted step, and
when it lands the newest wish is sent. So a slow frame makes the animation skip steps, never lag.
"""

from __future__ import annotations

import atexit
import re
import weakref

import numpy as np
from opscope import compute
from opscope.compute.document import EVERY_LINE, Document
from opscope.compute.errors import OpScopeError
from opscope.compute.program import get_program_lesson, infer_input_shapes, parse_program, program_lessons
from opscope.compute.program.mistakes import get_mistake, mistakes
from opscope.gui.canvas import create_canvas
from opscope.gui.canvas.pool import shared_pool
from opscope.gui.editor.history import WorkspaceUndo
from opscope.gui.lessons import DEFAULT_LESSON, LESSONS, get_lesson
from opscope.gui.program import ProgramEditor
from PySide6.QtCore import QSize, Qt, QTimer, Signal
from PySide6.QtGui import QAction, QActionGroup, QKeySequence
from PySide6.QtWidgets import (
    QDockWidget,
    QLabel,
    QMainWindow,
    QScrollArea,
    QStackedLayout,
    QVBoxLayout,
    QWidget,
)

from .controls import OperationPanel, ParamValueError, line_rows
from .deck_controller import DeckController
from .desktop import DesktopActions
from .file_actions import FileActions
from .inputs import InputsPanel
from .mistake_view import MistakeView
from .player import AnimationPanel, PlayerClock, RunProgress
from .presentation import Presentation
from .widgets import CaptionBar, HeaderBar, LessonHeading, StatusFields
from .workers import BlasLimiter, FrameRequest, RunRequest, WorkerThreads

#: Width of the side panels: the canvas gets the rest (about 70 % of a 1600-pixel window).
DOCK_WIDTH = 440

#: Wait this long after the last edit before computing: typing "12" runs once, not twice.
DEBOUNCE_MS = 150

#: An input a program names that the document lacks starts as this many zeros (when no shape
#: that makes the program check could be found).
DEFAULT_NEW_INPUT_SHAPE = (2, 2)

_ONE_LINE = re.compile(r"result\s*=\s*(\w+)\s*\((.*)\)")

def _program_blurb(text: str) -> str:
    """The header's description of a program (what is true of any program)."""
    lines = [ln for ln in text.splitlines() if ln.strip()]
    return (f"{len(lines)} line{'s' if len(lines) != 1 else ''}, stepped one after another; the last line is "
            "the result. The granularity chosen under Steps applies to every line whose operation offers it.")


#: Windows not shut down yet. A script that builds a window and ends without closing it (or
#: running the event loop to its end) left its worker threads running, and Qt aborted the
#: interpreter's exit: "QThread: Destroyed while thread 'opscope-frames' is still running".
_OPEN: weakref.WeakSet = weakref.WeakSet()


@atexit.register
def _shutdown_at_exit() -> None:
    for window in list(_OPEN):
        try:
            window.shutdown()
        except RuntimeError:  # its C++ side is gone already: so are its threads
            pass


class MainWindow(QMainWindow):
    """The OpScope window.

    Parameters
    ----------
    lesson : str or None
        Slug of the lesson to open (default: the 2×2 matrix product); None opens nothing until
        :meth:`open_lesson` or :meth:`select_op` is called.
    autoplay : bool
        Start playing as soon as the first run is computed.
    offer_restore : bool
        When an autosave is left over (OpScope crashed or was killed), offer to restore it in a
        bar at the top of the window. Only the interactive app asks for this; tests and screenshots
        never see the bar.
    autosave : bool
        Save the session in the background after changes (:mod:`gui.window.file_actions`), and
        delete that file on a clean exit. Off by default, so that tests, screenshots and scripts never
        touch the user's autosave.

    Attributes
    ----------
    document : compute.document.Document
        The one owner of the window's state (operation, inputs, parameters, steps, step, slices):
        widgets write through it and re-read it on its events; runs and sessions are made from it.
    undo_history : WorkspaceUndo
        The document's workspace history, as the Edit menu and the editors' buttons use it.

    Signals
    -------
    timeline_changed(object)
        a new run is on screen (its :class:`compute.Timeline`).
    step_changed(int)
        a new step is on screen.
    error_changed(str)
        the last run failed (message) or the error was cleared (empty string).
    busy_changed(bool)
        a run is pending or being computed.
    playing_changed(bool)
        the animation started or stopped.
    presentation_changed(bool)
        presentation mode was entered or left (:mod:`gui.window.presentation`).
    """

    DEFAULT_SIZE = QSize(1600, 1000)

    timeline_changed = Signal(object)
    step_changed = Signal(int)
    error_changed = Signal(str)
    busy_changed = Signal(bool)
    playing_changed = Signal(bool)
    presentation_changed = Signal(bool)
    _run_requested = Signal(object)

    def __init__(self, lesson: str | None = DEFAULT_LESSON, autoplay: bool = True, parent=None, *,
                 offer_restore: bool = False, autosave: bool = False):
        super().__init__(parent)
        self.setWindowTitle("OpScope")
        self.resize(self.DEFAULT_SIZE)

        self.document = Document()
        self.undo_history = WorkspaceUndo(self.document, self)
        self._param_error = ""  # a parameter field holds text that is not a value (the run says so)
        self._spec = None
        self._lesson: str | None = None
        self._heading: LessonHeading | None = None  # the open lesson's header, and its edited form
        self._run_id = 0
        self._timeline = None
        self._canvas = None
        self._canvas_op: str | None = None
        self._retired: list[QWidget] = []
        self._shown = -1
        self._stage = ""
        self._in_flight: FrameRequest | None = None
        self._generation = 0
        # Bumped when a progressive run's levels change the views' colours: a frame prepared
        # before is prepared again (see _refresh_levels).
        self._levels_serial = 0
        self._in_flight_levels = 0
        self._busy = False
        self._error = ""
        self._autoplay_next = False
        self._restart_at_zero = True
        self._loading = False
        self._shut = False
        _OPEN.add(self)  # shut down at exit at the latest (see _shutdown_at_exit)
        self._shown_once = False
        self.layout_restored = False  # set by gui.window.settings: keep the restored dock sizes
        self._land_on: int | None = None
        # While missing inputs are added, the editor keeps its (not yet checked) text.
        self._keep_editor_text = False
        # Heatmap views for the first boards are built while the window idles, one per event-loop
        # turn, instead of all at once when a run finishes (ARCHITECTURE.md §3: never stall).
        shared_pool().prewarm()

        self._build_ui()
        self._build_menus()

        self._debounce = QTimer(self)
        self._debounce.setSingleShot(True)
        self._debounce.timeout.connect(self._send_run)
        self._clock = PlayerClock(self)
        self._clock.seek_requested.connect(self._request_frame)
        self._clock.playing_changed.connect(self._playing_changed)
        self._blas = BlasLimiter()
        # A progressive run (issue 10): polled on a timer, shown as its steps become available.
        self._progress = RunProgress(self)
        self._progress.advanced.connect(self._run_advanced)
        self._progress.polled.connect(self._show_progress)
        self._progress.ended.connect(self._run_ended)
        self._follow = False  # show the newest computed step until the user picks one

        self._workers = WorkerThreads()
        self._run_requested.connect(self._workers.compute.compute)
        self._workers.compute.run_finished.connect(self._on_run_finished)
        self._workers.compute.run_failed.connect(self._on_run_failed)
        self._workers.compute.run_verified.connect(self._on_run_verified)
        self._workers.frames.frame_ready.connect(self._on_frame_ready)

        self._connect_controls()
        self.files.start(autosave=autosave, offer_restore=offer_restore)
        if lesson is not None:
            self.open_lesson(lesson, autoplay=autoplay)

    # ------------------------------------------------------------------------------------------
    # construction
    def _build_ui(self) -> None:
        self.header = HeaderBar()
        self.caption_bar = CaptionBar()
        self.animation = AnimationPanel()
        self._canvas_host = QWidget()
        self._canvas_layout = QStackedLayout(self._canvas_host)
        self._placeholder = QLabel("computing…")
        self._placeholder.setAlignment(Qt.AlignCenter)
        self._placeholder.setStyleSheet("color: #888; font-size: 20pt;")
        self._canvas_layout.addWidget(self._placeholder)
        # A common mistake next to the right way is a page of the canvas area, not a canvas:
        # it has no timeline, and leaving it shows the canvas again as it was.
        self.mistake_view = MistakeView()
        self._canvas_layout.addWidget(self.mistake_view)

        central = QWidget()
        v = QVBoxLayout(central)
        v.setContentsMargins(0, 0, 0, 0)
        v.setSpacing(0)
        v.addWidget(self.header)
        # The program bar: one line for an operation's one-line program, up to 8 for a program.
        self.program_editor = ProgramEditor()
        bar = QWidget()
        bar_layout = QVBoxLayout(bar)
        bar_layout.setContentsMargins(8, 4, 8, 4)
        bar_layout.addWidget(self.program_editor)
        self.program_bar = bar
        v.addWidget(bar)
        v.addWidget(self._canvas_host, 1)
        v.addWidget(self.caption_bar)
        v.addWidget(self.animation)
        self.setCentralWidget(central)

        self.operation_panel = OperationPanel()
        scroll = QScrollArea()
        scroll.setWidget(self.operation_panel)
        scroll.setWidgetResizable(True)
        scroll.setFrameShape(QScrollArea.NoFrame)
        self.operation_dock = QDockWidget("Operation", self)
        self.operation_dock.setObjectName("operation_dock")
        self.operation_dock.setWidget(scroll)
        self.inputs_panel = InputsPanel()
        self.inputs_panel.bind(self.document, self.undo_history)
        self.inputs_dock = QDockWidget("Inputs", self)
        self.inputs_dock.setObjectName("inputs_dock")
        self.inputs_dock.setWidget(self.inputs_panel)
        for dock in (self.operation_dock, self.inputs_dock):
            dock.setFeatures(QDockWidget.DockWidgetMovable | QDockWidget.DockWidgetFloatable
                             | QDockWidget.DockWidgetClosable)
            self.addDockWidget(Qt.LeftDockWidgetArea, dock)
        self.splitDockWidget(self.operation_dock, self.inputs_dock, Qt.Vertical)
        self.resizeDocks([self.operation_dock], [DOCK_WIDTH], Qt.Horizontal)
        self.resizeDocks([self.operation_dock, self.inputs_dock], [330, 670], Qt.Vertical)
        # Keys belong to the animation unless a panel widget was clicked: start with the canvas area.
        self._canvas_host.setFocusPolicy(Qt.StrongFocus)
        self.animation.speed.setFocusPolicy(Qt.ClickFocus)
        self.setFocusProxy(self._canvas_host)
        # Who gets PageDown, the arrows, Space when a panel has the focus: see presentation.py.

        self.status = StatusFields(self.statusBar())

    def _build_menus(self) -> None:
        mb = self.menuBar()
        # Sessions, tensor files, run archives, exports and Quit: see file_actions.py
        self.files = FileActions(self, mb.addMenu("&File"))
        self.edit_menu = mb.addMenu("&Edit")  # filled by DesktopActions below

        lessons = mb.addMenu("&Lessons")
        self.lesson_actions: dict[str, QAction] = {}
        self.mistake_actions: dict[str, QAction] = {}
        group = QActionGroup(self)  # one checked entry across the three sections

        def entry(title: str, slug: str, tip: str, opener, into: dict) -> None:
            act = QAction(title, self, checkable=True)
            act.setData(slug)
            act.setToolTip(tip)
            act.triggered.connect(lambda _c=False, s=slug: opener(s))
            group.addAction(act)
            lessons.addAction(act)
            into[slug] = act

        for lesson in LESSONS:
            entry(lesson.title, lesson.slug, lesson.description, self.open_lesson, self.lesson_actions)
        lessons.addSection("Programs")
        for plesson in program_lessons():
            entry(plesson.title, plesson.slug, plesson.description, self.open_lesson, self.lesson_actions)
        lessons.addSection("Common mistakes")
        for m in mistakes():
            entry(m.title, m.slug, m.summary, self.open_mistake, self.mistake_actions)
        lessons.setToolTipsVisible(True)
        # Decks: File › Open/Save Deck…, Lessons › Course…, and the clicker across entries (deck_controller.py)
        self.decks = DeckController(self, self.files.menu, lessons)

        anim = self.playback_menu = mb.addMenu("&Playback")

        def action(text, keys, slot):
            a = QAction(text, self)
            a.setShortcuts([QKeySequence(k) for k in keys])
            a.triggered.connect(slot)
            anim.addAction(a)
            self.addAction(a)  # active whenever the window is, also with the menu bar hidden (full screen)
            return a

        self.play_action = action("Play / pause", [Qt.Key_Space], self.toggle_play)
        self.forward_action = action("Step forward", [Qt.Key_Right, Qt.Key_PageDown], self.step_forward)
        self.back_action = action("Step back", [Qt.Key_Left, Qt.Key_PageUp], self.step_back)
        self.first_action = action("First step", [Qt.Key_Home], self.first)
        self.last_action = action("Last step", [Qt.Key_End], self.last)

        view = mb.addMenu("&View")
        self.fullscreen_action = QAction("Full screen", self, checkable=True)
        self.fullscreen_action.setShortcut(QKeySequence(Qt.Key_F11))
        self.fullscreen_action.toggled.connect(self.set_full_screen)
        self.panels_action = QAction("Side panels", self, checkable=True, checked=True)
        self.panels_action.setShortcut(QKeySequence(Qt.Key_F9))
        self.panels_action.toggled.connect(self.set_panels_visible)
        for a in (self.fullscreen_action, self.panels_action):
            view.addAction(a)
            self.addAction(a)

        # Edit › Undo / Redo, Playback › Faster / Slower / Loop, and the Help menu: see desktop.py
        self.desktop = DesktopActions(self, self.edit_menu, self.playback_menu)
        # View › Presentation mode (F5), black / white screen, Esc, and who gets a key: presentation.py
        self.presentation = Presentation(self, view)

    def _connect_controls(self) -> None:
        op = self.operation_panel
        op.picker.op_requested.connect(lambda name: self.select_op(name))
        op.params.params_changed.connect(self._params_edited)
        op.stepping.stepping_changed.connect(self._stepping_edited)
        op.program.stepping_changed.connect(self._program_lines_edited)
        ev = self.document.events
        ev.op_changed.connect(self._doc_op_changed)
        ev.inputs_changed.connect(lambda _n: self._user_changed())
        ev.used_changed.connect(lambda _n, _on: self._user_changed())
        ev.params_changed.connect(self._doc_params_changed)
        ev.granularity_changed.connect(lambda _g: self._doc_stepping_changed())
        ev.options_changed.connect(lambda _o: self._doc_stepping_changed())
        ev.line_steps_changed.connect(lambda _s: self._user_changed())
        ev.step_changed.connect(self._doc_step_changed)
        ev.program_text_changed.connect(self._doc_program_changed)
        ev.inputs_changed.connect(lambda _n: self._update_input_shapes())
        ev.inputs_changed.connect(lambda _n: self._follow_lesson_numbers())
        ev.used_changed.connect(lambda _n, _on: self._follow_lesson_numbers())
        ev.params_changed.connect(lambda _c: self._follow_lesson_numbers())
        pe = self.program_editor
        pe.program_changed.connect(self._program_edited)
        pe.missing_inputs_changed.connect(self._add_missing_inputs)
        pe.run_requested.connect(lambda _text: self.run_now())
        self.inputs_panel.message_changed.connect(self.status.flash)
        a = self.animation
        a.play_requested.connect(self.toggle_play)
        a.first_requested.connect(self.first)
        a.back_requested.connect(self.step_back)
        a.forward_requested.connect(self.step_forward)
        a.last_requested.connect(self.last)
        a.seek_requested.connect(self.seek)
        a.speed_changed.connect(lambda s: self._clock.set_speed(s, max(self._want, 0)))
        a.loop_changed.connect(self._set_loop)
        a.cancel_requested.connect(self.cancel_run)
        a.speed.refused.connect(self.status.flash)
        self._clock.set_speed(a.speed.value(), 0)

    # ------------------------------------------------------------------------------------------
    # choosing what to show
    def select_op(self, name: str, inputs: dict | None = None, params: dict | None = None,
                  granularity: str | None = None, *, autoplay: bool = False, title: str | None = None,
                  description: str | None = None, options: dict | None = None, step: int = 0,
                  lesson: str | None = None, record: bool = True) -> None:
        """Show operation ``name`` on ``inputs`` (default: its example) with ``params``.

        ``options`` sets the tile and k-block sizes (``{"tile": 4, "kblock": 2}``), ``step`` the step
        to land on once the run is computed (a reopened session), ``lesson`` the lesson this is
        (its menu entry is checked). The input arrays are taken over, not copied: do not write to
        them afterwards. The change goes through :attr:`document`: with ``record`` it
        is one step of the workspace undo history, without (a lesson, a session) the history
        starts afresh.

        Raises
        ------
        compute.ParamError
            unknown operation name (the message lists the valid ones), or a parameter, input or
            granularity the document refuses (nothing changes).
        """
        compute.get_spec(name)
        self._leave_mistake()
        self._loading = True
        try:
            self._param_error = ""
            # The document checks everything first: a refusal raises and nothing changes.
            # Taken over, not copied: callers hand the window arrays they made for it (lessons,
            # sessions, files, opscope.show's own copies), as before the document existed.
            self.document.set_op(name, inputs, params, granularity, options, record=record, copy=False)
            stepping = self.operation_panel.stepping
            tile, kblock = self.document.options.get("tile"), self.document.options.get("kblock")
            stepping.show_state(self.document.granularity, tile, kblock)
            self.header.set_text(title or f"{name}", description if description is not None else self._spec.doc)
            if lesson in self.lesson_actions:
                self._lesson = lesson
                self.lesson_actions[lesson].setChecked(True)
                self._heading = LessonHeading(title or name, description if description is not None else
                                              self._spec.doc, self._spec.doc, self.document.run_inputs(),
                                              self.document.params)
            self.setWindowTitle(f"OpScope — {title or name}")
        finally:
            self._loading = False
        self._land_on = max(0, int(step)) if step else None
        self._autoplay_next = autoplay
        self._update_blas()

    def _doc_op_changed(self, op) -> None:
        """The document has another operation (chosen, or undone/redone): rebuild the panels from it."""
        doc = self.document
        spec = doc.spec
        self._spec = spec
        self._lesson = None
        self._leave_mistake()
        loading, self._loading = self._loading, True
        try:
            self.operation_panel.picker.set_current(op)
            self.operation_panel.doc.setText(spec.doc)
            self.operation_panel.params.set_spec(spec, dict(doc.params))
            self.operation_panel.stepping.set_spec(spec, doc.granularity)
            self.operation_panel.stepping.show_state(doc.granularity, doc.options.get("tile"),
                                                     doc.options.get("kblock"))
            self._show_program_state()
            self.header.set_text(op, spec.doc)
            for act in self.lesson_actions.values():
                act.setChecked(False)
            self.setWindowTitle(f"OpScope — {op}")
        finally:
            self._loading = loading
        self._clock.pause()
        self._restart_at_zero = True
        self._land_on = None
        self._update_blas()
        self._schedule_run(delay=0)

    def open_lesson(self, slug: str, autoplay: bool = True, step: int | None = None) -> None:
        """Open lesson ``slug`` (see :mod:`gui.lessons`, and the built-in programs of
        :func:`compute.program.program_lessons`); KeyError for an unknown one. With ``step``, the
        run lands on that step (clamped to the run) instead of step 0, with no frame of step 0 first."""
        if slug in {p.slug for p in program_lessons()}:
            self.open_program_lesson(slug, autoplay=autoplay)
        else:
            lesson = get_lesson(slug)
            self.animation.speed.setValue(lesson.speed)
            self.select_op(lesson.op, {k: np.array(v) for k, v in lesson.inputs.items()}, dict(lesson.params),
                           lesson.granularity, autoplay=autoplay, title=lesson.title,
                           description=lesson.description, lesson=slug, record=False)
        if step is not None:
            self._land_on = max(0, int(step))

    def open_program_lesson(self, slug: str, autoplay: bool = True) -> None:
        """Open built-in program ``slug``: its text, its inputs (its scalars as 0-d inputs), its
        per-line granularity; then play it (with ``autoplay``)."""
        plesson = get_program_lesson(slug)
        self._leave_mistake()
        if self.document.op is None:
            self.select_op(get_lesson(DEFAULT_LESSON).op, record=False)
        inputs = {k: np.asarray(v) for k, v in plesson.inputs.items()}
        # A program's scalars (d_k) are inputs like any other: 0-d arrays the user can edit.
        inputs.update({k: np.asarray(v, dtype=np.float64) for k, v in plesson.params.items()})
        # The lesson's own steps, line by line, live in the document (sessions and undo keep them).
        steps = {line: {"granularity": g} for line, g in plesson.granularity.items()}
        self._loading = True
        try:
            self.document.set_program(plesson.text, inputs, record=False, fresh_steps=True, line_steps=steps)
            self._lesson = slug
            self.lesson_actions[slug].setChecked(True)
            self.header.set_text(plesson.title, plesson.description)
            self._heading = LessonHeading(plesson.title, plesson.description, _program_blurb(plesson.text),
                                          self.document.run_inputs(), self.document.params)
            self.setWindowTitle(f"OpScope — {plesson.title}")
        finally:
            self._loading = False
        self._land_on = None
        self._autoplay_next = autoplay
        self._update_blas()

    def show_program(self, text: str, inputs: dict | None = None, granularity=None, *,
                     autoplay: bool = True, title: str | None = None) -> None:
        """Show program ``text`` on ``inputs`` (added to the document's; scalars as 0-d arrays),
        stepped with ``granularity`` (a name, a dict line name → name, or None: each line's default);
        then play it (with ``autoplay``). The workspace history starts afresh, as for a lesson.

        Raises
        ------
        compute.ParamError, compute.InputError
            text that is not a string, or an input the document refuses (nothing changes).
        """
        self._leave_mistake()
        if self.document.op is None:
            self.select_op(get_lesson(DEFAULT_LESSON).op, record=False)
        arrays = {k: np.asarray(v) for k, v in dict(inputs or {}).items()}
        if isinstance(granularity, str):
            steps = {EVERY_LINE: {"granularity": granularity}}
        else:
            steps = {line: {"granularity": g} for line, g in dict(granularity or {}).items()}
        self._loading = True
        try:
            self.document.set_program(text, arrays, record=False, fresh_steps=True, line_steps=steps)
            self._lesson = None
            for act in self.lesson_actions.values():
                act.setChecked(False)
            heading = title or "Program"
            self.header.set_text(heading, _program_blurb(text))
            self.setWindowTitle(f"OpScope — {heading}")
        finally:
            self._loading = False
        self._land_on = None
        self._autoplay_next = autoplay
        self._update_blas()

    # ------------------------------------------------------------------------------------------
    # common mistakes
    def open_mistake(self, slug: str) -> None:
        """Show common mistake ``slug`` (:func:`compute.program.mistakes.mistakes`) in place of the
        canvas: both programs, both values, the differing cells and the caption. Choosing an
        operation, a lesson or typing a program shows the canvas again.

        Raises
        ------
        compute.ParamError
            unknown slug (nothing changes).
        """
        m = get_mistake(slug)
        self._clock.pause()
        self.mistake_view.open(slug)
        self._canvas_layout.setCurrentWidget(self.mistake_view)
        self.mistake_actions[slug].setChecked(True)
        # The view has its own title and caption; the canvas's caption and player would only
        # describe the operation hidden behind it.
        self.caption_bar.hide()
        self.animation.hide()
        self.header.set_text("Common mistake", m.summary)
        self.setWindowTitle(f"OpScope — {m.title}")
        self._mistake_chrome(m)

    def _mistake_chrome(self, m=None) -> None:
        """While mistake ``m`` is shown (None: none), nothing around it may act on the run hidden
        behind it: play, first and last are disabled and a step does nothing (:meth:`seek`; the
        step keys stay enabled for a deck's clicker, which moves to its next entry), the hidden
        run's parameters, steps and inputs are disabled (the picker and the program bar stay: they
        are the ways back), and the status bar names the mistake instead of the hidden run's badge
        and figures."""
        on = m is not None
        for act in (self.play_action, self.first_action, self.last_action):
            act.setEnabled(not on)
        panel = self.operation_panel
        for w in (panel.params, panel.stepping, panel.program, self.inputs_panel):
            w.setEnabled(not on)
        st = self.status
        for w in (st.verified, st.shapes, st.steps, st.flops, st.time):
            w.setVisible(not on)
        if on:
            st.message.setStyleSheet("")
            st.message.setText(f"Common mistake: {m.title} — right and wrong side by side on the same numbers; "
                               f"pick an operation or a lesson, or type a program, to go back")
            st.message.setToolTip(m.summary)
        else:
            st.set_notices(self._timeline.notices if self._timeline is not None else ())

    def is_mistake(self) -> bool:
        """Whether a common mistake is shown in place of the canvas."""
        return self._canvas_layout.currentWidget() is self.mistake_view

    def _leave_mistake(self) -> None:
        """Show the canvas (or the placeholder before the first run) instead of a mistake."""
        if not self.is_mistake():
            return
        for act in self.mistake_actions.values():
            act.setChecked(False)
        # Every caller sets the header for what it shows next, so it is left to them.
        self.caption_bar.show()
        self.animation.show()
        self._mistake_chrome(None)
        self._canvas_layout.setCurrentWidget(self._canvas if self._canvas is not None else self._placeholder)

    # ------------------------------------------------------------------------------------------
    # programs
    def is_program(self, text: str | None = None) -> bool:
        """Whether ``text`` (default: the document's) is a program rather than the current
        operation's one-line program, which runs as the operation itself."""
        doc = self.document
        text = (doc.program_text if text is None else text).strip()
        if doc.spec is None or not text:
            return False
        m = _ONE_LINE.fullmatch(text)
        if m is None or m.group(1) != doc.op:
            return True
        names = [n.strip() for n in m.group(2).split(",") if n.strip()]
        declared = [i.name for i in doc.spec.inputs]
        required = [i.name for i in doc.spec.inputs if not i.optional]
        # The operation's inputs in declared order (optional ones as the document uses them).
        return not (names == [n for n in declared if n in names] and set(required) <= set(names))

    def _program_names(self, text: str) -> list[str] | None:
        """The inputs ``text`` reads that the document holds (None when it is no program, or
        does not parse: then the operation's inputs are shown)."""
        if not self.is_program(text):
            return None
        try:
            free = parse_program(text).free_names
        except OpScopeError:
            return None
        return [n for n in free if n in self.document.inputs]

    def _show_program_state(self) -> None:
        """The editor and the input tabs for the document's program (or the operation's)."""
        doc = self.document
        text = self.program_editor.text() if self._keep_editor_text else doc.program_text
        self.inputs_panel.set_inputs(doc.spec, names=self._program_names(text))
        self._update_input_shapes()
        if not self._keep_editor_text:
            self.program_editor.set_text(doc.program_text)

    def _update_input_shapes(self) -> None:
        self.program_editor.set_input_shapes({n: np.shape(a) for n, a in self.document.inputs.items()})

    def _program_edited(self, text: str) -> None:
        """The editor's text checked: it becomes the document's program (one undo step)."""
        if self._loading or text == self.document.program_text:
            return
        self.document.set_program_text(text)

    def _doc_program_changed(self, text: str) -> None:
        # Typed, undone or redone: the editor shows it, the tabs follow what it reads, it runs.
        self._leave_mistake()
        if self.program_editor.text() != text:
            self.program_editor.set_text(text)
        names = self._program_names(text)
        if names is not None or self.inputs_panel.names() != [i.name for i in self.document.spec.inputs]:
            current = self.inputs_panel.current_name()
            self.inputs_panel.set_inputs(self.document.spec, names=names)
            if current in self.inputs_panel.names():
                self.inputs_panel.set_current(current)
        self._show_program_header(text)
        self._restart_at_zero = True
        self._user_changed()

    def _show_program_header(self, text: str) -> None:
        """The header names what runs: the open program lesson, "Program", or the operation."""
        if self._loading:
            return  # a lesson or session being opened sets its own title
        lesson = self._lesson if self._lesson in {p.slug for p in program_lessons()} else None
        if lesson is not None and get_program_lesson(lesson).text == text:
            return
        if lesson is not None:  # edited away from the lesson's text: no longer that lesson
            self._lesson = None
            self.lesson_actions[lesson].setChecked(False)
        spec = self.document.spec
        if not self.is_program(text) and self._lesson in self.lesson_actions:
            return  # back to an operation lesson's own program: its title stays
        if self.is_program(text):
            self.header.set_text("Program", _program_blurb(text))
            self.setWindowTitle("OpScope — program")
        elif spec is not None:
            self.header.set_text(spec.name, spec.doc)
            self.setWindowTitle(f"OpScope — {spec.name}")

    def _add_missing_inputs(self, names: list) -> None:
        """Inputs the editor's program names that the document lacks get a tab and a small array."""
        doc = self.document
        new = [n for n in names if n not in doc.inputs]
        if not new or doc.op is None:
            return
        shapes = self._guess_shapes(self.program_editor.text(), new)
        self._keep_editor_text = True
        try:
            doc.add_inputs({n: np.zeros(shapes[n]) for n in new})
        finally:
            self._keep_editor_text = False

    def _guess_shapes(self, text: str, names: list) -> dict[str, tuple[int, ...]]:
        """A shape for each new input of ``names``, inferred from what ``text`` forces on it
        (:func:`compute.program.infer_input_shapes`); :data:`DEFAULT_NEW_INPUT_SHAPE` where
        nothing does, or where the text does not parse."""
        known = {n: np.shape(a) for n, a in self.document.inputs.items()}
        try:
            return infer_input_shapes(parse_program(text), known, names, default=DEFAULT_NEW_INPUT_SHAPE)
        except OpScopeError:
            return {n: DEFAULT_NEW_INPUT_SHAPE for n in names}

    def _follow_lesson_numbers(self) -> None:
        """An open lesson's header quotes its numbers: once the inputs or parameters are no longer
        the lesson's, it names the lesson "(edited)" and describes the operation instead; undo
        back to the lesson's numbers brings its own header back (:class:`LessonHeading`)."""
        if self._loading or self._lesson is None or self._heading is None or self.is_mistake():
            return
        doc = self.document
        title, description = self._heading.text(doc.run_inputs(), doc.params)
        if (title, description) != self.header.texts():
            self.header.set_text(title, description)
            self.setWindowTitle(f"OpScope — {title}")

    @property
    def lesson(self) -> str | None:
        """Slug of the open lesson (None after the user picked another operation)."""
        return self._lesson

    @property
    def op_name(self) -> str | None:
        return self._spec.name if self._spec is not None else None

    def editor(self, name: str):
        """The matrix editor of input ``name``."""
        return self.inputs_panel.editor(name)

    def set_input(self, name: str, array) -> None:
        """Replace input ``name``'s numbers as the user would (debounced re-run)."""
        self.inputs_panel.editor(name).set_array(np.asarray(array))

    def set_param(self, name: str, value) -> None:
        """Set parameter ``name`` as the user would (debounced re-run)."""
        self.operation_panel.params.set_value(name, value)

    def set_granularity(self, granularity: str | None) -> None:
        """Choose the granularity (None: auto) as the user would (debounced re-run)."""
        self.operation_panel.stepping.set_granularity(granularity)

    # ------------------------------------------------------------------------------------------
    # widgets -> document, document -> widgets
    def _params_edited(self) -> None:
        """The form changed: its values go to the document (which checks them), or the run says why not."""
        if self._loading:
            return
        try:
            values = self.operation_panel.params.values()
            self._param_error = ""
            changed = self.document.set_params(values)
        except ParamValueError as exc:
            self._param_error, changed = str(exc), False
        except OpScopeError as exc:
            self._param_error, changed = str(exc), False
        if not changed:  # the document's event schedules the run; without one, say the error (or clear it)
            self._user_changed()

    def _doc_params_changed(self, _changed) -> None:
        form = self.operation_panel.params
        try:
            shown = form.values()
        except ParamValueError:
            shown = None
        if shown != dict(self.document.params):  # changed from code or undone: show it
            self._param_error = ""
            form.set_values(dict(self.document.params))
        self._user_changed()

    def _stepping_edited(self) -> None:
        if self._loading:
            return
        g, tile, kblock = self.operation_panel.stepping.raw_values()
        try:
            self.document.set_granularity(g)
            self.document.set_options(tile=tile, kblock=kblock)
        except OpScopeError as exc:
            self.status.flash(str(exc))
            self._doc_stepping_changed()

    def _doc_stepping_changed(self) -> None:
        doc = self.document
        stepping = self.operation_panel.stepping
        if stepping.raw_values() != (doc.granularity, doc.options.get("tile"), doc.options.get("kblock")):
            stepping.show_state(doc.granularity, doc.options.get("tile"), doc.options.get("kblock"))
        self._user_changed()

    @property
    def _want(self) -> int:
        # The step asked for lives in the document: one place, also for sessions.
        return self.document.step

    @_want.setter
    def _want(self, n: int) -> None:
        self._setting_step = True
        try:
            self.document.set_step(max(0, int(n)))
        finally:
            self._setting_step = False

    _setting_step = False

    def _doc_step_changed(self, n: int) -> None:
        if not self._setting_step and not self._loading:  # set from code (not by the player): show it
            self._request_frame(n)

    # ------------------------------------------------------------------------------------------
    # runs
    def _user_changed(self) -> None:
        if not self._loading:
            self._schedule_run()

    def _schedule_run(self, delay: int = DEBOUNCE_MS) -> None:
        """A new run id makes every older run stale at once; the request itself waits ``delay``."""
        if self._shut or self._spec is None:
            return
        self._run_id += 1
        self._workers.compute.latest_run_id = self._run_id
        self.cancel_run()  # a long run of the old inputs stops now; the compute thread is free for this one
        self._set_busy(True)
        if delay <= 0:
            self._debounce.stop()
            self._send_run()
        else:
            self._debounce.start(delay)

    def cancel_run(self) -> bool:
        """Cancel the progressive run being computed; True when one was (Esc, the Cancel button).

        What was computed stays on screen and can be scrubbed and played; the workers stop
        within one block. Never waits: the run's end arrives through :class:`RunProgress`. An
        eager (small) run cannot be interrupted: False."""
        tl = self._progress.timeline
        if tl is None or tl.done or tl.cancelled:
            return False
        tl.cancel(wait=False)
        self.animation.hide_progress()
        return True

    def _refresh_levels(self) -> None:
        """A progressive run's levels widen as it computes: the views follow, and the frame on
        screen (coloured with the old levels) is prepared again."""
        canvas = self._canvas
        if canvas is None or not hasattr(canvas, "refresh_levels") or not canvas.refresh_levels():
            return
        self._levels_serial += 1
        self._shown = -1
        self._request_frame(self._want)

    def _run_advanced(self, n: int) -> None:
        """More steps of the progressive run on screen exist: update the bar, show them."""
        tl = self._progress.timeline
        if tl is not self._timeline or self._shut:
            return
        self._refresh_levels()
        self._show_progress()
        if n <= 0:
            return
        if self._follow and not self._clock.playing:
            self._request_frame(n - 1)
        elif self._want != self._shown:
            self._request_frame(self._want)

    def _show_progress(self) -> None:
        tl = self._progress.timeline
        if tl is self._timeline and tl is not None and not tl.cancelled and not tl.done:
            self.animation.set_progress(tl.progress(), tl.available(), len(tl), tl.time_left())

    def _run_ended(self, tl) -> None:
        """The progressive run finished, was cancelled or failed."""
        if tl is not self._timeline or self._shut:
            return
        self._refresh_levels()  # final now (or what the cancelled run reached)
        self.animation.hide_progress()
        self.status.set_run(tl)
        if tl.error is not None:
            self._show_error(f"the run failed after {tl.available()} of {len(tl)} steps: {tl.error}")
        elif tl.cancelled:
            self.status.set_error(f"cancelled: {tl.available()} of {len(tl)} steps were computed "
                                  f"(they can be scrubbed and played)")
        if tl.error is not None or tl.cancelled:
            self.status.set_verification("not verified: the run did not finish")
        elif self.status.verification is None:
            self.status.set_verifying(computing=False)  # computed: the worker is checking it now
        if tl.available() < len(tl):
            self._clock.length = max(1, tl.available())  # play ends where the computation stopped
        self._follow = False

    def run_now(self) -> None:
        """Send a pending (debounced) run at once."""
        if self._debounce.isActive():
            self._debounce.stop()
            self._send_run()

    def _send_run(self) -> None:
        if self._shut:
            return
        if self._param_error:
            self._set_busy(False)
            self._show_error(self._param_error)
            return
        doc = self.document
        if self.is_program():
            self._run_requested.emit(self._program_request())
            return
        tile, kblock = doc.effective_options()
        # The document's frozen arrays, shared with the worker: no copy per run. Only the
        # operation's own: inputs added for a program are not the operation's.
        declared = {i.name for i in doc.spec.inputs}
        inputs = {n: a for n, a in doc.run_inputs().items() if n in declared}
        req = RunRequest(self._run_id, doc.op, inputs, dict(doc.params), doc.granularity, tile, kblock)
        self._run_requested.emit(req)

    def _program_request(self) -> RunRequest:
        doc = self.document
        text = doc.program_text
        try:
            reads = parse_program(text).free_names
        except OpScopeError:
            reads = tuple(doc.inputs)  # the worker's stream_program says what is wrong
        inputs = {n: doc.inputs[n] for n in reads if n in doc.inputs}
        # The lines' own steps (a lesson's, or picked in the program box), else one for all.
        granularity, options = doc.program_steps()
        hint = self._canvas.band_hint() if hasattr(self._canvas, "band_hint") else None
        return RunRequest(self._run_id, "program", inputs, {}, granularity, program=text, options=options,
                          band_hint=hint)

    def _program_lines_edited(self) -> None:
        """A line's steps changed in the Operation panel's program box: re-run with them."""
        if self._loading:
            return
        granularity, options = self.operation_panel.program.values()
        lines = set(granularity) | set(options)
        steps = {line: {"granularity": granularity.get(line), **options.get(line, {})} for line in lines}
        try:
            self.document.set_line_steps(steps)  # one undo step; the document's event re-runs
        except OpScopeError as exc:
            self.status.flash(str(exc))

    def _show_program_panel(self, tl) -> None:
        """The Operation panel shows what runs: a program's lines and their steps, or the operation."""
        panel = self.operation_panel
        if tl.op != "program":
            panel.show_operation()
            return
        chosen, options = self.document.program_steps()
        panel.show_program(line_rows(tl, chosen, options))

    def _on_run_finished(self, run_id: int, tl) -> None:
        if self._shut or run_id != self._run_id:
            return  # a late result of a run the user has already changed
        self._set_busy(False)
        self._show_error("")
        if self._canvas is None or self._canvas_op != tl.op:
            self._install_canvas(tl.op)
        self._timeline = tl
        self._canvas.set_timeline(tl, show_first=False)  # the frame worker prepares the first frame
        self._shown = -1
        if self._land_on is not None:  # a reopened session: its step, once its run is here
            n = min(self._land_on, len(tl) - 1)
        else:
            n = 0 if self._restart_at_zero else min(max(self._want, 0), len(tl) - 1)
        self._restart_at_zero = False
        self._land_on = None
        self._want = n
        self._clock.length = len(tl)
        self._clock.frontier = tl.available if not tl.done else None
        self._follow = not tl.done and self._land_on is None and not self._clock.playing
        self._progress.watch(tl if not tl.done else None)
        if not tl.done:
            self.animation.set_progress(0.0, 0, len(tl), None)
        else:
            self.animation.hide_progress()
        self.animation.set_length(len(tl))
        self.inputs_panel.set_levels(tl.levels)
        self.status.set_run(tl)
        if not tl.done:
            self.status.time.setText("computing…")  # _run_ended says how long it took
        self._show_program_panel(tl)
        # The worker checks it next (a progressive run once computed); _on_run_verified shows it.
        self.status.set_verifying(computing=not tl.done)
        self.timeline_changed.emit(tl)
        if self._autoplay_next or self._clock.playing:
            self._autoplay_next = False
            self._clock.play(n)
        else:
            self._request_frame(n)

    def _on_run_failed(self, run_id: int, message: str) -> None:
        if self._shut or run_id != self._run_id:
            return
        self._set_busy(False)
        self._autoplay_next = False
        self._land_on = None
        self._update_blas()
        self._show_error(message)

    def _on_run_verified(self, run_id: int, verdict) -> None:
        """The badge for the run on screen (a verdict on any other run is stale and dropped)."""
        if self._shut or self._timeline is None or self._timeline.run_id != run_id:
            return
        self.status.set_verification(verdict)

    def _install_canvas(self, op: str) -> None:
        # Removing the current page makes the stacked layout show another one: decide first.
        mistake_shown = self.is_mistake()
        old = self._canvas
        if old is not None:
            old.caption_changed.disconnect(self.caption_bar.set_caption)
            old.save_requested.disconnect(self.files.save_view)
            self._canvas_layout.removeWidget(old)
            old.hide()
            # A frame worker may still be reading the old canvas; delete it once nothing is in flight.
            self._retired.append(old)
        self._canvas = create_canvas(op, parent=self._canvas_host)  # a ProgramCanvas for "program"
        self._canvas_op = op
        self._canvas.caption_changed.connect(self.caption_bar.set_caption)
        self._canvas.save_requested.connect(self.files.save_view)
        if hasattr(self._canvas, "step_requested"):  # a program's overview: a click goes to that line
            self._canvas.step_requested.connect(self.seek)
        self._canvas_layout.addWidget(self._canvas)
        # A run that lands while a mistake is shown waits behind it.
        self._canvas_layout.setCurrentWidget(self.mistake_view if mistake_shown else self._canvas)
        self._timeline = None

    def _set_busy(self, busy: bool) -> None:
        if busy != self._busy:
            self._busy = busy
            if busy:
                self.status.time.setText("computing…")
            elif self._timeline is not None:
                self.status.set_run(self._timeline)
            self.busy_changed.emit(busy)

    def _show_error(self, message: str) -> None:
        if message == self._error:
            return
        self._error = message
        self.caption_bar.set_error(message)
        if message:
            self.status.set_error(message)
        elif self._timeline is not None:
            self.status.set_notices(self._timeline.notices)
        else:
            self.status.set_error("")
        self.error_changed.emit(message)

    # ------------------------------------------------------------------------------------------
    # frames
    def _request_frame(self, n: int) -> None:
        """Ask for step ``n`` on screen (the newest wish wins; one frame in flight at a time)."""
        tl = self._timeline
        if tl is None or self._shut:
            return
        # A progressive run: only computed steps are shown (scrubbing stops at the frontier).
        limit = len(tl) if tl.done and not tl.cancelled else tl.available()
        self._want = max(0, min(int(n), len(tl) - 1, limit - 1))
        if limit <= 0:
            return  # nothing computed yet: RunProgress asks again when the first step exists
        if self._in_flight is None and self._want != self._shown:
            self._dispatch(self._want)

    def _dispatch(self, n: int) -> None:
        req = FrameRequest(self._timeline, self._canvas, n, self._generation)
        self._in_flight = req
        self._in_flight_levels = self._levels_serial
        self._workers.frames.request(req)

    def _on_frame_ready(self, res) -> None:
        req = res.request
        if self._in_flight is req:
            self._in_flight = None
        if self._shut:
            return
        if req.timeline is self._timeline and req.canvas is self._canvas and req.generation == self._generation:
            self._shown = req.n  # also after an error, so a failing step is not retried for ever
            if self._in_flight_levels != self._levels_serial:
                self._shown = -1  # prepared before the levels last changed: prepare it again
            if res.error:
                self.caption_bar.set_caption(f"step {req.n + 1}: {res.error}")
            else:
                self._canvas.apply_frame(res.frame)
                self._stage = res.stage
                self.caption_bar.set_caption(res.caption)
            self.animation.set_position(req.n, len(self._timeline), res.stage)
            self.step_changed.emit(req.n)
        if self._in_flight is None:
            if self._timeline is not None and self._want != self._shown:
                self._dispatch(self._want)
            else:
                self._retire()

    def _retire(self) -> None:
        for w in self._retired:
            w.deleteLater()
        self._retired.clear()

    def show_step(self, n: int) -> int:
        """Show step ``n`` at once, on this thread (screenshots); returns the step shown (clamped)."""
        tl = self._timeline
        if tl is None:
            return -1
        self._clock.pause()
        n = max(0, min(int(n), len(tl) - 1))
        self._generation += 1  # a frame still in flight was asked for before this: it must not replace it
        self._canvas.show_step(n)
        step = tl[n]
        self._want = self._shown = n
        self._stage = step.stage
        self.caption_bar.set_caption(step.caption)
        self.animation.set_position(n, len(tl), step.stage)
        self.step_changed.emit(n)
        return n

    # ------------------------------------------------------------------------------------------
    # the player
    def play(self) -> None:
        """Play from the wanted step (from the start when at the end)."""
        if self._timeline is None:
            self._autoplay_next = True
            self._update_blas()
            return
        self._clock.play(self._want)

    def pause(self) -> None:
        self._autoplay_next = False
        self._clock.pause()
        self._update_blas()

    def _update_blas(self) -> None:
        # A run computed to be played (autoplay) counts as animation: its BLAS leaves a core free too.
        self._blas.limit(self.is_playing and not self._shut)

    def toggle_play(self) -> None:
        if self.is_playing:
            self.pause()
        else:
            self.play()

    def seek(self, n: int) -> None:
        """Go to step ``n`` (pauses); nothing while a common mistake hides the run."""
        if self.is_mistake():
            return
        self._follow = False  # the user's step, not the frontier's
        self.pause()
        self._request_frame(n)

    def step_forward(self) -> None:
        # A step spread over several pages of the canvas (mha's projection writes Q, K and V at
        # once) shows its next page first, as a slide shows its builds.
        if getattr(self._canvas, "next_page", None) is not None and not self.is_playing and self._canvas.next_page():
            return
        if self.decks.step_forward():  # a deck is open: its next step, or its next entry
            return
        self.seek(self._want + 1)

    def step_back(self) -> None:
        if getattr(self._canvas, "previous_page", None) is not None and not self.is_playing \
                and self._canvas.previous_page():
            return
        if self.decks.step_back():
            return
        self.seek(self._want - 1)

    def first(self) -> None:
        self.seek(0)

    def last(self) -> None:
        if self._timeline is not None:
            self.seek(len(self._timeline) - 1)

    def set_speed(self, steps_per_second: float) -> None:
        self.animation.speed.setValue(steps_per_second)

    def set_loop(self, on: bool) -> None:
        self.animation.loop.setChecked(on)

    def _set_loop(self, on: bool) -> None:
        self._clock.loop = bool(on)

    def _playing_changed(self, playing: bool) -> None:
        self._update_blas()
        self.animation.set_playing(playing)
        self.playing_changed.emit(playing)

    # ------------------------------------------------------------------------------------------
    # state, for the status line and tests
    @property
    def is_playing(self) -> bool:
        return self._clock.playing or self._autoplay_next

    @property
    def is_busy(self) -> bool:
        """A run is waiting for its debounce or being computed."""
        return self._busy

    @property
    def timeline(self):
        """The :class:`compute.Timeline` on screen (None before the first run)."""
        return self._timeline

    @property
    def canvas(self):
        return self._canvas

    @property
    def current_step(self) -> int:
        """The step on screen (-1 before the first frame)."""
        return self._shown

    @property
    def wanted_step(self) -> int:
        """The step asked for (it is on screen once its frame arrived)."""
        return self._want

    @property
    def stage(self) -> str:
        return self._stage

    @property
    def error(self) -> str:
        """Why the last run failed ('' when it did not)."""
        return self._error

    def is_idle(self) -> bool:
        """Nothing pending: no run waiting or computing, no frame in flight, the wanted step shown."""
        return (not self._busy and self._in_flight is None and self._timeline is not None
                and self._shown == self._want and not self._progress.active)

    def caption_text(self) -> str:
        return self.caption_bar.caption.text()

    def readout_text(self) -> str:
        return self.animation.readout.text()

    # ------------------------------------------------------------------------------------------
    # presentation
    def set_full_screen(self, on: bool) -> None:
        """Full screen (F11; Esc leaves it). Presentation mode (F5) also hides the bars."""
        if on:
            self.showFullScreen()
        else:
            self.showNormal()
        if self.fullscreen_action.isChecked() != on:
            self.fullscreen_action.setChecked(on)

    def set_presentation(self, on: bool, *, full_screen: bool = True) -> None:
        """Enter or leave presentation mode (F5 / Esc; :mod:`gui.window.presentation`); with
        ``full_screen=False`` the window keeps its size (offscreen screenshots)."""
        self.presentation.set_presenting(on, full_screen=full_screen)

    def is_presenting(self) -> bool:
        """Whether presentation mode is on."""
        return self.presentation.presenting

    def set_panels_visible(self, on: bool) -> None:
        """Show or hide the side panels (F9): all the screen for the canvas."""
        self.operation_dock.setVisible(on)
        self.inputs_dock.setVisible(on)
        if self.panels_action.isChecked() != on:
            self.panels_action.setChecked(on)

    # ------------------------------------------------------------------------------------------
    # shutting down
    def shutdown(self) -> None:
        """Stop the clock and the worker threads (idempotent; called by :meth:`closeEvent`)."""
        if self._shut:
            return
        self._shut = True
        self._debounce.stop()
        self._clock.pause()
        self._blas.limit(False)
        self._progress.watch(None)
        self._workers.stop()
        self.mistake_view.stop()
        self.decks.shutdown()
        self._in_flight = None
        self.files.shutdown()  # a clean exit: the autosave is no longer needed

    def showEvent(self, event) -> None:  # noqa: N802 - Qt's name
        super().showEvent(event)
        if not self._shown_once:
            # Dock sizes only stick once the window has its size; keys start with the animation.
            self._shown_once = True
            if not self.layout_restored:  # the user's own dock sizes, when restored, win
                self.resizeDocks([self.operation_dock], [DOCK_WIDTH], Qt.Horizontal)
                # The operation panel as tall as its widgets (picker, parameters, steps), the editors the rest.
                top = min(self.operation_panel.sizeHint().height() + 40, self.height() // 2)
                self.resizeDocks([self.operation_dock, self.inputs_dock], [top, self.height() - top], Qt.Vertical)
            self._canvas_host.setFocus()

    def closeEvent(self, event) -> None:  # noqa: N802 - Qt's name
        self.shutdown()
        super().closeEvent(event)
