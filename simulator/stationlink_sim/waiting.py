"""Readiness checks: wait for a condition with a bounded deadline, never a fixed sleep.

Contract: :func:`wait_until` calls ``check`` until it returns something truthy and returns
that; it polls every ``interval`` seconds on the real monotonic clock and, after ``timeout``
seconds, raises :class:`~stationlink.errors.SimulatorError` saying what was awaited (and the
error ``error()`` reports, when given: e.g. a runner thread that died, so a test fails at
once with the cause instead of waiting out the deadline). Tests, fixtures and the pytest
plugin wait for a terminal, a process or a file with it instead of ``time.sleep(n)``.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import TypeVar

from stationlink.errors import SimulatorError

T = TypeVar("T")


def wait_until(
    check: Callable[[], T],
    timeout: float,
    what: str,
    *,
    interval: float = 0.01,
    error: Callable[[], BaseException | None] | None = None,
) -> T:
    """Return ``check()`` once truthy; :class:`SimulatorError` after ``timeout`` seconds."""
    deadline = time.monotonic() + timeout
    while True:
        value = check()
        if value:
            return value
        failed = error() if error is not None else None
        if failed is not None:
            raise SimulatorError(f"gave up waiting for {what}: {failed}") from failed
        if time.monotonic() >= deadline:
            raise SimulatorError(f"waited {timeout:g} s for {what}, in vain")
        time.sleep(interval)
