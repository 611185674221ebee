"""Operation canvases: every operation at every granularity ends showing run_op's result; scrubbing,
threads, big tensors, slices and the products strip."""

from opscope import gui  # noqa: F401  (first: PySide6 before pyqtgraph, row-major images)

# isort: split
import os
import threading

import numpy as np
import pytest
from opscope import compute
from opscope.gui.canvas import DEFAULT_MAX_SHAPE, Frame, OperationCanvas, create_canvas

CASES = [(s.name, g) for s in compute.operations() for g in s.granularities]


def _canvas(qtbot, op, size=(1000, 600)) -> OperationCanvas:
    c = create_canvas(op)
    qtbot.addWidget(c)
    c.resize(*size)
    return c


def _views_equal(a: dict, b: dict) -> None:
    assert a.keys() == b.keys()
    for k in a:
        np.testing.assert_array_equal(a[k], b[k], err_msg=k)


def _shown(c: OperationCanvas) -> dict:
    return {k: np.array(c.displayed(k), copy=True) for k in c.views}


@pytest.mark.parametrize(("op", "granularity"), CASES, ids=[f"{o}-{g}" for o, g in CASES])
def test_every_op_ends_on_its_result(qtbot, op, granularity):
    spec = compute.get_spec(op)
    inputs = spec.example()
    expected = compute.run_op(op, inputs)
    tl = compute.stream_op(op, inputs, granularity=granularity)
    c = _canvas(qtbot, op)
    captions = []
    c.caption_changed.connect(captions.append)
    c.set_timeline(tl)
    assert c.current_index == 0
    c.show_step(len(tl) - 1)
    assert c.current_index == len(tl) - 1
    assert captions[-1] == tl[-1].caption
    np.testing.assert_allclose(c.displayed("result"), expected["result"], equal_nan=True)
    for name in tl.output_names:  # every output on the board shows its final value, too
        if name in c.views and len(tl.shape(name)) <= 2:
            np.testing.assert_allclose(c.displayed(name), expected[name], equal_nan=True, err_msg=name)
    for name in tl.input_names:
        if name in c.views and len(tl.shape(name)) <= 2:
            np.testing.assert_allclose(c.displayed(name), inputs[name], err_msg=name)
    c.grab()  # paints without raising


SCRUB = [("matmul", "element", {"A": np.arange(12.0).reshape(3, 4), "B": np.arange(12.0).reshape(4, 3) - 5}),
         ("matmul", "kblock", {"A": np.arange(12.0).reshape(3, 4), "B": np.arange(12.0).reshape(4, 3) - 5}),
         ("hadamard", "element", None), ("cumsum", "element", {"X": np.arange(16.0).reshape(2, 8)}),
         ("sum", "kblock", {"X": np.arange(40.0).reshape(5, 8)}), ("attention", "tile", None),
         ("softmax", "stage", None), ("dot", "element", {"a": np.arange(7.0), "b": np.arange(7.0) + 1})]


@pytest.mark.parametrize(("op", "granularity", "inputs"), SCRUB, ids=[f"{o}-{g}" for o, g, _ in SCRUB])
def test_scrubbing_backwards_equals_a_fresh_seek(qtbot, op, granularity, inputs):
    inputs = inputs or compute.get_spec(op).example()
    tl = compute.stream_op(op, inputs, granularity=granularity)
    n = min(5, len(tl) - 2) if len(tl) > 2 else 0
    forward = _canvas(qtbot, op)
    forward.set_timeline(tl)
    for i in range(len(tl)):
        forward.show_step(i)
    forward.show_step(n)
    fresh = _canvas(qtbot, op)
    fresh.set_timeline(tl)
    fresh.show_step(n)
    _views_equal(_shown(forward), _shown(fresh))
    assert forward.current_index == fresh.current_index == n


def test_matmul_element_step_shows_products_strip(qtbot):
    tl = compute.stream_op("matmul", compute.get_spec("matmul").example(), granularity="element")
    c = _canvas(qtbot, "matmul")
    c.set_timeline(tl)
    c.show_step(0)
    np.testing.assert_array_equal(c.displayed("step:products"), [1 * 5, 2 * 7])
    np.testing.assert_array_equal(c.displayed("step:running"), [5, 19])
    assert "A[0, :]" in c.view("step:products")._titles[0] and "B[:, 0]" in c.view("step:products")._titles[0]
    labels = c.view("step:products")._layer._labels
    assert labels is not None and labels[4][0][0] == [["5", "14"]]
    # result: C[0,0] written, the rest not yet (NaN = grey)
    shown = c.displayed("result")
    assert shown[0, 0] == 19 and np.isnan(shown[1, 1])
    assert c.view("result").active() == "write" and c.view("A").active() == "read"
    kinds = {k for k, _ in c.view("A").region_rects()}
    assert kinds == {"read"}


def test_frames_of_other_runs_are_ignored(qtbot):
    spec = compute.get_spec("matmul")
    old = compute.stream_op("matmul", spec.example(), granularity="element")
    new = compute.stream_op("matmul", {"A": np.eye(2), "B": np.ones((2, 2))}, granularity="element")
    c = _canvas(qtbot, "matmul")
    c.set_timeline(old)
    stale = c.prepare_frame(3)
    c.set_timeline(new)
    c.show_step(3)
    before = _shown(c)
    c.apply_frame(stale)
    _views_equal(before, _shown(c))
    np.testing.assert_array_equal(c.displayed("result"), np.ones((2, 2)))


def test_prepare_frame_in_a_thread_and_big_tensors_reduced(qtbot):
    rng = np.random.default_rng(0)
    a = rng.standard_normal((2048, 32))
    b = rng.standard_normal((32, 2048))
    tl = compute.stream_op("matmul", {"A": a, "B": b}, granularity="tile")
    c = _canvas(qtbot, "matmul")
    c.set_timeline(tl)
    out: list[Frame] = []
    worker = threading.Thread(target=lambda: out.append(c.prepare_frame(len(tl) - 1)), name="prepare")
    worker.start()
    worker.join(timeout=30)
    assert not worker.is_alive()
    (frame,) = out
    assert isinstance(frame, Frame) and frame.run_id == tl.run_id and frame.index == len(tl) - 1
    c.apply_frame(frame)
    shown = c.displayed("result")
    assert shown.shape[0] <= DEFAULT_MAX_SHAPE[0] and shown.shape[1] <= DEFAULT_MAX_SHAPE[1]
    assert frame.factors["result"] == (4, 4)
    assert np.isfinite(shown).all()
    # A zoomed view asks for its box and gets it at full resolution.
    c.view("result").view_box_changed.emit(((0, 256), (100, 356)))
    zoomed = c.displayed("result")
    assert zoomed.shape == (256, 256)
    np.testing.assert_allclose(zoomed, tl.result()["result"][:256, 100:356], rtol=1e-6, atol=1e-9)
    c.view("result").view_box_changed.emit(None)
    assert c.displayed("result").shape == shown.shape


def test_batched_matmul_shows_every_batch_and_frames_the_one_in_play(qtbot):
    A = np.arange(24.0).reshape(3, 2, 4)
    B = np.arange(8.0).reshape(1, 4, 2)
    tl = compute.stream_op("matmul", {"A": A, "B": B}, granularity="element")
    c = _canvas(qtbot, "matmul", (1600, 800))
    c.set_timeline(tl)
    last = len(tl) - 1
    c.show_step(last)
    assert [v.name for v in c.views_of("result")] == ["result"] * 3  # one view per batch element
    np.testing.assert_array_equal(c.displayed("result"), A @ B)  # the whole (3, 2, 2) result at once
    np.testing.assert_array_equal(c.view("result[0]").data(), (A @ B)[0])
    assert [c.view(f"result[{b}]").active() for b in range(3)] == ["", "", "write"]
    assert c.view("A[2]").active() == "read" and c.view("A[0]").active() == ""
    c.show_step(0)
    assert [c.view(f"result[{b}]").active() for b in range(3)] == ["write", "", ""]
    assert c.view("result[0]").region_rects()  # the element written, drawn on its own slice


def test_views_with_the_same_batch_axes_follow_together(qtbot):
    rng = np.random.default_rng(2)
    q, k, v = rng.standard_normal((3, 3, 5, 4)), rng.standard_normal((3, 3, 6, 4)), rng.standard_normal((3, 3, 6, 2))
    # 9 slices: more than fit as small multiples, so one view each with a selector, linked.
    tl = compute.stream_op("attention", {"Q": q, "K": k, "V": v}, granularity="tile", mask="causal")
    c = _canvas(qtbot, "attention", (1280, 720))
    c.set_timeline(tl)
    n = next(i for i in range(len(tl)) if tl[i].regions_of("scores", "write")[0].box[:2] == ((1, 2), (2, 3)))
    c.show_step(n)
    for name in ("Q", "K", "V", "scores", "weights", "result"):
        assert c.view(name).lead() == (1, 2), name
    np.testing.assert_array_equal(c.displayed("Q"), q[1, 2])


def test_few_batch_slices_are_small_multiples(qtbot):
    rng = np.random.default_rng(2)
    q, k, v = rng.standard_normal((2, 3, 5, 4)), rng.standard_normal((2, 3, 6, 4)), rng.standard_normal((2, 3, 6, 2))
    tl = compute.stream_op("attention", {"Q": q, "K": k, "V": v}, granularity="tile", mask="causal")
    c = _canvas(qtbot, "attention", (1280, 720))
    c.set_timeline(tl)
    n = next(i for i in range(len(tl)) if tl[i].regions_of("scores", "write")[0].box[:2] == ((1, 2), (2, 3)))
    c.show_step(n)
    assert len(c.views_of("scores")) == 6
    assert c.view("scores[1,2]").active() == "write" and c.view("scores[0,0]").active() == ""
    np.testing.assert_array_equal(c.displayed("Q"), q)


ODD = [("matmul", {"A": np.arange(3.0), "B": np.arange(6.0).reshape(3, 2)}, {}),
       ("matmul", {"A": np.arange(6.0).reshape(2, 3), "B": np.arange(3.0)}, {}),
       ("matmul", {"A": np.arange(3.0), "B": np.arange(3.0)}, {}),
       ("matmul", {"A": np.zeros((2, 0)), "B": np.zeros((0, 3))}, {}),
       ("matmul", {"A": np.zeros((0, 2)), "B": np.zeros((2, 3))}, {}),
       ("linear", {"X": np.arange(3.0), "W": np.ones((2, 3))}, {}),
       ("hadamard", {"A": np.arange(6.0).reshape(2, 1, 3), "B": np.arange(4.0).reshape(4, 1)}, {}),
       ("add", {"A": np.float64(2.0), "B": np.eye(2)}, {}),
       ("sum", {"X": np.arange(24.0).reshape(2, 3, 4)}, {"axis": (0, 2), "keepdims": True}),
       ("max", {"X": np.array([[1.0, np.nan], [np.inf, -np.inf]])}, {"axis": 1}),
       ("cumsum", {"X": np.arange(6.0).reshape(2, 3)}, {"axis": None}),
       ("batchnorm", {"X": np.arange(12.0).reshape(4, 3), "running_mean": np.zeros(3), "running_var": np.ones(3)},
        {"training": False}),
       ("mha", {"query": np.ones((2, 3, 4)), "key": np.arange(40.0).reshape(2, 5, 4) / 40, "W_q": np.eye(4),
                "W_k": np.eye(4), "W_v": np.eye(4), "W_o": np.eye(4)}, {"num_heads": 2, "mask": "padding:3,2"})]


@pytest.mark.parametrize(("op", "inputs", "params"), ODD, ids=[f"{o}-{i}" for i, (o, _, _) in enumerate(ODD)])
def test_odd_shapes_every_granularity(qtbot, op, inputs, params):
    expected = compute.run_op(op, inputs, **params)["result"]
    for g in compute.get_spec(op).granularities:
        tl = compute.stream_op(op, inputs, granularity=g, **params)
        c = _canvas(qtbot, op)
        c.set_timeline(tl)
        for n in range(0, len(tl), max(1, len(tl) // 4)):
            c.show_step(n)
        c.show_step(len(tl) - 1)
        c.grab()
        lead = c.view("result").lead() if "result" in c.views else ()  # small multiples: all of it
        np.testing.assert_allclose(c.displayed("result"), expected[lead] if lead else expected, equal_nan=True)


def test_mha_shows_every_head_at_once(qtbot):
    spec = compute.get_spec("mha")
    tl = compute.stream_op("mha", spec.example())
    heads = tl.shape("weights")[0]
    c = _canvas(qtbot, "mha", (1280, 720))
    c.set_timeline(tl)
    c.show_step(len(tl) - 1)
    for name in ("scores", "weights", "heads"):
        assert len(c.views_of(name)) == heads
        np.testing.assert_allclose(c.displayed(name), tl.result()[name])
    assert "head 1" in c.view("weights[1]").title_override()
    n = next(i for i in range(len(tl)) if tl[i].stage == "scores")
    c.show_step(n)  # every head's scores are written at once: every head view is framed
    assert [v.active() for v in c.views_of("scores")] == ["write"] * heads
    assert c.view("Q").active() == "read"


def test_matvec_2x2_has_a_geometric_view(qtbot):
    from opscope.gui.canvas import GeometryView

    tl = compute.stream_op("matvec", {"A": np.array([[2.0, 0.0], [0.0, 0.5]]), "x": np.array([1.0, 1.0])})
    c = _canvas(qtbot, "matvec")
    c.set_timeline(tl)
    c.show_step(len(tl) - 1)
    geo = c.findChildren(GeometryView)
    assert len(geo) == 1
    assert len([e for e in geo[0]._eig if e.isVisible()]) == 2
    assert geo[0]._y[0].isVisible()


def test_small_views_share_one_cell_size(qtbot):
    tl = compute.stream_op("linear", compute.get_spec("linear").example(), granularity="element")
    c = _canvas(qtbot, "linear", (1280, 720))
    c.set_timeline(tl)
    c.show()
    qtbot.waitExposed(c)
    qtbot.wait(20)
    c.show_step(0)
    sizes = [1.0 / c.view(n).view_box().viewPixelSize()[0] for n in ("X", "W", "XW", "b", "result")]
    assert max(sizes) / min(sizes) < 1.02, sizes  # rows and columns line up across the board


def test_unknown_op_gets_the_generic_layout(qtbot):
    tl = compute.stream_op("cosine", compute.get_spec("cosine").example())
    c = OperationCanvas("something-else")
    qtbot.addWidget(c)
    c.set_timeline(tl)
    c.show_step(len(tl) - 1)
    assert set(tl.tensor_names) <= set(c.views)


def test_new_run_reuses_views(qtbot):
    spec = compute.get_spec("matmul")
    c = _canvas(qtbot, "matmul")
    c.set_timeline(compute.stream_op("matmul", spec.example(), granularity="element"))
    first = c.view("A")
    c.set_timeline(compute.stream_op("matmul", {"A": np.ones((3, 2)), "B": np.ones((2, 4))}, granularity="element"))
    assert c.view("A") is first
    c.show_step(11)
    np.testing.assert_array_equal(c.displayed("result"), np.full((3, 4), 2.0))


@pytest.mark.skipif(not os.environ.get("OPSCOPE_SHOTS"), reason="set OPSCOPE_SHOTS=dir to save screenshots")
def test_screenshots(qtbot):
    out = os.environ["OPSCOPE_SHOTS"]
    os.makedirs(out, exist_ok=True)
    for spec in compute.operations():
        tl = compute.stream_op(spec.name, spec.example())
        c = _canvas(qtbot, spec.name, (1280, 720))
        c.set_timeline(tl)
        c.show()
        c.show_step(min(1, len(tl) - 1))
        qtbot.wait(10)
        assert c.grab().save(os.path.join(out, f"{spec.name}.png"))
        c.close()


@pytest.mark.parametrize("op", ["matmul", "attention"])
def test_titles_stay_dark_on_the_white_board_in_a_dark_desktop_theme(qtbot, op):
    """The board is white with dark text whatever the desktop's palette; a view frame styled by a
    style sheet took the dark palette's light text when it was polished (titles all but vanished)."""
    from PySide6.QtGui import QColor, QPalette
    from PySide6.QtWidgets import QApplication

    app = QApplication.instance()
    old = app.palette()
    dark = QPalette(old)
    for role, colour in ((QPalette.Window, "#2b2b2b"), (QPalette.WindowText, "#eeeeee"),
                         (QPalette.Base, "#1e1e1e"), (QPalette.Text, "#eeeeee")):
        dark.setColor(role, QColor(colour))
    app.setPalette(dark)
    try:
        spec = compute.get_spec(op)
        tl = compute.stream_op(op, spec.example(), granularity="stage" if op == "attention" else "element")
        c = _canvas(qtbot, op)
        c.set_timeline(tl)
        c.show()
        for n in (0, len(tl) - 1):
            c.show_step(n)
            QApplication.processEvents()
            for name, view in c.views.items():
                assert view._title.palette().color(QPalette.WindowText).lightness() < 80, name
    finally:
        app.setPalette(old)
