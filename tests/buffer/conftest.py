"""Buffer test fixtures live in buffer_fixtures.py (a unique module name)."""

from buffer_fixtures import buf, make_record

__all__ = ["buf", "make_record"]
