"""The package layout shows the architecture (issue 9 §3), and stays that way.

- ``src/stationlink/`` holds one folder per concern; the only loose modules are those on
  :data:`LOOSE_ALLOWED` (each entry says why it is still there).
- The SDK reaches the simulator only through one lazy entry: ``stationlink.cli.main``
  registers the simulator's commands as ``stationlink_sim.cli:<name>``, and no module under
  ``src/stationlink`` imports ``stationlink_sim``.
- Outside :mod:`stationlink.client`, library and simulator code use the client's public face,
  never its private modules.
- Importing the sync agent or the hub's HTTP client loads no server framework (Starlette,
  uvicorn): checked in a fresh interpreter, so earlier imports of this test run do not count.
"""

from __future__ import annotations

import ast
import json
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
SRC = ROOT / "src" / "stationlink"
SIM = ROOT / "simulator" / "stationlink_sim"

#: Loose top-level modules of ``src/stationlink`` and why they are loose.
LOOSE_ALLOWED = {
    "__init__": "package face",
    "__main__": "python -m stationlink",
    "errors": "the one exception tree, used by every concern",
    "money": "exact money and CST, used by every concern",
    "clock": "the vocabulary of time, used by every concern",
    # shared by two concerns each; see docs/architecture.md:
    "tomlfile": "TOML files with errors naming the file (agent config, simulator stations)",
}


def _imported_modules(path: Path) -> Iterator[tuple[int, str]]:
    """(line, absolute-ish module name) of every import in ``path``, nested ones included.

    A relative import is resolved against the file's package, so ``from ..client._core``
    in ``stationlink/agent/x.py`` gives ``stationlink.client._core``.
    """
    tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
    top = SRC.parent if path.is_relative_to(SRC) else SIM.parent
    package = list(path.relative_to(top).with_suffix("").parts[:-1])
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            for alias in node.names:
                yield node.lineno, alias.name
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package[: len(package) - node.level + 1]
                module = ".".join([*base, *([node.module] if node.module else [])])
            else:
                module = node.module or ""
            yield node.lineno, module
            for alias in node.names:  # ``from stationlink import client`` style
                yield node.lineno, f"{module}.{alias.name}"


def test_no_loose_top_level_modules() -> None:
    loose = sorted(p.stem for p in SRC.glob("*.py"))
    unexpected = [name for name in loose if name not in LOOSE_ALLOWED]
    assert unexpected == [], (
        f"loose modules in src/stationlink/: {unexpected}; put each in the package of its "
        "concern (or, if it truly is shared by every concern, add it to LOOSE_ALLOWED with "
        "the reason)")


def test_sdk_imports_the_simulator_only_through_the_cli_entry() -> None:
    from stationlink.cli.main import COMMANDS

    offenders = [
        f"{path.relative_to(ROOT)}:{line}: {module}"
        for path in sorted(SRC.rglob("*.py"))
        for line, module in _imported_modules(path)
        if module.split(".")[0] == "stationlink_sim"
    ]
    assert offenders == [], "the SDK imports the simulator directly:\n" + "\n".join(offenders)
    sim_targets = {target.split(":")[0] for target in COMMANDS.values()
                   if target.startswith("stationlink_sim")}
    assert sim_targets == {"stationlink_sim.cli"}, sim_targets
    assert {target.split(":")[0].split(".")[0] for target in COMMANDS.values()} == {
        "stationlink", "stationlink_sim"}


def test_client_internals_stay_inside_the_client_package() -> None:
    import stationlink.client as face

    for name in face.__all__:
        assert hasattr(face, name), name
    client_dir = SRC / "client"
    offenders = [
        f"{path.relative_to(ROOT)}:{line}: {module}"
        for path in sorted([*SRC.rglob("*.py"), *SIM.rglob("*.py")])
        if not path.is_relative_to(client_dir)
        for line, module in _imported_modules(path)
        if module.startswith("stationlink.client._")
    ]
    assert offenders == [], "private client modules imported:\n" + "\n".join(offenders)


def test_agent_and_hub_client_load_no_server_framework() -> None:
    code = (
        "import json, sys\n"
        "import stationlink.agent, stationlink.hub.client\n"
        "print(json.dumps(sorted(m for m in sys.modules\n"
        "                        if m.split('.')[0] in ('starlette', 'uvicorn'))))\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,  # noqa: S603
                         check=True, timeout=120)
    assert json.loads(out.stdout) == []
