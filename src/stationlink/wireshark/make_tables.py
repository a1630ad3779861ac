"""Writes the GB18030 tables of the Wireshark dissector (``stationlink.lua``) from Python's codec.

Contract: ``python -m stationlink.wireshark.make_tables`` rewrites the section of
``stationlink.lua`` between the ``BEGIN GB18030`` and ``END GB18030`` markers; ``--check``
exits 1 if that would change the file (``tests/monitor/test_monitor_dissector.py`` checks it).

Why: Wireshark 4.0's own ``ENC_GB18030`` decoding (Debian 12's tshark) loses characters near
the end of a string (``张三`` shows as ``张\\ufffd``), so the dissector decodes ``mispos-1``
texts itself, exactly as Python's ``gb18030`` codec does:

- ``GB2`` maps each two-byte code: one string per lead byte 0x81..0xFE, 190 entries (trail
  bytes 0x40..0x7E, 0x80..0xFE) of 4 hex digits each, ``0000`` where the codec refuses it;
- ``GB4`` maps the four-byte codes of the Basic Multilingual Plane as runs: ``{linear
  index of the run's first code, its code point, run length}``, where the linear index of
  ``b1 b2 b3 b4`` is ``((b1-0x81)*10 + b2-0x30)*1260 + (b3-0x81)*10 + b4-0x30``; four-byte codes
  from 0x90308130 on are U+10000 + their linear index from there (no table needed).
"""

from __future__ import annotations

import sys
from pathlib import Path

LUA = Path(__file__).resolve().parent / "stationlink.lua"
BEGIN = "-- BEGIN GB18030 (make_tables.py)"
END = "-- END GB18030"
TRAILS = [*range(0x40, 0x7F), *range(0x80, 0xFF)]


def _decode(raw: bytes) -> int | None:
    try:
        text = raw.decode("gb18030")
    except UnicodeDecodeError:
        return None
    return ord(text) if len(text) == 1 else None


def two_byte_rows() -> list[str]:
    rows = []
    for lead in range(0x81, 0xFF):
        cells = []
        for trail in TRAILS:
            cp = _decode(bytes([lead, trail]))
            cells.append("0000" if cp is None or cp > 0xFFFF else f"{cp:04x}")
        rows.append("".join(cells))
    return rows


def four_byte_runs() -> list[tuple[int, int, int]]:
    runs: list[tuple[int, int, int]] = []
    for b1 in range(0x81, 0x85):
        for b2 in range(0x30, 0x3A):
            for b3 in range(0x81, 0xFF):
                for b4 in range(0x30, 0x3A):
                    cp = _decode(bytes([b1, b2, b3, b4]))
                    if cp is None:
                        continue
                    linear = ((b1 - 0x81) * 10 + b2 - 0x30) * 1260 + (b3 - 0x81) * 10 + b4 - 0x30
                    if runs and runs[-1][0] + runs[-1][2] == linear \
                            and runs[-1][1] + runs[-1][2] == cp:
                        runs[-1] = (runs[-1][0], runs[-1][1], runs[-1][2] + 1)
                    else:
                        runs.append((linear, cp, 1))
    return runs


def section() -> str:
    lines = [BEGIN, "local GB2 = {"]
    lines += [f'    "{row}",' for row in two_byte_rows()]
    lines.append("}")
    lines.append("local GB4 = {")
    runs = four_byte_runs()
    for i in range(0, len(runs), 4):
        lines.append("    " + " ".join(f"{{{a}, {b}, {c}}}," for a, b, c in runs[i:i + 4]))
    lines.append("}")
    lines.append(END)
    return "\n".join(lines)


def render(current: str) -> str:
    start, end = current.index(BEGIN), current.index(END) + len(END)
    return current[:start] + section() + current[end:]


def main(argv: list[str]) -> int:
    current = LUA.read_text(encoding="utf-8")
    new = render(current)
    if "--check" in argv:
        return 0 if new == current else 1
    if new != current:
        LUA.write_text(new, encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
