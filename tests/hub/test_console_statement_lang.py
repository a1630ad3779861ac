"""The statements' signature lines go through the gettext catalogue like the rest of the page:
Chinese on a Chinese console (the default), English on a console served in English. The ids
are English, the Chinese comes from the ``zh`` catalogue; a line that was hard-coded Chinese
would show up on the English console."""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path

import pytest
from console_fixtures import T0, Clock, ConsoleHub
from console_month import CLOSE_DAY, MONTH, load_month

from stationlink.hub.console import Role
from stationlink.i18n import gettext_for

_CJK = re.compile(r"[\u4e00-\u9fff]")
#: (English id, Chinese text on a zh console) of each page's two signature lines.
STATION_LINES = (("Station manager's signature / date", "站点负责人签字 / 日期"),
                 ("Checked by the branch", "支局核对"))
BRANCH_LINES = (("Branch manager's signature / date", "支局负责人签字 / 日期"),
                ("Checked by the county company", "县公司核对"))


@pytest.fixture(params=["zh", "en"])
def lang_hub(request: pytest.FixtureRequest, tmp_path: Path
             ) -> Iterator[tuple[ConsoleHub, str, dict[str, object]]]:
    db = tmp_path / "hub.sqlite"
    hub = ConsoleHub(db, Clock(T0), lang=request.param, close_day=CLOSE_DAY)
    try:
        hub.add_operator("wang", Role.VIEWER)
        facts = load_month(hub, db, tmp_path)
        yield hub, request.param, facts
    finally:
        hub.close()


def sign_lines(html: str) -> list[str]:
    found = re.search(r'<div class="sign">((?:<div>[^<]*</div>)+)</div>', html, re.S)
    assert found is not None, html
    return [re.sub(r"<[^>]+>", "", cell).strip()
            for cell in re.findall(r"<div>(.*?)</div>", found.group(1), re.S)]


def test_signature_lines_in_the_consoles_language(lang_hub) -> None:
    hub, lang, facts = lang_hub
    station = facts["ids"][0]  # type: ignore[index]
    with hub.client() as client:
        assert hub.sign_in(client, "wang").status_code == 303
        station_page = client.get(f"/console/months/{MONTH}/stations/{station}")
        month = client.get(f"/v1/console/months/{MONTH}").json()
        branch = month["branches"][0]["branch_id"]
        branch_page = client.get(f"/console/months/{MONTH}/branches/{branch}")
    assert station_page.status_code == branch_page.status_code == 200
    for page, lines in ((station_page.text, STATION_LINES), (branch_page.text, BRANCH_LINES)):
        shown = sign_lines(page)
        if lang == "zh":
            assert shown == [zh for _, zh in lines]
        else:
            assert shown == [en for en, _ in lines]
            assert not any(_CJK.search(s) for s in shown), shown
        # the catalogue is where the text comes from (no copy of it in the template)
        assert shown == [gettext_for(lang)(en) for en, _ in lines]
