"""What one station of an end-to-end run does, and what it reports back.

Contract:
- :class:`StationPlan` is everything :class:`~.driver.StationDriver` needs: the traffic
  model's station and its events, its two terminals (ids, dialects, fault specs, transport),
  seeds, the card key, the standalone share and the station's directory.
- :func:`terminal_ids` gives 8-character terminal ids (the protocol's width) for a traffic
  model station: ``<station id>BP`` / ``<station id>CT`` when the station id has 6
  characters (``LLS001BP``), else ``B``/``C`` and the station number on 7 digits.
- :func:`dialects_for` deals each terminal a firmware dialect from the seed (a county's
  terminals are a mix), so detection is exercised on every run.
- :class:`StationReport` is what a station's run produced: the truth rows (from the
  terminals' journals, and the referrals entered at the PC), those referral rows apart,
  event counts, fault counts and the terminals it ran.
"""

from __future__ import annotations

import datetime as dt
import random
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from stationlink.interchange import Transaction

from ..traffic import SimEvent, SimStation

DIALECTS = ("sl-2", "mispos-1")


@dataclass(frozen=True)
class StationPlan:
    station: SimStation
    events: tuple[SimEvent, ...]
    days: tuple[dt.date, ...]
    seed: int
    card_key: bytes
    directory: Path
    bill_id: str
    card_id: str
    bill_dialect: str = "sl-2"
    card_dialect: str = "mispos-1"
    bill_faults: str = ""
    card_faults: str = ""
    transport: str = "pty"
    standalone_share: float = 0.1
    settle_timeout: float = 60.0

    def terminal_seed(self, kind: str) -> int:
        return self.seed * 100_000 + self.station.index * 2 + (0 if kind == "bill" else 1)


@dataclass
class StationReport:
    station_id: str
    truth: list[Transaction] = field(default_factory=list)
    referrals: list[Transaction] = field(default_factory=list)
    events: Counter[str] = field(default_factory=Counter)
    faults: Counter[str] = field(default_factory=Counter)
    terminals: list[dict[str, Any]] = field(default_factory=list)
    unsettled: bool = False
    seconds: float = 0.0


def terminal_ids(station: SimStation) -> tuple[str, str]:
    """The bill and card terminal ids of ``station`` (module contract)."""
    sid = station.station_id
    if len(sid) == 6 and sid.isascii() and sid.isprintable():
        return f"{sid}BP", f"{sid}CT"
    return f"B{station.index + 1:07d}", f"C{station.index + 1:07d}"


def dialects_for(seed: int, station: SimStation) -> tuple[str, str]:
    """The bill and card terminals' firmware dialects (module contract)."""
    rng = random.Random(f"{seed}|dialects|{station.index}")
    return rng.choice(DIALECTS), rng.choice(DIALECTS)
