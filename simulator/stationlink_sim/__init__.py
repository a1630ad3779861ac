"""stationlink_sim: emulated terminals, traffic model, faults, capture and replay.

Emulated terminals (``docs/simulator.md``, "Emulated terminals" and "Faults"):
``device`` (business logic, sans-I/O), ``identity``, ``journal``, ``clock``, ``customers``
(cards, bank, billers), ``faults`` (spec parser), ``inject`` (byte faults, event schedule),
``session`` (device + terminal connection + faults), ``pacing``, ``ports`` (pty, TCP),
``runner`` (I/O thread), ``serve`` (``serve_terminal`` / ``start_terminal``), ``station``
(station.toml). The traffic model is ``stationlink_sim.traffic``.
"""

from __future__ import annotations

__all__: list[str] = []
