"""``stationlink sim ...``: the simulator's command group.

Subcommands live in their own modules (``cli/sim_*.py``) and are registered in
:data:`SIM_COMMANDS`; they import ``stationlink_sim`` lazily.
"""

from __future__ import annotations

import click

from .main import LazyGroup

SIM_COMMANDS: dict[str, str] = {
    "traffic": "stationlink.cli.sim_traffic:traffic",
    "calibrate": "stationlink.cli.sim_traffic:calibrate",
    "terminal": "stationlink.cli.sim_terminal:terminal",
    "station": "stationlink.cli.sim_terminal:station",
    "run": "stationlink.cli.sim_run:run",
}


@click.group(cls=LazyGroup, registry=SIM_COMMANDS)
def sim() -> None:
    """Emulated terminals, simulated traffic and calibration."""
