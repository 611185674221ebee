"""compute.plane: the 2×2 plane picture's arithmetic, Qt-free, against its definitions."""

import numpy as np
import pytest
from opscope.compute.plane import GRID, MAX_EXTENT, morph_matrix, plane_extent, plane_geometry


@pytest.mark.parametrize("A", [[[2.0, 1.0], [1.0, 3.0]], [[0.0, -1.0], [1.0, 0.0]], [[1.0, 1.0], [0.0, 1.0]],
                               [[2.0, 0.0], [0.0, 2.0]], [[1.0, 0.0], [0.0, 0.0]], [[-1.0, 0.5], [0.25, 2.0]]])
@pytest.mark.parametrize("t", [0.0, 0.3, 1.0])
def test_the_picture_follows_its_definitions(A, t):
    A = np.array(A)
    M = (1 - t) * np.eye(2) + t * A
    x = np.array([0.5, -1.5])
    geo = plane_geometry(A, t, x)
    np.testing.assert_allclose(geo["matrix"], M)
    np.testing.assert_allclose(morph_matrix(A, t), M)
    assert geo["det"] == pytest.approx(np.linalg.det(M))
    np.testing.assert_allclose(geo["basis"][0], M[:, 0])
    np.testing.assert_allclose(geo["carried"], M @ x)
    np.testing.assert_allclose(geo["square"][:, 2], M @ [1.0, 1.0])  # the square's far corner
    assert len(geo["lines"]) == 2 * (2 * GRID + 1)
    for lam, v, mv in geo["eig"]:  # an eigenvector stays on its line for every t
        np.testing.assert_allclose(A @ v, lam * v, atol=1e-12)
        np.testing.assert_allclose(mv, (1 - t + t * lam) * v, atol=1e-12)


def test_notes_and_repeated_directions():
    assert plane_geometry(np.array([[0.0, -1.0], [1.0, 0.0]]))["eig"] == []
    assert "no real eigenvectors" in plane_geometry(np.array([[0.0, -1.0], [1.0, 0.0]]))["note"]
    assert plane_geometry(2 * np.eye(2))["note"] == "every vector is an eigenvector"
    assert len(plane_geometry(np.array([[1.0, 1.0], [0.0, 1.0]]))["eig"]) == 1  # a shear
    assert plane_geometry(np.eye(2), 1.0, [np.nan, 1.0])["carried"] is None


def test_the_extent_holds_the_whole_morph():
    A = np.array([[3.0, 0.0], [0.0, 0.5]])
    ext = plane_extent(A, [1.0, 1.0], [3.0, 0.5])
    assert ext == pytest.approx(3 * GRID)  # the grid's image at t = 1 reaches 3 × 2
    assert plane_extent(np.eye(2) * 1e6, [1, 1], [1e6, 1e6]) == MAX_EXTENT
    assert plane_extent(np.eye(2) * 0.1, [0.1, 0.1], [np.nan, np.nan]) == GRID
