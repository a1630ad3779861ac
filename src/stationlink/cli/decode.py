"""``stationlink decode``: a raw byte stream (or hex dump) to one JSON object per line.

Contract:
- Reads FILE (or ``-``, stdin) as binary, or with ``--hex`` as hex text (whitespace anywhere,
  ``#`` starts a comment to the end of the line), feeds the streaming deframer of the chosen
  dialect and transport, and prints, in stream order, one JSON object per line:

  ``{"type": "frame", "offset", "length", "message": {...}}``  a frame whose body decodes;
  ``{"type": "frame", "offset", "length", "error": "...", "error_kind": "decode" |
  "unsupported", "header": {...} | null}``  a valid frame whose body does not decode;
  ``{"type": "link", "offset", "code": "ACK" | "NAK" | "EOT"}``  a link byte (serial only);
  ``{"type": "error", "offset", "length", "reason", "checksum_failed"}``  a skipped stretch.

- At end of input, candidates held back by a false start are given up and what follows is
  decoded (``Deframer.expire``), then leftovers are reported. Exit status 0 whenever the
  input was read to its end, whatever it held. Bad hex text: the objects for the bytes before
  the bad spot are printed, then an error naming line and column (exit status 3).
- Card tokens use the hex key in the environment variable named by ``--card-key-env``
  (default ``STATIONLINK_CARD_KEY``); without one a random per-run key is used and stderr says
  so (tokens are then not comparable between runs). A full card number is never printed.
"""

from __future__ import annotations

import secrets
from collections.abc import Iterator
from typing import IO, Any

import click

from ..errors import InputDataError, Problem, ProtocolError
from ..protocol import (
    Codec,
    Deframer,
    Dialect,
    FrameEvent,
    LinkByte,
    MsgType,
    Rejected,
    StretchJoiner,
    Transport,
    UnknownMessageTypeError,
    peek_header,
    to_json,
)
from .common import echo_json, env_card_key, handles_errors, stderr

_LINK_NAMES = {0x06: "ACK", 0x15: "NAK", 0x04: "EOT"}
_HEX = frozenset("0123456789abcdefABCDEF")


def event_json(ev: FrameEvent | LinkByte | Rejected, codec: Codec) -> dict[str, Any]:
    """The JSON object of one deframer event (decoding the body of a frame)."""
    if isinstance(ev, LinkByte):
        return {"type": "link", "offset": ev.offset, "code": _LINK_NAMES[ev.code]}
    if not isinstance(ev, FrameEvent):
        return {"type": "error", "offset": ev.offset, "length": ev.length, "reason": ev.reason,
                "checksum_failed": ev.checksum_failed}
    out: dict[str, Any] = {"type": "frame", "offset": ev.offset, "length": len(ev.raw)}
    try:
        out["message"] = to_json(codec.decode(ev.body))
    except UnknownMessageTypeError as exc:
        out.update(error=str(exc), error_kind="unsupported", header=_header(ev.body))
    except ProtocolError as exc:
        out.update(error=str(exc), error_kind="decode", header=_header(ev.body))
    return out


def _header(body: bytes) -> dict[str, Any] | None:
    try:
        code, seq, tid = peek_header(body)
    except ProtocolError:
        return None
    name: str | int = MsgType(code).name if code in MsgType._value2member_map_ else code
    return {"msg_type": name, "seq": seq, "terminal_id": tid}


def hex_chunks(stream: IO[bytes], name: str) -> Iterator[bytes]:
    """Bytes of hex text, line by line; InputDataError at the first bad character."""
    carry = ""  # an odd digit left over from the previous line
    where = (0, 0)  # line and column of that digit
    for lineno, raw_line in enumerate(stream, start=1):
        line = raw_line.decode("ascii", errors="replace").split("#", 1)[0]
        digits = [carry]
        for col, ch in enumerate(line, start=1):
            if ch in _HEX:
                digits.append(ch)
                where = (lineno, col)
            elif not ch.isspace():
                text = "".join(digits)
                yield bytes.fromhex(text[: len(text) // 2 * 2])
                shown = ch if ch.isprintable() else repr(ch)
                problem = Problem(name, lineno, str(col), f"{shown} is not a hex digit")
                raise InputDataError([problem], f"bad hex text: {problem}")
        text = "".join(digits)
        even = len(text) // 2 * 2
        carry = text[even:]
        yield bytes.fromhex(text[:even])
    if carry:
        problem = Problem(name, where[0], str(where[1]), "odd number of hex digits")
        raise InputDataError([problem], f"bad hex text: {problem}")


@click.command("decode")
@click.option("--dialect", required=True, type=click.Choice([d.value for d in Dialect]))
@click.option("--transport", default="serial", show_default=True,
              type=click.Choice([t.value for t in Transport]))
@click.option("--hex", "hex_mode", is_flag=True, help="Input is hex text, not raw bytes.")
@click.option("--card-key-env", default="STATIONLINK_CARD_KEY", show_default=True,
              metavar="VAR", help="Environment variable holding the card-token key (hex).")
@click.argument("source", default="-", type=click.File("rb"))
@handles_errors
def decode(dialect: str, transport: str, hex_mode: bool, card_key_env: str,
           source: IO[bytes]) -> None:
    """Decode a raw byte stream of a terminal link into JSON lines."""
    key = env_card_key(card_key_env)
    if key is None:
        key = secrets.token_bytes(32)
        stderr(f"no card key in ${card_key_env}: using a random per-run key, "
               "card tokens are not stable between runs")
    codec = Codec(Dialect(dialect), key)
    deframer = Deframer(Dialect(dialect), Transport(transport))
    name = getattr(source, "name", "-")
    chunks = hex_chunks(source, name) if hex_mode else iter(lambda: source.read(65536), b"")
    joiner = StretchJoiner()  # one line per skipped stretch, however the input was read
    try:
        for chunk in chunks:
            for ev in joiner.push(deframer.feed(chunk)):
                echo_json(event_json(ev, codec))
    finally:  # on bad hex text too: report what was read before the bad spot
        for ev in [*joiner.push([*deframer.expire(), *deframer.close()]), *joiner.end()]:
            echo_json(event_json(ev, codec))
