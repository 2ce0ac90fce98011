"""Soak (checklist 40), scaled for CI: constant load on a real server with 5 % invalid messages.

The server (``jwmo-gateway serve`` in a subprocess, two worker processes, the embedded file outbox) gets
a steady stream of declarations for ``JWMO_SOAK_SECONDS`` (default 20; the documented long run is 600).
Sampled every second: the resident memory of the server and its workers and the server's open file
descriptors. Oracles: no 5xx and no transport error, exactly the invalid share refused, every valid
message billed once, memory flat after warm-up (second half vs first half), file descriptors stable.
"""

from __future__ import annotations

import json
import os
import random
import statistics
import time
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path

import httpx
import pytest

from gateway.testing.builders import random_declaration, render
from tests.helpers import TODAY
from tests.security.tally import figure, record
from tests.service.test_http import XML
from tests.service.test_http_server import Server, _start

SECONDS = float(os.environ.get("JWMO_SOAK_SECONDS", "20"))
RATE = 25  # requests per second
INVALID_SHARE = 0.05


@pytest.fixture(scope="module")
def soak_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    yield from _start(tmp_path_factory.mktemp("soak"), 2, {"JWMO_HTTP_LIMIT_CONCURRENCY": "128"})


def _rss_kib(pid: int) -> int:
    """Resident memory of ``pid`` and its children (the worker processes)."""
    total = 0
    pids = [pid]
    children = Path(f"/proc/{pid}/task/{pid}/children")
    if children.exists():
        pids += [int(p) for p in children.read_text().split()]
    for p in pids:
        try:
            for line in Path(f"/proc/{p}/status").read_text().splitlines():
                if line.startswith("VmRSS:"):
                    total += int(line.split()[1])
        except FileNotFoundError:
            continue
    return total


def _fds(pid: int) -> int:
    return len(os.listdir(f"/proc/{pid}/fd"))


def messages(count: int) -> Iterator[tuple[bytes, bool]]:
    """Declarations with unique ids; 1 in 20 made schema-invalid."""
    rng = random.Random(40)
    templates = [random_declaration(random.Random(900 + i), today=TODAY) for i in range(10)]
    for i in range(count):
        body = render(replace(templates[i % 10], message_id=f"SOAK{i:07d}"))
        invalid = rng.random() < INVALID_SHARE
        if invalid:
            body = body.replace(b">D</ijw:DebetCredit>", b">X</ijw:DebetCredit>", 1)
        yield body, invalid


@pytest.mark.slow
def test_constant_load_keeps_memory_and_descriptors_flat(soak_server: Server) -> None:
    """Steady load with 5 % invalid messages: no server error, the refusals equal the invalid share, every
    valid message billed once, RSS and file descriptors flat."""
    pid = soak_server.process.pid
    url = f"{soak_server.url}/v1/declarations"
    samples: list[tuple[float, int, int]] = []
    sent_invalid = refused = errors = accepted = 0
    started = time.monotonic()
    next_sample = started
    with httpx.Client(timeout=30) as client:
        for i, (body, invalid) in enumerate(messages(int(SECONDS * RATE))):
            due = started + i / RATE
            if due > time.monotonic():
                time.sleep(due - time.monotonic())
            response = client.post(url, content=body, headers=XML)
            if response.status_code != 200:
                errors += 1
                continue
            (result,) = response.json()["results"]
            sent_invalid += invalid
            if result["valid"]:
                accepted += 1
            else:
                refused += 1
                assert result["stage"] == "schema"
            if time.monotonic() >= next_sample:
                samples.append((time.monotonic() - started, _rss_kib(pid), _fds(pid)))
                next_sample += 1.0
    assert errors == 0
    assert refused == sent_invalid
    billed = {
        json.loads(line)["message_key"]
        for line in (soak_server.data_dir / "outbox" / "billing.jsonl").read_text().splitlines()
    }
    assert len(billed) == accepted
    warm = [s for s in samples if s[0] >= min(5.0, SECONDS / 4)]
    half = len(warm) // 2
    first = statistics.median(s[1] for s in warm[:half])
    second = statistics.median(s[1] for s in warm[half:])
    growth_mib = (second - first) / 1024
    assert growth_mib < 20, f"RSS grew by {growth_mib:.1f} MiB"
    fds = [s[2] for s in warm]
    assert max(fds) - min(fds) <= 8
    record("soak.requests", accepted + refused)
    figure("soak.seconds", time.monotonic() - started)
    figure("soak.rss_growth_mib", growth_mib)
    figure("soak.rss_mib", second / 1024)
    figure("soak.fd_range", max(fds) - min(fds))
    figure("soak.invalid_share", refused / max(1, accepted + refused))
