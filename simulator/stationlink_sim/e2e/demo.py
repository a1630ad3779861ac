"""``stationlink demo`` as a library: one station's simulated day, end to end, and its reward.

Contract (:func:`run_demo`):
- Nothing configured: the packaged ``county`` scenario; its first rural station whose
  village has no other station (so the household count stands alone in ``stations.csv``),
  its activity weight set to :data:`DEMO_WEIGHT` so the day has a few dozen customers; a bill
  terminal (``sl-2``) and a card terminal (``mispos-1``) on ptys, dialects detected by the
  agent; faults :data:`BILL_FAULTS` / :data:`CARD_FAULTS` (line noise, lost responses, one
  power cycle); one simulated day (:data:`DEMO_DATE` unless given); the sync agent; the hub
  on an embedded SQLite file. Everything is seeded (``seed``, default the scenario's), so
  the figures and the reward are the same on every run.
- Then: the day's figures from the hub's export, the faults survived, the hub-vs-truth check
  and the station's reward so far for the day's month under ``dezhou-2014``, computed by the
  reward engine from what the hub holds for that month (on time), the referrals entered at
  the PC included (they travel through the agent's buffer to the hub like the terminals'
  transactions).
- The work directory (``directory``, default a new temporary one) keeps every file of the
  run (see :func:`~.run.run_simulation`) and ``reward.json``.

The console (:func:`prepare_console`, :func:`serve_console`; ``stationlink demo`` on a
terminal, or ``--serve``): the run's stations and branches are imported into its hub file
(``hub stations import``), an admin operator :data:`DEMO_OPERATOR` is added with a one-time
password (to be changed at the first sign-in), and the hub serves that file — station API and
console — until SIGINT/SIGTERM. Its clock runs from the end of the simulated day, so the
console's "now" (silent stations, sessions) fits the simulated month.
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from stationlink.errors import SimulatorError
from stationlink.hub.export import hub_transactions
from stationlink.interchange import read_branches
from stationlink.money import format_yuan
from stationlink.rewards import StationStatement, compute, load_policy

from ..traffic import SimStation
from .run import RunOptions, RunResult, run_simulation

DEMO_OPERATOR = "demo"
DEMO_WEIGHT = 4.0
DEMO_DATE = dt.date(2014, 6, 10)
POLICY = "dezhou-2014"
BILL_FAULTS = "noise=0.02,drop_response=0.08"
CARD_FAULTS = "noise=0.02,drop_response=0.1,power_cycle@10:30,outage=1s"


@dataclass(frozen=True)
class DemoOptions:
    directory: Path | None = None
    directory_ready: bool = False
    seed: int | None = None
    date: dt.date = DEMO_DATE


@dataclass
class DemoResult:
    run: RunResult
    station: SimStation
    month: str
    policy: str
    reward: StationStatement

    def reward_json(self) -> dict[str, Any]:
        r = self.reward
        return {
            "station_id": r.station_id, "month": self.month, "policy": self.policy,
            "total": format_yuan(r.total),
            "items": [{"code": i.code, "label": i.label, "amount": format_yuan(i.amount),
                       "quantity": i.quantity, "basis": i.basis} for i in r.items],
        }


def demo_station(stations: Sequence[SimStation]) -> list[SimStation]:
    """The demo's station (module contract)."""
    villages = [s.village_id for s in stations]
    for s in stations:
        if s.area == "rural" and s.village_households and villages.count(s.village_id) == 1:
            return [s]
    raise SimulatorError("the scenario has no rural station with a village of its own")


def run_demo(opts: DemoOptions) -> DemoResult:
    """Run the demo (module contract)."""
    run = run_simulation(RunOptions(
        scenario="county", days=1, start=opts.date, seed=opts.seed, directory=opts.directory,
        directory_ready=opts.directory_ready,
        pick=demo_station, weight=DEMO_WEIGHT, transport="pty", parallel=1,
        bill_dialect="sl-2", card_dialect="mispos-1", bill_faults=BILL_FAULTS,
        card_faults=CARD_FAULTS, standalone_share=0.15,
    ))
    station = run.stations[0]
    month = f"{opts.date:%Y-%m}"
    stations = [station.to_interchange()]
    branches = read_branches(run.files["branches"]).rows
    rows = list(hub_transactions(run.files["hub_db"], month))
    result = compute(load_policy(POLICY), stations, branches, rows, month)
    statement = result.station(station.station_id)
    if statement is None:  # the engine gives every station of the inputs a statement
        raise SimulatorError(f"the reward engine returned no statement for {station.station_id}")
    demo = DemoResult(run, station, month, POLICY, statement)
    path = run.directory / "reward.json"
    try:
        path.write_text(json.dumps(demo.reward_json(), ensure_ascii=False, indent=2) + "\n",
                        encoding="utf-8")
    except OSError as exc:
        raise SimulatorError(f"cannot write {path}: {exc}") from exc
    run.files["reward"] = path
    return demo


def demo_clock(demo: DemoResult) -> Callable[[], dt.datetime]:
    """The console's wall clock: the end of the simulated day (CST) plus the real time since
    this call."""
    from stationlink.money import CST

    day_end = dt.datetime.combine(demo.run.start + dt.timedelta(days=1), dt.time(), CST)
    offset = day_end - dt.datetime.now(dt.UTC)

    def clock() -> dt.datetime:
        return (dt.datetime.now(dt.UTC) + offset).astimezone(CST)

    return clock


def prepare_console(demo: DemoResult, *, now: dt.datetime) -> str:
    """Import the run's stations and branches into its hub and add the admin operator
    :data:`DEMO_OPERATOR` (replaced when present) with a new one-time password, returned."""
    from stationlink.hub.console.backend import console_store_for
    from stationlink.hub.console.monthstore import month_store_for, read_reference
    from stationlink.hub.console.passwords import Passwords, generate_password
    from stationlink.hub.console.roles import Role
    from stationlink.hub.console.store import Actor
    from stationlink.hub.sqlite_store import SqliteHubStore

    files = demo.run.files
    ref = read_reference(files["stations"], files["branches"])
    password = generate_password()
    passwords = Passwords()
    actor = Actor("demo")
    store = SqliteHubStore(files["hub_db"])
    try:
        month_store_for(store).import_reference(ref, now=now, actor=actor)
        console = console_store_for(store)
        hashed = passwords.hash(password)
        if console.operator(DEMO_OPERATOR) is None:
            console.add_operator(DEMO_OPERATOR, Role.ADMIN, hashed, must_change_password=True,
                                 now=now, actor=actor)
        else:
            console.set_password(DEMO_OPERATOR, hashed, must_change_password=True, now=now,
                                 actor=actor)
    finally:
        store.close()
    return password


def serve_console(demo: DemoResult, bind: str, on_ready: Callable[[str], None], *,
                  clock: Callable[[], dt.datetime], lang: str = "zh") -> None:
    """Serve the demo's hub (station API and console, in ``lang``) on ``bind`` until
    SIGINT/SIGTERM; ``on_ready(url)`` once it listens."""
    from stationlink.hub.closing import DEFAULT_CLOSE_DAY
    from stationlink.hub.server import serve

    serve(demo.run.files["hub_db"], bind, close_day=DEFAULT_CLOSE_DAY, on_ready=on_ready,
          clock=clock, lang=lang)
