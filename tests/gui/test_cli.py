"""``main.py`` from the command line: lesson list, screenshots, and clear errors for bad names."""

import os
import struct
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


def run(*args, timeout=120):
    env = dict(os.environ, QT_QPA_PLATFORM="offscreen")
    return subprocess.run([sys.executable, str(ROOT / "main.py"), *args], capture_output=True, text=True,
                          timeout=timeout, env=env, cwd=str(ROOT))


def png_size(path):
    data = Path(path).read_bytes()[:24]
    assert data[:8] == b"\x89PNG\r\n\x1a\n"
    return struct.unpack(">II", data[16:24])


def test_list_lessons():
    from opscope.compute.program.lessons import program_lesson_names
    from opscope.gui.lessons import lesson_names

    r = run("--list-lessons")
    assert r.returncode == 0, r.stderr
    # The operation lessons, then the built-in programs (issue 8: --lesson opens those too).
    assert r.stdout.split() == lesson_names() + program_lesson_names()


def test_lesson_screenshot(tmp_path):
    out = tmp_path / "tmp.png"
    r = run("--lesson", "matmul_2x2", "--step", "3", "--screenshot", str(out))
    assert r.returncode == 0, r.stderr
    assert png_size(out) == (1600, 1000)


def test_op_screenshot_with_granularity_and_clamped_step(tmp_path):
    out = tmp_path / "att.png"
    r = run("--op", "attention", "--granularity", "stage", "--step", "99", "--screenshot", str(out))
    assert r.returncode == 0, r.stderr
    assert "out of range" in r.stderr and "showing step 4" in r.stderr
    assert png_size(out) == (1600, 1000)


@pytest.mark.parametrize("args, valid", [
    (("--lesson", "nope"), "matmul_2x2"),
    (("--op", "nope"), "matmul"),
    (("--op", "softmax", "--granularity", "tile"), "stage"),
])
def test_unknown_names_fail_with_one_line_listing_the_valid_ones(tmp_path, args, valid):
    r = run(*args, "--screenshot", str(tmp_path / "x.png"))
    assert r.returncode != 0
    lines = r.stderr.strip().splitlines()
    assert len(lines) == 1 and "valid:" in lines[0] and valid in lines[0]
    assert "Traceback" not in r.stderr
    assert not (tmp_path / "x.png").exists()


def test_main_in_process(capsys, monkeypatch):
    from opscope import main

    assert main.main(["--list-lessons"]) == 0
    assert "matmul_2x2" in capsys.readouterr().out.split()
    assert main.main(["--lesson", "nope"]) != 0
    assert "unknown lesson" in capsys.readouterr().err
