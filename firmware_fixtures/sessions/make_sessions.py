"""Record the captured sessions of firmware_fixtures/sessions/ (run from the repository root).

    python firmware_fixtures/sessions/make_sessions.py [--only NAME ...] [--list]

Each session runs an emulated terminal (``stationlink_sim.serve.serve_terminal``, with the
session's fault spec and seed), the recorder (``stationlink_sim.capture.recorder.Recorder``,
host side a new pty or a TCP listener, terminal side the emulated terminal's pty or TCP
port) and a host scenario with the real client (``stationlink_sim.capture.hostplay``)
through the recorder. It writes ``<name>.jsonl`` (the capture) and ``<name>.host.json``
(the scenario: timers, operations and what the host observed). The terminal and the
recorder share a :class:`~stationlink_sim.clock.SimulatedClock`: the idle gaps of a day
are skipped (``skip``: the clock jumps), the exchanges themselves run in real time. Seeds, card key
(``00`` x 32) and redaction key are fixed; chunk times vary a little from run to run.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import random
import sys
from pathlib import Path
from typing import Any

from stationlink.money import CST
from stationlink_sim.capture.hostplay import Op, day_ops, run_host
from stationlink_sim.capture.recorder import Recorder
from stationlink_sim.clock import SimulatedClock
from stationlink_sim.customers import Billers
from stationlink_sim.serve import serve_terminal

HERE = Path(__file__).resolve().parent
SEED = 20240601
CARD_KEY = bytes(32)
DAY = dt.date(2026, 3, 16)
START = dt.datetime.combine(DAY, dt.time(0, 0), CST)
TIMERS = {"t1": 0.5, "t2_money": 1.5, "t2_other": 1.0}


def _sessions() -> list[dict[str, Any]]:
    out: list[dict[str, Any]] = []
    for dialect in ("mispos-1", "sl-2"):
        for kind in ("bill", "card"):
            for transport in ("serial", "tcp"):
                out.append({
                    "name": f"day-{dialect}-{kind}-{transport}", "what": "a normal day",
                    "kind": kind, "dialect": dialect, "transport": transport, "faults": "",
                    "ops": day_ops(kind, SEED, DAY, station=3 if kind == "bill" else 8),
                })
        out.append({
            "name": f"noisy-{dialect}-card-serial", "what": "a noisy line",
            "kind": "card", "dialect": dialect, "transport": "serial",
            "faults": "noise=0.4,in_noise=0.05,split=0.3",
            "ops": [{"op": "connect"}, {"op": "withdraw", "amount_fen": 20000},
                    {"op": "balance"}, {"op": "withdraw", "amount_fen": 10000},
                    {"op": "device_status"}, {"op": "balance"},
                    {"op": "withdraw", "amount_fen": 40000}, {"op": "settlement"},
                    {"op": "journal"}, {"op": "close"}],
        })
        lost_transport = "serial" if dialect == "mispos-1" else "tcp"
        out.append({
            "name": f"lost-{dialect}-bill-{lost_transport}", "what": "a lost response",
            "kind": "bill", "dialect": dialect, "transport": lost_transport,
            "faults": "drop_response=0.5",
            "ops": [{"op": "connect"}] + _payments(4) + [
                {"op": "resolve_unknown"}, {"op": "journal"}, {"op": "close"}],
        })
        power_transport = "tcp" if dialect == "mispos-1" else "serial"
        ops: list[Op] = [{"op": "connect"}, {"op": "device_status"},
                         {"op": "withdraw", "amount_fen": 30000},
                         {"op": "withdraw", "amount_fen": 50000}]
        if power_transport == "tcp":
            ops += [{"op": "close"}, {"op": "connect", "attempts": 30, "retry_wait": 0.2}]
        ops += [{"op": "resolve_unknown"}, {"op": "device_status"}, {"op": "journal"},
                {"op": "close"}]
        out.append({
            "name": f"power-{dialect}-card-{power_transport}", "what": "a power cycle",
            "kind": "card", "dialect": dialect, "transport": power_transport,
            "faults": "power_cycle#4,outage=1s", "ops": ops,
        })
    return out


def _payments(n: int) -> list[Op]:
    """``n`` mobile top-ups on accounts the emulated biller knows, so each one is approved.

    The terminal's biller (:class:`~stationlink_sim.customers.Billers`, same seed) decides
    which accounts exist; an unknown one would be declined ``ACCOUNT_NOT_FOUND`` and the
    lost-response sessions would then never cover an approved payment.
    """
    rng = random.Random(SEED)  # noqa: S311 - test data, not secrets
    billers = Billers(SEED)
    ops: list[Op] = []
    while len(ops) < n:
        account = f"138{rng.randrange(10**8):08d}"
        if billers.exists("mobile", account):
            ops.append({"op": "pay_bill", "product": "mobile", "account": account,
                        "amount_fen": 5000 * (len(ops) + 1)})
    return ops


def _check(session: dict[str, Any], observed: list[dict[str, Any]]) -> None:
    """Refuse a recording that does not show what its session is for."""
    name = session["name"]
    if name.startswith("lost-"):
        lost = [o for o in observed if o.get("resolved_by") == "status_query"]
        if not lost or any(o.get("outcome") != "approved" for o in lost):
            raise SystemExit(f"{name}: the lost responses must be approved payments: {lost}")
    errors = [o for o in observed if "error" in o]
    if errors:
        raise SystemExit(f"{name}: an operation raised: {errors}")


def record(session: dict[str, Any]) -> dict[str, Any]:
    name = session["name"]
    skip = SimulatedClock(START)
    tcp = session["transport"] == "tcp"
    with serve_terminal(
        session["kind"], session["dialect"], pty=not tcp,
        listen="tcp://127.0.0.1:0" if tcp else None, seed=SEED, faults=session["faults"],
        card_key=CARD_KEY, base_clock=skip, terminal_id="STN00301",
    ) as terminal:
        recorder = Recorder(
            "tcp://127.0.0.1:0" if tcp else "pty", terminal.url, HERE / f"{name}.jsonl",
            redaction_key=f"{SEED}:{name}".encode(), clock=skip.monotonic, wall=lambda: START,
            meta={"session": name, "made_by": "firmware_fixtures/sessions/make_sessions.py"},
        )
        recorder.start()
        try:
            observed = run_host(recorder.host_url, session["ops"], card_key=CARD_KEY,
                                seed=SEED, timers=TIMERS, skip=skip.skip, host_time=skip.now)
        finally:
            trailer = recorder.stop()
    _check(session, observed)
    scenario = {
        "session": name, "what": session["what"], "kind": session["kind"],
        "dialect": session["dialect"], "transport": session["transport"],
        "faults": session["faults"], "seed": SEED, "timers": TIMERS,
        "ops": session["ops"], "observed": observed,
    }
    (HERE / f"{name}.host.json").write_text(
        json.dumps(scenario, ensure_ascii=False, indent=1) + "\n", encoding="utf-8")
    print(f"{name}: {trailer.chunks} chunks, {trailer.bytes_h2t}+{trailer.bytes_t2h} bytes, "
          f"{trailer.t:.0f} s recorded, {trailer.cards_redacted} card fields redacted")
    return scenario


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--only", nargs="*", default=None, help="session names to record")
    parser.add_argument("--list", action="store_true", help="list the sessions and exit")
    args = parser.parse_args(argv)
    sessions = _sessions()
    if args.list:
        for s in sessions:
            print(f"{s['name']}: {s['what']} (faults: {s['faults'] or 'none'})")
        return 0
    for s in sessions:
        if args.only is None or s["name"] in args.only:
            record(s)
    return 0


if __name__ == "__main__":
    sys.exit(main())
