"""Scaled dot-product attention (with masks) and multi-head attention.

``attention``: scores = Q Kᵀ → scaled = scores · scale → masked → weights = softmax → result = weights V.
``mha``: Q, K, V projections → heads split from the last axis → attention per head → concat → W_o.
Rows whose every key is masked get zero weights and a zero output (never NaN), and the caption
says how many there were. A mask that is not boolean is added to the scores; one that holds only
0s and 1s is refused (:func:`refuse_keep_drop_mask`), since it would silently remove nothing.
"""

from __future__ import annotations

import math

import numpy as np

from ..buffers import POOL
from ..errors import ParamError, ShapeError
from ..numbers import fmt_list, fmt_shape, fmt_sum_of_products, num, term
from ..plans import FULL, FuncPlan, Stage, StagePlan, grid_linear_index
from ..registry import Input, OpSpec, Param, register
from ..shapes import aligned, broadcast_shapes
from ..step import Region, StepContent


def _prod(shape) -> int:
    """Number of elements, in Python ints: np.prod in int64 wraps around for huge broadcast shapes,
    which would let an impossible run through the budget."""
    return math.prod(int(s) for s in shape)


# --- masks --------------------------------------------------------------------------------------
def parse_mask_param(op: str, value):
    """The ``mask`` keyword: None, ``"causal"``, or key lengths per batch (a padding mask).

    Accepted spellings: None / ``"none"``; ``"causal"``; a sequence of ints; ``"padding:3,2"``.
    Returns ``None``, ``"causal"`` or a tuple of ints.
    """
    if value is None:
        return None
    if isinstance(value, str):
        v = value.strip().lower()
        if v in ("", "none"):
            return None
        if v == "causal":
            return "causal"
        if v.startswith("padding:") or v.startswith("lengths:"):
            v = v.split(":", 1)[1]
        try:
            return tuple(int(x) for x in v.replace(";", ",").split(",") if x.strip())
        except ValueError:
            raise ParamError(f"{op}: mask must be None, 'causal', key lengths like 'padding:3,2', or an array "
                             f"given as the input 'mask'; not {value!r}") from None
    valid = "None, 'causal', or key lengths per batch entry such as 'padding:3,2' or [3, 2]"
    try:
        arr = np.asarray(value)
    except Exception:  # noqa: BLE001 - ragged or odd objects: not a mask spelling
        raise ParamError(f"{op}: mask must be {valid}; not {value!r}") from None
    if arr.ndim <= 1 and arr.dtype.kind in "iu":
        return tuple(int(x) for x in arr.reshape(-1))
    if arr.ndim >= 1 and arr.dtype.kind in "bf" and arr.size:
        raise ParamError(f"{op}: a mask array (bool: True = keep, or additive float) goes in the inputs as 'mask', "
                         f"not as the mask= keyword")
    raise ParamError(f"{op}: mask must be {valid}; not {value!r}")


def check_mask(op: str, spec, mask_shape, scores_shape, lk: int, nbatch: int | None = None):
    """Check the mask keyword (``spec``) and the mask input's shape against the scores' shape.

    ``nbatch`` is the number of leading batch axes of the scores (default: all but the last two;
    mha passes the input's, since its scores also have a head axis). Padding lengths belong to
    sequences, i.e. to entries of the first batch axis, and apply to every head of that entry;
    an unbatched input is one sequence, so it takes exactly one length.
    """
    if nbatch is None:
        nbatch = len(scores_shape) - 2
    if isinstance(spec, tuple):
        if not spec:
            raise ParamError(f"{op}: a padding mask needs at least one key length, e.g. 'padding:3' or [3].")
        nb = scores_shape[0] if nbatch > 0 else 1
        if nbatch == 0 and len(spec) != 1:
            raise ParamError(f"{op}: padding mask gives {len(spec)} key lengths {list(spec)}, but the input is "
                             f"unbatched (one sequence; scores {fmt_shape(scores_shape)}). Padding lengths belong to "
                             f"sequences, not heads: give one length (it applies to every head), or batch the "
                             f"input as (batch, sequence, features) with one length per batch entry.")
        if len(spec) not in (1, nb):
            raise ShapeError(f"{op}: padding mask gives {len(spec)} key lengths, but the scores "
                             f"{fmt_shape(scores_shape)} have {nb} batch entries on axis 0: "
                             f"give one length per batch (or one for all).")
        bad = [n for n in spec if not 0 <= n <= lk]
        if bad:
            raise ShapeError(f"{op}: key length {bad[0]} is out of range: there are {lk} keys (0..{lk} allowed).")
    if mask_shape is not None:
        try:
            out = broadcast_shapes(op, mask_shape, scores_shape, "mask", "scores")
        except ShapeError:
            out = None
        if out != tuple(scores_shape):
            raise ShapeError(f"{op}: mask {fmt_shape(mask_shape)} must broadcast to the scores "
                             f"{fmt_shape(scores_shape)} (…, queries, keys) without growing them. "
                             f"Rule: aligned from the right, each mask axis equal to the scores' or 1.\n"
                             + aligned(mask_shape, scores_shape, "mask", "scores"))


def refuse_keep_drop_mask(xp, op: str, mask) -> None:
    """Refuse a number mask whose entries are all 0 or 1 (and not all 0): a keep/drop mask in disguise.

    A mask that is not boolean is *added* to the scaled scores (0 keeps an entry, −inf removes it),
    so a 0/1 mask removes nothing: its 1s only nudge the logits by one, the softmax still sees every
    key, and the user who meant "1 = keep" gets unmasked attention without a word. Refusing is
    better than converting, because 0/1 masks come in both conventions: PyTorch's boolean
    ``attn_mask`` of ``scaled_dot_product_attention`` is True = keep, but that of
    ``nn.MultiheadAttention`` (and ``key_padding_mask``) is True = *remove*; any guess is wrong for
    someone. Integer masks are checked too: the engine casts them to the compute dtype before this
    runs. An all-zero mask is a legitimate additive mask that removes nothing, so it passes; a genuine
    0/1 bias can still be added in a program (``softmax(scores + m)``).

    Raises
    ------
    ParamError
        ``mask`` is not boolean, holds at least one 1 and nothing but 0s and 1s.
    """
    if mask is None or mask.dtype == bool or not mask.size:
        return
    ones = mask == 1
    # The usual additive mask (0 and −inf) has no 1, so it is read once and passes.
    if not bool(ones.any()) or not bool(xp.all(ones | (mask == 0))):
        return
    raise ParamError(f"{op}: the mask holds only 0s and 1s, like a keep/drop mask, but a number mask is added to "
                     f"the scores, so its 1s would remove nothing: additive masks use 0 (keep) and -inf (remove). "
                     f"Pass a bool mask (True = keep, e.g. m.astype(bool)) or mask = where(m, 0, -inf) "
                     f"(numpy: np.where(m == 1, 0.0, -np.inf)).")


def mask_effects(xp, spec, mask) -> list[str]:
    """What each mask of a run did, in words that are true of its values (for captions).

    Keep/drop masks (causal, padding, boolean) set removed entries to −∞. An additive mask is
    described by what it holds: its −∞ entries remove keys, its other values are added to the
    scores, and one without −∞ removes nothing (saying "→ −∞" there would be false).
    """
    parts = []
    if spec == "causal":
        parts.append("causal (query i sees keys 0..i): removed entries → −∞")
    elif isinstance(spec, tuple):
        parts.append("padding (keys past each length): removed entries → −∞")
    if mask is not None and mask.dtype == bool:
        parts.append("boolean mask: False entries → −∞ (True = keep)")
    elif mask is not None:
        n_inf = int((mask == -xp.inf).sum())
        finite = xp.isfinite(mask)
        shifts = bool(xp.any(mask[finite] != 0)) if bool(finite.any()) else False
        if n_inf and not shifts:
            parts.append("additive mask added: its −∞ entries remove keys, its 0s keep them")
        elif n_inf:
            parts.append("additive mask added: its −∞ entries remove keys, its other values shift the scores")
        elif shifts:
            parts.append("additive mask added: it has no −∞, so it removes no key, only shifts the scores by "
                         "its values")
        else:
            parts.append("additive mask of zeros added: it changes nothing")
    return parts


def apply_mask(xp, scaled, spec, mask, nbatch: int | None = None):
    """``(masked, fully_masked, words)``: the logits with masked entries at −inf (plus any additive
    mask), a boolean array of rows with no key left (or None), and a description for captions.

    ``nbatch`` is the number of leading batch axes of ``scaled`` (as in :func:`check_mask`): a
    padding length of batch entry b applies to every other axis (heads, queries) of that entry.
    """
    keep = None
    words = []
    lq, lk = scaled.shape[-2], scaled.shape[-1]
    if nbatch is None:
        nbatch = scaled.ndim - 2
    if spec == "causal":
        keep = xp.tril(xp.ones((lq, lk), dtype=bool))
        words.append("causal: query i sees keys 0..i")
    elif isinstance(spec, tuple):
        lengths = xp.asarray(np.asarray(spec, dtype=np.int64))
        k = xp.arange(lk)
        if nbatch == 0:  # one sequence: its one length (check_mask refused more) for every head and query
            keep = k < lengths[0]
        else:
            nb = scaled.shape[0]
            lengths = xp.broadcast_to(lengths, (nb,))
            keep = (k[None, :] < lengths[:, None]).reshape((nb,) + (1,) * (scaled.ndim - 2) + (lk,))
        words.append("padding: keys past each length removed")
    additive = None
    if mask is not None:
        if mask.dtype == bool:
            keep = mask if keep is None else keep & mask
            words.append("boolean mask (True = keep)")
        else:
            additive = mask
            words.append("additive mask")
    if keep is None and additive is None:
        return scaled, None, "no mask"
    masked = scaled if keep is None else xp.where(keep, scaled, -xp.inf)
    if additive is not None:
        masked = masked + additive
    fully = xp.all(masked == -xp.inf, axis=-1)
    return masked, fully, ", ".join(words)


def masked_softmax(xp, masked, fully, out=None):
    """Softmax over the last axis; rows in ``fully`` (all −inf) give zeros instead of NaN.

    With no keys at all (last axis of length 0) the weights are empty: there is nothing to weigh,
    and the weighted sum of no values is the zero vector, as for a fully masked row. ``out``: an
    array of ``masked``'s shape and dtype to write the weights into (a progressive run's buffer).
    """
    if masked.shape[-1] == 0:
        return xp.zeros(masked.shape, masked.dtype) if out is None else out
    m = masked.max(axis=-1, keepdims=True)
    if fully is not None:
        m = xp.where(fully[..., None], 0, m)
    e = xp.subtract(masked, m, out=POOL.empty(xp, masked.shape, masked.dtype) if out is None else out)
    xp.exp(e, out=e)
    s = e.sum(axis=-1, keepdims=True)
    if fully is not None:
        s = xp.where(fully[..., None], 1, s)
    e /= s
    return e


# --- attention ----------------------------------------------------------------------------------
def _attention_shapes(shapes):
    sq, sk, sv = shapes["Q"], shapes["K"], shapes["V"]
    for n, s in (("Q", sq), ("K", sk), ("V", sv)):
        if len(s) < 2:
            raise ShapeError(f"attention: {n} {fmt_shape(s)} must be (…, sequence, features), at least 2-D.")
    if sq[-1] != sk[-1]:
        raise ShapeError(f"attention: Q {fmt_shape(sq)} and K {fmt_shape(sk)}: the last axes (d_k) must match "
                         f"({sq[-1]} vs {sk[-1]}) because scores = Q Kᵀ dots each query with each key.")
    if sk[-2] != sv[-2]:
        raise ShapeError(f"attention: K {fmt_shape(sk)} and V {fmt_shape(sv)}: axis -2 (number of keys) must match "
                         f"({sk[-2]} vs {sv[-2]}): one value per key.")
    batch = broadcast_shapes("attention", broadcast_shapes("attention", sq[:-2], sk[:-2], "Q batch", "K batch"),
                             sv[:-2], "QK batch", "V batch")
    return batch, batch + (sq[-2], sk[-2]), batch + (sq[-2], sv[-1])


def _attention_check(shapes, params):
    _b, scores, _out = _attention_shapes(shapes)
    spec = parse_mask_param("attention", params.get("mask"))
    check_mask("attention", spec, shapes.get("mask"), scores, scores[-1])
    scale = params.get("scale")
    if scale is not None:
        try:
            scale = float(scale)
        except (TypeError, ValueError):
            raise ParamError(f"attention: scale must be a number or None (1/√d_k), not {scale!r}") from None
        if not math.isfinite(scale):
            raise ParamError(f"attention: scale must be finite, not {scale!r}")
    else:
        scale = 1.0 / math.sqrt(shapes["Q"][-1]) if shapes["Q"][-1] else 1.0
    return {**params, "mask": spec, "scale": scale}


#: Query rows per chunk of the CPU path: about this many scores at a time (1 MiB of float32), so
#: every stage of a chunk runs while its rows are still in cache (ARCHITECTURE.md §2).
CHUNK_SCORES = 1 << 18


def _keep_rows(spec, mask, idx, rows: slice, lk: int, batch):
    """The boolean keep-mask of query ``rows`` of batch entry ``idx`` (None when nothing is masked)."""
    keep = None
    if spec == "causal":
        keep = np.arange(lk)[None, :] <= np.arange(rows.start, rows.stop)[:, None]
    elif isinstance(spec, tuple):
        lengths = np.broadcast_to(np.asarray(spec, dtype=np.int64), (batch[0] if batch else 1,))
        keep = np.broadcast_to(np.arange(lk)[None, :] < lengths[idx[0] if batch else 0], (rows.stop - rows.start, lk))
    if mask is not None and mask.dtype == bool:
        part = np.broadcast_to(mask, batch + (mask.shape[-2] if mask.ndim >= 2 else 1, lk))[idx]
        part = part[rows] if part.shape[0] != 1 else np.broadcast_to(part, (rows.stop - rows.start, lk))
        keep = part if keep is None else keep & part
    return keep


def _attention_by_rows(q, k, v, scale, spec, mask, shapes):
    """The CPU path: every stage computed one chunk of query rows at a time, into pooled buffers.

    Same outputs as the whole-matrix path (which the GPU takes), but each chunk's scores are scaled,
    masked, exponentiated and normalized while still in cache, instead of seven passes over a
    128 MiB matrix; measured 0.9× a plain whole-matrix numpy softmax(QKᵀ)V.
    """
    *outs, chunks = _attention_chunks(q, k, v, scale, spec, mask, shapes)
    for _ in chunks:
        pass
    return tuple(outs)


def _attention_chunks(q, k, v, scale, spec, mask, shapes):
    """The buffers of :func:`_attention_by_rows` and a generator that fills them one chunk of query
    rows per ``next()``, yielding the rows finished (over batch entries flattened, ``b·Lq + r1``).

    The eager path runs it to the end; a progressive run publishes each yield. One code path, so
    both give bitwise the same outputs.
    """
    batch, sshape, oshape = shapes
    lq, lk = sshape[-2], sshape[-1]
    dtype = np.result_type(q, k)
    scores = POOL.empty(np, sshape, dtype)
    scaled = POOL.empty(np, sshape, dtype)
    has_mask = spec is not None or mask is not None
    masked = POOL.empty(np, sshape, dtype) if has_mask else scaled
    weights = POOL.empty(np, sshape, dtype)
    result = np.empty(oshape, np.result_type(dtype, v.dtype))
    fully = np.zeros(batch + (lq,), bool) if has_mask else None
    additive = mask if mask is not None and mask.dtype != bool else None
    qb = np.broadcast_to(q, batch + q.shape[-2:])
    kb = np.broadcast_to(k, batch + k.shape[-2:])
    vb = np.broadcast_to(v, batch + v.shape[-2:])
    addb = np.broadcast_to(additive, sshape) if additive is not None else None
    step = max(1, CHUNK_SCORES // max(1, lk))

    def chunks():
        for bi, idx in enumerate(np.ndindex(*batch)):
            yield from _attention_entry(idx, bi * lq)

    def _attention_entry(idx, base):
        kt = kb[idx].T
        for r0 in range(0, lq, step):
            rows = slice(r0, min(lq, r0 + step))
            s = np.matmul(qb[idx][rows], kt, out=scores[idx][rows])
            sc = np.multiply(s, scale, out=scaled[idx][rows])
            mc = sc
            if has_mask:
                mc = masked[idx][rows]
                keep = _keep_rows(spec, mask, idx, rows, lk, batch)
                if keep is None:
                    np.copyto(mc, sc)
                else:
                    mc.fill(-np.inf)
                    np.copyto(mc, sc, where=keep)
                if addb is not None:
                    mc += addb[idx][rows]
                gone = np.all(mc == -np.inf, axis=-1)
                fully[idx][rows] = gone
            m = mc.max(axis=-1, keepdims=True)
            if has_mask:
                m[gone] = 0
            e = np.subtract(mc, m, out=weights[idx][rows])
            np.exp(e, out=e)
            total = e.sum(axis=-1, keepdims=True)
            if has_mask:
                total[gone] = 1  # rows with every key masked: weights 0, never 0/0
            e /= total
            np.matmul(e, vb[idx], out=result[idx][rows])
            yield base + rows.stop

    return scores, scaled, masked, weights, result, fully, chunks()


def _attention_compute(xp, inp, params):
    q, k, v = inp["Q"], inp["K"], inp["V"]
    refuse_keep_drop_mask(xp, "attention", inp.get("mask"))
    shapes = _attention_shapes({"Q": q.shape, "K": k.shape, "V": v.shape})
    if xp is np and _prod(shapes[1]):
        scores, scaled, masked, weights, result, fully = _attention_by_rows(
            q, k, v, params["scale"], params["mask"], inp.get("mask"), shapes)
        out = {"scores": scores, "scaled": scaled, "masked": masked, "weights": weights, "result": result}
        if fully is not None and int(fully.sum()):
            out["__notices__"] = (f"{int(fully.sum())} query row(s) have every key masked: their weights and "
                                  f"outputs are 0.",)
        return out
    kt = xp.swapaxes(k, -1, -2)
    shape = _attention_shapes({"Q": q.shape, "K": k.shape, "V": v.shape})[1]
    # The big intermediates come from the buffer pool: re-running on an edit reuses the last
    # run's pages instead of faulting in fresh ones (compute/buffers.py).
    scores = xp.matmul(q, kt, out=POOL.empty(xp, shape, xp.result_type(q, k)))
    scaled = xp.multiply(scores, params["scale"], out=POOL.empty(xp, shape, scores.dtype))
    masked, fully, _words = apply_mask(xp, scaled, params["mask"], inp.get("mask"))
    weights = masked_softmax(xp, masked, fully)
    result = xp.matmul(weights, v)
    out = {"scores": scores, "scaled": scaled, "masked": masked, "weights": weights, "result": result}
    if shape[-1] == 0 and shape[-2]:
        out["__notices__"] = ("There are no keys (K has 0 rows): every query's weights are empty and its output is 0.",)
    elif fully is not None:
        n = int(fully.sum())
        if n:
            out["__notices__"] = (f"{n} query row(s) have every key masked: their weights and outputs are 0.",)
    return out


def _attention_estimate(shapes, itemsize, params):
    _b, scores, out = _attention_shapes(shapes)
    return {"scores": _prod(scores) * itemsize, "scaled": _prod(scores) * itemsize,
            "masked": _prod(scores) * itemsize, "weights": _prod(scores) * itemsize * 2,
            "result": _prod(out) * itemsize}


def _fully_masked_text(run) -> str:
    fully = run.xp.all(run.tensor("masked") == -run.xp.inf, axis=-1)
    n = int(fully.sum())
    return f" — {n} row(s) have no key left: weights 0, output 0 (not NaN)" if n else ""


def _neg_inf_text(run) -> str:
    n = int((run.tensor("masked") == -run.xp.inf).sum())
    return f" — {n} of {_prod(run.shape('masked'))} entries are −∞"


def _shown_row(run) -> int:
    """The query row the captions follow: row 1 under a causal mask (it keeps one key and loses
    the rest, so the mask is visible in it), else row 0."""
    lq = run.shape("scores")[-2]
    return 1 if run.params.get("mask") == "causal" and lq > 1 else 0


def _row_text(run, name: str, lead: tuple, r: int, limit: int = 6) -> str:
    """Row ``r`` of ``name`` (after the ``lead`` batch index) as ``[0.5, −∞, …]``; a few entries only."""
    n = run.shape(name)[-1]
    a = run.host(name, lead + (r, slice(0, limit)))
    return fmt_list(a, limit=limit, count=n)


def _weighted_sum_text(run, wname: str, vname: str, lead_w: tuple, lead_v: tuple, r: int) -> str:
    """``"0.6×[1, 0] + 0.4×[0, 1]"``: output row ``r`` as the weighted sum of V's rows, when there are
    at most 4 keys of at most 4 values; else ``"Σ_j w[r, j]·V[j]"``."""
    lk, dv = run.shape(vname)[-2], run.shape(vname)[-1]
    if lk > 4 or dv > 4:
        return f"Σ_j {wname}[{r}, j]·{vname}[j]"
    w = run.host(wname, lead_w + (r,))
    return " + ".join(f"{term(w[j])}×{fmt_list(run.host(vname, lead_v + (j,)))}" for j in range(lk))


def _attention_stages(run, prefix=""):
    scale = run.params["scale"]
    q = run.shape("Q")
    has_mask = run.params.get("mask") is not None or "mask" in run.inputs
    effects = "; ".join(mask_effects(run.xp, run.params.get("mask"), run.inputs.get("mask")))
    sshape = run.shape("scores")
    lead = (0,) * (len(sshape) - 2)
    r = _shown_row(run)
    where = (f"batch {list(lead)}, " if lead else "") + f"row {r}"
    # Captions read single numbers and single rows only: nothing big leaves the device.
    scaled_t = masked_t = weights_t = result_t = ""
    if _prod(sshape):
        zero = (0,) * len(sshape)
        s00 = run.scalar("scores", zero)
        qrow = run.host("Q", (0,) * (len(q) - 2) + (0, slice(0, 4)))
        krow = run.host("K", (0,) * (len(run.shape("K")) - 2) + (0, slice(0, 4)))
        dot = fmt_sum_of_products(qrow, krow) + (f" + … ({q[-1]} terms)" if q[-1] > 4 else "")
        dot = (dot or "0 (d_k = 0: an empty sum)") + f" = {num(s00)}"
        scaled_t = f": scaled[0,0] = {term(s00)} × {num(scale)} = {num(run.scalar('scaled', zero))}"
        masked_t = f"; {where}: {_row_text(run, 'masked', lead, r)}"
        weights_t = f"; {where}: softmax({_row_text(run, 'masked', lead, r)}) = {_row_text(run, 'weights', lead, r)}"
        if _prod(run.shape("result")):
            vlead = (0,) * (len(run.shape("V")) - 2)
            result_t = (f"; {where}: {_weighted_sum_text(run, 'weights', 'V', lead, vlead, r)} = "
                        f"{_row_text(run, 'result', (0,) * (len(run.shape('result')) - 2), r)}")
    else:
        dot = "– (the scores are empty: no queries or no keys)"
    stages = [
        Stage("scores", ("scores",), ("Q", "K"), f"scores = Q Kᵀ {fmt_shape(sshape)}: "
                                                  f"scores[0,0] = Q[0]·K[0] = {dot}"),
        Stage("scaled", ("scaled",), ("scores",), f"scaled = scores × {num(scale)}"
              + (f" (1/√{q[-1]})" if abs(scale - 1 / math.sqrt(max(1, q[-1]))) < 1e-12 else "") + scaled_t),
        Stage("masked", ("masked",), ("scaled",) + (("mask",) if "mask" in run.inputs else ()),
              (f"masked: {effects}{_neg_inf_text(run)}" + _fully_masked_text(run) + masked_t) if has_mask
              else "masked = scaled (no mask)"),
        Stage("weights", ("weights",), ("masked",), "weights = softmax over the keys (each row sums to 1)"
              + weights_t),
        Stage("result", ("result",), ("weights", "V"), f"result = weights V {fmt_shape(run.shape('result'))}: "
                                                       f"each output row is a weighted average of V's rows"
                                                       + result_t),
    ]
    return stages


def _row_chunk_plan(run, names, chunk):
    """Steps over blocks of ``chunk`` query rows (per batch entry): the natural unit of chunked
    attention (same time as the whole matrix, a fraction of the memory)."""
    xp = run.xp
    scores_shape = run.shape("scores")
    batch, lq = scores_shape[:-2], scores_shape[-2]
    nchunks = max(1, math.ceil(lq / chunk))
    total = _prod(batch) * nchunks
    lin_cache = {}

    def decode(n):
        b, c = divmod(n, nchunks)
        bidx = tuple(int(i) for i in np.unravel_index(b, batch)) if batch else ()
        return bidx, (c * chunk, min(lq, (c + 1) * chunk))

    def step(n):
        bidx, (r0, r1) = decode(n)
        regions = []
        for name in names:
            shp = run.shape(name)
            box = tuple((i, i + 1) for i in bidx[len(bidx) - (len(shp) - 2):]) if len(shp) > 2 else ()
            box = tuple((0, 1) if s == 1 else bb for s, bb in zip(shp[:-2], box))
            regions.append(Region(name, "write", box + ((r0, r1), (0, shp[-1]))))
        rows = f"row {r0}" if r1 - r0 == 1 else f"rows {r0}..{r1 - 1}" if r1 > r0 else "(none: Lq = 0)"
        where = f"batch {list(bidx)} · " if bidx else ""
        caption = f"{where}queries {rows}: scores → mask → softmax → weighted sum of V"
        if scores_shape[-1] and r1 > r0 and _prod(run.shape("result")):  # the first row it writes, in numbers
            rlead = bidx[len(bidx) - (len(run.shape("result")) - 2):] if len(run.shape("result")) > 2 else ()
            caption += (f"{':' if r1 - r0 == 1 else f'; row {r0}:'} weights {_row_text(run, 'weights', bidx, r0)} "
                        f"→ result {_row_text(run, 'result', rlead, r0)}")
        return StepContent("tile", caption, {}, tuple(regions))

    def state(name, n):
        if n >= total - 1:
            return FULL
        shp = run.shape(name)
        if "lin" not in lin_cache:
            lin_cache["lin"] = grid_linear_index(xp, tuple(batch) + (lq, 1), (1,) * len(batch) + (chunk, 1))
        lin = lin_cache["lin"]
        final = run.tensor(name)
        return xp.where(lin <= n, final, xp.nan) if tuple(shp[:-1]) == tuple(batch) + (lq,) else FULL

    def rows_needed(n):
        """Query rows (batch entries flattened, ``b·Lq + r1``) step ``n`` reveals up to: what a
        progressive run must have finished before the step can be shown."""
        b, c = divmod(n, nchunks)
        return b * lq + min(lq, (c + 1) * chunk)

    def reveal_order(name):
        """The chunk writing each query row (broadcast along the last axis): frames of any size
        are then built from display pixels, never a ``where`` over a whole (heads, Lq, Lk) tensor."""
        if name not in names or tuple(run.shape(name)[:-1]) != tuple(batch) + (lq,):
            return None
        if "lin" not in lin_cache:
            lin_cache["lin"] = grid_linear_index(xp, tuple(batch) + (lq, 1), (1,) * len(batch) + (chunk, 1))
        return lin_cache["lin"]

    plan = FuncPlan(total, step, state, tuple(names))
    plan.options = {"tile": (chunk, scores_shape[-1])}
    plan.rows_needed = rows_needed
    plan.reveal_order = reveal_order
    return plan


def _attention_progressive(inputs, params, granularity):
    """The :class:`~compute.progressive.Panels` of attention's ``tile`` steps: the CPU path's own
    chunks of query rows (:func:`_attention_chunks`), so the outputs are bitwise the eager run's.

    Other granularities return None (computed eagerly): the stage steps each reveal a whole tensor,
    and their captions read values of the finished run.
    """
    from ..progressive import Panels

    if granularity != "tile":
        return None
    q, k, v = inputs["Q"], inputs["K"], inputs["V"]
    refuse_keep_drop_mask(np, "attention", inputs.get("mask"))  # refused now, not in the worker
    shapes = _attention_shapes({"Q": q.shape, "K": k.shape, "V": v.shape})
    if not _prod(shapes[1]) or not _prod(shapes[2]):
        return None
    scores, scaled, masked, weights, result, fully, chunks = _attention_chunks(
        q, k, v, params["scale"], params["mask"], inputs.get("mask"), shapes)
    batch, sshape = shapes[0], shapes[1]
    total = _prod(batch) * sshape[-2]
    notices: list[str] = []

    def run_chunks():
        yield from chunks
        if fully is not None and int(fully.sum()):
            notices.append(f"{int(fully.sum())} query row(s) have every key masked: their weights and "
                           f"outputs are 0.")

    def need(plan, n: int) -> int:
        rows = getattr(plan, "rows_needed", None)
        return total if rows is None else rows(n)

    outputs = {"scores": scores, "scaled": scaled, "masked": masked, "weights": weights, "result": result}
    return Panels(outputs, total, run_chunks(), need, notices)


def _attention_plan(run, granularity, options):
    if granularity == "tile":
        chunk = (options.get("tile") or (None,))[0] or max(1, math.ceil(run.shape("scores")[-2] * _prod(
            run.shape("scores")[:-2]) / 256))
        return _row_chunk_plan(run, ("scores", "scaled", "masked", "weights", "result"), chunk)
    return StagePlan(run, _attention_stages(run))


def _attention_example():
    rng = np.random.default_rng(0)
    return {"Q": rng.standard_normal((4, 3)).round(2), "K": rng.standard_normal((4, 3)).round(2),
            "V": rng.standard_normal((4, 3)).round(2)}


register(OpSpec(
    name="attention", group="Attention",
    doc="Scaled dot-product attention softmax(Q Kᵀ · scale + mask) V; batch/head axes broadcast.",
    inputs=(Input("Q", "(…, Lq, d_k)"), Input("K", "(…, Lk, d_k)"), Input("V", "(…, Lk, d_v)"),
            Input("mask", "bool (True = keep) or additive float, broadcast to (…, Lq, Lk)", optional=True)),
    params=(Param("mask", "mask", None, "None, 'causal' or key lengths per batch (padding)"),
            Param("scale", "float", None, "multiplies the scores (default 1/√d_k)")),
    outputs=("scores", "scaled", "masked", "weights", "result"), granularities=("tile", "stage"),
    check=_attention_check, estimate=_attention_estimate, compute=_attention_compute, plan=_attention_plan,
    flops=lambda s, p: 2 * _prod(_attention_shapes(s)[1]) * (s["Q"][-1] + s["V"][-1]) + 5 * _prod(
        _attention_shapes(s)[1]),
    example=_attention_example,
    extra={"order": 1, "mask_inputs": ("mask",), "prefer": ("stage",), "progressive": _attention_progressive},
))


# --- multi-head attention -----------------------------------------------------------------------
def _mha_sources(shapes):
    if "X" in shapes and any(n in shapes for n in ("query", "key", "value")):
        raise ShapeError("mha: give either X (self-attention) or query/key/value (cross-attention), not both.")
    if "X" in shapes:
        return shapes["X"], shapes["X"], shapes["X"]
    if "query" not in shapes:
        raise ShapeError("mha: missing input X (self-attention) or query (cross-attention).")
    q = shapes["query"]
    k = shapes.get("key", q)
    v = shapes.get("value", k)
    return q, k, v


def _mha_shapes(shapes, num_heads):
    sq, sk, sv = _mha_sources(shapes)
    for n, s in (("query", sq), ("key", sk), ("value", sv)):
        if len(s) < 2:
            raise ShapeError(f"mha: {n} {fmt_shape(s)} must be (…, sequence, features).")
    proj = {}
    for w, src, name in (("W_q", sq, "query"), ("W_k", sk, "key"), ("W_v", sv, "value")):
        sw = shapes[w]
        if len(sw) != 2 or sw[0] != src[-1]:
            raise ShapeError(f"mha: {w} {fmt_shape(sw)} must be (in_features = {src[-1]}, d_model): "
                             f"Q/K/V = input @ W, and the {name} input {fmt_shape(src)} has {src[-1]} features.")
        proj[w] = sw[1]
    d = proj["W_q"]
    if proj["W_k"] != d:
        raise ShapeError(f"mha: W_q gives d_model {d} but W_k gives {proj['W_k']}: queries and keys must have the "
                         f"same width to be dotted.")
    dv = proj["W_v"]
    for n, dim in (("d_model", d), ("value width", dv)):
        if dim % num_heads:
            raise ShapeError(f"mha: {n} {dim} is not divisible by num_heads {num_heads}: heads split the last "
                             f"axis into equal parts (try num_heads in "
                             f"{[h for h in range(1, dim + 1) if dim % h == 0]}).")
    for b, n in (("b_q", d), ("b_k", d), ("b_v", dv)):
        if b in shapes and tuple(shapes[b]) != (n,):
            raise ShapeError(f"mha: {b} {fmt_shape(shapes[b])} must be ({n},).")
    so = shapes["W_o"]
    if len(so) != 2 or so[0] != dv:
        raise ShapeError(f"mha: W_o {fmt_shape(so)} must be ({dv}, d_out): result = concat(heads) @ W_o.")
    if "b_o" in shapes and tuple(shapes["b_o"]) != (so[1],):
        raise ShapeError(f"mha: b_o {fmt_shape(shapes['b_o'])} must be ({so[1]},).")
    if sk[-2] != sv[-2]:
        raise ShapeError(f"mha: key {fmt_shape(sk)} and value {fmt_shape(sv)} must have the same sequence length.")
    batch = broadcast_shapes("mha", broadcast_shapes("mha", sq[:-2], sk[:-2], "query batch", "key batch"),
                             sv[:-2], "query/key batch", "value batch")
    h = num_heads
    scores = batch + (h, sq[-2], sk[-2])
    return {"batch": batch, "scores": scores, "d": d, "dv": dv, "out": batch + (sq[-2], so[1]),
            "Q": sq[:-1] + (d,), "K": sk[:-1] + (d,), "V": sv[:-1] + (dv,)}


def mha_output_shapes(shapes, num_heads: int) -> dict[str, tuple[int, ...]]:
    """Every output's shape, in the order :func:`_mha_stages` makes them (shapes already checked)."""
    info = _mha_shapes(shapes, num_heads)
    batch, sq = info["batch"], info["scores"][-2]
    return {"Q": info["Q"], "K": info["K"], "V": info["V"], "scores": info["scores"], "weights": info["scores"],
            "heads": batch + (num_heads, sq, info["dv"] // num_heads), "concat": batch + (sq, info["dv"]),
            "result": info["out"]}


def _mha_check(shapes, params):
    h = params.get("num_heads")  # its kind (an int ≥ 1) was checked by Param.validate
    info = _mha_shapes(shapes, h)
    spec = parse_mask_param("mha", params.get("mask"))
    check_mask("mha", spec, shapes.get("mask"), info["scores"], info["scores"][-1], nbatch=len(info["batch"]))
    return {**params, "num_heads": h, "mask": spec}


def split_heads(xp, t, h):
    """(…, S, H·dh) → (…, H, S, dh): head j takes columns j·dh … (j+1)·dh − 1."""
    s = t.shape
    return xp.moveaxis(t.reshape(s[:-1] + (h, s[-1] // h)), -2, -3)


def _mha_compute(xp, inp, params):
    *_, last = _mha_stages(xp, inp, params)  # run every stage; the last yield holds all outputs
    return last


#: Scores (elements) one unit of multi-head attention's scores, softmax and head-output stages
#: covers: about 64 MiB of float32, so a unit takes ~0.1–0.3 s on one core here and a cancelled
#: progressive run stops within that; a lesson's few heads are one unit.
MHA_CHUNK_ELEMENTS = 1 << 24


def mha_head_chunks(scores_shape) -> list[tuple[int, int]]:
    """Head ranges ``(j0, j1)`` the scores (batch…, heads, Sq, Sk) are computed in."""
    h = int(scores_shape[-3])
    per_head = _prod(scores_shape[:-3]) * int(scores_shape[-2]) * int(scores_shape[-1])
    size = max(1, min(h, MHA_CHUNK_ELEMENTS // max(1, per_head)))
    return [(j, min(h, j + size)) for j in range(0, h, size)]


def mha_units(scores_shape) -> tuple[tuple[str, ...], ...]:
    """The outputs each unit of :func:`_mha_stages` finishes, in order: Q, K and V one unit each,
    then the scores, the weights and the head outputs a unit per chunk of heads (finished by its
    stage's last unit), the concat and the result."""
    rest = ((),) * (len(mha_head_chunks(scores_shape)) - 1)
    return ((("Q",), ("K",), ("V",)) + rest + (("scores",),) + rest + (("weights",),) + rest + (("heads",),)
            + (("concat",), ("result",)))


def _mha_stages(xp, inp, params, out=None):
    """Multi-head attention one unit of :func:`mha_units` per ``next()``, yielding the outputs so
    far after each; the last yield holds them all (and ``__notices__`` when rows are fully masked).

    The scores, the softmax and the head outputs go a chunk of heads at a time
    (:func:`mha_head_chunks`): each head's products and each row's softmax are the same calls
    whatever the chunk, and the masking temporaries are a chunk's, not the whole scores'. ``out``:
    preallocated arrays of every output (a progressive run's, numpy) to write into; None
    allocates them here. Both run this same code, so the numbers are bitwise the same.
    """
    h = params["num_heads"]
    refuse_keep_drop_mask(xp, "mha", inp.get("mask"))
    if "X" in inp:
        xq = xk = xv = inp["X"]
    else:
        xq = inp["query"]
        xk = inp.get("key", xq)
        xv = inp.get("value", xk)
    res = {}

    def proj(x, w, b, name):
        y = xp.matmul(x, inp[w], out=None if out is None else out[name])
        if b in inp:
            y += inp[b]  # as y + b, in place: y is this call's own
        res[name] = y
        return y

    q = proj(xq, "W_q", "b_q", "Q")
    yield res
    k = proj(xk, "W_k", "b_k", "K")
    yield res
    v = proj(xv, "W_v", "b_v", "V")
    yield res
    qh, kh, vh = split_heads(xp, q, h), split_heads(xp, k, h), split_heads(xp, v, h)
    dh = qh.shape[-1]
    scale = 1.0 / math.sqrt(dh) if dh else 1.0
    kt = xp.swapaxes(kh, -1, -2)
    shape = np.broadcast_shapes(qh.shape[:-2], kt.shape[:-2]) + (qh.shape[-2], kt.shape[-1])
    dtype = xp.result_type(qh, kh)
    scores = POOL.empty(xp, shape, dtype) if out is None else out["scores"]
    chunks = mha_head_chunks(shape)
    lead = shape[:-3]
    qb, kb = xp.broadcast_to(qh, lead + qh.shape[-3:]), xp.broadcast_to(kt, lead + kt.shape[-3:])
    for j0, j1 in chunks:
        part = scores[..., j0:j1, :, :]
        xp.matmul(qb[..., j0:j1, :, :], kb[..., j0:j1, :, :], out=part)
        part *= scale
        res["scores"] = scores
        yield res
    weights = POOL.empty(xp, shape, dtype) if out is None else out["weights"]
    masked_rows = 0
    for j0, j1 in chunks:
        m = inp.get("mask")
        if m is not None and m.ndim >= 3 and m.shape[-3] != 1:  # a mask per head: this chunk's heads
            m = m[..., j0:j1, :, :]
        # The scores are (batch…, heads, Sq, Sk): only the input's batch axes are batch axes for padding.
        masked, fully, _w = apply_mask(xp, scores[..., j0:j1, :, :], params["mask"], m, nbatch=len(shape) - 3)
        masked_softmax(xp, masked, fully, weights[..., j0:j1, :, :])
        if fully is not None:
            masked_rows += int(fully.sum())
        res["weights"] = weights
        yield res
    hshape = lead + (h, shape[-2], vh.shape[-1])
    heads = xp.empty(hshape, dtype) if out is None else out["heads"]
    vb = xp.broadcast_to(vh, lead + vh.shape[-3:])
    for j0, j1 in chunks:
        xp.matmul(weights[..., j0:j1, :, :], vb[..., j0:j1, :, :], out=heads[..., j0:j1, :, :])
        res["heads"] = heads
        yield res
    hm = xp.moveaxis(heads, -3, -2)
    if out is None:
        concat = xp.ascontiguousarray(hm).reshape(hm.shape[:-2] + (hm.shape[-2] * hm.shape[-1],))
    else:
        concat = out["concat"]
        np.copyto(concat.reshape(hm.shape), hm)
    res["concat"] = concat
    yield res
    result = xp.matmul(concat, inp["W_o"], out=None if out is None else out["result"])
    if "b_o" in inp:
        result += inp["b_o"]
    res["result"] = result
    if masked_rows:
        res["__notices__"] = (f"{masked_rows} (head, query) row(s) have every key masked: weights and "
                              f"outputs 0.",)
    yield res


def _mha_progressive(inputs, params, granularity):
    """The :class:`~compute.progressive.Panels` of multi-head attention's stage steps: the units of
    :func:`_mha_stages` (the eager path's own code), each publishing the outputs it finishes, so
    the projections are on screen while the scores and the softmax are computed, and a cancel
    stops within one chunk of heads."""
    from ..progressive import Panels

    sizes = mha_output_shapes({k: tuple(a.shape) for k, a in inputs.items()}, int(params["num_heads"]))
    dtype = np.result_type(*[inputs[w] for w in ("W_q", "W_k", "W_v", "W_o")])
    if not all(_prod(s) for s in sizes.values()):
        return None  # empty tensors: computed eagerly, in no time
    outputs = {k: np.empty(s, dtype) for k, s in sizes.items()}
    units = mha_units(sizes["scores"])
    # Stage n of the plan (project, scores, weights, heads, concat, output) is whole once the
    # unit finishing its last output is done.
    ends = [i + 1 for i, done in enumerate(units) if done and done[-1] in ("V", "scores", "weights", "heads",
                                                                           "concat", "result")]
    notices: list[str] = []

    def run_units():
        for i, res in enumerate(_mha_stages(np, inputs, params, outputs), start=1):
            notices[:] = list(res.get("__notices__", ()))
            yield i

    return Panels(outputs, len(units), run_units(), lambda plan, n: ends[min(n, len(ends) - 1)], notices,
                  stages=units)


#: Heads whose numbers an MHA caption writes out; more heads are counted, not listed.
MHA_HEADS = 4
#: Heads whose score formula (a dot product each) an MHA caption writes out.
MHA_FORMULAS = 2


def _mha_plan(run, granularity, options):
    h = run.params["num_heads"]
    src = ("X",) if "X" in run.inputs else tuple(n for n in ("query", "key", "value") if n in run.inputs)
    d = run.shape("Q")[-1]
    dh = d // h
    sshape = run.shape("scores")
    nb = len(sshape) - 3  # batch axes before (heads, Sq, Sk)
    lead = (0,) * nb
    numbers = bool(_prod(sshape) and _prod(run.shape("result")) and dh)
    heads = range(min(h, MHA_HEADS))
    more = f"; … ({h} heads)" if h > MHA_HEADS else ""
    xname = "X" if "X" in run.inputs else "query"
    qlead = (0,) * (len(run.shape("Q")) - 2)

    # Each stage's numbers are read when its step is built, never when the plan is made: a
    # progressive run plans before its stages are computed. Row 0 of every head (the first few),
    # each number indexed on the device.
    def project():
        xrow = run.host(xname, (0,) * (len(run.shape(xname)) - 2) + (0, slice(0, 4)))
        wcol = run.host("W_q", (slice(0, 4), 0))
        kin = run.shape(xname)[-1]
        dot = fmt_sum_of_products(xrow, wcol) + (f" + … ({kin} terms)" if kin > 4 else "")
        return f": Q[0,0] = {xname}[0]·W_q[:,0] = {dot} = {num(run.scalar('Q', qlead + (0, 0)))}"

    def scores():
        parts = []
        for j in range(min(h, MHA_FORMULAS)):
            qh = run.host("Q", qlead + (0, slice(j * dh, j * dh + min(dh, 4))))
            kh = run.host("K", (0,) * (len(run.shape("K")) - 2) + (0, slice(j * dh, j * dh + min(dh, 4))))
            dotj = fmt_sum_of_products(qh, kh) + (f" + … ({dh} terms)" if dh > 4 else "")
            parts.append(f"head {j}: scores[{j},0,0] = ({dotj}) / √{dh} = "
                         f"{num(run.scalar('scores', lead + (j, 0, 0)))}")
        return "; " + "; ".join(parts) + (f"; … ({h} heads)" if h > MHA_FORMULAS else "")

    def rows(name):
        return "; " + "; ".join(f"head {j} row 0: {_row_text(run, name, lead + (j,), 0)}" for j in heads) + more

    def concat():
        return f"; row 0: {_row_text(run, 'concat', (0,) * (len(run.shape('concat')) - 2), 0, limit=8)}"

    def output():
        crow = run.host("concat", (0,) * (len(run.shape("concat")) - 2) + (0, slice(0, 4)))
        ocol = run.host("W_o", (slice(0, 4), 0))
        dv = run.shape("concat")[-1]
        odot = fmt_sum_of_products(crow, ocol) + (f" + … ({dv} terms)" if dv > 4 else "")
        bias = f" + {term(run.scalar('b_o', (0,)))}" if "b_o" in run.inputs else ""
        return (f": result[0,0] = concat[0]·W_o[:,0]{' + b_o[0]' if bias else ''} = {odot}{bias} = "
                f"{num(run.scalar('result', (0,) * len(run.shape('result'))))}")

    def caption(head: str, numbers_text):
        return lambda: head + (numbers_text() if numbers else "")

    effects = "".join(f"; {e}" for e in mask_effects(run.xp, run.params.get("mask"), run.inputs.get("mask")))
    stages = [
        Stage("project", ("Q", "K", "V"), src + ("W_q", "W_k", "W_v"),
              caption(f"Q = X W_q, K = X W_k, V = X W_v {fmt_shape(run.shape('Q'))}" if "X" in run.inputs
                      else "Q = query W_q, K = key W_k, V = value W_v", project)),
        Stage("scores", ("scores",), ("Q", "K"),
              caption(f"scores = Qₕ Kₕᵀ / √{dh} {fmt_shape(sshape)}, {h} heads of {dh} columns "
                      f"(head j = columns {dh}j…{dh}j+{dh - 1})", scores)),
        Stage("weights", ("weights",), ("scores",) + (("mask",) if "mask" in run.inputs else ()),
              caption("weights = softmax over the keys per head, each row sums to 1" + effects,
                      lambda: rows("weights"))),
        Stage("heads", ("heads",), ("weights", "V"),
              caption(f"head outputs = weights Vₕ {fmt_shape(run.shape('heads'))}", lambda: rows("heads"))),
        Stage("concat", ("concat",), ("heads",),
              caption(f"concat: heads side by side again {fmt_shape(run.shape('concat'))}", concat)),
        Stage("output", ("result",), ("concat", "W_o"),
              caption(f"result = concat W_o{' + b_o' if 'b_o' in run.inputs else ''} "
                      f"{fmt_shape(run.shape('result'))}", output)),
    ]
    return StagePlan(run, stages)


def _mha_estimate(shapes, itemsize, params):
    info = _mha_shapes(shapes, int(params["num_heads"]))
    return {"scores": _prod(info["scores"]) * itemsize * 3, "projections": 3 * _prod(info["Q"]) * itemsize,
            "heads": _prod(info["Q"]) * itemsize * 3}


def _mha_flops(shapes, params):
    info = _mha_shapes(shapes, int(params["num_heads"]))
    sq, sk, sv = _mha_sources(shapes)
    proj = 2 * (_prod(sq[:-1]) * sq[-1] * info["d"] + _prod(sk[:-1]) * sk[-1] * info["d"]
                + _prod(sv[:-1]) * sv[-1] * info["dv"])
    att = 2 * _prod(info["scores"]) * (info["d"] + info["dv"]) // int(params["num_heads"])
    return proj + att + 2 * _prod(info["out"]) * info["dv"]


def _mha_example():
    rng = np.random.default_rng(1)
    d = 8
    return {"X": rng.standard_normal((4, d)).round(2),
            **{w: (rng.standard_normal((d, d)) / math.sqrt(d)).round(2) for w in ("W_q", "W_k", "W_v", "W_o")}}


register(OpSpec(
    name="mha", group="Attention",
    doc="Multi-head attention: project Q, K, V; split heads from the last axis; attend per head; concat; W_o.",
    inputs=(Input("X", "(…, S, d_in) for self-attention", optional=True),
            Input("query", "cross-attention queries", optional=True), Input("key", optional=True),
            Input("value", optional=True),
            Input("W_q", "(d_in, d_model)"), Input("W_k", "(d_in, d_model)"), Input("W_v", "(d_in, d_model)"),
            Input("W_o", "(d_model, d_out)"),
            Input("b_q", optional=True), Input("b_k", optional=True), Input("b_v", optional=True),
            Input("b_o", optional=True), Input("mask", "bool or additive, broadcast to (…, H, Sq, Sk)", optional=True)),
    params=(Param("num_heads", "int", 2, "heads (must divide d_model)", minimum=1),
            Param("mask", "mask", None, "None, 'causal' or key lengths per batch (padding)")),
    outputs=("Q", "K", "V", "scores", "weights", "heads", "concat", "result"), granularities=("stage",),
    check=_mha_check, estimate=_mha_estimate, compute=_mha_compute, plan=_mha_plan, flops=_mha_flops,
    example=_mha_example, extra={"order": 2, "mask_inputs": ("mask",), "progressive": _mha_progressive},
))
