"""The walkthrough of docs/agent.md, "A station on one machine", with real processes.

hub token create -> hub serve (port 0) -> sim station --traffic county (a pty bill terminal, a
TCP card terminal, journals in files, agent.toml / stations / branches written by it) ->
agent run -> agent status, hub status -> SIGTERM to all three (exit 0 each) -> hub export
and rewards compute --hub. Expected results are never written down: they are read from the
terminals' own journal files and from the hub export.

Two runs: one on an explicit date (``--start``), and the one test of the suite that runs on
"today" (the default start): its scenario and seed give a card-read failure (a declined
withdrawal without a card) among the customers on every date (station_scenarios.py).
"""

from __future__ import annotations

import csv
import io
import json
import re
import signal
import subprocess
import sys
import threading
import time
from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from typing import IO, Any

import pytest
from station_scenarios import CUSTOMERS_TODAY, SEED_TODAY, card_failure_scenario

from stationlink.hub.export import hub_transactions

CLI = [sys.executable, "-c", "from stationlink.cli.main import main; main()"]
STATION = "DZ-LL-0007"
CUSTOMERS = 20
STATION_TOML = f"""
station_id = "{STATION}"
card_key = "000102030405060708090a0b0c0d0e0f"
seed = 7

[[terminals]]
id = "LL000701"
kind = "bill"
dialect = "mispos-1"
pty = true
baud = 115200
faults = "noise=0.01,split=0.2"
journal = "journals/LL000701.jsonl"

[[terminals]]
id = "LL000702"
kind = "card"
dialect = "sl-2"
listen = "tcp://127.0.0.1:0"
faults = "split=0.2"
journal = "journals/LL000702.jsonl"
"""

pytestmark = pytest.mark.slow


def run(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run([*CLI, *args], cwd=cwd, capture_output=True, text=True, timeout=60,
                          check=False)


class Lines:
    """Collects a pipe's lines in a thread (so the child never blocks on a full pipe)."""

    def __init__(self, pipe: IO[str]) -> None:
        self.pipe = pipe
        self.lines: list[str] = []
        self.cond = threading.Condition()
        self.thread = threading.Thread(target=self._read, daemon=True)
        self.thread.start()

    def _read(self) -> None:
        for line in self.pipe:
            with self.cond:
                self.lines.append(line.rstrip("\n"))
                self.cond.notify_all()
        self.pipe.close()

    def wait_for(self, pattern: str, timeout: float) -> str:
        deadline = time.monotonic() + timeout
        with self.cond:
            while True:
                for line in self.lines:
                    if re.search(pattern, line):
                        return line
                left = deadline - time.monotonic()
                if left <= 0 or not self.thread.is_alive():
                    pytest.fail(f"no line matching {pattern!r}: {self.lines}")
                self.cond.wait(min(left, 0.2))

    def finish(self) -> list[str]:
        self.thread.join(timeout=10)
        return self.lines


class Proc:
    def __init__(self, *args: str, cwd: Path) -> None:
        self.proc = subprocess.Popen([*CLI, *args], cwd=cwd, stdout=subprocess.PIPE,
                                     stderr=subprocess.PIPE, text=True)
        assert self.proc.stdout is not None
        assert self.proc.stderr is not None
        self.out, self.err = Lines(self.proc.stdout), Lines(self.proc.stderr)

    def terminate(self) -> int:
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
        code = self.proc.wait(timeout=30)
        self.out.finish()
        self.err.finish()
        return code

    def kill(self) -> None:
        if self.proc.poll() is None:
            self.proc.kill()
        self.proc.wait(timeout=30)
        self.out.finish()
        self.err.finish()


@pytest.fixture
def procs() -> Iterator[list[Proc]]:
    started: list[Proc] = []
    yield started
    for p in started:  # a failed test must not leave processes behind
        p.kill()


def journal_truth(path: Path) -> dict[str, dict[str, str]]:
    """The interchange rows the hub should export for one terminal, read from its journal
    file (reversals fold into their original's status; declines are rows too)."""
    terminal = path.stem
    records = [json.loads(line)["record"] for line in path.read_text("utf-8").splitlines()
               if '"record"' in line]
    reversed_refs = {r["original_ref"] for r in records
                     if r["kind"] == "reversal" and r["status"] == "approved"}
    rows = {}
    for r in records:
        if r["kind"] == "reversal":
            continue
        status = "reversed" if r["ref"] in reversed_refs else r["status"]
        fen = r["amount_fen"]
        rows[f"{STATION}-{terminal}-{r['ref']}"] = {
            "terminal_id": terminal, "kind": r["kind"], "product": r["product"],
            "amount": f"{fen // 100}.{fen % 100:02d}", "status": status,
            "card": "" if r["card"] is None else r["card"]["token"],
        }
    return rows


def station_total(report: dict[str, Any]) -> str:
    for st in report["stations"]:
        if st["station_id"] == STATION:
            return str(st["total"])
    pytest.fail(f"{STATION} not in the rewards report: {report}")


@pytest.mark.parametrize("when", ["2026-10-06", "today"])
def test_station_on_one_machine(tmp_path: Path, procs: list[Proc], when: str) -> None:
    (tmp_path / "station.toml").write_text(STATION_TOML, encoding="utf-8")
    if when == "today":  # the default start: whatever today's date is
        traffic_args = ["--traffic", str(card_failure_scenario(tmp_path)),
                        "--seed", str(SEED_TODAY), "--customers", str(CUSTOMERS_TODAY)]
    else:
        traffic_args = ["--traffic", "county", "--start", when, "--seed", "7",
                        "--customers", str(CUSTOMERS)]

    # 1. the hub's database and the station's token
    made = run("hub", "token", "create", "--db", "hub.sqlite", "--station", STATION,
               cwd=tmp_path)
    assert made.returncode == 0, made.stderr
    (tmp_path / "hub.token").write_text(made.stdout, encoding="utf-8")

    # 2. the hub
    hub = Proc("hub", "serve", "--db", "hub.sqlite", "--bind", "127.0.0.1:0", cwd=tmp_path)
    procs.append(hub)
    hub_url = hub.err.wait_for(r"^hub listening on http://", 15).split()[-1]

    # 3. the station's terminals with customers at the counter
    sim = Proc("sim", "station", "--config", "station.toml", *traffic_args,
               "--speed", "5000", "-v",
               "--write-agent-config", "agent.toml", "--hub-url", hub_url,
               "--token-file", "hub.token", "--write-stations", "stations.csv",
               "--write-branches", "branches.csv", cwd=tmp_path)
    procs.append(sim)
    assert sim.out.wait_for(r"^pty /dev/pts/\d+ DZ-LL-0007 LL000701$", 15)
    assert sim.out.wait_for(r"^listening tcp://127\.0\.0\.1:\d+ DZ-LL-0007 LL000702$", 15)
    traffic = sim.out.wait_for(r"^traffic county: station DZ-LL-0007 ", 15)
    month = re.search(r" from (\d{4}-\d{2})-\d{2} ", traffic)
    assert month is not None, traffic
    if when != "today":
        assert f" from {when} " in traffic
    agent_toml = (tmp_path / "agent.toml").read_text("utf-8")
    assert re.search(r'url = "serial:///dev/pts/\d+\?baud=115200"', agent_toml)
    assert re.search(r'url = "tcp://127\.0\.0\.1:\d+"', agent_toml)

    # 4. the agent
    agent = Proc("agent", "run", "--config", "agent.toml", cwd=tmp_path)
    procs.append(agent)

    done = sim.out.wait_for(r"^traffic done: \d+ customers served", 25)
    served = int(done.split()[2])
    assert 0 < served <= (CUSTOMERS_TODAY if when == "today" else CUSTOMERS)
    journals = sorted((tmp_path / "journals").glob("*.jsonl"))
    truth: dict[str, dict[str, str]] = {}
    for path in journals:
        truth.update(journal_truth(path))
    assert truth, "the terminals journaled nothing"
    if when == "today":  # a card-read failure: declined, no card, still a transaction row
        assert any(t["kind"] == "withdrawal" and t["status"] == "declined" and not t["card"]
                   for t in truth.values()), truth
    deadline = time.monotonic() + 20
    # an explicit date in the past: the hub receives its records after the month closed
    # (late); "today": on time. --include-late compares the same set either way.
    while {t.txn_id for t in hub_transactions(tmp_path / "hub.sqlite", include_late=True)
           } != set(truth):
        if time.monotonic() > deadline:
            pytest.fail(f"the hub did not receive everything; agent log: {agent.err.lines[-20:]}")
        time.sleep(0.3)

    # 5. status while everything runs
    status = run("agent", "status", "--config", "agent.toml", "--json", cwd=tmp_path)
    assert status.returncode == 0, status.stderr
    hub_status = run("hub", "status", "--db", "hub.sqlite", cwd=tmp_path)
    assert hub_status.returncode == 0, hub_status.stderr
    assert STATION in hub_status.stdout

    # 6. stop all three cleanly
    assert agent.terminate() == 0, agent.err.lines[-20:]
    assert sim.terminate() == 0, sim.err.lines[-20:]
    assert hub.terminate() == 0, hub.err.lines[-20:]
    assert f"summary: customers served: {served}" in sim.out.lines
    customer_lines = [ln for ln in sim.out.lines if ln.startswith("customer ")]
    assert len(customer_lines) == served
    refs = Counter(m.group(1) for ln in customer_lines
                   for m in [re.search(r"(LL00070[12]) .* ref (\d{12})$", ln)] if m)
    journal_records = sum(1 for p in journals for ln in p.read_text("utf-8").splitlines()
                          if '"record"' in ln)
    assert sum(refs.values()) == journal_records  # every record came from a served customer

    # 7. the hub's export equals the terminals' journals: none missing, none twice
    export = run("hub", "export", "--db", "hub.sqlite", "--format", "csv", "--include-late",
                 cwd=tmp_path)
    assert export.returncode == 0, export.stderr
    rows = list(csv.DictReader(io.StringIO(export.stdout)))
    ids = [r["txn_id"] for r in rows]
    assert len(ids) == len(set(ids)), "a transaction exported twice"
    got = {r["txn_id"]: {k: r[k] for k in ("terminal_id", "kind", "product", "amount",
                                            "status", "card")} for r in rows}
    assert got == truth
    (tmp_path / "export.csv").write_text(export.stdout, encoding="utf-8")

    # 8. rewards from the hub equal rewards from the exported CSV
    common = ["--month", month.group(1), "--stations", "stations.csv",
              "--branches", "branches.csv", "--format", "json"]
    from_hub = run("rewards", "compute", "--hub", "hub.sqlite", "--include-late", *common,
                   cwd=tmp_path)
    assert from_hub.returncode == 0, from_hub.stderr
    from_csv = run("rewards", "compute", "--transactions", "export.csv", *common, cwd=tmp_path)
    assert from_csv.returncode == 0, from_csv.stderr
    hub_report, csv_report = json.loads(from_hub.stdout), json.loads(from_csv.stdout)
    assert station_total(hub_report) == station_total(csv_report)
    assert hub_report["stations"] == csv_report["stations"]
    assert hub_report["branches"] == csv_report["branches"]
