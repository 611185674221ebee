"""PyTorch checkpoints and sharded safetensors: read as one file of many keys, refused clearly otherwise.

Tests that need PyTorch skip without it (CI has none); the refusals without PyTorch run everywhere.
"""

import builtins
import json
import os
import pickle

import numpy as np
import pytest
from opscope.compute.errors import InputError, OpScopeError
from opscope.compute.io import (
    CheckpointError,
    FileFormatError,
    describe_file,
    load_tensor,
    load_tensors,
    save_tensors,
    split_path_key,
)

# ---------------------------------------------------------------------------------------------
# without PyTorch


def _no_torch(monkeypatch):
    real = builtins.__import__

    def fake(name, *args, **kwargs):
        if name == "torch" or name.startswith("torch."):
            raise ImportError("No module named 'torch'")
        return real(name, *args, **kwargs)

    monkeypatch.setattr(builtins, "__import__", fake)


@pytest.mark.parametrize("ext", [".pt", ".pth", ".bin"])
def test_without_torch_the_message_says_how_to_install_it(tmp_path, monkeypatch, ext):
    path = tmp_path / f"model{ext}"
    path.write_bytes(b"PK\x03\x04 not really a checkpoint")
    _no_torch(monkeypatch)
    for fn in (describe_file, load_tensors, load_tensor):
        with pytest.raises(InputError, match=r'pip install "opscope\[torch\]"') as err:
            fn(path)
        assert isinstance(err.value, FileFormatError)


def test_checkpoint_keys_after_the_path(tmp_path):
    path = tmp_path / "m.pt"
    path.write_bytes(b"x")
    assert split_path_key(f"{path}:encoder.layer.0.weight") == (str(path), "encoder.layer.0.weight")


# ---------------------------------------------------------------------------------------------
# with PyTorch


@pytest.fixture
def torch():
    return pytest.importorskip("torch")


def test_nested_state_dict_flattens_to_dotted_keys(torch, tmp_path):
    path = tmp_path / "ckpt.pth"
    state = {
        "model": {"encoder": {"layer": [{"weight": torch.arange(6.0).reshape(2, 3)}, {"bias": torch.ones(3)}]}},
        "epoch": 7, "lr": 1e-3, "name": "run",  # not tensors: skipped
        "steps": torch.tensor(42, dtype=torch.int64),
        "half": torch.ones(2, dtype=torch.float16),
    }
    torch.save(state, path)
    infos = describe_file(path)
    assert [(i.key, i.shape, i.dtype.name) for i in infos] == [
        ("model.encoder.layer.0.weight", (2, 3), "float32"), ("model.encoder.layer.1.bias", (3,), "float32"),
        ("steps", (), "int64"), ("half", (2,), "float16")]
    w = load_tensor(path, "model.encoder.layer.0.weight")
    np.testing.assert_array_equal(w, np.arange(6.0).reshape(2, 3))
    assert w.flags.c_contiguous and w.flags.writeable and w.flags.owndata
    assert load_tensor(f"{path}:steps") == 42
    assert set(load_tensors(path)) == {i.key for i in infos}
    with pytest.raises(FileFormatError, match="holds 4 tensors; choose one"):
        load_tensor(path)
    with pytest.raises(FileFormatError, match="no tensor 'nope'"):
        load_tensor(path, "nope")


def test_bfloat16_widens_exactly_and_views_are_copied(torch, tmp_path):
    path = tmp_path / "bf.bin"
    base = torch.arange(12.0).reshape(3, 4)
    torch.save({"bf": torch.tensor([1.5, -2.25, 3e38], dtype=torch.bfloat16), "t": base.t()}, path)
    [bf, t] = describe_file(path)
    assert bf.dtype == np.float32 and t.shape == (4, 3)
    got = load_tensors(path)
    np.testing.assert_array_equal(got["bf"], torch.tensor([1.5, -2.25, 3e38], dtype=torch.bfloat16).float().numpy())
    np.testing.assert_array_equal(got["t"], base.numpy().T)
    assert got["t"].flags.c_contiguous


@pytest.mark.parametrize("dtype, message", [("complex64", "complex"), ("float8_e4m3fn", "numpy cannot hold")])
def test_unsupported_dtypes_refused(torch, tmp_path, dtype, message):
    path = tmp_path / "c.pt"
    torch.save({"x": torch.zeros(2, dtype=getattr(torch, dtype))}, path)
    with pytest.raises(FileFormatError, match=message):
        load_tensors(path)


class Evil:
    def __reduce__(self):
        return (os.system, ("echo pwned > /dev/null",))


def test_python_objects_are_refused_never_unpickled(torch, tmp_path):
    path = tmp_path / "model.pt"
    torch.save({"w": torch.ones(2), "evil": Evil()}, path)
    with pytest.raises(InputError, match="holds Python objects beyond tensors.*never runs pickles"):
        load_tensors(path)
    raw = tmp_path / "raw.pt"
    raw.write_bytes(pickle.dumps({"a": [1, 2]}))
    with pytest.raises(CheckpointError, match="a Python pickle, not a PyTorch checkpoint"):
        describe_file(raw)


def test_checkpoint_errors(torch, tmp_path, monkeypatch):
    good = tmp_path / "g.pt"
    torch.save({"w": torch.ones(1000)}, good)
    with pytest.raises(FileFormatError, match="over the limit of 1000 B"):
        load_tensors(good, max_bytes=1000)
    trunc = tmp_path / "t.pt"
    trunc.write_bytes(good.read_bytes()[:200])
    with pytest.raises(FileFormatError, match="corrupt or truncated"):
        load_tensors(trunc)
    empty = tmp_path / "e.pt"
    torch.save({"epoch": 3, "lr": 0.1}, empty)
    with pytest.raises(FileFormatError, match=r"holds no tensors \(2 other entries skipped\)"):
        describe_file(empty)
    deep = tmp_path / "deep.pt"
    nested = torch.ones(1)
    for _ in range(100):
        nested = [nested]
    torch.save(nested, deep)
    with pytest.raises(FileFormatError, match="nests containers"):
        describe_file(deep)


def test_only_torch_load_with_weights_only_is_used(torch, tmp_path, monkeypatch):
    path = tmp_path / "w.pt"
    torch.save({"w": torch.ones(2)}, path)
    calls = []
    real = torch.load
    monkeypatch.setattr(torch, "load", lambda *a, **k: calls.append((a, k)) or real(*a, **k))
    load_tensors(path)
    assert calls == [((str(path),), {"map_location": "cpu", "weights_only": True})]


# ---------------------------------------------------------------------------------------------
# sharded safetensors


def _sharded(folder, weight_map=None):
    save_tensors(folder / "model-00001-of-00002.safetensors", {"embed.weight": np.arange(6.0).reshape(2, 3),
                                                               "layer.0.w": np.ones((2, 2), np.float32)})
    save_tensors(folder / "model-00002-of-00002.safetensors", {"layer.1.w": np.full(3, 7, np.int32)})
    weight_map = weight_map or {"embed.weight": "model-00001-of-00002.safetensors",
                                "layer.0.w": "model-00001-of-00002.safetensors",
                                "layer.1.w": "model-00002-of-00002.safetensors"}
    index = folder / "model.safetensors.index.json"
    index.write_text(json.dumps({"metadata": {"total_size": 52}, "weight_map": weight_map}))
    return index


def test_an_index_opens_as_one_file_and_a_key_reads_only_its_shard(tmp_path, monkeypatch):
    index = _sharded(tmp_path)
    assert [(i.key, i.shape, i.dtype.name) for i in describe_file(index)] == [
        ("embed.weight", (2, 3), "float64"), ("layer.0.w", (2, 2), "float32"), ("layer.1.w", (3,), "int32")]
    assert set(load_tensors(index)) == {"embed.weight", "layer.0.w", "layer.1.w"}
    # the other shard is not even opened
    (tmp_path / "model-00001-of-00002.safetensors").write_bytes(b"broken")
    np.testing.assert_array_equal(load_tensor(index, "layer.1.w"), [7, 7, 7])
    np.testing.assert_array_equal(load_tensor(f"{index}:layer.1.w"), [7, 7, 7])
    with pytest.raises(FileFormatError, match="model-00001-of-00002.safetensors"):
        load_tensor(index, "embed.weight")


@pytest.mark.parametrize("shard, message", [
    ("../outside.safetensors", "outside the index's folder"),
    ("/etc/passwd.safetensors", "outside the index's folder"),
    ("C:\\\\x.safetensors", "outside the index's folder"),
    ("sub/../../x.safetensors", "outside the index's folder"),
    ("gone.safetensors", "shard gone.safetensors is missing"),
    ("model-00002-of-00002.safetensors", "'embed.weight' is not in its shard"),
    ("model.bin", "not a .safetensors file"),
    (3, "not a file name"),
])
def test_index_refusals(tmp_path, shard, message):
    (tmp_path / "outside.safetensors").write_bytes(b"")
    index = _sharded(tmp_path, {"embed.weight": shard, "layer.1.w": "model-00002-of-00002.safetensors"})
    with pytest.raises(FileFormatError, match=message):
        describe_file(index)
    with pytest.raises(FileFormatError, match=message):
        load_tensor(index, "embed.weight")


def test_index_in_a_subfolder_and_size_guard(tmp_path):
    (tmp_path / "shards").mkdir()
    save_tensors(tmp_path / "shards" / "a.safetensors", {"w": np.zeros(1000)})
    index = tmp_path / "m.safetensors.index.json"
    index.write_text(json.dumps({"weight_map": {"w": "shards/a.safetensors"}}))
    assert describe_file(index)[0].shape == (1000,)
    with pytest.raises(FileFormatError, match="over the limit of 1000 B"):
        load_tensors(index, max_bytes=1000)


@pytest.mark.parametrize("text, message", [
    ("[" * 100_000, "nested too deeply"), ('{"weight_map": []}', "no \"weight_map\" object"),
    ('{"weight_map": {}}', "lists no tensors"), ("{nope", "not valid JSON"), ("\xff", "not valid JSON|UTF-8"),
])
def test_malformed_indexes(tmp_path, text, message):
    index = tmp_path / "x.safetensors.index.json"
    index.write_bytes(text.encode("latin-1"))
    with pytest.raises(FileFormatError, match=message):
        describe_file(index)


def test_every_refusal_is_an_opscope_error():
    assert issubclass(CheckpointError, OpScopeError) and issubclass(CheckpointError, InputError)
