"""Export: files read back with the requested frame count and size, captions burned in, atomic
writes (cancel and failure leave the old file), the runner's responsiveness, and the CLI."""

from __future__ import annotations

import os
import subprocess
import sys
import time

import imageio.v2 as iio2
import imageio.v3 as iio
import numpy as np
import pytest
from opscope import compute
from opscope.compute.io import Session, save_session
from opscope.gui import export as ex
from opscope.gui.lessons import get_lesson

SMALL = (320, 240)


def lesson_timeline(slug):
    lesson = get_lesson(slug)
    return compute.stream_op(lesson.op, dict(lesson.inputs), lesson.granularity, **dict(lesson.params))


@pytest.fixture
def matmul_tl():
    """matmul 2×2 by elements: 4 steps."""
    return compute.stream_op("matmul", {"A": np.array([[1.0, 2], [3, 4]]), "B": np.array([[5.0, 6], [7, 8]])},
                             "element")


@pytest.fixture
def attention_tl():
    """attention by stages (scores, scaled, masked, weights, result): 5 steps."""
    return lesson_timeline("attention_causal")


def read_frames(path):
    """Every frame of a GIF or MP4 as (n, h, w, 3) uint8."""
    if str(path).endswith(".mp4"):
        with iio2.get_reader(str(path), format="FFMPEG") as r:
            return np.stack([f for f in r])
    return iio.imread(path, index=None)[..., :3]


def leftovers(folder):
    """Temporary files an export left behind."""
    return [f for f in os.listdir(folder) if f.endswith(tuple(".tmp" + e for e in ex.FORMATS)) or ".tmp" in f]


def one_line(err: str) -> str:
    lines = [ln for ln in err.splitlines() if ln.strip()]
    assert len(lines) == 1, err
    assert "Traceback" not in err
    return lines[0]


# --- helpers -------------------------------------------------------------------------------------


def test_sizes_steps_and_formats():
    assert ex.parse_size("1280x720") == (1280, 720)
    assert ex.parse_size("640×480") == (640, 480)
    assert ex.codec_size((1920, 1080), "mp4") == (1920, 1080)
    assert ex.codec_size((321, 241), "mp4") == (322, 242)
    assert ex.codec_size((321, 241), "gif") == (321, 241)
    assert ex.parse_steps("1:4", 10) == range(1, 4)
    assert ex.parse_steps("3", 10) == range(3, 4)
    assert ex.parse_steps(":2", 10) == range(0, 2)
    assert ex.parse_steps("8:", 10) == range(8, 10)
    assert ex.parse_steps("-2:", 10) == range(8, 10)
    assert ex.parse_steps("-1", 10) == range(9, 10)
    for bad in ("4:2", "3:3", "1:11", "10", "a:b"):
        with pytest.raises(ex.ExportError):
            ex.parse_steps(bad, 10)
    for bad in ("12x", "0x100", "100", "99999x100"):
        with pytest.raises(ex.ExportError):
            ex.parse_size(bad)
    with pytest.raises(ex.ExportError, match="avi"):
        ex.export_format("movie.avi")
    assert ex.export_format("A.MP4") == "mp4"


# --- files -------------------------------------------------------------------------------------------


def test_gif_frame_count_size_and_timing(qtbot, tmp_path, matmul_tl):
    out = tmp_path / "mm.gif"
    seen = []
    assert ex.export_animation(matmul_tl, "matmul", out, fps=5, size=SMALL,
                               progress=lambda i, n: seen.append((i, n))) == os.fspath(out)
    frames = read_frames(out)
    assert frames.shape == (4, SMALL[1], SMALL[0], 3)
    meta = iio.immeta(out)
    assert meta["loop"] == 0 and meta["duration"] == 200
    assert seen == [(1, 4), (2, 4), (3, 4), (4, 4)]
    assert not leftovers(tmp_path)


def test_mp4_of_attention_stages(qtbot, tmp_path, attention_tl):
    out = tmp_path / "att.mp4"
    ex.export_animation(attention_tl, None, out, fps=4, size=SMALL, steps=range(1, 5))
    frames = read_frames(out)
    assert frames.shape == (4, SMALL[1], SMALL[0], 3)
    with iio2.get_reader(str(out), format="FFMPEG") as r:
        meta = r.get_meta_data()
    assert meta["codec"] == "h264" and meta["fps"] == 4


def test_mp4_full_size_and_odd_sizes(qtbot, tmp_path, matmul_tl):
    out = tmp_path / "hd.mp4"
    ex.export_animation(matmul_tl, None, out, fps=10, size=(1280, 720), steps=[0, 3])
    assert read_frames(out).shape == (2, 720, 1280, 3)
    odd_gif, odd_mp4 = tmp_path / "odd.gif", tmp_path / "odd.mp4"
    ex.export_animation(matmul_tl, None, odd_gif, size=(321, 241), steps=[0, 1])
    ex.export_animation(matmul_tl, None, odd_mp4, size=(321, 241), steps=[0, 1])
    assert read_frames(odd_gif).shape == (2, 241, 321, 3)
    assert read_frames(odd_mp4).shape == (2, 242, 322, 3)  # yuv420p needs even sides


def test_caption_is_burned_into_the_bottom_band(qtbot, matmul_tl):
    with_caption = list(ex.render_frames(matmul_tl, None, [0, 3], SMALL, caption=True))
    without = list(ex.render_frames(matmul_tl, None, [0, 3], SMALL, caption=False))
    band = slice(int(SMALL[1] * 0.85), None)
    for f in with_caption + without:
        assert f.shape == (SMALL[1], SMALL[0], 3) and f.dtype == np.uint8
    # the band is dark, the canvas behind it is white
    assert with_caption[0][band].mean() < 90 < without[0][band].mean()
    # and it carries text: bright pixels on the dark band, different for another step's caption
    assert (with_caption[0][band] > 200).any()
    assert not np.array_equal(with_caption[0][band], with_caption[1][band])


def test_png_of_timeline_and_of_live_canvas(qtbot, tmp_path, matmul_tl):
    from opscope.gui.canvas import create_canvas

    a, b = tmp_path / "a.png", tmp_path / "b.png"
    ex.export_png(matmul_tl, a, (640, 480), step=2)
    assert iio.imread(a).shape == (480, 640, 3)
    live = create_canvas("matmul")
    qtbot.addWidget(live)
    live.set_timeline(matmul_tl)
    live.show_step(2)
    live.resize(300, 200)  # the live canvas's own size does not matter
    ex.export_png(live, b, (640, 480))
    assert np.array_equal(iio.imread(a), iio.imread(b))
    assert live.size().width() == 300
    with pytest.raises(ex.ExportError):
        ex.export_png(matmul_tl, tmp_path / "c.gif", SMALL)


def test_cancel_half_way_leaves_old_file(qtbot, tmp_path, matmul_tl):
    out = tmp_path / "keep.gif"
    out.write_bytes(b"old content")
    done = []
    result = ex.export_animation(matmul_tl, None, out, size=SMALL, progress=lambda i, n: done.append(i),
                                 cancel=lambda: len(done) >= 2)
    assert result is None and done == [1, 2]
    assert out.read_bytes() == b"old content"
    fresh = tmp_path / "fresh.mp4"
    assert ex.export_animation(matmul_tl, None, fresh, size=SMALL, cancel=lambda: True) is None
    assert not fresh.exists()
    assert sorted(os.listdir(tmp_path)) == ["keep.gif"]


def test_failing_writer_leaves_old_file(qtbot, tmp_path, matmul_tl, monkeypatch):
    class Broken:
        def __init__(self):
            self.n = 0

        def append_data(self, frame):
            self.n += 1
            if self.n == 2:
                raise OSError("No space left on device")

        def close(self):
            pass

    monkeypatch.setattr(iio2, "get_writer", lambda *a, **k: Broken())
    out = tmp_path / "keep.mp4"
    out.write_bytes(b"old video")
    with pytest.raises(ex.ExportError, match="No space left"):
        ex.export_animation(matmul_tl, None, out, size=SMALL)
    assert out.read_bytes() == b"old video"
    assert sorted(os.listdir(tmp_path)) == ["keep.mp4"]

    from PIL import Image

    def broken_save(self, *a, **k):
        raise OSError("disk full at the end")

    monkeypatch.setattr(Image.Image, "save", broken_save)
    gif = tmp_path / "keep.gif"
    gif.write_bytes(b"old gif")
    with pytest.raises(ex.ExportError, match="disk full"):
        ex.export_animation(matmul_tl, None, gif, size=SMALL)
    assert gif.read_bytes() == b"old gif"
    assert sorted(os.listdir(tmp_path)) == ["keep.gif", "keep.mp4"]


def test_missing_folder_is_one_clear_error(qtbot, tmp_path, matmul_tl):
    with pytest.raises(ex.ExportError, match="does not exist"):
        ex.export_animation(matmul_tl, None, tmp_path / "nope" / "a.gif", size=SMALL)


# --- the window's path: runner, dialog ------------------------------------------------------------


def test_runner_exports_and_keeps_the_event_loop_running(qtbot, tmp_path, attention_tl):
    from PySide6.QtCore import QTimer

    out = tmp_path / "run.mp4"
    runner = ex.ExportRunner(attention_tl, None, ex.ExportOptions(os.fspath(out), tuple(range(5)), 5.0, (640, 360)))
    progress = []
    runner.progress_changed.connect(lambda d, n: progress.append((d, n)))
    beats = []
    heart = QTimer()
    heart.timeout.connect(lambda: beats.append(time.perf_counter()))
    heart.start(5)
    with qtbot.waitSignal(runner.finished_with, timeout=20000) as sig:
        runner.start()
    heart.stop()
    assert sig.args == [os.fspath(out)]
    assert runner.state == "done"
    assert progress[0] == (0, 5) and progress[-1] == (5, 5)
    assert read_frames(out).shape == (5, 360, 640, 3)
    gaps = np.diff(beats)
    assert len(beats) > 5 and gaps.max() < 0.5, f"the event loop stalled for {gaps.max():.3f} s"


def test_runner_cancel_and_failure(qtbot, tmp_path, matmul_tl):
    out = tmp_path / "old.gif"
    out.write_bytes(b"old")
    runner = ex.ExportRunner(matmul_tl, None, ex.ExportOptions(os.fspath(out), (0, 1, 2, 3), 5.0, SMALL))
    runner.progress_changed.connect(lambda d, n: d >= 1 and runner.cancel())
    with qtbot.waitSignal(runner.cancelled, timeout=20000):
        runner.start()
    assert runner.state == "cancelled"
    assert out.read_bytes() == b"old"
    assert sorted(os.listdir(tmp_path)) == ["old.gif"]

    bad = ex.ExportRunner(matmul_tl, None, ex.ExportOptions(os.fspath(tmp_path / "x" / "y.mp4"), (0,), 5.0, SMALL))
    with qtbot.waitSignal(bad.failed, timeout=5000) as sig:
        bad.start()
    assert "does not exist" in sig.args[0] and bad.state == "failed"


def test_closing_the_window_mid_export_stops_the_encoder(qtbot, tmp_path, matmul_tl):
    from PySide6.QtWidgets import QWidget

    win = QWidget()
    out = tmp_path / "gone.mp4"
    runner = ex.ExportRunner(matmul_tl, None, ex.ExportOptions(os.fspath(out), (0, 1, 2, 3) * 10, 5.0, SMALL), win)
    runner.start()
    encoder = runner._encoder
    qtbot.waitUntil(lambda: encoder.done >= 1, timeout=10000)
    assert runner.is_running()
    win.deleteLater()
    qtbot.waitUntil(lambda: not encoder.alive(), timeout=10000)
    assert not out.exists() and os.listdir(tmp_path) == []


def test_start_export_without_dialog_writes_png(qtbot, tmp_path, matmul_tl):
    from PySide6.QtWidgets import QMainWindow

    win = QMainWindow()
    qtbot.addWidget(win)
    out = tmp_path / "still.png"
    runner = ex.start_export(win, matmul_tl, "matmul", options=ex.ExportOptions(os.fspath(out), (1,), 5.0, SMALL))
    qtbot.waitUntil(lambda: runner.state == "done", timeout=10000)
    assert iio.imread(out).shape == (SMALL[1], SMALL[0], 3)
    assert "still.png" in win.statusBar().currentMessage()


def test_export_dialog_options(qtbot, matmul_tl):
    from PySide6.QtWidgets import QDialogButtonBox

    d = ex.ExportDialog(matmul_tl, step=2)
    qtbot.addWidget(d)
    ok = d.buttons.button(QDialogButtonBox.StandardButton.Ok)
    assert not ok.isEnabled()
    d.path_edit.setText("/tmp/a.avi")
    assert not ok.isEnabled() and "unsupported" in d.format_label.text()
    d.path_edit.setText("/tmp/a.gif")
    assert ok.isEnabled()
    d.first_spin.setValue(2)
    d.last_spin.setValue(3)
    d.fps_spin.setValue(2)
    d.width_spin.setValue(640)
    d.height_spin.setValue(480)
    d.caption_check.setChecked(False)
    assert d.options() == ex.ExportOptions("/tmp/a.gif", (1, 2), 2.0, (640, 480), False)
    assert "2 frames" in d.summary_label.text()
    d.path_edit.setText("/tmp/a.png")  # a still: the step on screen, no range or speed
    assert d.options().steps == (2,) and not d.last_spin.isEnabled() and not d.fps_spin.isEnabled()
    d.path_edit.setText("/tmp/a.mp4")
    d.width_spin.setValue(641)
    assert "even" in d.summary_label.text()


# --- command line ----------------------------------------------------------------------------------


def cli(*argv):
    return ex.run_export(ex.build_export_parser().parse_args([str(a) for a in argv]))


def test_cli_lesson_and_session(qtbot, tmp_path, capsys):
    gif = tmp_path / "lesson.gif"
    assert cli("--lesson", "matmul_2x2", "--out", gif, "--size", "320x240", "--fps", "4") == 0
    assert read_frames(gif).shape == (4, 240, 320, 3)
    assert "wrote" in capsys.readouterr().out
    lesson = get_lesson("attention_causal")
    session = tmp_path / "s.opscope"
    save_session(session, Session(op=lesson.op, params=dict(lesson.params), inputs=dict(lesson.inputs),
                                  granularity="stage", step=2))
    png = tmp_path / "s.png"
    assert cli("--session", session, "--out", png, "--size", "400x300", "--quiet") == 0
    assert iio.imread(png).shape == (300, 400, 3)
    assert capsys.readouterr().out == ""
    mp4 = tmp_path / "s.mp4"
    assert cli("--session", session, "--out", mp4, "--size", "320x240", "--steps", "1:4", "--no-caption") == 0
    assert read_frames(mp4).shape == (3, 240, 320, 3)


@pytest.mark.parametrize("argv, needle", [
    (["--lesson", "nope", "--out", "x.gif"], "valid: dot_product"),
    (["--session", "{tmp}/missing.opscope", "--out", "x.gif"], "missing.opscope"),
    (["--session", "{tmp}/corrupt.opscope", "--out", "x.gif"], "corrupt.opscope"),
    (["--lesson", "matmul_2x2", "--out", "{tmp}/x.gif", "--size", "12x"], "--size"),
    (["--lesson", "matmul_2x2", "--out", "{tmp}/x.gif", "--steps", "3:9"], "--steps"),
    (["--lesson", "matmul_2x2", "--out", "{tmp}/x.gif", "--fps", "0"], "fps"),
    (["--lesson", "matmul_2x2", "--out", "{tmp}/x.avi"], ".avi"),
])
def test_cli_failures_are_one_line(qtbot, tmp_path, capsys, argv, needle):
    (tmp_path / "corrupt.opscope").write_bytes(b"PK\x03\x04 not really a zip")
    argv = [a.replace("{tmp}", str(tmp_path)) for a in argv]
    assert cli(*argv) == ex.EXIT_BAD_INPUT
    line = one_line(capsys.readouterr().err)
    assert line.startswith("opscope export: error:") and needle in line
    assert not any(f.endswith((".gif", ".avi")) for f in os.listdir(tmp_path))


@pytest.mark.parametrize("options, needle", [({"tile": "big"}, "tile"), ({"kblock": "x"}, "kblock"),
                                             ({"tile": float("nan")}, "tile")])
def test_cli_session_with_bad_step_options_is_one_line(tmp_path, capsys, options, needle):
    # The fuzz campaign's case: a session whose saved step options are garbage gave a traceback.
    lesson = get_lesson("matmul_2x2")
    session = tmp_path / "bad.opscope"
    save_session(session, Session(op=lesson.op, params=dict(lesson.params), inputs=dict(lesson.inputs),
                                  granularity="tile", options=options))
    assert cli("--session", session, "--out", tmp_path / "x.gif") == ex.EXIT_BAD_INPUT
    line = one_line(capsys.readouterr().err)
    assert line.startswith("opscope export: error:") and needle in line
    assert not (tmp_path / "x.gif").exists()


def test_cli_bad_arguments_are_one_line(capsys):
    with pytest.raises(SystemExit) as e:
        ex.build_export_parser().parse_args(["--out", "x.gif"])
    assert e.value.code == ex.EXIT_BAD_INPUT
    assert "--lesson" in one_line(capsys.readouterr().err)


def test_cli_runs_headless_without_display(tmp_path):
    env = {k: v for k, v in os.environ.items() if k not in ("DISPLAY", "WAYLAND_DISPLAY", "QT_QPA_PLATFORM")}
    root = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
    out = tmp_path / "cli.gif"
    p = subprocess.run([sys.executable, "main.py", "export", "--lesson", "dot_product", "--out", str(out),
                        "--size", "320x240"], cwd=root, env=env, capture_output=True, text=True, timeout=60)
    assert p.returncode == 0, p.stderr
    assert p.stderr == ""
    assert read_frames(out).shape[1:] == (240, 320, 3)
