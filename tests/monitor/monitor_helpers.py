"""Shared helpers of the monitor tests: fixture frames and TCP sessions built from them."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from stationlink.monitor.pcap import Segment

ROOT = Path(__file__).resolve().parents[2]
VECTORS = ROOT / "firmware_fixtures" / "vectors"
SESSIONS = ROOT / "firmware_fixtures" / "sessions"
FIXTURE_KEY = bytes(32)  # the fixtures' card key (firmware_fixtures/README.md)
T0 = 1_710_518_400.0  # 2024-03-16 00:00 CST, a fixed time for the written packets


def hex_file(path: Path) -> bytes:
    """The bytes of a ``.hex`` fixture (comments after ``#`` removed)."""
    text = "".join(line.split("#", 1)[0] for line in path.read_text().splitlines())
    return bytes.fromhex("".join(text.split()))


def vector_messages(dialect: str, transport: str = "tcp",
                    ) -> list[tuple[str, bytes, dict[str, Any]]]:
    """(class name, frame bytes, JSON meaning) of every message vector of a dialect."""
    out = []
    folder = VECTORS / dialect / transport / "messages"
    for path in sorted(folder.glob("*.hex")):
        meaning = json.loads(path.with_suffix(".json").read_text())
        out.append((meaning["message"], hex_file(path), meaning))
    return out


def direction_of(class_name: str) -> str:
    return "h2t" if class_name.endswith("Request") or class_name == "StatusQuery" else "t2h"


def vector_session(dialect: str) -> list[Segment]:
    """Every message vector of ``dialect`` as one TCP session, one message a second."""
    return [Segment(T0 + i, direction_of(name), frame)
            for i, (name, frame, _) in enumerate(vector_messages(dialect))]


def capture_sessions(path: Path) -> list[list[Segment]]:
    """A TCP capture's connections (split at its open/close events) as segment lists."""
    sessions: list[list[Segment]] = []
    current: list[Segment] | None = None
    lines = path.read_text(encoding="utf-8").splitlines()
    for line in lines[1:]:
        obj = json.loads(line)
        if "end" in obj:
            continue
        if obj.get("event") == "open":
            current = []
            sessions.append(current)
        elif obj.get("event") == "close":
            current = None
        elif "hex" in obj:
            if current is None:
                current = []
                sessions.append(current)
            current.append(Segment(T0 + obj["t"], obj["dir"], bytes.fromhex(obj["hex"])))
    return [s for s in sessions if s]
