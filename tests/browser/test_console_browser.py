"""An operator runs a month in a real browser: headless Chromium against a real hub server
with the golden month loaded (tests/hub/console_month.py).

Sign in, see the stations (also on a phone's width), open a station, the month, a statement
(its figures equal ``rewards compute --hub`` to the fen, also in print layout), close the month
as finance, see a record that arrives afterwards appear as an adjustment while the frozen
statement stays, and download the notices' CSV. Each page is screenshot into
``$STATIONLINK_SCREENSHOTS`` (``tools/screenshot_console.py`` sets it and copies the key ones
into docs/img/), else into the test's tmp directory."""

from __future__ import annotations

import csv
import io
import os
from collections.abc import Iterator
from datetime import timedelta
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

from console_fixtures import PASSWORD, ConsoleHub  # noqa: E402
from console_month import MONTH, computed, load_month, sqlite_console_hub  # noqa: E402
from rewards_store_loader import load_hub  # noqa: E402

from stationlink.interchange import Transaction  # noqa: E402


@pytest.fixture
def shots(tmp_path: Path) -> Path:
    where = Path(os.environ.get("STATIONLINK_SCREENSHOTS") or tmp_path / "shots")
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


def test_an_operator_runs_the_month_in_the_browser(browser, shots: Path,
                                                   tmp_path: Path) -> None:
    hub = sqlite_console_hub(tmp_path)
    try:
        facts = load_month(hub, tmp_path / "hub.sqlite", tmp_path)
        facts["db"] = tmp_path / "hub.sqlite"
        run_month(browser, hub, facts, shots, tmp_path)
    finally:
        hub.close()


def run_month(browser, hub: ConsoleHub, facts: dict, shots: Path, tmp_path: Path) -> None:
    ids: list[str] = facts["ids"]  # type: ignore[assignment]
    expected = computed(facts)
    totals = {s["station_id"]: s["total"] for s in expected["stations"]}

    # the login page, then a viewer: stations, a station, the month, a statement
    login = browser.new_page()
    login.goto(f"{hub.url}/console/login")
    login.screenshot(path=str(shots / "login.png"))
    viewer = sign_in(browser, hub, "wang")
    viewer.click("header nav a[href='/console/stations']")
    rows = viewer.locator("#stations tbody tr")
    assert rows.count() == len(ids)
    assert "数据中断" in rows.nth(len(ids) - 1).inner_text()
    viewer.screenshot(path=str(shots / "stations.png"), full_page=True)
    phone = sign_in(browser, hub, "wang", viewport={"width": 390, "height": 844},
                    device_scale_factor=2, is_mobile=True)
    phone.goto(f"{hub.url}/console/stations?problem=silent")
    assert phone.locator("#stations tbody tr").count() == 1
    phone.screenshot(path=str(shots / "stations-phone.png"), full_page=True)
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
    assert viewer.inner_text("#total") == totals[ids[0]]
    first = next(s for s in expected["stations"] if s["station_id"] == ids[0])
    on_page = {r.get_attribute("data-code"): r.locator("td").nth(1).inner_text()
               for r in viewer.locator("#items tbody tr").all()}
    assert on_page == {i["code"]: i["amount"] for i in first["items"]}
    viewer.screenshot(path=str(shots / "statement.png"), full_page=True)
    viewer.emulate_media(media="print")
    assert not viewer.locator("header").is_visible()
    assert viewer.get_by_text("站点负责人签字 / 日期").is_visible()
    viewer.screenshot(path=str(shots / "statement-print.png"), full_page=True)

    # finance closes the month
    finance = sign_in(browser, hub, "fan")
    finance.goto(f"{hub.url}/console/months/{MONTH}")
    with finance.expect_navigation():
        finance.click("#close")
    assert "已结账" in finance.inner_text("#state")
    assert finance.locator("#reopen").count() == 0  # re-open is the admin's
    finance.screenshot(path=str(shots / "month-closed.png"), full_page=True)

    # a record for October arrives after the close: an adjustment, the statement stays
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
    assert any("30.00" in r.inner_text() for r in finance.locator("#late tbody tr").all())
    finance.locator("#adjustments").scroll_into_view_if_needed()
    finance.screenshot(path=str(shots / "month-adjustments.png"), full_page=True)
    finance.click(f"#month-stations a[href$='/stations/{station}']")
    assert finance.inner_text("#total") == totals[station]

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
