"""Per-line stepping options of ``stream_program``: a tile or k-block size for each line."""

import numpy as np
import pytest
from opscope import compute

A = np.arange(48.0).reshape(6, 8)
B = np.linspace(-1.0, 1.0, 64).reshape(8, 8)
TEXT = "c = A @ B\nd = relu(c)\ne = d @ B\n"


def test_each_line_steps_by_its_own_tile_and_kblock():
    tl = compute.stream_program(TEXT, {"A": A, "B": B}, granularity={"c": "tile", "e": "kblock"},
                                options={"c": {"tile": (3, 4)}, "e": {"kblock": 2}})
    c, e = tl.part("c"), tl.part("e")
    assert c.granularity == "tile" and len(c) == 2 * 2  # (6, 8) in 3×4 tiles
    assert e.granularity == "kblock" and len(e) == 8 // 2  # k = 8 in blocks of 2
    assert tl.options["c"]["tile"] == (3, 4) and tl.options["e"]["kblock"] == 2
    # The first tile of c is written after its first step, the rest is not yet.
    first = tl.tensor_at("c", c.start)
    np.testing.assert_allclose(first[:3, :4], (A @ B)[:3, :4])
    assert np.isnan(first[3:, :]).all()
    np.testing.assert_allclose(tl.result()["e"], np.maximum(A @ B, 0) @ B)
    # A different tile gives a different number of steps: the option really reaches the line.
    other = compute.stream_program(TEXT, {"A": A, "B": B}, granularity={"c": "tile"}, options={"c": {"tile": 2}})
    assert len(other.part("c")) == 3 * 4


@pytest.mark.parametrize("options, match", [
    ({"zz": {"tile": 2}}, "unknown line"),
    ({"c": {"tyle": 2}}, "unknown option"),
    ({"d": {"tile": 2}}, "line d: options tile are not available"),
    ({"c": {"tile": 0}}, "line c: matmul: tile"),
    ({"c": 4}, "must be a dict"),
    ([("c", {"tile": 2})], "must be a dict"),
])
def test_bad_options_name_the_line(options, match):
    with pytest.raises(compute.ParamError, match=match):
        compute.stream_program(TEXT, {"A": A, "B": B}, granularity={"c": "tile"}, options=options)
