"""Agent test fixtures live in agent_fixtures.py (a unique module name)."""

from agent_fixtures import hub, make_config, terminals

__all__ = ["hub", "make_config", "terminals"]
