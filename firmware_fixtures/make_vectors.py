"""Generate the protocol test vectors in firmware_fixtures/vectors/ (and the doc examples).

Usage (from the repository root)::

    python firmware_fixtures/make_vectors.py            # rewrite vectors/ and the examples
                                                        # section of docs/protocol.md
    python firmware_fixtures/make_vectors.py --check    # exit 1 if anything would change

Everything is derived from ``random.Random(SEED)`` and the constants below; a rerun gives
identical files. For each dialect x transport, ``messages/NN-<Class>.hex`` holds one frame
carrying one message (hex, annotated with ``#`` comments, readable by ``stationlink decode
--hex``) and ``NN-<Class>.json`` its meaning in the JSON form (cards as masked + token under
FIXTURE_KEY). ``streams/noisy.hex`` mixes frames with noise; ``streams/noisy.expected.jsonl``
is the expected ``stationlink decode --hex`` output with STATIONLINK_CARD_KEY=FIXTURE_KEY,
written from what was put into the stream (not by running the decoder).
"""

from __future__ import annotations

import argparse
import json
import random
import sys
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

from stationlink.money import CST
from stationlink.protocol import (
    ACK,
    EOT,
    HEADER_SIZE,
    NAK,
    TYPE_OF,
    Codec,
    Transport,
    build_frame,
    parse_tlvs,
    to_json,
)
from stationlink.protocol import messages as m
from stationlink.protocol._layouts import LAYOUTS

SEED = 20240305
FIXTURE_KEY = bytes(32)  # STATIONLINK_CARD_KEY = "00" * 32
TEST_PANS = ("6217000000000000018", "4111111111111111")  # test card numbers, not real cards
ROOT = Path(__file__).resolve().parent
DOC = ROOT.parent / "docs" / "protocol.md"
BEGIN, END = "<!-- BEGIN EXAMPLES (make_vectors.py) -->", "<!-- END EXAMPLES -->"
CAT_BEGIN, CAT_END = "<!-- BEGIN CATALOGUE (make_vectors.py) -->", "<!-- END CATALOGUE -->"

MEANING = {
    "host_time": "the host's clock (the terminal may set its clock from it)",
    "terminal_time": "the terminal's own clock at the event / answer",
    "since": "terminal time of the last settlement",
    "vendor": "terminal manufacturer", "model": "terminal model",
    "serial_number": "terminal serial number", "firmware": "firmware version",
    "dialect": "the dialect this terminal speaks (`mispos-1` or `sl-2`)",
    "capabilities": "what the terminal handles: `bill`, `card`, `journal`, `settlement`",
    "payload": "echoed back unchanged (absent when empty)",
    "product": "bill product (`mobile`, `electricity`, ...); empty for card transactions",
    "account": "phone number / utility account; empty for card transactions",
    "customer_name": "account holder's name as the biller knows it",
    "client_ref": "the host's own reference of a request, stored in the journal",
    "ref": "the terminal's transaction reference (12 characters, unique per terminal)",
    "original_ref": "the reversed transaction's ref (in a record: absent when empty)",
    "result": "outcome: 0 approved, 1 declined, 2 insufficient funds, 3 card error, "
              "4 host unreachable (nothing happened), 5 account not found, "
              "6 nothing to reverse, 7 paper out",
    "found": "01 when a journal record matched the query", "more": "01 when more records follow",
    "paper_ok": "01 when the printer has paper",
    "amount_fen": "amount in fen (1/100 yuan)", "amount_owed_fen": "amount due, fen",
    "balance_fen": "card account balance, fen",
    "cursor": "journal position, strictly increasing per terminal, never reused",
    "after_cursor": "return records with a cursor above this", "max_records": "page size",
    "upto_cursor": "host stored every record up to and including this cursor",
    "acked_cursor": "the terminal's acknowledged cursor after the request",
    "count": "number of transactions / occurrences",
    "journal_unacked": "journal records not yet acknowledged by the host",
    "kind": "1 bill payment, 2 withdrawal, 3 balance inquiry, 4 reversal",
    "status": "1 approved, 2 declined, 3 reversed",
    "uptime_ms": "terminal monotonic uptime, milliseconds", "boot_id": "changes at every power-up",
    "signal_dbm": "line / GPRS signal in dBm; 0 when not applicable",
    "code": "error: 1 unsupported type, 2 malformed body, 3 busy, 4 invalid field, 5 internal",
    "for_type": "type code of the message that caused the error",
    "text": "human-readable error text (absent when empty)",
    "name": "counter name, e.g. `nak_sent`, `crc_errors`",
    "record": "the transaction's journal record (nested TLVs, see JournalRecord)",
    "records": "one DF50 per journal record, in cursor order",
    "lines": "one DF51 per (kind, product): approved, not reversed, since the last settlement",
    "error_counters": "one DF52 per counter",
}
_LENGTH = {"U8": "1", "U16": "2", "U32": "4", "U64": "8", "S8": "1", "AMOUNT": "6", "TIME": "7",
           "BOOL": "1", "RESULT": "1", "ERRCODE": "1", "KIND": "1", "STATUS": "1"}


def samples(rng: random.Random) -> list[Any]:
    """One message of every type, values drawn from ``rng``."""
    tid = f"T{rng.randrange(10**7):07d}"
    t0 = datetime(2024, 3, 5, 9, 30, 0, tzinfo=CST) + timedelta(seconds=rng.randrange(36000))
    seq = iter(range(rng.randrange(1, 60000), 70000))

    def h(cls: type) -> m.Header:
        return m.Header(TYPE_OF[cls], next(seq), tid)

    boot = rng.randrange(1, 2**31)
    uptime = rng.randrange(10**6, 10**9)

    def record(kind: m.TxnKind, amount: int, card: Any = None, product: str = "",
               account: str = "", original: str = "") -> m.JournalRecord:
        cursor = rng.randrange(1, 10**6)
        return m.JournalRecord(
            cursor=cursor, ref=f"{tid[1:]}{cursor:05d}"[:12].rjust(12, "0"),
            client_ref=f"H{rng.randrange(10**9):09d}", kind=kind, product=product,
            account=account, amount_fen=amount, status=m.TxnStatus.APPROVED,
            result=m.ResultCode.APPROVED, terminal_time=t0, uptime_ms=uptime, boot_id=boot,
            card=card, original_ref=original,
        )

    phone = f"13{rng.randrange(10**9):09d}"
    bill = record(m.TxnKind.BILL_PAYMENT, rng.randrange(1000, 20000), None, "mobile", phone)
    wd = record(m.TxnKind.WITHDRAWAL, rng.randrange(100, 2000) * 100, m.ClearPan(TEST_PANS[0]))
    bal = record(m.TxnKind.BALANCE_INQUIRY, 0, m.ClearPan(TEST_PANS[1]))
    rev = record(m.TxnKind.REVERSAL, wd.amount_fen, m.ClearPan(TEST_PANS[0]), original=wd.ref)
    return [
        m.IdentifyRequest(h(m.IdentifyRequest), t0),
        m.IdentifyResponse(h(m.IdentifyResponse), "Landi", "E530", f"SN{rng.randrange(10**8)}",
                           "2.3.1", m.Dialect.SL_2, frozenset({"bill", "card", "journal"}), t0),
        m.EchoRequest(h(m.EchoRequest), rng.randbytes(4)),
        m.EchoResponse(h(m.EchoResponse), rng.randbytes(4)),
        m.BillInquiryRequest(h(m.BillInquiryRequest), "electricity", "0531" + phone[3:]),
        m.BillInquiryResponse(h(m.BillInquiryResponse), m.ResultCode.APPROVED, "electricity",
                              "0531" + phone[3:], rng.randrange(1000, 90000), "张三"),
        m.BillPaymentRequest(h(m.BillPaymentRequest), bill.client_ref, "mobile", phone,
                             bill.amount_fen),
        m.BillPaymentResponse(h(m.BillPaymentResponse), m.ResultCode.APPROVED, bill),
        m.WithdrawalRequest(h(m.WithdrawalRequest), wd.client_ref, wd.amount_fen),
        m.WithdrawalResponse(h(m.WithdrawalResponse), m.ResultCode.APPROVED, wd),
        m.BalanceInquiryRequest(h(m.BalanceInquiryRequest), bal.client_ref),
        m.BalanceInquiryResponse(h(m.BalanceInquiryResponse), m.ResultCode.APPROVED, bal,
                                 rng.randrange(10**4, 10**8)),
        m.ReversalRequest(h(m.ReversalRequest), rev.client_ref, wd.ref),
        m.ReversalResponse(h(m.ReversalResponse), m.ResultCode.APPROVED, rev),
        m.StatusQuery(h(m.StatusQuery), client_ref=bill.client_ref),
        m.StatusResponse(h(m.StatusResponse), True, bill),
        m.JournalReadRequest(h(m.JournalReadRequest), bill.cursor - 1, 2),
        m.JournalReadResponse(h(m.JournalReadResponse), (bill, wd), True),
        m.JournalAckRequest(h(m.JournalAckRequest), wd.cursor),
        m.JournalAckResponse(h(m.JournalAckResponse), wd.cursor),
        m.SettlementTotalsRequest(h(m.SettlementTotalsRequest)),
        m.SettlementTotalsResponse(h(m.SettlementTotalsResponse), t0 - timedelta(days=1), (
            m.SettlementLine(m.TxnKind.BILL_PAYMENT, "mobile", 3, 3 * bill.amount_fen),
            m.SettlementLine(m.TxnKind.WITHDRAWAL, "", 1, wd.amount_fen))),
        m.DeviceStatusRequest(h(m.DeviceStatusRequest)),
        m.DeviceStatusResponse(h(m.DeviceStatusResponse), True,
                               (("nak_sent", rng.randrange(10)), ("crc_errors", 1)),
                               -rng.randrange(50, 90), uptime, boot, t0, 2),
        m.ErrorReply(h(m.ErrorReply), m.ErrorCode.BUSY, int(m.MsgType.WITHDRAWAL),
                     "交易进行中", extra=((0xDFEE, b"\x01"),)),
    ]


def _tlv_head(value: bytes) -> int:
    return 3 + (0 if len(value) < 0x80 else 1 if len(value) < 0x100 else 2)


_NAMES = {f.tag: f.name for layout in LAYOUTS.values() for f in layout}
_NAMES.update({0xDF40: "card number (BCD, F-padded)", 0xDF41: "masked card", 0xDF42: "card token"})
_NESTED = {0xDF50: "journal record", 0xDF51: "settlement line", 0xDF52: "error counter"}


def annotate(frame: bytes, body: bytes, dialect: m.Dialect, transport: Transport,
             msg: Any) -> str:
    """The frame as hex, one line per framing part / header / TLV, with ``#`` comments."""
    lines: list[tuple[bytes, str]] = []
    pre = 3 if transport is Transport.SERIAL else len(frame) - len(body)
    what = "STX, LEN" if transport is Transport.SERIAL else "length prefix"
    lines.append((frame[:pre], f"{what} = {len(body)}"))
    lines.append((body[:HEADER_SIZE], f"header: type {body[0]:02X} ({msg.header.msg_type.name}), "
                  f"seq {msg.header.seq}, terminal {msg.header.terminal_id}"))
    pos = HEADER_SIZE
    for tag, value in parse_tlvs(body[HEADER_SIZE:]):
        head = _tlv_head(value)
        if tag in _NESTED:
            lines.append((body[pos : pos + head], f"{tag:04X} {_NESTED[tag]}, nested TLVs:"))
            inner = pos + head
            for itag, ivalue in parse_tlvs(value, 0):
                size = _tlv_head(ivalue) + len(ivalue)
                lines.append((body[inner : inner + size], f"  {itag:04X} {_NAMES[itag]}"))
                inner += size
        else:
            label = _NAMES.get(tag, "unknown to this host: kept in extra")
            lines.append((body[pos : pos + head + len(value)], f"{tag:04X} {label}"))
        pos += head + len(value)
    if transport is Transport.SERIAL:
        check = "LRC" if dialect is m.Dialect.MISPOS_1 else "CRC"
        lines.append((frame[pre + len(body) :], f"ETX, {check}"))
    out = []
    for raw, comment in lines:
        chunks = [raw[i : i + 16].hex(" ") for i in range(0, len(raw), 16)]
        out.append(f"{chunks[0]:<47}  # {comment}")
        out.extend(chunks[1:])
    return "\n".join(out) + "\n"


def _hex_lines(data: bytes, rng: random.Random) -> str:
    """Hex text of ``data`` split into lines at random points (frames span lines)."""
    out, i = [], 0
    while i < len(data):
        n = rng.randrange(1, 40)
        out.append(data[i : i + n].hex(" "))
        i += n
    return "\n".join(out) + "\n"


def _garbage(rng: random.Random, n: int, low: int) -> bytes:
    return bytes(rng.choice([b for b in range(low, 256) if b not in (2, 4, 6, 0x15)])
                 for _ in range(n))


def noisy_stream(dialect: m.Dialect, transport: Transport, msgs: list[Any],
                 rng: random.Random) -> tuple[bytes, list[dict[str, Any]]]:
    """A stream with noise and the ``stationlink decode`` lines it must give."""
    codec = Codec(dialect, FIXTURE_KEY)
    by = {type(x).__name__: x for x in msgs}
    data = bytearray()
    expected: list[dict[str, Any]] = []
    serial = transport is Transport.SERIAL
    skip_reason = "garbage outside a frame" if serial else "no valid length prefix"

    def frame(msg: Any) -> None:
        raw = build_frame(codec.encode(msg), dialect, transport)
        expected.append({"type": "frame", "offset": len(data), "length": len(raw),
                         "message": to_json(msg, FIXTURE_KEY)})
        data.extend(raw)

    def skipped(raw: bytes, reason: str, checksum_failed: bool = False) -> None:
        expected.append({"type": "error", "offset": len(data), "length": len(raw),
                         "reason": reason, "checksum_failed": checksum_failed})
        data.extend(raw)

    def link(code: int) -> None:
        expected.append({"type": "link", "offset": len(data),
                         "code": {ACK: "ACK", NAK: "NAK", EOT: "EOT"}[code]})
        data.append(code)

    def bad_body(body: bytes, kind: str, error: str) -> None:
        raw = build_frame(body, dialect, transport)
        header = {"msg_type": body[0] if body[0] == 0x77 else m.MsgType(body[0]).name,
                  "seq": int.from_bytes(body[1:3], "big"), "terminal_id": body[3:11].decode()}
        expected.append({"type": "frame", "offset": len(data), "length": len(raw),
                         "error": error, "error_kind": kind, "header": header})
        data.extend(raw)

    low = 0x80 if not serial else 0x20
    skipped(_garbage(rng, 5, low), skip_reason)
    frame(by["BillPaymentRequest"])
    if serial:
        link(ACK)
        good = build_frame(codec.encode(by["WithdrawalRequest"]), dialect, transport)
        bad = good[:-1] + bytes([good[-1] ^ 0x5A])
        skipped(bad, "bad LRC" if dialect is m.Dialect.MISPOS_1 else "bad CRC", True)
        link(NAK)
    else:
        skipped(_garbage(rng, 3, low), skip_reason)
    frame(by["WithdrawalRequest"])
    if serial:
        skipped(b"\x02", "STX with an impossible length")
        skipped(b"\x99\x99", skip_reason)
    frame(by["WithdrawalResponse"])
    tid = msgs[0].header.terminal_id.encode()
    bad_body(b"\x77\x00\x09" + tid + b"\xdf\x01\x00", "unsupported",
             "unknown message type 0x77")
    bad_body(b"\x02\x00\x0a" + tid + b"\xdf\x0f\x05ab", "decode",
             "TLV DF0F at body offset 11 announces 5 bytes, 2 left")
    frame(by["JournalReadResponse"])
    if serial:
        link(EOT)
        skipped(b"\x02", "STX of an incomplete frame")
        skipped(b"\x00\x40", skip_reason)
    else:
        skipped(b"0" if dialect is m.Dialect.MISPOS_1 else b"\x00",
                "length prefix of an incomplete frame")
    return bytes(data), expected


def catalogue() -> str:
    """Markdown tables of every message's fields, from the codec's own layouts."""
    from stationlink.protocol import _fields as fk

    kinds = {id(getattr(fk, n)): n for n in _LENGTH | {"TEXT": "", "BYTES": "", "DIALECT": "",
                                                          "CAPS": ""}}
    out = []
    order = sorted(LAYOUTS, key=lambda c: (c not in TYPE_OF, int(TYPE_OF.get(c, 0))))
    for cls in order:
        code = TYPE_OF.get(cls)
        title = f"{cls.__name__} (type {int(code):02X}, {code.name})" if code else (
            f"{cls.__name__} (nested)" if cls.__name__ != "Counter" else
            "error counter (nested in DF52)")
        out.append(f"#### {title}\n")
        if not LAYOUTS[cls]:
            out.append("No fields: the header alone.\n")
            continue
        out.append("| Tag | Field | Encoding | Length | Presence | Meaning |")
        out.append("|---|---|---|---|---|---|")
        for f in LAYOUTS[cls]:
            if f.kind is None:
                enc, length = f"nested TLVs ({getattr(f.nested, '__name__', '')})", "var"
            else:
                enc = f.kind.name
                length = _LENGTH.get(kinds.get(id(f.kind), ""), "var")
            out.append(f"| {f.tag:04X} | `{f.name}` | {enc} | {length} | {f.mode} | "
                       f"{MEANING[f.name]} |")
        if cls.__name__ == "JournalRecord":
            out.append("| DF40 | card (mispos-1) | full card number, packed BCD, F-padded | 6..10 "
                       "| when a card was used | converted to masked + token by the host |")
            out.append("| DF41 | card (sl-2) | ASCII, first 6 + `*` + last 4 | 12..19 | "
                       "when a card was used | masked card number |")
            out.append("| DF42 | card (sl-2) | 16 bytes | 16 | with DF41 | card token: "
                       "HMAC-SHA256(key, digits), first 16 bytes |")
        out.append("")
    return "\n".join(out)


def _splice(text: str, begin: str, end: str, content: str) -> str:
    head, sep, rest = text.partition(begin)
    if not sep:
        return text
    _, _, tail = rest.partition(end)
    return head + begin + "\n\n" + content + "\n" + end + tail


def generate() -> dict[Path, str]:
    """Every file this script writes, path -> content."""
    files: dict[Path, str] = {}
    doc_parts: list[str] = []
    for dialect in m.Dialect:
        for transport in Transport:
            rng = random.Random(f"{SEED}-{dialect}-{transport}")  # noqa: S311 - fixtures
            msgs = samples(random.Random(SEED))  # noqa: S311 - fixtures
            codec = Codec(dialect, FIXTURE_KEY)
            base = ROOT / "vectors" / dialect.value / transport.value
            for n, msg in enumerate(msgs, start=1):
                body = codec.encode(msg)
                frame = build_frame(body, dialect, transport)
                stem = f"{n:02d}-{type(msg).__name__}"
                hex_text = annotate(frame, body, dialect, transport, msg)
                meaning = json.dumps(to_json(msg, FIXTURE_KEY), ensure_ascii=False, indent=2)
                files[base / "messages" / f"{stem}.hex"] = hex_text
                files[base / "messages" / f"{stem}.json"] = meaning + "\n"
                if _in_doc(type(msg).__name__, dialect, transport):
                    doc_parts.append(
                        f"#### {type(msg).__name__} ({dialect.value}, {transport.value})\n\n"
                        f"```hex {dialect.value} {transport.value} {type(msg).__name__}\n"
                        f"{hex_text}```\n\n```json\n{meaning}\n```\n"
                    )
            stream, expected = noisy_stream(dialect, transport, msgs, rng)
            files[base / "streams" / "noisy.hex"] = _hex_lines(stream, rng)
            files[base / "streams" / "noisy.expected.jsonl"] = "".join(
                json.dumps(e, ensure_ascii=False) + "\n" for e in expected
            )
    if DOC.exists():
        text = DOC.read_text(encoding="utf-8")
        text = _splice(text, BEGIN, END, "\n".join(doc_parts))
        files[DOC] = _splice(text, CAT_BEGIN, CAT_END, catalogue())
    return files


_CARD_MESSAGES = {"WithdrawalResponse", "BalanceInquiryResponse", "ReversalResponse",
                  "BillInquiryResponse"}


def _in_doc(name: str, dialect: m.Dialect, transport: Transport) -> bool:
    if (dialect, transport) == (m.Dialect.SL_2, Transport.SERIAL):
        return True
    if (dialect, transport) == (m.Dialect.MISPOS_1, Transport.SERIAL):
        return name in _CARD_MESSAGES
    return name == "BillPaymentRequest"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--check", action="store_true", help="exit 1 if files would change")
    args = parser.parse_args()
    changed = []
    for path, content in generate().items():
        old = path.read_text(encoding="utf-8") if path.exists() else None
        if old != content:
            changed.append(path)
            if not args.check:
                path.parent.mkdir(parents=True, exist_ok=True)
                path.write_text(content, encoding="utf-8")
    for path in changed:
        print(("would change: " if args.check else "wrote: ") + str(path.relative_to(ROOT.parent)))
    return 1 if changed and args.check else 0


if __name__ == "__main__":
    sys.exit(main())
