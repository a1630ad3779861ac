"""The console's statements list the inputs behind their items as ``rewards explain`` does.

A station's statement (HTML, print view and JSON twin) shows its approved transactions by
kind and product and the card-days that went over the cap, equal to ``rewards explain`` for
the same month to the fen (the golden month has card tokC1 swiping three times on 5 October
at R1, one over the 2-per-day cap); a branch's shows what its commission counts at its
effective stations and its stations' card-days over the cap. Chinese by default, English on
an English operator's console; cards by token only. A closed branch statement shows its
adjustment (a record received after the close). Every test runs on both stores.
"""

from __future__ import annotations

import json
import re
from collections import defaultdict
from datetime import timedelta
from decimal import Decimal
from typing import Any

from click.testing import CliRunner
from console_fixtures import csrf_field
from console_month import MONTH, computed, signed_in
from rewards_store_loader import load_hub

from stationlink.cli.main import cli
from stationlink.hub.console import Actor
from stationlink.hub.console.monthview import station_view
from stationlink.interchange import Transaction
from stationlink.records.cardnum import has_card_number
from stationlink.rewards.derivation import over_cap_days
from stationlink.rewards.explain import explain_station
from stationlink.rewards.policy import load_policy
from stationlink.rewards.statements import (
    CountValue,
    MonthResult,
    StationFacts,
    StationStatement,
)

#: ``  bill_payment     electricity           47       2350.00 yuan`` (explain, en)
_PRODUCT = re.compile(r"^  (\S+) +(\S+) +(\d+)  +(-?\d+\.\d\d) yuan$")
#: ``    card tokC1 on 2026-10-05: 3 swipes, 1 not counted`` (explain, en)
_OVER = re.compile(r"^    card (\S+) on (\d{4}-\d\d-\d\d): (\d+) swipes, (\d+) not counted$")



def explain(facts: dict[str, Any], *subject: str) -> list[str]:
    """``rewards explain --hub`` in English for the loaded month, as lines."""
    result = CliRunner().invoke(cli, [
        "rewards", "explain", "--month", MONTH, "--hub", str(facts["db"]), "--stations",
        str(facts["stations"]), "--branches", str(facts["branches"]), "--lang", "en",
        *subject])
    assert result.exit_code == 0, result.output
    return result.output.splitlines()


def explained_products(lines: list[str]) -> list[tuple[str, str, int, str]]:
    return [(m[1], "" if m[2] == "-" else m[2], int(m[3]), m[4])
            for m in map(_PRODUCT.match, lines) if m]


def explained_over_cap(lines: list[str]) -> list[tuple[str, str, int, int]]:
    return [(m[1], m[2], int(m[3]), int(m[4])) for m in map(_OVER.match, lines) if m]


def test_station_statements_list_product_sums_and_over_cap_days_as_explain(month_hub) -> None:
    hub, facts = month_hub
    over_seen = 0
    with signed_in(hub, "wang") as client:
        for sid in facts["ids"]:
            st = client.get(f"/v1/console/months/{MONTH}/stations/{sid}").json()["station"]
            html = client.get(f"/console/months/{MONTH}/stations/{sid}").text
            lines = explain(facts, "--station", sid)
            products = explained_products(lines)
            assert products, "explain lists the station's transactions"
            assert [(p["kind"], p["product"], p["n"], p["amount"])
                    for p in st["by_product"]] == products
            over = explained_over_cap(lines)
            assert [(d["card"], d["day"], d["swipes"], d["over"])
                    for d in st["over_cap"]] == over
            over_seen += len(over)
            assert all(d["swipes"] - d["cap"] == d["over"] > 0 for d in st["over_cap"])
            # the page (also its print view: the same page) shows every row, in Chinese
            assert "按业务种类和产品汇总的成功交易" in html
            for p in st["by_product"]:
                assert (f'<tr data-kind="{p["kind"]}" data-product="{p["product"]}">'
                        f'<td>{p["kind_name"]}</td><td>{p["product_name"] or "-"}</td>'
                        f'<td class="num">{p["n"]}</td><td class="num">{p["amount"]}</td>'
                        '</tr>') in html
            for d in st["over_cap"]:
                assert (f'<td>{d["card"]}</td><td>{d["day_text"]}</td>'
                        f'<td class="num">{d["swipes"]}</td><td class="num">{d["cap"]}</td>'
                        f'<td class="num">{d["over"]}</td>') in html
                assert d["day_text"].startswith("2026年10月")
            assert not has_card_number(html)
    assert over_seen >= 1, "the fixture month has a card-day over the cap"


def test_product_sums_add_up_to_the_counts_the_items_use(month_hub) -> None:
    """Per-product sums minus the swipes over the cap give each count ``rewards compute``
    priced: the withdrawals' quantity, to the transaction, and the bill amounts to the fen."""
    hub, facts = month_hub
    expected = {s["station_id"]: s for s in computed(facts)["stations"]}
    with signed_in(hub, "wang") as client:
        month = client.get(f"/v1/console/months/{MONTH}").json()
    checked = 0
    for st in month["stations"]:
        items = {i["code"]: i for i in expected[st["station_id"]]["items"]}
        withdrawals = sum(p["n"] for p in st["by_product"] if p["kind"] == "withdrawal")
        over = sum(d["over"] for d in st["over_cap"] if d["count"] == "withdrawals")
        if "withdrawal" in items:
            assert items["withdrawal"]["quantity"] == withdrawals - over
            checked += 1
        for product in ("mobile", "telecom"):  # priced at 1% of the amount
            if f"bill.{product}" in items:
                amount = sum(Decimal(p["amount"]) for p in st["by_product"]
                             if (p["kind"], p["product"]) == ("bill_payment", product))
                assert Decimal(items[f"bill.{product}"]["amount"]) == (
                    amount / 100).quantize(Decimal("0.01"))
    assert checked


def test_branch_statements_list_commission_inputs_and_over_cap_days(month_hub) -> None:
    hub, facts = month_hub
    policy = load_policy("dezhou-2014")
    assert policy.branch is not None
    commission = next(i for i in policy.branch.items if i.type == "per_txn_of_effective")
    counted = [policy.counts[n] for n in commission.counts]
    expected = {b["branch_id"]: b for b in computed(facts)["branches"]}
    with signed_in(hub, "wang") as client:
        month = client.get(f"/v1/console/months/{MONTH}").json()
        stations = {s["station_id"]: s for s in month["stations"]}
        for b in month["branches"]:
            bid = b["branch_id"]
            answer = client.get(f"/v1/console/months/{MONTH}/branches/{bid}").json()["branch"]
            html = client.get(f"/console/months/{MONTH}/branches/{bid}").text
            assert answer["by_product"] == b["by_product"]
            assert answer["over_cap"] == b["over_cap"]
            # what the commission counts: the effective stations' matching cells, summed
            cells: dict[tuple[str, str], list[Any]] = defaultdict(lambda: [0, Decimal(0)])
            effective = [sid for sid, s in b["station_status"].items() if s["effective"]]
            for sid in effective:
                for p in stations[sid]["by_product"]:
                    if any(c.matches(p["kind"], p["product"]) for c in counted):
                        cells[(p["kind"], p["product"])][0] += p["n"]
                        cells[(p["kind"], p["product"])][1] += Decimal(p["amount"])
            assert [(p["kind"], p["product"], p["n"], Decimal(p["amount"]))
                    for p in b["by_product"]] == [(k, pr, n, a) for (k, pr), (n, a)
                                                  in sorted(cells.items())]
            # ... which, less the swipes over the cap there, is the commission's quantity
            over_at_effective = sum(d["over"] for d in b["over_cap"]
                                    if d["station_id"] in effective)
            item = next(i for i in expected[bid]["items"]
                        if i["code"] == "maintenance.commission")
            assert sum(p["n"] for p in b["by_product"]) - over_at_effective == \
                item["quantity"]
            # the card-days over the cap of the branch's stations, each with its station
            assert b["over_cap"] == [d for sid in sorted(b["station_status"])
                                     for d in stations[sid]["over_cap"]]
            for d in b["over_cap"]:
                assert (f'<td>{d["station_id"]}</td><td>{d["label"]}</td><td>{d["card"]}'
                        f'</td><td>{d["day_text"]}</td>') in html
            for p in b["by_product"]:
                assert f'<td class="num">{p["n"]}</td><td class="num">{p["amount"]}</td>' \
                    in html
            assert "佣金所计" in html
    assert any(b["over_cap"] for b in month["branches"])
    assert any(b["by_product"] for b in month["branches"])


def test_an_english_console_shows_the_inputs_in_english(month_hub) -> None:
    hub, facts = month_hub
    hub.console.set_lang("wang", "en", now=hub.clock(), actor=Actor("test"))
    with signed_in(hub, "wang") as client:
        month = client.get(f"/v1/console/months/{MONTH}").json()
        st = next(s for s in month["stations"] if s["over_cap"])
        html = client.get(f"/console/months/{MONTH}/stations/{st['station_id']}").text
        branch = client.get(f"/console/months/{MONTH}/branches/{st['branch_id']}").text
    assert "Approved transactions by kind and product" in html
    assert "Card-days over the cap" in html
    assert "What the commission counts at the effective stations" in branch
    assert all(p["kind_name"] == p["kind"] for p in st["by_product"])
    for d in st["over_cap"]:
        assert d["day_text"] == d["day"]
        assert d["label"] == "valid withdrawals"
        assert f'<td>{d["card"]}</td><td>{d["day"]}</td>' in html
    assert "按业务种类" not in html


def test_a_closed_branch_statement_shows_its_adjustment(month_hub, tmp_path) -> None:
    """A record after the close changes a branch's commission: its statement says so."""
    hub, facts = month_hub
    with signed_in(hub, "fan") as finance:
        page = finance.get(f"/console/months/{MONTH}").text
        assert hub.post(finance, f"/console/months/{MONTH}/close", {},
                        csrf_field(page)).status_code == 303
    station = facts["ids"][0]  # an effective station: its electricity is in the commission
    hub.clock.advance(hours=1)
    late = Transaction("LATE1", station, f"{station}-LATE", hub.clock() - timedelta(days=20),
                       "bill_payment", "electricity", Decimal("30.00"), "", "approved")
    load_hub(hub.store, tmp_path, [late], on_time_at=hub.clock())
    with signed_in(hub, "wang") as client:
        month = client.get(f"/v1/console/months/{MONTH}").json()
        branch_id = next(s["branch_id"] for s in month["stations"]
                         if s["station_id"] == station)
        one = client.get(f"/v1/console/months/{MONTH}/branches/{branch_id}").json()
        html = client.get(f"/console/months/{MONTH}/branches/{branch_id}").text
    (adjustment,) = one["adjustments"]
    assert (adjustment["subject"], adjustment["id"]) == ("branch", branch_id)
    assert Decimal(adjustment["adjustment"]) != 0
    assert f'待转入 {adjustment["into"]} 的调整:{adjustment["adjustment"]} 元' in html


def test_a_card_value_shaped_like_a_card_number_is_shown_masked() -> None:
    """Cards are tokens (a card field of 12 or more digits is refused on the way in); were
    one ever held, the statement and ``rewards explain`` show its last four digits only."""
    full = "6222020200112233445"
    withdrawals = CountValue("withdrawals", "valid withdrawals", 4, Decimal("400.00"), 7,
                             over_cap=((full, "2026-10-05", 3), ("tokC9", "2026-10-06", 4)),
                             cap=2)
    bills = CountValue("bill_payments", "bill payments (all products)", 0, Decimal(0), 0)
    facts = StationFacts("urban", "", None, 1, None,
                         {("withdrawal", ""): (7, Decimal("700.00"))}, 0, 0,
                         {"bill_payments": bills, "withdrawals": withdrawals})
    st = StationStatement("S9", "B9", Decimal("0.00"), (), facts)
    result = MonthResult(MONTH, "dezhou-2014", (st,), ())
    days = over_cap_days("S9", facts, "zh")
    assert [(d.card, d.day_text, d.swipes, d.over) for d in days] == [
        ("*" * 15 + "3445", "2026年10月5日", 3, 1), ("tokC9", "2026年10月6日", 4, 2)]
    view = station_view(result, st, "en")
    assert [d["card"] for d in view["over_cap"]] == ["*" * 15 + "3445", "tokC9"]
    text = explain_station(result, "S9", lang="en")
    assert "card ***************3445 on 2026-10-05: 3 swipes, 1 not counted" in text
    assert full not in text
    assert full not in json.dumps(view)
