"""The health screen's catalogue: every message in both languages with the same fields, a
text and an advice for every reason id the verdict can give, ages written for people."""

from __future__ import annotations

import re
from pathlib import Path
from string import Formatter

import pytest

from stationlink.agent import health
from stationlink.agent.health_text import CATALOGUE, LANGS, duration, reason_values, text


def fields(template: str) -> set[str]:
    return {name for _, name, _, _ in Formatter().parse(template) if name}


@pytest.mark.parametrize("msg_id", sorted(CATALOGUE))
def test_every_message_has_both_languages_with_the_same_fields(msg_id: str) -> None:
    entry = CATALOGUE[msg_id]
    assert set(entry) == set(LANGS)
    assert fields(entry["zh"]) == fields(entry["en"]), msg_id


def test_every_reason_the_verdict_gives_has_a_text_and_an_advice() -> None:
    source = Path(health.__file__).read_text(encoding="utf-8")
    ids = set(re.findall(r'Reason\("([a-z_]+)"', source))
    assert ids == {"quarantine", "upload_stale", "settlement_mismatch", "unknown_old",
                   "poll_never", "poll_stale", "paper_out", "device_errors", "agent_stopped",
                   "agent_silent"}
    for reason_id in ids:
        for lang in LANGS:
            assert text(f"health.advice.{reason_id}", lang)
            assert f"health.reason.{reason_id}" in CATALOGUE


def test_an_unknown_language_is_refused() -> None:
    with pytest.raises(ValueError, match="language"):
        text("health.verdict.ok", "fr")


@pytest.mark.parametrize(("seconds", "zh", "en"), [
    (0, "0 秒", "0 s"), (59.9, "59 秒", "59 s"), (60, "1 分钟", "1 min"),
    (3599, "59 分钟", "59 min"), (3600, "1 小时 0 分", "1 h 0 min"),
    (2 * 86400 - 1, "47 小时 59 分", "47 h 59 min"), (2 * 86400, "2 天", "2 days"),
    (-5, "0 秒", "0 s"),
])
def test_durations(seconds: float, zh: str, en: str) -> None:
    assert (duration(seconds, "zh"), duration(seconds, "en")) == (zh, en)


def test_reason_values_show_times_in_cst_ages_and_missing_values() -> None:
    values = reason_values({"last_upload_at": "2026-10-05T01:00:00+00:00", "age_s": 90,
                            "heartbeat_at": None, "oldest_age_s": None, "count": 3}, "en")
    assert values == {"last_upload_at": "2026-10-05 09:00:00 CST", "age_s": "1 min",
                      "heartbeat_at": "never", "oldest_age_s": "unknown", "count": "3"}
