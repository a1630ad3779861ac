"""``stationlink agent status``: one screen saying whether the station's data is flowing.

A real buffer file and a real agent state file describe a station with two terminals; the
CLI's clock is a ManualClock (never the wall clock). Each verdict reason is provoked on its
own (and just below its threshold it is not), through the CLI in both languages and --json.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

from stationlink.agent.health import Level, Thresholds, station_facts
from stationlink.agent.health_screen import HEIGHT, WIDTH, width
from stationlink.agent.state import AgentState
from stationlink.buffer import Batch, Buffer, DeviceReading, TerminalTotals, TotalsLine
from stationlink.cli import agent as agent_cli
from stationlink.cli.main import cli
from stationlink.clock import ManualClock
from stationlink.money import CST
from stationlink.protocol import JournalRecord, ResultCode, TxnKind, TxnStatus

NOW = datetime(2026, 10, 5, 15, 0, tzinfo=CST)
BILL, CARD = "tcp://127.0.0.1:9", "tcp://127.0.0.1:10"
IDS = {BILL: "BILL0001", CARD: "CARD0001"}


class Station:
    """A healthy two-terminal station at NOW; the tests then break one thing."""

    def __init__(self, tmp: Path) -> None:
        self.dir = tmp / "data"
        self.cfg = tmp / "agent.toml"
        self.cfg.write_text(
            f'station_id = "S1"\ncard_key = "{"00" * 16}"\ndata_dir = "data"\n'
            '[hub]\nurl = "http://127.0.0.1:9"\ntoken = "x"\n'
            + "".join(f'[[terminals]]\nurl = "{u}"\n' for u in IDS), encoding="utf-8")
        self.cursor = 0
        with self.buf() as buf, self.state() as st:
            st.note_started(4242, NOW - timedelta(hours=6))
            st.heartbeat(NOW - timedelta(seconds=5))
            for url, tid in IDS.items():
                self.record(buf, tid, NOW - timedelta(minutes=20))
                buf.record_device_status(tid, reading(), NOW - timedelta(minutes=2))
                st.note_terminal(url, connected=True, now=NOW - timedelta(seconds=30),
                                 terminal_id=tid, dialect="sl-2", polled=True)
            buf.mark_synced(buf.last_seq())
            st.note_upload(now=NOW - timedelta(minutes=1), high_water_mark=buf.last_seq(),
                           records=buf.last_seq())

    def buf(self) -> Buffer:
        return Buffer.open(self.dir / "buffer.sqlite", "S1")

    def state(self) -> AgentState:
        return AgentState(self.dir / "agent-state.sqlite")

    def record(self, buf: Buffer, tid: str, at: datetime, amount_fen: int = 5000) -> None:
        self.cursor += 1
        rec = JournalRecord(
            cursor=self.cursor, ref=f"R{self.cursor:05d}", client_ref="",
            kind=TxnKind.BILL_PAYMENT, product="mobile", account="13800000000",
            amount_fen=amount_fen, status=TxnStatus.APPROVED, result=ResultCode.APPROVED,
            terminal_time=at, uptime_ms=1000 * self.cursor, boot_id=1, card=None)
        buf.record_journal_page(tid, [rec], at)

    def run(self, *args: str, monkeypatch: pytest.MonkeyPatch) -> str:
        monkeypatch.setattr(agent_cli, "CLOCK", ManualClock(NOW))
        res = CliRunner().invoke(cli, ["agent", "status", "--config", str(self.cfg), *args])
        assert res.exit_code == 0, res.output
        return res.stdout

    def doc(self, monkeypatch: pytest.MonkeyPatch, lang: str = "zh") -> dict[str, Any]:
        doc: dict[str, Any] = json.loads(self.run("--json", "--lang", lang,
                                                  monkeypatch=monkeypatch))
        return doc


def reading(paper_ok: bool = True, counters: dict[str, int] | None = None,
            unacked: int = 0) -> DeviceReading:
    return DeviceReading(paper_ok=paper_ok, error_counters=counters or {}, signal_dbm=-60,
                         uptime_ms=1, boot_id=1, terminal_time=NOW, journal_unacked=unacked)


@pytest.fixture
def station(tmp_path: Path) -> Station:
    return Station(tmp_path)


# ------------------------------------------------------------------ the provocations
# Each breaks one thing; ``below`` does the same just inside the threshold (no reason).

def quarantine(s: Station, below: bool) -> None:
    with s.buf() as buf:
        s.record(buf, "BILL0001", NOW - timedelta(minutes=3))
        if not below:
            batch = buf.next_batch(10)
            assert batch is not None
            buf.quarantine(batch, "amount out of range", 422, NOW - timedelta(minutes=2))


def stale_upload(s: Station, below: bool) -> None:
    with s.buf() as buf:
        s.record(buf, "CARD0001", NOW - timedelta(minutes=59 if below else 61))


def old_unknown(s: Station, below: bool) -> None:
    with s.buf() as buf:
        buf.record_unknown("BILL0001", "c-1", "bill_payment", "mobile", "139", 3000,
                           NOW - timedelta(hours=23 if below else 25))
        buf.mark_synced(buf.last_seq())  # uploaded; only its outcome is unknown


def stale_poll(s: Station, below: bool) -> None:
    with s.state() as st:
        st.note_terminal(CARD, connected=False, now=NOW - timedelta(minutes=9 if below else 11),
                         polled=True)


def settlement(s: Station, below: bool) -> None:
    with s.buf() as buf:
        since = NOW - timedelta(hours=1)
        line = TotalsLine("bill_payment", "mobile", 5, 25000)  # the buffer holds fewer
        found = buf.check_settlement("BILL0001", TerminalTotals(since, (line,)),
                                     NOW - timedelta(minutes=5))
        assert found
    if below:  # a later check that agreed supersedes it
        with s.state() as st:
            st.note_settlement("BILL0001", NOW.date(), NOW - timedelta(minutes=1), [])


def paper_out(s: Station, below: bool) -> None:
    with s.buf() as buf:
        buf.record_device_status("CARD0001", reading(paper_ok=below), NOW - timedelta(minutes=1))


def device_errors(s: Station, below: bool) -> None:
    counters = {"journal_record_too_large": 0 if below else 2, "card_number_unavailable": 0}
    with s.buf() as buf:
        buf.record_device_status("BILL0001", reading(counters=counters), NOW)


def agent_silent(s: Station, below: bool) -> None:
    with s.state() as st:
        st.heartbeat(NOW - timedelta(minutes=9 if below else 11))


def agent_stopped(s: Station, below: bool) -> None:
    with s.state() as st:
        if below:
            st.note_started(4243, NOW - timedelta(minutes=1))  # restarted: stopped_at cleared
        else:
            st.note_stopped(NOW - timedelta(minutes=1))


Provoke = Callable[[Station, bool], None]
CASES: list[tuple[Provoke, str, Level, tuple[str, str]]] = [
    # provocation, reason id, level, (a zh fragment, an en fragment) of its line
    (quarantine, "quarantine", Level.FAIL, ("HTTP 422 amount out of range", "quarantined")),
    (stale_upload, "upload_stale", Level.FAIL, ("已等 1 小时 1 分", "the oldest for 1 h 1 min")),
    (old_unknown, "unknown_old", Level.WARNING, ("30.00 元", "(30.00 元)")),
    (stale_poll, "poll_stale", Level.WARNING, ("CARD0001 已 11 分钟 未读取",
                                               "CARD0001 not polled for 11 min")),
    (settlement, "settlement_mismatch", Level.FAIL, ("BILL0001 结算对账不符：1 行",
                                                     "BILL0001: settlement totals differ on 1")),
    (paper_out, "paper_out", Level.WARNING, ("CARD0001 缺纸", "CARD0001 is out of paper")),
    (device_errors, "device_errors", Level.WARNING, ("journal_record_too_large=2",
                                                     "journal_record_too_large=2")),
    (agent_silent, "agent_silent", Level.WARNING, ("11 分钟 没有心跳", "for 11 min")),
    (agent_stopped, "agent_stopped", Level.WARNING, ("已于 2026-10-05 14:59:00 CST 停止",
                                                     "stopped at 2026-10-05 14:59:00 CST")),
]


def test_a_healthy_station_is_ok_in_both_languages(
    station: Station, monkeypatch: pytest.MonkeyPatch
) -> None:
    zh = station.run(monkeypatch=monkeypatch).splitlines()
    en = station.run("--lang", "en", monkeypatch=monkeypatch).splitlines()
    assert zh[0] == "数据流动：正常"
    assert en[0] == "data flowing: ok"
    assert "上次上传：2026-10-05 14:59:00 CST（中心已收到 seq 2）" in zh
    assert "  BILL0001 tcp://127.0.0.1:9 (sl-2): connected, paper ok, unacked 0" in en
    assert "last record captured 2026-10-05 14:40:00 CST from CARD0001 (seq 2)" in en
    doc = station.doc(monkeypatch)
    assert doc["health"]["verdict"] == "ok"
    assert doc["health"]["reasons"] == []
    assert doc["health"]["now"] == "2026-10-05T15:00:00+08:00"


def test_status_json_keeps_its_keys_and_adds_health(
    station: Station, monkeypatch: pytest.MonkeyPatch
) -> None:
    with station.buf() as buf:  # the terminal holds 4 records the agent has not acked
        buf.record_device_status("CARD0001", reading(unacked=4), NOW)
    doc = station.doc(monkeypatch)
    old = ["station_id", "buffer", "agent", "terminals", "records", "synced_upto", "backlog",
           "oldest_unsynced", "upload", "quarantine", "quarantined_records",
           "unresolved_unknown", "settlement_mismatches", "settlement_checks", "devices"]
    assert list(doc) == [*old, "health"]
    health = doc["health"]
    assert list(health) == ["verdict", "reasons", "now", "thresholds", "agent", "last_record",
                            "terminals", "upload", "quarantine", "unknowns",
                            "settlement_mismatches"]
    assert [t["terminal_id"] for t in health["terminals"]] == ["BILL0001", "CARD0001"]
    assert [t["journal_backlog"] for t in health["terminals"]] == [0, 4]
    assert health["upload"]["last_upload_at"] == "2026-10-05T14:59:00+08:00"
    assert health["thresholds"] == {"upload_stale_s": 3600, "poll_stale_s": 600,
                                    "unknown_old_s": 86400, "agent_silent_s": 600}


@pytest.mark.parametrize(("provoke", "reason", "level", "fragments"), CASES,
                         ids=[c[1] for c in CASES])
def test_each_reason_is_named_first_in_both_languages(
    station: Station, monkeypatch: pytest.MonkeyPatch, provoke: Provoke, reason: str,
    level: Level, fragments: tuple[str, str],
) -> None:
    provoke(station, False)
    doc = station.doc(monkeypatch, "en")["health"]
    assert [(r["id"], r["level"]) for r in doc["reasons"]] == [(reason, level.value)]
    assert doc["verdict"] == level.value
    assert doc["reasons"][0]["advice"]
    zh = station.run(monkeypatch=monkeypatch).splitlines()
    en = station.run("--lang", "en", monkeypatch=monkeypatch).splitlines()
    assert zh[0].startswith("数据流动：" + ("故障" if level is Level.FAIL else "警告"))
    assert en[0].startswith("data flowing: " + level.value.upper())
    assert zh[1].startswith("  [故障] " if level is Level.FAIL else "  [警告] ")
    assert fragments[0] in zh[1], zh[1]
    assert fragments[1] in en[1], en[1]


@pytest.mark.parametrize(("provoke", "reason"), [(c[0], c[1]) for c in CASES],
                         ids=[c[1] for c in CASES])
def test_just_inside_each_threshold_there_is_no_reason(
    station: Station, monkeypatch: pytest.MonkeyPatch, provoke: Provoke, reason: str
) -> None:
    provoke(station, True)
    doc = station.doc(monkeypatch)["health"]
    assert doc["reasons"] == [], reason
    assert doc["verdict"] == "ok"


def test_everything_wrong_at_once_still_fits_one_screen(
    station: Station, monkeypatch: pytest.MonkeyPatch
) -> None:
    for provoke, *_ in CASES:
        if provoke is not stale_upload:
            provoke(station, False)
    with station.state() as st:  # and a long error on both links
        for url in IDS:
            st.note_terminal(url, connected=False, now=NOW - timedelta(minutes=30),
                             error="LinkError: " + "no answer after 3 retransmissions " * 4)
    with station.buf() as buf:
        s_line = TotalsLine("withdrawal", "", 1, 100000)
        buf.check_settlement("CARD0001", TerminalTotals(NOW - timedelta(hours=1), (s_line,)),
                             NOW)
        station.record(buf, "CARD0001", NOW - timedelta(minutes=70))
        rec = buf.get(buf.last_seq())
        assert rec is not None
        buf.quarantine(Batch("S1", rec.seq, rec.seq, (rec,)), "x" * 200, 409, NOW)
    stale_upload(station, False)
    for lang in ("zh", "en"):
        lines = station.run("--lang", lang, monkeypatch=monkeypatch).splitlines()
        assert len(lines) <= HEIGHT, "\n".join(lines)
        assert all(width(line) <= WIDTH for line in lines), "\n".join(lines)
        assert lines[0].startswith(("数据流动：故障", "data flowing: FAIL"))
        assert "None" not in "\n".join(lines)
    doc = station.doc(monkeypatch)["health"]
    ids = [r["id"] for r in doc["reasons"]]
    assert {c[1] for c in CASES} - {"agent_silent"} <= set(ids)  # stopped: not silent
    assert doc["quarantine"]["batches"] >= 2


def test_details_is_the_full_listing_in_both_languages(
    station: Station, monkeypatch: pytest.MonkeyPatch
) -> None:
    paper_out(station, False)
    with station.state() as st:
        st.note_settlement("BILL0001", NOW.date(), NOW - timedelta(minutes=3), [
            {"kind": "bill_payment", "product": "mobile", "terminal_count": 3,
             "terminal_amount_fen": 15050, "buffer_count": 2, "buffer_amount_fen": 10000}])
    en = station.run("--details", "--lang", "en", monkeypatch=monkeypatch)
    assert "  CARD0001 at 2026-10-05 14:59:00 CST: paper OUT, signal -60 dBm" in en
    assert "  BILL0001 checked 2026-10-05 14:57:00 CST: 1 line(s) differ" in en
    assert ("    bill_payment mobile: terminal 3 / 150.50 元, buffer 2 / 100.00 元"
            in en.splitlines())
    zh = station.run("--details", monkeypatch=monkeypatch)
    assert "  CARD0001 2026-10-05 14:59:00 CST：缺纸，信号 -60 dBm" in zh
    assert "    bill_payment mobile：终端 3 笔 150.50 元，缓存 2 笔 100.00 元" in zh.splitlines()
    assert "None" not in zh + en


def test_thresholds_are_injectable(station: Station) -> None:
    stale_poll(station, True)  # 9 minutes
    with station.buf() as buf, station.state() as st:
        default = station_facts(buf, st, NOW)
        strict = station_facts(buf, st, NOW, thresholds=Thresholds(
            poll_stale=timedelta(minutes=5)))
    assert default.reasons == ()
    assert [r.id for r in strict.reasons] == ["poll_stale"]
    assert strict.verdict is Level.WARNING


def test_a_naive_now_is_refused(station: Station) -> None:
    with station.buf() as buf, pytest.raises(ValueError, match="aware"):
        station_facts(buf, None, NOW.replace(tzinfo=None))


def test_a_long_serial_url_is_cut_and_the_link_state_stays(
    station: Station, monkeypatch: pytest.MonkeyPatch
) -> None:
    url = "serial:///dev/serial/by-id/usb-FTDI_FT232R_USB_UART_A50285BI-if00-port0?baud=9600"
    station.cfg.write_text(station.cfg.read_text(encoding="utf-8")
                           + f'[[terminals]]\nurl = "{url}"\n', encoding="utf-8")
    with station.state() as st:
        st.note_terminal(url, connected=True, now=NOW, terminal_id="BILL0003", dialect="sl-2",
                         polled=True)
    for lang, tail in (("en", " (sl-2): connected, device status: none yet"),
                       ("zh", "（sl-2）：已连接，设备状态：尚无")):
        lines = station.run("--lang", lang, monkeypatch=monkeypatch).splitlines()
        (line,) = [ln for ln in lines if ln.startswith("  BILL0003 serial:///dev/serial/")]
        assert line.endswith("…" + tail), line
        assert width(line) <= WIDTH


def test_a_configured_terminal_never_reached_still_shows(
    station: Station, monkeypatch: pytest.MonkeyPatch
) -> None:
    station.cfg.write_text(station.cfg.read_text(encoding="utf-8")
                           + '[[terminals]]\nurl = "tcp://127.0.0.1:11"\nid = "BILL0002"\n',
                           encoding="utf-8")
    doc = station.doc(monkeypatch)["health"]
    new = doc["terminals"][2]
    assert (new["terminal_id"], new["url"], new["connected"]) == (
        "BILL0002", "tcp://127.0.0.1:11", None)
    assert [(r["id"], r["params"]) for r in doc["reasons"]] == [
        ("poll_never", {"terminal_id": "BILL0002"})]
    en = station.run("--lang", "en", monkeypatch=monkeypatch)
    assert "  BILL0002 tcp://127.0.0.1:11 (?): link unknown, device status: none yet" in en
