"""Crash tests against the real broker: the worker process dies mid-stream and is restarted.

Every message must then be billed exactly once in the billing topic (counted per message and line), and
nothing may be lost. The worker runs as a real subprocess (``python -m gateway worker``).
"""

from __future__ import annotations

import asyncio
import json
import os
import random
import signal
import subprocess
import sys
import time
from collections import Counter
from dataclasses import replace
from pathlib import Path

import pytest

from gateway.service.kafka import ensure_topics
from gateway.testing.broker import TansuBroker
from gateway.testing.builders import random_declaration, render
from tests.helpers import TODAY
from tests.kafka.test_worker import committed, config, produce, read_all
from tests.topics import reported_end

MESSAGES = 400  # enough that a SIGKILL lands mid-stream although batches are handed over quickly


def worker_env(cfg_env: dict[str, str], data_dir: Path, **extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("JWMO_")}
    env.update(cfg_env)
    env["JWMO_DATA_DIR"] = str(data_dir)
    env.update(extra)
    return env


def start_worker(env: dict[str, str], log: Path) -> subprocess.Popen[bytes]:
    with log.open("ab") as out:
        return subprocess.Popen(
            [sys.executable, "-m", "gateway", "worker", "--workers", "1"], env=env, stdout=out, stderr=out
        )


def messages() -> list[tuple[bytes, bytes]]:
    out = []
    for i in range(MESSAGES):
        decl = replace(random_declaration(random.Random(10_000 + i), today=TODAY), message_id=f"C{i:06d}")
        out.append((decl.sender.encode(), render(decl)))
    return out


def billing_counts(records: list[tuple[bytes | None, bytes]]) -> Counter[tuple[str, str]]:
    counts: Counter[tuple[str, str]] = Counter()
    for _, value in records:
        record = json.loads(value)
        counts[(record["message_key"], record["reference"])] += 1
    return counts


def expected_lines(sent: list[tuple[bytes, bytes]]) -> int:
    return sum(value.count(b"<jw323:Prestatie>") for _, value in sent)


def wait_for(predicate: object, timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():  # type: ignore[operator]
            return
        time.sleep(0.2)
    pytest.fail(f"timed out waiting for {what}")


def scenario(broker: TansuBroker, tmp_path: Path, first_run: dict[str, str], kill: bool) -> None:
    cfg = config(broker)
    cfg = replace(cfg, max_in_flight=8)
    cfg_env = {
        "JWMO_KAFKA_BOOTSTRAP": cfg.bootstrap,
        "JWMO_KAFKA_GROUP": cfg.group_id,
        "JWMO_KAFKA_TOPIC_IN": cfg.topic_in,
        "JWMO_KAFKA_TOPIC_BILLING": cfg.topic_billing,
        "JWMO_KAFKA_TOPIC_RETOUR": cfg.topic_retour,
        "JWMO_KAFKA_TOPIC_RESTRICTED": cfg.topic_restricted,
        "JWMO_KAFKA_TOPIC_DLQ": cfg.topic_dlq,
        "JWMO_KAFKA_MAX_IN_FLIGHT": str(cfg.max_in_flight),
    }
    sent = messages()
    asyncio.run(ensure_topics(cfg))
    asyncio.run(produce(cfg, sent))
    log = tmp_path / "worker.log"
    data_dir = tmp_path / "data"

    def billed() -> int:  # polled: the cheap lower bound, so the kill lands mid-stream
        return asyncio.run(reported_end(cfg.bootstrap, cfg.topic_billing))

    first = start_worker(worker_env(cfg_env, data_dir, **first_run), log)
    if kill:
        wait_for(lambda: billed() > 0, 120, "the first worker to bill some messages")
        first.send_signal(signal.SIGKILL)
    first.wait(timeout=120)
    assert first.returncode != 0  # it died (fault switch or SIGKILL), it did not finish
    assert asyncio.run(committed(cfg)) < len(sent)

    second = start_worker(worker_env(cfg_env, data_dir), log)
    try:
        wait_for(lambda: asyncio.run(committed(cfg)) == len(sent), 180, "every message to be committed")
    finally:
        second.send_signal(signal.SIGTERM)
        second.wait(timeout=60)
    assert second.returncode == 0

    counts = billing_counts(asyncio.run(read_all(cfg, cfg.topic_billing)))
    assert len({key for key, _ in counts}) == len(sent)  # nothing lost: every message billed
    assert sum(counts.values()) == expected_lines(sent)  # every line once ...
    assert max(counts.values()) == 1  # ... and none twice


@pytest.mark.slow
def test_exit_between_produce_and_commit(broker: TansuBroker, tmp_path: Path) -> None:
    """The worker dies after its third batch was acknowledged but before committing: billed once."""
    scenario(broker, tmp_path, {"JWMO_FAULT_EXIT_BEFORE_COMMIT": "3"}, kill=False)


@pytest.mark.slow
def test_sigkill_mid_stream(broker: TansuBroker, tmp_path: Path) -> None:
    """SIGKILL at an arbitrary point while billing: after a restart every message is billed exactly once."""
    scenario(broker, tmp_path, {}, kill=True)
