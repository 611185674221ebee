"""Every lesson opens, plays to the end and shows the numbers of the source articles."""

import re

import numpy as np
import pytest
from opscope import (
    compute,
    gui,  # noqa: F401  (PySide6 before pyqtgraph)
)
from opscope.gui.lessons import DEFAULT_LESSON, LESSONS, get_lesson, lesson_names
from opscope.gui.window import MainWindow

# The worked examples' results, written out from the articles (not computed here).
EXPECTED = {
    "dot_product": 32,
    "matmul_2x2": [[19, 22], [43, 50]],
    "hadamard_2x2": [[5, 12], [21, 32]],
    "broadcast_scalar": [[2, 4], [6, 8]],
    "broadcast_vector": [[10, 40, 90], [40, 100, 180]],
    "batched_matmul": [[13, 14, 40, 41], [15, 16, 46, 47], [17, 18, 52, 53]],  # the last batch slice
    "matvec_rotation": [-2, 1],
    "matvec_shear": [3, 2],
    "matvec_scaling": [2, 4],
    "matvec_projection": [1, 0],
    "sum_axis0": [5, 7, 9],
    "mean_axis1": [2, 5],
    "max_axis1": [5, 6],
    "cumsum_rows": [[1, 3, 6, 10], [4, 7, 9, 10]],
    "norm_l1": 7,
    "norm_l2": 5,
    "softmax_rows": [[0.09003057, 0.24472847, 0.66524096], [0.65900114, 0.24243297, 0.09856589]],
    "layernorm_batch": [[-1.3416, -0.4472, 0.4472, 1.3416], [-1.3416, -0.4472, 0.4472, 1.3416], [-1, 1, -1, 1]],
    "batchnorm_batch": [[0, -0.2673, 0, -0.1162], [1.2247, 1.3363, 1.2247, 1.2787],
                        [-1.2247, -1.0690, -1.2247, -1.1625]],
    "attention_causal": None,  # checked against run_op, and row 0 = V[0] below
}


def test_every_lesson_is_listed_with_an_expectation():
    assert set(EXPECTED) == set(lesson_names())
    assert DEFAULT_LESSON == "matmul_2x2"
    for lesson in LESSONS:
        assert lesson.title and lesson.description and lesson.op in {s.name for s in compute.operations()}
    with pytest.raises(KeyError, match="valid: dot_product"):
        get_lesson("nope")


_STATED = re.compile(r"[=→]\s*(\[[^=→]*?\]\]?|[−-]?\d+(?:\.\d+)?)")
_NUMBER = re.compile(r"[−-]?\d+(?:\.\d+)?")


def _stated_numbers(text: str) -> list[float]:
    """The numbers a text states as a result: right after "=" or "→" (one number, or a bracketed list)."""
    return [float(n.replace("−", "-")) for m in _STATED.finditer(text) for n in _NUMBER.findall(m.group(1))]


def test_stated_numbers_finds_stated_answers():
    assert _stated_numbers("1×4 + 2×5 + 3×6 = 32. ") == [32]
    assert _stated_numbers("[1, 2] → [−2, 1]") == [-2, 1]
    assert _stated_numbers("(2, 3) → (3,)") == []  # a shape, not a value


@pytest.mark.parametrize("lesson", LESSONS, ids=lambda lesson: lesson.slug)
def test_the_header_never_gives_away_the_answer(lesson):
    """Step 0 shows only the inputs (issue #9): the title and description pose the question and the
    method; the result's own numbers appear when the steps reach them, in the captions."""
    expected = EXPECTED[lesson.slug]
    if expected is None:
        expected = compute.run_op(lesson.op, dict(lesson.inputs), **lesson.params)["result"]
    inputs = np.concatenate([np.ravel(np.asarray(v, dtype=float)) for v in lesson.inputs.values()])
    # A result entry equal to an input entry gives nothing away when written.
    answers = [v for v in np.ravel(np.asarray(expected, dtype=float)) if not np.isclose(inputs, v).any()]
    stated = _stated_numbers(lesson.title + " " + lesson.description)
    leaked = [v for v in stated if np.isclose(answers, v, rtol=1e-3, atol=1e-3).any()]
    assert not leaked, f"{lesson.slug} states its result {leaked}: {lesson.title!r} {lesson.description!r}"


def test_layernorm_and_batchnorm_share_the_batch_and_say_which_axis():
    ln, bn = get_lesson("layernorm_batch"), get_lesson("batchnorm_batch")
    np.testing.assert_array_equal(ln.inputs["X"], bn.inputs["X"])
    assert "axis −1" in ln.description and "ROW" in ln.description
    assert "axis 0" in bn.description and "COLUMN" in bn.description


def test_lesson_numbers_are_read_only():
    with pytest.raises(ValueError):
        get_lesson("matmul_2x2").inputs["A"][0, 0] = 9


@pytest.fixture(scope="module")
def window(qapp):
    w = MainWindow(lesson=None)
    w.show()
    yield w
    w.shutdown()
    w.close()
    w.deleteLater()


@pytest.fixture(autouse=True)
def _no_leaked_threads():
    """The module's window keeps its two worker threads between tests (closed at module end)."""
    yield


@pytest.mark.parametrize("slug", lesson_names())
def test_lesson_plays_to_the_end_with_the_articles_numbers(window, qtbot, slug):
    w = window
    lesson = get_lesson(slug)
    before = w.timeline
    with qtbot.waitSignal(w.playing_changed, timeout=10000) as started:
        w.open_lesson(slug)
        assert w.lesson == slug and lesson.title == w.header.title.text()
        w.set_speed(240)
    assert started.args == [True]  # a lesson opens playing
    assert w.timeline is not before and w.timeline.op == lesson.op
    qtbot.waitUntil(lambda: not w.is_playing and w.is_idle() and w.current_step == len(w.timeline) - 1,
                    timeout=20000)
    if lesson.granularity:
        assert w.timeline.granularity == lesson.granularity
    shown = np.asarray(w.canvas.displayed("result"), dtype=float)
    direct = compute.run_op(lesson.op, dict(lesson.inputs), **dict(lesson.params))["result"]
    if shown.shape != direct.shape:
        direct = direct.reshape((-1,) + shown.shape)[-1]
    np.testing.assert_allclose(shown, direct, rtol=1e-6, atol=1e-9)
    if EXPECTED[slug] is not None:
        expected = np.asarray(EXPECTED[slug], dtype=float)
        if slug == "batched_matmul":  # every batch slice is on screen at once: the articles give the last
            assert shown.shape == (3, 3, 4)
            shown = shown[-1]
        np.testing.assert_allclose(shown, expected, rtol=0, atol=1e-4)
    if slug == "attention_causal":  # query 0 sees only key 0: its output is V's first row
        np.testing.assert_allclose(shown[0], lesson.inputs["V"][0])
    assert not w.error


@pytest.mark.parametrize("slug, terms, running",
                         [("norm_l1", [3, 4, 0], [3, 7, 7]), ("norm_l2", [9, 16, 0], [9, 25, 25])])
def test_a_norm_shows_the_terms_its_running_sum_adds(window, qtbot, slug, terms, running):
    # The panel beside the running sum showed the raw x = [3, −4, 0] while the sum added |x| or x².
    w = window
    lesson = get_lesson(slug)
    last = len(compute.stream_op(lesson.op, dict(lesson.inputs), **dict(lesson.params))) - 1
    w.open_lesson(slug, autoplay=False, step=last)

    def shown(key):
        return np.asarray(w.canvas.view(key).data(), dtype=float).ravel()

    qtbot.waitUntil(lambda: w.is_idle() and shown("step:running").size == 3
                    and not np.isnan(shown("step:running")).any(), timeout=10000)
    np.testing.assert_array_equal(shown("step:line_terms"), terms)
    np.testing.assert_array_equal(shown("step:running"), running)
    assert "step:values" not in w.canvas.views


def test_the_max_norm_calls_its_running_value_a_max(window, qtbot):
    # ‖X‖_∞ = max|x|: its running panel holds the running max of |x|, not a sum of the terms.
    w = window
    w.select_op("norm", {"X": np.array([3.0, -4.0, 0.0])}, {"ord": "inf"}, "element", step=2)
    qtbot.waitUntil(lambda: w.is_idle() and "step:running" in w.canvas.views
                    and not np.isnan(np.asarray(w.canvas.view("step:running").data(), dtype=float)).any(),
                    timeout=10000)
    assert "running</b>" in w.canvas.view("step:running").title_override()
    assert "max" in w.canvas.view("step:running").title_override()
    assert "sum" not in w.canvas.view("step:running").title_override()
    np.testing.assert_array_equal(np.asarray(w.canvas.view("step:line_terms").data(), dtype=float).ravel(), [3, 4, 0])
    np.testing.assert_array_equal(np.asarray(w.canvas.view("step:running").data(), dtype=float).ravel(), [3, 4, 4])
