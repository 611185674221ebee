"""Programs in the main window: the program bar, ProgramCanvas runs, missing inputs, program
lessons, undo, and switching back to an operation (issue 8)."""

import numpy as np
import pytest
from opscope import (
    compute,
    gui,  # noqa: F401  (PySide6 before pyqtgraph)
)
from opscope.compute.program import get_program_lesson, program_lessons
from opscope.gui.canvas import OperationCanvas
from opscope.gui.canvas.program_canvas import ProgramCanvas
from PySide6.QtCore import Qt

PROGRAM_SLUGS = [p.slug for p in program_lessons()]


def wait_idle(qtbot, w, timeout=15000):
    # The editor's own debounce too: a text typed but not yet checked is not a settled window.
    qtbot.waitUntil(lambda: w.is_idle() and not w.program_editor._timer.isActive()
                    and not w._debounce.isActive(), timeout=timeout)


def play_to_end(qtbot, w, timeout=30000):
    w.set_loop(False)
    w.set_speed(1000)
    w.play()
    qtbot.waitUntil(lambda: not w.is_playing and w.is_idle() and w.current_step == len(w.timeline) - 1,
                    timeout=timeout)


@pytest.fixture
def window(make_window, qtbot):
    w = make_window(lesson="matmul_2x2", autoplay=False)
    wait_idle(qtbot, w)
    return w


def type_program(qtbot, w, text):
    w.program_editor.set_text(text)
    qtbot.waitUntil(lambda: w.document.program_text == text, timeout=5000)
    wait_idle(qtbot, w)


def test_the_bar_shows_the_operations_one_line_program(window):
    assert window.program_editor.text() == "result = matmul(A, B)"
    assert not window.is_program()
    assert isinstance(window.canvas, OperationCanvas) and window.timeline.op == "matmul"
    # Compact: a one-line program takes a few rows, not the canvas's room.
    assert window.program_bar.height() < 200


def test_typing_a_program_runs_it_on_a_program_canvas(window, qtbot):
    text = "s = A @ B\nresult = s * 2"
    type_program(qtbot, window, text)
    assert window.is_program() and window.error == ""
    assert isinstance(window.canvas, ProgramCanvas) and window.timeline.op == "program"
    assert window.header.title.text() == "Program"
    window.last()
    wait_idle(qtbot, window)
    doc = window.document
    expected = compute.run_program(text, {"A": doc.input("A"), "B": doc.input("B")})
    got = window.timeline.result()
    for name in ("s", "result"):
        np.testing.assert_allclose(got[name], expected[name])
    np.testing.assert_allclose(window.canvas.displayed("result"), expected["result"])
    assert window.caption_text() and window.readout_text().startswith("step ")
    qtbot.waitUntil(lambda: window.status.verified.text().startswith(("✓", "⚠", "not verified")), timeout=10000)
    assert window.status.verified.text().startswith("✓")


def test_a_shape_error_shows_in_the_bar_and_does_not_run(window, qtbot):
    window.document.add_inputs({"C": np.zeros((3, 5))})
    wait_idle(qtbot, window)
    run_before = window.timeline.run_id
    window.program_editor.set_text("result = A @ C")
    qtbot.waitUntil(lambda: window.program_editor.check.error is not None, timeout=5000)
    wait_idle(qtbot, window)
    assert "A @ C" in window.program_editor.message.text()
    assert window.document.program_text == "result = matmul(A, B)"
    assert window.timeline.run_id == run_before and isinstance(window.canvas, OperationCanvas)


def test_missing_inputs_get_tabs_and_the_program_runs(window, qtbot):
    text = "scores = A @ W\nresult = softmax(scores, axis=-1)"
    type_program(qtbot, window, text)
    assert "W" in window.document.inputs and "W" in window.inputs_panel.names()
    # A shape that makes the program check: (2, 2) fits A (2, 2) @ W.
    assert window.document.input("W").shape == (2, 2)
    assert window.error == "" and window.timeline.op == "program"


def test_missing_input_shapes_follow_the_program(window, qtbot):
    """A (2, 2) @ W1 (2, n) then @ K.T with K (3, 2) forces n = 2… and the bias b1 a row."""
    window.document.add_inputs({"K": np.ones((3, 4))})
    wait_idle(qtbot, window)
    text = "h = relu(A @ W1 + b1)\nresult = h @ K"
    type_program(qtbot, window, text)
    assert window.document.input("W1").shape == (2, 3)
    assert window.document.input("b1").shape == (3,)
    assert window.error == "" and window.timeline.op == "program"


def test_undo_of_a_program_edit_restores_the_previous_text(window, qtbot):
    type_program(qtbot, window, "result = A + B")
    assert isinstance(window.canvas, ProgramCanvas)
    # Edits of the text in a row are one undo step (like typing); undo gives the text before them.
    type_program(qtbot, window, "result = A - B")
    assert window.document.undo()
    qtbot.waitUntil(lambda: window.program_editor.text() == "result = matmul(A, B)", timeout=5000)
    wait_idle(qtbot, window)
    assert window.document.program_text == "result = matmul(A, B)"
    assert isinstance(window.canvas, OperationCanvas) and window.timeline.op == "matmul"
    assert window.document.redo()
    qtbot.waitUntil(lambda: window.program_editor.text() == "result = A - B", timeout=5000)
    wait_idle(qtbot, window)
    np.testing.assert_allclose(window.timeline.result()["result"],
                               window.document.input("A") - window.document.input("B"))


def test_the_picker_switches_back_to_the_operation(window, qtbot):
    type_program(qtbot, window, "result = A * B")
    assert isinstance(window.canvas, ProgramCanvas)
    window.select_op("softmax")
    wait_idle(qtbot, window)
    assert window.program_editor.text() == window.document.program_text
    assert window.document.program_text.startswith("result = softmax(")
    assert isinstance(window.canvas, OperationCanvas) and window.timeline.op == "softmax"
    assert not window.is_program() and window.header.title.text() == "softmax"


@pytest.mark.parametrize("slug", PROGRAM_SLUGS)
def test_each_program_lesson_plays_to_the_end(make_window, qtbot, slug):
    w = make_window(lesson=None)
    w.open_lesson(slug, autoplay=False)
    wait_idle(qtbot, w)
    lesson = get_program_lesson(slug)
    assert w.lesson == slug and w.lesson_actions[slug].isChecked()
    assert w.program_editor.text() == lesson.text and w.error == ""
    assert isinstance(w.canvas, ProgramCanvas)
    assert set(lesson.inputs) <= set(w.inputs_panel.names())
    play_to_end(qtbot, w)
    expected = lesson.run()
    np.testing.assert_allclose(w.timeline.result()["result"], expected["result"], rtol=1e-6, atol=1e-9)
    assert w.timeline.granularities == {**w.timeline.granularities, **dict(lesson.granularity)}


def test_editing_a_program_lesson_leaves_the_lesson(make_window, qtbot):
    w = make_window(lesson="attention_causal_program", autoplay=False)
    wait_idle(qtbot, w)
    text = get_program_lesson("attention_causal_program").text.replace("axis=-1", "axis=1")
    type_program(qtbot, w, text)
    assert w.lesson is None and not w.lesson_actions["attention_causal_program"].isChecked()
    assert w.header.title.text() == "Program" and w.error == ""
    np.testing.assert_allclose(w.timeline.result()["result"],
                               compute.run_program(text, dict(w.document.inputs))["result"])


def test_the_lessons_menu_lists_the_programs(window):
    for slug in PROGRAM_SLUGS:
        assert slug in window.lesson_actions
        assert window.lesson_actions[slug].text() == get_program_lesson(slug).title


def test_save_run_of_a_program(window, qtbot, tmp_path):
    type_program(qtbot, window, "s = A @ B\nresult = s + A")
    path = str(tmp_path / "run.npz")
    assert window.files.save_run(path)
    with np.load(path, allow_pickle=False) as z:
        keys = set(z.files)
    assert {"outputs/s", "outputs/result", "inputs/A", "inputs/B"} <= keys


def test_save_tensor_of_a_lines_operation_tensor(window, qtbot, tmp_path):
    # "w.weights" is attention's own tensor inside line w: not one of the lines' values, and once
    # a KeyError out of File › Save Tensor.
    type_program(qtbot, window, "w = attention(Q, K, V)")
    tl = window.timeline
    assert "w.weights" in tl.tensor_names
    path = str(tmp_path / "weights.npy")
    assert window.files.save_tensor("w.weights", path)
    np.testing.assert_array_equal(np.load(path, allow_pickle=False), tl.part("w").timeline.result()["weights"])


def test_save_tensor_of_a_view_drawn_as_small_multiples_and_of_a_steps_products(make_window, qtbot, tmp_path):
    # "Save tensor…" on weights[1] (a head's slice) asked the canvas for a view named "weights":
    # there is none (its views are weights[0], weights[1]), and the save failed with a KeyError text.
    w = make_window(lesson="attention_causal_program", autoplay=False)
    qtbot.waitUntil(lambda: w.timeline is not None and isinstance(w.canvas, ProgramCanvas), timeout=30000)
    tl = w.timeline
    w.canvas.show_step(len(tl) - 1)
    path = str(tmp_path / "weights.npy")
    assert w.canvas.views["weights[1]"].name == "weights"  # what its context menu's save sends
    assert w.files.save_view("weights", path)
    np.testing.assert_array_equal(np.load(path, allow_pickle=False), tl.result()["weights"])
    w.open_lesson("qk_loop_vs_matmul", autoplay=False)
    qtbot.waitUntil(lambda: w.timeline is not tl and w.timeline is not None, timeout=30000)
    w.canvas.show_step(5)
    path = str(tmp_path / "products.npy")
    assert w.files.save_view("S.products", path)  # a step's own tensor: what its view shows
    np.testing.assert_array_equal(np.load(path, allow_pickle=False), w.timeline[5].tensors["S.products"])


@pytest.mark.parametrize("slug,name", [("attention_causal_program", "attention"),
                                       ("transformer_post_ln", "transformer")])
def test_screenshots_of_program_lessons(make_window, qtbot, slug, name):
    w = make_window(lesson=None)
    w.open_lesson(slug, autoplay=False)
    wait_idle(qtbot, w)
    w.last()
    wait_idle(qtbot, w)
    assert w.grab().save(f"/tmp/window_program_{name}.png")


def test_main_accepts_program_lesson_slugs(capsys):
    import importlib.util
    from pathlib import Path

    spec = importlib.util.spec_from_file_location("_main_for_test", Path(__file__).resolve().parents[2] / "main.py")
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    assert mod.main(["--list-lessons"]) == 0
    listed = capsys.readouterr().out.split()
    assert set(PROGRAM_SLUGS) <= set(listed)
    assert mod.main(["--lesson", PROGRAM_SLUGS[0], "--granularity", "element"]) != 0


def test_typing_in_the_bar_types_keys_instead_of_driving_the_player(window, qtbot):
    from PySide6.QtTest import QTest

    edit = window.program_editor.edit
    edit.setFocus()
    edit.selectAll()
    QTest.keyClicks(edit, "result = A + B")
    assert edit.toPlainText() == "result = A + B"
    assert not window.is_playing  # Space typed a space; it did not press Play
    qtbot.waitUntil(lambda: window.document.program_text == "result = A + B", timeout=5000)
    wait_idle(qtbot, window)
    assert window.timeline.op == "program"


def test_export_png_of_a_program(window, qtbot, tmp_path):
    from opscope.gui.export import ExportOptions

    type_program(qtbot, window, "s = A @ B\nresult = s * 2")
    png = tmp_path / "p.png"
    runner = window.files.export_png(ExportOptions(str(png), (0,), size=(320, 200)))
    qtbot.waitUntil(lambda: runner.state == "done", timeout=20000)
    assert png.exists() and png.stat().st_size > 0


def test_a_saved_session_of_a_program_reopens_as_that_program(make_window, qtbot, tmp_path):
    w = make_window(lesson="attention_causal_program", autoplay=False)
    wait_idle(qtbot, w)
    text = get_program_lesson("attention_causal_program").text.replace("causal_mask(4)", "0")
    type_program(qtbot, w, text)
    path = str(tmp_path / "p.opscope")
    assert w.files.save_session(path)
    other = make_window(lesson="matmul_2x2", autoplay=False)
    wait_idle(qtbot, other)
    assert other.files.open_session(path)
    wait_idle(qtbot, other)
    assert other.program_editor.text() == text and other.is_program()
    assert isinstance(other.canvas, ProgramCanvas) and other.error == ""
    assert "d_k" in other.inputs_panel.names()
    np.testing.assert_allclose(other.timeline.result()["result"],
                               compute.run_program(text, dict(w.document.inputs))["result"])


def test_program_mode_shows_the_programs_lines_instead_of_the_operation(window, qtbot):
    panel = window.operation_panel
    assert panel.mode == "operation" and panel.params.isVisible() and panel.stepping.isVisible()
    type_program(qtbot, window, "s = A @ B\nt = s / 2\nresult = softmax(t, axis=-1)")
    assert panel.mode == "program"
    assert not panel.params.isVisible() and not panel.stepping.isVisible() and panel.program.isVisible()
    assert panel.program.lines() == ["s", "t", "result"]
    combo, tile, kblock = panel.program.widgets("s")
    assert combo.isEnabled() and [combo.itemData(i) for i in range(1, combo.count())] == ["element", "tile",
                                                                                          "kblock", "stage"]
    assert combo.itemText(0) == f"auto · {window.timeline.part('s').granularity}"
    assert not panel.program.widgets("t")[0].isEnabled()  # arithmetic: one stage step
    window.select_op("softmax")
    wait_idle(qtbot, window)
    assert panel.mode == "operation" and panel.params.isVisible()


def test_a_lines_tile_chosen_in_the_panel_reaches_its_run(window, qtbot):
    type_program(qtbot, window, "s = A @ B\nresult = s * 2")
    box = window.operation_panel.program
    box.set_line_granularity("s", "tile")
    wait_idle(qtbot, window)
    assert window.timeline.part("s").granularity == "tile"
    tile = box.widgets("s")[1]
    assert tile.isEnabled()
    tile.setValue(1)
    wait_idle(qtbot, window)
    part = window.timeline.part("s")
    assert part.granularity == "tile" and len(part) == 4  # (2, 2) in 1×1 tiles
    assert window.timeline.options["s"]["tile"] == (1, 1)
    assert box.widgets("s")[1].value() == 1  # the panel shows what ran


def test_the_mistake_view_keeps_the_hidden_run_out_of_reach(window, qtbot):
    from opscope.compute.program.mistakes import mistakes

    m = mistakes()[0]
    window.mistake_actions[m.slug].trigger()
    qtbot.waitUntil(lambda: window.mistake_view.is_ready(), timeout=15000)
    step = window.current_step
    for act in (window.play_action, window.first_action, window.last_action):
        assert not act.isEnabled()
    window.forward_action.trigger()  # steps the hidden run no more, from the menu or the keys
    qtbot.keyClick(window, Qt.Key_Right)
    window.seek(step + 1)
    qtbot.keyClick(window, Qt.Key_Space)
    assert window.current_step == step and not window.is_playing
    assert not window.operation_panel.params.isEnabled() and not window.inputs_panel.isEnabled()
    assert window.operation_panel.picker.isEnabled()  # the way back stays
    assert m.title in window.status.message.text() and not window.status.verified.isVisible()
    window.select_op("matmul")
    wait_idle(qtbot, window)
    assert not window.is_mistake()
    assert window.play_action.isEnabled() and window.inputs_panel.isEnabled()
    assert window.status.verified.isVisible() and m.title not in window.status.message.text()


def test_a_click_on_a_line_of_the_overview_goes_to_it(window, qtbot):
    from PySide6.QtCore import QPoint

    type_program(qtbot, window, "s = A @ B\nt = s / 2\nresult = softmax(t, axis=-1)")
    canvas = window.canvas
    qtbot.waitUntil(lambda: canvas.flow_layout is not None, timeout=5000)
    x, y, w, h = canvas.flow_layout.overview.labels["result"]
    qtbot.mouseClick(canvas, Qt.LeftButton, pos=QPoint(int(x + w / 2), int(y + h / 2)))
    start = window.timeline.part("result").start
    qtbot.waitUntil(lambda: window.current_step == start, timeout=5000)
    qtbot.waitUntil(lambda: canvas.flow_layout.focus.column == 2, timeout=5000)


def test_a_program_lesson_is_stepped_as_it_says_whatever_was_open_before(make_window, qtbot):
    """Opened after attention_causal (stage) or dot_product (element), the transformer block took that
    granularity for its lines that name none (r1 = X + a: 2 or 17 steps, f 17); opened anew, a
    program lesson is stepped by its own per-line steps, and the lines it leaves to auto get auto."""
    w = make_window(lesson="transformer_post_ln", autoplay=False)
    wait_idle(qtbot, w)
    fresh = [(p.name, len(p)) for p in w.timeline.lines]
    for before in ("attention_causal", "dot_product"):
        w.open_lesson(before, autoplay=False)
        wait_idle(qtbot, w)
        w.open_lesson("transformer_post_ln", autoplay=False)
        wait_idle(qtbot, w)
        assert [(p.name, len(p)) for p in w.timeline.lines] == fresh, before
        assert w.document.granularity is None


def test_the_clicker_walks_the_focus_pages_of_a_step_then_the_next_step(make_window, qtbot):
    """At 1024×768 in presentation mode the transformer block's first step (mha's projections) makes
    Q, K and V from X and W_q, W_k, W_v: one page each (X W_q → a.Q, …). The clicker's next shows
    the next page before the next step, and back returns to the one before."""
    w = make_window(lesson="transformer_post_ln", autoplay=False)
    w.resize(1024, 768)
    w.set_presentation(True, full_screen=False)
    wait_idle(qtbot, w)
    qtbot.waitUntil(lambda: w.canvas.flow_layout is not None and w.canvas.height() > 100, timeout=5000)
    w.seek(0)
    wait_idle(qtbot, w)
    c = w.canvas
    qtbot.waitUntil(lambda: c.current_index == 0, timeout=5000)
    focus = c.flow_layout.focus
    assert len(focus.pages) == 3 and focus.page == 0 and len(c.step_pages) == 3
    shown = [{r["tensor"] for r in c.layout_report()}]
    for k in (1, 2):
        w.step_forward()
        assert c.current_index == 0 and c.flow_layout.focus.page == c.step_pages[k]
        shown.append({r["tensor"] for r in c.layout_report()})
    assert shown == [{"X", "W_q", "a.Q"}, {"X", "W_k", "a.K"}, {"X", "W_v", "a.V"}]
    w.step_back()
    assert c.flow_layout.focus.page == c.step_pages[1]
    w.step_forward()
    w.step_forward()  # past the last page: the next step
    qtbot.waitUntil(lambda: c.current_index == 1, timeout=5000)
    for r in c.layout_report():
        assert r["numbers"] is False or r["font_px"] >= 16.0, r


def test_a_programs_line_steps_are_saved_undone_and_reopened(make_window, qtbot, tmp_path):
    """The steps of each line live in the document: a session keeps the lesson's (the
    transformer's mha and LayerNorm lines by stage), a pick in the program box is one undo step
    that re-runs, and the reopened session steps every line as it was saved."""
    w = make_window(lesson="transformer_post_ln", autoplay=False)
    wait_idle(qtbot, w)
    lesson = [(p.name, p.granularity, len(p)) for p in w.timeline.lines]
    assert dict(w.document.line_steps)["a"]["granularity"] == "stage"
    w.operation_panel.program.set_line_granularity("r1", "stage")
    wait_idle(qtbot, w)
    assert w.timeline.part("r1").granularity == "stage" and len(w.timeline.part("r1")) == 2
    path = str(tmp_path / "t.opscope")
    assert w.files.save_session(path)
    w.document.undo()  # the pick, undone: r1 by its default again, and the run follows
    wait_idle(qtbot, w)
    assert [(p.name, p.granularity, len(p)) for p in w.timeline.lines] == lesson
    other = make_window(lesson="dot_product", autoplay=False)
    wait_idle(qtbot, other)
    assert other.files.open_session(path)
    wait_idle(qtbot, other)
    got = [(p.name, p.granularity) for p in other.timeline.lines]
    assert got == [(n, "stage" if n == "r1" else g) for n, g, _ in lesson]
    assert other.operation_panel.program.widgets("r1")[0].currentData() == "stage"


def test_the_run_worker_chooses_a_programs_overview_band_off_the_gui_thread(make_window, qtbot, monkeypatch):
    """The band search held the GUI thread 0.14–0.45 s for the transformer block at seq 4096: a
    program run's worker now makes it for the canvas' size before handing the run over, and the
    canvas finds it."""
    import threading

    from opscope.gui.canvas import program_layout as pl

    w = make_window(lesson="attention_causal_program", autoplay=False)
    wait_idle(qtbot, w)
    assert isinstance(w.canvas, ProgramCanvas) and w.canvas.band_hint() is not None
    searched = []
    real = pl._choose_band
    def spy(graph, *rest):
        if graph.columns[0].line == "s":  # the new program's (the lesson's is relaid out as the editor grows)
            searched.append((threading.current_thread().name, rest[:2]))
        return real(graph, *rest)

    monkeypatch.setattr(pl, "_choose_band", spy)
    monkeypatch.setattr(pl, "_BANDS", {})
    # Another program (other lines and shapes): its band is not remembered, so it is searched.
    # (The lesson's steps for its lines `scores`, `weights`… do not apply to it.)
    type_program(qtbot, w, "s = Q @ K.T\nw = softmax(s, axis=-1)\nout = w @ V")
    assert w.error == "" and w.timeline.program.line_names == ("s", "w", "out")
    size = w.canvas.band_hint()[:2]
    assert len(searched) == 1 and searched[0][1] == size, searched  # the canvas found it: no search of its own
    assert searched[0][0] != threading.main_thread().name
    assert w.canvas._band == pl.choose_band(pl.build_graph(w.timeline), *w.canvas.band_hint())
