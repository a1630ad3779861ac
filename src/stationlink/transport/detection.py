"""Drive dialect detection over a byte stream, with a fresh TCP connection per probe.

Contract:
- :func:`detect` (blocking) and :func:`detect_async` run a
  :class:`~stationlink.protocol.DialectDetector` over an open stream and return
  ``(Detected, leftover_events)``; the winning ``Detected.connection`` belongs to the stream
  as it is when they return (the same object, possibly reconnected). Detection failures are
  raised as the detector's error (``LinkFailedError``, ``ProtocolError``); a stream that
  cannot be opened again raises ``TransportError``.
- TCP streams that can reconnect (:class:`~stationlink.transport.base.Reconnectable`, e.g.
  from :func:`~stationlink.transport.open_stream`) send every probe on a fresh connection
  (docs/protocol.md §2.5): after an abandoned probe the stream is closed and connected
  again before the next probe, so a terminal of the other dialect never sees two probes in
  one byte stream. A terminal closing the connection on a probe it cannot frame abandons
  that probe at once. Serial links, and TCP streams that cannot reconnect, probe on the one
  stream (a stream that ends then ends detection with ``LinkFailedError``).
- ``clock`` must be real monotonic time: the stream is read with real timeouts.
"""

from __future__ import annotations

from typing import Any

from ..clock import MonotonicClock, WallClock
from ..errors import StreamClosedError, TransportError
from ..protocol import Detected, DialectDetector, HostEvent, Transport
from .base import (
    AsyncByteStream,
    AsyncReconnectable,
    ByteStream,
    Reconnectable,
)


def _detector(
    kind: Transport, reconnect: bool, card_key: bytes, clock: MonotonicClock,
    host_time: WallClock, kwargs: dict[str, Any],
) -> DialectDetector:
    return DialectDetector(
        kind, card_key=card_key, clock=clock, host_time=host_time,
        reconnect=reconnect and kind is Transport.TCP, **kwargs,
    )


def _reconnectable(stream: object) -> bool:
    if isinstance(stream, Reconnectable | AsyncReconnectable):
        return stream.can_reconnect
    return False


def _finished(detector: DialectDetector) -> tuple[Detected, list[HostEvent]] | None:
    if detector.error is not None:
        raise detector.error
    if detector.result is not None:
        return detector.result, detector.leftover_events
    return None


def _timeout(detector: DialectDetector, clock: MonotonicClock) -> float | None:
    deadline = detector.next_deadline()
    return None if deadline is None else max(0.0, deadline - clock())


def _expire(detector: DialectDetector, clock: MonotonicClock) -> None:
    deadline = detector.next_deadline()
    if not detector.done and deadline is not None and clock() >= deadline:
        detector.handle_timeout()


def detect(
    stream: ByteStream, *, card_key: bytes, clock: MonotonicClock,
    host_time: WallClock, **detector_kwargs: Any,
) -> tuple[Detected, list[HostEvent]]:
    """Detect the dialect of the terminal on ``stream`` (see the module docstring).

    ``detector_kwargs`` go to ``DialectDetector`` (``first_seq``, ``t1``, ``byte_time``, ...).
    """
    detector = _detector(stream.kind, _reconnectable(stream), card_key, clock,
                         host_time, detector_kwargs)
    while True:
        data = detector.data_to_send()
        if data:
            try:
                stream.write(data)
            except TransportError:
                if not detector.reconnect:
                    raise
                detector.connection_closed()  # the terminal hung up on an earlier probe
        done = _finished(detector)
        if done is not None:
            return done
        if detector.needs_connection:
            assert isinstance(stream, Reconnectable)  # noqa: S101 - reconnect implies it
            stream.reconnect()
            detector.connection_made()
            continue
        try:
            chunk = stream.read(_timeout(detector, clock))
        except StreamClosedError:
            detector.connection_closed()
            continue
        if chunk:
            detector.receive_data(chunk)
        _expire(detector, clock)


async def detect_async(
    stream: AsyncByteStream, *, card_key: bytes, clock: MonotonicClock,
    host_time: WallClock, **detector_kwargs: Any,
) -> tuple[Detected, list[HostEvent]]:
    """The asyncio form of :func:`detect`."""
    detector = _detector(stream.kind, _reconnectable(stream), card_key, clock,
                         host_time, detector_kwargs)
    while True:
        data = detector.data_to_send()
        if data:
            try:
                await stream.write(data)
            except TransportError:
                if not detector.reconnect:
                    raise
                detector.connection_closed()
        done = _finished(detector)
        if done is not None:
            return done
        if detector.needs_connection:
            assert isinstance(stream, AsyncReconnectable)  # noqa: S101 - reconnect implies it
            await stream.reconnect()
            detector.connection_made()
            continue
        try:
            chunk = await stream.read(_timeout(detector, clock))
        except StreamClosedError:
            detector.connection_closed()
            continue
        if chunk:
            detector.receive_data(chunk)
        _expire(detector, clock)


__all__ = ["detect", "detect_async"]
