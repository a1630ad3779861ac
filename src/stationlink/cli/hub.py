"""``stationlink hub ...``: run the hub, manage station tokens, read what it holds.

``serve`` runs the HTTP API until SIGINT/SIGTERM; ``token create/list/revoke`` manage the
per-station bearer tokens (shown once, stored hashed); ``status`` shows each station's last
contact, backlog, duplicates and conflicts and last device status; ``conflicts`` lists the
conflicting duplicates; ``export`` writes the transactions interchange
format (on-time records of a closed month by default); ``late`` lists late records;
``migrate`` brings a hub database to this version's schema; ``copy`` moves a hub into an
empty one (SQLite <-> PostgreSQL, :mod:`stationlink.hub.copy`).

``--db`` names the store (:func:`stationlink.hub.stores.open_hub_store`): a SQLite file path
(or ``sqlite:///path``) or a ``postgresql://`` URL.
"""

from __future__ import annotations

import csv
import sys
from contextlib import closing
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import click

from ..errors import ConfigError
from ..hub.closing import DEFAULT_CLOSE_DAY
from ..hub.export import LATE_COLUMNS, hub_transactions, late_items
from ..hub.ratelimit import DEFAULT_RATE, parse_rate
from ..hub.stores import describe, migrate_hub, open_hub_store, sqlite_path
from ..hub.tokens import hash_token, new_token, write_token_file
from ..i18n import DEFAULT_LANG, LANGS
from .common import echo_json, export_transactions, handles_errors


def hub_db(ctx: click.Context, param: click.Parameter, value: str | None
           ) -> Path | str | None:
    """Click callback for a ``--db``/``--hub`` that is read: a ``postgresql://`` URL as
    given, or an existing SQLite file (a plain path or ``sqlite:///path``) as a Path."""
    if value is None:
        return None
    try:
        path = sqlite_path(value)
    except ConfigError as exc:
        raise click.BadParameter(str(exc), ctx, param) from exc
    if path is None:
        return value
    existing = click.Path(exists=True, dir_okay=False, path_type=Path)
    converted: Path = existing.convert(str(path), param, ctx)
    return converted

DB = click.option("--db", "db_path", required=True, metavar="DB",
                  help="Hub database: a SQLite file path (or sqlite:///abs/path) or a "
                       "PostgreSQL URL postgresql://user@host[:port]/dbname.")


@click.group()
def hub() -> None:
    """The central hub that receives every station's transactions."""


@hub.command()
@DB
@click.option("--bind", default="127.0.0.1:8400", show_default=True, help="host:port")
@click.option("--close-day", type=int, default=DEFAULT_CLOSE_DAY, show_default=True,
              help="Month M closes at the end of this day of month M+1.")
@click.option("--rate-limit", default=f"{DEFAULT_RATE:g}/s", show_default=True,
              help="Requests per station and process: N/s, N/min or off (429 + Retry-After "
                   "beyond it; bursts of 2 seconds' worth).")
@click.option("--workers", type=click.IntRange(min=1), default=1, show_default=True,
              help="Worker processes sharing the listening socket (PostgreSQL only; a dead "
                   "worker is replaced; rate limits are per worker).")
@click.option("--tls-cert", type=click.Path(dir_okay=False, path_type=Path), default=None,
              help="PEM certificate (chain): serve HTTPS directly (with --tls-key).")
@click.option("--tls-key", type=click.Path(dir_okay=False, path_type=Path), default=None,
              help="PEM private key of --tls-cert.")
@click.option("--lang", type=click.Choice(LANGS), default=DEFAULT_LANG,
              envvar="STATIONLINK_LANG", show_default=True, show_envvar=True,
              help="The console's default language (an operator's own setting wins).")
@click.option("--pdf-font", type=click.Path(dir_okay=False, path_type=Path), default=None,
              envvar="STATIONLINK_PDF_FONT", show_envvar=True,
              help="A TrueType/OpenType font or collection (.ttf/.ttc) with Chinese "
                   "characters for the statements' PDF; default: the first found of the "
                   "well-known locations (docs/console.md), else no PDF.")
@handles_errors
def serve(db_path: str, bind: str, close_day: int, rate_limit: str, workers: int,
          tls_cert: Path | None, tls_key: Path | None, lang: str,
          pdf_font: Path | None) -> None:
    """Serve the hub API until SIGINT or SIGTERM."""
    from ..hub.server import serve as run

    def ready(url: str) -> None:
        click.echo(f"hub listening on {url}", err=True)

    run(db_path, bind, close_day=close_day, on_ready=ready, rate_limit=parse_rate(rate_limit),
        tls_cert=tls_cert, tls_key=tls_key, workers=workers, lang=lang, pdf_font=pdf_font)
    click.echo("hub stopped", err=True)


@hub.command()
@DB
@handles_errors
def migrate(db_path: str) -> None:
    """Create or upgrade the hub database's schema (idempotent; run before 'hub serve').

    A PostgreSQL hub never migrates on its own: 'hub serve' refuses a schema that is behind.
    """
    click.echo(migrate_hub(db_path))


@hub.command("copy")
@click.option("--from", "source", required=True, metavar="DB", callback=hub_db,
              help="The hub to copy: a SQLite file or a postgresql:// URL (read only).")
@click.option("--to", "target", required=True, metavar="DB",
              help="An empty hub: a SQLite file (created) or a postgresql:// URL (migrated "
                   "first with 'hub migrate').")
@click.option("--batch", type=click.IntRange(min=1), default=5000, show_default=True,
              help="Rows per batch.")
@click.option("--json", "as_json", is_flag=True)
@handles_errors
def copy_cmd(source: str | Path, target: str, batch: int, as_json: bool) -> None:
    """Copy every table of a hub into an empty one (SQLite <-> PostgreSQL), verified.

    One transaction on the target; counts and a content checksum per table are compared
    before it commits. A non-empty target is refused.
    """
    from ..hub.copy import copy_hub

    tty = sys.stderr.isatty()

    def progress(table: str, done: int, total: int) -> None:
        if tty:
            click.echo(f"\r{table}: {done}/{total}", err=True, nl=done >= total)

    tables = copy_hub(source, target, batch=batch, progress=progress)
    if as_json:
        echo_json({"from": describe(source), "to": describe(target),
                   "tables": [{"table": t.table, "rows": t.rows, "checksum": t.checksum}
                              for t in tables]})
        return
    for t in tables:
        click.echo(f"{t.table}: {t.rows} rows copied, checksum {t.checksum[:16]} verified")
    click.echo(f"{describe(source)} -> {describe(target)}: done")


@hub.group()
def token() -> None:
    """Per-station bearer tokens."""


@token.command("create")
@DB
@click.option("--station", required=True, help="Station id the token may write for.")
@click.option("-o", "--output", type=click.Path(dir_okay=False, path_type=Path), default=None,
              help="Write the token to this file (created readable by the owner only) "
                   "instead of printing it.")
@handles_errors
def token_create(db_path: str, station: str, output: Path | None) -> None:
    """Create a token for a station; it is printed (or written) once and stored hashed."""
    token_id, value = new_token()
    with closing(open_hub_store(db_path)) as store:
        store.add_token(token_id, station, hash_token(value), datetime.now(UTC))
    if output is None:
        click.echo(value)
        click.echo(f"token {token_id} for station {station} (shown once; stored hashed)",
                   err=True)
        return
    write_token_file(output, value)
    click.echo(f"token {token_id} for station {station} written to {output} (owner-only; "
               "stored hashed)", err=True)


@token.command("list")
@DB
@click.option("--json", "as_json", is_flag=True)
@handles_errors
def token_list(db_path: str, as_json: bool) -> None:
    """List tokens (ids only; the secrets are not stored)."""
    with closing(open_hub_store(db_path, create=False)) as store:
        tokens = store.tokens()
    rows = [{"token_id": t.token_id, "station_id": t.station_id,
             "created_at": t.created_at.isoformat(),
             "revoked_at": None if t.revoked_at is None else t.revoked_at.isoformat()}
            for t in tokens]
    if as_json:
        echo_json(rows)
        return
    for r in rows:
        state = "active" if r["revoked_at"] is None else f"revoked {r['revoked_at']}"
        click.echo(f"{r['token_id']}  {r['station_id']}  created {r['created_at']}  {state}")


@token.command("revoke")
@DB
@click.argument("token_id")
@handles_errors
def token_revoke(db_path: str, token_id: str) -> None:
    """Revoke a token by its id."""
    with closing(open_hub_store(db_path, create=False)) as store:
        done = store.revoke_token(token_id, datetime.now(UTC))
    if not done:
        raise click.ClickException(f"no active token {token_id!r}")
    click.echo(f"revoked {token_id}")


@hub.command()
@DB
@click.option("--json", "as_json", is_flag=True)
@handles_errors
def status(db_path: str, as_json: bool) -> None:
    """Each station's last contact, high-water mark, backlog and last device status."""
    with closing(open_hub_store(db_path, create=False)) as store:
        stations = store.overview()
        if getattr(store, "read_only", False):
            click.echo(f"{db_path}: read-only (read-only media); shown as stored, nothing "
                       "written", err=True)
    docs: list[dict[str, Any]] = [{
        "station_id": s.station_id, "high_water_mark": s.high_water_mark,
        "last_contact": None if s.last_contact is None else s.last_contact.isoformat(),
        "records": s.records, "late": s.late, "duplicates": s.duplicates,
        "conflicts": s.conflicts,
        "backlog": None if s.agent_status is None else s.agent_status.get("backlog"),
        "agent_status": s.agent_status,
        "agent_status_at": None if s.agent_status_at is None else s.agent_status_at.isoformat(),
        "devices": s.devices,
    } for s in stations]
    if as_json:
        echo_json(docs)
        return
    for d in docs:
        backlog = "unknown" if d["backlog"] is None else d["backlog"]
        click.echo(f"{d['station_id']}: last contact {d['last_contact'] or 'never'}, "
                   f"hwm {d['high_water_mark']}, {d['records']} records ({d['late']} late), "
                   f"backlog {backlog}")
        if d["conflicts"]:
            click.echo(f"  {d['conflicts']} conflict(s): duplicates whose content differs "
                       "from the record held; see 'stationlink hub conflicts --db "
                       f"{describe(db_path)} --station {d['station_id']}'")
        for dev in d["devices"]:
            click.echo(f"  {dev['terminal_id']}: at {dev['wall_time']} paper "
                       f"{'ok' if dev['paper_ok'] else 'OUT'}, signal {dev['signal_dbm']} dBm, "
                       f"unacked {dev['journal_unacked']}, boot {dev['boot_id']}")


@hub.command("conflicts")
@DB
@click.option("--station", default=None, help="Only this station's conflicts.")
@click.option("--json", "as_json", is_flag=True)
@handles_errors
def conflicts_cmd(db_path: str, station: str | None, as_json: bool) -> None:
    """List conflicting duplicates: a new seq repeating a held identity with other content.

    Both records are kept; only the one held first is exported. Card values are never shown.
    """
    from ..hub.conflicts import conflict_to_json

    with closing(open_hub_store(db_path, create=False)) as store:
        items = store.conflicts(station)
    docs = [conflict_to_json(c) for c in items]
    if as_json:
        echo_json(docs)
        return
    if not docs:
        click.echo("no conflicts")
        return
    for d in docs:
        click.echo(f"{d['station_id']} seq {d['seq']} (received {d['received_at']}) repeats "
                   f"{d['terminal_id']} {d['ident']} held at seq {d['duplicate_of']}:")
        for f in d["fields"]:
            if f in d["held"]:
                click.echo(f"  {f}: {d['held'][f]} -> {d['sent'][f]}")
            else:
                click.echo(f"  {f}: (differs)")


@hub.command("export")
@DB
@click.option("--month", default=None, help="YYYY-MM (CST); default: everything.")
@click.option("--format", "fmt", type=click.Choice(["csv"]), default="csv", show_default=True)
@click.option("--include-late", is_flag=True, help="Fold in records that arrived late.")
@click.option("-o", "--output", type=click.Path(dir_okay=False, path_type=Path), default=None)
@handles_errors
def export_cmd(db_path: str, month: str | None, fmt: str, include_late: bool,
               output: Path | None) -> None:
    """Write what the hub holds in the transactions interchange format."""
    rows = list(hub_transactions(db_path, month, include_late=include_late))
    export_transactions(rows, output)


@hub.command("late")
@DB
@click.option("--month", required=True, help="YYYY-MM (CST).")
@click.option("--json", "as_json", is_flag=True)
@handles_errors
def late_cmd(db_path: str, month: str, as_json: bool) -> None:
    """List records of MONTH that arrived after it closed, for adjustment (CSV)."""
    items = late_items(db_path, month)
    if as_json:
        echo_json([i.as_row() for i in items])
        return
    writer = csv.DictWriter(sys.stdout, fieldnames=LATE_COLUMNS, lineterminator="\n")
    writer.writeheader()
    for item in items:
        writer.writerow(item.as_row())


def _register_console_commands() -> None:
    from .hub_console import audit, operator
    from .hub_stations import stations

    hub.add_command(operator)
    hub.add_command(audit)
    hub.add_command(stations)


_register_console_commands()
