"""The arithmetic of the 2×2 plane picture (``matvec`` of a 2×2 matrix): what a lecturer sketches
on the board, as plain numbers for the view to draw (issue 8: the GUI does no tensor arithmetic).

As manim's ``ApplyMatrix`` does, the plane is drawn under ``M(t) = (1 − t) I + t A``: the unit grid
at ``t = 0``, its image under A at ``t = 1``. :func:`plane_geometry` gives the grid lines' images,
the unit square's image and its signed area (det M), the images of î and ĵ, the real eigen-
directions of A with an eigenvector on each (``M v = (1 − t + tλ) v``: it stays on its line for
every t) and ``x`` carried by M; :func:`plane_extent` the half-width that holds the whole morph.
"""

from __future__ import annotations

import numpy as np

__all__ = ["GRID", "morph_matrix", "plane_extent", "plane_geometry"]

GRID = 2  # unit grid lines from -GRID to GRID
#: Largest half-width the plane is drawn at (a huge matrix would shrink the grid to a dot).
MAX_EXTENT = 50.0


def morph_matrix(A, t: float) -> np.ndarray:
    """``(1 − t) I + t A`` for the 2×2 ``A``: the identity at ``t = 0``, ``A`` at ``t = 1``."""
    A = np.asarray(A, dtype=np.float64).reshape(2, 2)
    t = float(min(1.0, max(0.0, t)))
    return (1.0 - t) * np.eye(2) + t * A


def plane_geometry(A, t: float = 1.0, x=None) -> dict:
    """What to draw for the 2×2 matrix ``A`` at morph ``t`` (and vector ``x``, when given).

    Returns
    -------
    dict
        ``matrix``: M = (1 − t) I + t A; ``lines``: images under M of the grid lines (2×2 arrays
        whose columns are the end points); ``square``: the unit square's image (2×5, closed);
        ``basis``: the images of î and ĵ (the columns of M); ``det``: det M, the square's signed
        area; ``eig``: ``(λ, unit v, M v)`` for each real eigen-direction of A (once when repeated);
        ``note``: what the eigen-directions say in words ("" when they speak for themselves);
        ``carried``: M x (None without a finite ``x``).
    """
    A = np.asarray(A, dtype=np.float64).reshape(2, 2)
    M = morph_matrix(A, t)
    ticks = np.arange(-GRID, GRID + 1, dtype=np.float64)
    ends = np.array([-GRID, GRID], dtype=np.float64)
    lines = []
    for k in ticks:
        for pts in (np.stack([np.full(2, k), ends]), np.stack([ends, np.full(2, k)])):
            lines.append(M @ pts)  # columns are the two end points
    square = M @ np.array([[0.0, 1.0, 1.0, 0.0, 0.0], [0.0, 0.0, 1.0, 1.0, 0.0]])
    eig = []
    if np.all(np.isfinite(A)):
        values, vectors = np.linalg.eig(A)
        for k in range(2):
            if abs(values[k].imag) < 1e-12 and np.all(np.abs(vectors[:, k].imag) < 1e-12):
                v = vectors[:, k].real
                norm = float(np.hypot(v[0], v[1]))
                if norm > 0:
                    v = v / norm
                    eig.append((float(values[k].real), v, M @ v))
        if len(eig) == 2 and abs(abs(float(eig[0][1] @ eig[1][1])) - 1.0) < 1e-9:
            eig = eig[:1]  # a repeated eigen-direction: draw it once
    if not eig:
        note = "no real eigenvectors\n(A rotates every direction)"
    elif np.allclose(A, A[0, 0] * np.eye(2)):
        note = "every vector is an eigenvector"
    else:
        note = ""
    carried = None
    if x is not None:
        xv = np.asarray(x, dtype=np.float64).reshape(2)
        carried = M @ xv if np.all(np.isfinite(xv)) else None
    return {"matrix": M, "lines": lines, "square": square, "basis": (M[:, 0].copy(), M[:, 1].copy()),
            "det": float(np.linalg.det(M)), "eig": eig, "note": note, "carried": carried}


def plane_extent(A, x, y) -> float:
    """Half-width (plane units) that holds the whole morph of ``A`` with ``x``, ``y`` and ``A x``
    (at most :data:`MAX_EXTENT`, at least :data:`GRID`): M(t)p is linear in t, so the picture is
    largest at t = 0 or t = 1, and one range serves every t (the plane never jumps while it moves)."""
    A = np.asarray(A, dtype=np.float64).reshape(2, 2)
    xv = np.asarray(x, dtype=np.float64).reshape(2)
    yv = np.asarray(y, dtype=np.float64).reshape(2)
    pts = [*plane_geometry(A, 0.0)["lines"], *plane_geometry(A, 1.0)["lines"]]
    values = [float(np.nanmax(np.abs(p))) for p in pts if np.isfinite(p).any()]
    values += [float(np.nanmax(np.abs(v))) for v in (xv, yv, A @ np.nan_to_num(xv)) if np.isfinite(v).any()]
    return min(max([GRID, *values]), MAX_EXTENT)
