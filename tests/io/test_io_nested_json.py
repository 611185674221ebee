"""JSON nested a hundred thousand deep (json.loads: RecursionError) is refused as an OpScope error, everywhere."""

import json
import struct
import zipfile

import numpy as np
import pytest
from opscope.compute.io import (
    FileFormatError,
    RecentFiles,
    SessionError,
    describe_file,
    load_run,
    load_session,
    load_tensors,
    params_from_json,
    parse_json,
    save_tensors,
)
from opscope.compute.io.file_checks import MAX_JSON_DEPTH

DEEP = "[" * 100_000
MODERATE = "[" * (MAX_JSON_DEPTH + 1) + "]" * (MAX_JSON_DEPTH + 1)  # valid JSON, but no file needs it


@pytest.mark.parametrize("text", [DEEP, "{\"a\":" * 100_000, MODERATE])
def test_parse_json_refuses_deep_nesting(text):
    with pytest.raises(FileFormatError, match="nested too deeply"):
        parse_json(text, "x")
    assert parse_json("[" * MAX_JSON_DEPTH + "]" * MAX_JSON_DEPTH, "x") is not None


@pytest.mark.parametrize("body", [DEEP, MODERATE])
def test_safetensors_header(tmp_path, body):
    path = tmp_path / "deep.safetensors"
    raw = body.encode()
    path.write_bytes(struct.pack("<Q", len(raw)) + raw)
    for fn in (describe_file, load_tensors):
        with pytest.raises(FileFormatError, match="corrupt safetensors header.*nested too deeply"):
            fn(path)


def test_session_manifest(tmp_path):
    path = tmp_path / "deep.opscope"
    with zipfile.ZipFile(path, "w") as zf:
        zf.writestr("manifest.json", DEEP)
    with pytest.raises(SessionError, match="manifest.json is JSON nested too deeply"):
        load_session(path)


def test_run_archives(tmp_path):
    npz = tmp_path / "run.npz"
    save_tensors(npz, {"__meta__": np.frombuffer(DEEP.encode(), np.uint8), "inputs/A": np.ones(2)})
    with pytest.raises(FileFormatError, match="__meta__' is JSON nested too deeply"):
        load_run(npz)
    st = tmp_path / "run.safetensors"
    save_tensors(st, {"inputs/A": np.ones(2)}, metadata={"opscope_format": "opscope-run", "opscope_version": "1",
                                                           "opscope_op": "matmul", "opscope_params": DEEP})
    with pytest.raises(FileFormatError, match="nested too deeply"):
        load_run(st)
    with pytest.raises(FileFormatError, match="nested too deeply"):
        params_from_json(DEEP)
    # params nested below the limit still load (restore_tuples recurses over them)
    assert params_from_json(json.dumps({"axis": [[1, 2]]})) == {"axis": ((1, 2),)}


def test_recent_files_list(tmp_path):
    path = tmp_path / "recent.json"
    path.write_text(DEEP)
    assert RecentFiles(path).items() == []
