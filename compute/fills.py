"""Generated tensors for the matrix editor's Fill menu, and the editor's shape / dtype helpers.

Everything here is plain numpy (the editor's tensors live on the host) and Qt-free. Sizes are
checked against the memory budget *before* anything is allocated (ARCHITECTURE.md §6).
"""

from __future__ import annotations

import math

import numpy as np

from .budget import check_budget
from .errors import InputError
from .text_parse import format_value

__all__ = [
    "FILL_KINDS", "MASK_KINDS", "MAX_NDIM", "astype_checked", "canonical_kind", "fill", "input_seed", "normalize_shape",
    "resize",
]

#: The kinds :func:`fill` makes, in the order a menu lists them.
FILL_KINDS = ("zeros", "ones", "identity", "arange", "normal", "uniform", "causal", "padding", "constant")
#: Kinds whose result is always ``bool``.
MASK_KINDS = frozenset({"causal", "padding"})
#: Most dimensions a generated tensor may have.
MAX_NDIM = 32

_ALIASES = {
    "zero": "zeros", "one": "ones", "eye": "identity", "range": "arange",
    "random_normal": "normal", "randn": "normal", "gaussian": "normal",
    "random_uniform": "uniform", "rand": "uniform",
    "causal_mask": "causal", "tril": "causal", "padding_mask": "padding", "pad": "padding",
    "full": "constant", "value": "constant",
}


def canonical_kind(kind: str) -> str:
    """``"Random normal"`` -> ``"normal"``; refuses unknown kinds with :class:`InputError`."""
    key = str(kind).strip().lower().replace(" ", "_").replace("-", "_")
    key = _ALIASES.get(key, key)
    if key not in FILL_KINDS:
        raise InputError(f"unknown fill {kind!r}; choose one of: {', '.join(FILL_KINDS)}")
    return key


def normalize_shape(shape) -> tuple[int, ...]:
    """``shape`` as a tuple of non-negative Python ints, or :class:`InputError` saying what is wrong."""
    if isinstance(shape, (int, np.integer)) and not isinstance(shape, (bool, np.bool_)):
        shape = (shape,)
    try:
        items = list(shape)
    except TypeError:
        raise InputError(f"shape must be a tuple of integers, got {shape!r}") from None
    if len(items) > MAX_NDIM:
        raise InputError(f"shape {tuple(items)} has {len(items)} dimensions; at most {MAX_NDIM} are supported")
    out = []
    for axis, n in enumerate(items):
        if isinstance(n, (bool, np.bool_)) or not isinstance(n, (int, np.integer)):
            raise InputError(f"shape {tuple(items)}: axis {axis} has size {n!r}, which is not an integer")
        if n < 0:
            raise InputError(f"shape {tuple(items)}: axis {axis} has negative size {n}")
        out.append(int(n))
    return tuple(out)


def _check_dtype(dtype) -> np.dtype:
    try:
        dt = np.dtype(dtype)
    except TypeError as exc:
        raise InputError(f"unknown dtype {dtype!r}") from exc
    if dt.kind not in "biuf":
        raise InputError(f"dtype {dt} is not supported: use a float, integer or bool dtype")
    return dt


def _nbytes(shape: tuple[int, ...], itemsize: int) -> int:
    # Python ints: a product of large sizes must not wrap around as int64 would.
    return math.prod(shape) * itemsize


def fill(kind, shape, *, seed=None, value=None, lengths=None, low=0.0, high=1.0, dtype=np.float64) -> np.ndarray:
    """A new tensor of ``shape`` filled by ``kind``.

    Parameters
    ----------
    kind : str
        One of :data:`FILL_KINDS` (aliases such as ``"random normal"``, ``"eye"`` or ``"causal mask"``
        are accepted):

        ``zeros``, ``ones``, ``constant`` (needs ``value``);
        ``identity``: ones on the diagonal of the last two axes (rectangular allowed), repeated over
        leading (batch) axes; needs at least 2 axes;
        ``arange``: ``low, low + 1, ...`` in C order;
        ``normal``: standard normal samples; ``uniform``: samples in ``[low, high)``;
        ``causal``: bool, ``True`` on and below the diagonal of the last two axes (row ``i`` may
        attend to columns ``<= i``, as ``torch.tril``), batched; needs at least 2 axes;
        ``padding``: bool of shape ``(B, L)``, row ``b`` ``True`` at positions ``< lengths[b]``.
    shape : tuple of int
        Non-negative sizes.
    seed : int, optional
        Seed of the ``numpy.random.Generator`` for ``normal``/``uniform``: the same seed gives the
        same numbers. ``None`` draws fresh entropy.
    value : float, optional
        The value of ``constant``.
    lengths : int or sequence of int, optional
        Valid lengths for ``padding``, one per row (or one for all rows), each in ``[0, L]``. By
        default row ``b`` has length ``max(L - b, 1)``: a staircase that shows what padding does.
    low, high : float
        Start of ``arange``; bounds of ``uniform``.
    dtype : numpy dtype-like
        dtype of the result; ignored by the mask kinds, which are always ``bool``.

    Returns
    -------
    numpy.ndarray
        C-contiguous and writable.

    Raises
    ------
    InputError
        Unknown kind, bad shape or dtype, missing/bad parameters.
    BudgetError
        When the tensor would not fit in the memory budget (checked before allocating).
    """
    kind = canonical_kind(kind)
    shape = normalize_shape(shape)
    dt = np.dtype(np.bool_) if kind in MASK_KINDS else _check_dtype(dtype)
    nbytes = _nbytes(shape, dt.itemsize)
    if kind in ("normal", "uniform", "arange"):
        nbytes += _nbytes(shape, 8)  # generated in float64, then converted
    check_budget(f"fill {kind}", {"fill": nbytes})

    if kind == "zeros":
        return np.zeros(shape, dtype=dt)
    if kind == "ones":
        return np.ones(shape, dtype=dt)
    if kind == "constant":
        if value is None:
            raise InputError("fill 'constant' needs a value")
        try:
            v = float(value)
        except (TypeError, ValueError):
            raise InputError(f"fill 'constant': {value!r} is not a number") from None
        if dt.kind in "iub" and not (math.isfinite(v) and v == int(v)):
            raise InputError(f"fill 'constant': {format_value(v)} cannot be stored exactly as {dt.name}")
        return np.full(shape, v, dtype=dt)
    if kind == "identity":
        _need_matrix(kind, shape)
        eye = np.eye(shape[-2], shape[-1], dtype=dt)
        # A copy, not ascontiguousarray: a broadcast view that is already contiguous (no batch
        # axes) would come back read-only.
        return np.broadcast_to(eye, shape).copy()
    if kind == "causal":
        _need_matrix(kind, shape)
        tri = np.tri(shape[-2], shape[-1], dtype=np.bool_)
        return np.broadcast_to(tri, shape).copy()
    if kind == "padding":
        return _padding(shape, lengths)
    if kind == "arange":
        try:
            start = float(low)
        except (TypeError, ValueError):
            raise InputError(f"fill 'arange': start {low!r} is not a number") from None
        return (np.arange(math.prod(shape), dtype=np.float64) + start).reshape(shape).astype(dt)
    rng = np.random.default_rng(seed)
    if kind == "normal":
        return rng.standard_normal(shape).astype(dt)
    # uniform
    try:
        lo, hi = float(low), float(high)
    except (TypeError, ValueError):
        raise InputError(f"fill 'uniform': bounds {low!r}, {high!r} are not numbers") from None
    if not (math.isfinite(lo) and math.isfinite(hi)) or lo > hi:
        raise InputError(f"fill 'uniform': need finite bounds with low <= high, got [{lo}, {hi})")
    return rng.uniform(lo, hi, shape).astype(dt)


def input_seed(index: int, base: int = 0) -> int:
    """The seed the ``index``-th input of an operation starts with: ``base + index``.

    With one seed for every input, a random fill of A and then of B drew the same numbers, so
    ``A @ B`` was silently ``A @ A`` (and ``Q Kᵀ`` a symmetric matrix). Distinct seeds per input keep
    every fill reproducible (the same seed still gives the same numbers) and the seed box readable.
    """
    index, base = int(index), int(base)
    if index < 0:
        raise InputError(f"input index must be >= 0, not {index}")
    return base + index


def _need_matrix(kind: str, shape: tuple[int, ...]) -> None:
    if len(shape) < 2:
        raise InputError(
            f"fill '{kind}' needs at least 2 axes (…, rows, columns); shape {shape} has {len(shape)}"
        )


def _padding(shape: tuple[int, ...], lengths) -> np.ndarray:
    if len(shape) != 2:
        raise InputError(f"a padding mask has shape (batch, length); shape {shape} has {len(shape)} axes")
    b, length = shape
    if lengths is None:
        lens = np.array([max(length - i, min(length, 1)) for i in range(b)], dtype=np.int64)
    else:
        if isinstance(lengths, (int, np.integer)):
            lengths = [int(lengths)] * b
        try:
            lens = np.array([int(x) for x in lengths], dtype=np.int64)
        except (TypeError, ValueError):
            raise InputError(f"padding lengths must be integers, got {lengths!r}") from None
        if lens.shape != (b,):
            raise InputError(f"padding mask: {lens.size} lengths given for a batch of {b}")
        bad = np.flatnonzero((lens < 0) | (lens > length))
        if bad.size:
            i = int(bad[0])
            raise InputError(f"padding mask: length {lens[i]} of row {i} is outside [0, {length}]")
    return np.arange(length)[None, :] < lens[:, None]


# --------------------------------------------------------------------------------- editor helpers


def resize(array: np.ndarray, shape) -> np.ndarray:
    """A copy of ``array`` changed to ``shape`` (same number of axes): growing pads with zeros
    (``False`` for bool), shrinking crops; the overlapping corner keeps its values.

    Raises
    ------
    InputError
        When the number of axes differs or the shape is bad.
    BudgetError
        When the result would not fit the memory budget.
    """
    a = np.asarray(array)
    shape = normalize_shape(shape)
    if len(shape) != a.ndim:
        raise InputError(f"resize keeps the number of axes: {a.shape} has {a.ndim}, {shape} has {len(shape)}")
    check_budget("resize", {"fill": _nbytes(shape, a.dtype.itemsize)})
    out = np.zeros(shape, dtype=a.dtype)
    common = tuple(slice(0, min(n, m)) for n, m in zip(shape, a.shape))
    out[common] = a[common]
    return out


def astype_checked(array: np.ndarray, dtype) -> tuple[np.ndarray, str]:
    """``array`` converted to ``dtype``, with a message saying what changed (``""`` if nothing did).

    The conversion always happens (the user asked for it); the message tells them which values
    were altered so that the change is never silent, e.g. ``"3 values were rounded toward zero"``,
    ``"2 NaN/inf became 0"`` or ``"5 values became True"``.

    Raises
    ------
    InputError
        For unsupported dtypes.
    """
    a = np.asarray(array)
    dt = _check_dtype(dtype)
    check_budget("convert", {"fill": _nbytes(a.shape, dt.itemsize)})
    notes: list[str] = []
    if a.dtype == dt:
        return a.copy(), ""
    src = a.astype(np.float64) if a.dtype.kind in "iub" else a
    finite = np.isfinite(src)
    if dt.kind == "b":
        changed = int(np.count_nonzero((src != 0) & (src != 1) & ~np.isnan(src)))
        nans = int(np.count_nonzero(np.isnan(src)))
        if changed:
            notes.append(f"{changed} value{'s' if changed != 1 else ''} other than 0/1 became True")
        if nans:
            notes.append(f"{nans} NaN became True")
        return a.astype(dt), "; ".join(notes)
    if dt.kind in "iu":
        info = np.iinfo(dt)
        bad = int(np.count_nonzero(~finite))
        frac = int(np.count_nonzero(finite & (src != np.trunc(np.where(finite, src, 0)))))
        over = int(np.count_nonzero(finite & ((src < info.min) | (src > info.max))))
        safe = np.where(finite, np.clip(np.trunc(np.where(finite, src, 0)), info.min, info.max), 0)
        out = safe.astype(dt)
        if frac:
            notes.append(f"{frac} non-integer value{'s were' if frac != 1 else ' was'} rounded toward zero")
        if over:
            were = "s were" if over != 1 else " was"
            notes.append(f"{over} value{were} outside {dt.name}'s range and clipped")
        if bad:
            notes.append(f"{bad} NaN/inf became 0")
        return out, "; ".join(notes)
    # float target
    with np.errstate(over="ignore", invalid="ignore"):
        out = a.astype(dt)
    back = out.astype(np.float64)
    src64 = src.astype(np.float64)
    overflow = int(np.count_nonzero(np.isfinite(src64) & ~np.isfinite(back)))
    both = np.isfinite(src64) & np.isfinite(back)
    rounded = int(np.count_nonzero(both & (back != src64)))
    if overflow:
        notes.append(f"{overflow} value{'s' if overflow != 1 else ''} too large for {dt.name} became ±inf")
    if rounded:
        notes.append(f"{rounded} value{'s' if rounded != 1 else ''} rounded to {dt.name} precision")
    return out, "; ".join(notes)
