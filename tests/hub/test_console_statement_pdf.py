"""A statement as a PDF for signature (issue #12): real HTTP through the hub, both stores.

Each station's and branch's PDF parses (pypdf), is A4 portrait, and holds the statement:
its id, every item's amount and the total in the items table equal to ``rewards compute
--hub`` to the fen, the per-product sums and the card-days over the cap of the statement's
JSON twin, the effective-station test, the signature lines of the statement page (Chinese
by default, English for an English operator), and no card-number-like digits. A closed
month's PDF is its frozen statement (with the adjustment still to carry), not a recompute.
Hostile months and ids are refused without a 500.

These need a CJK font on the machine (CI installs fonts-wqy-zenhei: ``.ci/run``); without
one the module is skipped with one line saying so.
"""

from __future__ import annotations

import re
from datetime import timedelta
from decimal import Decimal

import httpx
import pytest
from console_fixtures import T0, csrf_field
from console_month import MONTH, computed, signed_in
from rewards_store_loader import load_hub
from statement_pdf import A4, Pdf, amount_column, norm, read_pdf
from test_console_statement_lang import BRANCH_LINES, STATION_LINES

from stationlink.hub.console import Actor
from stationlink.hub.console.pdf import PdfFont, find_font, statement_pdf
from stationlink.i18n import gettext_for
from stationlink.interchange import Transaction
from stationlink.records.cardnum import has_card_number

FONT = find_font(None)
if not isinstance(FONT, PdfFont):
    pytest.skip("statement PDFs not tested: no CJK font on this machine (install "
                "fonts-wqy-zenhei)", allow_module_level=True)



def get_pdf(client: httpx.Client, path: str) -> Pdf:
    answer = client.get(path)
    assert answer.status_code == 200, answer.text
    assert answer.headers["content-type"] == "application/pdf"
    assert answer.headers["content-disposition"].startswith("inline; filename=")
    pdf = read_pdf(answer.content)
    for page in pdf.pages:
        assert (float(page.mediabox.width), float(page.mediabox.height)) == pytest.approx(A4,
                                                                                        abs=.5)
    assert not re.search(r"\d{16,}", pdf.text)
    assert not has_card_number(pdf.text)
    return pdf


def items_column(pdf: Pdf, lang: str) -> list[str]:
    _ = gettext_for(lang)
    return amount_column(pdf.pages[0], _("Item"), _("How it is computed"), _("Total"))


def line_of(pdf: Pdf, *cells: object) -> bool:
    return norm(" ".join(map(str, cells))) in pdf.lines


def test_each_statement_pdf_holds_the_statement_as_rewards_compute(month_hub) -> None:
    hub, facts = month_hub
    expected = computed(facts)
    stations = {s["station_id"]: s for s in expected["stations"]}
    branches = {b["branch_id"]: b for b in expected["branches"]}
    zh = gettext_for("zh")
    with signed_in(hub, "wang") as client:
        month = client.get(f"/v1/console/months/{MONTH}").json()
        assert {s["station_id"] for s in month["stations"]} == set(stations)
        for s in month["stations"]:
            sid = s["station_id"]
            page = client.get(f"/console/months/{MONTH}/stations/{sid}").text
            assert f'<a id="pdf" href="/console/months/{MONTH}/stations/{sid}.pdf">' in page
            pdf = get_pdf(client, f"/console/months/{MONTH}/stations/{sid}.pdf")
            want = stations[sid]
            assert items_column(pdf, "zh") == [*(i["amount"] for i in want["items"]),
                                                want["total"]]
            assert norm(zh("Statement of station %(id)s, %(m)s") % {"id": sid, "m": MONTH}) \
                in pdf.text
            assert norm(zh("Provisional: the month is not closed.")) in pdf.text
            for p in s["by_product"]:
                assert line_of(pdf, p["kind_name"], p["product_name"] or "-", p["n"],
                               p["amount"]), p
            for d in s["over_cap"]:
                assert line_of(pdf, d["label"], d["card"], d["day_text"], d["swipes"],
                               d["cap"], d["over"]), d
            test = zh("effective station") if s["effective"] else zh("not an effective station")
            assert line_of(pdf, zh("Total"), s["total"], f"{test}: "
                           + "; ".join(s["effective_reasons"]))
            assert line_of(pdf, *(zh_text for _en, zh_text in STATION_LINES))
        for b in month["branches"]:
            bid = b["branch_id"]
            page = client.get(f"/console/months/{MONTH}/branches/{bid}").text
            assert f'<a id="pdf" href="/console/months/{MONTH}/branches/{bid}.pdf">' in page
            pdf = get_pdf(client, f"/console/months/{MONTH}/branches/{bid}.pdf")
            want = branches[bid]
            assert items_column(pdf, "zh") == [*(i["amount"] for i in want["items"]),
                                                want["total"]]
            assert norm(zh("Statement of branch %(id)s, %(m)s") % {"id": bid, "m": MONTH}) \
                in pdf.text
            for sid, st in b["station_status"].items():
                test = zh("effective station") if st["effective"] \
                    else zh("not an effective station")
                assert line_of(pdf, sid, f"{test}: " + "; ".join(st["reasons"])), sid
            for p in b["by_product"]:
                assert line_of(pdf, p["kind_name"], p["product_name"] or "-", p["n"],
                               p["amount"]), p
            for d in b["over_cap"]:
                assert line_of(pdf, d["station_id"], d["label"], d["card"], d["day_text"],
                               d["swipes"], d["cap"], d["over"]), d
            assert line_of(pdf, *(zh_text for _en, zh_text in BRANCH_LINES))
    assert any(s["over_cap"] for s in month["stations"]), "the month has a card over the cap"


def test_an_english_operator_gets_an_english_pdf(month_hub) -> None:
    hub, facts = month_hub
    expected = {s["station_id"]: s for s in computed(facts)["stations"]}
    hub.console.set_lang("wang", "en", now=hub.clock(), actor=Actor("test"))
    with signed_in(hub, "wang") as client:
        month = client.get(f"/v1/console/months/{MONTH}").json()
        st = next(s for s in month["stations"] if s["over_cap"])
        pdf = get_pdf(client, f"/console/months/{MONTH}/stations/{st['station_id']}.pdf")
        branch = get_pdf(client, f"/console/months/{MONTH}/branches/{st['branch_id']}.pdf")
    want = expected[st["station_id"]]
    assert items_column(pdf, "en") == [*(i["amount"] for i in want["items"]), want["total"]]
    assert f"Statement of station {st['station_id']}, {MONTH}" in pdf.text
    assert line_of(pdf, *(en for en, _zh in STATION_LINES))
    assert line_of(branch, *(en for en, _zh in BRANCH_LINES))
    assert "Card-days over the cap" in pdf.text
    for d in st["over_cap"]:
        assert line_of(pdf, d["label"], d["card"], d["day"], d["swipes"], d["cap"], d["over"])
    for _en, zh_text in (*STATION_LINES, *BRANCH_LINES):
        assert zh_text not in pdf.text + branch.text
    assert "合计" not in pdf.text


def test_a_closed_months_pdf_is_its_frozen_statement(month_hub, tmp_path) -> None:
    """After the close a record arrives for a station: the PDF stays the frozen statement
    (= what ``rewards compute --hub`` gave at the close) and names the adjustment to carry."""
    hub, facts = month_hub
    station = facts["ids"][0]
    frozen = next(s for s in computed(facts)["stations"] if s["station_id"] == station)
    with signed_in(hub, "fan") as finance:
        page = finance.get(f"/console/months/{MONTH}").text
        assert hub.post(finance, f"/console/months/{MONTH}/close", {},
                        csrf_field(page)).status_code == 303
    hub.clock.advance(hours=1)
    late = Transaction("LATE1", station, f"{station}-LATE", hub.clock() - timedelta(days=20),
                       "bill_payment", "electricity", Decimal("30.00"), "", "approved")
    load_hub(hub.store, tmp_path, [late], on_time_at=hub.clock())
    zh = gettext_for("zh")
    with signed_in(hub, "wang") as client:
        one = client.get(f"/v1/console/months/{MONTH}/stations/{station}").json()
        pdf = get_pdf(client, f"/console/months/{MONTH}/stations/{station}.pdf")
    (adjustment,) = one["adjustments"]
    assert Decimal(adjustment["adjustment"]) != 0, "the late record changes the statement"
    assert one["station"]["total"] == frozen["total"]
    assert items_column(pdf, "zh") == [*(i["amount"] for i in frozen["items"]),
                                        frozen["total"]]
    assert norm(zh("Closed, version %(v)d") % {"v": one["closed"]["version"]}) in pdf.text
    assert norm(zh("Provisional: the month is not closed.")) not in pdf.text
    carry = zh("Still to carry into %(into)s: %(a)s yuan (records received after the close "
               "that no closed statement has carried yet).") % {
        "into": adjustment["into"], "a": adjustment["adjustment"]}
    assert norm(carry) in " ".join(pdf.lines)


@pytest.mark.parametrize(("path", "status"), [
    (f"/console/months/{MONTH}/stations/NOPE.pdf", 404),
    (f"/console/months/{MONTH}/branches/NOPE.pdf", 404),
    (f"/console/months/{MONTH}/stations/R1%2F..%2F..%2Fetc%2Fpasswd.pdf", 404),
    (f"/console/months/{MONTH}/stations/%3Cscript%3E.pdf", 404),
    (f"/console/months/{MONTH}/stations/{'9' * 5000}.pdf", 404),
    (f"/console/months/{MONTH}/stations/.pdf", 404),
    ("/console/months/2026-13/stations/R1.pdf", 400),
    ("/console/months/..%2F2026-10/branches/B1.pdf", 404),
    ("/console/months/2026-10%00/stations/R1.pdf", 400),
])
def test_hostile_months_and_ids_are_refused(month_hub, path: str, status: int) -> None:
    hub, _facts = month_hub
    with signed_in(hub, "wang") as client:
        answer = client.get(path)
    assert answer.status_code == status, answer.text
    assert not answer.content.startswith(b"%PDF")
    assert "<script>" not in answer.text  # an id is shown escaped, if at all


def test_the_pdf_needs_a_session_and_no_station_token(month_hub) -> None:
    hub, _facts = month_hub
    path = f"/console/months/{MONTH}/stations/R1.pdf"
    with hub.client() as anonymous:
        answer = anonymous.get(path)
        assert answer.status_code == 303
        assert answer.headers["location"].startswith("/console/login?next=")
        token = anonymous.get(path, headers={"Authorization": f"Bearer {hub.station_token}"})
        assert token.status_code == 403


def test_a_long_statement_runs_over_pages_each_a4_with_its_footer() -> None:
    """Laid out from a view (the dicts the page shows), a statement longer than a page: every
    page A4 with "page k of n", every row kept, the signature lines once, on the last page."""
    assert isinstance(FONT, PdfFont)
    zh = gettext_for("zh")
    over = [{"station_id": "S9", "count": "withdrawals", "label": "有效取款",
             "card": f"tok{i:04d}", "day": f"2026-10-{1 + i % 28:02d}",
             "day_text": f"2026年10月{1 + i % 28}日", "swipes": 3 + i % 4, "cap": 2,
             "over": 1 + i % 4} for i in range(90)]
    view = {"station_id": "S9", "branch_id": "B9", "total": "1.00", "effective": False,
            "effective_reasons": [], "items": [
                {"code": "x", "label": "项目", "quantity": 1, "amount": "1.00",
                 "basis": "说明" * 80}],
            "by_product": [], "over_cap": over}
    month = {"month": MONTH, "policy": "dezhou-2014", "closed": None}
    content = statement_pdf("station", month, view, [], lang="zh", font=FONT, now=T0)
    pdf = read_pdf(content)
    n = len(pdf.pages)
    assert n >= 3
    for k, page in enumerate(pdf.pages, start=1):
        assert (float(page.mediabox.width), float(page.mediabox.height)) == pytest.approx(
            A4, abs=.5)
        assert norm(zh("Page %(page)s of %(pages)s") % {"page": k, "pages": n}) in \
            norm(page.extract_text())
    for d in over:
        assert line_of(pdf, d["label"], d["card"], d["day_text"], d["swipes"], d["cap"],
                       d["over"]), d
    signature = norm(" ".join(zh_text for _en, zh_text in STATION_LINES))
    assert [signature in norm(p.extract_text()) for p in pdf.pages] == [False] * (n - 1) + [True]
    assert line_of(pdf, zh("None."))
