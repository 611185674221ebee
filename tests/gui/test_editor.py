"""The matrix editor: typing, refusals, paste, undo/redo, resize, N-d slices, fills, speed."""

import os
import time

import numpy as np
import pytest
from opscope.gui import colormaps as cm
from opscope.gui.editor import MAX_ELEMENTS, ArrayTableModel, MatrixEditor
from PySide6.QtCore import Qt
from PySide6.QtGui import QAction, QGuiApplication, QKeySequence
from PySide6.QtWidgets import QAbstractItemView, QHeaderView, QLineEdit, QMainWindow


@pytest.fixture
def make(qtbot):
    def _make(array, name="A"):
        ed = MatrixEditor(name, np.asarray(array))
        qtbot.addWidget(ed)
        ed.resize(700, 400)
        return ed

    return _make


def _recorder(ed):
    changes, messages = [], []
    ed.array_changed.connect(changes.append)
    ed.message_changed.connect(messages.append)
    return changes, messages


def _type_into_cell(qtbot, ed, row, col, text):
    view = ed.table_view()
    index = ed.model().index(row, col)
    view.setCurrentIndex(index)
    view.edit(index)
    line = view.findChild(QLineEdit)
    assert line is not None and line.isVisible()
    line.selectAll()
    qtbot.keyClicks(line, text)
    qtbot.keyClick(line, Qt.Key.Key_Return)
    # The delegate commits and closes the editor through a queued call: let the event loop run it.
    qtbot.waitUntil(lambda: view.state() != QAbstractItemView.State.EditingState, timeout=2000)


# ------------------------------------------------------------------------------ typing


def test_set_data_edits_and_emits(make):
    ed = make(np.zeros((2, 3)))
    changes, _ = _recorder(ed)
    m = ed.model()
    assert m.setData(m.index(1, 2), "2.5e-1")
    assert ed.array()[1, 2] == 0.25
    assert len(changes) == 1 and changes[0][1, 2] == 0.25
    assert m.data(m.index(1, 2)) == "0.25"
    assert ed.undo_stack.count() == 1
    # The emitted array is a copy: changing it does not reach the editor.
    changes[0][0, 0] = 99
    assert ed.array()[0, 0] == 0


def test_keyboard_typing_edits_a_cell(make, qtbot):
    ed = make(np.zeros((3, 3)))
    ed.show()
    qtbot.waitExposed(ed)
    changes, _ = _recorder(ed)
    _type_into_cell(qtbot, ed, 2, 1, "-7.25")
    assert ed.array()[2, 1] == -7.25
    assert len(changes) == 1


def test_non_number_is_refused_and_value_stays(make, qtbot):
    a = np.arange(6.0).reshape(2, 3)
    ed = make(a)
    ed.show()
    qtbot.waitExposed(ed)
    changes, messages = _recorder(ed)
    m = ed.model()
    assert not m.setData(m.index(1, 2), "abc")
    assert messages and "A[1, 2]: 'abc' is not a number" in messages[-1]
    assert "A[1, 2]" in ed.message()
    _type_into_cell(qtbot, ed, 0, 1, "1+2j")
    assert "complex" in messages[-1]
    np.testing.assert_array_equal(ed.array(), a)
    assert changes == [] and ed.undo_stack.count() == 0


def test_cell_editor_turns_red_while_text_is_not_a_number(make, qtbot):
    ed = make(np.zeros((2, 2)))
    ed.show()
    qtbot.waitExposed(ed)
    view = ed.table_view()
    index = ed.model().index(0, 0)
    view.setCurrentIndex(index)
    view.edit(index)
    line = view.findChild(QLineEdit)
    line.selectAll()
    qtbot.keyClicks(line, "1x")
    assert "border" in line.styleSheet() and "'1x' is not a number" in line.toolTip()
    qtbot.keyClick(line, Qt.Key.Key_Backspace)
    assert line.styleSheet() == ""
    qtbot.keyClick(line, Qt.Key.Key_Escape)
    qtbot.waitUntil(lambda: view.state() != QAbstractItemView.State.EditingState, timeout=2000)
    assert ed.array()[0, 0] == 0 and ed.undo_stack.count() == 0


def test_int_tensor_refuses_fractions(make):
    ed = make(np.array([[1, 2], [3, 4]], dtype=np.int32))
    _, messages = _recorder(ed)
    m = ed.model()
    assert not m.setData(m.index(0, 0), "2.5")
    assert "not an integer (int32)" in messages[-1]
    assert m.setData(m.index(0, 0), "7")
    assert ed.array().dtype == np.int32 and ed.array()[0, 0] == 7


def test_model_roles():
    a = np.array([[1.0, 1 / 3], [np.nan, -2.0]])
    m = ArrayTableModel(a, "W")
    m.set_levels(-2, 2)
    assert m.data(m.index(0, 0)) == "1"  # whole numbers without decimals
    assert m.data(m.index(0, 1)) == "0.3333"
    assert m.data(m.index(0, 1), Qt.ItemDataRole.EditRole) == repr(1 / 3)
    assert m.data(m.index(1, 0)) == "nan"
    assert "W[0, 1] = 0.3333333333333333" in m.data(m.index(0, 1), Qt.ItemDataRole.ToolTipRole)
    for r, c in [(0, 0), (0, 1), (1, 0), (1, 1)]:
        brush = m.data(m.index(r, c), Qt.ItemDataRole.BackgroundRole)
        assert brush.color() == cm.cell_brush(a[r, c], (-2, 2)).color()
        assert m.data(m.index(r, c), Qt.ItemDataRole.ForegroundRole) == cm.text_color(a[r, c], (-2, 2))
    # 1-D as one row, 0-D as one cell.
    assert (ArrayTableModel(np.arange(5.0)).rowCount(), ArrayTableModel(np.arange(5.0)).columnCount()) == (1, 5)
    assert ArrayTableModel(np.array(3.0)).rowCount() == 1 == ArrayTableModel(np.array(3.0)).columnCount()


def test_set_levels_from_outside_changes_colours(make):
    ed = make(np.array([[0.0, 1.0]]))
    m = ed.model()
    before = m.data(m.index(0, 1), Qt.ItemDataRole.BackgroundRole).color()
    ed.set_levels(-10, 10)
    assert ed.levels() == (-10.0, 10.0)
    after = m.data(m.index(0, 1), Qt.ItemDataRole.BackgroundRole).color()
    assert after != before and after == cm.cell_brush(1.0, (-10, 10)).color()
    ed.set_levels(None, None)
    assert ed.levels() == cm.display_levels((0.0, 1.0))


# ------------------------------------------------------------------------------ paste


@pytest.mark.parametrize(
    "text",
    ["1\t2\n3\t4\n", "1,2\r\n3,4", "[[1, 2], [3, 4]]", "np.array([[1., 2.], [3., 4.]])", "1 2\n3 4", "1 2; 3 4"],
)
def test_paste_forms_at_current_cell(make, text):
    ed = make(np.zeros((3, 3)))
    changes, _ = _recorder(ed)
    ed.select_cells(1, 1)
    assert ed.paste_text(text)
    np.testing.assert_array_equal(ed.array(), [[0, 0, 0], [0, 1, 2], [0, 3, 4]])
    assert len(changes) == 1 and ed.undo_stack.count() == 1


@pytest.mark.parametrize("text", ["1 2\n3", "1\t2\n3\tabc", "[[1, 2], [3]]", "", "hello world", "1+2j", "[[1, 2]"])
def test_bad_paste_changes_nothing(make, text):
    a = np.arange(9.0).reshape(3, 3)
    ed = make(a)
    changes, messages = _recorder(ed)
    assert not ed.paste_text(text)
    np.testing.assert_array_equal(ed.array(), a)
    assert changes == [] and ed.undo_stack.count() == 0
    assert messages and messages[-1].startswith("Paste refused, nothing changed")


def test_paste_names_the_bad_cell(make):
    ed = make(np.zeros((2, 2)))
    _, messages = _recorder(ed)
    ed.paste_text("1\t2\t3\n4\t5\tabc")
    assert "row 2, column 3: 'abc' is not a number" in messages[-1]


def test_paste_grows_to_fit_and_undo_restores(make):
    a = np.arange(4.0).reshape(2, 2)
    ed = make(a)
    _, messages = _recorder(ed)
    ed.select_cells(1, 1)
    assert ed.paste_text("7 8\n9 10")
    np.testing.assert_array_equal(ed.array(), [[0, 1, 0], [2, 7, 8], [0, 9, 10]])
    assert "grew from (2, 2) to (3, 3)" in messages[-1]
    ed.undo_stack.undo()
    np.testing.assert_array_equal(ed.array(), a)


def test_paste_replace_rules(make):
    ed = make(np.zeros((2, 2)))
    # Every cell selected and a block of another shape: the tensor takes the pasted shape.
    ed.table_view().selectAll()
    assert ed.paste_text("1 2 3\n4 5 6")
    assert ed.array().shape == (2, 3)
    # Asked for explicitly.
    assert ed.paste_text("[1, 2, 3, 4]", replace=True)
    np.testing.assert_array_equal(ed.array(), [1, 2, 3, 4])
    # A 3-D literal always replaces.
    assert ed.paste_text("[[[1, 2]], [[3, 4]]]")
    assert ed.array().shape == (2, 1, 2)
    for _ in range(3):
        ed.undo_stack.undo()
    np.testing.assert_array_equal(ed.array(), np.zeros((2, 2)))


def test_single_value_fills_selection(make):
    ed = make(np.zeros((3, 3)))
    ed.select_cells(0, 1, rows=2, cols=2)
    assert ed.paste_text("5")
    np.testing.assert_array_equal(ed.array(), [[0, 5, 5], [0, 5, 5], [0, 0, 0]])
    assert ed.undo_stack.count() == 1


def test_paste_into_int_refuses_fractions(make):
    a = np.zeros((2, 2), dtype=np.int64)
    ed = make(a)
    _, messages = _recorder(ed)
    assert not ed.paste_text("1 2.5")
    assert "row 1, column 2: 2.5 is not an integer (int64)" in messages[-1]
    np.testing.assert_array_equal(ed.array(), a)
    # Replacing instead switches to float64 and says so.
    assert ed.paste_text("1 2.5", replace=True)
    assert ed.array().dtype == np.float64 and "float64" in messages[-1]


def test_copy_text_and_numpy_code(make):
    a = np.array([[1.0, 0.1, 2.0], [np.nan, -np.inf, 1 / 3]])
    ed = make(a)
    assert ed.copy_text() == "1\t0.1\t2\nnan\t-inf\t0.3333333333333333"
    ed.select_cells(0, 1, rows=2, cols=1)
    assert ed.copy_text() == "0.1\n-inf"
    code = ed.copy_numpy_text()
    ns = {"np": np}
    exec(code, ns)  # test only: the code is the editor's own output
    np.testing.assert_array_equal(ns["A"], a)
    # Copy -> paste elsewhere round-trips exactly.
    ed2 = make(np.zeros((2, 3)), name="B")
    ed.table_view().clearSelection()
    assert ed2.paste_text(ed.copy_text())
    np.testing.assert_array_equal(ed2.array(), a)


def test_keyboard_copy_paste_undo_redo(make, qtbot):
    ed = make(np.zeros((2, 2)))
    ed.show()
    qtbot.waitExposed(ed)
    view = ed.table_view()
    view.setFocus()
    QGuiApplication.clipboard().setText("3\t4")
    view.setCurrentIndex(ed.model().index(1, 0))
    qtbot.keyClick(view, Qt.Key.Key_V, Qt.KeyboardModifier.ControlModifier)
    np.testing.assert_array_equal(ed.array(), [[0, 0], [3, 4]])
    ed.select_cells(1, 0, cols=2)
    qtbot.keyClick(view, Qt.Key.Key_C, Qt.KeyboardModifier.ControlModifier)
    assert QGuiApplication.clipboard().text() == "3\t4"
    qtbot.keyClick(view, Qt.Key.Key_Z, Qt.KeyboardModifier.ControlModifier)
    np.testing.assert_array_equal(ed.array(), np.zeros((2, 2)))
    qtbot.keyClick(view, Qt.Key.Key_Z, Qt.KeyboardModifier.ControlModifier | Qt.KeyboardModifier.ShiftModifier)
    np.testing.assert_array_equal(ed.array(), [[0, 0], [3, 4]])
    ed.select_cells(1, 1)
    qtbot.keyClick(view, Qt.Key.Key_Delete)
    np.testing.assert_array_equal(ed.array(), [[0, 0], [3, 0]])


def test_table_keys_win_over_window_shortcuts(qtbot):
    """A main window's own Ctrl+Z / Ctrl+V actions must not steal the keys from a focused table."""
    win = QMainWindow()
    qtbot.addWidget(win)
    fired = []
    for key in ("Ctrl+Z", "Ctrl+V"):
        act = QAction(key, win)
        act.setShortcut(QKeySequence(key))
        act.triggered.connect(lambda _=False, key=key: fired.append(key))
        win.addAction(act)
    ed = MatrixEditor("A", np.zeros((2, 2)))
    win.setCentralWidget(ed)
    win.show()
    qtbot.waitExposed(win)
    win.activateWindow()
    view = ed.table_view()
    view.setFocus()
    view.setCurrentIndex(ed.model().index(0, 0))
    QGuiApplication.clipboard().setText("1\t2")
    qtbot.keyClick(view, Qt.Key.Key_V, Qt.KeyboardModifier.ControlModifier)
    np.testing.assert_array_equal(ed.array(), [[1, 2], [0, 0]])
    qtbot.keyClick(view, Qt.Key.Key_Z, Qt.KeyboardModifier.ControlModifier)
    np.testing.assert_array_equal(ed.array(), np.zeros((2, 2)))
    assert fired == []


def test_menu_actions_use_the_clipboard(make):
    ed = make(np.zeros((2, 2)))
    QGuiApplication.clipboard().setText("1 2 3")
    ed._paste_replace_action.trigger()
    np.testing.assert_array_equal(ed.array(), [1, 2, 3])
    ed._copy_numpy_action.trigger()
    assert QGuiApplication.clipboard().text() == "A = np.array([1.0, 2.0, 3.0])"
    ed._copy_action.trigger()
    assert QGuiApplication.clipboard().text() == "1\t2\t3"


def test_big_copy_paste_round_trip(make):
    a = np.random.default_rng(5).standard_normal((300, 300))
    src, dst = make(a), make(np.zeros((1, 1)), name="B")
    t0 = time.perf_counter()
    dst.table_view().selectAll()
    assert dst.paste_text(src.copy_text())
    assert time.perf_counter() - t0 < 3.0
    assert dst.array().tobytes() == a.tobytes()


# ------------------------------------------------------------------------------ undo, resize, dtype


def test_undo_redo_restores_exactly(make):
    a = np.random.default_rng(3).standard_normal((3, 4))
    ed = make(a)
    changes, _ = _recorder(ed)
    m = ed.model()
    m.setData(m.index(0, 0), "1e300")
    ed.paste_text("nan -0.0")
    ed.apply_fill("identity")
    ed.set_shape((5, 2))
    ed.set_dtype("float32")
    states = [c.copy() for c in changes]
    assert ed.undo_stack.count() == 5
    for i in range(5):
        ed.undo_stack.undo()
        expected = states[-2 - i] if i < 4 else a
        assert ed.array().dtype == expected.dtype
        np.testing.assert_array_equal(ed.array(), expected)
    assert ed.array().tobytes() == a.tobytes()  # bit for bit
    for i in range(5):
        ed.undo_stack.redo()
        assert ed.array().tobytes() == states[i].tobytes()
    assert len(changes) == 15  # every do, undo and redo emitted


def test_undo_history_memory_is_bounded(make, monkeypatch):
    import opscope.gui.editor.widget as widget

    monkeypatch.setattr(widget, "UNDO_BYTES", 3 * 2 * 800)  # three fills of a 10×10 float64
    ed = make(np.zeros((10, 10)))
    _, messages = _recorder(ed)
    for seed in range(5):
        ed.apply_fill("normal", seed=seed)
    assert any("oldest undo step" in m for m in messages)
    # The newest steps still undo exactly; the dropped ones are no-ops that disappear.
    ed.undo_stack.undo()
    np.testing.assert_array_equal(ed.array(), np.random.default_rng(3).standard_normal((10, 10)))
    while ed.undo_stack.canUndo():
        ed.undo_stack.undo()
    assert ed.array().shape == (10, 10)


def test_resize_grow_and_shrink(make):
    a = np.arange(6.0).reshape(2, 3)
    ed = make(a)
    assert ed.set_shape((3, 4))
    np.testing.assert_array_equal(ed.array(), [[0, 1, 2, 0], [3, 4, 5, 0], [0, 0, 0, 0]])
    assert ed.set_shape((1, 2))
    np.testing.assert_array_equal(ed.array(), [[0, 1]])
    assert ed.model().rowCount() == 1 and ed.model().columnCount() == 2
    # The spin boxes drive the same path.
    ed._shape_spins[0].setValue(2)
    assert ed.array().shape == (2, 2)
    # More axes: a leading axis of size 1; fewer: keeps the first slice.
    assert ed.set_shape((1, 2, 2)) and ed.array().shape == (1, 2, 2)
    assert ed.set_shape((2,))
    np.testing.assert_array_equal(ed.array(), [0, 1])
    ed._ndim_spin.setValue(3)
    assert ed.array().shape == (1, 1, 2) and len(ed._slice_spins) == 1


def test_resize_over_limit_is_refused(make):
    ed = make(np.zeros((2, 2)))
    _, messages = _recorder(ed)
    assert not ed.set_shape((100_000, 100_000))
    assert "Resize refused" in messages[-1] and ed.array().shape == (2, 2)
    assert ed._shape_spins[0].value() == 2  # the control shows the real shape again


def test_dtype_conversion_says_what_changed(make):
    ed = make(np.array([[1.5, 2.0], [np.nan, -3.7]]))
    _, messages = _recorder(ed)
    assert ed.set_dtype("int32")
    assert ed.array().dtype == np.int32
    np.testing.assert_array_equal(ed.array(), [[1, 2], [0, -3]])
    assert "rounded toward zero" in messages[-1] and "NaN/inf became 0" in messages[-1]
    assert ed._dtype_box.currentText() == "int32"
    ed.undo_stack.undo()
    assert ed.array().dtype == np.float64 and ed.array()[0, 0] == 1.5


def test_set_array_and_undoable_flag(make):
    ed = make(np.zeros((2, 2)))
    changes, _ = _recorder(ed)
    ed.set_array(np.ones((3, 1)))
    assert ed.array().shape == (3, 1) and ed.undo_stack.count() == 1 and len(changes) == 1
    ed.set_array(np.full((2,), 7.0), undoable=False)
    assert ed.undo_stack.count() == 0 and ed.array().tolist() == [7.0, 7.0] and len(changes) == 2
    with pytest.raises(ValueError):
        ed.set_array(np.zeros(2, dtype=complex))
    with pytest.raises(ValueError, match="at most"):
        ed.set_array(np.zeros(MAX_ELEMENTS + 1, dtype=np.bool_))
    # Anything within the element limit opens, even past the shape controls' own limits.
    ed.set_array(np.zeros((1, 200_000), dtype=np.float32))
    assert ed.array().shape == (1, 200_000) and ed._shape_spins[1].value() == 200_000


# ------------------------------------------------------------------------------ N-d and fills


def test_nd_slice_editing_edits_the_right_slice(make):
    a = np.zeros((2, 3, 2, 2))
    ed = make(a)
    assert ed.current_slice() == (0, 0)
    ed._slice_spins[0].setValue(1)
    ed._slice_spins[1].setValue(2)
    assert ed.current_slice() == (1, 2)
    m = ed.model()
    assert m.setData(m.index(1, 0), "5")
    expected = a.copy()
    expected[1, 2, 1, 0] = 5
    np.testing.assert_array_equal(ed.array(), expected)
    assert "A[1, 2, 1, 0]" in m.data(m.index(1, 0), Qt.ItemDataRole.ToolTipRole)
    # Paste goes into the shown slice only.
    ed.select_cells(0, 0)
    ed.paste_text("1 2\n3 4")
    expected[1, 2] = [[1, 2], [3, 4]]
    np.testing.assert_array_equal(ed.array(), expected)
    # Undo from another slice shows the slice it changes.
    ed.set_slice((0, 0))
    ed.undo_stack.undo()
    assert ed.current_slice() == (1, 2)


def test_fills(make):
    ed = make(np.zeros((2, 3, 3)))
    assert ed.apply_fill("identity")
    np.testing.assert_array_equal(ed.array(), np.broadcast_to(np.eye(3), (2, 3, 3)))
    assert ed.apply_fill("random normal", seed=42)
    first = ed.array()
    np.testing.assert_array_equal(first, np.random.default_rng(42).standard_normal((2, 3, 3)))
    assert ed.apply_fill("normal", seed=42)
    np.testing.assert_array_equal(ed.array(), first)
    ed._seed.setValue(7)
    assert ed.apply_fill("uniform")
    np.testing.assert_array_equal(ed.array(), np.random.default_rng(7).uniform(0, 1, (2, 3, 3)))
    assert ed.apply_fill("causal")
    assert ed.array().dtype == np.bool_ and ed.array()[0].tolist() == np.tril(np.ones((3, 3), bool)).tolist()
    assert ed._dtype_box.currentText() == "bool"
    ed.undo_stack.undo()
    assert ed.array().dtype == np.float64


def test_fill_refusals_change_nothing(make):
    ed = make(np.arange(3.0))
    _, messages = _recorder(ed)
    assert not ed.apply_fill("identity")
    assert "at least 2 axes" in messages[-1]
    np.testing.assert_array_equal(ed.array(), [0, 1, 2])
    assert ed.set_shape((2, 3)) and ed.apply_fill("padding")
    np.testing.assert_array_equal(ed.array(), [[1, 1, 1], [1, 1, 0]])


def test_fill_menu_lists_every_kind(make):
    ed = make(np.zeros((2, 2)))
    labels = [a.text() for a in ed._fill_menu.actions()]
    for word in ("Zeros", "Ones", "Identity", "Arange", "Random normal", "Random uniform", "Causal", "Padding"):
        assert any(word in t for t in labels)
    ed._fill_menu.actions()[1].trigger()  # "Ones"
    np.testing.assert_array_equal(ed.array(), np.ones((2, 2)))


def test_scalar_and_vector(make):
    ed = make(np.array(2.5))
    assert ed.model().rowCount() == 1 and ed.model().columnCount() == 1
    assert ed.model().setData(ed.model().index(0, 0), "4")
    assert ed.array().shape == () and float(ed.array()) == 4.0
    ed = make(np.arange(3.0))
    ed.select_cells(0, 2)
    assert ed.paste_text("7 8")  # grows the vector
    np.testing.assert_array_equal(ed.array(), [0, 1, 7, 8])


# ------------------------------------------------------------------------------ speed, screenshot


def test_1000x1000_is_fast_and_uses_fixed_sections(make, qtbot):
    a = np.random.default_rng(0).standard_normal((1000, 1000))
    t0 = time.perf_counter()
    ed = make(a)
    ed.show()
    qtbot.waitExposed(ed)
    ed.grab()
    elapsed = time.perf_counter() - t0
    assert elapsed < 3.0, f"creating and painting a 1000×1000 editor took {elapsed:.2f} s"
    view = ed.table_view()
    assert view.horizontalHeader().sectionResizeMode(0) == QHeaderView.ResizeMode.Fixed
    assert view.verticalHeader().sectionResizeMode(0) == QHeaderView.ResizeMode.Fixed
    t0 = time.perf_counter()
    ed.model().setData(ed.model().index(5, 5), "1")
    ed.grab()
    assert time.perf_counter() - t0 < 1.0


def test_screenshot(make, qtbot):
    a = np.random.default_rng(0).standard_normal((2, 6, 5)).round(3)
    a[0, 1, 2] = np.nan
    ed = make(a, name="Q")
    ed.show()
    qtbot.waitExposed(ed)
    ed.model().setData(ed.model().index(0, 0), "abc")  # shows a refusal in the status line
    os.makedirs("/tmp/opscope_shots", exist_ok=True)
    assert ed.grab().save("/tmp/opscope_shots/editor.png")
