"""pcap reading (dpkt + our TCP reassembly) and writing, and the monitor on a pcap."""

from __future__ import annotations

import io
import socket
from pathlib import Path

import dpkt  # type: ignore[import-untyped]
import pytest
from click.testing import CliRunner
from monitor_helpers import FIXTURE_KEY, SESSIONS, capture_sessions, vector_messages, vector_session

from stationlink.cli.main import cli
from stationlink.errors import InputDataError
from stationlink.monitor.pcap import Segment, read_pcap_steps, write_pcap
from stationlink.monitor.sources import trace_file
from stationlink.protocol import to_json


def _streams(path: Path) -> dict[tuple[int, str], bytes]:
    out: dict[tuple[int, str], bytes] = {}
    for step in read_pcap_steps(str(path)):
        key = (step.connection, step.direction)
        out[key] = out.get(key, b"") + step.data
    return out


def test_written_sessions_read_back_byte_for_byte(tmp_path: Path) -> None:
    sessions = capture_sessions(SESSIONS / "day-sl-2-bill-tcp.jsonl")
    sessions.append([Segment(0.0, "t2h", bytes(range(256)) * 20)])  # > MSS: split in segments
    path = tmp_path / "s.pcap"
    with open(path, "wb") as fh:
        write_pcap(fh, sessions)
    got = _streams(path)
    for i, session in enumerate(sessions, start=1):
        for direction in ("h2t", "t2h"):
            want = b"".join(s.data for s in session if s.direction == direction)
            assert got.get((i, direction), b"") == want
    events = [(s.connection, s.direction, s.event) for s in read_pcap_steps(str(path))
              if s.event]
    assert events[:2] == [(1, "h2t", "open"), (1, "h2t", "close")]


def _pkt(src: int, dst: int, seq: int, data: bytes, flags: int = dpkt.tcp.TH_ACK) -> bytes:
    tcp = dpkt.tcp.TCP(sport=src, dport=dst, seq=seq, ack=1, flags=flags, data=data)
    ip = dpkt.ip.IP(src=socket.inet_aton("10.0.0.1" if src != 9100 else "10.0.0.2"),
                    dst=socket.inet_aton("10.0.0.2" if src != 9100 else "10.0.0.1"),
                    p=dpkt.ip.IP_PROTO_TCP, data=tcp)
    ip.len = len(ip)
    return bytes(dpkt.ethernet.Ethernet(type=dpkt.ethernet.ETH_TYPE_IP, data=ip))


def test_out_of_order_duplicated_and_overlapping_segments_are_reassembled(
        tmp_path: Path) -> None:
    data = b"".join(frame for _, frame, _ in vector_messages("sl-2"))
    isn = 0xFFFFFF00  # the sequence numbers wrap around 2**32 inside the stream
    pieces = [(0, 40), (80, 150), (40, 90), (0, 10), (150, 400), (300, len(data))]
    path = tmp_path / "ooo.pcap"
    with open(path, "wb") as fh:
        w = dpkt.pcap.Writer(fh)
        w.writepkt(_pkt(50000, 9100, isn - 1, b"", dpkt.tcp.TH_SYN), ts=1.0)
        for n, (a, b) in enumerate(pieces):
            w.writepkt(_pkt(50000, 9100, (isn + a) % 2**32, data[a:b]), ts=2.0 + n)
    assert _streams(path) == {(1, "h2t"): data}


def test_a_connection_without_its_start_is_oriented_by_the_terminal_port(
        tmp_path: Path) -> None:
    req = vector_messages("sl-2")[0][1]
    path = tmp_path / "mid.pcap"
    with open(path, "wb") as fh:
        w = dpkt.pcap.Writer(fh)
        w.writepkt(_pkt(9100, 61000, 7, b"x"), ts=1.0)
        w.writepkt(_pkt(61000, 9100, 100, req), ts=2.0)
    assert _streams(path) == {(1, "t2h"): b"x", (1, "h2t"): req}


def test_monitor_on_a_pcap_shows_every_message_of_both_dialects(tmp_path: Path) -> None:
    path = tmp_path / "v.pcap"
    with open(path, "wb") as fh:
        write_pcap(fh, [vector_session("sl-2"), vector_session("mispos-1")])
    items = list(trace_file(str(path), None, FIXTURE_KEY))
    frames = [i for i in items if i.kind == "frame"]
    assert [to_json(i.message) for i in frames] == \
           [m for _, _, m in vector_messages("sl-2") + vector_messages("mispos-1")]
    assert {i.connection for i in frames} == {1, 2}
    assert [i.event for i in items if i.kind == "event"] == ["open", "close", "close"] * 2


def test_a_truncated_pcap_reports_the_packet_after_the_ones_before(tmp_path: Path) -> None:
    path = tmp_path / "cut.pcap"
    buf = io.BytesIO()
    write_pcap(buf, [vector_session("sl-2")])
    path.write_bytes(buf.getvalue()[:-30])
    runner = CliRunner()
    result = runner.invoke(cli, ["monitor", str(path), "--json"])
    assert result.exit_code == 3, result.output
    assert str(path) in result.output
    assert "packet" in result.output
    assert result.output.count('"kind": "frame"') >= 20  # what came before is shown


def test_a_file_that_is_neither_capture_nor_pcap_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "notes.txt"
    path.write_text("hello\n")
    with pytest.raises(InputDataError, match="notes.txt"):
        list(trace_file(str(path), None, FIXTURE_KEY))
