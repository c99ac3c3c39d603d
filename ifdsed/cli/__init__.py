"""The `ifdsed` command: detect, export, score and compare, one subcommand each.

    ifdsed predict PATH... --model best.pt --out events.tsv     detect sound events in audio files
    ifdsed export --model best.pt --out detector.onnx           a checkpoint as one ONNX graph
    ifdsed score --truth T.tsv --predictions P.tsv --out m.json score DCASE-format detections
    ifdsed compare [--baseline NAME] [--experiments NAME ...]   the paper's tables across DVC experiments

`python -m ifdsed ...` is the same command. Each subcommand is one module here (`ifdsed.cli.<name>`), whose
docstring says what it reads and writes; it has `add_arguments(parser)` and `run(args)`, which returns the exit
status. Only the chosen subcommand's module is imported, so `ifdsed --help` and `ifdsed score` do not load torch.

Exit status: 0 on success, 2 for a usage error (argparse), 1 for input that cannot be used: an `IfdsedError` is
printed as one line, ``<subcommand>: <message>``, without a traceback (as `ifdsed.errors.run_stage` does for the
DVC stages). `predict` also exits with 2 when it skipped a file (its docstring).
"""
from __future__ import annotations

import argparse
import ast
import importlib
import importlib.util
import sys
from pathlib import Path
from typing import Sequence

from ifdsed.errors import IfdsedError

COMMANDS = ("predict", "export", "score", "compare")


def warn_training_data(command: str, training_data, model: Path) -> None:
    """The one stderr line, ``<command>: <warning>``, that a model trained on the embedded generated data (or on
    unknown data) gets from `ifdsed.models.training_data.warning`; nothing for a model trained on real data."""
    from ifdsed.models.training_data import warning
    note = warning(training_data, model)
    if note is not None:
        print(f"{command}: {note}", file=sys.stderr)


def summary(command: str) -> str:
    """The first line of a subcommand's docstring, read from its file without importing it (nor what it imports)."""
    source = Path(importlib.util.find_spec(f"{__name__}.{command}").origin).read_text()
    return ast.get_docstring(ast.parse(source)).split("\n")[0]


def build_parser(command: str | None = None) -> argparse.ArgumentParser:
    """The `ifdsed` parser: every subcommand with its summary, and the options of `command` (the one chosen)."""
    parser = argparse.ArgumentParser(prog="ifdsed", description=__doc__.split("\n")[0],
                                     epilog="`ifdsed COMMAND --help` lists the options of one command. Exit status: "
                                            "0 on success, 2 for a usage error, 1 for input that cannot be used.")
    commands = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)
    for name in COMMANDS:
        line = summary(name)
        sub = commands.add_parser(name, help=line, description=line)
        if name == command:
            module = importlib.import_module(f"{__name__}.{name}")
            module.add_arguments(sub)
            sub.set_defaults(run=module.run)
    return parser


def parse_args(argv: Sequence[str] | None = None) -> argparse.Namespace:
    """`argv` (default: the command line) parsed; exits with status 2 on a usage error, 0 after --help."""
    argv = sys.argv[1:] if argv is None else list(argv)
    command = next((arg for arg in argv if not arg.startswith("-")), None)   # `ifdsed` has no option with a value
    return build_parser(command).parse_args(argv)


def main(argv: Sequence[str] | None = None) -> int:
    """Run one subcommand; its exit status (1, with one line on stderr, for an `IfdsedError`)."""
    args = parse_args(argv)
    try:
        return args.run(args) or 0
    except IfdsedError as error:
        print(f"{args.command}: {error}", file=sys.stderr)
        return 1
