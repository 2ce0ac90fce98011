"""The HTTP intake on a real uvicorn server (``jwmo-gateway serve`` in a subprocess, loopback only).

Covers what only a real socket shows: the size limit enforced while the body streams in, slow clients,
oversized headers, the process pool (outcomes crossing process boundaries), authentication from real peer
addresses (127.0.0.2 plays the TLS-terminating proxy), and the server's own JSON log lines.
"""

from __future__ import annotations

import json
import os
import select
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import date
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.service.test_http import (
    API_KEY,
    CANARIES,
    CANARY_BSN,
    CANARY_NAME,
    OTHER_AGB,
    OWN_AGB,
    SUBJECT,
    XML,
    ZIP,
    assert_answers_declaration,
    declaration,
    make_zip,
    outbox_files,
    with_canary_comment,
    write_keys,
    write_subjects,
    wrong_total,
)

LIMIT = 1_048_576  # JWMO_MAX_MESSAGE_BYTES of the test servers
BODY_TIMEOUT = 1.5
HEADER_TIMEOUT = 1.5
PROXY = "127.0.0.2"  # the loopback address the "TLS proxy" connects from


@dataclass
class Server:
    process: subprocess.Popen[bytes]
    port: int
    data_dir: Path
    log_path: Path

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def log_lines(self) -> list[dict[str, Any]]:
        """The server's standard error: every line must be a JSON object."""
        return [json.loads(line) for line in self.log_path.read_text().splitlines() if line.strip()]


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


def _start(tmp: Path, workers: int, extra_env: dict[str, str]) -> Iterator[Server]:
    port = _free_port()
    data_dir = tmp / "data"
    log_path = tmp / "server.log"
    env = {k: v for k, v in os.environ.items() if not k.startswith("JWMO_")}
    env.update(
        {
            "JWMO_DATA_DIR": str(data_dir),
            "JWMO_MAX_MESSAGE_BYTES": str(LIMIT),
            "JWMO_HTTP_BODY_TIMEOUT": str(BODY_TIMEOUT),
            "JWMO_HTTP_HEADER_TIMEOUT": str(HEADER_TIMEOUT),
            "JWMO_HTTP_MAX_HEADER_BYTES": "16384",
            "JWMO_HMAC_KEY": "test-hmac-key-of-enough-length",
            **extra_env,
        }
    )
    with log_path.open("wb") as log:
        process = subprocess.Popen(
            [sys.executable, "-m", "gateway", "serve", "--port", str(port), "--workers", str(workers)],
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=log,
        )
    server = Server(process, port, data_dir, log_path)
    try:
        deadline = time.monotonic() + 30
        while True:
            assert process.poll() is None, log_path.read_text()
            try:
                if httpx.get(f"{server.url}/readyz", timeout=1).status_code == 200:
                    break
            except httpx.TransportError:
                pass
            assert time.monotonic() < deadline, "the server did not become ready"
            time.sleep(0.1)
        yield server
    finally:
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


@pytest.fixture(scope="module")
def open_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    """Open local mode on loopback, two worker processes."""
    yield from _start(tmp_path_factory.mktemp("open"), 2, {})


@pytest.fixture(scope="module")
def auth_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    """API keys and a trusted header set by a "proxy" at 127.0.0.2; one worker (a thread)."""
    tmp = tmp_path_factory.mktemp("auth")
    env = {
        "JWMO_API_KEYS_FILE": str(write_keys(tmp / "keys.toml", {API_KEY: OWN_AGB})),
        "JWMO_TRUSTED_HEADER": "X-SSL-Client-S-DN",
        "JWMO_TRUSTED_PROXIES": PROXY,
        "JWMO_CERT_AGB_MAP": str(write_subjects(tmp / "subjects.json", {SUBJECT: OWN_AGB})),
    }
    yield from _start(tmp, 1, env)


# ---- raw sockets ---------------------------------------------------------------------------------


def _head(port: int, extra: str) -> bytes:
    return (
        f"POST /v1/declarations HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\n"
        f"Content-Type: application/xml\r\n{extra}\r\n"
    ).encode()


def _read_response(sock: socket.socket, timeout: float) -> bytes:
    """Whatever the server sends until it closes or ``timeout`` passes."""
    sock.settimeout(timeout)
    received = b""
    try:
        while True:
            data = sock.recv(65536)
            if not data:
                break
            received += data
    except (TimeoutError, ConnectionResetError):
        pass
    return received


def _closed_by_server(sock: socket.socket, timeout: float) -> bool:
    sock.settimeout(timeout)
    try:
        while sock.recv(65536):
            pass
    except TimeoutError:
        return False
    except ConnectionResetError:
        return True
    return True


# ---- limits while reading -----------------------------------------------------------------------


def test_content_length_over_the_limit_is_refused_before_the_body(open_server: Server) -> None:
    """Headers declaring a body over the limit get 413 at once, without sending any body."""
    with socket.create_connection(("127.0.0.1", open_server.port)) as sock:
        started = time.monotonic()
        sock.sendall(_head(open_server.port, f"Content-Length: {LIMIT + 1}\r\n"))
        response = _read_response(sock, 3)
        elapsed = time.monotonic() - started
    assert response.startswith(b"HTTP/1.1 413 ")
    assert b"connection: close" in response.lower()
    assert elapsed < 2


def test_chunked_body_is_refused_while_the_client_is_still_sending(open_server: Server) -> None:
    """A chunked body growing past the limit gets 413 long before the client has sent it all."""
    planned = 64 * LIMIT
    chunk = b"<" + b"a" * 65_535
    frame = b"%x\r\n" % len(chunk) + chunk + b"\r\n"
    sent = 0
    response = b""
    with socket.create_connection(("127.0.0.1", open_server.port)) as sock:
        sock.sendall(_head(open_server.port, "Transfer-Encoding: chunked\r\n"))
        sock.setblocking(False)
        deadline = time.monotonic() + 10
        while sent < planned and b"\r\n\r\n" not in response and time.monotonic() < deadline:
            readable, writable, _ = select.select([sock], [sock], [], 0.5)
            if readable:
                try:
                    data = sock.recv(65536)
                except ConnectionResetError:
                    break
                if not data:
                    break
                response += data
            elif writable:
                try:
                    sent += sock.send(frame)
                except BlockingIOError:
                    continue
                except (BrokenPipeError, ConnectionResetError):
                    break
        sock.setblocking(True)
        response += _read_response(sock, 2)
    assert response.startswith(b"HTTP/1.1 413 "), response[:100]
    assert sent < planned / 4  # answered after about LIMIT bytes plus socket buffers, not at the end
    problem = json.loads(response.split(b"\r\n\r\n", 1)[1])
    assert problem["code"] == "TOO_LARGE"


def test_body_trickling_slower_than_the_deadline_gets_408(open_server: Server) -> None:
    """A client that sends its headers, then one byte every 0.2 s, is answered 408 after the deadline."""
    with socket.create_connection(("127.0.0.1", open_server.port)) as sock:
        sock.sendall(_head(open_server.port, "Content-Length: 1000\r\n"))
        started = time.monotonic()
        sock.settimeout(0.2)
        response = b""
        while time.monotonic() - started < 6 and not response:
            try:
                sock.sendall(b"<")
                response = sock.recv(65536)
            except TimeoutError:
                continue
            except (BrokenPipeError, ConnectionResetError):
                break
        elapsed = time.monotonic() - started
        closed = _closed_by_server(sock, 2)
    assert response.startswith(b"HTTP/1.1 408 ")
    assert BODY_TIMEOUT - 0.2 < elapsed < BODY_TIMEOUT + 2.5
    assert closed


def test_headers_trickling_slower_than_the_deadline_are_cut_off(open_server: Server) -> None:
    """Slow headers (and a connection that sends nothing) are closed after the header deadline."""
    with socket.create_connection(("127.0.0.1", open_server.port)) as sock:
        sock.sendall(b"POST /v1/declarations HTTP/1.1\r\nX-Slow: ")
        started = time.monotonic()
        sock.settimeout(0.2)
        response = b""
        while time.monotonic() - started < 6 and not response:
            try:
                sock.sendall(b"a")
                response = sock.recv(65536)
            except TimeoutError:
                continue
            except (BrokenPipeError, ConnectionResetError):
                break
        elapsed = time.monotonic() - started
    assert response.startswith(b"HTTP/1.1 408 ")
    assert HEADER_TIMEOUT - 0.2 < elapsed < HEADER_TIMEOUT + 2.5
    with socket.create_connection(("127.0.0.1", open_server.port)) as idle:
        started = time.monotonic()
        assert _closed_by_server(idle, HEADER_TIMEOUT + 2.5)
        assert time.monotonic() - started < HEADER_TIMEOUT + 2.5
    refused = [line for line in open_server.log_lines() if line.get("event") == "http_refused"]
    assert {"status": 408, "reason": "request timeout"}.items() <= refused[-1].items()


def test_oversized_headers_are_refused_with_431(open_server: Server) -> None:
    """Headers over JWMO_HTTP_MAX_HEADER_BYTES (16 KiB here) are refused and the connection closed."""
    with socket.create_connection(("127.0.0.1", open_server.port)) as sock:
        sock.sendall(b"POST /v1/declarations HTTP/1.1\r\n")
        try:
            for _ in range(40):
                sock.sendall(b"X-Filler: " + b"a" * 1000 + b"\r\n")
                time.sleep(0.005)
        except (BrokenPipeError, ConnectionResetError):
            pass
        response = _read_response(sock, 3)
    assert response.startswith(b"HTTP/1.1 431 ")
    refused = [line for line in open_server.log_lines() if line.get("event") == "http_refused"]
    assert 431 in {line["status"] for line in refused}


# ---- messages on the real server ----------------------------------------------------------------


def test_wrong_media_type_is_415(open_server: Server) -> None:
    """application/json is refused with 415 and a problem body."""
    response = httpx.post(
        f"{open_server.url}/v1/declarations", content=b"{}", headers={"Content-Type": "application/json"}
    )
    assert response.status_code == 415
    assert response.json()["code"] == "UNSUPPORTED_MEDIA_TYPE"


def test_zip_of_several_messages_through_the_process_pool(open_server: Server) -> None:
    """A ZIP through worker processes: one result per member, in order, each 325 answering its 323."""
    members = {"one.xml": declaration("S0001"), "two.xml": wrong_total("S0002"), "three.xml": b"\xff\xfe"}
    response = httpx.post(f"{open_server.url}/v1/declarations", content=make_zip(members), headers=ZIP)
    assert response.status_code == 200
    results = response.json()["results"]
    assert [r["source"] for r in results] == [f"upload.zip!{name}" for name in members]
    assert [(r["valid"], r["stage"]) for r in results] == [
        (True, None),
        (False, "rules"),
        (False, "transport"),
    ]
    assert_answers_declaration(members["one.xml"], results[0]["retour"], today=date.today())
    assert_answers_declaration(members["two.xml"], results[1]["retour"], today=date.today())
    assert results[2]["retour"] is None


def test_health_readiness_and_metrics_on_the_real_server(open_server: Server) -> None:
    """/healthz and /readyz are 200; /metrics has jwmo_messages_total for the HTTP adapter."""
    httpx.post(f"{open_server.url}/v1/declarations", content=declaration("S0101"), headers=XML)
    assert httpx.get(f"{open_server.url}/healthz").json() == {"status": "ok"}
    assert httpx.get(f"{open_server.url}/readyz").json()["status"] == "ready"
    metrics = httpx.get(f"{open_server.url}/metrics").text
    assert 'jwmo_messages_total{adapter="http",message_type="JW323",stage="valid"}' in metrics


# ---- authentication on the real server ----------------------------------------------------------


def test_api_keys_on_the_real_server(auth_server: Server) -> None:
    """401 without or with an unknown key; 403 for another Afzender with nothing stored; 200 for its own."""
    url = f"{auth_server.url}/v1/declarations"
    assert httpx.post(url, content=declaration("K0001"), headers=XML).status_code == 401
    unknown = {**XML, "Authorization": "Bearer an-unknown-key-of-some-length"}
    assert httpx.post(url, content=declaration("K0001"), headers=unknown).status_code == 401
    key = {**XML, "Authorization": f"Bearer {API_KEY}"}
    mismatch = httpx.post(url, content=declaration("K0002", sender=OTHER_AGB), headers=key)
    assert mismatch.status_code == 403
    assert outbox_files(auth_server.data_dir) == []
    accepted = httpx.post(url, content=declaration("K0003"), headers=key)
    assert accepted.status_code == 200
    stored = outbox_files(auth_server.data_dir)
    # the answer and, with the default policy in the real server, the billing records of the message
    assert len([f for f in stored if f.endswith(".xml")]) == 1
    assert "billing.jsonl" in stored


def test_trusted_header_only_from_the_proxy_address(auth_server: Server) -> None:
    """The certificate header from 127.0.0.2 (the proxy) is honoured; from 127.0.0.1 it is forged: 401."""
    headers = {**XML, "X-SSL-Client-S-DN": SUBJECT}
    url = f"{auth_server.url}/v1/declarations"
    forged = httpx.post(url, content=declaration("T0001"), headers=headers)
    assert forged.status_code == 401
    with httpx.Client(transport=httpx.HTTPTransport(local_address=PROXY)) as proxy:
        via_proxy = proxy.post(url, content=declaration("T0002"), headers=headers)
        assert via_proxy.status_code == 200
        assert via_proxy.json()["results"][0]["valid"] is True
        other = proxy.post(url, content=declaration("T0003", sender=OTHER_AGB), headers=headers)
        assert other.status_code == 403
    failures = [line for line in auth_server.log_lines() if line.get("status") == 401]
    assert "forged_header" in {line.get("auth_failure") for line in failures}


# ---- privacy ------------------------------------------------------------------------------------


def test_canaries_never_reach_the_server_log_error_bodies_or_metrics(
    open_server: Server, auth_server: Server
) -> None:
    """Canary BSN and name in bodies and URLs on both servers: absent from stderr, problems and /metrics."""
    valid = with_canary_comment(declaration("C0001", bsn=CANARY_BSN))
    garbage = f"<Bericht><Naam>{CANARY_NAME}</Naam><Bsn>{CANARY_BSN}</Bsn>".encode()
    foreign = with_canary_comment(declaration("C0002", sender=OTHER_AGB, bsn=CANARY_BSN))
    query = f"?bsn={CANARY_BSN}&naam={CANARY_NAME}"
    key = {"Authorization": f"Bearer {API_KEY}"}
    swept: list[str] = []
    for server, headers in ((open_server, XML), (auth_server, {**XML, **key})):
        url = f"{server.url}/v1/declarations{query}"
        assert httpx.post(url, content=valid, headers=headers).status_code == 200
        assert httpx.post(url, content=garbage, headers=headers).status_code == 200
        refusals = [
            httpx.post(url, content=valid + b" " * LIMIT, headers=headers),
            httpx.post(url, content=valid, headers={**headers, "Content-Type": f"text/{CANARY_NAME}"}),
        ]
        if server is auth_server:
            refusals.append(httpx.post(url, content=foreign, headers=headers))
        assert [r.status_code for r in refusals] == [413, 415, 403][: len(refusals)]
        swept.extend(r.text + json.dumps(dict(r.headers)) for r in refusals)
        swept.append(httpx.get(f"{server.url}/metrics").text)
        swept.append(server.log_path.read_text())
        lines = server.log_lines()  # every line parses as JSON
        assert any(line.get("event") == "http_request" for line in lines)
    text = "\n".join(swept)
    for canary in CANARIES:
        assert canary not in text
    assert API_KEY not in text


# ---- the Kafka hook -----------------------------------------------------------------------------

_FAKE_KAFKA = """
import asyncio, json, pathlib, signal, sys, types

out = pathlib.Path(sys.argv[1])
fake = types.ModuleType("gateway.service.kafka")


class Handover:
    async def hand_over(self, outcome):
        with out.open("a") as fh:
            fh.write(json.dumps(list(outcome.dedup_key)) + "\\n")
        return True

    async def close(self):
        pass

    def ready(self):
        return True


async def kafka_handover(settings):
    return Handover()


async def run_worker(config, workers, schema_dirs, max_bytes, minimiser_factory=None):
    state = out.parent / "worker.txt"
    stop = asyncio.Event()
    asyncio.get_running_loop().add_signal_handler(signal.SIGTERM, stop.set)  # as the real worker does
    state.write_text(json.dumps([config["bootstrap"], workers, max_bytes]))
    await stop.wait()
    state.write_text("stopped")


fake.kafka_handover = kafka_handover
fake.config_from_env = lambda bootstrap: {"bootstrap": bootstrap}
fake.run_worker = run_worker
sys.modules["gateway.service.kafka"] = fake
from gateway.cli import main

sys.exit(main(sys.argv[2:]))
"""


def test_kafka_hook_hands_over_through_the_adapter_and_runs_its_worker(tmp_path: Path) -> None:
    """With JWMO_KAFKA_BOOTSTRAP, serve hands over via kafka_handover() and runs run_worker() beside HTTP."""
    script = tmp_path / "fake_kafka_serve.py"
    script.write_text(_FAKE_KAFKA)
    handed = tmp_path / "handed.jsonl"
    port = _free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith("JWMO_")}
    env.update({"JWMO_KAFKA_BOOTSTRAP": "127.0.0.1:19092", "JWMO_DATA_DIR": str(tmp_path / "data")})
    process = subprocess.Popen(
        [sys.executable, str(script), str(handed), "serve", "--port", str(port), "--workers", "1"],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    try:
        deadline = time.monotonic() + 20
        while True:
            assert process.poll() is None
            try:
                if httpx.get(f"http://127.0.0.1:{port}/readyz", timeout=1).status_code == 200:
                    break
            except httpx.TransportError:
                pass
            assert time.monotonic() < deadline
            time.sleep(0.1)
        url = f"http://127.0.0.1:{port}/v1/declarations"
        assert httpx.post(url, content=declaration("H0001"), headers=XML).status_code == 200
        assert json.loads(handed.read_text()) == [OWN_AGB, "490", "H0001"]
        assert json.loads((tmp_path / "worker.txt").read_text()) == ["127.0.0.1:19092", 1, 26_214_400]
        assert not (tmp_path / "data" / "outbox").exists()  # not the embedded default
    finally:
        process.send_signal(signal.SIGTERM)
        _, stderr = process.communicate(timeout=15)
    assert process.returncode == 0, stderr.decode()[-2000:]
    assert (tmp_path / "worker.txt").read_text() == "stopped"
