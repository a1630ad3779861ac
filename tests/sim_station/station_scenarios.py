"""A traffic scenario for the station walkthrough that runs on "today": the packaged county
scenario with ten times the rural withdrawals and half of them refused for a wrong PIN (the
terminal reads no card: a declined withdrawal without a card). With seed 7, every day from
2026-07-01 to 2036-06-30 has such a withdrawal among the first ``CUSTOMERS_TODAY`` customers
of the busiest station (checked day by day by test_station_today_traffic.py; a scan of every
day to 2076-06-30 found the same)."""

from __future__ import annotations

from pathlib import Path

import stationlink_sim

SEED_TODAY = 7
CUSTOMERS_TODAY = 40
PACKAGED = Path(stationlink_sim.__file__).parent / "scenarios" / "county.toml"


def card_failure_scenario(directory: Path) -> Path:
    text = PACKAGED.read_text("utf-8")
    rural = "[activity.rural]\nbill_visits_per_day = 9.11    # bill-payment visits at weight 1 " \
            "(declines, reversals included)\nwithdrawal_sessions_per_day = 1.6\n"
    assert rural in text, "county.toml changed: update station_scenarios.py"
    assert "\nwrong_pin_rate = 0.02\n" in text, "county.toml changed: update station_scenarios.py"
    text = text.replace(rural, rural.replace("= 1.6", "= 16"))
    text = text.replace("\nwrong_pin_rate = 0.02\n", "\nwrong_pin_rate = 0.5\n")
    path = directory / "county-card-failures.toml"
    path.write_text(text, encoding="utf-8")
    return path
