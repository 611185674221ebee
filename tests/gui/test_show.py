"""opscope.show(): the window on the caller's tensors, from a script (blocking) or a notebook (not)."""

import os
import subprocess
import sys
import types
from pathlib import Path

import numpy as np
import opscope
import pytest
from opscope.compute.errors import InputError, OpScopeError, ParamError, ShapeError
from opscope.gui import show as show_module
from opscope.gui.window import MainWindow
from PySide6.QtCore import QEventLoop, QTimer
from PySide6.QtWidgets import QApplication

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture
def fresh(qtbot):
    """No window left from an earlier test before, and every window show() opened shut down after."""
    show_module._window = None
    before = set(QApplication.topLevelWidgets())
    yield
    for w in set(QApplication.topLevelWidgets()) - before:
        if isinstance(w, MainWindow):
            w.shutdown()
            w.close()
            w.deleteLater()
    show_module._window = None
    QApplication.processEvents()


def open_windows():
    return [w for w in QApplication.topLevelWidgets() if isinstance(w, MainWindow) and w.isVisible()]


def computed(qtbot, window):
    qtbot.waitUntil(lambda: window.timeline is not None and not window.is_busy, timeout=20000)
    assert window.error == ""
    return window.timeline


def test_non_blocking_show_opens_a_window_with_the_tensors(qtbot, fresh):
    a = np.arange(6.0).reshape(2, 3)
    b = np.array([[1.0, 0.0], [0.0, 1.0], [2.0, -1.0]])
    w = opscope.show("matmul", A=a, B=b, block=False)
    assert isinstance(w, MainWindow) and w.isVisible()
    assert w.op_name == "matmul"
    assert np.array_equal(w.editor("A").array(), a) and np.array_equal(w.editor("B").array(), b)
    assert computed(qtbot, w).op == "matmul"
    a[0, 0] = 99.0  # the window holds the numbers of the call, not a view of the caller's array
    assert w.editor("A").array()[0, 0] == 0.0


def test_a_second_call_updates_the_same_window(qtbot, fresh):
    w = opscope.show("matmul", A=[[1, 2], [3, 4]], B=[[5, 6], [7, 8]], block=False)
    computed(qtbot, w)
    x = np.array([[1.0, 2.0, 3.0], [0.5, 0.0, -1.0]])
    w2 = opscope.show("softmax", X=x, params={"axis": 0}, block=False)
    assert w2 is w and open_windows() == [w]
    assert w.op_name == "softmax" and np.array_equal(w.editor("X").array(), x)
    assert w.operation_panel.params.values()["axis"] == 0
    assert computed(qtbot, w).op == "softmax"


def test_a_closed_window_is_replaced_by_a_new_one(qtbot, fresh):
    w = opscope.show("dot", a=[1, 2, 3], b=[4, 5, 6], block=False)
    w.close()
    w2 = opscope.show("dot", a=[1, 2], b=[3, 4], block=False)
    assert w2 is not w and w2.isVisible() and open_windows() == [w2]
    assert np.array_equal(w2.editor("a").array(), [1, 2])


def test_lists_scalars_and_a_parameter_given_as_a_keyword(qtbot, fresh):
    w = opscope.show("add", A=[[1, 2], [3, 4]], B=10, block=False)
    assert np.array_equal(w.editor("A").array(), [[1, 2], [3, 4]]) and w.editor("B").array().shape == ()
    computed(qtbot, w)
    opscope.show("sum", X=[[1.0, 2.0], [3.0, 4.0]], axis=1, granularity="stage", block=False)
    assert w.operation_panel.params.values()["axis"] == 1
    assert w.operation_panel.stepping.values()[0] == "stage"
    assert computed(qtbot, w).granularity == "stage"


def test_the_attention_mask_keyword_is_a_parameter_and_an_array_mask_an_input(qtbot, fresh):
    q = np.eye(3)
    w = opscope.show("attention", Q=q, K=q, V=q, mask="causal", block=False)
    assert w.operation_panel.params.values()["mask"] == "causal"
    assert not w.inputs_panel.is_used("mask")
    computed(qtbot, w)
    m = np.tril(np.ones((3, 3), dtype=bool))
    opscope.show("attention", Q=q, K=q, V=q, mask=m, block=False)
    assert w.inputs_panel.is_used("mask") and np.array_equal(w.editor("mask").array(), m)


def test_a_lesson_by_name_and_a_lesson_on_your_numbers(qtbot, fresh):
    w = opscope.show("softmax_rows", block=False)
    assert w.lesson == "softmax_rows" and w.op_name == "softmax"
    computed(qtbot, w)
    x = [[0.0, 1.0], [2.0, 3.0]]
    opscope.show("softmax_rows", X=x, block=False)
    assert w.lesson is None and w.op_name == "softmax"  # not the lesson's numbers any more
    assert np.array_equal(w.editor("X").array(), x)


def test_an_operation_without_tensors_shows_its_example(qtbot, fresh):
    w = opscope.show("layernorm", block=False)
    assert w.op_name == "layernorm"
    computed(qtbot, w)


def test_torch_tensors_are_detached_and_read(qtbot, fresh):
    torch = pytest.importorskip("torch")
    a = torch.tensor([[1.0, 2.0], [3.0, 4.0]], requires_grad=True)
    b = torch.tensor([[1.0, 0.5], [0.0, 1.0]], dtype=torch.bfloat16)
    w = opscope.show("matmul", A=a * 2, B=b, block=False)
    assert np.array_equal(w.editor("A").array(), [[2.0, 4.0], [6.0, 8.0]])
    assert w.editor("B").array().dtype == np.float32
    assert computed(qtbot, w).op == "matmul"


class FakeCupyArray:
    """Device memory (``__cuda_array_interface__``) that only ``.get()`` brings to the host."""

    def __init__(self, host):
        self._host = np.asarray(host)

    @property
    def __cuda_array_interface__(self):
        return {"shape": self._host.shape, "typestr": self._host.dtype.str, "version": 3}

    def get(self):
        return self._host.copy()

    def __array__(self, *args, **kwargs):
        raise TypeError("Implicit conversion to a NumPy array is not allowed")  # as CuPy says


FakeCupyArray.__module__ = "cupy"


def test_cupy_arrays_are_copied_to_the_host(qtbot, fresh):
    w = opscope.show("hadamard", A=FakeCupyArray([[1.0, 2.0]]), B=FakeCupyArray([[3.0, 4.0]]), block=False)
    assert np.array_equal(w.editor("A").array(), [[1.0, 2.0]])
    assert computed(qtbot, w).op == "hadamard"


def test_program_text_shows_every_line_on_the_callers_tensors(qtbot, fresh):
    q = np.array([[1.0, 0.0, 1.0], [0.0, 2.0, 0.0]])
    k = np.array([[1.0, 1.0, 0.0], [0.0, 1.0, 1.0], [1.0, 0.0, 0.0]])
    v = np.arange(9.0).reshape(3, 3)
    text = "s = Q @ K.T / sqrt(d_k)\nw = softmax(s)\nresult = w @ V"
    w = opscope.show(text, Q=q, K=k, V=v, d_k=3, block=False)
    assert w.is_program() and w.document.program_text == text
    assert np.array_equal(w.editor("Q").array(), q) and w.editor("d_k").array().shape == ()
    tl = computed(qtbot, w)
    assert tl.op == "program"
    s = q @ k.T / np.sqrt(3.0)
    e = np.exp(s - s.max(axis=-1, keepdims=True))
    expected = (e / e.sum(axis=-1, keepdims=True)) @ v
    assert np.allclose(tl.result()["result"], expected, rtol=1e-12, atol=1e-12)
    q[0, 0] = 99.0  # the window keeps the numbers of the call
    assert w.editor("Q").array()[0, 0] == 1.0


def test_a_program_then_an_operation_in_the_same_window(qtbot, fresh):
    w = opscope.show("result = relu(X) * 2", X=[[-1.0, 3.0]], granularity="stage", block=False)
    assert np.array_equal(computed(qtbot, w).result()["result"], [[0.0, 6.0]])
    w2 = opscope.show("softmax", X=[[1.0, 2.0]], block=False)
    assert w2 is w and not w.is_program() and computed(qtbot, w).op == "softmax"


@pytest.mark.parametrize("call, error, words", [
    (lambda: opscope.show("matmull", A=1, B=2), ParamError, ["unknown operation or lesson 'matmull'", "matmul",
                                                             "softmax_rows"]),
    (lambda: opscope.show("s = Q @ K.T", Q=1), ParamError, ["unknown name 'K'", "Inputs: Q"]),
    (lambda: opscope.show("Q @ K.T"), ParamError, ["unknown name 'Q'"]),
    (lambda: opscope.show("s = Q @ K", Q=np.ones((4, 3)), K=np.ones((4, 3))), ShapeError,
     ["Q @ K", "(4, 3)", "Did you mean K.T?"]),
    (lambda: opscope.show("s = Q @ K.T", Q=[[1.0]], K=[[2.0]], granularity={"t": "tile"}), ParamError,
     ["'t'", "not a line", "its lines: s"]),
    (lambda: opscope.show("s = Q @ K.T", Q=[[1.0]], K=[[2.0]], granularity="rows"), ParamError, ["'rows'"]),
    (lambda: opscope.show("s = Q @ K.T", Q="abc", K=[[2.0]]), InputError, ["Q", "not numbers"]),
    (lambda: opscope.show(np.eye(2)), ParamError, ["operation or lesson name"]),
    (lambda: opscope.show("matmul", A=[[1]], C=[[2]]), InputError, ["unknown input 'C'", "A, B"]),
    (lambda: opscope.show("matmul", A="abc", B=[[1]]), InputError, ["input A", "not numbers"]),
    (lambda: opscope.show("matmul", A=[[1, 2], [3]], B=[[1]]), InputError, ["input A"]),
    (lambda: opscope.show("matmul", A=[[1j]], B=[[1]]), InputError, ["complex"]),
    (lambda: opscope.show("matmul", A=[[1]]), InputError, ["missing input(s) B"]),
    (lambda: opscope.show("matmul", A=np.ones((2, 3)), B=np.ones((2, 3))), ShapeError, ["(2, 3)"]),
    (lambda: opscope.show("softmax", X=[1.0], params={"axs": 0}), ParamError, ["axs", "axis, temperature"]),
    (lambda: opscope.show("softmax", X=[1.0], params=[("axis", 0)]), ParamError, ["params must be a dict"]),
    (lambda: opscope.show("softmax", X=[[1.0]], axis=5), OpScopeError, ["axis"]),
    (lambda: opscope.show("dot", a=[1], b=[2], granularity="row"), ParamError, ["'row'", "element, tile"]),
])
def test_bad_calls_raise_before_any_window_opens(qtbot, fresh, call, error, words):
    with pytest.raises(error) as info:
        call()
    for w in words:
        assert w in str(info.value)
    assert show_module._window is None and open_windows() == []


def fake_ipython(monkeypatch, loop):
    """Pretend to be inside an IPython shell whose event loop integration is ``loop`` (``%gui qt``: "qt")."""
    shell = types.SimpleNamespace(active_eventloop=loop)
    module = types.ModuleType("IPython")
    module.get_ipython = lambda: shell
    monkeypatch.setitem(sys.modules, "IPython", module)


def test_auto_mode_under_ipython_with_gui_qt_does_not_block(qtbot, fresh, monkeypatch):
    fake_ipython(monkeypatch, "qt")
    assert show_module.event_loop_running()

    def must_not_block(*_a):
        raise AssertionError("show() blocked under %gui qt")

    monkeypatch.setattr(show_module, "_block", must_not_block)
    w = opscope.show("dot", a=[1, 2, 3], b=[4, 5, 6])
    assert w.isVisible() and opscope.show("dot", a=[1, 2], b=[3, 4]) is w


def test_auto_mode_under_ipython_without_gui_qt_blocks_and_says_why(qtbot, fresh, monkeypatch, capsys):
    fake_ipython(monkeypatch, None)
    monkeypatch.setattr(show_module, "_hinted", False)
    assert not show_module.event_loop_running()
    blocked = []
    monkeypatch.setattr(show_module, "_block", lambda app, window: blocked.append(window))
    w = opscope.show("dot", a=[1, 2, 3], b=[4, 5, 6])
    assert blocked == [w]
    assert "%gui qt" in capsys.readouterr().err


def test_auto_mode_in_a_plain_session_blocks(qtbot, fresh, monkeypatch):
    monkeypatch.delitem(sys.modules, "IPython", raising=False)
    assert not show_module.event_loop_running()
    blocked = []
    monkeypatch.setattr(show_module, "_block", lambda app, window: blocked.append(window))
    opscope.show("dot", a=[1], b=[2])
    assert len(blocked) == 1
    opscope.show("dot", a=[1], b=[2], block=False)
    assert len(blocked) == 1


def test_a_running_qt_event_loop_counts_as_an_event_loop(qtbot, monkeypatch):
    monkeypatch.delitem(sys.modules, "IPython", raising=False)
    seen = []
    loop = QEventLoop()

    def probe():
        seen.append(show_module.event_loop_running())
        loop.quit()

    QTimer.singleShot(0, probe)
    loop.exec()
    assert seen == [True]


def test_no_display_is_an_error_before_qt_starts(qtbot, fresh, monkeypatch):
    """Without a display Qt aborts the process (a notebook kernel with it): show() refuses first."""
    monkeypatch.setattr(show_module, "QCoreApplication", types.SimpleNamespace(instance=lambda: None))
    monkeypatch.setattr(show_module, "display_problem", lambda: "no display to open the window on")
    monkeypatch.setattr(show_module, "create_application", lambda: pytest.fail("Qt was started"))
    with pytest.raises(OpScopeError, match="no display"):
        opscope.show("dot", a=[1], b=[2], block=False)
    assert show_module._window is None


SCRIPT = """
import importlib.util
spec = importlib.util.spec_from_file_location("opscope_main", {main!r})
main = importlib.util.module_from_spec(spec)
spec.loader.exec_module(main)
main.use_source_tree()  # this checkout's opscope, as the tests use

import os, signal
import numpy as np
import opscope
from opscope.gui import show as show_module
from opscope.gui.app import create_application
from PySide6.QtCore import QTimer

create_application()  # a timer needs the application's event dispatcher (show() reuses this one)
seen = []

def close():
    w = show_module.current_window()
    seen.append((w.op_name, w.editor("A").array().tolist()))
    if {interrupt!r}:
        os.kill(os.getpid(), signal.SIGINT)  # Ctrl+C in the terminal
    else:
        w.close()

QTimer.singleShot(1000, close)
try:
    w = opscope.show("matmul", A=np.array([[1.0, 2.0]]), B=np.array([[3.0], [4.0]]))
except KeyboardInterrupt:
    print("interrupted", not show_module._window.isVisible())
else:
    assert not w.isVisible()
    print("show returned")
assert seen == [("matmul", [[1.0, 2.0]])], seen
"""


@pytest.mark.parametrize("interrupt, said", [(False, "show returned"), (True, "interrupted True")])
def test_blocking_show_in_a_script_returns_once_the_window_is_closed(tmp_path, interrupt, said):
    script = tmp_path / "script.py"
    script.write_text(SCRIPT.format(main=str(ROOT / "main.py"), interrupt=interrupt))
    env = dict(os.environ, QT_QPA_PLATFORM="offscreen", OPSCOPE_HOME=str(tmp_path / "home"))
    env.setdefault("OPSCOPE_BACKEND", "numpy")
    done = subprocess.run([sys.executable, str(script)], capture_output=True, text=True, timeout=120, env=env)
    assert done.returncode == 0, done.stderr
    assert said in done.stdout


def test_a_script_that_ends_without_closing_its_window_exits_cleanly(tmp_path):
    """A script that builds a window, shows a lesson and ends (no close, no event loop run to its
    end) aborted at exit: "QThread: Destroyed while thread 'opscope-frames' is still running"."""
    script = tmp_path / "script.py"
    script.write_text("import sys\n"
                      "from PySide6.QtWidgets import QApplication\n"
                      "from opscope.gui import app\n"
                      "from opscope.gui.window.main_window import MainWindow\n"
                      "qa = QApplication.instance() or QApplication(sys.argv)\n"
                      "w = MainWindow()\n"
                      "w.show()\n"
                      "w.open_lesson('mha_program')\n"
                      "app.settle(w)\n")
    env = {**os.environ, "QT_QPA_PLATFORM": "offscreen"}
    r = subprocess.run([sys.executable, str(script)], capture_output=True, text=True, timeout=120, env=env)
    assert r.returncode == 0, r.stderr[-2000:]
    assert "Destroyed while thread" not in r.stderr
