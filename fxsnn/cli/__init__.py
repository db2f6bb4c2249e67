"""The ``fxsnn`` command line.

Each subcommand lives in its own module with two functions:

- ``register(subparsers)`` adds its parser and calls ``parser.set_defaults(run=run, render=render)``;
- ``run(args) -> dict`` does the work and returns the results as a JSON-serialisable dict;
- ``render(result) -> str`` (optional) turns the dict into text for humans;
- ``exit_status(result) -> int`` (optional) the exit status after the result is printed (a sweep with failed
  runs prints its summary and exits 1).

Every subcommand gets ``--json``: then exactly one JSON object (the dict from ``run``) goes to stdout.
fxsnn's own errors (:class:`fxsnn.errors.FxsnnError` and its subclasses) become one line on stderr,
``fxsnn: error: ...``, and a non-zero exit status. Any other exception is a bug in fxsnn: its traceback is
shown, followed by one line saying so, and the exit status is 70 (``EX_SOFTWARE``).
"""

from __future__ import annotations

import argparse
import importlib
import json
import os
import sys
import traceback

from ..errors import FxsnnError

#: Subcommand modules, in the order ``fxsnn --help`` lists them.
COMMANDS = ["fxsnn.cli.info", "fxsnn.cli.simulate", "fxsnn.cli.hdl", "fxsnn.cli.init", "fxsnn.cli.train",
            "fxsnn.cli.eval", "fxsnn.cli.sweep", "fxsnn.cli.vrd", "fxsnn.cli.report"]


#: Exit status of a command that failed through a bug rather than a user error (sysexits.h EX_SOFTWARE).
EXIT_BUG = 70


def build_parser() -> argparse.ArgumentParser:
    from .._version import __version__

    parser = argparse.ArgumentParser(
        prog="fxsnn",
        description="Spiking neural networks with E:I balance, from training to bit-exact FPGA cores.",
    )
    parser.add_argument("--version", action="version", version=f"fxsnn {__version__}")
    subparsers = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)
    for name in COMMANDS:
        importlib.import_module(name).register(subparsers)
    for sub in subparsers.choices.values():
        _add_json_flag(sub)
    return parser


def _add_json_flag(parser: argparse.ArgumentParser) -> None:
    """Give ``parser`` (and nested subcommands) a ``--json`` flag."""
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            for sub in action.choices.values():
                _add_json_flag(sub)
            return
    if not any("--json" in action.option_strings for action in parser._actions):
        parser.add_argument("--json", action="store_true", help="print one JSON object with the results")


def _default_render(result: dict) -> str:
    return "\n".join(f"{key}: {value}" for key, value in result.items())


def main(argv=None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if not hasattr(args, "run"):
        parser.error(f"'{args.command}' needs a subcommand")
    try:
        result = args.run(args)
    except FxsnnError as exc:
        message = str(exc) or type(exc).__name__
        print(f"fxsnn: error: {message}", file=sys.stderr)
        return exc.exit_code
    except KeyboardInterrupt:
        print("fxsnn: interrupted", file=sys.stderr)
        return 130
    except Exception:  # a bug, not a user error: say so, with the traceback
        traceback.print_exc()
        print(
            f"fxsnn: internal error in '{args.command}': this is a bug in fxsnn; please report it with the "
            "traceback above",
            file=sys.stderr,
        )
        return EXIT_BUG
    if args.json:
        print(json.dumps(result, sort_keys=False))
    else:
        print(getattr(args, "render", _default_render)(result))
    exit_status = getattr(args, "exit_status", None)
    return exit_status(result) if exit_status is not None else 0


def entry() -> None:
    """Console-script entry point: ``sys.exit(main())``, quiet when the reader of stdout goes away."""
    try:
        status = main()
        sys.stdout.flush()
    except BrokenPipeError:
        # `fxsnn ... | head`: the reader closed the pipe. Point stdout at /dev/null so the interpreter's
        # final flush does not raise again, and exit as a killed-by-SIGPIPE process would (128 + 13).
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        status = 141
    sys.exit(status)
