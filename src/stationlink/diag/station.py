"""The station-buffer check: does the station PC hold what the terminal holds?

Contract:
- Runs only when a buffer is given (``--buffer FILE``, or the buffer of ``--config
  agent.toml`` with its agent state). The buffer and the agent state are only read: the
  station's stored facts come from :func:`stationlink.agent.health.station_facts` (last
  upload, records waiting, quarantine, unresolved unknowns, stored settlement mismatches,
  agent liveness), each of its reasons becoming a ``buffer.station`` finding that carries the
  reason's own id, text and advice (``stationlink.agent.health_text``).
- Live, from the terminal (read-only requests): the **journal backlog**, the records the
  terminal's journal holds after the buffer's stored cursor for this terminal, read page by
  page without any JOURNAL_ACK (at most :data:`MAX_PAGES` pages; ``backlog_capped`` says when
  there were more) -> ``buffer.backlog`` (warning); and the **settlement totals** the terminal
  reports, compared with the buffer's approved, not reversed transactions of this terminal
  since the totals' ``since`` (the effective view of ``Buffer.transactions``) ->
  ``buffer.settlement_mismatch`` (warning; amounts in 元 with two decimals).
- Else ``buffer.ok``. A buffer that cannot be read is ``buffer.failed`` (fail).
"""

from __future__ import annotations

from collections import Counter
from datetime import datetime
from pathlib import Path
from typing import Any

from ..agent.health import Level, station_facts
from ..agent.state import AgentState
from ..buffer import Buffer
from ..buffer.health import DeviceSnapshot
from ..client import SettlementTotals, Terminal
from ..money import fen_to_yuan, format_yuan, yuan_to_fen
from .catalogue import Lang
from .model import Check, Status

MAX_PAGES = 20
PAGE_LIMIT = 6


def journal_backlog(term: Terminal, after: int) -> tuple[int, bool]:
    """Records after cursor ``after`` (read only, never acknowledged); capped?"""
    count = 0
    for _ in range(MAX_PAGES):
        page = term.journal(after, limit=PAGE_LIMIT)
        count += len(page.records)
        if not page.more or not page.records:
            return count, False
        after = page.next_cursor
    return count, True


def _yuan(fen: int) -> str:
    return f"{format_yuan(fen_to_yuan(fen))}元"


def settlement_lines(buf: Buffer, terminal_id: str, totals: SettlementTotals) -> list[str]:
    """The (kind, product) lines where the terminal's totals and the buffer differ."""
    ours: Counter[tuple[str, str]] = Counter()
    ours_fen: Counter[tuple[str, str]] = Counter()
    for t in buf.transactions():
        if t.terminal_id != terminal_id or t.status != "approved" or t.ts < totals.since:
            continue
        ours[(t.kind, t.product)] += 1
        ours_fen[(t.kind, t.product)] += yuan_to_fen(t.amount)
    theirs = {(str(ln.kind), ln.product): (ln.count, ln.amount_fen) for ln in totals.lines}
    out = []
    for key in sorted(set(ours) | set(theirs)):
        t_count, t_fen = theirs.get(key, (0, 0))
        b_count, b_fen = ours[key], ours_fen[key]
        if (t_count, t_fen) != (b_count, b_fen):
            out.append(f"{key[0]}/{key[1]} {t_count}×{_yuan(t_fen)} ≠ {b_count}×{_yuan(b_fen)}")
    return out


def last_seen(buf: Buffer, terminal_id: str) -> DeviceSnapshot | None:
    """The last device status the buffer stored for the terminal."""
    return next((d for d in buf.latest_device_status() if d.terminal_id == terminal_id), None)


def buffer_check(
    check: Check, buf: Buffer, state_path: Path | None, term: Terminal, terminal_id: str,
    now: datetime, lang: Lang,
) -> None:
    state = None
    if state_path is not None and state_path.is_file():
        state = AgentState(state_path, create=False)
    try:
        facts = station_facts(buf, state, now)
    finally:
        if state is not None:
            state.close()
    m: dict[str, Any] = {
        "buffer": str(buf.path),
        "station_id": facts.station_id,
        "records": facts.records,
        "waiting": facts.waiting,
        "last_upload_at": None if facts.last_upload_at is None
        else facts.last_upload_at.isoformat(),
        "quarantined_records": sum(q.records for q in facts.quarantine),
        "unresolved_unknowns": len(facts.unknowns),
        "station_verdict": facts.verdict.value,
    }
    check.measurements = m
    for reason in facts.reasons:
        status = Status.FAIL if reason.level is Level.FAIL else Status.WARNING
        check.add("buffer.station", status, reason=reason.id, text=reason.text(lang),
                  advice=reason.advice(lang))
    cursor = buf.get_cursor(terminal_id)
    backlog, capped = journal_backlog(term, cursor or 0)
    m["journal_cursor"] = cursor
    m["journal_backlog"] = backlog
    m["backlog_capped"] = capped
    if backlog:
        check.add("buffer.backlog", Status.WARNING,
                  count=f"{backlog}+" if capped else str(backlog))
    lines = settlement_lines(buf, terminal_id, term.settlement_totals())
    m["settlement_mismatches"] = lines
    if lines:
        check.add("buffer.settlement_mismatch", Status.WARNING, lines="; ".join(lines))
    if not check.findings:
        check.add("buffer.ok", Status.OK, records=facts.records, waiting=facts.waiting)

