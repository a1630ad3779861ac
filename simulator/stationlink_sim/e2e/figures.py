"""The figures an end-to-end run prints: transactions from the hub, faults survived.

Contract:
- :class:`Figures` summarises interchange rows (normally the hub's export): approved count
  and exact amount per (kind, product), declines, reversals, referrals; computed, never
  typed in. ``lines()`` renders them for people, ``as_json()`` for scripts (amounts as
  two-decimal strings).
- :func:`fault_lines` / :func:`fault_summary` name the faults the run met and how they were
  survived, from the counters the station drivers collected (terminal session statistics,
  terminal error counters, host link diagnostics, the counter's outcome tally).
- The text for people is in ``lang`` through :mod:`stationlink.i18n` (``en`` unless asked:
  ``sim run`` prints English, ``demo`` Chinese by default); amounts as ``元`` and products by
  their Chinese names (:func:`stationlink.rewards.derivation.vocab_name`) in zh.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from stationlink.i18n import check_lang, gettext_for
from stationlink.i18n import format_yuan as yuan_for
from stationlink.interchange import Transaction
from stationlink.money import format_yuan
from stationlink.rewards.derivation import vocab_name


def N_(text: str) -> str:  # noqa: N802 - the gettext convention: marked for extraction only
    return text


KIND_LABELS = {"bill_payment": N_("bill payments"), "withdrawal": N_("withdrawals"),
               "balance_inquiry": N_("balance inquiries"), "referral": N_("referrals")}


def _yuan(amount: Decimal, lang: str) -> str:
    """``12.30 元`` in zh; ``12.30`` in en (the English lines say "yuan" themselves)."""
    return yuan_for(amount, lang) if check_lang(lang) == "zh" else format_yuan(amount)


@dataclass
class Figures:
    approved: dict[tuple[str, str], tuple[int, Decimal]] = field(default_factory=dict)
    declined: int = 0
    reversed: int = 0
    rows: int = 0

    @classmethod
    def of(cls, rows: Iterable[Transaction]) -> Figures:
        out = cls()
        for r in rows:
            out.rows += 1
            if r.status == "declined":
                out.declined += 1
            elif r.status == "reversed":
                out.reversed += 1
            else:
                n, amount = out.approved.get((r.kind, r.product), (0, Decimal("0.00")))
                out.approved[(r.kind, r.product)] = (n + 1, amount + r.amount)
        return out

    def kind_total(self, kind: str) -> tuple[int, Decimal]:
        items = [v for (k, _), v in self.approved.items() if k == kind]
        return sum(n for n, _ in items), sum((a for _, a in items), Decimal("0.00"))

    def lines(self, lang: str = "en") -> list[str]:
        _ = gettext_for(lang)
        out = []
        for kind, label in KIND_LABELS.items():
            n, amount = self.kind_total(kind)
            if not n:
                continue
            products = sorted((p, v) for (k, p), v in self.approved.items() if k == kind and p)
            zh = check_lang(lang) == "zh"
            detail = ("，" if zh else ", ").join(
                f"{vocab_name(p, lang)} {c} 笔（{_yuan(a, lang)}）" if zh
                else f"{p} {c} ({format_yuan(a)})" for p, (c, a) in products)
            if kind in ("bill_payment", "withdrawal"):
                money = _yuan(amount, lang) if check_lang(lang) == "zh" \
                    else f"{format_yuan(amount)} yuan"
                line = _("  {label}: {n} approved, {amount}").format(
                    label=_(label), n=n, amount=money)
            else:
                line = _("  {label}: {n} approved").format(label=_(label), n=n)
            out.append(line + (("：" if zh else ": ") + detail if detail else ""))
        out.append(_("  declined {declined}, reversed {reversed} ({rows} rows in all)").format(
            declined=self.declined, reversed=self.reversed, rows=self.rows))
        return out

    def as_json(self) -> dict[str, Any]:
        return {
            "rows": self.rows,
            "declined": self.declined,
            "reversed": self.reversed,
            "approved": [
                {"kind": k, "product": p, "count": n, "amount": format_yuan(a)}
                for (k, p), (n, a) in sorted(self.approved.items())
            ],
        }


def fault_summary(faults: Counter[str], stations: int) -> dict[str, int]:
    """The fault counters that matter, under stable names (module contract)."""
    return {
        "responses_lost": faults["terminal_responses_dropped"],
        "resolved_by_status_query": faults["host_resolved_by_status_query"],
        "resolved_by_late_response": faults["host_resolved_by_late_response"],
        "line_faults_seen_by_host": faults["host_LinkFault"],
        "host_naks_sent": faults["host_nak_sent"],
        "line_errors_seen_by_terminals": faults["terminal_line_errors"],
        "terminal_naks_sent": faults["terminal_nak_sent"],
        "retransmissions_seen_by_terminal": faults["terminal_duplicate_requests"],
        "power_cycles": faults["terminal_event_power_cycle"],
        "requests_lost_to_events": faults["terminal_requests_lost_to_events"],
        "cashier_retries_after_link_failure": faults["host_retried_after_link_failure"],
        "retried_after_status_query_found_nothing": faults["host_not_received_retried"],
        "link_failed_after_execution": faults["host_link_failed_after_execution"],
        "given_up": faults["host_given_up"] + faults["host_refused"],
        "reconnects": max(0, faults["links_opened"] - 2 * stations),
    }


def fault_lines(summary: dict[str, int], lang: str = "en") -> list[str]:
    """The faults survived, one kind a line, in ``lang`` (module contract)."""
    _ = gettext_for(lang)
    s = summary
    return [
        _("  lost responses {responses_lost}: resolved by status query "
          "{resolved_by_status_query}, by a late response {resolved_by_late_response}"
          ).format(**s),
        _("  line noise: the PC discarded {line_faults_seen_by_host} bad stretches and sent "
          "{host_naks_sent} NAKs; the terminals saw {line_errors_seen_by_terminals} line "
          "errors, sent {terminal_naks_sent} NAKs and recognised "
          "{retransmissions_seen_by_terminal} retransmissions").format(**s),
        _("  power cycles {power_cycles}: requests lost {requests_lost_to_events}, reconnects "
          "{reconnects}").format(**s),
        _("  the cashier retried {cashier_retries_after_link_failure} request(s) after a link "
          "failure and {retried_after_status_query_found_nothing} that a status query showed "
          "never arrived; executed but unanswered {link_failed_after_execution}, given up "
          "{given_up}").format(**s),
    ]
