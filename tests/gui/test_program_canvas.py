"""ProgramCanvas: every built-in program drawn as a data flow, step 0 shows only inputs, the last
step shows run_program's result, frames prepared off the GUI thread, every head at once."""

from opscope import gui  # noqa: F401  (first: PySide6 before pyqtgraph, row-major images)

# isort: split
import re
import threading

import numpy as np
import pytest
from opscope.compute.program.lessons import get_program_lesson, program_lesson_names
from opscope.gui.canvas import program_layout as pl
from opscope.gui.canvas.program_canvas import ProgramCanvas
from PySide6.QtWidgets import QApplication


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
    qtbot.waitUntil(lambda: c.flow_layout is not None and c.flow_layout.focus.column == 8)
    for name in ("weights", "heads"):
        views = c.views_of(name)
        assert len(views) == 2
        assert all(v.isVisible() for v in views), name
    np.testing.assert_allclose(c.displayed("heads"), tl.result()["heads"])


SIZES = [(1024, 768), (1920, 1080)]


def _inside(rect, w, h) -> bool:
    x, y, rw, rh = rect
    return x >= -1 and y >= -1 and x + rw <= w + 1 and y + rh <= h + 1


def _overlap(a, b) -> bool:
    return a[0] < b[0] + b[2] - 1 and b[0] < a[0] + a[2] - 1 and a[1] < b[1] + b[3] - 1 and b[1] < a[1] + a[3] - 1


@pytest.mark.parametrize("size", SIZES)
@pytest.mark.parametrize("slug", program_lesson_names())
def test_whole_program_on_screen_with_the_line_in_play_big(slug, size):
    """Every line's tensor (and every input, as a tensor or a chip) is in the overview, whatever
    line is in play; the focus holds that line's result and, over its pages, every operand once,
    bigger, below the overview. A one-line program has no overview: it would repeat the focus."""
    w, h = size
    g = pl.build_graph(get_program_lesson(slug).stream())
    band = pl.choose_band(g, w, h)
    for ci, column in enumerate(g.columns):
        ops, res = pl.focus_items(g, ci)
        pages = pl.layout(g, w, h, ci, band=band).focus.pages
        # Every operand on some page, in text order (a page per batch repeats its operands).
        seen = list(dict.fromkeys(o for page in pages for o in page.operands))
        assert seen == [o.tensor for o in ops], column.line
        for k, page in enumerate(pages):
            lay = pl.layout(g, w, h, ci, band=band, page=k)
            ov, focus = lay.overview, lay.focus
            if len(g.columns) == 1:
                assert lay.band == 0 and not ov.items and not ov.labels
            else:
                assert set(ov.items) == set(g.items), column.line
                assert all(_inside(r, w, lay.band + 1) for r in ov.items.values()), column.line
            assert focus.column == ci and focus.page == k and focus.pages == pages
            assert set(focus.items) == {res.tensor, *page.operands}
            rects = list(focus.tiles.values())
            assert all(_inside(r, w, h) and r[1] >= lay.band for r in rects), column.line
            assert not any(_overlap(a, b) for i, a in enumerate(rects) for b in rects[i + 1:]), column.line
            assert focus.cell_px > ov.cell_px, column.line
            # One-character numbers always reach 16 px digits in the focus, on a 1024×768 canvas too.
            assert focus.cell_px >= pl.READABLE_CELL_PX - 1e-6, (column.line, focus.cell_px)


def test_focus_cells_widen_where_numbers_need_the_width_and_the_line_leaves_room():
    """Square cells gave a 4×4 residual sum of the transformer block 9 px digits beside empty
    margins at 1024×768: its cells now widen into that room (the focus still fits), and cells
    that carry no numbers stay square."""
    g = pl.build_graph(get_program_lesson("transformer_post_ln").stream())
    w, h = 1024, 560  # the presentation canvas at 1024×768
    band = pl.choose_band(g, w, h)
    focus = pl.layout(g, w, h, g.column_of["r2"], band=band).focus
    assert focus.cell_aspect > 1.3
    assert max(x + rw for x, _y, rw, _h in focus.items.values()) <= w
    ops, res = pl.focus_items(g, g.column_of["r2"])
    square = pl.place_focus(g, g.column_of["r2"], 0.0, 0.0, 1e9, h - band[0] - pl.BAND_GAP)
    assert square.cell_aspect == pytest.approx(pl._wanted_aspect((res, *ops)))  # unbounded width: all it wants
    assert pl.MAX_CELL_ASPECT >= square.cell_aspect > 1.0


def test_cells_without_numbers_stay_square():
    from opscope import compute

    rng = np.random.default_rng(0)
    x, w = rng.standard_normal((512, 256)), rng.standard_normal((256, 64))
    tl = compute.stream_program("y = X @ W", {"X": x, "W": w})
    g = pl.build_graph(tl)
    assert pl.layout(g, 1600, 1000, 0).focus.cell_aspect == 1.0


def test_the_overview_never_moves_and_the_focus_moves_only_with_the_line(qtbot):
    """... or with its page: each (line, page) has one focus, whichever step shows it (a page of a
    step's own tensors, a.scores → a.weights, included)."""
    tl = get_program_lesson("transformer_post_ln").stream()
    c = _canvas(qtbot, (1024, 768))
    c.set_timeline(tl)
    first = None
    per_line = {}
    for n in range(len(tl)):
        c.show_step(n)
        lay = c.flow_layout
        if first is None:
            first = lay.overview
        assert lay.overview == first, n
        key = (tl.locate(n)[0].name, lay.focus.page, lay.focus.pages[lay.focus.page])
        per_line.setdefault(key, lay.focus)
        assert lay.focus == per_line[key], n
    assert len({f.column for f in per_line.values()}) == len(tl.lines)


def test_focus_views_draw_16px_digits_at_1024x768(qtbot):
    """Measured from what the views drew: the first line of the attention program (Q, K: whole
    numbers; scores: whole numbers) carries numbers with digits at least 16 px high."""
    tl = get_program_lesson("attention_causal_program").stream()
    c = _canvas(qtbot, (1024, 768))
    c.set_timeline(tl)
    c.show_step(tl.part("scores").start + len(tl.part("scores")) - 1)
    c.relayout()
    report = c.layout_report()
    shown = {r["tensor"] for r in report}
    # Only the focus has views (the overview is painted): the line's, and its step's products and sum.
    assert shown == {"Q", "K", "scores", "scores.products", "scores.running"}
    for r in report:
        assert r["numbers"] and r["font_px"] >= 16.0, r


def test_overview_paints_every_tensor(qtbot):
    """The overview's pixels change where a line is written: its cells are painted from the frame."""
    tl = get_program_lesson("attention_causal_program").stream()
    c = _canvas(qtbot, (1024, 768))
    c.set_timeline(tl)
    c.show_step(0)
    x, y, w, h = c.flow_layout.overview.items["out"]
    before = c.grab().toImage().copy(int(x), int(y), int(w), int(h))
    c.show_step(len(tl) - 1)
    after = c.grab().toImage().copy(int(x), int(y), int(w), int(h))
    assert before != after
    assert c.flow_layout.focus.column == len(tl.lines) - 1


def test_graph_places_inputs_before_their_first_line():
    tl = get_program_lesson("transformer_post_ln").stream()
    g = pl.build_graph(tl)
    assert [c.line for c in g.columns] == [p.name for p in tl.lines]
    assert [i.tensor for i in g.columns[0].inputs] == ["X", "W_q", "W_k", "W_v", "W_o"]
    assert g.columns[1].operands == ("X", "a")
    p = pl.place(g, 1600, 1000)
    for (x, y, w, h) in p.tiles.values():
        assert x >= 0 and y >= 0 and x + w <= 1600 + 1 and y + h <= 1000 + 1
    assert pl.place(g, 4000, 3000).cell_px > p.cell_px  # cells grow with the space


def test_big_tensors_keep_to_the_canvas():
    """A 512×256 tensor takes the room of a 32×16 one: the whole flow and its focus still fit."""
    from opscope import compute

    rng = np.random.default_rng(0)
    tl = compute.stream_program("q = X @ W\ny = softmax(q @ q.T, axis=-1) @ q",
                                {"X": rng.standard_normal((512, 256)), "W": rng.standard_normal((256, 64))})
    g = pl.build_graph(tl)
    for w, h in SIZES:
        band = pl.choose_band(g, w, h)
        for ci in range(len(g.columns)):
            lay = pl.layout(g, w, h, ci, band=band)
            rects = [*lay.overview.items.values(), *lay.focus.tiles.values()]
            assert all(_inside(r, w, h) for r in rects), (w, h, ci)


def test_clicking_a_line_in_the_overview_asks_for_its_first_step(qtbot):
    from PySide6.QtCore import QPoint, Qt

    tl = get_program_lesson("attention_causal_program").stream()
    c = _canvas(qtbot, (1024, 768))
    c.set_timeline(tl)
    x, y, w, h = c.flow_layout.overview.labels["weights"]
    with qtbot.waitSignal(c.step_requested, timeout=2000) as sig:
        qtbot.mouseClick(c, Qt.LeftButton, pos=QPoint(int(x + w / 2), int(y + h / 2)))
    assert sig.args == [tl.part("weights").start]
    fx, fy, fw, fh = c.flow_layout.focus.label
    assert c.line_at(fx + fw / 2, fy + fh / 2) is None  # the focus is no overview line


def test_largest_fit_finds_the_largest_cell_size_that_fits():
    # Extents are maxima of sums of sizes linear in s: random such functions, against a fine scan.
    rng = np.random.default_rng(4)
    for _ in range(300):
        a = rng.uniform(0.1, 30, (3, 4))
        b = rng.uniform(0, 200, (3, 4))

        def extent(s, a=a, b=b):
            w = max((a[0] * s + b[0]).sum(), (a[1] * s + b[1]).max())
            return w, (a[2] * s + b[2]).max()

        width, height = rng.uniform(50, 3000), rng.uniform(50, 2000)
        got = pl.largest_fit(extent, width, height, 140.0)
        w, h = extent(got)
        assert 0.0 <= got <= 140.0
        if got > 0:
            assert w <= width and h <= height  # it fits
        if got < 140.0:
            w2, h2 = extent(got + 1e-3)
            assert w2 > width or h2 > height  # and a hair more does not


def test_a_line_of_two_batches_pages_by_batch_where_they_do_not_fit_side_by_side(qtbot):
    """masked = scaled + causal_mask(4) on a 1024×513 canvas (presentation mode at 1024×768): two
    batches of 4×4 side by side, operand and result, are too wide for 16 px digits, so the focus
    has a page per batch. Each element step shows the page of the batch it writes, with both
    tensors' slices of that batch only, every number at 16 px or more."""
    tl = get_program_lesson("attention_causal_program").stream()
    c = _canvas(qtbot, (1024, 513))
    qtbot.waitExposed(c)
    c.set_timeline(tl)
    part = tl.part("masked")
    seen = set()
    for n in range(part.start, part.start + len(part)):
        c.show_step(n)
        focus = c.flow_layout.focus
        assert [p.lead for p in focus.pages] == [0, 1]
        boxes = [r.box for r in tl[n].regions if r.kind == "write" and r.tensor == "masked"]
        if not boxes:
            continue  # the broadcast step: it writes no slice of masked
        (box,) = boxes
        lead = focus.pages[focus.page].lead
        assert box[0] == (lead, lead + 1), n
        report = c.layout_report()
        assert {(r["tensor"], tuple(r["lead"])) for r in report} == {("scaled", (lead,)), ("masked", (lead,))}
        for r in report:
            assert r["numbers"] is False or r["font_px"] >= 16.0, (n, r)
        seen.add(lead)
    assert seen == {0, 1}
    c.show_step(part.start - 1)  # the line before: back to its own pages
    assert c.flow_layout.focus.column == c.graph.column_of["scaled"]


def test_focus_pages_keep_every_number_readable_where_one_page_cannot():
    """Qt-free: on the presentation canvas at 1024×768, every page of the attention and mha
    programs' lines keeps 16 px digits (the arithmetic the views then draw with)."""
    for slug in ("attention_causal_program", "mha_program"):
        g = pl.build_graph(get_program_lesson(slug).stream())
        w, h = 1024, 513
        band = pl.choose_band(g, w, h, 16.0)
        rest = h - band[0] - pl.BAND_GAP
        for ci, column in enumerate(g.columns):
            for page in pl.focus_pages(g, ci, w, rest, 16.0):
                ops, res = pl.page_items(g, ci, page)
                digits = pl._arrange(ops, res, w, rest, pl.Metrics())[4]
                assert digits >= 16.0, (slug, column.line, page, digits)


def test_a_short_canvas_draws_the_lines_alone_so_an_8_row_operand_keeps_16_px_digits():
    """Qt-free: at 1024×768 in presentation mode (canvas 1024×513) the transformer block's
    f = f1 @ W2 + c2 reads the 8-row W2; even a row of name chips leaves it 14 px digits, so the
    band draws the lines alone (inputs only on the focus pages) and every page of every line
    keeps 16 px. Where a band with inputs is readable, it is never the lines alone."""
    g = pl.build_graph(get_program_lesson("transformer_post_ln").stream())
    w, h = 1024, 513
    band = pl.choose_band(g, w, h, 16.0)
    assert band[1] == pl.LINES_ONLY
    lines = pl.overview_graph(g, pl.LINES_ONLY)
    assert all(not c.inputs for c in lines.columns)
    assert set(lines.items) == {c.line for c in g.columns}
    ov = pl.place(lines, w, band[0], pl.OVERVIEW, top=True)
    assert ov.height <= band[0] + 0.5 and set(ov.labels) == set(lines.items)
    rest = h - band[0] - pl.BAND_GAP
    for ci, column in enumerate(g.columns):
        for page in pl.focus_pages(g, ci, w, rest, 16.0):
            digits = pl._arrange(*pl.page_items(g, ci, page), w, rest, pl.Metrics())[4]
            assert digits >= 16.0, (column.line, page, digits)
    # A tall canvas has room for the inputs: they stay in the overview.
    assert pl.choose_band(g, 1920, 830, 22.0)[1] != pl.LINES_ONLY
    assert pl.choose_band(pl.build_graph(get_program_lesson("attention_causal_program").stream()),
                          w, h, 16.0)[1] != pl.LINES_ONLY


def test_a_band_too_short_for_any_arrangement_gets_the_least_tall_one():
    """Qt-free: mha's five inputs fit a short band side by side (one row of chips), and where no
    arrangement fits at all the flattest is placed, not the five-high stack."""
    g = pl.overview_graph(pl.build_graph(get_program_lesson("transformer_post_ln").stream()), True)
    roomy = pl.place(g, 1024, 103, pl.OVERVIEW, top=True)
    assert roomy.stack == 5 and roomy.height <= 103 + 0.5
    squeezed = pl.place(g, 1024, 40, pl.OVERVIEW, top=True)
    assert squeezed.stack == 5 and squeezed.height < 2 * 103


def test_a_call_lines_internals_are_in_the_graph_but_not_the_overview():
    """mha's Q, K, V, scores, weights, heads and concat, layernorm's mean, var and normalized are
    what the block's captions speak of: the graph knows them (for the focus), the overview keeps
    to the program's own tensors, and broadcast copies (they repeat an operand) are left out."""
    g = pl.build_graph(get_program_lesson("transformer_post_ln").stream())
    assert {"a.Q", "a.K", "a.V", "a.scores", "a.weights", "a.heads", "a.concat",
            "h.mean", "h.var", "h.normalized", "y.normalized"} <= set(g.internals)
    assert not set(g.internals) & set(g.items)
    assert not any(name.endswith("_broadcast") for name in g.internals)
    assert [t.lead for t in g.internals["a.weights"].tiles] == [(0,), (1,)]  # every head
    pages = pl.step_pages(g, g.column_of["a"], ("a.scores",), "a.weights", 1024, 560)
    assert {p.target for p in pages} == {"a.weights"}
    assert {p.lead for p in pages} <= {None, 0, 1} and all(p.operands == ("a.scores",) for p in pages)


def _internal_steps(tl, line):
    part = tl.part(line)
    return range(part.start, part.start + len(part))


@pytest.mark.parametrize("size", [(1024, 560), (1920, 880)])
def test_the_steps_inside_a_call_line_show_the_tensors_they_make(qtbot, size):
    """transformer_post_ln at 1024×768: the mha line's scores, weights, heads and concat steps
    and the layernorm's steps showed X, W_q and a grey `a` while their captions quoted heads'
    weights. Now each shows what it reads → what it makes, every head over its pages, with the
    timeline's numbers; the step that makes Q, K and V at once shows X W_q → Q, then K, then V."""
    tl = get_program_lesson("transformer_post_ln").stream()
    c = _canvas(qtbot, size)
    c.set_timeline(tl)
    for n in [*_internal_steps(tl, "a"), *_internal_steps(tl, "h")]:
        c.show_step(n)
        step = tl[n]
        writes = {r.tensor for r in step.regions if r.kind == "write"}
        shown_leads = {}
        while True:
            for entry in c.layout_report():
                shown_leads.setdefault(entry["tensor"], set()).add(tuple(entry["lead"]))
                if entry["tensor"] in writes or entry["tensor"] in c.graph.internals:  # (`a` is grey before)
                    assert entry["numbers"], (n, entry)
            if not c.next_page():
                break
        if len(writes) > 1:  # project: Q, K and V at once, each over a page with X and its weights
            assert {"X", "W_q", "W_k", "W_v", "a.Q", "a.K", "a.V"} <= set(shown_leads), (n, shown_leads)
        for target in writes:
            assert target in shown_leads, (n, step.stage, shown_leads)
            slices = {t.lead for t in c.graph.item(target).tiles}
            assert shown_leads[target] == slices, (n, target)  # every head, over the step's pages
        c.show_step(n)
        while True:  # the numbers drawn are the timeline's, on every page
            for key, tile in c._tiles.items():
                view = c.views[key]
                if tile.tensor in writes and view.isVisible():
                    np.testing.assert_array_equal(view.data(), tl.tensor_at(tile.tensor, n, lead=tile.lead))
            if not c.next_page():
                break


def test_frames_read_only_the_internals_on_screen(qtbot):
    """The views of internals are made when a step first shows them, and a frame reads only the
    internals the focus shows (a big program's internals are not fetched on every frame)."""
    tl = get_program_lesson("transformer_post_ln").stream()
    c = _canvas(qtbot, (1024, 560))
    c.set_timeline(tl, show_first=False)
    internals = set(c.graph.internals)
    assert not internals & {t.tensor for t in c._tiles.values()}  # none made before a step shows one
    c.show_step(0)  # project: X W_q → a.Q first
    assert {c._tiles[k].tensor for k in c.prepare_frame(0).arrays if k in c._tiles} & internals == {"a.Q"}
    weights = next(n for n in _internal_steps(tl, "a") if tl[n].stage == "weights")
    c.show_step(weights)
    read = {c._tiles[k].tensor for k in c.prepare_frame(weights).arrays if k in c._tiles} & internals
    assert read == {"a.scores", "a.weights"}


@pytest.mark.parametrize("size", [(1024, 560), (1920, 880)])
def test_a_product_lines_element_steps_show_their_products_and_running_sum(qtbot, size):
    """As the operation canvas' strips: S = Q @ K.T stepped by elements shows, with Q, K and S,
    the 3 products of the cell in play and their running sum, the step's own numbers."""
    tl = get_program_lesson("qk_loop_vs_matmul").stream()
    c = _canvas(qtbot, size)
    c.set_timeline(tl)
    for n in (0, 5, 15):
        c.show_step(n)
        shown = {r["tensor"]: r for r in c.layout_report()}
        assert set(shown) == {"Q", "K", "S", "S.products", "S.running"}, n
        assert all(r["numbers"] and r["font_px"] >= 16 for r in shown.values()), shown
        for name in ("S.products", "S.running"):
            np.testing.assert_array_equal(c.views[name].data(), tl[n].tensors[name])
    assert "products" in c.views["S.products"].title_override()


def test_partials_that_do_not_fit_leave_the_lines_pages_as_they_were(qtbot):
    """The mha program's out = concat @ W_o at 1024×768 needs two pages already: its products
    and running sum are left out rather than cost the operands their readable numbers."""
    tl = get_program_lesson("mha_program").stream()
    c = _canvas(qtbot, (1024, 560))
    c.set_timeline(tl)
    part = tl.part("out")
    c.show_step(part.start + 3)
    shown = {r["tensor"] for r in c.layout_report()}
    assert "out" in shown and not shown & {"out.products", "out.running"}


def test_the_band_of_a_program_run_again_is_remembered(monkeypatch):
    """Choosing the band searches ~19 overview placements (~0.5 s of the GUI thread for the
    transformer block at seq 4096): a run of the same program with the same shapes, as after an
    edit, reuses it; another size or other shapes search again."""
    searched = []
    real = pl._choose_band
    monkeypatch.setattr(pl, "_choose_band", lambda *a: searched.append(a[1:3]) or real(*a))
    monkeypatch.setattr(pl, "_BANDS", {})
    lesson = get_program_lesson("transformer_post_ln")
    first = pl.choose_band(pl.build_graph(lesson.stream()), 1024, 560)
    assert pl.choose_band(pl.build_graph(lesson.stream()), 1024, 560) == first
    assert searched == [(1024, 560)]
    pl.choose_band(pl.build_graph(lesson.stream()), 1920, 880)
    other = get_program_lesson("transformer_pre_ln")
    pl.choose_band(pl.build_graph(other.stream()), 1024, 560)
    assert searched == [(1024, 560), (1920, 880), (1024, 560)]


def test_a_batched_product_line_shows_its_products_on_the_page_of_the_batch_in_play(qtbot):
    """scores = Q @ K.T of the attention lesson takes one page per batch at 1024×768: an element
    step of batch 1 shows Q[1], K[1], scores[1] and the cell's products and running sum."""
    tl = get_program_lesson("attention_causal_program").stream()
    c = _canvas(qtbot, (1024, 560))
    c.set_timeline(tl)
    part = tl.part("scores")
    for n, lead in ((part.start + 5, 0), (part.start + 20, 1)):
        c.show_step(n)
        shown = {(r["tensor"], tuple(r["lead"])) for r in c.layout_report()}
        assert shown == {("Q", (lead,)), ("K", (lead,)), ("scores", (lead,)), ("scores.products", ()),
                         ("scores.running", ())}, n
        np.testing.assert_array_equal(c.views["scores.running"].data(), tl[n].tensors["scores.running"])
        assert c.step_pages == ()  # the step is on one page: the clicker goes to the next step


def test_an_internal_in_a_narrow_view_keeps_its_own_name_in_its_title(qtbot):
    """softmax's sum (2, 4, 1) gets narrow views: their titles read "sum[0]", not a clipped
    "weights.sur"; a wide view says whose it is ("weights." in grey) and its shape."""
    tl = get_program_lesson("attention_causal_program").stream()
    c = _canvas(qtbot, (1920, 880))
    c.set_timeline(tl)
    c.show_step(next(n for n in range(len(tl)) if tl[n].stage == "sum"))
    QApplication.processEvents()
    narrow = c.views["weights.sum[0]"]._title.text()
    assert re.sub(r"<[^>]+>", "", narrow) == "sum[0]", narrow
    wide = re.sub(r"<[^>]+>", "", c.views["weights.exp[0]"]._title.text())
    assert wide == "weights.exp[0] (2, 4, 4)", wide
