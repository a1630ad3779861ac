"""Simulator benchmarks.

Parts (each a function ``bench_<part>(args, workdir) -> dict`` registered in :data:`PARTS`):

- ``traffic``: ``stationlink sim traffic`` run as a real command (a subprocess, start-up
  included) for 10,000 stations over a 30-day month, writing the transactions, stations and
  branches files. Baseline measured in the same run: the I/O floor, ``csv.writer`` writing the
  same number of pre-built rows (1,000 rows taken from the simulated file, cycled) to a file in
  the same directory. Goal: the whole month in under 60 s on a 2-core machine.

- ``replay``: replay speed of captured days (``firmware_fixtures/sessions/day-*.jsonl``, or
  ``--capture PATH`` repeatable) against the host side: the real client runs the session's
  scenario against ``stationlink replay``'s engine on a real pty / TCP socket. Baseline: the
  recorded duration of the day (real time). Peer measured in the same run: the same scenario
  against a live emulated terminal (idle gaps skipped), i.e. what the exchanges alone cost.
  Goal: replay at least 100x faster than real time.

Usage::

    python benchmarks/simulator.py [--part traffic] [--stations 10000] [--month 2026-09] [--json]
    python benchmarks/simulator.py --part replay [--capture day.jsonl ...] [--json]

Prints the figures and the ratio simulated/baseline; ``--json`` prints one JSON document.
"""

from __future__ import annotations

import argparse
import csv
import itertools
import json
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

GOAL_SECONDS = 60.0


def bench_traffic(args: argparse.Namespace, workdir: Path) -> dict[str, Any]:
    out = workdir / "T.csv"
    command = [
        sys.executable, "-c", "from stationlink.cli.main import main; main()",
        "sim", "traffic", "--scenario", args.scenario, "--month", args.month,
        "--seed", str(args.seed), "--stations", str(args.stations), "--out", str(out),
        "--no-progress", "--json",
    ]
    began = time.perf_counter()
    done = subprocess.run(command, capture_output=True, text=True, check=False)
    sim_seconds = time.perf_counter() - began
    if done.returncode != 0:
        raise SystemExit(f"sim traffic failed ({done.returncode}): {done.stderr.strip()}")
    summary = json.loads(done.stdout)
    rows = int(summary["transactions"])
    size = out.stat().st_size

    with open(out, encoding="utf-8", newline="") as handle:
        reader = csv.reader(handle)
        header = next(reader)
        template = list(itertools.islice(reader, 1000))
    out.unlink()
    floor_path = workdir / "floor.csv"
    began = time.perf_counter()
    with open(floor_path, "w", encoding="utf-8", newline="") as handle:
        writer = csv.writer(handle, lineterminator="\n")
        writer.writerow(header)
        writer.writerows(itertools.islice(itertools.cycle(template), rows))
    floor_seconds = time.perf_counter() - began
    floor_path.unlink()

    return {
        "part": "traffic",
        "stations": summary["stations"],
        "days": summary["days"],
        "transactions": rows,
        "bytes": size,
        "sim_seconds": round(sim_seconds, 3),
        "sim_rows_per_second": round(rows / sim_seconds),
        "baseline": "csv.writer, same number of pre-built rows (I/O floor)",
        "baseline_seconds": round(floor_seconds, 3),
        "baseline_rows_per_second": round(rows / floor_seconds),
        "ratio_sim_to_baseline": round(sim_seconds / floor_seconds, 2),
        "goal_seconds": GOAL_SECONDS,
        "goal_met": sim_seconds < GOAL_SECONDS,
    }


def _print_traffic(r: dict[str, Any]) -> None:
    print(f"sim traffic: {r['stations']} stations x {r['days']} days")
    print(f"  simulated   {r['transactions']:>10,} rows  {r['sim_seconds']:8.2f} s  "
          f"{r['sim_rows_per_second']:>9,} rows/s  ({r['bytes'] / 1e6:.0f} MB)")
    print(f"  baseline    {r['transactions']:>10,} rows  {r['baseline_seconds']:8.2f} s  "
          f"{r['baseline_rows_per_second']:>9,} rows/s  ({r['baseline']})")
    print(f"  ratio simulated/baseline: {r['ratio_sim_to_baseline']:.2f}x; goal < "
          f"{r['goal_seconds']:.0f} s for the month: {'met' if r['goal_met'] else 'MISSED'}")


REPLAY_GOAL = 100.0
SESSIONS = Path(__file__).resolve().parents[1] / "firmware_fixtures" / "sessions"


def _replay_once(path: Path, scenario: dict[str, Any]) -> tuple[float, bool]:
    from stationlink_sim.capture.hostplay import replay_host
    from stationlink_sim.capture.replayer import Replayer

    replayer = Replayer(path, stall_timeout=30)
    began = time.perf_counter()
    observed, result = replay_host(replayer, scenario["ops"], card_key=bytes(32),
                                   seed=scenario["seed"] + 1, timers=scenario["timers"],
                                   timeout=60)
    seconds = time.perf_counter() - began
    return seconds, result.ok and observed == scenario["observed"]


def _live_once(scenario: dict[str, Any]) -> float:
    from stationlink_sim.capture.hostplay import run_host
    from stationlink_sim.serve import serve_terminal

    tcp = scenario["transport"] == "tcp"
    with serve_terminal(scenario["kind"], scenario["dialect"], pty=not tcp,
                        listen="tcp://127.0.0.1:0" if tcp else None, seed=scenario["seed"],
                        card_key=bytes(32), terminal_id="STN00301") as terminal:
        began = time.perf_counter()
        run_host(terminal.url, scenario["ops"], card_key=bytes(32), seed=scenario["seed"],
                 timers=scenario["timers"])
        return time.perf_counter() - began


def bench_replay(args: argparse.Namespace, workdir: Path) -> dict[str, Any]:
    paths = [Path(p) for p in args.capture] if args.capture else sorted(
        SESSIONS.glob("day-*.jsonl"))
    rows = []
    for path in paths:
        scenario = json.loads(path.with_suffix(".host.json").read_text("utf-8"))
        from stationlink.capture import read_capture

        recorded = read_capture(path).duration
        runs = [_replay_once(path, scenario) for _ in range(args.repeat)]
        replay_seconds = min(r[0] for r in runs)
        live_seconds = min(_live_once(scenario) for _ in range(args.repeat))
        rows.append({
            "capture": path.name, "ok": all(r[1] for r in runs),
            "recorded_seconds": round(recorded, 3),
            "replay_seconds": round(replay_seconds, 4),
            "live_seconds": round(live_seconds, 4),
            "speedup_vs_real_time": round(recorded / replay_seconds, 1),
            "ratio_replay_to_live": round(replay_seconds / live_seconds, 2),
        })
    slowest = min(r["speedup_vs_real_time"] for r in rows)
    return {
        "part": "replay", "captures": rows,
        "baseline": "recorded duration of each day (real time)",
        "peer": "same scenario against a live emulated terminal, idle gaps skipped",
        "min_speedup_vs_real_time": slowest, "goal_speedup": REPLAY_GOAL,
        "goal_met": slowest >= REPLAY_GOAL and all(r["ok"] for r in rows),
    }


def _print_replay(r: dict[str, Any]) -> None:
    print("replay of captured days against the host side (real client, real pty/TCP)")
    for row in r["captures"]:
        print(f"  {row['capture']:<32} recorded {row['recorded_seconds']:>9.0f} s  replay "
              f"{row['replay_seconds']:7.3f} s  live {row['live_seconds']:7.3f} s  "
              f"{row['speedup_vs_real_time']:>12,.0f}x real time  replay/live "
              f"{row['ratio_replay_to_live']:.2f}  {'ok' if row['ok'] else 'DIVERGED'}")
    print(f"  slowest: {r['min_speedup_vs_real_time']:,.0f}x real time; goal >= "
          f"{r['goal_speedup']:.0f}x: {'met' if r['goal_met'] else 'MISSED'}")


PARTS: dict[str, tuple[Callable[[argparse.Namespace, Path], dict[str, Any]],
                       Callable[[dict[str, Any]], None]]] = {
    "traffic": (bench_traffic, _print_traffic),
    "replay": (bench_replay, _print_replay),
}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--part", action="append", choices=sorted(PARTS),
                        help="part to run (repeatable; default: all)")
    parser.add_argument("--scenario", default="county")
    parser.add_argument("--stations", type=int, default=10_000)
    parser.add_argument("--month", default="2026-09", help="a 30-day month by default")
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--capture", action="append", default=None,
                        help="replay part: capture file(s) (default: the day-* sessions)")
    parser.add_argument("--repeat", type=int, default=3, help="replay part: best of N")
    parser.add_argument("--json", action="store_true", help="print one JSON document")
    args = parser.parse_args(argv)
    results = []
    with tempfile.TemporaryDirectory(prefix="stationlink-bench-") as tmp:
        for part in args.part or sorted(PARTS):
            run, show = PARTS[part]
            result = run(args, Path(tmp))
            results.append(result)
            if not args.json:
                show(result)
    if args.json:
        print(json.dumps({"results": results}))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
