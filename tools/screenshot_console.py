"""Screenshots of the console for docs/console.md, taken by the browser tests.

Usage: ``.venv/bin/python tools/screenshot_console.py`` runs ``tests/browser`` (headless
Chromium, /usr/bin/chromium) with ``STATIONLINK_SCREENSHOTS`` set to a temporary directory
(the tests write the pages of their simulated month there), then copies the key pages into
``docs/img/console-<page>.png``. Exits with pytest's status
(nothing is copied when the tests fail or are skipped).
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
IMG = ROOT / "docs" / "img"
#: The pages docs/console.md shows (the tests write a few more).
KEY = ("stations", "stations-phone", "station", "month-open", "statement", "statement-inputs",
       "statement-print", "settings", "month-adjustments", "statement-carried", "notices")


def main() -> int:
    with tempfile.TemporaryDirectory() as tmp:
        env = {**os.environ, "STATIONLINK_SCREENSHOTS": tmp}
        status = subprocess.call(  # noqa: S603 - our own interpreter and test path
            [sys.executable, "-m", "pytest", "-q", "-x", "-rs", str(ROOT / "tests" / "browser")],
            cwd=ROOT, env=env)
        missing = [k for k in KEY if not (Path(tmp) / f"{k}.png").is_file()]
        if status != 0 or missing:
            print(f"not copied: tests exited {status}, missing {missing}", file=sys.stderr)
            return status or 1
        IMG.mkdir(parents=True, exist_ok=True)
        for k in KEY:
            shutil.copyfile(Path(tmp) / f"{k}.png", IMG / f"console-{k}.png")
            print(f"wrote docs/img/console-{k}.png")
    return 0


if __name__ == "__main__":
    sys.exit(main())
