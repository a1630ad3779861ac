"""The Wireshark dissector (src/stationlink/wireshark/stationlink.lua) run by tshark shows every
field the Python decoder shows, with the same value, for every frame.

The pcaps are written with the monitor's pcap writer (Ethernet/IPv4/TCP, handshake, correct
sequence numbers): every message vector of both dialects (all message types, incl. payments,
journal pages, device status, an ErrorReply with an unknown tag), and recorded TCP sessions
of emulated terminals from firmware_fixtures/sessions (bill and card days of both dialects,
cards in full on mispos-1: the dissector must mask and tokenise them with the key preference).
The Python side decodes the same TCP streams with stationlink.protocol's public face.
Skips with one line when tshark is not installed.
"""

from __future__ import annotations

import shutil
import subprocess
import xml.etree.ElementTree as ET  # noqa: S405 - parses tshark's output of our own pcap
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from monitor_helpers import (
    FIXTURE_KEY,
    SESSIONS,
    capture_sessions,
    vector_messages,
    vector_session,
)

from stationlink.cli.monitor import dissector_path
from stationlink.monitor.pcap import Segment, write_pcap
from stationlink.protocol import CLASS_OF, Codec, Deframer, Dialect, FrameEvent, Transport, to_json

TSHARK = shutil.which("tshark")
pytestmark = pytest.mark.skipif(TSHARK is None, reason="tshark is not installed")

# fields of the dissector that the decoder's JSON has no counterpart of
DISSECTOR_ONLY = {"stationlink.framing", "stationlink.length", "stationlink.header.type_code"}
BYTES_FIELDS = {"stationlink.payload", "stationlink.extra.value"}


def _value(v: Any) -> str:
    if isinstance(v, bool):
        return "1" if v else "0"
    return str(v)


def _record(prefix: str, rec: dict[str, Any]) -> list[tuple[str, str]]:
    out: list[tuple[str, str]] = []
    for key, value in rec.items():
        if key == "card":
            if value is not None:
                out += [(f"stationlink.{prefix}card.masked", value["masked"]),
                        (f"stationlink.{prefix}card.token", value["token"])]
        else:
            out.append((f"stationlink.{prefix}{key}", _value(value)))
    return out


def expected_fields(msg: dict[str, Any]) -> list[tuple[str, str]]:
    """The decoder's JSON form of a message, flattened to (dissector field, shown value)."""
    out = [("stationlink.message", msg["message"])]
    out += [(f"stationlink.header.{k}", _value(v)) for k, v in msg["header"].items()]
    for key, value in msg.items():
        if key in ("message", "header", "extra"):
            continue
        if key == "record":
            if value is not None:
                out += _record("record.", value)
        elif key == "records":
            for rec in value:
                out += _record("record.", rec)
        elif key == "lines":
            for line in value:
                out += _record("line.", line)
        elif key == "error_counters":
            for name, count in value:
                out += [("stationlink.counter.name", name), ("stationlink.counter.count",
                                                             str(count))]
        elif key == "capabilities":
            out.append(("stationlink.capabilities", ",".join(value)))
        else:
            out.append((f"stationlink.{key}", _value(value)))
    for extra in msg["extra"]:
        out += [("stationlink.extra.tag", extra["tag"]), ("stationlink.extra.value",
                                                          extra["value"])]
    return out


def python_view(sessions: list[list[Segment]]) -> list[list[tuple[str, str]]]:
    """Every frame of the sessions, in the order its last byte arrives, as the decoder shows
    it. Each direction's dialect is told by its first byte (docs/protocol.md §2.5)."""
    frames = []
    for session in sessions:
        deframers: dict[str, Deframer] = {}
        codecs: dict[str, Codec] = {}
        for seg in session:
            if seg.direction not in deframers:
                dialect = Dialect.MISPOS_1 if 0x30 <= seg.data[0] <= 0x39 else Dialect.SL_2
                deframers[seg.direction] = Deframer(dialect, Transport.TCP)
                codecs[seg.direction] = Codec(dialect, FIXTURE_KEY)
            for ev in deframers[seg.direction].feed(seg.data):
                assert isinstance(ev, FrameEvent), ev  # the fixtures hold whole frames only
                message = to_json(codecs[seg.direction].decode(ev.body))
                frames.append(expected_fields(message))
    return frames


def tshark_view(pcap: Path, *options: str) -> list[list[tuple[str, str]]]:
    """Every stationlink PDU tshark dissects in the pcap, as (field, shown value) lists."""
    assert TSHARK is not None
    proc = subprocess.run(  # noqa: S603 - fixed argument list
        [TSHARK, "-n", "-r", str(pcap), "-X", f"lua_script:{dissector_path()}",
         "-o", f"stationlink.card_key:{FIXTURE_KEY.hex()}", *options, "-T", "pdml"],
        capture_output=True, check=False, timeout=120,
    )
    assert proc.returncode == 0, proc.stderr.decode(errors="replace")
    assert b"Lua: Error" not in proc.stderr, proc.stderr.decode(errors="replace")
    root = ET.fromstring(proc.stdout)  # noqa: S314 - tshark's own output
    frames = []
    for packet in root.iter("packet"):
        for pdu in packet.findall("proto[@name='stationlink']"):
            fields = []
            for el in pdu.iter("field"):
                name = el.get("name", "")
                if name.startswith("stationlink.") and name not in DISSECTOR_ONLY:
                    show = el.get("show", "")
                    if name in BYTES_FIELDS:
                        show = show.replace(":", "")
                    fields.append((name, show))
            frames.append(fields)
    return frames


def _check(tmp_path: Path, sessions: list[list[Segment]], port: int = 9100,
           *options: str) -> int:
    pcap = tmp_path / "link.pcap"
    with open(pcap, "wb") as fh:
        write_pcap(fh, sessions, terminal_port=port)
    expected = python_view(sessions)
    shown = tshark_view(pcap, *options)
    assert shown, "tshark dissected nothing: was the Lua dissector loaded (see docs/monitor.md)?"
    assert len(shown) == len(expected)
    for i, (want, got) in enumerate(zip(expected, shown, strict=True)):
        assert got == want, f"frame {i}: {want[:3]}"
    return len(expected)


@pytest.mark.slow
def test_every_message_vector_of_both_dialects(tmp_path: Path) -> None:
    n = _check(tmp_path, [vector_session("sl-2"), vector_session("mispos-1")])
    for dialect in ("sl-2", "mispos-1"):  # the vectors hold every message type
        names = {name for name, _, _ in vector_messages(dialect)}
        assert names == {cls.__name__ for cls in CLASS_OF.values()}
    assert n == len(vector_messages("sl-2")) + len(vector_messages("mispos-1"))


@pytest.mark.slow
@pytest.mark.parametrize("name", ["day-sl-2-card-tcp", "day-mispos-1-card-tcp",
                                  "day-sl-2-bill-tcp", "day-mispos-1-bill-tcp"])
def test_recorded_tcp_sessions(tmp_path: Path, name: str) -> None:
    sessions = capture_sessions(SESSIONS / f"{name}.jsonl")
    assert _check(tmp_path, sessions) > 10


@pytest.mark.slow
@pytest.mark.parametrize(("port", "options"), [
    (7001, ()),  # not the preference's port: found by the heuristic
    (7002, ("-o", "stationlink.tcp_port:7002", "--disable-heuristic", "stationlink_tcp")),
])
def test_heuristic_and_port_preference(tmp_path: Path, port: int,
                                       options: tuple[str, ...]) -> None:
    assert _check(tmp_path, [vector_session("sl-2")], port, *options) > 0


@pytest.mark.slow
def test_a_mispos_card_is_masked_and_never_shown_in_full(tmp_path: Path) -> None:
    sessions = [vector_session("mispos-1")]
    pcap = tmp_path / "cards.pcap"
    with open(pcap, "wb") as fh:
        write_pcap(fh, sessions)
    assert TSHARK is not None
    out = subprocess.run(  # noqa: S603 - fixed argument list
        [TSHARK, "-n", "-r", str(pcap), "-X", f"lua_script:{dissector_path()}", "-V"],
        capture_output=True, check=True, timeout=120,
    ).stdout.decode()
    assert "621700*********0018" in out
    assert "6217000000000000018" not in out
    assert "4111111111111111" not in out


def test_the_gb18030_tables_are_up_to_date() -> None:
    from stationlink.wireshark import make_tables

    current = make_tables.LUA.read_text(encoding="utf-8")
    assert make_tables.render(current) == current, "run python -m stationlink.wireshark.make_tables"


@pytest.mark.slow
@pytest.mark.parametrize("dialect", ["sl-2", "mispos-1"])
def test_a_live_tcp_session_recorded_through_the_tap(
        tmp_path: Path, stationlink_terminal: Callable[..., Any], dialect: str) -> None:
    """An emulated card terminal, the real client through the monitor's tap: payments,
    a journal page and the device status, written as a pcap from what the tap saw."""
    import threading

    import stationlink
    from stationlink.monitor.tap import Tap

    term = stationlink_terminal(kind="card", dialect=dialect, transport="tcp", seed=11,
                                card_key=FIXTURE_KEY)
    term.wait_ready()
    sessions: list[list[Segment]] = []
    clock = iter(range(10_000))

    def on_event(direction: str, name: str, _t: float) -> None:
        if name == "open":
            sessions.append([])

    def on_bytes(direction: str, data: bytes, _t: float) -> None:
        sessions[-1].append(Segment(1_710_518_400.0 + next(clock), direction, data))

    tap = Tap("tcp://127.0.0.1:0", term.url, on_bytes, on_event)
    stop = threading.Event()
    thread = threading.Thread(target=tap.run, args=(stop,))
    thread.start()
    try:
        with stationlink.connect(tap.host_url, card_key=FIXTURE_KEY, t1=0.5) as client:
            client.withdraw(amount_fen=50000)
            client.balance()
            client.journal()
            client.device_status()
            client.settlement_totals()
    finally:
        stop.set()
        thread.join(10)
        tap.close()
    sessions = [s for s in sessions if s]
    n = _check(tmp_path, sessions)
    assert n >= 12  # identify, 5 requests and their answers
