"""The full derivation of one station's or one branch's figures, as text for a person.

Contract: ``explain_station`` / ``explain_branch`` only read a computed
:class:`~.statements.MonthResult`; they print the inputs behind every item (transactions by
kind and product, declined/reversed rows, named counts, card-days over a cap, village
coverage, effective-station tests), every item with its basis, and the sums. The text is in
``lang`` (Chinese by default, ``en`` on request) through :mod:`stationlink.i18n`; given the
``policy`` the result was computed under, every item's basis is in that language too
(:mod:`.derivation`), else the engine's basis is shown. Figures are identical in every
language. They raise :class:`~stationlink.errors.ConfigError` for an id that is not in the
result.
"""

from __future__ import annotations

from decimal import Decimal

from ..errors import ConfigError
from ..i18n import gettext_for
from ..i18n.width import display_width
from . import derivation
from .model import Policy
from .statements import LineItem, MonthResult
from .station_rules import fmt_fraction, fmt_money


def _pad(text: str, columns: int) -> str:
    """``text`` padded with blanks to ``columns`` terminal columns (a CJK character takes 2)."""
    return text + " " * max(0, columns - display_width(text))


def _sum_line(items: tuple[LineItem, ...], total: Decimal, lang: str | None) -> str:
    _ = gettext_for(lang)
    if not items:
        return _("Total: {total} (no items)").format(total=fmt_money(total))
    terms = " + ".join(fmt_money(i.amount) for i in items).replace("+ -", "- ")
    return _("Total: {terms} = {total}").format(terms=terms, total=fmt_money(total))


def _area(area: str, lang: str | None) -> str:
    _ = gettext_for(lang)
    return {"rural": _("rural"), "urban": _("urban")}.get(area, area)


def _verdict(ok: bool, lang: str | None) -> str:
    _ = gettext_for(lang)
    return _("effective") if ok else _("not effective")


def explain_station(result: MonthResult, station_id: str, *, lang: str | None = None,
                    policy: Policy | None = None) -> str:
    _ = gettext_for(lang)
    st = result.station(station_id)
    if st is None:
        raise ConfigError(f"no station {station_id!r} in the stations file")
    f = st.facts
    month = derivation.month_text(result.month, lang)
    out = [_("Station {station}, {month}, policy {policy}").format(
               station=st.station_id, month=month, policy=result.policy),
           _("  branch {branch}, {area}").format(branch=st.branch_id, area=_area(f.area, lang))]
    if f.area == "rural":
        eff = fmt_fraction(f.effective_households) if f.effective_households else "?"
        out.append(_("  village {village}: {households} households, {stations} station(s) "
                     "registered there -> {effective} effective households").format(
            village=f.village_id, households=f.village_households,
            stations=f.stations_in_village, effective=eff))
    out.append("")
    out.append(_("Approved transactions in {month} (CST), by kind and product:").format(
        month=month))
    if not f.by_product:
        out.append(_("  none"))
    for ps in derivation.product_sums(f, lang):
        out.append(_("  {kind} {product} {n:>7}  {amount:>12} yuan").format(
            kind=_pad(ps.kind_name, 16), product=_pad(ps.product_name or "-", 20), n=ps.n,
            amount=fmt_money(ps.amount)))
    out.append(_("  not counted: {declined} declined, {reversed} reversed").format(
        declined=f.declined, reversed=f.reversed))
    out += ["", _("Counts defined by the policy:")]
    for cv in f.counts.values():
        what = derivation.label(cv.label, lang)
        line = _("  {name}: {n} {label}, {amount} yuan").format(
            name=cv.name, n=cv.n, label=what, amount=fmt_money(cv.amount))
        if cv.cap is not None:
            line = _("  {name}: {n} {label} of {approved} approved (at most {cap} per card "
                     "per CST day, the first by time)").format(
                name=cv.name, n=cv.n, label=what, approved=cv.approved, cap=cv.cap)
        out.append(line)
        for d in derivation.over_cap_days(st.station_id, f, lang, (cv.name,)):
            out.append(_("    card {card} on {day}: {swipes} swipes, {over} not counted").format(
                card=d.card, day=d.day_text, swipes=d.swipes, over=d.over))
    out += ["", _("Line items:")]
    for i in st.items:
        out.append(f"  {i.code} = {fmt_money(i.amount)}: {derivation.label(i.label, lang)}")
        out.append(f"      {derivation.station_basis(policy, st, i, lang)}")
    out += ["", _sum_line(st.items, st.total, lang)]
    if f.effective is not None:
        reasons = f.effective_reasons
        if policy is not None and policy.branch is not None:
            reasons = tuple(derivation.condition(c, f.counts, lang)
                            for c in policy.branch.effective_when_all)
        out.append(_("For branch {branch} this station is {verdict}: ").format(
            branch=st.branch_id, verdict=_verdict(f.effective, lang)) + _("; ").join(reasons))
    return "\n".join(out) + "\n"


def explain_branch(result: MonthResult, branch_id: str, *, lang: str | None = None,
                   policy: Policy | None = None) -> str:
    _ = gettext_for(lang)
    b = result.branch(branch_id)
    if b is None:
        raise ConfigError(f"no branch {branch_id!r} in the branches file (or the policy has "
                          "no branch rules)")
    out = [_("Branch {branch}, {month}, policy {policy}").format(
               branch=b.branch_id, month=derivation.month_text(result.month, lang),
               policy=result.policy),
           _("  {area}, {stations} station(s), plan {plan} effective station(s)").format(
               area=_area(b.area, lang), stations=b.stations, plan=b.plan), "",
           _("Effective-station test per station:")]
    rules = None if policy is None else policy.branch
    for sid, (ok, reasons) in b.station_status.items():
        st = result.station(sid)
        if rules is not None and st is not None:
            reasons = tuple(derivation.condition(c, st.facts.counts, lang)
                            for c in rules.effective_when_all)
        out.append(f"  {sid}: {_verdict(ok, lang)}: {_('; ').join(reasons)}")
    out += [_("  -> {n} effective").format(n=b.effective_stations), "", _("Line items:")]
    for i in b.items:
        out.append(f"  {i.code} = {fmt_money(i.amount)}: {derivation.label(i.label, lang)}")
        out.append(f"      {derivation.branch_basis(policy, result, b, i, lang)}")
    share = b.head_share
    out += ["", _sum_line(b.items, b.total, lang),
            _("Split: head = {total} x {share} = {exact} -> {head} (rounded); "
              "maintainer = {total} - {head} = {maintainer}").format(
                total=fmt_money(b.total), share=share.normalize(),
                exact=(b.total * share).normalize(), head=fmt_money(b.head),
                maintainer=fmt_money(b.maintainer))]
    return "\n".join(out) + "\n"
