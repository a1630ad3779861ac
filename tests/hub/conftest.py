"""Hub test fixtures live in hub_fixtures.py (a unique module name)."""

from hub_fixtures import buf, clock, http, hub, make_record

__all__ = ["buf", "clock", "http", "hub", "make_record"]
