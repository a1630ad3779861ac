"""Dialect detection over real TCP sockets against emulated mispos-1 terminals: a fresh
connection per probe, so no time of day (BCD digits in the sl-2 probe) loses the mispos-1
probe, against terminals that slide over garbage and terminals that close on it."""

from __future__ import annotations

import asyncio
import socket
import time
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime, timedelta, timezone

import pytest

from stationlink.errors import LinkFailedError
from stationlink.protocol import Dialect
from stationlink.transport import detect, detect_async, open_stream, parse_url
from stationlink.transport.aio import open_async_stream
from stationlink.transport.tcp import TcpStream
from stationlink_sim.serve import DEFAULT_CARD_KEY, serve_terminal

CST = timezone(timedelta(hours=8))
PROBE = 0.5  # probe timeout: the sl-2 probe is abandoned after this long
# (minute, second, first seq) of sl-2 probes whose bytes read as a mispos-1 length on one
# stream: second 31 ("1" + the next prefix's "002" = 1002), 30:31 ("0100"), 31:30 ("1000"),
# a seq whose low byte is "1" ("1" + the terminal id's "000" = 1000); and a plain one
PROBES = [(12, 31, 1), (30, 31, 2), (31, 30, 3), (7, 0, 0x31), (7, 0, 5)]


def at(minute: int, second: int) -> datetime:
    return datetime(2026, 5, 31, 10, minute, second, tzinfo=CST)


@contextmanager
def one_stream(url: str) -> Iterator[TcpStream]:
    """A TCP stream to ``url`` made from a bare socket, without its endpoint: it cannot
    reconnect, so every probe goes over this one connection."""
    endpoint = parse_url(url)
    sock = socket.create_connection((endpoint.host, endpoint.port), timeout=5)
    stream = TcpStream(sock, url)
    try:
        yield stream
    finally:
        stream.close()


@pytest.mark.slow
@pytest.mark.parametrize(("strict", "tid"), [(False, "CARD0001"), (True, "MP000042")],
                         ids=["slides-over-garbage", "closes"])
def test_repeated_connects_to_a_mispos1_terminal_detect_it(strict: bool, tid: str) -> None:
    with serve_terminal("card", "mispos-1", seed=40 + strict, terminal_id=tid,
                        close_on_garbage=strict) as term:
        for minute, second, first_seq in PROBES:
            stream = open_stream(term.url)
            try:
                found, leftover = detect(
                    stream, card_key=DEFAULT_CARD_KEY, clock=time.monotonic,
                    host_time=lambda m=minute, s=second: at(m, s),  # type: ignore[misc]
                    first_seq=first_seq, probe_timeout=PROBE,
                )
            finally:
                stream.close()
            assert found.dialect is Dialect.MISPOS_1
            assert found.identify is not None
            assert found.identify.header.terminal_id == tid
            assert found.probes == 2, found  # answered in the first round
            assert leftover == []


@pytest.mark.slow
def test_one_stream_probing_reproduces_the_lost_probe() -> None:
    """The field failure, deterministically: both probes on one TCP stream at second 31."""
    with serve_terminal("card", "mispos-1", seed=7, terminal_id="CARD0099",
                        close_on_garbage=False) as term:  # pre-rule firmware slides over
        with one_stream(term.url) as stream:
            with pytest.raises(LinkFailedError, match="no answer to IDENTIFY"):
                detect(stream, card_key=DEFAULT_CARD_KEY, clock=time.monotonic,
                       host_time=lambda: at(12, 31), probe_timeout=PROBE)


def test_one_stream_probing_against_a_closing_terminal_ends_at_once() -> None:
    with serve_terminal("card", "mispos-1", seed=8, terminal_id="CARD0098",
                        close_on_garbage=True) as term:
        with one_stream(term.url) as stream:
            with pytest.raises(LinkFailedError, match="connection closed during detection"):
                detect(stream, card_key=DEFAULT_CARD_KEY, clock=time.monotonic,
                       host_time=lambda: at(7, 0), probe_timeout=PROBE)
        assert term.session.stats["closed_on_garbage"] == 1


def test_async_detection_reconnects_between_probes() -> None:
    async def main() -> None:
        with serve_terminal("card", "mispos-1", seed=9, terminal_id="CARD0097") as term:
            stream = await open_async_stream(parse_url(term.url))
            try:
                found, _ = await detect_async(
                    stream, card_key=DEFAULT_CARD_KEY, clock=time.monotonic,
                    host_time=lambda: at(12, 31), probe_timeout=PROBE)
            finally:
                await stream.close()
            assert found.dialect is Dialect.MISPOS_1
            assert found.probes == 2

    asyncio.run(main())


def test_sl2_terminal_answers_the_first_probe_on_the_first_connection() -> None:
    with serve_terminal("bill", "sl-2", seed=10, terminal_id="BILL0097") as term:
        stream = open_stream(term.url)
        try:
            found, _ = detect(stream, card_key=DEFAULT_CARD_KEY, clock=time.monotonic,
                              host_time=lambda: at(12, 31), probe_timeout=PROBE)
        finally:
            stream.close()
        assert found.dialect is Dialect.SL_2
        assert found.probes == 1
