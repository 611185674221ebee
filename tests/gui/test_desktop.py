"""Desktop conventions: remembered settings, the Help menu, accessible names, speed / loop / undo keys,
pyqtgraph's colour maps, and a clean start and stop of the app (no display, Ctrl+C)."""

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import opscope
import pytest
from opscope import (
    compute,
    gui,  # noqa: F401  (PySide6 before pyqtgraph)
)

# isort: split
import pyqtgraph as pg
import PySide6
from opscope.gui import colormaps as cm
from opscope.gui.app import NO_DISPLAY_STATUS, display_problem
from opscope.gui.window import MainWindow
from opscope.gui.window.help_dialogs import EDITOR_GROUP, about_text
from opscope.gui.window.player import SPEED_LADDER, faster_speed, slower_speed
from opscope.gui.window.settings import SETTINGS_FILE, WindowSettings, open_settings, settings_path
from PySide6.QtCore import QRect, Qt, qVersion
from PySide6.QtGui import QAction, QGuiApplication, QKeySequence
from PySide6.QtTest import QTest
from PySide6.QtWidgets import QAbstractButton, QApplication

ROOT = Path(__file__).resolve().parents[2]


def wait_idle(qtbot, w, timeout=15000):
    qtbot.waitUntil(w.is_idle, timeout=timeout)


@pytest.fixture
def window(window):
    window.activateWindow()  # the conftest's window, active: shortcuts go to it
    return window


def _new_window(qtbot, made):
    """A window that is not shown yet (settings are restored before the first show)."""
    w = MainWindow(lesson=None, autoplay=False)
    qtbot.addWidget(w)
    made.append(w)
    return w


# --- 1. settings -------------------------------------------------------------------------------------
def test_settings_live_in_an_ini_file_under_opscope_home():
    path = settings_path()
    assert path == Path(os.environ["OPSCOPE_HOME"]) / SETTINGS_FILE
    assert Path(open_settings().fileName()) == path


def test_geometry_docks_folder_speed_and_loop_come_back_after_close(qtbot, tmp_path):
    made = []
    try:
        first = _new_window(qtbot, made)
        assert WindowSettings(first).restore() is False  # nothing saved yet: the defaults stay
        first.select_op("matmul")
        # The offscreen screen is small (restoreGeometry fits windows into it): a size that fits.
        first.setGeometry(QRect(20, 40, 900, 640))
        first.show()
        qtbot.waitExposed(first)
        first.addDockWidget(Qt.RightDockWidgetArea, first.inputs_dock)  # the user moved a panel
        first.set_speed(8.0)
        first.set_loop(True)
        first.files.last_folder = str(tmp_path)
        qtbot.wait(50)  # the layout settles (a dock moved: the minimum width changes)
        size = first.size()
        first.close()  # the close event saves
        assert settings_path().is_file()

        second = _new_window(qtbot, made)
        assert second.animation.speed.value() == 1.0 and not second.animation.loop.isChecked()
        assert second.size() == MainWindow.DEFAULT_SIZE
        assert WindowSettings(second).restore() is True
        assert second.layout_restored  # the first show keeps the restored docks
        second.select_op("matmul")
        second.show()
        qtbot.waitExposed(second)
        assert second.size() == size
        assert second.dockWidgetArea(second.inputs_dock) == Qt.RightDockWidgetArea
        assert second.dockWidgetArea(second.operation_dock) == Qt.LeftDockWidgetArea
        assert second.animation.speed.value() == 8.0 and second._clock.speed == 8.0
        assert second.animation.loop.isChecked() and second._clock.loop
        assert second.files.last_folder == str(tmp_path)
    finally:
        for w in made:
            w.shutdown()


def test_hidden_side_panels_stay_hidden_and_the_view_menu_agrees(qtbot):
    made = []
    try:
        first = _new_window(qtbot, made)
        WindowSettings(first)
        first.show()
        first.set_panels_visible(False)
        first.close()
        second = _new_window(qtbot, made)
        WindowSettings(second).restore()
        second.show()
        assert not second.operation_dock.isVisible() and not second.inputs_dock.isVisible()
        assert not second.panels_action.isChecked()
    finally:
        for w in made:
            w.shutdown()


def test_a_lesson_named_at_start_keeps_its_own_speed(qtbot):
    settings = open_settings()
    settings.setValue("playback/speed", 30.0)
    settings.sync()
    made = []
    try:
        w = _new_window(qtbot, made)
        w.set_speed(2.0)
        WindowSettings(w).restore(playback=False)
        assert w.animation.speed.value() == 2.0
        WindowSettings(w).restore()
        assert w.animation.speed.value() == 30.0
    finally:
        for w in made:
            w.shutdown()


def test_damaged_or_odd_settings_are_ignored(qtbot, tmp_path):
    settings_path().write_text("[window]\ngeometry=@ByteArray(garbage)\nstate=12\n[playback]\n"
                               "speed=fast\nloop=maybe\n[files]\nlast_folder=/no/such/folder\n")
    made = []
    try:
        w = _new_window(qtbot, made)
        assert WindowSettings(w).restore() is False
        assert w.animation.speed.value() == 1.0 and not w.animation.loop.isChecked()
        assert w.files.last_folder == ""
        w.show()
        qtbot.waitExposed(w)
    finally:
        for w in made:
            w.shutdown()


def test_closing_in_full_screen_keeps_the_windowed_geometry(qtbot):
    made = []
    try:
        w = _new_window(qtbot, made)
        ws = WindowSettings(w)
        w.setGeometry(QRect(30, 40, 640, 480))
        w.show()
        ws.save()
        saved = open_settings().value("window/geometry")
        w.set_full_screen(True)
        qtbot.waitUntil(w.isFullScreen)
        w.close()
        assert open_settings().value("window/geometry") == saved
    finally:
        for w in made:
            w.shutdown()


# --- 2. Help menu ------------------------------------------------------------------------------------
def _menu_titles(w):
    return [a.text().replace("&", "") for a in w.menuBar().actions()]


def test_menu_bar_follows_desktop_order(window):
    assert _menu_titles(window) == ["File", "Edit", "Lessons", "Playback", "View", "Help"]


def test_f1_lists_every_shortcut_of_the_window_from_its_actions(window, qtbot):
    w = window
    QTest.keyClick(w.canvas, Qt.Key_F1)
    dialog = w.desktop._shortcuts_dialog
    assert dialog is not None
    qtbot.waitUntil(dialog.isVisible)
    shown = dialog.rows()
    keys_shown = {k.strip() for _g, _t, keys in shown for k in keys.split(", ")}
    # every window-wide shortcut is in the list (so the list cannot miss one) ...
    for a in w.actions():
        for seq in a.shortcuts():
            assert seq.toString(QKeySequence.NativeText) in keys_shown, a.text()
    texts = {(g, t) for g, t, _k in shown}
    for item in [("Playback", "Faster"), ("Playback", "Slower"), ("Playback", "Loop"), ("Edit", "Undo"),
                 ("Edit", "Redo"), ("Help", "Keyboard Shortcuts"), ("Playback", "Play / pause")]:
        assert item in texts
    assert any(g == EDITOR_GROUP and t.startswith("Paste") for g, t, _k in shown)
    # ... and it is read from the actions, so a new one shows up without touching the dialog
    extra = QAction("Frobnicate", w)
    extra.setShortcut(QKeySequence("Ctrl+Alt+K"))
    w.playback_menu.addAction(extra)
    w.desktop.show_shortcuts()
    assert ("Playback", "Frobnicate", QKeySequence("Ctrl+Alt+K").toString(QKeySequence.NativeText)) in dialog.rows()
    dialog.filter.setText("loop")
    assert [t for _g, t, _k in dialog.rows()] == ["Loop"]
    dialog.close()


def test_about_shows_the_versions_and_copies_them(window, qtbot):
    w = window
    w.desktop.about_action.trigger()
    dialog = w.desktop._about_dialog
    qtbot.waitUntil(dialog.isVisible)
    text = dialog.text
    for needle in (f"OpScope:   {opscope.__version__}", str(compute.backend_info()), np.__version__, qVersion(),
                   PySide6.__version__, pg.__version__, sys.version.split()[0]):
        assert needle in text
    cupy_line = next(line for line in text.splitlines() if line.startswith("CuPy:"))
    assert cupy_line.endswith("not installed") or "cupy" in cupy_line  # "13.4.0 (cupy-cuda12x)"
    details = dialog.details.text()
    assert pg.__version__ in details and np.__version__ in details
    QGuiApplication.clipboard().clear()
    qtbot.mouseClick(dialog.copy_button, Qt.LeftButton)
    assert QGuiApplication.clipboard().text() == text == about_text()
    assert dialog.copied.text()
    dialog.close()


# --- 3. accessible names -----------------------------------------------------------------------------
def _nameless_buttons(root):
    return [b for b in root.findChildren(QAbstractButton) if not b.text() and not b.accessibleName()]


@pytest.mark.parametrize("op", ["matmul", "attention"])
def test_every_button_without_text_has_an_accessible_name(make_window, qtbot, op):
    w = make_window(lesson=None)
    w.select_op(op)
    wait_idle(qtbot, w)
    assert _nameless_buttons(w) == []
    for b in w.findChildren(QAbstractButton):
        if not b.text() and b.parent() is w.animation:
            assert b.toolTip(), b.accessibleName()  # a sighted mouse user gets the same words
    about = w.desktop.show_about()
    shortcuts = w.desktop.show_shortcuts()
    assert _nameless_buttons(about) == [] and _nameless_buttons(shortcuts) == []
    about.close()
    shortcuts.close()


def test_play_button_name_says_what_a_click_does(window, qtbot):
    a = window.animation
    assert a.play_button.accessibleName() == "Play"
    window.set_speed(1.0)
    window.play()
    qtbot.waitUntil(lambda: a.play_button.accessibleName() == "Pause")
    window.pause()
    assert a.play_button.accessibleName() == "Play"


# --- 4. speed, loop and undo from the keyboard -------------------------------------------------------
def test_speed_ladder():
    assert faster_speed(1.0) == 2.0 and slower_speed(1.0) == 0.5
    assert faster_speed(3.0) == 4.0 and slower_speed(3.0) == 2.0
    assert faster_speed(240.0) == 500.0 and faster_speed(1000.0) == 1000.0 and slower_speed(0.1) == 0.1
    assert list(SPEED_LADDER) == sorted(SPEED_LADDER)


def test_speed_and_loop_keys(window, qtbot):
    w = window
    w.set_speed(1.0)
    QTest.keyClick(w.canvas, Qt.Key_BracketRight)
    assert w.animation.speed.value() == 2.0 and w._clock.speed == 2.0
    QTest.keyClick(w.canvas, Qt.Key_Up, Qt.ControlModifier)
    assert w.animation.speed.value() == 4.0
    QTest.keyClick(w.canvas, Qt.Key_BracketLeft)
    QTest.keyClick(w.canvas, Qt.Key_Down, Qt.ControlModifier)
    assert w.animation.speed.value() == 1.0
    assert "1 steps/s" in w.statusBar().currentMessage()
    assert not w.animation.loop.isChecked()
    QTest.keyClick(w.canvas, Qt.Key_L)
    assert w.animation.loop.isChecked() and w._clock.loop and w.desktop.loop_action.isChecked()
    w.animation.loop.setChecked(False)  # the check box and the menu entry are one state
    assert not w.desktop.loop_action.isChecked() and not w._clock.loop
    assert w.desktop.loop_action in w.playback_menu.actions()
    assert w.desktop.faster_action in w.playback_menu.actions()


def test_plain_letters_typed_in_a_table_stay_in_the_table(window, qtbot):
    w = window
    table = w.editor("A").table_view()
    table.setFocus()
    qtbot.waitUntil(table.hasFocus)
    QTest.keyClick(table, Qt.Key_L)
    QTest.keyClick(QApplication.focusWidget(), Qt.Key_BracketRight)
    assert not w.animation.loop.isChecked() and w.animation.speed.value() == 1.0


def _set_cell(editor, row, col, text):
    model = editor.model()
    return model.setData(model.index(row, col), text, Qt.ItemDataRole.EditRole)


def test_edit_menu_undoes_and_redoes_the_current_editor(window, qtbot):
    w = window
    d = w.desktop
    assert not d.undo_action.isEnabled() and not d.redo_action.isEnabled()
    w.inputs_panel.set_current("A")
    a = w.editor("A")
    before = a.array().copy()
    assert _set_cell(a, 0, 0, "9")
    assert d.undo_action.isEnabled() and d.undo_action.text().startswith("&Undo")
    QTest.keyClick(w.canvas, Qt.Key_Z, Qt.ControlModifier)  # focus on the canvas: the window's Undo
    np.testing.assert_array_equal(a.array(), before)
    assert d.redo_action.isEnabled()
    QTest.keyClick(w.canvas, Qt.Key_Y, Qt.ControlModifier)
    assert a.array()[0, 0] == 9
    QTest.keyClick(w.canvas, Qt.Key_Z, Qt.ControlModifier)
    QTest.keyClick(w.canvas, Qt.Key_Z, Qt.ControlModifier | Qt.ShiftModifier)
    assert a.array()[0, 0] == 9
    # one workspace history: the Edit menu undoes A's edit from B's tab too
    w.inputs_panel.set_current("B")
    assert d.undo_action.isEnabled() and "A[0, 0]" in d.undo_action.text()
    # a new operation is a step of that history too, and its editors write into it
    w.select_op("softmax")
    wait_idle(qtbot, w)
    assert d.undo_action.isEnabled() and "softmax" in d.undo_action.text()
    name = w.inputs_panel.current_name()
    assert _set_cell(w.editor(name), 0, 0, "3")
    d.undo_action.trigger()
    assert w.editor(name).array()[0, 0] != 3
    d.undo_action.trigger()
    qtbot.waitUntil(lambda: w.op_name == "matmul", timeout=5000)
    assert w.editor("A").array()[0, 0] == 9


# --- 5. colour maps ----------------------------------------------------------------------------------
@pytest.mark.parametrize("lut, name", [(cm.SEQUENTIAL_LUT, "viridis"), (cm.DIVERGING_LUT, "CET-D1A")])
def test_luts_are_pyqtgraphs_own_maps(lut, name):
    assert name in (cm.SEQUENTIAL_MAP_NAME, cm.DIVERGING_MAP_NAME)
    expected = pg.colormap.get(name).getLookupTable(0.0, 1.0, cm.N_DATA, alpha=True)
    np.testing.assert_array_equal(lut[:cm.N_DATA], expected)
    ends = pg.colormap.get(name).map(np.array([0.0, 1.0]), mode=pg.ColorMap.BYTE)
    np.testing.assert_array_equal(lut[[0, cm.N_DATA - 1]], ends)


def test_viridis_matches_its_published_end_points_and_the_colour_bar_map():
    # matplotlib's viridis starts at #440154 and ends at #fde725; the old hand-made table was off by up to 16/255.
    assert tuple(cm.SEQUENTIAL_LUT[0][:3]) == (0x44, 0x01, 0x54)
    assert tuple(cm.SEQUENTIAL_LUT[cm.N_DATA - 1][:3]) == (0xFD, 0xE7, 0x25)
    for levels, lut in (((0.0, 1.0), cm.SEQUENTIAL_LUT), ((-1.0, 1.0), cm.DIVERGING_LUT)):
        bar = cm.colormap_for(levels).getLookupTable(0.0, 1.0, cm.N_DATA, alpha=True)
        np.testing.assert_array_equal(bar, lut[:cm.N_DATA])


def test_diverging_map_is_light_at_zero_and_dark_at_both_ends():
    levels = cm.display_levels((-2.0, 2.0))
    centre = cm.rgba(0.0, levels)
    assert min(centre[:3]) > 220
    for end in (-2.0, 2.0):
        r, g, b, _a = cm.rgba(end, levels)
        assert 0.299 * r + 0.587 * g + 0.114 * b < 90
    assert cm.rgba(-2.0, levels)[2] > cm.rgba(-2.0, levels)[0]  # negative blue
    assert cm.rgba(2.0, levels)[0] > cm.rgba(2.0, levels)[2]  # positive red


# --- 6. start-up and shutdown ------------------------------------------------------------------------
@pytest.mark.parametrize("env, plat, problem", [
    ({}, "linux", True),
    ({"QT_QPA_PLATFORM": "xcb"}, "linux", True),
    ({"QT_QPA_PLATFORM": "wayland;xcb"}, "linux", True),
    ({"QT_QPA_PLATFORM": "offscreen"}, "linux", False),
    ({"QT_QPA_PLATFORM": "vnc:size=800x600"}, "linux", False),
    ({"DISPLAY": ":0"}, "linux", False),
    ({"WAYLAND_DISPLAY": "wayland-0"}, "linux", False),
    ({}, "darwin", False),
    ({}, "win32", False),
])
def test_display_problem(env, plat, problem):
    assert (display_problem(env, plat) is not None) == problem


def _app_env(**extra):
    env = {k: v for k, v in os.environ.items() if k not in ("DISPLAY", "WAYLAND_DISPLAY", "QT_QPA_PLATFORM")}
    env.update(extra)
    return env


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="the display check is for Linux")
def test_no_display_gives_one_line_and_status_2():
    r = subprocess.run([sys.executable, str(ROOT / "main.py")], capture_output=True, text=True, timeout=120,
                       env=_app_env(), cwd=str(ROOT))
    assert r.returncode == NO_DISPLAY_STATUS == 2
    lines = r.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("opscope: no display"), r.stderr
    assert "--screenshot" in lines[0] and "Traceback" not in r.stderr


@pytest.mark.skipif(sys.platform == "win32", reason="SIGINT cannot be sent to a child on Windows")
def test_ctrl_c_quits_the_app_cleanly_and_saves_its_settings():
    home = Path(os.environ["OPSCOPE_HOME"])
    autosave = home / "autosave.opscope"
    proc = subprocess.Popen([sys.executable, str(ROOT / "main.py")], stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True, env=_app_env(QT_QPA_PLATFORM="offscreen"),
                            cwd=str(ROOT))
    try:
        # The autosave is written from the event loop once the first run is on screen: the app is up.
        deadline = time.monotonic() + 90
        while not autosave.exists() and proc.poll() is None and time.monotonic() < deadline:
            time.sleep(0.1)
        assert proc.poll() is None, proc.communicate()
        assert autosave.exists(), "the app did not come up"
        time.sleep(0.5)
        proc.send_signal(signal.SIGINT)
        _out, err = proc.communicate(timeout=15)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.communicate()
    assert proc.returncode in (0, 130), err
    assert "Traceback" not in err and "KeyboardInterrupt" not in err, err
    assert not autosave.exists()  # a clean exit deletes its autosave
    assert (home / SETTINGS_FILE).is_file()  # and remembers the window
    assert open_settings().value("playback/speed") is not None


def test_the_inputs_tabs_show_the_underscore_of_a_name(make_window, qtbot):
    """The transformer lesson's Inputs tabs read "W q 4×4": Fusion clipped the underscore below
    the baseline. The tab of W_q must draw more ink than the same tab titled "W q"."""
    from opscope.gui.window.widgets import NameTabBar
    from PySide6.QtGui import QColor

    w = make_window(lesson="transformer_post_ln", autoplay=False)
    qtbot.waitUntil(w.is_idle, timeout=15000)
    bar = w.inputs_panel.tabs.tabBar()
    assert isinstance(bar, NameTabBar)
    i = next(k for k in range(bar.count()) if bar.tabText(k).startswith("W_q"))
    title = bar.tabText(i)

    def ink(text):  # pixels darker than the tab of tab i titled ``text``: its letters (antialiased)
        bar.setTabText(i, text)
        qtbot.wait(20)
        img = bar.grab(bar.tabRect(i)).toImage()
        return sum(QColor(img.pixel(x, y)).lightness() < 180 for x in range(img.width()) for y in range(img.height()))

    try:
        assert ink(title) > ink(title.replace("_", " ")) + 2  # the underscore's line is drawn
    finally:
        bar.setTabText(i, title)
