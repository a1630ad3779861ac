"""The full derivation of one station's or one branch's figures, as text for a person.

Contract: ``explain_station`` / ``explain_branch`` only read a computed
:class:`~.statements.MonthResult`; they print the inputs behind every item (transactions by
kind and product, declined/reversed rows, named counts, card-days over a cap, village
coverage, effective-station tests), every item with its basis, and the sums. They raise
:class:`~stationlink.errors.ConfigError` for an id that is not in the result.
"""

from __future__ import annotations

from decimal import Decimal

from ..errors import ConfigError
from .statements import LineItem, MonthResult
from .station_rules import fmt_fraction, fmt_money


def _sum_line(items: tuple[LineItem, ...], total: Decimal) -> str:
    if not items:
        return f"Total: {fmt_money(total)} (no items)"
    terms = " + ".join(fmt_money(i.amount) for i in items).replace("+ -", "- ")
    return f"Total: {terms} = {fmt_money(total)}"


def explain_station(result: MonthResult, station_id: str) -> str:
    st = result.station(station_id)
    if st is None:
        raise ConfigError(f"no station {station_id!r} in the stations file")
    f = st.facts
    out = [f"Station {st.station_id}, {result.month}, policy {result.policy}",
           f"  branch {st.branch_id}, {f.area}"]
    if f.area == "rural":
        eff = fmt_fraction(f.effective_households) if f.effective_households else "?"
        out.append(f"  village {f.village_id}: {f.village_households} households, "
                   f"{f.stations_in_village} station(s) registered there -> {eff} effective "
                   "households")
    out.append("")
    out.append(f"Approved transactions in {result.month} (CST), by kind and product:")
    if not f.by_product:
        out.append("  none")
    for (kind, product), (n, amount) in sorted(f.by_product.items()):
        out.append(f"  {kind:<16} {product or '-':<20} {n:>7}  {fmt_money(amount):>12} yuan")
    out.append(f"  not counted: {f.declined} declined, {f.reversed} reversed")
    out += ["", "Counts defined by the policy:"]
    for cv in f.counts.values():
        line = f"  {cv.name}: {cv.n} {cv.label}, {fmt_money(cv.amount)} yuan"
        if cv.cap is not None:
            line = (f"  {cv.name}: {cv.n} {cv.label} of {cv.approved} approved "
                    f"(at most {cv.cap} per card per CST day, the first by time)")
        out.append(line)
        for card, day, swipes in cv.over_cap:
            out.append(f"    card {card} on {day}: {swipes} swipes, {swipes - cv.cap} "  # type: ignore[operator]
                       "not counted")
    out += ["", "Line items:"]
    for i in st.items:
        out.append(f"  {i.code} = {fmt_money(i.amount)}: {i.label}")
        out.append(f"      {i.basis}")
    out += ["", _sum_line(st.items, st.total)]
    if f.effective is not None:
        verdict = "effective" if f.effective else "not effective"
        out.append(f"For branch {st.branch_id} this station is {verdict}: "
                   + "; ".join(f.effective_reasons))
    return "\n".join(out) + "\n"


def explain_branch(result: MonthResult, branch_id: str) -> str:
    b = result.branch(branch_id)
    if b is None:
        raise ConfigError(f"no branch {branch_id!r} in the branches file (or the policy has "
                          "no branch rules)")
    out = [f"Branch {b.branch_id}, {result.month}, policy {result.policy}",
           f"  {b.area}, {b.stations} station(s), plan {b.plan} effective station(s)", "",
           "Effective-station test per station:"]
    for sid, (ok, reasons) in b.station_status.items():
        out.append(f"  {sid}: {'effective' if ok else 'not effective'}: {'; '.join(reasons)}")
    out += [f"  -> {b.effective_stations} effective", "", "Line items:"]
    for i in b.items:
        out.append(f"  {i.code} = {fmt_money(i.amount)}: {i.label}")
        out.append(f"      {i.basis}")
    share = b.head_share
    out += ["", _sum_line(b.items, b.total),
            f"Split: head = {fmt_money(b.total)} x {share.normalize()} = "
            f"{(b.total * share).normalize()} -> {fmt_money(b.head)} (rounded); "
            f"maintainer = {fmt_money(b.total)} - {fmt_money(b.head)} = "
            f"{fmt_money(b.maintainer)}"]
    return "\n".join(out) + "\n"
