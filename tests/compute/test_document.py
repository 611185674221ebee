"""The document model (compute.document): events, refusals, workspace undo, sessions. No Qt."""

from __future__ import annotations

import sys

import numpy as np
import pytest
from opscope.compute.document import Document, Event, one_line_program
from opscope.compute.errors import InputError, OpScopeError, ParamError
from opscope.compute.io import load_session, save_session


class Recorder:
    """Every event of a document, in order, as (name, payload)."""

    def __init__(self, doc):
        self.seen = []
        for name in doc.events.NAMES:
            getattr(doc.events, name).connect(lambda *p, n=name: self.seen.append((n, p)))

    def names(self, skip_history=True):
        return [n for n, _ in self.seen if not (skip_history and n == "history_changed")]

    def clear(self):
        self.seen.clear()


@pytest.fixture
def doc():
    d = Document()
    d.set_op("matmul", {"A": np.array([[1.0, 2.0], [3.0, 4.0]]), "B": np.array([[5.0, 6.0], [7.0, 8.0]])},
             record=False)
    return d


def _state(d):
    return (d.op, d.program_text, {k: v.copy() for k, v in d.inputs.items()}, dict(d.used), dict(d.params),
            d.granularity, dict(d.options), d.step, dict(d.slices))


def _same_state(a, b):
    assert a[0] == b[0] and a[1] == b[1] and a[3:] == b[3:]
    assert a[2].keys() == b[2].keys()
    for k in a[2]:
        np.testing.assert_array_equal(a[2][k], b[2][k])
        assert a[2][k].dtype == b[2][k].dtype


def test_the_document_is_qt_free():
    assert not any(m.startswith(("PySide6", "pyqtgraph")) for m in sys.modules if "document" in m)
    import opscope.compute.document as mod

    src = open(mod.__file__).read()
    assert "PySide6" not in src and "pyqtgraph" not in src and "opscope.gui" not in src


def test_an_event_calls_its_callbacks_in_order_and_disconnects():
    e = Event("x")
    calls = []
    a = e.connect(lambda v: calls.append(("a", v)))
    e.connect(lambda v: calls.append(("b", v)))
    e.emit(1)
    e.disconnect(a)
    e.disconnect(a)  # twice: no error
    e.emit(2)
    assert calls == [("a", 1), ("b", 1), ("b", 2)]


def test_set_op_fills_the_state(doc):
    assert doc.op == "matmul"
    assert doc.program_text == one_line_program("matmul", ["A", "B"]) == "result = matmul(A, B)"
    assert set(doc.inputs) == {"A", "B"}
    assert all(not a.flags.writeable for a in doc.inputs.values())
    assert doc.granularity is None and doc.step == 0 and not doc.history.can_undo


def test_optional_inputs_get_a_placeholder_and_start_unused():
    d = Document()
    d.set_op("linear", record=False)
    assert "b" in d.inputs
    if not d.is_used("b"):
        assert "b" not in d.run_inputs()
    d.set_used("b", True)
    assert "b" in d.run_inputs()
    with pytest.raises(InputError):
        d.set_used("x" if "x" in d.inputs else next(n for n in d.inputs if n not in d.used), False)


def test_a_cell_edit_fires_once_copies_once_and_keeps_the_old_array(doc):
    rec = Recorder(doc)
    old = doc.input("A")
    doc.set_cell("A", (0, 1), 9)
    assert rec.seen == [("inputs_changed", ("A",)), ("history_changed", ())]
    new = doc.input("A")
    assert new is not old and not new.flags.writeable
    assert new[0, 1] == 9 and old[0, 1] == 2  # copy-on-write: a run holding `old` is unaffected
    assert doc.history.undo_text == "Edit A[0, 1]"
    assert doc.input("B") is doc.inputs["B"]  # the other input is not touched


def test_a_caller_s_array_is_copied_and_a_frozen_one_is_shared(doc):
    mine = np.ones((2, 2))
    doc.set_input("A", mine)
    mine[0, 0] = 5
    assert doc.input("A")[0, 0] == 1
    frozen = np.zeros((2, 3))
    frozen.setflags(write=False)
    doc.set_input("B", frozen)
    assert doc.input("B") is frozen


@pytest.mark.parametrize("change, error", [
    (lambda d: d.set_cell("A", (5, 0), 1.0), InputError),
    (lambda d: d.set_cell("A", (0,), 1.0), InputError),
    (lambda d: d.set_cell("A", (0, 0), "abc"), InputError),
    (lambda d: d.set_cell("Z", (0, 0), 1.0), InputError),
    (lambda d: d.set_input("A", np.array([1 + 2j])), InputError),
    (lambda d: d.set_input("A", np.array(["x"])), InputError),
    (lambda d: d.set_region("A", (), 1, 1, np.ones((2, 2))), InputError),
    (lambda d: d.set_granularity("nope"), ParamError),
    (lambda d: d.set_options(tile=-1), ParamError),
    (lambda d: d.set_options(tile=True), ParamError),
    (lambda d: d.set_options(bogus=2), ParamError),
    (lambda d: d.set_param("nope", 1), ParamError),
    (lambda d: d.set_step(-1), ParamError),
    (lambda d: d.set_step(1.5), ParamError),
    (lambda d: d.set_op("no_such_op"), (ParamError, ValueError)),
    (lambda d: d.set_op("softmax", params={"axis": 1.5}), ParamError),
    (lambda d: d.set_slice("A", (0,)), InputError),
    (lambda d: d.set_program_text(3), ParamError),
])
def test_a_refused_change_raises_an_opscope_error_and_changes_nothing(doc, change, error):
    before = _state(doc)
    rec = Recorder(doc)
    with pytest.raises(error) as info:
        change(doc)
    assert isinstance(info.value, (OpScopeError, ValueError))
    _same_state(_state(doc), before)
    assert rec.seen == [] and not doc.history.can_undo


def test_params_validate_fire_with_the_changes_and_consecutive_edits_merge():
    d = Document()
    d.set_op("softmax", record=False)
    rec = Recorder(d)
    d.set_param("axis", 0)
    assert rec.seen[0] == ("params_changed", ({"axis": 0},))
    d.set_param("axis", 0)  # the same value: no event, no step
    assert rec.names() == ["params_changed"]
    with pytest.raises(ParamError):
        d.set_param("axis", "x")
    assert d.params["axis"] == 0
    d.set_param("axis", 1)
    assert len(d.history) == 1  # typing into one field merges into one step
    d.undo()
    assert d.params["axis"] == -1


def test_undo_and_redo_across_kinds_of_change_in_order(doc):
    start = _state(doc)
    doc.set_cell("A", (0, 0), 10)
    after_edit = _state(doc)
    doc.set_granularity("element")
    doc.set_options(tile=2)
    doc.set_input("B", np.eye(3))
    doc.set_op("softmax")
    assert doc.op == "softmax" and doc.history.undo_text == "Choose softmax"
    rec = Recorder(doc)
    assert doc.undo()  # back to matmul, with its edited inputs
    assert rec.names() == ["op_changed"]
    assert doc.op == "matmul" and doc.input("B").shape == (3, 3)
    assert doc.undo() and doc.input("B").shape == (2, 2)
    assert doc.undo() and doc.options["tile"] is None
    assert doc.undo() and doc.granularity is None
    _same_state(_state(doc), after_edit)
    assert doc.undo()
    _same_state(_state(doc), start)
    assert not doc.undo() and doc.history.can_redo
    for _ in range(5):
        assert doc.redo()
    assert doc.op == "softmax" and not doc.redo()
    doc.undo()
    doc.undo()
    doc.set_param("transpose_b", True) if "transpose_b" in doc.params else doc.set_granularity("tile")
    assert not doc.history.can_redo  # a new change forgets what was undone


def test_the_step_and_slices_are_navigation_not_history():
    d = Document()
    d.set_op("matmul", {"A": np.arange(24.0).reshape(2, 3, 4), "B": np.ones((4, 2))}, record=False)
    rec = Recorder(d)
    d.set_step(3)
    d.set_slice("A", (1,))
    d.set_slice("A", (1,))
    assert rec.seen == [("step_changed", (3,)), ("slice_changed", ("A", (1,)))]
    assert not d.history.can_undo
    d.set_cell("A", (0, 2, 3), -1)  # an edit on another slice shows that slice
    assert d.slice("A") == (0,)
    d.set_slice("A", (1,))
    d.undo()
    assert d.slice("A") == (0,) and d.input("A")[0, 2, 3] == 11


def test_a_region_write_keeps_only_the_block_in_history():
    d = Document()
    big = np.zeros((400, 400))
    d.set_op("matmul", {"A": big, "B": big}, record=False)
    d.set_region("A", (), 10, 20, np.ones((2, 3)), text="Paste 2×3")
    cmd = d.history._done[-1]
    assert cmd.nbytes() == 2 * 6 * 8
    assert d.input("A")[10:12, 20:23].sum() == 6 and d.history.undo_text == "Paste 2×3"


def test_history_is_bounded_by_bytes(doc):
    doc.history.max_bytes = 3 * 32 * 8
    for i in range(6):
        doc.set_input("A", np.full((4, 4), float(i)))
    assert 1 <= len(doc.history) < 6 and doc.history.dropped >= 1


def test_effective_options_follow_the_granularity(doc):
    doc.set_options(tile=2, kblock=1)
    doc.set_granularity("element")
    assert doc.effective_options() == (None, None)
    doc.set_granularity(None)
    tile, kblock = doc.effective_options()
    assert tile == (2 if "tile" in doc.spec.granularities else None)


def test_session_round_trip(doc, tmp_path):
    doc.set_cell("B", (1, 1), -3)
    doc.set_granularity("element")
    doc.set_step(2)
    s = doc.to_session(view={"speed": 2.0})
    assert s.op == "matmul" and s.step == 2 and s.granularity == "element" and s.view["speed"] == 2.0
    path = tmp_path / "s.opscope"
    save_session(path, s)
    back = Document.from_session(load_session(path))
    _same_state(_state(back), _state(doc))
    assert not back.history.can_undo


def test_loading_a_bad_session_leaves_the_document_unchanged(doc):
    from opscope.compute.io import Session

    before = _state(doc)
    with pytest.raises(OpScopeError):
        doc.load_session(Session(op="softmax", params={"axis": "nope"}))
    _same_state(_state(doc), before)


# --- programs: inputs the operation does not have --------------------------------------------------
def test_set_program_adds_inputs_and_is_one_undo_step(doc):
    before = _state(doc)
    rec = Recorder(doc)
    doc.set_program("result = Q @ K.T", {"Q": np.ones((2, 3)), "K": np.zeros((2, 3))})
    assert doc.program_text == "result = Q @ K.T"
    assert doc.op == "matmul" and {"A", "B", "Q", "K"} <= set(doc.inputs)
    assert not doc.input("Q").flags.writeable
    assert rec.names() == ["op_changed"]
    doc.undo()
    _same_state(_state(doc), before)
    doc.redo()
    assert doc.program_text == "result = Q @ K.T" and "Q" in doc.inputs


def test_set_program_without_record_clears_the_history(doc):
    doc.set_cell("A", (0, 0), 9)
    doc.set_program("out = X * 2", {"X": np.eye(2)}, record=False)
    assert not doc.history.can_undo and doc.program_text == "out = X * 2"


def test_a_program_opened_with_fresh_steps_is_stepped_by_auto(doc):
    """The operation shown before (stepped by kblock of 1) must not step a lesson's program."""
    doc.set_granularity("kblock")
    doc.set_options(kblock=1)
    doc.set_program("out = X * 2", {"X": np.eye(2)}, record=False)
    assert doc.granularity == "kblock" and doc.options["kblock"] == 1  # kept unless asked
    doc.set_program("out = X * 3", {"X": np.eye(2)}, record=False, fresh_steps=True)
    assert doc.granularity is None and doc.options == {"tile": None, "kblock": None}
    doc.set_granularity("kblock")
    doc.set_program("out = X * 4", record=True, fresh_steps=True)
    assert doc.granularity is None
    doc.undo()  # one undo step puts the granularity back with the text
    assert doc.granularity == "kblock" and doc.program_text == "out = X * 3"


def test_line_steps_are_one_undo_step_and_resolve_for_the_run(doc):
    doc.set_program("s = A @ B\nr = s * 2", record=False, fresh_steps=True,
                    line_steps={"s": {"granularity": "stage"}})
    assert doc.program_steps() == ({"s": "stage"}, None)
    rec = Recorder(doc)
    doc.set_line_steps({"s": {"granularity": "tile", "tile": 1}, "r": {"granularity": None}})
    assert rec.names() == ["line_steps_changed"]
    assert dict(doc.line_steps) == {"s": {"granularity": "tile", "tile": 1, "kblock": None}}
    assert doc.program_steps() == ({"s": "tile"}, {"s": {"tile": 1}})
    doc.undo()
    assert doc.program_steps() == ({"s": "stage"}, None)
    # One granularity picked for every line: the lines' own give way, in the same undo step.
    doc.set_granularity("element")
    assert doc.program_steps() == ("element", None) and not doc.line_steps
    doc.undo()
    assert doc.granularity is None and doc.program_steps() == ({"s": "stage"}, None)
    doc.set_line_steps({"*": {"granularity": "kblock"}})
    assert doc.program_steps() == ("kblock", None)


@pytest.mark.parametrize("bad", [
    "stage", {"s": "stage"}, {"s": {"steps": 3}}, {"s": {"tile": -1}}, {"s": {"granularity": 3}}, {"": {}},
])
def test_bad_line_steps_are_refused_and_change_nothing(doc, bad):
    doc.set_program("s = A @ B", record=False, fresh_steps=True, line_steps={"s": {"granularity": "stage"}})
    before = dict(doc.line_steps)
    with pytest.raises(ParamError):
        doc.set_line_steps(bad)
    assert dict(doc.line_steps) == before


def test_line_steps_ride_in_the_session(doc):
    doc.set_program("s = A @ B\nr = s * 2", record=False, fresh_steps=True,
                    line_steps={"s": {"granularity": "kblock", "kblock": 1}})
    back = Document()
    back.load_session(doc.to_session())
    assert back.program_steps() == ({"s": "kblock"}, {"s": {"kblock": 1}})
    broken = doc.to_session(view={"line_steps": {"s": {"tile": "big"}}})
    before = _state(back)
    with pytest.raises(ParamError):
        back.load_session(broken)
    _same_state(_state(back), before)


def test_add_inputs_adds_only_new_names(doc):
    a = doc.input("A")
    assert doc.add_inputs({"A": np.zeros((5, 5)), "W": np.zeros((2, 2))}) == ["W"]
    assert doc.input("A") is a and doc.input("W").shape == (2, 2)
    assert doc.add_inputs({"W": np.ones(3)}) == []
    doc.undo()
    assert "W" not in doc.inputs


def test_added_inputs_are_edited_like_the_operations_own(doc):
    doc.add_inputs({"W": np.zeros((2, 2))})
    doc.set_cell("W", (1, 0), 4.0)
    assert doc.input("W")[1, 0] == 4.0
    doc.undo()
    assert doc.input("W")[1, 0] == 0.0


def test_choosing_an_operation_drops_a_programs_inputs(doc):
    doc.set_program("result = Q * 2", {"Q": np.ones((2, 2))})
    doc.set_op("softmax")
    assert "Q" not in doc.inputs and doc.program_text.startswith("result = softmax(")
    doc.undo()
    assert "Q" in doc.inputs and doc.program_text == "result = Q * 2"


@pytest.mark.parametrize("call", [lambda d: d.set_program(3), lambda d: d.set_program("x = Q", {"Q": "abc"})])
def test_set_program_refusals_leave_the_document_unchanged(doc, call):
    before = _state(doc)
    with pytest.raises(OpScopeError):
        call(doc)
    _same_state(_state(doc), before)


def test_set_program_needs_an_operation():
    with pytest.raises(ParamError):
        Document().set_program("result = Q", {"Q": np.ones(2)})


def test_a_programs_session_keeps_its_text_and_extra_inputs(doc, tmp_path):
    text = "s = A @ B\nresult = s + C"
    doc.set_program(text, {"C": np.full((2, 2), 5.0)})
    path = tmp_path / "p.opscope"
    save_session(path, doc.to_session())
    back = Document.from_session(load_session(path))
    assert back.program_text == text
    np.testing.assert_array_equal(back.inputs["C"], np.full((2, 2), 5.0))
    assert back.op == doc.op and not back.history.can_undo


def test_a_lines_steps_apply_only_while_the_program_has_that_line(doc):
    # A lesson's steps for `scores`, kept after its text was edited into other lines, made every
    # run fail ("granularity for unknown line(s) scores"); they wait for the line to come back.
    doc.set_program("scores = A @ B\nr = scores * 2", record=False, fresh_steps=True,
                    line_steps={"scores": {"granularity": "tile", "tile": 2}})
    assert doc.program_steps() == ({"scores": "tile"}, {"scores": {"tile": 2}})
    doc.set_program_text("s = A @ B\nr = s * 2")
    assert doc.program_steps() == (None, None)
    doc.set_program_text("s = A @ B\nr = s *")  # does not parse: the run says why, with the steps
    assert doc.program_steps() == ({"scores": "tile"}, {"scores": {"tile": 2}})
    doc.set_program_text("scores = A @ B\nr = scores * 3")
    assert doc.program_steps() == ({"scores": "tile"}, {"scores": {"tile": 2}})
