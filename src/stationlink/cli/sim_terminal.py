"""``stationlink sim terminal`` and ``stationlink sim station``: serve emulated terminals.

Output contract (scripts and tests read it): the first stdout line of ``sim terminal`` is
``pty /dev/pts/N`` or ``listening tcp://HOST:PORT`` (with ``--json``: one JSON object with
``terminal_id``, ``kind``, ``dialect``, ``url`` and ``pty`` or ``listen``), flushed at once.
``sim station`` prints one such line per terminal, followed by the station and terminal
id. Both then serve until SIGINT or SIGTERM, stop cleanly (every port closed) and exit 0;
a terminal that fails exits with the simulator's exit code (10). Fault injections and
events are logged on stderr with ``--verbose`` (never a card number).
"""

from __future__ import annotations

import json
import logging
import signal
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from types import FrameType
from typing import Any

import click

from .common import handles_errors

_STOP = threading.Event()


def _on_signal(signum: int, frame: FrameType | None) -> None:
    _STOP.set()


@contextmanager
def _signals_caught() -> Iterator[None]:
    """SIGINT/SIGTERM set ``_STOP`` (instead of killing the process) inside the block."""
    _STOP.clear()
    old = {s: signal.signal(s, _on_signal) for s in (signal.SIGINT, signal.SIGTERM)}
    try:
        yield
    finally:
        for s, handler in old.items():
            signal.signal(s, handler)


def _serve_until_signal(alive: Any) -> None:
    """Block until SIGINT/SIGTERM set ``_STOP`` (handlers installed by
    :func:`_signals_caught`), or until ``alive()`` turns false (a runner died)."""
    while not _STOP.wait(0.2):
        if not alive():
            return


def _announce(info: dict[str, Any], as_json: bool, suffix: str = "") -> None:
    if as_json:
        click.echo(json.dumps(info, ensure_ascii=False))
    elif "pty" in info:
        click.echo(f"pty {info['pty']}{suffix}")
    else:
        click.echo(f"listening {info['listen']}{suffix}")


def _logging(verbose: bool) -> None:
    if verbose:
        logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s: %(message)s")


@click.command()
@click.option("--kind", type=click.Choice(["bill", "card"]), required=True)
@click.option("--dialect", type=click.Choice(["mispos-1", "sl-2"]), required=True)
@click.option("--pty", "use_pty", is_flag=True, help="Serve on a new pseudo-terminal.")
@click.option("--listen", metavar="tcp://HOST:PORT", help="Serve on a TCP listen socket.")
@click.option("--seed", type=int, default=0, show_default=True)
@click.option("--faults", default="", metavar="SPEC", help="Fault spec, see docs/simulator.md.")
@click.option("--baud", type=click.IntRange(min=1), default=None, help="Pace output.")
@click.option("--terminal-id", default="SIM00001", show_default=True)
@click.option("--journal", type=click.Path(dir_okay=False, path_type=Path), default=None,
              help="Keep the journal in this JSON-lines file (no card numbers).")
@click.option("--card-key", default=None, metavar="HEX", help="Card token key (hex).")
@click.option("--slide-over-garbage", is_flag=True,
              help="TCP: slide over bytes that do not frame, like pre-rule field firmware "
                   "(default: close the connection, docs/protocol.md 1.2).")
@click.option("--json", "as_json", is_flag=True, help="Print the address as JSON.")
@click.option("-v", "--verbose", is_flag=True, help="Log faults and connections on stderr.")
@handles_errors
def terminal(
    kind: str, dialect: str, use_pty: bool, listen: str | None, seed: int, faults: str,
    baud: int | None, terminal_id: str, journal: Path | None, card_key: str | None,
    slide_over_garbage: bool, as_json: bool, verbose: bool,
) -> None:
    """Run one emulated bill or card terminal on a pty or a TCP port."""
    from stationlink.errors import ConfigError
    from stationlink.protocol.messages import Dialect
    from stationlink_sim.device import TerminalKind
    from stationlink_sim.faults import parse_faults
    from stationlink_sim.serve import (
        DEFAULT_CARD_KEY,
        TerminalConfig,
        parse_listen,
        start_terminal,
    )

    if use_pty == (listen is not None):
        raise ConfigError("give exactly one of --pty or --listen tcp://HOST:PORT")
    key = DEFAULT_CARD_KEY
    if card_key is not None:
        try:
            key = bytes.fromhex(card_key)
        except ValueError as exc:
            raise ConfigError(f"--card-key: not hexadecimal: {exc}") from exc
    config = TerminalConfig(
        kind=TerminalKind(kind), dialect=Dialect(dialect), terminal_id=terminal_id,
        pty=use_pty, listen=parse_listen(listen) if listen is not None else None, seed=seed,
        faults=parse_faults(faults, source="--faults"), baud=baud, journal_path=journal,
        card_key=key, close_on_garbage=not slide_over_garbage, source="sim terminal",
    )
    _logging(verbose)
    running = start_terminal(config)
    try:
        with _signals_caught():  # before the announcement: a reader may signal at once
            _announce(running.describe(), as_json)
            _serve_until_signal(running.runner.is_alive)
    finally:
        running.stop()


@click.command()
@click.option("--config", "configs", type=click.Path(dir_okay=False, path_type=Path),
              multiple=True, required=True, help="A station.toml (repeat for more stations).")
@click.option("--json", "as_json", is_flag=True, help="One JSON object per terminal.")
@click.option("-v", "--verbose", is_flag=True, help="Log faults and connections on stderr.")
@handles_errors
def station(configs: tuple[Path, ...], as_json: bool, verbose: bool) -> None:
    """Bring up every terminal of one or more stations (station.toml files) together."""
    from stationlink_sim.station import StationRunner, load_station

    stations = [load_station(path) for path in configs]
    _logging(verbose)
    runner = StationRunner(stations)
    runner.start()
    try:
        with _signals_caught():  # before the announcement: a reader may signal at once
            for station_id, running in runner.running:
                info = {"station_id": station_id, **running.describe()}
                _announce(info, as_json, f" {station_id} {running.config.terminal_id}")
            _serve_until_signal(lambda: not runner.failed())
    finally:
        runner.stop()
