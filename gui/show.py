"""``opscope.show(...)``: the window on the user's own tensors, from a script or a notebook.

In a script, :func:`show` blocks until the window is closed, like ``matplotlib.pyplot.show``. In
IPython or Jupyter with ``%gui qt`` on, Qt's events are processed between cells, so it returns at
once and the window stays live; a later call shows its operation and tensors in the same window.

Everything the user passed is checked (names, values, shapes, parameters) before any window exists,
so a typo costs an exception with the valid names, not a window with an error in it.
"""

from __future__ import annotations

import re
import sys
from collections.abc import Mapping
from dataclasses import dataclass

import numpy as np
from opscope import compute
from opscope.compute.errors import InputError, OpScopeError, ParamError
from opscope.compute.interop import as_numpy
from opscope.compute.registry import GRANULARITIES
from opscope.gui.app import SigintQuit, create_application, display_problem, fit_to_screen, freeze_heap
from opscope.gui.lessons import Lesson, get_lesson, lesson_names
from PySide6.QtCore import QCoreApplication, QEventLoop, QThread, QTimer
from PySide6.QtGui import QGuiApplication

#: Characters of an expression or assignment ("s = Q @ K.T"): never part of an operation or lesson name.
_PROGRAM_CHARS = re.compile(r"[=@+\-*/%()\[\]\n;.]")

#: The window of the last call, kept so a notebook's window is not garbage-collected once show()
#: returns, and so the next call can update it.
_window = None

#: Said once per session: in IPython without ``%gui qt`` the window blocks the prompt.
_hinted = False


@dataclass(frozen=True)
class _Target:
    """What to show, checked: an operation, its inputs (host arrays) and parameters."""

    op: str
    inputs: dict | None
    params: dict
    granularity: str | None
    #: The lesson to open as it is (its title, description and speed); None when the caller changed anything.
    lesson: Lesson | None = None
    #: Program text (named lines) to show instead of one operation: ``inputs`` are then its tensors
    #: and scalars (0-d arrays) and ``granularity`` a name or a dict line name -> name.
    program: str | None = None


def _names_hint() -> str:
    ops = ", ".join(s.name for s in compute.operations())
    return f"operations: {ops}; lessons: {', '.join(lesson_names())}"


def _is_param_value(spec, name: str, value) -> bool:
    """True when ``name=value`` is a keyword parameter rather than a tensor.

    ``mask`` is both for attention: ``"causal"`` / ``"padding:3,2"`` / None are the keyword, an
    array is the input.
    """
    if spec.param(name) is None:
        return False
    return name not in spec.input_names or value is None or isinstance(value, str)


def resolve(op_or_program, tensors: Mapping[str, object], params: Mapping[str, object] | None = None,
            granularity: str | None = None) -> _Target:
    """Check what :func:`show` was asked to show, without Qt.

    Parameters
    ----------
    op_or_program : str
        An operation name (``compute.operations()``) or a lesson name (``gui.lessons``).
    tensors : Mapping[str, object]
        The operation's inputs by name (anything :func:`compute.interop.as_numpy` reads). A name
        that is one of the operation's parameters (``axis=0``) is taken as that parameter.
    params : Mapping[str, object] or None
        Keyword parameters of the operation.
    granularity : str or None
        ``"element"``, ``"tile"``, ``"kblock"``, ``"stage"`` or None (auto).

    Returns
    -------
    _Target

    Raises
    ------
    ParamError
        not a known operation or lesson name (program text among them), an unknown parameter or
        granularity, or a bad parameter value.
    InputError
        an unknown input name or a value that is not an array of numbers.
    ShapeError
        shapes the operation cannot combine.
    """
    if not isinstance(op_or_program, str):
        raise ParamError(f"opscope.show: the first argument is an operation or lesson name (a str), "
                         f"not a {type(op_or_program).__name__}; {_names_hint()}")
    name = op_or_program.strip()
    op_names = [s.name for s in compute.operations()]
    lesson = None
    if name in op_names:
        spec = compute.get_spec(name)
    elif name in lesson_names():
        lesson = get_lesson(name)
        spec = compute.get_spec(lesson.op)
    elif _PROGRAM_CHARS.search(name):
        return _resolve_program(op_or_program, tensors, params, granularity)
    else:
        raise ParamError(f"opscope.show: unknown operation or lesson {name!r}; {_names_hint()}")
    if params is not None and not isinstance(params, Mapping):
        raise ParamError(f"{spec.name}: params must be a dict of name -> value (e.g. {{'axis': 0}}), "
                         f"not a {type(params).__name__}")

    inputs: dict[str, np.ndarray] = {}
    keywords: dict[str, object] = dict(lesson.params) if lesson is not None else {}
    for key, value in dict(params or {}).items():
        if key in spec.input_names and not _is_param_value(spec, key, value):
            inputs[key] = as_numpy(value, key, copy=True)  # params={"mask": array}: an input after all
        else:
            keywords[key] = value
    for key, value in tensors.items():
        if _is_param_value(spec, key, value):
            keywords[key] = value
        elif key in spec.input_names:
            if value is not None:  # None: leave an optional input out
                # A copy: the window must not change when the caller later edits its array in place.
                inputs[key] = as_numpy(value, key, copy=True)
        else:
            takes = ", ".join(spec.input_names)
            kw = ", ".join(p.name for p in spec.params)
            raise InputError(f"{spec.name}: unknown input {key!r}; {spec.name} takes {takes}"
                             + (f" (parameters: {kw}, or params={{...}})" if kw else ""))
    if granularity is not None and granularity not in spec.granularities:
        raise ParamError(f"{spec.name}: granularity {granularity!r} is not offered; "
                         f"valid: {', '.join(spec.granularities)} or None (auto)")
    as_is = lesson is not None and not (params or tensors or granularity is not None)
    if lesson is not None:
        inputs = {**{k: np.array(v) for k, v in lesson.inputs.items()}, **inputs}
        granularity = lesson.granularity if granularity is None else granularity
    given = inputs if inputs else None  # None: the operation's example inputs
    # The same checks a run makes (names, dtypes, shapes, parameter values), made here so that they
    # raise in the caller's session instead of turning up as an error inside the window.
    compute.prepare(spec.name, given if given is not None else spec.example(), keywords)
    return _Target(spec.name, given, keywords, granularity, lesson if as_is else None)


def _resolve_program(text: str, tensors: Mapping[str, object], params: Mapping[str, object] | None,
                     granularity) -> _Target:
    """Check program ``text`` on ``tensors`` (and the scalars in ``params``) as :func:`resolve` does
    an operation: every name, value and shape before any window exists."""
    if params is not None and not isinstance(params, Mapping):
        raise ParamError(f"opscope.show: params must be a dict of name -> value (e.g. {{'d_k': 3}}), "
                         f"not a {type(params).__name__}")
    inputs: dict[str, np.ndarray] = {}
    for key, value in {**dict(params or {}), **tensors}.items():
        if value is None:
            continue
        # A program's scalars (d_k) are inputs like any other, as in the built-in programs: 0-d
        # arrays the user can edit in the window. Copies: later edits of the caller's arrays stay out.
        array = as_numpy(value, key, copy=True)
        inputs[str(key)] = array.astype(np.float64) if array.ndim == 0 and array.dtype.kind in "biu" else array
    if granularity is not None and not isinstance(granularity, (str, Mapping)):
        raise ParamError(f"opscope.show: granularity is a name or a dict line name -> name, "
                         f"not a {type(granularity).__name__}")
    # The checks a run makes (grammar, names, shapes; the failing sub-expression named), raised in
    # the caller's session rather than shown in the window.
    lines = compute.check_program(text, {k: v.shape for k, v in inputs.items()})
    asked = dict(granularity) if isinstance(granularity, Mapping) else {name: granularity for name in lines}
    for line, want in asked.items():
        if line not in lines:
            raise ParamError(f"opscope.show: granularity for {line!r}, which is not a line of the program "
                             f"(its lines: {', '.join(lines)})")
        if want is not None and want not in GRANULARITIES:
            raise ParamError(f"opscope.show: unknown granularity {want!r} for line {line}; "
                             f"valid: {', '.join(GRANULARITIES)} or None (each line's default)")
    given = dict(granularity) if isinstance(granularity, Mapping) else granularity
    return _Target("program", inputs, {}, given, None, program=text)


def _ipython_shell():
    """The running IPython shell, or None (IPython is never imported here: if it is not loaded, this
    is not an IPython session)."""
    ipython = sys.modules.get("IPython")
    get = getattr(ipython, "get_ipython", None)
    if get is None:
        return None
    try:
        return get()
    except Exception:  # noqa: BLE001 - a half-torn-down IPython is no IPython
        return None


def event_loop_running() -> bool:
    """True when Qt events are processed without :func:`show` blocking.

    That is IPython/Jupyter with ``%gui qt`` (its shell's ``active_eventloop`` is ``"qt"``, ``"qt6"``...),
    or a call from inside a running Qt event loop (a slot, an input hook).
    """
    shell = _ipython_shell()
    loop = getattr(shell, "active_eventloop", None) if shell is not None else None
    if isinstance(loop, str) and loop.lower().startswith("qt"):
        return True
    return QCoreApplication.instance() is not None and QThread.currentThread().loopLevel() > 0


def current_window():
    """The window of the last :func:`show` call while it is open, else None."""
    import shiboken6

    w = _window
    if w is None or not shiboken6.isValid(w) or not w.isVisible():
        return None
    return w


def _apply(window, target: _Target) -> None:
    if target.program is not None:
        window.show_program(target.program, target.inputs, target.granularity, autoplay=True)
    elif target.lesson is not None:
        window.open_lesson(target.lesson.slug, autoplay=True)  # the lesson as it is: its title, text and speed
    else:
        window.select_op(target.op, target.inputs, target.params, target.granularity, autoplay=True)


def _block(app, window) -> None:
    """Process events until ``window`` is closed."""
    if QThread.currentThread().loopLevel() == 0:
        # A script: the application's loop ends when its last window closes, or on Ctrl+C, which
        # then stops the script as it would without a window.
        sigint = SigintQuit(app)
        try:
            sigint.exec()
        finally:
            sigint.deleteLater()
        if sigint.interrupted:
            window.close()
            # Closed outside the loop: what closing posted (layout requests of the scenes, deferred
            # deletes) would otherwise still be queued when PySide6 tears the objects down at exit,
            # which crashed the interpreter about one exit in twenty (SIGSEGV in shiboken's error path).
            QCoreApplication.sendPostedEvents()
            QCoreApplication.processEvents()
            raise KeyboardInterrupt
        return
    # Inside a running loop (block=True asked for) a second app.exec() returns at once: a local
    # loop that ends with the window instead.
    loop = QEventLoop()
    poll = QTimer()
    poll.timeout.connect(lambda: None if window.isVisible() else loop.quit())
    poll.start(100)
    loop.exec()
    poll.stop()


def show(op_or_program, /, *, params: Mapping[str, object] | None = None, granularity: str | None = None,
         block: bool | None = None, **tensors):
    """Open the OpScope window on ``op_or_program`` with your ``tensors``, or update the open one.

    Parameters
    ----------
    op_or_program : str
        An operation name (``"matmul"``, ``"softmax"``...; see ``opscope.compute.operations()``) or
        a lesson name (``"softmax_rows"``...; ``python main.py --list-lessons``), or program text:
        named lines over your tensors (``"s = Q @ K.T / sqrt(d_k)\nw = softmax(s)\nresult = w @ V"``;
        see ``opscope.compute.check_program``), checked for shapes before the window opens.
    params : dict, optional
        The operation's keyword parameters, e.g. ``{"axis": 0}``; for a program, its scalars
        (``{"d_k": 3}``), which may also be passed as keywords of their own. A parameter may also be passed as
        a keyword of its own (``axis=0``) when no input has that name.
    granularity : str or dict, optional
        ``"element"``, ``"tile"``, ``"kblock"`` or ``"stage"`` (default: the finest that keeps the
        animation short); for a program also a dict line name -> granularity.
    block : bool or None
        Wait until the window is closed (True) or return at once (False). None decides: no
        blocking where Qt's events are processed anyway (IPython or Jupyter after ``%gui qt``),
        blocking otherwise (a script), since the window would freeze without an event loop.
    **tensors
        The operation's inputs by name: numpy arrays, torch tensors (detached and copied to the
        CPU; bfloat16 becomes float32), CuPy arrays, nested lists or scalars. Without any, the
        operation's example (or the lesson's numbers) is shown.

    Returns
    -------
    MainWindow
        The window (after a blocking call, closed).

    Raises
    ------
    ParamError, InputError, ShapeError
        Before any window opens: an unknown name (the message lists the valid ones), a value that is
        not numbers, shapes that do not combine, a bad parameter.
    OpScopeError
        No display to open a window on (Linux without ``DISPLAY`` / ``WAYLAND_DISPLAY``).
    KeyboardInterrupt
        Ctrl+C while a blocking call waits (the window is closed first).

    Examples
    --------
    >>> import numpy as np, opscope
    >>> opscope.show("matmul", A=np.arange(6).reshape(2, 3), B=np.ones((3, 2)))  # doctest: +SKIP
    >>> opscope.show("softmax", X=np.random.randn(3, 4), params={"axis": 0})    # doctest: +SKIP
    >>> opscope.show("s = Q @ K.T / sqrt(d_k)\nresult = softmax(s)", Q=q, K=k, d_k=3)  # doctest: +SKIP
    """
    global _window, _hinted
    target = resolve(op_or_program, tensors, params, granularity)
    if QCoreApplication.instance() is None:
        problem = display_problem()
        if problem is not None:  # Qt would abort the whole Python process, notebook kernel included
            raise OpScopeError(f"opscope.show: {problem}")
    app = create_application()
    if block is None:
        block = not event_loop_running()
        if block and _ipython_shell() is not None and not _hinted:
            _hinted = True
            print("opscope: the window blocks this session until it is closed; run %gui qt first to keep "
                  "working while it is open", file=sys.stderr)
    window = current_window()
    if window is None:
        from opscope.gui.window import MainWindow

        old, _window = _window, None
        if old is not None:
            import shiboken6

            if shiboken6.isValid(old):
                old.shutdown()  # closed already (idempotent), or hidden: its threads stop either way
                old.deleteLater()
        # No autosave and no restore offer: a script's or notebook's window never touches the
        # interactive app's crash-recovery file.
        window = MainWindow(lesson=None, autoplay=False)
        fit_to_screen(window)
        _window = window
        _apply(window, target)
        window.show()
        freeze_heap()
    else:
        _apply(window, target)
        # Re-running a notebook cell should bring the window back in front of the browser (the
        # offscreen platform of tests has no stacking and says so on every raise).
        if QGuiApplication.platformName() != "offscreen":
            window.raise_()
    if block:
        _block(app, window)
    return window
