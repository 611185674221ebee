"""The main window: opening, every operation end to end, editing, keys, scrubbing and errors."""

import numpy as np
import pytest
from opscope import (
    compute,
    gui,  # noqa: F401  (PySide6 before pyqtgraph)
)
from opscope.gui.window import DEBOUNCE_MS, MainWindow
from PySide6.QtCore import Qt
from PySide6.QtTest import QTest

OPS = [s.name for s in compute.operations()]


@pytest.fixture
def window(make_window, qtbot):
    """A window on the 2×2 matrix product, paused on its first step."""
    w = make_window(lesson="matmul_2x2", autoplay=False)
    wait_idle(qtbot, w)
    return w


def wait_idle(qtbot, w, timeout=15000):
    qtbot.waitUntil(w.is_idle, timeout=timeout)


def play_to_end(qtbot, w, timeout=20000):
    w.set_loop(False)
    w.set_speed(240)
    w.play()
    qtbot.waitUntil(lambda: not w.is_playing and w.is_idle() and w.current_step == len(w.timeline) - 1,
                    timeout=timeout)


def shown_result(w):
    return np.asarray(w.canvas.displayed("result"), dtype=float)


def test_opens_on_the_default_lesson_playing(make_window, qtbot):
    w = make_window()
    assert w.lesson == "matmul_2x2"
    assert w.size().width() == MainWindow.DEFAULT_SIZE.width()
    qtbot.waitUntil(lambda: w.timeline is not None and w.current_step >= 0, timeout=5000)
    assert w.is_playing
    assert w.timeline.op == "matmul"
    assert "=" in w.caption_text()
    assert w.readout_text().startswith("step ")
    from PySide6.QtGui import QFontInfo

    assert QFontInfo(w.caption_bar.caption.font()).pointSizeF() >= 20  # a short caption keeps its big type


def test_the_desktop_canvas_does_not_jump_between_steps(make_window, qtbot):
    """Captions of one line and of five (a tile of a 64-term product) share one caption box: the
    box that grew with its caption moved every view at such a step, and back at the next."""
    from PySide6.QtWidgets import QApplication

    rng = np.random.default_rng(0)
    w = make_window(lesson=None)
    w.select_op("matmul", {"A": rng.standard_normal((64, 64)), "B": rng.standard_normal((64, 8))}, autoplay=False)
    wait_idle(qtbot, w)
    sizes, captions = set(), set()
    for n in (0, 1, len(w.timeline) // 2, len(w.timeline) - 1, 0):
        w.show_step(n)
        qtbot.waitUntil(lambda n=n: w.current_step == n, timeout=5000)
        QApplication.processEvents()
        sizes.add((w.canvas.size().toTuple(), w.caption_bar.height()))
        captions.add(w.caption_text())
    assert len(captions) > 2 and len(sizes) == 1, sizes


@pytest.mark.parametrize("op", OPS)
def test_every_operation_plays_to_the_end_and_shows_run_ops_result(make_window, qtbot, op):
    w = make_window(lesson=None)
    w.select_op(op)
    wait_idle(qtbot, w)
    assert w.operation_panel.picker.current_name() == op
    play_to_end(qtbot, w)
    inputs = w.inputs_panel.arrays()
    params = w.operation_panel.params.values()
    expected = compute.run_op(op, inputs, **params)["result"]
    shown = shown_result(w)
    if shown.shape != expected.shape:  # N-d results show one 2-D slice: the one of the last step
        expected = expected.reshape((-1,) + shown.shape)[-1]
    np.testing.assert_allclose(shown, expected, rtol=1e-6, atol=1e-9)
    assert w.readout_text().startswith(f"step {len(w.timeline)} / {len(w.timeline)}")
    assert not w.error


def _set_cell(editor, row, col, text):
    model = editor.model()
    return model.setData(model.index(row, col), text, Qt.ItemDataRole.EditRole)


def test_editing_a_cell_reruns_after_the_debounce(window, qtbot):
    w = window
    w.last()
    wait_idle(qtbot, w)
    np.testing.assert_array_equal(shown_result(w), [[19, 22], [43, 50]])
    first_run = w.timeline.run_id
    assert _set_cell(w.editor("A"), 0, 0, "10")
    assert w.is_busy  # a run is pending: debounced, not yet sent
    qtbot.wait(DEBOUNCE_MS // 3)
    assert w.timeline.run_id == first_run  # the debounce has not fired yet
    qtbot.waitUntil(lambda: w.timeline.run_id != first_run and w.is_idle(), timeout=10000)
    # Paused on the last step, the edit keeps the position: the new result is on screen.
    assert w.current_step == len(w.timeline) - 1
    np.testing.assert_array_equal(shown_result(w), [[10 * 5 + 2 * 7, 10 * 6 + 2 * 8], [43, 50]])


def test_rapid_edits_run_once_with_the_last_values(window, qtbot):
    w = window
    runs = []
    w.timeline_changed.connect(lambda tl: runs.append(tl.run_id))
    for v in ("2", "3", "4", "5"):
        assert _set_cell(w.editor("A"), 0, 0, v)
    qtbot.waitUntil(lambda: bool(runs) and w.is_idle(), timeout=10000)
    qtbot.wait(2 * DEBOUNCE_MS)
    assert len(runs) == 1
    w.last()
    wait_idle(qtbot, w)
    assert shown_result(w)[0, 0] == 5 * 5 + 2 * 7


def test_refused_edit_and_garbage_paste_change_nothing(window, qtbot):
    w = window
    w.last()
    wait_idle(qtbot, w)
    run = w.timeline.run_id
    ed = w.editor("A")
    before = ed.array()
    messages = []
    ed.message_changed.connect(messages.append)
    assert not _set_cell(ed, 0, 1, "abc")
    assert not ed.paste_text("1, 2\n3")
    assert not ed.paste_text("[[1, 2], [3")
    assert messages
    np.testing.assert_array_equal(ed.array(), before)
    assert not w.is_busy
    qtbot.wait(2 * DEBOUNCE_MS)
    assert w.timeline.run_id == run
    np.testing.assert_array_equal(shown_result(w), [[19, 22], [43, 50]])


def test_keyboard_shortcuts_drive_the_animation(window, qtbot):
    w = window
    w.activateWindow()
    n = len(w.timeline)
    target = w.canvas

    def key(k):
        QTest.keyClick(target, k)

    key(Qt.Key_End)
    qtbot.waitUntil(lambda: w.current_step == n - 1)
    key(Qt.Key_Home)
    qtbot.waitUntil(lambda: w.current_step == 0)
    key(Qt.Key_Right)
    qtbot.waitUntil(lambda: w.current_step == 1)
    key(Qt.Key_PageDown)
    qtbot.waitUntil(lambda: w.current_step == 2)
    key(Qt.Key_Left)
    qtbot.waitUntil(lambda: w.current_step == 1)
    key(Qt.Key_PageUp)
    qtbot.waitUntil(lambda: w.current_step == 0)
    key(Qt.Key_Space)
    assert w.is_playing
    key(Qt.Key_Space)
    assert not w.is_playing


def test_arrow_keys_step_even_with_a_table_focused(window, qtbot):
    """#9: a click into a side panel must not take the clicker's keys; only an open cell editor
    keeps them (tests/gui/test_presentation.py checks the editor, spin boxes and the program bar)."""
    w = window
    w.activateWindow()
    table = w.editor("A").table_view()
    table.setFocus()
    QTest.keyClick(table, Qt.Key_Right)
    qtbot.waitUntil(lambda: w.current_step == 1)
    assert w.wanted_step == 1


def test_buttons_and_slider(window, qtbot):
    w = window
    a = w.animation
    a.last_button.click()
    qtbot.waitUntil(lambda: w.current_step == 3)
    a.back_button.click()
    qtbot.waitUntil(lambda: w.current_step == 2)
    a.first_button.click()
    qtbot.waitUntil(lambda: w.current_step == 0)
    a.forward_button.click()
    qtbot.waitUntil(lambda: w.current_step == 1)
    a.slider.setValue(3)
    qtbot.waitUntil(lambda: w.current_step == 3)
    assert w.readout_text() == "step 4 / 4 · element"
    a.play_button.click()
    assert w.is_playing
    a.play_button.click()
    assert not w.is_playing


def _snapshot(w):
    return shown_result(w).copy(), w.caption_text(), w.readout_text()


def test_scrubbing_backwards_shows_the_same_step_as_going_forwards(make_window, qtbot):
    w = make_window(lesson="batched_matmul", autoplay=False)
    wait_idle(qtbot, w)
    n = len(w.timeline)
    k = n // 2
    forwards = None
    for i in range(k + 1):
        w.seek(i)
        wait_idle(qtbot, w)
        if i == k:
            forwards = _snapshot(w)
    w.last()
    wait_idle(qtbot, w)
    for i in range(n - 1, k - 1, -3):  # scrub back in jumps, as a dragged slider does
        w.animation.slider.setValue(i)
    w.animation.slider.setValue(k)
    wait_idle(qtbot, w)
    backwards = _snapshot(w)
    np.testing.assert_array_equal(backwards[0], forwards[0])  # NaN (not yet written) in the same places
    assert backwards[1:] == forwards[1:]


def test_shape_error_is_shown_and_the_last_good_run_stays(window, qtbot):
    w = window
    w.last()
    wait_idle(qtbot, w)
    good = w.timeline
    assert w.editor("B").set_shape((3, 2))  # resized in the editor: A (2, 2) @ B (3, 2) cannot multiply
    qtbot.waitUntil(lambda: bool(w.error), timeout=10000)
    assert "matmul" in w.error and "(2, 2)" in w.error and "(3, 2)" in w.error
    assert w.caption_bar.error.isVisible()
    assert "#c62828" in w.caption_bar.error.styleSheet()  # red
    assert "Traceback" not in w.error
    assert w.timeline is good
    np.testing.assert_array_equal(shown_result(w), [[19, 22], [43, 50]])
    w.step_back()  # the old run can still be stepped through
    qtbot.waitUntil(lambda: w.current_step == 2)
    w.set_input("B", np.array([[5.0, 6.0], [7.0, 8.0]]))
    qtbot.waitUntil(lambda: not w.error and w.timeline is not good and w.is_idle(), timeout=10000)
    assert not w.caption_bar.error.isVisible()


def test_bad_parameter_text_is_refused_without_a_run(make_window, qtbot):
    w = make_window(lesson="sum_axis0", autoplay=False)
    wait_idle(qtbot, w)
    run = w.timeline.run_id
    w.set_param("axis", "zero")
    w.run_now()
    qtbot.waitUntil(lambda: bool(w.error))
    assert "axis" in w.error
    assert w.timeline.run_id == run
    w.set_param("axis", "1")
    qtbot.waitUntil(lambda: not w.error and w.timeline.run_id != run and w.is_idle(), timeout=10000)
    assert w.timeline.shape("result") == (2,)
    w.set_param("axis", "5")  # parses, but compute refuses it: a ShapeError, shown
    qtbot.waitUntil(lambda: bool(w.error), timeout=10000)
    assert "out of range" in w.error


def test_granularity_and_optional_inputs(make_window, qtbot):
    w = make_window(lesson=None)
    w.select_op("linear")
    wait_idle(qtbot, w)
    assert "b" in w.timeline.input_names
    w.inputs_panel.set_used("b", False)
    qtbot.waitUntil(lambda: w.is_idle() and "b" not in w.timeline.input_names, timeout=10000)
    assert not w.editor("b").isEnabled()
    assert "(off)" in w.inputs_panel.tabs.tabText(w.inputs_panel.names().index("b"))
    inputs = w.inputs_panel.arrays()
    assert "b" not in inputs
    np.testing.assert_allclose(w.timeline.result()["result"], compute.run_op("linear", inputs)["result"])
    w.set_granularity("stage")
    qtbot.waitUntil(lambda: w.is_idle() and w.timeline.granularity == "stage", timeout=10000)
    assert "stage" in w.status.steps.text()


def test_status_bar_describes_the_run(window):
    w = window
    s = w.status
    assert "A 2×2" in s.shapes.text() and "result 2×2" in s.shapes.text()
    assert "16 FLOP" == s.flops.text()
    assert s.time.text().startswith("computed in")
    assert "numpy" in s.backend.text() or "CuPy" in s.backend.text()


def test_lesson_menu_opens_lessons(window, qtbot):
    w = window
    w.lesson_actions["softmax_rows"].trigger()
    qtbot.waitUntil(lambda: w.timeline is not None and w.timeline.op == "softmax", timeout=10000)
    assert w.lesson == "softmax_rows"
    assert "Softmax" in w.header.title.text()
    w.pause()


def test_full_screen_and_panels_toggle(window):
    w = window
    w.panels_action.trigger()
    assert not w.operation_dock.isVisible() and not w.inputs_dock.isVisible()
    w.panels_action.trigger()
    assert w.operation_dock.isVisible()
    w.fullscreen_action.trigger()
    assert w.fullscreen_action.isChecked()
    w.fullscreen_action.trigger()
    assert not w.isFullScreen()


def test_shutdown_while_computing_stops_threads(make_window):
    w = make_window(lesson=None)
    big = np.ones((600, 600))
    w.select_op("matmul", {"A": big, "B": big})
    w.close()  # closeEvent stops both worker threads; the leak check in conftest verifies it
    assert not w._workers.running


def test_a_late_result_of_an_older_run_is_ignored(make_window, qtbot):
    w = make_window(lesson=None)
    shown = []
    w.timeline_changed.connect(lambda tl: shown.append(tl.op))
    big = np.ones((1500, 1500), dtype=np.float32)
    w.select_op("matmul", {"A": big, "B": big})  # sent at once; takes a while
    w.select_op("dot")  # the user moved on before it finished
    qtbot.waitUntil(lambda: w.is_idle() and w.timeline.op == "dot", timeout=20000)
    qtbot.wait(300)  # time for the matmul's result to arrive (and be dropped) if it had not yet
    assert shown == ["dot"]
    assert w.timeline.op == "dot"
