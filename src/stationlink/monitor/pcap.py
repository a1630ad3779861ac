"""pcap / pcapng files of TCP traffic: reassembled per direction for the monitor, and written.

Contract:
- :func:`read_pcap_steps` reads a pcap or pcapng file with ``dpkt`` (link types Ethernet,
  Linux cooked, BSD loopback and raw IP; IPv4 and IPv6), keeps TCP segments, and reassembles
  each connection's two byte streams in sequence-number order: a segment already delivered
  (a TCP retransmission) is dropped, an overlapping one trimmed, one that arrives early held
  until the gap is filled. It yields :class:`PcapStep` s in capture order: ``open`` when a
  connection's SYN is seen, bytes as they become contiguous, ``close`` on FIN or RST. The PC
  (host) is the side that sent the SYN; for a connection whose start was not captured, the
  side whose port is one of ``terminal_ports`` is the terminal, else the lower port is.
  Times are the capture's timestamps as aware datetimes (UTC; shown in CST).
- Why ``dpkt``: a small, pure-Python, long-maintained packet parser and writer that reads
  both pcap and pcapng and builds Ethernet/IP/TCP headers with correct checksums; scapy is far
  larger and slow to import, pyshark needs tshark at run time. TCP reassembly is ours (a few
  lines, tested), as ``dpkt`` leaves it to the caller.
- A file that is not pcap/pcapng, or a truncated packet record (a capture cut short; checked
  for classic pcap, where ``dpkt`` would stop silently), raises
  :class:`~stationlink.errors.InputDataError` naming the file, the packet number and the
  byte offset; the steps before it have been yielded.
- :func:`write_pcap` writes TCP sessions (byte chunks per direction with times) as an
  Ethernet pcap with a real handshake, correct sequence/acknowledgement numbers and
  checksums: what the dissector test feeds to ``tshark``.
"""

from __future__ import annotations

import os
import socket
import struct
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import IO, Any

import dpkt  # type: ignore[import-untyped]

from ..errors import InputDataError, Problem

PCAP_MAGICS = (b"\xd4\xc3\xb2\xa1", b"\xa1\xb2\xc3\xd4", b"\x4d\x3c\xb2\xa1",
               b"\xa1\xb2\x3c\x4d", b"\x0a\x0d\x0d\x0a")
DEFAULT_TERMINAL_PORTS = frozenset({9100})
_MOD = 1 << 32


@dataclass(frozen=True, slots=True)
class PcapStep:
    """Bytes or an ``open``/``close`` event of one direction of one TCP connection."""

    connection: int
    when: datetime
    direction: str
    data: bytes = b""
    event: str = ""


def is_pcap(head: bytes) -> bool:
    return head[:4] in PCAP_MAGICS


@dataclass(slots=True)
class _Stream:
    next_seq: int | None = None
    held: dict[int, bytes] = field(default_factory=dict)
    closed: bool = False

    def push(self, seq: int, data: bytes) -> bytes:
        """Add a segment; return the bytes that became contiguous."""
        if self.next_seq is None:
            self.next_seq = seq
        ahead = (seq - self.next_seq) % _MOD
        if ahead >= _MOD // 2:  # starts before next_seq: drop what was delivered already
            behind = _MOD - ahead
            if behind >= len(data):
                return b""
            data, seq = data[behind:], self.next_seq
        elif ahead:
            if len(data) > len(self.held.get(seq, b"")):
                self.held[seq] = data
            return b""
        out = bytearray(data)
        self.next_seq = (seq + len(data)) % _MOD
        while self.held:
            progressed = False
            for s in list(self.held):
                rel = (s - self.next_seq) % _MOD
                if rel >= _MOD // 2 or rel == 0:
                    seg = self.held.pop(s)
                    skip = 0 if rel == 0 else _MOD - rel
                    if skip < len(seg):
                        out += seg[skip:]
                        self.next_seq = (self.next_seq + len(seg) - skip) % _MOD
                    progressed = True
            if not progressed:
                break
        return bytes(out)


@dataclass(slots=True)
class _Conn:
    index: int
    host: tuple[bytes, int]
    terminal: tuple[bytes, int]
    streams: dict[str, _Stream] = field(default_factory=lambda: {"h2t": _Stream(),
                                                                 "t2h": _Stream()})


def _ip_of(buf: bytes, linktype: int) -> Any:
    if linktype == dpkt.pcap.DLT_EN10MB:
        eth = dpkt.ethernet.Ethernet(buf)
        return eth.data
    if linktype == dpkt.pcap.DLT_LINUX_SLL:
        return dpkt.sll.SLL(buf).data
    if linktype in (dpkt.pcap.DLT_NULL, dpkt.pcap.DLT_LOOP):
        return dpkt.loopback.Loopback(buf).data
    if linktype in (dpkt.pcap.DLT_RAW, 12, 14, 228, 229):
        return dpkt.ip.IP(buf) if buf[:1] and buf[0] >> 4 == 4 else dpkt.ip6.IP6(buf)
    return None


def read_pcap_steps(path: str, terminal_ports: frozenset[int] = DEFAULT_TERMINAL_PORTS,
                    ) -> Iterator[PcapStep]:
    """The steps of the TCP connections in the pcap/pcapng file at ``path``."""
    with open(path, "rb") as fh, open(path, "rb") as peek:
        yield from _steps(path, fh, peek, terminal_ports)


def _read_at(fh: IO[bytes], offset: int, n: int) -> bytes:
    fh.seek(offset)
    return fh.read(n)


def _steps(path: str, fh: IO[bytes], peek: IO[bytes], terminal_ports: frozenset[int],
           ) -> Iterator[PcapStep]:
    try:
        reader = dpkt.pcap.UniversalReader(fh)
    except (ValueError, dpkt.dpkt.Error) as exc:
        raise InputDataError([Problem(path, 0, "", f"not a pcap or pcapng file: {exc}")],
                             f"{path}: not a pcap or pcapng file: {exc}") from exc
    linktype = reader.datalink()
    classic = isinstance(reader, dpkt.pcap.Reader)
    order = "<" if _read_at(peek, 0, 4) in (PCAP_MAGICS[0], PCAP_MAGICS[2]) else ">"
    consumed = 24  # classic pcap: file header, then 16 bytes + data per packet record
    size = peek.seek(0, os.SEEK_END)
    conns: dict[frozenset[tuple[bytes, int]], _Conn] = {}
    number = 0
    packets = iter(reader)
    while True:
        number += 1
        try:
            ts, buf = next(packets)
        except StopIteration:
            if classic and consumed < size:  # dpkt stops silently at a cut record
                problem = Problem(path, number, "packet",
                                  f"truncated packet record at byte {consumed} "
                                  f"({size - consumed} bytes left over)")
                raise InputDataError([problem], f"bad pcap file: {problem}") from None
            return
        except (ValueError, struct.error, dpkt.dpkt.Error) as exc:
            problem = Problem(path, number, "packet", f"unreadable packet record: {exc}")
            raise InputDataError([problem], f"bad pcap file: {problem}") from exc
        if classic:
            caplen = struct.unpack(order + "I", _read_at(peek, consumed + 8, 4))[0]
            if len(buf) < caplen:  # dpkt hands out a cut record as it is
                problem = Problem(path, number, "packet",
                                  f"truncated packet record at byte {consumed}: "
                                  f"{len(buf)} of {caplen} bytes")
                raise InputDataError([problem], f"bad pcap file: {problem}")
            consumed += 16 + len(buf)
        try:
            ip = _ip_of(buf, linktype)
        except (dpkt.dpkt.Error, struct.error, IndexError):
            continue  # not IP: not ours
        tcp = getattr(ip, "data", None)
        if not isinstance(tcp, dpkt.tcp.TCP):
            continue
        when = datetime.fromtimestamp(float(ts), UTC)
        src, dst = (bytes(ip.src), tcp.sport), (bytes(ip.dst), tcp.dport)
        key = frozenset((src, dst))
        syn, ack = bool(tcp.flags & dpkt.tcp.TH_SYN), bool(tcp.flags & dpkt.tcp.TH_ACK)
        conn = conns.get(key)
        if syn and not ack and (conn is None or conn.streams["h2t"].closed
                                or conn.host != src):
            conn = _Conn(len(conns) + 1 if conn is None else conn.index, src, dst)
            conns[key] = conn
            conn.streams["h2t"].next_seq = (tcp.seq + 1) % _MOD
            yield PcapStep(conn.index, when, "h2t", event="open")
            continue
        if conn is None:
            if dst[1] in terminal_ports or (src[1] not in terminal_ports and dst[1] < src[1]):
                conn = _Conn(len(conns) + 1, src, dst)
            else:
                conn = _Conn(len(conns) + 1, dst, src)
            conns[key] = conn
        direction = "h2t" if src == conn.host else "t2h"
        stream = conn.streams[direction]
        if syn:  # SYN-ACK of the terminal
            stream.next_seq = (tcp.seq + 1) % _MOD
            continue
        data = stream.push(tcp.seq, bytes(tcp.data)) if tcp.data else b""
        if data:
            yield PcapStep(conn.index, when, direction, data=data)
        if tcp.flags & (dpkt.tcp.TH_FIN | dpkt.tcp.TH_RST) and not stream.closed:
            stream.closed = True
            yield PcapStep(conn.index, when, direction, event="close")


# ------------------------------------------------------------------------------ writing


@dataclass(frozen=True, slots=True)
class Segment:
    """Bytes sent by one side of a session at a time (seconds since the epoch)."""

    t: float
    direction: str
    data: bytes


def _packet(src: tuple[str, int, bytes], dst: tuple[str, int, bytes], seq: int, ack: int,
            flags: int, data: bytes = b"") -> bytes:
    tcp = dpkt.tcp.TCP(sport=src[1], dport=dst[1], seq=seq % _MOD, ack=ack % _MOD,
                       flags=flags, win=65535, data=data)
    ip = dpkt.ip.IP(src=socket.inet_aton(src[0]), dst=socket.inet_aton(dst[0]),
                    p=dpkt.ip.IP_PROTO_TCP, ttl=64, data=tcp)
    ip.len = len(ip)  # header + TCP; dpkt computes both checksums when packing
    eth = dpkt.ethernet.Ethernet(src=src[2], dst=dst[2], type=dpkt.ethernet.ETH_TYPE_IP,
                                 data=ip)
    return bytes(eth)


def write_pcap(out: IO[bytes], sessions: Iterable[Iterable[Segment]], *,
               host: str = "192.168.1.10", terminal: str = "192.168.1.20",
               terminal_port: int = 9100, first_host_port: int = 50000,
               mss: int = 1460) -> int:
    """Write each session as one TCP connection (handshake, data, FIN both ways) to ``out``;
    segments larger than ``mss`` are split. Returns the number of packets written."""
    writer = dpkt.pcap.Writer(out, linktype=dpkt.pcap.DLT_EN10MB)
    hmac_, tmac = b"\x02\x00\x00\x00\x00\x0a", b"\x02\x00\x00\x00\x00\x14"
    count = 0
    for i, session in enumerate(sessions):
        segs = list(session)
        h = (host, first_host_port + i, hmac_)
        t = (terminal, terminal_port, tmac)
        hseq, tseq = 1000 + 7919 * i, 5000 + 104729 * i
        t0 = segs[0].t if segs else 0.0

        def put(ts: float, frame: bytes) -> None:
            nonlocal count
            writer.writepkt(frame, ts=ts)
            count += 1

        put(t0, _packet(h, t, hseq, 0, dpkt.tcp.TH_SYN))
        put(t0, _packet(t, h, tseq, hseq + 1, dpkt.tcp.TH_SYN | dpkt.tcp.TH_ACK))
        hseq, tseq = hseq + 1, tseq + 1
        put(t0, _packet(h, t, hseq, tseq, dpkt.tcp.TH_ACK))
        last = t0
        for seg in segs:
            last = seg.t
            for j in range(0, len(seg.data), mss):
                piece = seg.data[j:j + mss]
                flags = dpkt.tcp.TH_ACK | dpkt.tcp.TH_PUSH
                if seg.direction == "h2t":
                    put(seg.t, _packet(h, t, hseq, tseq, flags, piece))
                    hseq += len(piece)
                else:
                    put(seg.t, _packet(t, h, tseq, hseq, flags, piece))
                    tseq += len(piece)
        fin = dpkt.tcp.TH_FIN | dpkt.tcp.TH_ACK
        put(last, _packet(h, t, hseq, tseq, fin))
        put(last, _packet(t, h, tseq, hseq + 1, fin))
        put(last, _packet(h, t, hseq + 1, tseq + 1, dpkt.tcp.TH_ACK))
    return count


__all__ = ["DEFAULT_TERMINAL_PORTS", "PcapStep", "Segment", "is_pcap", "read_pcap_steps",
           "write_pcap"]
