"""State and event handling shared by the blocking and the asyncio client (no I/O here).

Contract:
- :class:`HostSide` holds what :class:`~stationlink.client.Terminal` and
  :class:`~stationlink.client.AsyncTerminal` keep about one connection: the sans-I/O
  :class:`~stationlink.protocol.HostConnection`, the flows
  (:class:`~stationlink.client._core.Operations`), answers by sequence number (with the
  request as the connection stamped it), the late frames of the last :data:`LATE_KEPT`
  sequence numbers (every frame of a seq kept, oldest seq dropped first), the last 200
  diagnostics (faults, late responses, rejected answers:
  :class:`~stationlink.client._core.AnswerRejected`, also counted in ``rejected_answers``
  and logged on ``stationlink.client``) and the error that closed the link, if any.
- The subclasses do the I/O (read, write, wait) and call :meth:`HostSide._handle`,
  :meth:`HostSide._link_lost` and the exchange steps, so both clients treat every event,
  a lost link and an unsent request the same way: once a request is written (even in
  part) it is never reported unsent; a stream failure afterwards fails it as ``CLOSED``.
  Any other exception while a request is out (a bug, a codec error that escaped) is not
  raised either: :meth:`HostSide._internal_error` logs it and closes the link
  (``link_closed``; the error is ``__cause__`` of the recorded ``LinkFailedError``), so the
  request fails as ``CLOSED`` and a money-moving call ends ``unknown`` with its client_ref.
- ``clock`` is monotonic seconds (real time: ports are read with real timeouts);
  ``host_time`` is IDENTIFY's aware clock (default: the machine's, in CST).
"""

from __future__ import annotations

import logging
import random
from collections import deque
from collections.abc import Callable
from datetime import datetime

from ..errors import LinkFailedError, StationLinkError
from ..money import CST
from ..protocol import (
    Detected,
    FailureReason,
    HostConnection,
    HostEvent,
    LateResponse,
    Message,
    RequestFailed,
    ResponseReceived,
)
from ._core import Answer, AnswerRejected, Operations
from ._results import TerminalInfo

#: For how many sequence numbers late frames are kept for the flows (the oldest goes first).
LATE_KEPT = 64
#: At most this many late frames are kept per sequence number (the first ones).
LATE_PER_SEQ = 16

log = logging.getLogger("stationlink.client")


def now_cst() -> datetime:
    """The machine's wall time in CST (the default ``host_time``)."""
    return datetime.now(CST)


def detected_info(found: Detected) -> TerminalInfo | None:
    """The TerminalInfo of a detection's IDENTIFY answer (None when it was an ErrorReply)."""
    return None if found.identify is None else TerminalInfo.of(found.identify)


class HostSide:
    """One connection's host-side state; subclasses add the stream and the driving loop."""

    def __init__(
        self,
        connection: HostConnection,
        *,
        rng: random.Random,
        clock: Callable[[], float],
        host_time: Callable[[], datetime],
        info: TerminalInfo | None,
        status_attempts: int,
        busy_wait: float,
    ) -> None:
        self.connection = connection
        self.clock = clock
        self.info = info  # from dialect detection, when it ran
        self.ops = Operations(
            rng, status_attempts=status_attempts, busy_wait=busy_wait, host_time=host_time
        )
        # faults, late responses, rejected answers
        self.diagnostics: deque[HostEvent | AnswerRejected] = deque(maxlen=200)
        self.rejected_answers = 0
        self._answers: dict[int, Answer] = {}
        self._late: dict[int, list[Message]] = {}
        self._closed_error: StationLinkError | None = None

    def _report(self, event: AnswerRejected) -> None:
        """A frame rejected as the answer to a journaled request: a protocol error."""
        self.rejected_answers += 1
        self.diagnostics.append(event)
        log.warning("answer to client_ref %s (seq %d) rejected: %s: %s", event.client_ref,
                    event.seq, event.message_type, event.reason)

    def _take_late(self, seq: int) -> tuple[Message, ...]:
        return tuple(self._late.pop(seq, ()))

    def _internal_error(self, seq: int, exc: Exception) -> None:
        """An unexpected exception while ``seq`` was out: log it and close the link, so
        the request fails as ``CLOSED`` instead of the exception escaping."""
        log.error("internal error while seq %d was out; closing the link", seq, exc_info=exc)
        lost = LinkFailedError(f"client error while a request was out: {exc!r}")
        lost.__cause__ = exc
        self._link_lost(lost)

    def _link_lost(self, exc: StationLinkError) -> None:
        """The stream failed or ended: every pending request fails as ``CLOSED``."""
        if self._closed_error is None:
            self._closed_error = exc
            self._handle(self.connection.connection_closed())

    @property
    def link_closed(self) -> bool:
        """True once the stream failed or ended (or the peer is dead): reconnect to go on."""
        return self._closed_error is not None or self.connection.dead or self.connection.broken

    def _handle(self, events: list[HostEvent]) -> None:
        for ev in events:
            if isinstance(ev, ResponseReceived):
                self._answers[ev.seq] = Answer(ev.seq, ev.response, None, request=ev.request)
            elif isinstance(ev, RequestFailed):
                self._answers[ev.seq] = Answer(ev.seq, None, ev, request=ev.request)
            else:
                if isinstance(ev, LateResponse):
                    frames = self._late.setdefault(ev.response.header.seq, [])
                    if len(frames) < LATE_PER_SEQ:
                        frames.append(ev.response)
                    while len(self._late) > LATE_KEPT:
                        del self._late[next(iter(self._late))]
                self.diagnostics.append(ev)

    # ------------------------------------------------- steps of the I/O loops

    def _read_timeout(self, until: float | None) -> float | None:
        """How long the next read may wait: until the next timer or ``until``."""
        now = self.clock()
        limits = [d for d in (self.connection.next_deadline(), until) if d is not None]
        return max(0.0, min(limits) - now) if limits else None

    def _after_read(self, data: bytes) -> None:
        """Process bytes read (maybe none), then any timer that has expired."""
        if data:
            self._handle(self.connection.receive_data(data))
        deadline = self.connection.next_deadline()
        if deadline is not None and self.clock() >= deadline:
            self._handle(self.connection.handle_timeout())

    def _begin(self, request: Message) -> int | Answer:
        """Queue ``request``: its sequence number, or an unsent ``CLOSED`` answer when the
        link is already known dead (the request never leaves)."""
        if self._closed_error is not None:
            failure = RequestFailed(-1, request, FailureReason.CLOSED,
                                    f"connection closed: {self._closed_error}")
            return Answer(-1, None, failure, sent=False)
        try:
            return self.connection.send_request(request)
        except LinkFailedError as exc:
            failure = RequestFailed(-1, request, FailureReason.CLOSED, str(exc))
            return Answer(-1, None, failure, sent=False)

    def _waiting(self, seq: int) -> bool:
        """Whether the loop should go on reading for the answer to ``seq``."""
        return seq not in self._answers and self._closed_error is None

    def _settle(self, seq: int, request: Message) -> Answer:
        """The answer to ``seq`` once the loop stopped: a ``CLOSED`` failure (still sent)
        when the connection forgot it on close."""
        answer = self._answers.pop(seq, None)
        if answer is None:  # the connection forgot it on close: failed all the same
            detail = f"connection closed: {self._closed_error}"
            answer = Answer(seq, None, RequestFailed(seq, request, FailureReason.CLOSED, detail))
        return answer
