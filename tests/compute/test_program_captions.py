"""A program line's captions name the program's tensors (``r[0,0] = s[0,0] + c[0,0]``), not the
operation's own ``result``, ``A`` and ``B``; single-operation timelines keep their captions."""

import re

import numpy as np
import pytest
from opscope.compute import stream_op
from opscope.compute.program import stream_program
from opscope.compute.program.captions import SYMBOLS, line_labels, relabel
from opscope.compute.program.lessons import program_lessons
from opscope.compute.program.timeline import names_line
from opscope.compute.registry import get_spec

PROGRAM = "s = Q @ K.T\nr = s + c\nf = relu(s) @ K + c\n"
INPUTS = {"Q": [[1.0, 2.0]], "K": [[3.0, 4.0], [5.0, 6.0]], "c": [[-1.0, 0.5]]}


def _captions(tl, line):
    part = tl.part(line)
    return [tl[part.start + i].caption for i in range(len(part))]


def test_matmul_line_names_its_operands_and_itself():
    # s = [1, 2] @ [[3, 5], [4, 6]] = [1×3 + 2×4, 1×5 + 2×6] = [11, 17]
    tl = stream_program(PROGRAM, INPUTS, granularity={"s": "element"})
    # s = Q @ K.T of 2-D names reads as the loop it replaces: s[i,j] = Q[i] · K[j]
    assert _captions(tl, "s") == ["s[0,0] = Q[0] · K[0] = 1×3 + 2×4 = 11", "s[0,1] = Q[0] · K[1] = 1×5 + 2×6 = 17"]
    tl = stream_program(PROGRAM, INPUTS, granularity={"s": "stage"})
    assert _captions(tl, "s") == ["s (1, 2) = Q (1, 2) @ Kᵀ (2, 2): s[0,0] = 1×3 + 2×4 = 11, …"]
    tl = stream_program(PROGRAM, INPUTS, granularity={"s": "tile"}, options={"s": {"tile": 1}})
    assert _captions(tl, "s")[1] == "s[0, 1] = Q row 0 · Kᵀ column 1 (1×2 · 2×1, 2 multiply-adds): 1×5 + 2×6 = 17"


def test_add_line_names_its_operands_and_keeps_numbers():
    tl = stream_program(PROGRAM, INPUTS, granularity={"r": "element"})
    caps = _captions(tl, "r")
    assert caps[0] == ("r: broadcast to (1, 2): same shapes, nothing copied. Shapes aligned from the right:\n"
                       "  s: (1, 2)\n  c: (1, 2)")
    assert caps[1:] == ["r[0,0] = s[0,0] + c[0,0] = 11 + (−1) = 10", "r[0,1] = s[0,1] + c[0,1] = 17 + 0.5 = 17.5"]


def test_sub_expression_operand_is_named_by_its_text_and_alignment_kept():
    # f = relu(s) @ K + c: the add's A is the sub-expression relu(s) @ K = [11×3 + 17×5, 11×4 + 17×6] = [118, 146]
    tl = stream_program(PROGRAM, INPUTS, granularity={"f": "element"})
    caps = _captions(tl, "f")
    assert caps[0].endswith("\n  (relu(s) @ K): (1, 2)\n  c:             (1, 2)")
    assert caps[1] == "f[0,0] = (relu(s) @ K)[0,0] + c[0,0] = 118 + (−1) = 117"
    assert caps[2] == "f[0,1] = (relu(s) @ K)[0,1] + c[0,1] = 146 + 0.5 = 146.5"


def test_layernorm_line_renames_its_math_symbols():
    # x = [1, 3]: μ = 2, σ² = ((−1)² + 1²) / 2 = 1, norm = ±1/√(1 + 1e-5) ≈ ±1, n = 2·norm + [0, 1] = [−2, 3]
    tl = stream_program("n = layernorm(x0 * 1, g, b)\n", {"x0": [[1.0, 3.0]], "g": [2.0, 2.0], "b": [0.0, 1.0]})
    assert [s.caption for s in tl] == [
        "n: μ = mean over axis 1 (each sample's own features); row 0: μ = (1 + 3) / 2 = 2",
        "n: σ² = mean(((x0 * 1) − μ)²) over axis 1 (biased); row 0: σ² = ((−1)² + 1²) / 2 = 1",
        "n: norm = ((x0 * 1) − μ) / √(σ² + 1e-5); row 0: ((x0 * 1) − 2) / √(1 + 1e-5) = [−1, 1]",
        "n = g·norm + b; row 0: [2, 2]·norm + [0, 1] = [−2, 3]",
    ]


def test_relabel_is_token_exact_and_never_touches_numbers():
    labels = {"A": "X", "B": "a", "e": "E", "j": "J", "K": "k2", "result": "r1"}
    text = "result[0,3] = A[0,3] + B[0,3] = 1e-5 + 2j + 2.5e10 = A's Q_h w.K Kᵀ result2 AB"
    assert relabel(text, labels) == "r1[0,3] = X[0,3] + a[0,3] = 1e-5 + 2j + 2.5e10 = X's Q_h w.K Kᵀ result2 AB"
    numbers = "0.01489 + (−0.06812) = −∞, nan, inf, 1e-5, 3.2e-7"
    assert relabel(numbers, {"e": "E", "nan_": "x", "result": "y"}) == numbers
    assert relabel(text, {}) == text
    assert line_labels("r1", {"A": "X", "B": "B"}) == {"A": "X", "result": "r1"}
    assert line_labels("h", {"X": "r1", "gamma": "g"}, "layernorm") == {
        "X": "r1", "gamma": "g", "result": "h", "x": "r1", "y": "h", "γ": "g"}


def _tokens(text):
    return set(re.findall(r"(?<![\w.])[^\W\d]\w*", text))


@pytest.mark.parametrize("lesson", program_lessons(), ids=lambda L: L.slug)
@pytest.mark.parametrize("granularity", [None, "element", "stage"])
def test_lesson_captions_name_only_program_tensors(lesson, granularity):
    tl = lesson.stream(granularity=granularity)
    program_names = set(tl.input_names) | set(tl.output_names)
    for part in tl.lines:
        if part.op is None:
            continue
        spec = get_spec(part.op)
        # the operation's own input names, "result" and math symbols (y = γ·norm + β), except what this
        # line calls its tensors and the inputs whose program name is the operation's own (W_q)
        own = {i.name for i in spec.inputs} | {"result", "A", "B"} | set(SYMBOLS.get(part.op, ()))
        kept = {i.name for i in spec.inputs if i.name in program_names and i.name not in part.labels}
        foreign = own - set(part.labels.values()) - kept
        steps = range(len(part)) if len(part) <= 64 else [*range(8), len(part) - 1]
        for i in steps:
            cap = tl[part.start + i].caption
            assert cap.startswith(f"{part.name}: ") or names_line(part.name, cap), cap
            assert not (_tokens(cap) & foreign), (part.name, cap)


def test_single_operation_captions_unchanged():
    tl = stream_op("add", {"A": np.array([[1.0, 2.0]]), "B": np.array([[3.0, -4.0]])}, granularity="element")
    assert tl[1].caption == "result[0,0] = A[0,0] + B[0,0] = 1 + 3 = 4"
    tl = stream_op("matmul", {"A": np.array([[1.0, 2.0]]), "B": np.array([[3.0], [4.0]])}, granularity="element")
    assert tl[0].caption == "result[0,0] = 1×3 + 2×4 = 11"


def test_a_one_step_line_shows_real_numbers_not_only_its_shape():
    # relu(s @ K) with s = [[11, 17]]: [11×3 + 17×5, 11×4 + 17×6] = [118, 146]
    tl = stream_program("s = Q @ K.T\ng = relu(s @ K)", INPUTS)
    assert _captions(tl, "g") == ["g: relu(s @ K) → (1, 2); g[0] = [118, 146]"]
    tl = stream_program("v = exp(x)\nw = x * 2\nh = split_heads(m, 2)",
                        {"x": [0.0, 1.0], "m": np.arange(8.0).reshape(2, 4)})
    assert _captions(tl, "v") == ["v: exp(x) → (2,) = [1, 2.718]"]
    assert _captions(tl, "h") == ["h: split_heads(m, 2) → (2, 2, 2); h[0,0] = [0, 1]"]


def test_a_batched_q_k_transpose_line_names_the_rows_it_pairs_in_each_batch():
    # Batch 0 of the attention lesson: Q[0,1] = [0, 2, 1], K[0,1] = [0, 1, 2]: 0×0 + 2×1 + 1×2 = 4.
    tl = stream_program("s = Q @ K.T", {"Q": [[[1.0, 0.0, 1.0], [0.0, 2.0, 1.0]]], "K": [[[1.0, 1.0, 0.0],
                                                                                      [0.0, 1.0, 2.0]]]},
                        granularity={"s": "element"})
    assert _captions(tl, "s")[3] == "s[0,1,1] = Q[0,1] · K[0,1] = 0×0 + 2×1 + 1×2 = 4"
    # A K shared by the batch (broadcast): Q[b] meets K, not K[b]: the plain caption stays.
    tl = stream_program("s = Q @ K.T", {"Q": [[[1.0, 2.0]], [[3.0, 4.0]]], "K": [[1.0, 1.0]]},
                        granularity={"s": "element"})
    assert _captions(tl, "s") == ["s[0,0,0] = 1×1 + 2×1 = 3", "s[1,0,0] = 3×1 + 4×1 = 7"]
