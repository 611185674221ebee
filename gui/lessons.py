"""Ready-made lessons: the worked examples of the source articles, each one operation on small numbers.

A :class:`Lesson` is plain data (no Qt): which operation, on which inputs, with which parameters
and granularity, and a short description for the header above the canvas. The numbers are the
ones the articles use (``[1, 2, 3] · [4, 5, 6] = 32``, ``[[1, 2], [3, 4]] @ [[5, 6], [7, 8]]``...),
so a lecturer can open the app next to the text and the two agree.

Building the example arrays here is data entry, not arithmetic: every result is computed by
:mod:`compute` when the lesson is opened.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from types import MappingProxyType

import numpy as np

#: The lesson ``python main.py`` opens (and plays) when started without arguments.
DEFAULT_LESSON = "matmul_2x2"


@dataclass(frozen=True)
class Lesson:
    """One ready-made example.

    Attributes
    ----------
    slug : str
        Name used on the command line (``--lesson slug``) and in tests.
    title : str
        One line for the menu and the header above the canvas.
    op : str
        The :mod:`compute` operation it runs.
    inputs : Mapping[str, numpy.ndarray]
        Named inputs (read-only arrays).
    params : Mapping[str, object]
        Keyword parameters of the operation.
    granularity : str or None
        ``"element"``, ``"tile"``, ``"kblock"``, ``"stage"`` or None (compute's default).
    description : str
        Two or three sentences saying what to watch for.
    speed : float
        Steps per second the lesson plays at: slow enough to read the caption.
    """

    slug: str
    title: str
    op: str
    inputs: Mapping[str, np.ndarray]
    params: Mapping[str, object] = field(default_factory=dict)
    granularity: str | None = None
    description: str = ""
    speed: float = 1.0


def _a(values, dtype=np.float64) -> np.ndarray:
    """A read-only array from a literal, so no caller can change a lesson's numbers in place."""
    arr = np.array(values, dtype=dtype)
    arr.setflags(write=False)
    return arr


def _lesson(slug, title, op, inputs, params=None, granularity=None, description="", speed=1.0) -> Lesson:
    return Lesson(slug, title, op, MappingProxyType({k: _a(v) for k, v in inputs.items()}),
                  MappingProxyType(dict(params or {})), granularity, description, speed)


_A2 = [[1, 2], [3, 4]]
_B2 = [[5, 6], [7, 8]]
# Q and K of the article's "manual loop vs matmul" question (a program lesson now: S = Q @ K.T,
# compute/program/lessons.py), and of the attention lesson: 4 queries and 4 keys of 3 features.
_Q = [[1, 0, 1], [0, 2, 1], [1, 1, 0], [2, 0, 1]]
_K = [[1, 1, 0], [0, 1, 2], [2, 0, 1], [1, 1, 1]]
# One batch of 3 samples × 4 features, shared by the LayerNorm and BatchNorm lessons.
_BATCH = [[1, 2, 3, 4], [2, 4, 6, 8], [0, 1, 0, 1]]

#: Titles and descriptions pose the question and name the method, never the result: step 0 shows
#: only the inputs, and the answer appears when the steps reach it, in their captions (issue #9;
#: tests/gui/test_lessons.py checks that no result entry is stated after "=" or "→").
LESSONS: tuple[Lesson, ...] = (
    _lesson("dot_product", "Dot product: [1, 2, 3] · [4, 5, 6]", "dot",
            {"a": [1, 2, 3], "b": [4, 5, 6]}, granularity="element",
            description="Multiply matching entries, then add them: 1×4 + 2×5 + 3×6. "
                        "Both vectors need the same length; the result is one number."),
    _lesson("matmul_2x2", "Matrix product: [[1, 2], [3, 4]] @ [[5, 6], [7, 8]]", "matmul",
            {"A": _A2, "B": _B2}, granularity="element",
            description="Each cell result[i, j] is the dot product of row i of A with column j of B: "
                        "result[0, 0] = 1×5 + 2×7. A's columns must equal B's rows: (2×2) @ (2×2) → 2×2."),
    _lesson("hadamard_2x2", "Hadamard product: [[1, 2], [3, 4]] ⊙ [[5, 6], [7, 8]]", "hadamard",
            {"A": _A2, "B": _B2}, granularity="element",
            description="Element by element, no sums: [[1×5, 2×6], [3×7, 4×8]]. "
                        "Same inputs as the matrix product, a different result."),
    _lesson("broadcast_scalar", "Broadcasting a scalar: 2 ⊙ [[1, 2], [3, 4]]", "hadamard",
            {"A": 2, "B": _A2}, granularity="element",
            description="The scalar 2 is stretched to the shape of B (copies, not new data), then multiplied "
                        "element by element."),
    _lesson("broadcast_vector", "Broadcasting a vector: [[1, 2, 3], [4, 5, 6]] ⊙ [10, 20, 30]", "hadamard",
            {"A": [[1, 2, 3], [4, 5, 6]], "B": [10, 20, 30]}, granularity="element",
            description="Shapes align from the right: (2, 3) and (3,) → B is copied along the rows, "
                        "then the two are multiplied element by element."),
    _lesson("batched_matmul", "Batched product: (3, 3, 2) @ (2, 4) → (3, 3, 4)", "matmul",
            {"A": np.arange(1, 19).reshape(3, 3, 2).tolist(), "B": [[1, 0, 2, 1], [0, 1, 1, 2]]},
            granularity="element", speed=4.0,
            description="Only the last two axes multiply as matrices: [3, 2] @ [2, 4]. B (2, 4) is treated as "
                        "(1, 2, 4) and broadcast over A's batch of 3, giving 3 matrices of 3×4."),
    _lesson("matvec_rotation", "Matrix × vector as a rotation (90°)", "matvec",
            {"A": [[0, -1], [1, 0]], "x": [1, 2]}, granularity="element",
            description="A = [[cos 90°, −sin 90°], [sin 90°, cos 90°]] turns every vector a quarter turn "
                        "anticlockwise and keeps its length. Where does [1, 2] go?"),
    _lesson("matvec_shear", "Matrix × vector as a shear", "matvec",
            {"A": [[1, 1], [0, 1]], "x": [1, 2]}, granularity="element",
            description="A = [[1, 1], [0, 1]] slides each point sideways by its height. "
                        "The x-axis stays put; squares become parallelograms of the same area."),
    _lesson("matvec_scaling", "Matrix × vector as a scaling", "matvec",
            {"A": [[2, 0], [0, 2]], "x": [1, 2]}, granularity="element",
            description="A scalar matrix 2·I stretches every vector to twice its length without turning it: "
                        "every vector is an eigenvector, with eigenvalue 2."),
    _lesson("matvec_projection", "Matrix × vector as a projection", "matvec",
            {"A": [[1, 0], [0, 0]], "x": [1, 2]}, granularity="element",
            description="A = [[1, 0], [0, 0]] drops the y component, onto the x-axis. "
                        "Projecting twice changes nothing more (A·A = A, idempotent)."),
    _lesson("sum_axis0", "Reduction: sum over axis 0 (down the columns)", "sum",
            {"X": [[1, 2, 3], [4, 5, 6]]}, {"axis": 0}, granularity="element",
            description="X.sum(axis=0) adds the rows together, one total per column: [1+4, 2+5, 3+6]. "
                        "The reduced axis disappears from the shape: (2, 3) → (3,)."),
    _lesson("mean_axis1", "Reduction: mean over axis 1 (along each row)", "mean",
            {"X": [[1, 2, 3], [4, 5, 6]]}, {"axis": 1}, granularity="element",
            description="X.mean(axis=1) averages each row: [(1+2+3)/3, (4+5+6)/3]. "
                        "Global average pooling in a CNN is this mean over the spatial axes."),
    _lesson("max_axis1", "Reduction: max over axis 1", "max",
            {"X": [[1, 5, 3], [4, 2, 6]]}, {"axis": 1}, granularity="element",
            description="X.max(axis=1) keeps the largest entry of each row, one per row: (2, 3) → (2,)."),
    _lesson("cumsum_rows", "Running sum: cumsum along each row", "cumsum",
            {"X": [[1, 2, 3, 4], [4, 3, 2, 1]]}, {"axis": -1}, granularity="element", speed=2.0,
            description="cumsum keeps every partial sum along each row: 1, 1+2, 1+2+3, … "
                        "Each step writes one position of both rows; the shape does not change."),
    _lesson("norm_l1", "L1 norm: ‖[3, −4, 0]‖₁", "norm",
            {"X": [3, -4, 0]}, {"ord": 1}, granularity="element",
            description="The L1 norm adds the absolute values: |3| + |−4| + |0|. "
                        "As a penalty it pushes weights to exactly zero (sparsity)."),
    _lesson("norm_l2", "L2 norm: ‖[3, −4, 0]‖₂", "norm",
            {"X": [3, -4, 0]}, {"ord": 2}, granularity="element",
            description="The L2 norm is the Euclidean length: √(3² + (−4)² + 0²). "
                        "L2 regularization (weight decay) penalizes its square."),
    _lesson("softmax_rows", "Softmax: scores → probabilities", "softmax",
            {"X": [[1, 2, 3], [2, 1, 0.1]]}, {"axis": -1}, granularity="stage",
            description="Subtract each row's max (no overflow), exponentiate, divide by the row's sum: "
                        "every row of the result sums to 1, and the order of its entries is kept."),
    _lesson("layernorm_batch", "LayerNorm: each sample normalized over its own features", "layernorm",
            {"X": _BATCH, "gamma": [1, 1, 1, 1], "beta": [0, 0, 0, 0]}, granularity="stage",
            description="Same batch X (3 samples × 4 features) as the BatchNorm lesson. LayerNorm takes μ and σ² "
                        "along axis −1, across the features of ONE sample: every ROW ends with mean 0, variance 1. "
                        "Watch rows 0 and 1, [1, 2, 3, 4] and [2, 4, 6, 8]: one is twice the other."),
    _lesson("batchnorm_batch", "BatchNorm: each feature normalized over the batch", "batchnorm",
            {"X": _BATCH, "gamma": [1, 1, 1, 1], "beta": [0, 0, 0, 0]}, {"training": True}, granularity="stage",
            description="Same batch X as the LayerNorm lesson. BatchNorm takes μ and σ² along axis 0, across the "
                        "SAMPLES, one pair per feature (channel): every COLUMN ends with mean 0, variance 1. "
                        "A sample's result depends on the rest of the batch."),
    _lesson("attention_causal", "Scaled dot-product attention with a causal mask", "attention",
            {"Q": _Q, "K": _K, "V": [[1, 0, 0], [0, 1, 0], [0, 0, 1], [1, 1, 1]]}, {"mask": "causal"},
            granularity="stage",
            description="scores = Q Kᵀ (the similarity matrix), scaled by 1/√dₖ = 1/√3, the causal mask hides the "
                        "future (query i sees keys 0..i), softmax turns each row into weights, and the output is "
                        "the weighted average of V's rows."),
)

_BY_SLUG = {lesson.slug: lesson for lesson in LESSONS}


def lesson_names() -> list[str]:
    """Every lesson's slug, in menu order."""
    return [lesson.slug for lesson in LESSONS]


def get_lesson(slug: str) -> Lesson:
    """The lesson called ``slug``.

    Raises
    ------
    KeyError
        for an unknown slug; the message lists the valid ones.
    """
    try:
        return _BY_SLUG[slug]
    except KeyError:
        raise KeyError(f"unknown lesson {slug!r}; valid: {', '.join(lesson_names())}") from None
