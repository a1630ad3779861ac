"""Rendering end-to-end results for people (text lines) and scripts (JSON objects).

Contract: :func:`run_lines` / :func:`run_json` render a :class:`~.run.RunResult`,
:func:`demo_lines` / :func:`demo_json` a :class:`~.demo.DemoResult`. Every figure comes from
the result (the hub's export, the truth, the drivers' counters, the reward engine's
statement); nothing is computed here but sums and formatting. Amounts are two-decimal
strings; no card number appears anywhere (only tokens exist in the results).
"""

from __future__ import annotations

from typing import Any

from stationlink.money import format_yuan
from stationlink.records.vocab import TERMINAL_KINDS, Kind

from .demo import DemoResult
from .figures import fault_lines
from .run import RunResult


def _events(result: RunResult) -> str:
    ev = result.events()
    kinds = (*TERMINAL_KINDS, Kind.REFERRAL.value)
    total = sum(ev[k] for k in kinds)
    parts = ", ".join(f"{ev[k]} {k}" for k in kinds)
    return (f"customers: {total} actions ({parts}); through the PC {ev['through_pc']}, "
            f"by a terminal on its own {ev['standalone']}; reversals refused by the terminal "
            f"{ev['reversal_refused']}, of an original it had not approved "
            f"{ev['reversal_original_not_approved']}")


def _files(result: RunResult) -> list[str]:
    return [f"  {name}: {path}" for name, path in result.files.items()]


def run_lines(result: RunResult) -> list[str]:
    out = [
        f"stationlink sim run: scenario {result.scenario}, seed {result.seed}, "
        f"{result.start.isoformat()} + {result.days} day(s), {len(result.stations)} "
        f"station(s), {result.seconds:.1f} s",
        _events(result),
        "the hub holds:",
        *result.figures().lines(),
        f"  referrals entered at the PC (through the buffer and the hub): "
        f"{len(result.referrals)}",
        "faults survived:",
        *fault_lines(result.faults()),
        *result.comparison.lines(),
    ]
    unsettled = [r.station_id for r in result.reports if r.unsettled]
    if unsettled:
        out.append(f"stations that did not finish syncing: {', '.join(unsettled)}")
    out += ["files:", *_files(result), f"work directory: {result.directory}"]
    return out


def run_json(result: RunResult) -> dict[str, Any]:
    return {
        "ok": result.ok,
        "directory": str(result.directory),
        "scenario": result.scenario,
        "seed": result.seed,
        "start": result.start.isoformat(),
        "days": result.days,
        "stations": [s.station_id for s in result.stations],
        "events": dict(sorted(result.events().items())),
        "figures": result.figures().as_json(),
        "referrals": len(result.referrals),
        "faults": result.faults(),
        "check": result.comparison.as_json(),
        "unsettled": [r.station_id for r in result.reports if r.unsettled],
        "terminals": [t for r in result.reports for t in r.terminals],
        "files": {k: str(v) for k, v in result.files.items()},
        "seconds": round(result.seconds, 3),
    }


def demo_lines(demo: DemoResult) -> list[str]:
    run, st, reward = demo.run, demo.station, demo.reward
    out = [
        f"station {st.station_id} (rural, village {st.village_id} of {st.village_households} "
        f"households), branch {st.branch_id}; {run.start.isoformat()}, seed {run.seed}",
    ]
    for t in (t for r in run.reports for t in r.terminals):
        out.append(f"  terminal {t['terminal_id']}: {t['kind']}, {t['dialect']} (detected by the "
                   f"agent), {t['url']}, faults {t['faults']}")
    out += [
        _events(run),
        "the day's figures (from the hub):",
        *run.figures().lines(),
        f"  referrals entered at the PC (through the buffer and the hub): {len(run.referrals)}",
        "faults survived:",
        *fault_lines(run.faults()),
        *run.comparison.lines(),
        f"reward so far for {demo.month} under {demo.policy}: {format_yuan(reward.total)} yuan",
    ]
    out += [f"  {format_yuan(i.amount):>8}  {i.label}: {i.basis}" for i in reward.items]
    out += ["files:", *_files(run), f"finished in {run.seconds:.1f} s; files in {run.directory}"]
    return out


def demo_json(demo: DemoResult) -> dict[str, Any]:
    return {**run_json(demo.run), "station": demo.station.station_id,
            "reward": demo.reward_json()}
