"""Connection handling: the hub's accepted connections set TCP_NODELAY; HubClient keeps one
connection alive across calls and closes an ``httpx.Client`` only when it owns it."""

from __future__ import annotations

import asyncio
import socket

import httpx
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from stationlink.hub.client import HubClient
from stationlink.hub.server import BackgroundServer, bind_socket


def test_accepted_connections_set_tcp_nodelay() -> None:
    seen: list[int] = []

    async def main() -> None:
        async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
            sock = writer.get_extra_info("socket")
            seen.append(sock.getsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY))
            writer.close()
            await writer.wait_closed()

        listener = bind_socket("127.0.0.1", 0)
        server = await asyncio.start_server(handle, sock=listener)
        async with server:
            port = listener.getsockname()[1]
            _, w = await asyncio.open_connection("127.0.0.1", port)
            w.close()
            await w.wait_closed()
            for _ in range(200):
                if seen:
                    break
                await asyncio.sleep(0.01)

    asyncio.run(main())
    assert seen == [1]


def peer_app() -> Starlette:
    async def peer(request: Request) -> Response:
        assert request.client is not None
        return JSONResponse({"high_water_mark": request.client.port})

    return Starlette(routes=[Route("/v1/stations/S1/high-water-mark", peer, methods=["GET"])])


def test_client_reuses_its_connection_and_closes_what_it_owns() -> None:
    with BackgroundServer(peer_app()) as server:
        with HubClient(server.url, "t", station_id="S1") as own:
            ports = {own.high_water_mark() for _ in range(4)}
        assert len(ports) == 1  # one kept-alive connection for all four calls
        http = httpx.Client(timeout=10)
        HubClient(server.url, "t", station_id="S1", http_client=http).close()
        assert not http.is_closed  # lent: left open
        handed = HubClient(server.url, "t", station_id="S1", http_client=http,
                           owns_client=True)
        assert handed.high_water_mark() > 0
        handed.close()
        assert http.is_closed  # handed over: closed with the HubClient
