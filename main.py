"""OpScope's one entry point.

    python main.py                                   # the window, playing the 2×2 matrix product
    python main.py --lesson softmax_rows             # another lesson
    python main.py --op attention --granularity tile # any operation on its example inputs
    python main.py --lesson matmul_2x2 --step 3 --screenshot out.png
    python main.py --list-lessons

Sub-commands (``compute``, ``export``) hang off the same parser; without one, the GUI runs.
"""

from __future__ import annotations

import argparse
import os
import sys


def build_parser() -> tuple[argparse.ArgumentParser, argparse._SubParsersAction]:
    """The top-level parser (GUI options) and its sub-command group, for sub-commands to join."""
    from opscope import __version__

    parser = argparse.ArgumentParser(
        prog="opscope",
        description=f"OpScope {__version__}: see inside the tensor operations of deep learning, step by step.",
    )
    parser.add_argument("--version", action="version", version=f"opscope {__version__}",
                        help="print the version and exit")
    parser.add_argument("--list-lessons", action="store_true", help="print the lesson names, one a line, and exit")
    parser.add_argument("--lesson", metavar="NAME", help="open a ready-made lesson (see --list-lessons)")
    parser.add_argument("--op", metavar="NAME", help="open an operation on its example inputs")
    parser.add_argument("--deck", metavar="FILE|course",
                        help="open a deck (a .opdeck file, or 'course': the built-in course); PageDown/→ "
                             "steps through each lesson, then to the next")
    parser.add_argument("--granularity", metavar="G", help="element, tile, kblock or stage (default: auto)")
    parser.add_argument("--step", type=int, metavar="N",
                        help="show step N, 0-based like the API and export --steps (the window's read-out counts "
                             "from 1: --step 0 is 'step 1 / 6'); past the end clamps")
    parser.add_argument("--screenshot", metavar="FILE.png",
                        help="render the window offscreen at its default size, save a PNG and exit")
    parser.add_argument("--present", action="store_true",
                        help="start in presentation mode (F5 in the window; Esc leaves it); with --screenshot or "
                             "--layout-report, render it offscreen")
    parser.add_argument("--size", type=_window_size, metavar="WxH",
                        help="with --screenshot or --layout-report: the window's exact size, e.g. 1024x768")
    parser.add_argument("--layout-report", metavar="FILE.json",
                        help="render offscreen and write what each view drew (cell and digit sizes) as JSON")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", title="commands",
                                description="optional; without one, the window opens")
    from opscope.compute.cli import build_parser as build_compute_parser
    from opscope.compute.cli import run as run_compute

    build_compute_parser(sub).set_defaults(func=run_compute)
    from opscope.gui.export import build_export_parser

    build_export_parser(sub)
    return parser, sub


def _window_size(text: str) -> tuple[int, int]:
    """``"1024x768"`` → ``(1024, 768)`` (for ``--size``)."""
    w, sep, h = text.lower().replace("×", "x").partition("x")
    try:
        size = (int(w), int(h)) if sep else None
    except ValueError:
        size = None
    if size is None or not (100 <= size[0] <= 10000 and 100 <= size[1] <= 10000):
        raise argparse.ArgumentTypeError(f"expected WIDTHxHEIGHT in pixels (100..10000), e.g. 1024x768, not {text!r}")
    return size


def _fail(message: str) -> int:
    print(f"opscope: {message}", file=sys.stderr)
    return 2


def run_gui(args) -> int:
    """The default command: list lessons, take a screenshot, or open the window."""
    # Lists and name checks come before any window exists: quick, and they need no display.
    if args.list_lessons:
        from opscope.compute.program.lessons import program_lesson_names
        from opscope.gui.lessons import lesson_names

        try:
            print("\n".join(lesson_names() + program_lesson_names()), flush=True)
        except BrokenPipeError:  # `main.py --list-lessons | head -1`: the reader left, that is fine
            sys.stdout = open(os.devnull, "w")  # noqa: SIM115 - so the exit flush does not fail too
        return 0
    if args.lesson and args.op:
        return _fail("give --lesson or --op, not both")
    extra = {}
    if args.deck is not None:
        if args.lesson or args.op:
            return _fail("give --deck or --lesson/--op, not both")
        from opscope.compute.deck import DeckError
        from opscope.gui.window.deck_controller import resolve_deck

        try:
            extra["deck"] = resolve_deck(args.deck)
        except DeckError as exc:
            return _fail(str(exc))
    from opscope import compute
    from opscope.compute.program.lessons import program_lesson_names
    from opscope.gui.lessons import DEFAULT_LESSON, get_lesson, lesson_names

    op = get_lesson(DEFAULT_LESSON).op if args.op is None else None
    if args.lesson is not None:
        valid = lesson_names() + program_lesson_names()
        if args.lesson not in valid:
            return _fail(f"unknown lesson {args.lesson!r}; valid: {', '.join(valid)}")
        if args.lesson in program_lesson_names():
            # A built-in program steps each line its own way; one granularity does not fit them all.
            if args.granularity is not None:
                return _fail(f"--granularity applies to an operation, not to the program lesson {args.lesson!r} "
                             "(its lines step as the lesson sets them)")
        else:
            op = get_lesson(args.lesson).op
    if args.op is not None:
        names = [s.name for s in compute.operations()]
        if args.op not in names:
            return _fail(f"unknown operation {args.op!r}; valid: {', '.join(names)}")
        op = args.op
    if args.granularity is not None:
        offered = compute.get_spec(op).granularities
        if args.granularity not in offered:
            return _fail(f"unknown granularity {args.granularity!r} for {op}; valid: {', '.join(offered)}")

    offscreen = args.present or args.size is not None or args.layout_report is not None
    if args.size is not None and not (args.screenshot or args.layout_report):
        return _fail("--size needs --screenshot FILE.png or --layout-report FILE.json "
                     "(the window itself takes the screen's size)")
    if args.screenshot or args.layout_report:
        if sys.platform.startswith("linux") and not (os.environ.get("DISPLAY") or os.environ.get("WAYLAND_DISPLAY")):
            os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
        if offscreen:
            from opscope.gui.window.presentation import take_presentation_screenshot

            return take_presentation_screenshot(args.screenshot, lesson=args.lesson, op=args.op,
                                                granularity=args.granularity, step=args.step, size=args.size,
                                                present=args.present, report=args.layout_report, **extra)
        from opscope.gui.app import take_screenshot

        return take_screenshot(args.screenshot, lesson=args.lesson, op=args.op, granularity=args.granularity,
                               step=args.step, **extra)
    from opscope.gui.app import run_window

    return run_window(lesson=args.lesson, op=args.op, granularity=args.granularity, step=args.step,
                      present=args.present, **extra)


def main(argv=None) -> int:
    """Parse ``argv`` (default: the command line) and run; returns the exit status."""
    parser, _sub = build_parser()
    args = parser.parse_args(argv)
    if getattr(args, "command", None) is None:
        return run_gui(args)
    return args.func(args)


def use_source_tree() -> None:
    """Make ``opscope`` this checkout's code: the folder holding this file is the package.

    Installed, ``main.py`` is ``opscope.main`` inside the wheel's ``opscope`` package; in a source
    checkout it sits beside ``compute/`` and ``gui/``, which import each other as ``opscope.*``. Run
    as ``python main.py`` (or from the tests and benches), this registers the checkout under that name
    so that the code being read is the code that runs, even when another copy is installed.
    """
    import importlib.util

    root = os.path.dirname(os.path.abspath(__file__))
    current = sys.modules.get("opscope")
    if current is not None and list(getattr(current, "__path__", [])) == [root]:
        return
    spec = importlib.util.spec_from_file_location("opscope", os.path.join(root, "__init__.py"),
                                                  submodule_search_locations=[root])
    module = importlib.util.module_from_spec(spec)
    sys.modules["opscope"] = module
    spec.loader.exec_module(module)


if __name__ == "__main__":
    if not __package__:
        use_source_tree()
    sys.exit(main())
