"""Fault specs (parser, canonical form), byte-level injection, event schedule and pacing."""

from __future__ import annotations

import random
from datetime import datetime, time, timedelta

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from stationlink.errors import ConfigError
from stationlink.money import CST
from stationlink.protocol import (
    ACK,
    Deframer,
    Dialect,
    FrameEvent,
    LinkByte,
    Transport,
    build_frame,
)
from stationlink_sim.faults import (
    DURATIONS,
    EVENTS,
    PROBABILITIES,
    Event,
    FaultSpec,
    parse_faults,
)
from stationlink_sim.inject import ByteFaults, EventSchedule
from stationlink_sim.pacing import Pacer

EXAMPLE = (
    "noise=0.01,drop_response=0.02,dup_byte=0.001,drop_byte=0.001,split=0.3,slow_ack=0.05,"
    "no_ack=0.01,disconnect@14:05,power_cycle@14:05,drift=50ppm,clock_reset@10:00,"
    "paper_out@09:30,power_cycle#20"
)


def test_the_documented_example_parses() -> None:
    spec = parse_faults(EXAMPLE)
    assert spec.p("noise") == 0.01
    assert spec.p("drop_response") == 0.02
    assert spec.drift_ppm == 50.0
    assert Event("power_cycle", nth=20) in spec.events
    assert Event("clock_reset", at=time(10, 0)) in spec.events
    assert spec.duration("outage") == DURATIONS["outage"]
    assert parse_faults("split=30%, outage=500ms").p("split") == 0.3
    assert parse_faults("outage=500ms").duration("outage") == 0.5
    assert parse_faults("").empty
    assert parse_faults("  ").empty


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("noise", r"item 1 'noise' \(character 1\): expected NAME=VALUE"),
        ("split=0.1,noise=2", r"item 2 'noise=2' \(character 11\): a probability lies"),
        ("split=0.1,split=0.2", r"item 2 .*split given twice"),
        ("nosie=0.1", r"unknown fault 'nosie'"),
        ("power_cycle@24:00", r"HH:MM between 00:00 and 23:59"),
        ("power_cycle#0", r"whole number >= 1"),
        ("reboot@10:00", r"unknown event 'reboot'"),
        ("power_cycle=1", r"power_cycle is an event"),
        ("drift=fast", r"'fast' is not a number"),
        ("outage=3", r"a duration looks like"),
        ("noise=0.1,,split=0.1", r"item 2 '' .*empty item"),
        ("noise=nan", r"not a finite number"),
    ],
)
def test_bad_specs_name_the_item(text: str, message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        parse_faults(text)


@settings(max_examples=300, deadline=None)
@given(st.text(alphabet=st.sampled_from(list("noise_drp@#:=,.%0123456789msh -ayc")), max_size=40))
def test_parser_never_crashes(text: str) -> None:
    try:
        spec = parse_faults(text)
    except ConfigError:
        return
    assert parse_faults(spec.format()) == spec


@settings(max_examples=300, deadline=None)
@given(st.text(max_size=30))
def test_parser_never_crashes_on_any_text(text: str) -> None:
    try:
        parse_faults(text)
    except ConfigError:
        pass


_prob = st.floats(min_value=0.0, max_value=1.0, allow_nan=False)
_events = st.one_of(
    st.builds(lambda n, h, m: Event(n, at=time(h, m)), st.sampled_from(EVENTS),
              st.integers(0, 23), st.integers(0, 59)),
    st.builds(lambda n, k: Event(n, nth=k), st.sampled_from(EVENTS), st.integers(1, 10**6)),
)


@st.composite
def specs(draw: st.DrawFn) -> FaultSpec:
    probs = draw(st.dictionaries(st.sampled_from(PROBABILITIES), _prob))
    durs = draw(st.dictionaries(st.sampled_from(tuple(DURATIONS)),
                                st.floats(0, 1e5, allow_nan=False)))
    return FaultSpec(
        probabilities=tuple((n, probs[n]) for n in PROBABILITIES if n in probs),
        drift_ppm=draw(st.floats(-1e5, 1e5, allow_nan=False)),
        clock_offset_s=draw(st.floats(-1e7, 1e7, allow_nan=False)),
        durations=tuple((n, durs[n]) for n in DURATIONS if n in durs),
        events=tuple(draw(st.lists(_events, max_size=5))),
    )


@settings(max_examples=200, deadline=None)
@given(specs())
def test_format_parse_round_trip(spec: FaultSpec) -> None:
    assert parse_faults(spec.format()) == spec


# ------------------------------------------------------------------ byte faults

FRAME = build_frame(bytes(range(11)) + b"payload-payload", Dialect.SL_2, Transport.SERIAL)


def _faults(text: str, seed: int = 1, transport: Transport = Transport.SERIAL) -> ByteFaults:
    return ByteFaults(parse_faults(text), random.Random(seed), Dialect.SL_2, transport)


def test_no_faults_pass_bytes_through() -> None:
    chunks = _faults("").outbound(bytes([ACK]) + FRAME)
    assert b"".join(c.data for c in chunks) == bytes([ACK]) + FRAME


def test_split_cuts_a_frame_into_delayed_pieces() -> None:
    bf = _faults("split=1,split_gap=20ms")
    chunks = bf.outbound(FRAME)
    assert 2 <= len(chunks) <= 4
    assert b"".join(c.data for c in chunks) == FRAME
    assert [c.delay for c in chunks] == [0.0] + [0.02] * (len(chunks) - 1)


def test_no_ack_and_slow_ack_act_on_ack_bytes_only() -> None:
    dropped = _faults("no_ack=1").outbound(bytes([ACK]) + FRAME)
    assert b"".join(c.data for c in dropped) == FRAME
    slow = _faults("slow_ack=1,ack_delay=0.4s").outbound(FRAME + bytes([ACK]))
    assert [(c.data, c.delay) for c in slow] == [(FRAME, 0.0), (bytes([ACK]), 0.4)]


def test_noise_lands_inside_or_before_frames_and_the_frame_survives_intact() -> None:
    bf = _faults("noise=1", seed=7)
    out = b"".join(b"".join(c.data for c in bf.outbound(FRAME)) for _ in range(20))
    assert len(out) > 20 * len(FRAME)
    assert bf.injected["noise"] == 20
    deframer = Deframer(Dialect.SL_2, Transport.SERIAL)
    events = deframer.feed(out) + deframer.expire()
    good = [e for e in events if isinstance(e, FrameEvent)]
    assert 0 < len(good) < 20  # noise inside a frame spoils it, noise before it does not


def test_drop_and_dup_bytes_are_seeded() -> None:
    a = b"".join(c.data for c in _faults("drop_byte=0.1,dup_byte=0.1", 3).outbound(FRAME * 5))
    b = b"".join(c.data for c in _faults("drop_byte=0.1,dup_byte=0.1", 3).outbound(FRAME * 5))
    c = b"".join(c.data for c in _faults("drop_byte=0.1,dup_byte=0.1", 4).outbound(FRAME * 5))
    assert a == b
    assert a != c
    assert a != FRAME * 5


def test_inbound_faults() -> None:
    bf = _faults("in_drop_byte=1")
    assert bf.inbound(FRAME) == b""
    assert len(_faults("in_dup_byte=1").inbound(FRAME)) == 2 * len(FRAME)
    assert _faults("in_noise=1").inbound(b"") != b""


def test_outbound_cutting_follows_the_stream_across_calls() -> None:
    bf = _faults("no_ack=1")
    out = bf.outbound(FRAME[:10]) + bf.outbound(FRAME[10:] + bytes([ACK]))
    assert b"".join(c.data for c in out) == FRAME
    assert all(isinstance(e, FrameEvent | LinkByte) for e in
               Deframer(Dialect.SL_2, Transport.SERIAL).feed(FRAME))


# --------------------------------------------------------------- event schedule


def test_time_of_day_events_fire_when_the_clock_passes() -> None:
    sched = EventSchedule(parse_faults("paper_out@14:05,power_cycle#3").events)
    t = datetime(2026, 5, 1, 14, 0, tzinfo=CST)
    assert sched.by_clock(t) == []  # first call only sets the baseline
    assert sched.by_clock(t + timedelta(minutes=4)) == []
    assert sched.by_clock(t + timedelta(minutes=6)) == ["paper_out"]
    assert sched.by_clock(t + timedelta(minutes=7)) == []
    assert sched.by_clock(t + timedelta(days=1, minutes=6)) == ["paper_out"]
    assert sched.by_clock(t) == []  # the clock went back: nothing fires
    assert sched.before_request(2) == []
    assert sched.before_request(3) == ["power_cycle"]


# ---------------------------------------------------------------------- pacing


def test_pacer_holds_the_average_rate() -> None:
    pacer = Pacer(9600)  # 960 bytes a second
    now, sent = 0.0, 0
    while sent < 960:
        n = pacer.allowance(now)
        if n:
            n = min(n, 960 - sent)
            pacer.sent(n, now)
            sent += n
        now = pacer.next_ready(now)
    assert 0.99 <= now <= 1.0 + 1e-9  # the last byte leaves after about one second
    assert Pacer(None).allowance(0.0) > 10**5
    assert Pacer(0).next_ready(5.0) == 5.0
