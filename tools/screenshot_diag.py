"""Screenshots of ``stationlink diag`` for the field guide (``python tools/screenshot_diag.py``).

Runs the diagnosis against emulated terminals (a clean one, and one with a slow clock and no
paper), renders the console output into a plain HTML ``<pre>`` page and the HTML report, and
screenshots both with headless Chromium (Debian's ``/usr/bin/chromium``; nothing is
downloaded) into ``docs/img/``: ``diag-console.zh.png``, ``diag-console.en.png``,
``diag-report.zh.png`` (phone width) and ``diag-report.en.png``. ``--out DIR`` writes elsewhere
(tests use a temporary directory). The terminals run on a simulated clock, so the pictures do
not depend on today's date.
"""

from __future__ import annotations

import argparse
import html
import random
import subprocess
import sys
import tempfile
from datetime import datetime
from pathlib import Path

from stationlink.diag import DiagOptions, Report, render_html, render_text, run_diag
from stationlink.money import CST
from stationlink_sim.clock import SimulatedClock
from stationlink_sim.serve import serve_terminal

CHROMIUM = "/usr/bin/chromium"
ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
        "--disable-background-networking", "--disable-component-update", "--disable-sync",
        "--hide-scrollbars"]
START = datetime(2026, 3, 16, 9, 30, tzinfo=CST)
PRE_PAGE = """<!DOCTYPE html><html><head><meta charset="utf-8"><style>
body {{ margin: 0; background: #1e1e1e; }}
pre {{ margin: 0; padding: 14px; color: #e8e8e8; white-space: pre-wrap;
      font: 15px/1.45 "Noto Sans Mono CJK SC", "WenQuanYi Zen Hei Mono", "DejaVu Sans Mono",
      monospace; }}
</style></head><body><pre>$ {command}
{output}</pre></body></html>
"""


def diagnose(lang: str, faults: str) -> tuple[Report, str]:
    clock = SimulatedClock(START)
    with serve_terminal("bill", "sl-2", pty=True, baud=9600, faults=faults, seed=4,
                        base_clock=clock) as t:
        clock.skip(3 * 3600.0)
        assert t.path is not None  # noqa: S101 - a pty terminal has a path
        url = f"serial://{t.path}"
        report = run_diag(url, DiagOptions(echo=4, lang=lang),  # type: ignore[arg-type]
                          host_time=clock.now, rng=random.Random(4))  # noqa: S311
    return report, "stationlink diag /dev/ttyUSB0" + ("" if lang == "zh" else " --lang en")


def shoot(page: Path, png: Path, width: int, height: int) -> None:
    subprocess.run(  # noqa: S603 - a fixed binary and our own arguments
        [CHROMIUM, *ARGS, f"--window-size={width},{height}", f"--screenshot={png}",
         page.as_uri()], check=True, capture_output=True, timeout=120,
    )


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--out", type=Path, default=Path(__file__).parents[1] / "docs" / "img")
    args = ap.parse_args(argv)
    if not Path(CHROMIUM).exists():
        print(f"{CHROMIUM} is not installed (apt-get install chromium)", file=sys.stderr)
        return 1
    args.out.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory() as tmp:
        for lang in ("zh", "en"):
            report, command = diagnose(lang, "clock_offset=-3h,paper_out#1")
            text = render_text(report).replace(report.url, "/dev/ttyUSB0")
            console = Path(tmp) / f"console.{lang}.html"
            console.write_text(PRE_PAGE.format(command=html.escape(command),
                                               output=html.escape(text)), encoding="utf-8")
            shoot(console, args.out / f"diag-console.{lang}.png", 900, 460)
            page = Path(tmp) / f"report.{lang}.html"
            page.write_text(render_html(report).replace(report.url, "/dev/ttyUSB0"),
                            encoding="utf-8")
            shoot(page, args.out / f"diag-report.{lang}.png", 412, 1500)
    for png in sorted(args.out.glob("diag-*.png")):
        print(png)
    return 0


if __name__ == "__main__":
    sys.exit(main())
