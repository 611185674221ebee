"""Text tables: what spreadsheets, numpy and people write parses; anything else names line and column."""

import os

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


# ---------------------------------------------------------------------------------------------
# streaming (issue 7): a table is read line by line, and reads exactly as the whole-text parser did


def _reference_parse(text):
    """The whole-text parser OpScope had before streaming (kept here as the reference behaviour)."""
    import re

    from opscope.compute.io.tables import _split_cells, _unbracket
    from opscope.compute.text_parse import sniff_separator

    if text.startswith("\ufeff"):
        text = text[1:]
    rows = _unbracket(text, "t")
    if rows is not None:
        sep = "," if any("," in r for _, r in rows) else None
    else:
        rows = [(f"line {n}", ln) for n, ln in enumerate(re.split(r"\r\n|\r|\n", text), start=1)
                if ln.strip() and not ln.strip().startswith("#")]
        sep = sniff_separator([r for _, r in rows])
    if sep == ";":
        rows = [(label, r.replace(",", ".")) for label, r in rows]
    table = [(label, cells) for label, r in rows if (cells := _split_cells(r, sep))]

    def is_number(c):
        try:
            float(c)
        except ValueError:
            return False
        return True

    if table and not any(is_number(c) for c in table[0][1]):
        table = table[1:]
    if not table:
        raise FileFormatError("t is empty" if not text.strip() else "t holds no numbers")
    ncols = len(table[0][1])
    out = np.empty((len(table), ncols))
    for i, (label, cells) in enumerate(table):
        if len(cells) != ncols:
            raise FileFormatError(f"t: {label} has {len(cells)} value{'s' * (len(cells) != 1)} but "
                                  f"{table[0][0]} has {ncols}; every row of a table needs the same number of values")
        try:
            out[i] = [float(c) for c in cells]
        except ValueError:
            col = next(j for j, c in enumerate(cells) if not is_number(c))
            cell = cells[col].strip()
            shown = "an empty cell" if cell == "" else f"{cell[:40]!r}{'...' if len(cell) > 40 else ''}"
            raise FileFormatError(f"t: {label}, column {col + 1}: {shown} is not a number") from None
    return out


def _outcome(fn, text):
    try:
        return fn(text)
    except FileFormatError as exc:
        return str(exc)


_STREAM_CHARS = st.sampled_from(list("0123456789.,;\t \n\r-e#\"ax") + ["nan", "1.5", "\r\n", "[", "]"])


@pytest.mark.parametrize("piece", [None, 3])
@settings(max_examples=300, deadline=None)
@given(text=st.lists(_STREAM_CHARS, max_size=60).map("".join))
def test_streaming_reads_exactly_as_the_whole_text_parser(text, piece):
    """Same table or same message; also with long lines cut into pieces (a tiny piece size here)."""
    from opscope.compute.io import tables

    old = tables._PIECE
    tables._PIECE = piece or old
    try:
        got = _outcome(lambda t: parse_table(t, source="t", max_bytes=1 << 20), text)
    finally:
        tables._PIECE = old
    want = _outcome(_reference_parse, text)
    if isinstance(want, str) or isinstance(got, str):
        assert got == want
    else:
        assert got.shape == want.shape and np.array_equal(got, want, equal_nan=True)


def test_a_later_row_with_a_higher_separator_restarts_the_reading():
    # line 1 is read with blanks until line 2 brings a ',': read with ',', line 1 is a header, as sniffing all did
    np.testing.assert_array_equal(parse_table("1 2\n3,4\n"), [[3, 4]])
    # line 1 read with ',' as two values; line 2's ';' makes every comma a decimal point: one value
    with pytest.raises(FileFormatError, match="line 2 has 2 values but line 1 has 1"):
        parse_table("1,5\n3;4,5\n")
    with pytest.raises(FileFormatError, match=r"line 2, column 1: '3 4' is not a number"):
        parse_table("a b\n3 4\n5,6")  # an error found before the ',' still waits for the separator rule


def test_sniffing_separators_matches_text_parse():
    from opscope.compute.io.tables import _HIGHER
    from opscope.compute.text_parse import sniff_separator

    order = _HIGHER[None]
    for i, sep in enumerate(order):
        assert sniff_separator(["x" + "".join(order[i:])]) == sep
        assert _HIGHER[sep] == order[:i]


def _peak_while(fn):
    import tracemalloc

    tracemalloc.start()
    try:
        out = fn()
        return out, tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()


def test_loading_a_csv_peaks_near_the_size_of_its_table(tmp_path):
    """Regression: the whole text, its lines and every cell were held at once (8-31 × the file)."""
    rng = np.random.default_rng(1)
    ints = rng.integers(0, 10, (30_000, 8))  # one-digit cells: the most values per byte of text
    path = tmp_path / "ints.csv"
    path.write_text("".join(",".join(map(str, row)) + "\n" for row in ints.tolist()))
    out, peak = _peak_while(lambda: load_tensor(path))
    np.testing.assert_array_equal(out, ints)
    assert peak < 2.5 * out.nbytes, f"peak {peak} B for a {out.nbytes} B table"
    # one long line (a single row) is cut into pieces, not split into all of its cells at once
    row = rng.standard_normal(150_000)
    path = tmp_path / "row.csv"
    path.write_text(",".join(map(repr, row.tolist())) + "\n")
    out, peak = _peak_while(lambda: load_tensor(path))
    assert out.shape == (1, row.size) and np.array_equal(out[0], row)
    assert peak < 3 * os.path.getsize(path), f"peak {peak} B for a {os.path.getsize(path)} B file"


def test_size_guard_counts_the_table_not_the_file(tmp_path):
    path = tmp_path / "long.csv"
    # 40 characters a value: the table (8 bytes a value) is far smaller than the file
    path.write_text("".join(f"{0.1234567890123456789:.36f}\n" for _ in range(200)))
    assert load_tensor(path, max_bytes=2000).shape == (200, 1)
    with pytest.raises(FileFormatError, match=r"at least \d+×1.*over the limit of 1000 B"):
        load_tensor(path, max_bytes=1000)
