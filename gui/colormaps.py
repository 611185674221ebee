"""Colour maps shared by every view: heatmaps, colour bars and the matrix editor's cells.

One rule everywhere: a *diverging* map (blue – near-white – red, the light centre at 0; pyqtgraph's
``CET-D1A``) when a tensor's levels straddle 0, a *sequential* one (pyqtgraph's ``viridis``)
otherwise. Both come from pyqtgraph's own colour map files, so the heatmaps, their colour bars and
the editor's cells share one definition. Heatmaps draw 8-bit colour indices through a 256-entry
lookup table whose last entries are reserved for values that have no place on a colour scale
(ARCHITECTURE.md §4): NaN (not yet written) in a neutral grey, +inf and -inf in colours no
finite value can take, so one infinity never stretches the scale.

Only display arithmetic happens here (levels → colours), never arithmetic on operation data.
"""

from __future__ import annotations

import math

import numpy as np
import pyqtgraph as pg
from PySide6.QtGui import QBrush, QColor

#: Indices 0 .. N_DATA - 1 carry finite values; the last three are reserved.
N_DATA = 253
NAN_INDEX = 253
POSINF_INDEX = 254
NEGINF_INDEX = 255

NAN_RGBA = (205, 205, 205, 255)
POSINF_RGBA = (230, 0, 230, 255)
NEGINF_RGBA = (25, 25, 25, 255)

#: pyqtgraph's names of the two maps (``pyqtgraph.colormap.get``). viridis: perceptually uniform
#: and readable in grey scale (projectors wash colours out). CET-D1A (Kovesi's diverging_bwr_20-95_c54):
#: blue – near-white – red with dark ends, perceptually uniform on both sides, so equal steps of
#: |value| look equally different whatever their sign; its light centre (0) stays distinct from
#: the grey of unwritten cells.
SEQUENTIAL_MAP_NAME = "viridis"
DIVERGING_MAP_NAME = "CET-D1A"


def _own_map(name: str) -> pg.ColorMap:
    # pyqtgraph caches the maps it returns and hands the same object to every caller: keep a copy
    # of our own, so that nothing done to a colour bar's map elsewhere changes ours (or theirs).
    pos, color = pg.colormap.get(name).getStops()
    return pg.ColorMap(pos, color, name=name)


def _full_lut(cmap: pg.ColorMap) -> np.ndarray:
    lut = np.empty((256, 4), dtype=np.uint8)
    # Sampled by pyqtgraph itself: the table's colours are exactly those of the colour bar's map.
    lut[:N_DATA] = cmap.getLookupTable(0.0, 1.0, N_DATA, alpha=True)
    lut[NAN_INDEX] = NAN_RGBA
    lut[POSINF_INDEX] = POSINF_RGBA
    lut[NEGINF_INDEX] = NEGINF_RGBA
    lut.setflags(write=False)
    return lut


_DIVERGING_MAP = _own_map(DIVERGING_MAP_NAME)
_SEQUENTIAL_MAP = _own_map(SEQUENTIAL_MAP_NAME)

#: 256-entry RGBA lookup tables (uint8), reserved entries included.
DIVERGING_LUT = _full_lut(_DIVERGING_MAP)
SEQUENTIAL_LUT = _full_lut(_SEQUENTIAL_MAP)


def is_diverging(levels) -> bool:
    """True when ``levels`` (lo, hi) straddle 0, so a diverging map with its light centre at 0 fits."""
    lo, hi = float(levels[0]), float(levels[1])
    return lo < 0.0 < hi


def display_levels(levels) -> tuple[float, float]:
    """The levels a view really uses: finite, increasing, and symmetric about 0 when diverging.

    Symmetric levels keep the diverging map's light centre exactly at 0, so "positive" and
    "negative" read the same in every view (a lopsided scale would put it at some arbitrary value).
    """
    try:
        lo, hi = float(levels[0]), float(levels[1])
    except (TypeError, ValueError, IndexError):
        return 0.0, 1.0
    if not (math.isfinite(lo) and math.isfinite(hi)):
        return 0.0, 1.0
    if lo > hi:
        lo, hi = hi, lo
    if lo == hi:
        pad = abs(lo) * 0.5 or 1.0
        lo, hi = lo - pad, hi + pad
    if lo < 0.0 < hi:
        m = max(-lo, hi)
        return -m, m
    return lo, hi


def lut_for(levels) -> np.ndarray:
    """The 256-entry lookup table for ``levels``: diverging when they straddle 0, else sequential."""
    return DIVERGING_LUT if is_diverging(levels) else SEQUENTIAL_LUT


def colormap_for(levels) -> pg.ColorMap:
    """The :class:`pyqtgraph.ColorMap` whose samples are the finite part of :func:`lut_for` (for
    colour bars). Shared: do not modify it."""
    return _DIVERGING_MAP if is_diverging(levels) else _SEQUENTIAL_MAP


def quantize(values, levels) -> np.ndarray:
    """Colour indices (uint8) of ``values`` for :func:`lut_for` ``(levels)``.

    Finite values are clipped into ``levels`` and spread over indices ``0 .. N_DATA-1``; NaN,
    +inf and -inf get their reserved indices. ``levels`` should come from :func:`display_levels`.
    Thread-safe (pure numpy), so a worker can do it before the GUI thread paints.
    """
    a = np.asarray(values)
    if a.dtype.kind not in "f":
        a = a.astype(np.float64)
    lo, hi = float(levels[0]), float(levels[1])
    span = hi - lo if hi > lo else 1.0
    with np.errstate(invalid="ignore", over="ignore"):
        t = (a - lo) * ((N_DATA - 1) / span)
        np.clip(t, 0, N_DATA - 1, out=t)
        idx = np.rint(t, out=t)
    out = np.where(np.isfinite(idx), idx, 0).astype(np.uint8)
    if not np.isfinite(a).all():
        out[np.isnan(a)] = NAN_INDEX
        out[np.isposinf(a)] = POSINF_INDEX
        out[np.isneginf(a)] = NEGINF_INDEX
    return out


def rgba(value, levels) -> tuple[int, int, int, int]:
    """The RGBA colour a heatmap gives ``value`` under ``levels`` (raw levels are fine)."""
    lv = display_levels(levels)
    idx = int(quantize(np.asarray([float(value)], dtype=np.float64), lv)[0])
    return tuple(int(c) for c in lut_for(lv)[idx])


def cell_color(value, levels) -> QColor:
    """:class:`QColor` of ``value`` under ``levels``: the same colour a heatmap shows for it."""
    r, g, b, a = rgba(value, levels)
    return QColor(r, g, b, a)


def cell_brush(value, levels) -> QBrush:
    """A :class:`QBrush` for a table cell holding ``value`` (matrix editor BackgroundRole)."""
    return QBrush(cell_color(value, levels))


def text_color_for_rgba(rgba_value) -> QColor:
    """Black or white, whichever reads better on a background of colour ``rgba_value``."""
    r, g, b = (float(c) for c in rgba_value[:3])
    luminance = 0.299 * r + 0.587 * g + 0.114 * b  # Rec. 601 luma: cheap and good enough for text
    return QColor(0, 0, 0) if luminance > 140 else QColor(255, 255, 255)


def text_color(value, levels) -> QColor:
    """Black or white: the readable text colour on top of ``cell_color(value, levels)``."""
    return text_color_for_rgba(rgba(value, levels))


__all__ = [
    "DIVERGING_LUT", "DIVERGING_MAP_NAME", "NAN_INDEX", "NAN_RGBA", "NEGINF_INDEX", "NEGINF_RGBA", "N_DATA",
    "POSINF_INDEX", "POSINF_RGBA", "SEQUENTIAL_LUT", "SEQUENTIAL_MAP_NAME", "cell_brush", "cell_color",
    "colormap_for", "display_levels", "is_diverging", "lut_for", "quantize", "rgba", "text_color",
    "text_color_for_rgba",
]
