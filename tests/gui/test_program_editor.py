"""The program editor (issue 8): live shapes per line, the failing sub-expression, signals, hover."""

import pytest
from opscope import gui  # noqa: F401  (PySide6 before pyqtgraph)

# isort: split

from opscope.gui.program import ProgramEditor, live_check
from opscope.gui.program.highlighter import tokens
from PySide6.QtCore import Qt
from PySide6.QtWidgets import QVBoxLayout, QWidget

ATTENTION = ("scores = Q @ K.T / sqrt(d_k)\n"
             "weights = softmax(scores + causal_mask(4), axis=-1)\n"
             "out = weights @ V")
QKV = {"Q": (2, 4, 3), "K": (2, 4, 3), "V": (2, 4, 3), "d_k": ()}


@pytest.fixture
def editor(qtbot):
    """An editor in a 900-pixel-wide host, as a window would lay it out, shown."""
    host = QWidget()
    qtbot.addWidget(host)
    ed = ProgramEditor(parent=host)
    lay = QVBoxLayout(host)
    lay.addWidget(ed)
    lay.addStretch(1)
    host.resize(900, 400)
    host.show()
    yield ed  # a yield, not a return: the fixture's frame keeps the host (and so the editor) alive


def type_program(qtbot, ed, text):
    """Type ``text`` key by key (newlines as Return) and wait for the debounced check."""
    ed.edit.setFocus()
    for row_i, row in enumerate(text.split("\n")):
        if row_i:
            qtbot.keyClick(ed.edit, Qt.Key.Key_Return)
        qtbot.keyClicks(ed.edit, row)
    qtbot.waitUntil(lambda: ed.check.text == text, timeout=2000)


def test_typing_a_good_program_shows_every_lines_shape(qtbot, editor):
    editor.set_input_shapes(QKV)
    with qtbot.waitSignal(editor.program_changed, timeout=2000) as sig:
        type_program(qtbot, editor, ATTENTION)
    assert sig.args == [ATTENTION]
    assert editor.row_annotations() == ["→ (2, 4, 4)", "→ (2, 4, 4)", "→ (2, 4, 3)"]
    assert editor.line_shapes()["result"] == (2, 4, 3)
    assert editor.edit.underlined() == ""
    assert "result → (2, 4, 3)" in editor.message.text()


def test_q_at_k_underlines_the_matmul_and_suggests_the_transpose(qtbot, editor):
    editor.set_input_shapes({"Q": (4, 3), "K": (4, 3), "V": (4, 3)})
    editor.set_text("scores = Q @ K\nout = softmax(scores) @ V")
    with qtbot.assertNotEmitted(editor.program_changed):
        editor.check_now()
    assert editor.edit.underlined() == "Q @ K"
    assert "Did you mean K.T?" in editor.message.text()
    assert "Q (4, 3) @ K (4, 3)" in editor.message.text()
    assert editor.row_annotations() == ["✗", ""]
    assert editor.message.textInteractionFlags() & Qt.TextInteractionFlag.TextSelectableByMouse
    assert editor.message.wordWrap()


def test_the_lines_above_a_failure_keep_their_shapes(qtbot, editor):
    editor.set_input_shapes({"Q": (4, 3), "K": (4, 3)})
    editor.set_text("scores = Q @ K.T\nbad = scores @ Q.T\nw = softmax(bad)")
    editor.check_now()
    assert editor.row_annotations() == ["→ (4, 4)", "✗", ""]
    assert editor.edit.underlined() == "scores @ Q.T"


def test_a_half_typed_line_keeps_the_shapes_above_it(qtbot, editor):
    editor.set_input_shapes({"Q": (4, 3), "K": (4, 3)})
    editor.set_text("scores = Q @ K.T\nweights = softmax(scores,")
    editor.check_now()
    assert editor.row_annotations()[0] == "→ (4, 4)"
    assert editor.check.error is not None and editor.edit.underlined()


def test_names_that_are_not_inputs_are_reported(qtbot, editor):
    editor.set_input_shapes({"Q": (4, 3), "K": (4, 3)})
    editor.set_text("scores = Q @ K.T + mask\nout = softmax(scores) @ V")
    with qtbot.waitSignal(editor.missing_inputs_changed, timeout=2000) as sig:
        pass
    assert sig.args == [["mask", "V"]]
    assert "mask, V are not inputs yet" in editor.message.text()
    assert editor.edit.underlined() == "mask"
    # Adding the inputs empties the list, and the program now checks.
    with qtbot.waitSignals([editor.missing_inputs_changed, editor.program_changed], timeout=2000):
        editor.set_input_shapes({"Q": (4, 3), "K": (4, 3), "mask": (4, 4), "V": (4, 3)})
    assert editor.check.missing == ()
    assert editor.row_annotations() == ["→ (4, 4)", "→ (4, 3)"]


def test_a_typo_of_a_line_name_gets_a_suggestion(qtbot, editor):
    editor.set_input_shapes({"Q": (4, 3), "K": (4, 3)})
    editor.set_text("scores = Q @ K.T\nw = softmax(scroes)")
    editor.check_now()
    assert "Did you mean scores?" in editor.message.text()


def test_ctrl_enter_requests_a_run_and_plain_enter_adds_a_line(qtbot, editor):
    editor.set_input_shapes(QKV)
    editor.set_text("s = Q @ K.T")
    editor.edit.setFocus()
    editor.edit.moveCursor(editor.edit.textCursor().MoveOperation.End)
    with qtbot.waitSignal(editor.run_requested, timeout=1000) as sig:
        qtbot.keyClick(editor.edit, Qt.Key.Key_Return, Qt.KeyboardModifier.ControlModifier)
    assert sig.args == ["s = Q @ K.T"]
    assert editor.check.text == "s = Q @ K.T"  # the pending check ran first
    with qtbot.waitSignal(editor.run_requested, timeout=1000):
        qtbot.keyClick(editor.edit, Qt.Key.Key_Enter, Qt.KeyboardModifier.ControlModifier)
    qtbot.keyClick(editor.edit, Qt.Key.Key_Return)
    assert editor.text() == "s = Q @ K.T\n"


def test_hover_gives_the_sub_expressions_shape(qtbot, editor):
    editor.set_input_shapes(QKV)
    editor.set_text(ATTENTION)
    editor.check_now()
    row0 = ATTENTION.split("\n")[0]
    assert editor.shape_at(row0.index("K.T") + 2) == ("K.T", (2, 3, 4))  # over the T
    assert editor.shape_at(row0.index("@") + 2) == ("K", (2, 4, 3))
    assert editor.shape_at(row0.index("@")) == ("Q @ K.T", (2, 4, 4))
    second = len(row0) + 1
    assert editor.shape_at(second + ATTENTION.split("\n")[1].index("causal")) == ("causal_mask(4)", (4, 4))
    assert editor.shape_at(row0.index("=")) is None
    assert editor.edit.tooltip_at_position(row0.index("sqrt")) == "sqrt(d_k)  → scalar"


def test_hover_over_the_underline_gives_the_error(qtbot, editor):
    editor.set_input_shapes({"Q": (4, 3), "K": (4, 3)})
    editor.set_text("s = Q @ K")
    editor.check_now()
    assert "Did you mean K.T?" in editor.edit.tooltip_at_position(len("s = Q @"))


def test_positions_count_characters_beyond_the_bmp(qtbot, editor):
    # A comment holding an emoji: Qt counts it as two positions, compute as one character.
    editor.set_input_shapes({"Q": (4, 3), "K": (4, 3)})
    editor.set_text("s = Q @ K  # 🙂\nt = s @ K")
    editor.check_now()
    assert editor.edit.underlined() == "Q @ K"
    start = editor.edit.position_of(1, 4)
    assert editor.edit.row_col_of(start) == (1, 4)


def test_the_bar_grows_to_eight_rows_then_scrolls(qtbot, editor):
    editor.set_input_shapes({"x": (3,)})
    one = editor.edit.height()
    editor.set_text("a = x\nb = a")
    qtbot.waitUntil(lambda: editor.edit.height() > one, timeout=1000)
    two = editor.edit.height()
    assert editor.edit.verticalScrollBar().maximum() == 0  # every row fits: no scroll bar yet
    editor.set_text("\n".join(f"l{i} = x" for i in range(20)))
    qtbot.waitUntil(lambda: editor.edit.height() == editor.edit.height_for_rows(8), timeout=1000)
    assert editor.edit.height() > two
    assert editor.edit.verticalScrollBar().maximum() > 0


def test_the_font_is_large_and_fixed_width(editor):
    f = editor.edit.font()
    assert f.pointSizeF() >= 14 and f.fixedPitch() or f.styleHint() == f.StyleHint.Monospace


def test_highlighting_tells_names_functions_numbers_and_operators_apart():
    row = "w = softmax(s + causal_mask(4), axis=-1) @ V.T"
    got = {row[a:a + n]: role for a, n, role in tokens(row, frozenset({"softmax", "causal_mask"}))}
    assert got["w"] == "line_name" and got["softmax"] == "function" and got["causal_mask"] == "function"
    assert got["s"] == "name" and got["V"] == "name" and got["axis"] == "keyword"
    assert got["4"] == "number" and got["@"] == "operator" and got[".T"] == "operator"


def test_a_check_of_a_transformer_block_is_fast_enough_for_the_gui_thread():
    text = ("q = X @ W_q\nk = X @ W_k\nv = X @ W_v\n"
            "heads = attention(split_heads(q, 2), split_heads(k, 2), split_heads(v, 2), mask=\"causal\")\n"
            "a = merge_heads(heads) @ W_o\nh = layernorm(X + a, g1, b1)\nf = relu(h @ W1 + c1) @ W2\n"
            "y = layernorm(h + f, g2, b2)\nz = y * 2\nout = softmax(z, axis=-1)")
    shapes = {"X": (2, 4, 8), "W_q": (8, 8), "W_k": (8, 8), "W_v": (8, 8), "W_o": (8, 8), "g1": (8,), "b1": (8,),
              "W1": (8, 16), "c1": (16,), "W2": (16, 8), "g2": (8,), "b2": (8,)}
    best = min(live_check(text + " " * i, shapes).elapsed for i in range(5))  # new texts: no parse cache
    assert live_check(text, shapes).ok
    assert best < 0.005


def test_screenshots(qtbot, editor):
    """Grabs for a person to look at: a good 3-line attention program, and Q @ K failing."""
    editor.set_input_shapes(QKV)
    editor.set_text(ATTENTION)
    editor.check_now()
    qtbot.wait(50)
    assert editor.grab().save("/tmp/program_editor_ok.png")
    editor.set_input_shapes({"Q": (4, 3), "K": (4, 3), "V": (4, 3)})
    editor.set_text("scores = Q @ K\nweights = softmax(scores, axis=-1)\nout = weights @ V")
    editor.check_now()
    qtbot.wait(50)
    assert editor.grab().save("/tmp/program_editor_error.png")
