"""The worker's commit discipline under out-of-order completion (checklist 25), with fakes around the real
``KafkaWorker._handle``: pipeline results finish in any order (random delays in a thread pool), handovers
may fail transiently (a KafkaError, retried) or for good (anything else).

Properties (Hypothesis, bounded): outputs are handed over in offset order per partition; the offsets are
committed once, after the handover of the whole batch, as last offset + 1 per partition; a failed batch
commits nothing (it will be redelivered: at-least-once, de-duplicated downstream); each retry is counted
and preceded by a refresh of the billed-key set.
"""

from __future__ import annotations

import asyncio
import random
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any

import pytest
from aiokafka import ConsumerRecord, TopicPartition
from aiokafka.errors import KafkaConnectionError
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from gateway.pipeline import Minimised, Outcome
from gateway.results import Verdict
from gateway.service.kafka import Handed, KafkaConfig, KafkaWorker
from gateway.service.metrics import Metrics
from tests.security.tally import record

TOPIC = "declarations.in"


@dataclass
class FakeConsumer:
    """Records commits together with how many handovers had happened by then."""

    handovers: list[str]
    commits: list[tuple[dict[TopicPartition, int], int]] = field(default_factory=list)

    async def commit(self, offsets: dict[TopicPartition, int]) -> None:
        self.commits.append((dict(offsets), len(self.handovers)))


@dataclass
class FakeHandover:
    """Hands over a batch instantly, in the order given; the batch fails ``transient`` times with a
    KafkaError first, or for good with another exception when ``fatal``."""

    handovers: list[str]
    transient: int
    fatal: bool
    calls: int = 0

    async def hand_over_batch(self, items: list[tuple[Outcome, str]]) -> Handed:
        self.calls += 1
        if self.fatal:
            raise RuntimeError("the outbox is gone")
        if self.transient > 0:
            self.transient -= 1
            raise KafkaConnectionError()
        self.handovers.extend(origin for _, origin in items)
        return Handed(len(items))


def outcome_for(source: str) -> Outcome:
    return Outcome(Verdict(source, "JW323", True, None), ("12345678", "490", source), None, Minimised())


Batch = dict[TopicPartition, list[ConsumerRecord[bytes, bytes]]]


def make_batch(sizes: list[int], first_offsets: list[int]) -> Batch:
    batch: Batch = {}
    for partition, (size, first) in enumerate(zip(sizes, first_offsets, strict=True)):
        if size:
            batch[TopicPartition(TOPIC, partition)] = [
                ConsumerRecord(TOPIC, partition, first + i, 0, 0, None, b"x", None, 0, 1, ())
                for i in range(size)
            ]
    return batch


async def handle(
    batch: Batch,
    delays: dict[str, float],
    transient: int,
    fatal: bool,
) -> tuple[FakeConsumer, FakeHandover, Metrics, BaseException | None]:
    handovers: list[str] = []
    metrics = Metrics()

    def run(data: bytes, source: str) -> Outcome:
        time.sleep(delays.get(source, 0.0))  # results complete out of order
        return outcome_for(source)

    with ThreadPoolExecutor(4) as pool:
        worker = KafkaWorker(KafkaConfig(bootstrap="unused:0"), pool, metrics=metrics, run=run)
        consumer = FakeConsumer(handovers)
        handover = FakeHandover(handovers, transient, fatal)
        worker.consumer = consumer
        worker.handover = handover  # type: ignore[assignment]
        failure: BaseException | None = None
        original_sleep = asyncio.sleep

        async def no_wait(_seconds: float, *args: Any) -> Any:  # the retry back-off, without waiting
            return await original_sleep(0)

        asyncio.sleep = no_wait  # type: ignore[assignment]
        try:
            await worker._handle(batch)
        except RuntimeError as exc:
            failure = exc
        finally:
            asyncio.sleep = original_sleep
    return consumer, handover, metrics, failure


batches = st.tuples(
    st.lists(st.integers(0, 6), min_size=1, max_size=3).filter(any),
    st.lists(st.integers(0, 1_000), min_size=3, max_size=3),
)


@settings(max_examples=120, deadline=timedelta(seconds=5), suppress_health_check=[HealthCheck.too_slow])
@given(shape=batches, seed=st.integers(0, 2**32 - 1), data=st.data())
def test_commit_follows_every_handover_in_offset_order(
    shape: tuple[list[int], list[int]], seed: int, data: st.DataObject
) -> None:
    """Random completion order and transient failures: handovers in offset order, one commit after all
    of them with last offset + 1 per partition, a failure counted per retry; a fatal one commits nothing."""
    sizes, firsts = shape
    batch = make_batch(sizes, firsts[: len(sizes)])
    records = [r for tp in sorted(batch, key=lambda t: t.partition) for r in batch[tp]]
    rng = random.Random(seed)
    delays = {f"kafka:{TOPIC}/{r.partition}/{r.offset}": rng.random() * 0.004 for r in records}
    transient = data.draw(st.integers(0, 3))
    fatal = data.draw(st.booleans())
    consumer, handover, metrics, failure = asyncio.run(handle(batch, delays, transient, fatal))
    expected_order = [f"{TOPIC}/{r.partition}/{r.offset}" for r in records]
    retries = (
        metrics.registry.get_sample_value("jwmo_failures_total", {"adapter": "kafka", "kind": "produce"}) or 0
    )
    if not fatal:
        assert failure is None
        assert handover.handovers == expected_order
        assert consumer.commits == [({tp: rs[-1].offset + 1 for tp, rs in batch.items()}, len(records))]
        assert retries == transient
        assert handover.calls == transient + 1
    else:
        assert isinstance(failure, RuntimeError)
        assert handover.handovers == []
        assert consumer.commits == []  # nothing committed: the batch is redelivered
        assert retries == 0
    record("fault.kafka.watermark_batches")


def test_fakes_behave() -> None:
    """Control: the fake handover fails as told and the fake consumer records commits."""
    handover = FakeHandover([], 1, fatal=False)
    with pytest.raises(KafkaConnectionError):
        asyncio.run(handover.hand_over_batch([(outcome_for("a"), "a")]))
    assert asyncio.run(handover.hand_over_batch([(outcome_for("a"), "a")])) == Handed(1)
    consumer = FakeConsumer(handover.handovers)
    asyncio.run(consumer.commit({TopicPartition(TOPIC, 0): 5}))
    assert consumer.commits == [({TopicPartition(TOPIC, 0): 5}, 1)]
