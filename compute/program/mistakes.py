"""Common mistakes from the articles' own code, each side by side with the right way on the same numbers.

A :class:`Mistake` is plain data: a right and a wrong program over one set of inputs, and the name
of the line to compare. :func:`compare_mistake` runs both and returns a :class:`MistakeResult`: both
values (or the wrong side's error message), which cells differ, by how much, and a caption that
says what went wrong with the numbers of this run (never a canned figure: change an input and the
caption changes with it).

Every mistake is in the source articles (``shared/seeds``): ``masked_scores = scores ⊙ mask`` and
A × B ≠ B × A (000), "因为QK是一样的矩阵, 所以必须把K转置" (002), and ``tf.matmul(Q, K)`` without the
transpose, ``softmax(scores, axis=1)`` and BatchNorm next to LayerNorm (003).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from types import MappingProxyType

import numpy as np

from ..errors import OpScopeError
from ..numbers import fmt
from .catalogue import Catalogue
from .lessons import K as K_ARTICLE
from .lessons import Q as Q_ARTICLE
from .lessons import V as V_ARTICLE
from .lessons import frozen_inputs
from .run import ProgramResult, run_program


@dataclass(frozen=True)
class Mistake:
    """One common mistake and the right way, on shared inputs.

    Attributes
    ----------
    slug, title : str
        Name for the command line and tests; one line for the menu.
    right, wrong : str
        The two programs; both define the line ``compare``.
    inputs : Mapping[str, numpy.ndarray]
        Shared tensor inputs (read-only arrays); a side may leave some unused.
    compare : str
        The line whose values are put side by side.
    params : Mapping[str, object]
        Shared scalar names (``d_k``).
    wrong_raises : str or None
        The OpScope error class the wrong side raises (``"ShapeError"``), or None when it runs and
        is silently wrong.
    summary : str
        One sentence, independent of the numbers, for a tooltip or a menu.
    source : str
        Where the mistake appears in the articles.
    explain : callable
        ``explain(result) -> str``: the caption, built from a :class:`MistakeResult`'s numbers.
    """

    slug: str
    title: str
    right: str
    wrong: str
    inputs: Mapping[str, np.ndarray]
    compare: str
    explain: Callable[[MistakeResult], str] = field(repr=False)
    params: Mapping[str, object] = field(default_factory=dict)
    wrong_raises: str | None = None
    summary: str = ""
    source: str = ""


@dataclass(frozen=True)
class MistakeResult:
    """Both sides of a :class:`Mistake`, run.

    Attributes
    ----------
    mistake : Mistake
    right_run, wrong_run : ProgramResult or None
        Every line of each side (``wrong_run`` is None when the wrong side raised).
    right, wrong : numpy.ndarray or None
        The compared line's values (``wrong`` is None when the wrong side raised).
    error : str or None
        The wrong side's error message (with its class name, e.g. ``"ShapeError: …"``), or None.
    differs : numpy.ndarray of bool or None
        True where the two values are not close (:func:`tolerance` of the dtype, infinities equal to
        themselves, NaN to NaN); None when there is no wrong value or the shapes differ.
    max_abs_diff : float or None
        Largest ``|right − wrong|`` over the cells that differ (inf when one side is infinite there);
        0.0 when none differ, None when there is nothing to compare.
    caption : str
        What went wrong, with this run's numbers.
    """

    mistake: Mistake
    right_run: ProgramResult
    wrong_run: ProgramResult | None
    right: np.ndarray
    wrong: np.ndarray | None
    error: str | None
    differs: np.ndarray | None
    max_abs_diff: float | None
    caption: str = ""

    @property
    def n_differ(self) -> int:
        """How many cells differ (0 when there is nothing to compare)."""
        return 0 if self.differs is None else int(self.differs.sum())


def tolerance(dtype) -> tuple[float, float]:
    """``(rtol, atol)`` for telling a real difference from rounding in ``dtype``: √eps of the dtype
    (1.5e-8 for float64, 3.5e-4 for float32), far above what reordering sums costs and far below
    any mistake worth a lesson."""
    dt = np.dtype(dtype)
    eps = float(np.finfo(dt if dt.kind == "f" else np.float64).eps)
    tol = eps ** 0.5
    return tol, tol


def differing_cells(right: np.ndarray, wrong: np.ndarray) -> np.ndarray:
    """Boolean mask of the cells where ``wrong`` is not close to ``right`` (same shapes)."""
    rtol, atol = tolerance(np.result_type(right, wrong))
    return ~np.isclose(wrong, right, rtol=rtol, atol=atol, equal_nan=True)


def _max_abs_diff(right: np.ndarray, wrong: np.ndarray, differs: np.ndarray) -> float:
    if not differs.any():
        return 0.0
    with np.errstate(invalid="ignore"):
        d = np.abs(right[differs].astype(np.float64) - wrong[differs].astype(np.float64))
    # NaN (∞ − ∞ of equal sign cannot differ, so only a NaN on one side gets here) counts as infinite.
    return float(np.where(np.isnan(d), np.inf, d).max())


def compare_mistake(mistake: Mistake) -> MistakeResult:
    """Run both sides of ``mistake`` on its inputs and compare line ``mistake.compare``.

    The right side must run (its errors propagate: they are a bug in the lesson). An OpScope error
    of the wrong side is the lesson (a shape error at ``Q @ K``) and is returned in ``error``.
    """
    right_run = run_program(mistake.right, mistake.inputs, **mistake.params)
    wrong_run = error = wrong = differs = diff = None
    try:
        wrong_run = run_program(mistake.wrong, mistake.inputs, **mistake.params)
    except OpScopeError as exc:
        error = f"{type(exc).__name__}: {exc}"
    right = right_run[mistake.compare]
    if wrong_run is not None:
        wrong = wrong_run[mistake.compare]
        if wrong.shape == right.shape:
            differs = differing_cells(right, wrong)
            diff = _max_abs_diff(right, wrong, differs)
    partial = MistakeResult(mistake, right_run, wrong_run, right, wrong, error, differs, diff)
    return MistakeResult(mistake, right_run, wrong_run, right, wrong, error, differs, diff, mistake.explain(partial))


# --- captions --------------------------------------------------------------------------------------
def _cells(r: MistakeResult) -> str:
    return f"{r.n_differ} of {r.right.size} cells differ, by up to {fmt(r.max_abs_diff, 3)}"


def _row(values, digits: int = 2) -> str:
    """A vector or matrix as nested brackets of short numbers, for a caption."""
    a = np.asarray(values)
    if a.ndim > 1:
        return "[" + ", ".join(_row(r, digits) for r in a) + "]"
    return "[" + ", ".join(fmt(v, digits) for v in a.ravel()) + "]"


def _explain_mask(r: MistakeResult) -> str:
    w = r.wrong
    future = np.triu(np.ones(w.shape[-2:], dtype=bool), k=1)
    leak = np.where(future, w, -np.inf)
    b, i, j = np.unravel_index(int(np.argmax(leak)), leak.shape)
    score = r.wrong_run["masked"][b, i, j]
    return (f"multiplying by a 0/1 mask leaves score {fmt(score, 3)} where it should be −∞, and softmax gives "
            f"e^{fmt(score, 3)} a share: row {i} of batch {b} keeps weight {fmt(w[b, i, j], 2)} on future key {j} "
            f"(the additive −∞ mask gives it {fmt(r.right[b, i, j], 2)}); row 0 is {_row(w[b, 0])} instead of "
            f"{_row(r.right[b, 0])}. {_cells(r)}.")


def _explain_no_transpose_error(r: MistakeResult) -> str:
    s = r.right_run["scores"]
    q, k = r.mistake.inputs["Q"], r.mistake.inputs["K"]
    return (f"without .T the shapes do not fit — {r.error} With K.T, scores[0, 0, 1] = Q[0, 0] · K[0, 1] = "
            f"{_row(q[0, 0])} · {_row(k[0, 1])} = {fmt(s[0, 0, 1], 3)}: every query meets every key.")


def _explain_no_transpose_square(r: MistakeResult) -> str:
    q, k = r.mistake.inputs["Q"], r.mistake.inputs["K"]
    i, j = np.unravel_index(int(np.argmax(np.where(r.differs, np.abs(r.right - r.wrong), -1))), r.right.shape)
    return (f"Q @ K runs silently because Q and K are square {q.shape}, but it dots query {i} with COLUMN {j} "
            f"of K: scores[{i}, {j}] = {_row(q[i])} · {_row(k[:, j])} = {fmt(r.wrong[i, j], 3)} instead of "
            f"Q[{i}] · K[{j}] = {_row(q[i])} · {_row(k[j])} = {fmt(r.right[i, j], 3)}. {_cells(r)}.")


def _explain_softmax_axis(r: MistakeResult) -> str:
    w = r.wrong
    rows = w.sum(axis=-1)
    b, i = np.unravel_index(int(np.argmax(np.abs(rows - 1))), rows.shape)
    return (f"softmax over axis 1 of a (batch, q, k) tensor normalizes each key's column over the queries: "
            f"row {i} of batch {b} sums to {fmt(rows[b, i], 3)} instead of 1 (it is the columns that sum to 1): "
            f"{_row(w[b, i])} instead of {_row(r.right[b, i])}. {_cells(r)}.")


def _explain_norm_axes(r: MistakeResult) -> str:
    x = r.mistake.inputs["X"]
    y_r, y_w = r.right, r.wrong
    same_r = bool(np.allclose(y_r[0], y_r[1]))
    same_w = bool(np.allclose(y_w[0], y_w[1]))
    return (f"axis 0 (BatchNorm) takes μ and σ² over the {x.shape[0]} samples, one pair per feature "
            f"(μ = {_row(r.wrong_run['mu'].ravel(), 3)}); axis −1 (LayerNorm) over each sample's {x.shape[1]} features "
            f"(μ = {_row(r.right_run['mu'].ravel(), 3)}). Sample 0 {_row(x[0])} becomes {_row(y_w[0])} instead of "
            f"{_row(y_r[0])}; samples 0 and 1 ({_row(x[0])}, {_row(x[1])}) are "
            f"{'equal' if same_r else 'different'} after LayerNorm, {'equal' if same_w else 'different'} after "
            f"BatchNorm. {_cells(r)}.")


def _explain_commute(r: MistakeResult) -> str:
    a, b = r.mistake.inputs["A"], r.mistake.inputs["B"]
    return (f"matrix products do not commute: A @ B = {_row(r.right)} but B @ A = {_row(r.wrong)}; "
            f"(A @ B)[0, 0] = row 0 of A · column 0 of B = {_row(a[0])} · {_row(b[:, 0])} = {fmt(r.right[0, 0])}, "
            f"(B @ A)[0, 0] = {_row(b[0])} · {_row(a[:, 0])} = {fmt(r.wrong[0, 0])}. {_cells(r)}.")


def _mistake(slug, title, right, wrong, inputs, compare, explain, params=None, wrong_raises=None, summary="",
             source="") -> Mistake:
    return Mistake(slug, title, right.strip() + "\n", wrong.strip() + "\n", frozen_inputs(inputs), compare, explain,
                   MappingProxyType(dict(params or {})), wrong_raises, summary, source)


_QKV = {"Q": Q_ARTICLE, "K": K_ARTICLE, "V": V_ARTICLE}
# The window's LayerNorm / BatchNorm batch (gui/lessons.py _BATCH): rows 0 and 1 are proportional.
_BATCH = [[1, 2, 3, 4], [2, 4, 6, 8], [0, 1, 0, 1]]
_NORM = """
mu = mean(X, axis={ax}, keepdims=True)
var = mean((X - mu) ** 2, axis={ax}, keepdims=True)
y = (X - mu) / sqrt(var + eps)
"""

MISTAKES: tuple[Mistake, ...] = (
    _mistake("mask_multiplied", "Causal mask multiplied into the scores (scores ⊙ mask) vs added as −∞",
             """
scores = Q @ K.T
scaled = scores / sqrt(d_k)
masked = scaled + causal_mask(4)
weights = softmax(masked, axis=-1)
""", """
scores = Q @ K.T
scaled = scores / sqrt(d_k)
masked = scaled * mask
weights = softmax(masked, axis=-1)
""", {**_QKV, "mask": np.tril(np.ones((4, 4))).tolist()}, "weights", _explain_mask, {"d_k": 3},
             summary="A 0 score is not a hidden score: softmax gives e⁰ = 1 a share; masks are added as −∞ "
                     "(or applied with where) before softmax.",
             source="seeds/000: masked_scores = scores ⊙ mask  # 屏蔽无效位置"),
    _mistake("qk_no_transpose", "Q @ K without the transpose: a shape error for (4, 3) queries and keys",
             "scores = Q @ K.T", "scores = Q @ K", {"Q": Q_ARTICLE, "K": K_ARTICLE}, "scores",
             _explain_no_transpose_error, wrong_raises="ShapeError",
             summary="Q and K are both (…, seq, d_k); K must be turned on its side (K.T) so that each query "
                     "meets each key.",
             source="seeds/003: scores = tf.matmul(Q, K); seeds/002: 所以必须把K转置(躺下),才能相乘"),
    _mistake("qk_no_transpose_square", "Q @ K without the transpose when seq = d_k: silently wrong numbers",
             "scores = Q @ K.T", "scores = Q @ K", {"Q": Q_ARTICLE[0][:3], "K": K_ARTICLE[0][:3]},
             "scores", _explain_no_transpose_square,
             summary="When the sequence is as long as d_k the shapes fit either way, so nothing fails: the scores "
                     "are simply wrong.",
             source="seeds/003: scores = tf.matmul(Q, K)"),
    _mistake("softmax_axis1", "softmax over axis 1 of (batch, q, k) scores vs over the keys (axis −1)",
             """
scores = Q @ K.T
scaled = scores / sqrt(d_k)
weights = softmax(scaled, axis=-1)
""", """
scores = Q @ K.T
scaled = scores / sqrt(d_k)
weights = softmax(scaled, axis=1)
""", _QKV, "weights", _explain_softmax_axis, {"d_k": 3},
             summary="Each query's weights over the keys must sum to 1: that is the last axis; axis 1 of a "
                     "batched tensor is the queries.",
             source="seeds/003: p_attn = tf.math.softmax(scores, axis=1); seeds/000 uses axis=-1"),
    _mistake("batchnorm_vs_layernorm", "Normalizing over the batch (BatchNorm, axis 0) where LayerNorm (axis −1) "
                                       "is meant",
             _NORM.format(ax=-1), _NORM.format(ax=0), {"X": _BATCH}, "y", _explain_norm_axes, {"eps": 1e-5},
             summary="LayerNorm normalizes each sample over its features; BatchNorm each feature over the "
                     "batch, so one sample's output depends on the others.",
             source="seeds/003: 3.2 批量归一化 (μ_b, σ_b² per batch) and 3.3 层归一化 (μ_l, σ_l² per layer)"),
    _mistake("matmul_order", "A @ B vs B @ A: matrix products do not commute",
             "C = A @ B", "C = B @ A", {"A": [[1, 2], [3, 4]], "B": [[5, 6], [7, 8]]}, "C", _explain_commute,
             summary="A @ B takes rows of A and columns of B; swapping them is a different product.",
             source="seeds/000: A = [[1, 2], [3, 4]], B = [[5, 6], [7, 8]], A × B = [[19, 22], [43, 50]]; "
                    "不满足交换律: A×B ≠ B×A"),
)

_CATALOGUE = Catalogue("mistake", MISTAKES)


def mistakes() -> tuple[Mistake, ...]:
    """Every built-in mistake, in menu order."""
    return _CATALOGUE.items


def mistake_names() -> list[str]:
    """Every built-in mistake's slug, in menu order."""
    return _CATALOGUE.names()


def get_mistake(slug: str) -> Mistake:
    """The built-in mistake called ``slug``.

    Raises
    ------
    ParamError
        for an unknown slug; the message lists the valid ones.
    """
    return _CATALOGUE.get(slug)
