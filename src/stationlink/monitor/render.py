"""Trace items as text lines, the way a protocol analyser shows them.

Contract:
- :class:`Renderer` turns each :class:`~.trace.TraceItem` into display lines no wider than
  ``width`` terminal columns (CJK characters count two): time (CST, milliseconds), direction
  arrow, message type and sequence number, checksum verdict, retransmission mark, then the key
  fields (amounts as 元 with two decimals, times in CST, a card as its masked number only),
  wrapped onto indented continuation lines at field boundaries; a single field wider than the
  line is cut with ``…``. ``raw=True`` adds the bytes as hex, 16 a line, with the digits of a
  ``mispos-1`` full card number hidden (:func:`~.trace.masked_hex`). A line with the
  date is printed whenever the CST date changes.
- ``colour=True`` adds ANSI styles (``click.style``); the CLI passes it only when stdout is a
  terminal. A pcap's items start with their TCP connection's number (``c1``). Labels come
  from :mod:`.text` in ``lang`` (``zh`` default, ``en``).
- A full card number never reaches a line: the decoder has already masked it, and only the
  ``masked`` part of a card is shown.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import date, datetime
from decimal import Decimal
from typing import Any

import click

from ..i18n.width import cut, display_width
from ..money import fen_to_yuan, format_yuan, to_cst
from ..protocol import MsgType, to_json
from .text import reason, text
from .trace import TraceItem

INDENT = 13  # width of "HH:MM:SS.mmm "
_SKIP = {"message", "header"}


def yuan(fen: int) -> str:
    return f"{format_yuan(fen_to_yuan(fen))}元"


def _time(value: str) -> str:
    try:
        return to_cst(datetime.fromisoformat(value)).strftime("%Y-%m-%d %H:%M:%S")
    except ValueError:
        return value


def _record(rec: dict[str, Any]) -> list[str]:
    parts = [f"[#{rec.get('cursor')}", str(rec.get("kind", ""))]
    if rec.get("client_ref"):
        parts.append(f"client_ref={rec['client_ref']}")
    if rec.get("product"):
        parts.append(str(rec["product"]))
    if isinstance(rec.get("amount_fen"), int):
        parts.append(yuan(rec["amount_fen"]))
    parts.append(str(rec.get("status", "")))
    card = rec.get("card")
    if isinstance(card, dict) and card.get("masked"):
        parts.append(f"card={card['masked']}")
    parts = [p for p in parts if p]
    parts[-1] += "]"
    return parts


def fields(message_json: dict[str, Any]) -> Iterator[str]:
    """The key fields of a message's JSON form, each as one short ``name=value`` text."""
    for key, value in message_json.items():
        if key in _SKIP:
            continue
        if key == "extra":
            if value:  # tags this host does not know, kept by the decoder
                yield "extra=" + ",".join(f"{x['tag']}:{x['value']}" for x in value)
        elif key.endswith("_fen") and isinstance(value, int):
            yield f"{key[:-4]}={yuan(value)}"
        elif key == "card":
            if isinstance(value, dict):
                yield f"card={value.get('masked', '')}"
        elif key == "record":
            if value is not None:
                yield from _record(value)
        elif key == "records":
            cursors = [r.get("cursor") for r in value]
            span = f" #{cursors[0]}..#{cursors[-1]}" if cursors else ""
            yield f"records={len(value)}{span}"
            for r in value:
                yield from _record(r)
        elif key == "lines":
            total = sum(int(x.get("amount_fen", 0)) for x in value)
            yield f"lines={len(value)} total={yuan(total)}"
            for x in value:
                yield f"[{x.get('kind')} {x.get('product') or ''} ×{x.get('count')} " \
                      f"{yuan(int(x.get('amount_fen', 0)))}]".replace("  ", " ")
        elif key == "payload":
            yield f"payload={len(value) // 2}B"
        elif key == "error_counters":
            yield "errors=" + (",".join(f"{n}:{c}" for n, c in value) or "-")
        elif key == "capabilities":
            yield "caps=" + ",".join(value)
        elif key in ("terminal_time", "host_time", "since") and isinstance(value, str):
            yield f"{key}={_time(value)}"
        elif isinstance(value, bool):
            yield f"{key}={'yes' if value else 'no'}"
        elif isinstance(value, (int, str, Decimal)):
            yield f"{key}={value}"


def wrap(head: str, parts: list[str], width: int) -> list[str]:
    """``head`` then ``parts`` separated by spaces, wrapped at part boundaries with an indent."""
    lines: list[str] = []
    line = head
    for part in parts:
        room = width - display_width(line) - 1
        if display_width(part) <= room:
            line = f"{line} {part}"
            continue
        lines.append(line)
        line = " " * INDENT + cut(part, width - INDENT)
    lines.append(cut(line, width))
    return lines


class Renderer:
    """Trace items to display lines (see the module docstring)."""

    def __init__(self, *, width: int = 80, raw: bool = False, colour: bool = False,
                 lang: str = "zh") -> None:
        self.width = max(40, width)
        self.raw = raw
        self.colour = colour
        self.lang = lang
        self._date: date | None = None
        self.frames = self.retransmits = self.bad = self.garbage = 0

    def _style(self, s: str, **kw: Any) -> str:
        return click.style(s, **kw) if self.colour else s

    def lines(self, item: TraceItem) -> list[str]:
        when = to_cst(item.when)
        out: list[str] = []
        if when.date() != self._date:
            self._date = when.date()
            out.append(self._style(text("monitor.date", self.lang, date=self._date.isoformat()),
                                   dim=True))
        stamp = when.strftime("%H:%M:%S.") + f"{when.microsecond // 1000:03d}"
        arrow = text(f"monitor.dir.{item.direction}", self.lang)
        arrow = self._style(arrow, fg="cyan" if item.direction == "h2t" else "magenta")
        conn = f"c{item.connection} " if item.connection else ""  # pcap: connection number
        head = f"{stamp} {conn}{arrow}"
        parts = self._parts(item)
        out += wrap(head, parts, self.width)
        if self.raw and item.raw:
            hx = item.hex(" ")  # card digits hidden
            per = 16 * 3
            for i in range(0, len(hx), per):
                out.append(" " * INDENT + self._style(cut(hx[i:i + per].strip(),
                                                          self.width - INDENT), dim=True))
        return out

    def _parts(self, item: TraceItem) -> list[str]:
        t = self.lang
        if item.kind == "event":
            return [self._style(text(f"monitor.event.{item.event}", t), bold=True)]
        if item.kind == "link":
            colour = "red" if item.link == "NAK" else "green" if item.link == "ACK" else None
            return [self._style(item.link, fg=colour, bold=True)]
        if item.kind == "garbage":
            self.garbage += len(item.raw)
            return [self._style(text("monitor.kind.garbage", t, n=len(item.raw)), fg="yellow"),
                    f"({reason(item.error, t)})"]
        if item.kind == "bad_check":
            self.bad += 1
            return [self._style(text("monitor.kind.bad_check", t, n=len(item.raw)), fg="red"),
                    self._style(text("monitor.check.bad", t), fg="red")]
        self.frames += 1
        parts: list[str] = []
        if item.header is not None:
            code, seq, _tid = item.header
            name = MsgType(code).name if code in MsgType._value2member_map_ else f"0x{code:02X}"
            parts += [f"#{seq}", self._style(name, bold=True)]
        if item.checksum == "ok":
            parts.append(text("monitor.check.ok", t))
        if item.retransmit:
            self.retransmits += 1
            parts.append(self._style(text("monitor.mark.retransmit", t), fg="yellow",
                                     bold=True))
        if item.kind == "undecodable":
            parts += [self._style(text("monitor.kind.undecodable", t), fg="red"),
                      f"({item.error})"]
            return parts
        parts += list(fields(to_json(item.message)))
        return parts

    def summary(self) -> str:
        return text("monitor.summary", self.lang, frames=self.frames,
                    retransmits=self.retransmits, bad=self.bad, garbage=self.garbage)


__all__ = ["Renderer", "cut", "display_width", "fields", "wrap", "yuan"]
