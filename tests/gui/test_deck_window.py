"""Decks in the window: the clicker walks through an entry's steps and across entries, the
menus open and save deck files, main.py --deck, and the presenter view (as a widget; offscreen
there is one screen, so the screen choice is tested with stand-ins)."""

from __future__ import annotations

import numpy as np
import pytest
from opscope.compute.deck import COURSE, Deck, DeckEntry, check_lessons, load_deck, save_deck
from opscope.gui.window.deck_controller import all_lesson_names, lesson_title, resolve_deck
from opscope.gui.window.presenter_view import PresenterState, PresenterView, elapsed_text, presenter_screen
from PySide6.QtCore import Qt
from PySide6.QtTest import QTest

# dot_product: 2 steps; matmul_2x2: 4 steps, of which 1..2 are shown; softmax_rows: 4 steps
DECK = Deck("test talk", (DeckEntry("dot_product", note="products, then the sum"),
                          DeckEntry("matmul_2x2", 1, 2, note="rows times columns"),
                          DeckEntry("softmax_rows", note="probabilities")))


def settle(qtbot, w, lesson: str, step: int) -> None:
    qtbot.waitUntil(lambda: w.lesson == lesson and w.is_idle() and w.current_step == step, timeout=20000)


@pytest.fixture
def deck_window(make_window, qtbot):
    w = make_window(lesson=None, autoplay=False)
    w.decks.open_deck(DECK)
    settle(qtbot, w, "dot_product", 0)
    return w


def test_the_course_names_only_existing_lessons():
    check_lessons(COURSE, all_lesson_names())
    assert resolve_deck("course") is COURSE
    assert lesson_title("dot_product").startswith("Dot product")
    assert lesson_title("transformer_post_ln").startswith("Transformer block")


def test_page_down_walks_through_entries_and_page_up_walks_back(deck_window, qtbot):
    w = deck_window
    seen = []
    w.decks.entry_changed.connect(seen.append)
    w.step_forward()
    settle(qtbot, w, "dot_product", 1)
    w.step_forward()  # the last step of dot_product: the next entry's first step (1, not 0)
    settle(qtbot, w, "matmul_2x2", 1)
    assert w.decks.entry == 1 and seen == [1]
    w.step_forward()
    settle(qtbot, w, "matmul_2x2", 2)
    w.step_forward()  # its range ends at 2 of 0..3
    settle(qtbot, w, "softmax_rows", 0)
    w.step_back()  # the first step of an entry: the previous entry's LAST step of its range
    settle(qtbot, w, "matmul_2x2", 2)
    w.step_back()
    settle(qtbot, w, "matmul_2x2", 1)
    w.step_back()
    settle(qtbot, w, "dot_product", 1)  # dot_product's last step
    assert seen == [1, 2, 1, 0]
    w.step_back()
    settle(qtbot, w, "dot_product", 0)
    w.step_back()  # the deck's start: nothing moves
    qtbot.wait(50)
    assert (w.lesson, w.wanted_step, w.decks.entry) == ("dot_product", 0, 0)


def test_the_keys_drive_the_deck(deck_window, qtbot):
    w = deck_window
    w.activateWindow()
    for _ in range(2):
        QTest.keyClick(w.canvas, Qt.Key_PageDown)
    settle(qtbot, w, "matmul_2x2", 1)
    QTest.keyClick(w.canvas, Qt.Key_Right)
    settle(qtbot, w, "matmul_2x2", 2)
    QTest.keyClick(w.canvas, Qt.Key_Left)
    QTest.keyClick(w.canvas, Qt.Key_PageUp)
    settle(qtbot, w, "dot_product", 1)


def test_the_end_of_the_deck_stays_and_another_lesson_suspends_it(deck_window, qtbot):
    w = deck_window
    w.decks.go_to_entry(2, "last")
    settle(qtbot, w, "softmax_rows", 3)
    w.step_forward()
    qtbot.wait(50)
    assert (w.lesson, w.wanted_step) == ("softmax_rows", 3)
    w.open_lesson("hadamard_2x2", autoplay=False)  # picked from the menu: the keys step that lesson
    settle(qtbot, w, "hadamard_2x2", 0)
    assert not w.decks.is_active()
    w.step_forward()
    settle(qtbot, w, "hadamard_2x2", 1)
    w.decks.close_deck()
    assert w.decks.deck is None and not w.decks.close_action.isEnabled()


def test_open_and_save_deck_files_from_the_menu(make_window, qtbot, tmp_path):
    w = make_window(lesson=None, autoplay=False)
    labels = [a.text() for a in w.files.menu.actions()]
    assert "Open &Deck…" in labels and "Save D&eck…" in labels
    path = tmp_path / "talk.opdeck"
    w.decks._ask_save_path = lambda deck: str(tmp_path / "talk")  # the extension is added
    assert w.decks.save_deck_file()  # no deck open: the course, as a start
    assert load_deck(path) == COURSE
    save_deck(path, DECK)
    w.decks._ask_open_path = lambda: str(path)
    assert w.decks.open_deck_file()
    settle(qtbot, w, "dot_product", 0)
    assert w.decks.deck == DECK
    bad = tmp_path / "bad.opdeck"
    bad.write_text('{"format": 1, "entries": [{"lesson": "no_such"}]}', encoding="utf-8")
    w.decks._box = None
    assert not w.decks.open_deck_file(str(bad))
    assert "unknown lesson 'no_such'" in w.decks.last_error and w.decks.deck == DECK
    w.decks._box.close()


def test_course_from_the_lessons_menu_and_add_lesson(make_window, qtbot):
    w = make_window(lesson=None, autoplay=False)
    w.decks.course_action.trigger()
    settle(qtbot, w, COURSE[0].lesson, 0)
    assert w.decks.deck is COURSE
    w.decks.close_deck()
    w.open_lesson("norm_l1", autoplay=False)
    settle(qtbot, w, "norm_l1", 0)
    assert w.decks.add_current_lesson()
    assert w.decks.deck.entries == (DeckEntry("norm_l1"),) and w.decks.is_active()


def test_main_deck_argument(tmp_path, capsys):
    from opscope import main

    parser, _ = main.build_parser()
    assert parser.parse_args(["--deck", "course"]).deck == "course"
    bad = tmp_path / "bad.opdeck"
    bad.write_text("not json", encoding="utf-8")
    assert main.main(["--deck", str(bad)]) == 2
    assert "bad.opdeck" in capsys.readouterr().err
    shot = tmp_path / "deck.png"
    good = tmp_path / "good.opdeck"
    save_deck(good, Deck("t", (DeckEntry("matmul_2x2", 2), DeckEntry("dot_product"))))
    assert main.main(["--deck", str(good), "--screenshot", str(shot)]) == 0
    assert shot.stat().st_size > 1000


# --- the presenter view ------------------------------------------------------------------------


def test_presenter_view_shows_position_note_next_and_clock(qtbot):
    v = PresenterView()
    qtbot.addWidget(v)
    v.resize(1280, 720)
    v.show()
    v.set_state(PresenterState("talk", 1, 3, "Matrix product", 2, 4, 1, 2, "C[0, 1] = 22",
                               "next lesson (3 / 3): Softmax", "rows times columns"))
    assert v.position_label.text() == "talk  ·  entry 2 / 3  ·  step 3 / 4 (this entry: 2–3)"
    assert v.title_label.text() == "Matrix product"
    assert v.caption_label.text() == "C[0, 1] = 22"
    assert v.next_label.text().startswith("next lesson")
    assert v.note_label.text() == "rows times columns"
    assert len(v.clock_label.text()) == 5 and v.clock_label.text()[2] == ":"
    assert v.elapsed_label.text().startswith("0:0")
    v.set_state(PresenterState("talk", 2, 3, "Softmax", 3, 4, 0, 3, "", "", ""))
    assert v.next_label.text() == "— end of the deck —" and v.note_label.text() == "(no note)"
    assert "this entry" not in v.position_label.text()
    assert elapsed_text(59.9) == "0:59" and elapsed_text(61) == "1:01" and elapsed_text(3725) == "1:02:05"
    assert elapsed_text(-3) == "0:00"


def test_presenter_screen_is_the_other_one():
    class Screen:
        pass

    a, b = Screen(), Screen()
    assert presenter_screen([a], a) is None
    assert presenter_screen([a, b], a) is b
    assert presenter_screen([a, b], b) is a
    assert presenter_screen([], None) is None


def test_presenter_view_follows_the_deck(deck_window, qtbot, tmp_path):
    w = deck_window
    w.decks.set_presenter_visible(True)  # one screen offscreen: it opens as a window of its own
    v = w.decks.presenter
    qtbot.waitUntil(v.isVisible)
    assert w.decks.presenter_action.isChecked()
    assert v.note_label.text() == "products, then the sum"
    assert v.next_label.text().startswith("step 2: ")
    w.step_forward()
    settle(qtbot, w, "dot_product", 1)
    qtbot.waitUntil(lambda: v.next_label.text().startswith("next lesson (2 / 3): Matrix product"))
    assert v.caption_label.text() == w.caption_text() and v.caption_label.text()
    qtbot.waitUntil(lambda: v.current_picture.pixmap() is not None and not v.current_picture.pixmap().isNull())
    w.step_forward()
    settle(qtbot, w, "matmul_2x2", 1)
    qtbot.waitUntil(lambda: v.note_label.text() == "rows times columns")
    assert "entry 2 / 3  ·  step 2 / 4 (this entry: 2–3)" in v.position_label.text()
    QTest.keyClick(v, Qt.Key_PageDown)  # the clicker works with the presenter window focused too
    settle(qtbot, w, "matmul_2x2", 2)
    v.resize(1280, 720)
    v.grab().save(str(tmp_path / "presenter.png"))
    w.decks.set_presenter_visible(False)
    assert not v.isVisible()
    assert np.isfinite(v.elapsed())
