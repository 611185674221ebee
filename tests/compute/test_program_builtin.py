"""Built-in programs (attention, multi-head attention, the transformer block, post- and pre-LN) and
the common mistakes: every line against plain numpy written here, every stream's last step against
run_program, every mistake's wrong side really wrong and its caption built from the run's numbers."""

import dataclasses
import math

import numpy as np
import pytest
from opscope import compute
from opscope.compute.errors import ParamError
from opscope.compute.numbers import fmt
from opscope.compute.program import (
    Mistake,
    MistakeResult,
    compare_mistake,
    get_mistake,
    get_program_lesson,
    mistakes,
    program_lessons,
)
from opscope.compute.program.mistakes import differing_cells, tolerance


# --- plain numpy references (independent of compute) -------------------------------------------------
def np_softmax(x, axis=-1):
    e = np.exp(x - x.max(axis=axis, keepdims=True))
    return e / e.sum(axis=axis, keepdims=True)


def np_layernorm(x, g, b, eps=1e-5):
    mu = x.mean(-1, keepdims=True)
    return (x - mu) / np.sqrt(x.var(-1, keepdims=True) + eps) * g + b


def np_gelu(x):
    return 0.5 * x * (1 + np.vectorize(math.erf)(x / math.sqrt(2)))


def np_split(t, h):
    s, d = t.shape[-2:]
    return t.reshape(t.shape[:-1] + (h, d // h)).swapaxes(-2, -3)


def np_mha_lines(p, h=2):
    x = p["X"]
    q, k, v = x @ p["W_q"], x @ p["W_k"], x @ p["W_v"]
    qh, kh, vh = np_split(q, h), np_split(k, h), np_split(v, h)
    scores = qh @ kh.swapaxes(-1, -2) / math.sqrt(qh.shape[-1])
    weights = np_softmax(scores)
    heads = weights @ vh
    concat = heads.swapaxes(-2, -3).reshape(x.shape[:-1] + (-1,))
    return {"q": q, "k": k, "v": v, "qh": qh, "kh": kh, "vh": vh, "scores": scores, "weights": weights,
            "heads": heads, "concat": concat, "out": concat @ p["W_o"]}


def np_attention_lines(p, d_k):
    scores = p["Q"] @ p["K"].swapaxes(-1, -2)
    scaled = scores / math.sqrt(d_k)
    n = scores.shape[-1]
    masked = scaled + np.where(np.arange(n)[None, :] > np.arange(n)[:, None], -np.inf, 0.0)
    weights = np_softmax(masked)
    return {"scores": scores, "scaled": scaled, "masked": masked, "weights": weights, "out": weights @ p["V"]}


def np_post_ln_lines(p):
    a = np_mha_lines(p)["out"]
    r1 = p["X"] + a
    h = np_layernorm(r1, p["g1"], p["b1"])
    f1 = np.maximum(h @ p["W1"] + p["c1"], 0)
    f = f1 @ p["W2"] + p["c2"]
    r2 = h + f
    return {"a": a, "r1": r1, "h": h, "f1": f1, "f": f, "r2": r2, "y": np_layernorm(r2, p["g2"], p["b2"])}


def np_pre_ln_lines(p):
    n1 = np_layernorm(p["X"], p["g1"], p["b1"])
    a = np_mha_lines({**p, "X": n1})["out"]
    h = p["X"] + a
    n2 = np_layernorm(h, p["g2"], p["b2"])
    f1 = np_gelu(n2 @ p["W1"] + p["c1"])
    f = f1 @ p["W2"] + p["c2"]
    return {"n1": n1, "a": a, "h": h, "n2": n2, "f1": f1, "f": f, "y": h + f}


# The manual loop's 16 similarities, written out (not computed here): Q[i] · K[j] by hand.
QK_SIMILARITIES = [[1, 2, 3, 2], [2, 4, 1, 3], [2, 1, 2, 2], [2, 2, 5, 3]]

REFERENCES = {
    "qk_loop_vs_matmul": lambda p, prm: {"S": np.array(QK_SIMILARITIES, dtype=float)},
    "attention_causal_program": lambda p, prm: np_attention_lines(p, prm["d_k"]),
    "mha_2heads": lambda p, prm: {"out": np_mha_lines(p)["out"]},
    "mha_program": lambda p, prm: np_mha_lines(p),
    "transformer_post_ln": lambda p, prm: np_post_ln_lines(p),
    "transformer_pre_ln": lambda p, prm: np_pre_ln_lines(p),
}


# --- built-in programs -------------------------------------------------------------------------------
def test_the_programs_are_there_and_unknown_slugs_list_the_valid_ones():
    assert [pl.slug for pl in program_lessons()] == list(REFERENCES)
    assert get_program_lesson("mha_program").slug == "mha_program"
    with pytest.raises(ParamError, match="unknown program lesson 'nope'; valid: qk_loop_vs_matmul, "
                                         "attention_causal_program, mha_2heads, mha_program, transformer_post_ln, "
                                         "transformer_pre_ln"):
        get_program_lesson("nope")


@pytest.mark.parametrize("lesson", program_lessons(), ids=lambda pl: pl.slug)
def test_builtin_program_lines_equal_numpy_and_its_stream_ends_at_run_program(lesson):
    res = lesson.run()
    assert res.lines == lesson.lines
    ref = REFERENCES[lesson.slug]({k: np.asarray(v) for k, v in lesson.inputs.items()}, lesson.params)
    assert set(ref) == set(res.lines)
    for name, want in ref.items():
        assert res[name].shape == want.shape, name
        np.testing.assert_allclose(res[name], want, rtol=1e-12, atol=1e-13, err_msg=name)
    np.testing.assert_array_equal(res["result"], res[res.lines[-1]])

    tl = lesson.stream()
    for line, gran in lesson.granularity.items():  # every suggestion is one the line's operation offers
        assert tl.granularities[line] == gran
    last = tl.result()
    assert set(last) == set(res)
    for name in res:
        np.testing.assert_array_equal(last[name], res[name])
        np.testing.assert_array_equal(tl.tensor_at(name, len(tl) - 1), res[name])
    assert len(tl) <= 200  # short enough to watch at a few steps per second


@pytest.mark.parametrize("lesson", program_lessons(), ids=lambda pl: pl.slug)
def test_builtin_program_data_is_read_only_and_described(lesson):
    for name, arr in lesson.inputs.items():
        assert not arr.flags.writeable, name
    with pytest.raises(TypeError):
        lesson.inputs["X"] = np.zeros(1)
    assert lesson.title and lesson.source
    assert 2 <= lesson.description.count(". ") + 1 <= 3
    assert compute.check_program(lesson.text, {**{k: v.shape for k, v in lesson.inputs.items()},
                                               **{k: () for k in lesson.params}})


def test_the_descriptions_claims_hold_on_the_numbers():
    att = get_program_lesson("attention_causal_program")
    assert att.inputs["Q"].shape == att.inputs["K"].shape == att.inputs["V"].shape == (2, 4, 3)
    w = att.run()["weights"]
    assert w.shape == (2, 4, 4)
    np.testing.assert_allclose(w.sum(-1), 1)
    np.testing.assert_array_equal(w[:, 0], [[1, 0, 0, 0]] * 2)
    assert (w[:, np.triu_indices(4, 1)[0], np.triu_indices(4, 1)[1]] == 0).all()
    # batch 0 is the window's single-operation attention lesson: the same numbers, the same result
    ref = compute.run_op("attention", {k: v[0] for k, v in att.inputs.items()}, mask="causal")
    np.testing.assert_allclose(att.run()["out"][0], ref["result"], rtol=1e-13)

    mha = get_program_lesson("mha_program").run()
    assert mha["qh"].shape == (2, 4, 2) and mha["weights"].shape == (2, 4, 4) and mha["concat"].shape == (4, 4)
    block = get_program_lesson("transformer_post_ln")
    post = block.run()
    for name in ("h", "y"):
        np.testing.assert_allclose(post[name].mean(-1), 0, atol=1e-12)
        np.testing.assert_allclose(post[name].var(-1), 1, rtol=1e-4)
    pre = get_program_lesson("transformer_pre_ln").run()
    assert not np.allclose(pre["y"].mean(-1), 0)  # the residual path is not normalized
    # the written-out MHA equals the mha operation the blocks call, on the same numbers
    np.testing.assert_allclose(mha["out"], post["a"], rtol=1e-12)


# --- common mistakes ---------------------------------------------------------------------------------
def _arrays(m):
    return {k: np.asarray(v) for k, v in m.inputs.items()}


def _attention_scaled(p, d_k=3):
    return p["Q"] @ p["K"].swapaxes(-1, -2) / math.sqrt(d_k)


def test_mask_multiplied_leaks_weight_onto_future_keys():
    m = get_mistake("mask_multiplied")
    p = _arrays(m)
    s = _attention_scaled(p)
    right = np_softmax(s + np.triu(np.full((4, 4), -np.inf), 1))
    wrong = np_softmax(s * np.tril(np.ones((4, 4))))
    r = compare_mistake(m)
    np.testing.assert_allclose(r.right, right, rtol=1e-13)
    np.testing.assert_allclose(r.wrong, wrong, rtol=1e-13)
    # the last row sees every key, so the mask changes nothing there; every other row changes entirely
    np.testing.assert_array_equal(r.differs, np.broadcast_to((np.arange(4) < 3)[None, :, None], (2, 4, 4)))
    assert r.n_differ == 24 and r.max_abs_diff == pytest.approx(np.abs(right - wrong).max())
    future = np.triu(np.ones((4, 4), bool), 1)
    b, i, j = np.unravel_index(np.argmax(np.where(future, wrong, -1)), wrong.shape)
    assert f"row {i} of batch {b} keeps weight {fmt(wrong[b, i, j], 2)} on future key {j}" in r.caption
    assert "score 0 where it should be −∞" in r.caption and "24 of 32 cells differ" in r.caption


def test_q_at_k_without_transpose_is_a_shape_error_when_not_square():
    m = get_mistake("qk_no_transpose")
    assert m.wrong_raises == "ShapeError"
    r = compare_mistake(m)
    p = _arrays(m)
    np.testing.assert_array_equal(r.right, p["Q"] @ p["K"].swapaxes(-1, -2))
    assert r.wrong is None and r.wrong_run is None and r.differs is None and r.max_abs_diff is None
    assert r.error.startswith("ShapeError: ") and "Did you mean K.T?" in r.error and "Q (2, 4, 3)" in r.error
    assert r.error in r.caption and f"= {fmt(r.right[0, 0, 1], 3)}:" in r.caption
    with pytest.raises(compute.ShapeError, match="Did you mean K.T"):
        compute.run_program(m.wrong, m.inputs)


def test_q_at_k_without_transpose_is_silently_wrong_when_square():
    m = get_mistake("qk_no_transpose_square")
    p = _arrays(m)
    assert p["Q"].shape == p["K"].shape == (3, 3)
    r = compare_mistake(m)
    assert r.error is None
    np.testing.assert_array_equal(r.right, p["Q"] @ p["K"].T)
    np.testing.assert_array_equal(r.wrong, p["Q"] @ p["K"])
    np.testing.assert_array_equal(r.differs, p["Q"] @ p["K"].T != p["Q"] @ p["K"])  # integers: exact
    assert r.max_abs_diff == np.abs(p["Q"] @ p["K"].T - p["Q"] @ p["K"]).max()
    i, j = np.unravel_index(np.argmax(np.abs(r.right - r.wrong)), (3, 3))
    assert f"scores[{i}, {j}] = " in r.caption and f"= {fmt(r.wrong[i, j], 3)} instead of" in r.caption
    assert f"= {fmt(r.right[i, j], 3)}." in r.caption and f"{r.n_differ} of 9 cells differ" in r.caption


def test_softmax_over_axis_1_normalizes_the_wrong_axis():
    m = get_mistake("softmax_axis1")
    s = _attention_scaled(_arrays(m))
    r = compare_mistake(m)
    np.testing.assert_allclose(r.right, np_softmax(s, -1), rtol=1e-13)
    np.testing.assert_allclose(r.wrong, np_softmax(s, 1), rtol=1e-13)
    np.testing.assert_allclose(r.wrong.sum(1), 1)
    want = np.abs(np_softmax(s, -1) - np_softmax(s, 1)) > 1.5e-8 * (1 + np.abs(np_softmax(s, -1)))
    np.testing.assert_array_equal(r.differs, want)
    rows = np_softmax(s, 1).sum(-1)
    b, i = np.unravel_index(np.argmax(np.abs(rows - 1)), rows.shape)
    assert f"row {i} of batch {b} sums to {fmt(rows[b, i], 3)} instead of 1" in r.caption


def test_batchnorm_axes_vs_layernorm_axes_on_the_same_batch():
    m = get_mistake("batchnorm_vs_layernorm")
    x = _arrays(m)["X"]
    r = compare_mistake(m)
    layer = (x - x.mean(1, keepdims=True)) / np.sqrt(x.var(1, keepdims=True) + 1e-5)
    batch = (x - x.mean(0, keepdims=True)) / np.sqrt(x.var(0, keepdims=True) + 1e-5)
    np.testing.assert_allclose(r.right, layer, rtol=1e-12)
    np.testing.assert_allclose(r.wrong, batch, rtol=1e-12)
    # and the engine's own operations agree with the written-out axes
    ones, zeros = np.ones(4), np.zeros(4)
    np.testing.assert_allclose(r.right, compute.run_op("layernorm", {"X": x, "gamma": ones, "beta": zeros})["result"],
                               rtol=1e-12)
    np.testing.assert_allclose(r.wrong, compute.run_op("batchnorm", {"X": x, "gamma": ones, "beta": zeros},
                                                       training=True)["result"], rtol=1e-12, atol=1e-15)
    assert r.differs.all() and r.n_differ == 12
    assert "[1, 2.33, 3, 4.33]" in r.caption and "[2.5, 5, 0.5]" in r.caption  # μ per feature vs per sample
    assert "equal after LayerNorm, different after BatchNorm" in r.caption


def test_a_at_b_vs_b_at_a():
    r = compare_mistake(get_mistake("matmul_order"))
    np.testing.assert_array_equal(r.right, [[19, 22], [43, 50]])  # the article's A × B
    np.testing.assert_array_equal(r.wrong, [[23, 34], [31, 46]])
    assert r.differs.all() and r.max_abs_diff == 12
    assert "[[19, 22], [43, 50]]" in r.caption and "[[23, 34], [31, 46]]" in r.caption
    assert "[1, 2] · [5, 7] = 19" in r.caption and "[5, 6] · [1, 3] = 23" in r.caption


@pytest.mark.parametrize("m", mistakes(), ids=lambda m: m.slug)
def test_every_mistake_is_data_and_really_differs(m):
    assert isinstance(m, Mistake) and m.summary and m.source.startswith("seeds/")
    assert all(not a.flags.writeable for a in m.inputs.values())
    r = compare_mistake(m)
    assert isinstance(r, MistakeResult) and r.caption
    assert m.compare in r.right_run.lines
    if m.wrong_raises:
        assert r.error.startswith(m.wrong_raises + ": ")
    else:
        assert r.error is None and r.differs.shape == r.right.shape and r.differs.any()
        assert r.max_abs_diff > 0 and fmt(r.max_abs_diff, 3) in r.caption
        np.testing.assert_array_equal(r.differs, ~np.isclose(r.wrong, r.right, rtol=1.5e-8, atol=1.5e-8,
                                                             equal_nan=True))
    with pytest.raises(ParamError, match="unknown mistake 'nope'; valid: mask_multiplied, qk_no_transpose"):
        get_mistake("nope")


def test_captions_follow_the_numbers_not_a_canned_text():
    m = get_mistake("matmul_order")
    other = dataclasses.replace(m, inputs={"A": np.array([[2.0, 0], [1, 1]]), "B": np.array([[0.0, 1], [1, 0]])})
    r = compare_mistake(other)
    np.testing.assert_array_equal(r.right, [[0, 2], [1, 1]])
    np.testing.assert_array_equal(r.wrong, [[1, 1], [2, 0]])
    assert "A @ B = [[0, 2], [1, 1]]" in r.caption and "19" not in r.caption


def test_differing_cells_tolerance_by_dtype():
    assert tolerance(np.float32)[0] == pytest.approx(3.45e-4, rel=1e-2)
    assert tolerance(np.float64)[0] == pytest.approx(1.49e-8, rel=1e-2)
    a = np.array([1.0, -np.inf, np.nan, 2.0], np.float32)
    b = np.array([1.0 + 1e-6, -np.inf, np.nan, 2.1], np.float32)
    np.testing.assert_array_equal(differing_cells(a, b), [False, False, False, True])
    np.testing.assert_array_equal(differing_cells(a.astype(np.float64), b.astype(np.float64)),
                                  [True, False, False, True])
    np.testing.assert_array_equal(differing_cells(np.array([0.0, -np.inf]), np.array([-np.inf, 0.0])), [True, True])


def test_float32_mistake_keeps_its_dtype_and_tolerance():
    m = get_mistake("mask_multiplied")
    m32 = dataclasses.replace(m, inputs={k: np.asarray(v, np.float32) for k, v in m.inputs.items()})
    r = compare_mistake(m32)
    assert r.right.dtype == r.wrong.dtype == np.float32
    np.testing.assert_array_equal(r.differs, compare_mistake(m).differs)


def test_the_loop_lesson_reads_each_cell_as_the_articles_loop_does():
    """S = Q @ K.T stepped by elements is the manual loop ``S[i, j] = np.dot(Q[i], K[j])``: each
    caption names the two rows it pairs and ends with the similarity written out above, and the step
    outlines row i of Q and row j of K (not a column of a Kᵀ nobody sees)."""
    lesson = get_program_lesson("qk_loop_vs_matmul")
    tl = lesson.stream()
    assert len(tl) == 16
    for n, step in enumerate(tl):
        i, j = divmod(n, 4)
        head, _, value = step.caption.rpartition(" = ")
        assert head.startswith(f"S[{i},{j}] = Q[{i}] · K[{j}] = "), step.caption
        assert float(value) == QK_SIMILARITIES[i][j]
        reads = {(r.tensor, r.box) for r in step.regions if r.kind == "read"}
        assert {("Q", ((i, i + 1), (0, 3))), ("K", ((j, j + 1), (0, 3)))} <= reads
