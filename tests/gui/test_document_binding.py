"""The window bound to its document: widgets write through it and follow it; Edit › Undo drives it."""

from __future__ import annotations

import numpy as np
from PySide6.QtCore import Qt


def wait_idle(qtbot, w, timeout=15000):
    qtbot.waitUntil(w.is_idle, timeout=timeout)


def _set_cell(editor, row, col, text):
    model = editor.model()
    return model.setData(model.index(row, col), text, Qt.ItemDataRole.EditRole)


def test_typing_in_a_cell_updates_the_document_and_runs_again(window, qtbot):
    w = window
    wait_idle(qtbot, w)
    run = w.timeline
    assert _set_cell(w.editor("A"), 0, 0, "7")
    assert w.document.input("A")[0, 0] == 7
    assert w.editor("A").model().table().base is w.document.input("A")  # the view shows the document's array
    qtbot.waitUntil(lambda: w.timeline is not run and w.is_idle(), timeout=10000)
    assert w.timeline.inputs()["A"][0, 0] == 7


def test_changing_the_document_from_code_updates_the_widgets(window, qtbot):
    w = window
    wait_idle(qtbot, w)
    w.document.set_input("B", np.full((2, 2), 3.0))
    np.testing.assert_array_equal(w.editor("B").array(), np.full((2, 2), 3.0))
    other = next(g for g in w.document.spec.granularities if g != w.document.granularity)
    w.document.set_granularity(other)
    assert w.operation_panel.stepping.granularity.currentData() == other
    qtbot.waitUntil(lambda: w.is_idle() and w.timeline.inputs()["B"][0, 0] == 3, timeout=10000)


def test_workspace_undo_from_the_edit_menu_restores_in_order(window, qtbot):
    w = window
    wait_idle(qtbot, w)
    a_before = w.document.input("A").copy()
    g_before = w.document.granularity
    assert _set_cell(w.editor("A"), 0, 1, "5")
    other = next(g for g in w.document.spec.granularities if g != g_before)
    w.set_granularity(other)
    assert w.document.granularity == other
    assert [c.text for c in w.document.history._done][-2:] == ["Edit A[0, 1]", f"Steps by {other}"]
    w.desktop.undo_action.trigger()
    assert w.document.granularity == g_before
    assert w.operation_panel.stepping.granularity.currentData() == g_before
    assert w.document.input("A")[0, 1] == 5
    w.desktop.undo_action.trigger()
    np.testing.assert_array_equal(w.document.input("A"), a_before)
    np.testing.assert_array_equal(w.editor("A").array(), a_before)
    w.desktop.redo_action.trigger()
    assert w.editor("A").array()[0, 1] == 5
