"""One vocabulary for time: each concept has one name, and the one simulated clock's knobs.

- ``stationlink.clock`` names the concepts (``WallClock``, ``MonotonicClock``,
  ``TimeSource``); nothing else in ``src/`` or ``simulator/`` declares a clock type under a
  second name (an alias ``X = Y`` / ``import Y as XClock``) or declares the same clock name
  twice.
- ``stationlink_sim.clock.SimulatedClock`` is the simulator's one simulated time source:
  start instant, speed (changed without a jump), skip and jump-to, never back.
"""

from __future__ import annotations

import ast
from collections import defaultdict
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

import stationlink
import stationlink_sim
from stationlink.clock import TimeSource
from stationlink.errors import SimulatorError
from stationlink.money import CST
from stationlink_sim.clock import SimulatedClock

ROOTS = (Path(stationlink.__file__).parent, Path(stationlink_sim.__file__).parent)
VOCABULARY = Path(stationlink.__file__).parent / "clock.py"


def _is_clock_name(name: str) -> bool:
    return name.endswith("Clock") or name == "TimeSource"


def clock_declarations(roots: tuple[Path, ...]) -> tuple[dict[str, list[str]], list[str]]:
    """Where each clock-like name is declared, and every alias of one (module:line)."""
    declared: dict[str, list[str]] = defaultdict(list)
    aliases: list[str] = []
    for root in roots:
        for path in sorted(root.rglob("*.py")):
            where = f"{path.relative_to(root.parent)}"
            tree = ast.parse(path.read_text(encoding="utf-8"), str(path))
            for node in tree.body:
                if isinstance(node, ast.ClassDef) and _is_clock_name(node.name):
                    declared[node.name].append(f"{where}:{node.lineno}")
                elif isinstance(node, ast.Assign | ast.AnnAssign):
                    targets = node.targets if isinstance(node, ast.Assign) else [node.target]
                    for target in targets:
                        if isinstance(target, ast.Name) and _is_clock_name(target.id):
                            if path != VOCABULARY:
                                aliases.append(f"{where}:{node.lineno}: {target.id} = ...")
                            declared[target.id].append(f"{where}:{node.lineno}")
            for node in ast.walk(tree):
                if isinstance(node, ast.ImportFrom | ast.Import):
                    for alias in node.names:
                        if alias.asname and alias.asname != alias.name and (
                                _is_clock_name(alias.asname) or _is_clock_name(alias.name)):
                            aliases.append(f"{where}:{node.lineno}: {alias.name} as "
                                           f"{alias.asname}")
    return dict(declared), aliases


def test_each_time_concept_has_one_name_and_no_alias() -> None:
    declared, aliases = clock_declarations(ROOTS)
    assert aliases == []
    twice = {name: places for name, places in declared.items() if len(places) > 1}
    assert twice == {}
    # the vocabulary and the one simulated clock are where the docs say
    for name in ("WallClock", "MonotonicClock", "TimeSource", "SystemClock", "ManualClock"):
        assert declared[name][0].startswith("stationlink/clock.py:"), name
    assert declared["SimulatedClock"][0].startswith("stationlink_sim/clock.py:")


def test_simulated_clock_knobs() -> None:
    real = [50.0]
    start = datetime(2026, 10, 7, 0, 30, tzinfo=UTC)  # 08:30 CST
    clock = SimulatedClock(start, speed=60, real=lambda: real[0])
    ts: TimeSource = clock  # a time source wherever one is taken
    assert ts.now() == start
    assert clock.now().utcoffset() == timedelta(hours=8)
    assert clock.speed == 60
    real[0] += 2  # two real seconds at 60x
    assert clock.monotonic() == 120.0
    clock.set_speed(1)  # no jump
    assert clock.now() == start + timedelta(minutes=2)
    real[0] += 3
    assert clock.monotonic() == 123.0
    assert clock.skip(7) == 7.0
    assert clock.skip(-5) == 0.0  # never back
    assert clock.monotonic() == 130.0
    assert clock.jump_to(start + timedelta(seconds=100)) == 0.0  # earlier: no-op
    assert clock.jump_to(start.astimezone(CST) + timedelta(hours=1)) == 3600.0 - 130.0
    real[0] += 0.5
    assert clock.now() == start + timedelta(hours=1, seconds=0.5)
    assert clock.monotonic() == (clock.now() - start).total_seconds()


def test_simulated_clock_refuses_naive_times_and_bad_speeds() -> None:
    with pytest.raises(SimulatorError, match="aware"):
        SimulatedClock(datetime(2026, 10, 7))  # naive on purpose
    with pytest.raises(SimulatorError, match="speed must be > 0"):
        SimulatedClock(datetime(2026, 10, 7, tzinfo=CST), speed=0)
    clock = SimulatedClock(datetime(2026, 10, 7, tzinfo=CST), real=lambda: 0.0)
    with pytest.raises(SimulatorError, match="speed must be > 0"):
        clock.set_speed(-1)
    with pytest.raises(SimulatorError, match="aware"):
        clock.jump_to(datetime(2026, 10, 8))  # naive on purpose
    assert clock.speed == 1.0
