"""The searchable tensor picker: type to filter, Enter picks, Esc cancels; used by File › Load Input."""

import struct

import numpy as np
import pytest
from opscope import gui  # noqa: F401  (PySide6 before pyqtgraph)
from opscope.compute.io import TensorInfo, save_tensors
from opscope.gui.window import key_picker
from opscope.gui.window.key_picker import KeyPicker
from PySide6.QtCore import Qt
from PySide6.QtWidgets import QDialog


def _infos(n_layers=40):
    infos = [TensorInfo("embeddings.word_embeddings.weight", (30522, 768), np.dtype(np.float32))]
    for i in range(n_layers):
        infos += [TensorInfo(f"encoder.layer.{i}.attention.self.query.weight", (768, 768), np.dtype(np.float32)),
                  TensorInfo(f"encoder.layer.{i}.attention.self.query.bias", (768,), np.dtype(np.float32)),
                  TensorInfo(f"encoder.layer.{i}.output.LayerNorm.weight", (768,), np.dtype(np.float16))]
    return infos + [TensorInfo("num_batches_tracked", (), np.dtype(np.int64))]


@pytest.fixture
def picker(qtbot):
    d = KeyPicker(_infos(), "Load B", "<b>bert.pt</b> holds 122 tensors. Load which into <b>B</b>?")
    qtbot.addWidget(d)
    d.show()
    qtbot.waitExposed(d)
    return d


def shown(d):
    return [d.proxy.index(r, 0).data() for r in range(d.proxy.rowCount())]


def test_typing_filters_case_insensitively(picker, qtbot):
    d = picker
    assert d.filter_edit.hasFocus()  # typing filters at once
    assert len(shown(d)) == 122 and d.count_label.text() == "122 tensors"
    qtbot.keyClicks(d.filter_edit, "LAYER.1.ATTENTION.SELF.QUERY.W")
    assert shown(d) == ["encoder.layer.1.attention.self.query.weight"]
    assert d.count_label.text() == "1 of 122 tensors match"
    d.set_filter("float16")  # shapes and dtypes filter too
    assert len(shown(d)) == 40 and all("LayerNorm" in k for k in shown(d))
    d.set_filter("no such key")
    assert shown(d) == [] and d.chosen_key() is None
    qtbot.keyClick(d.filter_edit, Qt.Key.Key_Return)  # Enter with nothing shown: nothing picked
    assert d.isVisible() and d.result() != QDialog.DialogCode.Accepted


def test_enter_picks_the_highlighted_and_arrows_move_it(picker, qtbot):
    d = picker
    qtbot.keyClicks(d.filter_edit, "query.bias")
    assert d.chosen_key() == "encoder.layer.0.attention.self.query.bias"
    qtbot.keyClick(d.filter_edit, Qt.Key.Key_Down)
    qtbot.keyClick(d.filter_edit, Qt.Key.Key_Down)
    assert d.filter_edit.hasFocus() and d.chosen_key() == "encoder.layer.2.attention.self.query.bias"
    qtbot.keyClick(d.filter_edit, Qt.Key.Key_Up)
    qtbot.keyClick(d.filter_edit, Qt.Key.Key_Return)
    assert d.result() == QDialog.DialogCode.Accepted
    assert d.chosen_key() == "encoder.layer.1.attention.self.query.bias"


def test_escape_cancels(picker, qtbot):
    qtbot.keyClicks(picker.filter_edit, "embed")
    qtbot.keyClick(picker.filter_edit, Qt.Key.Key_Escape)
    assert picker.result() == QDialog.DialogCode.Rejected and not picker.isVisible()


def test_double_click_picks(picker, qtbot):
    d = picker
    d.set_filter("num_batches")
    rect = d.table.visualRect(d.proxy.index(0, 0))
    # QTest's double click alone is not seen as one by item views: a press comes first, as with a mouse
    qtbot.mouseClick(d.table.viewport(), Qt.MouseButton.LeftButton, pos=rect.center())
    qtbot.mouseDClick(d.table.viewport(), Qt.MouseButton.LeftButton, pos=rect.center())
    assert d.result() == QDialog.DialogCode.Accepted and d.chosen_key() == "num_batches_tracked"


def test_screenshot(picker, qtbot):
    picker.resize(720, 440)
    picker.set_filter("layer.1")
    qtbot.wait(50)
    assert picker.grab().save("/tmp/key_picker.png")


# ---------------------------------------------------------------------------------------------
# in the window


@pytest.fixture
def window(make_window, qtbot):
    w = make_window(lesson="matmul_2x2", autoplay=False)
    qtbot.waitUntil(w.is_idle, timeout=15000)
    monkey_messages = []
    w.files._show_message = lambda title, text: monkey_messages.append(text)
    w.messages = monkey_messages
    return w


def test_load_input_asks_with_the_picker(window, tmp_path, monkeypatch):
    path = tmp_path / "many.safetensors"
    save_tensors(path, {f"layer.{i}.w": np.full((2, 2), float(i)) for i in range(30)})
    seen = {}

    def fake_exec(self):
        seen["rows"] = self.proxy.rowCount()
        self.set_filter("layer.17.")
        return QDialog.DialogCode.Accepted

    monkeypatch.setattr(KeyPicker, "exec", fake_exec)
    assert window.files.load_input("B", str(path))
    assert seen["rows"] == 30
    np.testing.assert_array_equal(window.editor("B").array(), np.full((2, 2), 17.0))
    monkeypatch.setattr(KeyPicker, "exec", lambda self: QDialog.DialogCode.Rejected)
    assert not window.files.load_input("B", str(path))  # cancelled: unchanged
    np.testing.assert_array_equal(window.editor("B").array(), np.full((2, 2), 17.0))


def test_a_deeply_nested_header_is_shown_as_a_message(window, tmp_path, monkeypatch):
    path = tmp_path / "deep.safetensors"
    body = b"[" * 100_000
    path.write_bytes(struct.pack("<Q", len(body)) + body)
    monkeypatch.setattr(key_picker, "pick_key", lambda *a: pytest.fail("no choice expected"))
    before = window.editor("B").array().copy()
    assert not window.files.load_input("B", str(path))
    assert "nested too deeply" in window.files.last_error and "B is unchanged" in window.files.last_error
    assert window.messages and "deep.safetensors" in window.messages[-1]
    np.testing.assert_array_equal(window.editor("B").array(), before)


def test_an_unexpected_loader_failure_is_shown_not_raised(window, tmp_path, monkeypatch):
    from opscope.gui.window import file_actions

    path = tmp_path / "x.npy"
    np.save(path, np.ones((2, 2)))

    def boom(*a, **k):
        raise RuntimeError("a loader bug")

    monkeypatch.setattr(file_actions, "describe_file", boom)
    assert not window.files.load_input("B", str(path))
    assert "unexpected RuntimeError: a loader bug" in window.files.last_error
