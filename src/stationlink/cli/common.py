"""Shared CLI plumbing: library errors become ``click.ClickException`` with stable exit codes.

Exit codes (also in ``docs/cli.md``): 0 success, 1 generic library error, 2 usage or
configuration error, 3 bad input rows, 4 bad policy, 5 protocol error, 6 link error,
7 terminal error reply, 8 storage error, 9 hub error, 10 simulator error.

Output helpers shared by the command groups: JSON on stdout, messages on stderr, and the
transactions interchange file (stdout or ``-o FILE``) of the ``export`` commands.
"""

from __future__ import annotations

import functools
import json
import os
import sys
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any, ParamSpec, TypeVar

import click

from ..errors import ConfigError, StationLinkError
from ..interchange import Transaction, write_transactions

P = ParamSpec("P")
R = TypeVar("R")


class LibraryError(click.ClickException):
    """A :class:`StationLinkError` shown to the user with its own exit code.

    ``LibraryError(exc)`` builds an instance of a subclass whose ``exit_code`` is
    ``exc.exit_code`` (click reads the exit code from the class).
    """

    _by_code: dict[int, type[LibraryError]] = {}

    def __new__(cls, exc: StationLinkError) -> LibraryError:
        code = exc.exit_code
        sub = cls._by_code.get(code)
        if sub is None:
            sub = type(f"LibraryError{code}", (cls,), {"exit_code": code})
            cls._by_code[code] = sub
        return super().__new__(sub)

    def __init__(self, exc: StationLinkError) -> None:
        super().__init__(str(exc))


@contextmanager
def library_errors() -> Iterator[None]:
    """Turn any StationLinkError raised inside into a LibraryError."""
    try:
        yield
    except StationLinkError as exc:
        raise LibraryError(exc) from exc


def handles_errors(func: Callable[P, R]) -> Callable[P, R]:
    """Decorator form of :func:`library_errors` for click command callbacks."""

    @functools.wraps(func)
    def wrapper(*args: P.args, **kwargs: P.kwargs) -> R:
        with library_errors():
            return func(*args, **kwargs)

    return wrapper


def echo_json(obj: Any) -> None:
    """One JSON document on stdout, UTF-8, keys in insertion order."""
    click.echo(json.dumps(obj, ensure_ascii=False))


def stderr(message: str) -> None:
    click.echo(message, err=True)


def env_card_key(env: str) -> bytes | None:
    """The card-token key given in hex in the environment variable ``env``; ``None`` when it
    is unset or empty. ``ConfigError`` (naming the variable) when it is not hex."""
    text = os.environ.get(env, "")
    if not text:
        return None
    try:
        key = bytes.fromhex(text)
    except ValueError as exc:
        raise ConfigError(f"${env} is not hex: {exc}") from exc
    if not key:
        raise ConfigError(f"${env} is empty")
    return key


def stdout_is_tty() -> bool:
    return sys.stdout.isatty()


def export_transactions(rows: Iterable[Transaction], output: Path | None) -> None:
    """Write ``rows`` in the transactions interchange format to stdout, or to ``output``
    (UTF-8, replacing it) and then say on stderr how many were written there."""
    if output is None:
        write_transactions(rows, sys.stdout)
        return
    with open(output, "w", encoding="utf-8", newline="") as out:
        n = write_transactions(rows, out)
    click.echo(f"wrote {n} transactions to {output}", err=True)
