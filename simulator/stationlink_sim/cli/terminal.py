"""``stationlink sim terminal`` and ``stationlink sim station``: serve emulated terminals.

Output contract (scripts and tests read it): the first stdout line of ``sim terminal`` is
``pty /dev/pts/N`` or ``listening tcp://HOST:PORT`` (with ``--json``: one JSON object with
``terminal_id``, ``kind``, ``dialect``, ``url`` and ``pty`` or ``listen``), flushed at once.
``sim station`` prints one such line per terminal, followed by the station and terminal
id. With ``--traffic`` it then prints one ``traffic ...`` line per station, a ``customer
...`` line per served customer with ``-v``, ``traffic done: ...`` when the day's traffic is
over (the terminals keep serving), and ``summary: ...`` lines at exit (``--json``: one
object per line with an ``event`` key). ``--write-agent-config`` / ``--write-stations`` /
``--write-branches`` files are written before the first line is printed. Both then serve
until SIGINT or SIGTERM, stop cleanly (every port closed) and exit 0; a terminal (or the
counter traffic) that fails exits with the simulator's exit code (10). Fault injections and
events are logged on stderr with ``--verbose`` (never a card number).

``sim terminal --deviation NAME`` serves a deliberately broken terminal (one seeded
deviation, ``sim deviations`` lists them); ``--control ADDRESS`` opens its control socket,
and ``sim power-cycle ADDRESS`` power-cycles it from another process, printing the
terminal's ``ok power_cycle boot_id=N`` once it serves again (exit 10 when it cannot).
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
from typing import TYPE_CHECKING, Any

import click

from stationlink.cli.common import handles_errors

if TYPE_CHECKING:  # the simulator is imported lazily, when a command runs
    from stationlink_sim.counter_run import CounterRun
    from stationlink_sim.counter_traffic import CounterSummary, Served
    from stationlink_sim.station import StationRunner

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
@click.option("--baud", type=click.IntRange(min=1), default=None,
              help="Line rate: pace output; a pty host at another rate reads noise.")
@click.option("--terminal-id", default="SIM00001", show_default=True)
@click.option("--journal", type=click.Path(dir_okay=False, path_type=Path), default=None,
              help="Keep the journal in this JSON-lines file (no card numbers).")
@click.option("--card-key", default=None, metavar="HEX", help="Card token key (hex).")
@click.option("--slide-over-garbage", is_flag=True,
              help="TCP: slide over bytes that do not frame, like pre-rule field firmware "
                   "(default: close the connection, docs/protocol.md 1.2).")
@click.option("--deviation", default=None, metavar="NAME",
              help="Seed one deviation from docs/protocol.md (see 'sim deviations').")
@click.option("--control", default=None, metavar="PATH|tcp://127.0.0.1:PORT",
              help="Control socket for 'sim power-cycle' (a unix socket path, or TCP "
                   "loopback).")
@click.option("--json", "as_json", is_flag=True, help="Print the address as JSON.")
@click.option("-v", "--verbose", is_flag=True, help="Log faults and connections on stderr.")
@handles_errors
def terminal(
    kind: str, dialect: str, use_pty: bool, listen: str | None, seed: int, faults: str,
    baud: int | None, terminal_id: str, journal: Path | None, card_key: str | None,
    slide_over_garbage: bool, deviation: str | None, control: str | None, as_json: bool,
    verbose: bool,
) -> None:
    """Run one emulated bill or card terminal on a pty or a TCP port."""
    from stationlink.errors import ConfigError
    from stationlink.protocol import Dialect
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
        card_key=key, close_on_garbage=not slide_over_garbage, deviation=deviation,
        control=control, source="sim terminal",
    )
    _logging(verbose)
    running = start_terminal(config)
    try:
        with _signals_caught():  # before the announcement: a reader may signal at once
            _announce(running.describe(), as_json)
            _serve_until_signal(running.runner.is_alive)
    finally:
        running.stop()


@click.command("deviations")
@click.option("--json", "as_json", is_flag=True, help="One JSON object per deviation.")
def deviations(as_json: bool) -> None:
    """List the seeded deviations of --deviation and the conformance cases catching each."""
    from stationlink_sim.deviations import DEVIATIONS

    for d in DEVIATIONS.values():
        if as_json:
            click.echo(json.dumps({
                "name": d.name, "doc": d.doc, "rule": d.rule, "cases": list(d.cases),
                "kinds": sorted(d.kinds), "dialects": sorted(x.value for x in d.dialects),
                "transports": sorted(x.value for x in d.transports), "note": d.note,
            }, ensure_ascii=False))
        else:
            click.echo(f"{d.name:28} {','.join(d.cases):18} {d.doc}")


@click.command("power-cycle")
@click.argument("address")
@click.option("--timeout", type=click.FloatRange(min=0, min_open=True), default=30.0,
              show_default=True, help="Seconds to wait for the terminal to serve again.")
@handles_errors
def power_cycle(address: str, timeout: float) -> None:
    """Power-cycle the emulated terminal whose --control socket is ADDRESS."""
    from stationlink_sim.control import send_command

    click.echo(send_command(address, "power_cycle", timeout=timeout))


@click.command()
@click.option("--config", "configs", type=click.Path(dir_okay=False, path_type=Path),
              multiple=True, required=True, help="A station.toml (repeat for more stations).")
@click.option("--traffic", "scenario", default=None, metavar="SCENARIO",
              help="Serve customers of this traffic scenario (packaged name or .toml path) "
                   "at the terminals, standalone.")
@click.option("--speed", type=click.FloatRange(min=0, min_open=True), default=600.0,
              show_default=True, help="With --traffic: simulated seconds per real second.")
@click.option("--seed", type=int, default=None, help="With --traffic: traffic seed "
              "(default: the scenario's).")
@click.option("--customers", type=click.IntRange(min=1), default=None,
              help="With --traffic: stop the traffic after this many customers.")
@click.option("--start", "start_text", default=None, metavar="DATE[THH:MM]",
              help="With --traffic: simulated start, CST (default: today's opening hour).")
@click.option("--write-agent-config", "agent_config", default=None,
              type=click.Path(dir_okay=False, path_type=Path),
              help="Write an agent.toml with the terminals' actual URLs (needs --hub-url, "
                   "--token-file).")
@click.option("--hub-url", default=None, metavar="URL", help="Hub URL for the agent.toml.")
@click.option("--token-file", default=None, type=click.Path(dir_okay=False, path_type=Path),
              help="Token file for the agent.toml.")
@click.option("--write-stations", "stations_out", default=None,
              type=click.Path(dir_okay=False, path_type=Path),
              help="With --traffic: write the stations CSV for the reward engine.")
@click.option("--write-branches", "branches_out", default=None,
              type=click.Path(dir_okay=False, path_type=Path),
              help="With --traffic: write the branches CSV for the reward engine.")
@click.option("--json", "as_json", is_flag=True, help="One JSON object per line.")
@click.option("-v", "--verbose", is_flag=True,
              help="Log faults and connections on stderr; with --traffic a line per customer.")
@handles_errors
def station(
    configs: tuple[Path, ...], scenario: str | None, speed: float, seed: int | None,
    customers: int | None, start_text: str | None, agent_config: Path | None,
    hub_url: str | None, token_file: Path | None, stations_out: Path | None,
    branches_out: Path | None, as_json: bool, verbose: bool,
) -> None:
    """Bring up every terminal of one or more stations (station.toml files) together,
    optionally with customers at the counter (--traffic)."""
    from stationlink.errors import ConfigError
    from stationlink_sim.counter_run import CounterRun, parse_start
    from stationlink_sim.station import StationRunner, load_station

    stations = [load_station(path) for path in configs]
    if agent_config is not None and (hub_url is None or token_file is None):
        raise ConfigError("--write-agent-config needs --hub-url and --token-file")
    if agent_config is not None and len(stations) != 1:
        raise ConfigError("--write-agent-config: one agent serves one station; give one --config")
    if scenario is None and (stations_out or branches_out):
        raise ConfigError("--write-stations / --write-branches need --traffic: the station's "
                          "branch, area and village are those of the scenario station it serves")
    counter = None if scenario is None else CounterRun(
        stations, scenario, speed=speed, seed=seed, customers=customers,
        start=parse_start(start_text) if start_text is not None else None)
    _logging(verbose)
    runner = StationRunner(stations, base_clock=counter.clock if counter else None,
                           card_sources=counter.card_sources if counter else None)
    runner.start()
    try:
        _write_files(runner, counter, agent_config, hub_url, token_file, stations_out,
                     branches_out)
        with _signals_caught():  # before the announcement: a reader may signal at once
            for station_id, running in runner.running:
                info = {"station_id": station_id, **running.describe()}
                _announce(info, as_json, f" {station_id} {running.config.terminal_id}")
            if counter is None:
                _serve_until_signal(lambda: not runner.failed())
            else:
                _serve_counter(counter, runner, as_json, verbose)
    finally:
        runner.stop()


def _write_files(
    runner: StationRunner, counter: CounterRun | None, agent_config: Path | None,
    hub_url: str | None, token_file: Path | None, stations_out: Path | None,
    branches_out: Path | None,
) -> None:
    from stationlink.errors import ConfigError
    from stationlink_sim.station_files import write_agent_config, write_station_files

    if agent_config is not None:
        if hub_url is None or token_file is None:
            raise ConfigError("--write-agent-config needs --hub-url and --token-file")
        station = runner.stations[0]
        write_agent_config(agent_config, station.station_id, station.card_key,
                           [t for _, t in runner.running], hub_url, token_file)
    if counter is not None and (stations_out or branches_out):
        write_station_files(counter.scenario, counter.served, stations_out, branches_out)


def _emit(as_json: bool, text: str, obj: dict[str, Any]) -> None:
    click.echo(json.dumps(obj, ensure_ascii=False) if as_json else text)


def _serve_counter(
    counter: CounterRun, runner: StationRunner, as_json: bool, verbose: bool
) -> None:
    """Announce the traffic, serve it in its thread until a signal, print the summary."""
    for sid, sim in counter.served:
        _emit(as_json, f"traffic {counter.scenario.name}: station {sid} serves the customers "
                       f"of {sim.station_id} ({sim.area}) from "
                       f"{counter.start_time:%Y-%m-%d %H:%M} CST at {counter.speed:g}x",
              {"event": "traffic", "scenario": counter.scenario.name, "station_id": sid,
               "scenario_station": sim.station_id, "area": sim.area,
               "start": counter.start_time.isoformat(), "speed": counter.speed,
               "seed": counter.seed})

    def served(s: Served) -> None:
        if verbose:
            rec = s.record
            _emit(as_json, f"customer {s.describe()}", {
                "event": "customer", "time": s.event.time.isoformat(),
                "station_id": s.station_id, "terminal_id": s.terminal_id,
                "kind": s.event.kind, "product": s.event.product,
                "amount_fen": s.event.amount_fen, "original_ref": s.original_ref,
                "status": None if rec is None else rec.status.value,
                "result": None if rec is None else rec.result.name.lower(),
                "ref": None if rec is None else rec.ref})

    def done(summary: CounterSummary) -> None:
        _emit(as_json, f"traffic done: {summary.customers} customers served; terminals keep "
                       "serving until SIGINT/SIGTERM",
              {"event": "traffic_done", **summary.to_json()})

    counter.start(runner, on_served=served, on_done=done,
                  notice=lambda text: click.echo(f"note: {text}", err=True))
    try:
        _serve_until_signal(lambda: not runner.failed() and not counter.failed())
    finally:
        summary = counter.stop()
        if as_json:
            click.echo(json.dumps({"event": "summary", **summary.to_json()}))
        else:
            for line in summary.lines():
                click.echo(f"summary: {line}")
