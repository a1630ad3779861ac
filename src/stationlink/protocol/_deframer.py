"""The streaming deframer, the events it reports, and the wire constants it shares with framing.

Contract:
- :class:`Deframer` is sans-I/O: ``feed(data)`` accepts the byte stream split anywhere and
  returns events in stream order; every byte fed ends up in exactly one event (a
  :class:`FrameEvent`, a :class:`LinkByte` or a :class:`Rejected` stretch), so offsets tile
  the stream. It never raises on input bytes and buffers at most two maximal frames' worth
  of bytes (a damaged frame whose verdict waits for a candidate starting in its last bytes).
- Work is linear in the input however it is split (amortised O(1) candidate examinations a
  byte, even fed one byte at a time): each candidate's final check result is remembered by
  stream offset; the inner candidates of a damaged frame are examined by a frontier that
  only moves forward, those still incomplete wait in a heap keyed by the stream length that
  completes them, valid ones in a heap of start offsets; and while the verdict waits for
  bytes, ``feed`` only appends until the stream reaches the length that can change it. A
  candidate whose ETX is in place costs one check-value computation over its announced
  length (C speed), once.
- Serial resynchronisation: a frame is accepted only when it starts with STX, has a possible
  length, ETX at the right place and a correct check value. A start that fails is rejected
  alone (one byte) and scanning resumes at the next byte, so a valid frame after a false STX
  is never lost. A complete frame whose check value is wrong (and which hides no valid frame
  inside) is rejected whole with ``checksum_failed=True``: the receiver answers NAK.
- A false STX announcing a long length holds back the frames behind it until that many bytes
  have arrived; :meth:`Deframer.expire` (line idle, or end of input) gives up on incomplete
  candidates and recovers what follows. :meth:`Deframer.close` reports what is left.
- TCP has no start byte and no check value: a prefix that is not a possible length is skipped
  byte by byte (reported as one ``Rejected`` stretch); a host should drop a TCP connection
  that produces any ``Rejected``. So that it can at once, the stretch skipped so far is
  reported at the end of every ``feed`` (serial merges it with what the next feed skips):
  on TCP, how the stream is split only changes where contiguous stretches of the same reason
  are cut, never which bytes are skipped or which frames are found. A reader of a whole
  stream (``stationlink decode``) joins them again with :class:`StretchJoiner`.

The frame layouts themselves (diagrams, the normative ``construct`` layouts, building) are in
:mod:`stationlink.protocol._framing`, which re-exports everything defined here; this module is
the lower layer so that the two do not import each other.
"""

from __future__ import annotations

import enum
import heapq
import re
from collections import deque
from dataclasses import dataclass
from typing import Any

from ._checksums import BCD_BYTE, crc16_ccitt_false, lrc
from .messages import Dialect

STX, ETX = 0x02, 0x03
ACK, NAK, EOT = 0x06, 0x15, 0x04
MIN_BODY = 11  # the fixed body header; a shorter length is impossible
MAX_BODY = 1024


class Transport(enum.StrEnum):
    SERIAL = "serial"
    TCP = "tcp"


@dataclass(frozen=True, slots=True)
class FrameEvent:
    """A valid frame; ``offset`` is the stream offset of its first byte, ``raw`` the frame."""

    offset: int
    body: bytes
    raw: bytes


@dataclass(frozen=True, slots=True)
class LinkByte:
    """A single-byte link reply between frames (serial only): ACK, NAK or EOT."""

    offset: int
    code: int


@dataclass(frozen=True, slots=True)
class Rejected:
    """A skipped stretch. ``checksum_failed``: a complete frame with a wrong LRC/CRC (NAK it)."""

    offset: int
    length: int
    reason: str
    checksum_failed: bool = False


Event = FrameEvent | LinkByte | Rejected

_NEED_MORE, _VALID, _BAD_LENGTH, _NO_ETX, _BAD_CHECK, _HIDES_FRAME = range(6)
_SERIAL_MARKS = re.compile(b"[\\x02\\x04\\x06\\x15]")
_SKIP_REASONS = {
    _BAD_LENGTH: "STX with an impossible length",
    _NO_ETX: "STX without ETX at the announced length",
    _NEED_MORE: "STX of an incomplete frame",
    _HIDES_FRAME: "STX of a frame with a bad check value hiding a valid frame",
}


class StretchJoiner:
    """Join contiguous ``Rejected`` stretches of the same reason that separate feeds cut
    apart (TCP reports a stretch at the end of every feed): ``push`` the events of each
    feed in order, then ``end()``; the events come out as one feed of the whole stream
    reports them (a NAK-able ``checksum_failed`` stretch is never joined)."""

    def __init__(self) -> None:
        self._held: Rejected | None = None

    def push(self, events: list[Event]) -> list[Event]:
        out: list[Event] = []
        for ev in events:
            held = self._held
            if (isinstance(ev, Rejected) and not ev.checksum_failed and held is not None
                    and held.offset + held.length == ev.offset and held.reason == ev.reason):
                self._held = Rejected(held.offset, held.length + ev.length, held.reason)
                continue
            if held is not None:
                out.append(held)
                self._held = None
            if isinstance(ev, Rejected) and not ev.checksum_failed:
                self._held = ev
            else:
                out.append(ev)
        return out

    def end(self) -> list[Event]:
        held, self._held = self._held, None
        return [] if held is None else [held]


class Deframer:
    """Streaming deframer for one direction of one link (see the module docstring)."""

    def __init__(self, dialect: Dialect, transport: Transport, max_body: int = MAX_BODY) -> None:
        if not MIN_BODY <= max_body <= 9999:
            raise ValueError(f"max_body must be within {MIN_BODY}..9999")
        self.dialect = Dialect(dialect)
        self.transport = Transport(transport)
        self.max_body = max_body
        self._buf = bytearray()
        self._base = 0  # stream offset of _buf[0]
        self._gstart = -1  # stream offset of the pending skipped stretch, -1 when none
        self._glen = 0
        self._greason = ""
        # final check results by stream offset of the STX: (status, frame length); entries
        # behind the scan are purged when they outnumber the buffered bytes (amortised O(1))
        self._memo: dict[int, tuple[int, int]] = {}
        # inner candidates of damaged frames (stream offsets; see _inner_verdict)
        self._front = 0  # every STX before it (and after the current candidate) is examined
        self._valid: list[int] = []  # heap: starts of valid frames
        self._pending: set[int] = set()  # starts of candidates still incomplete
        self._pend_pos: deque[int] = deque()  # the same, ascending (lazily cleaned)
        self._pend_need: list[tuple[int, int]] = []  # heap: (stream length completing it, start)
        self._need = 0  # waiting: feed only appends until the buffer is this long
        self._bcd = self.dialect is Dialect.MISPOS_1
        serial = self.transport is Transport.SERIAL
        if serial:
            self._check_len = 1 if self._bcd else 2
            self._overhead = 4 + self._check_len
        else:
            self._check_len = 0
            self._overhead = 4 if self._bcd else 2
        self._serial = serial
        self._work = 0  # candidate examinations so far (tests count work with it)

    # -- public API ------------------------------------------------------------

    def feed(self, data: bytes) -> list[Event]:
        """Add bytes from the stream; return the events they complete, in stream order."""
        self._buf += data
        if len(self._buf) < self._need:
            return []  # the pending verdict cannot change yet
        return self._run(final=False)

    def expire(self) -> list[Event]:
        """Assume no more bytes complete a pending candidate: reject it and rescan after it.

        Call when the line has been idle for a while, or at end of input before
        :meth:`close`. Leaves the buffer empty.
        """
        return self._run(final=True)

    def close(self) -> list[Rejected]:
        """End of stream: report the skipped stretch and the incomplete bytes left over."""
        out: list[Rejected] = []
        self._flush(out)
        if self._buf:
            out.append(Rejected(self._base, len(self._buf), "incomplete frame at end of stream"))
            self._base += len(self._buf)
            self._buf.clear()
        self._memo.clear()
        self._valid.clear()
        self._pending.clear()
        self._pend_pos.clear()
        self._pend_need.clear()
        self._need = 0
        return out

    # -- scanning --------------------------------------------------------------

    def _skip(self, out: list[Any], offset: int, length: int, reason: str) -> None:
        """Add skipped bytes to the pending stretch (merged while contiguous, same reason)."""
        if self._gstart >= 0 and self._gstart + self._glen == offset and self._greason == reason:
            self._glen += length
        else:
            self._flush(out)
            self._gstart, self._glen, self._greason = offset, length, reason

    def _flush(self, out: list[Any]) -> None:
        if self._gstart >= 0:
            out.append(Rejected(self._gstart, self._glen, self._greason))
            self._gstart, self._glen = -1, 0

    def _run(self, final: bool) -> list[Event]:
        out: list[Event] = []
        self._need = 0
        if self._serial:
            pos = self._scan_serial(out, final)
        else:
            pos = self._scan_tcp(out, final)
        if final or not self._serial:  # TCP: report a rejected stretch at once
            self._flush(out)
        if pos:
            del self._buf[:pos]
            self._base += pos
            if len(self._memo) > 2 * len(self._buf) + 64:  # most are behind: amortised purge
                self._memo = {k: v for k, v in self._memo.items() if k >= self._base}
        if self._need:
            self._need -= self._base  # the scans set it as a stream length
        return out

    def _scan_serial(self, out: list[Event], final: bool) -> int:
        buf, base, n = self._buf, self._base, len(self._buf)
        pos = 0
        while pos < n:
            m = _SERIAL_MARKS.search(buf, pos)
            if m is None:
                self._skip(out, base + pos, n - pos, "garbage outside a frame")
                return n
            i = m.start()
            if i > pos:
                self._skip(out, base + pos, i - pos, "garbage outside a frame")
            b = buf[i]
            if b != STX:
                self._flush(out)
                out.append(LinkByte(base + i, b))
                pos = i + 1
                continue
            status, end = self._check_serial(i)
            if status == _BAD_CHECK:
                status = self._inner_verdict(i, end, final)
                if status == _NEED_MORE and not final:  # an inner candidate is incomplete
                    self._need = self._pend_need[0][0]
                    return i
            elif status == _NEED_MORE and not final:
                self._need = base + end
                return i
            if status == _VALID:
                self._flush(out)
                self._memo.pop(base + i, None)  # consumed: never looked up again
                raw = bytes(buf[i:end])
                out.append(FrameEvent(base + i, raw[3 : end - i - 1 - self._check_len], raw))
                pos = end
            elif status == _BAD_CHECK:
                self._flush(out)
                self._memo.pop(base + i, None)
                what = "LRC" if self._bcd else "CRC"
                out.append(Rejected(base + i, end - i, f"bad {what}", checksum_failed=True))
                pos = end
            else:
                self._skip(out, base + i, 1, _SKIP_REASONS[status])
                pos = i + 1
        return pos

    def _check_serial(self, i: int) -> tuple[int, int]:
        """Classify the candidate frame at buffer index ``i`` (memoised once final).

        Returns (status, end): the buffer index after the frame, or for ``_NEED_MORE`` the
        buffer length that can decide it.
        """
        self._work += 1
        memo = self._memo.get(self._base + i)
        if memo is not None:
            return memo[0], i + memo[1]  # memo holds the frame length, not a buffer index
        buf = self._buf
        if len(buf) < i + 3:
            return _NEED_MORE, i + 3
        if self._bcd:
            hi, lo = BCD_BYTE[buf[i + 1]], BCD_BYTE[buf[i + 2]]
            if hi < 0 or lo < 0:
                return _BAD_LENGTH, 0
            length = hi * 100 + lo
        else:
            length = (buf[i + 1] << 8) | buf[i + 2]
        if not MIN_BODY <= length <= self.max_body:
            return _BAD_LENGTH, 0
        etx = i + 3 + length
        end = etx + 1 + self._check_len
        if len(buf) < end:
            return _NEED_MORE, end
        if buf[etx] != ETX:
            result = (_NO_ETX, end)
        else:
            checked = buf[i + 1 : etx + 1]
            if self._bcd:
                good = lrc(checked) == buf[etx + 1]
            else:
                good = crc16_ccitt_false(checked) == (buf[etx + 1] << 8) | buf[etx + 2]
            result = (_VALID if good else _BAD_CHECK, end)
        self._memo[self._base + i] = (result[0], end - i)
        return result

    def _inner_verdict(self, i: int, end: int, final: bool) -> int:
        """A frame at ``i`` has a wrong check value: is it a false STX hiding a valid frame?

        ``_HIDES_FRAME`` if a valid frame starts inside; else ``_NEED_MORE`` (not final) if
        a candidate starting inside is still incomplete; else ``_BAD_CHECK``. Incremental:
        candidates are examined once by a frontier that only moves forward (the scan's
        candidates only move forward too), incomplete ones again only when the bytes that
        complete them have arrived, so the work over a whole stream is linear.
        """
        buf, base = self._buf, self._base
        start, stop = base + i, base + end
        pend_need, pending, valid = self._pend_need, self._pending, self._valid
        stream_end = base + len(buf)
        while pend_need and pend_need[0][0] <= stream_end:  # completed candidates: classify
            _, p = heapq.heappop(pend_need)
            if p not in pending:
                continue
            if p < base:
                pending.discard(p)
                continue
            status, e = self._check_serial(p - base)
            if status == _NEED_MORE:
                heapq.heappush(pend_need, (base + e, p))
                continue
            pending.discard(p)
            if status == _VALID:
                heapq.heappush(valid, p)
        while valid and valid[0] <= start:
            heapq.heappop(valid)
        if valid and valid[0] < stop:
            return _HIDES_FRAME  # the outer start is false: rescan from i + 1
        front = max(self._front, start + 1)
        while front < stop:
            j = buf.find(STX, front - base, end)
            if j < 0:
                front = stop
                break
            front = base + j + 1
            status, e = self._check_serial(j)
            if status == _VALID:
                heapq.heappush(valid, base + j)
                self._front = front
                return _HIDES_FRAME
            if status == _NEED_MORE:
                pending.add(base + j)
                self._pend_pos.append(base + j)
                heapq.heappush(pend_need, (base + e, base + j))
        self._front = front
        if final:
            return _BAD_CHECK
        pend_pos = self._pend_pos
        while pend_pos and (pend_pos[0] <= start or pend_pos[0] not in pending):
            pend_pos.popleft()
        return _NEED_MORE if pend_pos and pend_pos[0] < stop else _BAD_CHECK

    def _scan_tcp(self, out: list[Event], final: bool) -> int:
        buf, base, n = self._buf, self._base, len(self._buf)
        pos = 0
        plen = self._overhead
        while pos < n:
            self._work += 1
            if self._bcd:
                head = bytes(buf[pos : pos + plen])
                if not head.isdigit():
                    self._skip(out, base + pos, 1, "no valid length prefix")
                    pos += 1
                    continue
                length = int(head) if len(head) == plen else -1
            else:
                length = (buf[pos] << 8) | buf[pos + 1] if n - pos >= plen else -1
            if length >= 0 and not MIN_BODY <= length <= self.max_body:
                self._skip(out, base + pos, 1, "no valid length prefix")
                pos += 1
                continue
            end = pos + plen + length
            if length < 0 or end > n:
                if not final:  # a partial mispos-1 prefix may turn out not digits next byte
                    self._need = base + (n + 1 if length < 0 else end)
                    return pos
                self._skip(out, base + pos, 1, "length prefix of an incomplete frame")
                pos += 1
                continue
            self._flush(out)
            raw = bytes(buf[pos:end])
            out.append(FrameEvent(base + pos, raw[plen:], raw))
            pos = end
        return pos
