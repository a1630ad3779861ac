"""Files a running ``sim station`` writes for the rest of the walkthrough.

Contract:
- :func:`write_agent_config` writes an ``agent.toml`` (docs/agent.md) for one station: its
  id and card key (hex), ``data_dir = "agent-data"`` (relative to the file), the hub URL and
  token file (an absolute path), short poll and reconnect intervals, and one
  ``[[terminals]]`` table per running terminal with its actual URL (pty paths are only
  known once the terminals run), its id and its dialect (so the agent skips detection).
  The hub URL must be ``http(s)://...`` and the token file must exist: otherwise
  :class:`~stationlink.errors.ConfigError` names the option. The file is replaced whole
  (written beside it, then renamed), so an agent never reads half of one.
- :func:`station_rows` gives the stations and branches files' rows (docs/formats.md) for the
  served stations: each station id with the branch, area, village and households of the
  scenario station whose customers it serves, and each such branch with a plan of
  ``round(plan_effective_share * its stations in the file)`` effective stations (the
  scenario's rule, applied to the stations actually written).
"""

from __future__ import annotations

import json
import os
from collections import Counter
from collections.abc import Sequence
from pathlib import Path

from stationlink.errors import ConfigError
from stationlink.interchange import Branch, Station, write_branches, write_stations

from .serve import RunningTerminal
from .traffic import Scenario, SimStation


def _q(text: str) -> str:
    return json.dumps(text, ensure_ascii=False)  # a TOML basic string


def write_agent_config(
    path: Path, station_id: str, card_key: bytes, terminals: Sequence[RunningTerminal],
    hub_url: str, token_file: Path,
) -> None:
    if not hub_url.startswith(("http://", "https://")):
        raise ConfigError(f"--hub-url: expected http://HOST:PORT or https://..., not {hub_url!r}")
    token = token_file.resolve()
    if not token.is_file():
        raise ConfigError(f"--token-file: {token_file} does not exist (write the token of "
                          "`stationlink hub token create` into it first)")
    terms = "".join(
        f"\n[[terminals]]\nurl = {_q(t.url)}\nid = {_q(t.config.terminal_id)}\n"
        f"dialect = {_q(t.config.dialect.value)}\n"
        for t in terminals
    )
    text = (
        "# written by `stationlink sim station --write-agent-config`: the terminal URLs are\n"
        "# valid while that command runs (a pty path changes with every start)\n"
        f"station_id = {_q(station_id)}\ncard_key = {_q(card_key.hex())}\n"
        'data_dir = "agent-data"\n\n'
        f"[hub]\nurl = {_q(hub_url.rstrip('/'))}\ntoken_file = {_q(str(token))}\ntimeout = 10\n\n"
        "[poll]\njournal_interval = 1\nreconnect_base = 0.5\nreconnect_cap = 5\n\n"
        "[upload]\ninterval = 1\nstatus_interval = 10\n"
        f"{terms}"
    )
    _replace(path, text)


def station_rows(
    scenario: Scenario, served: Sequence[tuple[str, SimStation]]
) -> tuple[list[Station], list[Branch]]:
    stations = [Station(sid, sim.branch_id, sim.area, sim.village_id, sim.village_households)
                for sid, sim in served]
    per_branch = Counter(sim.branch_id for _, sim in served)
    areas = {sim.branch_id: sim.area for _, sim in served}
    branches = [Branch(bid, areas[bid], round(scenario.plan_effective_share * n))
                for bid, n in sorted(per_branch.items())]
    return stations, branches


def write_station_files(
    scenario: Scenario, served: Sequence[tuple[str, SimStation]],
    stations_path: Path | None, branches_path: Path | None,
) -> None:
    stations, branches = station_rows(scenario, served)
    if stations_path is not None:
        with _Replacing(stations_path) as out:
            write_stations(stations, out.file)
    if branches_path is not None:
        with _Replacing(branches_path) as out:
            write_branches(branches, out.file)


def _replace(path: Path, text: str) -> None:
    with _Replacing(path) as out:
        out.file.write(text)


class _Replacing:
    """Write ``path.tmp`` then rename it over ``path`` (only when the block succeeds)."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.tmp = path.with_name(path.name + ".tmp")

    def __enter__(self) -> _Replacing:
        try:
            self.file = self.tmp.open("w", encoding="utf-8", newline="")
        except OSError as exc:
            raise ConfigError(f"cannot write {self.path}: {exc.strerror}") from exc
        return self

    def __exit__(self, exc_type: object, *rest: object) -> None:
        self.file.close()
        if exc_type is None:
            try:
                os.replace(self.tmp, self.path)
            except OSError as exc:
                raise ConfigError(f"cannot write {self.path}: {exc.strerror}") from exc
        else:
            self.tmp.unlink(missing_ok=True)
