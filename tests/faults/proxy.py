"""A loopback TCP proxy that injects network faults between the gateway and the broker (clarifications 21).

The broker and its data stay up; only the path to it fails. The proxy runs its own event loop in a
background thread, so in-process workers, subprocesses and the test's own ``asyncio.run`` calls can all
use it. Modes:

* ``pass``        forward both directions;
* ``down``        stop listening (new connections are refused) and reset every open connection;
* ``blackhole``   accept connections but forward nothing in either direction (requests time out);
* ``drop_replies`` forward the client's requests to the broker but discard the broker's answers
                  (a partition after the request arrived: the write happens, the acknowledgement is lost);
* ``reset_replies`` forward requests, and reset the connection when the broker answers a Produce
                  request (the write happens, the producer sees a broken connection at once: what makes
                  a client re-send a young batch); other connections and answers pass.

Every wait is bounded; the thread stops with :meth:`FaultProxy.close`.
"""

from __future__ import annotations

import asyncio
import contextlib
import socket
import threading
from collections.abc import Coroutine
from dataclasses import dataclass, field
from typing import Any, Literal, TypeVar

__all__ = ["FaultProxy", "Mode", "ProxyStats", "free_port"]

Mode = Literal["pass", "down", "blackhole", "drop_replies", "reset_replies"]
T = TypeVar("T")
_CHUNK = 65536
_PRODUCE = b"\x00\x00"  # the Kafka protocol's api key of a Produce request


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@dataclass
class ProxyStats:
    """What the proxy saw (read from the test thread; integers only, updated by the proxy thread)."""

    accepted: int = 0
    reset: int = 0  # connections reset when the proxy went down
    to_broker: int = 0  # bytes forwarded client -> broker
    to_client: int = 0  # bytes forwarded broker -> client
    dropped_replies: int = 0  # bytes of broker answers discarded
    modes: list[str] = field(default_factory=list)


class FaultProxy:
    """``127.0.0.1:port`` -> ``127.0.0.1:target_port`` with switchable faults."""

    def __init__(self, target_port: int, port: int | None = None) -> None:
        self.target_port = target_port
        self.port = port or free_port()
        self.mode: Mode = "pass"
        self.stats = ProxyStats()
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._loop.run_forever, name="fault-proxy", daemon=True)
        self._server: asyncio.Server | None = None
        self._writers: set[asyncio.StreamWriter] = set()

    @property
    def address(self) -> str:
        return f"127.0.0.1:{self.port}"

    # ---- control (called from the test thread) ----------------------------------------------------

    def start(self) -> FaultProxy:
        self._thread.start()
        self._call(self._listen())
        return self

    def set_mode(self, mode: Mode) -> None:
        """Switch the fault; ``down`` resets open connections and refuses new ones, ``pass`` restores."""
        self._call(self._set_mode(mode))

    def close(self) -> None:
        with contextlib.suppress(Exception):
            self._call(self._shutdown())
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(timeout=10)
        if not self._thread.is_alive():
            self._loop.close()

    def __enter__(self) -> FaultProxy:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.close()

    def _call(self, coro: Coroutine[Any, Any, T]) -> T:
        return asyncio.run_coroutine_threadsafe(coro, self._loop).result(timeout=10)

    # ---- proxy thread --------------------------------------------------------------------------

    async def _listen(self) -> None:
        if self._server is None:
            self._server = await asyncio.start_server(
                self._accept, "127.0.0.1", self.port, reuse_address=True
            )

    async def _set_mode(self, mode: Mode) -> None:
        self.mode = mode
        self.stats.modes.append(mode)
        if mode == "down":
            for writer in list(self._writers):
                self.stats.reset += 1
                writer.transport.abort()
            self._writers.clear()
            if self._server is not None:
                self._server.close()
                await self._server.wait_closed()
                self._server = None
        else:
            await self._listen()

    async def _shutdown(self) -> None:
        await self._set_mode("down")

    async def _accept(self, client_reader: asyncio.StreamReader, client_writer: asyncio.StreamWriter) -> None:
        if self.mode == "down":
            client_writer.transport.abort()
            return
        self.stats.accepted += 1
        try:
            broker_reader, broker_writer = await asyncio.wait_for(
                asyncio.open_connection("127.0.0.1", self.target_port), timeout=5
            )
        except (OSError, TimeoutError):
            client_writer.transport.abort()
            return
        self._writers.update((client_writer, broker_writer))
        produced = [False]  # this connection forwarded a Produce request the broker has not answered yet
        try:
            await asyncio.gather(
                self._pump(client_reader, broker_writer, upstream=True, produced=produced),
                self._pump(broker_reader, client_writer, upstream=False, produced=produced),
            )
        finally:
            for writer in (client_writer, broker_writer):
                self._writers.discard(writer)
                writer.transport.abort()

    async def _pump(
        self,
        reader: asyncio.StreamReader,
        writer: asyncio.StreamWriter,
        *,
        upstream: bool,
        produced: list[bool],
    ) -> None:
        try:
            while True:
                data = await reader.read(_CHUNK)
                if not data:
                    return
                mode = self.mode
                if upstream and data[4:6] == _PRODUCE:  # a request: 4-byte size, then its 2-byte api key
                    produced[0] = True
                if mode == "reset_replies" and not upstream and produced[0]:
                    self.stats.dropped_replies += len(data)
                    self.stats.reset += 1
                    return  # the finally clause resets the client's connection
                if not upstream:
                    produced[0] = False
                if mode == "blackhole" or (mode == "drop_replies" and not upstream):
                    if not upstream:
                        self.stats.dropped_replies += len(data)
                    continue
                writer.write(data)
                await writer.drain()
                if upstream:
                    self.stats.to_broker += len(data)
                else:
                    self.stats.to_client += len(data)
        except (OSError, asyncio.IncompleteReadError):
            return
        finally:
            writer.transport.abort()  # one side gone: end the other, as a real connection would
