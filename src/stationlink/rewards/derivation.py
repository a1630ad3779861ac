"""Every line item's derivation (its ``basis``) in a person's language.

Contract: :func:`station_basis`, :func:`branch_basis` and :func:`quarter_basis` return the
arithmetic behind one line item of a computed statement, through the gettext catalogue of
``lang``; in ``en`` the text is exactly the engine's own ``basis`` (a test holds them equal
over the golden month and random months), in ``zh`` the same figures with the policy's Chinese
wording, e.g. the village's household arithmetic as a fraction (``代收电费占比 = 当月代收笔数
/ 该村实际户数 = 120 / 200 = 60.0%``). They only read: every amount shown is the statement's
(never recomputed), counts, rates and tiers come from the statement's facts and the policy;
without the policy (or for an item it does not describe) the engine's basis is returned.
:func:`condition` renders an effective-station or refund condition; :func:`label` a policy
label (a label without a translation is shown as written in the policy); :func:`vocab_name` a
kind or product code (its Chinese name in zh, the code in en).

The inputs behind the items, shared by ``rewards explain`` and the console's statements (one
source, so both show the same figures): :func:`product_sums` are a station's approved
transactions of the month summed by kind and product (before any cap);
:func:`over_cap_days` the card-days over a count's per-card-per-day cap (card token only,
never a card number: :func:`card_text`); for a branch, :func:`branch_product_sums` sums what
its commission counts at its effective stations and :func:`branch_over_cap_days` lists its
stations' card-days over the cap (the swipes neither the effective-station test nor the
commission count).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import date
from decimal import Decimal
from fractions import Fraction

from ..i18n import check_lang, format_date, format_month, gettext_for
from ..records.cardnum import is_digit_string, masked
from .model import BranchItem, Condition, Policy, StationItem, Tier
from .statements import (
    BranchStatement,
    CountValue,
    LineItem,
    MonthResult,
    QuarterResult,
    QuarterStatement,
    StationFacts,
    StationStatement,
)
from .station_rules import (
    condition_value,
    find_tier,
    fmt_fraction,
    fmt_money,
    fmt_num,
    fmt_percent,
    fmt_rate,
)

Gettext = Callable[[str], str]


def N_(text: str) -> str:  # noqa: N802 - the gettext convention: marked for extraction only
    return text


#: People's names of the record vocabulary's codes (kinds and products); shown in zh, while
#: en shows the codes themselves, as the CSV files have them.
VOCAB_NAMES = {
    "bill_payment": N_("bill payment"), "withdrawal": N_("cash withdrawal"),
    "balance_inquiry": N_("balance inquiry"), "referral": N_("referral"),
    "mobile": N_("China Mobile"), "unicom": N_("China Unicom"),
    "telecom": N_("China Telecom"), "electricity": N_("electricity"), "water": N_("water"),
    "gas": N_("gas"), "cable_tv": N_("cable TV"), "huinongtong": N_("惠农通 account"),
    "finance_lead": N_("financial-customer lead"),
    "car_insurance_lead": N_("car-insurance lead"),
    "car_insurance_sale": N_("car-insurance sale"),
}


def month_text(month: str, lang: str | None) -> str:
    """A statement's month: ``2026年10月`` in zh, the ``2026-10`` key itself in en."""
    return month if check_lang(lang) == "en" else format_month(month, lang)


def day_text(day: str, lang: str | None) -> str:
    """A CST calendar date ``YYYY-MM-DD``: ``2026年10月5日`` in zh, as given in en."""
    return day if check_lang(lang) == "en" else format_date(date.fromisoformat(day), lang)


def vocab_name(code: str, lang: str | None) -> str:
    """A kind or product code for people: its name in zh, the code itself in en."""
    if check_lang(lang) == "en" or code not in VOCAB_NAMES:
        return code
    return gettext_for(lang)(VOCAB_NAMES[code])


def label(text: str, lang: str | None) -> str:
    """A policy label in ``lang`` (as written when the catalogue has no translation)."""
    return gettext_for(lang)(text)


def condition(cond: Condition, counts: dict[str, CountValue], lang: str | None) -> str:
    """``25 bill payments (all products) < 30`` in ``lang`` (as the engine's reasons)."""
    _ = gettext_for(lang)
    cv = counts[cond.count]
    ok = condition_value(cond, counts) >= cond.minimum
    op = ">=" if ok else "<"
    if cond.measure == "count":
        return _("{n} {label} {op} {minimum}").format(
            n=cv.n, label=_(cv.label), op=op, minimum=fmt_num(cond.minimum))
    return _("{amount} yuan of {label} {op} {minimum}").format(
        amount=fmt_money(cv.amount), label=_(cv.label), op=op,
        minimum=fmt_money(cond.minimum))


@dataclass(frozen=True)
class ProductSum:
    """A station's (or a branch's effective stations') approved transactions of one kind and
    product in the month: ``n`` of them, ``amount`` yuan; ``*_name`` in the person's language
    (the codes in en; ``product_name`` empty for a kind without product)."""

    kind: str
    product: str
    kind_name: str
    product_name: str
    n: int
    amount: Decimal


@dataclass(frozen=True)
class OverCapDay:
    """One card on one CST day with more swipes than a count's cap: the first ``cap`` by time
    were counted, ``over`` were not. ``card`` is the record's card token (a digit string, were
    one ever there, masked to its last four)."""

    station_id: str
    count: str
    label: str
    card: str
    day: str
    day_text: str
    swipes: int
    cap: int
    over: int


def card_text(card: str) -> str:
    """A card as a statement may show it: the token as recorded; a value shaped like a card
    number (12 or more digits) masked to its last four, so a full number is never shown."""
    return masked(card) if is_digit_string(card) else card


def product_sums(facts: StationFacts, lang: str | None,
                 keep: Callable[[str, str], bool] | None = None) -> list[ProductSum]:
    """The approved transactions by (kind, product), sorted; ``keep`` selects cells."""
    return [ProductSum(kind, product, vocab_name(kind, lang),
                       vocab_name(product, lang) if product else "", n, amount)
            for (kind, product), (n, amount) in sorted(facts.by_product.items())
            if keep is None or keep(kind, product)]


def over_cap_days(station_id: str, facts: StationFacts, lang: str | None,
                  names: Iterable[str] | None = None) -> list[OverCapDay]:
    """The card-days over the cap of the station's counts (of ``names`` only, if given), in
    the counts' order, each count's as the engine lists them (by card and day)."""
    wanted = None if names is None else set(names)
    return [OverCapDay(station_id, cv.name, label(cv.label, lang), card_text(card), day,
                       day_text(day, lang), swipes, cv.cap or 0, swipes - (cv.cap or 0))
            for cv in facts.counts.values() if wanted is None or cv.name in wanted
            for card, day, swipes in cv.over_cap]


def _commission_counts(policy: Policy | None, b: BranchStatement) -> tuple[str, ...]:
    spec = None if policy is None else next(
        (i for i in (policy.branch.items if policy.branch else ())
         if i.type == "per_txn_of_effective" and b.area in i.areas), None)
    return () if spec is None else tuple(spec.counts)


def branch_product_sums(policy: Policy | None, result: MonthResult, b: BranchStatement,
                        lang: str | None) -> list[ProductSum]:
    """What the branch's commission counts, before the cap: the approved transactions of its
    effective stations whose (kind, product) one of the commission's counts selects, summed
    over those stations by kind and product (empty without such an item)."""
    names = _commission_counts(policy, b)
    if policy is None or not names:
        return []
    defs = [policy.counts[n] for n in names]
    cells: dict[tuple[str, str], tuple[int, Decimal]] = {}
    for s in result.stations:
        if not b.station_status.get(s.station_id, (False, ()))[0]:
            continue
        for key, (n, amount) in s.facts.by_product.items():
            if any(d.matches(*key) for d in defs):
                had_n, had = cells.get(key, (0, Decimal(0)))
                cells[key] = (had_n + n, had + amount)
    return [ProductSum(kind, product, vocab_name(kind, lang),
                       vocab_name(product, lang) if product else "", n, amount)
            for (kind, product), (n, amount) in sorted(cells.items())]


def branch_over_cap_days(result: MonthResult, b: BranchStatement, lang: str | None
                         ) -> list[OverCapDay]:
    """The card-days over the cap at the branch's stations, by station."""
    return [d for sid in sorted(b.station_status)
            for st in (result.station(sid),) if st is not None
            for d in over_cap_days(sid, st.facts, lang)]


def _cap_note(cv: CountValue, _: Gettext) -> str:
    if cv.cap is None or cv.approved == cv.n:
        return ""
    return _(" ({approved} approved, {over} over the {cap}-per-card-per-day cap)").format(
        approved=cv.approved, over=cv.approved - cv.n, cap=cv.cap)


def _tier_text(tier: Tier, measure: str, _: Gettext) -> str:
    def bound(b: Decimal) -> str:
        return fmt_num(b * 100) + "%" if measure == "coverage" else fmt_num(b)

    name = {"count": _("n"), "amount": _("amount"), "coverage": _("coverage")}[measure]
    if tier.lower is None or tier.lower == 0:
        if tier.upper is None:
            return _("any {name}").format(name=name)
        return f"{name} < {bound(tier.upper)}"
    if tier.upper is None:
        return f"{name} >= {bound(tier.lower)}"
    return f"{bound(tier.lower)} <= {name} < {bound(tier.upper)}"


def _station_item(policy: Policy, st: StationStatement, code: str) -> StationItem | None:
    return next((i for i in policy.station_items
                 if i.code == code and st.facts.area in i.areas), None)


def _coverage(st: StationStatement, n: int, what: str, _: Gettext) -> tuple[Fraction, str]:
    f = st.facts
    households = f.effective_households
    if households is None:  # the engine refuses a coverage item without households
        raise AssertionError("coverage without households")
    cov = Fraction(n) / households
    hh = fmt_fraction(households)
    if f.stations_in_village > 1:
        hh = _("({households} households / {stations} stations = {effective})").format(
            households=f.village_households, stations=f.stations_in_village, effective=hh)
    # i18n: {label} (the count's label) is there for the translation's wording
    return cov, _("coverage {n}/{households} = {percent}").format(
        n=n, households=hh, percent=fmt_percent(cov), label=what)


def station_basis(policy: Policy | None, st: StationStatement, item: LineItem,
                  lang: str | None) -> str:
    """The derivation of one of ``st``'s items in ``lang`` (module contract)."""
    spec = None if policy is None else _station_item(policy, st, item.code)
    if spec is None or policy is None:
        return item.basis
    _ = gettext_for(lang)
    amount = fmt_money(item.amount)
    if spec.type == "withhold":
        before = st.items[: st.items.index(item)]
        fee = sum((i.amount for i in before), Decimal(0))
        return _("withheld {amount} of the fee {fee} (at most {most})").format(
            amount=fmt_money(-item.amount), fee=fmt_money(fee), most=fmt_money(spec.amount))
    cv = st.facts.counts[spec.count]
    n, what = cv.n, _(cv.label)
    if spec.type == "per_txn":
        return _("{n} {label}{cap} x {rate} yuan = {amount}").format(
            n=n, label=what, cap=_cap_note(cv, _), rate=fmt_rate(spec.rate), amount=amount)
    if spec.type == "percent_of_amount":
        exact = cv.amount * spec.percent / 100
        shown = amount if exact == item.amount else f"{fmt_num(exact)} -> {amount}"
        return _("{n} {label}, {total} yuan x {percent}% = {shown}").format(
            n=n, label=what, total=fmt_money(cv.amount), percent=fmt_num(spec.percent),
            shown=shown)
    if spec.type == "tiered_per_txn":
        value: Fraction | int
        if spec.measure == "coverage":
            value, measured = _coverage(st, n, what, _)
        elif spec.measure == "amount":
            value = Fraction(cv.amount)
            measured = _("amount {amount} yuan").format(amount=fmt_money(cv.amount))
        else:
            value, measured = n, _("n = {n}").format(n=n)
        tier = find_tier(spec.tiers, value)
        return _("{n} {label}{cap}, {measured} ({tier}) -> {rate} yuan each = {amount}").format(
            n=n, label=what, cap=_cap_note(cv, _), measured=measured,
            tier=_tier_text(tier, spec.measure, _), rate=fmt_rate(tier.rate), amount=amount)
    if spec.type == "fixed_if" and spec.when is not None:
        reached = condition_value(spec.when, st.facts.counts) >= spec.when.minimum
        result = amount if reached else _("not reached, 0.00")
        return f"{condition(spec.when, st.facts.counts, lang)} -> {result}"
    if spec.type == "unpriced":
        count_def = policy.counts[spec.count]
        none = _("(no product)")
        parts = [_("{n} {product}").format(n=pn, product=vocab_name(product, lang) if product
                                           else none)
                 for (kind, product), (pn, _amount) in sorted(st.facts.by_product.items())
                 if pn and count_def.matches(kind, product)]
        listed = f" ({', '.join(parts)})" if parts else ""
        return _("{n} {label}{listed}, {total} yuan collected: not priced by this policy "
                 "-> 0.00").format(n=n, label=what, listed=listed,
                                   total=fmt_money(cv.amount))
    return item.basis


def _branch_item(policy: Policy, b: BranchStatement, code: str) -> BranchItem | None:
    if policy.branch is None:
        return None
    return next((i for i in policy.branch.items if i.code == code and b.area in i.areas), None)


def branch_basis(policy: Policy | None, result: MonthResult, b: BranchStatement,
                 item: LineItem, lang: str | None) -> str:
    """The derivation of one of branch ``b``'s items in ``lang`` (module contract)."""
    spec = None if policy is None else _branch_item(policy, b, item.code)
    if spec is None:
        return item.basis
    _ = gettext_for(lang)
    amount, e = fmt_money(item.amount), b.effective_stations
    if spec.type == "per_effective_station":
        return _("{e} effective stations x {rate} yuan = {amount}").format(
            e=e, rate=fmt_rate(spec.amount), amount=amount)
    if spec.type == "per_txn_of_effective":
        effective = [s.facts for s in result.stations
                     if b.station_status.get(s.station_id, (False, ()))[0]]
        parts, n = [], 0
        for name in spec.counts:
            k = sum(f.counts[name].n for f in effective)
            what = _(effective[0].counts[name].label) if effective else name.replace("_", " ")
            parts.append(_("{n} {counted}").format(n=k, counted=what))
            n += k
        return _("{rate} yuan x ({parts} = {n}) at {e} effective stations = {amount}").format(
            rate=fmt_rate(spec.rate), parts=" + ".join(parts), n=n, e=e, amount=amount)
    if spec.type == "all_effective_bonus":
        ok = b.stations > 0 and e == b.stations
        verdict = (_("all effective") if ok else
                   _("no stations") if b.stations == 0 else _("not all effective"))
        return _("{e} of {total} stations effective: {verdict} -> {amount}").format(
            e=e, total=b.stations, verdict=verdict, amount=amount)
    if spec.type == "per_block_bonus":
        blocks = e // spec.block
        return _("{e} effective stations: {blocks} full block(s) of {block} x {each} = "
                 "{amount}").format(e=e, blocks=blocks, block=spec.block,
                                    each=fmt_money(spec.amount), amount=amount)
    short = max(0, b.plan - e)
    return _("plan {plan}, effective {e}: {short} short x {each} = {amount}").format(
        plan=b.plan, e=e, short=short, each=fmt_money(spec.amount), amount=amount)


def quarter_basis(policy: Policy | None, result: QuarterResult, qs: QuarterStatement,
                  item: LineItem, lang: str | None) -> str:
    """The derivation of one of a station's quarter items (``month.M`` / ``refund.M``)."""
    rule = None if policy is None else policy.quarter
    kind, _sep, month = item.code.partition(".")
    mr = next((m for m in result.months if m.month == month), None)
    st = None if mr is None else mr.station(qs.station_id)
    if rule is None or st is None or kind not in ("month", "refund"):
        return item.basis
    _ = gettext_for(lang)
    hold = st.item(rule.withhold_code)
    withheld = -hold.amount if hold is not None else Decimal("0.00")
    if kind == "month":
        return _("{month}: fee {fee} - withheld {withheld} = {total} paid monthly").format(
            month=month, fee=fmt_money(st.total + withheld), withheld=fmt_money(withheld),
            total=fmt_money(st.total))
    counts = st.facts.counts
    results = [(condition_value(c, counts) >= c.minimum, condition(c, counts, lang))
               for c in rule.refund_when_any]
    qualified = any(ok for ok, _text in results)
    joiner = _(" or ") if qualified else _(" and ")
    why = joiner.join(text for ok, text in results if ok == qualified)
    if withheld == 0:
        verdict = _("nothing was withheld")
    elif qualified:
        verdict = _("withheld {amount} returned").format(amount=fmt_money(withheld))
    else:
        verdict = _("withheld {amount} not returned (forfeited)").format(
            amount=fmt_money(withheld))
    return f"{month}: {why} -> {verdict}"
