"""End-to-end runs: simulated customers through emulated terminals, the sync agent and a hub.

Public API (``docs/simulator.md``, "End-to-end run and the demo"):

- :func:`run_simulation` (:class:`RunOptions`) -> :class:`RunResult`: what ``stationlink sim
  run`` does — the traffic model's stations, each with a bill and a card terminal on real
  ptys or TCP sockets and its own sync agent, into one hub over real HTTP, then the hub's
  holdings checked against what the terminals actually did (:class:`Comparison`).
- :func:`run_demo` (:class:`DemoOptions`) -> :class:`DemoResult`: ``stationlink demo``, one
  station's day with faults, its figures and its reward so far under ``dezhou-2014``.
- :class:`WorldClock`: the hub's clock, the latest simulated time any station reached (each
  station runs on its own :class:`stationlink_sim.clock.SimulatedClock`).
"""

from .clock import WorldClock
from .demo import DemoOptions, DemoResult, run_demo
from .figures import Figures, fault_lines, fault_summary
from .run import RunOptions, RunResult, run_simulation, work_directory
from .truth import Comparison, compare, terminal_truth

__all__ = [
    "Comparison",
    "DemoOptions",
    "DemoResult",
    "Figures",
    "RunOptions",
    "RunResult",
    "WorldClock",
    "compare",
    "fault_lines",
    "fault_summary",
    "run_demo",
    "run_simulation",
    "terminal_truth",
    "work_directory",
]
