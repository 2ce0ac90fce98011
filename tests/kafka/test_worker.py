"""The Kafka worker against a real broker: outputs, de-duplication, DLQ references, commits, shutdown."""

from __future__ import annotations

import asyncio
import json
import random
import uuid
from concurrent.futures import ThreadPoolExecutor
from dataclasses import replace

import pytest
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, TopicPartition

from gateway.pipeline import Environment, Outcome, process
from gateway.service.kafka import KafkaConfig, KafkaWorker, ensure_topics
from gateway.testing.broker import TansuBroker
from gateway.testing.builders import random_declaration, render
from gateway.validation import Validator
from tests.helpers import TODAY
from tests.topics import read_records

ENV = Environment(Validator(), TODAY)


def run_here(data: bytes, source: str) -> Outcome:
    """The pipeline in a worker thread (the production worker uses a process pool; same function)."""
    return process(data, source, ENV)


def config(broker: TansuBroker) -> KafkaConfig:
    """Fresh topic names per test, so tests do not see each other's records."""
    tag = uuid.uuid4().hex[:8]
    return KafkaConfig(
        bootstrap=broker.bootstrap,
        group_id=f"g-{tag}",
        topic_in=f"in-{tag}",
        topic_billing=f"billing-{tag}",
        topic_retour=f"retour-{tag}",
        topic_restricted=f"restricted-{tag}",
        topic_dlq=f"dlq-{tag}",
        max_in_flight=16,
    )


async def produce(cfg: KafkaConfig, messages: list[tuple[bytes, bytes]]) -> None:
    producer = AIOKafkaProducer(bootstrap_servers=cfg.bootstrap, acks="all")
    await producer.start()
    try:
        for key, value in messages:
            await producer.send_and_wait(cfg.topic_in, value, key=key)
    finally:
        await producer.stop()


async def read_all(cfg: KafkaConfig, topic: str) -> list[tuple[bytes | None, bytes]]:
    """(key, value) of every record of ``topic``, read to its end."""
    return [(r.key, r.value or b"") for r in await read_records(cfg.bootstrap, topic)]


async def committed(cfg: KafkaConfig) -> int:
    consumer = AIOKafkaConsumer(
        bootstrap_servers=cfg.bootstrap, group_id=cfg.group_id, enable_auto_commit=False
    )
    await consumer.start()
    try:
        total = 0
        for p in consumer.partitions_for_topic(cfg.topic_in) or set():
            offset = await consumer.committed(TopicPartition(cfg.topic_in, p))
            total += offset or 0
        return total
    finally:
        await consumer.stop()


async def run_until(worker: KafkaWorker, count: int, timeout: float = 60.0) -> None:
    task = asyncio.create_task(worker.run_forever())
    deadline = asyncio.get_running_loop().time() + timeout
    while worker.processed < count:
        if task.done():
            task.result()
        if asyncio.get_running_loop().time() > deadline:
            worker.stop()
            await task
            pytest.fail(f"processed {worker.processed} of {count} within {timeout} s")
        await asyncio.sleep(0.1)
    worker.stop()
    await asyncio.wait_for(task, timeout=30)


def declarations(n: int) -> list[tuple[bytes, bytes]]:
    out = []
    for i in range(n):
        decl = random_declaration(random.Random(i), today=TODAY)
        decl = replace(decl, message_id=f"K{i:06d}")
        out.append((decl.sender.encode(), render(decl)))
    return out


def test_outputs_dlq_and_commits(broker: TansuBroker) -> None:
    """Every record is answered or referenced on the DLQ, duplicates once, offsets committed after."""

    async def scenario() -> None:
        cfg = config(broker)
        await ensure_topics(cfg)
        valid = declarations(6)
        broken_total = render(
            replace(random_declaration(random.Random(99), today=TODAY), message_id="K-BAD", total=(1, "D"))
        )
        unreadable = b"<not xml"
        schema_bad = render(random_declaration(random.Random(98), today=TODAY)).replace(
            b"<ijw:DebetCredit>D<", b"<ijw:DebetCredit>X<", 1
        )
        messages = [
            *valid,
            (b"12345678", broken_total),
            (b"x", unreadable),
            (b"y", schema_bad),
            valid[0],
            valid[1],
        ]
        await produce(cfg, messages)
        worker = KafkaWorker(cfg, ThreadPoolExecutor(2), run=run_here)
        await run_until(worker, len(messages))
        retour = await read_all(cfg, cfg.topic_retour)
        dlq = await read_all(cfg, cfg.topic_dlq)
        # 6 valid + 1 rule-invalid answered once each; the two redeliveries produce nothing.
        assert len(retour) == 7
        assert len({v for _, v in retour}) == 7
        assert all(v.startswith(b"<?xml") for _, v in retour)
        refs = [json.loads(v) for _, v in dlq]
        assert sorted(r["stage"] for r in refs) == ["schema", "transport"]
        for _, value in dlq:  # references only: no body, no BSN
            assert b"<" not in value
            assert b"Bsn" not in value
        assert await committed(cfg) == len(messages)

    asyncio.run(scenario())


def test_poison_message_goes_to_dlq_and_does_not_stall(broker: TansuBroker) -> None:
    """A record the pipeline itself fails on becomes a DLQ reference; the records after it are processed."""

    def flaky(data: bytes, source: str) -> Outcome:
        if data == b"POISON":
            raise RuntimeError("simulated pipeline failure")
        return run_here(data, source)

    async def scenario() -> None:
        cfg = config(broker)
        await ensure_topics(cfg)
        valid = declarations(3)
        await produce(cfg, [valid[0], (b"p", b"POISON"), valid[1], valid[2]])
        worker = KafkaWorker(cfg, ThreadPoolExecutor(1), run=flaky)
        await run_until(worker, 4)
        dlq = [json.loads(v) for _, v in await read_all(cfg, cfg.topic_dlq)]
        assert [r["codes"] for r in dlq] == [["INTERNAL"]]
        assert len(await read_all(cfg, cfg.topic_retour)) == 3
        assert await committed(cfg) == 4

    asyncio.run(scenario())
