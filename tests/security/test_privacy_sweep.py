"""Canary sweep (checklist 13, 18, 19; issue item 4a) of the HTTP intake and the Kafka worker.

Canary BSN, name, ICD-10 diagnosis (in comments and processing instructions), DSM-IV codes (JW321) and a
disorder-naming product code with an opt-out are planted in inputs driven down every path: accepted,
restricted, each kind of rejection, duplicate, refused caller, over-size, wrong media type, failed
handover, internal error, poison message. Then every output is searched:

* never anywhere: the name and the ICD-10 code (comments and PIs are dropped at parse);
* never in logs, error answers, metrics, DLQ records (keys and values), audit entries, Kafka keys/headers;
* in billing records the BSN only as ``client_bsn``, never a DSM code, never the withheld product code of
  the restricted line;
* allowed where the contract puts them: the full original in the restricted channel; the BSN and the
  records echoed in the answer to the sender (325/JW322).
"""

from __future__ import annotations

import asyncio
import io
import json
import logging
import uuid
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import pytest
import structlog
from aiokafka import AIOKafkaProducer

from gateway.billing import BILLING_FIELDS
from gateway.logs import configure_logging
from gateway.pipeline import Outcome, process
from gateway.service.auth import AuthConfig
from gateway.service.handover import FileHandover
from gateway.service.kafka import KafkaConfig, KafkaWorker, ensure_topics
from gateway.service.metrics import Metrics
from gateway.testing.broker import TansuBroker
from tests.security.common import (
    CANARY_BSN,
    CANARY_DIAG,
    CANARY_DSM,
    CANARY_NAME,
    DISORDER_CODE,
    SENDER,
    billing_without_bsn_field,
    environment,
    leaks,
    minimiser_factory,
    planted_declaration,
    planted_jw321,
)
from tests.security.tally import record
from tests.service.test_http import (
    API_KEY,
    OTHER_AGB,
    XML,
    config_for,
    log_lines,
    run,
    serving,
    write_keys,
)
from tests.topics import read_records

__all__ = ["log_lines"]  # the fixture, imported for the tests below

NEVER = {"name": CANARY_NAME, "diagnosis": CANARY_DIAG}  # dropped at parse: in no output at all
EVERYWHERE_BUT_ANSWERS = {"bsn": CANARY_BSN, "dsm": CANARY_DSM, **NEVER, "disorder-code": DISORDER_CODE}
DSM_CODES = ("296.32", "300.02", "314.01")  # every DSM-IV code of the planted JW321


def garbage() -> bytes:
    return f"<Bericht><Bsn>{CANARY_BSN}</Bsn><Naam>{CANARY_NAME}</Naam><D>{CANARY_DSM}</D>".encode()


def doctype_with_canaries() -> bytes:
    data = planted_declaration("P0003")
    head, _, rest = data.partition(b"?>")
    return head + b"?>" + f'<!DOCTYPE x [<!ENTITY n "{CANARY_NAME} {CANARY_BSN}">]>'.encode() + rest


def schema_invalid() -> bytes:
    """The canary BSN made 10 digits (and the name as an element): stage schema."""
    data = planted_declaration("P0004").replace(f">{CANARY_BSN}<".encode(), f">{CANARY_BSN}1<".encode(), 1)
    return data.replace(
        b"</jw323:Afzender>", f"</jw323:Afzender><jw323:Naam>{CANARY_NAME}</jw323:Naam>".encode()
    )


def assert_billing_clean(records: list[dict[str, Any]], where: str) -> None:
    """Billing records: only contract fields; the BSN only in client_bsn; no DSM code, no withheld code."""
    assert records, where
    for r in records:
        assert set(r) <= {*BILLING_FIELDS, "message_key"}, where
    text = billing_without_bsn_field(records)
    found = leaks(text, {**EVERYWHERE_BUT_ANSWERS, **{f"dsm-{c}": c for c in DSM_CODES}})
    assert found == [], (where, found)
    restricted = [r for r in records if r.get("restricted")]
    assert restricted, f"{where}: the opted-out disorder line is not restricted"
    assert all(r["product_code"] is None for r in restricted)
    record("privacy.sweep.billing_records", len(records))


# --------------------------------------------------------------------------------------------------
# HTTP


class _FlakyHandover:
    """The file handover, failing (with the canaries in its exception text) for one message id."""

    def __init__(self, inner: FileHandover) -> None:
        self.inner = inner

    async def hand_over(self, outcome: Outcome) -> bool:
        if outcome.dedup_key[2] == "P0009":
            raise OSError(f"disk full while writing {CANARY_BSN} {CANARY_NAME}")
        return await self.inner.hand_over(outcome)

    async def close(self) -> None:
        await self.inner.close()

    def ready(self) -> bool:
        return self.inner.ready()


def test_http_paths_leak_no_canary(tmp_path: Path, log_lines: Callable[[], list[dict[str, Any]]]) -> None:
    """Every HTTP path with canary-laden input: the canaries stay out of logs, answers, headers, metrics,
    audit and billing (except client_bsn), and the name and diagnosis out of everything."""
    ei_key = "key-of-the-ggz-provider-0000"  # the JW321 comes from AGB 94060117
    keys = write_keys(tmp_path / "keys.toml", {API_KEY: SENDER, ei_key: "94060117"})
    config = config_for(
        tmp_path,
        auth=AuthConfig.from_env({"JWMO_API_KEYS_FILE": str(keys)}),
        minimiser_factory=minimiser_factory,
        handover_factory=lambda s: _FlakyHandover(FileHandover(s.data_dir / "outbox", s.data_dir / "ledger")),
    )
    answers: list[str] = []  # answers to the sender: the BSN and DSM codes may be echoed there
    refusals: list[str] = []  # everything else the caller sees: no canary at all
    auth = {"Authorization": f"Bearer {API_KEY}"}

    async def explode(*_args: object, **_kwargs: object) -> list[Outcome]:
        local = f"{CANARY_NAME} {CANARY_BSN} {CANARY_DSM}"
        raise RuntimeError(local)

    async def scenario() -> None:
        async with serving(config) as client:
            url = f"/v1/declarations?bsn={CANARY_BSN}&naam={CANARY_NAME}"
            posts = [
                (planted_declaration("P0001"), XML, 200),  # accepted, one line restricted
                (planted_declaration("P0001"), XML, 200),  # duplicate
                (planted_jw321(), {"Content-Type": "text/plain", "Authorization": f"Bearer {ei_key}"}, 200),
                (garbage(), XML, 200),  # transport
                (doctype_with_canaries(), XML, 200),  # DOCTYPE
                (schema_invalid(), XML, 200),  # schema
                (planted_declaration("P0005", sender=OTHER_AGB), XML, 403),  # another provider
                (planted_declaration("P0006") + b" " * 1_048_576, XML, 413),
                (planted_declaration("P0007"), {"Content-Type": f"text/{CANARY_NAME}"}, 415),
                (planted_declaration("P0009"), XML, 503),  # the handover fails
            ]
            for body, headers, status in posts:
                response = await client.post(url, content=body, headers={**auth, **headers})
                assert response.status_code == status, (status, response.text[:200])
                text = response.text + json.dumps(dict(response.headers))
                (answers if status == 200 else refusals).append(text)
            unauthenticated = await client.post(url, content=planted_declaration("P0008"), headers=XML)
            assert unauthenticated.status_code == 401
            refusals.append(unauthenticated.text)
            client.app.state.service.pool.run = explode  # type: ignore[attr-defined]
            failed = await client.post(url, content=planted_declaration("P0010"), headers={**XML, **auth})
            assert failed.status_code == 500
            refusals.append(failed.text + json.dumps(dict(failed.headers)))
            refusals.append((await client.get("/metrics")).text)

    run(scenario)
    logs = json.dumps(log_lines())
    assert "request_failed" in logs  # the internal error was logged (as its type and frames)
    assert "handover_failed" in logs
    outbox = tmp_path / "outbox"
    billing = [json.loads(line) for line in (outbox / "billing.jsonl").read_text().splitlines()]
    audit = (outbox / "audit.jsonl").read_text()
    retour = "\n".join(p.read_text() for p in sorted((outbox / "retour").iterdir()))
    restricted = (outbox / "restricted.jsonl").read_text()

    assert leaks(logs, EVERYWHERE_BUT_ANSWERS) == []
    assert leaks("\n".join(refusals), EVERYWHERE_BUT_ANSWERS) == []
    assert leaks(audit, EVERYWHERE_BUT_ANSWERS) == []
    assert leaks("\n".join(answers) + retour + restricted, NEVER) == []  # dropped at parse, even there
    assert_billing_clean(billing, "http billing.jsonl")
    assert DISORDER_CODE in restricted  # control: the restricted channel does get the original
    assert CANARY_BSN in restricted
    record("privacy.sweep.http_paths", 12)
    record("privacy.leaks", 0)


# --------------------------------------------------------------------------------------------------
# Kafka


@pytest.fixture(scope="module")
def broker(tmp_path_factory: pytest.TempPathFactory) -> Iterator[TansuBroker]:
    with TansuBroker(log=Path(tmp_path_factory.mktemp("broker")) / "tansu.log") as running:
        yield running


async def read_topic(bootstrap: str, topic: str) -> list[dict[str, Any]]:
    """Every record of ``topic`` (read to its end): key, value and headers as text."""
    return [
        {
            "key": (r.key or b"").decode(errors="replace"),
            "value": (r.value or b"").decode(errors="replace"),
            "headers": [(k, v.decode(errors="replace")) for k, v in r.headers],
        }
        for r in await read_records(bootstrap, topic)
    ]


def test_kafka_worker_paths_leak_no_canary(broker: TansuBroker) -> None:
    """The worker on canary-laden records (accepted, restricted, JW321, duplicate, transport, DOCTYPE, schema,
    poison): the canaries stay out of its JSON log, DLQ keys and values, metrics, billing (but client_bsn)
    and every key and header; the restricted topic gets the original."""
    tag = uuid.uuid4().hex[:8]
    cfg = KafkaConfig(
        bootstrap=broker.bootstrap,
        group_id=f"sweep-{tag}",
        topic_in=f"in-{tag}",
        topic_billing=f"billing-{tag}",
        topic_retour=f"retour-{tag}",
        topic_restricted=f"restricted-{tag}",
        topic_dlq=f"dlq-{tag}",
        max_in_flight=4,
    )
    poison = f"POISON {CANARY_BSN} {CANARY_NAME}".encode()
    env = environment()

    def run_pipeline(data: bytes, source: str) -> Outcome:
        if data == poison:
            personal = data.decode()
            raise RuntimeError(f"pipeline failed on {personal}")
        return process(data, source, env)

    inputs = [
        planted_declaration("K0001"),
        planted_declaration("K0001"),
        planted_jw321(),
        garbage(),
        doctype_with_canaries(),
        schema_invalid(),
        poison,
        planted_declaration("K0002"),
    ]
    stream = io.StringIO()
    saved = structlog.get_config()
    root = logging.getLogger()
    saved_handlers, saved_level = root.handlers[:], root.level
    configure_logging("INFO", stream=stream)
    metrics = Metrics()
    try:

        async def scenario() -> dict[str, list[dict[str, Any]]]:
            await ensure_topics(cfg)
            producer = AIOKafkaProducer(bootstrap_servers=cfg.bootstrap, acks="all")
            await producer.start()
            try:
                for value in inputs:
                    await producer.send_and_wait(cfg.topic_in, value, key=SENDER.encode())
            finally:
                await producer.stop()
            worker = KafkaWorker(cfg, ThreadPoolExecutor(1), metrics=metrics, run=run_pipeline)
            task = asyncio.create_task(worker.run_forever())
            for _ in range(600):
                if worker.processed >= len(inputs) or task.done():
                    break
                await asyncio.sleep(0.1)
            worker.stop()
            await asyncio.wait_for(task, timeout=30)
            assert worker.processed == len(inputs)
            return {t: await read_topic(cfg.bootstrap, t) for t in cfg.output_topics}

        topics = asyncio.run(scenario())
    finally:
        structlog.configure(**saved)
        root.handlers[:] = saved_handlers
        root.setLevel(saved_level)

    logs = stream.getvalue()
    assert "pipeline_failed" in logs  # the poison message was logged (type and frames only)
    billing = [json.loads(r["value"]) for r in topics[cfg.topic_billing]]
    dlq = topics[cfg.topic_dlq]
    assert {json.loads(r["value"])["stage"] for r in dlq} == {"transport", "schema"}
    assert ["INTERNAL"] in [json.loads(r["value"])["codes"] for r in dlq]
    everything_but_payloads = [
        logs,
        metrics.render().decode(),
        json.dumps(dlq),
        json.dumps([{"key": r["key"], "headers": r["headers"]} for t in topics.values() for r in t]),
    ]
    assert [leaks(text, EVERYWHERE_BUT_ANSWERS) for text in everything_but_payloads] == [[]] * 4
    assert_billing_clean(billing, "kafka billing topic")
    assert len({r["message_key"] for r in billing}) == 3  # K0001 once, K0002, the JW321
    payloads = json.dumps([topics[cfg.topic_retour], topics[cfg.topic_restricted]])
    assert leaks(payloads, NEVER) == []
    assert DISORDER_CODE in json.dumps(topics[cfg.topic_restricted])  # control: the original is there
    record("privacy.sweep.kafka_paths", len(inputs))
    record("privacy.leaks", 0)


def test_planted_inputs_carry_every_canary() -> None:
    """Control: the planted inputs really hold the canaries the sweeps look for (else absence means nothing),
    and the planted declaration is valid with its first line on the disorder code."""
    declaration = planted_declaration("C0001").decode()
    assert leaks(declaration, {"bsn": CANARY_BSN, **NEVER, "code": DISORDER_CODE}) == [
        "bsn",
        "name",
        "diagnosis",
        "code",
    ]
    assert all(code in planted_jw321().decode() for code in DSM_CODES)
    outcome = process(planted_declaration("C0001"), "c.xml", environment())
    assert outcome.verdict.valid
    assert [r["restricted"] for r in outcome.minimised.billing] == [True, False, False, False]
