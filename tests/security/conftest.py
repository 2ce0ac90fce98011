"""Fixtures of the security tests: a loopback canary listener and the report of what was tried."""

from __future__ import annotations

import socket
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field

import pytest

from tests.security.tally import write_report


@pytest.hookimpl(trylast=True)
def pytest_sessionfinish(session: pytest.Session) -> None:
    """Write the counts of attacks and faults when ``JWMO_RELIABILITY_REPORT`` asks for them."""
    del session
    write_report()


@dataclass
class CanaryListener:
    """A loopback TCP listener that counts every connection made to it (any protocol) and answers HTTP."""

    port: int = 0
    connections: int = 0
    requests: list[bytes] = field(default_factory=list)

    def url(self, name: str) -> bytes:
        return f"http://127.0.0.1:{self.port}/{name}".encode()


@pytest.fixture
def canary_listener() -> Iterator[CanaryListener]:
    """A listener on a free loopback port; a DTD or entity fetched from it would smuggle a value."""
    state = CanaryListener()
    server = socket.create_server(("127.0.0.1", 0))
    server.settimeout(0.05)
    state.port = server.getsockname()[1]
    stop = threading.Event()

    def serve() -> None:
        while not stop.is_set():
            try:
                conn, _ = server.accept()
            except TimeoutError:
                continue
            except OSError:
                return
            state.connections += 1
            with conn:
                conn.settimeout(1)
                try:
                    state.requests.append(conn.recv(4096))
                    body = b'<!ENTITY afz "65656055">'
                    conn.sendall(b"HTTP/1.0 200 OK\r\nContent-Length: %d\r\n\r\n%s" % (len(body), body))
                except OSError:
                    pass

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    try:
        yield state
    finally:
        stop.set()
        thread.join(timeout=5)
        server.close()
