"""Fuzzing every loader: random bytes, truncations and corrupted headers raise OpScope errors only.

Any other exception is a defect of the loader (fixed there, never filtered here). Kept small:
the whole file runs in a few seconds.
"""

import json
import os
import struct
import zipfile

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from opscope.compute.errors import OpScopeError
from opscope.compute.io import (
    Session,
    describe_file,
    load_run,
    load_session,
    load_tensor,
    load_tensors,
    save_run,
    save_session,
    save_tensor,
    save_tensors,
)

# OPSCOPE_FUZZ_EXAMPLES=2000 for a longer hunt (no defect at 1500 when written)
FUZZ = settings(max_examples=int(os.environ.get("OPSCOPE_FUZZ_EXAMPLES", "120")), deadline=None,
                suppress_health_check=[HealthCheck.function_scoped_fixture])
KINDS = [".npy", ".npz", ".safetensors", ".csv", ".tsv", ".opscope", "run.npz", "run.safetensors", ".index.json"]


def _valid(folder, kind):
    """A valid file of ``kind`` (its bytes, and the path it must be written to)."""
    a = np.arange(12, dtype=np.float32).reshape(3, 4)
    if kind == ".opscope":
        path = folder / "s.opscope"
        save_session(path, Session(op="matmul", params={"axis": (0, 1)}, inputs={"A": a, "B": a.T}, step=2))
    elif kind.startswith("run"):
        path = folder / kind
        save_run(path, "matmul", {"tile": (2, 2)}, {"A": a}, {"result": a @ a.T})
    elif kind == ".index.json":
        save_tensors(folder / "shard-1.safetensors", {"w": a, "b": np.ones(3)})
        path = folder / "m.safetensors.index.json"
        path.write_text(json.dumps({"metadata": {"total_size": 60},
                                    "weight_map": {"w": "shard-1.safetensors", "b": "shard-1.safetensors"}}))
    else:
        path = folder / f"t{kind}"
        if kind in (".npz", ".safetensors"):
            save_tensors(path, {"a": a, "b": np.array([True, False])})
        else:
            save_tensor(path, a)
    return path.read_bytes(), path


def _every_loader(path, kind):
    """Run what OpScope does with a file of ``kind``; only OpScope errors may come out."""
    if kind == ".opscope":
        calls = [lambda: load_session(path, max_bytes=1 << 20)]
    elif kind.startswith("run"):
        calls = [lambda: load_run(path, max_bytes=1 << 20)]
    else:
        calls = [lambda: describe_file(path), lambda: load_tensors(path, max_bytes=1 << 20)]
        if kind in (".npy", ".csv", ".tsv"):
            calls.append(lambda: load_tensor(path, max_bytes=1 << 20))
    for call in calls:
        try:
            call()
        except OpScopeError:
            pass


@FUZZ
@given(kind=st.sampled_from(KINDS), data=st.binary(max_size=400))
def test_random_bytes(tmp_path, kind, data):
    _valid(tmp_path, kind)  # for an index: its shard exists, the index itself is random
    _, path = _valid(tmp_path, kind)
    path.write_bytes(data)
    _every_loader(path, kind)


@FUZZ
@given(kind=st.sampled_from(KINDS), cut=st.floats(0, 1))
def test_truncated(tmp_path, kind, cut):
    data, path = _valid(tmp_path, kind)
    path.write_bytes(data[: int(cut * len(data))])
    _every_loader(path, kind)


@FUZZ
@given(kind=st.sampled_from(KINDS), edits=st.lists(st.tuples(st.floats(0, 1), st.integers(0, 255)), min_size=1,
                                                   max_size=6), head=st.booleans())
def test_corrupted_bytes(tmp_path, kind, edits, head):
    """Bytes changed anywhere, or (``head``) within the first 128 bytes, where the headers are."""
    data, path = _valid(tmp_path, kind)
    buf = bytearray(data)
    span = min(len(buf), 128) if head else len(buf)
    for pos, byte in edits:
        buf[min(int(pos * span), len(buf) - 1)] = byte
    path.write_bytes(bytes(buf))
    _every_loader(path, kind)


_JSON = st.recursive(st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=8),
                     lambda c: st.lists(c, max_size=3) | st.dictionaries(st.text(max_size=6), c, max_size=3),
                     max_leaves=12)


@FUZZ
@given(header=_JSON, tail=st.binary(max_size=64))
def test_safetensors_with_any_json_header(tmp_path, header, tail):
    raw = json.dumps(header).encode()
    path = tmp_path / "h.safetensors"
    path.write_bytes(struct.pack("<Q", len(raw)) + raw + tail)
    _every_loader(path, ".safetensors")


@FUZZ
@given(manifest=_JSON, entries=st.dictionaries(st.sampled_from(["format", "version", "op", "params", "inputs",
                                                                "step", "view", "options", "granularity"]),
                                               _JSON, max_size=9))
def test_session_with_any_manifest(tmp_path, manifest, entries):
    base = {"format": "opscope-session", "version": 1, "op": "matmul", "inputs": []}
    body = {**base, **entries} if isinstance(manifest, dict) else manifest
    path = tmp_path / "m.opscope"
    with zipfile.ZipFile(path, "w") as zf:
        zf.writestr("manifest.json", json.dumps(body))
    _every_loader(path, ".opscope")


@FUZZ
@given(index=_JSON, weight_map=st.dictionaries(st.text(max_size=6), _JSON, max_size=4))
def test_index_with_any_json(tmp_path, index, weight_map):
    save_tensors(tmp_path / "s.safetensors", {"w": np.ones(2)})
    path = tmp_path / "x.safetensors.index.json"
    body = {"weight_map": weight_map} if not isinstance(index, dict) else {**index, "weight_map": weight_map}
    path.write_text(json.dumps(body))
    _every_loader(path, ".index.json")


@FUZZ
@given(meta=_JSON)
def test_run_archive_with_any_meta(tmp_path, meta):
    path = tmp_path / "r.npz"
    save_tensors(path, {"__meta__": np.frombuffer(json.dumps(meta).encode(), np.uint8), "inputs/A": np.ones(2)})
    _every_loader(path, "run.npz")
    path = tmp_path / "r.safetensors"
    metadata = {"opscope_format": "opscope-run", "opscope_version": "1", "opscope_op": "matmul",
                "opscope_params": json.dumps(meta)}
    save_tensors(path, {"inputs/A": np.ones(2)}, metadata=metadata)
    _every_loader(path, "run.safetensors")


@pytest.mark.parametrize("kind", KINDS)
def test_valid_files_load(tmp_path, kind):
    """The fuzzing starts from files that do load (else it would test only refusals)."""
    _, path = _valid(tmp_path, kind)
    if kind == ".opscope":
        assert load_session(path).step == 2
    elif kind.startswith("run"):
        assert load_run(path).op == "matmul"
    else:
        assert load_tensors(path)
