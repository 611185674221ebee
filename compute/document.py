"""The document: the one owner of a workspace's state, free of Qt (ARCHITECTURE §1, §9).

A :class:`Document` holds what the window shows and edits: the operation and its one-line
program text, the input tensors (read-only numpy arrays), which optional inputs are used, the
parameters, the granularity and step options, the current step and the slice shown of each
input. Every mutation goes through a method that validates first (a bad value raises an
:class:`~compute.errors.OpScopeError` and leaves the document unchanged), then records the change
as a command in one workspace-wide :class:`History` (the step and the slices are navigation, not
edits: they are never recorded), then tells observers through :class:`Event` s::

    doc = Document()
    doc.events.inputs_changed.connect(lambda name: ...)
    doc.set_op("matmul")
    doc.set_cell("A", (0, 0), 9.0)
    doc.undo()

Arrays are frozen (``writeable=False``) so that views, runs on worker threads and undo commands
can share them without copying; a change makes one new array (copy-on-write), never more.
Sessions are made from the document (:meth:`Document.to_session`) and read into it
(:meth:`Document.from_session`), never from widgets.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Any

import numpy as np

from .errors import InputError, OpScopeError, ParamError
from .io.session import Session
from .registry import as_int, get_spec

__all__ = ["Document", "DocumentEvents", "Event", "History", "one_line_program", "placeholder_input"]

#: Bytes of tensor data the history may keep alive; the oldest commands are dropped beyond it.
HISTORY_BYTES = 512 << 20
#: Commands the history keeps at most.
HISTORY_LIMIT = 500


class Event:
    """One kind of change observers can subscribe to: a list of callbacks, called in order.

    A tiny stand-in for napari's ``EventEmitter`` (no Qt, no weak references): whoever
    connects a callback disconnects it when it goes away.
    """

    __slots__ = ("_callbacks", "name")

    def __init__(self, name: str):
        self.name = name
        self._callbacks: list[Callable[..., Any]] = []

    def connect(self, callback: Callable[..., Any]) -> Callable[..., Any]:
        """Call ``callback(*payload)`` on every emission; returns it (usable as a decorator)."""
        self._callbacks.append(callback)
        return callback

    def disconnect(self, callback: Callable[..., Any]) -> None:
        """Stop calling ``callback`` (no error when it was not connected)."""
        try:
            self._callbacks.remove(callback)
        except ValueError:
            pass

    def emit(self, *payload) -> None:
        # A copy: a callback may connect or disconnect others while we iterate.
        for cb in list(self._callbacks):
            cb(*payload)

    def __len__(self) -> int:
        return len(self._callbacks)


class DocumentEvents:
    """The events of a :class:`Document` and their payloads.

    Attributes
    ----------
    op_changed(op)
        the operation changed, and with it everything else (inputs, parameters, steps): re-read all.
    program_text_changed(text)
    inputs_changed(name)
        input ``name``'s array was replaced (its numbers, shape or dtype).
    used_changed(name, used)
        optional input ``name`` was switched on or off.
    params_changed(changed)
        a dict of the parameters that changed, with their new values.
    granularity_changed(granularity)
        the granularity (None: auto).
    options_changed(options)
        the step options ``{"tile": int or None, "kblock": int or None}``.
    line_steps_changed(steps)
        the program lines' own steps (see :attr:`Document.line_steps`).
    step_changed(step)
        the current step.
    slice_changed(name, lead)
        the slice shown of input ``name`` (index of its leading axes).
    history_changed()
        something was recorded, undone, redone or the history was cleared.
    """

    NAMES = ("op_changed", "program_text_changed", "inputs_changed", "used_changed", "params_changed",
             "granularity_changed", "options_changed", "line_steps_changed", "step_changed", "slice_changed",
             "history_changed")

    def __init__(self):
        for n in self.NAMES:
            setattr(self, n, Event(n))


def one_line_program(op: str, inputs) -> str:
    """``"result = matmul(A, B)"``: the one-line program of an operation on ``inputs`` (names)."""
    return f"result = {op}({', '.join(inputs)})"


def placeholder_input(spec, name: str, known: Mapping) -> np.ndarray:
    """A starting array for an input the caller did not give (an optional input the example leaves out).

    Only a guess at a shape that fits (the user edits it); the ``mask`` gets keep-everything
    ``True`` values, scales (``gamma``, variances) ones and everything else zeros.
    """
    first = next((a for a in known.values() if np.ndim(a) >= 1), None)
    rows = int(np.shape(first)[-2]) if first is not None and np.ndim(first) >= 2 else 1
    width = int(np.shape(first)[-1]) if first is not None and np.ndim(first) >= 1 else 1
    if name == "mask":
        q = known.get("Q", known.get("query", known.get("X", first)))
        k = known.get("K", known.get("key", known.get("X", first)))
        lq = int(np.shape(q)[-2]) if q is not None and np.ndim(q) >= 2 else rows
        lk = int(np.shape(k)[-2]) if k is not None and np.ndim(k) >= 2 else rows
        return np.ones((lq, lk), dtype=bool)
    if name in ("query", "key", "value") and "X" in known:
        return np.array(known["X"], dtype=np.float64, copy=True)
    if "var" in name or name == "gamma":
        return np.ones(width)
    return np.zeros(width)


def _frozen(name: str, a, copy: bool = True) -> np.ndarray:
    """``a`` as a C-ordered, native-byte-order, read-only array: copied once, unless it is one already.

    With ``copy`` False a writable C-ordered array is not copied but taken over: the document keeps
    a read-only view of it and the caller promises not to write to it again (the window does this
    with arrays it just made or loaded, where a copy of a 4096² tensor on the GUI thread cost up to
    0.5 s of page faults on a busy machine).
    """
    arr = np.asarray(a)
    if arr.dtype.kind not in "biuf":
        raise InputError(f"{name}: dtype {arr.dtype} is not supported; use a float, integer or bool tensor")
    native = arr.dtype.newbyteorder("=")
    if not copy and arr.flags.c_contiguous and arr.dtype == native:
        if arr.flags.writeable:
            arr = arr.view()
            arr.setflags(write=False)
        return arr
    if arr.flags.writeable or not arr.flags.c_contiguous or arr.dtype != native:
        # A writable array may still be changed by whoever handed it in: take our own copy.
        arr = np.array(arr, dtype=native, order="C", copy=True)
        arr.setflags(write=False)
    return arr


def _table(arr: np.ndarray, lead) -> np.ndarray:
    """The 2-D view a table shows of ``arr`` (0-D as 1×1, 1-D as one row, N-d at ``lead``)."""
    if arr.ndim == 0:
        return arr.reshape(1, 1)
    if arr.ndim == 1:
        return arr.reshape(1, -1)
    return arr[tuple(lead)]


def _default_lead(arr: np.ndarray) -> tuple[int, ...]:
    return (0,) * max(arr.ndim - 2, 0)


def _clamp_lead(lead, shape) -> tuple[int, ...]:
    k = max(len(shape) - 2, 0)
    lead = tuple(int(i) for i in tuple(lead)[:k]) + (0,) * max(k - len(tuple(lead)), 0)
    return tuple(min(max(i, 0), max(shape[ax] - 1, 0)) for ax, i in enumerate(lead))


def _same_value(a, b) -> bool:
    if isinstance(a, float) and isinstance(b, float) and math.isnan(a) and math.isnan(b):
        return True
    try:
        return type(a) is type(b) and bool(a == b)
    except Exception:  # noqa: BLE001 - odd values compare unequal
        return False


# ----------------------------------------------------------------------------------------------
# commands and the history


class _Command:
    """One recorded change: ``redo`` applies it (also the first time), ``undo`` reverts it."""

    text = ""
    merge_key: str | None = None

    def redo(self, doc: Document) -> None:  # pragma: no cover - abstract
        raise NotImplementedError

    def undo(self, doc: Document) -> None:  # pragma: no cover - abstract
        raise NotImplementedError

    def nbytes(self) -> int:
        return 0


class _ReplaceInput(_Command):
    """Input ``name`` replaced by another array (arrays are frozen: kept by reference, not copied)."""

    def __init__(self, name, old, new, lead_old, lead_new, text):
        self.name, self.old, self.new = name, old, new
        self.lead_old, self.lead_new, self.text = tuple(lead_old), tuple(lead_new), text

    def redo(self, doc):
        doc._put_input(self.name, self.new, self.lead_new)

    def undo(self, doc):
        doc._put_input(self.name, self.old, self.lead_old)

    def nbytes(self):
        return self.old.nbytes + self.new.nbytes


class _WriteRegion(_Command):
    """A block of one 2-D slice of input ``name`` written; keeps only the block before and after."""

    def __init__(self, name, lead, row, col, old, new, text):
        self.name, self.lead, self.row, self.col = name, tuple(lead), int(row), int(col)
        self.old, self.new, self.text = old, new, text

    def redo(self, doc):
        doc._write_region(self.name, self.lead, self.row, self.col, self.new)

    def undo(self, doc):
        doc._write_region(self.name, self.lead, self.row, self.col, self.old)

    def nbytes(self):
        return self.old.nbytes + self.new.nbytes


class _SetFields(_Command):
    """Plain fields changed (params, used flags, granularity, options, program text): old and new values."""

    def __init__(self, field_name: str, old: dict, new: dict, text: str, merge_key: str | None = None):
        self.field, self.old, self.new, self.text, self.merge_key = field_name, old, new, text, merge_key

    def redo(self, doc):
        doc._put_fields(self.field, self.new)

    def undo(self, doc):
        doc._put_fields(self.field, self.old)


class _ReplaceAll(_Command):
    """The operation changed: the whole state before and after (arrays by reference)."""

    def __init__(self, old: _State, new: _State, text: str):
        self.old, self.new, self.text = old, new, text

    def redo(self, doc):
        doc._put_state(self.new)

    def undo(self, doc):
        doc._put_state(self.old)

    def nbytes(self):
        return sum(a.nbytes for s in (self.old, self.new) if s is not None for a in s.inputs.values())


class History:
    """The workspace's undo history: a list of commands and a position in it.

    Bounded by :data:`HISTORY_LIMIT` commands and :data:`HISTORY_BYTES` bytes of tensor data kept
    alive (the oldest go first; the newest is always kept).
    """

    def __init__(self, doc: Document, limit: int = HISTORY_LIMIT, max_bytes: int = HISTORY_BYTES):
        self._doc = doc
        self._done: list[_Command] = []
        self._undone: list[_Command] = []
        self.limit = int(limit)
        self.max_bytes = int(max_bytes)
        #: Commands dropped so far to stay within the limits.
        self.dropped = 0

    def push(self, command: _Command) -> None:
        """Apply ``command`` and record it (a consecutive change of the same field merges into one step)."""
        command.redo(self._doc)
        top = self._done[-1] if self._done else None
        if (command.merge_key is not None and not self._undone and isinstance(top, _SetFields)
                and top.merge_key == command.merge_key):
            top.new, top.text = command.new, command.text
        else:
            self._done.append(command)
        self._undone.clear()
        self._trim()
        self._doc.events.history_changed.emit()

    def _trim(self) -> None:
        total = sum(c.nbytes() for c in self._done)
        while len(self._done) > 1 and (len(self._done) > self.limit or total > self.max_bytes):
            total -= self._done.pop(0).nbytes()
            self.dropped += 1

    def undo(self) -> bool:
        """Revert the last change; False when there is nothing to undo."""
        if not self._done:
            return False
        c = self._done.pop()
        c.undo(self._doc)
        self._undone.append(c)
        self._doc.events.history_changed.emit()
        return True

    def redo(self) -> bool:
        """Apply the last change undone again; False when there is none."""
        if not self._undone:
            return False
        c = self._undone.pop()
        c.redo(self._doc)
        self._done.append(c)
        self._doc.events.history_changed.emit()
        return True

    def clear(self) -> None:
        if self._done or self._undone:
            self._done.clear()
            self._undone.clear()
            self._doc.events.history_changed.emit()

    @property
    def can_undo(self) -> bool:
        return bool(self._done)

    @property
    def can_redo(self) -> bool:
        return bool(self._undone)

    @property
    def undo_text(self) -> str:
        """What :meth:`undo` would revert ("Edit A[0, 0]"); '' when nothing."""
        return self._done[-1].text if self._done else ""

    @property
    def redo_text(self) -> str:
        return self._undone[-1].text if self._undone else ""

    @property
    def index(self) -> int:
        """How many commands are applied (QUndoStack's ``index``)."""
        return len(self._done)

    def __len__(self) -> int:
        """Every command kept, applied or undone (QUndoStack's ``count``)."""
        return len(self._done) + len(self._undone)


# ----------------------------------------------------------------------------------------------
# the document


@dataclass(frozen=True)
class _State:
    """Everything an operation change replaces, as plain data."""

    op: str | None
    program_text: str
    inputs: Mapping[str, np.ndarray]
    used: Mapping[str, bool]
    params: Mapping[str, Any]
    granularity: str | None
    options: Mapping[str, int | None]
    slices: Mapping[str, tuple[int, ...]] = field(default_factory=dict)
    line_steps: Mapping[str, Mapping[str, Any]] = field(default_factory=dict)


_NO_OPTIONS = {"tile": None, "kblock": None}
#: The keys of one program line's steps (:attr:`Document.line_steps`).
LINE_STEP_KEYS = ("granularity", "tile", "kblock")
#: The key of :attr:`Document.line_steps` for every line (a granularity where its operation offers it).
EVERY_LINE = "*"


def _checked_line_steps(steps) -> dict[str, dict[str, Any]]:
    """``steps`` (line → {"granularity": name or None, "tile": int or None, "kblock": int or
    None}) checked and normalised: entries with nothing set are dropped."""
    if steps is None:
        return {}
    if not isinstance(steps, Mapping):
        raise ParamError(f"line steps must be a dict line -> {{'granularity': ..., 'tile': ..., 'kblock': ...}}, "
                         f"not {steps!r}")
    out: dict[str, dict[str, Any]] = {}
    for line, entry in steps.items():
        if not isinstance(line, str) or not line:
            raise ParamError(f"line steps: {line!r} is not a line name")
        if not isinstance(entry, Mapping):
            raise ParamError(f"line {line}: steps must be a dict of {', '.join(LINE_STEP_KEYS)}, not {entry!r}")
        unknown = [k for k in entry if k not in LINE_STEP_KEYS]
        if unknown:
            raise ParamError(f"line {line}: unknown step key(s) {', '.join(map(str, unknown))}; "
                             f"valid: {', '.join(LINE_STEP_KEYS)}")
        g = entry.get("granularity")
        if g in ("", "auto"):
            g = None
        if g is not None and not isinstance(g, str):
            raise ParamError(f"line {line}: granularity must be a name or None, not {g!r}")
        clean: dict[str, Any] = {"granularity": g}
        for k in ("tile", "kblock"):
            v = entry.get(k)
            if v is not None and (as_int(v) is None or int(v) < 0):
                raise ParamError(f"line {line}: {k} must be a positive int or None (auto), not {v!r}")
            clean[k] = int(v) if v else None
        if any(v is not None for v in clean.values()):
            out[line] = clean
    return out


class Document:
    """The state of one workspace: what to compute, on what, and where the user is.

    Attributes
    ----------
    events : DocumentEvents
        Subscribe here (``doc.events.params_changed.connect(cb)``).
    history : History
        The one undo history of the workspace.

    Notes
    -----
    An empty document (``op`` None) has no inputs; :meth:`set_op` fills one.
    """

    def __init__(self):
        self.events = DocumentEvents()
        self.history = History(self)
        self._op: str | None = None
        self._program_text = ""
        self._inputs: dict[str, np.ndarray] = {}
        self._used: dict[str, bool] = {}
        self._params: dict[str, Any] = {}
        self._granularity: str | None = None
        self._options: dict[str, int | None] = dict(_NO_OPTIONS)
        self._step = 0
        self._slices: dict[str, tuple[int, ...]] = {}
        self._line_steps: dict[str, dict[str, Any]] = {}

    # ------------------------------------------------------------------ reading
    @property
    def op(self) -> str | None:
        return self._op

    @property
    def spec(self):
        """The :class:`compute.registry.OpSpec` of :attr:`op` (None when empty)."""
        return get_spec(self._op) if self._op is not None else None

    @property
    def program_text(self) -> str:
        return self._program_text

    @property
    def inputs(self) -> Mapping[str, np.ndarray]:
        """Every input's (read-only) array, used or not, in the operation's order."""
        return MappingProxyType(self._inputs)

    def input(self, name: str) -> np.ndarray:
        """Input ``name``'s read-only array (KeyError when there is none)."""
        return self._inputs[name]

    @property
    def used(self) -> Mapping[str, bool]:
        return MappingProxyType(self._used)

    def is_used(self, name: str) -> bool:
        return self._used.get(name, True)

    def run_inputs(self) -> dict[str, np.ndarray]:
        """The inputs of the next run: every used input's array (shared, not copied)."""
        return {n: a for n, a in self._inputs.items() if self.is_used(n)}

    @property
    def params(self) -> Mapping[str, Any]:
        return MappingProxyType(self._params)

    @property
    def granularity(self) -> str | None:
        return self._granularity

    @property
    def options(self) -> Mapping[str, int | None]:
        """The step options as set (``{"tile": 4 or None, "kblock": None}``), whether they apply or not."""
        return MappingProxyType(self._options)

    @property
    def line_steps(self) -> Mapping[str, Mapping[str, Any]]:
        """How the program's lines step, line by line: line name → ``{"granularity": name or None,
        "tile": int or None, "kblock": int or None}`` (a lesson's own, or what was picked in the
        program box); :data:`EVERY_LINE` (``"*"``) holds a granularity for every line that offers
        it. Empty: every line steps by its default (or by :attr:`granularity`)."""
        return MappingProxyType({k: MappingProxyType(dict(v)) for k, v in self._line_steps.items()})

    def program_steps(self) -> tuple[str | dict | None, dict | None]:
        """(granularity, options) of the program's next run, as
        :func:`compute.stream_program` takes them: the lines' own granularities (a dict), else the
        one for every line, else :attr:`granularity`; the lines' own tile and k-block sizes."""
        every = self._line_steps.get(EVERY_LINE, {}).get("granularity")
        # Only the program's own lines: a lesson's steps for `scores`, kept after the text was
        # edited into other lines, failed every run ("granularity for unknown line(s) scores").
        # They stay stored, so a line renamed back gets its steps again.
        lines = self._program_line_names()
        mine = {k: v for k, v in self._line_steps.items() if k != EVERY_LINE and (lines is None or k in lines)}
        per = {k: v["granularity"] for k, v in mine.items() if v.get("granularity")}
        granularity: str | dict | None = per or every or self._granularity
        options = {k: {o: v[o] for o in ("tile", "kblock") if v.get(o)} for k, v in mine.items()}
        options = {k: v for k, v in options.items() if v}
        return granularity, options or None

    def _program_line_names(self) -> set[str] | None:
        """The line names of the program text; None when it does not parse (its run says why)."""
        from .program.parse import parse_program  # noqa: PLC0415 - the program package builds on the engine

        try:
            return set(parse_program(self._program_text).line_names)
        except OpScopeError:
            return None

    def set_line_steps(self, steps: Mapping) -> None:
        """Set how the program's lines step (see :attr:`line_steps`): one undo step.

        Raises
        ------
        ParamError
            not a dict of line names to step dicts, an unknown key, or a size that is not a
            non-negative int. (Whether a line's operation offers a granularity is the run's to say.)
        """
        new = _checked_line_steps(steps)
        if new != self._line_steps:
            self.history.push(_SetFields("line_steps", {"line_steps": dict(self._line_steps)},
                                         {"line_steps": new}, "Steps of the program's lines"))

    def effective_options(self) -> tuple[int | None, int | None]:
        """(tile, kblock) that apply to the granularity: a tile size only for tile steps (or auto)
        when the operation has tiles, a k-block only for kblock steps (or auto) when it has them."""
        spec = self.spec
        have = set(spec.granularities) if spec is not None else set()
        g = self._granularity
        tile = self._options.get("tile") if g in ("tile", None) and "tile" in have else None
        kblock = self._options.get("kblock") if g in ("kblock", None) and "kblock" in have else None
        return tile, kblock

    @property
    def step(self) -> int:
        return self._step

    @property
    def slices(self) -> Mapping[str, tuple[int, ...]]:
        return MappingProxyType(self._slices)

    def slice(self, name: str) -> tuple[int, ...]:
        """The index of input ``name``'s leading axes shown (``()`` for at most 2 axes)."""
        return self._slices.get(name, ())

    # ------------------------------------------------------------------ undo
    def undo(self) -> bool:
        """Revert the last change of the workspace (an edit, a parameter, an operation...)."""
        return self.history.undo()

    def redo(self) -> bool:
        return self.history.redo()

    # ------------------------------------------------------------------ the operation
    def set_op(self, op: str, inputs: Mapping | None = None, params: Mapping | None = None,
               granularity: str | None = None, options: Mapping | None = None, *,
               used: Mapping[str, bool] | None = None, step: int = 0, record: bool = True,
               copy: bool = True) -> None:
        """Show operation ``op`` on ``inputs`` (default: its example) with ``params``.

        ``copy`` False takes the input arrays over instead of copying them (see :func:`_frozen`):
        the caller must not write to them afterwards.

        Inputs the caller leaves out get a placeholder (optional ones start unused); names the
        operation has no input for, and parameters it does not know, are ignored (a session of an
        older OpScope). ``options`` values that are not positive ints are ignored too.
        ``record`` False starts a new history (a lesson or session opened) instead of recording
        an undoable step.

        Raises
        ------
        ParamError
            unknown operation, a parameter value not of its kind, a granularity the operation
            does not offer.
        InputError
            an input of an unsupported dtype.
        """
        state = self._state_for(op, inputs, params, granularity, options, used, copy)
        if isinstance(step, bool) or as_int(step) is None or int(step) < 0:
            raise ParamError(f"step must be a non-negative integer, not {step!r}")
        if record and self._op is not None:
            self.history.push(_ReplaceAll(self._snapshot(), state, f"Choose {op}"))
        else:
            self._put_state(state)
            self.history.clear()
        self.set_step(int(step))

    def _state_for(self, op, inputs, params, granularity, options, used, copy: bool = True) -> _State:
        spec = get_spec(op)
        given = spec.example() if inputs is None else {k: v for k, v in dict(inputs).items() if v is not None}
        arrays: dict[str, np.ndarray] = {}
        use: dict[str, bool] = {}
        for inp in spec.inputs:
            if inp.name in given:
                arrays[inp.name] = _frozen(inp.name, given[inp.name], copy)
            else:
                arrays[inp.name] = _frozen(inp.name, placeholder_input(spec, inp.name, given))
            if inp.optional:
                use[inp.name] = bool((used or {}).get(inp.name, inp.name in given))
        known = {p.name for p in spec.params}
        full = spec.validate_params({k: v for k, v in dict(params or {}).items() if k in known})
        g = self._checked_granularity(spec, granularity)
        opts = dict(_NO_OPTIONS)
        for k in opts:
            v = (options or {}).get(k)
            if as_int(v) is not None and int(v) > 0:
                opts[k] = int(v)
        names = [i.name for i in spec.inputs if not i.optional or use.get(i.name)]
        return _State(op, one_line_program(op, names), arrays, use, full, g, opts,
                      {n: _default_lead(a) for n, a in arrays.items()})

    @staticmethod
    def _checked_granularity(spec, g):
        if g in (None, "auto"):
            return None
        if g not in spec.granularities:
            offered = ", ".join(spec.granularities) or "none"
            raise ParamError(f"{spec.name}: granularity {g!r} is not offered; choose auto or one of {offered}")
        return g

    def _snapshot(self) -> _State:
        return _State(self._op, self._program_text, dict(self._inputs), dict(self._used), dict(self._params),
                      self._granularity, dict(self._options), dict(self._slices), dict(self._line_steps))

    def _put_state(self, s: _State) -> None:
        self._op, self._program_text = s.op, s.program_text
        self._inputs, self._used, self._params = dict(s.inputs), dict(s.used), dict(s.params)
        self._granularity, self._options, self._slices = s.granularity, dict(s.options), dict(s.slices)
        self._line_steps = dict(s.line_steps)
        self.events.op_changed.emit(self._op)

    # ------------------------------------------------------------------ programs
    def set_program(self, text: str, inputs: Mapping | None = None, *, record: bool = True,
                    label: str = "Open program", fresh_steps: bool = False,
                    line_steps: Mapping | None = None) -> None:
        """Show the program ``text`` with ``inputs`` added to (or replacing) the document's inputs.

        The operation stays as it is (its inputs too, so choosing it again needs nothing); the
        program may read any input the document holds. One undo step with ``record``; without it
        (a lesson opened) the history starts afresh. With ``fresh_steps`` the granularity goes
        back to auto, the step options to none and the lines' steps to ``line_steps`` (a lesson's
        own; see :attr:`line_steps`): a program opened anew is stepped as it says, not by what
        the operation shown before it was stepped by. Observers see ``op_changed``: re-read all.

        Raises
        ------
        ParamError
            no operation is open, or ``text`` is not a string.
        InputError
            an input of an unsupported dtype.
        """
        if self._op is None:
            raise ParamError("open an operation before a program: the document is empty")
        if not isinstance(text, str):
            raise ParamError(f"the program text must be a string, not {type(text).__name__}")
        arrays = dict(self._inputs)
        slices = dict(self._slices)
        for name, value in dict(inputs or {}).items():
            arrays[str(name)] = _frozen(str(name), value)
            slices[str(name)] = _default_lead(arrays[str(name)])
        steps = _checked_line_steps(line_steps) if line_steps is not None else None
        if fresh_steps:
            granularity, options, steps = None, dict(_NO_OPTIONS), steps or {}
        else:
            granularity, options = self._granularity, dict(self._options)
            steps = dict(self._line_steps) if steps is None else steps
        state = _State(self._op, text, arrays, dict(self._used), dict(self._params), granularity, options, slices,
                       steps)
        if record:
            self.history.push(_ReplaceAll(self._snapshot(), state, label))
        else:
            self._put_state(state)
            self.history.clear()

    def add_inputs(self, arrays: Mapping, *, record: bool = True) -> list[str]:
        """Add the inputs of ``arrays`` the document does not hold yet (a program names them);
        names it holds already are left alone. Returns the names added (one undo step).

        Raises
        ------
        ParamError
            no operation is open.
        InputError
            an input of an unsupported dtype.
        """
        new = {str(k): v for k, v in dict(arrays).items() if str(k) not in self._inputs}
        if new:
            self.set_program(self._program_text, new, record=record,
                             label=f"Add input{'s' if len(new) > 1 else ''} {', '.join(new)}")
        return list(new)

    # ------------------------------------------------------------------ inputs
    def _check_input(self, name: str) -> np.ndarray:
        if name not in self._inputs:
            raise InputError(f"{self._op or 'the document'} has no input {name!r}; "
                             f"its inputs are {', '.join(self._inputs) or 'none'}")
        return self._inputs[name]

    def set_input(self, name: str, array, *, text: str | None = None, lead=None, record: bool = True) -> None:
        """Replace input ``name`` by ``array`` (copied once unless it is read-only already).

        ``lead`` is the slice to show afterwards (default: the current one, clamped). ``record``
        False does not record an undo step and clears the history (its steps refer to other data).

        Raises
        ------
        InputError
            no such input, or an unsupported dtype (complex, object, strings).
        """
        old = self._check_input(name)
        new = _frozen(name, array)
        lead_old = self.slice(name)
        lead_new = _clamp_lead(lead_old if lead is None else lead, new.shape)
        if record:
            self.history.push(_ReplaceInput(name, old, new, lead_old, lead_new, text or f"Replace {name}"))
        else:
            self._put_input(name, new, lead_new)
            self.history.clear()

    def set_region(self, name: str, lead, row: int, col: int, block, *, text: str | None = None) -> None:
        """Write the 2-D ``block`` into the slice ``lead`` of input ``name`` at ``(row, col)``.

        The slice is the table view of the tensor (0-D as 1×1, 1-D as one row); values are cast
        to the input's dtype. One copy of the tensor is made; the history keeps only the block.

        Raises
        ------
        InputError
            no such input, a slice or block outside the tensor, values that do not fit its dtype.
        """
        arr = self._check_input(name)
        lead = tuple(int(i) for i in lead) if arr.ndim > 2 else ()
        if arr.ndim > 2 and (len(lead) != arr.ndim - 2 or _clamp_lead(lead, arr.shape) != lead):
            raise InputError(f"{name}: slice {lead} is outside its shape {arr.shape}")
        table = _table(arr, lead)
        try:
            new = np.asarray(block).astype(arr.dtype, casting="same_kind" if arr.dtype.kind == "f" else "unsafe")
        except (TypeError, ValueError) as exc:
            raise InputError(f"{name}: cannot write these values into a {arr.dtype} tensor ({exc})") from None
        if new.ndim != 2:
            raise InputError(f"{name}: a block to write must be 2-D, not {new.ndim}-D")
        h, w = new.shape
        if row < 0 or col < 0 or row + h > table.shape[0] or col + w > table.shape[1]:
            raise InputError(f"{name}: a {h}×{w} block at ({row}, {col}) does not fit the slice "
                             f"{table.shape[0]}×{table.shape[1]}")
        old = table[row:row + h, col:col + w].copy()
        self.history.push(_WriteRegion(name, lead, row, col, old, new, text or f"Edit {name}"))

    def set_cell(self, name: str, index, value, *, text: str | None = None) -> None:
        """Set one element of input ``name`` (``index`` a full N-d index; ``()`` for a scalar).

        Raises
        ------
        InputError
            no such input, an index outside the tensor, a value that is not a number of its kind.
        """
        arr = self._check_input(name)
        try:
            index = tuple(int(i) for i in index)
        except (TypeError, ValueError):
            raise InputError(f"{name}: {index!r} is not an index") from None
        if len(index) != arr.ndim or any(not 0 <= i < s for i, s in zip(index, arr.shape)):
            raise InputError(f"{name}: index {index} is outside its shape {arr.shape}")
        if isinstance(value, (str, bytes, complex)) or np.ndim(value) != 0:
            raise InputError(f"{name}{list(index)}: {value!r} is not a real number")
        if arr.ndim == 0:
            lead, row, col = (), 0, 0
        elif arr.ndim == 1:
            lead, row, col = (), 0, index[0]
        else:
            lead, row, col = index[:-2], index[-2], index[-1]
        where = f"{name}[{', '.join(map(str, index))}]" if index else name
        self.set_region(name, lead, row, col, np.full((1, 1), value), text=text or f"Edit {where}")

    def _put_input(self, name: str, arr: np.ndarray, lead) -> None:
        self._inputs[name] = arr
        self._slices[name] = _clamp_lead(lead, arr.shape)
        self.events.inputs_changed.emit(name)

    def _write_region(self, name: str, lead, row: int, col: int, block: np.ndarray) -> None:
        # Copy-on-write: the old array may be in a run on a worker thread, or in a view.
        arr = self._inputs[name].copy()
        h, w = block.shape
        _table(arr, lead)[row:row + h, col:col + w] = block
        arr.setflags(write=False)
        self._inputs[name] = arr
        # Show the slice that changed, so undoing an edit made on another slice is visible.
        self._slices[name] = _clamp_lead(lead, arr.shape) if arr.ndim > 2 else ()
        self.events.inputs_changed.emit(name)

    def set_used(self, name: str, used: bool) -> None:
        """Include (True) or leave out optional input ``name`` of the runs.

        Raises
        ------
        InputError
            no such input, or a required one.
        """
        self._check_input(name)
        if name not in self._used:
            raise InputError(f"{self._op}: {name} is required; only optional inputs can be left out")
        used = bool(used)
        if self._used[name] == used:
            return
        self.history.push(_SetFields("used", {name: not used}, {name: used},
                                     f"{'Use' if used else 'Leave out'} {name}"))

    # ------------------------------------------------------------------ parameters and steps
    def set_param(self, name: str, value) -> None:
        """Set parameter ``name`` (checked by its kind; see :meth:`compute.registry.Param.validate`)."""
        self.set_params({name: value})

    def set_params(self, values: Mapping[str, Any]) -> bool:
        """Set several parameters as one step; returns whether anything changed.

        Raises
        ------
        ParamError
            no operation, an unknown parameter or a value not of its kind (nothing changes).
        """
        spec = self.spec
        if spec is None:
            raise ParamError("no operation is open: there are no parameters to set")
        full = spec.validate_params({**self._params, **dict(values)})
        changed = {k: v for k, v in full.items() if not _same_value(v, self._params.get(k))}
        if not changed:
            return False
        old = {k: self._params.get(k) for k in changed}
        label = ", ".join(f"{k} = {v!r}" for k, v in changed.items())
        key = f"params:{','.join(sorted(changed))}"
        self.history.push(_SetFields("params", old, changed, f"Set {label}", merge_key=key))
        return True

    def set_granularity(self, granularity: str | None) -> None:
        """Choose the granularity (None or ``"auto"``: the operation's default).

        Raises
        ------
        ParamError
            a granularity the operation does not offer.
        """
        spec = self.spec
        if spec is None:
            raise ParamError("no operation is open: there is no granularity to set")
        g = self._checked_granularity(spec, granularity)
        # One granularity picked for every line: the lines' own granularities give way (their tile
        # and k-block sizes stay), in the same undo step. Auto leaves them as they are.
        steps = dict(self._line_steps)
        if g is not None:
            steps = _checked_line_steps({k: {**v, "granularity": None} for k, v in steps.items()})
        if g != self._granularity or steps != self._line_steps:
            self.history.push(_SetFields("granularity", {"granularity": self._granularity,
                                                         "line_steps": dict(self._line_steps)},
                                         {"granularity": g, "line_steps": steps}, f"Steps by {g or 'auto'}"))

    def set_options(self, **options) -> None:
        """Set step options: ``tile`` and ``kblock`` sizes (a positive int, or None/0 for auto).

        Raises
        ------
        ParamError
            an unknown option or a size that is not a non-negative int.
        """
        new = {}
        for k, v in options.items():
            if k not in _NO_OPTIONS:
                raise ParamError(f"unknown step option {k!r}; valid: {', '.join(_NO_OPTIONS)}")
            if v is not None and (as_int(v) is None or int(v) < 0):
                raise ParamError(f"{k} must be a positive int or None (auto), not {v!r}")
            new[k] = int(v) if v else None
        changed = {k: v for k, v in new.items() if self._options.get(k) != v}
        if changed:
            self.history.push(_SetFields("options", {k: self._options.get(k) for k in changed}, changed,
                                         "Set " + ", ".join(f"{k} = {v or 'auto'}" for k, v in changed.items()),
                                         merge_key=f"options:{','.join(sorted(changed))}"))

    def set_program_text(self, text: str) -> None:
        """Replace the program text (kept as given; programs are parsed by :mod:`compute.program`)."""
        if not isinstance(text, str):
            raise ParamError(f"the program text must be a string, not {type(text).__name__}")
        if text != self._program_text:
            self.history.push(_SetFields("program_text", {"program_text": self._program_text},
                                         {"program_text": text}, "Edit program", merge_key="program_text"))

    def _put_fields(self, kind: str, values: dict) -> None:
        if kind == "params":
            self._params.update(values)
            self.events.params_changed.emit(dict(values))
        elif kind == "used":
            for n, on in values.items():
                self._used[n] = on
                self.events.used_changed.emit(n, on)
        elif kind == "granularity":
            self._granularity = values["granularity"]
            if "line_steps" in values and values["line_steps"] != self._line_steps:
                self._line_steps = {k: dict(v) for k, v in values["line_steps"].items()}
                self.events.line_steps_changed.emit(self.line_steps)
            self.events.granularity_changed.emit(self._granularity)
        elif kind == "options":
            self._options.update(values)
            self.events.options_changed.emit(dict(self._options))
        elif kind == "program_text":
            self._program_text = values["program_text"]
            self.events.program_text_changed.emit(self._program_text)
        elif kind == "line_steps":
            self._line_steps = {k: dict(v) for k, v in values["line_steps"].items()}
            self.events.line_steps_changed.emit(self.line_steps)

    # ------------------------------------------------------------------ navigation (never recorded)
    def set_step(self, step: int) -> None:
        """Go to step ``step`` (the window clamps it into its timeline).

        Raises
        ------
        ParamError
            not a non-negative int.
        """
        n = as_int(step)
        if n is None or n < 0:
            raise ParamError(f"step must be a non-negative integer, not {step!r}")
        if n != self._step:
            self._step = n
            self.events.step_changed.emit(n)

    def set_slice(self, name: str, lead) -> None:
        """Show the slice ``lead`` (index of the leading axes) of input ``name``.

        Raises
        ------
        InputError
            no such input, or an index of the wrong length or outside the shape.
        """
        arr = self._check_input(name)
        try:
            lead = tuple(int(i) for i in lead)
        except (TypeError, ValueError):
            raise InputError(f"{name}: {lead!r} is not a slice index") from None
        if len(lead) != max(arr.ndim - 2, 0) or _clamp_lead(lead, arr.shape) != lead:
            raise InputError(f"{name}: slice {lead} is outside its shape {arr.shape}")
        if lead != self.slice(name):
            self._slices[name] = lead
            self.events.slice_changed.emit(name, lead)

    # ------------------------------------------------------------------ sessions
    def to_session(self, view: Mapping | None = None) -> Session:
        """The document as a :class:`~compute.io.Session` (inputs shared, not copied: they are frozen).

        Raises
        ------
        ParamError
            the document is empty.
        """
        if self._op is None:
            raise ParamError("nothing to save: no operation is open")
        tile, kblock = self.effective_options()
        options = {k: v for k, v in (("tile", tile), ("kblock", kblock)) if v}
        view = dict(view or {})
        view.setdefault("slices", {n: list(s) for n, s in self._slices.items() if s})
        # The program text rides in the view: readers that predate programs ignore it and open
        # the operation, which is all they could show; its extra inputs are among the inputs.
        view.setdefault("program", self._program_text)
        if self._line_steps:
            view.setdefault("line_steps", {k: dict(v) for k, v in self._line_steps.items()})
        return Session(op=self._op, params=dict(self._params), inputs=self.run_inputs(), granularity=self._granularity,
                       options=options, step=self._step, view=view)

    def load_session(self, session: Session) -> None:
        """Show ``session`` (a new history: opening a file is not an undoable step).

        Raises
        ------
        OpScopeError
            anything in the session the document refuses; the document is then unchanged.
        """
        known = {i.name for i in get_spec(session.op).inputs} if isinstance(session.op, str) else set()
        program = session.view.get("program") if isinstance(session.view, Mapping) else None
        steps = session.view.get("line_steps") if isinstance(session.view, Mapping) else None
        steps = _checked_line_steps(steps) if steps else None  # refused before anything changes
        before = self._snapshot() if self._op is not None else None
        self.set_op(session.op, dict(session.inputs), dict(session.params), session.granularity,
                    dict(session.options), step=int(session.step), record=False)
        if isinstance(program, str) and program.strip() and program != self._program_text:
            try:
                self.set_program(program, {n: a for n, a in session.inputs.items() if n not in known}, record=False,
                                 line_steps=steps)
            except OpScopeError:
                if before is not None:  # all or nothing, as for the operation's own fields
                    self._put_state(before)
                raise
        elif steps:
            self._put_fields("line_steps", {"line_steps": steps})
        slices = session.view.get("slices") if isinstance(session.view, Mapping) else None
        if isinstance(slices, Mapping):
            for n, lead in slices.items():
                try:
                    self.set_slice(n, lead)
                except (OpScopeError, TypeError):
                    pass  # a slice that no longer fits: the first one is shown

    @classmethod
    def from_session(cls, session: Session) -> Document:
        """A new document showing ``session`` (see :meth:`load_session`)."""
        doc = cls()
        doc.load_session(session)
        return doc
