"""The simulator's commands: ``stationlink sim ...``, ``demo``, ``record`` and ``replay``.

This package is the one door from the SDK's CLI into the simulator:
``stationlink.cli.main`` registers ``sim``, ``demo``, ``record`` and ``replay`` lazily as
``stationlink_sim.cli:<name>``, so ``stationlink`` without these commands never imports the
simulator. ``demo`` (one station's day end to end) is in :mod:`.demo`; ``record``/``replay``
(capture a real terminal link, replay it against a host) in :mod:`.capture`. The ``sim``
subcommands live in their own modules (``traffic``, ``terminal``, ``run``) and are
registered in :data:`SIM_COMMANDS`, again loaded on first use; each imports the simulator's
machinery only when it runs. They reuse the SDK CLI's shared helpers
(:mod:`stationlink.cli.common`: stable exit codes, ``--json`` output).
"""

from __future__ import annotations

import click

from stationlink.cli.main import LazyGroup

from .capture import record, replay
from .demo import demo

SIM_COMMANDS: dict[str, str] = {
    "traffic": "stationlink_sim.cli.traffic:traffic",
    "calibrate": "stationlink_sim.cli.traffic:calibrate",
    "terminal": "stationlink_sim.cli.terminal:terminal",
    "station": "stationlink_sim.cli.terminal:station",
    "deviations": "stationlink_sim.cli.terminal:deviations",
    "power-cycle": "stationlink_sim.cli.terminal:power_cycle",
    "run": "stationlink_sim.cli.run:run",
}


@click.group(cls=LazyGroup, registry=SIM_COMMANDS)
def sim() -> None:
    """Emulated terminals, simulated traffic and calibration."""


__all__ = ["SIM_COMMANDS", "demo", "record", "replay", "sim"]
