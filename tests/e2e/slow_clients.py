"""Slow and idle clients of an HTTP server: raw connections that send nothing, or their request
a byte a second (:mod:`test_slow_clients` against a ``seatbot serve`` process; the fuzzer's
``SlowClientsArrive`` step against the e2e stack)."""

from __future__ import annotations

import contextlib
import itertools
import socket
import threading
import time
from collections.abc import Iterator, Sequence
from typing import Literal

import httpx

#: ``idle`` sends nothing; ``head`` a request head that never ends, a byte at a time; ``body`` a
#: whole head, then its body a byte at a time.
SlowKind = Literal["idle", "head", "body"]
SLOW_KINDS: tuple[SlowKind, ...] = ("idle", "head", "body")

_HEAD = b"GET /healthz HTTP/1.1\r\nHost: seatbot\r\n"
_BODY_HEAD = (
    b"POST /slack/events HTTP/1.1\r\nHost: seatbot\r\n"
    b"Content-Type: application/x-www-form-urlencoded\r\nContent-Length: 100000\r\n\r\n"
)


class SlowClient:
    """One raw connection, slow as its ``kind`` says (:data:`SlowKind`)."""

    def __init__(self, address: tuple[str, int], kind: SlowKind) -> None:
        self.address = address
        self.kind = kind
        self.sock: socket.socket | None = None

    def open(self) -> None:
        sock = socket.create_connection(self.address, timeout=5)
        sock.setblocking(False)
        self.sock = sock
        self._bytes = self._script()

    def _script(self) -> Iterator[bytes]:
        if self.kind == "head":
            yield from (bytes([byte]) for byte in _HEAD)
            yield from (bytes([byte]) for byte in itertools.cycle(b"X-Slow: 1\r\n"))
        if self.kind == "body":
            yield _BODY_HEAD
            yield from itertools.repeat(b"a")
        yield from itertools.repeat(b"")

    def step(self) -> bool:
        """Send the next byte; False when the server has closed the connection (then it is
        closed here too)."""
        assert self.sock is not None
        try:
            if self.sock.recv(4096) == b"":
                raise ConnectionResetError  # the server closed it
            raise ConnectionResetError  # an answer (408): the server is done with it
        except BlockingIOError:
            pass
        except OSError:
            self.close()
            return False
        try:
            self.sock.send(next(self._bytes))
        except BlockingIOError:
            pass
        except OSError:
            self.close()
            return False
        return True

    def close(self) -> None:
        if self.sock is not None:
            self.sock.close()
            self.sock = None


class SlowClients:
    """``count`` slow clients, of ``kinds`` in turn, stepped about once a second by a thread of
    their own; while :attr:`reopening`, a client the server closed is opened again at
    its next step."""

    def __init__(
        self, address: tuple[str, int], count: int, *, kinds: Sequence[SlowKind] = SLOW_KINDS
    ) -> None:
        cycle = itertools.cycle(kinds)
        self.clients = [SlowClient(address, next(cycle)) for _ in range(count)]
        self.reopening = True
        self.all_closed = threading.Event()  # set once none is open and none will reopen
        self._rounds = 0
        self._round_done = threading.Condition()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="slow-clients", daemon=True)

    def start(self) -> None:
        """Open every client, each sending its first byte (a ``body`` client its whole head)."""
        for client in self.clients:
            client.open()
            client.step()
        self._thread.start()

    def _run(self) -> None:
        while not self._stop.wait(1.0):
            for client in self.clients:
                if client.sock is not None:
                    client.step()
                elif self.reopening:
                    with contextlib.suppress(OSError):
                        client.open()
            if not self.reopening and self.open_count() == 0:
                self.all_closed.set()
            with self._round_done:
                self._rounds += 1
                self._round_done.notify_all()

    def next_round(self, within_s: float = 30.0) -> None:
        """Wait until every client has taken one more step (sent a byte, or been reopened)."""
        with self._round_done:
            after = self._rounds + 1
            assert self._round_done.wait_for(lambda: self._rounds >= after, within_s)

    def open_count(self) -> int:
        return sum(client.sock is not None for client in self.clients)

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(timeout=30)
        for client in self.clients:
            client.close()


async def healthz_answer(url: str) -> tuple[int, float]:
    """``GET /healthz`` on a new connection: the status and the seconds it took."""
    async with httpx.AsyncClient(timeout=10.0) as http:
        began = time.perf_counter()
        response = await http.get(f"{url}/healthz")
        return response.status_code, time.perf_counter() - began
