"""Broker outages through the fault proxy (issue item 3; checklist 22): the broker and its data stay up,
the path to it fails (clarifications 21).

* ``down``: every connection reset, new ones refused, for four seconds while the worker hands over;
* ``drop_replies``: requests reach the broker but its acknowledgements are lost (then the partition heals
  with a connection reset): the write happened, the gateway does not know it.

Oracle (Kafka's ``validate_delivery``): every message consumed is billed (nothing lost), no line is billed
twice, every offset is committed, the fault is visible in ``jwmo_failures_total`` and in the JSON log.
For HTTP: a 503 with Retry-After while the broker is unreachable, never a 200; after the outage the
sender's retry is accepted and billed once.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

import gateway.service.kafka as kafka_module
from gateway.config import Settings
from gateway.service.kafka import KafkaConfig, KafkaHandover, _producer, ensure_topics
from gateway.service.metrics import Metrics
from gateway.service.produce_once import produce_once
from tests.faults.conftest import ProxiedBroker
from tests.faults.kafka import (
    FaultWindow,
    billing_counts,
    captured_logs,
    committed,
    declarations,
    expected_lines,
    failures,
    json_events,
    kafka_config,
    pipeline_with,
    produce,
    read_values,
    run_worker,
    unraisable,
)
from tests.security.common import leaks, minimiser_factory
from tests.security.tally import figure, record
from tests.service.test_http import XML, config_for, serving

MESSAGES = 48


@dataclass
class WorkerRun:
    """What one worker run under a fault left behind."""

    sent: list[tuple[bytes, bytes]]
    counts: dict[tuple[str, str], int]
    committed: int
    produce_failures: float
    events: list[dict[str, Any]]
    log_text: str
    window: FaultWindow
    unclosed: list[str]  # clients the gateway left unclosed (reported by the garbage collector)


def worker_under_fault(broker: ProxiedBroker, mode: str, seconds: float) -> WorkerRun:
    cfg = kafka_config(broker.bootstrap)
    sent = declarations(MESSAGES, prefix=mode[:2].upper())
    asyncio.run(ensure_topics(cfg))
    asyncio.run(produce(cfg, sent))
    window = FaultWindow(broker.proxy, mode, at=17, seconds=seconds)  # type: ignore[arg-type]
    metrics = Metrics()
    with unraisable() as unclosed, captured_logs() as logs:
        asyncio.run(
            run_worker(
                cfg,
                pipeline_with(window.tick),
                lambda w: w.processed >= MESSAGES,
                metrics=metrics,
                timeout=120,
            )
        )
    assert window.opened
    assert window.closed.wait(timeout=30)
    return WorkerRun(
        sent=sent,
        counts=dict(billing_counts(asyncio.run(read_values(cfg, cfg.topic_billing)))),
        committed=asyncio.run(committed(cfg)),
        produce_failures=failures(metrics, "kafka", "produce"),
        events=json_events(logs),
        log_text=logs.getvalue(),
        window=window,
        unclosed=unclosed,
    )


def assert_nothing_lost(run: WorkerRun) -> None:
    billed_messages = {key for key, _ in run.counts}
    assert len(billed_messages) == len(run.sent), f"{len(run.sent) - len(billed_messages)} messages lost"
    assert len(run.counts) == expected_lines(run.sent)  # every line of every message
    assert run.committed == len(run.sent)


def assert_visible(run: WorkerRun) -> None:
    assert run.produce_failures >= 1
    retries = [e for e in run.events if e.get("event") == "handover_retry"]
    assert retries
    assert all(e["level"] == "warning" and e["error"] for e in retries)
    assert leaks(run.log_text) == []


def test_worker_rides_out_a_broker_outage(broker_path: ProxiedBroker) -> None:
    """Connections reset and refused for 4 s while the worker hands over: afterwards every message is
    billed exactly once, every offset committed, and the outage shows in the metrics and the log."""
    resets_before = broker_path.proxy.stats.reset
    started = time.monotonic()
    run = worker_under_fault(broker_path, "down", 4.0)
    assert broker_path.proxy.stats.reset > resets_before  # the fault really cut connections
    assert_nothing_lost(run)
    assert max(run.counts.values()) == 1
    assert_visible(run)
    record("fault.kafka.broker_down")
    record("fault.messages_lost", 0)
    record("fault.billed_twice", 0)
    figure("fault.kafka.broker_down.seconds", time.monotonic() - started)
    figure("fault.kafka.broker_down.produce_failures", run.produce_failures)


@pytest.fixture(scope="module")
def lost_acks(proxied_broker: ProxiedBroker) -> WorkerRun:
    """One run with the broker's answers lost for 4 s (shared by the tests below)."""
    proxied_broker.proxy.set_mode("pass")
    try:
        return worker_under_fault(proxied_broker, "drop_replies", 4.0)
    finally:
        proxied_broker.proxy.set_mode("pass")


def test_lost_acknowledgements_lose_nothing(lost_acks: WorkerRun) -> None:
    """Acknowledgements lost for 4 s: the worker retries and commits only after the acks; nothing is lost
    and the fault is visible."""
    assert lost_acks.window.proxy.stats.dropped_replies > 0
    assert_nothing_lost(lost_acks)
    assert_visible(lost_acks)
    record("fault.kafka.lost_acks")
    record("fault.messages_lost", 0)
    twice = sum(1 for count in lost_acks.counts.values() if count > 1)
    figure("fault.kafka.lost_acks.lines_billed_twice", twice)


def test_lost_acknowledgements_bill_nothing_twice(lost_acks: WorkerRun) -> None:
    """The retry after lost acknowledgements bills no line a second time: the worker read the billing
    tail back before retrying and sent only what was missing."""
    assert max(lost_acks.counts.values()) == 1
    tail_reads = [e for e in lost_acks.events if e.get("event") == "billing_tail_read"]
    assert len(tail_reads) >= 2  # at the start, and after the failed hand-over
    record("fault.billed_twice", 0)


@pytest.fixture(scope="module")
def reset_replies(proxied_broker: ProxiedBroker) -> WorkerRun:
    """One run where every answer of the broker breaks the connection for 3 s: the writes happen, and
    the producer sees a broken connection while its batches are young (when aiokafka would re-send)."""
    proxied_broker.proxy.set_mode("pass")
    try:
        return worker_under_fault(proxied_broker, "reset_replies", 3.0)
    finally:
        proxied_broker.proxy.set_mode("pass")


def test_broken_connections_after_writes_bill_nothing_twice(reset_replies: WorkerRun) -> None:
    """Connections broken right after the broker wrote: nothing lost, no line twice (the producer does
    not re-send a batch that may have been written; the hand-over reads back and sends what is missing),
    and the fault is visible."""
    assert reset_replies.window.proxy.stats.dropped_replies > 0
    assert_nothing_lost(reset_replies)
    assert max(reset_replies.counts.values()) == 1
    assert_visible(reset_replies)
    assert reset_replies.unclosed == []
    record("fault.kafka.reset_replies")
    record("fault.messages_lost", 0)
    record("fault.billed_twice", 0)


def test_without_the_resend_guard_the_same_fault_bills_twice(proxied_broker: ProxiedBroker) -> None:
    """Control: the fault above is one that bills twice unless guarded. With aiokafka's own re-send
    left in place, lines written before the connection broke are written again."""
    proxied_broker.proxy.set_mode("pass")
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(kafka_module, "produce_once", lambda _producer: True)
        try:
            run = worker_under_fault(proxied_broker, "reset_replies", 3.0)
        finally:
            proxied_broker.proxy.set_mode("pass")
    assert_nothing_lost(run)
    twice = sum(1 for count in run.counts.values() if count > 1)
    assert twice > 0
    figure("fault.kafka.reset_replies.unguarded_lines_billed_twice", twice)


def test_the_resend_guard_is_installed() -> None:
    """The gateway's producer carries the guard (this aiokafka has the internals it needs)."""

    async def check() -> tuple[str, bool]:
        producer = _producer(kafka_config("127.0.0.1:9"))
        try:
            return type(producer._sender).__name__, produce_once(producer)
        finally:
            await producer.stop()

    name, again = asyncio.run(check())
    assert name == "_OnceSender"
    assert not again  # once only: a guarded sender is not wrapped again


def test_refresh_during_an_outage_leaves_no_client_open(lost_acks: WorkerRun) -> None:
    """Every Kafka client the worker opened while the broker was unreachable is closed again."""
    assert lost_acks.unclosed == []


# ---- HTTP with the Kafka handover ---------------------------------------------------------------


def kafka_factory(cfg: KafkaConfig) -> Callable[[Settings], Awaitable[KafkaHandover]]:
    """The HTTP service's Kafka handover (the gateway's producer settings) on the test's topics."""

    async def make(_settings: Settings) -> KafkaHandover:
        await ensure_topics(cfg)
        producer = _producer(cfg)
        await producer.start()
        return KafkaHandover(cfg, producer)

    return make


@dataclass
class HttpRun:
    statuses: list[int]
    during: dict[str, Any]
    seconds_to_503: float
    counts: dict[tuple[str, str], int]
    failures: float
    sent: list[tuple[bytes, bytes]]


def http_under_fault(broker: ProxiedBroker, tmp_path: Path, mode: str) -> HttpRun:
    cfg = kafka_config(broker.bootstrap)
    sent = declarations(3, prefix="H" + mode[:1].upper())
    config = config_for(tmp_path, handover_factory=kafka_factory(cfg), minimiser_factory=minimiser_factory)
    out: dict[str, Any] = {"statuses": []}

    async def scenario() -> None:
        async with serving(config) as client:
            metrics = client.app.state.service.metrics  # type: ignore[attr-defined]
            first = await client.post("/v1/declarations", content=sent[0][1], headers=XML)
            out["statuses"].append(first.status_code)
            broker.proxy.set_mode(mode)  # type: ignore[arg-type]
            started = time.monotonic()
            during = await client.post("/v1/declarations", content=sent[1][1], headers=XML)
            out["seconds"] = time.monotonic() - started
            out["statuses"].append(during.status_code)
            out["during"] = {"headers": dict(during.headers), "body": during.json()}
            broker.proxy.set_mode("down")  # the partition heals with a reset
            broker.proxy.set_mode("pass")
            for body in (sent[1][1], sent[2][1]):  # the sender retries; the next message follows
                answer = await client.post("/v1/declarations", content=body, headers=XML)
                out["statuses"].append(answer.status_code)
            out["failures"] = metrics.registry.get_sample_value(
                "jwmo_failures_total", {"adapter": "http", "kind": "handover"}
            )

    with unraisable():
        asyncio.run(asyncio.wait_for(scenario(), timeout=60))
    return HttpRun(
        statuses=out["statuses"],
        during=out["during"],
        seconds_to_503=out["seconds"],
        counts=dict(billing_counts(asyncio.run(read_values(cfg, cfg.topic_billing)))),
        failures=out["failures"] or 0.0,
        sent=sent,
    )


def test_http_answers_503_while_the_broker_is_down_and_bills_the_retry_once(
    broker_path: ProxiedBroker, tmp_path: Path
) -> None:
    """Checklist 22: broker unreachable: 503 HANDOVER_FAILED with Retry-After within the producer timeout,
    never 200; after the outage the retry gets 200 and every message is billed exactly once."""
    run = http_under_fault(broker_path, tmp_path, "down")
    assert run.statuses == [200, 503, 200, 200]
    assert run.during["body"]["code"] == "HANDOVER_FAILED"
    assert run.during["headers"]["retry-after"] == "5"
    assert run.seconds_to_503 < 10
    assert run.failures >= 1
    assert len({key for key, _ in run.counts}) == 3  # nothing lost
    assert max(run.counts.values()) == 1  # nothing twice
    assert len(run.counts) == expected_lines(run.sent)
    record("fault.http.broker_down")
    record("fault.messages_lost", 0)
    record("fault.billed_twice", 0)
    figure("fault.http.broker_down.seconds_to_503", run.seconds_to_503)


@pytest.fixture
def http_lost_acks(broker_path: ProxiedBroker, tmp_path: Path) -> HttpRun:
    return http_under_fault(broker_path, tmp_path, "drop_replies")


def test_http_retry_after_lost_acknowledgements_bills_once(http_lost_acks: HttpRun) -> None:
    """Lost acks during a POST: 503 (never 200), nothing lost, and the sender's retry bills nothing twice."""
    assert http_lost_acks.statuses == [200, 503, 200, 200]
    assert len({key for key, _ in http_lost_acks.counts}) == 3
    assert max(http_lost_acks.counts.values()) == 1
    assert len(http_lost_acks.counts) == expected_lines(http_lost_acks.sent)
    record("fault.http.lost_acks")
    record("fault.messages_lost", 0)
    record("fault.billed_twice", 0)
