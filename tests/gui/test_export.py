"""Export: files read back with the requested frame count and size, captions burned in, atomic
writes (cancel and failure leave the old file), the runner's responsiveness, and the CLI."""

from __future__ import annotations

import gc
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


def gif_durations(path) -> list[int]:
    """Every frame's duration (ms) of a GIF."""
    from PIL import Image

    with Image.open(path) as im:
        out = []
        for k in range(im.n_frames):
            im.seek(k)
            out.append(im.info["duration"])
        return out


def test_gif_frame_count_size_and_timing(qtbot, tmp_path, matmul_tl):
    out = tmp_path / "mm.gif"
    seen = []
    assert ex.export_animation(matmul_tl, "matmul", out, fps=5, size=SMALL, title_seconds=0, hold_seconds=0,
                               progress=lambda i, n: seen.append((i, n))) == os.fspath(out)
    frames = read_frames(out)
    assert frames.shape == (4, SMALL[1], SMALL[0], 3)
    meta = iio.immeta(out)
    assert meta["loop"] == 0 and meta["duration"] == 200
    assert seen == [(1, 4), (2, 4), (3, 4), (4, 4)]
    assert not leftovers(tmp_path)


def test_frame_plan_title_card_and_hold():
    assert ex.frame_plan([0, 1, 2], 5) == [("title", 1.5), (0, 0.2), (1, 0.2), (2, 0.2 + 2.0)]
    assert ex.frame_plan([3], 2, title_seconds=0, hold_seconds=0) == [(3, 0.5)]
    assert ex.frame_plan([0, 1], 4, title_seconds=0.5, hold_seconds=1) == [("title", 0.5), (0, 0.25), (1, 1.25)]
    for bad in (-1, float("nan"), 1e6, "x"):
        with pytest.raises(ex.ExportError, match="title card"):
            ex.frame_plan([0], 5, title_seconds=bad)
    opts = ex.ExportOptions("a.gif", (0,))
    assert (opts.title_seconds, opts.hold_seconds) == (ex.TITLE_SECONDS, ex.HOLD_SECONDS) == (1.5, 2.0)


def test_gif_opens_with_a_title_card_and_holds_the_answer(qtbot, tmp_path, matmul_tl):
    out = tmp_path / "card.gif"
    seen = []
    ex.export_animation(matmul_tl, "matmul", out, fps=5, size=SMALL, progress=lambda i, n: seen.append((i, n)),
                        title="Matrix product", description="rows times columns")
    frames = read_frames(out)
    assert frames.shape == (5, SMALL[1], SMALL[0], 3)  # the title card, then the 4 steps
    assert gif_durations(out) == [1500, 200, 200, 200, 2200]  # the answer stays 2 s more before the loop
    assert seen[-1] == (5, 5)
    card = frames[0].astype(int)
    # the card is the dark band colour with light text on it, unlike any step's frame
    bg = np.array([ex.BAND_COLOR.red(), ex.BAND_COLOR.green(), ex.BAND_COLOR.blue()])
    assert np.mean(np.all(np.abs(card - bg) < 8, axis=-1)) > 0.8
    assert (card.min(axis=-1) > 200).sum() > 200  # white title text
    direct = list(ex.render_frames(matmul_tl, None, [3], SMALL))[0]
    assert np.abs(frames[4].astype(int) - direct.astype(int)).mean() < 6  # the held frame is the last step


def test_mp4_title_card_and_hold_are_repeated_frames(qtbot, tmp_path, matmul_tl):
    out = tmp_path / "card.mp4"
    stats = {}
    ex.export_animation(matmul_tl, None, out, fps=4, size=SMALL, steps=[0, 3], title_seconds=1.5,
                        hold_seconds=2, stats=stats)
    frames = read_frames(out)
    # round(1.5 × 4) = 6 title frames, step 0, then step 3 for 1 + 2 × 4 frames
    assert frames.shape[0] == 6 + 1 + 9 == stats["frames"]
    assert stats["entries"] == 3
    diff = np.abs(frames[1:].astype(int) - frames[:-1].astype(int)).mean(axis=(1, 2, 3))
    changes = [k + 1 for k, d in enumerate(diff) if d > 3]
    assert changes == [6, 7]  # title → step 0 → step 3, then held


def test_svg_and_pdf_are_vector_with_the_numbers_as_text(qtbot, tmp_path, matmul_tl):
    import re

    svg = tmp_path / "mm.svg"
    assert ex.export_png(matmul_tl, svg, (800, 500), step=3) == os.fspath(svg)
    data = svg.read_bytes()
    assert data.lstrip().startswith(b"<?xml") and b"<svg" in data
    texts = [t.decode() for t in re.findall(rb"<text[^>]*>([^<]*)</text>", data)]
    for number in ("1", "2", "3", "4", "5", "6", "7", "8", "19", "22", "43", "50"):
        assert number in texts, number  # inputs and the result, as text
    assert any("step 4 / 4" in t for t in texts)  # the caption band too
    assert b"<image" not in data  # every heatmap cell is a rectangle, not an embedded picture
    pdf = tmp_path / "mm.pdf"
    ex.export_animation(matmul_tl, None, pdf, size=(800, 500), steps=[2])
    head = pdf.read_bytes()
    assert head.startswith(b"%PDF")
    box = re.search(rb"/MediaBox \[0 0 ([\d.]+) ([\d.]+)\]", head)
    assert box and (float(box.group(1)), float(box.group(2))) == (800.0, 500.0)  # one pixel a point
    assert b"/Font" in head  # text is text
    assert not leftovers(tmp_path)
    with pytest.raises(ex.ExportError, match="does not exist"):
        ex.export_vector(matmul_tl, tmp_path / "nope" / "a.svg")


def test_mp4_of_attention_stages(qtbot, tmp_path, attention_tl):
    out = tmp_path / "att.mp4"
    ex.export_animation(attention_tl, None, out, fps=4, size=SMALL, steps=range(1, 5), title_seconds=0, hold_seconds=0)
    frames = read_frames(out)
    assert frames.shape == (4, SMALL[1], SMALL[0], 3)
    with iio2.get_reader(str(out), format="FFMPEG") as r:
        meta = r.get_meta_data()
    assert meta["codec"] == "h264" and meta["fps"] == 4


def test_mp4_full_size_and_odd_sizes(qtbot, tmp_path, matmul_tl):
    out = tmp_path / "hd.mp4"
    ex.export_animation(matmul_tl, None, out, fps=10, size=(1280, 720), steps=[0, 3], title_seconds=0, hold_seconds=0)
    assert read_frames(out).shape == (2, 720, 1280, 3)
    odd_gif, odd_mp4 = tmp_path / "odd.gif", tmp_path / "odd.mp4"
    ex.export_animation(matmul_tl, None, odd_gif, size=(321, 241), steps=[0, 1], title_seconds=0, hold_seconds=0)
    ex.export_animation(matmul_tl, None, odd_mp4, size=(321, 241), steps=[0, 1], title_seconds=0, hold_seconds=0)
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
    from opscope.gui.canvas.pool import shared_pool

    # Spare views pooled while earlier tests' windows were open can lay a title out a pixel apart
    # from fresh ones (seen after the deck tests); both pictures here must start from the same kind.
    shared_pool()._spares.clear()
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
    # The GUI thread's own CPU time at each beat: what our code held it for between two beats,
    # not what a busy machine's scheduler added to the wall-clock gap (a load-only failure here).
    heart.timeout.connect(lambda: beats.append(time.thread_time()))
    # A full collection over the whole suite's heap (2000 tests in one process) held the GUI
    # thread 0.52 s once, in CI; the export's own objects are still collected (as in
    # test_responsiveness.py).
    gc.collect()
    gc.freeze()
    try:
        heart.start(5)
        with qtbot.waitSignal(runner.finished_with, timeout=20000) as sig:
            runner.start()
        heart.stop()
    finally:
        gc.unfreeze()
    assert sig.args == [os.fspath(out)]
    assert runner.state == "done"
    assert progress[0] == (0, 6) and progress[-1] == (6, 6)  # the title card and 5 steps
    # at 5 fps: 8 frames of title card (1.5 s, rounded), 5 steps, the last one 10 frames (2 s) more
    assert read_frames(out).shape == (8 + 5 + 10, 360, 640, 3)
    gaps = np.diff(beats)
    assert len(beats) > 5 and gaps.max() < 0.5, f"the GUI thread computed {gaps.max():.3f} s between two beats"


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


def test_start_export_passes_the_window_title_to_the_card(qtbot, tmp_path, matmul_tl):
    from PySide6.QtWidgets import QMainWindow

    win = QMainWindow()
    qtbot.addWidget(win)
    out = tmp_path / "card.gif"
    runner = ex.start_export(win, matmul_tl, "matmul", options=ex.ExportOptions(os.fspath(out), (0, 1), 5.0, SMALL),
                             title="Matrix product", description="rows times columns")
    assert (runner.options.title, runner.options.description) == ("Matrix product", "rows times columns")
    qtbot.waitUntil(lambda: runner.state == "done", timeout=10000)
    assert read_frames(out).shape[0] == 3
    assert ex.frames.card_text(matmul_tl) == ("matmul", ex.frames.card_text(matmul_tl, "matmul")[1])
    assert ex.frames.card_text(matmul_tl)[1]  # the operation's summary when no title is given


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
    assert "with 3.5 s of title card and hold" in d.summary_label.text()
    d.title_spin.setValue(0)
    d.hold_spin.setValue(4)
    assert (d.options().title_seconds, d.options().hold_seconds) == (0.0, 4.0)
    assert d.title_spin.text() == "none"
    d.path_edit.setText("/tmp/a.png")  # a still: the step on screen, no range or speed
    assert d.options().steps == (2,) and not d.last_spin.isEnabled() and not d.fps_spin.isEnabled()
    assert not d.title_spin.isEnabled() and not d.hold_spin.isEnabled()
    d.path_edit.setText("/tmp/a.svg")
    assert ok.isEnabled() and "vector" in d.format_label.text() and d.options().steps == (2,)
    d.path_edit.setText("/tmp/a.mp4")
    d.width_spin.setValue(641)
    assert "even" in d.summary_label.text()


# --- command line ----------------------------------------------------------------------------------


def cli(*argv):
    return ex.run_export(ex.build_export_parser().parse_args([str(a) for a in argv]))


def test_cli_lesson_and_session(qtbot, tmp_path, capsys):
    gif = tmp_path / "lesson.gif"
    assert cli("--lesson", "matmul_2x2", "--out", gif, "--size", "320x240", "--fps", "4") == 0
    assert read_frames(gif).shape == (5, 240, 320, 3)  # the lesson's title card and its 4 steps
    assert gif_durations(gif)[0] == 1500 and gif_durations(gif)[-1] == 250 + 2000
    assert "1.5 s title card" in capsys.readouterr().out
    assert cli("--lesson", "matmul_2x2", "--out", gif, "--size", "320x240", "--title-seconds", "0",
               "--hold-seconds", "0.5", "--fps", "4", "--quiet") == 0
    assert gif_durations(gif) == [250, 250, 250, 750]
    svg, pdf = tmp_path / "lesson.svg", tmp_path / "lesson.pdf"
    assert cli("--lesson", "matmul_2x2", "--out", svg, "--quiet") == 0
    assert b"<text" in svg.read_bytes() and b">50<" in svg.read_bytes()  # the last step: C[1, 1] = 50
    assert cli("--lesson", "matmul_2x2", "--out", pdf, "--steps", "0", "--quiet") == 0
    assert pdf.read_bytes().startswith(b"%PDF")
    lesson = get_lesson("attention_causal")
    session = tmp_path / "s.opscope"
    save_session(session, Session(op=lesson.op, params=dict(lesson.params), inputs=dict(lesson.inputs),
                                  granularity="stage", step=2))
    png = tmp_path / "s.png"
    assert cli("--session", session, "--out", png, "--size", "400x300", "--quiet") == 0
    assert iio.imread(png).shape == (300, 400, 3)
    assert capsys.readouterr().out == ""
    mp4 = tmp_path / "s.mp4"
    assert cli("--session", session, "--out", mp4, "--size", "320x240", "--steps", "1:4", "--no-caption",
               "--title-seconds", "0", "--hold-seconds", "0") == 0
    assert read_frames(mp4).shape == (3, 240, 320, 3)


@pytest.mark.parametrize("argv, needle", [
    (["--lesson", "nope", "--out", "x.gif"], "valid: dot_product"),
    (["--session", "{tmp}/missing.opscope", "--out", "x.gif"], "missing.opscope"),
    (["--session", "{tmp}/corrupt.opscope", "--out", "x.gif"], "corrupt.opscope"),
    (["--lesson", "matmul_2x2", "--out", "{tmp}/x.gif", "--size", "12x"], "--size"),
    (["--lesson", "matmul_2x2", "--out", "{tmp}/x.gif", "--steps", "3:9"], "--steps"),
    (["--lesson", "matmul_2x2", "--out", "{tmp}/x.gif", "--fps", "0"], "fps"),
    (["--lesson", "matmul_2x2", "--out", "{tmp}/x.avi"], ".avi"),
    (["--lesson", "matmul_2x2", "--out", "{tmp}/x.gif", "--hold-seconds", "-1"], "--hold-seconds"),
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
