"""Codec on bad bodies: only ProtocolError subclasses, clear messages, no card digits."""

from __future__ import annotations

import dataclasses

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from stationlink import errors
from stationlink.errors import DecodeError, ProtocolError, UnsupportedMessageError
from stationlink.money import CST
from stationlink.protocol import _codec as codec_module
from stationlink.protocol import messages as m
from stationlink.protocol._codec import Codec, UnknownMessageTypeError, peek_header
from stationlink.protocol._fields import TEXT, Ctx
from stationlink.protocol._tlv import BODY, build_body, build_tlvs, parse_body

KEY = bytes(32)
PAN = "6217000000000000018"
HEAD = bytes([0xA0, 0x00, 0x07]) + b"T0000001"


def withdrawal_body(dialect: m.Dialect) -> bytes:
    rec = m.JournalRecord(
        cursor=9, ref="R00000000009", client_ref="c-9", kind=m.TxnKind.WITHDRAWAL, product="",
        account="", amount_fen=20000, status=m.TxnStatus.APPROVED, result=m.ResultCode.APPROVED,
        terminal_time=m.datetime(2024, 3, 5, 9, 0, tzinfo=CST), uptime_ms=5, boot_id=1,
        card=m.ClearPan(PAN),
    )
    msg = m.WithdrawalResponse(m.Header(m.MsgType.WITHDRAWAL_RESP, 7, "T0000001"),
                               m.ResultCode.APPROVED, rec)
    return Codec(dialect, KEY).encode(msg)


@pytest.mark.parametrize("dialect", list(m.Dialect))
@settings(max_examples=150, deadline=None)
@given(data=st.data())
def test_mutated_bodies_raise_only_protocol_errors(dialect: m.Dialect, data: st.DataObject) -> None:
    body = bytearray(withdrawal_body(dialect))
    for _ in range(data.draw(st.integers(1, 4))):
        op = data.draw(st.sampled_from(["flip", "cut", "insert"]))
        at = data.draw(st.integers(0, len(body) - 1))
        if op == "flip":
            body[at] ^= data.draw(st.integers(1, 255))
        elif op == "cut":
            del body[at : at + data.draw(st.integers(1, 8))]
        else:
            body[at:at] = data.draw(st.binary(min_size=1, max_size=8))
        if not body:
            body = bytearray(b"\x00")
    shown = ""
    try:
        shown = repr(Codec(dialect, KEY).decode(bytes(body)))
    except ProtocolError as exc:
        shown = str(exc)
    assert PAN not in shown
    assert "6217000000" not in shown


@settings(max_examples=200, deadline=None)
@given(body=st.binary(max_size=120))
def test_random_bodies(body: bytes) -> None:
    for dialect in m.Dialect:
        try:
            Codec(dialect, KEY).decode(body)
        except ProtocolError:
            pass


def test_unknown_type_carries_header() -> None:
    body = bytes([0x77, 0x01, 0x02]) + b"T0000009" + b"\xde\xad"
    with pytest.raises(UnsupportedMessageError, match="0x77") as info:
        Codec(m.Dialect.SL_2, KEY).decode(body)
    assert isinstance(info.value, UnknownMessageTypeError)
    assert info.value.header == m.Header(0x77, 0x0102, "T0000009")  # type: ignore[arg-type]
    assert info.value.raw_type == 0x77
    assert peek_header(body) == (0x77, 0x0102, "T0000009")


@pytest.mark.parametrize(
    ("body", "message"),
    [
        (b"\xa0\x00", "body of 2 bytes is shorter than the 11-byte header"),
        (bytes([0xA0, 0, 1]) + b"T00\x0000001", "terminal id (body offset 3)"),
        (HEAD + b"\xdf\x20\x01\x00\xdf", "truncated TLV at body offset 15"),
        (HEAD + b"\xdf\x20\x05\x00", "TLV DF20 at body offset 11 announces 5 bytes, 1 left"),
        (HEAD + b"\xdf\x20\x83\x00\x00\x01", "bad TLV length form 0x83 at body offset 13"),
        (HEAD + b"\xdf\x20\x01\x09", "WithdrawalResponse field DF20 (result) at body offset 11: "
                                     "unknown ResultCode code 9"),
        (HEAD + b"\xdf\x20\x01\x00", "WithdrawalResponse: required field DF50 (record) missing"),
        (HEAD + b"\xdf\x20\x01\x00\xdf\x20\x01\x00", "field DF20 (result) repeated"),
        (HEAD + b"\xdf\x40\x0a" + bytes.fromhex("6217000000000000018f"),
         "card field DF40 outside a journal record"),
    ],
)
def test_decode_error_messages(body: bytes, message: str) -> None:
    with pytest.raises(DecodeError) as info:
        Codec(m.Dialect.MISPOS_1, KEY).decode(body)
    assert message in str(info.value)


def _record_with(card_tlvs: list[tuple[int, bytes]]) -> bytes:
    rec = build_tlvs([
        (0xDF30, b"\0\0\0\1"), (0xDF19, b"R1"), (0xDF18, b""), (0xDF38, b"\2"), (0xDF10, b""),
        (0xDF11, b""), (0xDF28, bytes(6)), (0xDF39, b"\1"), (0xDF20, b"\0"),
        (0xDF02, bytes.fromhex("20240305090000")), (0xDF3A, bytes(8)), (0xDF3B, bytes(4)),
        *card_tlvs,
    ])
    return HEAD + build_tlvs([(0xDF20, b"\0"), (0xDF50, rec)])


@pytest.mark.parametrize(
    ("card_tlvs", "message"),
    [
        ([(0xDF41, PAN.encode()), (0xDF42, bytes(16))], "DF41 is not a masked card number"),
        ([(0xDF41, b"621700*********0018")], "a card needs DF41 (masked) and DF42"),
        ([(0xDF40, bytes.fromhex("6217000000000000018a"))], "DF40 is not 12..19 packed BCD"),
        ([(0xDF40, bytes.fromhex("62170000000000000018")), (0xDF41, b"x")], "both"),
    ],
)
def test_card_fields_refused_without_echo(card_tlvs: list[tuple[int, bytes]], message: str) -> None:
    with pytest.raises(DecodeError) as info:
        Codec(m.Dialect.SL_2, KEY).decode(_record_with(card_tlvs))
    assert message in str(info.value)
    assert PAN not in str(info.value)
    assert "6217000" not in str(info.value)


def test_full_pan_decoded_in_sl2_too() -> None:
    """A misconfigured terminal sending DF40 on sl-2 still never reaches a dataclass in clear."""
    msg = Codec(m.Dialect.SL_2, KEY).decode(
        _record_with([(0xDF40, bytes.fromhex("6217000000000000018f"))])
    )
    assert isinstance(msg, m.WithdrawalResponse)
    assert msg.record.card == m.CardRef("621700*********0018", m.card_token(PAN, KEY))


def test_unknown_tags_kept_and_reencoded() -> None:
    codec = Codec(m.Dialect.SL_2, KEY)
    body = bytes([0x02, 0, 3]) + b"T0000001" + build_tlvs([(0xDF0F, b"hi"), (0xDFEE, b"new")])
    msg = codec.decode(body)
    assert msg == m.EchoRequest(m.Header(m.MsgType.ECHO, 3, "T0000001"), b"hi",
                                extra=((0xDFEE, b"new"),))
    assert codec.encode(msg) == body


def test_codec_error_classes_are_in_the_exception_tree() -> None:
    assert codec_module.EncodeError is errors.EncodeError
    assert codec_module.UnknownMessageTypeError is errors.UnknownMessageTypeError
    assert issubclass(errors.EncodeError, ProtocolError)
    assert issubclass(errors.UnknownMessageTypeError, UnsupportedMessageError)
    assert {"EncodeError", "UnknownMessageTypeError"} <= set(errors.__all__)
    assert errors.EncodeError.exit_code == errors.UnknownMessageTypeError.exit_code == 5


def _outcome(func: object, *args: object) -> object:
    try:
        return ("ok", func(*args))  # type: ignore[operator]
    except Exception as exc:  # noqa: BLE001 - comparing what two paths raise
        return (type(exc), str(exc))


@settings(max_examples=150, deadline=None)
@given(tail=st.binary(max_size=60), fields=st.lists(st.tuples(st.integers(0xDF00, 0xDFFF),
                                                             st.binary(max_size=200)), max_size=4))
def test_body_shortcuts_match_construct(tail: bytes, fields: list[tuple[int, bytes]]) -> None:
    """parse_body / build_body run BODY's compiled code with a context built once."""
    for body in (HEAD + tail, HEAD + build_tlvs(fields)):
        assert _outcome(parse_body, body) == _outcome(BODY.parse, body)
    obj = {"msg_type": 0xA0, "seq": 7, "terminal_id": b"T0000001", "fields": fields}
    assert build_body(obj) == BODY.build(obj) == HEAD + build_tlvs(fields)


@settings(max_examples=200, deadline=None)
@given(raw=st.binary(max_size=24) | st.text(max_size=12).map(lambda t: t.encode("utf-8"))
       | st.text(st.characters(max_codepoint=0xFFFF, exclude_categories=("Cs",)),
                 max_size=12).map(lambda t: t.encode("gb18030")))
def test_text_decoding_matches_the_charset_codecs(raw: bytes) -> None:
    """The ASCII shortcut of TEXT gives what GB18030 / UTF-8 decoding gives."""
    for charset in ("gb18030", "utf-8"):
        try:
            expected = raw.decode(charset)
        except UnicodeDecodeError:
            with pytest.raises(ValueError, match=f"not valid {charset}"):
                TEXT.dec(raw, Ctx(charset))
        else:
            assert TEXT.dec(raw, Ctx(charset)) == expected


def test_one_kind_vocabulary_and_its_wire_codes() -> None:
    """The protocol's kind and status are the record vocabulary's enums; the codec's code
    table carries exactly the terminal kinds, and a referral (a station record) is refused."""
    from stationlink.protocol._fields import KIND_CODES, STATUS_CODES
    from stationlink.records.vocab import TERMINAL_KINDS, Kind, Status

    assert m.TxnKind is Kind
    assert m.TxnStatus is Status
    assert {k.value for k in KIND_CODES} == set(TERMINAL_KINDS)
    assert set(STATUS_CODES) == set(Status)
    assert sorted(KIND_CODES.values()) == [1, 2, 3, 4]
    body = withdrawal_body(m.Dialect.SL_2)
    msg = Codec(m.Dialect.SL_2, KEY).decode(body)
    assert isinstance(msg, m.WithdrawalResponse)
    referral = m.WithdrawalResponse(
        msg.header, msg.result, dataclasses.replace(msg.record, kind=Kind.REFERRAL))
    with pytest.raises(errors.EncodeError, match="'referral' is not a TxnKind the wire carries"):
        Codec(m.Dialect.SL_2, KEY).encode(referral)
    bad = body.replace(bytes([0xDF, 0x38, 0x01, 0x02]), bytes([0xDF, 0x38, 0x01, 0x05]))
    assert bad != body
    with pytest.raises(DecodeError, match="unknown TxnKind code"):
        Codec(m.Dialect.SL_2, KEY).decode(bad)
