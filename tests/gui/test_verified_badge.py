"""The verified badge in the status bar: every run is checked off the GUI thread and says so."""

import numpy as np
from opscope import (
    compute,
    gui,  # noqa: F401  (PySide6 before pyqtgraph)
)
from opscope.gui.window.widgets import BADGE_OK_STYLE, BADGE_WARN_STYLE


def _verified(w):
    """The run on screen has its verdict (not the 'verifying…' placeholder)."""
    return w.timeline is not None and w.status.verification is not None and w.is_idle()


def _open(make_window, qtbot, **kw):
    w = make_window(lesson="matmul_2x2", autoplay=False, **kw)
    qtbot.waitUntil(lambda: _verified(w), timeout=15000)
    return w


def test_a_run_shows_the_matches_reference_badge(make_window, qtbot):
    w = _open(make_window, qtbot)
    badge = w.status.verified
    v = w.status.verification
    assert isinstance(v, compute.Verification) and v.ok and v.checked == "all"
    assert badge.text() == "✓ matches reference (max rel err 0)"
    assert badge.styleSheet() == BADGE_OK_STYLE
    assert badge.isVisible() and badge.width() >= badge.sizeHint().width()
    assert "checked: every entry of result" in badge.toolTip()
    w.grab().save("/tmp/badge.png")


def test_a_mismatch_shows_a_warning_with_the_worst_entry(make_window, qtbot, monkeypatch):
    real = compute.verify_run

    def corrupted(op, inputs, params, outputs, dtype=None, **kw):
        # The real comparison, on outputs with one wrong entry: what a broken engine would show.
        outputs = dict(outputs)
        bad = np.array(outputs["result"], copy=True)
        bad[0, 0] += 1  # 19 is right
        outputs["result"] = bad
        return real(op, inputs, params, outputs, dtype, **kw)

    monkeypatch.setattr(compute, "verify_run", corrupted)
    w = _open(make_window, qtbot)
    badge = w.status.verified
    assert not w.status.verification.ok
    assert badge.text() == "⚠ differs from reference at result[0, 0]: 20 vs 19 (rel err 5e-2)"
    assert badge.styleSheet() == BADGE_WARN_STYLE
    assert "worst entry: result[0, 0] = 20, reference 19" in badge.toolTip()
    w.grab().save("/tmp/badge_warning.png")


def test_a_reported_mismatch_is_shown_as_given(make_window, qtbot, monkeypatch):
    verdict = compute.Verification(False, 3e-2, ("result", (2, 3), 0.512, 0.498), "sample of 64",
                                   "⚠ differs from reference at result[2, 3]: 0.512 vs 0.498 (rel err 3e-2)",
                                   ("result",), 1e-6, 3e4)
    monkeypatch.setattr(compute, "verify_run", lambda *a, **k: verdict)
    w = _open(make_window, qtbot)
    assert w.status.verification is verdict
    assert w.status.verified.text() == verdict.message


def test_a_run_that_cannot_be_checked_says_so(make_window, qtbot, monkeypatch):
    def refuse(*a, **k):
        raise compute.ParamError("no reference for this")

    monkeypatch.setattr(compute, "verify_run", refuse)
    w = _open(make_window, qtbot)
    assert w.status.verified.text() == "not verified: no reference for this"
    assert not w.error  # the run itself is fine and stays on screen


def test_every_new_run_is_verified_again_and_stale_verdicts_are_dropped(make_window, qtbot):
    w = _open(make_window, qtbot)
    first = w.timeline.run_id
    w.set_input("A", np.array([[1.0, 2.0], [3.0, 5.0]]))
    w.run_now()
    qtbot.waitUntil(lambda: w.timeline.run_id != first and _verified(w), timeout=15000)
    assert w.status.verification.ok
    # A verdict about a run no longer on screen (it arrives late) must not replace the badge.
    stale = compute.Verification(False, 1.0, None, "all", "⚠ stale", ())
    w._on_run_verified(first, stale)
    assert w.status.verified.text().startswith("✓ matches reference")


def test_big_runs_get_a_sampled_badge(make_window, qtbot):
    w = make_window(lesson=None)
    rng = np.random.default_rng(0)
    w.select_op("matmul", {"A": rng.standard_normal((96, 96)), "B": rng.standard_normal((96, 96))})
    qtbot.waitUntil(lambda: _verified(w), timeout=20000)
    v = w.status.verification
    assert v.ok and v.checked == "sample of 64"
    assert w.status.verified.text().startswith("✓ matches reference at 64 sampled entries (max rel err ")
