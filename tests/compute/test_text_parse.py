"""Parsing pasted text into arrays and formatting arrays as text (no Qt)."""

import math

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import array_shapes, arrays
from opscope.compute.errors import InputError
from opscope.compute.text_parse import (
    TextParseError,
    format_numpy,
    format_tsv,
    format_value,
    parse_matrix_text,
    parse_scalar,
)

M = [[1.0, 2.0], [3.0, 4.0]]


@pytest.mark.parametrize(
    "text",
    [
        "1\t2\n3\t4",  # spreadsheet
        "1\t2\t\n3\t4\t\n",  # trailing tabs and newline
        "1,2\n3,4",
        "1, 2,\n3, 4,",
        "1;2\n3;4",
        "1 2\n3 4",
        "  1   2  \n\n\n 3 4 \n",  # blank lines, runs of spaces
        "1 2; 3 4",  # MATLAB
        "1 2;3 4;",
        "[1 2; 3 4]",
        "1 2\r\n3 4\r\n",
        "1 2\r3 4\r",  # bare CR (old Mac / some spreadsheets)
        "\ufeff1\t2\n3\t4",  # BOM
        "[[1, 2], [3, 4]]",
        "[[1, 2], [3, 4],]",
        "[[1., 2.],\n [3., 4.]]",
        "[[1. 2.]\n [3. 4.]]",  # numpy str()
        "np.array([[1, 2], [3, 4]])",
        "numpy.array([[1, 2], [3, 4]], dtype=np.float32)",
        "array([[1., 2.],\n       [3., 4.]])",
        "A = np.array([[1.0, 2.0], [3.0, 4.0]])",
        "tensor([[1., 2.],\n        [3., 4.]], dtype=torch.float64)",
        "[[np.float64(1.0), np.float64(2.0)], [np.float64(3.0), np.float64(4.0)]]",
        '"1","2"\n"3","4"',  # quoted CSV
        "1.0e0 2E0\n+3 4.",
    ],
)
def test_accepted_forms(text):
    a = parse_matrix_text(text)
    assert a.dtype == np.float64
    np.testing.assert_array_equal(a, M)


def test_dimensions():
    assert parse_matrix_text("5").shape == ()
    assert parse_matrix_text("1 2 3").shape == (3,)
    assert parse_matrix_text("1\n2\n3").shape == (3, 1)
    assert parse_matrix_text("[1, 2, 3]").shape == (3,)
    assert parse_matrix_text("[[1, 2, 3]]").shape == (1, 3)
    assert parse_matrix_text("1;2;3").shape == (3, 1)  # MATLAB column
    assert parse_matrix_text("array(2.5)").shape == ()
    a = parse_matrix_text("[[[1, 2], [3, 4]], [[5, 6], [7, 8]]]")
    np.testing.assert_array_equal(a, np.arange(1, 9).reshape(2, 2, 2))


def test_special_values_and_unicode_minus():
    a = parse_matrix_text("nan inf −inf −1.5e-3 -np.inf np.nan NaN Infinity")
    assert math.isnan(a[0]) and a[1] == math.inf and a[2] == -math.inf
    assert a[3] == -1.5e-3 and a[4] == -math.inf and math.isnan(a[5]) and math.isnan(a[6]) and a[7] == math.inf
    np.testing.assert_array_equal(parse_matrix_text("[True, False]"), [1.0, 0.0])


def test_european_decimal_comma():
    np.testing.assert_array_equal(parse_matrix_text("1,5;2\n3;4,25"), [[1.5, 2], [3, 4.25]])
    np.testing.assert_array_equal(parse_matrix_text("1,5\t2\n3\t4"), [[1.5, 2], [3, 4]])


@pytest.mark.parametrize(
    "text, expected",
    [
        ("1 2\n3 abc", "row 2, column 2: 'abc' is not a number"),
        ("1\t2\t3\n4\t5\tabc", "row 2, column 3: 'abc' is not a number"),
        ("[[1, 2], [3, x]]", "row 2, column 2: 'x' is not a number"),
        ("1 2\n3", "row 2 has 1 value but row 1 has 2"),
        ("[[1, 2], [3]]", "row 2 has 1 value but row 1 has 2"),
        ("1,,2", "row 1, column 2: the cell is empty"),
        ("1+2j", "complex"),
        ("[1, 2j]", "row 1, column 2: '2j' is a complex number"),
        ("", "empty"),
        ("   \n\r\n  ", "empty"),
        ("[]", "no numbers"),
        ("[[1, 2]", "unbalanced"),
        ("[1, [2]]", "ragged"),
        ("1e999", "too large"),
        ("[1, ..., 3]", "shortened numpy printout"),
        ("np.array([1, 2]) + 1", "unexpected text"),
        ("__import__('os').system('true')", "is not a number"),
        ("[" * 100 + "]" * 100, "nested deeper"),
    ],
)
def test_refusals_name_the_cell(text, expected):
    with pytest.raises(TextParseError) as info:
        parse_matrix_text(text)
    assert expected in str(info.value)
    assert isinstance(info.value, InputError) and isinstance(info.value, ValueError)


def test_never_evaluates():
    # A literal that would have a side effect if evaluated is just refused.
    with pytest.raises(TextParseError):
        parse_matrix_text("[(lambda: 1)(), 2]")


def test_parse_scalar_dtypes():
    assert parse_scalar("2.5") == 2.5
    assert parse_scalar("−3", np.int32) == -3 and parse_scalar("−3", np.int32).dtype == np.int32
    assert parse_scalar("true", bool) is np.True_
    with pytest.raises(TextParseError, match="not an integer"):
        parse_scalar("2.5", np.int64)
    with pytest.raises(TextParseError, match="out of range"):
        parse_scalar("1e10", np.int32)
    with pytest.raises(TextParseError, match="out of range"):
        parse_scalar("70000", np.float16)
    with pytest.raises(TextParseError, match="truth value"):
        parse_scalar("2", bool)
    with pytest.raises(TextParseError, match="is not a number"):
        parse_scalar("abc")


def test_format_tsv_and_value():
    a = np.array([[1.0, 0.1, -0.0], [np.nan, np.inf, -np.inf]])
    assert format_tsv(a) == "1\t0.1\t-0.0\nnan\tinf\t-inf"
    assert format_tsv(np.array(2.5)) == "2.5"
    assert format_tsv(np.array([1, 2], dtype=np.int32)) == "1\t2"
    assert format_value(np.float32(0.1)) == "0.1"
    assert format_value(True) == "True"
    with pytest.raises(InputError):
        format_tsv(np.zeros((2, 2, 2)))


def test_format_numpy_is_code_that_round_trips():
    a = np.array([[1.0, 2.0], [3.0, 4.0]])
    assert format_numpy(a) == "np.array([[1.0, 2.0], [3.0, 4.0]])"
    assert format_numpy(a, "A") == "A = np.array([[1.0, 2.0], [3.0, 4.0]])"
    for arr in [
        np.array([[0.1, 1 / 3], [np.nan, -np.inf]]),
        np.arange(24, dtype=np.float32).reshape(2, 3, 4) / 7,
        np.eye(3, dtype=bool),
        np.array([1, -2], dtype=np.int32),
        np.array(1.25),
        np.random.default_rng(0).standard_normal((30, 7)),
    ]:
        code = format_numpy(arr, "x")
        ns = {"np": np}
        exec(code, ns)  # test only: the code is ours
        np.testing.assert_array_equal(ns["x"], arr)
        assert ns["x"].dtype == arr.dtype
        # ... and the parser reads it back too (float64, exact once cast to the original dtype).
        np.testing.assert_array_equal(parse_matrix_text(code).astype(arr.dtype), arr)


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.text(alphabet=st.sampled_from(list("0123456789.,;\t \n\r[]()-+eEjnaif−\ufeffx'\"_=")), max_size=80))
def test_fuzz_only_text_parse_error_symbols(text):
    try:
        a = parse_matrix_text(text)
    except TextParseError:
        return
    assert a.dtype == np.float64 and a.size > 0


@settings(max_examples=200, deadline=None)
@given(st.text(max_size=60))
def test_fuzz_only_text_parse_error_any_text(text):
    try:
        parse_matrix_text(text)
    except TextParseError:
        pass


@settings(max_examples=200, deadline=None)
@given(arrays(np.float64, array_shapes(min_dims=1, max_dims=2, min_side=1, max_side=6)))
def test_round_trip_tsv_exact(a):
    b = parse_matrix_text(format_tsv(a))
    if a.ndim == 2 and a.shape[0] > 1:
        assert b.shape == a.shape
    else:
        # One line reads back as 1-D (0-D for one value): the same numbers.
        assert b.size == a.size
        b = b.reshape(a.shape)
    np.testing.assert_array_equal(b, a)
    # Bit-exact: -0.0 keeps its sign (NaN's sign is not a number's).
    ok = ~np.isnan(a)
    assert np.array_equal(np.signbit(b[ok]), np.signbit(a[ok]))
