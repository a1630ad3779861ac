"""Fixture vectors both ways: decode(bytes) == meaning, encode(meaning) == bytes."""

from __future__ import annotations

import importlib.util
import json
import re
from pathlib import Path
from typing import Any

import pytest

from stationlink.protocol import messages as m
from stationlink.protocol._codec import Codec
from stationlink.protocol._framing import (
    Deframer,
    Event,
    FrameEvent,
    Rejected,
    StretchJoiner,
    Transport,
    build_frame,
)
from stationlink.protocol._jsonform import from_json, to_json

ROOT = Path(__file__).resolve().parents[2]
VECTORS = ROOT / "firmware_fixtures" / "vectors"
FIXTURE_KEY = bytes(32)
TEST_PANS = ("6217000000000000018", "4111111111111111")
PANS = {m.card_token(p, FIXTURE_KEY): p for p in TEST_PANS}
COMBOS = [(d, t) for d in m.Dialect for t in Transport]


def unhex(text: str) -> bytes:
    return bytes.fromhex(re.sub(r"#[^\n]*", "", text))


def vector_pairs() -> list[tuple[m.Dialect, Transport, Path]]:
    return [
        (d, t, p)
        for d, t in COMBOS
        for p in sorted((VECTORS / d.value / t.value / "messages").glob("*.hex"))
    ]


def test_every_message_type_has_a_vector_per_framing() -> None:
    pairs = vector_pairs()
    names = {c.__name__ for c in {**m.REQUEST_TYPES, **m.RESPONSE_TYPES}.values()}
    for d, t in COMBOS:
        got = {p.stem.split("-", 1)[1] for dd, tt, p in pairs if (dd, tt) == (d, t)}
        assert got == names


@pytest.mark.parametrize(
    ("dialect", "transport", "path"), vector_pairs(), ids=lambda v: getattr(v, "stem", str(v))
)
def test_vector_both_directions(dialect: m.Dialect, transport: Transport, path: Path) -> None:
    raw = unhex(path.read_text(encoding="utf-8"))
    meaning: dict[str, Any] = json.loads(path.with_suffix(".json").read_text(encoding="utf-8"))
    deframer = Deframer(dialect, transport)
    events = deframer.feed(raw) + deframer.close()
    assert len(events) == 1
    assert isinstance(events[0], FrameEvent)
    assert events[0].raw == raw
    codec = Codec(dialect, FIXTURE_KEY)
    msg = codec.decode(events[0].body)
    assert to_json(msg) == meaning
    terminal_msg = from_json(meaning, pans=PANS)  # the terminal role holds the full numbers
    assert build_frame(codec.encode(terminal_msg), dialect, transport) == raw
    if dialect is m.Dialect.SL_2:  # the host re-encodes what it decoded, byte for byte
        assert build_frame(codec.encode(from_json(meaning)), dialect, transport) == raw
    for pan in TEST_PANS:
        assert pan not in json.dumps(meaning)


def test_mispos_card_vector_carries_test_pan_on_the_wire() -> None:
    path = VECTORS / "mispos-1" / "serial" / "messages" / "10-WithdrawalResponse.hex"
    assert bytes.fromhex("6217000000000000018f") in unhex(path.read_text(encoding="utf-8"))
    sl2 = VECTORS / "sl-2" / "serial" / "messages" / "10-WithdrawalResponse.hex"
    assert b"621700*********0018" in unhex(sl2.read_text(encoding="utf-8"))


@pytest.mark.parametrize(("dialect", "transport"), COMBOS)
def test_noisy_stream_same_events_at_every_split(dialect: m.Dialect, transport: Transport) -> None:
    stream = unhex((VECTORS / dialect.value / transport.value / "streams" / "noisy.hex")
                   .read_text(encoding="utf-8"))

    def events(chunks: list[bytes]) -> list[object]:
        """Serial: the events as reported. TCP reports a skipped stretch at the end of
        every feed, so the split may cut one: joined again, they must be the same."""
        d = Deframer(dialect, transport)
        out: list[Event] = []
        for c in chunks:
            out += d.feed(c)
        out += [*d.expire(), *d.close()]
        if transport is Transport.SERIAL:
            return list(out)
        assert not any(isinstance(e, Rejected) and e.checksum_failed for e in out)
        joiner = StretchJoiner()
        return [*joiner.push(out), *joiner.end()]

    whole = events([stream])
    assert sum(isinstance(e, FrameEvent) for e in whole) == 6
    for k in range(len(stream) + 1):
        assert events([stream[:k], stream[k:]]) == whole


def test_generator_reproduces_the_files() -> None:
    spec = importlib.util.spec_from_file_location(
        "make_vectors", ROOT / "firmware_fixtures" / "make_vectors.py"
    )
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    generated = module.generate()
    assert len(generated) >= 4 * (25 * 2 + 2)
    for path, content in generated.items():
        assert path.read_text(encoding="utf-8") == content, path
