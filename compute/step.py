"""One step of an operation: immutable, cheap, and holding only what it shows."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from types import MappingProxyType

import numpy as np

REGION_KINDS = ("read", "write", "broadcast", "reduce", "masked")


@dataclass(frozen=True, slots=True)
class Region:
    """A box of one tensor that a step touches.

    ``box`` has one ``(start, stop)`` pair per axis of the tensor's full shape (half-open).
    ``kind`` is one of :data:`REGION_KINDS`: ``read`` (operands of this step), ``write`` (what it
    produces), ``broadcast`` (a copy made by broadcasting), ``reduce`` (the axis being reduced),
    ``masked`` (entries a mask removes).
    """

    tensor: str
    kind: str
    box: tuple[tuple[int, int], ...]

    def slices(self) -> tuple[slice, ...]:
        return tuple(slice(a, b) for a, b in self.box)

    def size(self) -> int:
        n = 1
        for a, b in self.box:
            n *= max(0, b - a)
        return n


def frozen(a) -> np.ndarray:
    """A read-only host view of ``a`` (no copy when it already is a numpy array)."""
    arr = np.asarray(a)
    if arr.flags.writeable:
        arr = arr.view()
        arr.setflags(write=False)
    return arr


@dataclass(frozen=True, slots=True)
class StepContent:
    """What a plan says about one step; the timeline adds run id, index, total and levels."""

    stage: str
    caption: str
    tensors: Mapping[str, np.ndarray] = field(default_factory=dict)
    regions: tuple[Region, ...] = ()


@dataclass(frozen=True, slots=True)
class Step:
    """One step of a run.

    Attributes
    ----------
    run_id : which run produced it (a view drops steps of stale runs).
    index, total : position in the timeline and its length.
    stage : the named stage in play (``"scores"``, ``"tile"``, ``"exp"``...).
    caption : the formula with the real numbers, e.g. ``"C[0,1] = 1×6 + 2×8 = 22"``.
    tensors : read-only host arrays this step shows (the k products, the running sum, the written
        tile...), never a full copy of a big tensor.
    regions : boxes read / written / broadcast / reduced / masked, per tensor.
    levels : display levels per tensor, fixed for the whole run.
    """

    run_id: int
    index: int
    total: int
    stage: str
    caption: str
    tensors: Mapping[str, np.ndarray]
    regions: tuple[Region, ...]
    levels: Mapping[str, tuple[float, float]]

    def regions_of(self, tensor: str, kind: str | None = None) -> tuple[Region, ...]:
        """The regions of ``tensor`` (optionally only of one ``kind``)."""
        return tuple(r for r in self.regions if r.tensor == tensor and (kind is None or r.kind == kind))


EMPTY = MappingProxyType({})
