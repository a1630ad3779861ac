"""docs/protocol.md: every worked hex example decodes to the JSON printed under it."""

from __future__ import annotations

import json
import re
from pathlib import Path

from stationlink.protocol import messages as m
from stationlink.protocol._codec import Codec
from stationlink.protocol._framing import Deframer, FrameEvent, Transport
from stationlink.protocol._jsonform import to_json

DOC = Path(__file__).resolve().parents[2] / "docs" / "protocol.md"
BLOCK = re.compile(
    r"```hex (?P<dialect>\S+) (?P<transport>\S+) (?P<name>\w+)\n(?P<hex>.*?)```\s*"
    r"```json\n(?P<json>.*?)```",
    re.S,
)


def examples() -> list[re.Match[str]]:
    return list(BLOCK.finditer(DOC.read_text(encoding="utf-8")))


def test_doc_has_an_example_of_every_message() -> None:
    names = {mt.group("name") for mt in examples()}
    assert names == {c.__name__ for c in {**m.REQUEST_TYPES, **m.RESPONSE_TYPES}.values()}
    dialects = {(mt.group("dialect"), mt.group("transport")) for mt in examples()}
    assert dialects == {(d.value, t.value) for d in m.Dialect for t in Transport}


def test_doc_examples_decode_to_what_the_doc_says() -> None:
    for mt in examples():
        dialect, transport = m.Dialect(mt.group("dialect")), Transport(mt.group("transport"))
        raw = bytes.fromhex(re.sub(r"#[^\n]*", "", mt.group("hex")))
        deframer = Deframer(dialect, transport)
        events = deframer.feed(raw) + deframer.close()
        assert len(events) == 1, mt.group("name")
        assert isinstance(events[0], FrameEvent), mt.group("name")
        msg = Codec(dialect, bytes(32)).decode(events[0].body)
        assert type(msg).__name__ == mt.group("name")
        assert to_json(msg) == json.loads(mt.group("json")), mt.group("name")


def test_doc_catalogue_lists_every_message() -> None:
    text = DOC.read_text(encoding="utf-8")
    for code, cls in {**m.REQUEST_TYPES, **m.RESPONSE_TYPES}.items():
        assert f"#### {cls.__name__} (type {int(code):02X}, {code.name})" in text
