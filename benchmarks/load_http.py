"""HTTP load harness: a bounded raw-asyncio client against ``jwmo-gateway serve`` on loopback.

    .venv/bin/python -m benchmarks.load_http [--requests N] [--seconds S] [--connections C]
                                             [--workers W] [--same] [--json FILE]

Starts the server in a subprocess (open local mode on 127.0.0.1, a fresh data directory, so the file
handover really stores every answer), waits until ``/readyz`` says ready, warms up, then sends
``POST /v1/declarations`` over ``C`` keep-alive connections until ``N`` requests are done or ``S`` seconds
have passed, whichever comes first. Reports requests/s, latency percentiles (p50/p95/p99), the client's
CPU time per request and the server's (the uvicorn process and its pipeline workers, from ``/proc``).

The client is a few lines of asyncio streams rather than httpx: ``performance.md`` section 6 measured
httpx at ~1.1 ms of client CPU per request, more than the server spends. Messages are distinct valid
JW323s (``random_declaration``) unless ``--same`` posts one message over and over (then every request
after the first is a redelivery: answered again, stored once).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import random
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import asdict, dataclass
from pathlib import Path

from gateway.testing.builders import random_declaration, render

_TICKS = os.sysconf("SC_CLK_TCK") if hasattr(os, "sysconf") else 100


@dataclass(frozen=True, slots=True)
class Report:
    requests: int
    errors: int
    seconds: float
    requests_per_second: float
    p50_ms: float
    p95_ms: float
    p99_ms: float
    client_cpu_ms_per_request: float
    server_cpu_ms_per_request: float | None
    connections: int
    workers: int
    message_bytes: int


def _messages(count: int, same: bool) -> list[bytes]:
    rng = random.Random(2026)
    if same:
        one = render(random_declaration(rng, clients=1, lines_per_client=2))
        return [one]
    return [
        render(random_declaration(random.Random(seed), clients=1, lines_per_client=2))
        for seed in range(count)
    ]


def _request(port: int, body: bytes) -> bytes:
    head = (
        f"POST /v1/declarations HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\n"
        f"Content-Type: application/xml\r\nContent-Length: {len(body)}\r\n\r\n"
    )
    return head.encode() + body


async def _exchange(reader: asyncio.StreamReader, writer: asyncio.StreamWriter, request: bytes) -> int:
    writer.write(request)
    head = await reader.readuntil(b"\r\n\r\n")
    status = int(head[9:12])
    length = 0
    for line in head.split(b"\r\n")[1:]:
        name, _, value = line.partition(b":")
        if name.strip().lower() == b"content-length":
            length = int(value)
    await reader.readexactly(length)
    return status


async def _load(
    port: int, requests: list[bytes], seconds: float, connections: int
) -> tuple[list[float], int, float]:
    latencies: list[float] = []
    errors = 0
    next_index = 0
    deadline = time.perf_counter() + seconds

    async def connection() -> None:
        nonlocal next_index, errors
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        try:
            while next_index < len(requests) and time.perf_counter() < deadline:
                request = requests[next_index]
                next_index += 1
                started = time.perf_counter()
                status = await _exchange(reader, writer, request)
                latencies.append(time.perf_counter() - started)
                errors += status != 200
        finally:
            writer.close()

    started = time.perf_counter()
    await asyncio.gather(*(connection() for _ in range(connections)))
    return latencies, errors, time.perf_counter() - started


def _tree_cpu_seconds(pid: int) -> float:
    """utime + stime of a process and all its descendants (Linux /proc)."""
    total = 0.0
    stack = [pid]
    while stack:
        current = stack.pop()
        try:
            fields = Path(f"/proc/{current}/stat").read_text().rsplit(")", 1)[1].split()
            total += (int(fields[11]) + int(fields[12])) / _TICKS
            for task in Path(f"/proc/{current}/task").iterdir():
                stack.extend(int(c) for c in (task / "children").read_text().split())
        except (OSError, IndexError, ValueError):
            continue
    return total


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


def _wait_ready(port: int, process: subprocess.Popen[bytes], timeout: float = 30) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise SystemExit("the server exited during start-up")
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=1) as sock:
                sock.sendall(
                    f"GET /readyz HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nConnection: close\r\n\r\n".encode()
                )
                if sock.recv(64).startswith(b"HTTP/1.1 200"):
                    return
        except OSError:
            pass
        time.sleep(0.1)
    raise SystemExit("the server did not become ready")


def run(args: argparse.Namespace) -> Report:
    messages = _messages(args.requests, args.same)
    port = _free_port()
    requests = [_request(port, messages[i % len(messages)]) for i in range(args.requests)]
    warm = [_request(port, m) for m in _messages(50, same=False)[:50]] if not args.same else requests[:50]
    with tempfile.TemporaryDirectory(prefix="jwmo-load-") as tmp:
        env = {k: v for k, v in os.environ.items() if not k.startswith("JWMO_")}
        env.update(
            {
                "JWMO_DATA_DIR": tmp,
                "JWMO_HMAC_KEY": "load-test-hmac-key-0123456789",
                "JWMO_LOG_LEVEL": "WARNING",
            }
        )
        command = [
            sys.executable,
            "-m",
            "gateway",
            "serve",
            "--port",
            str(port),
            "--workers",
            str(args.workers),
        ]
        process = subprocess.Popen(command, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        try:
            _wait_ready(port, process)
            asyncio.run(_load(port, warm, 10, min(args.connections, len(warm))))
            server_before = _tree_cpu_seconds(process.pid)
            client_before = time.process_time()
            latencies, errors, elapsed = asyncio.run(_load(port, requests, args.seconds, args.connections))
            client_cpu = time.process_time() - client_before
            server_cpu = _tree_cpu_seconds(process.pid) - server_before
        finally:
            process.send_signal(signal.SIGTERM)
            try:
                process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()
    done = len(latencies)
    cuts = statistics.quantiles(latencies, n=100) if done >= 2 else [latencies[0]] * 99
    return Report(
        requests=done,
        errors=errors,
        seconds=round(elapsed, 3),
        requests_per_second=round(done / elapsed, 1),
        p50_ms=round(cuts[49] * 1000, 2),
        p95_ms=round(cuts[94] * 1000, 2),
        p99_ms=round(cuts[98] * 1000, 2),
        client_cpu_ms_per_request=round(client_cpu * 1000 / done, 3),
        server_cpu_ms_per_request=round(server_cpu * 1000 / done, 3) if server_cpu > 0 else None,
        connections=args.connections,
        workers=args.workers,
        message_bytes=len(messages[0]),
    )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument(
        "--requests", type=int, default=5000, help="at most this many requests (default 5000)"
    )
    parser.add_argument("--seconds", type=float, default=20.0, help="at most this long (default 20 s)")
    parser.add_argument("--connections", type=int, default=16, help="keep-alive connections (default 16)")
    parser.add_argument("--workers", type=int, default=os.cpu_count() or 1, help="server pipeline workers")
    parser.add_argument("--same", action="store_true", help="post one message repeatedly (redeliveries)")
    parser.add_argument("--json", type=Path, default=None, help="also write the report as JSON")
    args = parser.parse_args(argv)
    if args.requests < 1 or args.connections < 1 or args.seconds <= 0:
        parser.error("--requests, --connections and --seconds must be positive")
    report = run(args)
    for name, value in asdict(report).items():
        print(f"{name:28} {value}")
    if args.json is not None:
        args.json.write_text(json.dumps(asdict(report), indent=2) + "\n")
    return 1 if report.errors else 0


if __name__ == "__main__":
    sys.exit(main())
