"""Decks: an ordered list of lessons, each with a step range and a speaker note, as plain data.

A lecturer builds a talk from the ready-made lessons (``python main.py --list-lessons``, the
program lessons included): :class:`Deck` holds :class:`DeckEntry` items, :func:`save_deck` and
:func:`load_deck` keep them in a small JSON file (extension :data:`DECK_EXTENSION`) written
atomically, and :meth:`Deck.forward` / :meth:`Deck.back` say where the clicker goes next: through
an entry's steps, then to the next entry's first step (back: to the previous entry's last step).
:data:`COURSE` is the built-in deck, from the dot product to the transformer block.

Steps are counted from 0 here, as ``main.py --step`` and ``export --steps`` count them (the
window's read-out says "step 1 / N" for step 0). A range is inclusive at both ends; ``last=None``
runs to the lesson's last step, and a range past the end of a lesson is clamped to it when the
lesson's run is known (:meth:`DeckEntry.span`): the number of steps depends on the run, which
this module never computes.

This module knows no lesson itself (operation lessons live in ``gui/lessons.py``, which compute
must not import): :func:`check_lessons` checks a deck's slugs against the names the caller knows.

File format (``format`` 1)::

    {"format": 1, "title": "…",
     "entries": [{"lesson": "dot_product", "first": 0, "last": null, "note": "…"}, …]}
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any, Literal

from .io.atomic import atomic_open
from .io.file_checks import FileFormatError, parse_json

__all__ = [
    "COURSE",
    "DECK_EXTENSION",
    "DECK_FORMAT",
    "MAX_DECK_BYTES",
    "Deck",
    "DeckEntry",
    "DeckError",
    "Move",
    "check_lessons",
    "deck_from_json",
    "deck_to_json",
    "load_deck",
    "save_deck",
]

#: The extension of deck files.
DECK_EXTENSION = ".opdeck"
#: The format version written; files of a higher version are refused (written by a newer OpScope).
DECK_FORMAT = 1
#: A deck is a few kilobytes of text; anything far larger is not one.
MAX_DECK_BYTES = 1 << 20
#: Longest speaker note kept (characters): a paragraph or two, not a document.
MAX_NOTE_CHARS = 20_000

_ENTRY_KEYS = frozenset({"lesson", "first", "last", "note"})
_DECK_KEYS = frozenset({"format", "title", "entries"})


class DeckError(FileFormatError):
    """A deck that cannot be used, or a deck file that cannot be read or written; the message says why."""


@dataclass(frozen=True)
class DeckEntry:
    """One lesson of a deck.

    Attributes
    ----------
    lesson : str
        A lesson slug (``python main.py --list-lessons``).
    first : int
        0-based first step shown.
    last : int or None
        0-based last step shown (inclusive); None: the lesson's last step.
    note : str
        The speaker note (shown in the presenter view, never on the projector).
    """

    lesson: str
    first: int = 0
    last: int | None = None
    note: str = ""

    def __post_init__(self) -> None:
        where = f"deck entry {self.lesson!r}"
        if not isinstance(self.lesson, str) or not self.lesson.strip():
            raise DeckError(f"a deck entry needs a lesson name, not {self.lesson!r}")
        if not _is_int(self.first) or self.first < 0:
            raise DeckError(f"{where}: first step must be a whole number ≥ 0, not {self.first!r}")
        if self.last is not None and (not _is_int(self.last) or self.last < self.first):
            raise DeckError(f"{where}: last step must be a whole number ≥ the first step ({self.first}) "
                            f"or null (to the end), not {self.last!r}")
        if not isinstance(self.note, str):
            raise DeckError(f"{where}: the note must be text, not {type(self.note).__name__}")
        if len(self.note) > MAX_NOTE_CHARS:
            raise DeckError(f"{where}: the note has {len(self.note)} characters, over {MAX_NOTE_CHARS}")

    def span(self, total: int) -> tuple[int, int]:
        """The 0-based ``(first, last)`` steps shown of a run with ``total`` steps, clamped into it."""
        end = max(0, int(total) - 1)
        first = min(self.first, end)
        last = end if self.last is None else min(self.last, end)
        return first, max(first, last)


@dataclass(frozen=True)
class Move:
    """Where a clicker press goes: ``step`` of entry ``entry``, or the first/last step of its range
    (``"first"``/``"last"``: the entry is not open yet, so its length is unknown)."""

    entry: int
    step: int | Literal["first", "last"]

    @property
    def changes_entry(self) -> bool:
        return not isinstance(self.step, int)


@dataclass(frozen=True)
class Deck:
    """An ordered list of :class:`DeckEntry` with a title.

    Raises
    ------
    DeckError
        no entries, a title that is not text, or an entry that is not a :class:`DeckEntry`.
    """

    title: str
    entries: tuple[DeckEntry, ...] = field(default_factory=tuple)

    def __post_init__(self) -> None:
        if not isinstance(self.title, str):
            raise DeckError(f"a deck's title must be text, not {type(self.title).__name__}")
        entries = tuple(self.entries)
        object.__setattr__(self, "entries", entries)
        if not entries:
            raise DeckError("a deck needs at least one entry (a lesson)")
        for i, e in enumerate(entries):
            if not isinstance(e, DeckEntry):
                raise DeckError(f"entry {i + 1} of the deck is a {type(e).__name__}, not a DeckEntry")

    def __len__(self) -> int:
        return len(self.entries)

    def __getitem__(self, i: int) -> DeckEntry:
        return self.entries[i]

    def forward(self, entry: int, step: int, total: int) -> Move | None:
        """The next position after ``step`` of entry ``entry`` (its run has ``total`` steps):
        the next step of its range, else the next entry's first step; None at the deck's end."""
        self._check_index(entry)
        first, last = self.entries[entry].span(total)
        if step < first:
            return Move(entry, first)
        if step < last:
            return Move(entry, step + 1)
        return Move(entry + 1, "first") if entry + 1 < len(self.entries) else None

    def back(self, entry: int, step: int, total: int) -> Move | None:
        """The position before ``step`` of entry ``entry``: the step before in its range, else the
        previous entry's last step; None at the deck's start."""
        self._check_index(entry)
        first, last = self.entries[entry].span(total)
        if step > last:
            return Move(entry, last)
        if step > first:
            return Move(entry, step - 1)
        return Move(entry - 1, "last") if entry > 0 else None

    def _check_index(self, entry: int) -> None:
        if not 0 <= entry < len(self.entries):
            raise IndexError(f"entry {entry} is out of range: the deck has {len(self.entries)} entries")


def _is_int(v: Any) -> bool:
    return isinstance(v, int) and not isinstance(v, bool)


def check_lessons(deck: Deck, known: Iterable[str]) -> None:
    """Refuse a deck naming a lesson not in ``known`` (the message lists the valid names).

    Raises
    ------
    DeckError
    """
    names = list(known)
    valid = set(names)
    for i, e in enumerate(deck.entries):
        if e.lesson not in valid:
            raise DeckError(f"entry {i + 1} of the deck: unknown lesson {e.lesson!r}; valid: {', '.join(names)}")


def deck_to_json(deck: Deck) -> dict:
    """The deck as the JSON object of its file (format :data:`DECK_FORMAT`)."""
    return {"format": DECK_FORMAT, "title": deck.title,
            "entries": [{"lesson": e.lesson, "first": e.first, "last": e.last, "note": e.note} for e in deck.entries]}


def deck_from_json(value: Any, where: str = "deck") -> Deck:
    """A :class:`Deck` from parsed JSON, with every problem named (``where`` starts the message).

    Raises
    ------
    DeckError
    """
    if not isinstance(value, Mapping):
        raise DeckError(f"{where}: not a deck (a JSON object with 'format' and 'entries' was expected)")
    fmt = value.get("format")
    if fmt is None:
        raise DeckError(f"{where}: not a deck (no 'format' field)")
    if not _is_int(fmt) or fmt < 1:
        raise DeckError(f"{where}: 'format' must be a whole number ≥ 1, not {fmt!r}")
    if fmt > DECK_FORMAT:
        raise DeckError(f"{where}: deck format {fmt} was written by a newer OpScope (this one reads "
                        f"up to {DECK_FORMAT})")
    unknown = sorted(set(value) - _DECK_KEYS)
    if unknown:
        raise DeckError(f"{where}: unknown field {unknown[0]!r} (a deck has {', '.join(sorted(_DECK_KEYS))})")
    title = value.get("title", "")
    if not isinstance(title, str):
        raise DeckError(f"{where}: 'title' must be text, not {type(title).__name__}")
    raw = value.get("entries")
    if not isinstance(raw, list):
        raise DeckError(f"{where}: 'entries' must be a list of lessons")
    entries = []
    for i, item in enumerate(raw):
        at = f"{where}: entry {i + 1}"
        if not isinstance(item, Mapping):
            raise DeckError(f"{at} is not an object with a 'lesson'")
        unknown = sorted(set(item) - _ENTRY_KEYS)
        if unknown:
            raise DeckError(f"{at}: unknown field {unknown[0]!r} (an entry has {', '.join(sorted(_ENTRY_KEYS))})")
        if "lesson" not in item:
            raise DeckError(f"{at} names no 'lesson'")
        try:
            entries.append(DeckEntry(item["lesson"], item.get("first", 0), item.get("last"), item.get("note", "")))
        except DeckError as exc:
            raise DeckError(f"{at}: {exc}") from None
    try:
        return Deck(title, tuple(entries))
    except DeckError as exc:
        raise DeckError(f"{where}: {exc}") from None


def save_deck(path: str | os.PathLike, deck: Deck) -> None:
    """Write ``deck`` to ``path`` atomically (an old file stays intact if the write fails).

    Raises
    ------
    DeckError
        the folder is missing or cannot be written.
    """
    text = json.dumps(deck_to_json(deck), indent=2, ensure_ascii=False) + "\n"
    name = os.path.basename(os.fspath(path)) or os.fspath(path)
    try:
        with atomic_open(path, "w") as f:
            f.write(text)
    except OSError as exc:
        raise DeckError(f"{name}: cannot write the deck ({exc.strerror or exc})") from exc


def load_deck(path: str | os.PathLike, known_lessons: Iterable[str] | None = None) -> Deck:
    """Read a deck file; with ``known_lessons``, also refuse lessons not among them.

    Raises
    ------
    DeckError
        missing, unreadable, too large, not UTF-8 JSON, not a deck, or a bad entry (the message
        names the file and the entry).
    """
    path = os.fspath(path)
    name = os.path.basename(path) or path
    try:
        size = os.path.getsize(path)
        if size > MAX_DECK_BYTES:
            raise DeckError(f"{name}: {size} bytes is too large for a deck (at most {MAX_DECK_BYTES})")
        with open(path, "rb") as f:
            data = f.read(MAX_DECK_BYTES + 1)
    except DeckError:
        raise
    except IsADirectoryError:
        raise DeckError(f"{name} is a folder, not a deck") from None
    except OSError as exc:
        raise DeckError(f"{name}: cannot read it ({exc.strerror or exc})") from None
    if not data.strip():
        raise DeckError(f"{name} is empty, not a deck")
    try:
        value = parse_json(data, name)
    except FileFormatError as exc:
        raise DeckError(str(exc)) from None
    deck = deck_from_json(value, name)
    if known_lessons is not None:
        try:
            check_lessons(deck, known_lessons)
        except DeckError as exc:
            raise DeckError(f"{name}: {exc}") from None
    return deck


# --- the built-in course ---------------------------------------------------------------------------
def _e(lesson: str, note: str, first: int = 0, last: int | None = None) -> DeckEntry:
    return DeckEntry(lesson, first, last, " ".join(note.split()))


#: The built-in course: every building block of a transformer, each on numbers small enough to
#: check by hand, ending with the whole block (Lessons › Course, ``main.py --deck course``).
COURSE = Deck("From the dot product to the transformer block", (
    _e("dot_product", """Everything today is built from this: multiply matching entries, add them up.
       1×4 + 2×5 + 3×6 = 32. Ask the room for the last product before you step to it."""),
    _e("matmul_2x2", """A matrix product is a grid of dot products: row i of A with column j of B.
       Point at the highlighted row and column at each step; C[0, 0] = 19 is the first."""),
    _e("matvec_rotation", """A matrix is also a motion of the plane. Watch the grid turn: î lands on
       (0, 1) and ĵ on (−1, 0), the columns of A. The square keeps area 1 (det = 1); no real
       eigenvector, every direction turns."""),
    _e("matvec_shear", """A shear: the x-axis stays put (an eigenvector with λ = 1), everything else
       slides sideways by its height. The unit square becomes a parallelogram of the same area:
       det = 1."""),
    _e("matvec_projection", """A projection flattens the plane onto the x-axis: the square's image has
       no area (det = 0), and that is why A has no inverse. Projecting twice changes nothing more."""),
    _e("hadamard_2x2", """Same inputs as the matrix product, a different operation: element by element,
       no sums. Ask which of the two a transformer's gating uses."""),
    _e("broadcast_vector", """Broadcasting: shapes align from the right, (2, 3) and (3,), and the vector
       is reused along the rows. No copy is made; this is how a bias is added to every token."""),
    _e("batched_matmul", """Only the last two axes multiply; B is shared by the whole batch. This is
       Q @ K.T over a batch of sequences. End jumps to the full (3, 3, 4) result.""", last=11),
    _e("sum_axis0", """Reductions remove an axis: sum over axis 0 adds the rows, one total per column.
       Ask for the shape of the result before stepping: (2, 3) → (3,)."""),
    _e("mean_axis1", """The mean over axis 1 is one number per row: what LayerNorm computes first."""),
    _e("norm_l2", """The L2 norm is a length: √(9 + 16 + 0) = 5. Weight decay penalizes its square."""),
    _e("softmax_rows", """Softmax turns scores into probabilities: subtract the row's max (no
       overflow), exponentiate, divide by the sum. Every row sums to 1; the order is kept."""),
    _e("layernorm_batch", """LayerNorm normalizes each sample over its own features: every row ends
       with mean 0 and variance 1. Rows 0 and 1 become identical: only their shape mattered."""),
    _e("batchnorm_batch", """Contrast: BatchNorm normalizes each feature over the batch, the columns.
       A sample's result depends on the other samples, which is why transformers use LayerNorm."""),
    _e("qk_loop_vs_matmul", """Attention starts with similarities: every query · every key. The double
       loop of dot products is one matrix product Q @ Kᵀ, 16 numbers. After two rows, ask the room
       for the next cell, then press End for the rest.""", last=7),
    _e("attention_causal", """Scaled dot-product attention, stage by stage: scores, scaled by 1/√dₖ,
       the causal mask hides the future, softmax makes weights, and the output averages V's rows."""),
    _e("attention_causal_program", """The same attention written as a program, line by line, on a
       batch of two sequences. Batch 0 is the previous slide's numbers."""),
    _e("mha_2heads", """Multi-head attention: project X three times, split the features into heads,
       attend in each head on its own, concatenate, and mix with W_o."""),
    _e("mha_program", """Multi-head attention written out: split_heads and merge_heads are only
       reshapes; every head has its own (4, 4) weights."""),
    _e("transformer_post_ln", """The whole block: attention, residual, LayerNorm, feed-forward, residual,
       LayerNorm. Every row of h and y ends with mean 0 and variance 1."""),
    _e("transformer_pre_ln", """The pre-LN variant used by GPT-2 and most later models: LayerNorm before
       each sublayer, the residual path un-normalized. Compare y with the post-LN block's."""),
))
