"""An operator runs a month in a real browser: headless Chromium against a real hub server,
once with the golden month loaded (tests/hub/console_month.py: figures checked by hand) and
once with a month the simulator's traffic model made (sim_month.py: eight stations, a fixed
seed). The hub's clock is injected (``console_fixtures.T0``, moved by the test).

Sign in, see the stations (also on a phone's width; one with a settlement mismatch, found by
the problem filter), open a station, the month, a statement (its figures equal ``rewards
compute --hub`` to the fen, its approved transactions by kind and product and its card-days
over the cap equal ``rewards explain --hub``, also in print layout), switch one's language to
English on the Settings page and back to Chinese, have a close of a month that has not ended
refused, close the month as finance, see a record that arrives afterwards appear as an
adjustment carried into the next month while the frozen statement stays, and download the
notices' CSV. The simulated run's pages are screenshot into ``$STATIONLINK_SCREENSHOTS``
(``tools/screenshot_console.py`` sets it and copies the key ones into docs/img/), else into
the test's tmp directory; the golden run's into its tmp directory."""

from __future__ import annotations

import csv
import io
import os
import re
from collections.abc import Callable, Iterator
from datetime import date, timedelta
from decimal import Decimal
from pathlib import Path

import pytest

CHROMIUM = Path("/usr/bin/chromium")
pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(not CHROMIUM.exists(), reason="no /usr/bin/chromium (Debian package "
                       "chromium): browser tests not run"),
]
ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
        "--disable-background-networking", "--disable-component-update", "--disable-sync"]

playwright_api = pytest.importorskip("playwright.sync_api")

from click.testing import CliRunner  # noqa: E402
from console_fixtures import PASSWORD, ConsoleHub  # noqa: E402
from console_month import MONTH, computed, load_month, sqlite_console_hub  # noqa: E402
from rewards_store_loader import load_hub  # noqa: E402
from sim_month import load_simulated_month  # noqa: E402

from stationlink.cli.main import cli  # noqa: E402
from stationlink.interchange import Transaction  # noqa: E402
from stationlink.money import CST, month_bounds  # noqa: E402

#: ``  bill_payment     electricity           47       2350.00 yuan`` (explain, en)
_PRODUCT = re.compile(r"^  (\S+) +(\S+) +(\d+)  +(-?\d+\.\d\d) yuan$")
#: ``    card tokC1 on 2026-10-05: 3 swipes, 1 not counted`` (explain, en)
_OVER = re.compile(r"^    card (\S+) on (\d{4}-\d\d-\d\d): (\d+) swipes, (\d+) not counted$")
MONTHS: dict[str, Callable[..., dict[str, object]]] = {
    "golden": load_month, "simulated": load_simulated_month}


def shots_for(month: str, tmp_path: Path) -> Path:
    """Where a run's screenshots go: the simulated month's into ``$STATIONLINK_SCREENSHOTS``
    when set (the docs show it), everything else into the test's tmp directory."""
    env = os.environ.get("STATIONLINK_SCREENSHOTS") if month == "simulated" else None
    where = Path(env or tmp_path / "shots")
    where.mkdir(parents=True, exist_ok=True)
    return where


@pytest.fixture
def browser() -> Iterator[object]:
    with playwright_api.sync_playwright() as p:
        b = p.chromium.launch(executable_path=str(CHROMIUM), args=ARGS, headless=True)
        try:
            yield b
        finally:
            b.close()


def sign_in(browser: object, hub: ConsoleHub, name: str, **context: object) -> object:
    ctx = browser.new_context(locale="zh-CN", **context)  # type: ignore[attr-defined]
    page = ctx.new_page()
    page.goto(f"{hub.url}/console/login")
    page.fill("input[name=name]", name)
    page.fill("input[name=password]", PASSWORD)
    page.click("button[type=submit]")
    page.wait_for_selector("#greeting")
    return page


def explain(facts: dict, station: str) -> list[str]:
    """``rewards explain --hub --station`` in English for the loaded month, as lines."""
    result = CliRunner().invoke(cli, [
        "rewards", "explain", "--month", MONTH, "--hub", str(facts["db"]), "--stations",
        str(facts["stations"]), "--branches", str(facts["branches"]), "--lang", "en",
        "--station", station])
    assert result.exit_code == 0, result.output
    return result.output.splitlines()


def next_month(month: str) -> str:
    """The calendar month after ``month`` (CST)."""
    return month_bounds(month)[1].astimezone(CST).strftime("%Y-%m")


def zh_day(day: str) -> str:
    """``2026-10-05`` as the Chinese pages write a day: ``2026年10月5日``."""
    d = date.fromisoformat(day)
    return f"{d.year}年{d.month}月{d.day}日"


def cells(page: object, selector: str) -> list[list[str]]:
    """The text of each cell of each row of ``selector`` (a table body's rows)."""
    return [[c.inner_text() for c in r.locator("td").all()]
            for r in page.locator(selector).all()]  # type: ignore[attr-defined]


def set_language(page: object, lang: str) -> None:
    """Choose ``lang`` on the Settings page through its form (from the header's link)."""
    page.click("header nav a[href='/console/settings']")  # type: ignore[attr-defined]
    page.select_option("#lang", lang)  # type: ignore[attr-defined]
    with page.expect_navigation():  # type: ignore[attr-defined]
        page.click("main button[type=submit]")  # type: ignore[attr-defined]
    page.wait_for_selector("#saved")  # type: ignore[attr-defined]


@pytest.mark.parametrize("month", sorted(MONTHS))
def test_an_operator_runs_the_month_in_the_browser(browser, month: str,
                                                   tmp_path: Path) -> None:
    hub = sqlite_console_hub(tmp_path)
    try:
        facts = MONTHS[month](hub, tmp_path / "hub.sqlite", tmp_path)
        facts["db"] = tmp_path / "hub.sqlite"
        run_month(browser, hub, facts, shots_for(month, tmp_path), tmp_path)
    finally:
        hub.close()


def run_month(browser, hub: ConsoleHub, facts: dict, shots: Path, tmp_path: Path) -> None:
    ids: list[str] = facts["ids"]  # type: ignore[assignment]
    assert len(ids) >= 3
    expected = computed(facts)
    totals = {s["station_id"]: s["total"] for s in expected["stations"]}
    # the second station's agent reports a terminal whose settlement check differs
    mismatched = ids[1]
    hub.store.set_agent_status(mismatched, {
        "backlog": 0, "oldest_unsynced": None, "quarantined_records": 0,
        "unresolved_unknown": 0, "version": "1.0", "settlement_mismatches": 2}, hub.clock())

    # the login page, then a viewer: stations, a station, the month, a statement
    login = browser.new_page()
    login.goto(f"{hub.url}/console/login")
    login.screenshot(path=str(shots / "login.png"))
    viewer = sign_in(browser, hub, "wang")
    viewer.click("header nav a[href='/console/stations']")
    rows = viewer.locator("#stations tbody tr")
    assert rows.count() == len(ids)
    assert [r[0] for r in cells(viewer, "#stations tbody tr")] == ids
    assert "数据中断" in rows.nth(len(ids) - 1).inner_text()
    assert rows.nth(1).locator("td.mismatches .badge").inner_text() == "2"
    assert "对账不符" in rows.nth(1).inner_text()
    viewer.screenshot(path=str(shots / "stations.png"), full_page=True)
    viewer.select_option("select[name=problem]", "settlement")
    with viewer.expect_navigation():
        viewer.click("form.filters button[type=submit]")
    assert viewer.url.endswith("problem=settlement")
    assert [r[0] for r in cells(viewer, "#stations tbody tr")] == [mismatched]
    phone = sign_in(browser, hub, "wang", viewport={"width": 390, "height": 844},
                    device_scale_factor=2, is_mobile=True)
    phone.goto(f"{hub.url}/console/stations?problem=silent")
    assert phone.locator("#stations tbody tr").count() == 1
    phone.screenshot(path=str(shots / "stations-phone.png"), full_page=True)
    viewer.goto(f"{hub.url}/console/stations")
    viewer.click(f"#stations a[href='/console/stations/{ids[0]}']")
    viewer.wait_for_selector("#chart rect")
    viewer.screenshot(path=str(shots / "station.png"), full_page=True)

    viewer.goto(f"{hub.url}/console/months/{MONTH}")
    assert viewer.locator("#close").count() == 0  # a viewer cannot close
    shown = {r.locator("td").nth(0).inner_text(): r.locator("td").nth(3).inner_text()
             for r in viewer.locator("#month-stations tbody tr").all()}
    assert shown == totals
    viewer.screenshot(path=str(shots / "month-open.png"), full_page=True)
    viewer.click(f"#month-stations a[href$='/stations/{ids[0]}']")
    statement_url = viewer.url
    assert viewer.inner_text("#total") == totals[ids[0]]
    first = next(s for s in expected["stations"] if s["station_id"] == ids[0])
    on_page = {r.get_attribute("data-code"): r.locator("td").nth(1).inner_text()
               for r in viewer.locator("#items tbody tr").all()}
    assert on_page == {i["code"]: i["amount"] for i in first["items"]}
    # the inputs behind the items: as rewards explain lists them, to the transaction and fen
    lines = explain(facts, ids[0])
    products = [(m[1], "" if m[2] == "-" else m[2], m[3], m[4])
                for m in map(_PRODUCT.match, lines) if m]
    over = [(m[1], m[2], m[3], m[4]) for m in map(_OVER.match, lines) if m]
    assert products, "the first station has transactions"
    assert over, "the first station has a card-day over the cap"
    assert [(r.get_attribute("data-kind"), r.get_attribute("data-product"),
             r.locator("td").nth(2).inner_text(), r.locator("td").nth(3).inner_text())
            for r in viewer.locator("#by-product tbody tr").all()] == products
    over_rows = cells(viewer, "#over-cap tbody tr")  # count, card, day, swipes, cap, over
    assert [(r[1], r[2], r[3], r[5]) for r in over_rows] == [
        (card, zh_day(day), swipes, n) for card, day, swipes, n in over]
    assert all(int(r[3]) - int(r[4]) == int(r[5]) > 0 for r in over_rows)
    viewer.screenshot(path=str(shots / "statement.png"), full_page=True)
    top = viewer.locator("h2", has_text="按业务种类和产品汇总的成功交易").bounding_box()
    end = viewer.locator("#over-cap").bounding_box()
    assert top is not None
    assert end is not None
    viewer.screenshot(path=str(shots / "statement-inputs.png"), full_page=True, clip={
        "x": 0, "y": top["y"] - 8, "width": viewer.viewport_size["width"],
        "height": end["y"] + end["height"] - top["y"] + 16})
    viewer.emulate_media(media="print")
    assert not viewer.locator("header").is_visible()
    assert viewer.get_by_text("站点负责人签字 / 日期").is_visible()
    assert viewer.locator("#by-product").is_visible()
    assert viewer.locator("#over-cap").is_visible()
    viewer.screenshot(path=str(shots / "statement-print.png"), full_page=True)
    viewer.emulate_media(media="screen")

    # the viewer switches their own language to English on the Settings page, and back
    viewer.click("header nav a[href='/console/settings']")
    assert viewer.inner_text("main h1") == "设置"
    viewer.screenshot(path=str(shots / "settings.png"), full_page=True)
    set_language(viewer, "en")
    assert viewer.get_attribute("html", "lang") == "en"
    assert (viewer.inner_text("main h1"), viewer.inner_text("#saved")) == (
        "Settings", "Settings saved.")
    assert viewer.input_value("#lang") == "en"
    viewer.goto(statement_url)
    assert viewer.get_attribute("html", "lang") == "en"
    assert viewer.locator("h2", has_text="Approved transactions by kind and product").count()
    assert viewer.locator("h2", has_text="Card-days over the cap").count() == 1
    assert viewer.inner_text("#total") == totals[ids[0]]
    assert [(r[1], r[2], r[3], r[5]) for r in cells(viewer, "#over-cap tbody tr")] == over
    assert "按业务种类" not in viewer.inner_text("body")
    viewer.screenshot(path=str(shots / "statement-en.png"), full_page=True)
    set_language(viewer, "zh")
    assert viewer.get_attribute("html", "lang") == "zh-CN"
    assert (viewer.inner_text("main h1"), viewer.inner_text("#saved")) == ("设置", "设置已保存。")
    viewer.goto(statement_url)
    assert viewer.locator("h2", has_text="按业务种类和产品汇总的成功交易").count() == 1

    # finance: a month that has not ended cannot be closed; the month is closed
    finance = sign_in(browser, hub, "fan")
    into = next_month(MONTH)
    assert hub.clock() < month_bounds(into)[1], "the hub's now is inside the next month"
    finance.goto(f"{hub.url}/console/months/{into}")
    with finance.expect_navigation() as refused:
        finance.click("#close")
    assert refused.value.status == 400
    assert f"{into} 月份尚未结束" in finance.inner_text("#error")
    finance.goto(f"{hub.url}/console/months/{into}")
    assert finance.locator("#close").count() == 1, "still open"
    finance.goto(f"{hub.url}/console/months/{MONTH}")
    with finance.expect_navigation():
        finance.click("#close")
    assert "已结账" in finance.inner_text("#state")
    assert finance.locator("#reopen").count() == 0  # re-open is the admin's
    finance.screenshot(path=str(shots / "month-closed.png"), full_page=True)

    # a record for October arrives after the close: an adjustment, carried into the next
    # (open) month; the statement stays
    station = ids[0]
    hub.clock.advance(hours=1)
    late = Transaction("LATE1", station, f"{station}-LATE", hub.clock() - timedelta(days=20),
                       "bill_payment", "electricity", Decimal("30.00"), "", "approved")
    load_hub(hub.store, tmp_path, [late], on_time_at=hub.clock())
    finance.reload()
    adjusted = {r.locator("td").nth(0).inner_text(): [c.inner_text() for c in
                                                       r.locator("td").all()[1:]]
                for r in finance.locator("#adjustments tbody tr").all()}
    now_total = {s["station_id"]: s["total"]
                 for s in computed(facts, "--include-late")["stations"]}[station]
    assert adjusted[station][:2] == [totals[station], now_total]
    assert Decimal(adjusted[station][2]) == Decimal(now_total) - Decimal(totals[station])
    assert adjusted[station][3:] == ["0.00", into]  # nothing carried yet; goes into November
    adjustment = adjusted[station][2]
    assert any("30.00" in r.inner_text() for r in finance.locator("#late tbody tr").all())
    finance.locator("#adjustments").scroll_into_view_if_needed()
    finance.screenshot(path=str(shots / "month-adjustments.png"), full_page=True)
    finance.click(f"#month-stations a[href$='/stations/{station}']")
    assert finance.inner_text("#total") == totals[station]
    assert f"待转入 {into} 的调整:{adjustment} 元" in finance.inner_text("main")
    # ... and the next month's statement carries it as a line of its own
    finance.goto(f"{hub.url}/console/months/{into}/stations/{station}")
    assert cells(finance, "#carried tbody tr") == [
        [MONTH, totals[station], now_total, "0.00", adjustment]]
    assert Decimal(finance.inner_text("#payable")) == (
        Decimal(finance.inner_text("#total")) + Decimal(adjustment))
    finance.screenshot(path=str(shots / "statement-carried.png"), full_page=True)

    # notices: preview and the CSV download
    finance.goto(f"{hub.url}/console/months/{MONTH}/notices")
    assert finance.locator("#notices tbody tr").count() == len(ids)
    finance.screenshot(path=str(shots / "notices.png"), full_page=True)
    with finance.expect_download() as info:
        finance.click("#csv")
    text = Path(info.value.path()).read_bytes().decode("utf-8-sig")
    rows_csv = list(csv.DictReader(io.StringIO(text)))
    assert {r["station"] for r in rows_csv} == set(ids)
    for r in rows_csv:
        assert r["text"] in finance.content()
