"""The Kafka adapter: a consumer group on ``declarations.in`` feeding the pipeline, outputs to four topics.

Delivery is at-least-once from the input to every output, without Kafka transactions (clarifications
item 20):

1. fetch a bounded batch (``max_in_flight`` records: backpressure);
2. run the pipeline on every record in a process pool (CPU work on all cores);
3. hand over each outcome in order: billing records (key ``sender_agb:declaration_number``, each carrying
   its ``message_key``), the answer (``declarations.retour``, key = the provider's AGB), restricted
   originals (``declarations.restricted``), and for a message that could not be read or processed a
   reference (never the body) on ``declarations.dlq``; then wait for every acknowledgement;
4. only then commit the batch's offsets.

De-duplication: the set of message keys already billed is rebuilt from the tail of ``billing.records``
at start-up and after every rebalance, so a redelivered message (a crash between producing and
committing, a rebalance) produces no second billing record. A poison message (the pipeline itself
failing) goes to the DLQ as a reference and never stalls its partition. SIGTERM stops fetching, finishes
the batch in flight, commits and closes.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import signal
from collections import OrderedDict
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from concurrent.futures import Executor, ProcessPoolExecutor
from dataclasses import dataclass, replace
from datetime import date
from multiprocessing import get_context
from pathlib import Path
from typing import Any

from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, ConsumerRecord, TopicPartition
from aiokafka.abc import ConsumerRebalanceListener
from aiokafka.admin import AIOKafkaAdminClient, NewTopic
from aiokafka.errors import KafkaError, TopicAlreadyExistsError

from gateway.batch import validator_for
from gateway.config import Settings
from gateway.logs import get_logger
from gateway.outbox.files import message_key_text
from gateway.pipeline import Environment, Minimised, Minimiser, Outcome, process
from gateway.results import Finding, Stage, Verdict
from gateway.service.metrics import Metrics

__all__ = [
    "KafkaConfig",
    "KafkaHandover",
    "KafkaWorker",
    "billed_keys",
    "config_from_env",
    "ensure_topics",
    "kafka_handover",
    "run_worker",
]

log = get_logger("jwmo.kafka")


@dataclass(frozen=True, slots=True)
class KafkaConfig:
    bootstrap: str
    group_id: str = "jwmo-gateway"
    topic_in: str = "declarations.in"
    topic_billing: str = "billing.records"
    topic_retour: str = "declarations.retour"
    topic_restricted: str = "declarations.restricted"
    topic_dlq: str = "declarations.dlq"
    partitions: int = 2
    max_in_flight: int = 256
    dedup_tail: int = 100_000  # billing records read back per partition at start-up and rebalance
    dedup_memory: int = 1_000_000  # keys remembered while running
    request_timeout_ms: int = 30_000
    fault_exit_before_commit: int = 0  # fault injection: exit hard before committing the Nth batch (0 = off)

    @property
    def output_topics(self) -> tuple[str, ...]:
        return (self.topic_billing, self.topic_retour, self.topic_restricted, self.topic_dlq)


async def ensure_topics(config: KafkaConfig) -> None:
    """Create the five topics if they do not exist (the broker may also be provisioned beforehand)."""
    admin = AIOKafkaAdminClient(bootstrap_servers=config.bootstrap)
    await admin.start()
    try:
        existing = set(await admin.list_topics())
        wanted = [config.topic_in, *config.output_topics]
        missing = [NewTopic(t, config.partitions, 1) for t in wanted if t not in existing]
        if missing:
            with contextlib.suppress(TopicAlreadyExistsError):
                await admin.create_topics(missing)
    finally:
        await admin.close()


def _json(value: Any) -> bytes:
    return json.dumps(value, ensure_ascii=False, separators=(",", ":")).encode()


def dlq_reference(outcome: Outcome, origin: str) -> dict[str, Any]:
    """What the DLQ may carry: where the message was, its key, type, stage and codes. Never the body."""
    verdict = outcome.verdict
    return {
        "message_key": message_key_text(outcome.dedup_key),
        "origin": origin,
        "message_type": verdict.message_type,
        "stage": verdict.stage.value if verdict.stage is not None else None,
        "codes": sorted({e.code for e in verdict.errors}),
    }


class _Keys:
    """A bounded set of message keys (oldest forgotten first)."""

    def __init__(self, limit: int) -> None:
        self._keys: OrderedDict[str, None] = OrderedDict()
        self._limit = limit

    def add(self, key: str) -> None:
        self._keys[key] = None
        self._keys.move_to_end(key)
        while len(self._keys) > self._limit:
            self._keys.popitem(last=False)

    def __contains__(self, key: object) -> bool:
        return key in self._keys

    def clear(self) -> None:
        self._keys.clear()


class KafkaHandover:
    """Produces outcomes' outputs and waits for every acknowledgement (the :class:`Handover` protocol).

    Two sets of message keys: ``billed`` (billing records known to be in billing.records: read back from
    its tail, or acknowledged here) and ``handled`` (every output acknowledged by this process). A key in
    ``handled`` is skipped entirely; a key only in ``billed`` (a redelivery after a crash or rebalance)
    gets its other outputs again (at-least-once) but no second billing record.
    """

    def __init__(
        self, config: KafkaConfig, producer: AIOKafkaProducer, metrics: Metrics | None = None
    ) -> None:
        self.config = config
        self.producer = producer
        self.metrics = metrics
        self._billed = _Keys(config.dedup_memory)
        self._handled = _Keys(config.dedup_memory)

    def remember(self, key_text: str) -> None:
        """Record that the billing records of ``key_text`` are in the billing topic."""
        self._billed.add(key_text)

    def forget_all(self) -> None:
        self._billed.clear()
        self._handled.clear()

    def seen(self, key_text: str) -> bool:
        return key_text in self._handled

    async def _send(self, outcome: Outcome, key_text: str, origin: str) -> list[Awaitable[Any]]:
        """Enqueue every output of one outcome; the futures resolve on acknowledgement."""
        c = self.config
        sends: list[Awaitable[Any]] = []
        if key_text not in self._billed:
            for record in outcome.minimised.billing:
                value = {"message_key": key_text, **record}
                route = f"{record.get('sender_agb', '')}:{record.get('declaration_number', '')}"
                sends.append(await self.producer.send(c.topic_billing, _json(value), key=route.encode()))
        if outcome.answer is not None:
            provider = outcome.dedup_key[0].encode()
            sends.append(await self.producer.send(c.topic_retour, outcome.answer, key=provider))
        for original in outcome.minimised.restricted:
            value = {"message_key": key_text, **original}
            sends.append(await self.producer.send(c.topic_restricted, _json(value), key=key_text.encode()))
        if outcome.verdict.stage in (Stage.TRANSPORT, Stage.SCHEMA) or _is_internal(outcome):
            ref = dlq_reference(outcome, origin)
            sends.append(await self.producer.send(c.topic_dlq, _json(ref), key=key_text.encode()))
        return sends

    async def hand_over_batch(self, items: Sequence[tuple[Outcome, str]]) -> int:
        """Hand over a batch of (outcome, origin): enqueue everything, then await every acknowledgement.

        Returns how many outcomes were handed over (duplicates are skipped). Raises when any send fails;
        then nothing of the batch counts as handled and the caller commits nothing.
        """
        sends: list[Awaitable[Any]] = []
        keys: list[str] = []
        in_batch: set[str] = set()
        for outcome, origin in items:
            key_text = message_key_text(outcome.dedup_key)
            if key_text in self._handled or key_text in in_batch:
                if self.metrics is not None:
                    self.metrics.duplicates.labels("kafka").inc()
                continue
            in_batch.add(key_text)
            sends.extend(await self._send(outcome, key_text, origin))
            keys.append(key_text)
        await asyncio.gather(*sends)  # every acknowledgement, or an exception (then nothing is committed)
        for key_text in keys:
            self._billed.add(key_text)
            self._handled.add(key_text)
        return len(keys)

    async def hand_over(self, outcome: Outcome, origin: str = "") -> bool:
        return await self.hand_over_batch([(outcome, origin)]) == 1

    async def close(self) -> None:
        await self.producer.stop()

    def ready(self) -> bool:
        return True


def _is_internal(outcome: Outcome) -> bool:
    return any(e.code == "INTERNAL" for e in outcome.verdict.errors)


def internal_failure(origin: str) -> Outcome:
    """The outcome of a record the pipeline itself failed on (a poison message): a DLQ reference only."""
    finding = Finding("INTERNAL", None, None, "the gateway could not process this message")
    verdict = Verdict(origin, None, False, Stage.TRANSPORT, (finding,))
    return Outcome(verdict, ("", "", f"internal:{origin}"), None, Minimised())


class _Rebalance(ConsumerRebalanceListener):  # type: ignore[misc]
    def __init__(self, worker: KafkaWorker) -> None:
        self.worker = worker

    async def on_partitions_revoked(self, revoked: Any) -> None:
        return None

    async def on_partitions_assigned(self, assigned: Any) -> None:
        # aiokafka may already fetch the new partitions while this callback runs: the rebuild is done by
        # the worker's loop before it hands over anything fetched after the assignment.
        self.worker.rebuild_needed = True


# ---- pipeline work in worker processes -------------------------------------------------------------

_env: Environment | None = None


def _init_worker(schema_dirs: tuple[Path, ...], max_bytes: int, minimiser_factory: Any) -> None:
    global _env  # noqa: PLW0603 - per-process state of a pool worker
    minimiser: Minimiser | None = minimiser_factory() if minimiser_factory is not None else None
    _env = Environment(validator_for(schema_dirs, max_bytes), date.today(), minimiser)


def _run_pipeline(data: bytes, source: str) -> Outcome:
    assert _env is not None  # noqa: S101 - set by the initializer
    return process(data, source, replace(_env, today=date.today()))


def make_executor(
    workers: int, schema_dirs: tuple[Path, ...], max_bytes: int, minimiser_factory: Any = None
) -> Executor:
    return ProcessPoolExecutor(
        max_workers=max(1, workers),
        mp_context=get_context("spawn"),
        initializer=_init_worker,
        initargs=(schema_dirs, max_bytes, minimiser_factory),
    )


class KafkaWorker:
    """Consumes ``declarations.in``, runs the pipeline, hands over, commits."""

    def __init__(
        self,
        config: KafkaConfig,
        executor: Executor,
        metrics: Metrics | None = None,
        run: Callable[[bytes, str], Outcome] = _run_pipeline,
    ) -> None:
        self.config = config
        self.executor = executor
        self.metrics = metrics or Metrics()
        self.run = run
        self._stopping = asyncio.Event()
        self.consumer: AIOKafkaConsumer | None = None
        self.handover: KafkaHandover | None = None
        self.processed = 0
        self.batches = 0
        self.rebuild_needed = True  # read the billed keys before handing over anything

    def stop(self) -> None:
        """Ask the worker to finish the batch in flight, commit and close."""
        self._stopping.set()

    async def rebuild_dedup(self) -> None:
        """Remember every message key billed in the tail of billing.records."""
        assert self.handover is not None  # noqa: S101
        count = 0
        async for key in billed_keys(self.config):
            self.handover.remember(key)
            count += 1
        log.info("dedup_rebuilt", billed_keys=count)

    async def _outcomes(self, records: Sequence[ConsumerRecord]) -> list[Outcome]:
        loop = asyncio.get_running_loop()
        futures = [
            loop.run_in_executor(
                self.executor, self.run, r.value or b"", f"kafka:{r.topic}/{r.partition}/{r.offset}"
            )
            for r in records
        ]
        outcomes: list[Outcome] = []
        for record, future in zip(records, futures, strict=True):
            origin = f"{record.topic}/{record.partition}/{record.offset}"
            try:
                outcomes.append(await future)
            except Exception:  # a poison message: the pipeline itself failed on it
                log.exception("pipeline_failed", origin=origin)
                self.metrics.failures.labels("kafka", "pipeline").inc()
                outcomes.append(internal_failure(origin))
        return outcomes

    async def _handle(self, batch: dict[TopicPartition, list[ConsumerRecord]]) -> None:
        assert self.consumer is not None  # noqa: S101
        assert self.handover is not None  # noqa: S101
        records = [r for tp in sorted(batch, key=lambda t: (t.topic, t.partition)) for r in batch[tp]]
        self.metrics.in_flight.labels("kafka").set(len(records))
        outcomes = await self._outcomes(records)
        items = [(o, f"{r.topic}/{r.partition}/{r.offset}") for r, o in zip(records, outcomes, strict=True)]
        while True:
            try:
                await self.handover.hand_over_batch(items)
                break
            except KafkaError as exc:  # broker unreachable: retry the batch, commit nothing meanwhile
                self.metrics.failures.labels("kafka", "produce").inc()
                log.warning("handover_retry", records=len(items), error=type(exc).__name__)
                if self._stopping.is_set():
                    raise
                await asyncio.sleep(0.5)
                with contextlib.suppress(KafkaError):  # what did reach billing before the failure
                    await self.rebuild_dedup()
        for outcome in outcomes:
            self.metrics.observe("kafka", outcome)
        offsets = {tp: records_[-1].offset + 1 for tp, records_ in batch.items() if records_}
        self.batches += 1
        if self.config.fault_exit_before_commit and self.batches == self.config.fault_exit_before_commit:
            # Fault injection (tests, docs/reliability.md): die after the outputs were acknowledged but
            # before the offsets are committed: the window at-least-once delivery must survive.
            os._exit(70)
        await self.consumer.commit(offsets)
        self.processed += len(records)
        self.metrics.in_flight.labels("kafka").set(0)

    async def run_forever(self) -> None:
        c = self.config
        await ensure_topics(c)
        producer = _producer(c)
        await producer.start()
        self.handover = KafkaHandover(c, producer, self.metrics)
        self.consumer = AIOKafkaConsumer(
            bootstrap_servers=c.bootstrap,
            group_id=c.group_id,
            enable_auto_commit=False,
            auto_offset_reset="earliest",
            max_poll_records=c.max_in_flight,
            max_poll_interval_ms=300_000,
        )
        self.consumer.subscribe([c.topic_in], listener=_Rebalance(self))
        await self.rebuild_dedup()  # before joining: what is billed already (again after every assignment)
        await self.consumer.start()
        log.info("kafka_worker_started", topic=c.topic_in, group=c.group_id)
        try:
            while not self._stopping.is_set():
                batch = await self.consumer.getmany(timeout_ms=500, max_records=c.max_in_flight)
                while self.rebuild_needed:  # a (re)assignment: know what was billed before handing over
                    try:
                        await self.rebuild_dedup()
                        self.rebuild_needed = False
                    except KafkaError as exc:  # broker unreachable: nothing is handed over meanwhile
                        self.metrics.failures.labels("kafka", "dedup-rebuild").inc()
                        log.warning("dedup_rebuild_retry", error=type(exc).__name__)
                        if self._stopping.is_set():
                            raise
                        await asyncio.sleep(0.5)
                if batch:
                    await self._handle(batch)
        finally:
            await self.consumer.stop()
            await producer.stop()
            log.info("kafka_worker_stopped", processed=self.processed)


async def billed_keys(config: KafkaConfig) -> AsyncIterator[str]:
    """The message keys of the last ``dedup_tail`` records of every billing.records partition."""
    reader = AIOKafkaConsumer(bootstrap_servers=config.bootstrap, enable_auto_commit=False)
    try:
        await reader.start()  # inside the try: a failed start (broker unreachable) still closes the client
        partitions = reader.partitions_for_topic(config.topic_billing) or set()
        tps = [TopicPartition(config.topic_billing, p) for p in sorted(partitions)]
        if not tps:
            return
        reader.assign(tps)
        ends = await reader.end_offsets(tps)
        begins = await reader.beginning_offsets(tps)
        remaining = {}
        for tp in tps:
            start = max(begins[tp], ends[tp] - config.dedup_tail)
            if ends[tp] > start:
                reader.seek(tp, start)
                remaining[tp] = ends[tp]
        while remaining:
            batch = await reader.getmany(*remaining.keys(), timeout_ms=1000)
            if not batch:
                break
            for tp, records in batch.items():
                for record in records:
                    key = _billing_key(record)
                    if key is not None:
                        yield key
                    if record.offset + 1 >= remaining.get(tp, 0):
                        remaining.pop(tp, None)
    finally:
        await reader.stop()


async def kafka_handover(settings: Settings) -> KafkaHandover:
    """The HTTP service's handover when Kafka is configured: outputs go to the same topics."""
    assert settings.kafka_bootstrap is not None  # noqa: S101 - only called with Kafka configured
    config = config_from_env(settings.kafka_bootstrap)
    await ensure_topics(config)
    producer = _producer(config)
    await producer.start()
    handover = KafkaHandover(config, producer)
    async for key in billed_keys(config):
        handover.remember(key)
    return handover


def _producer(config: KafkaConfig) -> AIOKafkaProducer:
    return AIOKafkaProducer(
        bootstrap_servers=config.bootstrap,
        acks="all",
        linger_ms=5,
        max_batch_size=1 << 20,
        request_timeout_ms=config.request_timeout_ms,
        enable_idempotence=False,  # not supported by the test broker; de-duplication covers redelivery
    )


def _billing_key(record: ConsumerRecord) -> str | None:
    try:
        value = json.loads(record.value or b"")
        return str(value["message_key"])
    except (ValueError, KeyError, TypeError):
        return None


def install_sigterm(worker: KafkaWorker) -> None:
    """SIGTERM/SIGINT: finish the batch in flight, commit, close."""
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        with contextlib.suppress(NotImplementedError, RuntimeError):
            loop.add_signal_handler(sig, worker.stop)


async def run_worker(
    config: KafkaConfig,
    workers: int,
    schema_dirs: tuple[Path, ...],
    max_bytes: int,
    minimiser_factory: Any = None,
) -> None:
    """Run one worker until SIGTERM (used by ``jwmo-gateway worker`` and ``serve``)."""
    executor = make_executor(workers, schema_dirs, max_bytes, minimiser_factory)
    worker = KafkaWorker(config, executor)
    install_sigterm(worker)
    try:
        await worker.run_forever()
    finally:
        executor.shutdown(wait=True, cancel_futures=False)


def config_from_env(bootstrap: str) -> KafkaConfig:
    """Topic names and sizes from the environment (``JWMO_KAFKA_*``), defaults from the contract."""
    env = os.environ
    return KafkaConfig(
        bootstrap=bootstrap,
        group_id=env.get("JWMO_KAFKA_GROUP", "jwmo-gateway"),
        topic_in=env.get("JWMO_KAFKA_TOPIC_IN", "declarations.in"),
        topic_billing=env.get("JWMO_KAFKA_TOPIC_BILLING", "billing.records"),
        topic_retour=env.get("JWMO_KAFKA_TOPIC_RETOUR", "declarations.retour"),
        topic_restricted=env.get("JWMO_KAFKA_TOPIC_RESTRICTED", "declarations.restricted"),
        topic_dlq=env.get("JWMO_KAFKA_TOPIC_DLQ", "declarations.dlq"),
        max_in_flight=int(env.get("JWMO_KAFKA_MAX_IN_FLIGHT", "256")),
        fault_exit_before_commit=int(env.get("JWMO_FAULT_EXIT_BEFORE_COMMIT", "0")),
    )
