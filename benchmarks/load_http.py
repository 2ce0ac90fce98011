"""HTTP load harness: a bounded raw-asyncio client against ``jwmo-gateway serve`` on loopback.

    .venv/bin/python -m benchmarks.load_http [--workers 1 2] [--peak-seconds S] [--half-seconds S]
                                             [--connections C] [--max-requests N] [--quick] [--json FILE]

For each ``--workers`` value the harness starts the server in a subprocess (open local mode on
127.0.0.1, the embedded file outbox in a fresh data directory on the normal disk, so every answer is
really stored and fsynced), waits until ``/readyz`` says ready and warms it up. Then two phases, each
bounded by a request count *and* a time limit:

``peak``
    closed loop: ``C`` keep-alive connections, each sending its next request as soon as the previous
    answer is in. Its request rate is the peak throughput.
``half``
    open loop at a fixed rate of half that peak: request *i* is due at ``t0 + i / rate`` whether or not
    earlier answers have arrived; ``C`` connections take due requests from a queue. Latency is counted
    from the due time, so a server (or client) that falls behind shows it in the percentiles instead of
    silently slowing the client down ("coordinated omission").

Per phase: requests, errors (any status but 200), achieved rate, latency percentiles (p50/p95/p99/max)
and a quantile sketch for a CDF plot, the server's CPU time per request (the uvicorn process and its
pipeline worker processes, from ``/proc``), split by process and by thread of the server process, the
client's CPU time per request, and the machine's busy/steal time. Every request body is a distinct valid
3 KB JW323 (``random_declaration``): a repeated message would be a redelivery, answered but not stored.

The client is a few lines of asyncio streams (on uvloop when installed) rather than httpx:
``performance.md`` section 6 measured httpx at ~1.1 ms of client CPU per request, more than the server
spends. Everything is loopback only; the server is stopped (SIGTERM, then SIGKILL) on every exit path.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import random
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Awaitable, Callable, Iterator, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, TypeVar

from benchmarks import procstat
from benchmarks.messages import BENCH_HMAC_KEY, TODAY
from gateway.testing.builders import random_declaration, render

__all__ = ["Phase", "main", "run_config"]

HOST = "127.0.0.1"
#: tmpfs for the diagnostic run (a private ``mkdtemp`` directory is made inside it, mode 0700).
TMPFS = "/dev/shm"  # noqa: S108
#: Requests whose seeds are reserved per phase: the seeds never repeat within one server.
_SEEDS_PER_PHASE = 1_000_000
_T = TypeVar("_T")


@dataclass(slots=True)
class Phase:
    """The figures of one load phase."""

    name: str
    mode: str  # "closed" or "open"
    connections: int
    target_rate: float | None
    requests: int
    errors: int
    seconds: float
    requests_per_second: float
    p50_ms: float
    p95_ms: float
    p99_ms: float
    max_ms: float
    server_cpu_ms_per_request: float
    server_cpu_by_process_ms: dict[str, float]
    server_cpu_by_thread_ms: dict[str, dict[str, float]]  # thread -> {"user_ms", "sys_ms"} per request
    client_cpu_ms_per_request: float
    machine: dict[str, float]
    latency_quantiles_ms: list[float] = field(default_factory=list)  # 0, 0.5, 1, ..., 100 %
    disk_fsync: dict[str, float] = field(default_factory=dict)  # the FsyncProbe during the phase


def messages(count: int, first_seed: int) -> list[bytes]:
    """``count`` distinct valid 3 KB JW323 messages (1 client, 2 lines)."""
    return [
        render(random_declaration(random.Random(seed), clients=1, lines_per_client=2, today=TODAY))
        for seed in range(first_seed, first_seed + count)
    ]


def _request(port: int, body: bytes) -> bytes:
    head = (
        f"POST /v1/declarations HTTP/1.1\r\nHost: {HOST}:{port}\r\n"
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


async def closed_loop(
    port: int, requests: Sequence[bytes], seconds: float, connections: int
) -> tuple[list[float], int, float]:
    """Send until every request is done or ``seconds`` have passed: (latencies s, errors, elapsed s)."""
    latencies: list[float] = []
    errors = 0
    next_index = 0
    deadline = time.perf_counter() + seconds

    async def connection() -> None:
        nonlocal next_index, errors
        reader, writer = await asyncio.open_connection(HOST, port)
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


async def open_loop(
    port: int, requests: Sequence[bytes], rate: float, seconds: float, connections: int
) -> tuple[list[float], int, float]:
    """Requests due at a fixed ``rate``; latency from the due time: (latencies s, errors, elapsed s)."""
    queue: asyncio.Queue[tuple[float, bytes] | None] = asyncio.Queue()
    latencies: list[float] = []
    errors = 0
    start = time.perf_counter() + 0.05
    total = min(len(requests), int(rate * seconds))

    async def dispatch() -> None:
        index = 0
        while index < total:
            now = time.perf_counter()
            due = start + index / rate
            if due > now:
                await asyncio.sleep(due - now)
                continue
            while index < total and start + index / rate <= now:  # everything due by now
                queue.put_nowait((start + index / rate, requests[index]))
                index += 1
        for _ in range(connections):
            queue.put_nowait(None)

    async def connection() -> None:
        nonlocal errors
        reader, writer = await asyncio.open_connection(HOST, port)
        try:
            while (item := await queue.get()) is not None:
                due, request = item
                status = await _exchange(reader, writer, request)
                latencies.append(time.perf_counter() - due)
                errors += status != 200
        finally:
            writer.close()

    await asyncio.gather(dispatch(), *(connection() for _ in range(connections)))
    return latencies, errors, time.perf_counter() - start


def _run_async(factory: Callable[[], Awaitable[_T]]) -> _T:
    """Run a coroutine on uvloop when it is installed (less client CPU), else on asyncio's own loop."""

    async def main() -> _T:
        return await factory()

    try:
        import uvloop  # noqa: PLC0415
    except ImportError:
        return asyncio.run(main())
    with asyncio.Runner(loop_factory=uvloop.new_event_loop) as runner:
        return runner.run(main())


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind((HOST, 0))
        port: int = probe.getsockname()[1]
        return port


def _ready(port: int) -> bool:
    try:
        with socket.create_connection((HOST, port), timeout=1) as sock:
            sock.sendall(f"GET /readyz HTTP/1.1\r\nHost: {HOST}:{port}\r\nConnection: close\r\n\r\n".encode())
            return sock.recv(64).startswith(b"HTTP/1.1 200")
    except OSError:
        return False


def stop_process(process: subprocess.Popen[bytes], timeout: float = 15.0) -> None:
    """SIGTERM, wait, then SIGKILL: the process is gone when this returns."""
    if process.poll() is None:
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


@contextlib.contextmanager
def server(workers: int, data_dir: Path, port: int, start_timeout: float = 60.0) -> Iterator[int]:
    """``jwmo-gateway serve`` on loopback with ``workers`` pipeline workers; yields its PID once ready."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("JWMO_")}
    env.update({"JWMO_DATA_DIR": str(data_dir), "JWMO_HMAC_KEY": BENCH_HMAC_KEY, "JWMO_LOG_LEVEL": "WARNING"})
    command = [sys.executable, "-m", "gateway", "serve", "--host", HOST, "--port", str(port)]
    command += ["--workers", str(workers)]
    process = subprocess.Popen(command, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        deadline = time.monotonic() + start_timeout
        while not _ready(port):
            if process.poll() is not None:
                raise RuntimeError(f"the server exited during start-up (status {process.returncode})")
            if time.monotonic() > deadline:
                raise RuntimeError("the server did not become ready in time")
            time.sleep(0.1)
        yield process.pid
    finally:
        stop_process(process)


class FsyncProbe:
    """A background thread that appends 200 bytes and fsyncs every ``interval`` s in ``directory``.

    It runs during a phase on the file system of the server's data directory and records how long each
    fsync took, so a latency tail can be set against the disk's own stalls. Its CPU time is excluded
    from the client's figure.
    """

    def __init__(self, directory: Path, interval: float = 0.05) -> None:
        self.path = directory / "fsync-probe.bin"
        self.interval = interval
        self.latencies: list[float] = []
        self.cpu_s = 0.0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="fsync-probe", daemon=True)

    def _run(self) -> None:
        cpu0 = time.thread_time()
        with self.path.open("ab") as fh:
            while not self._stop.wait(self.interval):
                started = time.perf_counter()
                fh.write(b"x" * 199 + b"\n")
                fh.flush()
                os.fsync(fh.fileno())
                self.latencies.append(time.perf_counter() - started)
        self.cpu_s = time.thread_time() - cpu0

    def __enter__(self) -> FsyncProbe:
        self._thread.start()
        return self

    def __exit__(self, *_exc: object) -> None:
        self._stop.set()
        self._thread.join(timeout=10)

    def summary(self) -> dict[str, float]:
        ordered = sorted(self.latencies)
        return {
            "fsyncs": len(ordered),
            "p50_ms": round(_percentile(ordered, 0.5), 3),
            "p99_ms": round(_percentile(ordered, 0.99), 3),
            "max_ms": round(ordered[-1] * 1000, 3) if ordered else 0.0,
        }


def _quantiles(values: Sequence[float]) -> list[float]:
    """0 %, 0.5 %, ..., 100 % of ``values`` in ms (201 points for a CDF plot)."""
    if not values:
        return []
    ordered = sorted(values)
    last = len(ordered) - 1
    return [round(ordered[round(i / 200 * last)] * 1000, 3) for i in range(201)]


def _percentile(ordered: Sequence[float], fraction: float) -> float:
    if not ordered:
        return 0.0
    return ordered[min(len(ordered) - 1, round(fraction * (len(ordered) - 1)))] * 1000


def _cpu_by_process(pid: int) -> dict[str, float]:
    out = {"server": procstat.cpu_seconds(pid)}
    for index, child in enumerate(procstat.tree(pid)[1:]):
        out[f"child{index}"] = procstat.cpu_seconds(child)
    return out


def _per_thread(
    pid: int,
    before: dict[int, tuple[float, float]],
    after: dict[int, tuple[float, float]],
    names: dict[int, str],
    done: int,
) -> dict[str, dict[str, float]]:
    """User and system CPU ms per request of each thread of the server process (named when known)."""
    out: dict[str, dict[str, float]] = {}
    for tid, (user, system) in after.items():
        user0, system0 = before.get(tid, (0.0, 0.0))
        if user == user0 and system == system0:
            continue
        label = names.get(tid) or ("MainThread" if tid == pid else f"thread {tid}")
        entry = out.setdefault(label, {"user_ms": 0.0, "sys_ms": 0.0})
        entry["user_ms"] += (user - user0) * 1000 / done
        entry["sys_ms"] += (system - system0) * 1000 / done
    return {k: {n: round(v, 4) for n, v in e.items()} for k, e in out.items()}


def measure_phase(
    name: str,
    pid: int,
    run: Callable[[], tuple[list[float], int, float]],
    *,
    connections: int,
    target_rate: float | None,
    names: dict[int, str] | None = None,
    probe_dir: Path | None = None,
) -> Phase:
    """Run one load phase and account for the CPU time of the server, its workers and the client."""
    probe = FsyncProbe(probe_dir) if probe_dir is not None else None
    machine0 = procstat.CpuTimes.now()
    processes0 = _cpu_by_process(pid)
    threads0 = procstat.thread_cpu_seconds(pid)
    client0 = time.process_time()
    with probe if probe is not None else contextlib.nullcontext():
        latencies, errors, elapsed = run()
    client = time.process_time() - client0 - (probe.cpu_s if probe is not None else 0.0)
    threads1 = procstat.thread_cpu_seconds(pid)
    processes1 = _cpu_by_process(pid)
    machine = procstat.CpuTimes.now().since(machine0)
    done = max(1, len(latencies))
    by_process = {k: (processes1.get(k, 0.0) - v) * 1000 / done for k, v in processes0.items()}
    by_thread = _per_thread(pid, threads0, threads1, names or {}, done)
    ordered = sorted(latencies)
    return Phase(
        name=name,
        mode="closed" if target_rate is None else "open",
        connections=connections,
        target_rate=target_rate,
        requests=len(latencies),
        errors=errors,
        seconds=round(elapsed, 3),
        requests_per_second=round(len(latencies) / elapsed, 1) if elapsed > 0 else 0.0,
        p50_ms=round(_percentile(ordered, 0.50), 3),
        p95_ms=round(_percentile(ordered, 0.95), 3),
        p99_ms=round(_percentile(ordered, 0.99), 3),
        max_ms=round(ordered[-1] * 1000, 3) if ordered else 0.0,
        server_cpu_ms_per_request=round(sum(by_process.values()), 4),
        server_cpu_by_process_ms={k: round(v, 4) for k, v in by_process.items() if v > 0},
        server_cpu_by_thread_ms=by_thread,
        client_cpu_ms_per_request=round(client * 1000 / done, 4),
        machine={k: round(v, 2) for k, v in machine.items()},
        latency_quantiles_ms=_quantiles(latencies),
        disk_fsync=probe.summary() if probe is not None else {},
    )


def _profile(
    pid: int, port: int, seconds: float, *, connections: int, seed: int, workers: int
) -> dict[str, Any]:
    """py-spy on the loaded server for ``seconds`` (after the measured phases): the busiest frames."""
    from benchmarks.hotspots import summarise_collapsed  # noqa: PLC0415

    spy = procstat.py_spy()
    if spy is None:
        return {"skipped": "py-spy is not installed"}
    requests = [_request(port, m) for m in messages(int(seconds * 2500), seed)]
    with tempfile.TemporaryDirectory(prefix="jwmo-pyspy-") as tmp:
        out = Path(tmp) / "stacks.txt"
        command = [spy, "record", "--pid", str(pid), "--duration", str(max(1, round(seconds)))]
        command += ["--rate", "200", "--format", "raw", "--threads", "--nonblocking", "--output", str(out)]
        if workers > 1:
            command.append("--subprocesses")
        recorder = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        try:
            _run_async(lambda: closed_loop(port, requests, seconds + 1, connections))
            recorder.wait(timeout=seconds + 30)
        finally:
            stop_process(recorder)
        if not out.exists():
            return {"skipped": "py-spy recorded nothing (permission?)"}
        with out.open(encoding="utf-8", errors="replace") as lines:
            return summarise_collapsed(lines)


def run_config(
    workers: int,
    *,
    peak_seconds: float,
    half_seconds: float,
    connections: int,
    max_requests: int,
    seed: int,
    profile_seconds: float = 0.0,
    data_root: str | None = None,
    label: str | None = None,
) -> dict[str, Any]:
    """Start a server with ``workers`` pipeline workers, measure the peak and the half-peak phases.

    ``data_root`` is where the server's data directory is created (default: the system's temporary
    directory, a disk here); a fsync probe runs in it during both phases.
    """
    port = _free_port()
    warm = [_request(port, m) for m in messages(300, seed)]
    peak_requests = [_request(port, m) for m in messages(max_requests, seed + _SEEDS_PER_PHASE)]
    profile: dict[str, Any] = {}
    root = data_root or _disk_tmp()
    with tempfile.TemporaryDirectory(prefix="jwmo-load-http-", dir=root) as tmp:
        started = time.perf_counter()
        with server(workers, Path(tmp), port) as pid:
            ready_s = time.perf_counter() - started
            _run_async(lambda: closed_loop(port, warm, 10, min(connections, len(warm))))
            names = procstat.thread_names(pid)
            peak = measure_phase(
                "peak",
                pid,
                lambda: _run_async(lambda: closed_loop(port, peak_requests, peak_seconds, connections)),
                connections=connections,
                target_rate=None,
                names=names,
                probe_dir=Path(tmp),
            )
            rate = max(1.0, peak.requests_per_second / 2)
            count = min(max_requests, int(rate * half_seconds) + 1)
            half_requests = [_request(port, m) for m in messages(count, seed + 2 * _SEEDS_PER_PHASE)]
            half = measure_phase(
                "half",
                pid,
                lambda: _run_async(lambda: open_loop(port, half_requests, rate, half_seconds, connections)),
                connections=connections,
                target_rate=rate,
                names=names,
                probe_dir=Path(tmp),
            )
            if profile_seconds > 0:
                seed_profile = seed + 3 * _SEEDS_PER_PHASE
                profile = _profile(
                    pid, port, profile_seconds, connections=connections, seed=seed_profile, workers=workers
                )
            outbox = Path(tmp) / "outbox" / "billing.jsonl"
            stored = sum(1 for _ in outbox.open("rb")) if outbox.exists() else 0
    return {
        "workers": workers,
        "label": label or f"{workers} worker{'s' if workers > 1 else ''}",
        "diagnostic": data_root is not None,
        "connections": connections,
        "ready_s": round(ready_s, 3),
        "message_bytes": round(statistics.mean(len(m) for m in messages(20, seed))),
        "billing_lines_stored": stored,
        "data_dir_filesystem": _filesystem(Path(root or tempfile.gettempdir())),
        "phases": {"peak": asdict(peak), "half": asdict(half)},
        "profile": profile,
    }


def _filesystem(path: Path) -> str:
    """The file system type of the mount that holds ``path`` (from /proc/mounts)."""
    best, kind = "", "unknown"
    try:
        resolved = str(path.resolve())
        for line in Path("/proc/mounts").read_text().splitlines():
            fields = line.split()
            if len(fields) > 2 and resolved.startswith(fields[1]) and len(fields[1]) > len(best):
                best, kind = fields[1], fields[2]
    except OSError:
        pass
    return kind


def _disk_tmp() -> str | None:
    """The directory for the data directory: ``$JWMO_BENCH_DATA_ROOT`` or the system default (a disk)."""
    return os.environ.get("JWMO_BENCH_DATA_ROOT") or None


def _sigterm_to_interrupt() -> None:
    def handler(_signum: int, _frame: object) -> None:
        raise KeyboardInterrupt

    signal.signal(signal.SIGTERM, handler)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m benchmarks.load_http", description=__doc__.splitlines()[0]
    )
    parser.add_argument("--workers", type=int, nargs="+", default=[1, 2], help="server workers (default 1 2)")
    parser.add_argument("--peak-seconds", type=float, default=15.0, help="closed-loop phase (default 15 s)")
    parser.add_argument("--half-seconds", type=float, default=20.0, help="open-loop phase (default 20 s)")
    parser.add_argument("--connections", type=int, default=16, help="keep-alive connections (default 16)")
    parser.add_argument(
        "--max-requests",
        type=int,
        default=25_000,
        help="at most this many requests per phase (default 25000)",
    )
    parser.add_argument(
        "--profile-seconds",
        type=float,
        default=5.0,
        help="py-spy the server under load this long after the phases (default 5; 0 = off; needs py-spy)",
    )
    parser.add_argument(
        "--no-tmpfs-diagnostic",
        action="store_true",
        help="skip the extra 1-worker run with the data directory on tmpfs (/dev/shm)",
    )
    parser.add_argument("--quick", action="store_true", help="short phases (4 s each)")
    parser.add_argument("--json", type=Path, default=None, help="write the results as JSON to FILE")
    args = parser.parse_args(argv)
    if args.quick:
        args.peak_seconds = args.half_seconds = 4.0
        args.profile_seconds = min(args.profile_seconds, 3.0)
        args.max_requests = min(args.max_requests, 15_000)
    if min(args.workers) < 1 or args.connections < 1 or args.max_requests < 1:
        parser.error("--workers, --connections and --max-requests must be positive")
    if not 0 < args.peak_seconds <= 600 or not 0 < args.half_seconds <= 600:
        parser.error("phases last more than 0 and at most 600 seconds")
    _sigterm_to_interrupt()
    results: dict[str, Any] = {"settings": vars(args) | {"json": None}, "configs": []}
    plan: list[tuple[int, str | None, str | None]] = [(w, None, None) for w in args.workers]
    if not args.no_tmpfs_diagnostic and Path(TMPFS).is_dir():
        plan.append((1, TMPFS, "1 worker, outbox on tmpfs (diagnostic)"))
    for index, (workers, data_root, label) in enumerate(plan):
        config = run_config(
            workers,
            peak_seconds=args.peak_seconds,
            half_seconds=args.half_seconds,
            connections=args.connections,
            max_requests=args.max_requests,
            seed=10_000_000 * (index + 1),
            profile_seconds=0.0 if data_root else args.profile_seconds,
            data_root=data_root,
            label=label,
        )
        results["configs"].append(config)
        for phase in config["phases"].values():
            print(
                f"{config['label']}: {phase['name']:<4} {phase['requests_per_second']:>8,.1f} req/s "
                f"p50 {phase['p50_ms']:.2f} p95 {phase['p95_ms']:.2f} p99 {phase['p99_ms']:.2f} ms; "
                f"server CPU {phase['server_cpu_ms_per_request']:.3f} ms/req, "
                f"client CPU {phase['client_cpu_ms_per_request']:.3f} ms/req, errors {phase['errors']}",
                flush=True,
            )
    if args.json is not None:
        args.json.write_text(json.dumps(results, indent=2) + "\n", encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main())
