"""Rendering end-to-end results for people (text lines) and scripts (JSON objects).

Contract: :func:`run_lines` / :func:`run_json` render a :class:`~.run.RunResult`,
:func:`demo_lines` / :func:`demo_json` a :class:`~.demo.DemoResult`. Every figure comes from
the result (the hub's export, the truth, the drivers' counters, the reward engine's
statement); nothing is computed here but sums and formatting. Amounts are two-decimal
strings; no card number appears anywhere (only tokens exist in the results).
:func:`demo_lines` is in ``lang`` (Chinese by default, ``en`` on request) through
:mod:`stationlink.i18n`: amounts as ``元`` with two decimals in zh, the reward's items with the
label and derivation ``rewards explain`` shows (:mod:`stationlink.rewards.derivation`); ids,
paths and figures are the same in every language. :func:`run_lines` is English.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from stationlink.i18n import check_lang, gettext_for
from stationlink.i18n import format_yuan as yuan_for
from stationlink.money import format_yuan
from stationlink.records.vocab import TERMINAL_KINDS, Kind
from stationlink.rewards import derivation, load_policy

from .demo import DemoResult
from .figures import fault_lines
from .run import RunResult


def _events(result: RunResult, lang: str = "en") -> str:
    _ = gettext_for(lang)
    ev = result.events()
    kinds = (*TERMINAL_KINDS, Kind.REFERRAL.value)
    total = sum(ev[k] for k in kinds)
    parts = ", ".join(f"{ev[k]} {k}" for k in kinds)
    return _("customers: {total} actions ({parts}); through the PC {pc}, by a terminal on its "
             "own {standalone}; reversals refused by the terminal {refused}, of an original it "
             "had not approved {not_approved}").format(
        total=total, parts=parts, pc=ev["through_pc"], standalone=ev["standalone"],
        refused=ev["reversal_refused"], not_approved=ev["reversal_original_not_approved"])


def _money(amount: Decimal, lang: str) -> str:
    """``25.35 元`` in zh, ``25.35 yuan`` in en (as the rest of ``sim run``'s English)."""
    return yuan_for(amount, lang) if check_lang(lang) == "zh" else f"{format_yuan(amount)} yuan"


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


def demo_lines(demo: DemoResult, lang: str = "zh") -> list[str]:
    """The demo's summary for people, in ``lang`` (module contract)."""
    _ = gettext_for(lang)
    run, st, reward = demo.run, demo.station, demo.reward
    policy = load_policy(demo.policy)
    out = [
        _("station {station} (rural, village {village} of {households} households), branch "
          "{branch}; {day}, seed {seed}").format(
            station=st.station_id, village=st.village_id, households=st.village_households,
            branch=st.branch_id, day=run.start.isoformat(), seed=run.seed),
    ]
    for t in (t for r in run.reports for t in r.terminals):
        out.append(_("  terminal {terminal}: {kind}, {dialect} (detected by the agent), {url}, "
                     "faults {faults}").format(
            terminal=t["terminal_id"], kind=t["kind"], dialect=t["dialect"], url=t["url"],
            faults=t["faults"]))
    out += [
        _events(run, lang),
        _("the day's figures (from the hub):"),
        *run.figures().lines(lang),
        _("  referrals entered at the PC (through the buffer and the hub): {n}").format(
            n=len(run.referrals)),
        _("faults survived:"),
        *fault_lines(run.faults(), lang),
        *run.comparison.lines(lang),
        _("reward so far for {month} under {policy}: {total}").format(
            month=demo.month, policy=demo.policy, total=_money(reward.total, lang)),
    ]
    zh = check_lang(lang) == "zh"
    for i in reward.items:
        amount = yuan_for(i.amount, lang) if zh else format_yuan(i.amount)
        out.append(f"  {amount:>8}  {derivation.label(i.label, lang)}{'：' if zh else ': '}"
                   f"{derivation.station_basis(policy, reward, i, lang)}")
    out += [_("files:"), *_files(run),
            _("finished in {seconds} s; files in {directory}").format(
                seconds=f"{run.seconds:.1f}", directory=run.directory)]
    return out


def demo_json(demo: DemoResult) -> dict[str, Any]:
    return {**run_json(demo.run), "station": demo.station.station_id,
            "reward": demo.reward_json()}
