"""One base class for every error a user can act on, and one way for a stage to report it.

Library code raises a subclass of `IfdsedError` whose message names the file, line or parameter at fault and
says what to do. A stage script runs its `main` through `run_stage`, which prints such an error as one line,
``<stage>: <message>``, without a traceback, and exits with status 1. Anything else is a bug and keeps its
traceback. Work already written stays written: every output is written atomically (`ifdsed.io.atomic`).
"""
from __future__ import annotations

import sys
from typing import Callable, NoReturn


class IfdsedError(Exception):
    """Something the user gave or asked for cannot be used; the message says what and where."""


class InputError(IfdsedError, ValueError):
    """Something the user gave (audio, soundbank, manifest, tables) cannot be used; the message names the file."""


class AudioError(InputError):
    """An audio file cannot be used; the message starts with the file's path."""


def run_stage(name: str, main: Callable[[], int | None]) -> NoReturn:
    """Run a stage's `main` and exit: its return value is the exit status (None: 0); an `IfdsedError` is
    printed as ``<name>: <message>`` on stderr, with exit status 1."""
    try:
        status = main()
    except IfdsedError as error:
        sys.exit(f"{name}: {error}")
    sys.exit(status or 0)


def first_line(error: BaseException) -> str:
    """The first line of an error's message (its class name when it has none): one line for the user."""
    text = str(error).strip()
    return text.splitlines()[0] if text else type(error).__name__


def named(error: BaseException, path) -> str:
    """The error's first line, prefixed with `path` unless it already starts with it (the library's own errors
    name their file; an OSError or a third-party one may not)."""
    message = first_line(error)
    return message if message.startswith(str(path)) else f"{path}: {message}"
