"""The replay engine (sans-I/O): plays the terminal side of a capture and checks the host.

Contract:
- ``ReplayEngine(capture)`` follows the script of :func:`~.script.build_script`. The I/O
  runner reports what the host does (``receive(data, now)``, ``opened(now)``,
  ``closed(now)``) and asks ``poll(now)`` for what to do (:class:`Write` bytes, :class:`Close`
  the connection) and ``next_deadline()`` for when to ask again.
- A terminal chunk is sent once every host token recorded before it has been received and
  matched (and, with ``speed``, not before its recorded time divided by ``speed``; ``None`` is
  as fast as possible). Host tokens are matched in order; a token may arrive while earlier
  paced sends are still waiting.
- **Matching** is at the message level. Frames must have the same dialect framing and
  message class; every field must be equal except the **volatile** fields the host chooses:
  the header sequence number, ``IdentifyRequest.host_time``, and ``client_ref`` (of bill
  payments, withdrawals, balance inquiries, reversals and status queries). Client refs must
  map one-to-one and consistently: a status query must ask for the ref the host used in the
  payment it concerns. Link bytes must be equal; anything else byte for byte.
- **Rewriting**: each terminal frame sent gets the host's sequence number in place of the
  recorded one, and the host's client refs in place of the recorded ones (journal records,
  DF18); its check value is recomputed. Damaged frames and noise go out unchanged.
- The first difference ends the replay with a :class:`~.report.Divergence` (line, chunk,
  host byte offset, expected vs actual); so do host silence for ``stall_timeout`` seconds
  while the capture expects it to send, a connection opened or closed when the capture
  does not, and host bytes after the end of the capture.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from stationlink.capture import Capture
from stationlink.errors import StationLinkError
from stationlink.protocol import (
    Codec,
    Dialect,
    Message,
    build_frame,
    build_tlvs,
    message_fields,
    parse_tlvs,
    to_json,
)

from .report import Divergence, ReplayResult
from .script import (
    Expect,
    HostClose,
    HostOpen,
    HostScanner,
    Send,
    Step,
    TermClose,
    Token,
    build_script,
)

TAG_CLIENT_REF = 0xDF18
TAG_RECORD = 0xDF50
_DECODE_KEY = b"stationlink-replay"  # requests carry no cards; any key decodes them
VOLATILE = ("client_ref", "host_time")


@dataclass(frozen=True, slots=True)
class Write:
    data: bytes


@dataclass(frozen=True, slots=True)
class Close:
    pass


Action = Write | Close


def _decode(token: Token) -> Message | None:
    assert token.dialect is not None  # noqa: S101 - frames have a dialect
    try:
        return Codec(token.dialect, _DECODE_KEY).decode(token.body)
    except StationLinkError:
        return None


def _show(token: Token | None) -> Any:
    if token is None:
        return None
    if token.kind == "frame":
        msg = _decode(token)
        if msg is not None:
            return {"dialect": str(token.dialect), **to_json(msg)}
    return {"kind": token.kind, "hex": token.raw.hex()}


class ReplayEngine:
    """See the module docstring."""

    def __init__(
        self, capture: Capture, *, speed: float | None = None, stall_timeout: float = 30.0
    ) -> None:
        if speed is not None and speed <= 0:
            raise ValueError("speed must be positive")
        self.capture = capture
        self.script = build_script(capture)
        self.dialect: Dialect = self.script.dialect
        self.speed = speed
        self.stall_timeout = stall_timeout
        self.pos = 0
        self.divergence: Divergence | None = None
        self.host_tokens = 0
        self.terminal_bytes = 0
        self.started: float | None = None
        self.ended: float | None = None
        self._matched_ahead: set[int] = set()
        self._scanner = HostScanner(self.dialect, self.script.transport)
        self._host_offset = 0
        self._connection = 0
        self._connected = self.script.transport.value == "serial"
        self._seq: dict[int, int] = {}
        self._refs: dict[str, str] = {}
        self._refs_back: dict[str, str] = {}
        self._rewritten: dict[int, bytes] = {}
        self._waiting_since = 0.0

    # ------------------------------------------------------------------ state

    @property
    def done(self) -> bool:
        return self.pos >= len(self.script.steps) and self.divergence is None

    @property
    def finished(self) -> bool:
        return self.divergence is not None or self.pos >= len(self.script.steps)

    def result(self) -> ReplayResult:
        elapsed = 0.0
        if self.started is not None:
            elapsed = (self.ended if self.ended is not None else self.started) - self.started
        return ReplayResult(
            self.capture.path, self.done, self.divergence, len(self.script.steps),
            self.pos, self.host_tokens, self.terminal_bytes, elapsed, self.capture.duration,
            self.started is not None,
        )

    def _start(self, now: float) -> None:
        if self.started is None:
            self.started = now
            self._waiting_since = now

    def _diverge(self, now: float, reason: str, step: Step | None,
                 expected: Any = None, actual: Any = None, offset: int | None = None) -> None:
        if self.divergence is not None:
            return
        line = step.chunk.line if step is not None else 0
        self.divergence = Divergence(
            reason, line, max(0, line - 1), self._host_offset if offset is None else offset,
            self._connection, expected, actual,
        )
        self.ended = now

    def _step(self) -> Step | None:
        return self.script.steps[self.pos] if self.pos < len(self.script.steps) else None

    # ------------------------------------------------------------- host input

    def opened(self, now: float) -> None:
        self._start(now)
        step = self._step()
        if self.finished:
            if self.divergence is None:
                self._diverge(now, "host opened a connection after the end of the capture", None)
            return
        if not isinstance(step, HostOpen):
            self._diverge(now, "host opened a new connection; the capture expects "
                          + _what(step), step, expected=_expected(step))
            return
        self._connection = step.connection
        self._connected = True
        self._new_stream()
        self._advance_to(self.pos + 1, now)

    def closed(self, now: float) -> None:
        self._start(now)
        for token in self._scanner.flush():  # an incomplete frame is garbage now
            if self.divergence is None:
                self._match(token, now)
        self._connected = False
        if self.finished:
            return
        step = self._step()
        if isinstance(step, HostClose):
            self._advance_to(self.pos + 1, now)
            return
        self._diverge(now, "host closed the connection; the capture expects " + _what(step),
                      step, expected=_expected(step))

    def _new_stream(self) -> None:
        self._scanner = HostScanner(self.dialect, self.script.transport)
        self._host_offset = 0
        self._seq = {}

    def receive(self, data: bytes, now: float) -> None:
        self._start(now)
        if self.divergence is not None or not data:
            return
        for token in self._scanner.feed(data):
            self._match(token, now)
            if self.divergence is not None:
                return

    def _next_expect(self) -> int | None:
        """Index of the next unmatched expectation, looking past pending terminal sends."""
        steps = self.script.steps
        i = self.pos
        while i < len(steps):
            step = steps[i]
            if isinstance(step, Expect):
                if i not in self._matched_ahead:
                    return i
            elif not isinstance(step, Send | TermClose):
                return None
            i += 1
        return None

    def _match(self, token: Token, now: float) -> None:
        self._waiting_since = now
        index = self._next_expect()
        if index is None:
            step = self._step()
            where = ("after the end of the capture" if step is None
                     else "; the capture expects " + _what(step))
            self._diverge(now, f"host sent a {token.kind} {where}".replace(" ;", ";"), step,
                          actual=_show(token), offset=token.offset)
            return
        step = self.script.steps[index]
        assert isinstance(step, Expect)  # noqa: S101 - _next_expect returns expectations
        problem = self._compare(step.token, token)
        if problem is not None:
            self._diverge(now, problem, step, _show(step.token), _show(token), token.offset)
            return
        self.host_tokens += 1
        self._host_offset = token.end
        if index == self.pos:
            self._advance_to(self.pos + 1, now)
        else:
            self._matched_ahead.add(index)

    def _advance_to(self, pos: int, now: float) -> None:
        self.pos = pos
        while self.pos in self._matched_ahead:
            self._matched_ahead.discard(self.pos)
            self.pos += 1
        if self.pos >= len(self.script.steps) and self.ended is None:
            self.ended = now

    # -------------------------------------------------------------- comparing

    def _compare(self, expected: Token, actual: Token) -> str | None:
        if expected.kind != actual.kind:
            return f"expected a {expected.kind}, the host sent a {actual.kind}"
        if expected.kind != "frame":
            return None if expected.raw == actual.raw else f"{expected.kind} bytes differ"
        if expected.dialect is not actual.dialect:
            return (f"expected a frame in {expected.dialect} framing, the host used "
                    f"{actual.dialect}")
        want, got = _decode(expected), _decode(actual)
        if want is None or got is None:
            if expected.body[:1] + expected.body[3:] == actual.body[:1] + actual.body[3:]:
                return None
            return "undecodable frame bodies differ"
        if type(want) is not type(got):
            return f"expected {type(want).__name__}, the host sent {type(got).__name__}"
        return self._compare_fields(want, got)

    def _compare_fields(self, want: Message, got: Message) -> str | None:
        name = type(want).__name__
        if want.header.terminal_id != got.header.terminal_id:
            return f"{name} header terminal_id differs"
        for f in message_fields(type(want)):
            if f.name == "header":
                continue
            a, b = getattr(want, f.name), getattr(got, f.name)
            if f.name == "host_time":
                continue
            if f.name == "client_ref":
                problem = self._map_ref(a, b)
                if problem is not None:
                    return f"{name} field client_ref: {problem}"
                continue
            if a != b:
                return f"{name} field {f.name} differs"
        self._seq[want.header.seq] = got.header.seq
        return None

    def _map_ref(self, recorded: str, actual: str) -> str | None:
        if not recorded and not actual:
            return None
        known = self._refs.get(recorded)
        if known is not None:
            if known != actual:
                return (f"the capture's ref {recorded!r} was {known!r} before in this replay, "
                        f"now {actual!r}")
            return None
        owner = self._refs_back.get(actual)
        if owner is not None:
            return f"{actual!r} already stands for the capture's ref {owner!r}"
        if not recorded or not actual:
            return "one side is empty"
        self._refs[recorded] = actual
        self._refs_back[actual] = recorded
        return None

    # ----------------------------------------------------------------- output

    def _due(self, step: Step | None) -> float | None:
        """When a paced terminal step may run (None: now, or not a terminal step)."""
        if isinstance(step, Send | TermClose) and self.speed is not None and self.started:
            return self.started + step.chunk.t / self.speed
        return None

    def next_deadline(self) -> float | None:
        if self.finished:
            return None
        step = self._step()
        if isinstance(step, Send | TermClose):
            return self._due(step)
        return self._waiting_since + self.stall_timeout if self.started is not None else None

    def poll(self, now: float) -> list[Action]:
        """Actions due at ``now`` (and stall detection)."""
        out: list[Action] = []
        while not self.finished:
            step = self._step()
            if not isinstance(step, Send | TermClose):
                break
            if not self._connected:
                break  # the host is not connected: the sends wait for it
            due = self._due(step)
            if due is not None and now < due:
                break
            self._start(now)
            if isinstance(step, Send):
                data = self._render(step)
                self.terminal_bytes += len(data)
                out.append(Write(data))
            else:
                out.append(Close())
                self._connected = False
            self._waiting_since = now
            self._advance_to(self.pos + 1, now)
        step = self._step()
        if (not self.finished and self.started is not None
                and not isinstance(step, Send | TermClose)
                and now - self._waiting_since >= self.stall_timeout):
            self._diverge(now, f"host silent for {self.stall_timeout:g} s; the capture "
                          f"expects {_what(step)}", step, expected=_expected(step))
        return out

    def _render(self, step: Send) -> bytes:
        parts: list[bytes] = []
        for unit_index, lo, hi in step.segments:
            data = self._rewritten.get(unit_index)
            if data is None:
                data = self._rewrite(unit_index)
                self._rewritten[unit_index] = data
            unit = self.script.units[unit_index]
            last = hi >= len(unit.raw)
            parts.append(data[lo:] if last else data[lo:hi])
        return b"".join(parts)

    def _rewrite(self, unit_index: int) -> bytes:
        unit = self.script.units[unit_index]
        body = unit.body
        if body is None:
            return unit.raw
        seq = int.from_bytes(body[1:3], "big")
        new_seq = self._seq.get(seq, seq)
        try:
            items = parse_tlvs(body[11:])
        except StationLinkError:
            items = None
        fields = body[11:]
        if items is not None and self._refs:
            changed = False
            out = []
            for tag, value in items:
                if tag == TAG_RECORD:
                    new_value = self._rewrite_record(value)
                    changed |= new_value != value
                    value = new_value
                elif tag == TAG_CLIENT_REF:
                    new_value = self._ref_bytes(value)
                    changed |= new_value != value
                    value = new_value
                out.append((tag, value))
            if changed:
                fields = build_tlvs(out)
        new_body = body[:1] + new_seq.to_bytes(2, "big") + body[3:11] + fields
        if new_body == body:
            return unit.raw
        return build_frame(new_body, self.dialect, self.script.transport)

    def _rewrite_record(self, value: bytes) -> bytes:
        try:
            items = parse_tlvs(value, 0)
        except StationLinkError:
            return value
        out = [(t, self._ref_bytes(v) if t == TAG_CLIENT_REF else v) for t, v in items]
        return build_tlvs(out) if out != items else value

    def _ref_bytes(self, value: bytes) -> bytes:
        try:
            text = value.decode("ascii")
        except UnicodeDecodeError:
            return value
        mapped = self._refs.get(text)
        return value if mapped is None else mapped.encode("ascii")


def _what(step: Step | None) -> str:
    if step is None:
        return "nothing more"
    if isinstance(step, Expect):
        shown = _show(step.token)
        name = shown.get("message") if isinstance(shown, dict) else None
        return f"a {name or step.token.kind} from the host"
    if isinstance(step, HostOpen):
        return "the host to open a connection"
    if isinstance(step, HostClose):
        return "the host to close the connection"
    return "the terminal to send"


def _expected(step: Step | None) -> Any:
    return _show(step.token) if isinstance(step, Expect) else None


__all__ = ["Action", "Close", "ReplayEngine", "Write"]
