"""The clock and device checks on given readings (no I/O), and the duration wording."""

from __future__ import annotations

from datetime import datetime, timedelta

import pytest

from stationlink.buffer.health import DeviceSnapshot
from stationlink.client import DeviceStatus
from stationlink.diag.catalogue import duration, text
from stationlink.diag.checks import clock_check, device_check
from stationlink.diag.model import Check, Report, Status
from stationlink.money import CST

PC = datetime(2026, 3, 16, 9, 0, tzinfo=CST)


def clock(terminal: datetime, **kw: object) -> Check:
    check = Check("clock")
    clock_check(check, terminal, PC, "zh", **kw)  # type: ignore[arg-type]
    return check


@pytest.mark.parametrize(("terminal", "finding"), [
    (datetime(1999, 12, 31, 23, 0, tzinfo=CST), "clock.impossible"),
    (datetime(2100, 1, 1, 0, 0, tzinfo=CST), "clock.impossible"),
    (datetime(2000, 1, 1, 0, 5, tzinfo=CST), "clock.reset"),
    (PC - timedelta(seconds=121), "clock.behind"),
    (PC + timedelta(seconds=121), "clock.ahead"),
    (PC - timedelta(seconds=119), "clock.ok"),
])
def test_clock_verdicts(terminal: datetime, finding: str) -> None:
    assert clock(terminal).ids == [finding]


def snapshot(terminal_time: datetime, boot_id: int, wall: datetime) -> DeviceSnapshot:
    return DeviceSnapshot(True, {}, 0, 1000, boot_id, terminal_time, 0, id=1, terminal_id="T1",
                          wall_time=wall)


def test_a_clock_gone_back_fails_on_the_same_boot_and_warns_after_a_reboot() -> None:
    seen = snapshot(PC + timedelta(hours=5), 3, PC - timedelta(hours=1))
    same = clock(PC, boot_id=3, last_seen=seen)
    other = clock(PC, boot_id=4, last_seen=seen)
    assert [(f.id, f.status) for f in same.findings] == [("clock.backwards", Status.FAIL)]
    assert [(f.id, f.status) for f in other.findings] == [("clock.backwards", Status.WARNING)]


def test_drift_is_measured_from_the_last_stored_reading() -> None:
    day = timedelta(days=1)
    seen = snapshot(PC - day, 1, PC - day)  # exactly right a day ago
    check = clock(PC + timedelta(seconds=8.64), boot_id=1, last_seen=seen)  # 100 ppm fast
    assert check.measurements["drift_ppm"] == pytest.approx(100.0)
    assert check.ids == ["clock.ok"]


def status(paper: bool = True, boot: int = 1, uptime_s: float = 3600.0,
           counters: dict[str, int] | None = None) -> DeviceStatus:
    return DeviceStatus(paper, counters or {}, 0, int(uptime_s * 1000), boot, PC, 0)


def test_device_verdicts() -> None:
    def ids(before: DeviceStatus, after: DeviceStatus | None) -> list[str]:
        check = Check("device")
        device_check(check, before, after, "en")
        return check.ids

    assert ids(status(), status()) == ["device.ok"]
    assert ids(status(), status(paper=False)) == ["device.paper_out"]
    assert ids(status(), status(boot=2, uptime_s=3)) == ["device.rebooted"]
    assert ids(status(uptime_s=60), None) == ["device.recent_boot"]
    # line counters belong to the link check; others are the device's own errors
    assert ids(status(counters={"line_errors": 5}), None) == ["device.ok"]
    assert ids(status(counters={"internal_errors": 1}), None) == ["device.errors"]


def test_durations_read_like_people_write_them() -> None:
    assert duration(-3 * 3600, "zh") == "3小时"
    assert duration(3 * 3600, "en") == "3 h"
    assert duration(5400, "en") == "1.5 h"
    assert duration(25 * 60, "zh") == "25分钟"
    assert duration(40, "en") == "40 s"
    assert text("clock.behind", "zh", {"offset": duration(-3 * 3600, "zh")}) == "终端时钟慢了3小时"


def test_exit_codes_follow_the_worst_status() -> None:
    report = Report("tcp://x:1", PC)
    assert report.exit_code() == 3
    report.connected = True
    report.check("link").add("link.ok", Status.OK, exchanges=1, p50_ms=1.0)
    assert report.exit_code() == 0
    report.check("clock").add("clock.ahead", Status.WARNING, offset="3 h", offset_s=1)
    assert report.exit_code() == 1
    report.check("device").add("device.paper_out", Status.FAIL)
    assert report.exit_code() == 2


def test_docs_diag_names_every_finding() -> None:
    from pathlib import Path

    from stationlink.diag.catalogue import FINDINGS

    doc = (Path(__file__).parents[2] / "docs" / "diag.md").read_text(encoding="utf-8")
    missing = [msg_id for msg_id in FINDINGS if f"`{msg_id}`" not in doc]
    assert not missing, f"docs/diag.md does not list {missing}"


def test_the_field_guides_exist_in_both_languages_with_their_pictures() -> None:
    from pathlib import Path

    docs = Path(__file__).parents[2] / "docs"
    for name, lang in (("field-guide.md", "zh"), ("field-guide.en.md", "en")):
        text = (docs / name).read_text(encoding="utf-8")
        for cmd in ("stationlink ports", "stationlink diag", "stationlink monitor"):
            assert cmd in text, (name, cmd)
        for png in (f"img/diag-console.{lang}.png", f"img/diag-report.{lang}.png"):
            assert f"]({png})" in text, (name, png)
            assert (docs / png).read_bytes()[:4] == b"\x89PNG"
