"""docs/policies.md's language examples are lines of the real output (the docs stay true)."""

from __future__ import annotations

import json
import re
from pathlib import Path

from rewards_fixtures import run_rewards

DOC = Path(__file__).resolve().parents[2] / "docs" / "policies.md"


def _blocks() -> list[list[str]]:
    text = DOC.read_text(encoding="utf-8")
    section = text.split("## Languages", 1)[1].split("\n## ", 1)[0]
    return [b.strip("\n").splitlines() for b in re.findall(r"```text\n(.*?)```", section, re.S)]


def _run(*args: str) -> str:
    return run_rewards(*args, "--month", "2026-10")


def test_the_explain_examples_are_real_output() -> None:
    zh_block, en_block, notice_block = _blocks()
    zh = _run("explain", "--station", "R3").splitlines()
    en = _run("explain", "--station", "R3", "--lang", "en").splitlines()
    assert [line for line in zh_block if line not in zh] == []
    assert [line for line in en_block if line not in en] == []
    notices = {lang: json.loads(_run("notice", "--format", "json", "--lang", lang))
               for lang in ("zh", "en")}
    texts = [next(n["text"] for n in notices[lang] if n["station_id"] == "R1")
             for lang in ("zh", "en")]
    assert notice_block == texts
