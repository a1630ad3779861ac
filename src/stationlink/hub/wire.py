"""The JSON shapes the sync agent and the hub exchange (``docs/hub.md``).

Batch (``POST /v1/stations/{station_id}/batches``)::

    {"station_id": "S1", "first_seq": 41, "last_seq": 42,
     "records": [{"seq": 41, "entry": "txn", "terminal_id": "T1", ...}, {"seq": 42, ...}]}

Contract:
- :func:`batch_to_json` / :func:`parse_batch` are exact inverses for valid batches.
- :func:`parse_batch` checks everything and raises :class:`MalformedBatchError` naming the
  first bad spot as a JSON path (``records[3].amount_fen``) with the reason: unknown or
  missing fields, wrong types (a bool is not an integer; money is integer fen, never a
  float), naive timestamps, seqs that are not exactly ``first_seq..last_seq`` in order,
  a card field holding something that looks like a full card number. Referral records
  (entries ``referral`` and ``cancel``, ``docs/buffer.md``) are kind ``referral`` with a
  referral product, under the pseudo-terminal ``PC``, the referral id in ``client_ref``;
  a referral's status is ``approved``, a cancellation has none.
"""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from typing import Any

from ..buffer.records import (
    KIND_VALUES,
    REFERRAL_ENTRIES,
    REFERRAL_KIND,
    REFERRAL_PRODUCT_VALUES,
    REFERRAL_TERMINAL,
    STATUS_VALUES,
    Batch,
    Entry,
    Source,
    StoredRecord,
)
from ..errors import StationLinkError

MAX_RECORDS = 10_000
MAX_TEXT = 200


class MalformedBatchError(StationLinkError):
    """A batch or status document that does not validate: ``path`` names the bad spot."""

    exit_code = 9

    def __init__(self, path: str, reason: str) -> None:
        super().__init__(f"{path}: {reason}")
        self.path = path
        self.reason = reason


def record_to_json(rec: StoredRecord) -> dict[str, Any]:
    return {
        "seq": rec.seq,
        "entry": rec.entry.value,
        "terminal_id": rec.terminal_id,
        "terminal_ref": rec.terminal_ref,
        "client_ref": rec.client_ref,
        "kind": rec.kind,
        "product": rec.product,
        "account": rec.account,
        "amount_fen": rec.amount_fen,
        "status": rec.status,
        "result": rec.result,
        "card_token": rec.card_token,
        "card_masked": rec.card_masked,
        "original_ref": rec.original_ref,
        "refers_to_seq": rec.refers_to_seq,
        "source": rec.source.value,
        "wall_time": rec.wall_time.isoformat(),
        "terminal_time": None if rec.terminal_time is None else rec.terminal_time.isoformat(),
        "uptime_ms": rec.uptime_ms,
        "boot_id": rec.boot_id,
        "journal_cursor": rec.journal_cursor,
    }


def batch_to_json(batch: Batch) -> dict[str, Any]:
    return {
        "station_id": batch.station_id,
        "first_seq": batch.first_seq,
        "last_seq": batch.last_seq,
        "records": [record_to_json(r) for r in batch.records],
    }


RECORD_FIELDS = (
    "seq", "entry", "terminal_id", "terminal_ref", "client_ref", "kind", "product", "account",
    "amount_fen", "status", "result", "card_token", "card_masked", "original_ref",
    "refers_to_seq", "source", "wall_time", "terminal_time", "uptime_ms", "boot_id",
    "journal_cursor",
)
NULLABLE_INT = ("result", "refers_to_seq", "uptime_ms", "boot_id", "journal_cursor")


class _Reader:
    """Typed access to one JSON object, raising MalformedBatchError with the path."""

    def __init__(self, obj: object, path: str, fields: tuple[str, ...]) -> None:
        if not isinstance(obj, dict):
            raise MalformedBatchError(path or "$", f"expected an object, got {_type(obj)}")
        for key in obj:
            if key not in fields:
                raise MalformedBatchError(_join(path, str(key)), "unexpected field")
        for key in fields:
            if key not in obj:
                raise MalformedBatchError(_join(path, key), "missing field")
        self.obj: dict[str, Any] = obj
        self.path = path

    def where(self, key: str) -> str:
        return _join(self.path, key)

    def text(self, key: str, *, required: bool = False) -> str:
        value = self.obj[key]
        if not isinstance(value, str):
            raise MalformedBatchError(self.where(key), f"expected a string, got {_type(value)}")
        if required and not value:
            raise MalformedBatchError(self.where(key), "must not be empty")
        if len(value) > MAX_TEXT:
            raise MalformedBatchError(self.where(key), f"longer than {MAX_TEXT} characters")
        return value

    def integer(self, key: str, *, minimum: int | None = None) -> int:
        value = self.obj[key]
        if not isinstance(value, int) or isinstance(value, bool):
            raise MalformedBatchError(self.where(key), f"expected an integer, got {_type(value)}")
        if minimum is not None and value < minimum:
            raise MalformedBatchError(self.where(key), f"must be at least {minimum}, got {value}")
        return value

    def maybe_int(self, key: str) -> int | None:
        return None if self.obj[key] is None else self.integer(key)

    def timestamp(self, key: str, *, nullable: bool = False) -> datetime | None:
        value = self.obj[key]
        if value is None and nullable:
            return None
        text = self.text(key)
        try:
            ts = datetime.fromisoformat(text)
        except ValueError:
            raise MalformedBatchError(self.where(key), f"not an ISO 8601 time: {text!r}") from None
        if ts.tzinfo is None:
            raise MalformedBatchError(self.where(key), f"time without a UTC offset: {text!r}")
        return ts


def _join(path: str, key: str) -> str:
    return f"{path}.{key}" if path else key


def _type(value: object) -> str:
    if value is None:
        return "null"
    if isinstance(value, (float, Decimal)):
        return f"the fractional number {value}"
    return {"str": "a string", "int": "an integer", "bool": "a boolean", "list": "an array",
            "dict": "an object"}.get(type(value).__name__, type(value).__name__)


def parse_record(obj: object, path: str, station_id: str) -> StoredRecord:
    r = _Reader(obj, path, RECORD_FIELDS)
    entry_text = r.text("entry")
    if entry_text not in {e.value for e in Entry}:
        raise MalformedBatchError(r.where("entry"), f"unknown entry {entry_text!r}")
    entry = Entry(entry_text)
    source_text = r.text("source")
    if source_text not in {s.value for s in Source}:
        raise MalformedBatchError(r.where("source"), f"unknown source {source_text!r}")
    kind = r.text("kind")
    referral = entry in REFERRAL_ENTRIES
    if referral and kind != REFERRAL_KIND:
        raise MalformedBatchError(r.where("kind"), f"a {entry.value} record is of kind "
                                  f"{REFERRAL_KIND!r}, not {kind!r}")
    if not referral and kind not in KIND_VALUES:
        raise MalformedBatchError(r.where("kind"), f"unknown kind {kind!r}")
    status = r.text("status")
    if entry is Entry.TXN and status not in STATUS_VALUES:
        raise MalformedBatchError(r.where("status"), f"unknown status {status!r}")
    if entry is Entry.REFERRAL and status != "approved":
        raise MalformedBatchError(r.where("status"), f"a referral's status is 'approved', "
                                  f"not {status!r}")
    if entry is not Entry.TXN and entry is not Entry.REFERRAL and status:
        raise MalformedBatchError(r.where("status"), f"a {entry.value} record has no status")
    token, masked = r.text("card_token"), r.text("card_masked")
    for key, value in (("card_token", token), ("card_masked", masked)):
        if value.isdigit() and len(value) >= 12:
            raise MalformedBatchError(r.where(key), "looks like a full card number; refused")
    wall = r.timestamp("wall_time")
    if wall is None:
        raise MalformedBatchError(r.where("wall_time"), "must not be null")
    rec = StoredRecord(
        seq=r.integer("seq", minimum=1),
        station_id=station_id,
        terminal_id=r.text("terminal_id", required=True),
        entry=entry,
        terminal_ref=r.text("terminal_ref", required=entry is Entry.TXN),
        client_ref=r.text("client_ref", required=entry is not Entry.TXN),
        kind=kind,
        product=r.text("product"),
        account=r.text("account"),
        amount_fen=r.integer("amount_fen", minimum=0),
        status=status,
        result=r.maybe_int("result"),
        card_token=token,
        card_masked=masked,
        original_ref=r.text("original_ref"),
        refers_to_seq=r.maybe_int("refers_to_seq"),
        source=Source(source_text),
        wall_time=wall,
        terminal_time=r.timestamp("terminal_time", nullable=True),
        uptime_ms=r.maybe_int("uptime_ms"),
        boot_id=r.maybe_int("boot_id"),
        journal_cursor=r.maybe_int("journal_cursor"),
    )
    if referral and rec.terminal_id != REFERRAL_TERMINAL:
        raise MalformedBatchError(r.where("terminal_id"), f"a {entry.value} record belongs to "
                                  f"the pseudo-terminal {REFERRAL_TERMINAL!r}")
    if referral and rec.product not in REFERRAL_PRODUCT_VALUES:
        raise MalformedBatchError(r.where("product"), f"not a referral product: {rec.product!r}")
    if entry is Entry.TXN and rec.terminal_time is None:
        raise MalformedBatchError(r.where("terminal_time"), "a txn record needs the terminal time")
    if kind == "reversal" and entry is Entry.TXN and not rec.original_ref:
        raise MalformedBatchError(r.where("original_ref"), "a reversal needs original_ref")
    return rec


_FIELD_SET = frozenset(RECORD_FIELDS)
_ENTRIES = {e.value: e for e in Entry}
_SOURCES = {s.value: s for s in Source}
_TXN = Entry.TXN
_REFERRAL = Entry.REFERRAL
_make = StoredRecord._make  # tuple.__new__: no keyword handling


def _plain_text(value: object) -> bool:
    return type(value) is str and len(value) <= MAX_TEXT


def _card_like(value: str) -> bool:
    return len(value) >= 12 and value.isdigit()


def _aware(value: object) -> datetime | None:
    if type(value) is not str or len(value) > MAX_TEXT:
        return None
    try:
        ts = datetime.fromisoformat(value)
    except ValueError:
        return None
    return ts if ts.tzinfo is not None else None


def fast_record(obj: object, station_id: str, seq: int) -> StoredRecord | None:
    """The record at ``seq`` when ``obj`` is plainly valid, else ``None``.

    The common case without the per-field reader: it accepts only what
    :func:`parse_record` accepts, builds the identical record, and returns ``None`` at the
    first doubt so that :func:`parse_record` finds and names the problem (a test checks the
    two agree on valid and broken records).
    """
    if type(obj) is not dict or obj.keys() != _FIELD_SET:
        return None
    o: dict[str, Any] = obj
    entry = _ENTRIES.get(o["entry"]) if type(o["entry"]) is str else None
    source = _SOURCES.get(o["source"]) if type(o["source"]) is str else None
    if entry is None or source is None or o["seq"] != seq or type(o["seq"]) is not int:
        return None
    texts = (o["terminal_id"], o["terminal_ref"], o["client_ref"], o["kind"], o["product"],
             o["account"], o["status"], o["card_token"], o["card_masked"], o["original_ref"])
    if not all(map(_plain_text, texts)):
        return None
    terminal_id, terminal_ref, client_ref, kind, product, account, status, token, masked, \
        original_ref = texts
    txn = entry is _TXN
    if entry in REFERRAL_ENTRIES:
        if (terminal_id != REFERRAL_TERMINAL or kind != REFERRAL_KIND or not client_ref
                or product not in REFERRAL_PRODUCT_VALUES
                or status != ("approved" if entry is _REFERRAL else "")):
            return None
    elif (not terminal_id or kind not in KIND_VALUES
            or (not terminal_ref if txn else not client_ref)
            or (status not in STATUS_VALUES if txn else status != "")
            or (txn and kind == "reversal" and not original_ref)):
        return None
    if _card_like(token) or _card_like(masked):
        return None
    amount = o["amount_fen"]
    if type(amount) is not int or amount < 0:
        return None
    ints = (o["result"], o["refers_to_seq"], o["uptime_ms"], o["boot_id"], o["journal_cursor"])
    for value in ints:
        if value is not None and type(value) is not int:
            return None
    wall = _aware(o["wall_time"])
    terminal = o["terminal_time"]
    if terminal is not None:
        terminal = _aware(terminal)
        if terminal is None:
            return None
    elif txn:
        return None
    if wall is None:
        return None
    return _make((
        seq, station_id, terminal_id, entry, terminal_ref, client_ref, kind, product,
        account, amount, status, ints[0], token, masked, original_ref, ints[1], source, wall,
        terminal, ints[2], ints[3], ints[4],
    ))


def parse_batch(obj: object, station_id: str | None = None) -> Batch:
    """Validate a decoded JSON batch (module contract); ``station_id`` must match if given."""
    r = _Reader(obj, "", ("station_id", "first_seq", "last_seq", "records"))
    sid = r.text("station_id", required=True)
    if station_id is not None and sid != station_id:
        raise MalformedBatchError("station_id", f"{sid!r} does not match the URL's {station_id!r}")
    first = r.integer("first_seq", minimum=1)
    last = r.integer("last_seq", minimum=first)
    items = r.obj["records"]
    if not isinstance(items, list):
        raise MalformedBatchError("records", f"expected an array, got {_type(items)}")
    if len(items) != last - first + 1:
        raise MalformedBatchError(
            "records", f"{len(items)} records for seq {first}..{last} ({last - first + 1} needed)"
        )
    if len(items) > MAX_RECORDS:
        raise MalformedBatchError("records", f"more than {MAX_RECORDS} records in one batch")
    records = []
    for i, item in enumerate(items):
        fast = fast_record(item, sid, first + i)
        if fast is not None:
            records.append(fast)
            continue
        rec = parse_record(item, f"records[{i}]", sid)
        if rec.seq != first + i:
            raise MalformedBatchError(
                f"records[{i}].seq",
                f"expected {first + i} (gap-free from first_seq), got {rec.seq}",
            )
        records.append(rec)
    return Batch(sid, first, last, tuple(records))


DEVICE_FIELDS = (
    "terminal_id", "wall_time", "paper_ok", "error_counters", "signal_dbm", "uptime_ms",
    "boot_id", "terminal_time", "journal_unacked",
)
AGENT_FIELDS = (
    "backlog", "oldest_unsynced", "quarantined_records", "unresolved_unknown", "version",
)


def parse_device_status(obj: object) -> list[dict[str, Any]]:
    """``{"snapshots": [DeviceSnapshot.to_json(), ...]}`` validated; returns the snapshots."""
    top = _Reader(obj, "", ("snapshots",))
    items = top.obj["snapshots"]
    if not isinstance(items, list):
        raise MalformedBatchError("snapshots", f"expected an array, got {_type(items)}")
    out: list[dict[str, Any]] = []
    for i, item in enumerate(items):
        r = _Reader(item, f"snapshots[{i}]", DEVICE_FIELDS)
        r.text("terminal_id", required=True)
        r.timestamp("wall_time")
        r.timestamp("terminal_time")
        if not isinstance(r.obj["paper_ok"], bool):
            raise MalformedBatchError(r.where("paper_ok"), "expected true or false")
        counters = r.obj["error_counters"]
        if not isinstance(counters, dict) or not all(
            isinstance(v, int) and not isinstance(v, bool) for v in counters.values()
        ):
            raise MalformedBatchError(r.where("error_counters"), "expected {name: integer}")
        for key in ("signal_dbm", "uptime_ms", "boot_id", "journal_unacked"):
            r.integer(key)
        out.append(dict(r.obj))
    return out


def parse_agent_status(obj: object) -> dict[str, Any]:
    """The agent's own report: backlog, oldest unsynced time, quarantine, unknowns, version."""
    r = _Reader(obj, "", AGENT_FIELDS)
    r.integer("backlog", minimum=0)
    r.timestamp("oldest_unsynced", nullable=True)
    r.integer("quarantined_records", minimum=0)
    r.integer("unresolved_unknown", minimum=0)
    r.text("version")
    return dict(r.obj)
