"""The capture file format: writing, reading, and precise errors for bad lines."""

from __future__ import annotations

import json
from datetime import datetime
from pathlib import Path

import pytest

from stationlink.capture import (
    CaptureFile,
    Chunk,
    Header,
    Trailer,
    read_capture,
)
from stationlink.errors import InputDataError
from stationlink.money import CST
from stationlink.protocol import Dialect, Transport

START = datetime(2026, 3, 16, 8, 0, tzinfo=CST)


def _write(path: Path, *, trailer: bool = True) -> None:
    f = CaptureFile(path)
    f.header(Header(Dialect.SL_2, Transport.TCP, {"host": "tcp://127.0.0.1:0",
                                                  "terminal": "tcp://127.0.0.1:9100"}, START,
                    meta={"note": "x"}))
    f.chunk(Chunk(0.0, "h2t", event="open"))
    f.chunk(Chunk(0.25, "h2t", b"\x00\x0b" + bytes(11)))
    f.chunk(Chunk(0.5, "t2h", b"\x01\x02"))
    if trailer:
        f.trailer(Trailer(0.75, 3, 13, 2, 0))
    f.close()


def test_written_capture_reads_back(tmp_path: Path) -> None:
    path = tmp_path / "c.jsonl"
    _write(path)
    cap = read_capture(path)
    assert cap.header.dialect is Dialect.SL_2
    assert cap.header.transport is Transport.TCP
    assert cap.header.started == START
    assert cap.header.meta == {"note": "x"}
    assert [c.line for c in cap.chunks] == [2, 3, 4]
    assert cap.chunks[0].event == "open"
    assert cap.stream("h2t") == b"\x00\x0b" + bytes(11)
    assert cap.stream("t2h") == b"\x01\x02"
    assert cap.complete
    assert cap.duration == 0.75
    first = json.loads(path.read_text(encoding="utf-8").splitlines()[0])
    assert first["format"] == "stationlink-capture"
    assert first["version"] == 1


def test_capture_without_trailer_is_incomplete(tmp_path: Path) -> None:
    path = tmp_path / "c.jsonl"
    _write(path, trailer=False)
    cap = read_capture(path)
    assert not cap.complete
    assert cap.duration == 0.5


def _lines(path: Path) -> list[str]:
    return path.read_text(encoding="utf-8").splitlines()


@pytest.mark.parametrize(
    ("line", "text", "column", "reason"),
    [
        (3, '{"t": 0.25, "dir": "h2t", "hex": "0g"}', "hex", "not hex digits"),
        (3, '{"t": 0.25, "dir": "x2y", "hex": "00"}', "dir", "'dir' must be"),
        # the closing brace is missing: the error is one character past the end (37 + 1)
        (3, '{"t": 0.25, "dir": "h2t", "hex": "00"', "character 38", "not JSON"),
        (3, '{"t": -1, "dir": "h2t", "hex": "00"}', "t", "non-negative"),
        (4, '{"t": 0.1, "dir": "t2h", "hex": "00"}', "t", "goes back"),
        (3, '{"t": 0.25, "dir": "h2t", "event": "bang"}', "event", "unknown event"),
        (3, '{"t": 0.25, "dir": "h2t"}', "hex", "missing key 'hex'"),
        (3, '{"t": 0.25, "dir": "h2t", "hex": "00", "x": 1}', "x", "unknown key"),
    ],
)
def test_bad_chunk_lines_name_line_and_column(
    tmp_path: Path, line: int, text: str, column: str, reason: str
) -> None:
    path = tmp_path / "c.jsonl"
    _write(path)
    lines = _lines(path)
    lines[line - 1] = text
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    with pytest.raises(InputDataError) as info:
        read_capture(path)
    problem = info.value.problems[0]
    assert problem.file == str(path)
    assert problem.line == line
    assert problem.column == column
    assert reason in problem.reason


def test_every_bad_line_is_reported(tmp_path: Path) -> None:
    path = tmp_path / "c.jsonl"
    _write(path)
    lines = _lines(path)
    lines[2] = '{"t": 0.25, "dir": "h2t", "hex": "zz"}'
    lines[3] = '{"t": 0.5, "dir": "sideways", "hex": "00"}'
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    with pytest.raises(InputDataError) as info:
        read_capture(path)
    assert [p.line for p in info.value.problems] == [3, 4]
    assert f"{path}: line 3, column hex" in str(info.value)


@pytest.mark.parametrize(
    ("header", "column"),
    [
        ('{"format": "other"}', "format"),
        ('{"format": "stationlink-capture", "version": 2}', "version"),
        ('{"format": "stationlink-capture", "version": 1, "dialect": "x"}', "dialect"),
    ],
)
def test_bad_header(tmp_path: Path, header: str, column: str) -> None:
    path = tmp_path / "c.jsonl"
    _write(path)
    lines = _lines(path)
    lines[0] = header
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    with pytest.raises(InputDataError) as info:
        read_capture(path)
    assert info.value.problems[0].line == 1
    assert info.value.problems[0].column == column


def test_trailer_must_count_the_chunks(tmp_path: Path) -> None:
    path = tmp_path / "c.jsonl"
    _write(path)
    lines = _lines(path)
    lines[-1] = lines[-1].replace('"chunks": 3', '"chunks": 9')
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    with pytest.raises(InputDataError, match="line 5, column end.chunks: trailer counts 9"):
        read_capture(path)


def test_missing_and_empty_files(tmp_path: Path) -> None:
    with pytest.raises(InputDataError, match="cannot read"):
        read_capture(tmp_path / "nope.jsonl")
    empty = tmp_path / "empty.jsonl"
    empty.write_text("", encoding="utf-8")
    with pytest.raises(InputDataError, match="line 1: empty file"):
        read_capture(empty)
