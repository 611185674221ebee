"""Shape rules shared by the operations, with the messages a learner needs when they fail."""

from __future__ import annotations

from .errors import ShapeError
from .numbers import fmt_shape


def aligned(shape_a, shape_b, name_a: str = "A", name_b: str = "B") -> str:
    """Both shapes written right-aligned, one per line, the way broadcasting compares them."""
    a = [str(s) for s in shape_a]
    b = [str(s) for s in shape_b]
    n = max(len(a), len(b))
    a = [""] * (n - len(a)) + a
    b = [""] * (n - len(b)) + b
    w = max([len(x) for x in a + b] + [1])
    return f"  {name_a}: {_aligned_row(a, w)}\n  {name_b}: {_aligned_row(b, w)}"


def _aligned_row(entries, width: int) -> str:
    """One shape of :func:`aligned` as Python writes it, ``(2, 3)``, each size padded to ``width``;
    a missing leading axis is blank and keeps its comma's place, ``(   3)``, so the sizes stay in
    columns; one axis keeps Python's trailing comma, ``(3,)``, and a scalar is ``()``."""
    if not any(entries):
        return "()"
    if len(entries) == 1:
        return f"({entries[0].rjust(width)},)"
    cells = [x.rjust(width) + (", " if x else "  ") for x in entries[:-1]]
    return "(" + "".join(cells) + entries[-1].rjust(width) + ")"


def broadcast_shapes(op: str, shape_a, shape_b, name_a: str = "A", name_b: str = "B") -> tuple[int, ...]:
    """numpy's broadcast of two shapes, or a :class:`ShapeError` naming the failing axis and the rule."""
    a = tuple(int(s) for s in shape_a)
    b = tuple(int(s) for s in shape_b)
    n = max(len(a), len(b))
    pa = (1,) * (n - len(a)) + a
    pb = (1,) * (n - len(b)) + b
    out = []
    for axis, (x, y) in enumerate(zip(pa, pb)):
        if x == y or x == 1 or y == 1:
            out.append(y if x == 1 else x)  # (0, 1) broadcasts to 0, as in numpy
            continue
        neg = axis - n
        raise ShapeError(
            f"{op}: {name_a} {fmt_shape(a)} and {name_b} {fmt_shape(b)} do not broadcast: "
            f"axis {neg} has {x} vs {y}. Rule: aligned from the right, each axis must be equal or 1.\n"
            + aligned(a, b, name_a, name_b)
        )
    return tuple(out)


def stretched_axes(shape, out_shape) -> tuple[int, ...]:
    """Axes of ``out_shape`` (non-negative) along which ``shape`` is copied by broadcasting."""
    shape = tuple(shape)
    out_shape = tuple(out_shape)
    pad = len(out_shape) - len(shape)
    full = (1,) * pad + shape
    return tuple(i for i, (s, o) in enumerate(zip(full, out_shape)) if s != o)


def normalize_axis(op: str, axis, ndim: int, name: str = "X") -> tuple[int, ...]:
    """``axis`` (None, int or tuple) as a sorted tuple of non-negative axes, or a :class:`ShapeError`."""
    from .errors import ParamError

    if axis is None:
        return tuple(range(ndim))
    axes = (axis,) if isinstance(axis, (int,)) or hasattr(axis, "__index__") else tuple(axis)
    out = []
    for ax in axes:
        try:
            ax = int(ax)
        except (TypeError, ValueError):
            raise ParamError(f"{op}: axis must be an int, a tuple of ints or None, not {axis!r}") from None
        if not -ndim <= ax < ndim:
            if not ndim:
                raise ShapeError(f"{op}: {name} is a scalar; it has no axis {ax}")
            raise ShapeError(f"{op}: axis {ax} is out of range for {name} with {ndim} dimension(s) "
                             f"(valid: {-ndim}..{ndim - 1})")
        ax %= ndim
        if ax in out:
            raise ParamError(f"{op}: axis {ax} is repeated in {axis!r}")
        out.append(ax)
    return tuple(sorted(out))


def batch_alignment(a, b, out) -> str | None:
    """How the batch axes of two operands broadcast into the output, as a few aligned lines
    (``batch axes, aligned right:`` …, then which operand is reused along which batch axis), or
    None when neither operand has batch axes. ``a``, ``b``, ``out``: (name, shape, core) with
    ``core`` the trailing axes that are not batch axes (2 for a matrix, 1 for a vector)."""
    (na, sa, ca), (nb, sb, cb), (no, so, co) = a, b, out
    sa, sb, so = tuple(sa), tuple(sb), tuple(so)
    ba, bb = sa[: max(0, len(sa) - ca)], sb[: max(0, len(sb) - cb)]
    bo = so[: max(0, len(so) - co)]
    if not ba and not bb:
        return None
    n = max(len(ba), len(bb), len(bo))
    width = max([len(str(x)) for x in (*ba, *bb, *bo)] + [1])

    def row(name, shape):
        cells = ["·".rjust(width)] * (n - len(shape)) + [str(x).rjust(width) for x in shape]
        return f"{name:>6}: " + " ".join(cells)

    lines = ["batch axes, aligned right:", row(na, ba), row(nb, bb), row(no, bo)]
    reused = []
    for name, shape in ((na, ba), (nb, bb)):
        pad = (1,) * (n - len(shape)) + tuple(shape)
        for axis, (s, o) in enumerate(zip(pad, (1,) * (n - len(bo)) + tuple(bo))):
            if s == 1 and o > 1:
                reused.append(f"{name} reused along batch axis {axis}")
    lines.append("; ".join(reused) if reused else "batch sizes equal: paired one to one")
    return "\n".join(lines)
