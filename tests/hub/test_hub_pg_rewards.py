"""``rewards compute --hub`` on either store (a SQLite file or a ``postgresql://`` URL) gives
the statements the hub's own CSV export gives."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import httpx
from click.testing import CliRunner
from hub_fixtures import T0, Hub, MakeRecord
from test_hub_files import reference_files
from test_hub_months import sync

from stationlink.buffer import Buffer
from stationlink.cli.main import cli
from stationlink.protocol import TxnKind


def _statements(doc: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in doc.items() if k != "info"}


def test_rewards_from_the_hub_equal_rewards_from_its_export(
    hub: Hub, http: httpx.Client, buf: Buffer, make_record: MakeRecord, tmp_path: Path
) -> None:
    recs = [make_record(i, amount_fen=1000 * i) for i in range(1, 8)]
    recs += [make_record(7 + i, kind=TxnKind.WITHDRAWAL, amount_fen=50_000) for i in range(1, 5)]
    recs.append(make_record(12, kind=TxnKind.REVERSAL, original_ref="R00000000003"))
    buf.record_journal_page("T1", recs, T0)
    assert sync(buf, hub, http) == 12
    run = CliRunner().invoke
    ref = reference_files(tmp_path)
    export = run(cli, ["hub", "export", "--db", str(hub.path), "--month", "2026-10",
                       "-o", str(tmp_path / "t.csv")])
    assert export.exit_code == 0, export.output
    from_csv = run(cli, ["rewards", "compute", "--month", "2026-10", "--transactions",
                         str(tmp_path / "t.csv"), "--format", "json", *ref])
    from_hub = run(cli, ["rewards", "compute", "--month", "2026-10", "--hub", str(hub.path),
                         "--format", "json", *ref])
    assert from_csv.exit_code == 0, from_csv.output
    assert from_hub.exit_code == 0, from_hub.output
    csv_doc, hub_doc = json.loads(from_csv.stdout), json.loads(from_hub.stdout)
    assert hub_doc["info"]["rows"] == csv_doc["info"]["rows"] == 11
    assert _statements(hub_doc) == _statements(csv_doc)


def test_a_missing_sqlite_hub_file_is_a_usage_error(tmp_path: Path) -> None:
    ref = reference_files(tmp_path)
    result = CliRunner().invoke(cli, ["rewards", "compute", "--month", "2026-10", "--hub",
                                      str(tmp_path / "nope.sqlite"), *ref])
    assert result.exit_code == 2
    assert "does not exist" in result.output
