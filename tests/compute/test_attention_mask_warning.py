"""A 0/1 number mask given to attention or mha is refused (it would be *added* to the scores and
remove nothing), and the masked stage's caption says what the mask actually did."""

import numpy as np
import pytest
from opscope import compute
from opscope.compute.errors import ParamError

RNG = np.random.default_rng(3)
Q, K, V = (RNG.standard_normal((4, 3)) for _ in range(3))
TRIL = np.tril(np.ones((4, 4)))
MHA = {"X": RNG.standard_normal((4, 4)), **{w: np.eye(4) for w in ("W_q", "W_k", "W_v", "W_o")}}


@pytest.mark.parametrize("mask", [TRIL, TRIL.astype(np.float32), TRIL.astype(int), TRIL.astype(np.uint8),
                                  np.ones((4, 4)), TRIL[1]])
def test_keep_drop_number_masks_are_refused_with_the_fix(mask):
    with pytest.raises(ParamError) as err:
        compute.run_op("attention", {"Q": Q, "K": K, "V": V, "mask": mask})
    msg = str(err.value)
    assert msg.startswith("attention: the mask holds only 0s and 1s")
    assert "additive masks use 0 (keep) and -inf (remove)" in msg and "bool mask (True = keep" in msg
    assert "where(m, 0, -inf)" in msg and "\n" not in msg
    with pytest.raises(ParamError, match="^mha: the mask holds only 0s and 1s"):
        compute.run_op("mha", {**MHA, "mask": mask}, num_heads=2)
    with pytest.raises(ParamError, match="the mask holds only 0s and 1s"):
        compute.stream_op("attention", {"Q": Q, "K": K, "V": V, "mask": mask})


def test_the_suggested_fixes_give_the_masked_answer():
    want = compute.run_op("attention", {"Q": Q, "K": K, "V": V}, mask="causal")["result"]
    for fixed in (TRIL.astype(bool), np.where(TRIL == 1, 0.0, -np.inf)):
        got = compute.run_op("attention", {"Q": Q, "K": K, "V": V, "mask": fixed})["result"]
        np.testing.assert_allclose(got, want, atol=1e-12)
    # and in a program, the bool mask goes in as an input
    res = compute.run_program("y = attention(Q, K, V, m)", {"Q": Q, "K": K, "V": V, "m": TRIL.astype(bool)})
    np.testing.assert_allclose(res["result"], want, atol=1e-12)


def test_a_program_call_with_a_01_mask_is_refused():
    with pytest.raises(ParamError, match="the mask holds only 0s and 1s"):
        compute.run_program("y = attention(Q, K, V, m)", {"Q": Q, "K": K, "V": V, "m": TRIL})
    # multiplying a 0/1 mask into the scores is a program's own business (a lesson's "wrong" side)
    compute.run_program("w = softmax(Q @ K.T * m)", {"Q": Q, "K": K, "m": TRIL})


@pytest.mark.parametrize("mask", [np.zeros((4, 4)), np.where(TRIL == 1, 0.0, -np.inf), 0.5 * TRIL,
                                  np.full((4, 4), 2.0) * TRIL, np.array([[0.0, 1.0, -np.inf, 0.0]]),
                                  np.where(TRIL == 1, 0.0, -1e9), TRIL - 1])
def test_real_additive_masks_still_run(mask):
    out = compute.run_op("attention", {"Q": Q, "K": K, "V": V, "mask": mask})
    np.testing.assert_allclose(out["masked"], Q @ K.T / np.sqrt(3) + mask)
    compute.run_op("mha", {**MHA, "mask": mask}, num_heads=2)


def _caption(inputs, **params):
    tl = compute.stream_op("attention", inputs, granularity="stage", **params)
    return next(s.caption for s in tl if s.caption.startswith("masked"))


def test_captions_say_what_the_mask_did():
    qkv = {"Q": Q, "K": K, "V": V}
    add = _caption({**qkv, "mask": np.where(TRIL == 1, 0.0, -np.inf)})
    assert "additive mask added: its −∞ entries remove keys, its 0s keep them" in add
    assert "6 of 16 entries are −∞" in add
    bias = _caption({**qkv, "mask": 0.5 * TRIL})
    assert "it has no −∞, so it removes no key" in bias and "0 of 16 entries are −∞" in bias
    assert "removed entries → −∞" not in bias  # the old caption claimed this of every mask
    assert "changes nothing" in _caption({**qkv, "mask": np.zeros((4, 4))})
    mixed = _caption({**qkv, "mask": np.array([0.0, 0.5, -np.inf, 0.0])})
    assert "its other values shift the scores" in mixed and "4 of 16 entries are −∞" in mixed
    boolean = _caption({**qkv, "mask": TRIL.astype(bool)})
    assert "boolean mask: False entries → −∞ (True = keep)" in boolean and "6 of 16 entries are −∞" in boolean
    causal = _caption(qkv, mask="causal")
    assert "causal (query i sees keys 0..i): removed entries → −∞" in causal
    assert _caption(qkv) == "masked = scaled (no mask)"


def test_mha_caption_names_the_mask():
    tl = compute.stream_op("mha", {**MHA, "mask": np.where(TRIL == 1, 0.0, -np.inf)}, num_heads=2)
    caption = next(s.caption for s in tl if s.caption.startswith("weights"))
    assert "additive mask added: its −∞ entries remove keys" in caption
    tl = compute.stream_op("mha", dict(MHA), num_heads=2, mask="causal")
    assert any("causal (query i sees keys 0..i)" in s.caption for s in tl)
