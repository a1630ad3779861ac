"""``stationlink hub operator ...`` and ``stationlink hub audit``: the console's accounts.

``operator add NAME --role admin|finance|viewer`` asks for the password twice on the
terminal (``--password-stdin``: one line from standard input, for scripts; ``--generate``:
a one-time password printed once on stdout, to be changed at the first sign-in);
``operator list|disable|enable|set-role|set-lang|reset-password`` (``--lang`` / ``set-lang``:
the operator's console language, ``zh``, ``en`` or ``default`` for the server's);
``audit`` lists the audit trail
(``--json``). Every change is audited with the actor ``cli:<system user>``. Passwords are
stored only as argon2id hashes (:mod:`stationlink.hub.console.passwords`). Registered on the
``hub`` group by :mod:`stationlink.cli.hub`.
"""

from __future__ import annotations

import getpass
import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from typing import Any

import click

from ..errors import OperatorError, StorageError
from ..hub.console.backend import console_store_for
from ..hub.console.passwords import Passwords, check_new_password, generate_password
from ..hub.console.roles import ROLE_NAMES, parse_role
from ..hub.console.store import Actor, ConsoleStore, Operator
from ..hub.stores import open_hub_store, sqlite_path
from ..i18n import LANGS
from .common import echo_json, handles_errors

DB = click.option("--db", "db_path", required=True, metavar="DB",
                  help="Hub database: a SQLite file path (or sqlite:///abs/path) or a "
                       "PostgreSQL URL postgresql://user@host[:port]/dbname.")
ROLE = click.Choice(ROLE_NAMES)
#: An operator's console language; ``default``: the server's (``hub serve --lang``).
LANG = click.Choice([*LANGS, "default"])


def cli_actor() -> Actor:
    try:
        user = getpass.getuser()
    except (OSError, KeyError):  # no user name in this environment
        user = "unknown"
    return Actor(f"cli:{user}")


@contextmanager
def console(db_path: str, *, create: bool = False) -> Iterator[ConsoleStore]:
    """The console store of ``--db``. A SQLite hub file must exist unless ``create`` (only
    ``operator add`` may start a hub file); an existing one is migrated to the console
    tables if it predates them."""
    path = sqlite_path(db_path)
    if not create and path is not None and not path.is_file():
        raise StorageError(f"{path}: no such hub database file")
    hub_store = open_hub_store(db_path)
    try:
        yield console_store_for(hub_store)
    finally:
        hub_store.close()


def read_password(password_stdin: bool, generate: bool) -> tuple[str, bool]:
    """(password, one-time?) from the options: stdin, generated, or asked twice."""
    if password_stdin and generate:
        raise click.UsageError("--password-stdin and --generate exclude each other")
    if generate:
        return generate_password(), True
    if password_stdin:
        line = sys.stdin.readline().rstrip("\r\n")
        return check_new_password(line), False
    typed: str = click.prompt("Password", hide_input=True, confirmation_prompt=True)
    return check_new_password(typed), False


def operator_json(op: Operator) -> dict[str, Any]:
    return {**op.snapshot(), "lang": op.lang, "created_at": op.created_at.isoformat(),
            "password_changed_at": op.password_changed_at.isoformat(),
            "disabled_at": None if op.disabled_at is None else op.disabled_at.isoformat()}


def show_one_time(name: str, password: str) -> None:
    click.echo(password)
    click.echo(f"one-time password of {name} (shown once; to be changed at the first "
               "sign-in)", err=True)


@click.group("operator")
def operator() -> None:
    """Console operator accounts (separate from station tokens)."""


@operator.command("add")
@DB
@click.argument("name")
@click.option("--role", type=ROLE, required=True, help="viewer reads; finance also closes "
              "months and makes notices; admin may do everything.")
@click.option("--password-stdin", is_flag=True, help="Read the password from stdin.")
@click.option("--generate", is_flag=True,
              help="Generate a one-time password (printed once; changed at first sign-in).")
@click.option("--lang", type=LANG, default="default", show_default=True,
              help="The operator's console language (default: the server's, hub serve --lang).")
@handles_errors
def operator_add(db_path: str, name: str, role: str, password_stdin: bool,
                 generate: bool, lang: str) -> None:
    """Add an operator; the password is asked twice unless given otherwise."""
    password, one_time = read_password(password_stdin, generate)
    hashed = Passwords().hash(password)
    with console(db_path, create=True) as store:
        store.add_operator(name, parse_role(role), hashed, must_change_password=one_time,
                           now=datetime.now(UTC), actor=cli_actor(),
                           lang=None if lang == "default" else lang)
    if one_time:
        show_one_time(name, password)
    click.echo(f"operator {name} added ({role})", err=True)


@operator.command("list")
@DB
@click.option("--json", "as_json", is_flag=True)
@handles_errors
def operator_list(db_path: str, as_json: bool) -> None:
    """List the operators (never a password or hash)."""
    with console(db_path) as store:
        docs = [operator_json(op) for op in store.operators()]
    if as_json:
        echo_json(docs)
        return
    for d in docs:
        state = "enabled" if d["enabled"] else f"disabled {d['disabled_at']}"
        extra = ", one-time password to change" if d["must_change_password"] else ""
        click.echo(f"{d['name']}  {d['role']}  {state}{extra}  lang {d['lang'] or 'default'}"
                   f"  created {d['created_at']}")


def _change(db_path: str, what: Callable[[ConsoleStore], Operator], message: str) -> None:
    with console(db_path) as store:
        what(store)
    click.echo(message)


def _enabled_command(verb: str, enabled: bool, doc: str) -> click.Command:
    """``operator disable`` / ``operator enable``: one command each, the same code."""

    @operator.command(verb, help=doc)
    @DB
    @click.argument("name")
    @handles_errors
    def command(db_path: str, name: str) -> None:
        _change(db_path, lambda s: s.set_enabled(name, enabled, now=datetime.now(UTC),
                                                 actor=cli_actor()), f"operator {name} {verb}d")

    return command


operator_disable = _enabled_command(
    "disable", False, "Disable an operator: no more sign-ins, every session ends.")
operator_enable = _enabled_command("enable", True, "Enable a disabled operator again.")


@operator.command("set-role")
@DB
@click.argument("name")
@click.argument("role", type=ROLE)
@handles_errors
def operator_set_role(db_path: str, name: str, role: str) -> None:
    """Change an operator's role (effective at their next request)."""
    _change(db_path, lambda s: s.set_role(name, parse_role(role), now=datetime.now(UTC),
                                          actor=cli_actor()), f"operator {name} is now {role}")


@operator.command("set-lang")
@DB
@click.argument("name")
@click.argument("lang", type=LANG)
@handles_errors
def operator_set_lang(db_path: str, name: str, lang: str) -> None:
    """Set an operator's console language (zh, en, or default: the server's)."""
    _change(db_path, lambda s: s.set_lang(name, None if lang == "default" else lang,
                                          now=datetime.now(UTC), actor=cli_actor()),
            f"operator {name}: language {lang}")


@operator.command("reset-password")
@DB
@click.argument("name")
@click.option("--password-stdin", is_flag=True, help="Read the password from stdin.")
@click.option("--generate", is_flag=True,
              help="Generate a one-time password (printed once; changed at first sign-in).")
@handles_errors
def operator_reset_password(db_path: str, name: str, password_stdin: bool,
                            generate: bool) -> None:
    """Set a new password for an operator; their sessions end."""
    with console(db_path) as store:
        if store.operator(name) is None:
            raise OperatorError(f"no operator {name!r}")
        password, one_time = read_password(password_stdin, generate)
        store.set_password(name, Passwords().hash(password), must_change_password=one_time,
                           now=datetime.now(UTC), actor=cli_actor())
    if one_time:
        show_one_time(name, password)
    click.echo(f"password of {name} reset", err=True)


@click.command("audit")
@DB
@click.option("--limit", type=click.IntRange(1, 100_000), default=200, show_default=True,
              help="How many of the newest entries.")
@click.option("--json", "as_json", is_flag=True)
@handles_errors
def audit(db_path: str, limit: int, as_json: bool) -> None:
    """The console's audit trail, newest first: who changed what, when, before and after."""
    with console(db_path) as store:
        entries = store.audit(limit)
    if as_json:
        echo_json([e.as_json() for e in entries])
        return
    for e in entries:
        click.echo(f"{e.at.isoformat()}  {e.actor}  {e.action}  {e.target or '-'}"
                   + (f"  from {e.address}" if e.address else ""))
