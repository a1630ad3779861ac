"""Sign-in attempt limits: :class:`LoginLimiter`.

Contract: failed sign-ins are counted per account name and per client address over a
sliding ``window`` (default 15 minutes) of the injected wall clock. Once an account has
``per_account`` failures (default 5) in the window, or an address ``per_address`` (default
20), :meth:`LoginLimiter.wait` gives the seconds until the oldest of them leaves the window
(> 0: refused without checking the password, even a right one); 0 otherwise. A successful
sign-in clears its account's failures (not its address's). The counts live in the hub
process (a restart forgets them); at most ``max_keys`` names and addresses are tracked, the
ones idle longest forgotten first, and a name counts by its first :data:`KEY_CHARS`
characters (no operator name is longer), so a flood of made-up names cannot exhaust memory.
Thread-safe.
"""

from __future__ import annotations

import math
import threading
from collections import OrderedDict, deque
from datetime import datetime, timedelta

from ...clock import WallClock

WINDOW = timedelta(minutes=15)
PER_ACCOUNT = 5
PER_ADDRESS = 20
KEY_CHARS = 128


def _keys(account: str, address: str) -> tuple[tuple[str, str], tuple[str, str]]:
    return ("account", account[:KEY_CHARS]), ("address", address[:KEY_CHARS])


class LoginLimiter:
    """Failed sign-in counts per account and address (module contract)."""

    def __init__(self, clock: WallClock, *, window: timedelta = WINDOW,
                 per_account: int = PER_ACCOUNT, per_address: int = PER_ADDRESS,
                 max_keys: int = 10_000) -> None:
        self.clock = clock
        self.window = window
        self.per_account = per_account
        self.per_address = per_address
        self.max_keys = max_keys
        self._failures: OrderedDict[tuple[str, str], deque[datetime]] = OrderedDict()
        self._lock = threading.Lock()

    def _recent(self, key: tuple[str, str], now: datetime) -> deque[datetime]:
        times = self._failures.get(key)
        if times is None:
            return deque()
        while times and times[0] <= now - self.window:
            times.popleft()
        if not times:
            del self._failures[key]
        return times

    def wait(self, account: str, address: str) -> float:
        """Seconds before ``account`` from ``address`` may try again (0: now)."""
        now = self.clock()
        with self._lock:
            waits = [0.0]
            by_account, by_address = _keys(account, address)
            for key, limit in ((by_account, self.per_account), (by_address, self.per_address)):
                times = self._recent(key, now)
                if len(times) >= limit:
                    waits.append((times[-limit] + self.window - now).total_seconds())
            return max(waits)

    def failed(self, account: str, address: str) -> None:
        now = self.clock()
        with self._lock:
            for key in _keys(account, address):
                self._recent(key, now)
                self._failures.setdefault(key, deque()).append(now)
                self._failures.move_to_end(key)
            while len(self._failures) > self.max_keys:
                self._failures.popitem(last=False)

    def succeeded(self, account: str) -> None:
        with self._lock:
            self._failures.pop(_keys(account, "")[0], None)


def minutes(seconds: float) -> int:
    """Whole minutes to tell a person (at least 1)."""
    return max(1, math.ceil(seconds / 60))
