"""`jwmo-gateway serve` with JWMO_KAFKA_BOOTSTRAP: HTTP posts and Kafka input both reach the billing topic."""

from __future__ import annotations

import asyncio
import json
import os
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest

from gateway.service.kafka import config_from_env
from gateway.testing.broker import TansuBroker, free_port
from tests.kafka.test_worker import produce, read_all

EXAMPLES = Path(__file__).resolve().parents[2] / "examples" / "3.2"


@pytest.mark.slow
def test_serve_moves_declarations_to_billing_end_to_end(broker: TansuBroker, tmp_path: Path) -> None:
    """A JW323 posted over HTTP and a WMO323 put on declarations.in are both billed, answered, once."""
    port = free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith("JWMO_")}
    # default topic names: this test owns them on the session broker
    env.update({"JWMO_KAFKA_BOOTSTRAP": broker.bootstrap, "JWMO_DATA_DIR": str(tmp_path / "data")})
    log = (tmp_path / "serve.log").open("wb")
    process = subprocess.Popen(
        [sys.executable, "-m", "gateway", "serve", "--port", str(port), "--workers", "1"],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=log,
    )
    cfg = config_from_env(broker.bootstrap)
    try:
        deadline = time.monotonic() + 60
        while True:
            assert process.poll() is None, "serve exited during start-up"
            try:
                if httpx.get(f"http://127.0.0.1:{port}/readyz", timeout=1).status_code == 200:
                    break
            except httpx.TransportError:
                pass
            assert time.monotonic() < deadline, "serve did not become ready"
            time.sleep(0.2)
        asyncio.run(produce(cfg, [(b"12345678", (EXAMPLES / "WMO323.xml").read_bytes())]))
        posted = (EXAMPLES / "JW323.xml").read_bytes()
        answer = httpx.post(
            f"http://127.0.0.1:{port}/v1/declarations",
            content=posted,
            headers={"Content-Type": "application/xml"},
        )
        assert answer.status_code == 200
        assert answer.json()["results"][0]["valid"] is True
        deadline = time.monotonic() + 60
        while True:
            billing = [json.loads(v) for _, v in asyncio.run(read_all(cfg, cfg.topic_billing))]
            if {b["message_type"] for b in billing} >= {"JW323", "WMO323"} or time.monotonic() > deadline:
                break
            time.sleep(0.5)
        assert sorted({b["message_type"] for b in billing}) == ["JW323", "WMO323"]
        keys = [(b["message_key"], b["reference"]) for b in billing]
        assert len(keys) == len(set(keys))  # billed once
        assert len(asyncio.run(read_all(cfg, cfg.topic_retour))) == 2  # both answered
    finally:
        process.terminate()
        process.wait(timeout=60)
        log.close()
    assert process.returncode == 0
