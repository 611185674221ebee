"""The worked examples of the source articles (shared/seeds), computed by the engine."""

from __future__ import annotations

import numpy as np
from opscope import compute

A = np.array([[1, 2], [3, 4]])
B = np.array([[5, 6], [7, 8]])


def test_dot_product_is_32_with_its_products():
    out = compute.run_op("dot", {"a": [1, 2, 3], "b": [4, 5, 6]})
    assert float(out["result"]) == 32
    np.testing.assert_array_equal(out["products"], [4, 10, 18])


def test_matrix_product_and_hadamard_of_the_same_matrices():
    np.testing.assert_array_equal(compute.run_op("matmul", {"A": A, "B": B})["result"], [[19, 22], [43, 50]])
    np.testing.assert_array_equal(compute.run_op("hadamard", {"A": A, "B": B})["result"], [[5, 12], [21, 32]])


def test_scalar_and_vector_broadcasting():
    np.testing.assert_array_equal(compute.run_op("hadamard", {"A": 2, "B": A})["result"], [[2, 4], [6, 8]])
    out = compute.run_op("hadamard", {"A": [[1, 2, 3], [4, 5, 6]], "B": [10, 20, 30]})
    np.testing.assert_array_equal(out["result"], [[10, 40, 90], [40, 100, 180]])
    np.testing.assert_array_equal(out["B_broadcast"], [[10, 20, 30], [10, 20, 30]])


def test_batched_matmul_shapes():
    assert compute.run_op("matmul", {"A": np.ones((3, 3, 2)), "B": np.ones((2, 4))})["result"].shape == (3, 3, 4)
    assert compute.run_op("matmul", {"A": np.ones((2, 1, 4, 3)), "B": np.ones((5, 3, 2))})["result"].shape == \
        (2, 5, 4, 2)


def test_manual_loop_equals_one_cell_of_q_at_k_transposed():
    rng = np.random.default_rng(0)
    q, k = rng.standard_normal((4, 3)), rng.standard_normal((4, 3))
    scores = compute.run_op("matmul", {"A": q, "B": k.T})["result"]
    for i in range(4):
        for j in range(4):
            assert np.isclose(scores[i, j], float(compute.run_op("dot", {"a": q[i], "b": k[j]})["result"]))


def test_attention_weights_shape_for_batched_inputs():
    rng = np.random.default_rng(1)
    q, k, v = (rng.standard_normal((2, 4, 3)) for _ in range(3))
    out = compute.run_op("attention", {"Q": q, "K": k, "V": v})
    assert out["weights"].shape == (2, 4, 4) and out["result"].shape == (2, 4, 3)
    np.testing.assert_allclose(out["weights"].sum(axis=-1), 1.0)
