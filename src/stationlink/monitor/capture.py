"""Reading a capture file (``stationlink-capture`` version 1) for the monitor.

Contract:
- :func:`read_capture_steps` reads the JSON-lines capture format that ``stationlink record``
  writes (``docs/simulator.md``, "Capture and replay") and yields :class:`Step` s in file order:
  bytes of one direction, or a TCP ``open``/``close`` event, each with its aware time
  (``started`` + ``t``). The header's dialect (may be ``null``) and transport come first as a
  :class:`CaptureInfo`.
- The SDK may not import the simulator (``tests/meta/test_meta_layout.py``), so this is a
  reader of the documented format of its own, strict on what the monitor needs: a bad line
  raises :class:`~stationlink.errors.InputDataError` naming the file, line and JSON key;
  the steps of the lines before it have already been yielded (nothing read is lost).
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from ..errors import InputDataError, Problem
from ..protocol import Dialect, Transport

FORMAT = "stationlink-capture"


@dataclass(frozen=True, slots=True)
class CaptureInfo:
    dialect: Dialect | None
    transport: Transport
    started: datetime


@dataclass(frozen=True, slots=True)
class Step:
    """Bytes read from one side (``data``) or a connection ``event`` of that side."""

    when: datetime
    direction: str
    data: bytes = b""
    event: str = ""


def _bad(path: str, line: int, column: str, reason: str) -> InputDataError:
    problem = Problem(path, line, column, reason)
    return InputDataError([problem], f"bad capture file: {problem}")


def is_capture(head: bytes) -> bool:
    """Whether the first bytes of a file look like a capture's header line."""
    return head.lstrip().startswith(b"{") and FORMAT.encode() in head[:4096]


def read_capture_steps(path: str) -> tuple[CaptureInfo, Iterator[Step]]:
    """The header of the capture at ``path`` and an iterator over its steps."""
    fh = open(path, encoding="utf-8")  # noqa: SIM115 - closed by the iterator
    try:
        first = fh.readline()
        header = _object(path, 1, first)
        info = _header(path, header)
    except BaseException:
        fh.close()
        raise

    def steps() -> Iterator[Step]:
        with fh:
            for lineno, line in enumerate(fh, start=2):
                if not line.strip():
                    continue
                obj = _object(path, lineno, line)
                if "end" in obj:
                    continue
                yield _step(path, lineno, obj, info.started)

    return info, steps()


def _object(path: str, lineno: int, line: str) -> dict[str, Any]:
    try:
        obj = json.loads(line)
    except json.JSONDecodeError as exc:
        raise _bad(path, lineno, f"character {exc.pos + 1}", f"not JSON: {exc.msg}") from exc
    if not isinstance(obj, dict):
        raise _bad(path, lineno, "", "a capture line is a JSON object")
    return obj


def _header(path: str, obj: dict[str, Any]) -> CaptureInfo:
    if obj.get("format") != FORMAT:
        raise _bad(path, 1, "format", f"not a capture: 'format' must be {FORMAT!r}")
    if obj.get("version") != 1:
        raise _bad(path, 1, "version", f"unsupported version {obj.get('version')!r}")
    try:
        dialect = None if obj.get("dialect") is None else Dialect(obj["dialect"])
    except ValueError:
        raise _bad(path, 1, "dialect", f"unknown dialect {obj['dialect']!r}") from None
    try:
        transport = Transport(str(obj.get("transport")))
    except ValueError:
        raise _bad(path, 1, "transport", f"unknown transport {obj.get('transport')!r}") from None
    try:
        started = datetime.fromisoformat(str(obj.get("started")))
    except ValueError:
        raise _bad(path, 1, "started", "'started' is not an ISO 8601 time") from None
    if started.tzinfo is None:
        raise _bad(path, 1, "started", "'started' has no UTC offset")
    return CaptureInfo(dialect, transport, started)


def _step(path: str, lineno: int, obj: dict[str, Any], started: datetime) -> Step:
    t = obj.get("t")
    if not isinstance(t, (int, float)) or isinstance(t, bool) or t < 0:
        raise _bad(path, lineno, "t", "'t' must be a non-negative number of seconds")
    direction = obj.get("dir")
    if direction not in ("h2t", "t2h"):
        raise _bad(path, lineno, "dir", f"'dir' must be 'h2t' or 't2h', not {direction!r}")
    when = started + timedelta(seconds=t)
    if "event" in obj:
        if obj["event"] not in ("open", "close"):
            raise _bad(path, lineno, "event", f"unknown event {obj['event']!r}")
        return Step(when, direction, event=obj["event"])
    hx = obj.get("hex")
    if not isinstance(hx, str):
        raise _bad(path, lineno, "hex", "a chunk needs 'hex' (or 'event')")
    try:
        data = bytes.fromhex(hx)
    except ValueError as exc:
        raise _bad(path, lineno, "hex", f"'hex' is not hex: {exc}") from exc
    return Step(when, direction, data=data)


__all__ = ["CaptureInfo", "Step", "is_capture", "read_capture_steps"]
