"""Cases on the application layer: duplicates and lost responses of money-moving requests,
the journal (paging, power cycle), settlement totals, device status, card masking, clocks
(docs/protocol.md §2.1, §2.4, §3.2, §4, §5).

Contract: as :mod:`.cases_link` (a function per case: the pass line, or ``CaseFailed``).
The money cases (CF-DUPLICATE, CF-STATUS-LOST) send exactly one test payment each (1 fen by
default) and reverse it afterwards (:meth:`~.context.Ctx.reverse`); the engine never calls
them without ``--allow-money``. The others send only IDENTIFY, DEVICE_STATUS, JOURNAL_READ,
SETTLEMENT_TOTALS, STATUS_QUERY and, on a card terminal, BALANCE_INQUIRY (a journal record
that moves no money); CF-JOURNAL-POWER on a bill terminal with ``--allow-money`` makes one
test payment after the power cycle (and reverses it) to see the next cursor.
"""

from __future__ import annotations

import re
import time
from collections import Counter
from datetime import datetime, timedelta

from ..protocol import (
    FrameEvent,
    IdentifyRequest,
    IdentifyResponse,
    JournalRecord,
    MsgType,
    SettlementTotalsRequest,
    SettlementTotalsResponse,
    TxnKind,
    TxnStatus,
    parse_tlvs,
)
from .catalogue import label
from .context import Ctx
from .wire import CaseFailed, NotApplicable, Wire, seq_of

CST = timedelta(hours=8)
MASKED = re.compile(r"^[0-9]{6}\*+[0-9]{4}$")
TAG_RECORD, TAG_PAN, TAG_MASKED = 0xDF50, 0xDF40, 0xDF41
POWER_WAIT = 30.0  # seconds the device may take to come back after a power cycle
CLOCK_PLAUSIBLE = timedelta(days=1)  # a terminal clock further off than this is not plausible
CLOCK_CONSISTENT = 2.0  # seconds: two readings differ as the host's clock did, +- this


def _pay(ctx: Ctx, w: Wire, client_ref: str, seq: int) -> tuple[JournalRecord, bytes]:
    msg = ctx.payment(w, client_ref, seq)
    answer, body = w.request(msg)
    return ctx.paid_record(answer, msg.header.msg_type.name), body


def _records_of(ctx: Ctx, w: Wire, client_ref: str, after: int) -> list[JournalRecord]:
    page, _ = ctx.journal_page(w, after, 50)
    return [r for r in page.records if r.client_ref == client_ref]


def _once(mine: list[JournalRecord], ref: str, after: str = "") -> None:
    """Exactly one journal record with the test payment's client_ref ``ref``."""
    if len(mine) != 1:
        raise CaseFailed(f"{len(mine)} journal records with client_ref {ref}{after} (one "
                         "expected)")


def duplicate(ctx: Ctx) -> str:
    """The same payment frame twice (same seq and body, as a host retransmits it when the
    ACK was lost): one journal record. TCP: the stored response is replayed and must carry
    the same record. Serial: the device ACKs it again; it replays the stored response only
    if its delivery failed (§2.1, §3.2), so the kit reads the journal at once and any answer
    with that seq seen meanwhile must carry the same record."""
    w = ctx.wire()
    ref, seq = ctx.client_ref(), ctx.seq()
    msg = ctx.payment(w, ref, seq)
    frame = w.frame(msg)
    first, _ = w.request(msg)
    record = ctx.paid_record(first, msg.header.msg_type.name)
    try:
        mark = len(w.seen)
        sent = w.send(frame, f"the same {msg.header.msg_type.name} frame again (seq {seq})")
        if w.serial:
            w.await_ack(sent, len(frame), "the duplicate")
        else:
            again, _ = w.answer(seq, "the duplicate request", 10.0)
            second = ctx.paid_record(again, "the duplicate")
            if (second.cursor, second.ref) != (record.cursor, record.ref):
                raise CaseFailed(f"the duplicate was executed again: journal record "
                                 f"{second.cursor}/{second.ref}, first "
                                 f"{record.cursor}/{record.ref}")
        mine = _records_of(ctx, w, ref, record.cursor - 1)
        for got in w.seen[mark:]:
            if isinstance(got.event, FrameEvent) and seq_of(got.event.body) == seq:
                replay = ctx.paid_record(w.decode(got), "the duplicate")
                if (replay.cursor, replay.ref) != (record.cursor, record.ref):
                    raise CaseFailed(f"the duplicate was answered with another record "
                                     f"{replay.cursor}/{replay.ref}")
        _once(mine, ref, " after a duplicate request")
    finally:
        ctx.reverse(w, record)
    return f"record {record.cursor} once in the journal after the duplicate"


def status_lost(ctx: Ctx) -> str:
    ref, seq = ctx.client_ref(), ctx.seq()
    w = ctx.wire(auto_ack=False)
    msg = ctx.payment(w, ref, seq)
    frame = w.frame(msg)
    sent = w.send(frame, f"{msg.header.msg_type.name} seq {seq} (its answer will be lost)")
    if w.serial:
        w.await_ack(sent, len(frame), msg.header.msg_type.name)
        w.listen(10.0)  # not ACKed: the device retransmits, then gives up (§3.2)
    else:
        w.listen(1.0)
    w.close()
    w2 = ctx.wire()
    answers = [ctx.query(w2, ref) for _ in range(2)]
    first = answers[0]
    if not first.found or first.record is None:
        journaled = [r for r in ctx.journal(w2) if r.client_ref == ref]
        for r in journaled[:1]:  # the kit reverses what it did, found or not
            ctx.reverse(w2, r)
        where = (f"; the journal holds it as record {journaled[0].cursor}" if journaled
                 else "")
        raise CaseFailed(f"STATUS_QUERY of client_ref {ref}: not found after the payment was "
                         f"{'ACKed' if w.serial else 'sent'} (the device must report it, "
                         f"§2.4){where}")
    record = first.record
    try:
        for a in answers[1:]:
            if a.record is None or (a.record.cursor, a.record.ref) != (record.cursor, record.ref):
                raise CaseFailed("a second STATUS_QUERY reported another record")
        if record.client_ref != ref:
            raise CaseFailed(f"STATUS_QUERY of {ref} answered with client_ref "
                             f"{record.client_ref}")
        _once(_records_of(ctx, w2, ref, record.cursor - 1), ref)
    finally:
        ctx.reverse(w2, record)
    return f"reported once (record {record.cursor}, {record.status.value}); one journal record"


def journal_page(ctx: Ctx) -> str:
    w = ctx.wire()
    whole = ctx.journal(w, 50)
    keys = [(r.cursor, r.ref) for r in whole]
    cursors = [r.cursor for r in whole]
    if cursors != sorted(set(cursors)):
        raise CaseFailed("journal cursors not strictly increasing (a record twice or out of "
                         "order)")
    if len({r.ref for r in whole}) != len(whole):
        raise CaseFailed("a journal ref occurs twice")
    for size in (1, 3):
        got: list[tuple[int, str]] = []
        after = 0
        for _ in range(min(len(whole), 12) // size + 2):
            page, _ = ctx.journal_page(w, after, size)
            if len(page.records) > size:
                raise CaseFailed(f"JOURNAL_READ max_records={size}: {len(page.records)} "
                                 "records")
            if any(r.cursor <= after for r in page.records):
                raise CaseFailed(f"JOURNAL_READ after {after}: a record at or below the cursor")
            got += [(r.cursor, r.ref) for r in page.records]
            remaining = len(keys) > len(got)
            if page.more != remaining and len(got) <= len(keys):
                raise CaseFailed(f"JOURNAL_READ after {after}: more={page.more} with "
                                 f"{len(keys) - len(got)} records left")
            if not page.more or len(got) >= 12:
                break
            after = page.records[-1].cursor
        if got != keys[: len(got)]:
            raise CaseFailed(f"pages of {size} differ from pages of 50 (a record missing or "
                             "twice)")
    return f"{len(whole)} records; pages of 1, 3 and 50 agree, cursors increasing"


def journal_power(ctx: Ctx) -> str:
    if ctx.power_cycle is None:
        raise NotApplicable(label("na.power", ctx.lang))
    w = ctx.wire()
    boot = ctx.status(w).boot_id
    before = ctx.journal(w)
    w.close()
    ctx.transcript_note("power cycle")
    ctx.power_cycle()
    deadline = ctx.clock() + POWER_WAIT
    while True:
        try:
            w = ctx.wire()
            status = ctx.status(w)
            break
        except CaseFailed:
            if ctx.clock() >= deadline:
                raise
            ctx.end()
            time.sleep(0.5)
    if status.boot_id == boot:
        raise CaseFailed(f"boot_id {boot} unchanged: the power-cycle command did not restart "
                         "the device")
    after = ctx.journal(w)
    if [(r.cursor, r.ref) for r in after[: len(before)]] != [(r.cursor, r.ref) for r in before]:
        raise CaseFailed("journal records or cursors changed across the power cycle")
    top = max((r.cursor for r in after), default=0)
    if ctx.kind == "card":
        inquiry, _ = ctx.balance_inquiry(w)
        new = inquiry.record
    elif ctx.allow_money:
        new, _ = _pay(ctx, w, ctx.client_ref(), ctx.seq())
        ctx.reverse(w, new)
    else:
        return (f"{len(before)} records kept with their cursors (no new record made: a bill "
                "terminal needs --allow-money for that)")
    if new.cursor <= top:
        raise CaseFailed(f"the first record after the power cycle has cursor {new.cursor}, "
                         f"not above {top} (cursors are never reused, §3.2)")
    return f"{len(before)} records kept; the next record got cursor {new.cursor} > {top}"


def settlement(ctx: Ctx) -> str:
    w = ctx.wire()
    msg = w.call(SettlementTotalsRequest(w.header(MsgType.SETTLEMENT_TOTALS, ctx.seq())),
                 SettlementTotalsResponse)
    assert isinstance(msg, SettlementTotalsResponse)  # noqa: S101 - call checked it
    records = ctx.journal(w)
    by_ref = {r.ref: r for r in records}
    expected: Counter[tuple[str, str]] = Counter()
    amounts: Counter[tuple[str, str]] = Counter()
    for r in records:
        if r.terminal_time < msg.since or r.status is not TxnStatus.APPROVED:
            continue
        if r.kind is TxnKind.REVERSAL:
            original = by_ref.get(r.original_ref)
            kind = original.kind if original is not None else TxnKind.WITHDRAWAL
            expected[(kind.value, r.product)] -= 1
            amounts[(kind.value, r.product)] -= r.amount_fen
        else:
            expected[(r.kind.value, r.product)] += 1
            amounts[(r.kind.value, r.product)] += r.amount_fen
    want = {k: (expected[k], amounts[k]) for k in set(expected) | set(amounts)
            if (expected[k], amounts[k]) != (0, 0)}
    have = {(ln.kind.value, ln.product): (ln.count, ln.amount_fen) for ln in msg.lines}
    if have != want:
        diff = sorted(set(have.items()) ^ set(want.items()))
        raise CaseFailed(f"settlement totals {sorted(have.items())} but the journal since "
                         f"{msg.since.isoformat()} gives {sorted(want.items())} "
                         f"(differing: {diff})")
    return f"{len(have)} settlement lines equal the journal since {msg.since.isoformat()}"


def device_status(ctx: Ctx) -> str:
    w = ctx.wire()
    a = ctx.status(w)
    b = ctx.status(w)
    problems = []
    for s in (a, b):
        if not -150 <= s.signal_dbm <= 0:
            problems.append(f"signal_dbm {s.signal_dbm} outside -150..0")
        if s.journal_unacked < 0:
            problems.append(f"journal_unacked {s.journal_unacked}")
        for name, count in s.error_counters:
            if not name or count < 0:
                problems.append(f"error counter {name!r} = {count}")
    if b.boot_id != a.boot_id:
        problems.append(f"boot_id changed between two readings ({a.boot_id}, {b.boot_id})")
    if b.uptime_ms < a.uptime_ms:
        problems.append(f"uptime went back ({a.uptime_ms} -> {b.uptime_ms} ms)")
    if problems:
        raise CaseFailed("; ".join(dict.fromkeys(problems)))
    return (f"every field present; signal {b.signal_dbm} dBm, uptime {b.uptime_ms} ms, "
            f"boot_id {b.boot_id}, {len(b.error_counters)} counters")


def claims_masking(ident: IdentifyResponse | None) -> bool:
    """``sl-2`` masks by definition (§4.2); other firmware claims it with a capability."""
    if ident is None:
        return False
    return ident.dialect.value == "sl-2" or bool({"masking", "masked"} & ident.capabilities)


def _pans(body: bytes) -> list[str]:
    """Problems with cards in a body: a DF40 anywhere, a DF41 that is not masked."""
    out = []
    for tag, value in parse_tlvs(body[11:]):
        if tag == TAG_RECORD:
            for inner, v in parse_tlvs(value, 0):
                if inner == TAG_PAN:
                    out.append("a full card number (DF40) in a journal record")
                elif inner == TAG_MASKED and not MASKED.match(v.decode("ascii", "replace")):
                    out.append("DF41 is not a masked card number")
        elif tag == TAG_PAN:
            out.append("a full card number (DF40)")
    return out


def card_mask(ctx: Ctx) -> str:
    if not claims_masking(ctx.identity):
        raise NotApplicable(label("na.masking", ctx.lang))
    w = ctx.wire()
    _, body = ctx.balance_inquiry(w)
    bodies = [body]
    after, pages = 0, 0
    while pages < 40:
        page, raw = ctx.journal_page(w, after, 50)
        bodies.append(raw)
        pages += 1
        if not page.more or not page.records:
            break
        after = page.records[-1].cursor
    for b in bodies:
        found = _pans(b)
        if found:
            raise CaseFailed(f"{found[0]}, from firmware that claims masking")
    return f"{len(bodies)} answers with card fields, every card number masked"


def _aware_cst(what: str, value: object) -> None:
    if not isinstance(value, datetime) or value.utcoffset() != CST:
        raise CaseFailed(f"{what}: {value!r} is not a CST (UTC+8) time")


def clock(ctx: Ctx) -> str:
    w = ctx.wire()
    h1 = ctx.host_time()
    ident, _ = w.request(IdentifyRequest(w.header(MsgType.IDENTIFY, ctx.seq()), h1))
    if not isinstance(ident, IdentifyResponse):
        raise CaseFailed(f"IDENTIFY answered with {type(ident).__name__}")
    m1 = ctx.clock()
    status = ctx.status(w)
    m2 = ctx.clock()
    t1, t2 = ident.terminal_time, status.terminal_time
    _aware_cst("IDENTIFY terminal_time", t1)
    _aware_cst("DEVICE_STATUS terminal_time", t2)
    skew = t1 - h1
    if abs(skew) > CLOCK_PLAUSIBLE:
        raise CaseFailed(f"terminal clock {t1.isoformat()} is {skew} off the host's "
                         f"{h1.isoformat()}: not plausible")
    elapsed = (t2 - t1).total_seconds()
    if abs(elapsed - (m2 - m1)) > CLOCK_CONSISTENT:
        raise CaseFailed(f"IDENTIFY and DEVICE_STATUS times {elapsed:.0f} s apart, the host "
                         f"saw {m2 - m1:.1f} s")
    page, _ = ctx.journal_page(w, 0, 50)
    for r in page.records:
        _aware_cst(f"record {r.cursor} terminal_time", r.terminal_time)
        if r.terminal_time > t2 + timedelta(seconds=CLOCK_CONSISTENT) and r.boot_id == (
                status.boot_id):
            raise CaseFailed(f"record {r.cursor} is dated {r.terminal_time.isoformat()}, after "
                             f"the terminal's own now {t2.isoformat()}")
    return (f"times aware (UTC+8), terminal {skew.total_seconds():+.0f} s from the host, "
            f"consistent across IDENTIFY, DEVICE_STATUS and {len(page.records)} records")

