"""What the packaged files and the README point at is shipped and works.

- Every file path cited in a packaged policy, scenario or example (comments and values) is a
  file of this repository; so is the document a policy names as its ``source``.
- The README's "A few things to try" activates the venv (a new shell has no ``stationlink``
  on PATH otherwise) and decodes a sample that exists, and that sample decodes.
"""

from __future__ import annotations

import re
import shlex
from pathlib import Path

import pytest
from click.testing import CliRunner

from stationlink.cli.main import cli
from stationlink.rewards import load_policy

ROOT = Path(__file__).resolve().parents[2]
PACKAGED = sorted([*ROOT.glob("src/stationlink/policies/*.toml"),
                   *ROOT.glob("simulator/stationlink_sim/scenarios/*.toml"),
                   *ROOT.glob("simulator/stationlink_sim/examples/*.toml"),
                   *ROOT.glob("examples/**/*.toml")])
CITATION = re.compile(r"(?<![\w/.-])((?:/?[\w.-]+/)*[\w.-]+\.(?:md|txt|toml|csv|json|py))\b")


def test_there_are_packaged_files_to_check() -> None:
    assert {p.parent.name for p in PACKAGED} >= {"policies", "scenarios", "examples"}


@pytest.mark.parametrize("path", PACKAGED, ids=lambda p: p.name)
def test_every_cited_file_is_shipped(path: Path) -> None:
    cited = CITATION.findall(path.read_text("utf-8"))
    assert cited, f"{path.name} cites nothing"
    missing = [c for c in cited if c.startswith("/") or not (ROOT / c).is_file()]
    assert missing == [], f"{path.relative_to(ROOT)} cites files that are not shipped"


@pytest.mark.parametrize("name", ["dezhou-2014", "county-withhold-2012"])
def test_a_policy_source_is_a_shipped_document(name: str) -> None:
    source = load_policy(name).source
    assert source, name
    assert (ROOT / source.split()[0]).is_file(), source


def _try_block() -> str:
    text = (ROOT / "README.md").read_text("utf-8")
    section = text.split("## A few things to try", 1)[1].split("\n## ", 1)[0]
    return section.split("```sh\n", 1)[1].split("```", 1)[0]


def test_the_readme_activates_the_venv_before_using_stationlink() -> None:
    commands = [line.strip() for line in _try_block().splitlines()
                if line.strip() and not line.lstrip().startswith("#")]
    first = next(i for i, c in enumerate(commands) if "stationlink" in c)
    assert ". .venv/bin/activate" in commands[:first + 1]


def test_the_readme_decode_sample_exists_and_decodes(monkeypatch: pytest.MonkeyPatch) -> None:
    block = _try_block().replace("\\\n", " ")
    line = next(ln for ln in block.splitlines() if "stationlink decode" in ln)
    args = shlex.split(line.split("stationlink decode", 1)[1])
    sample = ROOT / args[-1]
    assert sample.is_file(), sample
    monkeypatch.setenv("STATIONLINK_CARD_KEY", "0" * 64)
    res = CliRunner().invoke(cli, ["decode", *args[:-1], str(sample)])
    assert res.exit_code == 0, res.output
    frames = [ln for ln in res.stdout.splitlines() if '"type": "frame"' in ln]
    assert len(frames) >= 3
