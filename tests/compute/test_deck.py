"""Decks (compute.deck): the model's checks, navigation across entries, the file's round trip,
refusal of corrupt files with a message, atomic saves, and the built-in course."""

from __future__ import annotations

import json
import os

import pytest
from opscope.compute import deck as dk
from opscope.compute.deck import COURSE, Deck, DeckEntry, DeckError, Move
from opscope.compute.io import FileFormatError
from opscope.compute.program.lessons import program_lesson_names

THREE = Deck("talk", (DeckEntry("dot_product", note="first"), DeckEntry("matmul_2x2", 1, 2, "second"),
                      DeckEntry("softmax_rows", note="third")))


def known_lessons() -> list[str]:
    # compute tests import no Qt: the operation lessons (gui/lessons.py) are checked against the
    # course in tests/gui/test_deck_window.py; here a few names stand for them.
    return ["dot_product", "matmul_2x2", "softmax_rows", *program_lesson_names()]


# --- the model -------------------------------------------------------------------------------------


@pytest.mark.parametrize(("args", "match"), [
    (("",), "lesson name"),
    (("dot_product", -1), "first step"),
    (("dot_product", 1.5), "first step"),
    (("dot_product", True), "first step"),
    (("dot_product", 3, 2), "last step"),
    (("dot_product", 0, None, 12), "note must be text"),
])
def test_bad_entries_are_refused_with_the_reason(args, match):
    with pytest.raises(DeckError, match=match):
        DeckEntry(*args)


def test_a_deck_needs_entries_and_a_text_title():
    with pytest.raises(DeckError, match="at least one entry"):
        Deck("empty", ())
    with pytest.raises(DeckError, match="title"):
        Deck(3, (DeckEntry("dot_product"),))
    with pytest.raises(DeckError, match="not a DeckEntry"):
        Deck("t", ("dot_product",))


def test_span_clamps_the_range_to_the_run():
    assert DeckEntry("x").span(5) == (0, 4)
    assert DeckEntry("x", 1, 2).span(5) == (1, 2)
    assert DeckEntry("x", 3, 40).span(5) == (3, 4)
    assert DeckEntry("x", 9).span(5) == (4, 4)  # a range past the end shows the last step


def test_forward_steps_through_an_entry_then_goes_to_the_next_one():
    assert THREE.forward(0, 0, 2) == Move(0, 1)
    assert THREE.forward(0, 1, 2) == Move(1, "first")
    # entry 1 shows steps 1..2 of its 4
    assert THREE.forward(1, 0, 4) == Move(1, 1)  # before the range: into it
    assert THREE.forward(1, 1, 4) == Move(1, 2)
    assert THREE.forward(1, 2, 4) == Move(2, "first")
    assert THREE.forward(2, 3, 4) is None  # the end of the deck


def test_back_at_an_entry_start_goes_to_the_previous_entry_end():
    assert THREE.back(2, 1, 4) == Move(2, 0)
    assert THREE.back(2, 0, 4) == Move(1, "last")
    assert THREE.back(1, 2, 4) == Move(1, 1)
    assert THREE.back(1, 1, 4) == Move(0, "last")
    assert THREE.back(1, 3, 4) == Move(1, 2)  # past the range (End): back into it
    assert THREE.back(0, 0, 2) is None
    assert Move(1, "last").changes_entry and not Move(1, 0).changes_entry
    with pytest.raises(IndexError):
        THREE.forward(3, 0, 1)


def test_check_lessons_names_the_unknown_one():
    dk.check_lessons(THREE, known_lessons())
    with pytest.raises(DeckError, match=r"entry 2 of the deck: unknown lesson 'nope'; valid: dot_product"):
        dk.check_lessons(Deck("t", (DeckEntry("dot_product"), DeckEntry("nope"))), known_lessons())


# --- files -------------------------------------------------------------------------------------------


def test_round_trip(tmp_path):
    path = tmp_path / f"talk{dk.DECK_EXTENSION}"
    dk.save_deck(path, THREE)
    data = json.loads(path.read_text(encoding="utf-8"))
    assert data["format"] == dk.DECK_FORMAT
    assert data["entries"][1] == {"lesson": "matmul_2x2", "first": 1, "last": 2, "note": "second"}
    assert dk.load_deck(path, known_lessons()) == THREE
    dk.save_deck(path, COURSE)  # unicode notes (î, √, →) survive
    assert dk.load_deck(path) == COURSE


def test_defaults_are_filled_in_and_the_title_is_optional(tmp_path):
    path = tmp_path / "short.opdeck"
    path.write_text('{"format": 1, "entries": [{"lesson": "dot_product"}]}', encoding="utf-8")
    assert dk.load_deck(path) == Deck("", (DeckEntry("dot_product", 0, None, ""),))


@pytest.mark.parametrize(("content", "match"), [
    (b"", "is empty"),
    (b"\xff\xfe garbage", "not UTF-8"),
    (b'{"format": 1, "entries": [', "not valid JSON"),
    (b"[" * 5000 + b"]" * 5000, "nested too deeply"),
    (b"[1, 2]", "not a deck"),
    (b'{"entries": []}', "no 'format'"),
    (b'{"format": 2, "entries": [{"lesson": "dot_product"}]}', "newer OpScope"),
    (b'{"format": "1", "entries": []}', "'format' must be"),
    (b'{"format": 1, "entries": []}', "at least one entry"),
    (b'{"format": 1, "entries": {"lesson": "dot_product"}}', "must be a list"),
    (b'{"format": 1, "entries": [{"lessn": "dot_product"}]}', "unknown field 'lessn'"),
    (b'{"format": 1, "entries": [{"first": 1}]}', "names no 'lesson'"),
    (b'{"format": 1, "entries": [3]}', "entry 1 is not an object"),
    (b'{"format": 1, "entries": [{"lesson": "dot_product", "first": 2, "last": 1}]}', "entry 1: .*last step"),
    (b'{"format": 1, "title": 4, "entries": [{"lesson": "dot_product"}]}', "'title' must be text"),
    (b'{"format": 1, "slides": [], "entries": [{"lesson": "dot_product"}]}', "unknown field 'slides'"),
    (b'{"format": 1, "entries": [{"lesson": "no_such_lesson"}]}', "unknown lesson 'no_such_lesson'"),
])
def test_corrupt_files_are_refused_with_a_message_naming_the_file(tmp_path, content, match):
    path = tmp_path / "bad.opdeck"
    path.write_bytes(content)
    with pytest.raises(DeckError, match=match) as info:
        dk.load_deck(path, known_lessons())
    assert "bad.opdeck" in str(info.value)
    assert isinstance(info.value, FileFormatError) and isinstance(info.value, ValueError)


def test_missing_folder_and_oversized_files_are_refused(tmp_path):
    with pytest.raises(DeckError, match="cannot read"):
        dk.load_deck(tmp_path / "absent.opdeck")
    with pytest.raises(DeckError, match="is a folder"):
        dk.load_deck(tmp_path)
    big = tmp_path / "big.opdeck"
    big.write_bytes(b" " * (dk.MAX_DECK_BYTES + 1))
    with pytest.raises(DeckError, match="too large"):
        dk.load_deck(big)
    with pytest.raises(DeckError, match="cannot write"):
        dk.save_deck(tmp_path / "no" / "such" / "folder.opdeck", THREE)


def test_a_failed_save_leaves_the_old_file_intact(tmp_path, monkeypatch):
    path = tmp_path / "talk.opdeck"
    dk.save_deck(path, THREE)
    before = path.read_bytes()

    def boom(*_a, **_k):
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(dk.json, "dumps", lambda *a, **k: "x" * 10)  # content written, then the write fails
    monkeypatch.setattr(os, "fsync", boom)
    with pytest.raises(DeckError, match="No space left"):
        dk.save_deck(path, COURSE)
    assert path.read_bytes() == before
    assert [p.name for p in tmp_path.iterdir()] == ["talk.opdeck"]  # no temporary file left


# --- the built-in course -------------------------------------------------------------------------


def test_the_course_runs_from_the_dot_product_to_the_transformer_block():
    names = [e.lesson for e in COURSE.entries]
    assert names[0] == "dot_product" and names[-2:] == ["transformer_post_ln", "transformer_pre_ln"]
    assert len(set(names)) == len(names)
    assert all(len(e.note) > 40 for e in COURSE.entries)  # a real note for every entry
    # the building blocks come before what is built from them
    for before, after in [("dot_product", "matmul_2x2"), ("softmax_rows", "attention_causal"),
                          ("attention_causal", "mha_2heads"), ("layernorm_batch", "transformer_post_ln")]:
        assert names.index(before) < names.index(after)
    assert {"mha_program", "attention_causal_program"} <= set(names)
