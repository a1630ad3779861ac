"""Entry point of the ``stationlink`` command.

Command groups are registered in :data:`COMMANDS` as ``name -> "module:attribute"`` and
imported only when used. The simulator's commands (``sim``, ``demo``, ``record``,
``replay``) come from one lazy entry, :mod:`stationlink_sim.cli`: nothing else in the SDK
imports the simulator.
"""

from __future__ import annotations

import importlib

import click

from .. import __version__

COMMANDS: dict[str, str] = {
    "sim": "stationlink_sim.cli:sim",
    "decode": "stationlink.cli.decode:decode",
    "buffer": "stationlink.cli.buffer:buffer",
    "hub": "stationlink.cli.hub:hub",
    "rewards": "stationlink.cli.rewards:rewards",
    "record": "stationlink_sim.cli:record",
    "replay": "stationlink_sim.cli:replay",
    "agent": "stationlink.cli.agent:agent",
    "demo": "stationlink_sim.cli:demo",
    "diag": "stationlink.cli.diag:diag",
    "conformance": "stationlink.cli.conformance:conformance",
    "monitor": "stationlink.cli.monitor:monitor",
    "ports": "stationlink.cli.ports:ports",
}


class LazyGroup(click.Group):
    """A click group whose subcommands are imported on first use.

    Subclasses (or instances) name their registry in ``registry``.
    """

    registry: dict[str, str] = COMMANDS

    def __init__(self, *args: object, registry: dict[str, str] | None = None, **kwargs: object):
        super().__init__(*args, **kwargs)  # type: ignore[arg-type]
        if registry is not None:
            self.registry = registry

    def list_commands(self, ctx: click.Context) -> list[str]:
        return sorted(set(super().list_commands(ctx)) | set(self.registry))

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        target = self.registry.get(cmd_name)
        if target is None:
            return super().get_command(ctx, cmd_name)
        module_name, attr = target.split(":")
        module = importlib.import_module(module_name)
        command = getattr(module, attr)
        if not isinstance(command, click.Command):
            raise TypeError(f"{target} is not a click command")
        return command


@click.group(cls=LazyGroup, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="stationlink")
def cli() -> None:
    """stationlink: terminals, station buffer, sync agent, hub, rewards and simulator."""


def main() -> None:
    cli()


if __name__ == "__main__":
    main()
