"""Simulator benchmarks.

Parts (each a function ``bench_<part>(args, workdir) -> dict`` registered in :data:`PARTS`):

- ``traffic``: ``stationlink sim traffic`` run as a real command (a subprocess, start-up
  included) for 10,000 stations over a 30-day month, writing the transactions, stations and
  branches files. Baseline measured in the same run: the I/O floor, ``csv.writer`` writing the
  same number of pre-built rows (1,000 rows taken from the simulated file, cycled) to a file in
  the same directory. Goal: the whole month in under 60 s on a 2-core machine.

Usage::

    python benchmarks/simulator.py [--part traffic] [--stations 10000] [--month 2026-09] [--json]

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


PARTS: dict[str, tuple[Callable[[argparse.Namespace, Path], dict[str, Any]],
                       Callable[[dict[str, Any]], None]]] = {
    "traffic": (bench_traffic, _print_traffic),
}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--part", action="append", choices=sorted(PARTS),
                        help="part to run (repeatable; default: all)")
    parser.add_argument("--scenario", default="county")
    parser.add_argument("--stations", type=int, default=10_000)
    parser.add_argument("--month", default="2026-09", help="a 30-day month by default")
    parser.add_argument("--seed", type=int, default=7)
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
