"""Progressive runs of stage-by-stage operations whose lines are independent (softmax, LayerNorm,
RMSNorm): each stage computed in chunks of leading rows, so a cancel lands within one chunk.

Eagerly, softmax over a 16 × 4096 × 4096 float32 tensor is four whole-tensor passes of about a
second together on this 2-core machine, and a cancel waited for all of them. Here every stage is
computed over the tensors seen as ``(L, …)`` (the axes before the normalized ones merged into
``L`` rows) a chunk of rows at a time; a stage's step is available once its last chunk is done,
and the worker looks at the stop flag between chunks (a few ms each here).

The numbers are bitwise the eager run's: every chunk makes the eager path's own numpy calls on
a C-contiguous block of whole lines, and numpy reduces each line of a block as it reduces that
line of the whole tensor (tests/compute/test_progressive.py checks it over shapes and dtypes).
Inputs that are not C-contiguous, reductions over axis 0 and small runs return None: they are
computed eagerly, as before.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence

import numpy as np

from ..timeline import finite_range

#: Elements of one chunk of rows (about 4 MiB of float32: a few ms per stage here). Small enough
#: that the chunk is still in cache when its finite min/max is folded into the output's levels,
#: which costs a pass over the whole tensor otherwise (0.1 s per GiB).
CHUNK_ELEMENTS = 1 << 20

#: Runs with fewer elements are computed eagerly even when a progressive run is asked for: they
#: take less than a frame, and a worker thread would only add its start-up.
MIN_ELEMENTS = 1 << 20

#: One stage: the outputs it makes, and ``fn(r0, r1)`` that computes them for rows ``r0..r1``.
RowStage = tuple[tuple[str, ...], Callable[[int, int], None]]


def row_view(a: np.ndarray, lead: int) -> np.ndarray:
    """``a`` with its first ``lead`` axes merged into one (a view: ``a`` is C-contiguous)."""
    return a.reshape((math.prod(a.shape[:lead]),) + tuple(a.shape[lead:]))


def row_chunks(rows: int, per_row: int) -> list[tuple[int, int]]:
    """``0..rows`` in chunks of about :data:`CHUNK_ELEMENTS` elements (whole rows of ``per_row``)."""
    step = max(1, CHUNK_ELEMENTS // max(1, per_row))
    return [(r0, min(rows, r0 + step)) for r0 in range(0, rows, step)]


def can_stream(x: np.ndarray, lead: int, granularity) -> bool:
    """True when ``x``'s first ``lead`` axes can be streamed in chunks of rows: a stage run of a
    C-contiguous float tensor big enough to be worth a worker, normalized over axes after ``lead``."""
    return (granularity in (None, "stage") and lead >= 1 and x.dtype.kind == "f" and x.flags.c_contiguous
            and x.size >= MIN_ELEMENTS and math.prod(x.shape[lead:]) > 0)


def probe_dtypes(compute: Callable[[dict], dict], inputs: dict, lead: int) -> dict:
    """The dtype the eager path gives each output, from its own code on one row (dtype rules do
    not depend on sizes), so the outputs can be allocated before they are computed."""
    one = {k: (v[(slice(0, 1),) * lead] if k == "X" else v) for k, v in inputs.items()}
    with np.errstate(all="ignore"):
        return {k: v.dtype for k, v in compute(one).items()}


def stage_panels(outputs: dict, rows: int, per_row: int, stages: Sequence[RowStage], lead: int):
    """The :class:`~compute.progressive.Panels` of ``stages``, each over the chunks of ``rows``
    rows of the outputs seen as ``(rows, …)`` (their first ``lead`` axes merged; see
    :func:`block_panels`)."""
    views = {k: row_view(v, lead) for k, v in outputs.items()}
    keys = [slice(r0, r1) for r0, r1 in row_chunks(rows, per_row)]
    return block_panels(outputs, views, keys, [(names, lambda key, fn=fn: fn(key.start, key.stop))
                                               for names, fn in stages])


def block_panels(outputs: dict, views: dict, keys: Sequence, stages: Sequence[tuple[tuple[str, ...], Callable]]):
    """The :class:`~compute.progressive.Panels` of ``stages``, each computed one chunk at a time:
    ``fn(key)`` computes its outputs for ``views[name][key]``, for every key of ``keys`` in turn.
    Unit ``i`` is one chunk of one stage, and a stage's outputs are whole with its last chunk.
    Each chunk's finite min/max is folded into the panels' bounds while it is in cache.
    """
    from ..progressive import Panels, merge_bounds

    bounds: dict = {}
    units: list[tuple[str, ...]] = []
    work: list[tuple[Callable, object]] = []
    ends: list[int] = []
    for names, fn in stages:
        for i, key in enumerate(keys):
            units.append(tuple(names) if i == len(keys) - 1 else ())
            work.append((fn, key))
        ends.append(len(units))

    made = [names for names, _fn in stages for _key in keys]
    folded: dict = {}

    def run_units():
        for i, (fn, key) in enumerate(work, start=1):
            fn(key)
            for name in made[i - 1]:
                folded[name] = merge_bounds(folded.get(name), finite_range(np, views[name][key]))
            for name in units[i - 1]:  # finished: its levels are known, before the unit is published
                bounds[name] = folded.pop(name, None)
            yield i

    return Panels(outputs, len(units), run_units(), lambda plan, n: ends[min(n, len(ends) - 1)],
                  stages=tuple(units), bounds=bounds)
