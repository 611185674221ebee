"""The articles' programs written out line by line — attention with a causal mask, multi-head
attention, the transformer block — against the engine's operations and plain numpy, and their
streams: one timeline whose last step equals run_program's result."""

import math

import numpy as np
import pytest
from opscope import compute
from opscope.compute.errors import ParamError
from opscope.compute.program.timeline import names_line

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
heads = attention(qh, kh, vh)
concat = merge_heads(heads)
out = concat @ W_o
"""

POST_LN = """
a = mha(X, W_q, W_k, W_v, W_o, num_heads=2)
h = layernorm(X + a, g1, b1)
f = {act}(h @ W1 + c1)
y = layernorm(h + f @ W2 + c2, g2, b2)
"""

PRE_LN = """
a = mha(layernorm(X, g1, b1), W_q, W_k, W_v, W_o, num_heads=2)
h = X + a
y = h + gelu(layernorm(h, g2, b2) @ W1 + c1) @ W2 + c2
"""


def _qkv():
    rng = np.random.default_rng(0)
    return {n: rng.standard_normal((2, 4, 3)).round(2) for n in "QKV"}


def _block_inputs(dtype=np.float64, s=5, d=8, d_ff=16):
    rng = np.random.default_rng(1)
    r = lambda *shape: (rng.standard_normal(shape) / math.sqrt(shape[0])).astype(dtype)  # noqa: E731
    return {"X": rng.standard_normal((2, s, d)).astype(dtype), "W_q": r(d, d), "W_k": r(d, d), "W_v": r(d, d),
            "W_o": r(d, d), "W1": r(d, d_ff), "c1": r(d_ff), "W2": r(d_ff, d), "c2": r(d),
            "g1": 1 + r(d), "b1": r(d), "g2": 1 + r(d), "b2": r(d)}


def np_layernorm(x, g, b, eps=1e-5):
    mu = x.mean(-1, keepdims=True)
    var = ((x - mu) ** 2).mean(-1, keepdims=True)
    return (x - mu) / np.sqrt(var + eps) * g + b


def np_mha(x, wq, wk, wv, wo, h):
    def split(t):
        return t.reshape(t.shape[:-1] + (h, t.shape[-1] // h)).swapaxes(-2, -3)

    q, k, v = split(x @ wq), split(x @ wk), split(x @ wv)
    s = q @ k.swapaxes(-1, -2) / math.sqrt(q.shape[-1])
    e = np.exp(s - s.max(-1, keepdims=True))
    heads = (e / e.sum(-1, keepdims=True)) @ v
    return heads.swapaxes(-2, -3).reshape(x.shape[:-1] + (-1,)) @ wo


def np_gelu(x):
    return 0.5 * x * (1 + np.vectorize(math.erf)(x / math.sqrt(2)))


def np_post_ln(p, act):
    a = np_mha(p["X"], p["W_q"], p["W_k"], p["W_v"], p["W_o"], 2)
    h = np_layernorm(p["X"] + a, p["g1"], p["b1"])
    f = act(h @ p["W1"] + p["c1"])
    return np_layernorm(h + f @ p["W2"] + p["c2"], p["g2"], p["b2"])


def np_pre_ln(p):
    a = np_mha(np_layernorm(p["X"], p["g1"], p["b1"]), p["W_q"], p["W_k"], p["W_v"], p["W_o"], 2)
    h = p["X"] + a
    return h + np_gelu(np_layernorm(h, p["g2"], p["b2"]) @ p["W1"] + p["c1"]) @ p["W2"] + p["c2"]


def _assert_stream_equals_run(text, inputs, **params):
    res = compute.run_program(text, inputs, **params)
    tl = compute.stream_program(text, {**inputs, **params})
    last = tl.result()
    assert set(last) == set(res)
    for name in res:
        np.testing.assert_array_equal(last[name], res[name])
        np.testing.assert_array_equal(tl.tensor_at(name, len(tl) - 1), res[name])
    return res, tl


def test_attention_written_out_equals_the_attention_operation():
    qkv = _qkv()
    res, tl = _assert_stream_equals_run(ATTENTION, qkv, d_k=3)
    ref = compute.run_op("attention", qkv, mask="causal")
    assert res["weights"].shape == (2, 4, 4)
    np.testing.assert_allclose(res["weights"], ref["weights"], rtol=1e-13, atol=1e-15)
    np.testing.assert_allclose(res["result"], ref["result"], rtol=1e-13, atol=1e-15)
    assert np.isneginf(res["masked"][0, 0, 1:]).all()


def test_the_attention_stream_steps_each_line_with_its_own_granularity():
    tl = compute.stream_program(ATTENTION, {**_qkv(), "d_k": 3})
    assert tl.granularities == {"scores": "element", "scaled": "stage", "masked": "element",
                                "weights": "stage", "out": "element"}
    assert [p.op for p in tl.lines] == ["matmul", None, "add", "softmax", "matmul"]
    steps = list(tl)
    assert len(steps) == len(tl) and all(s.total == len(tl) for s in steps)
    for n in (0, 17, 32, len(tl) - 1, 40):  # random access: the same step as in order, any direction
        a, b = tl[n], steps[n]
        assert (a.caption, a.stage, a.regions, a.index) == (b.caption, b.stage, b.regions, n)
    for s in steps:
        line = tl.line_at(s.index)
        assert s.caption.startswith(line + ": ") or names_line(line, s.caption), s.caption
        for r in s.regions:
            assert r.tensor in tl.tensor_names
            tl.levels[r.tensor]
    scaled = tl.part("scaled").start
    assert np.isnan(tl.tensor_at("scaled", scaled - 1)).all()
    assert not np.isnan(tl.tensor_at("scaled", scaled)).any()
    assert tl.first_step_writing("scaled") == scaled and tl.first_step_writing("Q") is None
    assert tl.tensor_at("weights", 0, lead=(1,), max_shape=(2, 2)).shape == (2, 2)
    assert "weights.exp" in tl.tensor_names and tl.shape("weights.exp") == (2, 4, 4)
    assert "scores.B" in tl.tensor_names  # the argument K.T of line scores
    np.testing.assert_array_equal(tl.tensor_at("scores.B", len(tl) - 1), np.swapaxes(_qkv()["K"], -1, -2))


def test_granularity_by_line_and_its_errors():
    inputs = {**_qkv(), "d_k": 3}
    tl = compute.stream_program(ATTENTION, inputs, granularity={"scores": "tile", "out": "stage"})
    assert tl.granularities["scores"] == "tile" and tl.granularities["out"] == "stage"
    assert compute.stream_program(ATTENTION, inputs, granularity="stage").granularities["scores"] == "stage"
    with pytest.raises(ParamError, match="line scaled: granularity 'tile' is not available"):
        compute.stream_program(ATTENTION, inputs, granularity={"scaled": "tile"})
    with pytest.raises(ParamError, match="unknown line"):
        compute.stream_program(ATTENTION, inputs, granularity={"nope": "tile"})
    with pytest.raises(ParamError, match="unknown granularity"):
        compute.stream_program(ATTENTION, inputs, granularity="pixel")


def test_multi_head_attention_written_out_equals_the_mha_operation():
    p = _block_inputs()
    inputs = {k: p[k] for k in ("X", "W_q", "W_k", "W_v", "W_o")}
    res, tl = _assert_stream_equals_run(MHA, inputs)
    ref = compute.run_op("mha", inputs, num_heads=2)
    assert res["heads"].shape == (2, 2, 5, 4)  # every head on screen
    np.testing.assert_allclose(res["heads"], ref["heads"], rtol=1e-12, atol=1e-14)
    np.testing.assert_allclose(res["concat"], ref["concat"], rtol=1e-12, atol=1e-14)
    np.testing.assert_allclose(res["result"], ref["result"], rtol=1e-12, atol=1e-14)
    assert "heads.weights" in tl.tensor_names


@pytest.mark.parametrize("act", ["relu", "gelu"])
def test_post_ln_transformer_block_matches_numpy(act):
    p = _block_inputs()
    res, _tl = _assert_stream_equals_run(POST_LN.format(act=act), p)
    ref = np_post_ln(p, (lambda x: np.maximum(x, 0)) if act == "relu" else np_gelu)
    np.testing.assert_allclose(res["result"], ref, rtol=1e-11, atol=1e-12)


def test_pre_ln_transformer_block_matches_numpy():
    p = _block_inputs()
    res, _tl = _assert_stream_equals_run(PRE_LN, p)
    np.testing.assert_allclose(res["y"], np_pre_ln(p), rtol=1e-11, atol=1e-12)


def test_float32_block_stays_float32():
    p = _block_inputs(np.float32)
    res = compute.run_program(POST_LN.format(act="gelu"), p)
    assert all(v.dtype == np.float32 for v in res.values())
    np.testing.assert_allclose(res["y"], np_post_ln({k: v.astype(np.float64) for k, v in p.items()}, np_gelu),
                               rtol=2e-4, atol=2e-4)


def test_mistakes_differ_from_the_right_way():
    qkv = _qkv()
    right = compute.run_program(ATTENTION, qkv, d_k=3)["weights"]
    mask01 = np.tril(np.ones((4, 4)))
    wrong = compute.run_program("s = Q @ K.T / sqrt(d_k)\nw = softmax(s * m)", {**qkv, "m": mask01}, d_k=3)["w"]
    assert not np.allclose(wrong, right) and (wrong[:, 0, 1:] > 0).all()  # a 0/1 mask multiplied leaks
    axis1 = compute.run_program("s = Q @ K.T\nw = softmax(s, axis=1)", qkv)["w"]
    assert np.allclose(axis1.sum(axis=1), 1) and not np.allclose(axis1.sum(axis=-1), 1)
