"""Unit test of the month pages' guard (:mod:`stationlink.hub.console.pages_guard`) with a
fake context: both built-in stores carry the month tables (their pages are tested on real
servers in test_console_pages.py), so a store without them is only a stand-in here."""

from __future__ import annotations

import asyncio
import json
from types import SimpleNamespace
from typing import Any

from starlette.responses import JSONResponse, Response

from stationlink.hub.console.pages_guard import needs_month_tables


class _WithMonths:
    def month_store(self) -> object:
        return object()


def _call(hub_store: object) -> tuple[Response, list[str]]:
    called: list[str] = []

    async def handler(ctx: Any) -> Response:
        called.append("handler")
        return JSONResponse({"ok": True})

    ctx = SimpleNamespace(runtime=SimpleNamespace(hub_store=hub_store), _=lambda m: m)
    answer = asyncio.run(needs_month_tables(json=True)(handler)(ctx))  # type: ignore[arg-type]
    return answer, called


def test_a_store_without_month_tables_answers_501_and_the_handler_never_runs() -> None:
    answer, called = _call(object())
    assert answer.status_code == 501
    assert json.loads(bytes(answer.body))["error"] == "not_available"
    assert called == []


def test_a_store_offering_month_store_reaches_the_handler() -> None:
    answer, called = _call(_WithMonths())
    assert answer.status_code == 200
    assert called == ["handler"]
