"""``stationlink buffer ...``: inspect and export the station's local transaction buffer.

``export --format csv`` writes exactly the reward engine's transactions interchange format
(the effective view: reversals folded, unresolved unknowns left out); ``stats`` shows counts,
the oldest unsynced record, the backlog and the quarantine (times in CST); ``release`` lets a
quarantined batch be uploaded again. Every command refuses a file that is not a buffer (a hub
database, any other file, a buffer of a newer schema version) with exit code 8 and leaves it
byte-identical (:func:`stationlink.buffer.schema.check_buffer_file`).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import click

from ..buffer import Buffer, default_path
from ..clock import SystemClock, TimeSource
from ..timetext import when
from .common import echo_json, export_transactions, handles_errors

#: The wall clock of ``release`` (the time recorded); tests may replace it.
CLOCK: TimeSource = SystemClock()

DB_OPTION = click.option(
    "--db", "db_path", type=click.Path(dir_okay=False, path_type=Path), default=None,
    help="Buffer file (default: the user data directory's stationlink/buffer.sqlite).",
)


def _open(db_path: Path | None) -> Buffer:
    return Buffer.open(db_path or default_path(), create=False)


@click.group()
def buffer() -> None:
    """The station PC's local transaction buffer."""


@buffer.command("export")
@DB_OPTION
@click.option("--format", "fmt", type=click.Choice(["csv"]), default="csv", show_default=True)
@click.option("-o", "--output", type=click.Path(dir_okay=False, path_type=Path), default=None,
              help="Write here instead of stdout.")
@handles_errors
def export_cmd(db_path: Path | None, fmt: str, output: Path | None) -> None:
    """Write the buffer's transactions in the interchange format."""
    with _open(db_path) as buf:
        rows = buf.transactions()
    export_transactions(rows, output)


def _lines(stats: dict[str, Any]) -> list[str]:
    oldest = stats["oldest_unsynced"]
    lines = [
        f"station:              {stats['station_id']}",
        f"records:              {stats['records']}",
        f"transactions:         {stats['transactions']}"
        + "".join(f"  {k} {v}" for k, v in stats["by_status"].items()),
        f"reversals:            {stats['reversals']}",
        f"unknown outcomes:     {stats['unknown']} ({stats['unresolved_unknown']} unresolved)",
        f"void:                 {stats['void']}",
        f"referrals:            {stats['referrals']} ({stats['referrals_cancelled']} cancelled)",
        f"synced up to seq:     {stats['synced_upto']}",
        f"backlog:              {stats['backlog']}",
        "oldest unsynced:      "
        + ("-" if oldest is None else f"seq {oldest['seq']} at {when(oldest['wall_time'])}"),
        f"quarantined:          {stats['quarantined_batches']} batch(es), "
        f"{stats['quarantined_records']} record(s)",
    ]
    lines += [
        f"  #{q['id']} seq {q['first_seq']}..{q['last_seq']} HTTP {q['http_status']}: "
        f"{q['reason']}" for q in stats["quarantine"]
    ]
    lines += [
        f"conflicting copies:   {stats['conflicts']}",
        f"settlement mismatches: {stats['settlement_mismatches']}",
        f"device snapshots:     {stats['device_snapshots']}",
    ]
    lines += [f"journal cursor {t}: {c}" for t, c in stats["journal_cursors"].items()]
    return lines


@buffer.command("stats")
@DB_OPTION
@click.option("--json", "as_json", is_flag=True, help="One JSON document.")
@handles_errors
def stats_cmd(db_path: Path | None, as_json: bool) -> None:
    """Counts, oldest unsynced record, backlog, unresolved unknowns, quarantine."""
    with _open(db_path) as buf:
        stats = buf.stats()
    if as_json:
        echo_json(stats)
    else:
        click.echo("\n".join(_lines(stats)))


@buffer.command("release")
@DB_OPTION
@click.argument("entry_id", type=int)
@handles_errors
def release_cmd(db_path: Path | None, entry_id: int) -> None:
    """Let quarantined batch ENTRY_ID be uploaded again (after fixing the cause)."""
    with _open(db_path) as buf:
        released = buf.release_quarantine(entry_id, CLOCK.now())
    if not released:
        raise click.ClickException(f"no open quarantine entry #{entry_id}")
    click.echo(f"released quarantine entry #{entry_id}")
