"""Serving on a loopback socket: connections are answered without Nagle's delay."""

from __future__ import annotations

import asyncio
import socket

from bot.offline.standin.serving import bind_loopback_socket


async def test_accepted_connections_have_nagle_turned_off() -> None:
    """uvicorn serves on ``loop.create_server(sock=...)``: the accepted connections must have
    ``TCP_NODELAY``, or each response written in two parts waits for a delayed ACK."""
    accepted: asyncio.Future[int] = asyncio.get_running_loop().create_future()

    class Probe(asyncio.Protocol):
        def connection_made(self, transport: asyncio.BaseTransport) -> None:
            sock = transport.get_extra_info("socket")
            accepted.set_result(sock.getsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY))
            transport.close()

    listening = bind_loopback_socket()
    port = listening.getsockname()[1]
    server = await asyncio.get_running_loop().create_server(Probe, sock=listening)
    try:
        _, writer = await asyncio.open_connection("127.0.0.1", port)
        assert await asyncio.wait_for(accepted, 5) != 0
        writer.close()
    finally:
        server.close()
        await server.wait_closed()
