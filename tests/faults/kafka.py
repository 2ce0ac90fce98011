"""Helpers of the Kafka fault tests: topics per test, producing, reading back, the worker in process.

The worker runs in this process (a thread pool for the pipeline, the real minimiser and policy), so the
tests can read its metrics and capture its JSON log lines; the broker is real (Tansu) and reached through
the fault proxy.
"""

from __future__ import annotations

import asyncio
import gc
import io
import json
import logging
import random
import sys
import threading
import uuid
from collections import Counter
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass, replace
from typing import Any

import structlog
from aiokafka import AIOKafkaProducer

from gateway.logs import configure_logging
from gateway.pipeline import Outcome, process, refuse_duplicate
from gateway.service.kafka import KafkaConfig, KafkaWorker
from gateway.service.metrics import Metrics
from gateway.testing.builders import random_declaration, render
from tests.faults.proxy import FaultProxy, Mode
from tests.helpers import TODAY
from tests.kafka.test_worker import committed
from tests.security.common import environment
from tests.topics import read_records

__all__ = [
    "FaultWindow",
    "billing_counts",
    "captured_logs",
    "committed",
    "declarations",
    "failures",
    "kafka_config",
    "produce",
    "read_values",
    "run_worker",
    "unraisable",
]


def kafka_config(bootstrap: str, **changes: Any) -> KafkaConfig:
    """Fresh topic names per test; short request timeouts so a fault surfaces within seconds."""
    tag = uuid.uuid4().hex[:8]
    base = KafkaConfig(
        bootstrap=bootstrap,
        group_id=f"g-{tag}",
        topic_in=f"in-{tag}",
        topic_billing=f"billing-{tag}",
        topic_retour=f"retour-{tag}",
        topic_restricted=f"restricted-{tag}",
        topic_dlq=f"dlq-{tag}",
        max_in_flight=8,
        request_timeout_ms=2_000,
    )
    return replace(base, **changes)


def declarations(count: int, prefix: str = "F") -> list[tuple[bytes, bytes]]:
    """``count`` valid JW323s with distinct ids: (key = sender AGB, value)."""
    out = []
    for i in range(count):
        decl = replace(
            random_declaration(random.Random(5_000 + i), today=TODAY),
            message_id=f"{prefix}{i:05d}",
        )
        out.append((decl.sender.encode(), render(decl)))
    return out


async def produce(cfg: KafkaConfig, messages: list[tuple[bytes, bytes]]) -> None:
    producer = AIOKafkaProducer(bootstrap_servers=cfg.bootstrap, acks="all")
    await producer.start()
    try:
        for key, value in messages:
            await producer.send_and_wait(cfg.topic_in, value, key=key)
    finally:
        await producer.stop()


async def read_values(cfg: KafkaConfig, topic: str) -> list[bytes]:
    """Every value of ``topic``, read to its end."""
    return [r.value or b"" for r in await read_records(cfg.bootstrap, topic)]


def billing_counts(values: list[bytes]) -> Counter[tuple[str, str]]:
    """How often each (message key, line reference) was billed."""
    counts: Counter[tuple[str, str]] = Counter()
    for value in values:
        record = json.loads(value)
        counts[(record["message_key"], record["reference"])] += 1
    return counts


def expected_lines(messages: list[tuple[bytes, bytes]]) -> int:
    return sum(value.count(b"<jw323:Prestatie>") for _, value in messages)


def failures(metrics: Metrics, adapter: str, kind: str) -> float:
    value = metrics.registry.get_sample_value("jwmo_failures_total", {"adapter": adapter, "kind": kind})
    return value or 0.0


@contextmanager
def unraisable() -> Iterator[list[str]]:
    """Collect what the garbage collector reports as unraisable (e.g. a Kafka client left unclosed by the
    gateway during a fault) instead of letting it surface in whichever later test happens to run."""
    seen: list[str] = []
    previous = sys.unraisablehook

    def hook(info: Any) -> None:
        seen.append(f"{type(info.exc_value).__name__}: {info.exc_value}")

    sys.unraisablehook = hook
    try:
        yield seen
    finally:
        gc.collect()
        sys.unraisablehook = previous


@contextmanager
def captured_logs() -> Iterator[io.StringIO]:
    """The gateway's JSON log lines (and aiokafka's own lines) into a buffer for the test's duration."""
    stream = io.StringIO()
    saved = structlog.get_config()
    root = logging.getLogger()
    saved_handlers, saved_level = root.handlers[:], root.level
    configure_logging("INFO", stream=stream)
    try:
        yield stream
    finally:
        structlog.configure(**saved)
        root.handlers[:] = saved_handlers
        root.setLevel(saved_level)


def json_events(stream: io.StringIO) -> list[dict[str, Any]]:
    return [json.loads(line) for line in stream.getvalue().splitlines() if line.startswith("{")]


@dataclass
class FaultWindow:
    """Switches the proxy to ``mode`` when the pipeline reaches message ``at`` and back after ``seconds``.

    Restoring resets every connection first (``down`` for a moment), as a healed partition does; so a
    client that waits on a connection whose answers were lost notices at once.
    """

    proxy: FaultProxy
    mode: Mode
    at: int
    seconds: float
    seen: int = 0
    opened: bool = False

    def __post_init__(self) -> None:
        self.closed = threading.Event()
        self._lock = threading.Lock()

    def tick(self) -> None:
        with self._lock:
            self.seen += 1
            if self.seen != self.at:
                return
            self.opened = True
        self.proxy.set_mode(self.mode)
        timer = threading.Timer(self.seconds, self._restore)
        timer.daemon = True
        timer.start()

    def _restore(self) -> None:
        self.proxy.set_mode("down")
        self.proxy.set_mode("pass")
        self.closed.set()


def pipeline_with(hook: Callable[[], None]) -> Callable[[bytes, str], Outcome]:
    env = environment()

    def run(data: bytes, source: str) -> Outcome:
        hook()
        return process(data, source, env)

    return run


async def run_worker(
    cfg: KafkaConfig,
    run: Callable[[bytes, str], Outcome],
    until: Callable[[KafkaWorker], bool],
    *,
    metrics: Metrics | None = None,
    timeout: float = 90.0,
) -> KafkaWorker:
    """Run a worker until ``until(worker)`` holds (checked every 0.2 s, at most ``timeout`` s); stop it."""
    env = environment()
    worker = KafkaWorker(
        cfg,
        ThreadPoolExecutor(1),
        metrics=metrics or Metrics(),
        run=run,
        refuse=lambda data, source: refuse_duplicate(data, source, env),
    )
    task = asyncio.create_task(worker.run_forever())
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    try:
        while not until(worker) and loop.time() < deadline and not task.done():
            await asyncio.sleep(0.2)
    finally:
        worker.stop()
        await asyncio.wait_for(task, timeout=60)
    return worker
