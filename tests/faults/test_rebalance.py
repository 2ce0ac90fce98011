"""A second worker joins the consumer group while the first is mid-stream (checklist 26): the group
rebalances, nothing is lost or billed twice, every offset is committed, neither worker dies (no unhandled
``CommitFailedError``)."""

from __future__ import annotations

import asyncio
import time
from concurrent.futures import ThreadPoolExecutor

import pytest

from gateway.service.kafka import KafkaWorker, _Rebalance, ensure_topics
from gateway.service.metrics import Metrics
from tests.faults.conftest import ProxiedBroker
from tests.faults.kafka import (
    billing_counts,
    captured_logs,
    committed,
    declarations,
    expected_lines,
    json_events,
    kafka_config,
    pipeline_with,
    produce,
    read_values,
    unraisable,
)
from tests.security.tally import figure, record

MESSAGES = 60


@pytest.mark.slow
def test_second_worker_joining_mid_stream_loses_nothing(broker_path: ProxiedBroker) -> None:
    """Worker A processes 60 messages (20 ms each); after 15 a worker B joins the same group. Both keep
    running, the group rebalances (the billed-key set is rebuilt), every message is billed and every
    offset committed."""
    cfg = kafka_config(broker_path.bootstrap, max_in_flight=4)
    sent = declarations(MESSAGES, prefix="B")
    asyncio.run(ensure_topics(cfg))
    asyncio.run(produce(cfg, sent))
    run = pipeline_with(lambda: time.sleep(0.02))

    async def scenario() -> tuple[int, int]:
        a = KafkaWorker(cfg, ThreadPoolExecutor(1), metrics=Metrics(), run=run)
        b = KafkaWorker(cfg, ThreadPoolExecutor(1), metrics=Metrics(), run=run)
        task_a = asyncio.create_task(a.run_forever())
        task_b: asyncio.Task[None] | None = None
        loop = asyncio.get_running_loop()
        deadline = loop.time() + 120
        try:
            while loop.time() < deadline:
                assert not task_a.done(), "worker A stopped"
                if task_b is None and a.processed >= 15:
                    task_b = asyncio.create_task(b.run_forever())
                if task_b is not None:
                    assert not task_b.done(), "worker B stopped"
                if a.processed + b.processed >= MESSAGES and await committed(cfg) >= MESSAGES:
                    break
                await asyncio.sleep(0.3)
        finally:
            a.stop()
            b.stop()
            await asyncio.wait_for(asyncio.gather(task_a, *([task_b] if task_b else [])), timeout=60)
        return a.processed, b.processed

    with unraisable(), captured_logs() as logs:
        processed_a, processed_b = asyncio.run(scenario())
    counts = billing_counts(asyncio.run(read_values(cfg, cfg.topic_billing)))
    assert len({key for key, _ in counts}) == MESSAGES  # nothing lost
    assert len(counts) == expected_lines(sent)
    assert asyncio.run(committed(cfg)) == MESSAGES
    assert max(counts.values()) == 1  # nothing twice
    rebuilds = [e for e in json_events(logs) if e.get("event") == "billing_tail_read"]
    assert len(rebuilds) >= 2  # A at start, and again when the group rebalanced (A and/or B)
    record("fault.kafka.rebalance")
    record("fault.messages_lost", 0)
    figure("fault.kafka.rebalance.processed_by_a", processed_a)
    figure("fault.kafka.rebalance.processed_by_b", processed_b)
    record("fault.billed_twice", 0)


def test_revocation_waits_for_the_batch_in_flight() -> None:
    """Partitions are given up only after the batch in flight was handed over and committed: the
    revocation callback waits for the worker's hand-over lock (so the next owner never reads the billing
    tail while this worker still writes to it)."""

    async def scenario() -> tuple[bool, bool]:
        with ThreadPoolExecutor(1) as pool:
            worker = KafkaWorker(kafka_config("127.0.0.1:9"), pool)
            listener = _Rebalance(worker)
            await worker.handling.acquire()  # a batch is being handed over
            revoking = asyncio.create_task(listener.on_partitions_revoked(set()))
            await asyncio.sleep(0.2)
            waited = not revoking.done()
            worker.handling.release()  # handed over and committed
            await asyncio.wait_for(revoking, timeout=5)
            return waited, revoking.done()

    waited, finished = asyncio.run(scenario())
    assert waited
    assert finished
