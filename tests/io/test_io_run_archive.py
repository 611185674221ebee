"""Run archives: op, params and tensors come back exactly, with no pickle involved."""

import json

import numpy as np
import pytest
from opscope.compute.io import FileFormatError, load_run, params_from_json, params_to_json, save_run, save_tensors

PARAMS = {"axis": (0, -1), "eps": np.float32(1e-5), "keepdims": np.bool_(True), "mask": None, "ord": float("inf"),
          "heads": np.int64(4), "nested": {"tile_shape": [64, 32], "names": ["a", "b"]}}
EXPECTED = {"axis": (0, -1), "eps": 1e-5, "keepdims": True, "mask": None, "ord": float("inf"), "heads": 4,
            "nested": {"tile_shape": (64, 32), "names": ["a", "b"]}}


@pytest.mark.parametrize("ext", [".npz", ".safetensors"])
def test_round_trip(tmp_path, ext):
    inputs = {"A": np.arange(6, dtype=np.float32).reshape(2, 3), "mask": np.array([True, False])}
    outputs = {"result": np.ones((2, 2)), "weights": np.eye(2, dtype=np.float16)}
    save_run(tmp_path / f"run{ext}", "attention", PARAMS, inputs, outputs)
    op, params, ins, outs = load_run(tmp_path / f"run{ext}")
    assert op == "attention"
    assert params == EXPECTED and isinstance(params["axis"], tuple) and type(params["heads"]) is int
    for got, want in ((ins, inputs), (outs, outputs)):
        assert set(got) == set(want)
        for k in want:
            assert got[k].dtype == want[k].dtype
            np.testing.assert_array_equal(got[k], want[k])


def test_npz_metadata_is_plain_bytes(tmp_path):
    save_run(tmp_path / "r.npz", "matmul", {"axis": None}, {"A": np.ones(2)}, {"result": np.ones(2)})
    with np.load(tmp_path / "r.npz", allow_pickle=False) as z:
        assert sorted(z.files) == ["__meta__", "inputs/A", "outputs/result"]
        assert z["__meta__"].dtype == np.uint8
        meta = json.loads(z["__meta__"].tobytes())
    assert meta == {"format": "opscope-run", "version": 1, "op": "matmul", "params": {"axis": None}}


def test_params_json_helpers():
    text = params_to_json(PARAMS)
    assert json.loads(text)["axis"] == [0, -1]
    assert params_from_json(text) == EXPECTED
    with pytest.raises(FileFormatError, match=r"params\['f'\] = .* cannot be saved"):
        params_to_json({"f": object()})
    with pytest.raises(FileFormatError, match="keys must be strings"):
        params_to_json({1: 2})
    with pytest.raises(FileFormatError, match="not valid JSON"):
        params_from_json("{nope")
    with pytest.raises(FileFormatError, match="not a JSON object"):
        params_from_json("[1]")


def test_plain_tensor_file_is_not_a_run(tmp_path):
    save_tensors(tmp_path / "t.npz", {"A": np.ones(2)})
    save_tensors(tmp_path / "t.safetensors", {"A": np.ones(2)})
    for name in ("t.npz", "t.safetensors"):
        with pytest.raises(FileFormatError, match="is not an OpScope run archive"):
            load_run(tmp_path / name)


def test_newer_run_format_refused(tmp_path):
    meta = json.dumps({"format": "opscope-run", "version": 7, "op": "x", "params": {}}).encode()
    save_tensors(tmp_path / "n.npz", {"__meta__": np.frombuffer(meta, np.uint8), "inputs/A": np.ones(1)})
    with pytest.raises(FileFormatError, match=r"newer OpScope \(run format 7\); this version reads format ≤ 2"):
        load_run(tmp_path / "n.npz")


def test_wrong_extension_and_bad_tensors(tmp_path):
    with pytest.raises(FileFormatError, match="saved as .npz or .safetensors"):
        save_run(tmp_path / "r.csv", "x", {}, {"A": np.ones(2)}, {})
    with pytest.raises(FileFormatError, match="complex"):
        save_run(tmp_path / "r.npz", "x", {}, {"A": np.ones(2, complex)}, {})
    assert not (tmp_path / "r.npz").exists()
