"""The headless ``compute`` sub-command: run one operation on tensors from files, save every output.

    python main.py compute matmul --in A=a.npy --in B=b.npz:weights --out run.npz
    python main.py compute attention --in Q=q.npy --in K=k.npy --in V=v.npy --param mask=causal --out att.safetensors

Parameters are parsed by the kind the operation declares (int, float, bool, axis, ord, mask), so
``--param axis=0,1`` is the tuple (0, 1) and ``--param axis=None`` reduces over everything.
Failures print one line on stderr and return a non-zero status; never a traceback.
"""

from __future__ import annotations

import argparse
import sys

from .errors import OpScopeError, ParamError

EXIT_BAD_INPUT = 2


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


def build_parser(sub=None) -> argparse.ArgumentParser:
    """The ``compute`` parser, standalone or added to ``main.py``'s sub-commands."""
    kw = {"description": "Run an operation headless on tensors from files and save result and intermediates."}
    p = sub.add_parser("compute", help=kw["description"], **kw) if sub is not None else argparse.ArgumentParser(
        prog="opscope compute", **kw)
    p.add_argument("op", help="operation name (see --list)")
    p.add_argument("--in", dest="inputs", action="append", default=[], metavar="NAME=FILE[:KEY]",
                   help="an input tensor from .npy/.npz/.safetensors/.csv/.tsv (FILE:KEY picks one of several)")
    p.add_argument("--param", dest="params", action="append", default=[], metavar="KEY=VALUE",
                   help="a keyword parameter, e.g. axis=-1, mask=causal, num_heads=2")
    p.add_argument("--out", required=True, metavar="FILE.npz|FILE.safetensors",
                   help="where to save inputs and every named output (keys inputs/NAME, outputs/NAME)")
    p.add_argument("--quiet", action="store_true", help="print nothing on success")
    return p


def run(args) -> int:
    """Execute a parsed ``compute`` command; returns the process exit status."""
    from . import run_op
    from .io.run_archive import save_run
    from .io.tensor_files import load_tensor, split_path_key
    from .registry import get_spec

    try:
        spec = get_spec(args.op)
        if not args.out.lower().endswith((".npz", ".safetensors")):
            raise ParamError(f"--out {args.out!r}: must end in .npz or .safetensors (a run holds several tensors)")
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
        text = " ".join(str(exc).split("\n")[0].split())
        print(f"opscope compute: error: {text}", file=sys.stderr)
        return EXIT_BAD_INPUT
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
