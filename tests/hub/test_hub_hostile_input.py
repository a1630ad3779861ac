"""Hostile but well-formed JSON against a real hub over HTTP (issue 8, section 3).

Every such body is answered 4xx naming the spot (a JSON path), nothing is stored, and no
answer repeats a card number. Values the rules accept (a utility account that happens to pass
the Luhn check, an old time) are stored.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import timedelta
from typing import Any

import httpx
import pytest
from hub_fixtures import T0, Hub, MakeRecord
from test_hub_ingest import batch_json, held

from stationlink.buffer import Buffer
from stationlink.protocol import TxnKind, TxnStatus

PAN = "4111111111111111"  # a Luhn-valid test card number


@pytest.fixture
def body(buf: Buffer, make_record: MakeRecord) -> dict[str, Any]:
    """Three records: a mobile top-up, a withdrawal with a card, an electricity bill."""
    buf.record_journal_page("T1", [
        make_record(1),
        make_record(2, kind=TxnKind.WITHDRAWAL),
        make_record(3, product="electricity", account="0531008800"),
    ], T0)
    return batch_json(buf, 3)


def _raw(http: httpx.Client, hub: Hub, raw: bytes, tail: str = "batches") -> httpx.Response:
    return http.post(f"{hub.url}/v1/stations/S1/{tail}", content=raw,
                     headers={**hub.headers(), "Content-Type": "application/json"})


def _set(index: int, field: str, value: Any) -> Callable[[dict[str, Any]], None]:
    def mutate(b: dict[str, Any]) -> None:
        b["records"][index][field] = value
    return mutate


HOSTILE = [
    (_set(0, "amount_fen", 2**63), "records[0].amount_fen", "must be at most"),
    (_set(0, "amount_fen", 10**30), "records[0].amount_fen", "an integer of 31 digits"),
    (_set(0, "amount_fen", 5_000_001), "records[0].amount_fen", "more than one bill_payment"),
    (_set(1, "amount_fen", 1_000_001), "records[1].amount_fen", "more than one withdrawal"),
    (_set(0, "uptime_ms", 2**64), "records[0].uptime_ms", "must be at most"),
    (_set(0, "boot_id", -1), "records[0].boot_id", "must be at least 0"),
    (_set(0, "result", 2**63), "records[0].result", "must be at most"),
    (_set(0, "wall_time", "0001-01-01T00:00:00+14:00"), "records[0].wall_time",
     "outside 1970..2099"),
    (_set(0, "terminal_time", "9999-12-31T23:59:59-14:00"), "records[0].terminal_time",
     "outside 1970..2099"),
    (_set(0, "terminal_time", "2026-10-05T09:00:00+15:00"), "records[0].terminal_time",
     "beyond +-14:00"),
    (_set(0, "wall_time", (T0 + timedelta(days=3)).isoformat()), "records[0].wall_time",
     "more than 1 day after it was received"),
    (_set(1, "card_token", "4111 1111 1111 1111"), "records[1].card_token",
     "looks like a full card number"),
    (_set(1, "card_token", "4111-1111-1111-1111"), "records[1].card_token",
     "looks like a full card number"),
    (_set(1, "card_masked", PAN), "records[1].card_masked", "looks like a full card number"),
    (_set(1, "account", "卡号 4111-1111-1111-1111"), "records[1].account",
     "looks like a card number (************1111)"),
    (_set(0, "client_ref", "4111 1111 1111 1111"), "records[0].client_ref",
     "looks like a card number"),
    (_set(0, "account", PAN), "records[0].account", "not a mobile account"),
    (_set(0, "account", "12345"), "records[0].account", "not a mobile account"),
    (_set(0, "terminal_id", "T1\u202e"), "records[0].terminal_id", "U+202E"),
    (_set(0, "terminal_ref", "R1\u200f"), "records[0].terminal_ref", "U+200F"),
    (_set(0, "terminal_ref", "=HYPERLINK(\"x\")"), "records[0].terminal_ref", "formula"),
    (_set(0, "terminal_ref", "@SUM(1)"), "records[0].terminal_ref", "formula"),
    (_set(0, "product", "lottery"), "records[0].product", "unknown bill product"),
    (_set(1, "product", "mobile"), "records[1].product", "a withdrawal carries no product"),
    (_set(1, "card_token", ""), "records[1].card_token",
     "approved withdrawal without a card token"),
    (lambda b: b.__setitem__("first_seq", 2**63), "first_seq", "must be at most"),
]


@pytest.mark.slow  # 26 cases, each against a real hub server
@pytest.mark.parametrize(("mutate", "path", "reason"), HOSTILE,
                         ids=[h[1] + ":" + h[2] for h in HOSTILE])
def test_hostile_value_is_422_naming_the_field_and_nothing_is_stored(
    hub: Hub, http: httpx.Client, body: dict[str, Any],
    mutate: Callable[[dict[str, Any]], None], path: str, reason: str,
) -> None:
    mutate(body)
    r = _raw(http, hub, json.dumps(body, ensure_ascii=False).encode())
    assert r.status_code == 422, r.text
    assert r.json()["path"] == path
    assert reason in r.json()["detail"]
    assert PAN not in r.text
    assert "4111 1111 1111 1111" not in r.text
    assert "4111-1111-1111-1111" not in r.text
    assert held(hub) == []


@pytest.mark.parametrize(
    ("edit", "path", "reason"),
    [
        (lambda t: t.replace('"amount_fen": 5000,', '"amount_fen": 5000, "amount_fen": 1,', 1),
         "records[0]", "repeats the key 'amount_fen'"),
        (lambda t: t.replace('"amount_fen": 5000,', '"amount_fen": ' + "9" * 5000 + ",", 1),
         "records[0].amount_fen", "an integer of 5000 digits"),
        (lambda t: t.replace('"amount_fen": 5000,', '"amount_fen": NaN,', 1),
         "records[0].amount_fen", "NaN is not a number"),
        (lambda t: t.replace('"boot_id": 1,', '"boot_id": -Infinity,', 1),
         "records[0].boot_id", "-Infinity is not a number"),
        (lambda t: "[" * 100_000 + "]" * 100_000, "$", "nested deeper than 16"),
        (lambda t: '{"a": ' * 50_000 + "1" + "}" * 50_000, "$", "nested deeper than 16"),
    ],
    ids=["duplicate-key", "5000-digits", "nan", "infinity", "deep-arrays", "deep-objects"],
)
def test_hostile_json_text_is_422_with_path(
    hub: Hub, http: httpx.Client, body: dict[str, Any], edit: Callable[[str], str], path: str,
    reason: str,
) -> None:
    text = edit(json.dumps(body))
    r = _raw(http, hub, text.encode())
    assert r.status_code == 422, r.text
    assert (r.json()["path"], reason in r.json()["detail"]) == (path, True), r.text
    assert held(hub) == []


def test_brackets_inside_strings_do_not_count_as_nesting(
    hub: Hub, http: httpx.Client, body: dict[str, Any],
) -> None:
    body["records"][0]["account"] = "[" * 100  # a string, not nesting: only the account rule
    r = _raw(http, hub, json.dumps(body).encode())
    assert r.status_code == 422
    assert r.json()["path"] == "records[0].account"


def test_device_status_integers_are_bounded(hub: Hub, http: httpx.Client) -> None:
    snap = {"terminal_id": "T1", "wall_time": T0.isoformat(), "paper_ok": True,
            "error_counters": {"crc_errors": 2}, "signal_dbm": -80, "uptime_ms": 2**64,
            "boot_id": 1, "terminal_time": T0.isoformat(), "journal_unacked": 0}
    r = _raw(http, hub, json.dumps({"snapshots": [snap]}).encode(), "device-status")
    assert r.status_code == 422, r.text
    assert r.json()["path"] == "snapshots[0].uptime_ms"
    snap["uptime_ms"] = 5
    snap["error_counters"] = {"crc_errors": 10**25}
    r = _raw(http, hub, json.dumps({"snapshots": [snap]}).encode(), "device-status")
    assert r.status_code == 422, r.text
    assert r.json()["path"] == "snapshots[0].error_counters.crc_errors"
    snap["error_counters"] = {"crc_errors": 2}
    r = _raw(http, hub, json.dumps({"snapshots": [snap]}).encode(), "device-status")
    assert r.status_code == 200, r.text


def test_accepted_values_are_stored(hub: Hub, http: httpx.Client, body: dict[str, Any]) -> None:
    # a utility account that happens to pass the Luhn check is an account, not a card
    body["records"][2]["account"] = PAN
    # an old time is accepted (the hub calls it late); a declined top-up may carry the
    # account the customer mistyped
    body["records"][0]["terminal_time"] = "1999-12-31T23:59:59+14:00"
    body["records"][0]["status"] = TxnStatus.DECLINED.value
    body["records"][0]["account"] = "12345"
    r = _raw(http, hub, json.dumps(body).encode())
    assert r.status_code == 200, r.text
    assert [s for _, s, _ in held(hub)] == [1, 2, 3]


def test_not_json_stays_400(hub: Hub, http: httpx.Client) -> None:
    r = _raw(http, hub, b'{"station_id": "S1",,}')
    assert r.status_code == 400
    assert "line 1 column 21" in r.json()["detail"]
    assert _raw(http, hub, b"\xff").status_code == 400


def test_a_terminal_clock_days_ahead_is_stored_not_refused(
    hub: Hub, http: httpx.Client, body: dict[str, Any]
) -> None:
    # a terminal's clock set days ahead is a wrong clock the hub corrects from its drift
    # anchors; refusing the record would quarantine what the terminal really did
    body["records"][1]["terminal_time"] = (T0 + timedelta(days=30)).isoformat()
    r = _raw(http, hub, json.dumps(body).encode())
    assert r.status_code == 200, r.text
    assert [s for _, s, _ in held(hub)] == [1, 2, 3]
