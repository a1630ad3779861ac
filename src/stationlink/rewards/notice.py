"""SMS notices: one Chinese message per station stating the month, the total and main parts.

Contract:
- The text comes from the policy's ``[notice]`` template; ``{parts}`` lists the station's
  items grouped by their ``sms`` label (amounts summed, in policy order, zero groups left out,
  a negative group shown by its label with the amount without sign, e.g. ``暂扣20.00``).
- A message is cut into SMS segments of at most ``segment_chars`` characters (70 by default,
  the limit of one UCS-2 SMS), counted as an SMS counts them: in UTF-16 units, so a character
  beyond the BMP (a rare character of a name) counts two. A message that does not fit in one
  segment is split at a separator where possible and each segment is prefixed ``(i/n)``,
  counted in its length.
  The segments without their prefixes put back together are the message.
- The policy's template, part format, separator and SMS labels are written in Chinese (the
  default language); ``lang="en"`` renders them through the en catalogue, where the built-in
  policies' notices have English translations (a policy's own text without one is sent as
  written). The figures are the same in both languages; the segment limit is the policy's.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal

from ..i18n import gettext_for
from .model import Policy
from .statements import MonthResult, StationStatement
from .station_rules import fmt_money

_BREAKS = ",,。;;:: "


@dataclass(frozen=True)
class Notice:
    station_id: str
    text: str
    segments: tuple[str, ...]


def _parts(policy: Policy, st: StationStatement, lang: str | None) -> str:
    _ = gettext_for(lang)
    groups: dict[str, Decimal] = {}
    for item in st.items:
        if item.sms:
            groups[item.sms] = groups.get(item.sms, Decimal("0.00")) + item.amount
    fmt = _(policy.notice.part)
    shown = [fmt.format(label=_(label), amount=fmt_money(abs(amount)))
             for label, amount in groups.items() if amount != 0]
    return _(policy.notice.separator).join(shown) if shown else _("none")


def sms_units(text: str) -> int:
    """Length in UCS-2/UTF-16 units, as an SMS counts it: a character beyond the BMP (a rare
    character of a name, such as 𠀀) takes two."""
    return len(text.encode("utf-16-le")) // 2


def _fit(text: str, room: int) -> int:
    """How many characters of ``text`` fit in ``room`` units (at least one)."""
    used = 0
    for i, ch in enumerate(text):
        used += 2 if ord(ch) > 0xFFFF else 1
        if used > room:
            return max(i, 1)
    return len(text)


def segments(text: str, limit: int) -> tuple[str, ...]:
    if sms_units(text) <= limit:
        return (text,)
    n = 2
    while True:
        prefix_len = len(f"({n}/{n})")
        room = limit - prefix_len
        chunks: list[str] = []
        rest = text
        while rest:
            if sms_units(rest) <= room:
                chunks.append(rest)
                break
            fits = _fit(rest, room)
            cut = max((i + 1 for i, ch in enumerate(rest[:fits]) if ch in _BREAKS), default=0)
            if sms_units(rest[:cut]) < room // 2:
                cut = fits
            chunks.append(rest[:cut])
            rest = rest[cut:]
        if len(chunks) <= n:
            total = len(chunks)
            return tuple(f"({i}/{total}){c}" for i, c in enumerate(chunks, 1))
        n = len(chunks)


def notice_for(policy: Policy, month: str, st: StationStatement,
               lang: str | None = None) -> Notice:
    year, mon = int(month[:4]), int(month[5:7])
    paid_month = 1 if mon == 12 else mon + 1
    text = gettext_for(lang)(policy.notice.template).format(
        station=st.station_id, year=year, month=mon, total=fmt_money(st.total),
        parts=_parts(policy, st, lang), paid_by_month=paid_month,
        paid_by_day=policy.calendar.get("paid_by", ""),
    )
    return Notice(st.station_id, text, segments(text, policy.notice.segment_chars))


def notices(policy: Policy, result: MonthResult, lang: str | None = None) -> list[Notice]:
    return [notice_for(policy, result.month, st, lang) for st in result.stations]
