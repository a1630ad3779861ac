"""The agent status upload's optional ``settlement_mismatches``: parsed when present (a
non-negative integer), accepted when absent (older agents), refused with its path when
negative, of another type or null; other fields keep their rules (an unknown one is refused,
a missing one named). Over HTTP on both stores, and in the OpenAPI schema (optional)."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from typing import Any

import httpx
import pytest
from hub_fixtures import Hub

from stationlink.errors import MalformedBatchError
from stationlink.hub.client import HubClient
from stationlink.hub.openapi import openapi_document
from stationlink.hub.wire import AGENT_FIELDS, AGENT_OPTIONAL, loads, parse_agent_status
from stationlink.money import CST

T0 = datetime(2026, 10, 5, 9, 0, tzinfo=CST)


def status(**extra: Any) -> dict[str, Any]:
    return {"backlog": 2, "oldest_unsynced": T0.isoformat(), "quarantined_records": 0,
            "unresolved_unknown": 0, "version": "1.2.3", **extra}


@pytest.mark.parametrize("n", [0, 1, 7, 2**63 - 1])
def test_present_is_kept(n: int) -> None:
    assert parse_agent_status(status(settlement_mismatches=n)) == status(settlement_mismatches=n)


def test_absent_is_accepted_and_stays_absent() -> None:
    parsed = parse_agent_status(status())
    assert parsed == status()
    assert "settlement_mismatches" not in parsed


@pytest.mark.parametrize(("value", "reason"), [
    (-1, "must be at least 0, got -1"),
    ("3", "expected an integer, got a string"),
    (True, "expected an integer, got a boolean"),
    (None, "expected an integer, got null"),
    (Decimal("1.5"), "expected an integer, got the fractional number"),
    ([1], "expected an integer, got an array"),
    (2**63, "must be at most"),
])
def test_bad_values_are_refused_with_the_path(value: object, reason: str) -> None:
    with pytest.raises(MalformedBatchError) as err:
        parse_agent_status(status(settlement_mismatches=value))
    assert err.value.path == "settlement_mismatches"
    assert reason in str(err.value)


def test_a_float_in_the_body_is_refused() -> None:
    body = b'{"backlog": 0, "oldest_unsynced": null, "quarantined_records": 0, ' \
           b'"unresolved_unknown": 0, "version": "1", "settlement_mismatches": 1.0}'
    with pytest.raises(MalformedBatchError) as err:
        parse_agent_status(loads(body))
    assert err.value.path == "settlement_mismatches"


def test_unknown_fields_are_still_refused_and_required_ones_named() -> None:
    with pytest.raises(MalformedBatchError) as err:
        parse_agent_status(status(settlement_mismatch=1))  # a misspelling is not optional
    assert (err.value.path, "unexpected field" in str(err.value)) == ("settlement_mismatch", True)
    for name in AGENT_FIELDS:
        partial = {k: v for k, v in status(settlement_mismatches=1).items() if k != name}
        with pytest.raises(MalformedBatchError) as err:
            parse_agent_status(partial)
        assert (err.value.path, "missing field" in str(err.value)) == (name, True)


def test_openapi_lists_it_as_optional() -> None:
    schema = openapi_document()["components"]["schemas"]["AgentStatus"]
    assert schema["required"] == list(AGENT_FIELDS)
    assert set(schema["properties"]) == {*AGENT_FIELDS, *AGENT_OPTIONAL}
    assert schema["properties"]["settlement_mismatches"]["type"] == "integer"
    assert schema["properties"]["settlement_mismatches"]["minimum"] == 0
    assert schema["additionalProperties"] is False


def test_over_http_on_each_store(hub: Hub, http: httpx.Client) -> None:
    url = f"{hub.url}/v1/stations/S1/agent-status"
    with HubClient(hub.url, hub.tokens["S1"], station_id="S1", timeout=10) as client:
        client.report_agent_status(backlog=1, oldest_unsynced=None, quarantined_records=0,
                                   unresolved_unknown=0, version="1", settlement_mismatches=2)
    [s1] = [s for s in hub.store.overview() if s.station_id == "S1"]
    assert s1.agent_status is not None
    assert s1.agent_status["settlement_mismatches"] == 2
    # an older agent: no field; the stored status has none either (not a stale 2)
    with HubClient(hub.url, hub.tokens["S1"], station_id="S1", timeout=10) as client:
        client.report_agent_status(backlog=0, oldest_unsynced=None, quarantined_records=0,
                                   unresolved_unknown=0, version="0.9")
    [s1] = [s for s in hub.store.overview() if s.station_id == "S1"]
    assert s1.agent_status == {"backlog": 0, "oldest_unsynced": None,
                               "quarantined_records": 0, "unresolved_unknown": 0,
                               "version": "0.9"}
    r = http.post(url, json=status(settlement_mismatches=-3), headers=hub.headers())
    assert (r.status_code, r.json()["path"]) == (422, "settlement_mismatches")
    r = http.post(url, json=status(settlement_mismatches="2"), headers=hub.headers())
    assert (r.status_code, r.json()["path"]) == (422, "settlement_mismatches")
    [s1] = [s for s in hub.store.overview() if s.station_id == "S1"]
    assert s1.agent_status is not None
    assert s1.agent_status["version"] == "0.9"  # the refused ones changed nothing
