"""The identity, device-status and clock checks: readings in, findings out (no I/O here).

Contract (finding ids in :mod:`.catalogue`, thresholds here, table in docs/diag.md):
- :func:`identify_check`: ``identify.ok`` with vendor, model, serial and firmware.
- :func:`device_check` over the device status read before and after the link check:
  ``device.paper_out`` (fail), ``device.rebooted`` (the boot id changed during the run:
  fail), ``device.recent_boot`` (uptime under :data:`RECENT_BOOT_S`: warning),
  ``device.errors`` (error counters other than the line's own, which the link check judges:
  warning), else ``device.ok``.
- :func:`clock_check` compares the terminal clock with the PC clock at the moment of the
  last reading: ``clock.impossible`` (before 2000 or after 2099: fail), ``clock.reset``
  (2000-01-01 or -02 in CST, where a flat RTC battery puts it: fail), ``clock.behind`` /
  ``clock.ahead`` (off by more than :data:`MAX_OFFSET_S`: warning), ``clock.backwards``
  (earlier than the last reading the buffer stored: fail on the same boot, warning after a
  reboot), else ``clock.ok``. With a stored reading at least :data:`DRIFT_BASE_S` old the
  drift rate since then is measured (ppm), without a verdict of its own.
- Parameters meant for people (durations, times) are formatted in the report's language;
  the raw numbers are in the measurements.
"""

from __future__ import annotations

from datetime import date, datetime, timedelta
from typing import Any

from ..buffer.health import DeviceSnapshot
from ..client import DeviceStatus, TerminalInfo
from ..money import to_cst
from .catalogue import Lang, duration
from .model import Check, Status

RECENT_BOOT_S = 300.0
MAX_OFFSET_S = 120.0
DRIFT_BASE_S = 600.0
#: counters of line trouble: judged by the link check, not by the device check
LINE_COUNTERS = frozenset({
    "line_errors", "nak_sent", "duplicate_requests", "rejected_requests", "responses_not_acked",
})
RESET_DAYS = (date(2000, 1, 1), date(2000, 1, 2))


def cst_text(ts: datetime) -> str:
    return to_cst(ts).strftime("%Y-%m-%d %H:%M:%S")


def identity(info: TerminalInfo) -> dict[str, Any]:
    return {
        "terminal_id": info.terminal_id,
        "vendor": info.vendor,
        "model": info.model,
        "serial": info.serial_number,
        "firmware": info.firmware,
        "dialect": info.dialect.value,
        "capabilities": sorted(info.capabilities),
    }


def identify_check(check: Check, info: TerminalInfo) -> dict[str, Any]:
    ident = identity(info)
    check.measurements = ident
    check.add("identify.ok", Status.OK, vendor=info.vendor, model=info.model,
              serial=info.serial_number, firmware=info.firmware)
    return ident


def _status_json(s: DeviceStatus) -> dict[str, Any]:
    return {
        "paper_ok": s.paper_ok,
        "error_counters": dict(sorted(s.error_counters.items())),
        "signal_dbm": s.signal_dbm,
        "uptime_s": round(s.uptime_ms / 1000, 1),
        "boot_id": s.boot_id,
        "terminal_time": to_cst(s.terminal_time).isoformat(),
        "journal_unacked": s.journal_unacked,
    }


def device_check(
    check: Check, before: DeviceStatus, after: DeviceStatus | None, lang: Lang
) -> None:
    last = after or before
    check.measurements = {"before": _status_json(before),
                          "after": None if after is None else _status_json(after)}
    if not before.paper_ok or not last.paper_ok:
        check.add("device.paper_out", Status.FAIL)
    if after is not None and after.boot_id != before.boot_id:
        check.add("device.rebooted", Status.FAIL, before=before.boot_id, after=after.boot_id)
    elif before.uptime_ms / 1000 < RECENT_BOOT_S:
        check.add("device.recent_boot", Status.WARNING,
                  uptime=duration(before.uptime_ms / 1000, lang))
    other = {k: v for k, v in last.error_counters.items() if v and k not in LINE_COUNTERS}
    if other:
        counters = ", ".join(f"{k}={v}" for k, v in sorted(other.items()))
        check.add("device.errors", Status.WARNING, counters=counters)
    if not check.findings:
        check.add("device.ok", Status.OK, uptime=duration(last.uptime_ms / 1000, lang))


def clock_check(
    check: Check, terminal_time: datetime, pc_time: datetime, lang: Lang, *,
    boot_id: int | None = None, last_seen: DeviceSnapshot | None = None,
) -> None:
    offset = (terminal_time - pc_time).total_seconds()
    m: dict[str, Any] = {
        "terminal_time": to_cst(terminal_time).isoformat(),
        "pc_time": to_cst(pc_time).isoformat(),
        "offset_s": round(offset, 1),
        "drift_ppm": None,
        "last_seen": None,
    }
    check.measurements = m
    shown = cst_text(terminal_time)
    local = to_cst(terminal_time)
    if local.year < 2000 or local.year > 2099:
        check.add("clock.impossible", Status.FAIL, terminal_time=shown)
    elif local.date() in RESET_DAYS:
        check.add("clock.reset", Status.FAIL, terminal_time=shown)
    elif offset < -MAX_OFFSET_S:
        check.add("clock.behind", Status.WARNING, offset=duration(offset, lang),
                  offset_s=round(offset))
    elif offset > MAX_OFFSET_S:
        check.add("clock.ahead", Status.WARNING, offset=duration(offset, lang),
                  offset_s=round(offset))
    if last_seen is not None:
        m["last_seen"] = {"terminal_time": to_cst(last_seen.terminal_time).isoformat(),
                          "wall_time": to_cst(last_seen.wall_time).isoformat(),
                          "boot_id": last_seen.boot_id}
        if terminal_time < last_seen.terminal_time - timedelta(seconds=MAX_OFFSET_S):
            same_boot = boot_id is not None and boot_id == last_seen.boot_id
            check.add("clock.backwards", Status.FAIL if same_boot else Status.WARNING,
                      then=cst_text(last_seen.terminal_time), now=shown)
        elapsed = (pc_time - last_seen.wall_time).total_seconds()
        if elapsed >= DRIFT_BASE_S:
            then = (last_seen.terminal_time - last_seen.wall_time).total_seconds()
            m["drift_ppm"] = round((offset - then) / elapsed * 1e6, 1)
    if not check.findings:
        check.add("clock.ok", Status.OK, offset=duration(max(abs(offset), 1.0), lang))

