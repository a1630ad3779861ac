"""Generate ``docs/cli.md`` from the click command tree.

Usage: ``python tools/gen_cli_docs.py`` rewrites docs/cli.md; ``--check`` exits 1 if the
file is out of date (the test suite runs the check, so the reference never drifts).
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import click

from stationlink.cli.main import cli

DOC = Path(__file__).resolve().parent.parent / "docs" / "cli.md"

HEAD = """# CLI reference

Generated from the command definitions by `python tools/gen_cli_docs.py`; a test fails when
this file and the code disagree.

## Exit codes

Scripts can rely on these (`src/stationlink/errors.py`, `src/stationlink/cli/common.py`):

| code | meaning |
| --- | --- |
| 0 | success |
| 1 | generic library error (`StationLinkError`) |
| 2 | usage error or bad configuration (`ConfigError`) |
| 3 | bad rows in an input file (`InputDataError`), each listed with file, line, column |
| 4 | a policy file that does not load (`PolicyError`) |
| 5 | protocol error (`ProtocolError`) |
| 6 | link error: port, socket, timeouts, retries exhausted (`LinkError`) |
| 7 | the terminal answered with an error reply (`TerminalError`) |
| 8 | storage error in the buffer or hub store (`StorageError`) |
| 9 | hub error (`HubError`) |
| 10 | simulator error (`SimulatorError`) |

Some commands define extra codes of their own; their help text says so.
"""


def _walk(cmd: click.Command, path: list[str], ctx: click.Context | None) -> list[str]:
    name = " ".join(path)
    settings = dict(cmd.context_settings)
    settings.setdefault("terminal_width", 100)
    settings.setdefault("max_content_width", 100)
    sub_ctx = click.Context(cmd, info_name=path[-1], parent=ctx, **settings)
    help_text = cmd.get_help(sub_ctx)
    out = [f"## `{name}`", "", "```text", help_text.rstrip(), "```", ""]
    if isinstance(cmd, click.Group):
        for sub_name in cmd.list_commands(sub_ctx):
            sub = cmd.get_command(sub_ctx, sub_name)
            if sub is not None and not sub.hidden:
                out.extend(_walk(sub, [*path, sub_name], sub_ctx))
    return out


def render() -> str:
    body = _walk(cli, ["stationlink"], None)
    return HEAD + "\n" + "\n".join(body).rstrip() + "\n"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--check", action="store_true", help="fail if docs/cli.md is stale")
    args = parser.parse_args()
    text = render()
    if args.check:
        if not DOC.exists() or DOC.read_text(encoding="utf-8") != text:
            print("docs/cli.md is out of date: run python tools/gen_cli_docs.py", file=sys.stderr)
            return 1
        return 0
    DOC.write_text(text, encoding="utf-8")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
