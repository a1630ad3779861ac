"""Counter traffic of ``sim station --traffic``: pacing on an injected clock (no real sleeps),
routing to the station's terminals, the customer's card under the device lock, and the
files written for the walkthrough."""

from __future__ import annotations

import datetime as dt
import random
import threading
from pathlib import Path

import pytest
from click.testing import CliRunner

from stationlink.agent import load_config
from stationlink.cli.main import cli
from stationlink.errors import ConfigError, SimulatorError
from stationlink.interchange import read_branches, read_stations
from stationlink.money import CST
from stationlink.protocol import (
    CardRef,
    Dialect,
    Header,
    MsgType,
    TxnKind,
    TxnStatus,
    WithdrawalRequest,
)
from stationlink_sim import standalone
from stationlink_sim.clock import SimulatedClock
from stationlink_sim.counter_run import CounterRun, parse_start
from stationlink_sim.counter_traffic import (
    CounterCards,
    CounterStation,
    CounterTraffic,
    busiest_stations,
    opening_time,
)
from stationlink_sim.customers import SeededCards
from stationlink_sim.device import EmulatedTerminal, TerminalKind
from stationlink_sim.e2e import driver
from stationlink_sim.serve import TerminalConfig, build_device
from stationlink_sim.station import StationRunner, load_station
from stationlink_sim.station_files import station_rows, write_agent_config
from stationlink_sim.traffic import TrafficModel, load_scenario

KEY = bytes(range(16))
DAY = dt.date(2026, 10, 6)  # the busiest county station has reversals that day (seed 7)
EXAMPLE = Path(__file__).resolve().parents[2] / "simulator/stationlink_sim/examples/station.toml"


class RealTime:
    """The injected real monotonic clock; ``wait`` advances it instead of sleeping."""

    def __init__(self, stop_after: int | None = None) -> None:
        self.t = 100.0
        self.waits: list[float] = []
        self.stop_after = stop_after

    def __call__(self) -> float:
        return self.t

    def wait(self, seconds: float) -> bool:
        if self.stop_after is not None and len(self.waits) >= self.stop_after:
            return True
        self.waits.append(seconds)
        self.t += seconds
        return False


@pytest.fixture(scope="module")
def model() -> TrafficModel:
    return TrafficModel(load_scenario("county"), 7)


def device(kind: TerminalKind, dialect: Dialect, clock: SimulatedClock,
           cards: CounterCards | None = None) -> EmulatedTerminal:
    config = TerminalConfig(kind=kind, dialect=dialect, terminal_id=f"T{kind.value:0>7}"[:8],
                            pty=True, seed=3, card_key=KEY)
    return build_device(config, base_clock=clock, card_source=cards)


def counter(model: TrafficModel, real: RealTime, *, speed: float = 600.0, card: bool = True,
            customers: int | None = None, notes: list[str] | None = None,
            ) -> tuple[CounterTraffic, CounterStation, SimulatedClock]:
    sim = busiest_stations(model)[0]
    start = opening_time(model.scenario, sim.area, DAY)
    clock = SimulatedClock(start, speed=speed, real=real)
    cards = CounterCards(SeededCards(random.Random(1))) if card else None
    station = CounterStation(
        "DZ-LL-0007", sim, device(TerminalKind.BILL, Dialect.MISPOS_1, clock),
        device(TerminalKind.CARD, Dialect.SL_2, clock, cards) if card else None, cards)
    traffic = CounterTraffic(model, [station], clock, start, seed=7, wait=real.wait,
                             customers=customers,
                             notice=(notes.append if notes is not None else lambda t: None))
    return traffic, station, clock


def test_paced_clock_runs_speed_times_real_time_and_changes_rate_without_a_jump() -> None:
    real = RealTime()
    start = dt.datetime(2026, 10, 7, 6, 0, tzinfo=CST)
    clock = SimulatedClock(start, speed=600, real=real)
    assert clock.now() == start
    real.t += 1.5
    assert clock.now() == start + dt.timedelta(minutes=15)
    assert clock.monotonic() == 900
    clock.set_speed(1)
    assert clock.now() == start + dt.timedelta(minutes=15)
    real.t += 2
    assert clock.now() == start + dt.timedelta(minutes=15, seconds=2)
    with pytest.raises(SimulatorError, match="speed must be > 0"):
        clock.set_speed(0)
    with pytest.raises(SimulatorError, match="aware"):
        SimulatedClock(dt.datetime(2026, 10, 7), speed=1, real=real)  # naive on purpose


def test_opening_time_is_before_every_event_of_the_day(model: TrafficModel) -> None:
    sim = busiest_stations(model)[0]
    opening = opening_time(model.scenario, sim.area, DAY)
    events = model.station_day(sim, model.days(DAY, 1)[0])
    assert events
    assert opening.date() == DAY
    assert all(ev.time >= opening for ev in events)
    shape = model.scenario.rural.hour_of_day if sim.area == "rural" else (
        model.scenario.urban.hour_of_day)
    assert shape[opening.hour] > 0
    assert all(w == 0 for w in shape[:opening.hour])


def test_a_day_is_served_at_its_paced_times(model: TrafficModel) -> None:
    real = RealTime()
    traffic, station, clock = counter(model, real)
    served_at: list[tuple[dt.datetime, dt.datetime, dt.datetime | None]] = []
    traffic.on_served = lambda s: served_at.append(
        (s.event.time, clock.now(), None if s.record is None else s.record.terminal_time))
    summary = traffic.run()
    events = list(traffic.events())
    kinds = [ev.kind for ev in events]
    assert summary.customers == len(served_at) > 0
    assert summary.customers + sum(summary.skipped.values()) == len(events)
    assert summary.skipped["referral"] == kinds.count("referral")
    for due, when, stamp in served_at:  # served once the paced clock reached the event
        assert dt.timedelta(0) <= when - due < dt.timedelta(seconds=1)
        # the terminal's clock is the paced clock: the record carries the event's time
        assert stamp is None or dt.timedelta(0) <= stamp - due < dt.timedelta(seconds=1)
    last = max(due for due, _, _ in served_at)
    assert sum(real.waits) == pytest.approx((last - traffic.start).total_seconds() / 600)
    assert not summary.stopped
    records = [r for d in (station.bill, station.card) if d is not None for r in d.journal]
    assert len(records) == sum(1 for *_, stamp in served_at if stamp is not None)


def test_customers_limit_and_stop(model: TrafficModel) -> None:
    traffic, station, _ = counter(model, RealTime(), customers=3)
    summary = traffic.run()
    assert summary.customers == 3
    assert not summary.stopped
    assert len(station.bill.journal) + len(station.card.journal) <= 3  # type: ignore[union-attr]
    stopped, _, _ = counter(model, RealTime(stop_after=2))
    summary = stopped.run()
    assert summary.stopped
    assert summary.customers <= 2


def test_a_station_without_card_terminal_skips_card_customers(model: TrafficModel) -> None:
    notes: list[str] = []
    traffic, _, _ = counter(model, RealTime(), card=False, notes=notes)
    summary = traffic.run()
    card_events = [ev for ev in traffic.events() if ev.card >= 0 and ev.kind != "reversal"]
    assert card_events, "pick a day with card customers"
    assert summary.skipped["no_card_terminal"] == len(card_events)
    assert sum("has no card terminal" in n for n in notes) == 1
    assert not any(k.startswith(("withdrawal", "balance_inquiry")) for k in summary.served)


def test_each_customer_presents_their_own_card_while_the_host_uses_the_pool(
    model: TrafficModel,
) -> None:
    traffic, station, _ = counter(model, RealTime())
    card = station.card
    assert card is not None
    own: list[tuple[str, str]] = []

    def check(s: object) -> None:
        ev, rec = s.event, s.record  # type: ignore[attr-defined]
        if ev.card >= 0 and ev.kind != "reversal" and ev.reason != "wrong_pin":
            pan = model.identities.pan(ev.station.index, ev.card)
            assert isinstance(rec.card, CardRef)
            own.append((rec.card.token, pan.to_ref(KEY).token))

    traffic.on_served = check
    stop = threading.Event()
    host_tokens: list[str] = []

    def host() -> None:  # the PC paying through the link meanwhile (the runner thread's call)
        n = 0
        while not stop.is_set():
            n += 1
            resp = card.handle(WithdrawalRequest(Header(MsgType.WITHDRAWAL, n % 65536,
                                                        card.terminal_id), f"H{n}", 100))
            rec = standalone.journal_record(resp)
            if rec is not None and isinstance(rec.card, CardRef):
                host_tokens.append(rec.card.token)

    thread = threading.Thread(target=host)
    thread.start()
    try:
        traffic.run()
    finally:
        stop.set()
        thread.join()
    assert own, "pick a day with card customers"
    assert all(got == want for got, want in own)
    pool = {p.to_ref(KEY).token for p in station.cards.fallback.pool}  # type: ignore[union-attr]
    assert host_tokens
    assert set(host_tokens) <= pool


def test_reversal_follows_its_approved_original(model: TrafficModel) -> None:
    traffic, station, _ = counter(model, RealTime())
    summary = traffic.run()
    reversals = 0
    for dev in (station.bill, station.card):
        assert dev is not None
        for rec in dev.journal:
            if rec.kind is TxnKind.REVERSAL:
                reversals += 1
                original = dev.journal.current(ref=rec.original_ref)
                assert original is not None
                assert original.status is TxnStatus.REVERSED
    wanted = sum(1 for ev in traffic.events() if ev.kind == "reversal")
    assert wanted > 0
    refused = summary.served["reversal no_record"]  # not the newest approved any more
    assert reversals + refused + summary.skipped["original_not_approved"] == wanted


def test_the_e2e_driver_uses_the_shared_executor() -> None:
    assert driver.serve_standalone is standalone.serve_standalone
    assert driver.arrange_card is standalone.arrange_card


def test_referrals_are_not_served_by_a_terminal(model: TrafficModel) -> None:
    traffic, station, _ = counter(model, RealTime())
    event = next(ev for ev in traffic.events())
    with pytest.raises(SimulatorError, match="not served by a terminal"):
        standalone.serve_standalone(station.bill, event._replace(kind="referral"),  # type: ignore[arg-type]
                                    model.identities, station.cards.queue, 1)  # type: ignore[union-attr]


def test_parse_start() -> None:
    assert parse_start("2026-10-07") == dt.date(2026, 10, 7)
    assert parse_start("2026-10-07T14:30") == dt.datetime(2026, 10, 7, 14, 30, tzinfo=CST)
    with pytest.raises(ConfigError, match="--start"):
        parse_start("tomorrow")


def test_agent_config_and_station_files_are_read_by_their_readers(tmp_path: Path) -> None:
    station = load_station(EXAMPLE)
    run = CounterRun([station], "county", speed=600, start=DAY)
    token = tmp_path / "hub.token"
    token.write_text("slh_x_y\n", encoding="utf-8")
    with StationRunner([station], base_clock=run.clock, card_sources=run.card_sources) as r:
        terminals = [t for _, t in r.running]
        path = tmp_path / "agent.toml"
        write_agent_config(path, station.station_id, station.card_key, terminals,
                           "http://127.0.0.1:8400", token)
        with pytest.raises(ConfigError, match="--token-file"):
            write_agent_config(path, station.station_id, station.card_key, terminals,
                               "http://127.0.0.1:8400", tmp_path / "missing.token")
        with pytest.raises(ConfigError, match="--hub-url"):
            write_agent_config(path, station.station_id, station.card_key, terminals,
                               "127.0.0.1:8400", token)
        config = load_config(path)
        assert [(t.url, t.terminal_id, t.dialect) for t in config.terminals] == [
            (t.url, t.config.terminal_id, t.config.dialect.value) for t in terminals]
    assert config.station_id == station.station_id
    assert config.card_key == station.card_key
    stations, branches = station_rows(run.scenario, run.served)
    out_s, out_b = tmp_path / "stations.csv", tmp_path / "branches.csv"
    from stationlink_sim.station_files import write_station_files
    write_station_files(run.scenario, run.served, out_s, out_b)
    read_b = read_branches(out_b).rows
    assert read_b == branches
    assert read_stations(out_s, known_branches=[b.branch_id for b in read_b]).rows == stations
    assert [s.station_id for s in stations] == [station.station_id]
    assert stations[0].branch_id == run.served[0][1].branch_id


@pytest.mark.parametrize(("args", "message"), [
    (["--write-stations", "s.csv"], "need --traffic"),
    (["--write-agent-config", "a.toml"], "needs --hub-url and --token-file"),
    (["--traffic", "nowhere"], "no scenario named 'nowhere'"),
    (["--traffic", "county", "--start", "07/10/2026"], "--start"),
])
def test_sim_station_refuses_bad_options(args: list[str], message: str) -> None:
    result = CliRunner().invoke(cli, ["sim", "station", "--config", str(EXAMPLE), *args])
    assert result.exit_code == 2, result.output
    assert message in result.output
