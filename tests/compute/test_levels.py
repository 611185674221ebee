"""Display levels: the finite min/max of a tensor, also when it holds ±inf or NaN (a causal mask)."""

from __future__ import annotations

import numpy as np
import pytest
from opscope.compute import timeline
from opscope.compute.timeline import finite_levels, finite_range


def _reference(a):
    finite = a[np.isfinite(a)]
    return (float(finite.min()), float(finite.max())) if finite.size else None


@pytest.mark.parametrize("dtype", [np.float16, np.float32, np.float64])
@pytest.mark.parametrize("shape", [(7,), (5, 9), (3, 4, 6), (2, 1, 3, 5)])
def test_finite_range_is_the_min_and_max_of_the_finite_values_block_by_block(monkeypatch, dtype, shape):
    monkeypatch.setattr(timeline, "FINITE_BLOCK_ELEMENTS", 7)  # several blocks, a ragged last one
    monkeypatch.setattr(timeline, "MINMAX_BLOCK_ELEMENTS", 5)  # the min and max block by block too
    r = np.random.default_rng(hash(shape) % 2**32)
    a = r.standard_normal(shape).astype(dtype)
    assert finite_range(np, a) == _reference(a)
    flat = a.reshape(-1)
    flat[r.integers(0, flat.size, 3)] = [np.inf, -np.inf, np.nan]
    assert finite_range(np, a) == _reference(a)
    np.fill_diagonal(a.reshape(-1, shape[-1]), -np.inf) if a.ndim > 1 else None
    assert finite_range(np, a) == _reference(a)
    assert finite_range(np, np.full(shape, np.nan, dtype)) is None
    assert finite_range(np, a.T) == _reference(a.T)  # not C-contiguous


def test_finite_levels_widen_a_flat_tensor_and_give_0_1_when_nothing_is_finite():
    assert finite_levels(np, np.array([np.inf, 1.0, -np.inf])) == (0.5, 1.5)
    assert finite_levels(np, np.array([-np.inf, np.nan])) == (0.0, 1.0)
    assert finite_levels(np, np.zeros((3, 0))) == (0.0, 1.0)
    assert finite_levels(np, np.array([[np.inf, 2.0], [3.0, np.nan]], np.float16)) == (2.0, 3.0)
    assert finite_levels(np, np.array(5.0)) == (2.5, 7.5)
    assert finite_levels(np, np.array([True, False])) == (0.0, 1.0)


def test_finite_range_of_a_broadcast_view_reads_its_distinct_values_once(monkeypatch):
    """add's B_broadcast is a view of B repeated over stride-0 axes: its levels are B's, found
    without a pass over the repeated (virtual) elements."""
    r = np.random.default_rng(2)
    b = r.standard_normal((1, 6, 5))
    b[0, 2, 3] = -np.inf
    view = np.broadcast_to(b, (7, 4, 6, 5))
    seen = []
    real = np.isfinite
    monkeypatch.setattr(np, "isfinite", lambda x, *a, **k: seen.append(x.size) or real(x, *a, **k))
    assert finite_range(np, view) == _reference(b)
    assert max(seen) <= b.size  # only the distinct part was read
    row = np.broadcast_to(np.arange(5.0), (3, 5))
    assert finite_range(np, row) == (0.0, 4.0)
