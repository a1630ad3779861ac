"""Shared helpers for the traffic-model tests: scenario text that tests can edit."""

from __future__ import annotations

from collections.abc import Callable
from importlib import resources
from pathlib import Path

import pytest


@pytest.fixture
def county_text() -> str:
    return (resources.files("stationlink_sim") / "scenarios" / "county.toml").read_text("utf-8")


@pytest.fixture
def scenario_file(tmp_path: Path, county_text: str) -> Callable[[str, str], Path]:
    """Write the county scenario with one exact text replacement; returns the path."""

    def make(old: str, new: str) -> Path:
        assert old in county_text, old
        path = tmp_path / "edited.toml"
        path.write_text(county_text.replace(old, new, 1), encoding="utf-8")
        return path

    return make
