"""The File menu: tensors in and out, run archives, sessions, recent files, autosave and restore.

Every dialog of :class:`gui.window.file_actions.FileActions` is a small method replaced here, so no
test ever waits on a modal window. ``OPSCOPE_HOME`` is a fresh folder per test (tests/conftest.py),
so autosaves and recent files never touch the user's.
"""

import functools
import os
import pickle
import zipfile

import numpy as np
import pytest
from opscope import gui  # noqa: F401  (PySide6 before pyqtgraph)
from opscope.compute.io import (
    Session,
    autosave_path,
    describe_file,
    load_run,
    load_session,
    load_tensor,
    save_session,
    save_tensor,
    save_tensors,
)
from opscope.gui.editor import MatrixEditor
from opscope.gui.export import ExportOptions
from opscope.gui.heatmap import HeatmapView
from opscope.gui.window.file_actions import tensor_item_text
from PySide6.QtCore import QMimeData, QPoint, QPointF, Qt, QUrl
from PySide6.QtGui import QContextMenuEvent, QDragEnterEvent, QDropEvent
from PySide6.QtWidgets import QApplication

B_OLD = np.array([[5.0, 6.0], [7.0, 8.0]])


@pytest.fixture
def make_window(make_window):
    """The shared window factory (tests/gui/conftest.py), paused unless a test asks to play."""
    return functools.partial(make_window, autoplay=False)


@pytest.fixture
def window(make_window, qtbot):
    """A window on the 2×2 matrix product, its dialogs replaced by recorders that fail loudly."""
    w = make_window(lesson="matmul_2x2")
    wait_idle(qtbot, w)
    return w


@pytest.fixture
def files(window, monkeypatch):
    """The window's FileActions with every dialog replaced: tests set the answers they need."""
    f = window.files
    asked = {"open": [], "save": [], "keys": [], "messages": []}

    def no_dialog(kind):
        def ask(*args):
            raise AssertionError(f"unexpected {kind} dialog: {args}")
        return ask

    monkeypatch.setattr(f, "_ask_open_path", no_dialog("open"))
    monkeypatch.setattr(f, "_ask_save_path", no_dialog("save"))
    monkeypatch.setattr(f, "_choose_tensor", no_dialog("choose tensor"))
    monkeypatch.setattr(f, "_choose_key", lambda path, infos, target: asked["keys"].append(infos) or infos[0].key)
    real_show = f._show_message
    monkeypatch.setattr(f, "_show_message", lambda title, text: (asked["messages"].append(text),
                                                                 real_show(title, text)))
    f.asked = asked
    return f


def wait_idle(qtbot, w, timeout=15000):
    qtbot.waitUntil(w.is_idle, timeout=timeout)


def status_is_red(w):
    return "#c62828" in w.statusBar().styleSheet()


# ---------------------------------------------------------------------------------------------
# the menu


def test_file_menu_entries_and_shortcuts(window):
    f = window.files
    texts = [a.text().replace("&", "") for a in f.menu.actions() if a.text()]
    for expected in ("Open Session…", "Open Recent", "Save Session", "Save Session As…", "Load Input from File…",
                     "Save Tensor…", "Save Run…", "Export", "Quit"):
        assert expected in texts, texts
    assert f.open_action.shortcut().toString() == "Ctrl+O"
    assert f.save_action.shortcut().toString() == "Ctrl+S"
    assert f.save_as_action.shortcut().toString() == "Ctrl+Shift+S"
    assert [a.text().replace("&", "") for a in f.export_menu.actions()] == ["PNG of the Canvas…",
                                                                            "Animation (GIF/MP4)…"]


# ---------------------------------------------------------------------------------------------
# tensors in


@pytest.mark.parametrize("ext, dtype", [(".npy", np.float32), (".npz", np.int64), (".safetensors", np.float64),
                                        (".csv", np.float64), (".tsv", np.float64)])
def test_load_each_format_into_an_editor_and_run(window, files, qtbot, tmp_path, ext, dtype):
    w = window
    new = np.array([[1.5, -2.0], [0.25, 3.0]]).astype(dtype)
    path = tmp_path / f"B{ext}"
    save_tensor(path, new)
    w.inputs_panel.set_current("B")
    assert files.load_input(path=str(path))  # File › Load Input: into the current tab
    assert len(files.asked["keys"]) == 1  # key, shape and dtype were offered before loading
    (info,) = files.asked["keys"][0]
    assert info.shape == (2, 2) and info.dtype == np.dtype(dtype)
    got = w.editor("B").array()
    assert got.dtype == np.dtype(dtype) and got.shape == (2, 2)
    np.testing.assert_array_equal(got, new)
    assert "B" in files.last_message and "(2, 2)" in files.last_message
    qtbot.waitUntil(lambda: w.is_idle() and np.array_equal(w.timeline.inputs()["B"], new), timeout=10000)
    np.testing.assert_allclose(w.timeline.result()["result"], np.array([[1, 2], [3, 4]]) @ new)


def test_several_tensors_offer_key_shape_dtype_and_load_the_chosen_one(window, files, tmp_path, monkeypatch):
    w = window
    tensors = {"weights": np.ones((4, 3), np.float32), "B": np.full((2, 2), 9.0), "step": np.array(3)}
    for ext in (".npz", ".safetensors"):
        path = tmp_path / f"many{ext}"
        save_tensors(path, tensors)
        offered = []

        def choose(p, infos, target, offered=offered):
            offered.append([tensor_item_text(*i) for i in infos])
            return "B"

        monkeypatch.setattr(files, "_choose_key", choose)
        assert files.load_input("B", str(path))
        assert sorted(offered[0]) == sorted(["weights (4, 3) float32", "B (2, 2) float64", "step () int64"])
        np.testing.assert_array_equal(w.editor("B").array(), tensors["B"])
        w.editor("B").set_array(B_OLD)
    # cancelling the choice changes nothing
    monkeypatch.setattr(files, "_choose_key", lambda p, infos, target: None)
    assert not files.load_input("B", str(tmp_path / "many.npz"))
    np.testing.assert_array_equal(w.editor("B").array(), B_OLD)
    # a key written after the path needs no choice
    monkeypatch.setattr(files, "_choose_key", lambda *a: pytest.fail("no choice expected"))
    assert files.load_input("A", f"{tmp_path / 'many.npz'}:B")
    np.testing.assert_array_equal(w.editor("A").array(), tensors["B"])


def _pickled_npy(path):
    np.save(path, np.array([{"evil": 1}], dtype=object), allow_pickle=True)


def _truncated_npz(path):
    save_tensors(path, {"B": np.arange(4000.0).reshape(40, 100)})
    data = path.read_bytes()
    path.write_bytes(data[: len(data) // 2])


def _corrupt_safetensors(path):
    path.write_bytes(b"\xff\x00\x00\x00\x00\x00\x00\x00{not json" + os.urandom(64))


def _pickle_in_npz(path):
    with zipfile.ZipFile(path, "w") as zf:
        zf.writestr("B.npy", pickle.dumps([1, 2, 3]))


def _bad_csv(path):
    path.write_text("1,2\n3,abc\n")


@pytest.mark.parametrize("name, make", [("p.npy", _pickled_npy), ("t.npz", _truncated_npz),
                                        ("c.safetensors", _corrupt_safetensors), ("q.npz", _pickle_in_npz),
                                        ("bad.csv", _bad_csv), ("missing.npy", None), ("notes.txt", None)])
def test_bad_files_are_refused_with_a_message_and_change_nothing(window, files, qtbot, tmp_path, name, make):
    w = window
    path = tmp_path / name
    if make is not None:
        make(path)
    elif name.endswith(".txt"):
        path.write_text("hello")
    run = w.timeline
    assert not files.load_input("B", str(path))
    np.testing.assert_array_equal(w.editor("B").array(), B_OLD)
    assert w.editor("B").undo_stack.count() == 0
    assert name in files.last_error and "B is unchanged" in files.last_error
    assert "Traceback" not in files.last_error
    assert status_is_red(w) and name in w.statusBar().currentMessage()
    assert files.asked["messages"][-1] == files.last_error
    assert files._box.isVisible() and not files._box.isModal()
    qtbot.wait(DEBOUNCE_WAIT)
    assert w.timeline is run and not w.is_busy


DEBOUNCE_WAIT = 250


def test_a_wrongly_shaped_tensor_loads_shows_the_ops_error_and_undo_restores(window, files, qtbot, tmp_path):
    """Decision: a tensor the operation refuses is still accepted into the editor, like a typed
    resize (the editor is where the user fixes it); the run's usual error shows, the last good
    run stays on screen, and Ctrl+Z in the editor brings the old array back."""
    w = window
    w.last()
    wait_idle(qtbot, w)
    good = w.timeline
    path = tmp_path / "wrong.npy"
    save_tensor(path, np.ones((3, 2)))
    assert files.load_input("B", str(path))
    assert w.editor("B").array().shape == (3, 2)
    qtbot.waitUntil(lambda: bool(w.error), timeout=10000)
    assert "(2, 2)" in w.error and "(3, 2)" in w.error and "Traceback" not in w.error
    assert w.timeline is good
    np.testing.assert_array_equal(w.canvas.displayed("result"), [[19, 22], [43, 50]])
    w.editor("B").undo_stack.undo()
    np.testing.assert_array_equal(w.editor("B").array(), B_OLD)
    qtbot.waitUntil(lambda: not w.error and w.timeline is not good and w.is_idle(), timeout=10000)


def test_loading_into_an_unused_optional_input_turns_it_on(make_window, qtbot, tmp_path, monkeypatch):
    w = make_window(lesson=None)
    w.select_op("linear")
    wait_idle(qtbot, w)
    w.inputs_panel.set_used("b", False)
    qtbot.waitUntil(lambda: w.is_idle() and "b" not in w.timeline.input_names, timeout=10000)
    width = w.timeline.shape("result")[-1]
    path = tmp_path / "b.npy"
    save_tensor(path, np.arange(width, dtype=float))
    monkeypatch.setattr(w.files, "_choose_key", lambda p, infos, t: infos[0].key)
    assert w.files.load_input("b", str(path))
    assert w.inputs_panel.is_used("b")
    qtbot.waitUntil(lambda: w.is_idle() and "b" in w.timeline.input_names, timeout=10000)


def test_a_tensor_too_big_for_the_table_is_held_as_given(window, files, qtbot, tmp_path, monkeypatch):
    import opscope.gui.window.file_actions as fa
    import opscope.gui.window.inputs as inputs

    monkeypatch.setattr(fa, "MAX_ELEMENTS", 5)  # a 2×3 tensor stands for a 4-million-element one
    monkeypatch.setattr(inputs, "MAX_ELEMENTS", 5)
    w = window
    path = tmp_path / "big.npy"
    save_tensor(path, np.ones((2, 3)))
    assert files.load_input("B", str(path))
    assert type(w.editor("B")).__name__ == "HeldInput"
    np.testing.assert_array_equal(w.editor("B").array(), np.ones((2, 3)))
    assert "too large" in files.last_message
    qtbot.waitUntil(lambda: w.is_idle() and w.timeline.shape("result") == (2, 3), timeout=10000)


# ---------------------------------------------------------------------------------------------
# drag and drop, context menus


def _drop(widget, path):
    """Drag ``path`` onto ``widget`` and drop it, as a file manager would; False if it was refused."""
    mime = QMimeData()
    mime.setUrls([QUrl.fromLocalFile(str(path))])
    pos = QPointF(widget.width() / 2, widget.height() / 2)
    buttons, mods = Qt.MouseButton.LeftButton, Qt.KeyboardModifier.NoModifier
    enter = QDragEnterEvent(pos.toPoint(), Qt.DropAction.CopyAction, mime, buttons, mods)
    QApplication.sendEvent(widget, enter)  # Qt delivers a drop only to the widget that accepted the enter
    if not enter.isAccepted():
        return False
    drop = QDropEvent(pos, Qt.DropAction.CopyAction, mime, buttons, mods)
    QApplication.sendEvent(widget, drop)
    return drop.isAccepted()


def test_dropping_a_file_on_an_editor_loads_it(window, files, qtbot, tmp_path):
    w = window
    path = tmp_path / "dropped.npy"
    save_tensor(path, np.array([[0.0, 1.0], [1.0, 0.0]]))
    assert _drop(w.editor("B"), path)
    np.testing.assert_array_equal(w.editor("B").array(), [[0, 1], [1, 0]])
    assert len(files.asked["keys"]) == 1  # the same checks as File › Load Input
    bad = tmp_path / "pickled.npy"
    _pickled_npy(bad)
    assert _drop(w.editor("A"), bad)
    np.testing.assert_array_equal(w.editor("A").array(), [[1, 2], [3, 4]])
    assert "pickled.npy" in files.last_error
    other = tmp_path / "notes.txt"
    other.write_text("1 2")
    assert not _drop(w.editor("A"), other)  # not a tensor file: not accepted at all


class _Chooser:
    """Stands in for a context menu's event loop: picks the entry whose text starts with ``choice``."""

    def __init__(self):
        self.choice = ""
        self.offered = []

    def wrap(self, build):
        chooser = self

        class Menu:
            def __init__(self, menu):
                self.menu = menu

            def exec(self, *args):
                actions = [a for a in self.menu.actions() if a.text()]
                chooser.offered.append([a.text() for a in actions])
                picked = next(a for a in actions if a.text().startswith(chooser.choice))
                picked.trigger()
                return picked

            def deleteLater(self):  # noqa: N802 - Qt's name
                self.menu.deleteLater()

        def built(widget):
            menu = build(widget)
            return None if menu is None else Menu(menu)

        return built


def test_editor_and_view_context_menus_route_to_the_file_actions(window, files, qtbot, tmp_path, monkeypatch):
    w = window
    chooser = _Chooser()
    monkeypatch.setattr(MatrixEditor, "context_menu", chooser.wrap(MatrixEditor.context_menu))
    monkeypatch.setattr(HeatmapView, "context_menu", chooser.wrap(HeatmapView.context_menu))
    src = tmp_path / "in.csv"
    src.write_text("9,8\n7,6\n")
    monkeypatch.setattr(files, "_ask_open_path", lambda title, filters: str(src))
    editor = w.editor("A")
    chooser.choice = "Load from file"
    editor.table_view().customContextMenuRequested.emit(QPoint(5, 5))  # the editor's right click
    assert "Save tensor…" in chooser.offered[-1]
    np.testing.assert_array_equal(editor.array(), [[9, 8], [7, 6]])
    out = tmp_path / "A_saved.npy"
    monkeypatch.setattr(files, "_ask_save_path", lambda title, suggested, filters: str(out))
    chooser.choice = "Save tensor"
    editor.table_view().customContextMenuRequested.emit(QPoint(5, 5))  # the editor's numbers, run or not
    np.testing.assert_array_equal(np.load(out), [[9, 8], [7, 6]])

    view_out = tmp_path / "result.npy"
    monkeypatch.setattr(files, "_ask_save_path", lambda title, suggested, filters: str(view_out))
    wait_idle(qtbot, w)
    viewport = w.canvas.views["result"].graphics_widget().viewport()
    centre = QPoint(viewport.width() // 2, viewport.height() // 2)
    chooser.choice = "Save result"
    QApplication.sendEvent(viewport, QContextMenuEvent(QContextMenuEvent.Reason.Mouse, centre,
                                                       viewport.mapToGlobal(centre)))  # a right click on the heatmap
    assert chooser.offered[-1] == ["Save result…"]
    np.testing.assert_array_equal(np.load(view_out), w.timeline.result()["result"])

    menu_in = tmp_path / "B.tsv"
    menu_in.write_text("1\t0\n0\t1\n")
    monkeypatch.setattr(files, "_ask_open_path", lambda title, filters: str(menu_in))
    w.inputs_panel.set_current("B")
    files.load_input_action.trigger()  # File › Load Input from File…: the current tab
    np.testing.assert_array_equal(w.editor("B").array(), np.eye(2))


# ---------------------------------------------------------------------------------------------
# tensors out


@pytest.mark.parametrize("ext", [".npy", ".npz", ".safetensors", ".csv", ".tsv"])
def test_save_tensor_round_trips_in_each_format(make_window, qtbot, tmp_path, monkeypatch, ext):
    w = make_window(lesson="softmax_rows")
    wait_idle(qtbot, w)
    w.set_input("X", np.array([[1.0, 2.0, 3.0], [2.0, 1.0, 0.1]], dtype=np.float32))
    qtbot.waitUntil(lambda: w.is_idle() and w.timeline.dtype("X") == np.float32, timeout=10000)
    tl = w.timeline
    offered = []
    monkeypatch.setattr(w.files, "_choose_tensor", lambda names, labels: offered.append(labels) or "result")
    path = tmp_path / f"out{ext}"
    assert w.files.save_tensor(path=str(path))
    assert any(label.startswith("X (2, 3) float32") for label in offered[0])
    expected = tl.result()["result"]
    got = load_tensor(path)
    assert got.shape == expected.shape
    if ext in (".csv", ".tsv"):
        # tables read back as float64; float32 is written with its own shortest text, so it is exact as float32
        assert got.dtype == np.float64
        got = got.astype(expected.dtype)
    assert got.dtype == expected.dtype
    np.testing.assert_array_equal(got, expected)
    if ext in (".npz", ".safetensors"):
        assert [i.key for i in describe_file(path)] == ["result"]
    assert str(path) in w.files.last_message


@pytest.mark.parametrize("ext", [".csv", ".tsv"])
def test_a_3d_tensor_is_refused_as_csv_with_a_message_and_no_file(window, files, tmp_path, ext):
    w = window
    w.editor("A").set_array(np.zeros((2, 2, 2)))
    path = tmp_path / f"A{ext}"
    assert not files.save_editor("A", str(path))
    assert not path.exists()
    assert "2-D" in files.last_error and "(2, 2, 2)" in files.last_error and path.name in files.last_error
    assert status_is_red(w)
    assert os.listdir(tmp_path) == []  # no temporary file left behind either


def test_a_failed_save_keeps_the_old_file(window, files, tmp_path, monkeypatch):
    path = tmp_path / "keep.npy"
    np.save(path, np.array([1.0, 2.0]))
    import opscope.compute.io.atomic as atomic

    def broken_replace(src, dst):
        raise OSError(28, "No space left on device")

    with monkeypatch.context() as m:  # its own context: the fixtures' patches must outlive this one
        m.setattr(atomic.os, "replace", broken_replace)
        assert not files.save_editor("A", str(path))
    assert "No space left" in files.last_error
    np.testing.assert_array_equal(np.load(path), [1.0, 2.0])
    assert sorted(os.listdir(tmp_path)) == ["keep.npy"]


@pytest.mark.parametrize("ext", [".npz", ".safetensors"])
def test_save_run_holds_inputs_outputs_op_and_params(make_window, qtbot, tmp_path, ext):
    w = make_window(lesson="sum_axis0")
    wait_idle(qtbot, w)
    w.set_param("keepdims", True)
    qtbot.waitUntil(lambda: w.is_idle() and w.timeline.params.get("keepdims") is True, timeout=10000)
    path = tmp_path / f"run{ext}"
    assert w.files.save_run(str(path))
    run = load_run(path)
    assert run.op == "sum"
    assert run.params == w.timeline.params  # what the run was computed with (axis normalized to a tuple)
    assert run.params["axis"] in (0, (0,)) and run.params["keepdims"] is True
    assert set(run.inputs) == {"X"} and "result" in run.outputs
    np.testing.assert_array_equal(run.inputs["X"], w.timeline.inputs()["X"])
    np.testing.assert_array_equal(run.outputs["result"], w.timeline.result()["result"])
    assert not w.files.save_run(str(tmp_path / "run.csv"))
    assert "npz or .safetensors" in w.files.last_error and not (tmp_path / "run.csv").exists()


# ---------------------------------------------------------------------------------------------
# sessions


def test_session_round_trip_restores_everything_and_lands_on_the_step(make_window, qtbot, tmp_path, monkeypatch):
    w = make_window(lesson="sum_axis0")
    wait_idle(qtbot, w)
    x = np.array([[1.0, -2.0, 3.5], [4.0, 5.0, -6.0], [0.5, 0.25, 8.0]])
    w.set_input("X", x)
    w.set_param("axis", "1")
    w.set_param("keepdims", True)
    w.set_granularity("element")
    w.set_speed(7.0)
    w.set_loop(False)
    qtbot.waitUntil(lambda: w.is_idle() and w.timeline.shape("X") == (3, 3)
                    and w.timeline.params["axis"] in (1, (1,)), timeout=10000)
    step = len(w.timeline) - 2  # neither the first nor the last: landing there is no accident
    assert step >= 1
    w.seek(step)
    qtbot.waitUntil(lambda: w.is_idle() and w.current_step == step)
    path = tmp_path / "mine.opscope"
    asked = []
    monkeypatch.setattr(w.files, "_ask_save_path", lambda *a: asked.append(a) or str(path))
    assert w.files.save_session()  # Ctrl+S the first time asks for a file
    assert len(asked) == 1 and path.exists()
    assert w.files.save_session()  # then saves to it
    assert len(asked) == 1
    assert w.files.recent.items()[0] == str(path)

    # change everything
    w.select_op("softmax")
    w.set_speed(2.0)
    w.set_loop(True)
    wait_idle(qtbot, w)
    assert w.op_name == "softmax"

    assert w.files.open_session(str(path))
    qtbot.waitUntil(lambda: w.is_idle() and w.timeline.op == "sum", timeout=10000)
    assert w.current_step == step
    assert w.op_name == "sum" and w.lesson == "sum_axis0"
    assert w.operation_panel.params.values() == {"axis": 1, "keepdims": True}
    assert w.operation_panel.stepping.values()[0] == "element"
    assert w.timeline.granularity == "element"
    np.testing.assert_array_equal(w.editor("X").array(), x)
    assert w.animation.speed.value() == pytest.approx(7.0)
    assert not w.animation.loop.isChecked()
    assert w.files.session_path == str(path)
    w.files.fill_recent_menu()
    assert [a.data() for a in w.files.recent_menu.actions() if a.data()] == [str(path)]


def test_session_restores_tile_size_and_optional_inputs(make_window, qtbot, tmp_path):
    w = make_window(lesson=None)
    w.select_op("linear")
    wait_idle(qtbot, w)
    w.inputs_panel.set_used("b", False)
    w.set_granularity("tile")
    w.operation_panel.stepping.tile.setValue(1)
    qtbot.waitUntil(lambda: w.is_idle() and w.timeline.options.get("tile") in (1, (1, 1))
                    and "b" not in w.timeline.input_names, timeout=10000)
    session = w.files.current_session()
    assert "b" not in session.inputs and session.options == {"tile": 1}
    path = tmp_path / "linear.opscope"
    assert w.files.save_session(str(path))
    w.select_op("matmul")
    wait_idle(qtbot, w)
    assert w.files.open_session(str(path))
    qtbot.waitUntil(lambda: w.is_idle() and w.timeline.op == "linear", timeout=10000)
    assert w.operation_panel.stepping.values() == ("tile", 1, None)
    assert not w.inputs_panel.is_used("b")
    assert "b" not in w.timeline.input_names


def test_a_bad_session_is_refused_and_the_workspace_stays(window, files, qtbot, tmp_path):
    w = window
    broken = tmp_path / "broken.opscope"
    broken.write_bytes(b"PK\x03\x04 this is not a zip")
    assert not files.open_session(str(broken))
    assert "broken.opscope" in files.last_error and status_is_red(w)
    newer = tmp_path / "newer.opscope"
    save_session(newer, Session(op="matmul", inputs={"A": np.eye(2), "B": np.eye(2)}))
    with zipfile.ZipFile(newer) as zf:
        members = {n: zf.read(n) for n in zf.namelist()}
    members["manifest.json"] = members["manifest.json"].replace(b'"version": 1', b'"version": 99')
    with zipfile.ZipFile(newer, "w") as zf:
        for n, data in members.items():
            zf.writestr(n, data)
    assert not files.open_session(str(newer))
    assert "newer OpScope" in files.last_error
    unknown = tmp_path / "unknown.opscope"
    save_session(unknown, Session(op="conv9d", inputs={"A": np.eye(2)}))
    assert not files.open_session(str(unknown))
    assert "conv9d" in files.last_error
    assert w.op_name == "matmul" and w.lesson == "matmul_2x2"
    np.testing.assert_array_equal(w.editor("B").array(), B_OLD)
    assert files.recent.items() == []


def test_open_recent_drops_a_missing_file_with_a_message(window, files, tmp_path):
    gone = tmp_path / "gone.opscope"
    kept = tmp_path / "kept.opscope"
    assert files.save_session(str(gone))
    assert files.save_session(str(kept))
    gone.unlink()
    assert files.recent.items() == [str(kept), str(gone)]
    files.fill_recent_menu()
    entry = next(a for a in files.recent_menu.actions() if a.data() == str(gone))
    entry.trigger()
    assert "gone.opscope" in files.last_error and "removed" in files.last_error
    assert files.recent.items() == [str(kept)]
    assert [a.data() for a in files.recent_menu.actions() if a.data()] == [str(kept)]


# ---------------------------------------------------------------------------------------------
# autosave and restore


def test_autosave_after_a_change_and_removed_on_clean_shutdown(make_window, qtbot):
    w = make_window(lesson="matmul_2x2", autosave=True)
    w.files.autosave_timer.setInterval(50)
    wait_idle(qtbot, w)
    path = autosave_path()
    w.set_input("B", np.array([[1.0, 0.0], [0.0, 1.0]]))
    qtbot.waitUntil(lambda: w.is_idle() and path.exists(), timeout=10000)
    w.files.wait_autosave()
    qtbot.waitUntil(lambda: not w.files.autosave_timer.isActive(), timeout=5000)
    w.files.wait_autosave()
    s = load_session(path)
    assert s.op == "matmul" and s.view["lesson"] == "matmul_2x2"
    np.testing.assert_array_equal(s.inputs["B"], np.eye(2))
    w.close()  # a clean exit
    assert not path.exists()


def test_no_autosave_by_default(window, qtbot):
    window.set_input("B", np.eye(2))
    qtbot.wait(300)
    assert not autosave_path().exists()


def _leave_an_autosave():
    x = np.array([[1.0, 2.0, 3.0], [4.0, 5.0, 6.0]])
    save_session(autosave_path(), Session(op="sum", params={"axis": 1, "keepdims": False}, inputs={"X": x},
                                          granularity="element", step=1, view={"speed": 3.0, "lesson": "sum_axis0"}))
    return x


def test_restore_bar_restores_the_autosaved_session(make_window, qtbot):
    x = _leave_an_autosave()
    before = autosave_path().read_bytes()
    w = make_window(lesson="matmul_2x2", offer_restore=True, autosave=True)
    w.files.autosave_timer.setInterval(50)
    bar = w.files.restore_bar
    assert bar is not None and bar.isVisible()
    assert "did not close cleanly" in bar.label.text() and ":" in bar.label.text()
    wait_idle(qtbot, w)
    w.set_input("B", np.eye(2))  # changes while the question is open never overwrite the old session
    qtbot.wait(300)
    assert autosave_path().read_bytes() == before
    qtbot.mouseClick(bar.restore_button, Qt.MouseButton.LeftButton)
    assert not bar.isVisible()
    qtbot.waitUntil(lambda: w.is_idle() and w.timeline.op == "sum", timeout=10000)
    assert w.current_step == 1 and w.lesson == "sum_axis0"
    np.testing.assert_array_equal(w.editor("X").array(), x)
    assert w.operation_panel.params.values()["axis"] == 1
    assert w.animation.speed.value() == pytest.approx(3.0)
    w.shutdown()
    assert not autosave_path().exists()


def test_restore_bar_discard_deletes_the_autosave(make_window, qtbot):
    _leave_an_autosave()
    w = make_window(lesson="matmul_2x2", offer_restore=True, autosave=True)
    bar = w.files.restore_bar
    assert bar.isVisible()
    qtbot.mouseClick(bar.discard_button, Qt.MouseButton.LeftButton)
    assert not bar.isVisible() and not autosave_path().exists()
    wait_idle(qtbot, w)
    assert w.op_name == "matmul"


def test_an_unanswered_restore_bar_keeps_the_autosave_for_next_time(make_window, qtbot):
    _leave_an_autosave()
    w = make_window(lesson="matmul_2x2", offer_restore=True, autosave=True)
    assert w.files.restore_bar.isVisible()
    w.close()
    assert autosave_path().exists()


def test_no_bar_without_an_autosave_or_without_the_flag(make_window):
    w = make_window(lesson=None, offer_restore=True)
    assert w.files.restore_bar is None
    _leave_an_autosave()
    w2 = make_window(lesson=None)
    assert w2.files.restore_bar is None


# ---------------------------------------------------------------------------------------------
# export


def test_export_png_and_gif_from_the_menu(window, files, qtbot, tmp_path):
    w = window
    png = tmp_path / "frame.png"
    runner = files.export_png(ExportOptions(str(png), (0,), size=(320, 200)))
    qtbot.waitUntil(lambda: runner.state == "done", timeout=20000)
    assert png.exists()
    gif = tmp_path / "anim.gif"
    runner = files.export_animation(ExportOptions(str(gif), tuple(range(len(w.timeline))), fps=5, size=(160, 120)))
    qtbot.waitUntil(lambda: runner.state == "done", timeout=20000)
    import imageio.v3 as iio

    frames = iio.imread(gif, index=None)
    # the title card (the lesson's title), then one frame a step (the last one held longer)
    assert frames.shape[0] == len(w.timeline) + 1 and frames.shape[1:3] == (120, 160)
