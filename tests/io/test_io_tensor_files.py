"""Tensor files: exact round trips, and a clear FileFormatError for every bad file."""

import json
import pickle
import struct
import zipfile

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from opscope.compute.errors import OpScopeError
from opscope.compute.io import (
    SUPPORTED_EXTENSIONS,
    FileFormatError,
    describe_file,
    load_tensor,
    load_tensors,
    save_tensor,
    save_tensors,
    split_path_key,
)
from opscope.compute.io import tensor_files as tf

DTYPES = [np.float16, np.float32, np.float64, np.int8, np.uint8, np.int32, np.int64, np.bool_]
SHAPES = [(), (5,), (2, 3), (2, 3, 4), (0, 3)]


def _sample(dtype, shape, seed=0):
    rng = np.random.default_rng(seed)
    if np.dtype(dtype).kind == "b":
        return rng.random(shape) > 0.5
    if np.dtype(dtype).kind in "iu":
        info = np.iinfo(dtype)
        return rng.integers(info.min, info.max, size=shape, dtype=dtype, endpoint=True)
    return (rng.standard_normal(shape) * 100).astype(dtype)


@pytest.mark.parametrize("ext", [".npy", ".npz", ".safetensors"])
@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("shape", SHAPES)
def test_binary_round_trip(tmp_path, ext, dtype, shape):
    arr = _sample(dtype, shape)
    path = tmp_path / f"t{ext}"
    save_tensor(path, arr)
    back = load_tensor(path)
    assert back.dtype == arr.dtype and back.shape == arr.shape
    np.testing.assert_array_equal(back, arr)
    assert back.flags.c_contiguous and back.flags.writeable
    [info] = describe_file(path)
    assert (info.shape, info.dtype) == (arr.shape, arr.dtype)
    assert info.key == {".npy": "array", ".npz": "array", ".safetensors": "tensor"}[ext]


def test_special_floats_round_trip_bit_exact(tmp_path):
    arr = np.array([[np.nan, np.inf, -np.inf, -0.0], [5e-324, 1.7976931348623157e308, 0.1, 1 / 3]])
    for ext in SUPPORTED_EXTENSIONS:
        path = tmp_path / f"t{ext}"
        save_tensor(path, arr)
        back = load_tensor(path)
        assert back.tobytes() == arr.tobytes(), ext


@pytest.mark.parametrize("ext", [".csv", ".tsv"])
def test_table_round_trip_float64_exact(tmp_path, ext):
    arr = np.random.default_rng(1).standard_normal((7, 5)) * 10.0 ** np.arange(-150, 150, 60)
    path = tmp_path / f"t{ext}"
    save_tensor(path, arr)
    back = load_tensors(path)
    assert list(back) == ["table"]
    assert back["table"].dtype == np.float64
    assert back["table"].tobytes() == arr.tobytes()
    sep = "," if ext == ".csv" else "\t"
    assert sep in path.read_text() and path.read_text().count("\n") == 7


@pytest.mark.parametrize("dtype", [np.float16, np.float32, np.int32, np.int64, np.bool_])
def test_table_round_trip_other_dtypes(tmp_path, dtype):
    arr = _sample(dtype, (3, 4))
    if np.dtype(dtype).kind in "iu":
        arr = arr // 2**11  # float64 holds integers up to 2**53 exactly
    save_tensor(tmp_path / "t.csv", arr)
    back = load_tensor(tmp_path / "t.csv")
    np.testing.assert_array_equal(back.astype(dtype), arr)


def test_float32_csv_is_short(tmp_path):
    save_tensor(tmp_path / "t.csv", np.array([[0.1, 1e-5]], dtype=np.float32))
    assert (tmp_path / "t.csv").read_text() == "0.1,1e-05\n"


def test_vector_to_csv_is_one_row(tmp_path):
    save_tensor(tmp_path / "v.csv", np.arange(4))
    assert (tmp_path / "v.csv").read_text() == "0,1,2,3\n"
    assert load_tensor(tmp_path / "v.csv").shape == (1, 4)


@pytest.mark.parametrize("shape", [(2, 3, 4), ()])
def test_csv_refuses_non_tables(tmp_path, shape):
    with pytest.raises(FileFormatError) as err:
        save_tensor(tmp_path / "t.csv", np.zeros(shape))
    assert f"CSV/TSV holds 2-D tables; this tensor is {shape}: save it as .npy/.npz/.safetensors" in str(err.value)
    assert not (tmp_path / "t.csv").exists()


def test_byte_order_and_fortran_are_normalized(tmp_path):
    arr = np.asfortranarray(np.arange(6, dtype=">f8").reshape(2, 3))
    np.save(tmp_path / "be.npy", arr)
    back = load_tensor(tmp_path / "be.npy")
    assert back.dtype == np.float64 and back.dtype.isnative and back.flags.c_contiguous
    np.testing.assert_array_equal(back, arr)
    save_tensor(tmp_path / "be.safetensors", arr)
    np.testing.assert_array_equal(load_tensor(tmp_path / "be.safetensors"), arr)


def test_many_tensors_and_keys(tmp_path):
    tensors = {"inputs/A": np.ones((2, 2)), "file": np.arange(3), "allow_pickle": np.zeros(1, np.float32)}
    for ext in (".npz", ".safetensors"):
        path = tmp_path / f"m{ext}"
        save_tensors(path, tensors)
        back = load_tensors(path)
        assert set(back) == set(tensors)
        for k, v in tensors.items():
            np.testing.assert_array_equal(back[k], v)
            assert back[k].dtype == v.dtype
        assert {i.key for i in describe_file(path)} == set(tensors)
        with pytest.raises(FileFormatError, match=r"holds 3 tensors; choose one of: .*'inputs/A'"):
            load_tensor(path)
        np.testing.assert_array_equal(load_tensor(f"{path}:inputs/A"), tensors["inputs/A"])
        np.testing.assert_array_equal(load_tensor(path, "file"), tensors["file"])
        with pytest.raises(FileFormatError, match=r"has no tensor 'B'; it holds: "):
            load_tensor(path, "B")


def test_npz_key_argument(tmp_path):
    save_tensor(tmp_path / "k.npz", np.eye(2), key="W")
    assert list(load_tensors(tmp_path / "k.npz")) == ["W"]


def test_split_path_key(tmp_path):
    assert split_path_key("a.npz:inputs/A") == ("a.npz", "inputs/A")
    assert split_path_key("a.npz") == ("a.npz", None)
    assert split_path_key(r"C:\data\w.SafeTensors:layer.0:q") == (r"C:\data\w.SafeTensors", "layer.0:q")
    assert split_path_key(r"C:\data\w.npy") == (r"C:\data\w.npy", None)
    odd = tmp_path / "odd.npz:x"
    odd.write_bytes(b"")
    assert split_path_key(str(odd)) == (str(odd), None)


def test_safetensors_metadata_only_for_safetensors(tmp_path):
    save_tensors(tmp_path / "m.safetensors", {"a": np.ones(2)}, metadata={"k": "v"})
    with pytest.raises(FileFormatError, match="metadata"):
        save_tensors(tmp_path / "m.npz", {"a": np.ones(2)}, metadata={"k": "v"})


def _write_safetensors(path, entries, data, metadata=None):
    header = dict(entries)
    if metadata:
        header["__metadata__"] = metadata
    raw = json.dumps(header).encode()
    path.write_bytes(struct.pack("<Q", len(raw)) + raw + data)


def test_safetensors_bfloat16_widens_to_float32(tmp_path):
    values = np.array([1.0, -2.5, 3.0e38, np.inf], dtype=np.float32)
    bf16 = (values.view(np.uint32) >> 16).astype("<u2")
    path = tmp_path / "bf.safetensors"
    _write_safetensors(path, {"w": {"dtype": "BF16", "shape": [2, 2], "data_offsets": [0, 8]}}, bf16.tobytes())
    [info] = describe_file(path)
    assert info.dtype == np.float32 and info.shape == (2, 2)
    expected = (bf16.astype(np.uint32) << 16).view(np.float32).reshape(2, 2)
    np.testing.assert_array_equal(load_tensor(path), expected)


def test_safetensors_unsupported_dtype(tmp_path):
    path = tmp_path / "f8.safetensors"
    _write_safetensors(path, {"w": {"dtype": "F8_E4M3", "shape": [4], "data_offsets": [0, 4]}}, b"\0" * 4)
    with pytest.raises(FileFormatError, match="f8.safetensors: tensor 'w' has dtype F8_E4M3"):
        load_tensors(path)


# ---------------------------------------------------------------------------------------------
# refusals


def test_error_type():
    assert issubclass(FileFormatError, OpScopeError) and issubclass(FileFormatError, ValueError)


def test_pickled_npy_refused(tmp_path):
    path = tmp_path / "p.npy"
    np.save(path, np.array([{"evil": 1}, None], dtype=object), allow_pickle=True)
    for fn in (load_tensors, describe_file):
        with pytest.raises(FileFormatError, match="holds Python objects \\(pickle\\); OpScope never unpickles files"):
            fn(path)


def test_raw_pickle_named_npy_refused(tmp_path):
    path = tmp_path / "p.npy"
    path.write_bytes(pickle.dumps({"a": [1, 2]}))
    with pytest.raises(FileFormatError, match="p.npy holds Python objects \\(pickle\\)"):
        load_tensors(path)


def test_pickled_npz_refused(tmp_path):
    path = tmp_path / "p.npz"
    np.savez(path, ok=np.ones(2), bad=np.array([[1], "x"], dtype=object))
    for fn in (load_tensors, describe_file):
        with pytest.raises(FileFormatError, match="tensor 'bad' holds Python objects \\(pickle\\)"):
            fn(path)


def test_complex_refused_on_save_and_load(tmp_path):
    with pytest.raises(FileFormatError, match="complex"):
        save_tensor(tmp_path / "c.npy", np.ones(2, complex))
    with pytest.raises(FileFormatError, match="Python objects"):
        save_tensor(tmp_path / "c.npz", np.array([None], dtype=object))
    np.save(tmp_path / "c.npy", np.ones(2, np.complex64))
    with pytest.raises(FileFormatError, match="c.npy: tensor 'array' has complex dtype complex64"):
        load_tensors(tmp_path / "c.npy")
    np.save(tmp_path / "s.npy", np.array(["a", "b"]))
    with pytest.raises(FileFormatError, match="has dtype <U1"):
        load_tensors(tmp_path / "s.npy")


def _valid_bytes(tmp_path, ext):
    path = tmp_path / f"v{ext}"
    if ext == ".npz":
        save_tensors(path, {"a": np.arange(50.0), "b": np.ones((3, 3), np.float32)})
    else:
        save_tensor(path, np.arange(50.0))
    return path.read_bytes()


@pytest.mark.parametrize("ext", [".npy", ".npz", ".safetensors"])
def test_truncated_files_refused(tmp_path, ext):
    data = _valid_bytes(tmp_path, ext)
    for cut in (1, 5, 9, 30, len(data) // 2, len(data) - 1):
        path = tmp_path / f"cut{cut}{ext}"
        path.write_bytes(data[:cut])
        for fn in (load_tensors, describe_file):
            with pytest.raises(FileFormatError, match=f"cut{cut}") as err:
                fn(path)
            assert type(err.value) is FileFormatError


def test_truncated_npy_message(tmp_path):
    data = _valid_bytes(tmp_path, ".npy")
    (tmp_path / "t.npy").write_bytes(data[:-8])
    with pytest.raises(FileFormatError, match=r"t.npy: tensor 'array' is truncated: its header promises \(50,\)"):
        load_tensors(tmp_path / "t.npy")


def test_corrupt_npz_data_refused(tmp_path):
    data = bytearray(_valid_bytes(tmp_path, ".npz"))
    pos = data.index(b"\x00\x00\x00\x00\x00\x00\xf0?")  # inside the array data of 'a' (1.0 as float64)
    data[pos + 7] ^= 0xFF
    (tmp_path / "c.npz").write_bytes(bytes(data))
    with pytest.raises(FileFormatError, match="c.npz: member 'a' is corrupt"):
        load_tensors(tmp_path / "c.npz")


def test_corrupt_safetensors_header_refused(tmp_path):
    data = bytearray(_valid_bytes(tmp_path, ".safetensors"))
    data[8] = ord("#")  # the header's opening brace
    (tmp_path / "c.safetensors").write_bytes(bytes(data))
    with pytest.raises(FileFormatError, match="c.safetensors has a corrupt safetensors header"):
        load_tensors(tmp_path / "c.safetensors")


def test_npz_that_is_not_a_zip(tmp_path):
    np.save(tmp_path / "x.npy", np.ones(3))
    (tmp_path / "x.npz").write_bytes((tmp_path / "x.npy").read_bytes())
    with pytest.raises(FileFormatError, match=r"x.npz is not a valid .npz \(zip\) archive.*looks like a .npy file"):
        load_tensors(tmp_path / "x.npz")


def test_npz_without_arrays(tmp_path):
    with zipfile.ZipFile(tmp_path / "e.npz", "w") as zf:
        zf.writestr("readme.txt", "hello")
    with pytest.raises(FileFormatError, match="holds no arrays"):
        load_tensors(tmp_path / "e.npz")


@pytest.mark.parametrize("ext", SUPPORTED_EXTENSIONS)
def test_empty_file(tmp_path, ext):
    (tmp_path / f"e{ext}").write_bytes(b"")
    with pytest.raises(FileFormatError, match=f"e{ext} is empty"):
        load_tensors(tmp_path / f"e{ext}")


def test_missing_file_and_unknown_extension(tmp_path):
    with pytest.raises(FileFormatError, match="no such file"):
        load_tensors(tmp_path / "nope.npy")
    (tmp_path / "w.pkl").write_bytes(b"x")
    with pytest.raises(FileFormatError) as err:
        load_tensors(tmp_path / "w.pkl")
    assert "unknown file type '.pkl'" in str(err.value) and ".npy, .npz, .safetensors, .csv, .tsv" in str(err.value)
    with pytest.raises(FileFormatError, match="unknown file type"):
        save_tensor(tmp_path / "w.pkl", np.ones(2))
    # PyTorch checkpoints are read (tests/io/test_io_checkpoints.py), never written: they are pickles
    with pytest.raises(FileFormatError, match="does not write them"):
        save_tensor(tmp_path / "w.pt", np.ones(2))
    (tmp_path / "d.npy").mkdir()
    with pytest.raises(FileFormatError, match="not a file"):
        load_tensors(tmp_path / "d.npy")


class _Boom(Exception):
    pass


def _no_data_reads(monkeypatch):
    def read_array(*args, **kwargs):
        raise _Boom("data was read")

    monkeypatch.setattr(tf.npy_format, "read_array", read_array)


@pytest.mark.parametrize("ext", [".npy", ".npz", ".safetensors", ".csv"])
def test_size_guard_refuses_before_reading(tmp_path, monkeypatch, ext):
    path = tmp_path / f"big{ext}"
    save_tensor(path, np.zeros((40, 50)))
    _no_data_reads(monkeypatch)
    with pytest.raises(FileFormatError, match="over the limit of 1000 B"):
        load_tensors(path, max_bytes=1000)
    if ext != ".csv":
        assert describe_file(path)[0].shape == (40, 50)  # headers only: no data read


def test_size_guard_counts_only_the_chosen_key(tmp_path):
    save_tensors(tmp_path / "m.npz", {"small": np.zeros(10), "big": np.zeros(10_000)})
    assert load_tensor(tmp_path / "m.npz", "small", max_bytes=1000).shape == (10,)
    with pytest.raises(FileFormatError, match="'big'"):
        load_tensor(tmp_path / "m.npz", "big", max_bytes=1000)


def test_default_limit_is_memory_budget(tmp_path, monkeypatch):
    save_tensor(tmp_path / "t.npy", np.zeros(1000))
    monkeypatch.setenv("OPSCOPE_MEMORY_BUDGET", "4K")
    with pytest.raises(FileFormatError, match="memory budget"):
        load_tensors(tmp_path / "t.npy")


def test_huge_header_shape_refused_without_allocating(tmp_path):
    # a 4-byte file claiming an 8 TB array: refused from the header alone
    path = tmp_path / "h.npy"
    with open(path, "wb") as f:
        np.lib.format.write_array_header_1_0(f, {"descr": "<f8", "fortran_order": False, "shape": (10**6, 10**6)})
        f.write(b"abcd")
    with pytest.raises(FileFormatError, match="truncated"):
        load_tensors(path)


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(data=st.binary(max_size=300), ext=st.sampled_from(SUPPORTED_EXTENSIONS))
def test_random_bytes_only_raise_file_format_error(tmp_path, data, ext):
    path = tmp_path / f"r{ext}"
    path.write_bytes(data)
    try:
        load_tensors(path, max_bytes=1 << 20)
    except FileFormatError:
        pass


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(ext=st.sampled_from([".npy", ".npz", ".safetensors"]), pos=st.floats(0, 1), byte=st.integers(0, 255),
       truncate=st.booleans())
def test_damaged_files_only_raise_file_format_error(tmp_path, ext, pos, byte, truncate):
    data = bytearray(_valid_bytes(tmp_path, ext))
    i = min(int(pos * len(data)), len(data) - 1)
    if truncate:
        data = data[:i]
    else:
        data[i] = byte
    path = tmp_path / f"d{ext}"
    path.write_bytes(bytes(data))
    for fn in (load_tensors, describe_file):
        try:
            fn(path) if fn is describe_file else fn(path, max_bytes=1 << 20)
        except FileFormatError:
            pass
