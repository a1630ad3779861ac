"""Property: whatever order and repetition records arrive in, each identity is stored once
and seqs are exactly 1..n."""

from __future__ import annotations

import tempfile
from datetime import timedelta
from pathlib import Path

from buffer_fixtures import T0
from hypothesis import given, settings
from hypothesis import strategies as st

from stationlink.buffer import Buffer
from stationlink.protocol import JournalRecord, ResultCode, TxnKind, TxnStatus


def rec(terminal: int, n: int, client_ref: str) -> JournalRecord:
    return JournalRecord(
        n, f"R{terminal}{n:010d}", client_ref, TxnKind.BILL_PAYMENT, "mobile", "13800000000",
        100 * n, TxnStatus.APPROVED, ResultCode.APPROVED, T0 + timedelta(seconds=n), n, 1,
    )


ops = st.lists(
    st.tuples(
        st.sampled_from(["live", "page", "unknown"]),
        st.integers(1, 2),
        st.lists(st.integers(1, 12), min_size=1, max_size=5),
    ),
    min_size=1,
    max_size=25,
)


@settings(max_examples=30, deadline=None)
@given(ops)
def test_identity_once_and_gap_free(operations: list[tuple[str, int, list[int]]]) -> None:
    expected: set[tuple[str, str]] = set()
    with tempfile.TemporaryDirectory() as tmp, Buffer.open(Path(tmp) / "b.sqlite", "S1") as buf:
        for op, terminal, numbers in operations:
            tid = f"T{terminal}"
            if op == "live":
                for n in numbers:
                    buf.record_result(tid, rec(terminal, n, f"c{n}"), T0)
                    expected.add((tid, f"t:R{terminal}{n:010d}"))
            elif op == "page":
                buf.record_journal_page(tid, [rec(terminal, n, f"c{n}") for n in numbers], T0)
                expected |= {(tid, f"t:R{terminal}{n:010d}") for n in numbers}
            else:
                for n in numbers:
                    buf.record_unknown(tid, f"c{n}", "bill_payment", "mobile", "138", n, T0)
                    expected.add((tid, f"u:c{n}"))
        records = list(buf.records())
        assert [r.seq for r in records] == list(range(1, len(records) + 1))
        assert sorted((r.terminal_id, r.ident) for r in records) == sorted(expected)
        for r in records:
            if r.entry == "txn" and r.refers_to_seq is not None:
                target = buf.get(r.refers_to_seq)
                assert target is not None
                assert (target.entry, target.client_ref) == ("unknown", r.client_ref)
                assert target.seq < r.seq
