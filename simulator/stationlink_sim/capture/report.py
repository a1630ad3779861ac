"""What a replay found: the first divergence and the figures of the run.

Contract: :class:`Divergence` names where the host under test first departed from the
capture: the capture line and chunk number of the expected bytes, the byte offset in the
host's stream of that connection, the reason, and the expected and actual message (JSON form
of :func:`stationlink.protocol.to_json`, or hex for bytes that are not a message). Volatile
fields (sequence numbers, client refs, the host clock) are shown as sent. :class:`ReplayResult`
is the outcome: ``ok`` (every step done, no divergence), the divergence if any, and counts.
Its :attr:`ReplayResult.outcome` is one of ``matched`` (exit 0), ``diverged`` (exit
:data:`EXIT_DIVERGED`) and ``incomplete`` (exit :data:`EXIT_INCOMPLETE`): the replay was
stopped (``--timeout``, a signal) before the host finished the capture without diverging,
including a host that never connected or sent nothing (``host_seen`` false).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

#: exit code of ``stationlink replay`` when the host diverged from the capture
EXIT_DIVERGED = 11
#: exit code of ``stationlink replay`` stopped before the host finished (timeout, signal,
#: a host that never connected), without a divergence
EXIT_INCOMPLETE = 12


@dataclass(frozen=True, slots=True)
class Divergence:
    reason: str
    line: int  # capture line of the expected step (0: after the end of the capture)
    chunk: int  # 1-based chunk number (line - 1), 0 when none
    offset: int  # byte offset in the host's stream of this connection
    connection: int
    expected: Any = None
    actual: Any = None

    def describe(self) -> str:
        where = (f"line {self.line} (chunk {self.chunk})" if self.line
                 else "after the end of the capture")
        head = f"{where}, host byte offset {self.offset}: {self.reason}"
        parts = [head]
        if self.expected is not None:
            parts.append("  expected: " + json.dumps(self.expected, ensure_ascii=False))
        if self.actual is not None:
            parts.append("  actual:   " + json.dumps(self.actual, ensure_ascii=False))
        return "\n".join(parts)

    def to_json(self) -> dict[str, Any]:
        return {
            "reason": self.reason, "line": self.line, "chunk": self.chunk,
            "offset": self.offset, "connection": self.connection,
            "expected": self.expected, "actual": self.actual,
        }


@dataclass(frozen=True, slots=True)
class ReplayResult:
    capture: str
    ok: bool
    divergence: Divergence | None
    steps: int
    steps_done: int
    host_tokens: int  # host frames / link bytes matched
    terminal_bytes: int  # bytes the replayer sent
    elapsed: float  # wall seconds from the first host byte (or connection) to the end
    capture_seconds: float  # duration of the recorded session
    host_seen: bool = False  # the host connected or sent a byte

    @property
    def outcome(self) -> str:
        """``matched``, ``diverged`` or ``incomplete`` (module contract)."""
        if self.ok:
            return "matched"
        return "diverged" if self.divergence is not None else "incomplete"

    @property
    def exit_code(self) -> int:
        return {"matched": 0, "diverged": EXIT_DIVERGED}.get(self.outcome, EXIT_INCOMPLETE)

    @property
    def speedup(self) -> float:
        return self.capture_seconds / self.elapsed if self.elapsed > 0 else float("inf")

    def to_json(self) -> dict[str, Any]:
        return {
            "capture": self.capture, "ok": self.ok, "outcome": self.outcome,
            "host_seen": self.host_seen,
            "divergence": None if self.divergence is None else self.divergence.to_json(),
            "steps": self.steps, "steps_done": self.steps_done,
            "host_tokens": self.host_tokens, "terminal_bytes": self.terminal_bytes,
            "elapsed_s": round(self.elapsed, 6),
            "capture_s": round(self.capture_seconds, 6),
        }

    def describe(self) -> str:
        if self.ok:
            return (f"{self.capture}: no divergence ({self.steps} steps, {self.host_tokens} "
                    f"host frames/link bytes matched, {self.elapsed:.3f} s for "
                    f"{self.capture_seconds:.3f} s recorded)")
        if self.divergence is None:
            if not self.host_seen:
                return (f"{self.capture}: INCOMPLETE: the host never connected or sent "
                        f"anything; nothing was checked (0 of {self.steps} steps)")
            return (f"{self.capture}: INCOMPLETE: stopped after {self.steps_done} of "
                    f"{self.steps} steps without a divergence (timeout or signal); the "
                    "host did not finish the capture")
        return (f"{self.capture}: DIVERGED after {self.steps_done} of {self.steps} steps\n"
                + self.divergence.describe())


__all__ = ["EXIT_DIVERGED", "EXIT_INCOMPLETE", "Divergence", "ReplayResult"]
