"""Frames: what one step of a run looks like, prepared as plain data off the GUI thread.

Nothing here touches Qt: :func:`prepare` reads the timeline (``tensor_at`` with each view's
lead, box and ``max_shape``; the step's small tensors) and turns values into colour indices, so
the GUI thread only has to hand finished arrays to pyqtgraph (ARCHITECTURE.md §1, §3, §4).
"""

from __future__ import annotations

import logging
import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from types import MappingProxyType

import numpy as np

from .. import colormaps as cm

log = logging.getLogger(__name__)

EMPTY_MAP: Mapping = MappingProxyType({})


@dataclass(frozen=True, slots=True)
class ViewEntry:
    """How to fetch the array of one view: an immutable request, safe to read from any thread.

    ``source`` is ``"tensor"`` (``tl.tensor_at(tensor, n, ...)``) or ``"step"`` (``step.tensors[tensor]``,
    NaN of ``shape`` when the step has none). ``follow``: move ``lead`` to where the step's regions
    are (the batch or head in play) instead of keeping the user's choice. Views of one ``group``
    (same leading axes, >= 0) follow together: Q shows the batch whose scores are being written.
    """

    key: str
    tensor: str
    source: str = "tensor"
    shape: tuple[int, ...] = ()
    lead: tuple[int, ...] = ()
    box: tuple[tuple[int, int], ...] | None = None
    max_shape: tuple[int, int] | None = None
    levels: tuple[float, float] = (0.0, 1.0)
    follow: bool = True
    group: int = -1


@dataclass(frozen=True, slots=True)
class Snapshot:
    """Everything :func:`prepare` needs, swapped atomically by the GUI thread on every change."""

    timeline: object = None
    run_id: int = 0
    entries: tuple[ViewEntry, ...] = ()


@dataclass(frozen=True, slots=True)
class Frame:
    """One step, ready to show.

    Attributes
    ----------
    run_id : the run it belongs to (a canvas ignores frames of other runs).
    index : the step's index in the timeline.
    arrays : view key -> read-only float array as the timeline gives it (tensor orientation; a
        lead slice of N-d tensors, possibly cropped to ``boxes`` and reduced by ``factors``).
    step : the :class:`compute.Step` (caption, regions, small tensors), or None without a timeline.
    quantized : view key -> uint8 colour indices of ``arrays`` (2-D) for the view's levels.
    leads : view key -> the leading-axes index the array was taken at.
    boxes : view key -> the box ``((r0, r1), (c0, c1))`` of the last two axes it covers (or None).
    factors : view key -> (rows, cols) of the tensor one array element stands for.
    """

    run_id: int
    index: int
    arrays: Mapping[str, np.ndarray]
    step: object = None
    quantized: Mapping[str, np.ndarray] = field(default_factory=lambda: EMPTY_MAP)
    leads: Mapping[str, tuple[int, ...]] = field(default_factory=lambda: EMPTY_MAP)
    boxes: Mapping[str, tuple | None] = field(default_factory=lambda: EMPTY_MAP)
    factors: Mapping[str, tuple[int, int]] = field(default_factory=lambda: EMPTY_MAP)


def reduction_factor(rows: int, cols: int, max_shape) -> tuple[int, int]:
    """The block size ``Timeline.tensor_at(max_shape=...)`` reduces a rows × cols slice by."""
    if max_shape is None:
        return 1, 1
    fy = max(1, math.ceil(rows / max(1, int(max_shape[0]))))
    fx = max(1, math.ceil(cols / max(1, int(max_shape[1]))))
    return fy, fx


def follow_lead(step, tensor: str, shape: tuple[int, ...], lead: tuple[int, ...]) -> tuple[int, ...] | None:
    """``lead`` moved onto the slice the step works on: for each leading axis whose written (else
    read) region does not contain the current index, the region's first index. None when the step
    has no region on ``tensor``."""
    nlead = len(shape) - 2
    if nlead <= 0 or step is None:
        return None
    regions = [r for r in step.regions if r.tensor == tensor and len(r.box) == len(shape)]
    chosen = [r for r in regions if r.kind == "write"] or [r for r in regions if r.kind == "read"]
    if not chosen:
        return None
    box = chosen[0].box
    out = list(lead)
    for axis in range(nlead):
        a, b = box[axis]
        if b > a and not a <= out[axis] < b:
            out[axis] = int(a)
    return tuple(out)


def _as_2d_shape(a: np.ndarray) -> np.ndarray:
    if a.ndim == 0:
        return a.reshape(1, 1)
    if a.ndim == 1:
        return a.reshape(1, -1)
    if a.ndim > 2:
        return a[(0,) * (a.ndim - 2)]
    return a


def _frozen(a) -> np.ndarray:
    arr = np.asarray(a)
    if arr.dtype.kind == "c":  # never show a complex number's real part as if it were the value
        arr = np.full(arr.shape, np.nan)
    elif arr.dtype.kind not in "f":
        arr = arr.astype(np.float64)
    if arr.flags.writeable:
        arr = arr.view()
        arr.setflags(write=False)
    return arr


def prepare(snapshot: Snapshot, n: int) -> Frame:
    """The :class:`Frame` of step ``n`` for the views described by ``snapshot``. Thread-safe."""
    tl = snapshot.timeline
    if tl is None or len(tl) == 0:
        return Frame(snapshot.run_id, int(n), EMPTY_MAP)
    n = max(0, min(int(n) if n >= 0 else int(n) + len(tl), len(tl) - 1))
    try:
        step = tl[n]
    except Exception:  # noqa: BLE001 - a step that cannot be described still has tensors to show
        log.warning("step %d of %s could not be built; showing its tensors without regions", n, tl.op,
                    exc_info=True)
        step = None
    arrays, quantized, leads, boxes, factors = {}, {}, {}, {}, {}
    own: dict[str, tuple[int, ...]] = {}
    group_lead: dict[int, tuple[int, ...]] = {}
    for e in snapshot.entries:
        if e.source == "tensor" and e.follow:
            found = follow_lead(step, e.tensor, e.shape, e.lead)
            if found is not None:
                own[e.key] = found
                if e.group >= 0:
                    group_lead.setdefault(e.group, found)
    for e in snapshot.entries:
        if e.source == "step":
            a = step.tensors.get(e.tensor) if step is not None else None
            a = _frozen(np.full(e.shape, np.nan) if a is None else a)
            lead, box, factor = (), None, (1, 1)
        else:
            lead = e.lead
            if e.follow:
                lead = own.get(e.key, group_lead.get(e.group, e.lead) if e.group >= 0 else e.lead)
            box = e.box if len(e.shape) >= 2 else None
            if len(e.shape) >= 2:
                rows, cols = (box[0][1] - box[0][0], box[1][1] - box[1][0]) if box else e.shape[-2:]
                factor = reduction_factor(rows, cols, e.max_shape)
            else:
                factor = (1, 1)
            a = _frozen(tl.tensor_at(e.tensor, n, lead=lead, max_shape=e.max_shape if factor != (1, 1) else None,
                                     box=box))
        arrays[e.key] = a
        quantized[e.key] = cm.quantize(_as_2d_shape(a), e.levels)
        leads[e.key] = lead
        boxes[e.key] = box
        factors[e.key] = factor
    return Frame(snapshot.run_id, n, MappingProxyType(arrays), step, MappingProxyType(quantized),
                 MappingProxyType(leads), MappingProxyType(boxes), MappingProxyType(factors))


def warm_input_frames(tl, max_shape) -> None:
    """Reduce now, on the calling thread (a run worker), the display frames a run's first frame
    reads of its inputs bigger than ``max_shape`` (their first slice, whole), so the GUI thread
    finds them in the timeline's display cache. The transformer block at seq 4096 spent ~70 ms
    of the GUI thread's ~90 ms first open on these block means (X, W1, W2 and the projections).
    Inputs never change during a run, so their frames are the same at every step."""
    mh, mw = (int(m) for m in max_shape)
    for name in tl.input_names:  # a program's scalar parameters among them have the shape ()
        shape = tuple(tl.shape(name))
        if len(shape) >= 2 and (shape[-2] > mh or shape[-1] > mw):
            tl.tensor_at(name, 0, lead=(0,) * (len(shape) - 2), max_shape=(mh, mw))
