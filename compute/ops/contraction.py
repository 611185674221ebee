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

from ..numbers import fmt_index, fmt_sum_of_products, num, term
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


#: Terms a caption writes out before it shortens a sum to "+ … (k terms)".
TERMS = 6


def _to_host(a) -> np.ndarray:
    return np.asarray(a.get() if hasattr(a, "get") else a)


def _dot_text(con: Contraction, bidx, i: int, j: int, k0: int = 0, k1: int | None = None) -> str:
    """``"1×5 + 2×7"``: the products of row ``i`` of a and column ``j`` of b for k in ``k0..k1``.

    Only the first :data:`TERMS` factors of each leave the device; a longer sum says how many
    terms it has."""
    k1 = con.k if k1 is None else k1
    a = _to_host(con.a_mat(bidx)[i, k0:min(k1, k0 + TERMS)])
    b = _to_host(con.b_mat(bidx)[k0:min(k1, k0 + TERMS), j])
    if k1 <= k0:
        return "0 (an empty sum)"
    text = fmt_sum_of_products(a, b)
    if k1 - k0 > TERMS:
        text += f" + … ({k1 - k0} terms)"
    return text


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
        caption = f"{label} = {_dot_text(con, bidx, i, j)} = {num(value)}"
        if con.k == 0:
            caption = f"{label} = 0 (empty sum: k = 0)"
        regions = _reads(con, bidx, (i, i + 1), (j, j + 1), (0, con.k))
        return StepContent("element", caption, {"products": host, "running": running}, regions)

    return describe


def _operand_text(layout: Layout, letter: str, where: str, count: int) -> str:
    """``"A rows 0:2"``, ``"B column 1"``, ``"W row 0"`` or plain ``"x"``: the part of one operand a tile reads.

    The output's rows are rows of ``a``; its columns are columns of ``b``, or rows of a ``b``
    stored as (c, k) like linear's W. A vector operand is named alone."""
    if letter not in layout.letters:
        return layout.name
    if len(layout.letters) == 1:
        return f"{layout.name}[{where}]"
    as_rows = letter == "r" or layout.letters[0] == "c"
    word = ("row" if count == 1 else "rows") if as_rows else ("column" if count == 1 else "columns")
    return f"{layout.name} {word} {where}"


def _tile_describe(con: Contraction):
    run = con.run

    def describe(n: int, box) -> StepContent:
        bidx, rows, cols = _decode_box(con, box)
        tile = run.host(con.c.name, tuple(slice(a, b) for a, b in box))
        h, w = rows[1] - rows[0], cols[1] - cols[0]
        rtxt = f"{rows[0]}:{rows[1]}" if h > 1 else f"{rows[0]}"
        ctxt = f"{cols[0]}:{cols[1]}" if w > 1 else f"{cols[0]}"
        parts = [str(i) for i in bidx] + [rtxt if letter == "r" else ctxt for letter in con.c.letters]
        caption = (f"{con.c.name}{'[' + ', '.join(parts) + ']' if parts else ''} = "
                   f"{_operand_text(con.a, 'r', rtxt, h)} · {_operand_text(con.b, 'c', ctxt, w)} "
                   f"({h}×{con.k} · {con.k}×{w}, {h * w * con.k:,} multiply-add{'s' if h * w * con.k != 1 else ''})")
        if tile.size == 1 and con.k:
            caption += f": {_dot_text(con, bidx, rows[0], cols[0])} = {num(tile[(0,) * tile.ndim])}"
        elif tile.size <= 4:
            caption += " → " + ", ".join(num(v) for v in tile.ravel())
            if con.k:
                caption += (f"; {con.c_label(bidx, rows[0], cols[0])} = {_dot_text(con, bidx, rows[0], cols[0])} = "
                            f"{num(tile[(0,) * tile.ndim])}")
        else:
            # Index the first element: reshape(-1) of a strided tile would copy the whole tile.
            first = con.c_label(bidx, rows[0], cols[0])
            caption += f" → {first} = {_dot_text(con, bidx, rows[0], cols[0])} = {num(tile[(0,) * tile.ndim])}, …"
        regions = _reads(con, bidx, rows, cols, (0, con.k))
        return StepContent("tile", caption, {"tile": tile}, regions)

    return describe


def _tile_for_c(con: Contraction, th: int, tw: int) -> tuple[int, ...]:
    t = [1] * con.c.nbatch
    for letter in con.c.letters:
        t.append(th if letter == "r" else tw)
    return tuple(t)


def _k_slice(layout: Layout, ks: str) -> str:
    """``"A[…, k = 0]"`` or ``"B[k = 0, …]"``: the block of k of one operand, indexed in its own axes."""
    if layout.letters == ("k",):
        return f"{layout.name}[{ks}]"
    return f"{layout.name}[{ks}, …]" if layout.letters[0] == "k" else f"{layout.name}[…, {ks}]"


def _running_text(con: Contraction, partial: np.ndarray, k0: int, k1: int) -> str:
    """How the first output's partial sum grows in one k-block: ``"C[0,0] = 5 + 2×7 = 19"``."""
    bidx = (0,) * len(con.batch)
    label = con.c_label((0,) * con.c.nbatch, 0, 0)
    new = partial.reshape(-1)[0]
    added = _dot_text(con, bidx, 0, 0, k0, k1)
    if k0 == 0:
        return f"{label} so far = {added} = {num(new)}"
    before = _to_host(con.a_mat(bidx)[0, :k0] @ con.b_mat(bidx)[:k0, 0])
    return f"{label} so far = {term(before)} + {added} = {num(new)}"


def kblock_plan(con: Contraction, kb: int) -> FuncPlan:
    """One step per block of ``kb`` terms of the reduced axis; C holds partial sums meanwhile."""
    nkb = max(1, math.ceil(con.k / kb)) if con.k else 1
    small = int(np.prod(con.c.shape, dtype=np.int64)) <= SMALL

    def step(n: int) -> StepContent:
        k0, k1 = n * kb, min(con.k, (n + 1) * kb)
        regions = (
            Region(con.a.name, "read", con.a.box(None, {"k": (k0, k1)})),
            Region(con.b.name, "read", con.b.box(None, {"k": (k0, k1)})),
            Region(con.c.name, "write", con.c.box(None, {})),
        )
        ks = f"k = {k0}" if k1 - k0 == 1 else f"k = {k0}..{k1 - 1}" if k1 > k0 else "no k (k = 0)"
        caption = f"{con.c.name} += {_k_slice(con.a, ks)} · {_k_slice(con.b, ks)}  (block {n + 1}/{nkb})"
        tensors = {}
        if small:
            part = con.partial(k1)
            host = np.asarray(part.get() if hasattr(part, "get") else part)
            host.setflags(write=False)
            tensors["partial"] = host
            if host.size == 1:
                caption = f"{con.c.name} after {ks}: {_dot_text(con, (0,) * len(con.batch), 0, 0, 0, k1)} = " \
                          f"{num(host.reshape(-1)[0])}"
            elif host.size:
                caption += " → " + _running_text(con, host, k0, k1)
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
    head = stage_caption

    def caption() -> str:  # read when the step is built: a progressive run's result is not there yet
        if not (con.m and con.n and int(np.prod(con.batch, dtype=np.int64))):
            return head
        bidx = (0,) * len(con.batch)
        first = run.scalar(con.c.name, (0,) * len(con.c.shape))
        dot = _dot_text(con, bidx, 0, 0) if con.k else "0 (an empty sum)"
        one = int(np.prod(con.c.shape, dtype=np.int64)) == 1
        return head + f"{': ' if head else ''}{con.c_label(bidx, 0, 0)} = {dot} = {num(first)}" \
            + ("" if one else ", …")

    stage = Stage("result", (con.c.name,), (con.a.name, con.b.name), caption)
    return StagePlan(run, [stage])

