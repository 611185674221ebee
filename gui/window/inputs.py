"""One matrix editor per named input of the current operation, in tabs.

Optional inputs (biases, a mask array, separate query/key/value) get a "use" check box: unchecked,
the input is left out of the run and its editor is greyed out but keeps its numbers.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from opscope.compute.document import placeholder_input
from opscope.compute.fills import input_seed
from opscope.gui.editor import MAX_ELEMENTS, MatrixEditor
from opscope.gui.editor.file_drop import dropped_tensor_file
from PySide6.QtCore import Signal
from PySide6.QtWidgets import QCheckBox, QLabel, QMenu, QScrollArea, QTabWidget, QVBoxLayout, QWidget

from .widgets import NameTabBar, count_text, shape_text

__all__ = ["HeldInput", "InputsPanel", "placeholder_input"]


class HeldInput(QWidget):
    """Stands in for an editor when a tensor is too big to edit as a table (more than the editor's
    :data:`~gui.editor.MAX_ELEMENTS`): the array is used as given, and the page says so."""

    array_changed = Signal(object)
    message_changed = Signal(str)
    #: As :attr:`MatrixEditor.load_requested`: a dropped file's path, or ``""`` to ask for one.
    load_requested = Signal(str)
    #: As :attr:`MatrixEditor.save_requested`.
    save_requested = Signal()

    def __init__(self, name: str, array, parent=None, *, document=None):
        super().__init__(parent)
        self._name = name
        self._doc = document
        self._label = QLabel()
        self._label.setWordWrap(True)
        lay = QVBoxLayout(self)
        lay.addWidget(self._label)
        lay.addStretch(1)
        self.setAcceptDrops(True)
        self._show(array)  # not set_array: bound, that would be an edit of the document

    def contextMenuEvent(self, event) -> None:  # noqa: N802 - Qt's name
        menu = QMenu(self)
        menu.addAction("Load from file…", lambda: self.load_requested.emit(""))
        menu.addAction("Save tensor…", lambda: self.save_requested.emit())
        menu.exec(event.globalPos())
        menu.deleteLater()

    def dragEnterEvent(self, event) -> None:  # noqa: N802 - Qt's name
        if dropped_tensor_file(event.mimeData()) is not None:
            event.acceptProposedAction()

    def dropEvent(self, event) -> None:  # noqa: N802 - Qt's name
        path = dropped_tensor_file(event.mimeData())
        if path is not None:
            event.acceptProposedAction()
            self.load_requested.emit(path)

    def array(self) -> np.ndarray:
        return self._array

    def document_changed(self) -> None:
        """Re-read the document's array of this input."""
        self._show(self._doc.input(self._name))

    def document_slice_changed(self) -> None:
        pass

    def set_array(self, a, undoable: bool = True) -> None:
        if self._doc is not None:  # the document calls back (document_changed)
            self._doc.set_input(self._name, a, text=f"Replace {self._name}", record=undoable)
            return
        self._show(a)

    def _show(self, a) -> None:
        arr = np.asarray(a)
        if arr.flags.writeable:
            arr = arr.view()
            arr.setflags(write=False)  # shared with the runs, never copied: nobody may change it
        self._array = arr
        self._label.setText(f"{self._name}: {shape_text(arr.shape)} {arr.dtype} ({count_text(arr.size, 'values')}) "
                            f"is too large to edit as a table (the editor holds up to "
                            f"{count_text(MAX_ELEMENTS, 'values')}). It is used as given.")
        self.array_changed.emit(arr)

    def set_levels(self, lo, hi) -> None:
        pass


@dataclass(frozen=True)
class _ProgramInput:
    """An input a program reads that its operation does not have (what an editor page needs)."""

    name: str
    doc: str = ""
    optional: bool = False


class InputsPanel(QWidget):
    """Tabs of :class:`MatrixEditor`, one per input.

    Signals
    -------
    inputs_changed(str)
        the user changed input ``name`` (its numbers, its shape, or whether it is used).
    message_changed(str)
        an editor has something to say (a refused cell, a bad paste).
    load_requested(str, str)
        the user wants a file loaded into input ``name``: ``(name, path)``, path ``""`` to ask for one.
    save_requested(str)
        the user wants input ``name`` (the editor's numbers) saved to a file.
    """

    inputs_changed = Signal(str)
    message_changed = Signal(str)
    load_requested = Signal(str, str)
    save_requested = Signal(str)

    def __init__(self, parent=None):
        super().__init__(parent)
        self.tabs = QTabWidget()
        self.tabs.setTabBar(NameTabBar())  # W_q, not "W q"
        self.tabs.setDocumentMode(True)
        lay = QVBoxLayout(self)
        lay.setContentsMargins(4, 4, 4, 4)
        lay.addWidget(self.tabs)
        self._editors: dict[str, MatrixEditor | HeldInput] = {}
        self._use: dict[str, QCheckBox] = {}
        self._doc = None
        self._history = None
        self._names: list[str] | None = None

    def bind(self, document, history=None) -> None:
        """Show and edit the inputs of ``document`` (a :class:`compute.document.Document`):
        :meth:`set_inputs` then builds editors over its arrays, and its events refresh them.

        ``history`` is the workspace undo the editors' own buttons and keys drive.
        """
        self._doc, self._history = document, history
        ev = document.events
        ev.inputs_changed.connect(self._doc_input_changed)
        ev.used_changed.connect(self._doc_used_changed)
        ev.slice_changed.connect(lambda name, _lead: self._editors[name].document_slice_changed()
                                 if name in self._editors else None)
        # The document outlives no window, but a panel may go first: stop listening then.
        self.destroyed.connect(lambda *_: (ev.inputs_changed.disconnect(self._doc_input_changed),
                                           ev.used_changed.disconnect(self._doc_used_changed)))

    def _doc_input_changed(self, name: str) -> None:
        ed = self._editors.get(name)
        if ed is None:
            return
        held = np.size(self._doc.input(name)) > MAX_ELEMENTS
        if held != isinstance(ed, HeldInput):  # grew past (or shrank under) the table's size: other page
            current = self.current_name()
            self.set_inputs(self._doc.spec, names=self._names)
            if current in self._editors:
                self.set_current(current)
        else:
            ed.document_changed()
        if name in self._editors:
            self._retitle(name)
        self.inputs_changed.emit(name)

    def _doc_used_changed(self, name: str, on: bool) -> None:
        use = self._use.get(name)
        if use is None:
            return
        use.blockSignals(True)
        use.setChecked(on)
        use.blockSignals(False)
        self._editors[name].setEnabled(on)
        self._retitle(name)
        self.inputs_changed.emit(name)

    def set_inputs(self, spec, arrays: dict | None = None, names=None) -> None:
        """Replace the editors by one per input of ``spec``; inputs missing from ``arrays`` that
        are optional get a placeholder and start unused. Bound to a document (:meth:`bind`), the
        editors show its arrays and ``arrays`` is ignored.

        ``names`` (bound only) shows those of the document's inputs instead, in that order: the
        inputs a program reads, which need not be ``spec``'s.
        """
        self._names = None if names is None else list(names)
        # QTabWidget.clear() only removes the tabs: each page (a scroll area holding the editor,
        # its doc label and "use" box) stays a child of the tab widget, a few dozen widgets kept
        # for every lesson ever opened. Delete the pages; the editors go with them.
        pages = [self.tabs.widget(i) for i in range(self.tabs.count())]
        self.tabs.clear()
        for page in pages:
            page.deleteLater()
        for ed in self._editors.values():
            ed.deleteLater()
        self._editors.clear()
        self._use.clear()
        document = self._doc
        if document is not None:
            arrays = dict(document.inputs)
        else:
            arrays = {k: v for k, v in (arrays or {}).items() if v is not None}
        entries = list(spec.inputs)
        if document is not None and names is not None:
            by_name = {i.name: i for i in spec.inputs}
            # A program's own inputs are plain, required tensors: no doc line, no "use" box.
            entries = [by_name.get(n) or _ProgramInput(n) for n in names if n in document.inputs]
        for inp in entries:
            if document is not None:
                given, a = document.is_used(inp.name), arrays[inp.name]
            else:
                given = inp.name in arrays
                a = np.asarray(arrays[inp.name]) if given else placeholder_input(spec, inp.name, arrays)
            page = QWidget()
            v = QVBoxLayout(page)
            v.setContentsMargins(2, 2, 2, 2)
            if inp.doc:
                doc = QLabel(inp.doc)
                doc.setWordWrap(True)
                doc.setStyleSheet("color: #555;")
                v.addWidget(doc)
            if np.size(a) > MAX_ELEMENTS:
                ed = HeldInput(inp.name, a, document=document)
            elif document is not None:
                ed = MatrixEditor(inp.name, None, document=document, history=self._history)
            else:
                ed = MatrixEditor(inp.name, np.array(a, copy=True))
            if isinstance(ed, MatrixEditor):  # one seed per input: random A and B must differ (A @ B ≠ A @ A)
                ed.set_fill_seed(input_seed(len(self._editors)))
            if inp.optional:
                use = QCheckBox(f"use {inp.name}")
                use.setChecked(given)
                ed.setEnabled(given)
                use.toggled.connect(lambda on, n=inp.name: self._use_toggled(n, on))
                self._use[inp.name] = use
                v.addWidget(use)
            v.addWidget(ed, 1)
            if document is None:  # bound, the document's inputs_changed says it (_doc_input_changed)
                ed.array_changed.connect(lambda _a, n=inp.name: self._edited(n))
            ed.message_changed.connect(self.message_changed)
            ed.load_requested.connect(lambda path, n=inp.name: self.load_requested.emit(n, path))
            ed.save_requested.connect(lambda n=inp.name: self.save_requested.emit(n))
            self._editors[inp.name] = ed
            # The editor's tool rows are wider than a side panel should be: scroll them sideways
            # rather than let them widen the dock and narrow the canvas.
            scroll = QScrollArea()
            scroll.setWidget(page)
            scroll.setWidgetResizable(True)
            scroll.setFrameShape(QScrollArea.NoFrame)
            self.tabs.addTab(scroll, self._title(inp.name))

    def _title(self, name: str) -> str:
        if not self.is_used(name):
            return f"{name} (off)"  # short: mha has 13 inputs, most of them off
        return f"{name}  {shape_text(np.shape(self._editors[name].array()))}"

    def _retitle(self, name: str) -> None:
        i = list(self._editors).index(name)
        self.tabs.setTabText(i, self._title(name))

    def _use_toggled(self, name: str, on: bool) -> None:
        if self._doc is not None:
            self._doc.set_used(name, on)  # the document calls back (_doc_used_changed)
            return
        self._editors[name].setEnabled(on)
        self._retitle(name)
        self.inputs_changed.emit(name)

    def _edited(self, name: str) -> None:
        self._retitle(name)
        self.inputs_changed.emit(name)

    # --- queries -----------------------------------------------------------------------------------
    def editor(self, name: str) -> MatrixEditor | HeldInput:
        """The editor of input ``name`` (KeyError if the operation has no such input)."""
        return self._editors[name]

    def names(self) -> list[str]:
        return list(self._editors)

    def current_name(self) -> str | None:
        """The input whose tab is shown (None when the operation has no inputs)."""
        names = self.names()
        i = self.tabs.currentIndex()
        return names[i] if 0 <= i < len(names) else None

    def set_current(self, name: str) -> None:
        """Show input ``name``'s tab."""
        self.tabs.setCurrentIndex(self.names().index(name))

    def is_used(self, name: str) -> bool:
        use = self._use.get(name)
        return use is None or use.isChecked()

    def set_used(self, name: str, on: bool) -> None:
        """Include or leave out an optional input (as if the user clicked its check box)."""
        if name in self._use:
            self._use[name].setChecked(on)

    def arrays(self) -> dict:
        """The inputs of the next run: every used input's array (bound: the document's, not copied)."""
        if self._doc is not None:
            return self._doc.run_inputs()
        return {n: ed.array() for n, ed in self._editors.items() if self.is_used(n)}

    def set_levels(self, levels) -> None:
        """Colour every editor with its tensor's run levels, so tables and heatmaps agree."""
        for name, ed in self._editors.items():
            if name in levels:
                lo, hi = levels[name]
                ed.set_levels(lo, hi)
