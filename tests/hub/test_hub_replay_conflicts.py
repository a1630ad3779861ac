"""The hub holds exactly what was sent, or says no: a replayed seq that differs in any field
is 409 naming the fields; a new seq that repeats a held identity with other content is a
*conflict*, listed by the store, ``GET /v1/conflicts``, ``hub conflicts`` and ``hub status``."""

from __future__ import annotations

import copy
import json
from pathlib import Path
from typing import Any

import httpx
import pytest
from click.testing import CliRunner
from hub_fixtures import T0, Hub, MakeRecord

from stationlink.buffer import Buffer
from stationlink.cli.main import cli
from stationlink.hub.wire import batch_to_json
from stationlink.protocol import TxnKind


def batch_json(buf: Buffer, limit: int = 100) -> dict[str, Any]:
    batch = buf.next_batch(limit)
    assert batch is not None
    return batch_to_json(batch)


def post(http: httpx.Client, hub: Hub, body: Any, station: str = "S1") -> httpx.Response:
    return http.post(f"{hub.url}/v1/stations/{station}/batches", json=body,
                     headers=hub.headers(station))


@pytest.fixture
def filled(buf: Buffer, make_record: MakeRecord) -> Buffer:
    recs = [make_record(1), make_record(2, kind=TxnKind.WITHDRAWAL, amount_fen=20000),
            make_record(3)]
    buf.record_journal_page("T1", recs, T0)
    return buf


@pytest.mark.parametrize(
    ("edits", "fields"),
    [
        ({"amount_fen": 5001}, ["amount_fen"]),
        ({"status": "declined"}, ["status"]),
        ({"amount_fen": 1, "status": "reversed", "product": "water"},
         ["product", "amount_fen", "status"]),
        ({"source": "live"}, ["source"]),
        ({"uptime_ms": 7}, ["uptime_ms"]),
    ],
)
def test_replayed_seq_with_other_content_is_409_naming_the_fields(
    hub: Hub, http: httpx.Client, filled: Buffer, edits: dict[str, Any], fields: list[str]
) -> None:
    body = batch_json(filled)
    assert post(http, hub, body).status_code == 200
    forged = copy.deepcopy(body)
    forged["records"][0].update(edits)
    r = post(http, hub, forged)
    assert r.status_code == 409, r.text
    doc = r.json()
    assert doc["error"] == "sequence_conflict"
    assert doc["seq"] == 1
    assert doc["fields"] == fields
    for f in fields:
        assert f in doc["detail"]
    # nothing changed at the hub; the identical replay is still harmless
    again = post(http, hub, body)
    assert again.status_code == 200
    assert again.json()["replayed"] == 3
    held = list(hub.store.records())
    assert [r.record.amount_fen for r in held] == [5000, 20000, 5000]


def test_card_field_mismatch_names_the_field_not_its_value(
    hub: Hub, http: httpx.Client, filled: Buffer
) -> None:
    body = batch_json(filled)
    assert post(http, hub, body).status_code == 200
    forged = copy.deepcopy(body)
    old_token = forged["records"][1]["card_token"]
    old_masked = forged["records"][1]["card_masked"]
    forged["records"][1]["card_token"] = "f" * len(old_token)
    forged["records"][1]["card_masked"] = "999999******0000"
    r = post(http, hub, forged)
    assert r.status_code == 409
    assert r.json()["fields"] == ["card_token", "card_masked"]
    assert r.json()["seq"] == 2
    for value in (old_token, old_masked, "f" * len(old_token), "999999******0000"):
        assert value not in r.text


def _dup(body: dict[str, Any], seq: int, **edits: Any) -> dict[str, Any]:
    """A one-record batch at ``seq`` repeating ``body``'s first record's identity."""
    rec = copy.deepcopy(body["records"][0])
    rec.update(seq=seq, **edits)
    return {"station_id": "S1", "first_seq": seq, "last_seq": seq, "records": [rec]}


def test_conflicting_duplicate_is_listed_everywhere_an_operator_looks(
    hub: Hub, http: httpx.Client, filled: Buffer, tmp_path: Path
) -> None:
    body = batch_json(filled)
    assert post(http, hub, body).status_code == 200
    # seq 4: same identity as seq 1, same content (a harmless re-read): a duplicate only
    same = post(http, hub, _dup(body, 4, source="live", journal_cursor=None))
    assert same.json()["duplicates"] == 1
    # seq 5: same identity, another amount and status: a conflict
    other = post(http, hub, _dup(body, 5, amount_fen=9900, status="declined"))
    assert other.status_code == 200
    assert other.json()["duplicates"] == 1

    (c,) = hub.store.conflicts()
    assert (c.station_id, c.seq, c.duplicate_of, c.terminal_id) == ("S1", 5, 1, "T1")
    assert c.fields == ("amount_fen", "status")
    assert hub.store.conflicts("S2") == []

    r = http.get(f"{hub.url}/v1/conflicts", headers=hub.headers("S1"))
    assert r.status_code == 200, r.text
    (item,) = r.json()["conflicts"]
    assert item["seq"] == 5
    assert item["duplicate_of"] == 1
    assert item["fields"] == ["amount_fen", "status"]
    assert item["held"]["amount_fen"] == 5000
    assert item["sent"]["amount_fen"] == 9900
    # a station token sees only its own station's conflicts
    assert http.get(f"{hub.url}/v1/conflicts", headers=hub.headers("S2")).json() == {
        "station_id": "S2", "conflicts": []}
    assert http.get(f"{hub.url}/v1/conflicts").status_code == 401
    assert http.get(f"{hub.url}/v1/conflicts?station=S1",
                    headers=hub.headers("S2")).status_code == 403

    runner = CliRunner()
    listed = runner.invoke(cli, ["hub", "conflicts", "--db", str(hub.path), "--json"])
    assert listed.exit_code == 0, listed.output
    (doc,) = json.loads(listed.output)
    assert (doc["station_id"], doc["seq"], doc["duplicate_of"]) == ("S1", 5, 1)
    assert doc["fields"] == ["amount_fen", "status"]
    text = runner.invoke(cli, ["hub", "conflicts", "--db", str(hub.path)])
    assert text.exit_code == 0, text.output
    assert "S1 seq 5" in text.output
    assert "seq 1" in text.output
    assert "amount_fen: 5000 -> 9900" in text.output
    status = runner.invoke(cli, ["hub", "status", "--db", str(hub.path), "--json"])
    (s1,) = [d for d in json.loads(status.output) if d["station_id"] == "S1"]
    assert s1["conflicts"] == 1
    assert s1["duplicates"] == 2
    plain = runner.invoke(cli, ["hub", "status", "--db", str(hub.path)])
    assert "1 conflict(s)" in plain.output
    assert "stationlink hub conflicts" in plain.output


def test_conflict_listing_never_shows_card_values(
    hub: Hub, http: httpx.Client, filled: Buffer
) -> None:
    body = batch_json(filled)
    assert post(http, hub, body).status_code == 200
    card = body["records"][1]
    dup = {"station_id": "S1", "first_seq": 4, "last_seq": 4,
           "records": [dict(card, seq=4, card_token="e" * len(card["card_token"]))]}
    assert post(http, hub, dup).json()["duplicates"] == 1
    r = http.get(f"{hub.url}/v1/conflicts", headers=hub.headers("S1"))
    (item,) = r.json()["conflicts"]
    assert item["fields"] == ["card_token"]
    assert card["card_token"] not in r.text
    assert "e" * len(card["card_token"]) not in r.text
    listed = CliRunner().invoke(cli, ["hub", "conflicts", "--db", str(hub.path)])
    assert card["card_token"] not in listed.output
    assert "card_token: (differs)" in listed.output
