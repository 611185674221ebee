"""What the matrix editor offers and how far it goes: dtypes, fills and size limits."""

from __future__ import annotations

__all__ = ["DTYPES", "FILLS", "MAX_ELEMENTS", "MAX_NDIM", "MAX_SIDE"]

#: Most elements a tensor in the editor may have (32 MiB of float64): the table stays lazy at any
#: size, but undo keeps copies and every view recomputes on each change.
MAX_ELEMENTS = 4_000_000
#: Longest axis the shape controls accept.
MAX_SIDE = 100_000
#: Most axes the shape controls offer.
MAX_NDIM = 6
#: The dtypes the selector offers (a tensor of another real dtype adds its own entry).
DTYPES = ("float64", "float32", "float16", "int64", "int32", "bool")
#: Fill menu: (label, kind of :func:`compute.fills.fill`).
FILLS = (
    ("Zeros", "zeros"),
    ("Ones", "ones"),
    ("Identity (per slice)", "identity"),
    ("Arange 0, 1, 2, …", "arange"),
    ("Random normal (seed)", "normal"),
    ("Random uniform [0, 1) (seed)", "uniform"),
    ("Causal mask (bool, lower triangle)", "causal"),
    ("Padding mask (bool, lengths L, L−1, …)", "padding"),
)
