"""The headless ``compute --program`` command: every line saved with the text; failures one line, status 2."""

from __future__ import annotations

import numpy as np
import pytest
from opscope.compute import cli, run_program
from opscope.compute.io.run_archive import load_program_run

ATTENTION = """scores = Q @ K.T
scaled = scores / sqrt(d_k)
weights = softmax(scaled + causal_mask(4), axis=-1)
out = weights @ V
"""


@pytest.fixture
def qkv(tmp_path):
    rng = np.random.default_rng(0)
    arrays = {"Q": rng.standard_normal((2, 4, 3)), "K": rng.standard_normal((2, 4, 3)),
              "V": rng.standard_normal((2, 4, 3))}
    np.save(tmp_path / "q.npy", arrays["Q"])
    np.savez(tmp_path / "kv.npz", k=arrays["K"], v=arrays["V"])
    (tmp_path / "att.txt").write_text(ATTENTION)
    return arrays


def _argv(tmp_path, *extra):
    return ["--in", f"Q={tmp_path / 'q.npy'}", "--in", f"K={tmp_path / 'kv.npz'}:k",
            "--in", f"V={tmp_path / 'kv.npz'}:v", *extra]


@pytest.mark.parametrize("ext", [".npz", ".safetensors"])
def test_program_file_saves_every_line_inputs_and_text(tmp_path, qkv, capsys, ext):
    out = tmp_path / f"run{ext}"
    rc = cli.main(["--program", str(tmp_path / "att.txt"), *_argv(tmp_path, "--param", "d_k=3", "--out", str(out))])
    assert rc == 0, capsys.readouterr().err
    printed = capsys.readouterr().out
    assert "scores (2, 4, 4)" in printed and "result (2, 4, 3)" in printed and str(out) in printed
    run = load_program_run(out)
    assert run.program == ATTENTION and run.params == {"d_k": 3}
    assert list(run.outputs) == ["scores", "scaled", "weights", "out", "result"]
    assert run.line_names == ("scores", "scaled", "weights", "out")
    want = run_program(ATTENTION, qkv, d_k=3)
    for name in run.outputs:
        np.testing.assert_array_equal(run.outputs[name], want[name])
    for name, arr in qkv.items():
        np.testing.assert_array_equal(run.inputs[name], arr)
    np.testing.assert_allclose(run.outputs["weights"][:, 0], np.tile([1.0, 0, 0, 0], (2, 1)))


def test_program_text_and_chaining_a_saved_line(tmp_path, qkv):
    first = tmp_path / "run.npz"
    assert cli.main(["--program", ATTENTION, *_argv(tmp_path, "--param", "d_k=3", "--out", str(first), "--quiet")]) == 0
    second = tmp_path / "chain.safetensors"
    # a line of one run is an input of the next: FILE:KEY reads outputs/LINE
    assert cli.main(["--program", "y = W @ X", "--in", f"W={first}:outputs/weights", "--in", f"X={first}:inputs/V",
                     "--out", str(second), "--quiet"]) == 0
    run = load_program_run(second)
    np.testing.assert_allclose(run.outputs["y"], load_program_run(first).outputs["out"])
    assert run.program == "y = W @ X"


def test_program_params_are_numbers(tmp_path, qkv):
    out = tmp_path / "p.npz"
    assert cli.main(["--program", "y = Q * s + t", "--in", f"Q={tmp_path / 'q.npy'}", "--param", "s=0.5",
                     "--param", "t=-inf", "--out", str(out), "--quiet"]) == 0
    run = load_program_run(out)
    assert run.params == {"s": 0.5, "t": -np.inf}
    assert np.isneginf(run.outputs["result"]).all()


def test_program_failures_are_one_line_status_2_and_save_nothing(tmp_path, qkv, capsys):
    q, kv = f"Q={tmp_path / 'q.npy'}", f"K={tmp_path / 'kv.npz'}:k"
    att = str(tmp_path / "att.txt")
    (tmp_path / "empty.txt").write_text("  \n")
    (tmp_path / "binary.txt").write_bytes(b"\xff\xfe\x00bad")
    cases = {
        "Q @ K": (["--program", "s = Q @ K", "--in", q, "--in", kv], "Did you mean K.T?"),
        "not both": (["matmul", "--program", "s = A @ B"], "not both"),
        "neither": ([], "give an operation name"),
        "no such file": (["--program", str(tmp_path / "missing.txt")], "no such file"),
        "unread input": (["--program", att, "--in", f"Z={tmp_path / 'q.npy'}"], "does not read 'Z'"),
        "unread param": (["--program", "y = Q", "--in", q, "--param", "d_k=3"], "does not read 'd_k'"),
        "bad number": (["--program", att, *_argv(tmp_path), "--param", "d_k=three"], "are numbers"),
        "missing names": (["--program", att, "--in", q, "--in", kv], "reads d_k, V, not given"),
        "both in and param": (["--program", "y = Q", "--in", q, "--param", "Q=1"], "give it once"),
        "bad in": (["--program", att, "--in", "Q"], "write NAME=FILE"),
        "missing file": (["--program", "y = Q", "--in", f"Q={tmp_path / 'nope.npy'}"], "nope.npy"),
        "hostile": (["--program", "y = Q.__class__", "--in", q], "only attribute is .T"),
        "import": (["--program", "import os", "--in", q], ""),
        "empty file": (["--program", str(tmp_path / "empty.txt")], "empty"),
        "binary file": (["--program", str(tmp_path / "binary.txt")], "not UTF-8"),
        "bad out": (["--program", att, *_argv(tmp_path), "--param", "d_k=3", "--out", str(tmp_path / "x.png")],
                    "must end in .npz"),
    }
    for label, (argv, needle) in cases.items():
        if "--out" not in argv:
            argv = [*argv, "--out", str(tmp_path / "x.npz")]
        assert cli.main(argv) == 2, label
        err = capsys.readouterr().err.strip()
        assert err.startswith("opscope compute: error: ") and "\n" not in err and "Traceback" not in err, (label, err)
        assert needle in err, (label, err)
    assert not (tmp_path / "x.npz").exists() and not (tmp_path / "x.png").exists()


def test_argparse_errors_are_one_line_status_2(capsys):
    with pytest.raises(SystemExit) as exc:
        cli.main(["--program", "y = A"])  # no --out
    assert exc.value.code == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("opscope compute: error: ") and "\n" not in err and "--out" in err


def test_failed_program_keeps_an_existing_archive(tmp_path, qkv):
    out = tmp_path / "run.npz"
    assert cli.main(["--program", ATTENTION, *_argv(tmp_path, "--param", "d_k=3", "--out", str(out), "--quiet")]) == 0
    before = out.read_bytes()
    assert cli.main(["--program", "s = Q @ K", *_argv(tmp_path, "--out", str(out))]) == 2
    assert out.read_bytes() == before


def test_main_py_routes_program(tmp_path, qkv):
    from opscope.main import main

    out = tmp_path / "m.npz"
    assert main(["compute", "--program", ATTENTION, *_argv(tmp_path, "--param", "d_k=3", "--out", str(out),
                                                         "--quiet")]) == 0
    assert load_program_run(out).line_names[-1] == "out"
    assert main(["compute", "--out", str(out)]) == 2
