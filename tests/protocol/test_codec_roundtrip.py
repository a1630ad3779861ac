"""Codec: every message type round-trips in both dialects; JSON form round-trips; cards."""

from __future__ import annotations

import dataclasses
import string
from datetime import UTC
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from stationlink.money import CST
from stationlink.protocol import messages as m
from stationlink.protocol._codec import Codec, EncodeError
from stationlink.protocol._jsonform import from_json, to_json
from stationlink.protocol.messages import CLASS_OF, TYPE_OF
from stationlink.records.vocab import TERMINAL_KINDS

KEY = bytes(range(32))
ALL_CLASSES = sorted(set(CLASS_OF.values()), key=lambda c: int(TYPE_OF[c]))

texts = st.text(st.characters(exclude_categories=("Cs",)), max_size=12)
short = st.text(string.ascii_letters + string.digits + "-", max_size=12)
times = st.datetimes(min_value=m.datetime(2000, 1, 1), max_value=m.datetime(2099, 12, 31)).map(
    lambda t: t.replace(microsecond=0, tzinfo=CST)
)
amounts = st.integers(0, 10**12 - 1)
u32 = st.integers(0, 2**32 - 1)
pans = st.from_regex(r"\A62[0-9]{10,17}\Z")
#: The kinds a terminal's record carries on the wire (the vocabulary's ``referral`` is not one).
wire_kinds = st.sampled_from([m.TxnKind(k) for k in TERMINAL_KINDS])


def cards(clear: bool) -> st.SearchStrategy[Any]:
    pan = pans.map(m.ClearPan)
    return st.none() | (pan if clear else pan.map(lambda p: p.to_ref(KEY)))


def records(clear: bool) -> st.SearchStrategy[m.JournalRecord]:
    return st.builds(
        m.JournalRecord, cursor=u32, ref=short, client_ref=short,
        kind=wire_kinds, product=texts, account=short, amount_fen=amounts,
        status=st.sampled_from(m.TxnStatus), result=st.sampled_from(m.ResultCode),
        terminal_time=times, uptime_ms=st.integers(0, 2**64 - 1), boot_id=u32,
        card=cards(clear), original_ref=short,
    )


def field_values(clear: bool) -> dict[type, st.SearchStrategy[Any]]:
    return {
        int: u32, str: texts, bool: st.booleans(), bytes: st.binary(max_size=40),
        m.datetime: times, m.ResultCode: st.sampled_from(m.ResultCode),
        m.ErrorCode: st.sampled_from(m.ErrorCode), m.Dialect: st.sampled_from(m.Dialect),
        m.JournalRecord: records(clear),
    }


SPECIAL: dict[str, st.SearchStrategy[Any]] = {
    "amount_fen": amounts, "amount_owed_fen": amounts, "balance_fen": amounts,
    "max_records": st.integers(0, 65535), "signal_dbm": st.integers(-128, 127),
    "uptime_ms": st.integers(0, 2**64 - 1), "for_type": st.integers(0, 255),
    "capabilities": st.frozensets(st.sampled_from(["bill", "card", "journal", "settlement"])),
    "lines": st.lists(st.builds(m.SettlementLine, kind=wire_kinds,
                                product=texts, count=u32, amount_fen=amounts),
                      max_size=3).map(tuple),
    "error_counters": st.lists(st.tuples(texts, u32), max_size=3).map(tuple),
}


def messages(cls: type, clear: bool) -> st.SearchStrategy[Any]:
    import typing

    hints = typing.get_type_hints(cls, vars(m))
    values = field_values(clear)
    kwargs: dict[str, st.SearchStrategy[Any]] = {}
    for f in dataclasses.fields(cls):
        tp = hints[f.name]
        if f.name == "header":
            kwargs[f.name] = st.builds(
                m.Header, st.just(TYPE_OF[cls]), st.integers(0, 65535),
                st.text(string.ascii_uppercase + string.digits, min_size=8, max_size=8),
            )
        elif f.name == "extra":
            kwargs[f.name] = st.lists(
                st.tuples(st.integers(0xE000, 0xEFFF), st.binary(max_size=300)), max_size=2
            ).map(tuple)
        elif f.name in SPECIAL:
            kwargs[f.name] = SPECIAL[f.name]
        elif f.name == "records":
            kwargs[f.name] = st.lists(records(clear), max_size=3).map(tuple)
        elif tp == (m.JournalRecord | None):
            kwargs[f.name] = st.none() | records(clear)
        else:
            kwargs[f.name] = values[tp]
    return st.builds(cls, **kwargs)


def host_view(msg: Any) -> Any:
    """The message as the host sees it: every ClearPan turned into a CardRef."""
    if isinstance(msg, m.ClearPan):
        return msg.to_ref(KEY)
    if isinstance(msg, tuple):
        return tuple(host_view(i) for i in msg)
    if dataclasses.is_dataclass(msg) and not isinstance(msg, type):
        return dataclasses.replace(
            msg, **{f.name: host_view(getattr(msg, f.name)) for f in dataclasses.fields(msg)}
        )
    return msg


@pytest.mark.parametrize("cls", ALL_CLASSES, ids=lambda c: c.__name__)
@settings(max_examples=15, deadline=None)
@given(data=st.data())
def test_roundtrip_every_message(cls: type, data: st.DataObject) -> None:
    for dialect, clear in [(m.Dialect.MISPOS_1, True), (m.Dialect.SL_2, True),
                           (m.Dialect.SL_2, False)]:
        msg = data.draw(messages(cls, clear))
        codec = Codec(dialect, KEY)
        body = codec.encode(msg)
        back = codec.decode(body)
        assert back == host_view(msg)
        assert from_json(to_json(back)) == back
        if dialect is m.Dialect.SL_2:
            assert codec.encode(back) == body  # the host can re-encode what it got


def sample_withdrawal(card: Any) -> m.WithdrawalResponse:
    rec = m.JournalRecord(
        cursor=1, ref="R00000000001", client_ref="c-1", kind=m.TxnKind.WITHDRAWAL, product="",
        account="", amount_fen=10000, status=m.TxnStatus.APPROVED, result=m.ResultCode.APPROVED,
        terminal_time=m.datetime(2024, 3, 5, 9, 0, tzinfo=CST), uptime_ms=5, boot_id=1, card=card,
    )
    return m.WithdrawalResponse(m.Header(m.MsgType.WITHDRAWAL_RESP, 1, "T0000001"),
                                m.ResultCode.APPROVED, rec)


PAN = "6217000000000000018"


def test_mispos_pan_becomes_token_at_decode() -> None:
    codec = Codec(m.Dialect.MISPOS_1, KEY)
    body = codec.encode(sample_withdrawal(m.ClearPan(PAN)))
    assert bytes.fromhex("6217000000000000018f") in body  # the terminal's wire carries it
    msg = codec.decode(body)
    assert isinstance(msg, m.WithdrawalResponse)
    assert msg.record.card == m.CardRef("621700*********0018", m.card_token(PAN, KEY))
    assert PAN not in repr(msg)
    assert PAN not in str(to_json(msg))


def test_mispos_refuses_cardref_and_sl2_converts_clearpan() -> None:
    ref = m.ClearPan(PAN).to_ref(KEY)
    with pytest.raises(EncodeError, match="full card number"):
        Codec(m.Dialect.MISPOS_1, KEY).encode(sample_withdrawal(ref))
    sl2 = Codec(m.Dialect.SL_2, KEY)
    body = sl2.encode(sample_withdrawal(m.ClearPan(PAN)))
    assert bytes.fromhex("6217000000000000018f") not in body
    assert PAN.encode() not in body
    assert body == sl2.encode(sample_withdrawal(ref))


@pytest.mark.parametrize(
    ("change", "match"),
    [
        ({"amount_fen": -1}, "amount_fen"),
        ({"amount_fen": 10**12}, "amount_fen"),
        ({"terminal_time": m.datetime(2024, 1, 1)}, "timezone-aware"),
        ({"cursor": 2**32}, "cursor"),
    ],
)
def test_unencodable_values(change: dict[str, Any], match: str) -> None:
    msg = sample_withdrawal(None)
    bad = dataclasses.replace(msg, record=dataclasses.replace(msg.record, **change))
    with pytest.raises(EncodeError, match=match):
        Codec(m.Dialect.SL_2, KEY).encode(bad)


@pytest.mark.parametrize(
    ("header", "match"),
    [
        (m.Header(m.MsgType.WITHDRAWAL_RESP, 70000, "T0000001"), "sequence number"),
        (m.Header(m.MsgType.WITHDRAWAL_RESP, 1, "T001"), "terminal id"),
        (m.Header(m.MsgType.ECHO, 1, "T0000001"), "needs header type WITHDRAWAL_RESP"),
    ],
)
def test_bad_headers(header: m.Header, match: str) -> None:
    with pytest.raises(EncodeError, match=match):
        Codec(m.Dialect.SL_2, KEY).encode(dataclasses.replace(sample_withdrawal(None),
                                                              header=header))


def test_times_are_sent_in_cst_whole_seconds() -> None:
    from datetime import timedelta, timezone

    utc = m.datetime(2024, 3, 5, 1, 0, 0, 999_000, tzinfo=UTC)
    msg = m.IdentifyRequest(m.Header(m.MsgType.IDENTIFY, 1, "T0000001"), utc)
    codec = Codec(m.Dialect.SL_2, KEY)
    body = codec.encode(msg)
    assert body.endswith(bytes.fromhex("df01 07 20240305090000"))
    back = codec.decode(body)
    assert isinstance(back, m.IdentifyRequest)
    assert back.host_time == utc - timedelta(microseconds=999_000)
    assert back.host_time.utcoffset() == timezone(timedelta(hours=8)).utcoffset(None)
