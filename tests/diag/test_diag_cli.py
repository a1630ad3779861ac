"""``stationlink diag`` on the command line: exit codes, --json against the schema, languages,
the HTML report (rendered in headless Chromium when it is installed)."""

from __future__ import annotations

import json
import re
import socket
from pathlib import Path

import jsonschema
import pytest
from click.testing import CliRunner
from diag_rig import assert_self_contained, chromium, terminal

from stationlink.cli import diag as diag_cli
from stationlink.cli.main import cli
from stationlink.diag import SCHEMA_PATH
from stationlink.diag.catalogue import FINDINGS, LABELS
from stationlink_sim.serve import DEFAULT_CARD_KEY

CJK = re.compile(r"[\u4e00-\u9fff]")


def run(args: list[str], clock: object) -> tuple[int, str]:
    runner = CliRunner()
    mp = pytest.MonkeyPatch()
    mp.setattr(diag_cli, "CLOCK", clock)
    try:
        result = runner.invoke(cli, ["diag", *args], catch_exceptions=False)
    finally:
        mp.undo()
    return result.exit_code, result.output


def validate(doc: object) -> None:
    schema = json.loads(SCHEMA_PATH.read_text(encoding="utf-8"))
    jsonschema.Draft202012Validator.check_schema(schema)
    jsonschema.Draft202012Validator(schema).validate(doc)


def test_the_schema_refuses_what_it_should() -> None:
    schema = json.loads(SCHEMA_PATH.read_text(encoding="utf-8"))
    with pytest.raises(jsonschema.ValidationError):
        jsonschema.validate({"schema": "stationlink-diag", "version": 1}, schema)


def test_could_not_connect_is_exit_3_with_a_valid_document() -> None:
    with socket.socket() as s:  # a port nobody listens on
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    from stationlink.clock import SystemClock

    code, out = run([f"tcp://127.0.0.1:{port}", "--json"], SystemClock())
    assert code == 3
    doc = json.loads(out)
    validate(doc)
    assert doc["checks"][0]["findings"][0]["id"] == "connection.open_failed"
    assert [c["status"] for c in doc["checks"][1:]] == ["skipped"] * 5


@pytest.mark.slow
def test_json_validates_and_the_exit_code_follows_the_verdict() -> None:
    with terminal("tcp", "clock_offset=-3h", payments=0) as (t, clock):
        code, out = run([t.url, "--json", "--echo", "2"], clock)
    doc = json.loads(out)
    validate(doc)
    assert code == doc["exit_code"] == 1
    clk = next(c for c in doc["checks"] if c["name"] == "clock")
    assert clk["findings"][0]["id"] == "clock.behind"
    assert clk["findings"][0]["text"] == "终端时钟慢了3小时"
    assert clk["findings"][0]["advice"] == "请校准终端时钟，交易时间将由中心系统更正"


@pytest.mark.slow
def test_english_with_lang_en_chinese_by_default() -> None:
    with terminal("tcp", "clock_offset=-3h,paper_out#1", payments=0) as (t, clock):
        _, zh = run([t.url, "--json", "--echo", "1"], clock)
        _, en = run([t.url, "--json", "--echo", "1", "--lang", "en"], clock)
        code, text_en = run([t.url, "--echo", "1", "--lang", "en"], clock)
    zh_doc, en_doc = json.loads(zh), json.loads(en)
    validate(en_doc)
    assert code == 2
    for doc, is_zh in ((zh_doc, True), (en_doc, False)):
        for check in doc["checks"]:
            assert bool(CJK.search(check["title"])) is is_zh
            for f in check["findings"]:
                assert bool(CJK.search(f["text"])) is is_zh, f
    clk = next(c for c in en_doc["checks"] if c["name"] == "clock")
    assert clk["findings"][0]["text"] == "the terminal clock is 3 h behind"
    assert clk["findings"][0]["advice"] == "set it, records will be corrected by the hub"
    assert "the terminal is out of paper" in text_en
    assert "load paper" in text_en


def test_every_message_has_both_languages_and_every_id_used_exists() -> None:
    for msg_id, parts in FINDINGS.items():
        assert set(parts) == {"text", "advice"}, msg_id
        for part in parts.values():
            assert set(part) == {"zh", "en"}, msg_id
            assert bool(part["zh"]) == bool(part["en"]), msg_id
    for key, words in LABELS.items():
        assert set(words) == {"zh", "en"}, key
    source = "\n".join(p.read_text(encoding="utf-8") for p in
                       (Path(diag_cli.__file__).parent.parent / "diag").glob("*.py"))
    used = set(re.findall(r'add\(\s*"([a-z]+\.[a-z_]+)"', source))
    assert used, "no finding ids found in the diag sources"
    assert used <= set(FINDINGS), used - set(FINDINGS)


@pytest.mark.slow
def test_the_html_report_is_self_contained_and_chromium_shows_every_verdict(
    tmp_path: Path,
) -> None:
    report = tmp_path / "report.html"
    with terminal("serial", "clock_offset=-3h,paper_out#1", payments=0) as (t, clock):
        code, out = run([t.url, "--echo", "2", "--report", str(report), "--json"], clock)
    assert code == 2
    html = report.read_text(encoding="utf-8")
    assert_self_contained(html)
    assert "<svg" in html
    assert "<circle" in html
    doc = json.loads(out)
    dom = chromium(report, "--dump-dom").stdout
    for check in doc["checks"]:
        assert f'id="check-{check["name"]}"' in dom
        assert f'data-status="{check["status"]}"' in dom
        for f in check["findings"]:
            assert f["text"] in dom or _escaped(f["text"]) in dom, f
    shot = tmp_path / "report.png"
    chromium(report, "--hide-scrollbars", "--window-size=420,1400", f"--screenshot={shot}")
    assert shot.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def _escaped(text: str) -> str:
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


@pytest.mark.slow
def test_config_gives_the_buffer_and_agent_state(tmp_path: Path) -> None:
    """--config agent.toml: its data_dir's buffer is checked (read only) with its state."""
    from stationlink.agent.state import AgentState
    from stationlink.buffer import Buffer

    data = tmp_path / "data"
    data.mkdir()
    with terminal("tcp", payments=2) as (t, clock):
        records = t.device.journal.records_now()
        with Buffer.open(data / "buffer.sqlite", "S-CONF") as buf:
            buf.record_journal_page(t.config.terminal_id, records, clock.now())
        with AgentState(data / "agent-state.sqlite") as state:
            state.note_started(4242, clock.now())
            state.note_stopped(clock.now())
        config = tmp_path / "agent.toml"
        config.write_text(
            f'station_id = "S-CONF"\ncard_key = "{DEFAULT_CARD_KEY.hex()}"\n'
            f'data_dir = "data"\n\n[hub]\nurl = "http://127.0.0.1:8400/"\ntoken = "t"\n\n'
            f'[[terminals]]\nurl = "{t.url}"\n', encoding="utf-8")
        size = (data / "buffer.sqlite").stat().st_size
        code, out = run([t.url, "--json", "--echo", "1", "--config", str(config)], clock)
        bad, _ = run([t.url, "--config", str(config), "--buffer", str(config)], clock)
    doc = json.loads(out)
    validate(doc)
    check = next(c for c in doc["checks"] if c["name"] == "buffer")
    reasons = [f["params"]["reason"] for f in check["findings"] if f["id"] == "buffer.station"]
    assert reasons == ["agent_stopped"]  # from the agent state beside the buffer
    assert check["measurements"]["journal_backlog"] == 0
    assert code == 1
    assert (data / "buffer.sqlite").stat().st_size == size
    assert bad == 2  # --config and --buffer together: a usage error
