"""The simulator's traffic model: customers and their transactions at many stations.

Public API (see ``docs/simulator.md``, "Traffic model"):

- :func:`load_scenario` -> :class:`Scenario` (every parameter, from a TOML file);
- :class:`TrafficModel` (scenario, seed): its ``network`` of stations and branches, its
  ``identities`` (phone numbers, accounts, test card numbers and tokens), and
  ``generate(start, days)`` / ``station_events(station, days)`` yielding :class:`SimEvent`;
- :func:`generate` (scenario, start, days, seed) -> time-ordered :class:`SimEvent` stream;
- :func:`event_to_transaction` / :class:`TransactionWriter`: events as interchange rows;
- :func:`calibrate`: the model measured against the scenario's calibration targets;
- :func:`paced`: events released at the pace of a (injected) wall clock.
"""

from __future__ import annotations

from .calibrate import Measurement, TargetResult, calibrate, measure
from .customers import Identities, luhn_valid
from .model import SimDay, SimEvent, TrafficModel, generate
from .network import Network, SimStation, build_network
from .output import TransactionWriter, event_to_transaction, events_to_transactions
from .realtime import paced
from .scenario import Scenario, load_scenario, packaged_scenarios

__all__ = [
    "Identities",
    "Measurement",
    "Network",
    "Scenario",
    "SimDay",
    "SimEvent",
    "SimStation",
    "TargetResult",
    "TrafficModel",
    "TransactionWriter",
    "build_network",
    "calibrate",
    "event_to_transaction",
    "events_to_transactions",
    "generate",
    "load_scenario",
    "luhn_valid",
    "measure",
    "packaged_scenarios",
    "paced",
]
