"""The monitor's decoding core (stationlink.monitor.trace): unit tests on fixture frames."""

from __future__ import annotations

import random
from datetime import datetime, timedelta

import pytest
from monitor_helpers import FIXTURE_KEY, VECTORS, direction_of, hex_file, vector_messages

from stationlink.money import CST
from stationlink.monitor.trace import TraceItem, Tracer, masked_hex
from stationlink.protocol import Dialect, Transport, to_json

T = datetime(2024, 3, 5, 12, 0, tzinfo=CST)
FULL_PANS = ("6217000000000000018", "4111111111111111")


def frame(dialect: str, transport: str, name: str) -> bytes:
    for path in sorted((VECTORS / dialect / transport / "messages").glob(f"*-{name}.hex")):
        return hex_file(path)
    raise LookupError(name)


def run(tracer: Tracer, steps: list[tuple[str, bytes]]) -> list[TraceItem]:
    out: list[TraceItem] = []
    for i, (direction, data) in enumerate(steps):
        out += tracer.feed(direction, T + timedelta(milliseconds=i), data)
    return out + tracer.finish(T + timedelta(seconds=1))


@pytest.mark.parametrize("dialect", ["sl-2", "mispos-1"])
@pytest.mark.parametrize("transport", ["serial", "tcp"])
def test_every_vector_decodes_to_its_meaning(dialect: str, transport: str) -> None:
    steps = [(direction_of(name), data) for name, data, _ in vector_messages(dialect, transport)]
    items = run(Tracer(Dialect(dialect), Transport(transport), FIXTURE_KEY), steps)
    frames = [i for i in items if i.kind == "frame"]
    assert [to_json(i.message) for i in frames] == [m for _, _, m in
                                                    vector_messages(dialect, transport)]
    assert all(i.checksum == ("ok" if transport == "serial" else "") for i in frames)
    assert not any(i.retransmit for i in frames)


@pytest.mark.parametrize("dialect", ["sl-2", "mispos-1"])
def test_the_dialect_is_detected_without_sending_and_nothing_is_lost(dialect: str) -> None:
    noise = bytes([0x55, 0xAA, 0x13])
    payment = frame(dialect, "serial", "BillPaymentRequest")
    tracer = Tracer(None, Transport.SERIAL, FIXTURE_KEY)
    items = run(tracer, [("h2t", noise), ("h2t", payment[:7]), ("h2t", payment[7:]),
                         ("t2h", b"\x06")])
    assert tracer.dialect is Dialect(dialect)
    assert [i.kind for i in items] == ["garbage", "frame", "link"]
    assert items[0].raw == noise
    assert items[1].raw == payment
    assert items[2].link == "ACK"


def test_a_resent_frame_is_marked_as_a_retransmission() -> None:
    payment = frame("sl-2", "serial", "BillPaymentRequest")
    items = run(Tracer(Dialect.SL_2, Transport.SERIAL, FIXTURE_KEY),
                [("h2t", payment), ("t2h", b"\x15"), ("h2t", payment), ("t2h", b"\x06")])
    assert [(i.kind, i.retransmit, i.link) for i in items] == [
        ("frame", False, ""), ("link", False, "NAK"), ("frame", True, ""), ("link", False, "ACK")]


def test_the_same_bytes_in_the_other_direction_or_a_new_connection_are_not_retransmissions(
) -> None:
    req = frame("sl-2", "tcp", "EchoRequest")
    tracer = Tracer(Dialect.SL_2, Transport.TCP, FIXTURE_KEY)
    items = tracer.feed("h2t", T, req)
    items += tracer.event("h2t", T, "close")
    items += tracer.event("h2t", T, "open")
    items += tracer.feed("h2t", T, req)
    frames = [i for i in items if i.kind == "frame"]
    assert [i.retransmit for i in frames] == [False, False]
    assert [i.event for i in items if i.kind == "event"] == ["close", "open"]


def test_a_damaged_frame_and_garbage_are_reported_with_their_bytes() -> None:
    good = frame("mispos-1", "serial", "DeviceStatusRequest")
    damaged = good[:-1] + bytes([good[-1] ^ 0xFF])
    garbage = b"\x99\x98\x97"
    items = run(Tracer(Dialect.MISPOS_1, Transport.SERIAL, FIXTURE_KEY),
                [("h2t", damaged + garbage + good)])
    assert [(i.kind, i.raw) for i in items] == [("bad_check", damaged), ("garbage", garbage),
                                                ("frame", good)]
    assert items[0].checksum == "bad"


def test_any_split_of_the_input_gives_the_same_items() -> None:
    stream = b"".join(data for _, data, _ in vector_messages("mispos-1", "serial"))
    stream = b"\x01\x02" + stream + b"\x02\x00"
    whole = run(Tracer(None, Transport.SERIAL, FIXTURE_KEY), [("t2h", stream)])
    rng = random.Random(10)
    for _ in range(5):
        cuts = sorted(rng.sample(range(1, len(stream)), 40))
        parts = [stream[a:b] for a, b in zip([0, *cuts], [*cuts, len(stream)], strict=True)]
        split = run(Tracer(None, Transport.SERIAL, FIXTURE_KEY), [("t2h", p) for p in parts])
        assert [(i.kind, i.offset, i.raw) for i in split] == \
               [(i.kind, i.offset, i.raw) for i in whole]


def test_an_item_never_shows_a_full_card_number() -> None:
    items = run(Tracer(Dialect.MISPOS_1, Transport.SERIAL, FIXTURE_KEY),
                [("t2h", data) for _, data, _ in vector_messages("mispos-1", "serial")])
    carded = [i for i in items if i.kind == "frame" and b"\xdf\x40" in i.raw]
    assert len(carded) >= 2  # the vectors' withdrawal and balance inquiry carry DF40
    for item in items:
        shown = repr(item.to_json()) + item.hex(" ")
        for pan in FULL_PANS:
            assert pan not in shown.replace(" ", "")
            assert pan not in item.hex()


def test_masked_hex_keeps_six_leading_and_at_most_four_trailing_digits() -> None:
    raw = bytes.fromhex("00df400a6217000000000000018f11")
    assert masked_hex(raw, " ") == "00 df 40 0a 62 17 00 ** ** ** ** ** 01 8f 11"
    cut = bytes.fromhex("df400a621700000000")  # the value is cut short: hide the rest
    assert masked_hex(cut) == "df400a621700" + "**" * 3


def test_a_host_probe_in_the_other_dialect_does_not_decide_the_dialect() -> None:
    # the PC probes sl-2 first (a valid sl-2 frame), then mispos-1; the terminal answers
    sl2_probe = frame("sl-2", "serial", "IdentifyRequest")
    probe = frame("mispos-1", "serial", "IdentifyRequest")
    answer = frame("mispos-1", "serial", "IdentifyResponse")
    tracer = Tracer(None, Transport.SERIAL, FIXTURE_KEY)
    items = run(tracer, [("h2t", sl2_probe), ("h2t", probe), ("t2h", b"\x06" + answer)])
    assert tracer.dialect is Dialect.MISPOS_1
    assert [i.kind for i in items if i.direction == "h2t"][-1] == "frame"
    assert [i.raw for i in items if i.kind == "frame"] == [probe, answer]


def test_detection_starts_afresh_on_each_tcp_connection() -> None:
    # a mispos-1 terminal closes the connection on the PC's sl-2 probe; the PC reconnects and
    # probes mispos-1; the terminal's answer is not captured (only the PC's side was)
    sl2_probe = frame("sl-2", "tcp", "IdentifyRequest")
    probe = frame("mispos-1", "tcp", "IdentifyRequest")
    tracer = Tracer(None, Transport.TCP, FIXTURE_KEY)
    items = tracer.event("h2t", T, "open")
    # cut short by the terminal's close, after a BCD time byte 0x31: read on as mispos-1, the
    # "1" and the next connection's "002" would make a length of 1002 and swallow the probe
    items += tracer.feed("h2t", T, sl2_probe[:4] + b"\x31")
    items += tracer.event("t2h", T, "close")
    items += tracer.event("h2t", T, "open")
    items += tracer.feed("h2t", T, probe)
    items += tracer.finish(T)
    assert tracer.dialect is Dialect.MISPOS_1
    assert [i.raw for i in items if i.kind == "frame"] == [probe]
    kinds = [i.kind for i in items]
    assert kinds[0] == "event"
    assert kinds[-3:] == ["event", "event", "frame"]
    assert set(kinds[1:-3]) == {"garbage"}
    assert sum(len(i.raw) for i in items if i.kind == "garbage") == 5


def test_idle_gives_up_a_false_start_on_serial_but_never_on_tcp() -> None:
    good = frame("sl-2", "serial", "EchoRequest")
    serial = Tracer(Dialect.SL_2, Transport.SERIAL, FIXTURE_KEY)
    assert serial.feed("h2t", T, b"\x02\x00\x40" + good) == []  # a false STX holds it back
    after_idle = serial.idle(T)
    assert [i.kind for i in after_idle][-1] == "frame"
    assert b"".join(i.raw for i in after_idle[:-1]) == b"\x02\x00\x40"
    tcp_frame = frame("sl-2", "tcp", "EchoRequest")
    tcp = Tracer(Dialect.SL_2, Transport.TCP, FIXTURE_KEY)
    assert tcp.feed("h2t", T, tcp_frame[:-1]) == []
    assert tcp.idle(T) == []  # a slow TCP frame is not given up
    assert [i.kind for i in tcp.feed("h2t", T, tcp_frame[-1:])] == ["frame"]
