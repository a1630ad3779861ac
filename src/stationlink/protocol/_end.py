"""What both ends of a link hold (sans-I/O): dialect, transport, clock, codec, link layer.

Contract: :class:`LinkEnd` is the base of :class:`~._connection.HostConnection` (the host
role) and :class:`~._terminal.TerminalConnection` (the terminal role). It takes ``dialect``
and ``transport`` as their enums (or their values), and builds the one
:class:`~._codec.Codec` (``card_key``: the key of the card tokens) and the one
:class:`~._link.Link` (``t1``, ``max_retransmits``, ``byte_time``) the end speaks through.
No I/O; time is the injected ``clock``.
"""

from __future__ import annotations

from ..clock import MonotonicClock
from ._codec import Codec
from ._framing import Transport
from ._link import Link
from .messages import Dialect


class LinkEnd:
    """One end of a link: its dialect, transport, clock, terminal id, codec and link."""

    def __init__(
        self, dialect: Dialect, transport: Transport, *, terminal_id: str, card_key: bytes,
        clock: MonotonicClock, t1: float, max_retransmits: int, byte_time: float,
    ) -> None:
        self.dialect = Dialect(dialect)
        self.transport = Transport(transport)
        self.clock = clock
        self.terminal_id = terminal_id
        self.codec = Codec(self.dialect, card_key)
        self.link = Link(
            self.dialect, self.transport, clock,
            t1=t1, max_retransmits=max_retransmits, byte_time=byte_time,
        )
