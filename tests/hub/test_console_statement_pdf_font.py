"""The statements' PDF font: found or given, and what happens without a usable one.

A hub given a font that does not exist (or is not a font, or has no Chinese characters)
hides the statement page's PDF link and answers the PDF routes 501 with a message in the
operator's language naming the file and what to install or pass; never a 500. ``hub serve
--pdf-font`` (and ``STATIONLINK_PDF_FONT``) reaches the single server and every worker; a
font given there that cannot be used stops ``hub serve`` before binding (exit 2). These run
without any CJK font on the machine.
"""

from __future__ import annotations

import asyncio
import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from click.testing import CliRunner
from console_fixtures import PASSWORD, T0, Clock, ConsoleHub, csrf_field
from console_month import CLOSE_DAY, MONTH, load_month
from fontTools.fontBuilder import FontBuilder
from fontTools.pens.ttGlyphPen import TTGlyphPen
from fontTools.ttLib import TTCollection, TTFont

from stationlink.cli.main import cli
from stationlink.errors import ConfigError
from stationlink.hub import server
from stationlink.hub.console import ROUTES, Actor, Role
from stationlink.hub.console.backend import console_store_for
from stationlink.hub.console.passwords import Passwords
from stationlink.hub.console.pdf import PROBE, NoFont, PdfFont, check_font, find_font
from stationlink.hub.openapi import openapi_document
from stationlink.hub.server import BackgroundServer
from stationlink.hub.stores import open_hub_store


def tiny_font(path: Path, chars: str, family: str = "Tiny") -> Path:
    """A TrueType font of one empty glyph per character of ``chars``."""
    names = [".notdef", *(f"g{ord(c):x}" for c in chars)]
    fb = FontBuilder(1000, isTTF=True)
    fb.setupGlyphOrder(names)
    fb.setupCharacterMap({ord(c): f"g{ord(c):x}" for c in chars})
    empty = TTGlyphPen(None).glyph()
    fb.setupGlyf({n: empty for n in names})
    fb.setupHorizontalMetrics({n: (500, 0) for n in names})
    fb.setupHorizontalHeader(ascent=800, descent=-200)
    fb.setupNameTable({"familyName": family, "styleName": "Regular"})
    fb.setupOS2()
    fb.setupPost()
    fb.save(str(path))
    return path


def test_check_font_says_why_a_file_is_no_font(tmp_path: Path) -> None:
    text = tmp_path / "notes.ttf"
    text.write_text("not a font", encoding="utf-8")
    fake_ttc = tmp_path / "fake.ttc"
    fake_ttc.write_bytes(b"ttcf" + bytes(60))
    latin = tiny_font(tmp_path / "latin.ttf", "ABC")
    cjk = tiny_font(tmp_path / "cjk.ttf", "ABC" + PROBE)
    reasons = {p.name: check_font(p) for p in (tmp_path / "missing.ttc", text, fake_ttc,
                                                latin, tmp_path)}
    assert {k: v.values["reason"] for k, v in reasons.items() if isinstance(v, NoFont)} == {
        "missing.ttc": "no such file", "notes.ttf": "not a TrueType or OpenType font or "
        "collection", "fake.ttc": "not a TrueType or OpenType font or collection",
        "latin.ttf": "it has no Chinese characters", tmp_path.name: "no such file"}
    assert check_font(cjk) == PdfFont(cjk, 0)
    assert find_font(cjk) == PdfFont(cjk, 0)
    missing = find_font(tmp_path / "missing.ttc")
    assert isinstance(missing, NoFont)
    assert str(tmp_path / "missing.ttc") in missing.text("en")
    assert "文件不存在" in missing.text("zh")


def collection(path: Path, *faces: Path) -> Path:
    """A TrueType collection (.ttc) of the fonts ``faces``."""
    ttc = TTCollection()
    ttc.fonts = [TTFont(str(f)) for f in faces]
    ttc.save(str(path))
    return path


def test_in_a_collection_the_simplified_chinese_face_else_the_first_with_chinese(
        tmp_path: Path) -> None:
    latin = tiny_font(tmp_path / "latin.ttf", "ABC", "Tiny Latin")
    jp = tiny_font(tmp_path / "jp.ttf", "ABC" + PROBE, "Tiny CJK JP")
    sc = tiny_font(tmp_path / "sc.ttf", "ABC" + PROBE, "Tiny CJK SC")
    cases = {"noto-like.ttc": ((jp, latin, sc), 2), "second.ttc": ((latin, jp), 1),
             "first.ttc": ((jp, latin), 0)}
    for name, (faces, face) in cases.items():
        assert check_font(collection(tmp_path / name, *faces)) == PdfFont(tmp_path / name,
                                                                         face), name
    none = check_font(collection(tmp_path / "latin.ttc", latin, latin))
    assert isinstance(none, NoFont)
    assert none.values["reason"] == "it has no Chinese characters"


@pytest.fixture(params=["zh", "en"])
def fontless_hub(request: pytest.FixtureRequest, hub_db: str, tmp_path: Path
                 ) -> Iterator[tuple[ConsoleHub, Path, str]]:
    missing = tmp_path / "no-such-font.ttc"
    hub = ConsoleHub(hub_db, Clock(T0), close_day=CLOSE_DAY, pdf_font=missing)
    try:
        hub.add_operator("wang", Role.VIEWER)
        if request.param == "en":
            hub.console.set_lang("wang", "en", now=hub.clock(), actor=Actor("test"))
        load_month(hub, hub_db, tmp_path)
        yield hub, missing, request.param
    finally:
        hub.close()


def test_without_a_usable_font_no_link_and_a_clear_501(fontless_hub) -> None:
    hub, missing, lang = fontless_hub
    with hub.client() as client:
        assert hub.sign_in(client, "wang").status_code == 303
        month = client.get(f"/v1/console/months/{MONTH}").json()
        sid, bid = month["stations"][0]["station_id"], month["branches"][0]["branch_id"]
        pages = [client.get(f"/console/months/{MONTH}/stations/{sid}"),
                 client.get(f"/console/months/{MONTH}/branches/{bid}")]
        pdfs = [client.get(f"/console/months/{MONTH}/stations/{sid}.pdf"),
                client.get(f"/console/months/{MONTH}/branches/{bid}.pdf")]
    for page in pages:
        assert page.status_code == 200
        assert 'id="pdf"' not in page.text
        assert ".pdf" not in page.text
    for answer in pdfs:
        assert answer.status_code == 501, answer.text
        assert answer.headers["content-type"].startswith("text/html")
        assert str(missing) in answer.text
        assert "fonts-wqy-zenhei" in answer.text
        assert "--pdf-font" in answer.text
        if lang == "zh":
            assert "字体" in answer.text
        else:
            assert "cannot be used (no such file)" in answer.text


# ----------------------------------------------------------------- hub serve --pdf-font


def run(*args: str, env: dict[str, str] | None = None) -> Any:
    return CliRunner().invoke(cli, ["hub", *args], env=env)



@pytest.mark.parametrize(("args", "env", "font"), [
    ((), {}, None),
    (("--pdf-font", "/fonts/a.ttc"), {}, Path("/fonts/a.ttc")),
    ((), {"STATIONLINK_PDF_FONT": "/fonts/b.ttf"}, Path("/fonts/b.ttf")),
    (("--pdf-font", "/fonts/a.ttc"), {"STATIONLINK_PDF_FONT": "/fonts/b.ttf"},
     Path("/fonts/a.ttc")),
])
def test_hub_serve_pdf_font_reaches_the_server(served: list[dict[str, Any]], tmp_path: Path,
                                               args: tuple[str, ...], env: dict[str, str],
                                               font: Path | None) -> None:
    result = run("serve", "--db", str(tmp_path / "h.sqlite"), *args, env=env)
    assert result.exit_code == 0, result.output
    assert [c["pdf_font"] for c in served] == [font]
    assert "STATIONLINK_PDF_FONT" in run("serve", "--help").output


def test_hub_serve_refuses_an_unusable_font_before_binding(tmp_path: Path) -> None:
    notes = tmp_path / "notes.ttf"
    notes.write_text("not a font", encoding="utf-8")
    with pytest.raises(ConfigError, match="--pdf-font: .*notes.ttf cannot be used "
                                          r"\(not a TrueType or OpenType"):
        server.serve(tmp_path / "h.sqlite", "127.0.0.1:0", close_day=5,
                     on_ready=lambda url: pytest.fail("bound"), pdf_font=notes)
    assert not (tmp_path / "h.sqlite").exists()
    open_hub_store(tmp_path / "h.sqlite").close()
    result = run("serve", "--db", str(tmp_path / "h.sqlite"), "--bind", "127.0.0.1:0",
                 "--pdf-font", str(tmp_path / "missing.ttc"))
    assert result.exit_code == 2, result.output
    assert "--pdf-font" in result.output
    assert "missing.ttc" in result.output
    assert "no such file" in result.output


def test_a_workers_app_takes_the_font(hub_db: str, tmp_path: Path) -> None:
    """The app factory each spawned worker runs (``--workers N``) takes ``--pdf-font``."""
    store = open_hub_store(hub_db)
    try:
        console_store_for(store).add_operator("wang", Role.VIEWER, Passwords().hash(PASSWORD),
                                              must_change_password=False, now=T0,
                                              actor=Actor("test"))
    finally:
        store.close()
    missing = tmp_path / "worker-font.ttc"
    app = server._worker_app(hub_db, 5, None, os.getppid(), "en", missing)
    try:
        with BackgroundServer(app) as bg, httpx.Client(base_url=bg.url, timeout=10) as client:
            token = csrf_field(client.get("/console/login").text)
            assert client.post("/console/login", headers={"Origin": bg.url}, data={
                "csrf_token": token, "name": "wang", "password": PASSWORD}).status_code == 303
            answer = client.get(f"/console/months/{MONTH}/stations/R1.pdf")
    finally:
        asyncio.run(_end_lifespan(app))
    assert answer.status_code == 501
    assert str(missing) in answer.text


async def _end_lifespan(app: Any) -> None:
    async with app.router.lifespan_context(app):
        pass


def test_the_openapi_document_describes_the_pdf_routes() -> None:
    pdf_routes = {(e.path, e.method.lower()) for e in ROUTES.entries if e.path.endswith(".pdf")}
    assert pdf_routes == {(f"/console/months/{{month}}/{s}/{{subject_id}}.pdf", "get")
                          for s in ("stations", "branches")}
    doc = openapi_document()["paths"]
    for path, method in pdf_routes:
        op = doc[path][method]
        assert [p["name"] for p in op["parameters"]] == ["month", "subject_id"]
        assert "application/pdf" in op["responses"]["200"]["content"]
        assert {"400", "404", "501"} <= set(op["responses"])
        assert "Least role: viewer" in op["description"]
