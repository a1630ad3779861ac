"""Which processes hold a serial port open.

Contract:
- :func:`port_holders` returns, for a device path, a :class:`Holders`: ``state`` is
  ``"free"`` (nobody holds it, and we could look everywhere), ``"in_use"`` (``processes``
  lists ``(pid, name)`` when known) or ``"unknown"`` (we cannot tell: never a guess).
- Linux (any system with ``/proc``): every ``/proc/<pid>/fd/*`` symlink is read and compared
  with the device's real path; a process whose descriptors we may not read (another user's,
  without privilege) makes a "free" answer impossible, so the result is then ``unknown``
  unless a holder was found anyway. ``proc_root`` is injectable for tests.
- Windows: there is no ``/proc``; the port is opened exclusively once and closed at once:
  ``PermissionError`` (access denied) means ``in_use`` (with no process named), success
  means ``free``, any other failure ``unknown``. This opens the port but writes nothing and
  changes no setting the next opener does not set again.
- Elsewhere (macOS, BSD): ``unknown``.
"""

from __future__ import annotations

import os
import sys
from dataclasses import dataclass, field
from pathlib import Path


@dataclass(frozen=True, slots=True)
class Holders:
    state: str  # "free" | "in_use" | "unknown"
    processes: tuple[tuple[int, str], ...] = field(default=())

    def to_json(self) -> dict[str, object]:
        return {"state": self.state,
                "processes": [{"pid": pid, "name": name} for pid, name in self.processes]}


def _name(proc: Path) -> str:
    try:
        return (proc / "comm").read_text(encoding="utf-8", errors="replace").strip()
    except OSError:
        return ""


def scan_proc(device: str, proc_root: str | Path = "/proc") -> Holders:
    """The holders of ``device`` found by reading ``proc_root/<pid>/fd`` links."""
    try:
        target = os.path.realpath(device)
    except OSError:
        target = device
    found: list[tuple[int, str]] = []
    blind = False
    root = Path(proc_root)
    try:
        pids = [p for p in root.iterdir() if p.name.isdigit()]
    except OSError:
        return Holders("unknown")
    for proc in pids:
        try:
            fds = list((proc / "fd").iterdir())
        except PermissionError:
            blind = True
            continue
        except OSError:
            continue  # the process ended meanwhile
        for fd in fds:
            try:
                link = os.readlink(fd)
            except OSError:
                continue
            if link == target or link == device:
                found.append((int(proc.name), _name(proc)))
                break
    if found:
        return Holders("in_use", tuple(sorted(found)))
    return Holders("unknown" if blind else "free")


def _try_exclusive_open(device: str) -> Holders:  # pragma: no cover - Windows only
    import serial

    try:
        port = serial.Serial(device, exclusive=True)
    except serial.SerialException as exc:
        cause = exc.__context__ or exc
        if isinstance(cause, PermissionError) or "PermissionError" in str(exc) \
                or "Access is denied" in str(exc):
            return Holders("in_use")
        return Holders("unknown")
    port.close()
    return Holders("free")


def port_holders(device: str, proc_root: str | Path = "/proc") -> Holders:
    """Who holds ``device`` (see the module docstring)."""
    if Path(proc_root).is_dir():
        return scan_proc(device, proc_root)
    if sys.platform == "win32":  # pragma: no cover - Windows only
        return _try_exclusive_open(device)
    return Holders("unknown")


__all__ = ["Holders", "port_holders", "scan_proc"]
