"""Adjustments of closed months carried into the first open month, exactly once.

On a real hub server with the golden October loaded (``console_month``), once per store
(``hub_db``: SQLite, and PostgreSQL with ``STATIONLINK_TEST_PG``), closes and re-opens go
through the console's forms and records arrive through real station buffers. After every
step, for every closed month and every station and branch: its frozen total, plus the lines
for it frozen with later closed months, plus the line the open month carries, equals what
``rewards compute --hub --include-late`` gives now, to the fen (:func:`check_exactly_once`).
"""

from __future__ import annotations

import json
import random
from collections import defaultdict
from collections.abc import Iterator
from datetime import datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner
from console_fixtures import T0, Clock, ConsoleHub
from console_month import (
    MONTH,
    ON_TIME,
    golden_rows,
    import_reference,
    load_month,
    new_console_hub,
)
from rewards_store_loader import load_hub

from stationlink.cli.main import cli
from stationlink.errors import OperatorError
from stationlink.hub.closing import close_instant
from stationlink.hub.console import Actor, Role
from stationlink.hub.console.carry import closes_in_force
from stationlink.hub.console.monthstore import month_store_for
from stationlink.interchange import Transaction
from stationlink.money import CST

Key = tuple[str, str]


@pytest.fixture
def month_hub(hub_db: str, tmp_path: Path) -> Iterator[tuple[ConsoleHub, dict[str, Any]]]:
    hub = new_console_hub(hub_db)
    try:
        facts: dict[str, Any] = load_month(hub, hub_db, tmp_path)
        facts["db"] = hub_db
        facts["tmp"] = tmp_path
        yield hub, facts
    finally:
        hub.close()


def month_after(month: str) -> str:
    y, m = int(month[:4]), int(month[5:7])
    return f"{y + 1}-01" if m == 12 else f"{y}-{m + 1:02d}"


def current_month(hub: ConsoleHub) -> str:
    return hub.clock().astimezone(CST).strftime("%Y-%m")


def months_until_now(hub: ConsoleHub) -> list[str]:
    out, m = [MONTH], MONTH
    while m < current_month(hub):
        m = month_after(m)
        out.append(m)
    return out


def page(hub: ConsoleHub, month: str) -> dict[str, Any]:
    sid, _csrf = hub.session_for("wang")
    with hub.client(sid) as client:
        answer = client.get(f"/v1/console/months/{month}")
    assert answer.status_code == 200, answer.text
    return answer.json()  # type: ignore[no-any-return]


def act(hub: ConsoleHub, who: str, month: str, action: str) -> None:
    sid, csrf = hub.session_for(who)
    with hub.client(sid) as client:
        answer = hub.post(client, f"/console/months/{month}/{action}", {}, csrf)
    assert answer.status_code == 303, answer.text


def close(hub: ConsoleHub, month: str) -> None:
    act(hub, "fan", month, "close")


def reopen(hub: ConsoleHub, month: str) -> None:
    act(hub, "alice", month, "reopen")


def arrive(hub: ConsoleHub, facts: dict[str, Any], station: str, ts: datetime,
           amount: Decimal) -> None:
    """One approved electricity bill of ``station`` at ``ts``, received at the hub's now (its
    own terminal, so it is a new record)."""
    facts["n"] = n = facts.get("n", 0) + 1
    assert ts < hub.clock()
    t = Transaction(f"CARRY{n}", station, f"{station}-C{n}", ts, "bill_payment",
                    "electricity", amount, "", "approved")
    load_hub(hub.store, facts["tmp"], [t], on_time_at=hub.clock())


def truth(facts: dict[str, Any], month: str) -> dict[Key, Decimal]:
    """What ``rewards compute --hub --include-late`` gives the month now, per subject."""
    result = CliRunner().invoke(cli, [
        "rewards", "compute", "--month", month, "--hub", str(facts["db"]), "--stations",
        str(facts["stations"]), "--branches", str(facts["branches"]), "--format", "json",
        "--include-late"])
    assert result.exit_code == 0, result.output
    out = json.loads(result.output)
    out = out[0] if isinstance(out, list) else out
    return {**{("station", s["station_id"]): Decimal(s["total"]) for s in out["stations"]},
            **{("branch", b["branch_id"]): Decimal(b["total"]) for b in out["branches"]}}


def statements(p: dict[str, Any]) -> dict[Key, dict[str, Any]]:
    return {**{("station", s["station_id"]): s for s in p["stations"]},
            **{("branch", b["branch_id"]): b for b in p["branches"]}}


def lines_of(p: dict[str, Any]) -> dict[tuple[str, str, str], Decimal]:
    """(month carried for, subject, id) -> the amount of its line in the page's statements."""
    out: dict[tuple[str, str, str], Decimal] = {}
    for key, st in statements(p).items():
        for a in st.get("carried") or []:
            assert (a["subject"], a["id"]) == key
            assert (a["month"], *key) not in out, "one line per month and subject"
            out[(a["month"], *key)] = Decimal(a["adjustment"])
            assert Decimal(a["adjustment"]) == Decimal(a["now"]) - Decimal(a["frozen"]) - \
                Decimal(a["carried_before"])
        assert Decimal(st["payable"]) == Decimal(st["total"]) + sum(
            (Decimal(a["adjustment"]) for a in st.get("carried") or []), Decimal(0))
    return out


def check_exactly_once(hub: ConsoleHub, facts: dict[str, Any]) -> dict[str, dict[str, Any]]:
    """The module's invariant for every closed month up to the hub's now; the pages."""
    pages = {m: page(hub, m) for m in months_until_now(hub)}
    assert pages[current_month(hub)]["closed"] is None, "the current month is open"
    carried: dict[tuple[str, str, str], Decimal] = defaultdict(Decimal)
    open_lines: dict[tuple[str, str, str], str] = {}
    for m, p in pages.items():
        for k, amount in lines_of(p).items():
            assert k[0] < m, "a month carries only earlier months' lines"
            carried[k] += amount
            if p["closed"] is None:
                assert k not in open_lines, f"{k} carried by {open_lines.get(k)} and {m}"
                open_lines[k] = m
    for m, p in pages.items():
        if p["closed"] is None:
            continue
        now = truth(facts, m)
        frozen = {k: Decimal(st["total"]) for k, st in statements(p).items()}
        for key in set(now) | set(frozen):
            assert frozen.get(key, Decimal(0)) + carried[(m, *key)] == \
                now.get(key, Decimal(0)), (m, key)
        # the closed month's own page: what is still to carry, and where
        target = next(x for x in sorted(pages) if x > m and pages[x]["closed"] is None)
        assert {(m, a["subject"], a["id"]): Decimal(a["adjustment"])
                for a in p["adjustments"]} == \
            {k: v for k, v in lines_of(pages[target]).items() if k[0] == m}
        assert all(a["into"] == target for a in p["adjustments"])
    return pages


def line(pages: dict[str, dict[str, Any]], month: str, of: str, key: Key) -> Decimal | None:
    """The line for month ``of`` in ``month``'s statement of ``key`` (None: no line)."""
    return lines_of(pages[month]).get((of, *key))


def delta(before: dict[Key, Decimal], after: dict[Key, Decimal]) -> dict[Key, Decimal]:
    return {k: after.get(k, Decimal(0)) - before.get(k, Decimal(0))
            for k in set(before) | set(after)
            if after.get(k, Decimal(0)) != before.get(k, Decimal(0))}


def test_late_records_after_the_next_month_closed_are_carried_once_each(month_hub) -> None:
    hub, facts = month_hub
    station = ("station", facts["ids"][0])
    close(hub, MONTH)
    pages = check_exactly_once(hub, facts)
    first = {k[1:]: v for k, v in lines_of(pages["2026-11"]).items() if k[0] == MONTH}
    assert first, "the fixture's late records are carried into November"
    hub.clock.now = datetime(2026, 12, 2, 9, 0, tzinfo=CST)
    close(hub, "2026-11")
    pages = check_exactly_once(hub, facts)
    assert not lines_of(pages["2026-12"]), "November's close froze October's lines"
    frozen_nov = {k[1:]: v for k, v in lines_of(pages["2026-11"]).items()}
    assert frozen_nov == first

    # a late October record after November closed: carried into December, only itself
    before = truth(facts, MONTH)
    arrive(hub, facts, station[1], datetime(2026, 10, 20, 15, 0, tzinfo=CST), Decimal("30.00"))
    change = delta(before, truth(facts, MONTH))
    assert station in change, "the record changes the station's October"
    pages = check_exactly_once(hub, facts)
    assert {k[1:]: v for k, v in lines_of(pages["2026-12"]).items() if k[0] == MONTH} == \
        change
    assert {k[1:]: v for k, v in lines_of(pages["2026-11"]).items()} == frozen_nov

    # December closes with it; a second late record is carried into January, only itself
    hub.clock.now = datetime(2027, 1, 2, 9, 0, tzinfo=CST)
    close(hub, "2026-12")
    pages = check_exactly_once(hub, facts)
    assert not any(k[0] == MONTH for k in lines_of(pages["2027-01"]))
    before = truth(facts, MONTH)
    arrive(hub, facts, station[1], datetime(2026, 10, 21, 15, 0, tzinfo=CST), Decimal("45.50"))
    second = delta(before, truth(facts, MONTH))
    assert station in second
    pages = check_exactly_once(hub, facts)
    assert {k[1:]: v for k, v in lines_of(pages["2027-01"]).items() if k[0] == MONTH} == \
        second
    assert line(pages, "2026-12", MONTH, station) == change[station]


def test_reopening_a_month_that_carried_does_not_double(month_hub) -> None:
    hub, facts = month_hub
    station = ("station", facts["ids"][0])
    close(hub, MONTH)
    hub.clock.now = datetime(2026, 12, 2, 9, 0, tzinfo=CST)
    close(hub, "2026-11")
    v1 = {k[1:]: v for k, v in lines_of(page(hub, "2026-11")).items()}
    assert v1
    before = truth(facts, MONTH)
    arrive(hub, facts, station[1], datetime(2026, 10, 20, 15, 0, tzinfo=CST), Decimal("30.00"))
    change = delta(before, truth(facts, MONTH))
    pages = check_exactly_once(hub, facts)
    assert line(pages, "2026-12", MONTH, station) == change[station]

    # re-open November: it is the first open month again, and carries everything once;
    # December carries nothing of October
    hub.clock.advance(hours=1)
    reopen(hub, "2026-11")
    pages = check_exactly_once(hub, facts)
    assert not any(k[0] == MONTH for k in lines_of(pages["2026-12"]))
    expected = dict(v1)
    for k, v in change.items():
        expected[k] = expected.get(k, Decimal(0)) + v
    assert {k[1:]: v for k, v in lines_of(pages["2026-11"]).items()} == \
        {k: v for k, v in expected.items() if v}
    # re-closed: version 2 freezes them; nothing is left to carry
    hub.clock.advance(hours=1)
    close(hub, "2026-11")
    pages = check_exactly_once(hub, facts)
    assert pages["2026-11"]["closed"]["version"] == 2
    assert not any(k[0] == MONTH for k in lines_of(pages["2026-12"]))
    assert pages[MONTH]["adjustments"] == []
    stored = hub.sql("SELECT version, COUNT(*) FROM statements WHERE month = '2026-11' "
                     "GROUP BY version ORDER BY version")
    assert [v for v, _n in stored] == [1, 2]  # version 1 stays stored

    # the audit rows say which version each replaced
    rows = [(e.action, e.target, e.before, e.after) for e in hub.console.audit(50)
            if e.action in ("month.close", "month.reopen") and e.target == "2026-11"]
    rows.reverse()  # oldest first
    assert [r[0] for r in rows] == ["month.close", "month.reopen", "month.close"]
    (_a, _t, b1, a1), (_a2, _t2, b2, a2), (_a3, _t3, b3, a3) = rows
    assert b1 is None
    assert (a1["version"], a1["closed"], a1["policy"], a1["carried"]) == \
        (1, True, "dezhou-2014", len(v1))
    assert a1["statements"] == len(statements(pages["2026-11"]))
    assert (b2, a2) == ({"version": 1, "closed": True}, {"version": 1, "closed": False})
    assert b3 == {"version": 1, "closed": False}
    assert (a3["version"], a3["closed"], a3["carried"]) == \
        (2, True, len(lines_of(pages["2026-11"])))


@pytest.fixture
def early_hub(hub_db: str, tmp_path: Path) -> Iterator[tuple[ConsoleHub, dict[str, Any]]]:
    """The golden October, every record on time, the hub's clock on November 3rd (before
    October's close date)."""
    hub = ConsoleHub(hub_db, Clock(T0))  # the default close day: October closes on the 13th
    try:
        for name, role in (("alice", Role.ADMIN), ("fan", Role.FINANCE), ("wang", Role.VIEWER)):
            hub.add_operator(name, role)
        stations, branches = import_reference(hub_db, tmp_path)
        rows = golden_rows()
        load_hub(hub.store, tmp_path, rows, on_time_at=ON_TIME)
        assert ON_TIME < hub.clock() < close_instant(MONTH)
        yield hub, {"db": hub_db, "tmp": tmp_path, "stations": stations,
                    "branches": branches, "ids": sorted({t.station_id for t in rows})}
    finally:
        hub.close()


def test_reclosing_the_carried_month_itself_keeps_the_sum(early_hub) -> None:
    """October re-opened and re-closed after November carried its adjustments: what version
    2 freezes and what November carried are not counted twice (a compensating line)."""
    hub, facts = early_hub
    station = facts["ids"][1]
    close(hub, MONTH)
    # an October record received after the close but before the close date: on time
    hub.clock.advance(hours=1)
    assert hub.clock() < close_instant(MONTH)
    arrive(hub, facts, station, datetime(2026, 10, 22, 15, 0, tzinfo=CST), Decimal("12.34"))
    hub.clock.now = datetime(2026, 12, 2, 9, 0, tzinfo=CST)
    close(hub, "2026-11")
    check_exactly_once(hub, facts)
    reopen(hub, MONTH)
    pages = check_exactly_once(hub, facts)
    assert not any(k[0] == MONTH for k in lines_of(pages["2026-12"])), "October is open"
    hub.clock.advance(hours=1)
    close(hub, MONTH)
    pages = check_exactly_once(hub, facts)
    assert any(k[0] == MONTH and v < 0 for k, v in lines_of(pages["2026-12"]).items())


@pytest.mark.parametrize("seed", [7, 2026, 31])
def test_any_sequence_of_closes_reopens_and_records_carries_exactly_once(
        month_hub, seed: int) -> None:
    hub, facts = month_hub
    rng = random.Random(seed)
    ids: list[str] = facts["ids"]
    closed: set[str] = set()
    seen: set[str] = set()
    for _step in range(20):
        now = hub.clock()
        ended = [m for m in months_until_now(hub) if m < current_month(hub)]
        choices = ["record", "record", "advance"]
        if [m for m in ended if m not in closed]:
            choices += ["close", "close"]
        if closed:
            choices.append("reopen")
        event = rng.choice(choices)
        seen.add(event)
        if event == "record":
            month = rng.choice(months_until_now(hub))
            y, m = int(month[:4]), int(month[5:7])
            ts = min(datetime(y, m, rng.randint(1, 28), rng.randint(8, 20), tzinfo=CST),
                     now - timedelta(hours=1))
            arrive(hub, facts, rng.choice(ids), ts, Decimal(rng.randint(100, 50000)) / 100)
        elif event == "advance":
            hub.clock.advance(days=rng.randint(5, 25))
        elif event == "close":
            month = rng.choice([m for m in ended if m not in closed])
            close(hub, month)
            closed.add(month)
        else:
            month = rng.choice(sorted(closed))
            reopen(hub, month)
            closed.discard(month)
        hub.clock.advance(minutes=5)
        check_exactly_once(hub, facts)
    assert seen == {"record", "advance", "close", "reopen"}, "the sequence tries every event"


def test_a_close_computed_before_another_months_close_changed_stores_nothing(
        month_hub) -> None:
    """The lines a close carries depend on which months are closed: a close whose basis
    changed meanwhile (here: October re-opened) is refused and stores nothing."""
    hub, _facts = month_hub
    months = month_store_for(hub.store)
    close(hub, MONTH)
    hub.clock.now = datetime(2026, 12, 2, 9, 0, tzinfo=CST)
    basis = {c.month: c.version for c in closes_in_force(months).values()}
    assert basis == {MONTH: 1}
    reopen(hub, MONTH)
    before = hub.sql("SELECT COUNT(*) FROM statements")
    with pytest.raises(OperatorError, match="re-opened while 2026-11"):
        months.close_month("2026-11", "dezhou-2014", [("station", "R1", {"total": "1.00"})],
                           now=hub.clock(), actor=Actor("test"), basis=basis)
    assert hub.sql("SELECT COUNT(*) FROM statements") == before
    assert months.closes("2026-11") == []
    done = months.close_month("2026-11", "dezhou-2014", [], now=hub.clock(),
                              actor=Actor("test"), basis={})
    assert done.version == 1
