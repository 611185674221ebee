"""Common mistakes in the window (issue 8): Lessons › Common mistakes shows the right and the wrong
program side by side on the same numbers, the differing cells outlined, the caption; choosing an
operation afterwards shows the canvas again."""

import numpy as np
import pytest
from opscope import gui  # noqa: F401  (PySide6 before pyqtgraph)
from opscope.compute.program.mistakes import compare_mistake, get_mistake, mistakes
from opscope.gui.canvas import OperationCanvas

SLUGS = [m.slug for m in mistakes()]


def wait_idle(qtbot, w, timeout=15000):
    qtbot.waitUntil(lambda: w.is_idle() and not w.program_editor._timer.isActive()
                    and not w._debounce.isActive(), timeout=timeout)


def open_mistake(qtbot, w, slug):
    """Open ``slug`` through its menu entry and wait for its numbers."""
    w.mistake_actions[slug].trigger()
    qtbot.waitUntil(lambda: w.mistake_view.is_ready(), timeout=15000)
    return w.mistake_view


@pytest.fixture
def window(make_window, qtbot):
    w = make_window(lesson="matmul_2x2", autoplay=False)
    wait_idle(qtbot, w)
    return w


def test_menu_lists_every_mistake_after_programs(window):
    lessons = next(a.menu() for a in window.menuBar().actions() if a.text() == "&Lessons")
    texts = [a.text() for a in lessons.actions()]
    assert texts.index("Common mistakes") > texts.index("Programs")
    section = []
    for a in lessons.actions()[texts.index("Common mistakes") + 1:]:
        if a.isSeparator():  # the next section (Decks)
            break
        section.append(a.data())
    assert section == SLUGS


@pytest.mark.parametrize("slug", SLUGS)
def test_each_mistake_shows_both_sides_mask_and_caption(window, qtbot, slug):
    view = open_mistake(qtbot, window, slug)
    expected = compare_mistake(get_mistake(slug))
    m = expected.mistake
    assert window.is_mistake() and view.isVisible()
    assert window.mistake_actions[slug].isChecked()
    assert view.title.text() == m.title
    assert view.programs["right"].text() == m.right.rstrip("\n")
    assert view.programs["wrong"].text() == m.wrong.rstrip("\n")
    assert view.caption.text() == expected.caption and expected.caption
    n_slices = expected.right.shape[0] if expected.right.ndim == 3 else 1
    assert len(view.side_views["right"]) == n_slices
    for k, hv in enumerate(view.side_views["right"]):
        np.testing.assert_array_equal(hv.data(), expected.right[k] if expected.right.ndim == 3 else expected.right)
    if expected.wrong is None:
        assert view.side_views["wrong"] == [] and view.error_box.isVisible()
        assert view.error_box.text() == expected.error
    else:
        assert len(view.side_views["wrong"]) == n_slices and not view.error_box.isVisible()
        np.testing.assert_array_equal(view.differ_cells(), expected.differs)
        assert expected.differs.any()  # a lesson with nothing outlined would teach nothing


def test_shape_error_mistake_says_did_you_mean_kt(window, qtbot):
    view = open_mistake(qtbot, window, "qk_no_transpose")
    assert view.error_box.isVisible()
    assert "ShapeError" in view.error_box.text() and "Did you mean K.T?" in view.error_box.text()
    assert "Q @ K" in view.error_box.text()


def test_choosing_an_operation_restores_the_canvas(window, qtbot):
    open_mistake(qtbot, window, "mask_multiplied")
    assert not window.caption_bar.isVisible() and not window.animation.isVisible()
    window.select_op("softmax")
    assert not window.is_mistake()
    assert window.caption_bar.isVisible() and window.animation.isVisible()
    wait_idle(qtbot, window)
    assert isinstance(window.canvas, OperationCanvas)
    assert window._canvas_layout.currentWidget() is window.canvas and window.canvas.isVisible()
    assert not any(a.isChecked() for a in window.mistake_actions.values())
    window.set_speed(1000)
    window.set_loop(False)
    window.play()
    qtbot.waitUntil(lambda: not window.is_playing and window.is_idle()
                    and window.current_step == len(window.timeline) - 1, timeout=30000)
    assert window.error == ""


def test_lesson_and_typed_program_leave_the_mistake(window, qtbot):
    open_mistake(qtbot, window, "softmax_axis1")
    window.open_lesson("matmul_2x2", autoplay=False)
    assert not window.is_mistake() and window.canvas.isVisible()
    open_mistake(qtbot, window, "matmul_order")
    window.program_editor.set_text("result = A @ B + 1")
    qtbot.waitUntil(lambda: not window.is_mistake(), timeout=5000)
    wait_idle(qtbot, window)
    assert window._canvas_layout.currentWidget() is window.canvas and window.error == ""


def test_a_mistake_opened_while_another_computes_wins(window, qtbot):
    window.open_mistake("mask_multiplied")
    window.open_mistake("matmul_order")
    qtbot.waitUntil(lambda: window.mistake_view.is_ready(), timeout=15000)
    qtbot.wait(200)  # a stale answer for the first would arrive by now
    assert window.mistake_view.result.mistake.slug == "matmul_order"


@pytest.mark.parametrize("slug, path", [("mask_multiplied", "/tmp/mistake_mask.png"),
                                        ("softmax_axis1", "/tmp/mistake_softmax.png"),
                                        ("qk_no_transpose", "/tmp/mistake_shape.png")])
def test_grab_screenshots(window, qtbot, slug, path):
    open_mistake(qtbot, window, slug)
    qtbot.wait(100)
    assert window.grab().save(path)
