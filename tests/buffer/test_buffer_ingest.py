"""The buffer's fast ingest path against an independent model, on real SQLite files.

Journal pages of every size (below and above the range-scan threshold), repeated records,
differing copies, unknowns (few and many), reversals of stored, same-page and missing
originals: the stored records, seqs, references, page results and conflict count must be
exactly what the model computes. Also: :func:`iso_text` is ``isoformat`` exactly.
"""

from __future__ import annotations

import tempfile
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import pytest
from buffer_fixtures import CARD, T0, cst_iso, traced_page
from hypothesis import given, settings
from hypothesis import strategies as st

from stationlink.buffer import Buffer, Entry, RefusedRecordError, Source, page
from stationlink.buffer.db import connect, immediate, iso_text
from stationlink.buffer.ingest import BATCH, SCAN_MIN
from stationlink.buffer.records import from_journal
from stationlink.errors import StorageError
from stationlink.protocol import ClearPan, JournalRecord, ResultCode, TxnKind, TxnStatus

COMPARED = ("kind", "amount_fen", "status", "client_ref", "original_ref")


def journal_record(n: int, variant: int = 0) -> JournalRecord:
    """Record ``n`` of a terminal; ``variant`` changes the amount (a differing copy)."""
    reversal = n % 5 == 0
    return JournalRecord(
        n, f"R{n:011d}", f"c{n}" if n % 3 else "",
        TxnKind.REVERSAL if reversal else TxnKind.WITHDRAWAL if n % 2 else TxnKind.BILL_PAYMENT,
        "" if reversal or n % 2 else "mobile", "" if n % 2 else "13800000000", 100 * n + variant,
        TxnStatus.DECLINED if n % 7 == 0 else TxnStatus.APPROVED, ResultCode.APPROVED,
        T0 + timedelta(seconds=n, microseconds=n % 4), 1000 * n, 1,
        card=CARD if n % 2 and not reversal else None,
        # reversals point at the record before them, or (every other one) at a missing ref
        original_ref=(f"R{n - 1:011d}" if n % 10 else "R-MISSING") if reversal else "",
    )


@dataclass
class Model:
    """What the buffer must hold: identity -> (seq, fields), references, conflicts."""

    rows: list[dict[str, Any]] = field(default_factory=list)
    by_ident: dict[tuple[str, str], dict[str, Any]] = field(default_factory=dict)
    conflicts: int = 0

    def seq_of(self, tid: str, ident: str) -> int | None:
        row = self.by_ident.get((tid, ident))
        return None if row is None else int(row["seq"])

    def txn(self, tid: str, rec: JournalRecord, source: Source) -> tuple[dict[str, Any], bool]:
        ident = "t:" + rec.ref
        got = {"kind": rec.kind.value, "amount_fen": rec.amount_fen, "status": rec.status.value,
               "client_ref": rec.client_ref, "original_ref": rec.original_ref}
        existing = self.by_ident.get((tid, ident))
        if existing is not None:
            self.conflicts += any(existing[k] != got[k] for k in COMPARED)
            return existing, False
        refers = self.seq_of(tid, "u:" + rec.client_ref) if rec.client_ref else None
        if refers is None and rec.original_ref:
            refers = self.seq_of(tid, "t:" + rec.original_ref)
        return self._add(tid, ident, "txn", refers, source.value, got), True

    def unknown(self, tid: str, client_ref: str, amount: int) -> dict[str, Any]:
        existing = self.by_ident.get((tid, "u:" + client_ref))
        if existing is not None:
            return existing
        got = {"kind": "bill_payment", "amount_fen": amount, "status": "",
               "client_ref": client_ref, "original_ref": ""}
        return self._add(tid, "u:" + client_ref, "unknown", None, "host", got)

    def _add(self, tid: str, ident: str, entry: str, refers: int | None, source: str,
             got: dict[str, Any]) -> dict[str, Any]:
        row = {"seq": len(self.rows) + 1, "terminal_id": tid, "ident": ident, "entry": entry,
               "refers_to_seq": refers, "source": source, **got}
        self.rows.append(row)
        self.by_ident[(tid, ident)] = row
        return row


def stored_rows(buf: Buffer) -> list[dict[str, Any]]:
    return [{"seq": r.seq, "terminal_id": r.terminal_id, "ident": r.ident, "entry": r.entry.value,
             "refers_to_seq": r.refers_to_seq, "source": r.source.value, "kind": r.kind,
             "amount_fen": r.amount_fen, "status": r.status, "client_ref": r.client_ref,
             "original_ref": r.original_ref} for r in buf.records()]


def check_record_matches(rec: Any, expected: dict[str, Any], tid: str) -> None:
    assert (rec.seq, rec.terminal_id, rec.ident, rec.refers_to_seq) == (
        expected["seq"], tid, expected["ident"], expected["refers_to_seq"])


op = st.one_of(
    st.tuples(st.just("page"), st.sampled_from(["T1", "T2"]),
              st.lists(st.integers(1, 120), max_size=2 * BATCH + 5), st.integers(0, 1)),
    st.tuples(st.just("live"), st.sampled_from(["T1", "T2"]),
              st.lists(st.integers(1, 60), min_size=1, max_size=3), st.integers(0, 1)),
    st.tuples(st.just("unknown"), st.sampled_from(["T1", "T2"]),
              st.lists(st.integers(1, 60), min_size=1, max_size=8), st.integers(0, 1)),
)


@settings(max_examples=25, deadline=None)
@given(st.lists(op, min_size=1, max_size=10))
def test_fast_path_matches_model(ops: list[tuple[str, str, list[int], int]]) -> None:
    model = Model()
    with tempfile.TemporaryDirectory() as tmp, Buffer.open(Path(tmp) / "b.sqlite", "S1") as buf:
        for kind, tid, numbers, variant in ops:
            if kind == "page":
                recs = [journal_record(n, variant) for n in numbers]
                page = buf.record_journal_page(tid, recs, T0, cursor=7)
                results = [model.txn(tid, r, Source.JOURNAL) for r in recs]
                fresh = [row for row, new in results if new]
                assert page.duplicates == len(recs) - len(fresh)
                assert len(page.stored) == len(fresh)
                for got, want in zip(page.stored, fresh, strict=True):
                    check_record_matches(got, want, tid)
                    assert got.source is Source.JOURNAL
                assert page.cursor == 7
            elif kind == "live":
                for n in numbers:
                    rec = journal_record(n, variant)
                    got = buf.record_result(tid, rec, T0)
                    check_record_matches(got, model.txn(tid, rec, Source.LIVE)[0], tid)
            else:
                for n in numbers:
                    got = buf.record_unknown(tid, f"c{n}", "bill_payment", "", "", n + variant, T0)
                    check_record_matches(got, model.unknown(tid, f"c{n}", n + variant), tid)
        assert stored_rows(buf) == model.rows
        assert buf.stats()["conflicts"] == model.conflicts


@pytest.mark.parametrize(("unknowns", "scan_only"), [(3, True), (40, False)])
def test_big_page_resolves_unknowns_with_few_or_many_on_file(
    buf: Buffer, unknowns: int, scan_only: bool
) -> None:
    """Few unknowns: found by one range scan; more than the page's client refs: probed."""
    seqs = {}
    for n in range(1, unknowns + 1):
        seqs[f"c{n}"] = buf.record_unknown("T1", f"c{n}", "bill_payment", "", "", n, T0).seq
    buf.record_unknown("T2", "c1", "bill_payment", "", "", 1, T0)  # another terminal's
    recs = [journal_record(n) for n in range(1, 31)]
    client_refs = sum(1 for r in recs if r.client_ref)
    assert client_refs >= SCAN_MIN
    assert (unknowns <= client_refs) is scan_only
    page, statements = traced_page(buf, recs)
    assert any("ident >= 'u:'" in s for s in statements)
    probed = any("SELECT ident, seq" in s and "ident IN" in s and "'u:" in s for s in statements)
    assert probed is not scan_only
    by_ref = {r.terminal_ref: r.seq for r in page.stored}
    assert len(page.stored) == len(recs)
    for rec in page.stored:
        want = seqs.get(rec.client_ref) if rec.client_ref else None
        if want is None and rec.original_ref:
            want = by_ref.get(rec.original_ref)
        assert rec.refers_to_seq == want
        assert buf.get(rec.seq) == rec
    assert any(r.refers_to_seq is not None and r.original_ref for r in page.stored)
    resolving = sum(1 for n in range(1, min(unknowns, 30) + 1) if n % 3)
    assert sum(1 for r in page.stored if r.client_ref in seqs) == resolving
    first = unknowns + 2
    assert [r.seq for r in page.stored] == list(range(first, first + len(recs)))


@pytest.mark.parametrize("size", [6, 30])
def test_reversal_refers_to_original_in_the_same_page(buf: Buffer, size: int) -> None:
    """Nothing on file yet: the originals are found among the page's own new records."""
    page = buf.record_journal_page("T1", [journal_record(n) for n in range(1, size + 1)], T0)
    by_ref = {r.terminal_ref: r for r in page.stored}
    reversals = [r for r in page.stored if r.kind == "reversal"]
    assert len(reversals) == size // 5
    for rev in reversals:
        original = by_ref.get(rev.original_ref)
        assert rev.refers_to_seq == (None if original is None else original.seq)
        assert (original is None) is (rev.original_ref == "R-MISSING")


def test_page_larger_than_insert_batches_is_stored_column_for_column(buf: Buffer) -> None:
    total = 2 * BATCH + 7
    early = [journal_record(n) for n in range(3, total, 9)]  # stored live first: duplicates
    for rec in early:
        buf.record_result("T1", rec, T0)
    wall = T0 + timedelta(hours=1)
    page = buf.record_journal_page("T1", [journal_record(n) for n in range(1, total + 1)], wall)
    assert page.duplicates == len(early)
    assert len(page.stored) == total - len(early)
    assert [r.seq for r in page.stored] == list(range(len(early) + 1, total + 1))
    assert list(buf.records(len(early))) == list(page.stored)  # read back from the file
    for got in page.stored:
        want = from_journal("S1", "T1", journal_record(int(got.terminal_ref[1:])), wall,
                            Source.JOURNAL)
        assert got == want._replace(seq=got.seq, refers_to_seq=got.refers_to_seq)
    assert any(r.refers_to_seq is not None for r in page.stored)


def test_big_page_refusal_stores_nothing(buf: Buffer) -> None:
    recs = [journal_record(n) for n in range(1, SCAN_MIN + 10)]
    bad = list(recs)
    bad[-3] = replace(bad[-3], card=ClearPan("6228480012345678"))
    with pytest.raises(RefusedRecordError, match="full card number"):
        buf.record_journal_page("T1", bad, T0)
    naive = list(recs)
    naive[5] = replace(naive[5], terminal_time=T0.replace(tzinfo=None))
    with pytest.raises(RefusedRecordError, match="terminal_time has no UTC offset"):
        buf.record_journal_page("T1", naive, T0)
    with pytest.raises(RefusedRecordError, match="wall_time has no UTC offset"):
        buf.record_journal_page("T1", recs, T0.replace(tzinfo=None))
    assert (buf.last_seq(), buf.get_cursor("T1")) == (0, None)
    page = buf.record_journal_page("T1", recs, T0)
    assert [r.seq for r in page.stored] == list(range(1, len(recs) + 1))
    assert {r.entry for r in page.stored} == {Entry.TXN}
    assert buf.get_cursor("T1") == len(recs)


offsets = st.timedeltas(min_value=timedelta(hours=-23, minutes=-59),
                        max_value=timedelta(hours=23, minutes=59))
zones = st.one_of(st.none(), st.builds(timezone, offsets), st.just(UTC))


@settings(max_examples=300, deadline=None)
@given(st.datetimes(timezones=zones), st.integers(0, 3))
def test_iso_text_is_isoformat(ts: datetime, later_minutes: int) -> None:
    assert iso_text(ts) == cst_iso(ts)
    assert ts.tzinfo is None or datetime.fromisoformat(iso_text(ts)) == ts
    again = ts + timedelta(minutes=later_minutes, seconds=later_minutes) \
        if ts.year < 9999 else ts
    assert iso_text(again) == cst_iso(again)  # same hour: from the cache
    assert iso_text(ts) == cst_iso(ts)


def live_sequence(buf: Buffer) -> list[Any]:
    """Live results covering every branch of the one-record path; returns what each call gave."""
    out: list[Any] = [buf.record_unknown("T1", "c1", "bill_payment", "", "", 1, T0)]
    for n, variant in [(1, 0), (4, 0), (5, 0), (1, 0), (1, 7), (10, 0), (2, 0), (2, 3)]:
        out.append(buf.record_result("T1", journal_record(n, variant), T0, source=Source.LIVE))
    return out


def test_live_result_path_without_returning_is_the_same(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """SQLite before 3.35 has no RETURNING: the page path stores live results identically."""
    with Buffer.open(tmp_path / "a.sqlite", "S1") as one:
        got = live_sequence(one)
        stored, conflicts = list(one.records()), one.stats()["conflicts"]
        statements: list[str] = []
        one._conn.set_trace_callback(statements.append)
        one.record_result("T1", journal_record(11), T0)
        one._conn.set_trace_callback(None)
    assert len(statements) == 3  # as many as a raw insert: BEGIN, the INSERT, COMMIT
    assert statements[1].startswith("INSERT INTO records")
    assert statements[1].endswith("RETURNING seq, refers_to_seq")
    monkeypatch.setattr(page, "RETURNING", False)
    with Buffer.open(tmp_path / "b.sqlite", "S1") as two:
        assert live_sequence(two) == got
        assert (list(two.records()), two.stats()["conflicts"]) == (stored, conflicts)
        statements.clear()
        two._conn.set_trace_callback(statements.append)
        two.record_result("T1", journal_record(11), T0)
        two._conn.set_trace_callback(None)
    assert len(statements) == 5  # BEGIN, look-up, MAX(seq), INSERT, COMMIT
    assert conflicts == 2
    refers = {r.terminal_ref: r.refers_to_seq for r in stored if r.entry is Entry.TXN}
    assert refers == {"R00000000001": 1, "R00000000004": None, "R00000000005": 3,
                      "R00000000010": None, "R00000000002": None}
    assert got[4] == got[5] == got[1]  # the stored copy, not the received one
    assert got[8] == got[7]


def write(conn: Any, *values: int | None, then_raise: bool = False) -> None:
    with immediate(conn, "t.sqlite") as c:
        for value in values:
            c.execute("INSERT INTO t VALUES (?)", (value,))
        if then_raise:
            raise KeyError("mine")


def test_immediate_commits_or_rolls_back(tmp_path: Path) -> None:
    db = connect(tmp_path / "t.sqlite", create=True)
    conn = db.conn
    try:
        conn.execute("CREATE TABLE t (x INTEGER NOT NULL)")
        write(conn, 1)
        with pytest.raises(StorageError, match=r"t\.sqlite: NOT NULL constraint failed"):
            write(conn, 2, None)
        with pytest.raises(KeyError, match="mine"):
            write(conn, 3, then_raise=True)
        assert conn.execute("SELECT x FROM t").fetchall() == [(1,)]
        assert not conn.in_transaction
        conn.execute("BEGIN")  # a transaction already open: BEGIN IMMEDIATE fails
        with pytest.raises(StorageError, match="cannot begin transaction"):
            write(conn, 4)
        conn.execute("ROLLBACK")
        assert conn.execute("SELECT x FROM t").fetchall() == [(1,)]
    finally:
        conn.close()
