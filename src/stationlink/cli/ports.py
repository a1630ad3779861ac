"""``stationlink ports``: the serial ports on this machine, to pick the right cable.

Contract: one line per port (device, description, USB vendor:product id, serial number,
holder: the process holding it open, "free", or "unknown" when it cannot be told, see
:mod:`stationlink.monitor.holders`); ``--json`` prints one JSON document
``{"ports": [{"device", "description", "usb_id", "serial_number", "manufacturer",
"holders": {"state": "free" | "in_use" | "unknown", "processes": [{"pid", "name"}]}}]}``.
``--all`` adds Linux pseudo-terminals (``/dev/pts/N``). Exit 0, also when there is no port.
"""

from __future__ import annotations

import click

from .common import echo_json, handles_errors


@click.command("ports")
@click.option("--json", "as_json", is_flag=True, help="One JSON document.")
@click.option("--all", "all_ptys", is_flag=True, help="Also list pseudo-terminals (/dev/pts/N).")
@click.option("--lang", type=click.Choice(["zh", "en"]), default="zh", show_default=True)
@handles_errors
def ports(as_json: bool, all_ptys: bool, lang: str) -> None:
    """List the serial ports, their USB ids and which process holds each."""
    from ..i18n.width import cut, display_width
    from ..monitor.ports import list_serial_ports
    from ..monitor.text import text

    found = list_serial_ports(all_ptys=all_ptys)
    if as_json:
        echo_json({"ports": [p.to_json() for p in found]})
        return
    if not found:
        click.echo(text("ports.none", lang))
        return
    cols = ["device", "description", "usb", "serial", "holder"]
    rows = [[text(f"ports.col.{c}", lang) for c in cols]]
    for p in found:
        h = p.holders
        if h.state == "in_use" and h.processes:
            holder = ", ".join(f"{name or '?'}({pid})" for pid, name in h.processes)
        else:
            holder = text(f"ports.holder.{h.state}", lang)
        rows.append([p.device, p.description or "-", p.usb_id or "-", p.serial_number or "-",
                     holder])
    widths = [min(max(display_width(r[i]) for r in rows), 24) for i in range(len(cols))]
    for r in rows:
        cells = [cut(v, w) for v, w in zip(r, widths, strict=True)]
        click.echo("  ".join(c + " " * (w - display_width(c))
                             for c, w in zip(cells, widths, strict=True)).rstrip())
