"""Captions a lecturer can trust: real numbers at every step, negatives in parentheses, and no step
showing a value that a later step computes. Checked on every operation's example and every lesson."""

from __future__ import annotations

import importlib.util
import re
import sys
from pathlib import Path

import numpy as np
import pytest
from opscope import compute
from opscope.compute.fills import fill, input_seed
from opscope.compute.numbers import fmt_list, fmt_sum_of_products, num, term
from opscope.compute.registry import get_spec


def _lessons():
    """The lessons' data, read from gui/lessons.py as a plain module: it imports only numpy, and
    loading it by path keeps this suite free of the Qt that ``opscope.gui`` imports."""
    path = Path(__file__).resolve().parents[2] / "gui" / "lessons.py"
    spec = importlib.util.spec_from_file_location("_lesson_data", path)
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses look their module up while the class is built
    spec.loader.exec_module(module)
    return module.LESSONS


LESSONS = _lessons()
CASES = [(f"example:{s.name}", s.name, s.example(), {}) for s in compute.operations() if s.example] + [
    (f"lesson:{lesson.slug}", lesson.op, dict(lesson.inputs), dict(lesson.params)) for lesson in LESSONS]
RUNS = [(name, op, inputs, params, g) for name, op, inputs, params in CASES for g in get_spec(op).granularities]


def _captions(op, inputs, granularity=None, **params):
    return [s.caption for s in compute.stream_op(op, inputs, granularity, **params)]


# --- numbers ------------------------------------------------------------------------------------
def test_caption_numbers_use_a_true_minus_and_parenthesize_negative_operands():
    assert (num(-4), num(2.5), num(-0.5443), num(-np.inf), num(np.inf)) == ("−4", "2.5", "−0.5443", "−∞", "∞")
    assert (term(-4), term(3), term(0), term(-0.25)) == ("(−4)", "3", "0", "(−0.25)")
    assert fmt_sum_of_products([1, -2], [6, 8]) == "1×6 + (−2)×8"
    assert fmt_sum_of_products([-1, 0.5], [-3, 2]) == "(−1)×(−3) + 0.5×2"
    assert fmt_list([1, -2, 3]) == "[1, −2, 3]"
    assert fmt_list([1, 2], count=9) == "[1, 2, … (9 values)]"


# --- exact captions of small cases, worked out by hand ------------------------------------------
def test_dot_product_with_a_negative_entry():
    a, b = [1, -2], [3, 4]
    assert _captions("dot", {"a": a, "b": b}, "element") == [
        "products = a ⊙ b (each pair multiplied) = [1×3, (−2)×4] = [3, −8]", "result = 1×3 + (−2)×4 = −5"]
    assert _captions("dot", {"a": a, "b": b}, "stage") == [
        "products = a ⊙ b = [1×3, (−2)×4] = [3, −8]", "result = Σ products = 3 + (−8) = −5"]
    assert _captions("dot", {"a": a, "b": b}, "kblock") == ["result after k = 0: 1×3 = 3",
                                                            "result after k = 1: 1×3 + (−2)×4 = −5"]


def test_matmul_element_tile_kblock_and_stage_show_the_products():
    inputs = {"A": [[1, -2], [3, 4]], "B": [[6, 5], [8, 7]]}
    assert _captions("matmul", inputs, "element")[0] == "result[0,0] = 1×6 + (−2)×8 = −10"
    assert _captions("matmul", inputs, "tile", tile=(1, 1))[1] == \
        "result[0, 1] = A row 0 · B column 1 (1×2 · 2×1, 2 multiply-adds): 1×5 + (−2)×7 = −9"
    assert _captions("matmul", inputs, "kblock") == [
        "result += A[…, k = 0] · B[k = 0, …]  (block 1/2) → result[0,0] so far = 1×6 = 6",
        "result += A[…, k = 1] · B[k = 1, …]  (block 2/2) → result[0,0] so far = 6 + (−2)×8 = −10"]
    assert _captions("matmul", inputs, "stage") == \
        ["result (2, 2) = A (2, 2) @ B (2, 2): result[0,0] = 1×6 + (−2)×8 = −10, …"]


def test_matvec_rotation_and_linear_name_what_they_read():
    assert _captions("matvec", {"A": [[0, -1], [1, 0]], "x": [1, 2]}, "element") == [
        "result[0] = 0×1 + (−1)×2 = −2", "result[1] = 1×1 + 0×2 = 1"]
    lin = _captions("linear", {"X": [[1, 2]], "W": [[3, -1]], "b": [0.5]}, "tile", tile=(1, 1))
    # W is (out, in): an output column of X Wᵀ is a ROW of W.
    assert lin == ["XW[0, 0] = X row 0 · W row 0 (1×2 · 2×1, 2 multiply-adds): 1×3 + 2×(−1) = 1",
                   "result = XWᵀ + b (b added to every row): result[0,0] = XW[0,0] + b[0] = 1 + 0.5 = 1.5"]
    assert _captions("linear", {"X": [[1, 2]], "W": [[3, -1], [1, 1]]}, "kblock")[:2] == [
        "XW += X[…, k = 0] · W[…, k = 0]  (block 1/2) → XW[0,0] so far = 1×3 = 3",
        "XW += X[…, k = 1] · W[…, k = 1]  (block 2/2) → XW[0,0] so far = 3 + 2×(−1) = 1"]


def test_norms_square_negatives_in_parentheses():
    assert _captions("norm", {"X": [3, -4, 0]}, "element", ord=2) == [
        "terms = x² for every entry of X = [3², (−4)², 0²] = [9, 16, 0]", "‖X‖₂ = √(3² + (−4)² + 0²) = 5"]
    assert _captions("norm", {"X": [3, -4, 0]}, "kblock", ord=1)[2] == \
        "‖X‖₁: term 1 of 3 folded in (block 2/3) → ‖X‖₁ so far = 3 + |−4| = 7"
    assert _captions("cosine", {"a": [1, -1], "b": [1, 1]}) == [
        "a·b = Σ a_k b_k = 1×1 + (−1)×1 = 0",
        "‖a‖ = √Σ a_k² = √(1² + (−1)²) = 1.414   ‖b‖ = √Σ b_k² = √(1² + 1²) = 1.414",
        "cos θ = a·b / (‖a‖ ‖b‖) = 0 / (1.414 × 1.414) = 0"]


def test_reductions_give_the_formula_at_every_granularity():
    x = {"X": [[1, 2, 3], [4, 5, 6]]}
    assert _captions("mean", x, "element", axis=1) == ["mean[0] = (1 + 2 + 3) / 3 = 2", "mean[1] = (4 + 5 + 6) / 3 = 5"]
    assert _captions("mean", x, "tile", axis=1, tile=(1, 1)) == _captions("mean", x, "element", axis=1)
    assert _captions("mean", x, "stage", axis=1) == ["sum over axis 1: sum[0] = 1 + 2 + 3 = 6, …",
                                                     "mean = sum / 3: mean[0] = 6 / 3 = 2, …"]
    assert _captions("sum", x, "kblock", axis=0) == [
        "sum: term 0 of 2 folded in (block 1/2) → sum[0] so far = 1",
        "sum: term 1 of 2 folded in (block 2/2) → sum[0] so far = 1 + 4 = 5"]
    assert _captions("max", {"X": [[-1, -5, -3]]}, "element", axis=1) == ["max[0] = max(−1, −5, −3) = −1"]


def test_cumsum_explains_every_cell_it_writes():
    caps = _captions("cumsum", {"X": [[1, 2, 3, 4], [4, 3, 2, 1]]}, "element", axis=-1)
    assert caps[0] == "result[0,0] = X[0,0] = 1; result[1,0] = X[1,0] = 4"
    assert caps[1] == "result[0,1] = result[0,0] + X[0,1] = 1 + 2 = 3; result[1,1] = result[1,0] + X[1,1] = 4 + 3 = 7"
    flat = _captions("cumsum", {"X": [[1, -2], [3, 4]]}, "element", axis=None)
    assert flat[1] == "result[1] = result[0] + X[0,1] = 1 + (−2) = −1"


def test_softmax_and_layernorm_name_the_row_they_show():
    caps = _captions("softmax", {"X": [[1, 2, 3], [2, 1, 0.1]]}, axis=-1)
    assert caps[0] == "shifted = x − max(x) along axis 1; row 0: [1, 2, 3] − 3 = [−2, −1, 0]"
    assert caps[2] == "sum of exp along axis 1; row 0: 0.1353 + 0.3679 + 1 = 1.503"
    assert caps[3].endswith("row 0: [0.1353, 0.3679, 1] / 1.503 = [0.09003, 0.2447, 0.6652]")
    assert "column 0: [1, 2] − 2 = [−1, 0]" in _captions("softmax", {"X": [[1, 2, 3], [2, 1, 0.1]]}, axis=0)[0]
    ln = _captions("layernorm", {"X": [[1, 2, 3, 4], [2, 4, 6, 8]], "gamma": np.ones(4)})
    assert ln[0].endswith("row 0: μ = (1 + 2 + 3 + 4) / 4 = 2.5")
    assert ln[1].endswith("row 0: σ² = ((−1.5)² + (−0.5)² + 0.5² + 1.5²) / 4 = 1.25")
    assert ln[2].endswith("row 0: (x − 2.5) / √(1.25 + 1e-5) = [−1.342, −0.4472, 0.4472, 1.342]")


def test_batchnorm_normalize_stage_shows_a_channel():
    caps = _captions("batchnorm", {"X": [[1, 2, 3, 4], [2, 4, 6, 8], [0, 1, 0, 1]]})
    assert caps[0].endswith("channel 0 (column 0): μ = (1 + 2 + 0) / 3 = 1")
    assert caps[1].endswith("channel 0 (column 0): σ² = (0² + 1² + (−1)²) / 3 = 0.6667")
    assert caps[2].endswith("channel 0 (column 0): ([1, 2, 0] − 1) / √(0.6667 + 1e-5) = [0, 1.225, −1.225]")


def test_attention_weights_and_output_rows():
    q = [[1, 0, 1], [0, 2, 1], [1, 1, 0], [2, 0, 1]]
    k = [[1, 1, 0], [0, 1, 2], [2, 0, 1], [1, 1, 1]]
    v = [[1, 0, 0], [0, 1, 0], [0, 0, 1], [1, 1, 1]]
    caps = _captions("attention", {"Q": q, "K": k, "V": v}, "stage", mask="causal")
    assert caps[0] == "scores = Q Kᵀ (4, 4): scores[0,0] = Q[0]·K[0] = 1×1 + 0×1 + 1×0 = 1"
    assert caps[1] == "scaled = scores × 0.5774 (1/√3): scaled[0,0] = 1 × 0.5774 = 0.5774"
    # Row 1 keeps keys 0 and 1: scores 2 and 4, scaled 2/√3 and 4/√3; e^(−2/√3) / (1 + e^(−2/√3)) = 0.2396.
    assert caps[2].endswith("row 1: [1.155, 2.309, −∞, −∞]")
    assert caps[3].endswith("row 1: softmax([1.155, 2.309, −∞, −∞]) = [0.2396, 0.7604, 0, 0]")
    assert caps[4].endswith("row 1: 0.2396×[1, 0, 0] + 0.7604×[0, 1, 0] + 0×[0, 0, 1] + 0×[1, 1, 1] = "
                            "[0.2396, 0.7604, 0]")
    tile = _captions("attention", {"Q": q, "K": k, "V": v}, "tile", mask="causal", tile=(1, 4))
    assert tile[1] == ("queries row 1: scores → mask → softmax → weighted sum of V: weights [0.2396, 0.7604, 0, 0] "
                       "→ result [0.2396, 0.7604, 0]")


def test_mha_captions_go_head_by_head():
    eye = np.eye(4)
    caps = _captions("mha", {"X": [[1, 0, 0, 0], [0, 1, 0, 0]], "W_q": eye, "W_k": eye, "W_v": eye, "W_o": eye},
                     num_heads=2)
    assert caps[0].endswith(": Q[0,0] = X[0]·W_q[:,0] = 1×1 + 0×0 + 0×0 + 0×0 = 1")
    # Head 0 holds columns 0-1: Q_0[0] = [1, 0], K_0[0] = [1, 0] → (1×1 + 0×0) / √2 = 0.7071.
    assert "head 0: scores[0,0,0] = (1×1 + 0×0) / √2 = 0.7071; head 1: scores[1,0,0] = (0×0 + 0×0) / √2 = 0" in caps[1]
    assert "head 0 row 0: [0.6698, 0.3302]; head 1 row 0: [0.5, 0.5]" in caps[2]
    # V_1 = columns 2-3 of V = X: zero in both rows, so head 1's output is 0 whatever its weights.
    assert caps[3].endswith("head 0 row 0: [0.6698, 0.3302]; head 1 row 0: [0, 0]")
    assert caps[4].endswith("row 0: [0.6698, 0.3302, 0, 0]")


# --- every operation × granularity, on the examples and the lessons -------------------------------
NUMBER = re.compile(r"(= |: |\[|\()\(?−?\d")
NO_NUMBERS = {"masked = scaled (no mask)"}  # nothing happens at that step, so there is nothing to compute


@pytest.mark.parametrize(("name", "op", "inputs", "params", "granularity"), RUNS,
                         ids=[f"{r[0]}-{r[4]}" for r in RUNS])
def test_every_step_has_real_numbers_and_parenthesized_negatives(name, op, inputs, params, granularity):
    for step in compute.stream_op(op, inputs, granularity, **params):
        cap = step.caption
        assert NUMBER.search(cap) or cap in NO_NUMBERS or "same shapes, nothing copied" in cap, cap
        assert not re.search(r"[×+·/] ?[−-]\d", cap), f"negative operand without parentheses: {cap}"
        assert not re.search(r"(?<![e\d])-\d", cap), f"ASCII minus in a caption: {cap}"


@pytest.mark.parametrize(("name", "op", "inputs", "params", "granularity"), RUNS,
                         ids=[f"{r[0]}-{r[4]}" for r in RUNS])
def test_no_step_shows_what_a_later_step_writes(name, op, inputs, params, granularity):
    """At step n, an output element is shown (not NaN) only if some step ≤ n lists it as written."""
    tl = compute.stream_op(op, inputs, granularity, **params)
    outputs = [n for n in tl.tensor_names if n not in tl.input_names]
    written = {n: np.zeros(tl.shape(n), bool) for n in outputs}
    for i in range(len(tl)):
        for region in tl[i].regions:
            if region.kind == "write" and region.tensor in written:
                written[region.tensor][region.slices()] = True
        for n in outputs:
            shown = ~np.isnan(np.asarray(tl.tensor_at(n, i), dtype=float))
            leak = shown & ~written[n]
            assert not leak.any(), f"step {i} shows {int(leak.sum())} value(s) of {n} no step so far wrote"


def test_mean_over_axis_1_shows_one_row_sum_at_a_time():
    tl = compute.stream_op("mean", {"X": [[1, 2, 3], [4, 5, 6]]}, "element", axis=1)
    np.testing.assert_array_equal(tl.tensor_at("sum", 0), [6, np.nan])
    np.testing.assert_array_equal(tl.tensor_at("sum", 1), [6, 15])
    kb = compute.stream_op("mean", {"X": [[1, 2, 3], [4, 5, 6]]}, "kblock", axis=1)
    np.testing.assert_array_equal(kb.tensor_at("sum", 0), [1, 4])  # running sums, not the totals
    np.testing.assert_array_equal(kb.tensor_at("sum", len(kb) - 1), [6, 15])


def test_dot_kblock_reveals_products_term_by_term():
    tl = compute.stream_op("dot", {"a": [1, 2, 3], "b": [4, 5, 6]}, "kblock")
    np.testing.assert_array_equal(tl.tensor_at("products", 0), [4, np.nan, np.nan])
    np.testing.assert_array_equal(tl.tensor_at("products", 2), [4, 10, 18])


# --- large inputs keep short captions ------------------------------------------------------------
@pytest.mark.parametrize(("op", "inputs", "granularity", "params"), [
    ("matmul", {"A": np.ones((300, 200)), "B": np.ones((200, 300))}, "element", {}),
    ("matmul", {"A": np.ones((300, 200)), "B": np.ones((200, 300))}, "kblock", {}),
    ("matmul", {"A": np.ones((300, 200)), "B": np.ones((200, 300))}, "stage", {}),
    ("cumsum", {"X": np.ones((500, 400))}, "kblock", {"axis": 1}),
    ("cumsum", {"X": np.ones((500, 400))}, "element", {"axis": 0}),
    ("sum", {"X": np.ones((300, 400))}, "kblock", {"axis": 1}),
    ("softmax", {"X": np.ones((64, 1000))}, "stage", {}),
    ("layernorm", {"X": np.ones((64, 1000)), "gamma": np.ones(1000)}, "stage", {}),
    ("batchnorm", {"X": np.ones((64, 100, 10))}, "stage", {}),
    ("attention", {"Q": np.ones((2, 128, 16)), "K": np.ones((2, 128, 16)), "V": np.ones((2, 128, 16))}, "stage", {}),
    ("attention", {"Q": np.ones((2, 128, 16)), "K": np.ones((2, 128, 16)), "V": np.ones((2, 128, 16))}, "tile", {}),
    ("mha", {"X": np.ones((64, 32)), **{w: np.ones((32, 32)) for w in ("W_q", "W_k", "W_v", "W_o")}}, "stage",
     {"num_heads": 8}),
])
def test_large_inputs_keep_short_captions(op, inputs, granularity, params):
    tl = compute.stream_op(op, inputs, granularity, **params)
    for n in sorted({0, len(tl) // 2, len(tl) - 1}):
        assert len(tl[n].caption) <= 600, tl[n].caption


# --- random fills --------------------------------------------------------------------------------
def test_each_input_starts_with_its_own_fill_seed():
    seeds = [input_seed(i) for i in range(5)]
    assert len(set(seeds)) == 5 and seeds[0] == 0
    assert input_seed(1, base=10) == 11
    a = fill("normal", (3, 3), seed=input_seed(0))
    b = fill("normal", (3, 3), seed=input_seed(1))
    assert not np.array_equal(a, b)
    assert not np.allclose(a @ b, a @ a)
    np.testing.assert_array_equal(b, fill("normal", (3, 3), seed=input_seed(1)))  # still reproducible
    with pytest.raises(compute.InputError):
        input_seed(-1)
