"""The headless compute command: success saves every output; failures give one line and a status."""

from __future__ import annotations

import numpy as np
from opscope.compute import cli
from opscope.compute.io.run_archive import load_run


def test_compute_saves_result_and_intermediates(tmp_path, capsys):
    np.save(tmp_path / "q.npy", np.arange(12.0).reshape(4, 3) / 10)
    np.savez(tmp_path / "kv.npz", k=np.ones((4, 3)), v=np.arange(12.0).reshape(4, 3))
    out = tmp_path / "att.npz"
    rc = cli.main(["attention", "--in", f"Q={tmp_path / 'q.npy'}", "--in", f"K={tmp_path / 'kv.npz'}:k",
                   "--in", f"V={tmp_path / 'kv.npz'}:v", "--param", "mask=causal", "--out", str(out)])
    assert rc == 0, capsys.readouterr().err
    run = load_run(out)
    assert run.op == "attention" and run.params["mask"] == "causal"
    assert set(run.outputs) == {"scores", "scaled", "masked", "weights", "result"}
    w = run.outputs["weights"]
    np.testing.assert_allclose(w[0], [1, 0, 0, 0])
    np.testing.assert_allclose(run.outputs["result"][1], np.arange(12.0).reshape(4, 3)[:2].mean(axis=0))


def test_compute_parses_params_by_kind(tmp_path):
    np.save(tmp_path / "x.npy", np.arange(24.0).reshape(2, 3, 4))
    out = tmp_path / "s.safetensors"
    assert cli.main(["sum", "--in", f"X={tmp_path / 'x.npy'}", "--param", "axis=0,2", "--param", "keepdims=true",
                     "--out", str(out), "--quiet"]) == 0
    np.testing.assert_array_equal(load_run(out).outputs["result"], np.arange(24.0).reshape(2, 3, 4).sum(
        axis=(0, 2), keepdims=True))


def test_compute_failures_are_one_line_and_nonzero(tmp_path, capsys):
    np.save(tmp_path / "a.npy", np.ones((4, 3)))
    cases = [
        ["matmul", "--in", f"A={tmp_path / 'a.npy'}", "--in", f"B={tmp_path / 'a.npy'}", "--out", "x.npz"],
        ["matmul", "--in", f"A={tmp_path / 'missing.npy'}", "--out", "x.npz"],
        ["nosuchop", "--out", "x.npz"],
        ["sum", "--in", f"X={tmp_path / 'a.npy'}", "--param", "axis=zz", "--out", "x.npz"],
        ["sum", "--in", f"Y={tmp_path / 'a.npy'}", "--out", "x.npz"],
        ["sum", "--in", f"X={tmp_path / 'a.npy'}", "--out", "x.png"],
    ]
    for argv in cases:
        assert cli.main(argv) != 0
        err = capsys.readouterr().err.strip()
        assert err.startswith("opscope compute: error: ") and "\n" not in err and "Traceback" not in err, err
    assert not (tmp_path / "x.npz").exists()
