"""The health facts as one screen: :func:`render_screen` (``agent status``) and
:func:`render_stats` (``buffer stats``).

Contract: both return lines for people in ``lang`` (``zh`` default, ``en``; strings from
:mod:`.health_text`): the verdict line first, then the reasons (failures first; as many lines as the
screen has left, at least :data:`MAX_REASON_LINES`, the last one saying how many more when
they do not all fit), then what to look at.
Every line fits :data:`WIDTH` terminal columns (a CJK character counts two; a longer line is
cut with ``…``), and a station with two terminals fits :data:`HEIGHT` lines: lists that can
grow (quarantine entries, mismatch lines) show their first item and the count; a long
terminal URL is cut so that the link state and paper after it stay on the line. Times in CST
(:func:`stationlink.clock.when`), money as 元 with two decimals, a value not known as
"never"/"none yet"/"unknown", never ``None``.
"""

from __future__ import annotations

from typing import Any

from ..clock import when
from ..i18n.width import cut
from ..i18n.width import display_width as width
from ..money import fen_to_yuan, format_yuan
from .health import Level, StationFacts, TerminalFacts
from .health_text import duration, text

WIDTH = 80
HEIGHT = 24
MAX_REASON_LINES = 4
LABEL_WIDTH = 22
MIN_URL = 16  # a terminal's URL is cut to the room its line leaves, but never below this


def verdict_lines(facts: StationFacts, lang: str = "zh", *,
                  max_reasons: int = MAX_REASON_LINES) -> list[str]:
    """The verdict line and at most ``max_reasons`` reason lines (failures first; the last
    line says how many more there are when they do not all fit)."""
    fails = sum(r.level is Level.FAIL for r in facts.reasons)
    warnings = len(facts.reasons) - fails
    lines = [text(f"health.verdict.{facts.verdict.value}", lang, fails=fails,
                  warnings=warnings)]
    shown = tuple(sorted(facts.reasons, key=lambda r: r.level is not Level.FAIL))
    if len(shown) > max_reasons:
        shown = shown[:max_reasons - 1]
    for r in shown:
        lines.append(f"  {text(f'health.level.{r.level.value}', lang)} {r.text(lang)}")
    if len(shown) < len(facts.reasons):
        lines.append(text("health.more_reasons", lang, n=len(facts.reasons) - len(shown)))
    return lines


def render_screen(facts: StationFacts, lang: str = "zh", *, buffer: str = "") -> list[str]:
    """The ``agent status`` screen (module contract)."""
    t = _T(lang)
    lines = [t("health.station", station_id=facts.station_id, buffer=buffer)]
    lines.append(_agent_line(facts, t))
    lines.append(_captured_line(facts, t))
    for term in facts.terminals:
        lines += _terminal_lines(term, t)
    lines += _upload_lines(facts, t)
    oldest = facts.oldest_waiting
    lines.append(t("health.waiting", records=facts.records, synced=facts.synced_upto,
                   waiting=facts.waiting))
    if oldest is not None:
        lines.append(t("health.waiting.oldest", seq=oldest.seq, at=when(oldest.wall_time),
                       age=duration((facts.now - oldest.wall_time).total_seconds(), lang)))
    lines += _quarantine_lines(facts, t)
    first_unknown = min((u.wall_time for u in facts.unknowns), default=None)
    lines.append(t("health.unknowns", count=len(facts.unknowns),
                   amount=format_yuan(facts.unknown_amount),
                   oldest="" if first_unknown is None else t("health.unknowns.oldest",
                                                             at=when(first_unknown))))
    lines += _settlement_lines(facts, t)
    head = verdict_lines(facts, lang, max_reasons=max(MAX_REASON_LINES, HEIGHT - 1 - len(lines)))
    return [cut(line, WIDTH) for line in head + lines]


def render_stats(stats: dict[str, Any], facts: StationFacts, lang: str = "zh") -> list[str]:
    """The ``buffer stats`` screen: the verdict, then the buffer's counts (module contract)."""
    t = _T(lang)
    oldest = stats["oldest_unsynced"]
    rows: list[tuple[str, str]] = [
        ("stats.station", str(stats["station_id"])),
        ("stats.records", str(stats["records"])),
        ("stats.transactions", f"{stats['transactions']}"
         + "".join(f"  {k} {v}" for k, v in stats["by_status"].items())),
        ("stats.reversals", str(stats["reversals"])),
        ("stats.unknown", t("stats.unknown.value", n=stats["unknown"],
                            unresolved=stats["unresolved_unknown"])),
        ("stats.void", str(stats["void"])),
        ("stats.referrals", t("stats.referrals.value", n=stats["referrals"],
                              cancelled=stats["referrals_cancelled"])),
        ("stats.synced", str(stats["synced_upto"])),
        ("stats.backlog", str(stats["backlog"])),
        ("stats.oldest", "-" if oldest is None else t(
            "stats.oldest.value", seq=oldest["seq"], at=when(oldest["wall_time"]))),
        ("stats.last_upload", when(facts.last_upload_at, t("health.never"))
         if facts.has_state else t("health.unknown")),
        ("stats.quarantined", t("stats.quarantined.value", batches=stats["quarantined_batches"],
                                records=stats["quarantined_records"])),
    ]
    lines = [_row(t(label), value) for label, value in rows]
    if facts.quarantine:
        q = facts.quarantine[0]
        lines.append(t("health.quarantine.entry", id=q.id, first=q.first_seq, last=q.last_seq,
                       http_status=q.http_status, reason=q.reason))
    lines += [
        _row(t("stats.conflicts"), str(stats["conflicts"])),
        _row(t("stats.mismatches"), str(stats["settlement_mismatches"])),
        _row(t("stats.snapshots"), str(stats["device_snapshots"])),
    ]
    for term in facts.terminals:
        cursor = t("health.terminal.cursor_none") if term.journal_cursor is None else str(
            term.journal_cursor)
        value = t("stats.terminal.value", cursor=cursor,
                  at=when(term.last_record_at, t("health.never")))
        if "paper_out" in term.problems:
            value += t("stats.terminal.paper_out")
        lines.append(_row(t("stats.terminal", terminal_id=term.terminal_id or "?"), value))
    head = verdict_lines(facts, lang, max_reasons=max(MAX_REASON_LINES, HEIGHT - 1 - len(lines)))
    return [cut(line, WIDTH) for line in head + lines]


# ---------------------------------------------------------------------- pieces


class _T:
    """``text`` bound to one language."""

    def __init__(self, lang: str) -> None:
        self.lang = lang

    def __call__(self, msg_id: str, **values: object) -> str:
        return text(msg_id, self.lang, **values)


def _row(label: str, value: str) -> str:
    label += ":"
    pad = max(LABEL_WIDTH, width(label) + 1) - width(label)
    return label + " " * pad + value


def _agent_line(f: StationFacts, t: _T) -> str:
    a = f.agent
    if not f.has_state:
        return t("health.agent.no_state")
    if a is None:
        return t("health.agent.none")
    pid = "?" if a.pid is None else a.pid
    started = when(a.started_at, t("health.unknown"))
    if a.stopped_at is not None:
        return t("health.agent.stopped", pid=pid, stopped_at=when(a.stopped_at),
                 started_at=started)
    age = (t("health.unknown") if a.heartbeat_at is None
           else duration((f.now - a.heartbeat_at).total_seconds(), t.lang))
    return t("health.agent.running", pid=pid, started_at=started, age=age)


def _captured_line(f: StationFacts, t: _T) -> str:
    if f.last_record is None:
        return t("health.captured.none")
    tid, seq, at = f.last_record
    return t("health.captured", at=when(at), terminal_id=tid, seq=seq)


def _terminal_lines(term: TerminalFacts, t: _T) -> list[str]:
    link = ("health.terminal.link_unknown" if term.connected is None else
            "health.terminal.connected" if term.connected else "health.terminal.disconnected")
    d = term.device
    device = t("health.device.none") if d is None else t(
        "health.device", paper=t("health.paper.ok" if d.paper_ok else "health.paper.out"),
        unacked=d.journal_unacked)
    cursor = (t("health.terminal.cursor_none") if term.journal_cursor is None
              else str(term.journal_cursor))
    values = {"terminal_id": term.terminal_id or "?", "dialect": term.dialect or "?",
              "link": t(link), "device": device}
    room = WIDTH - width(t("health.terminal", url="", **values))
    lines = [
        t("health.terminal", url=cut(term.url or "-", max(MIN_URL, room)), **values),
        t("health.terminal.cursor", cursor=cursor,
          last_poll_at=when(term.last_poll_at, t("health.never"))),
    ]
    if term.last_error and (term.last_poll_at is None or term.last_error_at is None
                            or term.last_error_at >= term.last_poll_at):
        lines.append(t("health.terminal.last_error",
                       at=when(term.last_error_at, t("health.unknown")),
                       error=" ".join(term.last_error.split())))
    return lines


def _upload_lines(f: StationFacts, t: _T) -> list[str]:
    if not f.has_state:
        return [t("health.upload.unknown")]
    if f.last_upload_at is None:
        lines = [t("health.upload.never")]
    else:
        hwm = t("health.unknown") if f.high_water_mark is None else f.high_water_mark
        lines = [t("health.upload", at=when(f.last_upload_at), hwm=hwm)]
    if f.upload_error and (f.last_upload_at is None or f.upload_error_at is None
                           or f.upload_error_at >= f.last_upload_at):
        lines.append(t("health.upload.error", at=when(f.upload_error_at, t("health.unknown")),
                       error=" ".join(f.upload_error.split())))
    return lines


def _quarantine_lines(f: StationFacts, t: _T) -> list[str]:
    lines = [t("health.quarantine", batches=len(f.quarantine),
               records=sum(q.records for q in f.quarantine))]
    if f.quarantine:
        q = f.quarantine[0]
        lines.append(t("health.quarantine.entry", id=q.id, first=q.first_seq, last=q.last_seq,
                       http_status=q.http_status, reason=" ".join(q.reason.split())))
    return lines


def _settlement_lines(f: StationFacts, t: _T) -> list[str]:
    if not f.mismatches:
        return [t("health.settlement.none")]
    c = f.mismatches[0]
    lines = [t("health.settlement", terminal_id=c.terminal_id, at=when(c.wall_time),
               lines=len(c.lines))]
    m = c.lines[0]
    lines.append(t("health.settlement.line", kind=m.kind, product=m.product or "-",
                   tc=m.terminal_count, ta=format_yuan(fen_to_yuan(m.terminal_amount_fen)),
                   bc=m.buffer_count, ba=format_yuan(fen_to_yuan(m.buffer_amount_fen))))
    more = len(f.mismatches) - 1 + len(c.lines) - 1
    if more:
        lines.append(t("health.more", n=more))
    return lines


__all__ = ["HEIGHT", "WIDTH", "render_screen", "render_stats", "verdict_lines", "width"]
