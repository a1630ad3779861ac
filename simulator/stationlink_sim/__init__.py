"""stationlink_sim: emulated terminals, traffic model, faults, capture and replay."""

from __future__ import annotations

__all__: list[str] = []
