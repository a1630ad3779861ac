"""``rewards explain --json``, ``rewards check-policy --json`` and the progress shown while
``rewards compute`` reads a large CSV (only on a terminal's stderr)."""

from __future__ import annotations

import io
import json
import sys
from importlib import resources
from pathlib import Path

import pytest
from click.testing import CliRunner

from stationlink.cli.main import cli
from stationlink.cli.progress import file_progress, lines_with_progress
from stationlink.rewards import load_policy


def invoke(*args: str) -> tuple[int, str, str]:
    res = CliRunner().invoke(cli, ["rewards", *args])
    return res.exit_code, res.stdout, res.stderr


def test_explain_json_holds_the_statement_and_the_derivation(golden_args: list[str]) -> None:
    code, out, _ = invoke("compute", "--month", "2026-10", "--format", "json", *golden_args)
    assert code == 0
    month = json.loads(out)
    for option, key, value in (("--station", "station_id", "R1"),
                               ("--branch", "branch_id", "B1")):
        code, out, _ = invoke("explain", "--month", "2026-10", option, value, "--json",
                              *golden_args)
        assert code == 0, out
        doc = json.loads(out)
        assert set(doc) == {"month", "policy", "station_id", "branch_id", "statement",
                            "explanation"}
        assert (doc["month"], doc["policy"], doc[key]) == ("2026-10", "dezhou-2014", value)
        party = month["stations"] if key == "station_id" else month["branches"]
        assert doc["statement"] == next(p for p in party if p[key] == value)
        code, text, _ = invoke("explain", "--month", "2026-10", option, value, *golden_args)
        assert doc["explanation"] == text.splitlines()
    code, out, _ = invoke("explain", "--month", "2026-10", "--station", "NOPE", "--json",
                          *golden_args)
    assert code == 2


def test_check_policy_json(tmp_path: Path) -> None:
    code, out, _ = invoke("check-policy", "county-withhold-2012", "--json")
    assert code == 0
    doc = json.loads(out)
    assert (doc["ok"], doc["quarter_rule"], doc["error"]) == (True, True, None)
    policy = load_policy("county-withhold-2012")
    assert (doc["name"], doc["counts"], doc["station_items"]) == (
        policy.name, len(policy.counts), len(policy.station_items))
    text = (resources.files("stationlink") / "policies" / "dezhou-2014.toml").read_text("utf-8")
    bad = tmp_path / "neg.toml"
    bad.write_text(text.replace("rate = 30.00", "rate = -30.00"), encoding="utf-8")
    code, out, _ = invoke("check-policy", str(bad), "--json")
    assert code == 4
    doc = json.loads(out)
    assert (doc["policy"], doc["ok"]) == (str(bad), False)
    assert "station.items[11].rate: must not be negative" in doc["error"]


def test_no_progress_when_stderr_is_not_a_terminal(golden_args: list[str]) -> None:
    code, out, err = invoke("compute", "--month", "2026-10", "--format", "json", *golden_args)
    assert code == 0
    json.loads(out)  # stdout is exactly the document
    assert err == ""


def test_lines_with_progress_yields_the_files_lines_and_reports_bytes(tmp_path: Path) -> None:
    path = tmp_path / "t.csv"
    body = "\ufeffa,b\r\n" + "".join(f"{i},\u4e2d\u6587{i}\n" for i in range(1000)) + "last,x"
    path.write_text(body, encoding="utf-8", newline="")
    seen: list[int] = []
    lines = list(lines_with_progress(path, seen.append, every=100))
    with open(path, encoding="utf-8-sig", newline="") as f:
        assert lines == list(f)
    assert len(seen) == len(lines) // 100 + 1
    assert seen == sorted(seen)
    assert seen[-1] == path.stat().st_size


class FakeTerminal(io.StringIO):
    def isatty(self) -> bool:
        return True


def test_file_progress_draws_a_bar_only_on_a_terminal(tmp_path: Path,
                                                      monkeypatch: pytest.MonkeyPatch) -> None:
    path = tmp_path / "t.csv"
    path.write_text("x\n" * 50_000, encoding="utf-8")
    with file_progress(path, "reading transactions") as report:
        assert report is None  # pytest captures stderr: not a terminal
    term = FakeTerminal()
    monkeypatch.setattr(sys, "stderr", term)
    with file_progress(path, "reading transactions") as report:
        assert report is not None
        n = sum(1 for _ in lines_with_progress(path, report, every=1000))
    assert n == 50_000
    assert "reading transactions" in term.getvalue()
    assert "100%" in term.getvalue()


def test_reading_through_the_progress_lines_gives_the_same_inputs(tmp_path: Path) -> None:
    from stationlink.rewards.inputs import from_csv

    golden = Path(__file__).parent / "golden"
    bad = tmp_path / "t.csv"
    text = (golden / "transactions.csv").read_text("utf-8").splitlines(keepends=True)
    text[3] = text[3].replace(",approved", ",approvd")  # one bad row: named the same way
    bad.write_text("".join(text), encoding="utf-8")
    for transactions in (golden / "transactions.csv", bad):
        args = (transactions, golden / "stations.csv", golden / "branches.csv")
        plain = from_csv(*args, skip_bad_rows=True)
        seen: list[int] = []
        shown = from_csv(*args, skip_bad_rows=True,
                         lines=lines_with_progress(transactions, seen.append, every=10))
        assert list(shown.transactions) == list(plain.transactions)
        assert shown.problems == plain.problems
        assert shown.info == plain.info
        assert seen[-1] == transactions.stat().st_size
    assert len(plain.problems) == 1
