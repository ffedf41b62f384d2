"""The xbuf command line: ``python -m xbuf check|format ...``.

``python -m xbuf check 'module:expression'`` imports the module, evaluates
the expression in its namespace and runs :func:`xbuf.check` on the result::

    $ python -m xbuf check 'numpy:zeros((3, 4))[::2]'
    conforms: 8 requests answered, 64 refused
    $ python -m xbuf check 'ctypes:(c_int * 3)()'
    request FULL_RO: request asked for STRIDES but the exporter gave no strides

It prints one line per problem, or a "conforms" line, and exits 0 when the
object conforms, 1 when it has problems, and 2 on a usage error (a bad
argument, a module that does not import, an expression that fails or gives
an object without a buffer).

``python -m xbuf format FORMAT...`` prints what one item of each PEP 3118
format holds: its canonical form, itemsize, alignment and fields.
"""

from __future__ import annotations

import argparse
import importlib
import sys
from typing import Any, NoReturn, Sequence

from . import Format, check


class UsageError(Exception):
    """A problem with the command line rather than with the object."""


def _evaluate(target: str) -> Any:
    module_name, colon, expression = target.partition(":")
    if not colon or not module_name or not expression:
        raise UsageError(f"expected 'module:expression', got {target!r}")
    try:
        module = importlib.import_module(module_name)
    except Exception as exc:  # any import failure is the argument's fault
        raise UsageError(f"cannot import {module_name!r}: {exc}") from exc
    try:
        return eval(expression, dict(vars(module)))  # noqa: S307 -- evaluating is the point
    except Exception as exc:
        raise UsageError(f"{expression!r} failed in {module_name}: "
                         f"{type(exc).__name__}: {exc}") from exc


def _check(target: str) -> int:
    obj = _evaluate(target)
    try:
        problems, answered, refused = check(obj, summary=True)
    except TypeError as exc:
        raise UsageError(f"{target}: {exc}") from exc
    for problem in problems:
        print(problem)
    if problems:
        return 1
    print(f"conforms: {answered} requests answered, {refused} refused")
    return 0


def _describe(fmt: Format, indent: str = "  ") -> list[str]:
    lines = []
    for name, offset, field in fmt.fields:
        lines.append(f"{indent}{offset:>6}  {name}: {field}  ({field.kind}, "
                     f"{field.itemsize} byte{'s' if field.itemsize != 1 else ''})")
    return lines


def _format(texts: Sequence[str]) -> int:
    for text in texts:
        try:
            fmt = Format(text)
        except ValueError as exc:
            raise UsageError(f"format {text!r}: {exc}") from exc
        print(text)
        print(f"  canonical {fmt}")
        print(f"  kind {fmt.kind}, itemsize {fmt.itemsize}, alignment {fmt.alignment}")
        for line in _describe(fmt):
            print(line)
    return 0


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m xbuf",
                                     description="Inspect PEP 3118 buffers and formats.")
    commands = parser.add_subparsers(dest="command", required=True)
    check_cmd = commands.add_parser(
        "check", help="check that an object exports its buffer by the rules",
        description="Evaluate EXPRESSION in MODULE's namespace and check the object's "
                    "buffer exports against PEP 3118. Exit status: 0 conforms, 1 problems, "
                    "2 usage error.")
    check_cmd.add_argument("target", metavar="MODULE:EXPRESSION",
                           help="e.g. 'numpy:zeros((3, 4))[::2]' or 'builtins:bytearray(8)'")
    format_cmd = commands.add_parser("format", help="describe PEP 3118 formats")
    format_cmd.add_argument("formats", metavar="FORMAT", nargs="+")
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = _parser()
    args = parser.parse_args(argv)
    try:
        if args.command == "check":
            return _check(args.target)
        return _format(args.formats)
    except UsageError as exc:
        parser.exit(2, f"{parser.prog} {args.command}: {exc}\n")


def _run() -> NoReturn:
    sys.exit(main())


if __name__ == "__main__":
    _run()
