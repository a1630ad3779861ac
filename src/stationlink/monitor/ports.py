"""The serial ports of this machine, for picking the right cable.

Contract:
- :func:`list_serial_ports` returns one :class:`PortInfo` per port pyserial's
  ``serial.tools.list_ports.comports()`` lists (Linux ``/dev/ttyUSB0``, Windows ``COM3``,
  macOS ``/dev/cu.*``): device, description, USB vendor:product id (``"0403:6001"``, or
  ``None`` for a non-USB port), serial number, manufacturer, and the holders
  (:mod:`.holders`). ``all_ptys=True`` adds, on Linux, the pseudo-terminals ``/dev/pts/N``
  (where emulated terminals and taps live), which pyserial does not list.
- ``comports`` and ``proc_root`` are injectable (a unit test feeds a fake list; the real
  call is tested too). Ports come sorted by device name, pseudo-terminals after them
  in number order.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from .holders import Holders, port_holders


@dataclass(frozen=True, slots=True)
class PortInfo:
    device: str
    description: str
    usb_id: str | None
    serial_number: str | None
    manufacturer: str | None
    holders: Holders

    def to_json(self) -> dict[str, Any]:
        return {"device": self.device, "description": self.description,
                "usb_id": self.usb_id, "serial_number": self.serial_number,
                "manufacturer": self.manufacturer, "holders": self.holders.to_json()}


def _comports() -> Iterable[Any]:
    from serial.tools import list_ports

    return list_ports.comports()


def _usb_id(port: Any) -> str | None:
    vid, pid = getattr(port, "vid", None), getattr(port, "pid", None)
    if vid is None or pid is None:
        return None
    return f"{int(vid):04x}:{int(pid):04x}"


def _text(value: Any) -> str | None:
    return None if value in (None, "", "n/a") else str(value)


def list_serial_ports(*, all_ptys: bool = False,
                      comports: Callable[[], Iterable[Any]] | None = None,
                      proc_root: str | Path = "/proc",
                      pts_root: str | Path = "/dev/pts") -> list[PortInfo]:
    out: list[PortInfo] = []
    seen: set[str] = set()
    listed = (comports or _comports)()
    for port in sorted(listed, key=lambda p: str(p.device)):
        device = str(port.device)
        seen.add(device)
        out.append(PortInfo(device, _text(getattr(port, "description", None)) or "",
                            _usb_id(port), _text(getattr(port, "serial_number", None)),
                            _text(getattr(port, "manufacturer", None)),
                            port_holders(device, proc_root)))
    pts = Path(pts_root)
    if all_ptys and pts.is_dir():
        for entry in sorted(pts.iterdir(), key=lambda p: (len(p.name), p.name)):
            if entry.name.isdigit() and str(entry) not in seen:
                out.append(PortInfo(str(entry), "pseudo-terminal", None, None, None,
                                    port_holders(str(entry), proc_root)))
    return out


__all__ = ["PortInfo", "list_serial_ports"]
