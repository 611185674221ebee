"""A program timeline's steps, as the views read them: regions on the program's own tensors."""

import numpy as np
from opscope.compute import stream_program


def test_a_transposed_operand_marks_the_rows_its_steps_read_on_the_tensor_itself():
    # S = Q @ K.T: S[1, 2] reads Kᵀ's column 2, which is K's row 2. The program shows K, not the
    # line's internal Kᵀ operand, so the read must be given on K too, its box's axes swapped.
    q = np.arange(12.0).reshape(4, 3)
    k = np.arange(12.0, 24.0).reshape(4, 3)
    tl = stream_program("S = Q @ K.T", {"Q": q, "K": k}, granularity={"S": "element"})
    step = tl[6]  # S[1, 2]
    assert step.regions_of("K", "read")[0].box == ((2, 3), (0, 3))
    assert step.regions_of("Q", "read")[0].box == ((1, 2), (0, 3))
    # A batched transpose swaps only the last two axes.
    kb = np.arange(24.0).reshape(2, 4, 3)
    tb = stream_program("S = Q @ K.T", {"Q": np.ones((2, 4, 3)), "K": kb}, granularity={"S": "element"})
    boxes = {r.box for r in tb[16 + 6].regions_of("K", "read")}  # batch 1, S[1, 1, 2]
    assert boxes == {((1, 2), (2, 3), (0, 3))}
    np.testing.assert_allclose(tb.tensor_at("S", len(tb) - 1), np.ones((2, 4, 3)) @ np.swapaxes(kb, -1, -2))
