"""A station's terminals from a ``station.toml``: load, validate, start and stop them together.

Contract:
- :func:`load_station` reads one TOML file (see ``examples/station.toml`` and
  ``docs/simulator.md``) into a :class:`StationConfig`; every problem raises
  :class:`~stationlink.errors.ConfigError` naming the file and the key
  (``terminals[2].faults: item 1 ...``); unknown keys are refused (a typo must not pass
  silently). Relative journal paths are relative to the TOML file. ``close_on_garbage``
  (default true) can be set false to emulate pre-rule TCP firmware (see ``serve``);
  ``deviation`` names one seeded deviation (``deviations.py``).
- Seeds: a terminal without ``seed`` gets ``station seed * 1000 + its position``, so one
  station seed reproduces the whole station.
- :class:`StationRunner` starts every terminal of one or more stations (one runner thread
  each) and stops them all; if one fails to start, those already started are stopped.
  ``base_clock`` (all devices) and ``card_sources`` (by ``(station id, terminal id)``) are
  handed to :func:`~.serve.start_terminal`; ``sim station --traffic`` uses them to pace
  the terminals' clocks and to present its customers' cards.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from stationlink.agent.config import card_key_from_hex
from stationlink.clock import TimeSource
from stationlink.errors import ConfigError
from stationlink.protocol import Dialect
from stationlink.tomlfile import read_toml_file

from .customers import CardSource
from .device import TerminalKind
from .faults import parse_faults
from .serve import RunningTerminal, TerminalConfig, parse_listen, start_terminal

_STATION_KEYS = {"station_id", "card_key", "seed", "terminals"}
_TERMINAL_KEYS = {
    "id", "kind", "dialect", "pty", "listen", "seed", "faults", "baud", "journal", "serial",
    "close_on_garbage", "deviation",
}


@dataclass(frozen=True)
class StationConfig:
    station_id: str
    card_key: bytes
    terminals: tuple[TerminalConfig, ...]
    source: str


def _check_keys(table: dict[str, Any], known: Collection[str], required: Sequence[str],
                where: str) -> None:
    """Refuse a table with a key not ``known`` or without a ``required`` one."""
    unknown = sorted(set(table) - set(known))
    if unknown:
        raise ConfigError(f"{where}: unknown key(s) {', '.join(unknown)}")
    for key in required:
        if key not in table:
            raise ConfigError(f"{where}: missing key {key}")


def _get(table: dict[str, Any], key: str, kind: type | tuple[type, ...], where: str) -> Any:
    value = table[key]
    if isinstance(value, bool) and kind is not bool:
        raise ConfigError(f"{where}.{key}: expected {_name(kind)}, not a boolean")
    if not isinstance(value, kind):
        raise ConfigError(f"{where}.{key}: expected {_name(kind)}, not {value!r}")
    return value


def _name(kind: type | tuple[type, ...]) -> str:
    if isinstance(kind, tuple):
        return " or ".join(k.__name__ for k in kind)
    return {"str": "a string", "int": "an integer", "bool": "true or false"}.get(
        kind.__name__, kind.__name__
    )


def load_station(path: Path) -> StationConfig:
    """Read and validate a station file (see the module docstring)."""
    src = str(path)
    data = read_toml_file(path)
    _check_keys(data, _STATION_KEYS, ("station_id", "card_key", "terminals"), src)
    station_id = _get(data, "station_id", str, src)
    card_key = card_key_from_hex(_get(data, "card_key", str, src), f"{src}.card_key")
    seed = _get(data, "seed", int, src) if "seed" in data else 0
    terms = _get(data, "terminals", list, src)
    if not terms:
        raise ConfigError(f"{src}.terminals: a station needs at least one terminal")
    configs = [
        _terminal(t, f"{src}: terminals[{i}]", path.parent, card_key, seed * 1000 + i)
        for i, t in enumerate(terms, start=1)
    ]
    ids = [c.terminal_id for c in configs]
    dup = sorted({i for i in ids if ids.count(i) > 1})
    if dup:
        raise ConfigError(f"{src}: terminal id(s) {', '.join(dup)} appear more than once")
    return StationConfig(station_id, card_key, tuple(configs), src)


def _terminal(
    t: Any, where: str, base: Path, card_key: bytes, default_seed: int
) -> TerminalConfig:
    if not isinstance(t, dict):
        raise ConfigError(f"{where}: expected a table ([[terminals]])")
    _check_keys(t, _TERMINAL_KEYS, ("id", "kind", "dialect"), where)
    try:
        kind = TerminalKind(_get(t, "kind", str, where))
    except ValueError:
        raise ConfigError(f"{where}.kind: must be 'bill' or 'card'") from None
    try:
        dialect = Dialect(_get(t, "dialect", str, where))
    except ValueError:
        raise ConfigError(f"{where}.dialect: must be 'mispos-1' or 'sl-2'") from None
    pty = _get(t, "pty", bool, where) if "pty" in t else False
    listen = parse_listen(_get(t, "listen", str, where), source=f"{where}.listen") if (
        "listen" in t
    ) else None
    journal = Path(_get(t, "journal", str, where)) if "journal" in t else None
    if journal is not None and not journal.is_absolute():
        journal = base / journal
    config = TerminalConfig(
        kind=kind,
        dialect=dialect,
        terminal_id=_get(t, "id", str, where),
        serial_number=_get(t, "serial", str, where) if "serial" in t else "",
        pty=pty,
        listen=listen,
        seed=_get(t, "seed", int, where) if "seed" in t else default_seed,
        faults=parse_faults(_get(t, "faults", str, where), source=f"{where}.faults")
        if "faults" in t else parse_faults(""),
        baud=_get(t, "baud", int, where) if "baud" in t else None,
        journal_path=journal,
        card_key=card_key,
        close_on_garbage=_get(t, "close_on_garbage", bool, where)
        if "close_on_garbage" in t else True,
        deviation=_get(t, "deviation", str, where) if "deviation" in t else None,
        source=where,
    )
    config.check()
    return config


class StationRunner:
    """Every terminal of the given stations, running together."""

    def __init__(
        self, stations: list[StationConfig], *, base_clock: TimeSource | None = None,
        card_sources: Mapping[tuple[str, str], CardSource] | None = None,
    ) -> None:
        self.stations = stations
        self.base_clock = base_clock
        self.card_sources = dict(card_sources or {})
        self.running: list[tuple[str, RunningTerminal]] = []

    def start(self) -> None:
        try:
            for station in self.stations:
                for config in station.terminals:
                    source = self.card_sources.get((station.station_id, config.terminal_id))
                    self.running.append((station.station_id, start_terminal(
                        config, base_clock=self.base_clock, card_source=source)))
        except BaseException:
            self.stop()
            raise

    def failed(self) -> list[RunningTerminal]:
        return [t for _, t in self.running if not t.runner.is_alive()]

    def stop(self) -> None:
        errors: list[Exception] = []
        while self.running:
            _, terminal = self.running.pop()
            try:
                terminal.stop()
            except Exception as exc:  # noqa: BLE001 - stop the others, re-raise the first
                errors.append(exc)
        if errors:
            raise errors[0]

    def __enter__(self) -> StationRunner:
        self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()
