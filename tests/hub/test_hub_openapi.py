"""The served OpenAPI document matches the app's routes and the copy in docs/."""

from __future__ import annotations

import json
from pathlib import Path

import httpx
from hub_fixtures import Hub
from starlette.routing import Route

from stationlink.hub.app import create_app
from stationlink.hub.openapi import openapi_document
from stationlink.hub.sqlite_store import SqliteHubStore

DOCS = Path(__file__).resolve().parents[2] / "docs" / "hub-openapi.json"


def test_spec_matches_routes(tmp_path: Path) -> None:
    store = SqliteHubStore(tmp_path / "h.sqlite")
    try:
        app = create_app(store)
    finally:
        store.close()
    routes = {
        (r.path, m.lower())
        for r in app.routes if isinstance(r, Route)
        for m in (r.methods or ()) if m != "HEAD"
    }
    spec = {(p, m) for p, ops in openapi_document()["paths"].items() for m in ops
            if not p.startswith(("/v1/console/", "/console/"))}  # the console's: tests/hub/
    # test_console_pages, test_console_statement_pdf_font
    assert routes == spec


def test_served_document_and_docs_copy(hub: Hub, http: httpx.Client) -> None:
    served = http.get(f"{hub.url}/openapi.json").json()
    assert served == openapi_document()
    assert json.loads(DOCS.read_text(encoding="utf-8")) == served
    assert http.get(f"{hub.url}/v1/health").json() == {"status": "ok"}
