"""Serial pacing: bytes leave no faster than a real UART at the chosen baud rate.

Contract: a :class:`Pacer` with ``baud`` > 0 lets bytes out at ``baud / 10`` bytes per
second (8N1: ten bit times a byte); ``baud`` 0 or ``None`` means unpaced. It is pure
arithmetic on the times it is given (monotonic seconds): ``allowance(now)`` says how many
bytes may be written now, ``sent(n, now)`` records a write, ``next_ready(now)`` says when
the next byte may go. Bytes go out in bursts of at most 5 ms of wire time, each burst
written only once the previous one has drained, so the average rate is exact. The runner
sleeps in ``select`` until then, so a host sees realistic timing without a busy loop.
"""

from __future__ import annotations

COMMON_BAUDS = (1200, 2400, 4800, 9600, 19200, 38400, 57600, 115200)
QUANTUM = 0.005  # seconds of wire time written in one burst


class Pacer:
    def __init__(self, baud: int | None) -> None:
        if baud is not None and baud < 0:
            raise ValueError("baud rate cannot be negative")
        self.baud = baud or 0
        self.byte_time = 10.0 / self.baud if self.baud else 0.0
        self._free_at = 0.0  # when the (virtual) UART has shifted out everything written

    @property
    def paced(self) -> bool:
        return self.baud > 0

    def allowance(self, now: float) -> int:
        """How many bytes may be written at ``now`` (large when unpaced)."""
        if not self.paced:
            return 1 << 20
        if now + 1e-9 < self._free_at:
            return 0
        # a burst of at most QUANTUM seconds of wire time, then wait until it has drained
        return max(1, int(QUANTUM / self.byte_time))

    def sent(self, count: int, now: float) -> None:
        if self.paced and count:
            self._free_at = max(self._free_at, now) + count * self.byte_time

    def next_ready(self, now: float) -> float:
        """The earliest time another byte may be written."""
        return max(now, self._free_at) if self.paced else now

    def reset(self) -> None:
        self._free_at = 0.0
