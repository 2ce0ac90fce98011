"""Duplicate deliveries (issue item 3): the same message produced several times is billed and answered
once (de-duplication on Afzender, BerichtCode, Identificatie; clarifications 20) - within a run, and after
a worker restart, when the billed-key set is rebuilt from the tail of ``billing.records``.
"""

from __future__ import annotations

import asyncio
import json
import random
from collections.abc import AsyncIterator, Callable

import pytest
from aiokafka import AIOKafkaProducer

import gateway.service.kafka as kafka_module
from gateway.pipeline import process
from gateway.service.kafka import KafkaConfig, KafkaHandover, _producer, ensure_topics
from gateway.service.metrics import Metrics
from tests.faults.conftest import ProxiedBroker
from tests.faults.kafka import (
    billing_counts,
    committed,
    declarations,
    expected_lines,
    kafka_config,
    pipeline_with,
    produce,
    read_values,
    run_worker,
)
from tests.security.common import environment
from tests.security.tally import record

DISTINCT = 12
COPIES = 3


def duplicates(metrics: Metrics) -> float:
    return metrics.registry.get_sample_value("jwmo_duplicates_total", {"adapter": "kafka"}) or 0.0


def test_repeated_deliveries_in_one_run_are_billed_and_answered_once(broker_path: ProxiedBroker) -> None:
    """12 messages, each produced 3 times in shuffled order (same and different batches): 12 answers,
    every line billed once, every redelivery counted as a duplicate, every offset committed."""
    cfg = kafka_config(broker_path.bootstrap, max_in_flight=5)
    originals = declarations(DISTINCT, prefix="D")
    deliveries = [m for m in originals for _ in range(COPIES)]
    random.Random(7).shuffle(deliveries)
    asyncio.run(ensure_topics(cfg))
    asyncio.run(produce(cfg, deliveries))
    metrics = Metrics()
    total = len(deliveries)
    asyncio.run(run_worker(cfg, pipeline_with(lambda: None), lambda w: w.processed >= total, metrics=metrics))
    assert duplicates(metrics) == total - DISTINCT
    counts = billing_counts(asyncio.run(read_values(cfg, cfg.topic_billing)))
    assert len({key for key, _ in counts}) == DISTINCT
    assert sum(counts.values()) == expected_lines(originals)
    assert max(counts.values()) == 1
    assert len(asyncio.run(read_values(cfg, cfg.topic_retour))) == DISTINCT
    assert asyncio.run(committed(cfg)) == total
    record("fault.kafka.duplicate_deliveries", total - DISTINCT)
    record("fault.billed_twice", 0)


async def hand_over_earlier(cfg: KafkaConfig, messages: list[tuple[bytes, bytes]]) -> None:
    """What a previous worker did before it died between producing and committing: every output of the
    messages handed over (by the gateway's own handover), their offsets never committed."""
    producer = _producer(cfg)
    await producer.start()
    handover = KafkaHandover(cfg, producer)
    try:
        for i, (_, value) in enumerate(messages):
            assert await handover.hand_over(process(value, f"earlier/{i}", environment()), f"earlier/{i}")
    finally:
        await producer.stop()


def slow_tail(seconds: float) -> Callable[[KafkaConfig], AsyncIterator[tuple[str, str, str]]]:
    """``billed_lines`` as it behaves with a long billing tail: the same lines, ``seconds`` later."""

    real = kafka_module.billed_lines

    async def billed(config: KafkaConfig) -> AsyncIterator[tuple[str, str, str]]:
        await asyncio.sleep(seconds)
        async for line in real(config):
            yield line

    return billed


@pytest.fixture(scope="module")
def restart_run(proxied_broker: ProxiedBroker) -> dict[str, object]:
    """12 messages fully handed over by a worker that then died before committing; a new worker consumes
    them from the start (redelivery) while reading the billing tail takes a second (the time a tail of
    some 100,000 records takes; the default dedup_tail is 100,000 per partition)."""
    proxied_broker.proxy.set_mode("pass")
    cfg = kafka_config(proxied_broker.bootstrap, max_in_flight=12)
    originals = declarations(DISTINCT, prefix="R")
    asyncio.run(ensure_topics(cfg))
    asyncio.run(hand_over_earlier(cfg, originals))
    asyncio.run(produce(cfg, originals))
    restarted = Metrics()
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(kafka_module, "billed_lines", slow_tail(1.0))
        asyncio.run(
            run_worker(cfg, pipeline_with(lambda: None), lambda w: w.processed >= DISTINCT, metrics=restarted)
        )
    values = asyncio.run(read_values(cfg, cfg.topic_billing))
    return {
        "counts": billing_counts(values),
        "duplicates": duplicates(restarted),
        "committed": asyncio.run(committed(cfg)),
        "lines": expected_lines(originals),
    }


def test_redelivery_after_a_restart_loses_nothing(restart_run: dict[str, object]) -> None:
    """After the restart every message is still billed (nothing lost) and every offset committed."""
    counts = restart_run["counts"]
    assert isinstance(counts, dict)
    assert len({key for key, _ in counts}) == DISTINCT
    assert len(counts) == restart_run["lines"]
    assert restart_run["committed"] == DISTINCT
    record("fault.kafka.restart_redelivery", DISTINCT)
    record("fault.messages_lost", 0)


def test_redelivery_after_a_restart_bills_nothing_twice(restart_run: dict[str, object]) -> None:
    """The restarted worker recognises every redelivered message as billed: no line twice."""
    counts = restart_run["counts"]
    assert isinstance(counts, dict)
    assert max(counts.values()) == 1
    assert restart_run["duplicates"] == DISTINCT


def test_conflicting_duplicate_is_refused_also_after_a_restart(broker_path: ProxiedBroker) -> None:
    """Same Identificatie, other content (checklist 21): refused with a 9056 answer and never billed,
    both in the run that billed the original and in a restarted worker, which knows the original's
    content only from the digest header of its billing records."""
    cfg = kafka_config(broker_path.bootstrap, max_in_flight=4)
    originals = declarations(3, prefix="C")
    sender, first = originals[0]
    changed = (sender, first + b"<!-- changed -->\n")
    asyncio.run(ensure_topics(cfg))
    asyncio.run(produce(cfg, [*originals, changed]))
    before = Metrics()
    asyncio.run(run_worker(cfg, pipeline_with(lambda: None), lambda w: w.processed >= 4, metrics=before))
    asyncio.run(produce(cfg, [changed]))  # sent again, to a worker started afresh
    after = Metrics()
    asyncio.run(run_worker(cfg, pipeline_with(lambda: None), lambda w: w.processed >= 1, metrics=after))
    counts = billing_counts(asyncio.run(read_values(cfg, cfg.topic_billing)))
    assert max(counts.values()) == 1
    assert sum(counts.values()) == expected_lines(originals)
    answers = asyncio.run(read_values(cfg, cfg.topic_retour))
    refusals = [a for a in answers if b"<jw325:RetourCode>9056</jw325:RetourCode>" in a]
    assert (len(answers), len(refusals)) == (5, 2)
    for metrics in (before, after):
        conflicts = metrics.registry.get_sample_value(
            "jwmo_conflicting_duplicates_total", {"adapter": "kafka"}
        )
        assert conflicts == 1
    assert asyncio.run(committed(cfg)) == 5
    record("fault.kafka.conflicting_duplicate", 2)
    record("fault.billed_twice", 0)


def test_billing_records_without_a_digest_count_as_complete(broker_path: ProxiedBroker) -> None:
    """Billing records written before digests were kept (no ``jwmo-digest`` header): the message they
    bill, sent again in the same or in other bytes, is billed nothing more (an upgrade bills nothing
    twice; without a digest a conflicting copy cannot be told from a partial write)."""
    cfg = kafka_config(broker_path.bootstrap)
    (_, value) = declarations(1, prefix="U")[0]
    outcome = process(value, "old", environment())
    assert outcome.minimised.billing

    async def scenario() -> None:
        await ensure_topics(cfg)
        old = AIOKafkaProducer(bootstrap_servers=cfg.bootstrap, acks="all")
        await old.start()
        try:
            key_text = ":".join(outcome.dedup_key)
            for record in outcome.minimised.billing[:-1]:  # as if the last line had been lost, too
                await old.send_and_wait(
                    cfg.topic_billing, json.dumps({"message_key": key_text, **record}).encode()
                )
        finally:
            await old.stop()
        for data in (value, value + b"<!-- other bytes -->\n"):  # each to a gateway started afresh
            producer = _producer(cfg)
            await producer.start()
            try:
                assert await KafkaHandover(cfg, producer).hand_over(process(data, "again", environment()))
            finally:
                await producer.stop()

    asyncio.run(scenario())
    billed = asyncio.run(read_values(cfg, cfg.topic_billing))
    assert len(billed) == len(outcome.minimised.billing) - 1
