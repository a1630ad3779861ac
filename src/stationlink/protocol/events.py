"""Events that :mod:`stationlink.protocol._connection` returns to its caller.

Contract: every event is a frozen dataclass; nothing here does I/O. Host-role events:
:class:`ResponseReceived`, :class:`RequestFailed`, :class:`LateResponse`, :class:`PeerDead`.
Terminal-role events: :class:`RequestReceived`, :class:`DuplicateRequest`,
:class:`RequestRejected`, :class:`ResponseDelivered`, :class:`ResponseFailed`. Both roles:
:class:`LinkFault` (a skipped stretch of bytes) and :class:`UnexpectedMessage`.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass

from .messages import ErrorCode, Message


class FailureReason(enum.StrEnum):
    """Why a request got no usable answer."""

    LINK = "link"  # serial: not ACKed after the retransmissions
    TIMEOUT = "timeout"  # T2 expired without a response
    BAD_RESPONSE = "bad_response"  # a frame with this seq arrived but did not decode
    PEER_DEAD = "peer_dead"  # TCP heartbeats went unanswered
    CLOSED = "closed"  # the byte stream ended


@dataclass(frozen=True, slots=True)
class ResponseReceived:
    """The answer to ``request`` (same seq; the matching response type or an ErrorReply)."""

    seq: int
    request: Message
    response: Message


@dataclass(frozen=True, slots=True)
class RequestFailed:
    """``request`` got no usable answer. For a money-moving request the outcome on the
    terminal is *unknown*: it may or may not have executed. Ask, never resend."""

    seq: int
    request: Message
    reason: FailureReason
    detail: str


@dataclass(frozen=True, slots=True)
class LateResponse:
    """A response whose seq matches no outstanding request. ``why``: ``expired`` (its
    request already failed), ``duplicate`` (already answered), or ``unknown``."""

    response: Message
    why: str


@dataclass(frozen=True, slots=True)
class PeerDead:
    """TCP: ``missed`` heartbeats in a row went unanswered. All pending requests failed."""

    missed: int


@dataclass(frozen=True, slots=True)
class LinkFault:
    """A stretch of received bytes that was not a good frame (garbage, bad checksum,
    impossible length); ``nak_sent`` on serial when it was answered by NAK."""

    offset: int
    length: int
    reason: str
    nak_sent: bool = False


@dataclass(frozen=True, slots=True)
class UndecodableMessage:
    """Host role: a good frame whose body did not decode and matched no pending request."""

    offset: int
    seq: int | None
    reason: str


@dataclass(frozen=True, slots=True)
class UnexpectedMessage:
    """A message this role does not expect here (e.g. a request arriving at the host, a
    response of the wrong type for a pending seq)."""

    message: Message
    reason: str


@dataclass(frozen=True, slots=True)
class RequestReceived:
    """Terminal role: a new request to execute and answer with ``send_response``."""

    message: Message


@dataclass(frozen=True, slots=True)
class DuplicateRequest:
    """Terminal role: a request already received (same seq and body) came again; it is not
    passed up again. ``replayed``: the stored response was queued once more."""

    seq: int
    msg_type: int
    replayed: bool


@dataclass(frozen=True, slots=True)
class RequestRejected:
    """Terminal role: a request that could not be handled; an ErrorReply with ``code`` was
    queued automatically when ``seq`` is known (``replied``)."""

    offset: int
    seq: int | None
    msg_type: int | None
    code: ErrorCode
    reason: str
    replied: bool


@dataclass(frozen=True, slots=True)
class ResponseDelivered:
    """Terminal role, serial: the host ACKed the response to ``seq``."""

    seq: int


@dataclass(frozen=True, slots=True)
class ResponseFailed:
    """Terminal role, serial: the response to ``seq`` was never ACKed (or the link closed)."""

    seq: int
    reason: str


HostEvent = (
    ResponseReceived
    | RequestFailed
    | LateResponse
    | PeerDead
    | LinkFault
    | UndecodableMessage
    | UnexpectedMessage
)
TerminalEvent = (
    RequestReceived
    | DuplicateRequest
    | RequestRejected
    | ResponseDelivered
    | ResponseFailed
    | LinkFault
    | UnexpectedMessage
)
Event = HostEvent | TerminalEvent
