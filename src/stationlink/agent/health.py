"""Is the station's data flowing? :func:`station_facts` gathers the facts and gives a verdict.

Contract:
- :func:`station_facts` reads the buffer (in one read transaction, so its figures agree
  with each other while the agent writes) and (when given) the agent state without writing
  either and returns one frozen :class:`StationFacts`: the last record captured (when, which
  terminal); per terminal the link (connected, last poll, last error), journal cursor, last
  record, the journal backlog the terminal reported (records it holds unacknowledged) and its
  last device status with its problems (paper, error counters); the last successful upload,
  the records waiting, the oldest waiting one and its age; quarantined batches with the hub's
  reason; unresolved unknown outcomes (count, sum in yuan, oldest); the settlement
  mismatches of each terminal's latest differing check (dropped when the agent state shows a
  later check of that terminal that agreed).
- The verdict "data flowing" is ``ok``, ``warning`` or ``fail`` with its :class:`Reason` s,
  each a stable id (texts and advice in :mod:`.health_text`) and JSON-ready parameters.
  Rules, thresholds in :class:`Thresholds` (injectable; the defaults below):

  ====================  =======  ==========================================================
  id                    level    when
  ====================  =======  ==========================================================
  quarantine            fail     the hub refused a batch for good (an open quarantine entry)
  upload_stale          fail     records wait and the oldest has waited > ``upload_stale``
  settlement_mismatch   fail     a terminal's latest settlement check differs
  unknown_old           warning  an unresolved unknown outcome is older than ``unknown_old``
  poll_stale/poll_never warning  a terminal the agent polls (configured, or in its state
                                 file) was not polled for > ``poll_stale`` (or never)
  paper_out             warning  a terminal's last device status says paper out
  device_errors         warning  a terminal's last device status has non-zero error counters
  agent_stopped         warning  the agent state says the agent stopped
  agent_silent          warning  the agent's heartbeat is older than ``agent_silent``
  ====================  =======  ==========================================================

- ``now`` is injected (aware); nothing here reads the wall clock. Times in the facts are
  aware datetimes; :meth:`StationFacts.to_json` writes them as ISO 8601 in CST, money as yuan
  text with two decimals and ages as whole seconds (shape: ``docs/agent.md``, "status").
"""

from __future__ import annotations

import enum
from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta
from decimal import Decimal
from typing import Any

from ..buffer import Buffer
from ..buffer.db import ts_parse
from ..buffer.health import DeviceSnapshot, Mismatch, MismatchCheck, Quarantined
from ..buffer.records import REFERRAL_TERMINAL
from ..money import fen_to_yuan, format_yuan, to_cst
from .health_text import reason_values, text
from .state import AgentState

JsonScalar = str | int | None


class Level(enum.StrEnum):
    OK = "ok"
    WARNING = "warning"
    FAIL = "fail"


@dataclass(frozen=True)
class Thresholds:
    """When a fact becomes a warning or a failure (see the module contract)."""

    upload_stale: timedelta = timedelta(hours=1)
    poll_stale: timedelta = timedelta(minutes=10)
    unknown_old: timedelta = timedelta(days=1)
    agent_silent: timedelta = timedelta(minutes=10)

    def to_json(self) -> dict[str, int]:
        return {"upload_stale_s": _secs(self.upload_stale),
                "poll_stale_s": _secs(self.poll_stale),
                "unknown_old_s": _secs(self.unknown_old),
                "agent_silent_s": _secs(self.agent_silent)}


@dataclass(frozen=True)
class Reason:
    """One reason of the verdict: a stable id, its level and the values its text names
    (times as ISO text in CST under keys ending ``_at``, ages in seconds under keys ending
    ``_s``, money as yuan text)."""

    id: str
    level: Level
    params: dict[str, JsonScalar] = field(default_factory=dict)

    def text(self, lang: str = "zh") -> str:
        return text(f"health.reason.{self.id}", lang, **reason_values(self.params, lang))

    def advice(self, lang: str = "zh") -> str:
        return text(f"health.advice.{self.id}", lang)


@dataclass(frozen=True)
class AgentFacts:
    pid: int | None
    started_at: datetime | None
    heartbeat_at: datetime | None
    stopped_at: datetime | None


@dataclass(frozen=True)
class TerminalFacts:
    terminal_id: str | None  # None: configured, never identified
    url: str | None  # None: known from the buffer only
    dialect: str | None
    connected: bool | None  # None: no agent state
    last_poll_at: datetime | None
    last_error: str | None
    last_error_at: datetime | None
    journal_cursor: int | None
    cursor_stored_at: datetime | None
    last_record_at: datetime | None
    device: DeviceSnapshot | None

    @property
    def journal_backlog(self) -> int | None:
        """Records the terminal reported holding unacknowledged (last device status)."""
        return None if self.device is None else self.device.journal_unacked

    @property
    def error_counters(self) -> dict[str, int]:
        if self.device is None:
            return {}
        return {k: v for k, v in sorted(self.device.error_counters.items()) if v}

    @property
    def problems(self) -> tuple[str, ...]:
        out: list[str] = []
        if self.device is not None and not self.device.paper_ok:
            out.append("paper_out")
        if self.error_counters:
            out.append("device_errors")
        return tuple(out)


@dataclass(frozen=True)
class Waiting:
    seq: int
    wall_time: datetime


#: A quarantined batch as the health screen shows it: the buffer's own entry.
QuarantineEntry = Quarantined


@dataclass(frozen=True)
class Unknown:
    seq: int
    terminal_id: str
    client_ref: str
    kind: str
    product: str
    amount_fen: int
    wall_time: datetime


@dataclass(frozen=True)
class StationFacts:
    """Everything the health screen shows, and the verdict (module contract)."""

    station_id: str
    now: datetime
    thresholds: Thresholds
    agent: AgentFacts | None  # None: no agent state given, or the agent never started
    has_state: bool
    last_record: tuple[str, int, datetime] | None  # terminal id, seq, wall time
    terminals: tuple[TerminalFacts, ...]
    records: int
    synced_upto: int
    waiting: int
    oldest_waiting: Waiting | None
    last_upload_at: datetime | None
    high_water_mark: int | None
    upload_error: str | None
    upload_error_at: datetime | None
    quarantine: tuple[QuarantineEntry, ...]
    unknowns: tuple[Unknown, ...]
    mismatches: tuple[MismatchCheck, ...]
    verdict: Level
    reasons: tuple[Reason, ...]

    @property
    def unknown_amount(self) -> Decimal:
        return fen_to_yuan(sum(u.amount_fen for u in self.unknowns))

    def to_json(self, lang: str = "zh") -> dict[str, Any]:
        """The documented JSON shape (``docs/agent.md``); reason texts in ``lang``."""
        now = self.now
        ow = self.oldest_waiting
        return {
            "verdict": self.verdict.value,
            "reasons": [{"id": r.id, "level": r.level.value, "text": r.text(lang),
                         "advice": r.advice(lang), "params": dict(r.params)}
                        for r in self.reasons],
            "now": _iso(now),
            "thresholds": self.thresholds.to_json(),
            "agent": None if self.agent is None else {
                "pid": self.agent.pid, "started_at": _iso(self.agent.started_at),
                "heartbeat_at": _iso(self.agent.heartbeat_at),
                "stopped_at": _iso(self.agent.stopped_at)},
            "last_record": None if self.last_record is None else {
                "terminal_id": self.last_record[0], "seq": self.last_record[1],
                "wall_time": _iso(self.last_record[2])},
            "terminals": [_terminal_json(t) for t in self.terminals],
            "upload": {
                "last_upload_at": _iso(self.last_upload_at),
                "high_water_mark": self.high_water_mark, "records": self.records,
                "synced_upto": self.synced_upto, "waiting": self.waiting,
                "oldest_waiting": None if ow is None else {
                    "seq": ow.seq, "wall_time": _iso(ow.wall_time),
                    "age_s": _secs(now - ow.wall_time)},
                "last_error": self.upload_error, "last_error_at": _iso(self.upload_error_at),
            },
            "quarantine": {
                "batches": len(self.quarantine),
                "records": sum(q.records for q in self.quarantine),
                "entries": [{"id": q.id, "first_seq": q.first_seq, "last_seq": q.last_seq,
                             "records": q.records, "http_status": q.http_status,
                             "reason": q.reason, "wall_time": _iso(q.wall_time)}
                            for q in self.quarantine],
            },
            "unknowns": {
                "count": len(self.unknowns), "amount": format_yuan(self.unknown_amount),
                "oldest_at": _iso(min((u.wall_time for u in self.unknowns), default=None)),
                "items": [{"seq": u.seq, "terminal_id": u.terminal_id,
                           "client_ref": u.client_ref, "kind": u.kind, "product": u.product,
                           "amount": format_yuan(fen_to_yuan(u.amount_fen)),
                           "wall_time": _iso(u.wall_time)} for u in self.unknowns],
            },
            "settlement_mismatches": [
                {"terminal_id": c.terminal_id, "checked_at": _iso(c.wall_time),
                 "lines": [_mismatch_json(m) for m in c.lines]} for c in self.mismatches],
        }


def station_facts(
    buffer: Buffer, state: AgentState | None, now: datetime, *,
    thresholds: Thresholds | None = None, configured: Sequence[tuple[str, str | None]] = (),
) -> StationFacts:
    """The station's facts and verdict (module contract). ``configured``: the agent's
    terminals as (url, configured id) in configuration order, so a terminal never reached
    still shows; ``now`` must be aware."""
    if now.tzinfo is None or now.utcoffset() is None:
        raise ValueError("now must be an aware datetime")
    limits = thresholds or Thresholds()
    snap = state.snapshot() if state is not None else None
    with buffer.consistent_read():
        return _facts(buffer, snap, now, limits, configured)


def _facts(buffer: Buffer, snap: dict[str, Any] | None, now: datetime, limits: Thresholds,
           configured: Sequence[tuple[str, str | None]]) -> StationFacts:
    stats = buffer.stats()
    agent = _agent(snap)
    terminals = _terminals(buffer, snap, configured)
    captured = buffer.last_captured()
    last = max(captured.values(), key=lambda c: c.seq, default=None)
    oldest = stats["oldest_unsynced"]
    upload = (snap or {}).get("upload") or {}
    facts = StationFacts(
        station_id=buffer.station_id, now=now, thresholds=limits, agent=agent,
        has_state=snap is not None,
        last_record=None if last is None else (last.terminal_id, last.seq, last.wall_time),
        terminals=terminals, records=stats["records"], synced_upto=stats["synced_upto"],
        waiting=stats["backlog"],
        oldest_waiting=None if oldest is None else Waiting(
            oldest["seq"], _required(oldest["wall_time"])),
        last_upload_at=ts_parse(upload.get("last_upload_at")),
        high_water_mark=upload.get("high_water_mark"),
        upload_error=upload.get("last_error"),
        upload_error_at=ts_parse(upload.get("last_error_at")),
        quarantine=tuple(buffer.open_quarantine()),
        unknowns=tuple(Unknown(u.seq, u.terminal_id, u.client_ref, str(u.kind), u.product,
                               u.amount_fen, u.wall_time)
                       for u in buffer.unresolved_unknowns()),
        mismatches=current_mismatches(buffer, snap),
        verdict=Level.OK, reasons=(),
    )
    reasons = _reasons(facts)
    verdict = (Level.FAIL if any(r.level is Level.FAIL for r in reasons)
               else Level.WARNING if reasons else Level.OK)
    return replace(facts, verdict=verdict, reasons=reasons)


# ---------------------------------------------------------------------- gathering


def _agent(snap: dict[str, Any] | None) -> AgentFacts | None:
    if snap is None or snap["agent"] is None:
        return None
    a = snap["agent"]
    return AgentFacts(a["pid"], ts_parse(a["started_at"]), ts_parse(a["heartbeat_at"]),
                      ts_parse(a["stopped_at"]))


def _terminals(buffer: Buffer, snap: dict[str, Any] | None,
               configured: Sequence[tuple[str, str | None]]) -> tuple[TerminalFacts, ...]:
    links = {t["url"]: t for t in (snap or {}).get("terminals", [])}
    cursors = buffer.cursor_times()
    captured = buffer.last_captured()
    devices = {d.terminal_id: d for d in buffer.latest_device_status()}
    rows: list[tuple[str | None, str | None]] = []  # (url, terminal id)
    for conf_url, conf_id in configured:
        rows.append((conf_url, (links.get(conf_url) or {}).get("terminal_id") or conf_id))
    for link_url, link_row in links.items():
        if link_url not in {u for u, _ in rows}:
            rows.append((link_url, link_row["terminal_id"]))
    seen = {tid for _, tid in rows if tid}
    buffer_ids = (set(cursors) | set(captured) | set(devices)) - seen - {REFERRAL_TERMINAL}
    rows[len(configured):] = sorted(rows[len(configured):], key=lambda r: (r[1] or "", r[0]))
    rows += [(None, buffer_id) for buffer_id in sorted(buffer_ids)]
    out = []
    for url, tid in rows:
        link = links.get(url) if url is not None else None
        cursor = cursors.get(tid) if tid else None
        cap = captured.get(tid) if tid else None
        out.append(TerminalFacts(
            terminal_id=tid, url=url,
            dialect=None if link is None else link["dialect"],
            connected=None if link is None else bool(link["connected"]),
            last_poll_at=None if link is None else ts_parse(link["last_poll_at"]),
            last_error=None if link is None else link["last_error"],
            last_error_at=None if link is None else ts_parse(link["last_error_at"]),
            journal_cursor=None if cursor is None else cursor[0],
            cursor_stored_at=None if cursor is None else cursor[1],
            last_record_at=None if cap is None else cap.wall_time,
            device=devices.get(tid) if tid else None,
        ))
    return tuple(out)


def current_mismatches(buffer: Buffer, snap: dict[str, Any] | None
                       ) -> tuple[MismatchCheck, ...]:
    """Each terminal's latest differing settlement check, unless the agent state ``snap``
    (:meth:`AgentState.snapshot`) shows a later check of that terminal that agreed."""
    later_ok = {c["terminal_id"]: _required(c["checked_at"])
                for c in (snap or {}).get("settlement_checks", []) if not c["mismatches"]}
    return tuple(c for c in buffer.latest_settlement_mismatches()
                 if not (c.terminal_id in later_ok and later_ok[c.terminal_id] > c.wall_time))


# ---------------------------------------------------------------------- the verdict


def _reasons(f: StationFacts) -> tuple[Reason, ...]:
    limits, now = f.thresholds, f.now
    out: list[Reason] = []
    if f.quarantine:
        first = f.quarantine[0]
        out.append(Reason("quarantine", Level.FAIL, {
            "batches": len(f.quarantine), "records": sum(q.records for q in f.quarantine),
            "http_status": first.http_status, "reason": first.reason}))
    ow = f.oldest_waiting
    if f.waiting and ow is not None and now - ow.wall_time > limits.upload_stale:
        out.append(Reason("upload_stale", Level.FAIL, {
            "waiting": f.waiting, "oldest_age_s": _secs(now - ow.wall_time),
            "last_upload_at": _iso(f.last_upload_at)}))
    for c in f.mismatches:
        out.append(Reason("settlement_mismatch", Level.FAIL, {
            "terminal_id": c.terminal_id, "lines": len(c.lines),
            "checked_at": _iso(c.wall_time)}))
    old = [u for u in f.unknowns if now - u.wall_time > limits.unknown_old]
    if old:
        out.append(Reason("unknown_old", Level.WARNING, {
            "count": len(old), "amount": format_yuan(fen_to_yuan(sum(u.amount_fen for u in old))),
            "oldest_at": _iso(min(u.wall_time for u in old))}))
    a = f.agent
    if a is not None and a.stopped_at is not None:
        out.append(Reason("agent_stopped", Level.WARNING, {"stopped_at": _iso(a.stopped_at)}))
    elif a is not None and (a.heartbeat_at is None
                            or now - a.heartbeat_at > limits.agent_silent):
        out.append(Reason("agent_silent", Level.WARNING, {
            "heartbeat_at": _iso(a.heartbeat_at),
            "age_s": None if a.heartbeat_at is None else _secs(now - a.heartbeat_at)}))
    for t in f.terminals:
        name = t.terminal_id or t.url or "?"
        if f.has_state and t.url is not None:  # a terminal the agent polls
            if t.last_poll_at is None:
                out.append(Reason("poll_never", Level.WARNING, {"terminal_id": name}))
            elif now - t.last_poll_at > limits.poll_stale:
                out.append(Reason("poll_stale", Level.WARNING, {
                    "terminal_id": name, "age_s": _secs(now - t.last_poll_at),
                    "last_poll_at": _iso(t.last_poll_at)}))
        if "paper_out" in t.problems and t.device is not None:
            out.append(Reason("paper_out", Level.WARNING, {
                "terminal_id": name, "at": _iso(t.device.wall_time)}))
        if t.error_counters:
            out.append(Reason("device_errors", Level.WARNING, {
                "terminal_id": name,
                "counters": " ".join(f"{k}={v}" for k, v in t.error_counters.items())}))
    return tuple(out)


# ---------------------------------------------------------------------- JSON


def _iso(ts: datetime | None) -> str | None:
    return None if ts is None else to_cst(ts).isoformat()


def _secs(delta: timedelta) -> int:
    return int(delta.total_seconds())


def _required(text: str | None) -> datetime:
    ts = ts_parse(text)
    if ts is None:
        raise ValueError("a required time is missing")
    return ts


def _mismatch_json(m: Mismatch) -> dict[str, Any]:
    return {"kind": m.kind, "product": m.product,
            "terminal_count": m.terminal_count,
            "terminal_amount": format_yuan(fen_to_yuan(m.terminal_amount_fen)),
            "buffer_count": m.buffer_count,
            "buffer_amount": format_yuan(fen_to_yuan(m.buffer_amount_fen))}


def _terminal_json(t: TerminalFacts) -> dict[str, Any]:
    d = t.device
    return {
        "terminal_id": t.terminal_id, "url": t.url, "dialect": t.dialect,
        "connected": t.connected, "last_poll_at": _iso(t.last_poll_at),
        "last_error": t.last_error, "last_error_at": _iso(t.last_error_at),
        "journal_cursor": t.journal_cursor, "cursor_stored_at": _iso(t.cursor_stored_at),
        "last_record_at": _iso(t.last_record_at), "journal_backlog": t.journal_backlog,
        "device": None if d is None else {
            "wall_time": _iso(d.wall_time), "paper_ok": d.paper_ok,
            "error_counters": d.error_counters, "signal_dbm": d.signal_dbm,
            "uptime_ms": d.uptime_ms, "boot_id": d.boot_id},
        "problems": list(t.problems),
    }


__all__ = ["AgentFacts", "Level", "QuarantineEntry", "Reason", "StationFacts", "TerminalFacts",
           "Thresholds", "Unknown", "Waiting", "station_facts"]
