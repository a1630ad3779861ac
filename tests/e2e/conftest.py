"""End-to-end fixtures live in e2e_fixtures.py (a unique module name)."""

from e2e_fixtures import rig

__all__ = ["rig"]
