"""HTTP hardening on a real server and in process (checklist 9, 14-17, 21, 30, 31, 33, 38).

The real server (``jwmo-gateway serve`` in a subprocess on loopback, 25 MiB limit, header and body deadline
1.5 s, two worker processes) shows what only a socket shows: oversize bodies refused while they stream in,
slow clients cut off while normal requests keep their latency, the event loop free during heavy
validation. Authentication edge cases, duplicates and error texts run in process.
"""

from __future__ import annotations

import asyncio
import contextlib
import io
import json
import logging
import os
import random
import select
import socket
import statistics
import sys
import time
import zipfile
from collections.abc import Callable, Iterator
from dataclasses import replace
from pathlib import Path
from typing import Any

import httpx
import pytest
import structlog

from gateway.logs import configure_logging, redact
from gateway.service.serve import _JsonLines
from gateway.testing.builders import Client, random_bsn, render
from tests.helpers import BASE, LINE_A, LINE_B, TODAY, validator
from tests.security.common import minimiser_factory
from tests.security.tally import figure, record
from tests.service.test_http import (
    API_KEY,
    OTHER_AGB,
    XML,
    api_key_config,
    config_for,
    declaration,
    log_lines,
    outbox_files,
    run,
    serving,
    trusted_header_config,
)
from tests.service.test_http_server import BODY_TIMEOUT, HEADER_TIMEOUT, Server, _start

__all__ = ["log_lines"]  # the fixture, imported for the tests below

LIMIT_25_MIB = 26_214_400
# checklist 31: /healthz p99 under 200 ms while 20 x 5 MB are validated (JWMO_LOOP_P99_MS for slower CI)
LOOP_P99 = float(os.environ.get("JWMO_LOOP_P99_MS", "200")) / 1000
HMAC_KEY_OF_TEST_SERVERS = "test-hmac-key-of-enough-length"  # tests/service/test_http_server.py
SECURITY_HEADERS = {
    "cache-control": "no-store",
    "x-content-type-options": "nosniff",
    "content-security-policy": "default-src 'none'; frame-ancestors 'none'",
    "referrer-policy": "no-referrer",
}


@pytest.fixture(scope="module")
def guarded_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    """Open local mode on loopback with the default 25 MiB limit and room for 300 connections."""
    env = {"JWMO_MAX_MESSAGE_BYTES": str(LIMIT_25_MIB), "JWMO_HTTP_LIMIT_CONCURRENCY": "300"}
    yield from _start(tmp_path_factory.mktemp("guarded"), 2, env)


def _status_kib(pid: int, field: str) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1])
    raise AssertionError(f"{field} not in /proc/{pid}/status")


def _head(port: int, extra: str) -> bytes:
    return (
        f"POST /v1/declarations HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\n"
        f"Content-Type: application/xml\r\n{extra}\r\n"
    ).encode()


class _Upload:
    """One raw upload: sends frames until the server answers, counting what was sent."""

    def __init__(self, sock: socket.socket, frames: Iterator[bytes]) -> None:
        self.sock = sock
        self.frames = frames
        self.pending = b""
        self.sent = 0
        self.response = b""

    def read(self) -> bool:
        """Read what arrived; True when the exchange is over (answered or closed)."""
        try:
            data = self.sock.recv(65536)
        except ConnectionResetError:
            return True
        self.response += data
        return not data or b"\r\n\r\n" in self.response

    def write(self) -> bool:
        """Send the next piece; True when the connection broke."""
        if not self.pending:
            self.pending = next(self.frames, b"")
            if not self.pending:
                return False
        try:
            count = self.sock.send(self.pending)
        except BlockingIOError:
            return False
        except (BrokenPipeError, ConnectionResetError):
            return True
        self.pending = self.pending[count:]
        self.sent += count
        return False


def _send_until_answered(
    port: int, head: bytes, frames: Iterator[bytes], budget: float
) -> tuple[bytes, int, float]:
    """Send ``head`` then ``frames`` until the server answers (or closes, or ``budget`` seconds pass).

    Returns (the start of what the server sent, body bytes sent, seconds until the first answer byte)."""
    started = time.monotonic()
    answered_at: float | None = None
    with socket.create_connection(("127.0.0.1", port)) as sock:
        sock.sendall(head)
        sock.setblocking(False)
        upload = _Upload(sock, frames)
        while time.monotonic() - started < budget:
            readable, writable, _ = select.select([sock], [sock], [], 0.2)
            if readable:
                answered_at = answered_at or time.monotonic()
                if upload.read():
                    break
            elif writable and upload.write():
                break
        sock.setblocking(True)
        sock.settimeout(1)
        with contextlib.suppress(OSError):
            upload.response += sock.recv(65536)  # the rest of a short problem body
    return upload.response, upload.sent, (answered_at or time.monotonic()) - started


def _chunks(total: int, size: int = 256 * 1024) -> Iterator[bytes]:
    chunk = b"<" + b"a" * (size - 1)
    for _ in range(total // size + 1):
        yield chunk


def _chunked(total: int, size: int = 256 * 1024) -> Iterator[bytes]:
    for chunk in _chunks(total, size):
        yield b"%x\r\n" % len(chunk) + chunk + b"\r\n"


# ---- checklist 9: body limit --------------------------------------------------------------------


@pytest.mark.parametrize(
    ("name", "extra", "frames", "planned"),
    [
        ("declared-27MB-no-body", f"Content-Length: {27_000_000}\r\n", lambda: iter(()), 0),
        (
            "declared-100MB-streamed",
            f"Content-Length: {100_000_000}\r\n",
            lambda: _chunks(100_000_000),
            100_000_000,
        ),
        ("chunked-27MB", "Transfer-Encoding: chunked\r\n", lambda: _chunked(27_262_976), 27_262_976),
        ("chunked-100MB", "Transfer-Encoding: chunked\r\n", lambda: _chunked(100_000_000), 100_000_000),
    ],
)
def test_oversize_body_is_413_within_a_second_in_bounded_memory(
    guarded_server: Server, name: str, extra: str, frames: Callable[[], Iterator[bytes]], planned: int
) -> None:
    """27 MB and 100 MB bodies (the limit is 25 MiB = 26,214,400 bytes), declared or chunked: 413 TOO_LARGE
    within a second of the limit being passed, long before a 100 MB body is sent, with the security
    headers; the server's memory peak grows by less than 2x the limit."""
    pid = guarded_server.process.pid
    peak_before = _status_kib(pid, "VmHWM")
    response, sent, elapsed = _send_until_answered(
        guarded_server.port, _head(guarded_server.port, extra), frames(), 10
    )
    assert response.startswith(b"HTTP/1.1 413 "), (name, response[:80])
    assert elapsed < 1.0 + sent / 200e6, (
        f"{elapsed:.2f} s"
    )  # the time to push the bytes on loopback, plus 1 s
    if planned >= 100_000_000:
        assert sent < planned / 2  # refused while the client was still sending
    head, body = response.split(b"\r\n\r\n", 1)
    assert b"x-content-type-options: nosniff" in head.lower()
    if body.strip():
        assert json.loads(body)["code"] == "TOO_LARGE"
    growth = (_status_kib(pid, "VmHWM") - peak_before) * 1024
    assert growth < 2 * LIMIT_25_MIB
    record("attack.http.oversize_body")
    figure(f"body_limit.{name}.seconds_to_413", elapsed)


# ---- checklist 30: slow clients -----------------------------------------------------------------


def test_slowloris_connections_are_cut_off_while_normal_requests_stay_fast(guarded_server: Server) -> None:
    """50 connections trickling headers and 50 trickling a body (one byte per 0.3 s) are all closed by the
    header/body deadline; /healthz answers meanwhile with a p99 latency under 200 ms."""
    port = guarded_server.port
    slow: list[socket.socket] = []
    for _ in range(50):
        sock = socket.create_connection(("127.0.0.1", port))
        sock.sendall(b"POST /v1/declarations HTTP/1.1\r\nHost: x\r\nX-Slow: ")
        slow.append(sock)
    for _ in range(50):
        sock = socket.create_connection(("127.0.0.1", port))
        sock.sendall(_head(port, "Content-Length: 100000\r\n") + b"<")
        slow.append(sock)
    opened = time.monotonic()
    closed_at: dict[int, float] = {}
    latencies: list[float] = []
    deadline = max(HEADER_TIMEOUT, BODY_TIMEOUT) + 3.0
    with httpx.Client(timeout=5) as probe:
        next_trickle = 0.0
        while len(closed_at) < len(slow) and time.monotonic() - opened < deadline:
            now = time.monotonic()
            if now >= next_trickle:
                for index, sock in enumerate(slow):
                    if index not in closed_at:
                        try:
                            sock.send(b"a")
                        except OSError:
                            closed_at[index] = now - opened
                next_trickle = now + 0.3
            readable, _, _ = select.select(
                [s for i, s in enumerate(slow) if i not in closed_at], [], [], 0.05
            )
            for sock in readable:
                index = slow.index(sock)
                try:
                    data = sock.recv(65536)
                except OSError:
                    data = b""
                if not data or data.startswith(b"HTTP/1.1 408"):
                    closed_at[index] = time.monotonic() - opened
            started = time.perf_counter()
            assert probe.get(f"{guarded_server.url}/healthz").status_code == 200
            latencies.append(time.perf_counter() - started)
    for sock in slow:
        sock.close()
    assert len(closed_at) == len(slow), f"{len(slow) - len(closed_at)} slow connections still open"
    assert max(closed_at.values()) < max(HEADER_TIMEOUT, BODY_TIMEOUT) + 2.5
    p99 = statistics.quantiles(latencies, n=100)[98] if len(latencies) >= 2 else latencies[0]
    assert p99 < 0.2, f"p99 {p99 * 1000:.0f} ms over {len(latencies)} probes"
    record("attack.http.slowloris", len(slow))
    figure("slowloris.healthz_p99_ms", p99 * 1000)
    figure("slowloris.last_closed_s", max(closed_at.values()))


# ---- checklist 31: the event loop stays free --------------------------------------------------


def big_declaration(message_id: str, clients: int) -> bytes:
    """A valid JW323 of ``clients`` clients with two lines each (about 1.3 KB per client)."""
    rng = random.Random(message_id)
    seen: set[str] = set()
    built = []
    for i in range(clients):
        bsn = random_bsn(rng)
        while bsn in seen:
            bsn = random_bsn(rng)
        seen.add(bsn)
        lines = (
            replace(LINE_A, reference=f"A{i}", allocation=100_000 + 2 * i),
            replace(LINE_B, reference=f"B{i}", allocation=100_001 + 2 * i),
        )
        built.append(Client(bsn, lines))
    return render(replace(BASE, message_id=message_id, clients=tuple(built)))


def test_health_stays_fast_while_twenty_5mb_messages_are_validated(guarded_server: Server) -> None:
    """20 parallel 5 MB valid declarations: every one is answered valid, and /healthz keeps a p99 latency
    under 200 ms meanwhile (validation runs in the worker processes, not on the event loop)."""
    template = big_declaration("L0000", 2_900)
    assert 4_500_000 < len(template) < 6_000_000
    bodies = [template.replace(b">L0000<", f">L{i:04d}<".encode(), 1) for i in range(1, 21)]
    latencies: list[float] = []

    async def scenario() -> list[int]:
        async with httpx.AsyncClient(base_url=guarded_server.url, timeout=120) as client:
            uploads = [
                asyncio.create_task(client.post("/v1/declarations", content=body, headers=XML))
                for body in bodies
            ]
            async with httpx.AsyncClient(base_url=guarded_server.url, timeout=10) as probe:
                while not all(u.done() for u in uploads):
                    started = time.perf_counter()
                    response = await probe.get("/healthz")
                    latencies.append(time.perf_counter() - started)
                    assert response.status_code == 200
                    await asyncio.sleep(0.005)
            answers = await asyncio.gather(*uploads)
            assert all(a.json()["results"][0]["valid"] for a in answers)
            return [a.status_code for a in answers]

    statuses = asyncio.run(asyncio.wait_for(scenario(), timeout=150))
    assert statuses == [200] * 20
    assert len(latencies) >= 10
    p99 = statistics.quantiles(latencies, n=100)[98]
    assert p99 < LOOP_P99, f"p99 {p99 * 1000:.0f} ms over {len(latencies)} probes"
    figure("loop_isolation.healthz_p99_ms", p99 * 1000)
    figure("loop_isolation.healthz_median_ms", statistics.median(latencies) * 1000)


# ---- checklist 38: headers and docs ------------------------------------------------------------


def test_every_answer_carries_the_security_headers(guarded_server: Server) -> None:
    """200, 404, 415 and the probes all carry no-store, nosniff, CSP, no-referrer and a request id (413:
    see the body-limit test); no API docs or schema are served."""
    url = guarded_server.url
    answers = [
        httpx.get(f"{url}/healthz"),
        httpx.get(f"{url}/readyz"),
        httpx.get(f"{url}/metrics"),
        httpx.post(f"{url}/v1/declarations", content=declaration("H3801"), headers=XML),
        httpx.post(f"{url}/v1/declarations", content=b"{}", headers={"Content-Type": "application/json"}),
        httpx.get(f"{url}/docs"),
        httpx.get(f"{url}/openapi.json"),
        httpx.get(f"{url}/redoc"),
    ]
    assert [a.status_code for a in answers] == [200, 200, 200, 200, 415, 404, 404, 404]
    for answer in answers:
        for name, value in SECURITY_HEADERS.items():
            assert answer.headers.get(name) == value, (answer.url, name)
        assert len(answer.headers["x-request-id"]) == 36
        assert "server" not in answer.headers


# ---- checklist 33: media types ------------------------------------------------------------------


@pytest.mark.parametrize(
    "content_type",
    [
        "text/html",
        "application/xhtml+xml",
        "multipart/form-data; boundary=x",
        "application/xml-dtd",
        "*/*",
        "",
    ],
)
def test_other_media_types_are_415(tmp_path: Path, content_type: str) -> None:
    """Types next to the contract's (HTML, XHTML, multipart, DTD, wildcard, empty): 415, nothing read."""

    async def scenario() -> None:
        async with serving(config_for(tmp_path)) as client:
            response = await client.post(
                "/v1/declarations", content=declaration(), headers={"Content-Type": content_type}
            )
            assert response.status_code == 415
            assert response.json()["code"] == "UNSUPPORTED_MEDIA_TYPE"
            assert outbox_files(tmp_path) == []

    run(scenario)
    record("attack.http.media_type")


def test_xml_body_declared_as_zip_is_a_bad_archive_not_a_message(tmp_path: Path) -> None:
    """A message posted as application/zip is read as an archive: one ZIP_INVALID result, nothing stored."""

    async def scenario() -> None:
        async with serving(config_for(tmp_path)) as client:
            response = await client.post(
                "/v1/declarations", content=declaration(), headers={"Content-Type": "application/zip"}
            )
            assert response.status_code == 200
            (result,) = response.json()["results"]
            assert (result["source"], result["errors"][0]["code"]) == ("upload.zip", "ZIP_INVALID")
            assert outbox_files(tmp_path) == []

    run(scenario)


# ---- checklists 14, 15: authentication and authorisation edge cases ----------------------------


@pytest.mark.parametrize(
    ("name", "headers", "path"),
    [
        ("key-in-query-string", {}, f"/v1/declarations?api_key={API_KEY}"),
        ("empty-bearer", {"Authorization": "Bearer "}, "/v1/declarations"),
        ("key-as-basic-credentials", {"Authorization": f"Basic {API_KEY}"}, "/v1/declarations"),
        ("key-10kb", {"Authorization": "Bearer " + "k" * 10_240}, "/v1/declarations"),
        ("key-with-nul", {"X-API-Key": API_KEY[:-1] + "\x01"}, "/v1/declarations"),
        ("key-prefix", {"Authorization": f"Bearer {API_KEY[:-1]}"}, "/v1/declarations"),
        ("key-hash-instead-of-key", {"Authorization": "Bearer sha256:" + "0" * 64}, "/v1/declarations"),
    ],
)
def test_credentials_that_are_not_a_known_key_are_401(
    tmp_path: Path, name: str, headers: dict[str, str], path: str
) -> None:
    """Keys in the wrong place or form (query string, empty, Basic, oversized, control characters, a prefix,
    a hash) are 401 with nothing stored, never a 5xx."""

    async def scenario() -> None:
        async with serving(api_key_config(tmp_path)) as client:
            response = await client.post(path, content=declaration(), headers={**XML, **headers})
            assert response.status_code == 401, name
            assert response.json()["code"] == "UNAUTHENTICATED"
            assert API_KEY not in response.text
            assert outbox_files(tmp_path) == []

    run(scenario)
    record("attack.http.authn")


def test_trusted_header_sent_twice_is_ambiguous_and_refused(tmp_path: Path) -> None:
    """Two certificate headers (one from the client, one from the proxy) are refused, not merged."""
    from tests.service.test_http import SUBJECT  # noqa: PLC0415

    async def scenario() -> None:
        async with serving(trusted_header_config(tmp_path), peer="192.0.2.7") as client:
            headers = [
                ("Content-Type", "application/xml"),
                ("X-SSL-Client-S-DN", SUBJECT),
                ("X-SSL-Client-S-DN", "CN=Forged"),
            ]
            response = await client.post("/v1/declarations", content=declaration(), headers=headers)
            assert response.status_code == 401
            assert outbox_files(tmp_path) == []

    run(scenario)
    record("attack.http.authn")


def test_forged_trusted_header_without_a_proxy_is_401_and_logged(
    tmp_path: Path, log_lines: Callable[[], list[dict[str, Any]]]
) -> None:
    """Not behind the proxy (peer is not a trusted proxy): the certificate header is a forgery, 401, and
    the log names the reason without the header's value."""
    from tests.service.test_http import SUBJECT  # noqa: PLC0415

    async def scenario() -> None:
        async with serving(trusted_header_config(tmp_path), peer="127.0.0.1") as client:
            response = await client.post(
                "/v1/declarations", content=declaration(), headers={**XML, "X-SSL-Client-S-DN": SUBJECT}
            )
            assert response.status_code == 401

    run(scenario)
    requests = [line for line in log_lines() if line["event"] == "http_request"]
    assert [r.get("auth_failure") for r in requests] == ["forged_header"]
    assert "Zorgaanbieder" not in json.dumps(log_lines())
    record("attack.http.authn")


def test_afzender_of_another_provider_is_403_with_no_value_in_answer_or_log(
    tmp_path: Path, log_lines: Callable[[], list[dict[str, Any]]]
) -> None:
    """Checklists 15, 16: key of A, Afzender B: 403, nothing stored; neither AGB code in the answer, and the
    refusal is logged with its code."""

    async def scenario() -> None:
        async with serving(api_key_config(tmp_path)) as client:
            response = await client.post(
                "/v1/declarations",
                content=declaration("H1501", sender=OTHER_AGB),
                headers={**XML, "Authorization": f"Bearer {API_KEY}"},
            )
            assert response.status_code == 403
            assert OTHER_AGB not in response.text
            assert outbox_files(tmp_path) == []

    run(scenario)
    requests = [line for line in log_lines() if line["event"] == "http_request"]
    assert [(r["status"], r.get("code")) for r in requests] == [(403, "SENDER_MISMATCH")]
    assert OTHER_AGB not in json.dumps(requests)


# ---- checklist 16: no value echoed ------------------------------------------------------------


def test_ten_digit_bsn_is_answered_with_code_and_path_only(
    tmp_path: Path, log_lines: Callable[[], list[dict[str, Any]]]
) -> None:
    """A 10-digit Bsn: schema error, XSD code and XPath; the value is neither in the answer nor the log."""
    body = declaration("H1601").replace(b">999900006<", b">9999000061<", 1)
    assert b"9999000061" in body

    async def scenario() -> None:
        async with serving(config_for(tmp_path)) as client:
            response = await client.post("/v1/declarations", content=body, headers=XML)
            assert response.status_code == 200
            (result,) = response.json()["results"]
            assert result["stage"] == "schema"
            assert all(e["code"] == "XSD" and e["path"].startswith("/Bericht/") for e in result["errors"])
            assert "9999000061" not in response.text

    run(scenario)
    assert "9999000061" not in json.dumps(log_lines())


# ---- checklist 17: no locals, no messages in logs ---------------------------------------------


def test_logging_configuration_never_renders_locals_or_exception_text() -> None:
    """The structlog chain redacts before rendering and has no traceback renderer that could show locals;
    uvicorn's records are rendered without traceback text or exception message."""
    configure_logging("INFO")
    processors = structlog.get_config()["processors"]
    names = [getattr(p, "__name__", type(p).__name__) for p in processors]
    assert redact in processors
    assert names.index("redact") < names.index("JSONRenderer")
    assert not {"dict_tracebacks", "ExceptionRenderer", "format_exc_info", "ExceptionPrettyPrinter"} & set(
        names
    )

    def fail(personal: str) -> None:
        raise ValueError(personal)  # the local and the exception text carry the canaries

    record_ = logging.LogRecord("uvicorn.error", logging.ERROR, __file__, 1, "failed", (), None)
    try:
        fail("999912343 Pietje-Kanarie")
    except ValueError:
        record_.exc_info = sys.exc_info()
    line = _JsonLines().format(record_)
    assert json.loads(line)["exception_type"] == "ValueError"
    assert "999912343" not in line
    assert "Kanarie" not in line


# ---- checklist 21: duplicates -------------------------------------------------------------------


def conflicting_pair() -> tuple[bytes, bytes]:
    first = declaration("H2101")
    changed = render(replace(BASE, message_id="H2101", clients=(Client("999900006", (LINE_A,)),)))
    assert first != changed
    return first, changed


def test_conflicting_duplicate_is_refused_under_tr056(tmp_path: Path) -> None:
    """Checklist 21: same (Afzender, BerichtCode, Identificatie), other content: not valid, TR056 with
    retourcode 9056, a 325 that rejects the message as a whole, and nothing of it billed; the first
    message's answer keeps its file, the refusal gets its own."""
    first, changed = conflicting_pair()
    out: dict[str, Any] = {}

    async def scenario() -> None:
        async with serving(config_for(tmp_path, minimiser_factory=minimiser_factory)) as client:
            accepted = await client.post("/v1/declarations", content=first, headers=XML)
            assert accepted.json()["results"][0]["valid"]
            response = await client.post("/v1/declarations", content=changed, headers=XML)
            out["status"] = response.status_code
            out["result"] = response.json()["results"][0]
            again = await client.post("/v1/declarations", content=first, headers=XML)  # a plain redelivery
            out["again"] = again.json()["results"][0]
            metrics = await client.get("/metrics")
            out["metrics"] = metrics.text

    run(scenario)
    result = out["result"]
    assert out["status"] == 200
    assert result["valid"] is False
    assert [(e["code"], e["retourcode"]) for e in result["errors"]] == [("TR056", "9056")]
    assert result["errors"][0]["path"] == "/Bericht/Header/BerichtIdentificatie/Identificatie"
    retour = result["retour"].encode()
    assert validator().check(retour, "retour", today=TODAY).verdict.valid  # a valid JW325 ...
    assert b"<jw325:RetourCode>9056</jw325:RetourCode></jw325:RetourCodes></jw325:Header>" in retour
    assert b"DeclaratieAntwoord" not in retour  # as a whole: nothing granted
    assert out["again"]["valid"] is True  # the original, sent again, is still a redelivery
    billing = (tmp_path / "outbox" / "billing.jsonl").read_text().splitlines()
    assert len(billing) == first.count(b"<jw323:Prestatie>")  # the first message's lines, once; no others
    assert len(list((tmp_path / "outbox" / "retour").glob("*.xml"))) == 2
    assert 'jwmo_conflicting_duplicates_total{adapter="http"} 1.0' in out["metrics"]
    record("attack.http.conflicting_duplicate")


def test_conflicting_member_of_a_zip_is_refused_alone(tmp_path: Path) -> None:
    """A ZIP holding a new message and a conflicting copy of an earlier one: only that member is refused
    (TR056), the new one is accepted and billed; only the refused member is run a second time."""
    first, changed = conflicting_pair()
    fresh = declaration("H2102")
    archive = io.BytesIO()
    with zipfile.ZipFile(archive, "w") as zf:
        zf.writestr("a.xml", fresh)
        zf.writestr("b.xml", changed)
    out: dict[str, Any] = {}

    async def scenario() -> None:
        async with serving(config_for(tmp_path, minimiser_factory=minimiser_factory)) as client:
            await client.post("/v1/declarations", content=first, headers=XML)
            response = await client.post(
                "/v1/declarations", content=archive.getvalue(), headers={"Content-Type": "application/zip"}
            )
            out["results"] = response.json()["results"]
            out["metrics"] = (await client.get("/metrics")).text

    run(scenario)
    results = out["results"]
    # pipeline runs: the first message, the two members, then the refused member alone (not the whole ZIP)
    assert 'jwmo_processing_seconds_count{adapter="http"} 4.0' in out["metrics"]
    assert [r["source"] for r in results] == ["upload.zip!a.xml", "upload.zip!b.xml"]
    assert results[0]["valid"] is True
    assert [e["code"] for e in results[1]["errors"]] == ["TR056"]
    billing = (tmp_path / "outbox" / "billing.jsonl").read_text().splitlines()
    assert len(billing) == first.count(b"<jw323:Prestatie>") + fresh.count(b"<jw323:Prestatie>")


# ---- checklist 39: key hygiene -----------------------------------------------------------------


def test_keys_never_reach_the_server_log_or_metrics(guarded_server: Server) -> None:
    """After every request of this module: the HMAC key is in neither the server's log nor /metrics."""
    metrics = httpx.get(f"{guarded_server.url}/metrics").text
    log = guarded_server.log_path.read_text()
    assert "http_request" in log  # control: the log is the server's
    assert HMAC_KEY_OF_TEST_SERVERS not in log
    assert HMAC_KEY_OF_TEST_SERVERS not in metrics
    assert HMAC_KEY_OF_TEST_SERVERS.encode().hex() not in log
