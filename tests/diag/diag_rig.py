"""Helpers of the diag tests: an emulated terminal on a simulated clock, a diagnosis run
against it, and what the terminal holds before and after (journal, ack cursor, requests);
an HTML report's self-containment and what headless Chromium makes of it."""

from __future__ import annotations

import itertools
import random
import re
import shutil
import subprocess
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime
from pathlib import Path
from typing import Any

import pytest

from stationlink.client import connect
from stationlink.diag import DiagOptions, Report, run_diag
from stationlink.money import CST
from stationlink.protocol import MONEY_MOVING, Dialect, JournalRecord, MsgType
from stationlink_sim.clock import SimulatedClock
from stationlink_sim.serve import DEFAULT_CARD_KEY, RunningTerminal, serve_terminal

START = datetime(2026, 3, 16, 9, 0, 0, tzinfo=CST)
#: requests a diagnosis may send: none moves money, none acknowledges the journal
ALLOWED = {MsgType.IDENTIFY, MsgType.DEVICE_STATUS, MsgType.ECHO, MsgType.JOURNAL_READ,
           MsgType.SETTLEMENT_TOTALS}


#: a new seed for every run: a terminal suppresses a request repeating the seq and body of
#: one it answered, and a run's sequence numbers and echo payloads come from its seed
_SEEDS = itertools.count(7)


@contextmanager
def terminal(transport: str = "tcp", faults: str = "", *, kind: str = "bill",
             dialect: str = "sl-2", payments: int = 2, **options: Any
             ) -> Iterator[tuple[RunningTerminal, SimulatedClock]]:
    """A terminal up for an hour of simulated time, with ``payments`` journal records."""
    clock = SimulatedClock(START)
    with serve_terminal(kind, dialect, pty=transport == "serial",
                        listen="tcp://127.0.0.1:0" if transport == "tcp" else None,
                        faults=faults, seed=11, base_clock=clock, **options) as t:
        clock.skip(3600.0)  # booted an hour ago: no "recent boot"
        if payments:
            with connect(t.url, card_key=DEFAULT_CARD_KEY, dialect=dialect,
                         rng=random.Random(5)) as term:
                approved, account = 0, 31000000
                while approved < payments:  # one account in 40 is unknown to the biller
                    account += 1
                    result = term.pay_bill("gas", str(account), amount_fen=1250 + approved)
                    approved += result.approved
        yield t, clock


def journal_state(t: RunningTerminal) -> tuple[list[JournalRecord], int]:
    return t.device.journal.records_now(), t.device.journal.acked_cursor


def diagnose(t: RunningTerminal, clock: SimulatedClock, url: str | None = None,
             **options: Any) -> Report:
    options.setdefault("echo", 4)
    if options.get("dialect") is not None:
        options["dialect"] = Dialect(options["dialect"])
    return run_diag(url or t.url, DiagOptions(**options), host_time=clock.now,
                    rng=random.Random(next(_SEEDS)))


def received(t: RunningTerminal) -> Counter[MsgType]:
    return Counter(t.session.received)


def assert_unchanged(t: RunningTerminal, before: tuple[list[JournalRecord], int],
                     baseline: Counter[MsgType]) -> None:
    """The journal and its ack cursor are as before; no money moved, nothing acknowledged."""
    assert journal_state(t) == before
    sent = set(received(t) - baseline)
    assert sent, "the diagnosis sent nothing the terminal saw"
    assert sent <= ALLOWED, f"diag sent {sorted(m.name for m in sent - ALLOWED)}"
    assert not (sent & set(MONEY_MOVING))
    assert MsgType.JOURNAL_ACK not in sent


CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic",
                 "--no-first-run", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync"]


def assert_self_contained(html: str) -> None:
    """A report page for a phone that loads nothing: a viewport, no script, no link, no URL."""
    assert '<meta name="viewport"' in html
    assert "<script" not in html.lower()
    assert not re.search(r"""(src|href)\s*=|url\(|https?://|@import""", html, re.I)


def chromium(page: Path, *args: str) -> subprocess.CompletedProcess[str]:
    """Headless Chromium on ``page`` with ``args`` (the test is skipped without Chromium)."""
    if not Path(CHROMIUM).exists() or shutil.which(CHROMIUM) is None:
        pytest.skip(f"{CHROMIUM} is not installed: the report is not rendered")
    return subprocess.run([CHROMIUM, *CHROMIUM_ARGS, *args, page.as_uri()],
                          capture_output=True, text=True, errors="replace", timeout=120,
                          check=True)
