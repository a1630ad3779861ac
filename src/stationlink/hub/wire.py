"""The JSON shapes the sync agent and the hub exchange (``docs/hub.md``), and how a body
is decoded.

Batch (``POST /v1/stations/{station_id}/batches``)::

    {"station_id": "S1", "first_seq": 41, "last_seq": 42,
     "records": [{"seq": 41, "entry": "txn", "terminal_id": "T1", ...}, {"seq": 42, ...}]}

Contract:
- :func:`loads` decodes a request body: UTF-8 JSON text, at most :data:`MAX_DEPTH` arrays
  and objects deep (checked before parsing, without recursion), no repeated key in an object,
  no integer of more than :data:`MAX_INT_DIGITS` digits, no ``NaN`` / ``Infinity``;
  fractions come back as exact ``Decimal`` so validation can name them. A body that is not
  UTF-8 JSON text raises :class:`MalformedJsonError` (the app answers 400 with the line,
  column and offset); one that breaks a limit raises :class:`MalformedBatchError` with the
  JSON path of the spot (422). Nothing else escapes.
- :func:`batch_to_json` / :func:`parse_batch` are exact inverses for valid batches.
- :func:`parse_batch` checks everything and raises :class:`MalformedBatchError` naming the
  first bad spot as a JSON path (``records[3].amount_fen``) with the reason: unknown or
  missing fields, wrong types (a bool is not an integer; money is integer fen, never a
  float), seqs that are not exactly ``first_seq..last_seq`` in order, integers out of range,
  and every rule of a valid transaction (:mod:`stationlink.records.rules`: ids and
  references, products, accounts, amount ceilings, card fields, an approved withdrawal's
  card, times within the window around ``received``). A record that is plainly valid is
  taken by the fast path (:mod:`._wire_fast`, same result); any other is read field by
  field by :func:`parse_record`, the reference, which names the problem. Referral records
  (entries ``referral`` and ``cancel``, ``docs/buffer.md``) are kind ``referral`` with a
  referral product, under the pseudo-terminal ``PC``, the referral id in ``client_ref``; a
  referral's status is ``approved``, a cancellation has none.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import datetime
from decimal import Decimal
from itertools import accumulate
from operator import attrgetter
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
from ..errors import MalformedBatchError as MalformedBatchError  # re-exported
from ..errors import MalformedJsonError as MalformedJsonError  # re-exported
from ..records import fields, rules
from ..records.cardnum import (
    RUN_PATTERN,
)
from ..records.rules import shown
from ..records.vocab import (
    INT64_MAX,
    INT64_MIN,
    MAX_TEXT,
    UPTIME_MAX_MS,
    Kind,
    Status,
)
from ._wire_fast import fast_batch as fast_batch  # re-exported: tests compare the paths
from ._wire_fast import fast_record as fast_record  # re-exported: tests compare the two

MAX_RECORDS = 10_000
#: Arrays and objects nested deeper than this are refused (a batch needs 3, a status 4).
MAX_DEPTH = 16
#: An integer literal longer than this is refused (int64 has 19 digits and a sign).
MAX_INT_DIGITS = 20


class _Refused:
    """Decoding: stands in for a value :func:`loads` refuses, until its path is found."""

    __slots__ = ("reason",)

    def __init__(self, reason: str) -> None:
        self.reason = reason


_STEP = {ord("["): 1, ord("{"): 1, ord("]"): -1, ord("}"): -1}
#: Every byte but quotes, brackets and colons: deleted before counting nesting and keys.
_NOT_STRUCTURE = bytes(c for c in range(256) if c not in b'"[]{}:')


def _structure(body: bytes) -> tuple[int, int]:
    """How deep arrays and objects nest in JSON text, and how many keys its objects hold
    (repeats counted), without parsing or recursion.

    Escaped backslashes and quotes are dropped; then only quotes, brackets and colons are
    kept, two adjacent quotes dropped (that changes no other byte's inside-or-outside-a-string
    parity), and every other piece between the remaining quotes is outside a string. Outside
    strings, JSON has a colon after each key and nowhere else."""
    if b"\\" in body:
        body = body.replace(b"\\\\", b"").replace(b'\\"', b"")
    marks = body.translate(None, _NOT_STRUCTURE).replace(b'""', b"")
    if b'"' in marks:
        marks = b"".join(marks.split(b'"')[::2])
    keys = marks.count(b":")
    if keys:
        marks = marks.replace(b":", b"")
    return max(accumulate(map(_STEP.__getitem__, marks)), default=0), keys


def loads(body: bytes) -> object:
    """Decode a request body (module contract)."""
    try:
        text = body.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise MalformedJsonError("$", f"body is not UTF-8 (byte offset {exc.start})") from exc
    depth, keys = _structure(body)
    if depth > MAX_DEPTH:
        raise MalformedBatchError("$", f"arrays and objects nested deeper than {MAX_DEPTH}")
    doc = _plain(text, keys)
    if doc is not _MISSING:
        return doc
    try:
        return _decode(text, long_integers=False)
    except ValueError:  # an integer beyond Python's digit limit: again, finding its path
        return _decode(text, long_integers=True)


_MISSING = object()


def _plain(text: str, keys: int) -> object:
    """The common case at C speed: ``json.loads`` building its objects itself, each object's
    size summed by a hook. When the sizes add up to ``keys`` (the text's key count) no object
    repeated a key; when they do not, or anything is refused or unusual, ``_MISSING``:
    :func:`_decode` then decodes again and finds the spot."""
    sizes: list[int] = []
    add = sizes.append

    def sized(obj: dict[str, Any]) -> dict[str, Any]:
        add(len(obj))
        return obj

    refused: list[str] = []

    def constant(name: str) -> object:
        refused.append(name)
        return None

    try:
        doc = json.loads(text, parse_float=Decimal, parse_constant=constant, object_hook=sized)
    except (ValueError, RecursionError):  # JSONDecodeError is a ValueError
        return _MISSING
    if refused or sum(sizes) != keys:
        return _MISSING
    return doc


def _decode(text: str, *, long_integers: bool) -> object:
    """``json.loads`` with the limits of :func:`loads`: a refused value is replaced by a
    marker, then the first marker's path is raised. Integers longer than
    :data:`MAX_INT_DIGITS` are refused only with ``long_integers`` (a hook per integer costs
    time; longer ones the validators bound, naming the field, and the ones Python's digit
    limit refuses make :func:`loads` decode again with it)."""
    refused: list[_Refused] = []

    def refuse(reason: str) -> _Refused:
        marker = _Refused(reason)
        refused.append(marker)
        return marker

    def pairs(items: list[tuple[str, Any]]) -> object:
        obj = dict(items)
        if len(obj) == len(items):
            return obj
        seen: set[str] = set()
        key = next(k for k, _ in items if k in seen or seen.add(k))  # type: ignore[func-returns-value]
        return refuse(f"repeats the key {shown(key)}")

    def integer(digits: str) -> object:
        n = len(digits.lstrip("-"))
        if n > MAX_INT_DIGITS:
            return refuse(f"an integer of {n} digits (at most {MAX_INT_DIGITS})")
        return int(digits)

    def constant(name: str) -> object:
        return refuse(f"{name} is not a number JSON allows")

    try:
        if long_integers:
            doc = json.loads(text, parse_float=Decimal, parse_int=integer,
                             parse_constant=constant, object_pairs_hook=pairs)
        else:
            doc = json.loads(text, parse_float=Decimal, parse_constant=constant,
                             object_pairs_hook=pairs)
    except json.JSONDecodeError as exc:
        raise MalformedJsonError(
            "$", f"{exc.msg} at line {exc.lineno} column {exc.colno} (char offset {exc.pos})",
        ) from exc
    except RecursionError as exc:  # the depth check leaves none: defence
        raise MalformedBatchError("$", "nested too deeply") from exc
    except ValueError:
        if long_integers:  # nothing else is left to raise it: defence
            raise MalformedBatchError("$", "not JSON this hub can read") from None
        raise
    if refused:
        path, marker = _first_refused(doc)
        raise MalformedBatchError(path, marker.reason)
    return doc


def _first_refused(doc: object) -> tuple[str, _Refused]:
    """The path of the first refused value in document order (an explicit stack: the depth
    is bounded, but no recursion is needed)."""
    stack: list[tuple[str, object]] = [("", doc)]
    while stack:
        path, value = stack.pop()
        if isinstance(value, _Refused):
            return path or "$", value
        if isinstance(value, dict):
            stack.extend((_join(path, str(k)), v) for k, v in reversed(value.items()))
        elif isinstance(value, list):
            stack.extend((f"{path}[{i}]", v) for i, v in reversed(list(enumerate(value))))
    raise AssertionError("a refused value was recorded but is not in the document")


#: The fields of an uploaded record, from the declaration (``records.fields.RECORD``).
RECORD_FIELDS = fields.WIRE
#: Wire fields that are an integer or null, and every integer field's range (declaration).
NULLABLE_INT = fields.NULLABLE_INT
INT_RANGES = {name: fields.INT_RANGES[name] for name in RECORD_FIELDS
              if name in fields.INT_RANGES}
_WIRE_VALUES = attrgetter(*RECORD_FIELDS)
#: How a record's value becomes JSON, for the fields that need it (enums as their text,
#: times as ISO 8601); ``None`` stays ``null``.
_TO_JSON: tuple[tuple[str, Callable[[Any], Any]], ...] = tuple(
    (f.name, attrgetter("value") if f.pytype in (Entry, Source) else datetime.isoformat)
    for f in fields.RECORD if f.wire and f.pytype in (Entry, Source, datetime)
)


def record_to_json(rec: StoredRecord) -> dict[str, Any]:
    """A record as its JSON object: the wire fields in declaration order."""
    obj = dict(zip(RECORD_FIELDS, _WIRE_VALUES(rec), strict=True))
    for name, encode in _TO_JSON:
        value = obj[name]
        if value is not None:
            obj[name] = encode(value)
    return obj


def batch_to_json(batch: Batch) -> dict[str, Any]:
    return {
        "station_id": batch.station_id,
        "first_seq": batch.first_seq,
        "last_seq": batch.last_seq,
        "records": [record_to_json(r) for r in batch.records],
    }


class _Reader:
    """Typed access to one JSON object, raising MalformedBatchError with the path: every key
    of ``fields`` must be present; a key of ``optional`` may be absent (read it only when
    :meth:`has` says so); any other key is refused."""

    def __init__(self, obj: object, path: str, fields: tuple[str, ...],
                 optional: tuple[str, ...] = ()) -> None:
        if not isinstance(obj, dict):
            raise MalformedBatchError(path or "$", f"expected an object, got {_type(obj)}")
        for key in obj:
            if key not in fields and key not in optional:
                raise MalformedBatchError(_join(path, _key_text(key)), "unexpected field")
        for key in fields:
            if key not in obj:
                raise MalformedBatchError(_join(path, key), "missing field")
        self.obj: dict[str, Any] = obj
        self.path = path

    def has(self, key: str) -> bool:
        return key in self.obj

    def where(self, key: str) -> str:
        return _join(self.path, key)

    def fail(self, key: str, reason: str) -> MalformedBatchError:
        return MalformedBatchError(self.where(key), reason)

    def text(self, key: str, *, required: bool = False,
             rule: Callable[[str], str | None] | None = None) -> str:
        value = self.obj[key]
        if not isinstance(value, str):
            raise self.fail(key, f"expected a string, got {_type(value)}")
        if required and not value:
            raise self.fail(key, "must not be empty")
        if len(value) > MAX_TEXT:
            raise self.fail(key, f"longer than {MAX_TEXT} characters")
        problem = None if rule is None else rule(value)
        if problem is not None:
            raise self.fail(key, problem)
        return value

    def integer(self, key: str, *, minimum: int = INT64_MIN, maximum: int = INT64_MAX) -> int:
        value = self.obj[key]
        if not isinstance(value, int) or isinstance(value, bool):
            raise self.fail(key, f"expected an integer, got {_type(value)}")
        problem = rules.integer_problem(value, minimum, maximum)
        if problem is not None:
            raise self.fail(key, problem)
        return value

    def field_int(self, key: str) -> Any:
        """A record's integer field, its range and nullability as declared
        (``records.fields.RECORD``)."""
        if self.obj[key] is None and fields.BY_NAME[key].nullable:
            return None
        low, high = INT_RANGES[key]
        return self.integer(key, minimum=low, maximum=high)

    def generic(self, f: fields.Field) -> Any:
        """A field the declaration marks as read generically (``records.fields.GENERIC``):
        null if nullable, an integer in its range, or a text passing its ``check``."""
        if self.obj[f.name] is None and f.nullable:
            return None
        if f.pytype is int:
            return self.field_int(f.name)
        return self.text(f.name, rule=f.check)

    def timestamp(self, key: str, *, nullable: bool = False,
                  received: datetime | None = None) -> datetime | None:
        value = self.obj[key]
        if value is None and nullable:
            return None
        text = self.text(key)
        try:
            ts = datetime.fromisoformat(text)
        except ValueError:
            raise self.fail(key, f"not an ISO 8601 time: {shown(text)}") from None
        if ts.tzinfo is None:
            raise self.fail(key, f"time without a UTC offset: {shown(text)}")
        problem = rules.time_problem(ts, received)
        if problem is not None:
            raise self.fail(key, f"{problem}: {shown(text)}")
        return ts


def _join(path: str, key: str) -> str:
    return f"{path}.{key}" if path else key


def _key_text(key: object) -> str:
    """An object key as a path shows it: plain if printable without digit runs, else quoted
    (control characters escaped, card-number-like runs masked)."""
    text = str(key)
    if text.isprintable() and len(text) <= 40 and RUN_PATTERN.search(text) is None:
        return text
    return f"[{shown(text)}]"


def _type(value: object) -> str:
    if value is None:
        return "null"
    if isinstance(value, (float, Decimal)):
        return f"the fractional number {shown(str(value))[1:-1]}"  # digits: no quotes
    return {"str": "a string", "int": "an integer", "bool": "a boolean", "list": "an array",
            "dict": "an object"}.get(type(value).__name__, type(value).__name__)


_ENTRY_VALUES = frozenset(e.value for e in Entry)
_SOURCE_VALUES = frozenset(s.value for s in Source)


def parse_record(
    obj: object, path: str, station_id: str, received: datetime | None = None
) -> StoredRecord:
    """One record, every field checked in order; the first problem raises
    :class:`MalformedBatchError` with its path (module contract)."""
    r = _Reader(obj, path, RECORD_FIELDS)
    entry_text = r.text("entry")
    if entry_text not in _ENTRY_VALUES:
        raise r.fail("entry", f"unknown entry {shown(entry_text)}")
    entry = Entry(entry_text)
    source_text = r.text("source")
    if source_text not in _SOURCE_VALUES:
        raise r.fail("source", f"unknown source {shown(source_text)}")
    kind = r.text("kind")
    referral = entry in REFERRAL_ENTRIES
    if referral and kind != REFERRAL_KIND:
        raise r.fail("kind", f"a {entry.value} record is of kind {REFERRAL_KIND!r}, "
                     f"not {shown(kind)}")
    if not referral and kind not in KIND_VALUES:
        raise r.fail("kind", f"unknown kind {shown(kind)}")
    status = r.text("status")
    if entry is Entry.TXN and status not in STATUS_VALUES:
        raise r.fail("status", f"unknown status {shown(status)}")
    if entry is Entry.REFERRAL and status != Status.APPROVED:
        raise r.fail("status", f"a referral's status is 'approved', not {shown(status)}")
    if entry is not Entry.TXN and entry is not Entry.REFERRAL and status:
        raise r.fail("status", f"a {entry.value} record has no status")
    token = r.text("card_token", rule=rules.card_problem)
    masked = r.text("card_masked", rule=rules.card_problem)
    wall = r.timestamp("wall_time", received=received)
    if wall is None:
        raise r.fail("wall_time", "must not be null")
    product = r.text("product",  # a referral's product: checked below, with its own words
                     rule=None if referral else lambda p: rules.product_problem(kind, p))
    amount = r.field_int("amount_fen")
    problem = rules.amount_problem(kind, status, amount)
    if problem is not None:
        raise r.fail("amount_fen", problem)
    rec = StoredRecord(
        seq=r.field_int("seq"),
        station_id=station_id,
        terminal_id=r.text("terminal_id", required=True, rule=rules.reference_problem),
        entry=entry,
        terminal_ref=r.text("terminal_ref", required=entry is Entry.TXN,
                            rule=rules.reference_problem),
        client_ref=r.text("client_ref", required=entry is not Entry.TXN,
                          rule=rules.reference_problem),
        kind=kind,
        product=product,
        account=r.text("account",
                       rule=lambda a: rules.account_problem(kind, product, status, a)),
        amount_fen=amount,
        status=status,
        result=r.field_int("result"),
        card_token=token,
        card_masked=masked,
        original_ref=r.text("original_ref", rule=rules.reference_problem),
        refers_to_seq=r.field_int("refers_to_seq"),
        source=Source(source_text),
        wall_time=wall,
        # the terminal's own clock may be far off (the hub corrects it from the drift
        # anchors): only its range is checked, not the window around the receipt
        terminal_time=r.timestamp("terminal_time", nullable=True),
        uptime_ms=r.field_int("uptime_ms"),
        boot_id=r.field_int("boot_id"),
        journal_cursor=r.field_int("journal_cursor"),
    )
    if referral and rec.terminal_id != REFERRAL_TERMINAL:
        raise r.fail("terminal_id", f"a {entry.value} record belongs to the pseudo-terminal "
                     f"{REFERRAL_TERMINAL!r}")
    if referral and rec.product not in REFERRAL_PRODUCT_VALUES:
        raise r.fail("product", f"not a referral product: {shown(rec.product)}")
    if entry is Entry.TXN and rec.terminal_time is None:
        raise r.fail("terminal_time", "a txn record needs the terminal time")
    if kind == Kind.REVERSAL and entry is Entry.TXN and not rec.original_ref:
        raise r.fail("original_ref", "a reversal needs original_ref")
    if entry is Entry.TXN:
        problem = rules.card_required_problem(kind, status, token)
        if problem is not None:
            raise r.fail("card_token", problem)
    if fields.GENERIC:
        rec = rec._replace(**{f.name: r.generic(f) for f in fields.GENERIC})
    return rec


def parse_batch(
    obj: object, station_id: str | None = None, *, received: datetime | None = None
) -> Batch:
    """Validate a decoded JSON batch (module contract); ``station_id`` must match if given.
    ``received`` is the hub's time of receipt: a record's ``wall_time`` may be at most
    :data:`~stationlink.records.vocab.FUTURE_WINDOW` later; its terminal time (a terminal's
    clock, corrected by the hub's drift anchors) only needs to be in range."""
    r = _Reader(obj, "", ("station_id", "first_seq", "last_seq", "records"))
    sid = r.text("station_id", required=True, rule=rules.reference_problem)
    if station_id is not None and sid != station_id:
        raise MalformedBatchError("station_id", f"{shown(sid)} does not match the URL's "
                                  f"{shown(station_id)}")
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
    try:
        whole = fast_batch(items, sid, first, received)
    except Exception:  # noqa: BLE001 - any doubt: record by record, which names the problem
        whole = None
    if whole is not None:
        return Batch(sid, first, last, tuple(whole))
    records = []
    for i, item in enumerate(items):
        fast = fast_record(item, sid, first + i, received)
        if fast is not None:
            records.append(fast)
            continue
        rec = parse_record(item, f"records[{i}]", sid, received)
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
#: Fields of the agent status an agent may leave out (older agents do not send them):
#: ``settlement_mismatches``, the number of the station's terminals whose latest daily
#: settlement check differs from the buffer (:func:`stationlink.agent.health.current_mismatches`).
AGENT_OPTIONAL = ("settlement_mismatches",)


def parse_device_status(obj: object) -> list[dict[str, Any]]:
    """``{"snapshots": [DeviceSnapshot.to_json(), ...]}`` validated; returns the snapshots.
    Integers are within int64 (``uptime_ms`` within a hundred years), times within the rules'
    range (``records.rules.time_problem``), the terminal id a valid reference."""
    top = _Reader(obj, "", ("snapshots",))
    items = top.obj["snapshots"]
    if not isinstance(items, list):
        raise MalformedBatchError("snapshots", f"expected an array, got {_type(items)}")
    out: list[dict[str, Any]] = []
    for i, item in enumerate(items):
        r = _Reader(item, f"snapshots[{i}]", DEVICE_FIELDS)
        r.text("terminal_id", required=True, rule=rules.reference_problem)
        r.timestamp("wall_time")
        r.timestamp("terminal_time")
        if not isinstance(r.obj["paper_ok"], bool):
            raise r.fail("paper_ok", "expected true or false")
        counters = r.obj["error_counters"]
        if not isinstance(counters, dict) or not all(
            isinstance(v, int) and not isinstance(v, bool) for v in counters.values()
        ):
            raise r.fail("error_counters", "expected {name: integer}")
        for name, value in counters.items():
            at = _join(r.where("error_counters"), _key_text(name))
            problem = rules.reference_problem(name) or rules.integer_problem(value, 0, INT64_MAX)
            if problem is not None:
                raise MalformedBatchError(at, problem)
        r.integer("signal_dbm")
        r.integer("uptime_ms", minimum=0, maximum=UPTIME_MAX_MS)
        r.integer("boot_id", minimum=0)
        r.integer("journal_unacked", minimum=0)
        out.append(dict(r.obj))
    return out


def parse_agent_status(obj: object) -> dict[str, Any]:
    """The agent's own report: backlog, oldest unsynced time, quarantine, unknowns, version
    (:data:`AGENT_FIELDS`, all required) and, when the agent sends it, the number of terminals
    with a settlement mismatch (:data:`AGENT_OPTIONAL`: a non-negative integer, never null;
    absent means "not reported"). Any other field is refused."""
    r = _Reader(obj, "", AGENT_FIELDS, AGENT_OPTIONAL)
    r.integer("backlog", minimum=0)
    r.timestamp("oldest_unsynced", nullable=True)
    r.integer("quarantined_records", minimum=0)
    r.integer("unresolved_unknown", minimum=0)
    r.text("version", rule=rules.text_problem)
    if r.has("settlement_mismatches"):
        r.integer("settlement_mismatches", minimum=0)
    return dict(r.obj)
