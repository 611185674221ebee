"""Readable numbers (issue 9): measured through ``layout_report``, from what the views just drew.

At a canvas of 1024×600 (what presentation mode leaves of a 1024×768 projector) every view of the
lessons below carries numbers with digits of at least 16 px, and at 1920×900 (a 1080p projector)
at least 22 px (19 px on a page that keeps every operand of its stage rather than drop one), on
every page of the run; multi-head attention shows one view per head. The real window in
presentation mode, every lesson, is measured in test_presentation_readable.py.
"""

from opscope import gui  # noqa: F401  (first: PySide6 before pyqtgraph, row-major images)

# isort: split
import numpy as np
import pytest
from opscope import compute
from opscope.compute.program.lessons import get_program_lesson
from opscope.gui.canvas import create_canvas, flow
from opscope.gui.canvas.report import views_report
from opscope.gui.heatmap import HeatmapView
from opscope.gui.lessons import get_lesson
from PySide6.QtWidgets import QApplication

LESSONS = ["attention_causal", "mha_2heads", "softmax_rows", "layernorm_batch", "batchnorm_batch",
           "matmul_2x2", "batched_matmul", "dot_product"]
SIZES = [((1024, 600), 16.0), ((1920, 900), 22.0)]


def _timeline(slug):
    if slug == "mha_2heads":  # a one-line program lesson now: its mha call, on the operation canvas
        lesson = get_program_lesson(slug)
        return compute.stream_op("mha", dict(lesson.inputs), granularity="stage", num_heads=2)
    lesson = get_lesson(slug)
    return compute.stream_op(lesson.op, dict(lesson.inputs), granularity=lesson.granularity, **dict(lesson.params))


def _walk(qtbot, slug, size):
    """(step, report, written) for every step: ``written`` says which entries show written values."""
    tl = _timeline(slug)
    c = create_canvas(tl.op)
    qtbot.addWidget(c)
    c.resize(*size)
    c.show()
    qtbot.waitExposed(c)
    c.set_timeline(tl)
    QApplication.processEvents()  # the board's layout settles the views' sizes
    out = []
    for n in range(len(tl)):
        c.show_step(n)
        QApplication.processEvents()
        while True:  # every page of the step: a step that writes Q, K and V at once may have three
            visible = [v for v in c.views.values() if v.isVisible() and v.width() > 1]
            report = c.layout_report()
            assert len(report) == len(visible)
            written = [bool(np.isfinite(np.asarray(v.data(), dtype=float)).any()) for v in visible]
            # Whether the page shown holds every read of its stages (see flow.NEAR_DIGIT_PX).
            full = all(p._shown_page().context == "full" for p in c.flow_panels())
            out.append((n, report, written, full))
            if not c.next_page():
                break
            QApplication.processEvents()
    return c, tl, out


@pytest.mark.parametrize("slug", LESSONS)
@pytest.mark.parametrize(("size", "floor"), SIZES, ids=["1024x600", "1920x900"])
def test_every_view_shows_numbers_big_enough(qtbot, slug, size, floor):
    c, tl, steps = _walk(qtbot, slug, size)
    seen = set()
    for n, report, written, full in steps:
        # A page that keeps all its stage's operands may be a little under the target rather than
        # drop one (never under the 16 px floor).
        least = max(16.0, floor - flow.NEAR_DIGIT_PX) if full else floor
        for entry, w in zip(report, written):
            if not w:
                continue  # nothing written yet: nothing to read
            assert entry["numbers"], (n, entry)
            assert entry["font_px"] >= least, (n, entry)
            seen.add(entry["tensor"])
    # Every tensor the run writes is on screen, with numbers, at some step (pages never hide one for
    # good); at 1080p every input is, too (at 1024×600 mha's weight matrices do not fit beside X).
    # A step spread over several pages counts each of its pages (the clicker's next shows them).
    on_board = {spec.tensor for spec in c._board.specs.values() if spec.source == "tensor"}
    must = on_board & set(tl.output_names) if size[0] < 1920 else on_board
    assert must <= seen, must - seen


def test_mha_has_one_view_per_head_with_head_labels(qtbot):
    c, tl, steps = _walk(qtbot, "mha_2heads", (1920, 900))
    heads = tl.shape("weights")[0]
    c.show_step(next(i for i in range(len(tl)) if tl[i].stage == "weights"))
    QApplication.processEvents()
    report = [r for r in c.layout_report() if r["tensor"] == "weights"]
    assert sorted(r["lead"] for r in report) == [[h] for h in range(heads)]
    assert all(r["shape"] == [4, 4] and r["numbers"] for r in report)
    titles = [v.title_override() for v in c.views_of("weights")]
    assert [f"head {h}" in t for h, t in zip(range(heads), titles)] == [True] * heads


def test_batched_product_shows_the_whole_result(qtbot):
    c, tl, steps = _walk(qtbot, "batched_matmul", (1920, 900))
    report = [r for r in steps[-1][1] if r["tensor"] == "result"]
    assert sorted(r["lead"] for r in report) == [[0], [1], [2]]
    np.testing.assert_array_equal(c.displayed("result"), tl.result()["result"])


def test_report_measures_the_paint_not_a_formula(qtbot):
    v = HeatmapView("A")
    qtbot.addWidget(v)
    v.show_array(np.array([[1.0, -0.267], [0.04, 3.0]]))
    v.resize(240, 220)
    v.show()
    small = views_report([("A", (), v)])[0]
    v.resize(720, 640)
    big = views_report([("A", (), v)])[0]
    assert small["numbers"] and big["numbers"]
    assert big["font_px"] > small["font_px"] and big["cell_px"][1] > small["cell_px"][1]
    v.resize(120, 110)  # too small for readable numbers: none drawn, and the report says so
    tiny = views_report([("A", (), v)])[0]
    assert tiny["cell_px"][1] < small["cell_px"][1]
    assert tiny["numbers"] == (tiny["font_px"] > 0)


def test_kt_title_matches_its_picture(qtbot):
    tl = _timeline("attention_causal")
    c = create_canvas(tl.op)
    qtbot.addWidget(c)
    c.resize(1920, 900)
    c.set_timeline(tl)
    kt = c.view("K")
    assert kt.slice_shape() == (3, 4)
    assert "(3, 4)" in kt._title.text() or "(3, 4)" in kt._titles[0]


def test_labels_keep_three_significant_digits(qtbot):
    v = HeatmapView("A")
    qtbot.addWidget(v)
    v.resize(600, 400)
    v.show_array(np.array([[-0.26712, 0.04], [0.0, 12.5]]))
    texts = v._layer._labels[4][0][0]
    assert texts == [["−0.267", "0.04"], ["0", "12.5"]]
    assert all(t != "0" for t, _ in [(texts[0][1], None)])  # 0.04 is never shown as "0"


def test_a_step_that_writes_three_stages_pages_through_them(qtbot):
    """mha's projection writes Q, K and V at once: at 1024×600 they do not fit together, so the
    step has a page each, with the X they are made from, and after each the W it is made with
    (a build: W_q beside Q does not fit at 16 px digits either); next_page walks them, then says
    no more."""
    tl = _timeline("mha_2heads")
    c = create_canvas(tl.op)
    qtbot.addWidget(c)
    c.resize(1024, 600)
    c.show()
    qtbot.waitExposed(c)
    c.set_timeline(tl)
    QApplication.processEvents()
    shown = []
    while True:
        QApplication.processEvents()
        shown.append({r["tensor"] for r in c.layout_report()})
        if not c.next_page():
            break
    assert [s & {"Q", "K", "V", "W_q", "W_k", "W_v"} for s in shown] == [
        {"Q"}, {"W_q"}, {"K"}, {"W_k"}, {"V"}, {"W_v"}]
    assert all("X" in s for s in shown[::2])
    assert c.previous_page() and {r["tensor"] for r in c.layout_report()} >= {"V", "X"}
    c.show_step(1)  # the next step: scores = Q Kᵀ, K on a build page of its own
    assert {r["tensor"] for r in c.layout_report()} >= {"Q", "scores"}
    assert c.next_page() and "K" in {r["tensor"] for r in c.layout_report()}
    assert not c.next_page()


@pytest.mark.parametrize(("slug", "stage", "reads", "sizes"), [
    ("attention_causal", "scores", {"Q", "K"}, [(1024, 600), (1920, 900)]),
    ("batched_matmul", "element", {"A", "B"}, [(1024, 600), (1920, 900)]),
    # Q, K (4×8 each) and two heads of scores are wider than 1024 px at 16 px digits.
    ("mha_2heads", "scores", {"Q", "K"}, [(1920, 900)]),
    ("mha_2heads", "project", {"X", "W_q", "Q"}, [(1920, 900)]),
])
def test_a_page_keeps_the_operands_its_stage_reads(qtbot, slug, stage, reads, sizes):
    for size in sizes:
        c, tl, steps = _walk(qtbot, slug, size)
        n = next(i for i in range(len(tl)) if tl[i].stage == stage)
        c.show_step(n)
        QApplication.processEvents()
        assert reads <= {r["tensor"] for r in c.layout_report()}, size


def test_colour_keeps_a_key_where_cells_carry_no_numbers(qtbot):
    """Unpaged (one page however small), attention's weights (viridis 0..1) and signed scores get
    cells too small for numbers at 700×450: each of those views shows its colour key instead."""
    tl = _timeline("attention_causal")
    c = create_canvas(tl.op)
    qtbot.addWidget(c)
    c.paging = False
    c.resize(700, 450)
    c.show()
    qtbot.waitExposed(c)
    c.set_timeline(tl)
    c.show_step(len(tl) - 1)
    QApplication.processEvents()
    report = {r["tensor"]: r for r in c.layout_report()}
    for name in ("weights", "scores"):
        assert not report[name]["numbers"], report[name]
        assert c.view(name).has_key(), name
    c.paging = True
    c.set_timeline(tl)
    c.show_step(len(tl) - 1)
    QApplication.processEvents()
    for r in c.layout_report():  # with numbers readable again, the numbers are the key
        assert r["numbers"] and not c.view(r["tensor"]).has_key(), r
