"""``stationlink buffer ...``: inspect and export the station's local transaction buffer.

``export --format csv`` writes exactly the reward engine's transactions interchange format
(the effective view: reversals folded, unresolved unknowns left out); ``stats`` shows on one
screen whether the station's data is flowing (the verdict of
:func:`stationlink.agent.health.station_facts`, with the agent state file beside the buffer
when there is one), then counts, the oldest unsynced record, the backlog, the quarantine and
each terminal (times in CST; Chinese, ``--lang en``); ``release`` lets a
quarantined batch be uploaded again. Every command refuses a file that is not a buffer (a hub
database, any other file, a buffer of a newer schema version) with exit code 8 and leaves it
byte-identical (:func:`stationlink.buffer.schema.check_buffer_file`).
"""

from __future__ import annotations

from pathlib import Path

import click

from ..agent.state import AgentState
from ..buffer import Buffer, default_path
from ..clock import SystemClock, TimeSource
from ..errors import StorageError
from .common import echo_json, export_transactions, handles_errors, stderr

#: The agent's state file, which the agent keeps next to its buffer (``agent.toml`` data_dir).
STATE_FILE = "agent-state.sqlite"

#: The wall clock of ``stats`` (the "now" of the verdict) and ``release`` (the time
#: recorded); tests replace it with a :class:`~stationlink.clock.ManualClock`.
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


def _state_beside(db: Path) -> AgentState | None:
    """The agent state file next to the buffer (the agent keeps it there), if any; one that
    cannot be read is named on stderr and left out (the buffer's own facts still show)."""
    path = db.parent / STATE_FILE
    if not path.is_file():
        return None
    try:
        return AgentState(path, create=False)
    except StorageError as exc:
        stderr(f"{exc} (shown without the agent state)")
        return None


@buffer.command("stats")
@DB_OPTION
@click.option("--json", "as_json", is_flag=True,
              help="One JSON document (the counts, and the facts under 'health').")
@click.option("--lang", type=click.Choice(["zh", "en"]), default="zh", show_default=True,
              help="Language of the text (and of the verdict's texts in --json).")
@handles_errors
def stats_cmd(db_path: Path | None, as_json: bool, lang: str) -> None:
    """Is the data flowing? Verdict, counts, backlog, unknowns, quarantine, terminals."""
    from ..agent.health import station_facts
    from ..agent.health_screen import render_stats

    path = db_path or default_path()
    with Buffer.open(path, create=False) as buf:
        stats = buf.stats()
        state = _state_beside(path)
        try:
            facts = station_facts(buf, state, CLOCK.now())
        except StorageError as exc:
            if state is None:
                raise
            stderr(f"{exc} (shown without the agent state)")
            facts = station_facts(buf, None, CLOCK.now())
        finally:
            if state is not None:
                state.close()
    if as_json:
        echo_json(stats | {"health": facts.to_json(lang)})
    else:
        click.echo("\n".join(render_stats(stats, facts, lang)))


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
