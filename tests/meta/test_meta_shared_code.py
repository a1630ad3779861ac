"""Code shared after the tidy-up: one implementation, reachable under every old import path.

Each check fails if a copy comes back (a second class or function where callers expect the
shared one) or if the shared piece breaks its contract.
"""

from __future__ import annotations

import gc
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest

import stationlink.clock as lib_clock
import stationlink.interchange as interchange
import stationlink.rewards as rewards_pkg
import stationlink.rewards.inputs as rewards_inputs
import stationlink.rewards.tally as rewards_tally
import stationlink_sim.cards as sim_cards
import stationlink_sim.customers as sim_customers
import stationlink_sim.traffic as sim_traffic
import stationlink_sim.traffic.customers as traffic_customers
from stationlink.errors import ConfigError
from stationlink.interchange import _fast as _csvfast
from stationlink.interchange import _rows as _csvrows
from stationlink.tomlfile import read_toml_file

CST = timezone(timedelta(hours=8))




def test_manual_clock_contract() -> None:
    start = datetime(2026, 10, 5, 9, 0, tzinfo=CST)
    clock = lib_clock.ManualClock(start)
    assert (clock.now(), clock.monotonic()) == (start, 0.0)
    clock.advance(1.5)
    clock.advance(0)
    assert clock.now() == start + timedelta(seconds=1.5)
    assert clock.monotonic() == 1.5
    with pytest.raises(ValueError, match="does not go back"):
        clock.advance(-0.1)
    with pytest.raises(ValueError, match="aware"):
        lib_clock.ManualClock(datetime(2026, 10, 5, 9, 0))  # naive on purpose


def test_system_clock_is_aware_cst_and_monotone() -> None:
    clock = lib_clock.SystemClock()
    assert clock.now().utcoffset() == timedelta(hours=8)
    a = clock.monotonic()
    assert clock.monotonic() >= a


def test_one_luhn_implementation() -> None:
    for module in (sim_customers, traffic_customers):
        assert module.luhn_check_digit is sim_cards.luhn_check_digit
        assert module.luhn_valid is sim_cards.luhn_valid
    assert sim_traffic.luhn_valid is sim_cards.luhn_valid
    # Luhn's own example: 7992739871 takes check digit 3
    assert sim_cards.luhn_check_digit("7992739871") == "3"
    assert sim_cards.luhn_valid("79927398713")
    assert not sim_cards.luhn_valid("79927398714")
    assert not sim_cards.luhn_valid("")


def test_from_hub_is_exported_by_the_rewards_package() -> None:
    assert rewards_pkg.from_hub is rewards_inputs.from_hub
    assert "from_hub" in rewards_pkg.__all__


def test_interchange_reexports_the_split_modules() -> None:
    assert interchange.Transaction is _csvrows.Transaction
    assert interchange.ReadResult is _csvrows.ReadResult
    assert interchange.parse_timestamp is _csvrows.parse_timestamp
    assert interchange.check_transaction is _csvrows.check_transaction
    for name in interchange.__all__:
        assert hasattr(interchange, name), name


def test_gc_paused_is_shared_and_restores_the_collector() -> None:
    assert rewards_tally.gc_paused is _csvfast.gc_paused
    assert gc.isenabled()
    seen: list[bool] = []

    def fail_inside() -> None:
        with _csvfast.gc_paused():
            seen.append(gc.isenabled())
            raise RuntimeError("leaves the block")

    with pytest.raises(RuntimeError, match="leaves the block"):
        fail_inside()
    assert seen == [False]
    assert gc.isenabled()
    gc.disable()
    try:
        with _csvfast.gc_paused():
            pass
        assert not gc.isenabled()  # was off before: stays off
    finally:
        gc.enable()


def test_read_toml_file_names_the_file(tmp_path: Path) -> None:
    good = tmp_path / "good.toml"
    good.write_text('station_id = "S1"\n', encoding="utf-8")
    assert read_toml_file(good) == {"station_id": "S1"}
    bad_utf8 = tmp_path / "latin1.toml"
    bad_utf8.write_bytes(b'name = "caf\xe9"\n')
    with pytest.raises(ConfigError, match=r"latin1\.toml: not UTF-8 \(byte 11\)"):
        read_toml_file(bad_utf8)
    bad_toml = tmp_path / "bad.toml"
    bad_toml.write_text('station_id = "S\n', encoding="utf-8")
    with pytest.raises(ConfigError, match=r"bad\.toml: not valid TOML: .*line 1"):
        read_toml_file(bad_toml)
    with pytest.raises(ConfigError, match=r"missing\.toml: cannot read: "):
        read_toml_file(tmp_path / "missing.toml")
