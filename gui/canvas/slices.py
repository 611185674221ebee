"""Small multiples: step regions moved onto one 2-D slice of a 3-D/4-D tensor.

Shared by the operation canvas (flow pages, :mod:`gui.canvas.flow`) and usable by any view that
shows one fixed slice ``lead`` of a tensor: a region whose leading-axis ranges contain ``lead``
is kept with its box cut to the last two axes; others are dropped.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class SliceRegion:
    """A step region moved onto one 2-D slice (what a small-multiple view is given)."""

    tensor: str
    kind: str
    box: tuple


def onto_slice(regions, lead) -> list[SliceRegion]:
    """The regions that touch slice ``lead``, with their boxes cut to the last two axes."""
    out = []
    lead = tuple(lead)
    n = len(lead)
    for r in regions:
        box = tuple(r.box)
        if len(box) != n + 2:
            continue
        if all(a <= i < b for (a, b), i in zip(box[:n], lead)):
            out.append(SliceRegion(r.tensor, r.kind, box[n:]))
    return out
