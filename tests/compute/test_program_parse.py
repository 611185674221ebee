"""The program parser: a whitelist of Python's syntax, located errors, and fuzzing that it never
raises anything but an OpScope error and never evaluates code."""

import builtins

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from opscope import compute
from opscope.compute.errors import OpScopeError, ParamError
from opscope.compute.program import parse_program

SHAPES = {"Q": (4, 3), "K": (4, 3), "V": (4, 3), "x": (3,)}
INPUTS = {k: np.ones(s) for k, s in SHAPES.items()}

HOSTILE = [
    "__import__('os').system('touch /tmp/opscope_pwned')",
    "y = __import__('os')",
    "y = ().__class__.__bases__[0].__subclasses__()",
    "y = (lambda: 0)()",
    "import os",
    "from os import system",
    "y = Q.__class__",
    "y = Q.sum()",
    "y = Q[0]",
    "y = Q['__class__']",
    "y = [i for i in Q]",
    "y = open('/etc/passwd')",
    "y = eval('1')",
    "y = exec('x = 1')",
    "y = getattr(Q, 'T')",
    "def f(): pass",
    "class A: pass",
    "y = Q if Q else K",
    "y = Q < K",
    "y = Q and K",
    "y = not Q",
    "y = ~Q",
    "y = Q // K",
    "y = Q % K",
    "y = f'{Q}'",
    "y = {1: 2}",
    "y = {1, 2}",
    "(y := Q)",
    "y += 1",
    "y: int = 1",
    "a, b = Q, K",
    "a = b = Q",
    "y = softmax(*Q)",
    "y = softmax(**Q)",
    "y = softmax(Q, __x=1)",
    "y = 1j * Q",
    "y = b'abc'",
    "y = ...",
    "del Q",
    "for i in Q: pass",
    "while True: pass",
    "with Q: pass",
    "raise Exception",
    "assert False",
    "global Q",
    "y = Q\nz = Q\ny = K",
    "Q\ny = K",
    "result = Q\ny = K",
    "Q = K",
    "y = z",
    "y = z\nz = Q",
    "",
    "   \n# nothing\n",
    "y = (" * 10000,
    "y = " + "(" * 10000 + "Q" + ")" * 10000,
    "y = " + "-" * 10000 + "Q",
    "y = " + "+Q" * 50000,
    "y = " + "exp(" * 500 + "Q" + ")" * 500,
    "y = Q\x00",
    "y = '\\d'",
    "y = " + "9" * 5000,
    "y = reshape(Q, (10 ** 100,))",
    "y = causal_mask(10 ** 12)",
    "y = reshape(Q, (1, -1, -1))",
    "y = split_heads(Q, 0)",
    "y = softmax(Q, axis='x')",
    "y = mha(Q)",
    "y = attention(Q, K, V, foo=1)",
    "y = attention(Q, K, V, mask=Q + 2 * K)",
    "pwn()",
    "y = Q + pwn()",
    "y = transpose(Q, (0, 0))",
    "y = x.T",
    "y = 3 @ Q",
    "y = softmax('causal')",
    "y = causal_mask(n)",
]


@pytest.mark.parametrize("text", HOSTILE)
def test_hostile_text_is_refused_with_an_opscope_error(text, pwn_builtin):
    with pytest.raises(OpScopeError):
        compute.check_program(text, SHAPES)
    with pytest.raises(OpScopeError):
        compute.run_program(text, INPUTS)
    import os

    assert not os.path.exists("/tmp/opscope_pwned") and not CALLED


def test_errors_name_line_column_and_text():
    with pytest.raises(ParamError) as e:
        parse_program("a = Q\nb = a.shape")
    err = e.value
    assert (err.lineno, err.col, err.snippet) == (2, 4, "a.shape")
    assert str(err).startswith("line 2, column 5: a.shape: attribute .shape is not supported")
    with pytest.raises(ParamError, match=r"line 1, column 1: __import__: names starting with __"):
        parse_program("__import__('os')")
    with pytest.raises(ParamError, match="only the last line"):
        parse_program("Q @ K\ny = Q")
    with pytest.raises(ParamError, match="already defined on line 1"):
        parse_program("y = Q\ny = K")
    with pytest.raises(ParamError, match="is an input"):
        compute.check_program("Q = K", SHAPES)


def test_columns_count_characters_not_utf8_bytes():
    with pytest.raises(ParamError) as e:
        parse_program("αβγ = Q + K.shape")
    assert e.value.col == 10 and e.value.snippet == "K.shape"


def test_grammar_accepts_what_the_lessons_write():
    p = parse_program("# attention\ns = Q @ K.T / sqrt(d_k)  # scaled\nw = softmax(s + causal_mask(4), axis=-1)\n"
                      "w @ V")
    assert p.line_names == ("s", "w", "result") and p.free_names == ("Q", "K", "d_k", "V")
    assert not p.lines[-1].named


CALLED = []


def _pwn(*a, **k):  # pragma: no cover - the assertion is that nothing calls it
    CALLED.append(a)
    return 0


ALPHABET = st.sampled_from(["Q", "K", "V", "x", "y", "=", "+", "-", "*", "/", "@", "**", "(", ")", ".T", ",", "\n",
                            " ", "1", "2.5", "-1", "exp", "softmax", "axis=", "mask=", "'causal'", "attention",
                            "reshape", "(2, -1)", "__class__", ".", "[", "]", "lambda", ":", "import", "mha", "sqrt",
                            "split_heads", "merge_heads", "where", "causal_mask(4)", "#", ";", "\\", "'", "\"",
                            "pwn()", "pwn"])


@settings(max_examples=300, deadline=None)
@given(text=st.one_of(st.text(max_size=60), st.lists(ALPHABET, max_size=25).map("".join)))
def test_fuzz_only_opscope_errors_and_no_evaluation(text, pwn_builtin):
    try:
        compute.check_program(text, SHAPES)
        compute.run_program(text, INPUTS)
    except OpScopeError:
        pass
    assert not CALLED


@pytest.fixture(scope="module")
def pwn_builtin():
    """A builtin ``pwn`` that records a call: evaluating any fuzzed text as Python would reach it."""
    builtins.pwn = _pwn
    yield
    del builtins.pwn
