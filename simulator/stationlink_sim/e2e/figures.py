"""The figures an end-to-end run prints: transactions from the hub, faults survived.

Contract:
- :class:`Figures` summarises interchange rows (normally the hub's export): approved count
  and exact amount per (kind, product), declines, reversals, referrals; computed, never
  typed in. ``lines()`` renders them for people, ``as_json()`` for scripts (amounts as
  two-decimal strings).
- :func:`fault_lines` / :func:`fault_summary` name the faults the run met and how they were
  survived, from the counters the station drivers collected (terminal session statistics,
  terminal error counters, host link diagnostics, the counter's outcome tally).
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from stationlink.interchange import Transaction
from stationlink.money import format_yuan

KIND_LABELS = {"bill_payment": "bill payments", "withdrawal": "withdrawals",
               "balance_inquiry": "balance inquiries", "referral": "referrals"}


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

    def lines(self) -> list[str]:
        out = []
        for kind, label in KIND_LABELS.items():
            n, amount = self.kind_total(kind)
            if not n:
                continue
            products = sorted((p, v) for (k, p), v in self.approved.items() if k == kind and p)
            detail = ", ".join(f"{p} {c} ({format_yuan(a)})" for p, (c, a) in products)
            money = f", {format_yuan(amount)} yuan" if kind in ("bill_payment", "withdrawal") \
                else ""
            out.append(f"  {label}: {n} approved{money}" + (f": {detail}" if detail else ""))
        out.append(f"  declined {self.declined}, reversed {self.reversed} "
                   f"({self.rows} rows in all)")
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


def fault_lines(summary: dict[str, int]) -> list[str]:
    s = summary
    return [
        f"  lost responses {s['responses_lost']}: resolved by status query "
        f"{s['resolved_by_status_query']}, by a late response {s['resolved_by_late_response']}",
        f"  line noise: the PC discarded {s['line_faults_seen_by_host']} bad stretches and sent "
        f"{s['host_naks_sent']} NAKs; the terminals saw {s['line_errors_seen_by_terminals']} "
        f"line errors, sent {s['terminal_naks_sent']} NAKs and recognised "
        f"{s['retransmissions_seen_by_terminal']} retransmissions",
        f"  power cycles {s['power_cycles']}: requests lost {s['requests_lost_to_events']}, "
        f"reconnects {s['reconnects']}",
        f"  the cashier retried {s['cashier_retries_after_link_failure']} request(s) after a "
        f"link failure and {s['retried_after_status_query_found_nothing']} that a status query "
        f"showed never arrived; executed but unanswered {s['link_failed_after_execution']}, "
        f"given up {s['given_up']}",
    ]
