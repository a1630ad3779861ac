"""stationlink: terminal-integration SDK for post-office convenience service stations.

Public entry points are re-exported here as they land; see ``README.md``.
"""

from __future__ import annotations

__version__ = "0.1.0"

__all__ = ["__version__"]
