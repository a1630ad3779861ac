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

How it runs: the probe loop (what to send, when to reconnect, which stream failure ends a
probe and which ends detection) is written once, as a generator of I/O steps; the blocking
and the asyncio driver only do each step and hand back what it gave.
"""

from __future__ import annotations

from collections.abc import Generator
from dataclasses import dataclass
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
    stream: ByteStream | AsyncByteStream, card_key: bytes, clock: MonotonicClock,
    host_time: WallClock, kwargs: dict[str, Any],
) -> DialectDetector:
    reconnect = (isinstance(stream, Reconnectable | AsyncReconnectable)
                 and stream.can_reconnect and stream.kind is Transport.TCP)
    return DialectDetector(stream.kind, card_key=card_key, clock=clock, host_time=host_time,
                           reconnect=reconnect, **kwargs)


Found = tuple[Detected, list[HostEvent]]


@dataclass(frozen=True, slots=True)
class _Read:
    timeout: float | None


@dataclass(frozen=True, slots=True)
class _Write:
    data: bytes


class _Reconnect:
    """Close the stream and connect it again (a reconnectable TCP stream only)."""


_Step = _Read | _Write | _Reconnect
#: What a step gave back: the bytes read, nothing, or the ``TransportError`` it raised.
_Got = bytes | TransportError | None
_Loop = Generator[_Step, bytes | None, Found]


def _loop(detector: DialectDetector, clock: MonotonicClock) -> _Loop:
    """The detection loop without I/O, written once for both drivers: it yields the step to
    do and is sent what the step gave (the bytes read, or None); a step's ``TransportError``
    is thrown into it at the ``yield``."""
    while True:
        data = detector.data_to_send()
        if data:
            try:
                yield _Write(data)
            except TransportError:
                if not detector.reconnect:
                    raise
                detector.connection_closed()  # the terminal hung up on an earlier probe
        if detector.error is not None:
            raise detector.error
        if detector.result is not None:
            return detector.result, detector.leftover_events
        if detector.needs_connection:
            yield _Reconnect()
            detector.connection_made()
            continue
        deadline = detector.next_deadline()
        try:
            chunk = yield _Read(None if deadline is None else max(0.0, deadline - clock()))
        except StreamClosedError:
            detector.connection_closed()
            continue
        if chunk:
            detector.receive_data(chunk)
        deadline = detector.next_deadline()
        if not detector.done and deadline is not None and clock() >= deadline:
            detector.handle_timeout()


def _resume(loop: _Loop, got: _Got) -> _Step | Found:
    """The loop's next step, or its result, after a step gave ``got``."""
    try:
        if isinstance(got, TransportError):
            return loop.throw(got)
        return loop.send(got)
    except StopIteration as done:
        return done.value  # type: ignore[no-any-return]


def _do(stream: ByteStream, step: _Step) -> _Got:
    try:
        if isinstance(step, _Read):
            return stream.read(step.timeout)
        if isinstance(step, _Write):
            stream.write(step.data)
        else:
            assert isinstance(stream, Reconnectable)  # noqa: S101 - reconnect implies it
            stream.reconnect()
    except TransportError as exc:
        return exc
    return None


async def _do_async(stream: AsyncByteStream, step: _Step) -> _Got:
    try:
        if isinstance(step, _Read):
            return await stream.read(step.timeout)
        if isinstance(step, _Write):
            await stream.write(step.data)
        else:
            assert isinstance(stream, AsyncReconnectable)  # noqa: S101 - reconnect implies it
            await stream.reconnect()
    except TransportError as exc:
        return exc
    return None


def detect(
    stream: ByteStream, *, card_key: bytes, clock: MonotonicClock,
    host_time: WallClock, **detector_kwargs: Any,
) -> Found:
    """Detect the dialect of the terminal on ``stream`` (see the module docstring).

    ``detector_kwargs`` go to ``DialectDetector`` (``first_seq``, ``t1``, ``byte_time``, ...).
    """
    loop = _loop(_detector(stream, card_key, clock, host_time, detector_kwargs), clock)
    step = _resume(loop, None)
    while not isinstance(step, tuple):
        step = _resume(loop, _do(stream, step))
    return step


async def detect_async(
    stream: AsyncByteStream, *, card_key: bytes, clock: MonotonicClock,
    host_time: WallClock, **detector_kwargs: Any,
) -> Found:
    """The asyncio form of :func:`detect`."""
    loop = _loop(_detector(stream, card_key, clock, host_time, detector_kwargs), clock)
    step = _resume(loop, None)
    while not isinstance(step, tuple):
        step = _resume(loop, await _do_async(stream, step))
    return step


__all__ = ["detect", "detect_async"]
