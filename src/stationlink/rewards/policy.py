"""Load and validate a reward policy file (TOML) into a :class:`~.model.Policy`.

Contract:
- ``load_policy("dezhou-2014")`` loads a built-in policy shipped in ``stationlink/policies``;
  anything containing a path separator or ending in ``.toml`` is read as a file.
- Every error raises :class:`~stationlink.errors.PolicyError` naming the key (dotted path,
  with list indexes, e.g. ``station.items[2].tiers[1].from``) and the reason: unknown keys,
  missing keys, wrong types, negative rates or amounts, tiers that are unordered, overlapping,
  leave a gap or do not end open, references to undefined counts, duplicate codes.
- TOML floats are read as exact ``Decimal`` (``parse_float=Decimal``); nothing is a float.
- ``docs/policies.md`` documents every key accepted here.
"""

from __future__ import annotations

import difflib
import string
import tomllib
from collections.abc import Sequence
from decimal import Decimal
from importlib import resources
from pathlib import Path
from typing import Any

from ..errors import PolicyError
from ..records.vocab import KINDS
from .model import (
    BRANCH_ITEM_TYPES,
    ROUNDING_MODES,
    STATION_ITEM_TYPES,
    BranchItem,
    BranchRules,
    Condition,
    CountDef,
    NoticeFormat,
    Policy,
    QuarterRule,
    StationItem,
    Tier,
)

AREAS = ("rural", "urban")
CALENDAR_KEYS = ("details_by", "county_check_by", "station_signoff_by", "city_audit_by",
                 "paid_by", "notice_by")
NOTICE_FIELDS = {"station", "year", "month", "total", "parts", "paid_by_month", "paid_by_day"}
PART_FIELDS = {"label", "amount"}
BUILTIN = ("dezhou-2014", "county-withhold-2012")


class _Table:
    """One TOML table being validated: typed getters plus an unknown-key check."""

    def __init__(self, data: object, path: str) -> None:
        if not isinstance(data, dict):
            raise PolicyError(f"{path or 'policy'}: expected a table")
        self.data: dict[str, Any] = data
        self.path = path
        self.used: set[str] = set()

    def key(self, name: str) -> str:
        return f"{self.path}.{name}" if self.path else name

    def has(self, name: str) -> bool:
        return name in self.data

    def raw(self, name: str, required: bool) -> Any:
        self.used.add(name)
        if name not in self.data:
            if required:
                close = difflib.get_close_matches(name, [str(k) for k in self.data], n=1)
                hint = f" (is {close[0]!r} a misspelling?)" if close else ""
                raise PolicyError(f"{self.key(name)}: required key missing{hint}")
            return None
        return self.data[name]

    def text(self, name: str, required: bool = True, default: str = "") -> str:
        value = self.raw(name, required)
        if value is None:
            return default
        if not isinstance(value, str):
            raise PolicyError(f"{self.key(name)}: expected a string, got {value!r}")
        return value

    def choice(self, name: str, options: tuple[str, ...], default: str | None = None) -> str:
        value = self.text(name, required=default is None, default=default or "")
        if value not in options:
            raise PolicyError(f"{self.key(name)}: {value!r} is not one of {', '.join(options)}")
        return value

    def number(self, name: str, required: bool = True, default: Decimal | None = None) -> Decimal:
        value = self.raw(name, required)
        if value is None:
            return default if default is not None else Decimal(0)
        if isinstance(value, bool) or not isinstance(value, (int, Decimal, str)):
            raise PolicyError(f"{self.key(name)}: expected a number, got {value!r}")
        try:
            dec = Decimal(str(value).strip())
        except ArithmeticError as exc:
            raise PolicyError(f"{self.key(name)}: not a number: {value!r}") from exc
        if not dec.is_finite():
            raise PolicyError(f"{self.key(name)}: not a finite number: {value!r}")
        if dec < 0:
            raise PolicyError(f"{self.key(name)}: must not be negative, got {value}")
        return dec

    def integer(self, name: str, required: bool = True, minimum: int = 0) -> int | None:
        value = self.raw(name, required)
        if value is None:
            return None
        if isinstance(value, bool) or not isinstance(value, int):
            raise PolicyError(f"{self.key(name)}: expected a whole number, got {value!r}")
        if value < minimum:
            raise PolicyError(f"{self.key(name)}: must be at least {minimum}, got {value}")
        return value

    def strings(self, name: str, required: bool = False) -> tuple[str, ...] | None:
        value = self.raw(name, required)
        if value is None:
            return None
        if not isinstance(value, list) or not all(isinstance(v, str) and v for v in value):
            raise PolicyError(f"{self.key(name)}: expected a list of non-empty strings")
        if not value:
            raise PolicyError(f"{self.key(name)}: must not be empty")
        return tuple(value)

    def tables(self, name: str, required: bool = False) -> list[_Table]:
        value = self.raw(name, required)
        if value is None:
            return []
        if not isinstance(value, list):
            raise PolicyError(f"{self.key(name)}: expected an array of tables")
        return [_Table(v, f"{self.key(name)}[{i}]") for i, v in enumerate(value)]

    def sub(self, name: str, required: bool = False) -> _Table | None:
        value = self.raw(name, required)
        return None if value is None else _Table(value, self.key(name))

    def need(self, name: str) -> _Table:
        return _Table(self.raw(name, required=True), self.key(name))

    def done(self) -> None:
        unknown = sorted(set(self.data) - self.used)
        if unknown:
            allowed = ", ".join(sorted(self.used))
            raise PolicyError(
                f"{self.key(unknown[0])}: unknown key (allowed here: {allowed})"
            )


def _areas(t: _Table) -> frozenset[str]:
    areas = t.strings("areas")
    if areas is None:
        return frozenset(AREAS)
    for a in areas:
        if a not in AREAS:
            raise PolicyError(f"{t.key('areas')}: {a!r} is not one of rural, urban")
    return frozenset(areas)


def _count(t: _Table, name: str) -> CountDef:
    kind = t.choice("kind", KINDS)
    products = t.strings("products")
    except_ = t.strings("products_except")
    if products is not None and except_ is not None:
        raise PolicyError(f"{t.key('products_except')}: use products or products_except, not both")
    cap = t.integer("cap_per_card_per_day", required=False, minimum=1)
    label = t.text("label", required=False, default=name.replace("_", " "))
    t.done()
    return CountDef(name, label, kind, frozenset(products) if products else None,
                    frozenset(except_) if except_ else None, cap)


def _condition(t: _Table, counts: dict[str, CountDef]) -> Condition:
    count = _ref(t, "count", counts)
    measure = t.choice("measure", ("count", "amount"), default="count")
    if measure == "amount" and counts[count].cap_per_card_per_day is not None:
        raise PolicyError(f"{t.key('measure')}: amount of a capped count is not defined")
    minimum = t.number("min")
    t.done()
    return Condition(count, measure, minimum)


def _ref(t: _Table, key: str, counts: dict[str, CountDef]) -> str:
    name = t.text(key)
    if name not in counts:
        raise PolicyError(f"{t.key(key)}: no count named {name!r} (defined: {', '.join(counts)})")
    return name


def _tiers(t: _Table) -> tuple[Tier, ...]:
    tables = t.tables("tiers", required=True)
    if not tables:
        raise PolicyError(f"{t.key('tiers')}: needs at least one tier")
    tiers: list[Tier] = []
    for i, tt in enumerate(tables):
        lower = tt.number("from", required=False) if tt.has("from") else None
        upper = tt.number("below", required=False) if tt.has("below") else None
        rate = tt.number("rate")
        tt.done()
        if lower is not None and upper is not None and upper <= lower:
            raise PolicyError(f"{tt.key('below')}: must be above from ({upper} <= {lower})")
        if i == 0:
            if lower not in (None, Decimal(0)):
                raise PolicyError(f"{tt.key('from')}: the first tier must start at 0")
        else:
            prev = tiers[-1].upper
            if prev is None:
                raise PolicyError(f"{tt.key('from')}: tier after an open-ended tier")
            if lower is None or lower < prev:
                raise PolicyError(
                    f"{tt.key('from')}: tiers overlap or are unordered (from {lower}, "
                    f"previous tier ends below {prev})"
                )
            if lower > prev:
                raise PolicyError(f"{tt.key('from')}: gap between {prev} and {lower}")
        tiers.append(Tier(lower, upper, rate))
    if tiers[-1].upper is not None:
        raise PolicyError(f"{tables[-1].key('below')}: the last tier must be open (no below)")
    return tuple(tiers)


def _station_item(t: _Table, counts: dict[str, CountDef]) -> StationItem:
    code = t.text("code")
    kind = t.choice("type", STATION_ITEM_TYPES)
    label = t.text("label", required=False, default=code)
    sms = t.text("sms", required=False)
    areas = _areas(t)
    item = StationItem(code, label, kind, areas=areas, sms=sms)
    if kind == "withhold":
        item = StationItem(code, label, kind, areas=areas, sms=sms, amount=t.number("amount"))
    else:
        count = _ref(t, "count", counts)
        capped = counts[count].cap_per_card_per_day is not None
        if kind == "per_txn":
            item = StationItem(code, label, kind, count, areas, rate=t.number("rate"), sms=sms)
        elif kind == "percent_of_amount":
            if capped:
                raise PolicyError(f"{t.key('count')}: percent of a capped count is not defined")
            item = StationItem(code, label, kind, count, areas, percent=t.number("percent"),
                               sms=sms)
        elif kind == "tiered_per_txn":
            measure = t.choice("measure", ("count", "amount", "coverage"), default="count")
            if measure == "amount" and capped:
                raise PolicyError(f"{t.key('measure')}: amount of a capped count is not defined")
            if measure == "coverage" and areas != frozenset({"rural"}):
                raise PolicyError(f"{t.key('measure')}: coverage needs areas = [\"rural\"]")
            item = StationItem(code, label, kind, count, areas, measure=measure,
                               tiers=_tiers(t), sms=sms)
        elif kind == "fixed_if":
            when = t.need("when")
            item = StationItem(code, label, kind, count, areas, amount=t.number("amount"),
                               when=_condition(when, counts), sms=sms)
        else:  # unpriced
            item = StationItem(code, label, kind, count, areas, sms=sms)
    t.done()
    return item


def _branch_item(t: _Table, counts: dict[str, CountDef]) -> BranchItem:
    code = t.text("code")
    kind = t.choice("type", BRANCH_ITEM_TYPES)
    label = t.text("label", required=False, default=code)
    areas = _areas(t)
    if kind == "per_txn_of_effective":
        names = t.strings("counts", required=True) or ()
        for n in names:
            if n not in counts:
                raise PolicyError(f"{t.key('counts')}: no count named {n!r}")
        item = BranchItem(code, label, kind, areas, rate=t.number("rate"), counts=names)
    elif kind == "per_block_bonus":
        block = t.integer("block", minimum=1) or 1
        item = BranchItem(code, label, kind, areas, amount=t.number("amount"), block=block)
    else:
        item = BranchItem(code, label, kind, areas, amount=t.number("amount"))
    t.done()
    return item


def _check_codes(items: Sequence[StationItem | BranchItem], path: str) -> None:
    seen: dict[str, frozenset[str]] = {}
    for i, item in enumerate(items):
        other = seen.get(item.code)
        if other is not None and other & item.areas:
            raise PolicyError(f"{path}[{i}].code: duplicate code {item.code!r} for the same area")
        seen[item.code] = (other or frozenset()) | item.areas


def _check_template(t: _Table, key: str, text: str, allowed: set[str]) -> None:
    for _, name, _, _ in string.Formatter().parse(text):
        if name is not None and name not in allowed:
            raise PolicyError(f"{t.key(key)}: unknown placeholder {{{name}}} "
                              f"(allowed: {', '.join(sorted(allowed))})")


def parse_policy(data: dict[str, Any]) -> Policy:
    """Validate an already-parsed TOML document."""
    root = _Table(data, "")
    head = root.need("policy")
    name = head.text("name")
    title = head.text("title", required=False, default=name)
    source = head.text("source", required=False)
    rounding = head.choice("rounding", tuple(ROUNDING_MODES), default="half_up")
    head.done()

    counts_t = root.need("counts")
    counts: dict[str, CountDef] = {}
    for cname in list(counts_t.data):
        counts[cname] = _count(counts_t.need(cname), cname)

    station_t = root.need("station")
    sitems = [_station_item(t, counts) for t in station_t.tables("items", required=True)]
    station_t.done()
    _check_codes(sitems, "station.items")

    branch: BranchRules | None = None
    branch_t = root.sub("branch")
    if branch_t is not None:
        eff = tuple(_condition(t, counts) for t in branch_t.tables("effective_when_all", True))
        bitems = [_branch_item(t, counts) for t in branch_t.tables("items", required=True)]
        _check_codes(bitems, "branch.items")
        split_t = branch_t.need("split")
        head_share = split_t.number("head")
        if head_share > 1:
            raise PolicyError(f"{split_t.key('head')}: a share must be between 0 and 1")
        split_t.done()
        branch_t.done()
        branch = BranchRules(eff, tuple(bitems), head_share)

    quarter: QuarterRule | None = None
    quarter_t = root.sub("quarter")
    if quarter_t is not None:
        code = quarter_t.text("refund_withheld_by")
        if not any(i.code == code and i.type == "withhold" for i in sitems):
            raise PolicyError(f"{quarter_t.key('refund_withheld_by')}: no withhold item {code!r}")
        conds = tuple(_condition(t, counts) for t in quarter_t.tables("refund_when_any", True))
        label = quarter_t.text("label", required=False, default="quarter refund")
        sms = quarter_t.text("sms", required=False)
        quarter_t.done()
        quarter = QuarterRule(code, conds, label, sms)

    notice_t = root.sub("notice") or _Table({}, "notice")
    template = notice_t.text("template", required=False,
                             default="{station}站{year}年{month}月奖励{total}元:{parts}。")
    part = notice_t.text("part", required=False, default="{label}{amount}")
    sep = notice_t.text("separator", required=False, default=",")
    seg = notice_t.integer("segment_chars", required=False, minimum=20) or 70
    _check_template(notice_t, "template", template, NOTICE_FIELDS)
    _check_template(notice_t, "part", part, PART_FIELDS)
    notice_t.done()

    calendar: dict[str, int] = {}
    cal_t = root.sub("calendar")
    if cal_t is not None:
        for key in CALENDAR_KEYS:
            day = cal_t.integer(key, required=False, minimum=1)
            if day is not None:
                if day > 28:
                    raise PolicyError(f"{cal_t.key(key)}: a day of the month up to 28")
                calendar[key] = day
        cal_t.done()
    if "{paid_by_" in template and "paid_by" not in calendar:
        raise PolicyError("notice.template: uses {paid_by_month}/{paid_by_day} but "
                          "calendar.paid_by is not set")
    root.done()
    return Policy(name, title, source, rounding, counts, tuple(sitems), branch, quarter,
                  NoticeFormat(template, part, sep, seg), calendar)


def load_policy(spec: str | Path) -> Policy:
    """A built-in policy by name, or a policy file by path."""
    text_spec = str(spec)
    if isinstance(spec, Path) or "/" in text_spec or "\\" in text_spec or text_spec.endswith(
        ".toml"
    ):
        path = Path(spec)
        try:
            text = path.read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError) as exc:
            raise PolicyError(f"{path}: cannot read policy file: {exc}") from exc
        origin = str(path)
    else:
        if text_spec not in BUILTIN:
            raise PolicyError(
                f"no built-in policy {text_spec!r} (built-in: {', '.join(BUILTIN)}; "
                "or give a path to a .toml file)"
            )
        res = resources.files("stationlink") / "policies" / f"{text_spec}.toml"
        text = res.read_text(encoding="utf-8")
        origin = f"built-in {text_spec}"
    try:
        data = tomllib.loads(text, parse_float=Decimal)
    except tomllib.TOMLDecodeError as exc:
        raise PolicyError(f"{origin}: not valid TOML: {exc}") from exc
    try:
        return parse_policy(data)
    except PolicyError as exc:
        raise PolicyError(f"{origin}: {exc}") from exc
