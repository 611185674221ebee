"""HeatmapView and colour maps: pyqtgraph's failure modes guarded, colours, regions, slices, hover, zoom."""

from opscope import gui  # noqa: F401  (first: PySide6 before pyqtgraph, row-major images)

# isort: split
import numpy as np
import pytest
from opscope.compute import Region
from opscope.gui import colormaps as cm
from opscope.gui.heatmap import ACTIVE_COLOR, LABEL_CELL_LIMIT, READ_COLOR, HeatmapView, as_2d, exact_text, label_text
from PySide6.QtCore import QPointF


@pytest.fixture
def view(qtbot):
    v = HeatmapView("A")
    qtbot.addWidget(v)
    v.resize(400, 360)
    v.show()
    qtbot.waitExposed(v)
    return v


# --- colour maps -----------------------------------------------------------------------------------
def test_luts_have_reserved_entries():
    for lut in (cm.DIVERGING_LUT, cm.SEQUENTIAL_LUT):
        assert lut.shape == (256, 4) and lut.dtype == np.uint8
        assert tuple(lut[cm.NAN_INDEX]) == cm.NAN_RGBA
        assert tuple(lut[cm.POSINF_INDEX]) == cm.POSINF_RGBA
        assert tuple(lut[cm.NEGINF_INDEX]) == cm.NEGINF_RGBA


def test_diverging_only_when_levels_straddle_zero():
    assert cm.lut_for((-1.0, 3.0)) is cm.DIVERGING_LUT
    assert cm.lut_for((0.0, 3.0)) is cm.SEQUENTIAL_LUT
    assert cm.lut_for((1.0, 3.0)) is cm.SEQUENTIAL_LUT
    assert cm.display_levels((-1.0, 3.0)) == (-3.0, 3.0)  # white stays at 0
    assert cm.display_levels((2.0, 2.0)) == (1.0, 3.0)
    assert cm.display_levels((np.nan, np.inf)) == (0.0, 1.0)


def test_quantize_reserves_nan_and_infinities():
    q = cm.quantize(np.array([np.nan, np.inf, -np.inf, -5.0, 0.0, 0.5, 1.0, 9.0]), (0.0, 1.0))
    assert q.dtype == np.uint8
    assert list(q[:3]) == [cm.NAN_INDEX, cm.POSINF_INDEX, cm.NEGINF_INDEX]
    assert q[3] == 0 and q[4] == 0 and q[6] == cm.N_DATA - 1 and q[7] == cm.N_DATA - 1
    assert 0 < q[5] < cm.N_DATA - 1


def test_cell_brush_matches_heatmap_colour():
    levels = (-2.0, 2.0)
    for value in (-2.0, 0.0, 1.3, np.nan, np.inf):
        c = cm.cell_brush(value, levels).color()
        idx = cm.quantize(np.array([value]), cm.display_levels(levels))[0]
        assert (c.red(), c.green(), c.blue()) == tuple(int(x) for x in cm.lut_for(levels)[idx][:3])
    centre = cm.cell_color(0.0, levels).getRgb()[:3]  # the diverging map's light centre, not the NaN grey
    assert min(centre) > 220 and centre != cm.NAN_RGBA[:3]
    assert cm.text_color(-2.0, levels).getRgb()[:3] == (255, 255, 255)  # dark blue cell: white text
    assert cm.text_color(0.0, levels).getRgb()[:3] == (0, 0, 0)


# --- guards ----------------------------------------------------------------------------------------
def test_as_2d_never_rgb_never_complex():
    assert as_2d(np.float64(3)).shape == (1, 1)
    assert as_2d(np.arange(5)).shape == (1, 5)
    assert as_2d(np.ones((4, 5, 3))).shape == (5, 3)
    assert as_2d(np.ones((4, 5, 4))).shape == (5, 4)
    assert np.isnan(as_2d(np.array([1 + 2j]))).all()
    assert as_2d(np.array([True, False])).dtype == np.float64


@pytest.mark.parametrize("values", [
    np.zeros((0, 3)), np.zeros((0,)), np.arange(5.0), np.float64(3.0), np.ones((4, 5, 3)), np.ones((2, 3, 4)),
    np.array([[1.0, np.nan], [np.inf, -np.inf]]), np.array([1 + 2j, 3 - 1j]), np.array([[True, False]]),
    np.arange(6, dtype=np.int32).reshape(2, 3), np.full((3, 3), np.nan),
])
def test_guards_do_not_raise(view, qtbot, values):
    view.show_array(values)
    view.grab()
    shown = view.image_data()
    assert shown.ndim == 2


def test_infinities_do_not_wreck_levels(view):
    a = np.array([[1.0, 2.0, np.inf], [np.nan, -np.inf, 3.0]])
    view.set_tensor("A", a.shape, (1.0, 3.0))
    view.set_data(a)
    assert view.levels() == (1.0, 3.0)
    q = view._quantized
    assert q[0, 2] == cm.POSINF_INDEX and q[1, 1] == cm.NEGINF_INDEX and q[1, 0] == cm.NAN_INDEX
    assert q[0, 0] == 0 and q[1, 2] == cm.N_DATA - 1
    view.grab()


def test_vector_is_a_row_or_with_transpose_a_column(view):
    view.set_tensor("x", (4,), (0.0, 3.0))
    view.set_data(np.arange(4.0))
    assert view.image_data().shape == (1, 4)
    col = HeatmapView("x", transpose=True)
    col.set_tensor("x", (4,), (0.0, 3.0))
    col.set_data(np.arange(4.0))
    assert col.image_data().shape == (4, 1)
    np.testing.assert_array_equal(col.data(), np.arange(4.0))  # data stays in the tensor's orientation
    col.deleteLater()


# --- regions, labels, slices -----------------------------------------------------------------------
def test_regions_are_drawn_in_tensor_coordinates(view):
    view.set_tensor("A", (3, 4), (0.0, 1.0))
    view.set_regions([Region("A", "read", ((1, 2), (0, 4))), Region("A", "write", ((0, 2), (2, 3))),
                      Region("B", "read", ((0, 1), (0, 1))), Region("A", "broadcast", ((1, 3), (0, 4)))])
    rects = dict((k, r) for k, r in view.region_rects())
    assert set(rects) == {"read", "write", "broadcast"}  # B's region is not A's
    r = rects["read"]
    assert (r.x(), r.y(), r.width(), r.height()) == (-0.5, 0.5, 4.0, 1.0)
    w = rects["write"]
    assert (w.x(), w.y(), w.width(), w.height()) == (1.5, -0.5, 1.0, 2.0)


def test_regions_of_a_transposed_vector_and_a_scalar(qtbot):
    v = HeatmapView("x", transpose=True)
    qtbot.addWidget(v)
    v.set_tensor("x", (5,), (0.0, 1.0))
    v.set_regions([Region("x", "read", ((1, 3),))])
    (kind, r), = v.region_rects()
    assert (r.x(), r.y(), r.width(), r.height()) == (-0.5, 0.5, 1.0, 2.0)
    v.set_tensor("x", (), (0.0, 1.0))
    v.set_regions([Region("x", "write", ())])
    (kind, r), = v.region_rects()
    assert kind == "write" and (r.width(), r.height()) == (1.0, 1.0)


def test_labels_only_when_cells_are_few(view):
    view.set_tensor("A", (2, 2), (0.0, 4.0))
    view.set_data(np.array([[1.0, 2.5], [np.nan, 4.0]]))
    labels = view._layer._labels
    assert labels is not None
    assert labels[4][0][0] == [["1", "2.5"], ["", "4"]]
    big = int(np.sqrt(LABEL_CELL_LIMIT)) + 2
    view.set_tensor("A", (big, big), (0.0, 1.0))
    view.set_data(np.zeros((big, big)))
    assert view._layer._labels is None
    assert label_text(-0.0553, 2, 2) == "−0.06" and label_text(np.inf) == "∞" and label_text(np.nan) == ""


def test_rounded_cells_keep_their_trailing_zeros_and_exact_ones_stay_short():
    # attention's weights row 1 is [0.2396, 0.7604]: "0.24" beside "0.219" looked less precise
    # (or exact); rounded to 3 significant digits it reads "0.240". softmax's 0.09003 is "0.0900".
    assert [label_text(v) for v in (0.2396, 0.09003, -0.26700001, 0.1059)] == ["0.240", "0.0900", "−0.267", "0.106"]
    # Values the digits hold exactly stay as typed, float32's 0.1 included.
    assert [label_text(v) for v in (0.5, 1.25, np.float32(0.1), 0.04, 2.0, -4.0)] == ["0.5", "1.25", "0.1", "0.04",
                                                                                     "2", "−4"]
    assert label_text(0.2396, 2) == "0.24" and label_text(1e-5) == "1e−5"


def test_lead_spinboxes_select_a_slice(view, qtbot):
    view.set_tensor("T", (3, 2, 4, 5), (0.0, 1.0), lead_names=("batch", "head"))
    assert len(view._spins) == 2 and view.lead() == (0, 0)
    with qtbot.waitSignal(view.lead_changed) as blocker:
        view._spins[0].setValue(2)
    assert blocker.args == [(2, 0)]
    assert view.lead() == (2, 0)
    view.set_lead((9, 1))  # clamped, no signal
    assert view.lead() == (2, 1)
    view.set_regions([Region("T", "write", ((1, 2), (0, 2), (0, 4), (0, 5)))])
    assert view.region_rects() == []  # that region is in batch 1, the view shows batch 2
    view.set_regions([Region("T", "write", ((2, 3), (0, 2), (0, 1), (0, 5)))])
    assert len(view.region_rects()) == 1


def test_hover_reads_full_precision_from_the_source(view, qtbot):
    view.set_tensor("A", (2, 3), (0.0, 1.0))
    view.set_data(np.array([[0.1, 0.2, 0.3], [0.4, 0.5, 0.6]]))
    asked = []

    def source(index):
        asked.append(index)
        return 1 / 3

    view.set_value_source(source)
    assert view.value_text((1, 2)) == f"A[1, 2] = {1 / 3!r}"
    assert asked == [(1, 2)]
    view.set_value_source(None)
    assert view.value_text((1, 2)) == "A[1, 2] = 0.6"
    scene_pos = view.view_box().mapViewToScene(QPointF(2.0, 1.0))
    assert view.cell_at(scene_pos) == (1, 2)
    view._on_mouse_moved(scene_pos)
    assert view._hover.isVisible() and "A[1, 2]" in view._hover.text()
    assert exact_text(np.nan) == "not yet written" and exact_text(2.0) == "2"


def test_reduced_data_covers_the_full_tensor(view):
    view.set_tensor("big", (1000, 600), (0.0, 1.0), max_shape=(512, 512))
    view.set_data(np.zeros((500, 300)), factor=(2, 2))
    r = view._image_rect
    assert (r.x(), r.y(), r.width(), r.height()) == (-0.5, -0.5, 600.0, 1000.0)
    assert view._layer._labels is None
    assert "÷2×2" in view._title.text() or "÷2×2" in view._titles[0]


def test_zoom_on_a_big_tensor_asks_for_the_visible_box(view, qtbot):
    view.set_tensor("big", (2048, 2048), (0.0, 1.0), max_shape=(512, 512))
    view.view_box().setRange(xRange=(99.5, 199.5), yRange=(9.5, 109.5), padding=0)
    with qtbot.waitSignal(view.view_box_changed, timeout=2000) as blocker:
        view.view_box().sigRangeChangedManually.emit([True, True])  # what a wheel zoom or a drag emits
    (rows, cols), = blocker.args
    assert rows[0] <= 10 and rows[1] >= 110 and cols[0] <= 100 and cols[1] >= 200
    with qtbot.waitSignal(view.view_box_changed, timeout=2000) as blocker:
        view.reset_zoom()
    assert blocker.args == [None]


def test_active_frame_and_title(view):
    view.set_tensor("scores", (4, 4), (0.0, 1.0))
    view.resize(300, 260)
    view.set_active("write")
    assert view.active() == "write"

    def edge():
        return view.grab().toImage().pixelColor(1, view.height() // 2).name()

    assert edge() == ACTIVE_COLOR  # the frame is painted on the view's edge
    view.set_active("read")
    assert edge() == READ_COLOR
    view.set_active("")
    assert edge() not in (ACTIVE_COLOR, READ_COLOR)
    view.set_title("<b>weights</b> = softmax")
    assert view.title_override() == "<b>weights</b> = softmax"


def test_a_narrow_slice_keeps_its_index_in_the_short_title(view, qtbot):
    """A batch slice titled "A[1] batch 1" in a view too narrow for it shows "A[1]", not the
    bare "A" (three of them side by side could not be told apart)."""
    view.set_tensor("A", (3, 2), (0.0, 1.0), title="<b>A</b>[1] <span style='color:#666'>batch 1</span>")
    view.resize(400, 200)
    qtbot.wait(5)
    assert "batch 1" in view._title.text()
    view.resize(70, 200)
    qtbot.wait(5)
    assert view._title.text() == "<b>A</b>[1]"


def test_index_axis_labels_never_run_together(qtbot):
    """On a 4096-column slice a few hundred pixels wide the top axis printed "100020003000"."""
    from opscope.gui.heatmap import AXIS_FONT, IndexAxis, index_tick_step
    from PySide6.QtGui import QFontMetrics

    assert index_tick_step(3, 200, 20) == 1  # a 4×4 matrix: every index
    assert index_tick_step(4095, 140, 40) == 2000
    assert index_tick_step(99, 400, 30) == 10
    fm = QFontMetrics(AXIS_FONT)
    for orientation, count, pixels in (("top", 4096, 140), ("top", 4096, 600), ("left", 4096, 120), ("top", 8, 300)):
        axis = IndexAxis(orientation)
        axis.count = count
        (spacing, ticks), = axis.tickValues(-0.5, count - 0.5, pixels)
        px = spacing * pixels / count
        label = (fm.horizontalAdvance(str(count - 1)) if orientation == "top" else fm.height())
        assert px > label, (orientation, count, pixels, spacing)  # room between neighbours
        assert ticks and all(float(t).is_integer() and 0 <= t < count for t in ticks)
    axis = IndexAxis("top")
    axis.count = 8
    assert axis.tickValues(-0.5, 7.5, 300)[0][1] == list(range(8))
