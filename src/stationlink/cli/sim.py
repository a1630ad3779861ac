"""``stationlink sim ...``: the simulator's command group.

Subcommands live in their own modules (``cli/sim_*.py``) and are registered in
:data:`SIM_COMMANDS`; they import ``stationlink_sim`` lazily.
"""

from __future__ import annotations

import click

from .main import LazyGroup

SIM_COMMANDS: dict[str, str] = {
}


@click.group(cls=LazyGroup, registry=SIM_COMMANDS)
def sim() -> None:
    """Emulated terminals, simulated traffic and calibration."""
