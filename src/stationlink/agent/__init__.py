"""The station's sync agent (``docs/agent.md``): terminal journals -> buffer -> hub.

Public API::

    config = load_config("agent.toml")                 # AgentConfig, ConfigError naming the key
    agent = Agent(config, clock=SystemClock(), rng=random.Random(seed))
    agent.run_once()                                   # one round in this thread
    agent.run_forever(stop_event)                      # threads until stop_event is set
    with agent.session() as s:                         # the station PC pays through the agent
        s.pay_bill("LL000701", "mobile", "13800000000", Decimal("50.00"))
    agent_status(config, now)                          # what `stationlink agent status` shows

``SystemClock`` and ``ManualClock`` are :mod:`stationlink.clock`'s, re-exported for the
``clock=`` argument (any :class:`stationlink.clock.TimeSource`).
"""

from ..clock import ManualClock, SystemClock
from .agent import Agent, RoundReport
from .config import AgentConfig, TerminalEntry, default_data_dir, load_config, parse_config
from .session import StationSession
from .status import agent_status, render_status, status_screen

__all__ = [
    "Agent",
    "AgentConfig",
    "ManualClock",
    "RoundReport",
    "StationSession",
    "SystemClock",
    "TerminalEntry",
    "agent_status",
    "default_data_dir",
    "load_config",
    "parse_config",
    "render_status",
    "status_screen",
]
