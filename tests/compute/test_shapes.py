"""compute.shapes: the broadcasting notes a board shows, from shapes alone."""


def test_batch_alignment_says_which_operand_is_reused_along_which_axis():
    from opscope.compute.shapes import batch_alignment

    assert batch_alignment(("A", (3, 2), 2), ("B", (2, 4), 2), ("C", (3, 4), 2)) is None
    note = batch_alignment(("A", (3, 3, 2), 2), ("B", (2, 4), 2), ("result", (3, 3, 4), 2))
    assert note.splitlines() == ["batch axes, aligned right:", "     A: 3", "     B: ·", "result: 3",
                                 "B reused along batch axis 0"]
    note = batch_alignment(("A", (2, 1, 3, 2), 2), ("B", (5, 2, 4), 2), ("C", (2, 5, 3, 4), 2))
    assert note.splitlines()[-1] == "A reused along batch axis 1; B reused along batch axis 0"
    note = batch_alignment(("A", (4, 3, 2), 2), ("B", (4, 2, 1), 2), ("C", (4, 3, 1), 2))
    assert note.splitlines()[-1] == "batch sizes equal: paired one to one"


def test_the_broadcast_note_says_what_the_first_caption_says_one_fact_a_line():
    import numpy as np
    from opscope import compute
    from opscope.compute.ops.elementwise import broadcast_note

    tl = compute.stream_op("add", {"A": np.ones((2, 3)), "B": np.array([10.0, 20.0, 30.0])})
    note = broadcast_note(tl)
    assert note.splitlines()[:3] == ["broadcast to (2, 3):", "B (3,) = [10, 20, 30] copied along axis 0.",
                                     "Shapes aligned from the right:"]
    assert " ".join(note.split("\n", 3)[:3]) + "\n" + note.split("\n", 3)[3] == tl[0].caption
    assert broadcast_note(compute.stream_op("hadamard", {"A": np.ones((2, 2)), "B": np.ones((2, 2))})) is None
