"""One reader of the capture format: the streamed reader (the monitor's) follows the same
rules as the whole-file reader (the simulator's replayer), line for line."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from stationlink.capture import Chunk, iter_capture, read_capture
from stationlink.errors import InputDataError
from stationlink.monitor import TraceItem, trace_capture

SESSIONS = Path(__file__).resolve().parents[2] / "firmware_fixtures" / "sessions"
KEY = b"k" * 32


@pytest.mark.parametrize("path", sorted(SESSIONS.glob("*.jsonl")), ids=lambda p: p.stem)
def test_streamed_chunks_are_the_whole_files(path: Path) -> None:
    whole = read_capture(path)
    header, chunks = iter_capture(path)
    assert header == whole.header
    assert tuple(chunks) == whole.chunks


def _edit(lines: list[str], number: int, **changes: object) -> list[str]:
    obj = json.loads(lines[number - 1])
    for key, value in changes.items():
        if value is None:
            obj.pop(key, None)
        else:
            obj[key] = value
    return [*lines[: number - 1], json.dumps(obj), *lines[number:]]


SOURCE = SESSIONS / "day-sl-2-bill-tcp.jsonl"


def _bad_files() -> dict[str, list[str]]:
    lines = SOURCE.read_text(encoding="utf-8").splitlines()
    return {
        "hex not hex": _edit(lines, 5, hex="zz", event=None),
        "direction": _edit(lines, 6, dir="x2y"),
        "time goes back": _edit(lines, 7, t=0.0),
        "unknown key": _edit(lines, 8, extra=1),
        "empty chunk": _edit(lines, 9, hex="", event=None),
        "no ports": _edit(lines, 1, ports=None),
        "unknown redaction": _edit(lines, 1, redaction="none"),
        "line after trailer": [*lines, lines[3]],
        "trailer count": [*lines[:-2], lines[-1]],
        "blank line": [*lines[:6], "", *lines[6:]],
        "not an object": [*lines[:6], "[1]", *lines[6:]],
    }


def _drain(path: Path, into: list[Chunk]) -> None:
    _, chunks = iter_capture(path)
    into.extend(chunks)


@pytest.mark.parametrize("case", sorted(_bad_files()))
def test_the_stream_stops_at_the_first_problem_the_whole_file_names(
        tmp_path: Path, case: str) -> None:
    path = tmp_path / "bad.jsonl"
    path.write_text("\n".join(_bad_files()[case]) + "\n", encoding="utf-8")
    with pytest.raises(InputDataError) as whole:
        read_capture(path)
    first = whole.value.problems[0]
    seen: list[Chunk] = []
    with pytest.raises(InputDataError) as streamed:
        _drain(path, seen)
    assert streamed.value.problems == (first,)
    assert all(c.line < first.line for c in seen)
    assert len(seen) == sum(1 for c in read_capture(SOURCE).chunks if c.line < first.line)


def test_the_monitor_refuses_what_the_format_refuses(tmp_path: Path) -> None:
    path = tmp_path / "back.jsonl"
    path.write_text("\n".join(_bad_files()["time goes back"]) + "\n", encoding="utf-8")
    items: list[TraceItem] = []
    with pytest.raises(InputDataError, match=f"{path}: line 7, column t"):
        items.extend(trace_capture(str(path), None, KEY))
    assert items  # what came before the bad line was traced
