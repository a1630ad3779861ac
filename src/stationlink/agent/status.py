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
:func:`render_status` the full listing of the dict (``agent status --details``; ``lang``):
every time in CST (``YYYY-MM-DD HH:MM:SS CST``), money in 元, a missing value as "none
yet", "never" or an em dash.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from ..buffer import Buffer
from ..clock import when
from ..money import fen_to_yuan, format_yuan
from .config import AgentConfig
from .health import StationFacts, Thresholds, station_facts
from .health_screen import render_screen
from .health_text import text
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


def render_status(doc: dict[str, Any], lang: str = "zh") -> str:
    """The full listing of :func:`agent_status` (``--details``) in ``lang``: times in CST,
    money in 元, no ``None`` anywhere."""
    t = _T(lang)
    lines = [t("health.station", station_id=doc["station_id"], buffer=doc["buffer"])]
    agent = doc["agent"]
    if agent is None:
        lines.append(t("health.agent.none"))
    else:
        run = (t("status.stopped", at=when(agent["stopped_at"])) if agent["stopped_at"]
               else t("status.running"))
        lines.append(t("status.agent", pid=_v(agent["pid"]), started=when(agent["started_at"]),
                       run=run, heartbeat=when(agent["heartbeat_at"])))
    lines.append(t("status.terminals"))
    for term in doc["terminals"]:
        state = t("health.terminal.connected" if term["connected"]
                  else "health.terminal.disconnected")
        lines.append(t("status.terminal", terminal_id=term["terminal_id"] or "?",
                       url=term["url"], dialect=term["dialect"] or "?", state=state,
                       cursor=_v(term["journal_cursor"], t("health.terminal.cursor_none")),
                       poll=when(term["last_poll_at"], t("health.never"))))
        if term["last_error"]:
            lines.append(t("health.terminal.last_error", at=when(term["last_error_at"], MISSING),
                           error=term["last_error"]))
    oldest = doc["oldest_unsynced"]
    lines.append(t("status.records", records=doc["records"], synced=doc["synced_upto"],
                   backlog=doc["backlog"],
                   oldest=t("status.none") if oldest is None else t(
                       "stats.oldest.value", seq=oldest["seq"],
                       at=when(oldest["wall_time"], MISSING))))
    up = doc["upload"]
    if up is None:
        lines.append(t("health.upload.never"))
    else:
        lines.append(t("status.upload", at=when(up["last_upload_at"], t("health.never")),
                       hwm=_v(up["high_water_mark"], t("health.terminal.cursor_none")),
                       uploaded=_v(up["records_uploaded"], "0")))
        if up["last_error"]:
            lines.append(t("health.upload.error", at=when(up["last_error_at"], MISSING),
                           error=up["last_error"]))
        if up.get("next_attempt_at"):
            lines.append(t("status.next_attempt", at=when(up["next_attempt_at"])))
    lines.append(t("health.quarantine", batches=len(doc["quarantine"]),
                   records=doc["quarantined_records"]))
    for q in doc["quarantine"]:
        lines.append(t("health.quarantine.entry", id=q["id"], first=q["first_seq"],
                       last=q["last_seq"], http_status=_v(q["http_status"]), reason=q["reason"]))
    lines.append(t("status.unknowns", n=doc["unresolved_unknown"]))
    lines.append(t("status.mismatches", n=doc["settlement_mismatches"]))
    for c in doc["settlement_checks"]:
        result = (t("status.check.agree") if not c["mismatches"]
                  else t("status.check.differ", n=len(c["mismatches"])))
        lines.append(t("status.check", terminal_id=c["terminal_id"],
                       at=when(c["checked_at"], MISSING), result=result))
        for m in c["mismatches"]:
            lines.append("  " + t("health.settlement.line", kind=m["kind"],
                                  product=m["product"] or "-", tc=m["terminal_count"],
                                  ta=_yuan(m["terminal_amount_fen"]), bc=m["buffer_count"],
                                  ba=_yuan(m["buffer_amount_fen"])))
    lines.append(t("status.devices") if doc["devices"] else t("status.devices.none"))
    for d in doc["devices"]:
        lines.append(t("status.device", terminal_id=d["terminal_id"],
                       at=when(d["wall_time"], MISSING),
                       paper=t("health.paper.ok" if d["paper_ok"] else "health.paper.out"),
                       signal=_v(d["signal_dbm"]), unacked=_v(d["journal_unacked"]),
                       boot=_v(d["boot_id"])))
    return "\n".join(lines)


class _T:
    """The catalogue's ``text`` bound to one language."""

    def __init__(self, lang: str) -> None:
        self.lang = lang

    def __call__(self, msg_id: str, **values: object) -> str:
        return text(msg_id, self.lang, **values)


def _yuan(fen: object) -> str:
    return format_yuan(fen_to_yuan(fen)) if isinstance(fen, int) else MISSING
