"""Benchmark of a whole ``stationlink diag`` run at 9600 baud (``python benchmarks/diag.py``).

One emulated terminal on a real pty, paced by the simulator at ``--baud`` (default 9600: its
bytes leave no faster than a real UART's), speaking ``--dialect`` (default ``mispos-1``, so
the dialect search abandons an ``sl-2`` probe first). The diagnosis is given neither the baud
rate nor the dialect: it finds both, then runs every check with ``--echo`` exchanges per
payload size (default 10, the CLI's default). Goal: the whole run under 120 s.

Printed per check: the time it took and, as the baseline, the pure wire time of the bytes it
moved on the line (both ways, 10 bits a byte at the baud rate: what the exchanges would cost
on an ideal line with an instant terminal), and their ratio. On a pty only the terminal side
is paced (the host's writes are instant), so the wire baseline of the host's bytes is an upper
bound of what the pty really costs; the ratio is a floor. ``--json`` prints one document.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import time
from datetime import datetime
from typing import Any

from stationlink.diag import DiagOptions, run_diag
from stationlink.money import CST
from stationlink_sim.clock import SimulatedClock
from stationlink_sim.serve import serve_terminal

GOAL_S = 120.0
START = datetime(2026, 3, 16, 9, 0, tzinfo=CST)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--baud", type=int, default=9600)
    ap.add_argument("--dialect", default="mispos-1", choices=["sl-2", "mispos-1"])
    ap.add_argument("--echo", type=int, default=10)
    ap.add_argument("--json", action="store_true")
    args = ap.parse_args()
    clock = SimulatedClock(START)
    with serve_terminal("card", args.dialect, pty=True, baud=args.baud, seed=1,
                        base_clock=clock) as t:
        clock.skip(3600.0)
        assert t.path is not None
        start = time.monotonic()
        report = run_diag(f"serial://{t.path}", DiagOptions(echo=args.echo),
                          host_time=clock.now, rng=random.Random(1))
        total = time.monotonic() - start
    found = report.checks["connection"].measurements
    per_bit = 10 / args.baud
    rows: list[dict[str, Any]] = []
    for c in report.ordered():
        wire = c.wire_bytes * per_bit
        rows.append({"check": c.name, "status": c.status.value, "seconds": round(c.seconds, 3),
                     "wire_bytes": c.wire_bytes, "wire_seconds": round(wire, 3),
                     "ratio": None if wire == 0 else round(c.seconds / wire, 2)})
    wire_total = sum(r["wire_seconds"] for r in rows)
    doc = {
        "baud": args.baud, "dialect": args.dialect, "echo": args.echo,
        "found": {"baud": found["baud"], "dialect": found["dialect"],
                  "confidence": found["confidence"], "probes": len(found["probes"])},
        "exit_code": report.exit_code(), "checks": rows,
        "total_seconds": round(total, 3), "wire_seconds": round(wire_total, 3),
        "ratio": None if wire_total == 0 else round(total / wire_total, 2),
        "goal_seconds": GOAL_S, "goal_met": total < GOAL_S,
        "loadavg": os.getloadavg()[0],
    }
    if args.json:
        print(json.dumps(doc))
        return
    print(f"diag at {args.baud} baud, {args.dialect}, {args.echo} echoes per size; found "
          f"{found['baud']} baud {found['dialect']} ({found['confidence']}, "
          f"{len(found['probes'])} probes); exit {report.exit_code()}")
    print(f"{'check':<12}{'status':<9}{'seconds':>9}{'wire s':>9}{'ratio':>8}")
    for r in rows:
        ratio = "-" if r["ratio"] is None else f"{r['ratio']:.2f}"
        print(f"{r['check']:<12}{r['status']:<9}{r['seconds']:>9.2f}{r['wire_seconds']:>9.2f}"
              f"{ratio:>8}")
    print(f"{'total':<21}{total:>9.2f}{wire_total:>9.2f}"
          f"{'' if doc['ratio'] is None else format(doc['ratio'], '.2f'):>8}")
    print(f"goal < {GOAL_S:.0f} s: {'met' if doc['goal_met'] else 'MISSED'} "
          f"(load average {doc['loadavg']:.2f})")



if __name__ == "__main__":
    main()
