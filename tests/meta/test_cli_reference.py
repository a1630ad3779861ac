"""docs/cli.md is generated from the click tree and must match the code.

The reference is rendered in a fresh interpreter: click caches each command's help option on
the command object the first time the command is used, so a test that invoked a command
directly (without the root group's ``-h``) would change what an in-process render shows.
"""

from __future__ import annotations

import importlib.util
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def _load_generator():  # type: ignore[no-untyped-def]
    path = ROOT / "tools" / "gen_cli_docs.py"
    spec = importlib.util.spec_from_file_location("gen_cli_docs", path)
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _render_fresh() -> str:
    generator = str(ROOT / "tools" / "gen_cli_docs.py")
    code = (
        "import importlib.util, sys\n"
        f"spec = importlib.util.spec_from_file_location('gen_cli_docs', {generator!r})\n"
        "m = importlib.util.module_from_spec(spec); spec.loader.exec_module(m)\n"
        "sys.stdout.buffer.write(m.render().encode('utf-8'))\n"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, check=True,
                          timeout=120)
    return done.stdout.decode("utf-8")


def test_cli_reference_is_current() -> None:
    expected = _render_fresh()
    actual = (ROOT / "docs" / "cli.md").read_text(encoding="utf-8")
    assert actual == expected, "docs/cli.md is stale: run python tools/gen_cli_docs.py"


def test_every_command_has_help_text() -> None:
    gen = _load_generator()
    text = gen.render()
    assert "## `stationlink`" in text
    # a command without a docstring renders an empty description line after Usage
    for block in text.split("## `")[1:]:
        name = block.split("`", 1)[0]
        lines = [ln for ln in block.split("```text", 1)[1].split("```", 1)[0].splitlines() if ln]
        assert len(lines) >= 2, f"{name} has no help text"
