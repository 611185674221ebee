"""The 2×2 geometric view: the morph (1 − t) I + t A, basis images, determinant, eigenvectors that
stay on their lines, the morph following the share of y written, and labels that never collide."""

from __future__ import annotations

import itertools

import numpy as np
import pytest
from opscope import gui  # noqa: F401  (PySide6 before pyqtgraph)
from opscope.gui.canvas.geometry import GRID, GeometryView, morph_matrix, place_labels, plane_geometry
from opscope.gui.lessons import get_lesson

LESSON_MATRICES = {slug: np.asarray(get_lesson(slug).inputs["A"]) for slug in
                   ("matvec_rotation", "matvec_shear", "matvec_scaling", "matvec_projection")}
X = np.array([1.0, 2.0])


def identity_lines():
    ticks = np.arange(-GRID, GRID + 1, dtype=float)
    ends = np.array([-GRID, GRID], dtype=float)
    return [pts for t in ticks for pts in (np.stack([np.full(2, t), ends]), np.stack([ends, np.full(2, t)]))]


@pytest.mark.parametrize("A", [np.array([[2.0, 1], [1, 3]]), *LESSON_MATRICES.values()])
def test_the_morph_runs_from_the_identity_grid_to_a_image(A):
    np.testing.assert_array_equal(morph_matrix(A, 0), np.eye(2))
    np.testing.assert_array_equal(morph_matrix(A, 1), A)
    np.testing.assert_allclose(morph_matrix(A, 0.25), 0.75 * np.eye(2) + 0.25 * A)
    start, end = plane_geometry(A, 0.0), plane_geometry(A, 1.0)
    for got, want in zip(start["lines"], identity_lines()):
        np.testing.assert_array_equal(got, want)
    for got, want in zip(end["lines"], identity_lines()):
        np.testing.assert_allclose(got, A @ want)
    np.testing.assert_array_equal(start["basis"][0], [1, 0])
    np.testing.assert_allclose(end["basis"][0], A[:, 0])
    np.testing.assert_allclose(end["basis"][1], A[:, 1])
    assert start["det"] == pytest.approx(1.0)
    assert end["det"] == pytest.approx(np.linalg.det(A))
    np.testing.assert_allclose(end["square"][:, 2], A @ [1, 1])  # the unit square's far corner


def test_eigenvectors_stay_on_their_lines_and_rotations_have_none():
    A = np.array([[2.0, 1], [1, 3]])
    for t in np.linspace(0, 1, 7):
        eig = plane_geometry(A, t)["eig"]
        assert len(eig) == 2
        for lam, v, mv in eig:
            assert abs(v[0] * mv[1] - v[1] * mv[0]) < 1e-12  # parallel to v: on its line
            np.testing.assert_allclose(mv, (1 - t + t * lam) * v, atol=1e-12)
    assert plane_geometry(LESSON_MATRICES["matvec_rotation"])["eig"] == []
    assert len(plane_geometry(np.array([[1.0, 1], [0, 1]]))["eig"]) == 1  # a shear: one direction


def test_the_view_draws_the_morph_of_the_share_of_y_written(qtbot):
    v = GeometryView()
    qtbot.addWidget(v)
    v.resize(420, 420)
    v.show()
    A = LESSON_MATRICES["matvec_shear"]
    v.update_plane(A, X, [np.nan, np.nan])
    assert v.morph == 0.0
    for item, want in zip(v._img_lines, identity_lines()):
        xs, ys = item.getData()
        np.testing.assert_allclose(np.stack([xs, ys]), want)
    assert not v._y[0].isVisible() and not v._carried[0].isVisible()
    assert v._det.textItem.toPlainText() == "area = 1"
    v.update_plane(A, X, [(A @ X)[0], np.nan])
    assert v.morph == 0.5 and v._carried[0].isVisible()
    v.update_plane(A, X, A @ X)
    assert v.morph == 1.0
    for item, want in zip(v._img_lines, identity_lines()):
        xs, ys = item.getData()
        np.testing.assert_allclose(np.stack([xs, ys]), A @ want)
    xs, ys = v._i[0].getData()
    # Aî = (1, 0) is also where the shear's λ = 1 eigenvector lands: one label names both arrows.
    assert (xs[1], ys[1]) == (1.0, 0.0) and v._i[2].textItem.toPlainText() == "Aî = (1, 0)\nλ = 1"
    assert v._j[2].textItem.toPlainText() == "Aĵ = (1, 1)"
    assert v._det.textItem.toPlainText() == "det A = 1"
    assert v._y[0].isVisible() and not v._carried[0].isVisible()
    v.update_plane(np.array([[0.0, 1], [1, 0]]), X, [np.nan, np.nan])  # a new A starts from the identity
    assert v.morph == 0.0
    v.set_morph(1.0)
    assert v._det.textItem.toPlainText() == "det A = −1 (flipped)"


def test_a_landing_step_glides_to_its_morph(qtbot):
    v = GeometryView()
    qtbot.addWidget(v)
    v.show()
    v.animate = True
    drawn = []
    original = v._draw

    def spy():
        drawn.append(v.morph)
        original()

    v._draw = spy
    A = LESSON_MATRICES["matvec_rotation"]
    v.update_plane(A, X, A @ X)
    assert v.target == 1.0
    qtbot.waitUntil(lambda: v.morph == 1.0, timeout=5000)
    assert drawn[-1] == 1.0 and drawn == sorted(drawn)
    v.update_plane(A, X, [np.nan, np.nan])  # stepping back glides back
    qtbot.waitUntil(lambda: v.morph == 0.0, timeout=5000)
    v.animate = None  # offscreen: never animates, so screenshots and exports show the final picture
    assert not v.animates()


def test_place_labels_keeps_labels_apart_and_inside():
    bounds = (0.0, 0.0, 300.0, 300.0)
    anchors = [(150.0, 150.0)] * 5 + [(295.0, 5.0)]
    sizes = [(60.0, 20.0)] * 6
    rects = place_labels(anchors, sizes, bounds, obstacles=[(140.0, 140.0, 20.0, 20.0)])
    for a, b in itertools.combinations(rects, 2):
        assert min(a[0] + a[2], b[0] + b[2]) <= max(a[0], b[0]) or min(a[1] + a[3], b[1] + b[3]) <= max(a[1], b[1])
    for r in rects:
        assert r[0] >= 0 and r[1] >= 0 and r[0] + r[2] <= 300 and r[1] + r[3] <= 300
    right = place_labels([(100.0, 100.0)], [(40.0, 10.0)], bounds, prefer=[(1.0, 0.0)])[0]
    left = place_labels([(100.0, 100.0)], [(40.0, 10.0)], bounds, prefer=[(-1.0, 0.0)])[0]
    assert right[0] > 100 and left[0] + left[2] < 100


@pytest.mark.parametrize("slug", sorted(LESSON_MATRICES))
@pytest.mark.parametrize("t", [0.0, 0.5, 1.0])
def test_no_two_labels_collide_in_the_lesson_planes(qtbot, slug, t):
    v = GeometryView()
    qtbot.addWidget(v)
    v.resize(360, 420)
    v.show()
    qtbot.waitExposed(v)
    A = LESSON_MATRICES[slug]
    y = A @ X if t == 1.0 else np.array([(A @ X)[0], np.nan]) if t == 0.5 else np.full(2, np.nan)
    v.update_plane(A, X, y)
    v._place_labels()
    rects = v.label_rects()
    assert len(rects) >= 4
    for (na, a), (nb, b) in itertools.combinations(rects, 2):
        w = min(a[0] + a[2], b[0] + b[2]) - max(a[0], b[0])
        h = min(a[1] + a[3], b[1] + b[3]) - max(a[1], b[1])
        assert w <= 1 or h <= 1, f"{na!r} and {nb!r} overlap at t={t}"


def test_arrows_ending_at_one_point_share_one_label(qtbot):
    # The projection [[1, 0], [0, 0]] sends x = [1, 2] to y = (1, 0), which is also Aî and the
    # λ = 1 eigenvector's image: three arrows over each other, only the top one visible.
    v = GeometryView()
    qtbot.addWidget(v)
    v.resize(420, 420)
    v.show()
    qtbot.waitExposed(v)
    A = np.array([[1.0, 0.0], [0.0, 0.0]])
    v.update_plane(A, X, A @ X)
    v.finish_morph()
    texts = [t for t, _r in v.label_rects()]
    merged = [t for t in texts if "y = Ax" in t]
    assert merged == ["y = Ax\nAî = (1, 0)\nλ = 1"]
    assert not any(t.startswith("Aî") or t == "λ = 1" for t in texts)  # no second label at that tip
    # Apart, each arrow keeps its own label.
    R = np.array([[0.0, -1.0], [1.0, 0.0]])
    v.update_plane(R, X, R @ X)
    v.finish_morph()
    texts = [t for t, _r in v.label_rects()]
    assert "y = Ax" in texts and any(t.startswith("Aî") for t in texts)
