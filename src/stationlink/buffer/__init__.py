"""The station PC's local transaction buffer (``docs/buffer.md``).

Public API::

    buf = Buffer.open(path, station_id)          # one SQLite file, WAL, synchronous=FULL
    buf.record_result(terminal_id, journal_record, wall_time)   -> StoredRecord (committed)
    buf.record_journal_page(terminal_id, records, wall_time)    -> PageResult (records+cursor)
    buf.record_unknown(terminal_id, client_ref, kind, product, account, amount_fen, wall_time)
    buf.record_void(terminal_id, client_ref, wall_time)
    buf.record_referral(product, wall_time=..., referral_id=None, note="")  # pseudo-terminal PC
    buf.cancel_referral(referral_id, wall_time=...)   # a new record; the referral is reversed
    buf.next_batch(limit) / buf.unsynced(limit) / buf.mark_synced(hub_high_water_mark)
    buf.transactions()                            # the effective interchange rows
    buf.record_device_status(terminal_id, DeviceReading(...), wall_time)
    buf.check_settlement(terminal_id, TerminalTotals(since, lines), wall_time) -> [Mismatch]
    buf.stats()
"""

from .fold import FoldResult, fold
from .health import (
    DeviceReading,
    DeviceSnapshot,
    Mismatch,
    Quarantined,
    TerminalTotals,
    TotalsLine,
)
from .records import Batch, Entry, RefusedRecordError, Source, StoredRecord
from .store import Buffer, PageResult, default_path

__all__ = [
    "Batch",
    "Buffer",
    "DeviceReading",
    "DeviceSnapshot",
    "Entry",
    "FoldResult",
    "Mismatch",
    "PageResult",
    "Quarantined",
    "RefusedRecordError",
    "Source",
    "StoredRecord",
    "TerminalTotals",
    "TotalsLine",
    "default_path",
    "fold",
]
