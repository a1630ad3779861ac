"""The one exception tree of stationlink.

Every error that stationlink raises on purpose derives from
:class:`StationLinkError`. Errors from libraries underneath (``OSError``,
``serial.SerialException``, ``construct.ConstructError``, ``sqlite3.Error``,
``httpx.HTTPError``) are wrapped with ``raise ... from exc`` at the boundary
where they occur, so callers need to catch only this tree. No function
logs an error and returns ``None`` instead of raising.

Each class carries an ``exit_code``: the CLI turns a library error into a
``click.ClickException`` with that code, so scripts can rely on it
(``docs/cli.md`` lists them)::

    StationLinkError (1)
    ├── ConfigError (2)                 bad configuration file or option value
    │   └── OperatorError               a console operator unknown, already there, or refused
    │       └── RefusedAction           an operator's action refused, with a message id to translate
    ├── InputDataError (3)              bad rows in an input file (file, line, column)
    ├── PolicyError (4)                 a reward policy file that does not load
    ├── ProtocolError (5)               bytes that do not form a valid message
    │   ├── FrameError                  bad framing: length, checksum, terminator
    │   ├── DecodeError                 a frame whose body does not decode
    │   ├── EncodeError                 a message value its dialect's wire cannot carry
    │   └── UnsupportedMessageError     a message type this side does not handle
    │       └── UnknownMessageTypeError a body whose type code is not in the catalogue
    ├── LinkError (6)                   the link to a terminal does not work
    │   ├── TransportError              the port or socket failed (wraps OSError, SerialException)
    │   │   └── StreamClosedError       the peer closed the connection, the port went away
    │   ├── LinkTimeoutError            no answer within the timer
    │   └── LinkFailedError             retransmissions exhausted, peer gone
    ├── TerminalError (7)               the terminal answered with an error reply
    ├── StorageError (8)                the local buffer or hub store failed (wraps sqlite3.Error)
    │   └── RefusedRecordError          a record the buffer's rules refuse
    ├── HubError (9)                    talking to the hub failed
    │   ├── HubUnavailableError         network error or 429/502/503/504: retry later
    │   └── HubRejectedError            any other rejection: do not retry, quarantine
    │       └── HubGapError             the hub wants an earlier seq (``expected_seq``)
    ├── SequenceGapError (9)            the hub's store: a batch starts after the next seq
    ├── SequenceConflictError (9)       the hub's store: a replayed seq holds another record
    ├── MalformedBatchError (9)         a hub request body that does not validate (JSON path)
    │   └── MalformedJsonError          a hub request body that is not acceptable JSON
    └── SimulatorError (10)             the simulator could not do what was asked

Every class is defined here (``tests/meta/test_meta_errors.py`` checks it).
``RefusedRecordError`` is also importable from :mod:`stationlink.buffer.records`, and
``MalformedBatchError`` / ``MalformedJsonError`` from :mod:`stationlink.hub.wire`, where they
were first defined.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Protocol


class _Header(Protocol):
    """What an error keeps of a message header (``stationlink.protocol.Header`` is one);
    structural, so errors.py imports nothing of stationlink (not even for type checking)."""

    @property
    def msg_type(self) -> int: ...

    @property
    def seq(self) -> int: ...

    @property
    def terminal_id(self) -> str: ...


class StationLinkError(Exception):
    """Root of every error stationlink raises on purpose."""

    exit_code: int = 1


class ConfigError(StationLinkError):
    """A configuration file or option value is wrong."""

    exit_code = 2


class OperatorError(ConfigError):
    """A console operator that does not exist or already does, a role or password refused."""


class RefusedAction(OperatorError):
    """An operator's action refused, its text a message id: ``str()`` is the English text
    with ``values`` put in (logs, CLI); the console shows ``_(msgid) % values`` in the page's
    language (:mod:`stationlink.hub.console.refused`)."""

    def __init__(self, msgid: str, **values: object) -> None:
        self.msgid = msgid
        self.values = values
        super().__init__(msgid % values)


@dataclass(frozen=True)
class Problem:
    """One bad spot in an input file: where it is and what is wrong."""

    file: str
    line: int
    column: str
    reason: str

    def __str__(self) -> str:
        col = f", column {self.column}" if self.column else ""
        return f"{self.file}: line {self.line}{col}: {self.reason}"


class InputDataError(StationLinkError):
    """One or more rows of an input file are bad. ``problems`` lists every one."""

    exit_code = 3

    def __init__(self, problems: Sequence[Problem], message: str | None = None) -> None:
        self.problems: tuple[Problem, ...] = tuple(problems)
        if message is None:
            head = f"{len(self.problems)} bad row(s)"
            message = head + ":\n" + "\n".join(f"  {p}" for p in self.problems)
        super().__init__(message)


class PolicyError(StationLinkError):
    """A reward policy file does not load: names the key and the reason."""

    exit_code = 4


class ProtocolError(StationLinkError):
    """Bytes that do not form a valid message."""

    exit_code = 5


class FrameError(ProtocolError):
    """Bad framing: impossible length, bad checksum, missing terminator."""


class DecodeError(ProtocolError):
    """A well-framed body whose header or fields do not decode."""


class EncodeError(ProtocolError):
    """A message holds a value its dialect's wire format cannot carry."""


class UnsupportedMessageError(ProtocolError):
    """A message type this side does not handle."""


class UnknownMessageTypeError(UnsupportedMessageError):
    """A body whose type code is not in the catalogue.

    ``header.msg_type`` holds the raw type code (an ``int`` when it is not a ``MsgType``),
    so the link can answer with an ``ErrorReply(UNSUPPORTED, for_type=...)`` to that sequence.
    """

    def __init__(self, message: str, header: _Header) -> None:
        super().__init__(message)
        self.header = header
        self.raw_type = int(header.msg_type)


class LinkError(StationLinkError):
    """The link to a terminal does not work."""

    exit_code = 6


class TransportError(LinkError):
    """The serial port or socket failed (wraps OSError / SerialException)."""


class StreamClosedError(TransportError):
    """The peer closed the connection or the port went away."""


class LinkTimeoutError(LinkError):
    """No answer arrived within the timer."""


class LinkFailedError(LinkError):
    """Retransmissions were exhausted or the peer stopped answering heartbeats."""


class TerminalError(StationLinkError):
    """The terminal answered with an error or unsupported reply."""

    exit_code = 7

    def __init__(self, message: str, code: int = 0) -> None:
        super().__init__(message)
        self.code = code


class StorageError(StationLinkError):
    """The local buffer or the hub's store failed (wraps sqlite3.Error)."""

    exit_code = 8


class RefusedRecordError(StorageError):
    """A record the buffer will not store (full card number, naive time, bad field)."""


class HubError(StationLinkError):
    """Talking to the hub failed."""

    exit_code = 9


class HubUnavailableError(HubError):
    """Network error, or 429/502/503/504: worth retrying later."""

    def __init__(self, message: str, retry_after: float | None = None) -> None:
        super().__init__(message)
        self.retry_after = retry_after


class HubRejectedError(HubError):
    """The hub rejected a request for good: never retry, quarantine it."""

    def __init__(self, message: str, status: int = 0) -> None:
        super().__init__(message)
        self.status = status


class HubGapError(HubRejectedError):
    """The hub wants an earlier seq than the batch starts at (its store lost records?)."""

    def __init__(self, message: str, expected_seq: int) -> None:
        super().__init__(message, 409)
        self.expected_seq = expected_seq


class SequenceGapError(StationLinkError):
    """A batch starts after the station's next expected seq."""

    exit_code = 9

    def __init__(self, station_id: str, first_seq: int, expected: int) -> None:
        super().__init__(
            f"station {station_id}: batch starts at seq {first_seq}, expected {expected} "
            f"(the hub holds seqs 1..{expected - 1})"
        )
        self.expected = expected


class SequenceConflictError(StationLinkError):
    """A replayed seq does not carry the record the hub holds at that seq."""

    exit_code = 9

    def __init__(self, station_id: str, seq: int, fields: Sequence[str]) -> None:
        super().__init__(
            f"station {station_id}: seq {seq} already holds another record than the batch "
            f"sends (differing: {', '.join(fields)}); nothing of the batch was stored"
        )
        self.seq = seq
        self.fields = tuple(fields)  # record columns, never their values (card fields)


class MalformedBatchError(StationLinkError):
    """A batch or status document that does not validate: ``path`` names the bad spot."""

    exit_code = 9

    def __init__(self, path: str, reason: str) -> None:
        super().__init__(f"{path}: {reason}")
        self.path = path
        self.reason = reason


class MalformedJsonError(MalformedBatchError):
    """A body that is not UTF-8 JSON text at all (``path`` is ``$``): the app answers 400."""


class SimulatorError(StationLinkError):
    """The simulator could not do what was asked."""

    exit_code = 10


__all__ = [
    "ConfigError",
    "DecodeError",
    "EncodeError",
    "FrameError",
    "HubError",
    "HubGapError",
    "HubRejectedError",
    "HubUnavailableError",
    "InputDataError",
    "LinkError",
    "LinkFailedError",
    "LinkTimeoutError",
    "MalformedBatchError",
    "MalformedJsonError",
    "OperatorError",
    "PolicyError",
    "Problem",
    "ProtocolError",
    "RefusedRecordError",
    "SequenceConflictError",
    "SequenceGapError",
    "SimulatorError",
    "StationLinkError",
    "StorageError",
    "StreamClosedError",
    "TerminalError",
    "TransportError",
    "UnknownMessageTypeError",
    "UnsupportedMessageError",
]
