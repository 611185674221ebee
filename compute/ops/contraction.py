"""Every product as one contraction ``C[b, i, j] = Σ_k A[b, i, k] · B[b, k, j]``, stepped four ways.

dot, matvec, outer, linear and matmul differ only in how their real tensors map onto the three
roles (rows ``r``, reduced ``k``, columns ``c``, plus broadcast batch axes). A :class:`Layout`
says that for one tensor, so a single plan builder gives all of them the ``element``, ``tile``,
``kblock`` and ``stage`` granularities with regions drawn in each tensor's own shape.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from ..numbers import fmt, fmt_index, fmt_sum_of_products
from ..plans import FULL, FuncPlan, GridPlan, Run, Stage, StagePlan, auto_tile
from ..step import Region, StepContent

#: Show partial sums / tiles as step tensors only when they are this small (never a big copy per step).
SMALL = 4096


@dataclass(frozen=True)
class Layout:
    """How one real tensor maps onto the contraction: ``nbatch`` leading batch axes (right-aligned
    against the broadcast batch shape, size-1 axes broadcast) then the letters of its other axes,
    in order, from ``r``, ``k``, ``c``."""

    name: str
    shape: tuple[int, ...]
    nbatch: int
    letters: tuple[str, ...]

    def batch_index(self, bidx: Sequence[int]) -> tuple[int, ...]:
        """The index into this tensor's batch axes for broadcast batch index ``bidx``."""
        nb = self.nbatch
        own = bidx[len(bidx) - nb:] if nb else ()
        return tuple(0 if s == 1 else int(i) for s, i in zip(self.shape[:nb], own))

    def box(self, bidx: Sequence[int] | None, ranges: dict) -> tuple[tuple[int, int], ...]:
        """The box of this tensor covering batch ``bidx`` (None: all) and ``ranges`` per letter."""
        if bidx is None:
            out = [(0, s) for s in self.shape[: self.nbatch]]
        else:
            out = [(i, i + 1) for i in self.batch_index(bidx)]
        for axis, letter in enumerate(self.letters):
            size = self.shape[self.nbatch + axis]
            out.append(ranges.get(letter, (0, size)))
        return tuple(out)


@dataclass
class Contraction:
    """The roles of one product run: layouts of ``a`` (r, k), ``b`` (k, c) and ``c`` (r, c), the
    broadcast ``batch`` shape and the sizes ``m``, ``k``, ``n``; ``a_full`` / ``b_full`` are
    device views of shape (..., m, k) and (..., k, n) whose matmul is the output."""

    run: Run
    a: Layout
    b: Layout
    c: Layout
    batch: tuple[int, ...]
    m: int
    k: int
    n: int
    a_full: object
    b_full: object
    symbol: str = "C"

    def a_mat(self, bidx) -> object:
        full = self.a_full
        return full[self.a.batch_index(bidx)] if self.a.nbatch else full.reshape(full.shape[-2:])

    def b_mat(self, bidx) -> object:
        full = self.b_full
        return full[self.b.batch_index(bidx)] if self.b.nbatch else full.reshape(full.shape[-2:])

    def partial(self, k1: int):
        """C with the sum over k cut at ``k1``, in C's real shape (on the device)."""
        xp = self.run.xp
        p = xp.matmul(self.a_full[..., :, :k1], self.b_full[..., :k1, :])
        return p.reshape(self.c.shape)

    def c_label(self, bidx, i: int, j: int) -> str:
        idx = list(bidx) if self.c.nbatch else []
        if "r" in self.c.letters:
            idx.append(i)
        if "c" in self.c.letters:
            idx.append(j)
        return f"{self.c.name}{fmt_index(idx)}"


def _decode_box(con: Contraction, box) -> tuple[tuple[int, ...], tuple[int, int], tuple[int, int]]:
    """From a box of C's real shape: batch index, row range, column range."""
    nb = con.c.nbatch
    bidx = tuple(a for a, _ in box[:nb])
    rest = dict(zip(con.c.letters, box[nb:]))
    # C's batch axes are the full broadcast batch (C has every batch axis).
    return bidx, rest.get("r", (0, 1)), rest.get("c", (0, 1))


def _reads(con: Contraction, bidx, rows, cols, ks) -> tuple[Region, ...]:
    return (
        Region(con.a.name, "read", con.a.box(bidx, {"r": rows, "k": ks})),
        Region(con.b.name, "read", con.b.box(bidx, {"k": ks, "c": cols})),
    )


def _element_describe(con: Contraction):
    run = con.run

    def describe(n: int, box) -> StepContent:
        bidx, (i, _), (j, _) = _decode_box(con, box)
        a_row = con.a_mat(bidx)[i, :]
        b_col = con.b_mat(bidx)[:, j]
        products = run.xp.multiply(a_row, b_col)
        host = np.asarray(products.get() if hasattr(products, "get") else products)
        running = np.cumsum(host)
        host.setflags(write=False)
        running.setflags(write=False)
        value = run.scalar(con.c.name, tuple(a for a, _ in box))
        label = con.c_label(bidx, i, j)
        a_host = np.asarray(a_row.get() if hasattr(a_row, "get") else a_row)
        b_host = np.asarray(b_col.get() if hasattr(b_col, "get") else b_col)
        caption = f"{label} = {fmt_sum_of_products(a_host, b_host)} = {fmt(value)}"
        if con.k == 0:
            caption = f"{label} = 0 (empty sum: k = 0)"
        regions = _reads(con, bidx, (i, i + 1), (j, j + 1), (0, con.k))
        return StepContent("element", caption, {"products": host, "running": running}, regions)

    return describe


def _tile_describe(con: Contraction):
    run = con.run

    def describe(n: int, box) -> StepContent:
        bidx, rows, cols = _decode_box(con, box)
        tile = run.host(con.c.name, tuple(slice(a, b) for a, b in box))
        h, w = rows[1] - rows[0], cols[1] - cols[0]
        rtxt = f"{rows[0]}:{rows[1]}" if h > 1 else f"{rows[0]}"
        ctxt = f"{cols[0]}:{cols[1]}" if w > 1 else f"{cols[0]}"
        parts = [str(i) for i in bidx] + [rtxt if letter == "r" else ctxt for letter in con.c.letters]
        caption = (f"{con.c.name}[{', '.join(parts)}] = {con.a.name} rows {rtxt} · {con.b.name} columns {ctxt} "
                   f"({h}×{con.k} · {con.k}×{w}, {h * w * con.k:,} multiply-adds)")
        if tile.size <= 4:
            caption += " → " + ", ".join(fmt(v) for v in tile.ravel())
        else:
            # Index the first element: reshape(-1) of a strided tile would copy the whole tile.
            caption += f" → {con.c_label(bidx, rows[0], cols[0])} = {fmt(tile[(0,) * tile.ndim])}, …"
        regions = _reads(con, bidx, rows, cols, (0, con.k))
        return StepContent("tile", caption, {"tile": tile}, regions)

    return describe


def _tile_for_c(con: Contraction, th: int, tw: int) -> tuple[int, ...]:
    t = [1] * con.c.nbatch
    for letter in con.c.letters:
        t.append(th if letter == "r" else tw)
    return tuple(t)


def kblock_plan(con: Contraction, kb: int) -> FuncPlan:
    """One step per block of ``kb`` terms of the reduced axis; C holds partial sums meanwhile."""
    run = con.run
    nkb = max(1, math.ceil(con.k / kb)) if con.k else 1
    small = int(np.prod(con.c.shape, dtype=np.int64)) <= SMALL

    def step(n: int) -> StepContent:
        k0, k1 = n * kb, min(con.k, (n + 1) * kb)
        regions = (
            Region(con.a.name, "read", con.a.box(None, {"k": (k0, k1)})),
            Region(con.b.name, "read", con.b.box(None, {"k": (k0, k1)})),
            Region(con.c.name, "write", con.c.box(None, {})),
        )
        ks = f"k = {k0}" if k1 - k0 == 1 else f"k = {k0}..{k1 - 1}"
        caption = f"{con.c.name} += {con.a.name}[…, {ks}] · {con.b.name}[{ks}, …]  (block {n + 1}/{nkb})"
        tensors = {}
        if small:
            part = con.partial(k1)
            host = np.asarray(part.get() if hasattr(part, "get") else part)
            host.setflags(write=False)
            tensors["partial"] = host
            if host.size == 1:
                a = np.asarray(run.host(con.a.name, (..., slice(0, k1)))).reshape(-1)
                b = np.asarray(run.host(con.b.name, (..., slice(0, k1)))).reshape(-1)
                caption = (f"{con.c.name} after {ks}: {fmt_sum_of_products(a, b)} = {fmt(host.reshape(-1)[0])}"
                           if a.size == b.size else caption + f" → {fmt(host.reshape(-1)[0])}")
            elif host.size:
                caption += f" → {con.c_label((0,) * con.c.nbatch, 0, 0)} so far = {fmt(host.reshape(-1)[0])}"
        return StepContent("kblock", caption, tensors, regions)

    def state(name: str, n: int):
        if n >= nkb - 1:
            return FULL
        if name != con.c.name:
            return FULL
        return con.partial(min(con.k, (n + 1) * kb))

    plan = FuncPlan(nkb, step, state, (con.c.name,))
    plan.options = {"kblock": kb}
    return plan


def contraction_plan(con: Contraction, granularity: str, options: dict, stage_caption: str):
    """The plan of a product at ``granularity`` (``element``, ``tile``, ``kblock`` or ``stage``)."""
    run = con.run
    if granularity == "element":
        return GridPlan(run, con.c.name, _tile_for_c(con, 1, 1), _element_describe(con))
    if granularity == "tile":
        if "tile" in options:
            th, tw = options["tile"]
        else:
            th, tw = auto_tile((con.m, con.n), max(1, 256 // max(1, int(np.prod(con.batch, dtype=np.int64)))))
        plan = GridPlan(run, con.c.name, _tile_for_c(con, th, tw), _tile_describe(con))
        plan.options = {"tile": (min(th, max(1, con.m)), min(tw, max(1, con.n)))}
        return plan
    if granularity == "kblock":
        kb = options.get("kblock") or max(1, math.ceil(con.k / 32))
        return kblock_plan(con, kb)
    stage = Stage("result", (con.c.name,), (con.a.name, con.b.name), stage_caption)
    return StagePlan(run, [stage])

