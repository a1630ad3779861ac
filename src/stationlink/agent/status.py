"""What ``stationlink agent status`` shows: :func:`agent_status` and :func:`render_status`.

Contract: reads the buffer and the agent state file without writing either (SQLite WAL:
works while the agent runs) and returns one JSON-ready dict: station, agent process
(started, heartbeat, stopped), terminals (url, id, dialect, connected, last poll, last error,
journal cursor), backlog, oldest unsynced record, synced-up-to seq, last upload and last hub
error, open quarantine entries with reasons, unresolved unknowns, settlement mismatches
(count, and the lines of each terminal's latest daily check) and the latest device status of
each terminal. :func:`render_status` is the human form of the same dict.
"""

from __future__ import annotations

from typing import Any

from ..buffer import Buffer
from .config import AgentConfig
from .state import AgentState


def agent_status(config: AgentConfig) -> dict[str, Any]:
    with Buffer.open(config.buffer_path, config.station_id, create=False) as buf:
        stats = buf.stats()
        devices = [d.to_json() for d in buf.latest_device_status()]
        oldest = stats["oldest_unsynced"]
    state: dict[str, Any] = {"agent": None, "terminals": [], "upload": None,
                             "settlement_checks": []}
    if config.state_path.is_file():
        with AgentState(config.state_path, create=False) as st:
            state = st.snapshot()
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
    }


def render_status(doc: dict[str, Any]) -> str:
    lines = [f"station {doc['station_id']} (buffer {doc['buffer']})"]
    agent = doc["agent"]
    if agent is None:
        lines.append("agent: never started")
    else:
        run = f"stopped {agent['stopped_at']}" if agent["stopped_at"] else "running"
        lines.append(f"agent: pid {agent['pid']}, started {agent['started_at']}, {run}, "
                     f"last heartbeat {agent['heartbeat_at']}")
    lines.append("terminals:")
    for t in doc["terminals"]:
        state = "connected" if t["connected"] else "not connected"
        lines.append(f"  {t['terminal_id'] or '?'} {t['url']} ({t['dialect'] or '?'}): {state}, "
                     f"cursor {t['journal_cursor']}, last poll {t['last_poll_at'] or 'never'}")
        if t["last_error"]:
            lines.append(f"    last error {t['last_error_at']}: {t['last_error']}")
    oldest = doc["oldest_unsynced"]
    oldest_text = "none" if oldest is None else f"seq {oldest['seq']} at {oldest['wall_time']}"
    lines.append(f"records {doc['records']}, synced up to {doc['synced_upto']}, "
                 f"backlog {doc['backlog']}, oldest unsynced {oldest_text}")
    up = doc["upload"]
    if up is None:
        lines.append("last upload: never")
    else:
        lines.append(f"last upload: {up['last_upload_at'] or 'never'} (hub high-water mark "
                     f"{up['high_water_mark']}, {up['records_uploaded']} records uploaded)")
        if up["last_error"]:
            lines.append(f"  last hub error {up['last_error_at']}: {up['last_error']}")
    lines.append(f"quarantine: {len(doc['quarantine'])} batch(es), "
                 f"{doc['quarantined_records']} record(s)")
    for q in doc["quarantine"]:
        lines.append(f"  entry {q['id']}: seq {q['first_seq']}..{q['last_seq']} "
                     f"HTTP {q['http_status']}: {q['reason']}")
    lines.append(f"unresolved unknown outcomes: {doc['unresolved_unknown']}")
    lines.append(f"settlement mismatches: {doc['settlement_mismatches']}")
    for c in doc["settlement_checks"]:
        result = "agree" if not c["mismatches"] else f"{len(c['mismatches'])} line(s) differ"
        lines.append(f"  {c['terminal_id']} checked {c['checked_at']}: {result}")
        for m in c["mismatches"]:
            lines.append(f"    {m['kind']} {m['product'] or '-'}: terminal {m['terminal_count']} "
                         f"/ {m['terminal_amount_fen']} fen, buffer {m['buffer_count']} / "
                         f"{m['buffer_amount_fen']} fen")
    lines.append("device status:")
    for d in doc["devices"]:
        lines.append(f"  {d['terminal_id']} at {d['wall_time']}: paper "
                     f"{'ok' if d['paper_ok'] else 'OUT'}, signal {d['signal_dbm']} dBm, "
                     f"unacked {d['journal_unacked']}, boot {d['boot_id']}")
    return "\n".join(lines)
