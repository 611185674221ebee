"""Text tables: what spreadsheets, numpy and people write parses; anything else names line and column."""

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from opscope.compute.io import FileFormatError, format_table, load_tensor, parse_table

EXPECTED = np.array([[1.0, 2.5], [-3.0, 4e-3]])


@pytest.mark.parametrize(
    "text",
    [
        "1,2.5\n-3,4e-3\n",
        "1\t2.5\n-3\t4e-3",
        "1;2,5\n-3;0,004\n",  # semicolons with decimal commas
        "1 2.5\n  -3    4e-3  \n",
        "1, 2.5\r\n-3, 4e-3\r\n",
        "1,2.5\r-3,4e-3\r",
        "\ufeff1,2.5\n-3,4e-3",
        "1,2.5,\n-3,4e-3,,\n\n\n",  # trailing separators and blank lines
        "a,b\n1,2.5\n-3,4e-3",  # header row
        '"x";"y"\n"1";"2,5"\n"-3";"0,004"\n',
        "# written by numpy\n1 2.5\n\n-3 4e-3\n",
        "[[1, 2.5], [-3, 4e-3]]",
        "array([[ 1.   ,  2.5  ],\n       [-3.   ,  0.004]])",
        "np.array([[1, 2.5],\n [-3, 0.004]], dtype=float32)",
        "[[ 1.     2.5  ]\n [-3.     0.004]]",
    ],
)
def test_accepted_forms(text):
    np.testing.assert_array_equal(parse_table(text), EXPECTED)


def test_single_line_and_1d_literal_are_one_row():
    np.testing.assert_array_equal(parse_table("1 2 3"), [[1, 2, 3]])
    np.testing.assert_array_equal(parse_table("[1, 2, 3]"), [[1, 2, 3]])
    np.testing.assert_array_equal(parse_table("1\n2\n3"), [[1], [2], [3]])


def test_special_values():
    out = parse_table("nan,inf\n-inf,-0.0")
    assert np.isnan(out[0, 0]) and out[0, 1] == np.inf and out[1, 0] == -np.inf
    assert np.signbit(out[1, 1])


def test_garbage_names_line_and_column():
    with pytest.raises(FileFormatError, match=r"m.csv: line 3, column 2: 'x7' is not a number"):
        parse_table("1,2\n\n3,x7\n", source="m.csv")


def test_empty_cell_named():
    with pytest.raises(FileFormatError, match=r"line 1, column 2: an empty cell is not a number"):
        parse_table("1,,3\n4,5,6")


def test_ragged_rows():
    with pytest.raises(FileFormatError, match=r"line 2 has 2 values but line 1 has 3"):
        parse_table("1,2,3\n4,5\n")


def test_ragged_literal():
    with pytest.raises(FileFormatError, match=r"row 2 has 1 value but row 1 has 2"):
        parse_table("[[1, 2], [3]]")


@pytest.mark.parametrize(
    "text,message",
    [
        ("", "is empty"),
        (" \n\r\n ", "is empty"),
        ("a,b,c\n", "holds no numbers"),
        ("[[[1]]]", "nested 3 deep"),
        ("[[1, 2]", "unbalanced"),
        ("[1, 2] hello", "outside the brackets"),
        ("id,1,2\n", "line 1, column 1: 'id' is not a number"),
    ],
)
def test_refusals(text, message):
    with pytest.raises(FileFormatError, match=message):
        parse_table(text)


def test_size_guard():
    with pytest.raises(FileFormatError, match="over the limit"):
        parse_table("1,2\n3,4\n", max_bytes=16)


def test_format_table_round_trip():
    arr = np.array([[0.1, -2.0, np.nan], [1e300, 5e-324, np.inf]])
    assert format_table(arr) == "0.1\t-2.0\tnan\n1e+300\t5e-324\tinf\n"
    assert parse_table(format_table(arr, sep=",")).tobytes() == arr.tobytes()


def test_files_in_other_encodings(tmp_path):
    (tmp_path / "u16.tsv").write_bytes("a\tb\n1\t2\n".encode("utf-16"))
    np.testing.assert_array_equal(load_tensor(tmp_path / "u16.tsv"), [[1, 2]])
    (tmp_path / "l1.csv").write_bytes("température,durée\n1,2\n".encode("latin-1"))
    np.testing.assert_array_equal(load_tensor(tmp_path / "l1.csv"), [[1, 2]])
    np.save(tmp_path / "bin.npy", np.arange(3))
    (tmp_path / "bin.csv").write_bytes((tmp_path / "bin.npy").read_bytes())
    with pytest.raises(FileFormatError, match="bin.csv is a binary file.*looks like a .npy file"):
        load_tensor(tmp_path / "bin.csv")


def test_file_errors_name_the_file(tmp_path):
    (tmp_path / "bad.csv").write_text("1,2\n3,oops\n")
    with pytest.raises(FileFormatError, match=r"bad.csv: line 2, column 2: 'oops' is not a number"):
        load_tensor(tmp_path / "bad.csv")


_TABLE_CHARS = st.sampled_from(
    list("0123456789.,;\t \n\r-+eE[]()#\"'_") + ["nan", "inf", "array(", "\ufeff", "é", "\x00"]
)


@settings(max_examples=300, deadline=None)
@given(st.one_of(st.text(max_size=200), st.lists(_TABLE_CHARS, max_size=80).map("".join)))
def test_parse_never_raises_anything_else(text):
    try:
        out = parse_table(text, max_bytes=1 << 20)
    except FileFormatError:
        return
    assert out.ndim == 2 and out.dtype == np.float64 and out.size > 0


@settings(max_examples=100, deadline=None)
@given(st.lists(st.lists(st.floats(width=64), min_size=3, max_size=3), min_size=1, max_size=5),
       st.sampled_from(["\t", ",", " ", ";"]))
def test_any_float_table_round_trips(rows, sep):
    arr = np.array(rows, dtype=np.float64)
    back = parse_table(format_table(arr, sep=sep))
    # every float comes back bit for bit, except NaN payloads, which text cannot carry
    assert np.array_equal(back, arr, equal_nan=True)
    assert np.array_equal(np.signbit(back), np.signbit(arr)) or np.isnan(arr).any()
