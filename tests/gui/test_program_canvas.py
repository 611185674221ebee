"""ProgramCanvas: every built-in program drawn as a data flow, step 0 shows only inputs, the last
step shows run_program's result, frames prepared off the GUI thread, every head at once."""

from opscope import gui  # noqa: F401  (first: PySide6 before pyqtgraph, row-major images)

# isort: split
import threading

import numpy as np
import pytest
from opscope.compute.program.lessons import get_program_lesson, program_lesson_names
from opscope.gui.canvas import program_layout as pl
from opscope.gui.canvas.program_canvas import ProgramCanvas


def _canvas(qtbot, size=(1600, 1000), **kw) -> ProgramCanvas:
    c = ProgramCanvas(**kw)
    qtbot.addWidget(c)
    c.resize(*size)
    c.show()
    return c


@pytest.mark.parametrize("slug", program_lesson_names())
def test_every_line_has_a_view(qtbot, slug):
    tl = get_program_lesson(slug).stream()
    c = _canvas(qtbot)
    c.set_timeline(tl)
    for part in tl.lines:
        assert c.views_of(part.name), part.name
        assert c.displayed(part.name).shape == tuple(tl.shape(part.name))
    for name in tl.input_names:
        assert c.views_of(name), name


@pytest.mark.parametrize("slug", program_lesson_names())
def test_first_step_shows_only_inputs(qtbot, slug):
    lesson = get_program_lesson(slug)
    tl = lesson.stream()
    c = _canvas(qtbot)
    c.set_timeline(tl, show_first=False)
    c.show_step(0)
    first = tl.lines[0]
    assert c.line_state(first.name) == "active"
    for name in tl.input_names:
        np.testing.assert_array_equal(c.displayed(name), tl.inputs()[name])
    for part in tl.lines[1:]:
        assert c.line_state(part.name) == "pending"
        assert np.isnan(c.displayed(part.name)).all(), part.name  # nothing of a later line shows


@pytest.mark.parametrize("slug", program_lesson_names())
def test_last_step_shows_run_program_result(qtbot, slug):
    lesson = get_program_lesson(slug)
    tl = lesson.stream()
    expected = lesson.run()
    c = _canvas(qtbot)
    c.set_timeline(tl)
    c.show_step(len(tl) - 1)
    assert c.current_index == len(tl) - 1
    for part in tl.lines:
        np.testing.assert_allclose(c.displayed(part.name), expected[part.name], rtol=1e-12, atol=1e-12,
                                   err_msg=part.name)
    np.testing.assert_allclose(c.displayed(tl.program.result_name), expected["result"])


def test_prepare_frame_in_plain_thread(qtbot):
    tl = get_program_lesson("attention_causal_program").stream()
    c = _canvas(qtbot)
    c.set_timeline(tl)
    frames = []
    t = threading.Thread(target=lambda: frames.append(c.prepare_frame(len(tl) - 1)))
    t.start()
    t.join(10)
    assert frames and frames[0].index == len(tl) - 1
    c.apply_frame(frames[0])
    np.testing.assert_allclose(c.displayed("out"), tl.result()["out"])
    assert c.line_state("out") == "active"


def test_mha_shows_both_heads_at_once(qtbot):
    tl = get_program_lesson("mha_program").stream()
    c = _canvas(qtbot)
    c.set_timeline(tl)
    heads = tl.part("heads")
    c.show_step(heads.start + len(heads) - 1)
    qtbot.waitUntil(lambda: c.placement is not None and 8 in c.placement.columns)
    for name in ("weights", "heads"):
        views = c.views_of(name)
        assert len(views) == 2
        assert all(v.isVisible() for v in views), name
    np.testing.assert_allclose(c.displayed("heads"), tl.result()["heads"])


def test_cells_grow_with_the_canvas_and_carry_numbers(qtbot):
    tl = get_program_lesson("attention_causal_program").stream()
    small = _canvas(qtbot, (1024, 768))
    small.set_timeline(tl)
    small.relayout()
    page = small.placement
    cols = [small.graph.columns[i] for i in page.columns]
    assert page.cell_px >= pl.needed_px(cols, 16.0) - 1e-6  # 16 px digits at 1024×768
    whole = pl.place(small.graph, 4000, 3000)
    assert whole.cell_px > pl.place(small.graph, 1024, 768).cell_px


def test_graph_places_inputs_before_their_first_line():
    tl = get_program_lesson("transformer_post_ln").stream()
    g = pl.build_graph(tl)
    assert [c.line for c in g.columns] == [p.name for p in tl.lines]
    assert [i.tensor for i in g.columns[0].inputs] == ["X", "W_q", "W_k", "W_v", "W_o"]
    assert g.columns[1].operands == ("X", "a")
    p = pl.place(g, 1600, 1000)
    for (x, y, w, h) in p.tiles.values():
        assert x >= 0 and y >= 0 and x + w <= 1600 + 1 and y + h <= 1000 + 1
