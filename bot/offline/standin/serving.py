"""Serving an ASGI app on a loopback port from inside a running event loop (the stand-in, the
sandbox platforms and the app itself, in tests, ``seatbot demo`` and the benchmarks)."""

from __future__ import annotations

import asyncio
import socket
from dataclasses import dataclass
from typing import Any, Literal

import uvicorn

from bot.web.server import StoppableServer


def bind_loopback_socket(host: str = "127.0.0.1", port: int = 0) -> socket.socket:
    """A listening TCP socket (a free port when ``port`` is 0).

    Connections made before the server starts accepting wait in the backlog, so a caller can
    use the address at once: no race for the port and nothing to poll.

    Made with ``IPPROTO_TCP`` explicitly: asyncio turns Nagle's algorithm off (``TCP_NODELAY``)
    only on accepted sockets whose protocol says TCP, and with Nagle on, every response written
    in two parts (uvicorn writes headers, then body) waits out the client's delayed ACK, about
    40 ms a request on Linux.
    """
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM, socket.IPPROTO_TCP)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind((host, port))
    sock.listen(1024)
    sock.setblocking(False)
    return sock


@dataclass(slots=True)
class RunningServer:
    """An ASGI app served by uvicorn in this event loop."""

    url: str
    port: int
    server: uvicorn.Server
    task: asyncio.Task[None]

    async def started(self, within_s: float = 60.0) -> None:
        """Wait until uvicorn serves: its lifespan startup done and the socket accepted on (a
        request sent before then waits in the backlog, behind the app's whole startup). A
        server that stopped first raises here, naming why, instead of leaving the requests to
        meet a dead port."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + within_s
        while not self.server.started:
            if self.task.done():
                raise RuntimeError(f"the server at {self.url} stopped before it started") from (
                    None if self.task.cancelled() else self.task.exception()
                )
            if loop.time() > deadline:
                raise TimeoutError(f"the server at {self.url} did not start in {within_s:.0f} s")
            await asyncio.sleep(0.01)

    async def stop(self) -> None:
        """Ask uvicorn to exit and wait for it to finish."""
        self.server.should_exit = True
        await self.task


def serve_asgi(
    app: Any,
    host: str = "127.0.0.1",
    port: int = 0,
    *,
    lifespan: Literal["auto", "on", "off"] = "off",
    sock: socket.socket | None = None,
) -> RunningServer:
    """Start serving ``app`` on uvicorn as a task of the running loop; usable at once.

    ``lifespan="on"`` runs the app's startup and shutdown handlers; ``sock`` is a socket from
    :func:`bind_loopback_socket` on ``host`` to serve on (else ``host:port`` is bound now)."""
    config = uvicorn.Config(
        app, host=host, port=port, log_level="warning", lifespan=lifespan, log_config=None
    )
    return serve_uvicorn(config, sock=sock)


def serve_uvicorn(config: uvicorn.Config, *, sock: socket.socket | None = None) -> RunningServer:
    """Start serving as ``config`` says (its app, protocol and limits: ``seatbot serve``'s
    own, say) on ``sock``, else on ``config.host`` and ``config.port`` (a free port when 0), as a
    task of the running loop; usable at once. Ctrl-C is the program's to handle: the server
    catches no signal."""
    sock = sock or bind_loopback_socket(config.host, config.port)
    bound_port = int(sock.getsockname()[1])
    server = StoppableServer(config, signals=False)
    task = asyncio.create_task(server.serve(sockets=[sock]))
    return RunningServer(f"http://{config.host}:{bound_port}", bound_port, server, task)
