"""Blocks of an N-d array in C order, and the part of a broadcast operand each block reads.

A computation that is element-wise (an ``add`` of two tensors, a program line such as
``scores / sqrt(d_k)``) can be done one block of its output at a time: the numbers are the
whole computation's, each block's temporaries stay in cache instead of being whole-tensor
arrays, and whoever runs it can stop between two blocks. A block is a basic index (no copy):
integers for the leading axes, one slice, whole trailing axes, so it is one contiguous run of a
C-contiguous array. :func:`operand_key` indexes an operand that broadcasts to the output with
the same block, keeping its stretched axes at size 1 so numpy's broadcasting still pairs them.
"""

from __future__ import annotations

import math
from itertools import product


def blocks(shape, elements: int) -> list[tuple]:
    """Keys of the C-order blocks of an array of ``shape``, each of about ``elements`` elements.

    The sliced axis is the first one whose trailing part fits in ``elements``; the axes before it
    are taken one index at a time. An empty or 0-d shape is one block, ``()`` (the whole array).
    """
    shape = tuple(int(s) for s in shape)
    if not shape or math.prod(shape) == 0:
        return [()]
    n = len(shape)
    axis = next(j for j in range(n) if math.prod(shape[j + 1:]) <= elements)
    if axis == 0 and math.prod(shape) <= elements:
        return [()]
    rows = max(1, elements // math.prod(shape[axis + 1:]))
    size = shape[axis]
    spans = [slice(r0, min(size, r0 + rows)) for r0 in range(0, size, rows)]
    return [lead + (span,) for lead in product(*(range(s) for s in shape[:axis])) for span in spans]


def operand_key(key: tuple, ndim: int, shape) -> tuple:
    """The index of an operand of ``shape`` that broadcasts to an ``ndim``-d output, for the output
    block ``key`` (as :func:`blocks` gives): axes of size 1 keep size 1 (an integer picks 0, a
    slice keeps the axis), others take the block's own index. The block of the output and the
    operand's block broadcast against each other as the whole arrays do."""
    off = ndim - len(shape)
    out = []
    for i, s in enumerate(shape):
        ax = off + i
        if ax >= len(key):
            break
        k = key[ax]
        if s == 1:
            out.append(slice(None) if isinstance(k, slice) else 0)
        else:
            out.append(k)
    return tuple(out)
