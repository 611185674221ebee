"""The headless ``compute`` sub-command: run one operation or a program on tensors from files, save every output.

    python main.py compute matmul --in A=a.npy --in B=b.npz:weights --out run.npz
    python main.py compute attention --in Q=q.npy --in K=k.npy --in V=v.npy --param mask=causal --out att.safetensors
    python main.py compute --program attention.txt --in Q=q.npy --in K=k.npy --in V=v.npy --param d_k=3 --out run.npz
    python main.py compute --program "s = A @ B" --in A=a.npy --in B=b.npy --out s.npz

An operation's parameters are parsed by the kind the operation declares (int, float, bool, axis,
ord, mask), so ``--param axis=0,1`` is the tuple (0, 1) and ``--param axis=None`` reduces over
everything. A program's parameters are the scalars it names (``d_k``), numbers. ``--program``
takes a path when such a file exists, else the program text itself; the program's run archive
keeps every line (``outputs/<line>``, plus ``outputs/result``) and the text (see
:func:`compute.io.run_archive.save_program_run`).
Failures print one line on stderr and return status 2; never a traceback.
"""

from __future__ import annotations

import argparse
import os
import re
import sys

from .errors import OpScopeError, ParamError

EXIT_BAD_INPUT = 2
#: A program file is text of a few lines; anything bigger is not one (and is not read whole).
MAX_PROGRAM_BYTES = 1 << 20


def parse_param(spec, key: str, text: str):
    """The value of ``--param key=text`` for operation ``spec``, parsed by the parameter's kind."""
    p = spec.param(key)
    if p is None:
        valid = ", ".join(q.name for q in spec.params) or "none"
        raise ParamError(f"{spec.name}: unknown parameter {key!r}; valid: {valid}")
    t = text.strip()
    low = t.lower()
    if low in ("none", "null", ""):
        return None
    try:
        if p.kind == "int":
            return int(t)
        if p.kind == "float":
            return float(t)
        if p.kind == "bool":
            if low in ("1", "true", "yes", "on"):
                return True
            if low in ("0", "false", "no", "off"):
                return False
            raise ValueError(t)
        if p.kind == "axis":
            parts = [s for s in t.strip("()[] ").split(",") if s.strip()]
            return int(parts[0]) if len(parts) == 1 and "," not in t else tuple(int(s) for s in parts)
    except ValueError:
        raise ParamError(f"{spec.name}: --param {key}={text!r} is not a valid {p.kind}") from None
    return t  # ord, mask, choice: the operation parses its own spellings ("inf", "causal", "padding:3,2")


def parse_program_param(key: str, text: str):
    """The value of a program's ``--param key=text``: a number (an int when written as one).

    Raises
    ------
    ParamError
        ``text`` is not a number.
    """
    t = text.strip()
    try:
        return int(t)
    except ValueError:
        pass
    try:
        return float(t)  # also inf, -inf, nan, 1e-5
    except ValueError:
        raise ParamError(f"--param {key}={text!r}: a program's parameters are numbers (scalars such as d_k=3)") \
            from None


def read_program(source: str) -> str:
    """The program text ``--program source`` means: the contents of the file ``source`` if it exists,
    else ``source`` itself.

    Raises
    ------
    ParamError
        An empty program, a file too big to be a program, or one that is not UTF-8 text.
    OSError
        The file cannot be read.
    """
    if os.path.isfile(source):
        with open(source, "rb") as f:
            raw = f.read(MAX_PROGRAM_BYTES + 1)
        if len(raw) > MAX_PROGRAM_BYTES:
            raise ParamError(f"--program {source}: the file is over {MAX_PROGRAM_BYTES >> 20} MiB; a program is a "
                             f"few lines of text")
        try:
            text = raw.decode("utf-8-sig")
        except UnicodeDecodeError as exc:
            raise ParamError(f"--program {source}: not UTF-8 text ({exc.reason} at byte {exc.start})") from None
        if not text.strip():
            raise ParamError(f"--program {source}: the file is empty; write lines of `name = expression`")
        return text
    if not source.strip():
        raise ParamError("--program: empty; give a file or the text, e.g. --program \"s = A @ B\"")
    return source


def _looks_like_path(text: str) -> bool:
    """Whether ``--program text`` that is no file was probably meant as one (a mistyped path),
    so that the message says "no such file" before what the parser made of it."""
    one_line = "\n" not in text.strip() and "=" not in text
    return one_line and bool(re.search(r"[\\/]\S*$|\.(?!T\b)[A-Za-z]\w*$", text.strip()))


def _error_line(exc: BaseException) -> str:
    return " ".join(str(exc).split("\n")[0].split())


def _fail(message: str) -> int:
    print(f"opscope compute: error: {message}", file=sys.stderr)
    return EXIT_BAD_INPUT


def _one_line_error(parser: argparse.ArgumentParser):
    """``parser.error`` that prints the one ``opscope compute: error:`` line every failure prints
    (argparse would print its usage first), with the same status 2."""
    def error(message: str):
        print(f"opscope compute: error: {' '.join(message.split())} (see --help)", file=sys.stderr)
        raise SystemExit(EXIT_BAD_INPUT)
    return error


def build_parser(sub=None) -> argparse.ArgumentParser:
    """The ``compute`` parser, standalone or added to ``main.py``'s sub-commands."""
    kw = {"description": "Run an operation or a program headless on tensors from files and save the result and "
                         "every intermediate."}
    p = sub.add_parser("compute", help=kw["description"], **kw) if sub is not None else argparse.ArgumentParser(
        prog="opscope compute", **kw)
    p.error = _one_line_error(p)
    p.add_argument("op", nargs="?", help="operation name, e.g. matmul or attention (or give --program)")
    p.add_argument("--program", metavar="FILE_OR_TEXT",
                   help="a program instead of an operation: a text file of `name = expression` lines, or the text "
                        "itself, e.g. \"s = Q @ K.T / sqrt(d_k)\"")
    p.add_argument("--in", dest="inputs", action="append", default=[], metavar="NAME=FILE[:KEY]",
                   help="an input tensor from .npy/.npz/.safetensors/.csv/.tsv (FILE:KEY picks one of several)")
    p.add_argument("--param", dest="params", action="append", default=[], metavar="KEY=VALUE",
                   help="a keyword parameter, e.g. axis=-1, mask=causal, num_heads=2; for a program, a scalar it "
                        "names, e.g. d_k=3")
    p.add_argument("--out", required=True, metavar="FILE.npz|FILE.safetensors",
                   help="where to save inputs and every named output (keys inputs/NAME, outputs/NAME; for a "
                        "program, every line and the program text)")
    p.add_argument("--quiet", action="store_true", help="print nothing on success")
    return p


def _check_out(path: str) -> None:
    if not path.lower().endswith((".npz", ".safetensors")):
        raise ParamError(f"--out {path!r}: must end in .npz or .safetensors (a run holds several tensors)")


def _split_item(flag: str, item: str, example: str) -> tuple[str, str]:
    name, sep, value = item.partition("=")
    if not sep or not name.strip() or (flag == "--in" and not value):
        raise ParamError(f"{flag} {item!r}: write {'NAME=FILE' if flag == '--in' else 'KEY=VALUE'} (e.g. {example})")
    return name.strip(), value


def run_program_command(args) -> int:
    """Execute ``compute --program``: parse, load the inputs the program names, run, save every line.

    Returns the exit status: 0, or 2 after one ``opscope compute: error:`` line on stderr.
    """
    from . import run_program
    from .io.run_archive import save_program_run
    from .io.tensor_files import load_tensor, split_path_key
    from .program import parse_program

    source = args.program
    try:
        text = read_program(source)
        try:
            program = parse_program(text)
        except OpScopeError as exc:
            if text is source and _looks_like_path(source):
                raise ParamError(f"--program {source!r}: no such file, and as program text: {_error_line(exc)}") \
                    from None
            raise
        _check_out(args.out)
        reads = program.free_names
        wanted = ", ".join(reads) or "nothing (it uses numbers only)"
        params = {}
        for item in args.params:
            key, value = _split_item("--param", item, "d_k=3")
            if key not in reads:
                raise ParamError(f"--param {key}: the program does not read {key!r}; it reads {wanted}")
            params[key] = parse_program_param(key, value)
        inputs = {}
        for item in args.inputs:
            name, where = _split_item("--in", item, "Q=q.npy or K=run.npz:outputs/K")
            if name not in reads:
                raise ParamError(f"--in {name}: the program does not read {name!r}; it reads {wanted}")
            if name in params:
                raise ParamError(f"{name}: given both as --in and as --param; give it once")
            path, key = split_path_key(where)
            inputs[name] = load_tensor(path, key)
        missing = [n for n in reads if n not in inputs and n not in params]
        if missing:
            # Said here, with the flags to add, rather than as the parser's "unknown name" of one of them.
            raise ParamError(f"the program reads {', '.join(missing)}, not given: add --in NAME=FILE for each tensor "
                             f"and --param NAME=NUMBER for each scalar")
        res = run_program(text, inputs, **params)
        save_program_run(args.out, text, inputs, dict(res), params)
    except (OpScopeError, OSError) as exc:
        return _fail(_error_line(exc))
    if not args.quiet:
        shapes = ", ".join(f"{k} {tuple(v.shape)}" for k, v in res.items())
        print(f"program ({len(res.lines)} line{'s' if len(res.lines) != 1 else ''}): saved {shapes} to {args.out} "
              f"({res.backend}, {res.elapsed * 1e3:.1f} ms)")
        for n in res.notices:
            print(f"note: {n}")
    return 0


def run(args) -> int:
    """Execute a parsed ``compute`` command; returns the process exit status."""
    if args.op is not None and args.program is not None:
        return _fail(f"give an operation ({args.op!r}) or --program, not both")
    if args.op is None and args.program is None:
        return _fail("give an operation name (e.g. compute matmul …) or --program FILE_OR_TEXT")
    if args.program is not None:
        return run_program_command(args)
    from . import run_op
    from .io.run_archive import save_run
    from .io.tensor_files import load_tensor, split_path_key
    from .registry import get_spec

    try:
        spec = get_spec(args.op)
        _check_out(args.out)
        inputs = {}
        for item in args.inputs:
            name, sep, where = item.partition("=")
            if not sep or not name or not where:
                raise ParamError(f"--in {item!r}: write NAME=FILE (e.g. A=a.npy or B=run.npz:outputs/result)")
            if name not in spec.input_names:
                raise ParamError(f"--in {name}: {spec.name} has no input {name!r}; it takes "
                                 f"{', '.join(spec.input_names)}")
            path, key = split_path_key(where)
            inputs[name] = load_tensor(path, key)
        params = {}
        for item in args.params:
            key, sep, value = item.partition("=")
            if not sep:
                raise ParamError(f"--param {item!r}: write KEY=VALUE (e.g. axis=-1)")
            params[key.strip()] = parse_param(spec, key.strip(), value)
        out = run_op(spec.name, inputs, **params)
        save_run(args.out, spec.name, out.params, inputs, dict(out))
    except (OpScopeError, OSError) as exc:
        return _fail(_error_line(exc))
    if not args.quiet:
        shapes = ", ".join(f"{k} {tuple(v.shape)}" for k, v in out.items())
        print(f"{spec.name}: saved {shapes} to {args.out} ({out.backend}, {out.elapsed * 1e3:.1f} ms)")
        for n in out.notices:
            print(f"note: {n}")
    return 0


def main(argv=None) -> int:
    """Entry point for ``python -m compute.cli``."""
    return run(build_parser().parse_args(argv))


if __name__ == "__main__":
    sys.exit(main())
