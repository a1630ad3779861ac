"""stationlink: terminal-integration SDK for post-office convenience service stations.

Public entry points are re-exported here as they land; see ``README.md``.
``stationlink.connect(url, card_key=...)`` (blocking client, :mod:`stationlink.client`) is
imported lazily, so ``import stationlink.protocol`` stays free of serial/socket imports.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from .client import connect

__version__ = "0.1.0"

__all__ = ["__version__", "connect"]


def __getattr__(name: str) -> Any:
    if name == "connect":
        from .client import connect

        return connect
    raise AttributeError(f"module 'stationlink' has no attribute {name!r}")
