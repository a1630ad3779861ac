"""What ``stationlink agent status`` shows: :func:`agent_status`, :func:`status_screen` and
:func:`render_status`.

Contract: reads the buffer and the agent state file without writing either (SQLite WAL:
works while the agent runs) and returns one JSON-ready dict: station, agent process
(started, heartbeat, stopped), terminals (url, id, dialect, connected, last poll, last error,
journal cursor), backlog, oldest unsynced record, synced-up-to seq, last upload and last hub
error, open quarantine entries with reasons, unresolved unknowns, settlement mismatches
(count, and the lines of each terminal's latest daily check) and the latest device status of
each terminal; a value not known yet is ``null`` (never the text ``None``); and under
``health`` the station's facts and "data flowing" verdict at ``now``
(:func:`stationlink.agent.health.station_facts`, :meth:`StationFacts.to_json` in ``lang``).
:func:`status_screen` is the one-screen human form (verdict first; ``lang`` zh or en);
:func:`render_status` the full English listing of the dict (``agent status --details``):
every time in CST (``YYYY-MM-DD HH:MM:SS CST``), a missing value as "none yet", "never" or
an em dash.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from ..buffer import Buffer
from ..timetext import when
from .config import AgentConfig
from .health import StationFacts, Thresholds, station_facts
from .health_screen import render_screen
from .state import AgentState


def agent_facts(config: AgentConfig, now: datetime, *,
                thresholds: Thresholds | None = None) -> tuple[dict[str, Any], StationFacts]:
    """The status dict (without ``health``) and the station's facts, read in one go."""
    state: dict[str, Any] = {"agent": None, "terminals": [], "upload": None,
                             "settlement_checks": []}
    configured = [(t.url, t.terminal_id) for t in config.terminals]
    with Buffer.open(config.buffer_path, config.station_id, create=False) as buf:
        stats = buf.stats()
        devices = [d.to_json() for d in buf.latest_device_status()]
        oldest = stats["oldest_unsynced"]
        if config.state_path.is_file():
            with AgentState(config.state_path, create=False) as st:
                state = st.snapshot()
                facts = station_facts(buf, st, now, thresholds=thresholds,
                                      configured=configured)
        else:
            facts = station_facts(buf, None, now, thresholds=thresholds, configured=configured)
    cursors = stats["journal_cursors"]
    known = {t["url"]: t for t in state["terminals"]}
    terminals = []
    for entry in config.terminals:
        t = known.get(entry.url, {})
        tid = t.get("terminal_id") or entry.terminal_id
        terminals.append({
            "url": entry.url, "terminal_id": tid, "dialect": t.get("dialect"),
            "connected": bool(t.get("connected", False)),
            "last_poll_at": t.get("last_poll_at"), "last_error": t.get("last_error"),
            "last_error_at": t.get("last_error_at"),
            "journal_cursor": cursors.get(tid) if tid else None,
        })
    return {
        "station_id": config.station_id,
        "buffer": str(config.buffer_path),
        "agent": state["agent"],
        "terminals": terminals,
        "records": stats["records"],
        "synced_upto": stats["synced_upto"],
        "backlog": stats["backlog"],
        "oldest_unsynced": oldest,
        "upload": state["upload"],
        "quarantine": stats["quarantine"],
        "quarantined_records": stats["quarantined_records"],
        "unresolved_unknown": stats["unresolved_unknown"],
        "settlement_mismatches": stats["settlement_mismatches"],
        "settlement_checks": state["settlement_checks"],
        "devices": devices,
    }, facts


def agent_status(config: AgentConfig, now: datetime, *, lang: str = "zh",
                 thresholds: Thresholds | None = None) -> dict[str, Any]:
    """The JSON document of ``agent status --json`` (module contract)."""
    doc, facts = agent_facts(config, now, thresholds=thresholds)
    return doc | {"health": facts.to_json(lang)}


def status_screen(config: AgentConfig, now: datetime, *, lang: str = "zh",
                  thresholds: Thresholds | None = None) -> str:
    """The one screen of ``agent status`` (verdict first)."""
    _, facts = agent_facts(config, now, thresholds=thresholds)
    return "\n".join(render_screen(facts, lang, buffer=str(config.buffer_path)))


MISSING = "—"  # an em dash: a value not known (yet)


def _v(value: object, missing: str = MISSING) -> str:
    """A value for people: ``missing`` instead of ``None``."""
    return missing if value is None else str(value)


def render_status(doc: dict[str, Any]) -> str:
    """The human form of :func:`agent_status`: times in CST, no ``None`` anywhere."""
    lines = [f"station {doc['station_id']} (buffer {doc['buffer']})"]
    agent = doc["agent"]
    if agent is None:
        lines.append("agent: never started")
    else:
        run = f"stopped {when(agent['stopped_at'])}" if agent["stopped_at"] else "running"
        lines.append(f"agent: pid {_v(agent['pid'])}, started {when(agent['started_at'])}, "
                     f"{run}, last heartbeat {when(agent['heartbeat_at'])}")
    lines.append("terminals:")
    for t in doc["terminals"]:
        state = "connected" if t["connected"] else "not connected"
        lines.append(f"  {t['terminal_id'] or '?'} {t['url']} ({t['dialect'] or '?'}): {state}, "
                     f"cursor {_v(t['journal_cursor'], 'none yet')}, "
                     f"last poll {when(t['last_poll_at'])}")
        if t["last_error"]:
            lines.append(f"    last error {when(t['last_error_at'], MISSING)}: {t['last_error']}")
    oldest = doc["oldest_unsynced"]
    oldest_text = ("none" if oldest is None
                   else f"seq {oldest['seq']} at {when(oldest['wall_time'], MISSING)}")
    lines.append(f"records {doc['records']}, synced up to {doc['synced_upto']}, "
                 f"backlog {doc['backlog']}, oldest unsynced {oldest_text}")
    up = doc["upload"]
    if up is None:
        lines.append("last upload: never")
    else:
        lines.append(f"last upload: {when(up['last_upload_at'])} (hub high-water mark "
                     f"{_v(up['high_water_mark'], 'none yet')}, "
                     f"{_v(up['records_uploaded'], '0')} records uploaded)")
        if up["last_error"]:
            lines.append(f"  last hub error {when(up['last_error_at'], MISSING)}: "
                         f"{up['last_error']}")
        if up.get("next_attempt_at"):
            lines.append(f"  next attempt {when(up['next_attempt_at'])}")
    lines.append(f"quarantine: {len(doc['quarantine'])} batch(es), "
                 f"{doc['quarantined_records']} record(s)")
    for q in doc["quarantine"]:
        lines.append(f"  entry {q['id']}: seq {q['first_seq']}..{q['last_seq']} "
                     f"HTTP {_v(q['http_status'])}: {q['reason']}")
    lines.append(f"unresolved unknown outcomes: {doc['unresolved_unknown']}")
    lines.append(f"settlement mismatches: {doc['settlement_mismatches']}")
    for c in doc["settlement_checks"]:
        result = "agree" if not c["mismatches"] else f"{len(c['mismatches'])} line(s) differ"
        lines.append(f"  {c['terminal_id']} checked {when(c['checked_at'], MISSING)}: {result}")
        for m in c["mismatches"]:
            lines.append(f"    {m['kind']} {m['product'] or '-'}: terminal {m['terminal_count']} "
                         f"/ {m['terminal_amount_fen']} fen, buffer {m['buffer_count']} / "
                         f"{m['buffer_amount_fen']} fen")
    lines.append("device status:" if doc["devices"] else "device status: none yet")
    for d in doc["devices"]:
        lines.append(f"  {d['terminal_id']} at {when(d['wall_time'], MISSING)}: paper "
                     f"{'ok' if d['paper_ok'] else 'OUT'}, signal {_v(d['signal_dbm'])} dBm, "
                     f"unacked {_v(d['journal_unacked'])}, boot {_v(d['boot_id'])}")
    return "\n".join(lines)
