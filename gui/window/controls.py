"""The left-hand controls: the operation picker, the parameter form and the stepping options.

Parameter widgets are generated from each :class:`compute.registry.Param`'s ``kind``, so a new
operation in :mod:`compute` gets its widgets without a change here. Widgets only parse text into
Python values (``"0,1"`` → ``(0, 1)``); checking the values against shapes is compute's job.
"""

from __future__ import annotations

import html
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from opscope import compute
from PySide6.QtCore import Qt, Signal
from PySide6.QtGui import QBrush, QColor, QFont, QStandardItem, QStandardItemModel
from PySide6.QtWidgets import (
    QCheckBox,
    QComboBox,
    QFormLayout,
    QGridLayout,
    QGroupBox,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QSpinBox,
    QVBoxLayout,
    QWidget,
)

_INVALID = "QLineEdit { background: #ffd6d6; }"


class ParamValueError(ValueError):
    """A parameter field holds text that is not a value of its kind."""


class OperationPicker(QComboBox):
    """Every operation of :func:`compute.operations`, under its group's heading (Products,
    Element-wise, ...). A combo box rather than a tree: it keeps the whole list one click away
    while taking one line of the panel, leaving the height to the parameters and the editors.

    Signals
    -------
    op_requested(str)
        the user picked an operation (not emitted by :meth:`set_current`).
    """

    op_requested = Signal(str)

    def __init__(self, parent=None):
        super().__init__(parent)
        self.setMaxVisibleItems(40)
        model = QStandardItemModel(self)
        bold = QFont(self.font())
        bold.setBold(True)
        self._rows: dict[str, int] = {}
        specs = compute.operations()
        for g in compute.GROUPS:
            head = QStandardItem(g)
            head.setFlags(Qt.ItemIsEnabled)  # a heading: shown, not selectable
            head.setFont(bold)
            head.setForeground(QBrush(QColor("#555")))
            model.appendRow(head)
            for spec in (s for s in specs if s.group == g):
                it = QStandardItem("    " + spec.name)
                it.setData(spec.name, Qt.UserRole)
                it.setToolTip(spec.doc)
                self._rows[spec.name] = model.rowCount()
                model.appendRow(it)
        self.setModel(model)
        self.currentIndexChanged.connect(self._changed)

    def set_current(self, name: str) -> None:
        """Select ``name`` without emitting :attr:`op_requested`."""
        self.blockSignals(True)
        try:
            self.setCurrentIndex(self._rows[name])
        finally:
            self.blockSignals(False)

    def current_name(self) -> str | None:
        return self.currentData(Qt.UserRole)

    def names(self) -> list[str]:
        return list(self._rows)

    def _changed(self, _i) -> None:
        name = self.current_name()
        if name:
            self.op_requested.emit(name)


def parse_axis(text: str):
    """``"None"`` / ``""`` → None, ``"-1"`` → -1, ``"0,1"`` or ``"(0, 1)"`` → (0, 1)."""
    t = text.strip()
    if t.lower() in ("", "none", "all"):
        return None
    body = t.strip("()[] ")
    parts = [p.strip() for p in body.split(",")]
    try:
        if len(parts) == 1 and "," not in t:
            return int(parts[0])
        return tuple(int(p) for p in parts if p)
    except ValueError:
        raise ParamValueError(f"axis {text!r}: write an integer (-1), a list of integers (0,1) or None") from None


def format_axis(value) -> str:
    if value is None:
        return "None"
    if isinstance(value, (tuple, list)):
        return ",".join(str(int(v)) for v in value)
    return str(value)


class _MaskField(QWidget):
    """None / causal / padding with the key lengths, as the mask keyword's spellings."""

    changed = Signal()

    def __init__(self, parent=None):
        super().__init__(parent)
        self.kind = QComboBox()
        self.kind.addItems(["None", "causal", "padding"])
        self.lengths = QLineEdit()
        self.lengths.setPlaceholderText("key lengths, e.g. 3,2")
        self.lengths.setEnabled(False)
        lay = QHBoxLayout(self)
        lay.setContentsMargins(0, 0, 0, 0)
        lay.addWidget(self.kind)
        lay.addWidget(self.lengths, 1)
        self.kind.currentIndexChanged.connect(self._kind_changed)
        self.lengths.textEdited.connect(lambda _t: self.changed.emit())

    def _kind_changed(self, _i) -> None:
        self.lengths.setEnabled(self.kind.currentText() == "padding")
        self.changed.emit()

    def value(self):
        k = self.kind.currentText()
        if k == "None":
            return None
        if k == "causal":
            return "causal"
        text = self.lengths.text().strip()
        try:
            lengths = [int(x) for x in text.replace(";", ",").split(",") if x.strip()]
        except ValueError:
            lengths = []
        if not lengths:
            self.lengths.setStyleSheet(_INVALID)
            raise ParamValueError("padding mask: write the key lengths per batch, e.g. 3,2")
        self.lengths.setStyleSheet("")
        return "padding:" + ",".join(map(str, lengths))

    def set_value(self, value) -> None:
        self.blockSignals(True)
        try:
            if value is None or (isinstance(value, str) and value.lower() in ("", "none")):
                self.kind.setCurrentText("None")
            elif isinstance(value, str) and value.lower() == "causal":
                self.kind.setCurrentText("causal")
            else:
                text = value.split(":", 1)[1] if isinstance(value, str) and ":" in value else value
                if not isinstance(text, str):
                    text = ",".join(str(int(x)) for x in text)
                self.kind.setCurrentText("padding")
                self.lengths.setText(text)
            self.lengths.setEnabled(self.kind.currentText() == "padding")
        finally:
            self.blockSignals(False)


class ParamForm(QGroupBox):
    """One widget per parameter of an operation, built from the parameters' kinds.

    Signals
    -------
    params_changed()
        the user changed a value (also when it is not yet valid; :meth:`values` then raises).
    """

    params_changed = Signal()

    def __init__(self, parent=None):
        super().__init__("Parameters", parent)
        self._form = QFormLayout(self)
        self._form.setFieldGrowthPolicy(QFormLayout.AllNonFixedFieldsGrow)
        self._getters: dict[str, callable] = {}
        self._setters: dict[str, callable] = {}
        self._spec = None

    def set_spec(self, spec, values=None) -> None:
        """Build the widgets of ``spec``'s parameters, set to their defaults or ``values``."""
        while self._form.rowCount():
            self._form.removeRow(0)
        self._getters.clear()
        self._setters.clear()
        self._spec = spec
        for p in spec.params:
            w, get, put = self._make(p)
            w.setToolTip(p.doc)
            label = QLabel(p.name)
            label.setToolTip(p.doc)
            self._form.addRow(label, w)
            self._getters[p.name] = get
            self._setters[p.name] = put
            put(p.default)
        self.setVisible(bool(spec.params))  # an empty box is only noise on a projector
        if values:
            self.set_values(values)

    def set_values(self, values) -> None:
        """Set parameter widgets without emitting :attr:`params_changed`."""
        for k, v in dict(values).items():
            if k in self._setters:
                self._setters[k](v)

    def set_value(self, name: str, value) -> None:
        """Set one parameter as if the user had (emits :attr:`params_changed`)."""
        self._setters[name](value)
        self.params_changed.emit()

    def values(self) -> dict:
        """The parameters as Python values.

        Raises
        ------
        ParamValueError
            a field holds text that is not a value of its kind (the field turns red).
        """
        return {k: get() for k, get in self._getters.items()}

    # --- one widget per kind -------------------------------------------------------------------
    def _make(self, p):
        emit = self.params_changed.emit
        if p.kind == "bool":
            w = QCheckBox()
            w.toggled.connect(lambda _v: emit())
            return w, w.isChecked, lambda v: _quiet(w, w.setChecked, bool(v))
        if p.kind == "int":
            w = QSpinBox()
            lo = int(p.minimum) if p.minimum is not None else -64
            hi = int(p.maximum) if p.maximum is not None else 1 << 20
            w.setRange(lo, hi)
            w.setKeyboardTracking(False)  # one run per finished number, not one per keystroke
            w.valueChanged.connect(lambda _v: emit())
            return w, w.value, lambda v: _quiet(w, w.setValue, int(v if v is not None else 0))
        if p.kind in ("choice", "ord"):
            w = QComboBox()
            for c in p.choices:
                w.addItem(str(c), c)
            w.currentIndexChanged.connect(lambda _i: emit())

            def put_choice(v, w=w):
                i = w.findText(str(v))
                if i < 0 and isinstance(v, float) and math.isinf(v):
                    i = w.findText("inf")
                if i >= 0:
                    _quiet(w, w.setCurrentIndex, i)

            return w, w.currentData, put_choice
        if p.kind == "mask":
            w = _MaskField()
            w.changed.connect(emit)
            return w, w.value, w.set_value
        # float and axis (and any kind added later) are typed: a line edit with parsing
        w = QLineEdit()
        if p.kind == "axis":
            w.setPlaceholderText("None = all axes; -1; 0,1")
        elif p.default is None:
            w.setPlaceholderText("default")
        w.textEdited.connect(lambda _t: emit())
        if p.kind == "axis":
            parse, fmt = parse_axis, format_axis
        elif p.kind == "float":
            parse, fmt = (lambda t, p=p: _parse_float(t, p)), _format_float
        else:
            parse, fmt = (lambda t: t.strip() or None), (lambda v: "" if v is None else str(v))

        def get(w=w, parse=parse):
            try:
                v = parse(w.text())
            except ParamValueError:
                w.setStyleSheet(_INVALID)
                raise
            w.setStyleSheet("")
            return v

        return w, get, lambda v, w=w, fmt=fmt: _quiet(w, w.setText, fmt(v))


def _quiet(widget, setter, value) -> None:
    widget.blockSignals(True)
    try:
        setter(value)
    finally:
        widget.blockSignals(False)


def _parse_float(text: str, p):
    t = text.strip()
    if not t:
        return p.default
    try:
        return float(t)
    except ValueError:
        raise ParamValueError(f"{p.name} {text!r} is not a number") from None


def _format_float(v) -> str:
    return "" if v is None else f"{float(v):g}"


class SteppingBox(QGroupBox):
    """Granularity (auto or one the operation offers), tile size and k-block size.

    Signals
    -------
    stepping_changed()
        the user changed one of them.
    """

    stepping_changed = Signal()

    def __init__(self, parent=None):
        super().__init__("Steps", parent)
        self.granularity = QComboBox()
        self.granularity.setToolTip("element: one output value per step · tile: one block of outputs · "
                                    "kblock: one block of partial sums · stage: one whole stage")
        self.tile = QSpinBox()
        self.tile.setRange(0, 1 << 16)
        self.tile.setSpecialValueText("auto")
        self.tile.setToolTip("output tile size for tile steps (auto: about 256 tiles)")
        self.kblock = QSpinBox()
        self.kblock.setRange(0, 1 << 16)
        self.kblock.setSpecialValueText("auto")
        self.kblock.setToolTip("block of the summed axis for kblock steps (auto: about 32 blocks)")
        for s in (self.tile, self.kblock):
            s.setKeyboardTracking(False)
            s.valueChanged.connect(lambda _v: self.stepping_changed.emit())
        self.granularity.currentIndexChanged.connect(self._granularity_changed)
        form = QFormLayout(self)
        form.setFieldGrowthPolicy(QFormLayout.AllNonFixedFieldsGrow)
        form.addRow("granularity", self.granularity)
        form.addRow("tile", self.tile)
        form.addRow("k-block", self.kblock)

    def set_spec(self, spec, granularity=None) -> None:
        """Offer ``spec``'s granularities; select ``granularity`` (None: auto)."""
        self.granularity.blockSignals(True)
        try:
            self.granularity.clear()
            self.granularity.addItem("auto", None)
            for g in spec.granularities:
                self.granularity.addItem(g, g)
            i = self.granularity.findData(granularity) if granularity else 0
            self.granularity.setCurrentIndex(max(0, i))
        finally:
            self.granularity.blockSignals(False)
        for s in (self.tile, self.kblock):
            _quiet(s, s.setValue, 0)
        self._enable()

    def set_granularity(self, g) -> None:
        """Select granularity ``g`` (None: auto) as if the user had."""
        i = self.granularity.findData(g) if g else 0
        if i < 0:
            raise ValueError(f"granularity {g!r} is not offered here")
        self.granularity.setCurrentIndex(i)

    def _granularity_changed(self, _i) -> None:
        self._enable()
        self.stepping_changed.emit()

    def _enable(self) -> None:
        g = self.granularity.currentData()
        have = {self.granularity.itemData(i) for i in range(self.granularity.count())}
        self.tile.setEnabled(g in ("tile", None) and "tile" in have)
        self.kblock.setEnabled(g in ("kblock", None) and "kblock" in have)

    def show_state(self, granularity, tile, kblock) -> None:
        """Show the document's granularity and option sizes (None: auto) without emitting."""
        i = self.granularity.findData(granularity) if granularity else 0
        _quiet(self.granularity, self.granularity.setCurrentIndex, max(0, i))
        for spin, v in ((self.tile, tile), (self.kblock, kblock)):
            _quiet(spin, spin.setValue, int(v or 0))
        self._enable()

    def raw_values(self) -> tuple[str | None, int | None, int | None]:
        """(granularity or None, tile or None, kblock or None) as set, whether the sizes apply or not."""
        return self.granularity.currentData(), self.tile.value() or None, self.kblock.value() or None

    def values(self) -> tuple[str | None, int | None, int | None]:
        """(granularity or None, tile or None, kblock or None)."""
        g = self.granularity.currentData()
        tile = self.tile.value() if self.tile.isEnabled() and self.tile.value() > 0 else None
        kblock = self.kblock.value() if self.kblock.isEnabled() and self.kblock.value() > 0 else None
        return g, tile, kblock


@dataclass(frozen=True)
class LineRow:
    """One line of a program as the steps box shows it: its ``name`` and expression ``text``, the
    operation it streams (``op``; None for a one-step arithmetic line), the granularities that
    operation offers, the one it ran with (``used``), and the user's choices (None: auto)."""

    name: str
    text: str
    op: str | None
    offered: tuple[str, ...]
    used: str
    granularity: str | None = None
    tile: int | None = None
    kblock: int | None = None


def line_rows(tl, chosen: Mapping | None = None, options: Mapping | None = None) -> list[LineRow]:
    """The :class:`LineRow` of every line of program timeline ``tl``, with the user's per-line
    ``chosen`` granularities (a dict line → granularity, or one name for every line that offers
    it) and ``options`` ({"tile": …, "kblock": …}) where given."""
    every = chosen if isinstance(chosen, str) else None
    chosen = {} if every is not None else dict(chosen or {})
    options = dict(options or {})
    rows = []
    for part in tl.lines:
        offered = tuple(compute.get_spec(part.op).granularities) if part.op else ()
        opts = options.get(part.name, {})
        g = every if every in offered else chosen.get(part.name)
        rows.append(LineRow(part.name, part.text, part.op, offered, part.granularity, g,
                            opts.get("tile"), opts.get("kblock")))
    return rows


class ProgramStepsBox(QGroupBox):
    """A program's steps, line by line: each line that streams an operation gets its own
    granularity (auto or one the operation offers) and tile / k-block sizes where they apply;
    an arithmetic line is one stage step, shown as such.

    Signals
    -------
    stepping_changed()
        the user changed a line's granularity, tile or k-block.
    """

    stepping_changed = Signal()

    def __init__(self, parent=None):
        super().__init__("Program lines", parent)
        self._grid = QGridLayout(self)
        self._grid.setContentsMargins(6, 6, 6, 6)
        self._grid.setHorizontalSpacing(6)
        self._rows: list[LineRow] = []
        self._widgets: dict[str, tuple[QComboBox, QSpinBox, QSpinBox]] = {}
        self._key: tuple = ()

    def set_lines(self, rows: Sequence[LineRow]) -> None:
        """Show ``rows`` (rebuilding the widgets only when the lines or their operations change)."""
        key = tuple((r.name, r.op, r.offered) for r in rows)
        if key != self._key:
            self._build(rows)
            self._key = key
        self._rows = list(rows)
        for r in rows:
            combo, tile, kblock = self._widgets[r.name]
            combo.setItemText(0, f"auto · {r.used}" if r.op else "stage")
            i = combo.findData(r.granularity) if r.granularity else 0
            _quiet(combo, combo.setCurrentIndex, max(0, i))
            _quiet(tile, tile.setValue, _first_int(r.tile))
            _quiet(kblock, kblock.setValue, int(r.kblock or 0))
            self._enable(r.name)

    def lines(self) -> list[str]:
        """The line names shown, in order."""
        return [r.name for r in self._rows]

    def widgets(self, line: str) -> tuple[QComboBox, QSpinBox, QSpinBox]:
        """(granularity box, tile spin box, k-block spin box) of ``line``."""
        return self._widgets[line]

    def set_line_granularity(self, line: str, g: str | None) -> None:
        """Pick granularity ``g`` (None: auto) for ``line`` as the user would."""
        combo = self._widgets[line][0]
        i = combo.findData(g) if g else 0
        if i < 0:
            raise ValueError(f"line {line}: granularity {g!r} is not offered")
        combo.setCurrentIndex(i)

    def values(self) -> tuple[dict[str, str], dict[str, dict[str, int]]]:
        """(line → granularity, line → {"tile": …, "kblock": …}) for the lines not left on auto."""
        granularity, options = {}, {}
        for r in self._rows:
            combo, tile, kblock = self._widgets[r.name]
            g = combo.currentData()
            if g:
                granularity[r.name] = g
            opts = {}
            if tile.isEnabled() and tile.value() > 0:
                opts["tile"] = tile.value()
            if kblock.isEnabled() and kblock.value() > 0:
                opts["kblock"] = kblock.value()
            if opts:
                options[r.name] = opts
        return granularity, options

    def _build(self, rows: Sequence[LineRow]) -> None:
        while self._grid.count():
            item = self._grid.takeAt(0)
            if item.widget() is not None:
                item.widget().deleteLater()
        self._widgets = {}
        for j, head in enumerate(("line", "steps", "tile", "k-block")):
            label = QLabel(head)
            label.setStyleSheet("color: #666;")
            self._grid.addWidget(label, 0, j)
        for i, r in enumerate(rows, start=1):
            name = QLabel(f"<b>{html.escape(r.name)}</b> <span style='color:#777'>{html.escape(r.op or '')}</span>")
            name.setToolTip(f"{r.name} = {r.text}")
            combo = QComboBox()
            combo.addItem("auto", None)
            for g in r.offered:
                combo.addItem(g, g)
            combo.setEnabled(bool(r.op))
            combo.setToolTip(f"steps of {r.name} = {r.text}" if r.op else
                             f"{r.name} = {r.text} is plain arithmetic: one stage step")
            tile, kblock = QSpinBox(), QSpinBox()
            for spin, tip in ((tile, "output tile size for tile steps (auto: about 256 tiles)"),
                              (kblock, "block of the summed axis for kblock steps (auto: about 32 blocks)")):
                spin.setRange(0, 1 << 16)
                spin.setSpecialValueText("auto")
                spin.setKeyboardTracking(False)
                spin.setToolTip(tip)
                spin.valueChanged.connect(lambda _v: self.stepping_changed.emit())
            combo.currentIndexChanged.connect(lambda _i, line=r.name: self._changed(line))
            self._grid.addWidget(name, i, 0)
            self._grid.addWidget(combo, i, 1)
            self._grid.addWidget(tile, i, 2)
            self._grid.addWidget(kblock, i, 3)
            self._widgets[r.name] = (combo, tile, kblock)
        self._grid.setColumnStretch(1, 1)

    def _changed(self, line: str) -> None:
        self._enable(line)
        self.stepping_changed.emit()

    def _enable(self, line: str) -> None:
        row = next((r for r in self._rows if r.name == line), None)
        if row is None:
            return
        combo, tile, kblock = self._widgets[line]
        g = combo.currentData()
        tile.setEnabled(g == "tile" and "tile" in row.offered)
        kblock.setEnabled(g == "kblock" and "kblock" in row.offered)


def _first_int(v) -> int:
    """A tile option (an int or (rows, cols)) as the one number a spin box shows."""
    if isinstance(v, (tuple, list)):
        return int(v[0]) if v else 0
    return int(v or 0)


class OperationPanel(QWidget):
    """Picker, description, parameters and steps, stacked for the left dock. In program mode
    (:meth:`show_program`) the operation's parameters and steps make way for the program's
    lines with their own steps (:class:`ProgramStepsBox`): what runs is the program, not the
    operation still selected in the picker."""

    def __init__(self, parent=None):
        super().__init__(parent)
        self.picker = OperationPicker()
        f = QFont(self.picker.font())
        f.setPointSizeF(f.pointSizeF() * 1.25)
        f.setBold(True)
        self.picker.setFont(f)
        self.doc = QLabel()
        self.doc.setWordWrap(True)
        self.doc.setTextInteractionFlags(Qt.TextSelectableByMouse)
        self.doc.setStyleSheet("color: #444;")
        self.program_note = QLabel()
        self.program_note.setWordWrap(True)
        self.program_note.setStyleSheet("color: #444;")
        self.program_note.hide()
        self.params = ParamForm()
        self.stepping = SteppingBox()
        self.program = ProgramStepsBox()
        self.program.hide()
        lay = QVBoxLayout(self)
        lay.setContentsMargins(6, 6, 6, 6)
        lay.addWidget(self.picker)
        lay.addWidget(self.doc)
        lay.addWidget(self.program_note)
        lay.addWidget(self.params)
        lay.addWidget(self.stepping)
        lay.addWidget(self.program)
        lay.addStretch(1)

    @property
    def mode(self) -> str:
        """``"program"`` while a program's lines are shown, else ``"operation"``."""
        return "program" if self.program.isVisibleTo(self) else "operation"

    def show_program(self, rows: Sequence[LineRow]) -> None:
        """Program mode: the program's lines and their steps instead of the operation's."""
        n = len(rows)
        self.program_note.setText(f"A program of {n} line{'s' if n != 1 else ''} runs. Each line that calls an "
                                  f"operation steps on its own; pick an operation above to go back to it alone.")
        self.program.set_lines(rows)
        for w in (self.doc, self.params, self.stepping):
            w.hide()
        self.program_note.show()
        self.program.show()

    def show_operation(self) -> None:
        """Operation mode: the picked operation's description, parameters and steps."""
        self.program.hide()
        self.program_note.hide()
        for w in (self.doc, self.params, self.stepping):
            w.show()
