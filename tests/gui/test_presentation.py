"""Presentation mode (F5 / Esc, blank screens, projector type), the keys that always drive the
animation, the themes' contrast, the header that follows edited numbers, and the CLI's
``--present --size --layout-report``."""

import json

import numpy as np
import pytest
from opscope import gui  # noqa: F401  (PySide6 before pyqtgraph)
from opscope import main as opscope_main
from opscope.gui.window.widgets import ProjectorFonts, contrast_ratio
from PySide6.QtCore import QPoint, Qt
from PySide6.QtGui import QColor, QImage, QPalette
from PySide6.QtTest import QTest
from PySide6.QtWidgets import QAbstractItemView, QApplication, QLineEdit


def wait_idle(qtbot, w, timeout=15000):
    qtbot.waitUntil(w.is_idle, timeout=timeout)


def activate(qtbot, w):
    w.activateWindow()
    qtbot.waitUntil(lambda: QApplication.activeWindow() is w, timeout=5000)


def focus(qtbot, widget):
    widget.setFocus(Qt.MouseFocusReason)
    qtbot.waitUntil(widget.hasFocus, timeout=5000)


def key(k, mods=Qt.NoModifier, text=None):
    """Press ``k`` where the keyboard is: the application's focus widget."""
    target = QApplication.focusWidget()
    assert target is not None
    if text is None:
        QTest.keyClick(target, k, mods)
    else:
        QTest.keyClick(target, text)


@pytest.fixture
def window(make_window, qtbot):
    """The 2×2 matmul lesson (4 steps), paused on step 0, active, the canvas area focused."""
    w = make_window(lesson="matmul_2x2", autoplay=False)
    wait_idle(qtbot, w)
    activate(qtbot, w)
    focus(qtbot, w.focusProxy())
    return w


def _bars(w):
    return [w.menuBar(), w.statusBar(), w.operation_dock, w.inputs_dock, w.program_bar,
            w.animation.speed, w.animation.loop]


# ------------------------------------------------------------------------------ presentation mode
def test_f5_enters_presentation_and_esc_leaves_it(window, qtbot):
    w = window
    seen = []
    w.presentation_changed.connect(seen.append)
    assert all(b.isVisible() for b in _bars(w))
    key(Qt.Key_F5)
    assert w.is_presenting() and seen == [True]
    assert w.isFullScreen()
    assert not any(b.isVisible() for b in _bars(w))
    for kept in (w.header.title, w.canvas, w.caption_bar.caption, w.animation.readout, w.animation.slider):
        assert kept.isVisible()
    assert not w.presentation.present_button.isVisible()
    assert w.header.title.font().pixelSize() >= 28 and w.caption_bar.caption.font().pixelSize() >= 18
    key(Qt.Key_F5)  # a clicker's "start slideshow" sent twice: still presenting
    assert w.is_presenting() and seen == [True]
    key(Qt.Key_Escape)
    assert not w.is_presenting() and seen == [True, False]
    assert not w.isFullScreen()
    assert all(b.isVisible() for b in _bars(w))
    assert w.header.title.font().pointSize() == w.header.TITLE_POINTS
    assert w.presentation.present_button.isVisible()


def test_presenting_keeps_panels_the_user_had_hidden_hidden(window, qtbot):
    w = window
    w.set_panels_visible(False)
    w.set_presentation(True)
    w.set_presentation(False)
    assert not w.operation_dock.isVisible() and not w.inputs_dock.isVisible()
    assert w.menuBar().isVisible() and w.statusBar().isVisible()


def test_esc_leaves_plain_full_screen_too(window, qtbot):
    w = window
    key(Qt.Key_F11)
    assert w.isFullScreen() and w.menuBar().isVisible()
    key(Qt.Key_Escape)
    assert not w.isFullScreen() and not w.fullscreen_action.isChecked()


def test_esc_first_cancels_a_run_in_flight(window, qtbot, monkeypatch):
    w = window
    w.set_presentation(True)
    cancelled = []
    monkeypatch.setattr(w, "cancel_run", lambda: cancelled.append(1) or True)
    key(Qt.Key_Escape)
    assert cancelled == [1] and w.is_presenting()  # this Esc cancelled; the next one leaves
    monkeypatch.setattr(w, "cancel_run", lambda: False)
    key(Qt.Key_Escape)
    assert not w.is_presenting()


def test_projector_type_at_1024x768_and_a_canvas_that_does_not_jump(make_window, qtbot):
    w = make_window(lesson="attention_causal", autoplay=False)
    wait_idle(qtbot, w)
    w.resize(1024, 768)
    w.set_presentation(True, full_screen=False)
    w.resize(1024, 768)
    qtbot.waitUntil(lambda: w.size().width() == 1024 and w.size().height() == 768, timeout=5000)
    fonts = w.presentation.fonts
    assert fonts == ProjectorFonts.for_height(768)
    assert w.header.title.font().pixelSize() >= 28 and fonts.caption_px >= 26
    assert w.caption_bar.caption.font().pixelSize() >= fonts.caption_min_px
    for _ in range(5):  # the new layout settles (the header's fitted description, the canvas)
        QApplication.processEvents()
    heights = set()
    for n in [*range(len(w.timeline)), 0]:
        w.show_step(n)
        QApplication.processEvents()
        heights.add((w.canvas.height(), w.caption_bar.height(), w.header.height()))
    assert len(heights) == 1  # the caption box has a fixed height: the canvas never jumps
    w.resize(1920, 1080)
    qtbot.waitUntil(lambda: w.presentation.fonts.title_px == ProjectorFonts.for_height(1080).title_px, timeout=5000)
    assert w.header.title.font().pixelSize() >= 40


# ------------------------------------------------------------------------------ blank screens
def _centre(w) -> QColor:
    img = w.grab().toImage()
    return img.pixelColor(img.width() // 2, img.height() // 2)


def test_b_dot_and_w_blank_the_screen_and_any_key_or_click_returns(window, qtbot):
    w = window
    p = w.presentation
    key(Qt.Key_B)
    assert p.blanked is None  # only in presentation mode
    w.set_presentation(True)
    key(Qt.Key_B)
    assert p.blanked == "black" and _centre(w) == QColor("#000000")
    key(Qt.Key_Right)  # any key returns, and is spent on that: no step
    assert p.blanked is None and w.wanted_step == 0
    key(Qt.Key_Period, text=".")
    assert p.blanked == "black"
    QTest.mouseClick(p._blank, Qt.LeftButton, Qt.NoModifier, QPoint(10, 10))
    assert p.blanked is None
    key(Qt.Key_W)
    assert p.blanked == "white" and _centre(w) == QColor("#ffffff")
    key(Qt.Key_W)
    assert p.blanked is None and w.is_presenting()
    key(Qt.Key_PageDown)  # the clicker works again at once
    qtbot.waitUntil(lambda: w.current_step == 1)


# ------------------------------------------------------------------------------ keys
def _steps_with_nav_keys(qtbot, w):
    """PageDown/→ next, PageUp/← back, End/Home; Space plays and pauses (the focus stays put)."""
    focused = QApplication.focusWidget()
    n = len(w.timeline)
    for k, want in ((Qt.Key_PageDown, 1), (Qt.Key_Right, 2), (Qt.Key_Left, 1), (Qt.Key_PageUp, 0),
                    (Qt.Key_End, n - 1), (Qt.Key_Home, 0)):
        key(k)
        qtbot.waitUntil(lambda want=want: w.current_step == want, timeout=5000)
    key(Qt.Key_Space)
    assert w.is_playing
    key(Qt.Key_Space)
    assert not w.is_playing
    assert QApplication.focusWidget() is focused


def test_nav_keys_drive_the_animation_after_a_click_into_a_table(window, qtbot):
    w = window
    table = w.editor("A").table_view()
    cell = table.visualRect(table.model().index(0, 0)).center()
    QTest.mouseClick(table.viewport(), Qt.LeftButton, Qt.NoModifier, cell)
    qtbot.waitUntil(table.hasFocus, timeout=5000)
    _steps_with_nav_keys(qtbot, w)
    assert table.state() != QAbstractItemView.EditingState  # Space did not open a cell editor


def test_keys_typed_in_an_open_cell_editor_edit_the_cell(window, qtbot):
    w = window
    table = w.editor("A").table_view()
    table.setCurrentIndex(table.model().index(1, 1))
    focus(qtbot, table)
    key(Qt.Key_7, text="7")  # a digit typed on the table opens the editor with it
    qtbot.waitUntil(lambda: table.state() == QAbstractItemView.EditingState, timeout=5000)
    line = table.findChild(QLineEdit)
    assert line is not None and line.hasFocus()
    for k in (Qt.Key_Home, Qt.Key_Right, Qt.Key_End, Qt.Key_Left):
        key(k)
    assert line.hasFocus() and line.cursorPosition() == 0  # Home, →, End, ←: the text cursor moved
    key(Qt.Key_Space)
    assert line.text() == " 7" and not w.is_playing  # Space typed a space
    QTest.keyClick(line, Qt.Key_Backspace)
    key(Qt.Key_End)
    QTest.keyClicks(line, "5")
    # PageDown / PageUp are the table's while a value is typed (Qt commits it and moves the cell
    # cursor a page, as a spreadsheet does; on the last row PageDown does nothing): never a step.
    key(Qt.Key_PageDown)
    assert table.state() == QAbstractItemView.EditingState and w.wanted_step == 0
    key(Qt.Key_PageUp)
    qtbot.waitUntil(lambda: w.document.inputs["A"][1, 1] == 75, timeout=5000)
    assert table.state() != QAbstractItemView.EditingState
    assert w.wanted_step == 0 and not w.is_playing
    key(Qt.Key_PageDown)  # the editor closed: the table has the focus, the clicker steps again
    qtbot.waitUntil(lambda: w.current_step == 1, timeout=5000)


def test_program_editor_keeps_the_text_keys_but_not_the_clicker(window, qtbot):
    w = window
    edit = w.program_editor.edit
    focus(qtbot, edit)
    text = edit.toPlainText()
    cursor = edit.textCursor()
    cursor.setPosition(3)
    edit.setTextCursor(cursor)
    key(Qt.Key_Right)
    key(Qt.Key_End)
    assert edit.textCursor().position() == len(text.splitlines()[0]) and w.wanted_step == 0
    key(Qt.Key_PageDown)  # the clicker steps even from the text field
    qtbot.waitUntil(lambda: w.current_step == 1, timeout=5000)
    assert edit.hasFocus() and edit.toPlainText() == text
    key(Qt.Key_Escape)  # gives the keys back to the animation
    assert not edit.hasFocus()
    key(Qt.Key_Home)
    qtbot.waitUntil(lambda: w.current_step == 0, timeout=5000)
    _steps_with_nav_keys(qtbot, w)


def test_a_spin_box_keeps_keys_only_while_typed_in(window, qtbot):
    w = window
    speed = w.animation.speed
    QTest.mouseClick(speed, Qt.LeftButton)  # a click gives it the focus: nothing typed yet
    qtbot.waitUntil(speed.hasFocus, timeout=5000)
    before = speed.value()
    key(Qt.Key_PageDown)
    qtbot.waitUntil(lambda: w.current_step == 1, timeout=5000)
    assert speed.value() == before
    speed.lineEdit().selectAll()
    QTest.keyClicks(speed, "5")
    for k in (Qt.Key_Left, Qt.Key_Right, Qt.Key_Home, Qt.Key_End):
        key(k)
    assert w.wanted_step == 1 and speed.hasFocus()  # typing: the keys are the box's
    key(Qt.Key_Return)
    assert speed.value() == 5.0
    key(Qt.Key_PageDown)  # committed: the keys drive the animation again
    qtbot.waitUntil(lambda: w.current_step == 2, timeout=5000)


def test_nav_keys_with_focus_in_the_operation_panel_and_a_combo_box(window, qtbot):
    w = window
    combo = w.operation_panel.stepping.granularity
    focus(qtbot, combo)
    choice = combo.currentIndex()
    key(Qt.Key_PageDown)
    qtbot.waitUntil(lambda: w.current_step == 1, timeout=5000)
    key(Qt.Key_End)
    qtbot.waitUntil(lambda: w.current_step == len(w.timeline) - 1, timeout=5000)
    assert combo.currentIndex() == choice


# ------------------------------------------------------------------------------ themes
def _dark_palette() -> QPalette:
    pal = QPalette()
    for role, color in ((QPalette.Window, "#2b2b2b"), (QPalette.WindowText, "#e8e8e8"), (QPalette.Base, "#1e1e1e"),
                        (QPalette.AlternateBase, "#323232"), (QPalette.Text, "#e8e8e8"), (QPalette.Button, "#353535"),
                        (QPalette.ButtonText, "#e8e8e8"), (QPalette.Mid, "#555555"), (QPalette.Highlight, "#3d6fb4"),
                        (QPalette.HighlightedText, "#ffffff"), (QPalette.ToolTipBase, "#3a3a3a"),
                        (QPalette.ToolTipText, "#e8e8e8")):
        pal.setColor(role, QColor(color))
    return pal


@pytest.fixture
def dark_app():
    app = QApplication.instance()
    old = QPalette(app.palette())
    app.setPalette(_dark_palette())
    yield app
    app.setPalette(old)


def _drawn_contrast(label) -> float:
    """Contrast of a label's text with its background, read from the pixels of its bar (which
    paints the background): the colour farthest from the background (a bold glyph's core) against
    the label's corner pixel."""
    img = label.parentWidget().grab(label.geometry()).toImage().convertToFormat(QImage.Format_RGB32)
    bg = img.pixelColor(1, 1)
    arr = np.frombuffer(img.constBits(), dtype=np.uint8).reshape(img.height(), img.bytesPerLine() // 4, 4)
    rgb = arr[:, : img.width(), 2::-1].reshape(-1, 3).astype(int)
    far = rgb[np.abs(rgb - [bg.red(), bg.green(), bg.blue()]).sum(axis=1).argmax()]
    return contrast_ratio(QColor(*map(int, far)), bg)


def test_dark_palette_keeps_header_and_caption_readable(dark_app, make_window, qtbot):
    w = make_window(lesson="softmax_rows", autoplay=False)
    wait_idle(qtbot, w)
    for bar, text in ((w.header, "title"), (w.header, "description"), (w.caption_bar, "caption")):
        assert contrast_ratio(bar.colors[text], bar.colors["background"]) >= 7.0, (text, bar.colors)
    assert w.header.colors["background"].lightness() < 80  # dark, as the palette asks
    assert _drawn_contrast(w.header.title) >= 7.0
    assert _drawn_contrast(w.caption_bar.caption) >= 7.0
    w.set_presentation(True, full_screen=False)
    for bar, text in ((w.header, "title"), (w.caption_bar, "caption")):
        assert contrast_ratio(bar.colors[text], bar.colors["background"]) >= 15.0
    assert _drawn_contrast(w.header.title) >= 12.0
    w.set_presentation(False)


def test_light_palette_comes_back_when_the_palette_changes(make_window, qtbot):
    app = QApplication.instance()
    w = make_window(lesson="softmax_rows", autoplay=False)
    light_bg = QColor(w.header.colors["background"])
    old = QPalette(app.palette())
    app.setPalette(_dark_palette())
    try:
        qtbot.waitUntil(lambda: w.header.colors["background"] != light_bg, timeout=5000)
        assert contrast_ratio(w.caption_bar.colors["caption"], w.caption_bar.colors["background"]) >= 7.0
    finally:
        app.setPalette(old)
    qtbot.waitUntil(lambda: w.header.colors["background"] == light_bg, timeout=5000)


# ------------------------------------------------------------------------------ header and edits
def test_header_stops_quoting_the_lessons_numbers_once_they_are_edited(make_window, qtbot):
    w = make_window(lesson="dot_product", autoplay=False)
    wait_idle(qtbot, w)
    title, description = w.header.title.text(), w.header.description.text()
    assert "[1, 2, 3]" in title and "1×4" in description  # the lesson's numbers (its inputs: no answers)
    w.set_input("a", np.array([1.0, 2.0, 4.0]))
    qtbot.waitUntil(lambda: w.header.title.text() == "Dot product (edited)", timeout=5000)
    assert w.header.description.text() == w.document.spec.doc
    assert "[1, 2, 3]" not in w.header.title.text() + w.header.description.text()
    assert "1×4" not in w.header.description.text()
    assert w.lesson == "dot_product"
    w.undo_history.undo()
    qtbot.waitUntil(lambda: w.header.title.text() == title, timeout=5000)
    assert w.header.description.text() == description


def test_program_lesson_header_follows_its_numbers(make_window, qtbot):
    w = make_window(lesson="transformer_post_ln", autoplay=False)
    wait_idle(qtbot, w, timeout=30000)
    title = w.header.title.text()
    x = np.array(w.document.inputs["X"], dtype=float)
    x[0, 0] += 1
    w.set_input("X", x)
    qtbot.waitUntil(lambda: w.header.title.text().endswith("(edited)"), timeout=5000)
    assert w.header.title.text() == "Transformer block (post-LN, as in the articles) (edited)"
    w.undo_history.undo()
    qtbot.waitUntil(lambda: w.header.title.text() == title, timeout=5000)


# ------------------------------------------------------------------------------ the command line
def _report_or_skip(path):
    from opscope.gui.canvas.canvas import OperationCanvas
    from opscope.gui.canvas.program_canvas import ProgramCanvas

    if not all(hasattr(c, "layout_report") for c in (OperationCanvas, ProgramCanvas)):
        pytest.skip("canvas.layout_report not landed")
    return json.loads(path.read_text())


@pytest.mark.parametrize(("lesson", "size"), [("attention_causal", (1024, 768)), ("mha_program", (1280, 720))])
def test_cli_renders_presentation_mode_at_an_exact_size(qtbot, tmp_path, lesson, size):
    png, rep = tmp_path / "p.png", tmp_path / "p.json"
    status = opscope_main.main(["--lesson", lesson, "--present", "--size", f"{size[0]}x{size[1]}", "--step", "1",
                                "--screenshot", str(png), "--layout-report", str(rep)])
    assert status == 0
    img = QImage(str(png))
    assert (img.width(), img.height()) == size
    report = _report_or_skip(rep)
    assert report["size"] == list(size)
    assert report["views"], "no view was drawn"
    for view in report["views"]:
        assert set(view) == {"tensor", "lead", "shape", "cell_px", "font_px", "numbers"}
        assert len(view["shape"]) == 2 and len(view["cell_px"]) == 2
        assert view["numbers"] == (view["font_px"] > 0)


def test_cli_present_opens_the_window_presenting_and_refuses_a_size_without_an_output(capsys, monkeypatch):
    from opscope.gui import app as app_module

    seen = {}
    monkeypatch.setattr(app_module, "run_window", lambda **kw: seen.update(kw) or 0)
    assert opscope_main.main(["--lesson", "matmul_2x2", "--present"]) == 0
    assert seen["present"] is True and seen["lesson"] == "matmul_2x2"
    assert opscope_main.main(["--lesson", "matmul_2x2", "--size", "1024x768"]) == 2
    assert "--screenshot" in capsys.readouterr().err
    with pytest.raises(SystemExit) as info:
        opscope_main.main(["--size", "big", "--screenshot", "x.png"])
    assert info.value.code == 2
    assert "WIDTHxHEIGHT" in capsys.readouterr().err



def test_offscreen_renders_wait_for_the_frame_of_the_step_asked_for(make_window, qtbot, monkeypatch):
    """On a busy machine the frame of ``--step`` (prepared on a worker thread) may come late:
    ``settle`` (what --screenshot and --layout-report call before they grab) returns once it is
    shown. A fixed few event rounds (60–80 ms) grabbed the step before it."""
    import time as _time

    from opscope.gui.app import settle
    from opscope.gui.window import workers

    w = make_window(lesson="mean_axis1", autoplay=False)
    qtbot.waitUntil(w.is_idle, timeout=15000)
    real = workers.FrameWorker._prepare

    def slow(req):
        _time.sleep(0.4)  # a loaded machine
        return real(req)

    monkeypatch.setattr(workers.FrameWorker, "_prepare", staticmethod(slow))
    last = len(w.timeline) - 1
    w.show_step(last)
    settle(w)
    assert w.is_idle() and w.current_step == last
    assert w.caption_text() == w.timeline[last].caption



def test_small_views_share_one_cell_size_in_every_offscreen_render(tmp_path):
    """X (2, 3), its row sums and the result of mean_axis1 get one cell size, the largest all can
    afford, in every run: the sizes were equalized once, while the views were still hidden at
    their default size, so one run in two left sum and result at 136 px beside X's 78."""
    import os
    import subprocess
    import sys

    for k in range(4):
        rep = tmp_path / f"r{k}.json"
        args = ["--lesson", "mean_axis1", "--present", "--size", "1024x768", "--step", "-1",
                "--layout-report", str(rep)]
        # A fresh process each time: the views' first placement is what raced.
        code = "import sys; from opscope import main; sys.exit(main.main(sys.argv[1:]))"
        done = subprocess.run([sys.executable, "-c", code, *args], env={**os.environ, "QT_QPA_PLATFORM": "offscreen"},
                              capture_output=True, timeout=120)
        assert done.returncode == 0, done.stderr[-2000:]
        cells = {v["tensor"]: v["cell_px"][1] for v in _report_or_skip(rep)["views"]}
        assert abs(cells["sum"] - cells["X"]) < 1.0 and abs(cells["result"] - cells["X"]) < 1.0, cells
