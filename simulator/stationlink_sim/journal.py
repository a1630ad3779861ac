"""A terminal's append-only transaction journal, optionally kept in a JSON-lines file.

Contract:
- Records are :class:`~stationlink.protocol.messages.JournalRecord` with strictly increasing
  cursors starting at 1, never reused (also across power cycles and restarts from the file).
- ``ref`` is 12 characters, unique per terminal: 4 digits of the boot id then 8 digits of the
  cursor. ``client_ref`` lookups return the newest record with that host reference.
- Records are never changed. A reversal is a new ``reversal`` record naming ``original_ref``;
  :meth:`Journal.current` shows a reversed original with status ``reversed`` (the status-query
  view, also :meth:`Journal.records_now` for all records), while :meth:`Journal.read` pages
  the records exactly as they were appended.
- ``ack(upto)`` moves the acknowledged cursor forward only; acking past the last cursor is a
  :class:`~stationlink.errors.SimulatorError`. ``forget_ack()`` sets it back to 0 (only the
  ``cursor_reset_on_power_cycle`` deviation does that; written as ``{"ack_lost": true}``).
- Persistence (``path`` given): every append/ack/settlement is one JSON line appended to the
  file. **No full card number is ever written**: a ``ClearPan`` is stored as its ``CardRef``
  (masked number + token under the terminal's card key); the clear number stays in memory
  only. Loading a file therefore yields ``CardRef`` cards. A bad line raises ``ConfigError``
  naming file and line; nothing after it is guessed.
- Thread-safe: one lock guards every operation.
"""

from __future__ import annotations

import dataclasses
import json
import threading
from collections.abc import Iterator
from datetime import datetime
from pathlib import Path
from typing import Any

from stationlink.errors import ConfigError, SimulatorError
from stationlink.protocol import (
    Card,
    CardRef,
    ClearPan,
    JournalRecord,
    ResultCode,
    TxnKind,
    TxnStatus,
)
from stationlink.records import TERMINAL_KINDS

REF_LENGTH = 12


def make_ref(boot_id: int, cursor: int) -> str:
    """The terminal reference of the record at ``cursor``: 12 digits, unique per terminal."""
    return f"{boot_id % 10_000:04d}{cursor % 100_000_000:08d}"


class Journal:
    """Append-only journal with paging, acknowledgement, settlement cut and status lookups."""

    def __init__(self, *, path: Path | None = None, card_key: bytes = b"") -> None:
        self._lock = threading.RLock()
        self._records: list[JournalRecord] = []
        self._by_ref: dict[str, int] = {}
        self._by_client_ref: dict[str, int] = {}
        self._reversed: set[str] = set()
        self._acked = 0
        self._settled_cursor = 0
        self._settled_at: datetime | None = None
        self._path = path
        self._card_key = card_key
        if path is not None and path.exists():
            self._load(path)
        elif path is not None:
            try:
                path.parent.mkdir(parents=True, exist_ok=True)
            except OSError as exc:
                raise ConfigError(f"{path}: cannot create the journal's folder: {exc}") from exc

    # ------------------------------------------------------------------ queries

    @property
    def last_cursor(self) -> int:
        with self._lock:
            return self._records[-1].cursor if self._records else 0

    @property
    def acked_cursor(self) -> int:
        with self._lock:
            return self._acked

    @property
    def settled_cursor(self) -> int:
        with self._lock:
            return self._settled_cursor

    @property
    def settled_at(self) -> datetime | None:
        with self._lock:
            return self._settled_at

    @property
    def max_boot_id(self) -> int:
        with self._lock:
            return max((r.boot_id for r in self._records), default=0)

    def __len__(self) -> int:
        with self._lock:
            return len(self._records)

    def __iter__(self) -> Iterator[JournalRecord]:
        with self._lock:
            return iter(list(self._records))

    def unacked(self) -> int:
        with self._lock:
            return sum(1 for r in self._records if r.cursor > self._acked)

    def is_reversed(self, ref: str) -> bool:
        with self._lock:
            return ref in self._reversed

    def current(self, *, ref: str = "", client_ref: str = "") -> JournalRecord | None:
        """The record by terminal ``ref`` (preferred) or host ``client_ref``, status as of now."""
        with self._lock:
            index: int | None = None
            if ref:
                index = self._by_ref.get(ref)
            elif client_ref:
                index = self._by_client_ref.get(client_ref)
            if index is None:
                return None
            record = self._records[index]
            if record.ref in self._reversed:
                return dataclasses.replace(record, status=TxnStatus.REVERSED)
            return record

    def records_now(self) -> list[JournalRecord]:
        """Every record in cursor order, a reversed original with status ``reversed``."""
        with self._lock:
            return [
                dataclasses.replace(r, status=TxnStatus.REVERSED) if r.ref in self._reversed
                else r for r in self._records
            ]

    def read(self, after_cursor: int, max_records: int) -> tuple[tuple[JournalRecord, ...], bool]:
        """Up to ``max_records`` records with cursor > ``after_cursor``, and whether more exist."""
        if max_records < 1:
            raise SimulatorError("max_records must be at least 1")
        with self._lock:
            start = self._first_index_after(after_cursor)
            page = tuple(self._records[start : start + max_records])
            more = start + max_records < len(self._records)
            return page, more

    def since_settlement(self) -> list[JournalRecord]:
        with self._lock:
            return self._records[self._first_index_after(self._settled_cursor) :]

    def _first_index_after(self, cursor: int) -> int:
        lo, hi = 0, len(self._records)
        while lo < hi:  # cursors are strictly increasing: binary search
            mid = (lo + hi) // 2
            if self._records[mid].cursor <= cursor:
                lo = mid + 1
            else:
                hi = mid
        return lo

    # ---------------------------------------------------------------- mutations

    def append(self, record: JournalRecord) -> JournalRecord:
        """Store ``record``; its cursor must be ``next_cursor()`` and its ref new."""
        with self._lock:
            if record.cursor != self.last_cursor + 1:
                raise SimulatorError(f"journal cursor {record.cursor} is not next")
            if record.ref in self._by_ref or len(record.ref) != REF_LENGTH:
                raise SimulatorError(f"journal ref {record.ref!r} is not new and 12 characters")
            self._add(record)
            self._write({"record": self._record_to_json(record)})
            return record

    def next_cursor(self) -> int:
        with self._lock:
            return self.last_cursor + 1

    def ack(self, upto_cursor: int) -> int:
        """Acknowledge every record up to ``upto_cursor``; returns the acknowledged cursor."""
        with self._lock:
            if upto_cursor > self.last_cursor:
                raise SimulatorError(
                    f"cannot acknowledge cursor {upto_cursor}: last is {self.last_cursor}"
                )
            if upto_cursor > self._acked:
                self._acked = upto_cursor
                self._write({"ack": upto_cursor})
            return self._acked

    def forget_ack(self) -> None:
        """Lose the acknowledged cursor (back to 0): the deviation of a firmware keeping it
        in RAM (``deviations.py``, ``cursor_reset_on_power_cycle``)."""
        with self._lock:
            self._acked = 0
            self._write({"ack_lost": True})

    def settle(self, at: datetime) -> None:
        """Close the settlement period: totals restart after the current last cursor."""
        with self._lock:
            self._settled_cursor = self.last_cursor
            self._settled_at = at
            self._write({"settled": self._settled_cursor, "at": at.isoformat()})

    def _add(self, record: JournalRecord) -> None:
        self._by_ref[record.ref] = len(self._records)
        if record.client_ref:
            self._by_client_ref[record.client_ref] = len(self._records)
        if (
            record.kind is TxnKind.REVERSAL
            and record.status is TxnStatus.APPROVED
            and record.original_ref
        ):
            self._reversed.add(record.original_ref)
        self._records.append(record)

    # -------------------------------------------------------------- persistence

    def _write(self, obj: dict[str, Any]) -> None:
        if self._path is None:
            return
        line = json.dumps(obj, ensure_ascii=False, sort_keys=True)
        try:
            with self._path.open("a", encoding="utf-8") as fh:
                fh.write(line + "\n")
        except OSError as exc:
            raise SimulatorError(f"{self._path}: cannot write journal: {exc}") from exc

    def _card_to_json(self, card: Card | None) -> dict[str, str] | None:
        if card is None:
            return None
        ref = card.to_ref(self._card_key) if isinstance(card, ClearPan) else card
        return {"masked": ref.masked, "token": ref.token}

    def _record_to_json(self, r: JournalRecord) -> dict[str, Any]:
        return {
            "cursor": r.cursor,
            "ref": r.ref,
            "client_ref": r.client_ref,
            "kind": r.kind.value,
            "product": r.product,
            "account": r.account,
            "amount_fen": r.amount_fen,
            "status": r.status.value,
            "result": int(r.result),
            "terminal_time": r.terminal_time.isoformat(),
            "uptime_ms": r.uptime_ms,
            "boot_id": r.boot_id,
            "card": self._card_to_json(r.card),
            "original_ref": r.original_ref,
        }

    @staticmethod
    def _record_from_json(d: dict[str, Any]) -> JournalRecord:
        card = d.get("card")
        when = datetime.fromisoformat(d["terminal_time"])
        if when.tzinfo is None:
            raise ValueError("terminal_time has no UTC offset")
        if d["kind"] not in TERMINAL_KINDS:
            raise ValueError(f"kind {d['kind']!r} is not a kind a terminal journals")
        return JournalRecord(
            cursor=int(d["cursor"]),
            ref=str(d["ref"]),
            client_ref=str(d["client_ref"]),
            kind=TxnKind(d["kind"]),
            product=str(d["product"]),
            account=str(d["account"]),
            amount_fen=int(d["amount_fen"]),
            status=TxnStatus(d["status"]),
            result=ResultCode(int(d["result"])),
            terminal_time=when,
            uptime_ms=int(d["uptime_ms"]),
            boot_id=int(d["boot_id"]),
            card=None if card is None else CardRef(str(card["masked"]), str(card["token"])),
            original_ref=str(d.get("original_ref", "")),
        )

    def _load(self, path: Path) -> None:
        try:
            text = path.read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError) as exc:
            raise ConfigError(f"{path}: cannot read journal: {exc}") from exc
        for lineno, line in enumerate(text.splitlines(), start=1):
            if not line.strip():
                continue
            try:
                obj = json.loads(line)
                if "record" in obj:
                    record = self._record_from_json(obj["record"])
                    if record.cursor <= self.last_cursor or record.ref in self._by_ref:
                        raise ValueError(f"cursor {record.cursor} / ref {record.ref} repeats")
                    self._add(record)
                elif "ack" in obj:
                    self._acked = max(self._acked, int(obj["ack"]))
                elif obj.get("ack_lost") is True:
                    self._acked = 0
                elif "settled" in obj:
                    self._settled_cursor = int(obj["settled"])
                    self._settled_at = datetime.fromisoformat(obj["at"])
                else:
                    raise ValueError("line is neither a record, an ack nor a settlement")
            except (ValueError, KeyError, TypeError, AttributeError) as exc:
                raise ConfigError(f"{path}: line {lineno}: bad journal line: {exc}") from exc
