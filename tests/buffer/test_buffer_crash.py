"""A writer killed without warning loses nothing it reported as committed."""

from __future__ import annotations

import subprocess
import sys
import time
from pathlib import Path

import pytest

from stationlink.buffer import Buffer

pytestmark = pytest.mark.slow  # a real writer process, killed

WRITER = r"""
import sys
from datetime import datetime, timedelta
from stationlink.buffer import Buffer
from stationlink.money import CST
from stationlink.protocol import JournalRecord, ResultCode, TxnKind, TxnStatus

t0 = datetime(2026, 10, 5, 9, 0, tzinfo=CST)
with Buffer.open(sys.argv[1], "S1") as buf:
    n = 0
    while True:
        n += 1
        rec = JournalRecord(n, f"R{n:011d}", "", TxnKind.BILL_PAYMENT, "mobile", "13800000000", 100,
                            TxnStatus.APPROVED, ResultCode.APPROVED, t0, n, 1)
        stored = buf.record_result("T1", rec, t0 + timedelta(seconds=n))
        print(stored.seq, flush=True)
"""


def test_killed_writer_keeps_every_acknowledged_record(tmp_path: Path) -> None:
    path = tmp_path / "b.sqlite"
    proc = subprocess.Popen(
        [sys.executable, "-c", WRITER, str(path)], stdout=subprocess.PIPE, text=True
    )
    assert proc.stdout is not None
    acknowledged: list[int] = []
    deadline = time.monotonic() + 30
    while len(acknowledged) < 200 and time.monotonic() < deadline:
        line = proc.stdout.readline()
        if not line:
            break
        acknowledged.append(int(line))
    proc.kill()
    proc.wait()
    proc.stdout.close()
    assert len(acknowledged) >= 200
    with Buffer.open(path) as buf:
        seqs = [r.seq for r in buf.records()]
    assert seqs == list(range(1, len(seqs) + 1))
    assert set(acknowledged) <= set(seqs)
