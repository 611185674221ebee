"""Built-in programs: the articles' attention, multi-head attention and transformer block, written out.

A :class:`ProgramLesson` is plain data (no Qt): the program text, its inputs (read-only arrays),
its scalar parameters, a per-line granularity suggestion and two or three sentences saying what
to watch. Nothing here computes a result: :meth:`ProgramLesson.run` and
:meth:`ProgramLesson.stream` hand the data to :func:`~.run.run_program` and
:func:`~.timeline.stream_program`.

Where the numbers come from. The articles (``shared/seeds``) run attention on
``Q, K, V = np.random.randn(2, 4, 3)`` and print only the shape of the weights, ``(2, 4, 4)``; the
4×3 ``Q`` and ``K`` of their "manual loop vs matmul" question have no printed values (the 4×4
similarity matrix printed there cannot be told apart from any other). So batch 0 of the
attention lesson is the Q, K and V of the window's single-operation lessons (``gui/lessons.py``,
``qk_loop_vs_matmul`` and ``attention_causal``), and the app's two attention lessons agree; the
other numbers are small halves chosen by hand, so a learner can check cells in their head.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from types import MappingProxyType

import numpy as np

from .catalogue import Catalogue
from .parse import parse_program
from .run import ProgramResult, run_program
from .timeline import ProgramTimeline, stream_program


def frozen_array(values, dtype=np.float64) -> np.ndarray:
    """A read-only array from a literal, so no caller can change a lesson's numbers in place."""
    arr = np.array(values, dtype=dtype)
    arr.setflags(write=False)
    return arr


def frozen_inputs(inputs: Mapping) -> Mapping[str, np.ndarray]:
    """``inputs`` as a read-only mapping of read-only arrays."""
    return MappingProxyType({k: frozen_array(v) for k, v in inputs.items()})


@dataclass(frozen=True)
class ProgramLesson:
    """One built-in program.

    Attributes
    ----------
    slug : str
        Name used on the command line and in tests.
    title : str
        One line for the menu and the header above the canvas.
    text : str
        The program, one ``name = expression`` a line.
    inputs : Mapping[str, numpy.ndarray]
        Named tensor inputs (read-only arrays).
    params : Mapping[str, object]
        Scalar names of the program (``d_k``), given to ``run_program`` as keywords.
    description : str
        Two or three sentences saying what to watch for.
    granularity : Mapping[str, str]
        Suggested granularity by line name (lines left out take ``stream_program``'s default).
    source : str
        Where the program and its numbers come from in the articles.
    """

    slug: str
    title: str
    text: str
    inputs: Mapping[str, np.ndarray]
    params: Mapping[str, object] = field(default_factory=dict)
    description: str = ""
    granularity: Mapping[str, str] = field(default_factory=dict)
    source: str = ""

    @property
    def lines(self) -> tuple[str, ...]:
        """The names of the program's lines, in order."""
        return parse_program(self.text).line_names

    def run(self) -> ProgramResult:
        """``run_program`` on the lesson's inputs and parameters: every line, plus ``"result"``."""
        return run_program(self.text, self.inputs, **self.params)

    def stream(self, granularity=None) -> ProgramTimeline:
        """``stream_program`` with the lesson's granularity, or ``granularity`` where given."""
        chosen = dict(self.granularity) if granularity is None else granularity
        return stream_program(self.text, {**self.inputs, **self.params}, granularity=chosen)


def _lesson(slug, title, text, inputs, params=None, description="", granularity=None, source="") -> ProgramLesson:
    return ProgramLesson(slug, title, text.strip() + "\n", frozen_inputs(inputs), MappingProxyType(dict(params or {})),
                         description, MappingProxyType(dict(granularity or {})), source)


# --- the numbers -----------------------------------------------------------------------------------
# Batch 0: the window's attention lesson (gui/lessons.py: _Q, _K and V); batch 1: more small numbers.
Q = [[[1, 0, 1], [0, 2, 1], [1, 1, 0], [2, 0, 1]],
     [[0, 1, 1], [1, 0, 2], [2, 1, 0], [1, 2, 1]]]
K = [[[1, 1, 0], [0, 1, 2], [2, 0, 1], [1, 1, 1]],
     [[1, 0, 1], [2, 1, 0], [0, 1, 1], [1, 2, 0]]]
V = [[[1, 0, 0], [0, 1, 0], [0, 0, 1], [1, 1, 1]],
     [[2, 0, 1], [0, 1, 2], [1, 1, 0], [0, 2, 1]]]

# One sequence of 4 tokens with d_model 4, shared by the multi-head and both transformer lessons.
X = [[1, 0, 1, 0], [0, 2, 0, 1], [1, 1, 0, 0], [2, 0, 1, 1]]
W_Q = [[0.5, 0, 0, 0.5], [0, 0.5, 0.5, 0], [0.5, 0, 0.5, 0], [0, 0.5, 0, 0.5]]
W_K = [[0.5, 0, 0.5, 0], [0, 0.5, 0, 0.5], [0, 0.5, 0.5, 0], [0.5, 0, 0, 0.5]]
W_V = np.eye(4).tolist()  # V = X: each head's output is a weighted average of X's rows, easy to read
# out[:, 0] = (head 0's first column + head 1's first column) / 2 …: W_O is what mixes the heads.
W_O = [[0.5, 0, 0.5, 0], [0, 0.5, 0, 0.5], [0.5, 0, -0.5, 0], [0, 0.5, 0, -0.5]]
W_1 = [[1, 0, 0.5, 0, -0.5, 0, 0, 0.5],
       [0, 1, 0, 0.5, 0, -0.5, 0.5, 0],
       [0.5, 0, 1, 0, 0, 0.5, -0.5, 0],
       [0, 0.5, 0, 1, 0.5, 0, 0, -0.5]]
C_1 = [0, -0.5, 0, -0.5, 0, -0.5, 0, -0.5]  # negative biases, so ReLU really cuts some units
W_2 = [[0.5, 0, 0, 0], [0, 0.5, 0, 0], [0, 0, 0.5, 0], [0, 0, 0, 0.5],
       [0.5, 0, 0, 0], [0, 0.5, 0, 0], [0, 0, -0.5, 0], [0, 0, 0, -0.5]]
C_2 = [0, 0, 0, 0]
_BLOCK_INPUTS = {"X": X, "W_q": W_Q, "W_k": W_K, "W_v": W_V, "W_o": W_O, "W1": W_1, "c1": C_1, "W2": W_2,
                 "c2": C_2, "g1": [1, 1, 1, 1], "b1": [0, 0, 0, 0], "g2": [1, 1, 1, 1], "b2": [0, 0, 0, 0]}

def _seeded(seed: int, shape: tuple[int, ...]) -> list:
    """Small, readable numbers (halves between −1 and 1) that stay the same from run to run."""
    rng = np.random.default_rng(seed)
    return (rng.integers(-2, 3, size=shape) / 2).tolist()


# seq 4 × d_model 8 with 2 heads of 4: the multi-head lesson's numbers (seeded halves).
_MHA8 = {"X": _seeded(1, (4, 8)), "W_q": _seeded(2, (8, 8)), "W_k": _seeded(3, (8, 8)), "W_v": _seeded(4, (8, 8)),
         "W_o": _seeded(5, (8, 8))}

# --- the programs ----------------------------------------------------------------------------------
# The articles' "manual loop vs matmul" question: S[i, j] = Q[i] · K[j] for every i, j is Q @ K.T.
QK = """
S = Q @ K.T
"""

ATTENTION = """
scores = Q @ K.T
scaled = scores / sqrt(d_k)
masked = scaled + causal_mask(4)
weights = softmax(masked, axis=-1)
out = weights @ V
"""

MHA = """
q = X @ W_q
k = X @ W_k
v = X @ W_v
qh = split_heads(q, 2)
kh = split_heads(k, 2)
vh = split_heads(v, 2)
scores = qh @ kh.T / sqrt(d_head)
weights = softmax(scores, axis=-1)
heads = weights @ vh
concat = merge_heads(heads)
out = concat @ W_o
"""

POST_LN = """
a = mha(X, W_q, W_k, W_v, W_o, num_heads=2)
r1 = X + a
h = layernorm(r1, g1, b1)
f1 = relu(h @ W1 + c1)
f = f1 @ W2 + c2
r2 = h + f
y = layernorm(r2, g2, b2)
"""

PRE_LN = """
n1 = layernorm(X, g1, b1)
a = mha(n1, W_q, W_k, W_v, W_o, num_heads=2)
h = X + a
n2 = layernorm(h, g2, b2)
f1 = gelu(n2 @ W1 + c1)
f = f1 @ W2 + c2
y = h + f
"""

PROGRAM_LESSONS: tuple[ProgramLesson, ...] = (
    _lesson("qk_loop_vs_matmul", "Q @ Kᵀ: a double loop of dot products is one matrix product",
            QK, {"Q": Q[0], "K": K[0]},
            description="Q and K hold 4 queries and 4 keys of 3 features. The loop "
                        "`for i, j: S[i, j] = Q[i] · K[j]` computes the 16 numbers Q @ K.T computes at once: "
                        "each step is one dot product, row i of Q with row j of K.",
            granularity={"S": "element"},
            source="seeds/000: the manual loop `for i in range(4): for j in range(4): S[i, j] = "
                   "np.dot(Q[i], K[j])` against `Q @ K.T`; the article prints no values, so Q and K are "
                   "batch 0 of the attention lesson."),
    _lesson("attention_causal_program", "Scaled dot-product attention, line by line, with a causal mask",
            ATTENTION, {"Q": Q, "K": K, "V": V}, {"d_k": 3},
            description="Q, K and V are (2, 4, 3): a batch of 2 sequences of 4 tokens with 3 features. "
                        "scores = Q @ K.T pairs every query with every key (2, 4, 4); the causal mask adds −∞ "
                        "above the diagonal so each row of weights (2, 4, 4) sums to 1 over keys 0..i only. "
                        "Which keys can row 0 weigh?",
            granularity={"scores": "element", "scaled": "stage", "masked": "element", "weights": "stage",
                         "out": "element"},
            source="seeds/000: scaled_dot_product_attention(Q, K, V, d_k) with batch_size, seq_len, d_model = "
                   "2, 4, 3 and weights (2, 4, 4); its values are random there, batch 0 here is the window's "
                   "Q, K, V (gui/lessons.py)."),
    _lesson("mha_2heads", "Multi-head attention: seq 4, d_model 8, 2 heads",
            "out = mha(X, W_q, W_k, W_v, W_o, num_heads=2)", _MHA8,
            description="Self-attention: Q = X W_q, K = X W_k, V = X W_v (4×8), split into 2 heads of 4 "
                        "features. Each head attends on its own, both on screen; the heads are concatenated "
                        "back to 4×8 and mixed by W_o.",
            granularity={"out": "stage"},
            source="seeds/003: MultiHead(Q, K, V) = Concat(head_1, …, head_h) W_O, as one call; seeded halves "
                   "chosen here (the article gives none). mha_program writes the same steps out line by line."),
    _lesson("mha_program", "Multi-head attention written out: projections, heads, concat, W_O",
            MHA, {k: _BLOCK_INPUTS[k] for k in ("X", "W_q", "W_k", "W_v", "W_o")}, {"d_head": 2},
            description="X (4, 4) is projected to q, k, v, and split_heads cuts their 4 features into 2 heads "
                        "of 2: (2, 4, 2). Each head computes its own (4, 4) weights, both on screen in "
                        "weights (2, 4, 4); merge_heads puts the heads side by side again (4, 4) and W_o "
                        "mixes them.",
            granularity={"q": "stage", "k": "stage", "v": "stage", "scores": "stage", "weights": "stage",
                         "heads": "element", "out": "element"},
            source="seeds/003: MultiHead(Q, K, V) = Concat(head_1, …, head_h) W_O with "
                   "head = softmax(Q Kᵀ / √d_k) V; small numbers chosen here (the article gives none)."),
    _lesson("transformer_post_ln", "Transformer block (post-LN, as in the articles): MHA, residual, LayerNorm, "
                                   "FFN, residual, LayerNorm",
            POST_LN, _BLOCK_INPUTS,
            description="The sublayer comes first and LayerNorm after the residual sum: h = LayerNorm(X + MHA(X)), "
                        "then y = LayerNorm(h + FFN(h)) with FFN = ReLU(h W1 + c1) W2 + c2 (d_ff 8). Watch every "
                        "row of h and y end with mean 0 and variance 1, whatever X was.",
            granularity={"a": "stage", "h": "stage", "f1": "stage", "f": "stage", "y": "stage"},
            source="seeds/003: C = MultiHead(Q, K, V) + X and FFN(X) = LayerNorm(X + Relu(…)W) (the article's "
                   "formula garbles the FFN as Relu(W_1X + W_2X)W_3 and leaves out the first LayerNorm; the "
                   "block here is the usual post-LN one it describes)."),
    _lesson("transformer_pre_ln", "Transformer block, pre-LN variant: LayerNorm before each sublayer",
            PRE_LN, _BLOCK_INPUTS,
            description="Same numbers as the post-LN block, but LayerNorm is applied to each sublayer's input and "
                        "the residual path stays un-normalized: y = h + FFN(LayerNorm(h)), h = X + "
                        "MHA(LayerNorm(X)), with GELU as in GPT-2. Compare y with the post-LN block's: here the "
                        "rows keep X's scale instead of mean 0 and variance 1.",
            granularity={"n1": "stage", "a": "stage", "n2": "stage", "f1": "stage", "f": "stage"},
            source="the pre-LN arrangement of the same block (GPT-2 and most later models); same inputs as "
                   "transformer_post_ln."),
)

_CATALOGUE = Catalogue("program lesson", PROGRAM_LESSONS)


def program_lessons() -> tuple[ProgramLesson, ...]:
    """Every built-in program, in menu order."""
    return _CATALOGUE.items


def program_lesson_names() -> list[str]:
    """Every built-in program's slug, in menu order."""
    return _CATALOGUE.names()


def get_program_lesson(slug: str) -> ProgramLesson:
    """The built-in program lesson called ``slug``.

    Raises
    ------
    ParamError
        for an unknown slug; the message lists the valid ones.
    """
    return _CATALOGUE.get(slug)
