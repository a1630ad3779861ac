"""Browser tests: the console in headless Chromium (Debian's /usr/bin/chromium, driven by
Playwright for Python by executable path; no browser is downloaded). Skipped, with one
line, where /usr/bin/chromium is missing. The hub and month fixtures come from tests/hub."""

from __future__ import annotations

import sys
from pathlib import Path

_TESTS = Path(__file__).resolve().parent.parent
for _sub in ("hub", "rewards"):
    if str(_TESTS / _sub) not in sys.path:
        sys.path.insert(0, str(_TESTS / _sub))
