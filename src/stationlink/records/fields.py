"""The stored transaction record and the interchange row, each declared once, field by field.

Contract:
- :data:`RECORD` is the stored record (the station buffer's and the hub's ``records`` rows,
  the sync upload's JSON records): one :class:`Field` a column, in column order, each with
  its type, unit, nullability and when a text may be empty. :class:`StoredRecord` is the
  same record as a typed tuple (its attributes are the fields with ``stored=True``, in
  order; a test holds the two equal).
- :data:`TRANSACTION` is a row of the transactions interchange file (``docs/formats.md``).
- Everything that spells out the record's fields derives from these tables: the SQLite
  column lists, types and ``NOT NULL`` of buffer and hub (``buffer.schema``,
  ``hub.hub_schema``), the wire field list, nullable integers and ranges (``hub.wire``), the
  OpenAPI schema of a record (``hub.openapi``), the CSV columns (``interchange``) and the
  docs' field tables (a test compares ``docs/buffer.md`` and ``docs/formats.md`` with
  :func:`markdown_table`).
- Adding a field: add it at the end of :data:`RECORD` with a ``check`` (the wire then reads
  and validates it generically) and at the end of :class:`StoredRecord` with a default; add
  a schema migration to buffer and hub (``buffer.schema.add_column``); write the code that
  fills and uses it. A field the journal does not fill is NULL (so it is nullable, or the
  code that fills it sets it everywhere a record is made).
- Whether a *value* is valid is :mod:`.rules`' business, not this module's: the
  declaration says what a field is, the rules what it may hold.
- Nothing here does I/O or imports the rest of stationlink.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import NamedTuple

from .vocab import (
    INT64_MAX,
    INT64_MIN,
    STATUSES,
    TERMINAL_KINDS,
    UPTIME_MAX_MS,
    Entry,
    Kind,
    Source,
)


@dataclass(frozen=True, slots=True)
class Field:
    """One field of a record (see module contract)."""

    name: str
    pytype: type[object]  # str, int, datetime, or the enum Entry / Source
    doc: str
    unit: str = ""  # "fen", "ms", "yuan", "CST" ...
    nullable: bool = False  # may be NULL (SQL) / null (JSON)
    empty: str = ""  # a text field: when it may be '' ("" = never)
    wire: bool = True  # in an uploaded record's JSON (the batch carries station_id once)
    stored: bool = True  # an attribute of StoredRecord (``ident`` is derived from others)
    content: bool = False  # the transaction itself, not how or when it was captured
    low: int | None = None  # an integer's range, inclusive
    high: int | None = None
    values: tuple[str, ...] = ()  # a text from a closed set: its values ('' if it may be empty)
    #: A field read generically on the wire: a text checked by this rule (an integer by its
    #: range); ``None`` for the fields the validators (``hub.wire``) handle one by one.
    check: Callable[[str], str | None] | None = None

    @property
    def sql(self) -> str:
        """The SQLite column type."""
        return "INTEGER" if self.pytype is int else "TEXT"

    @property
    def column_type(self) -> type[object]:
        """The column type as ``sqlite_utils`` takes it (``int`` or ``str``)."""
        return int if self.pytype is int else str


def _ids(name: str, doc: str, empty: str = "", *, wire: bool = True, stored: bool = True,
         content: bool = False) -> Field:
    """A text field holding an id or a reference."""
    return Field(name, str, doc, empty=empty, wire=wire, stored=stored, content=content)


#: The stored record, in column order (module contract).
RECORD: tuple[Field, ...] = (
    Field("seq", int, "gap-free per station, from 1, assigned at commit", low=1,
          high=INT64_MAX),
    _ids("station_id", "the station", wire=False),
    _ids("terminal_id", "the terminal; `PC` for referrals and their cancellations"),
    Field("entry", Entry, "what the record is: txn, unknown, void, referral, cancel",
          content=True, values=tuple(Entry)),
    _ids("ident", "identity key, unique per terminal: `t:<terminal_ref>`, `u:`/`v:<client_ref>`,"
         " `r:`/`c:<referral id>`", wire=False, stored=False),
    _ids("terminal_ref", "the terminal's reference", "unless entry txn", content=True),
    _ids("client_ref", "the host's request reference; a referral's id",
         "for a txn the host did not request", content=True),
    Field("kind", str, "bill_payment, withdrawal, balance_inquiry, reversal, referral",
          content=True, values=(*TERMINAL_KINDS, Kind.REFERRAL.value)),
    Field("product", str, "the product (bill and referral kinds)",
          empty="for withdrawal, balance inquiry, and a reversal of one", content=True),
    Field("account", str, "the bill account", empty="when there is no product",
          content=True),
    Field("amount_fen", int, "the amount", unit="fen", content=True, low=0, high=INT64_MAX),
    Field("status", str, "approved, declined, reversed",
          empty="for entries unknown, void and cancel", content=True, values=(*STATUSES, "")),
    Field("result", int, "the terminal's result code", nullable=True, content=True,
          low=INT64_MIN, high=INT64_MAX),
    Field("card_token", str, "keyed hash of the card number",
          empty="without a card (never for an approved withdrawal)", content=True),
    Field("card_masked", str, "first 6 and last 4 digits", empty="without a card",
          content=True),
    Field("original_ref", str, "a reversal's reversed terminal_ref", empty="unless a reversal",
          content=True),
    Field("refers_to_seq", int, "the earlier record this one resolves, reverses or cancels",
          nullable=True, low=1, high=INT64_MAX),
    Field("source", Source, "live, journal or host", values=tuple(Source)),
    Field("wall_time", datetime, "station PC clock at capture", unit="CST"),
    Field("terminal_time", datetime, "the terminal's own clock (required for a txn)",
          unit="CST", nullable=True),
    Field("uptime_ms", int, "terminal uptime", unit="ms", nullable=True, low=0,
          high=UPTIME_MAX_MS),
    Field("boot_id", int, "terminal boot identifier", nullable=True, low=0, high=INT64_MAX),
    Field("journal_cursor", int, "position in the terminal's journal", nullable=True, low=0,
          high=INT64_MAX),
)

#: A row of the transactions interchange file, in column order.
TRANSACTION: tuple[Field, ...] = (
    _ids("txn_id", "unique id of the transaction"),
    _ids("station_id", "the station"),
    _ids("terminal_id", "the terminal", "when the station has no terminal id for it"),
    Field("ts", datetime, "when the transaction happened, ISO 8601 with offset", unit="CST"),
    Field("kind", str, "bill_payment, withdrawal, balance_inquiry, referral"),
    Field("product", str, "bill or referral product", empty="for withdrawal and balance "
          "inquiry"),
    Field("amount", str, "decimal, at most two places (empty means 0.00)", unit="yuan",
          empty="for 0.00"),
    Field("card", str, "card token, never a card number",
          empty="without a card (never for an approved withdrawal)"),
    Field("status", str, "approved, declined, reversed"),
)

BY_NAME: dict[str, Field] = {f.name: f for f in RECORD}
#: The ``records`` columns, in order.
COLUMNS: tuple[str, ...] = tuple(f.name for f in RECORD)
#: :class:`StoredRecord`'s attributes, in order.
STORED: tuple[str, ...] = tuple(f.name for f in RECORD if f.stored)
#: The fields of an uploaded record's JSON object, in order.
WIRE: tuple[str, ...] = tuple(f.name for f in RECORD if f.wire)
#: Columns that may not be NULL.
NOT_NULL: frozenset[str] = frozenset(f.name for f in RECORD if not f.nullable)
#: Integer fields and their inclusive ranges.
INT_RANGES: dict[str, tuple[int, int]] = {
    f.name: (f.low if f.low is not None else INT64_MIN,
             f.high if f.high is not None else INT64_MAX)
    for f in RECORD if f.pytype is int
}
#: Wire fields that are an integer or null.
NULLABLE_INT: tuple[str, ...] = tuple(f.name for f in RECORD
                                      if f.wire and f.pytype is int and f.nullable)
#: Fields holding a timestamp.
TIME_FIELDS: frozenset[str] = frozenset(f.name for f in RECORD if f.pytype is datetime)
#: The transaction itself, as opposed to capture metadata (a duplicate upload may differ in
#: the latter, not the former).
CONTENT: tuple[str, ...] = tuple(f.name for f in RECORD if f.content)
#: Fields the wire validates generically (by type, range and ``check``), in order.
GENERIC: tuple[Field, ...] = tuple(f for f in RECORD if f.wire and f.check is not None)
#: The transactions file's columns, in order.
TRANSACTION_COLUMNS: tuple[str, ...] = tuple(f.name for f in TRANSACTION)


class StoredRecord(NamedTuple):
    """One immutable stored record: the fields of :data:`RECORD` with ``stored=True``, in
    order (``docs/buffer.md``). ``seq`` is 0 until committed. A ``NamedTuple`` rather than a
    frozen dataclass: bulk journal ingest builds one per row."""

    seq: int
    station_id: str
    terminal_id: str
    entry: Entry
    terminal_ref: str
    client_ref: str
    kind: str
    product: str
    account: str
    amount_fen: int
    status: str  # approved / declined / reversed; approved for a referral; '' otherwise
    result: int | None  # the terminal's ResultCode value, None for host records
    card_token: str
    card_masked: str
    original_ref: str  # reversals: the terminal ref of the reversed transaction
    refers_to_seq: int | None  # the earlier record this one resolves or reverses
    source: Source
    wall_time: datetime  # station PC clock when the record was captured
    terminal_time: datetime | None  # the terminal's own clock
    uptime_ms: int | None  # terminal monotonic uptime
    boot_id: int | None  # terminal boot identifier
    journal_cursor: int | None  # position in the terminal's journal, when known

    @property
    def ident(self) -> str:
        """The identity key, unique per (station, terminal)."""
        return ident_of(self.entry, self.terminal_ref, self.client_ref)

    @property
    def txn_id(self) -> str:
        """The stable interchange ``txn_id`` of a transaction result
        (``<station>-<terminal>-<terminal ref>``) or of a referral (and of the referral a
        cancellation cancels): ``<station>-PC-<referral id>``."""
        if self.entry in REFERRAL_ENTRIES:
            return f"{self.station_id}-{self.terminal_id}-{self.client_ref}"
        return f"{self.station_id}-{self.terminal_id}-{self.terminal_ref}"


REFERRAL_ENTRIES = frozenset({Entry.REFERRAL, Entry.CANCEL})
IDENT_PREFIX = {Entry.UNKNOWN: "u:", Entry.VOID: "v:", Entry.REFERRAL: "r:", Entry.CANCEL: "c:"}


def ident_of(entry: Entry, terminal_ref: str, client_ref: str) -> str:
    """The identity key: ``t:<terminal ref>`` for a terminal result, else the entry's prefix
    and the host reference (``client_ref``; a referral's id)."""
    if entry is Entry.TXN:
        return "t:" + terminal_ref
    return IDENT_PREFIX[entry] + client_ref


def markdown_table(fields: tuple[Field, ...]) -> str:
    """The fields as the docs' table: name, type, unit, null, may be empty, meaning."""
    lines = ["| field | type | unit | null | may be empty | meaning |",
             "|---|---|---|---|---|---|"]
    for f in fields:
        kind = {int: "integer", str: "text", datetime: "time"}.get(f.pytype, "text")
        null = "yes" if f.nullable else ""
        lines.append(f"| `{f.name}` | {kind} | {f.unit} | {null} | {f.empty} | {f.doc} |")
    return "\n".join(lines)


__all__ = [
    "BY_NAME", "COLUMNS", "CONTENT", "GENERIC", "IDENT_PREFIX", "INT_RANGES", "NOT_NULL",
    "NULLABLE_INT", "RECORD", "REFERRAL_ENTRIES", "STORED", "TIME_FIELDS", "TRANSACTION",
    "TRANSACTION_COLUMNS", "WIRE", "Field", "StoredRecord", "ident_of", "markdown_table",
]
