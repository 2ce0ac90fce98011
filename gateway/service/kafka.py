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

De-duplication, without Kafka transactions or an idempotent producer (clarifications item 20):

* every billing record carries its message key and, in a header, the digest of the message's content;
* the hand-over reads the tail of ``billing.records`` back before its first hand-over, after every
  (re)assignment and after every failed hand-over, and then sends only the billing lines that are not in
  the topic yet: a redelivery (a crash between producing and committing, a rebalance, a retry after lost
  acknowledgements) bills nothing twice, and a message billed only in part gets the rest;
* the producer never re-sends a batch the broker may have written (:mod:`gateway.service.produce_once`);
* the same message key with another digest is a conflicting duplicate: refused under TR056 (a 325 with
  retourcode 9056 on ``declarations.retour``), nothing billed.

A poison message (the pipeline itself failing) goes to the DLQ as a reference and never stalls its
partition. SIGTERM stops fetching, finishes the batch in flight, commits and closes.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
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
from typing import Any, Generic, TypeVar

from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, ConsumerRecord, TopicPartition
from aiokafka.abc import ConsumerRebalanceListener
from aiokafka.admin import AIOKafkaAdminClient, NewTopic
from aiokafka.errors import KafkaError, KafkaTimeoutError, TopicAlreadyExistsError

from gateway.batch import validator_for
from gateway.config import Settings
from gateway.logs import get_logger
from gateway.outbox.files import message_key_text
from gateway.pipeline import (
    ConflictingDuplicate,
    Environment,
    Minimised,
    Minimiser,
    Outcome,
    process,
    refuse_duplicate,
)
from gateway.results import Finding, Stage, Verdict
from gateway.service.metrics import Metrics
from gateway.service.produce_once import produce_once

__all__ = [
    "Billed",
    "Handed",
    "KafkaConfig",
    "KafkaHandover",
    "KafkaWorker",
    "billed_lines",
    "config_from_env",
    "ensure_topics",
    "kafka_handover",
    "run_worker",
]

log = get_logger("jwmo.kafka")

_TAIL_QUIET_MS = 200  # a fetch this long without records: the tail read has reached the end


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


K = TypeVar("K")
V = TypeVar("V")
T = TypeVar("T")


class _Bounded(Generic[K, V]):
    """A bounded mapping (the oldest entries forgotten first)."""

    def __init__(self, limit: int) -> None:
        self._items: OrderedDict[K, V] = OrderedDict()
        self._limit = limit

    def put(self, key: K, value: V) -> None:
        self._items[key] = value
        self._items.move_to_end(key)
        while len(self._items) > self._limit:
            self._items.popitem(last=False)

    def get(self, key: K) -> V | None:
        return self._items.get(key)

    def __contains__(self, key: object) -> bool:
        return key in self._items


@dataclass(frozen=True, slots=True)
class Billed:
    """What billing.records holds of one message: its content digest ("" when the records carry none)
    and the ids of its lines read back from the topic (None: acknowledged here in full)."""

    digest: str
    lines: frozenset[str] | None = None


@dataclass(frozen=True, slots=True)
class Handed:
    """The result of a batch hand-over: how many outcomes were handed over, and the positions of
    conflicting duplicates (same key, other content: handed over nothing; to be refused under TR056)."""

    fresh: int
    conflicts: tuple[int, ...] = ()


DIGEST_HEADER = "jwmo-digest"  # the message's content digest on every billing record (never a value)


def line_id(value: bytes) -> str:
    """The identity of one billing record: its exact bytes (the pipeline renders a line the same way every
    time), so a record read back matches the record that would be sent again."""
    return hashlib.sha256(value).hexdigest()[:24]


class KafkaHandover:
    """Produces outcomes' outputs and waits for every acknowledgement (the :class:`Handover` protocol).

    Two memories, keyed by message key: ``billed`` (what billing.records holds: read back from its tail,
    or acknowledged here) and ``handled`` (the content digest of every outcome whose outputs were all
    acknowledged by this process). A key in ``handled`` is skipped; a key only in ``billed`` (a
    redelivery after a crash or rebalance) gets its other outputs again (at-least-once) and only the
    billing lines that are not in the topic yet. The same key with another digest is a conflicting
    duplicate: nothing of it is handed over.

    When a hand-over fails, the state of the broker is unknown (some records may have been written, their
    acknowledgements lost): every pending send is awaited, and before anything else is handed over
    :meth:`reconcile` reads the billing tail back. The producer never re-sends a batch that may have
    been written (:func:`~gateway.service.produce_once.produce_once`).
    """

    def __init__(
        self, config: KafkaConfig, producer: AIOKafkaProducer, metrics: Metrics | None = None
    ) -> None:
        self.config = config
        self.producer = producer
        self.metrics = metrics
        self._billed: _Bounded[str, Billed] = _Bounded(config.dedup_memory)
        self._handled: _Bounded[str, str] = _Bounded(config.dedup_memory)
        self.uncertain = True  # read the billing tail before the first hand-over

    def invalidate(self) -> None:
        """What billing.records holds is unknown (a failure, a new assignment): read it back first."""
        self.uncertain = True

    async def reconcile(self) -> int:
        """Read the tail of billing.records into the billed memory; raises a KafkaError when the broker
        cannot be read to its end (then nothing may be handed over yet). Returns the records read."""
        found: dict[str, tuple[str, set[str]]] = {}
        count = 0
        async for key, digest, line in billed_lines(self.config):
            count += 1
            entry = found.setdefault(key, (digest, set()))
            entry[1].add(line)
        for key, (digest, lines) in found.items():
            known = self._billed.get(key)
            if known is None or known.lines is not None:  # complete ones acknowledged here stay complete
                self._billed.put(key, Billed(digest or (known.digest if known else ""), frozenset(lines)))
        self.uncertain = False
        log.info("billing_tail_read", records=count, messages=len(found))
        return count

    def _conflicts(self, outcome: Outcome, key_text: str) -> bool:
        if not outcome.digest:
            return False
        known = self._handled.get(key_text)
        if known is None:
            billed = self._billed.get(key_text)
            known = billed.digest if billed is not None else None
        return bool(known) and known != outcome.digest

    async def _send(self, outcome: Outcome, key_text: str, origin: str, sends: list[Awaitable[Any]]) -> bool:
        """Enqueue every output of one outcome (appending to ``sends``); they resolve on acknowledgement.

        Returns True for a redelivery: the message's billing is in the topic already, nothing was billed.
        """
        c = self.config
        send = self.producer.send
        if outcome.refused_duplicate:  # the TR056 answer to a conflicting duplicate, nothing else
            if outcome.answer is not None:
                sends.append(await send(c.topic_retour, outcome.answer, key=outcome.dedup_key[0].encode()))
            return False
        billed = self._billed.get(key_text)
        billing_sent = 0
        # Lines are compared only for records that carry the digest: records written without one (before
        # digests were kept) cannot tell a conflicting copy from a partial write, and count as complete.
        if billed is None or (billed.lines is not None and billed.digest):
            headers = [(DIGEST_HEADER, outcome.digest.encode())]
            for record in outcome.minimised.billing:
                value = _json({"message_key": key_text, **record})
                if billed is not None and billed.lines is not None and line_id(value) in billed.lines:
                    continue  # in the topic already (written before a crash or a lost acknowledgement)
                route = f"{record.get('sender_agb', '')}:{record.get('declaration_number', '')}"
                sends.append(await send(c.topic_billing, value, key=route.encode(), headers=headers))
                billing_sent += 1
        if outcome.answer is not None:
            sends.append(await send(c.topic_retour, outcome.answer, key=outcome.dedup_key[0].encode()))
        for original in outcome.minimised.restricted:
            value = _json({"message_key": key_text, **original})
            sends.append(await send(c.topic_restricted, value, key=key_text.encode()))
        if outcome.verdict.stage in (Stage.TRANSPORT, Stage.SCHEMA) or _is_internal(outcome):
            ref = dlq_reference(outcome, origin)
            sends.append(await send(c.topic_dlq, _json(ref), key=key_text.encode()))
        return billed is not None and billing_sent == 0

    async def hand_over_batch(self, items: Sequence[tuple[Outcome, str]]) -> Handed:
        """Hand over a batch of (outcome, origin): enqueue everything, then await every acknowledgement.

        Duplicates are skipped; conflicting duplicates are skipped and reported. Raises when any send
        fails (then nothing of the batch counts as handled and the caller commits nothing); the next call
        first reads back what reached the billing topic.
        """
        if self.uncertain:
            await self.reconcile()
        sends: list[Awaitable[Any]] = []
        done: list[tuple[str, str]] = []
        conflicts: list[int] = []
        in_batch: dict[str, str] = {}  # message key -> digest, of the outcomes handed over in this batch
        try:
            for position, (outcome, origin) in enumerate(items):
                key_text = message_key_text(outcome.dedup_key)
                if outcome.refused_duplicate:
                    await self._send(outcome, key_text, origin, sends)
                    continue
                earlier = in_batch.get(key_text)
                if self._conflicts(outcome, key_text) or (
                    earlier is not None and outcome.digest and earlier != outcome.digest
                ):
                    conflicts.append(position)
                    continue
                if key_text in self._handled or earlier is not None:
                    if self.metrics is not None:
                        self.metrics.duplicates.labels("kafka").inc()
                    continue
                in_batch[key_text] = outcome.digest
                if await self._send(outcome, key_text, origin, sends) and self.metrics is not None:
                    self.metrics.duplicates.labels("kafka").inc()
                done.append((key_text, outcome.digest))
        except BaseException:
            self.uncertain = True
            raise
        finally:
            # Every acknowledgement (or failure), also when enqueueing failed half-way or the caller is
            # cancelled: until each send is settled the producer may still write.
            try:
                results = await asyncio.gather(*sends, return_exceptions=True)
            except BaseException:  # cancelled while waiting: what was written is unknown
                self.uncertain = True
                raise
        errors = [r for r in results if isinstance(r, BaseException)]
        if errors:
            self.uncertain = True
            raise errors[0]
        for key_text, digest in done:
            self._billed.put(key_text, Billed(digest))
            self._handled.put(key_text, digest)
        return Handed(len(done), tuple(conflicts))

    async def hand_over(self, outcome: Outcome, origin: str = "") -> bool:
        """One outcome (the HTTP path): True when handed over, False for a redelivery; raises
        :class:`~gateway.pipeline.ConflictingDuplicate` for a conflicting duplicate."""
        handed = await self.hand_over_batch([(outcome, origin)])
        if handed.conflicts:
            raise ConflictingDuplicate
        return handed.fresh == 1 or outcome.refused_duplicate

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
        # The batch in flight is finished (handed over and committed) before the partitions move: the
        # next owner must not read the billing tail while this worker still writes to it.
        async with self.worker.handling:
            pass

    async def on_partitions_assigned(self, assigned: Any) -> None:
        # Another worker may have billed messages of these partitions without committing them: the
        # hand-over reads the billing tail back before it hands over anything (also anything fetched
        # while this callback ran).
        self.worker.assigned()


# ---- pipeline work in worker processes -------------------------------------------------------------

_env: Environment | None = None


def _init_worker(schema_dirs: tuple[Path, ...], max_bytes: int, minimiser_factory: Any) -> None:
    global _env  # noqa: PLW0603 - per-process state of a pool worker
    minimiser: Minimiser | None = minimiser_factory() if minimiser_factory is not None else None
    _env = Environment(validator_for(schema_dirs, max_bytes), date.today(), minimiser)


def _run_pipeline(data: bytes, source: str) -> Outcome:
    assert _env is not None  # noqa: S101 - set by the initializer
    return process(data, source, replace(_env, today=date.today()))


def _run_refusal(data: bytes, source: str) -> Outcome:
    assert _env is not None  # noqa: S101 - set by the initializer
    return refuse_duplicate(data, source, replace(_env, today=date.today()))


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
        refuse: Callable[[bytes, str], Outcome] = _run_refusal,
    ) -> None:
        self.config = config
        self.executor = executor
        self.metrics = metrics or Metrics()
        self.run = run
        self.refuse = refuse
        self._stopping = asyncio.Event()
        self.consumer: AIOKafkaConsumer | None = None
        self.handover: KafkaHandover | None = None
        self.processed = 0
        self.batches = 0
        self.handling = asyncio.Lock()  # held while a batch is handed over and committed

    def stop(self) -> None:
        """Ask the worker to finish the batch in flight, commit and close."""
        self._stopping.set()

    def assigned(self) -> None:
        """Partitions were (re)assigned: what was billed for them is read back before the next hand-over."""
        if self.handover is not None:
            self.handover.invalidate()

    def _submit(
        self, run: Callable[[bytes, str], Outcome], records: Sequence[ConsumerRecord]
    ) -> list[asyncio.Future[Outcome]]:
        loop = asyncio.get_running_loop()
        return [
            loop.run_in_executor(
                self.executor, run, r.value or b"", f"kafka:{r.topic}/{r.partition}/{r.offset}"
            )
            for r in records
        ]

    async def _outcomes(self, records: Sequence[ConsumerRecord]) -> list[Outcome]:
        futures = self._submit(self.run, records)
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
        handed = await self._hand_over(items)
        if handed.conflicts:  # same identification, other content: answer those with a TR056 refusal
            refusals = await self._refusals([records[i] for i in handed.conflicts])
            for position, refusal in zip(handed.conflicts, refusals, strict=True):
                outcomes[position] = refusal
                self.metrics.conflicts.labels("kafka").inc()
            await self._hand_over([(r, items[p][1]) for p, r in zip(handed.conflicts, refusals, strict=True)])
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

    async def _retrying(self, step: Callable[[], Awaitable[T]], kind: str, event: str, **fields: Any) -> T:
        """Run ``step`` until the broker answers (counted as failure ``kind``, logged as ``event``); a stop
        ends the retries with the last error."""
        while True:
            try:
                return await step()
            except KafkaError as exc:
                self.metrics.failures.labels("kafka", kind).inc()
                log.warning(event, error=type(exc).__name__, **fields)
                if self._stopping.is_set():
                    raise
                await asyncio.sleep(0.5)

    async def _hand_over(self, items: Sequence[tuple[Outcome, str]]) -> Handed:
        """Hand the items over, retrying while the broker is unreachable (nothing is committed meanwhile;
        every retry starts by reading back what reached the billing topic)."""
        assert self.handover is not None  # noqa: S101
        handover = self.handover
        return await self._retrying(
            lambda: handover.hand_over_batch(items), "produce", "handover_retry", records=len(items)
        )

    async def _reconcile(self) -> None:
        """Read the billing tail back, retrying while the broker is unreachable (nothing is handed over
        meanwhile)."""
        assert self.handover is not None  # noqa: S101
        await self._retrying(self.handover.reconcile, "billing-tail", "billing_tail_retry")

    async def _refusals(self, records: Sequence[ConsumerRecord]) -> list[Outcome]:
        return list(await asyncio.gather(*self._submit(self.refuse, records)))

    async def run_forever(self) -> None:
        c = self.config
        await ensure_topics(c)
        producer = _producer(c)
        await producer.start()
        self.handover = KafkaHandover(c, producer, self.metrics)  # reads the billing tail first
        self.consumer = AIOKafkaConsumer(
            bootstrap_servers=c.bootstrap,
            group_id=c.group_id,
            enable_auto_commit=False,
            auto_offset_reset="earliest",
            max_poll_records=c.max_in_flight,
            max_poll_interval_ms=300_000,
        )
        self.consumer.subscribe([c.topic_in], listener=_Rebalance(self))
        await self._reconcile()  # before joining (and again after every assignment)
        await self.consumer.start()
        log.info("kafka_worker_started", topic=c.topic_in, group=c.group_id)
        try:
            while not self._stopping.is_set():
                batch = await self.consumer.getmany(timeout_ms=500, max_records=c.max_in_flight)
                if self.handover.uncertain:  # started or (re)assigned: read the billing tail back now
                    await self._reconcile()
                if batch:
                    async with self.handling:
                        await self._handle(batch)
        finally:
            await self.consumer.stop()
            await producer.stop()
            log.info("kafka_worker_stopped", processed=self.processed)


async def billed_lines(config: KafkaConfig) -> AsyncIterator[tuple[str, str, str]]:
    """(message key, content digest, line id) of the last ``dedup_tail`` records of every billing.records
    partition, read to the end of each partition; raises a KafkaError when that end cannot be reached in
    ``request_timeout_ms`` (a tail read short of the end would make a re-send look new).

    The end is where fetching stops returning records, not only the end offset the broker reports: the
    test broker reports the base offset of a partition's last batch as its end (on Kafka both agree).
    """
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
        for tp in tps:
            reader.seek(tp, max(begins[tp], ends[tp] - config.dedup_tail))
        deadline = asyncio.get_running_loop().time() + config.request_timeout_ms / 1000
        pending = set(tps)
        while pending:
            batch = await reader.getmany(*pending, timeout_ms=_TAIL_QUIET_MS)
            for records in batch.values():
                for record in records:
                    found = _billing_line(record)
                    if found is not None:
                        yield found
            if not batch:  # quiet: a partition is read when its position reached the reported end
                for tp in list(pending):
                    if await reader.position(tp) >= ends[tp]:
                        pending.discard(tp)
                if pending and asyncio.get_running_loop().time() > deadline:
                    raise KafkaTimeoutError("the billing tail could not be read to its end")
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
    await handover.reconcile()  # what billing.records holds, before the first request
    return handover


def _producer(config: KafkaConfig) -> AIOKafkaProducer:
    producer = AIOKafkaProducer(
        bootstrap_servers=config.bootstrap,
        acks="all",
        linger_ms=5,
        max_batch_size=1 << 20,
        request_timeout_ms=config.request_timeout_ms,
        enable_idempotence=False,  # not supported by the test broker; de-duplication covers redelivery
    )
    if not produce_once(producer):
        log.error("producer_resend_guard_unavailable", reason="aiokafka internals changed")
    return producer


def _billing_line(record: ConsumerRecord) -> tuple[str, str, str] | None:
    value = record.value or b""
    try:
        key = str(json.loads(value)["message_key"])
    except (ValueError, KeyError, TypeError):
        return None
    digest = next((v.decode("ascii", "replace") for k, v in record.headers or () if k == DIGEST_HEADER), "")
    return key, digest, line_id(value)


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
