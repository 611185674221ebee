"""Program run archives: the text, scalar parameters, inputs and every line come back; the
single-operation format is untouched; a damaged program archive is a FileFormatError."""

import json
import zipfile

import numpy as np
import pytest
from opscope import compute
from opscope.compute.errors import OpScopeError
from opscope.compute.io import (
    FileFormatError,
    ProgramArchive,
    RunArchive,
    load_any_run,
    load_program_run,
    load_run,
    save_program_run,
    save_run,
    save_tensors,
)

TEXT = "scores = Q @ K.T\nweights = softmax(scores / sqrt(d_k), axis=-1)\nout = weights @ V\n"


def _run():
    rng = np.random.default_rng(1)
    inputs = {"Q": rng.standard_normal((4, 3)).astype(np.float32), "K": rng.standard_normal((4, 3)).astype(np.float32),
              "V": rng.standard_normal((4, 2)).astype(np.float32)}
    return inputs, compute.run_program(TEXT, inputs, d_k=3)


@pytest.mark.parametrize("ext", [".npz", ".safetensors"])
def test_program_round_trip(tmp_path, ext):
    inputs, res = _run()
    path = tmp_path / f"prog{ext}"
    save_program_run(path, TEXT, inputs, res, {"d_k": np.int64(3)})
    back = load_program_run(path)
    program, params, ins, outs = back
    assert isinstance(back, ProgramArchive) and program == TEXT and params == {"d_k": 3}
    assert list(outs) == ["scores", "weights", "out", "result"] and back.line_names == ("scores", "weights", "out")
    for got, want in ((ins, inputs), (outs, res)):
        assert set(got) == set(want)
        for k in want:
            assert got[k].dtype == want[k].dtype
            np.testing.assert_array_equal(got[k], want[k])
    assert isinstance(load_any_run(path), ProgramArchive)


@pytest.mark.parametrize("ext", [".npz", ".safetensors"])
def test_single_op_format_unchanged_and_kinds_kept_apart(tmp_path, ext):
    op_path, prog_path = tmp_path / f"op{ext}", tmp_path / f"prog{ext}"
    save_run(op_path, "matmul", {"axis": None}, {"A": np.ones(2)}, {"result": np.ones(2)})
    inputs, res = _run()
    save_program_run(prog_path, TEXT, inputs, res, {"d_k": 3})
    assert isinstance(load_any_run(op_path), RunArchive) and load_run(op_path).op == "matmul"
    with pytest.raises(FileFormatError, match="is a run of the operation 'matmul', not of a program: read it with "
                                              "load_run"):
        load_program_run(op_path)
    with pytest.raises(FileFormatError, match="is a run of a program, not of one operation"):
        load_run(prog_path)
    if ext == ".npz":  # the op format's metadata is byte for byte what version 1 wrote
        with np.load(op_path, allow_pickle=False) as z:
            assert json.loads(z["__meta__"].tobytes()) == {"format": "opscope-run", "version": 1, "op": "matmul",
                                                           "params": {"axis": None}}
        with np.load(prog_path, allow_pickle=False) as z:
            meta = json.loads(z["__meta__"].tobytes())
        assert meta == {"format": "opscope-run", "version": 2, "kind": "program", "program": TEXT,
                        "lines": ["scores", "weights", "out", "result"], "params": {"d_k": 3}}


def test_save_refuses_bad_program_runs_and_keeps_the_old_file(tmp_path):
    inputs, res = _run()
    path = tmp_path / "p.npz"
    save_program_run(path, TEXT, inputs, res)
    before = path.read_bytes()
    with pytest.raises(FileFormatError, match="needs its 'result'"):
        save_program_run(path, TEXT, inputs, {"scores": res["scores"]})
    with pytest.raises(FileFormatError, match="non-empty string"):
        save_program_run(path, "  ", inputs, res)
    with pytest.raises(FileFormatError, match="cannot be saved"):
        save_program_run(path, TEXT, inputs, res, {"d_k": object()})
    with pytest.raises(FileFormatError, match="complex"):
        save_program_run(path, TEXT, {"Q": np.ones(2, complex)}, res)
    with pytest.raises(FileFormatError, match="saved as .npz or .safetensors"):
        save_program_run(tmp_path / "p.csv", TEXT, inputs, res)
    assert path.read_bytes() == before


def _npz_with_meta(path, meta, tensors):
    raw = np.frombuffer(json.dumps(meta).encode(), np.uint8)
    save_tensors(path, {"__meta__": raw, **tensors})


GOOD = {"format": "opscope-run", "version": 2, "kind": "program", "program": "y = A", "lines": ["y", "result"],
        "params": {}}
TENSORS = {"inputs/A": np.ones(2), "outputs/y": np.ones(2), "outputs/result": np.ones(2)}


@pytest.mark.parametrize("change, tensors, message", [
    ({"program": ""}, TENSORS, "text, line names or parameters"),
    ({"program": 3}, TENSORS, "text, line names or parameters"),
    ({"lines": "y"}, TENSORS, "text, line names or parameters"),
    ({"lines": ["y", "y", "result"]}, TENSORS, "text, line names or parameters"),
    ({"lines": ["y"]}, TENSORS, "text, line names or parameters"),
    ({"params": [1]}, TENSORS, "text, line names or parameters"),
    ({"kind": "movie"}, TENSORS, "unknown kind of run 'movie'"),
    ({"lines": ["y", "z", "result"]}, TENSORS, "damaged: line\\(s\\) z have no tensor"),
    ({}, {**TENSORS, "outputs/extra": np.ones(1)}, "outputs/extra belong to no line"),
    ({}, {**TENSORS, "junk": np.ones(1)}, "unexpected tensor 'junk'"),
    ({"version": 9}, TENSORS, "newer OpScope \\(run format 9\\)"),
])
def test_corrupted_program_metadata_is_a_file_format_error(tmp_path, change, tensors, message):
    path = tmp_path / "bad.npz"
    _npz_with_meta(path, {**GOOD, **change}, tensors)
    with pytest.raises(FileFormatError, match=message):
        load_any_run(path)


def test_corrupted_safetensors_program_metadata(tmp_path):
    meta = {"opscope_format": "opscope-run", "opscope_version": "2", "opscope_kind": "program",
            "opscope_program": "y = A", "opscope_params": "{}"}
    for lines, message in (("{nope", "not an OpScope run archive"), ('["y"]', "line names"),
                           ('["q", "result"]', "line\\(s\\) q have no tensor")):
        save_tensors(tmp_path / "bad.safetensors", TENSORS, metadata={**meta, "opscope_lines": lines})
        with pytest.raises(FileFormatError, match=message):
            load_program_run(tmp_path / "bad.safetensors")


@pytest.mark.parametrize("ext", [".npz", ".safetensors"])
def test_damaged_bytes_only_raise_opscope_errors(tmp_path, ext):
    inputs, res = _run()
    path = tmp_path / f"p{ext}"
    save_program_run(path, TEXT, inputs, res, {"d_k": 3})
    data = path.read_bytes()
    rng = np.random.default_rng(0)
    for trial in range(40):
        buf = bytearray(data)
        if trial % 4 == 0:
            buf = buf[: int(rng.integers(0, len(buf)))]  # truncated
        else:
            for pos in rng.integers(0, len(buf), size=3):
                buf[int(pos)] ^= 0xFF
        path.write_bytes(bytes(buf))
        try:
            back = load_program_run(path)
        except OpScopeError:
            continue
        # A flip the formats cannot detect (inside tensor data) still gives a well-formed archive.
        assert isinstance(back, ProgramArchive) and back.line_names == ("scores", "weights", "out")


def test_npz_program_archive_holds_no_pickles(tmp_path):
    inputs, res = _run()
    save_program_run(tmp_path / "p.npz", TEXT, inputs, res)
    with zipfile.ZipFile(tmp_path / "p.npz") as zf:
        assert sorted(zf.namelist()) == sorted(["__meta__.npy", "inputs/Q.npy", "inputs/K.npy", "inputs/V.npy",
                                                "outputs/scores.npy", "outputs/weights.npy", "outputs/out.npy",
                                                "outputs/result.npy"])
    with np.load(tmp_path / "p.npz", allow_pickle=False) as z:
        assert all(z[k].dtype != object for k in z.files)
