"""The HTTP intake's logic, in process: the ASGI app driven through ``httpx.ASGITransport``.

Real-server behaviour (limits while reading from a socket, slow clients, binding) is in
``test_http_server.py``; this module covers routing, media types, auth decisions, handover, metrics,
logging and error answers. Helpers here are shared with the other ``test_http*`` modules.
"""

from __future__ import annotations

import asyncio
import io
import json
import logging
import zipfile
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from contextlib import asynccontextmanager
from dataclasses import replace
from datetime import date
from pathlib import Path
from typing import Any

import httpx
import pytest
import structlog

from gateway.config import Settings
from gateway.logs import configure_logging
from gateway.model import Declaration as DeclarationRecord
from gateway.pipeline import Outcome
from gateway.service.auth import AuthConfig
from gateway.service.handover import FileHandover
from gateway.service.http import ServiceConfig, create_app
from gateway.service.pool import PoolUnavailableError
from gateway.testing.builders import Client, render
from gateway.validation import Validator
from tests.helpers import BASE, LINE_A, LINE_B, TODAY

PROJECT = Path(__file__).resolve().parents[2]
CANARY_BSN = "999912343"  # passes the eleven-test, so a message carrying it is valid
CANARY_NAME = "Pietje-Kanarie"
CANARIES = (CANARY_BSN, CANARY_NAME)
OWN_AGB, OTHER_AGB = "12345678", "87654321"
API_KEY = "test-key-for-provider-12345678"
SUBJECT = "CN=Zorgaanbieder Test BV,O=Zorgaanbieder Test BV,C=NL"
XML = {"Content-Type": "application/xml"}
ZIP = {"Content-Type": "application/zip"}

# ---- shared helpers --------------------------------------------------------------------------------


def declaration(message_id: str = "M0001", sender: str = OWN_AGB, bsn: str | None = None) -> bytes:
    """A valid JW323 (optionally with another Afzender or the canary BSN)."""
    message = replace(BASE, message_id=message_id, sender=sender)
    if bsn is not None:
        message = replace(message, clients=(Client(bsn, (LINE_A, LINE_B)),))
    return render(message)


def with_canary_comment(xml: bytes) -> bytes:
    """Plant the name canary in a comment and a processing instruction (both dropped by the parser)."""
    head, _, rest = xml.partition(b"?>")
    extra = f"<!-- client {CANARY_NAME} --><?note {CANARY_NAME}?>".encode()
    return head + b"?>" + extra + rest


def wrong_total(message_id: str = "M0002") -> bytes:
    """A JW323 rejected as a whole by TR358 (its 325 says 0001)."""
    return render(replace(BASE, message_id=message_id, total=(1, "D")))


def make_zip(members: dict[str, bytes]) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        for name, data in members.items():
            archive.writestr(name, data)
    return buffer.getvalue()


def assert_answers_declaration(declaration_xml: bytes, answer_xml: str, today: date = TODAY) -> None:
    """The 325 is valid on its own and against the 323 it answers (echo rules TR337, TR367, ...)."""
    validator = Validator()
    checked = validator.check(declaration_xml, "decl.xml", today=today)
    assert isinstance(checked.message, DeclarationRecord)
    answer = answer_xml.encode()
    alone = validator.validate(answer, "answer.xml", today=today)
    assert alone.valid, alone.errors
    assert alone.message_type == "JW325"
    echoed = validator.validate(answer, "answer.xml", today=today, declaration=checked.message)
    assert echoed.valid, echoed.errors


def outbox_files(data_dir: Path) -> list[str]:
    """Everything the file handover stored: billing/restricted/audit lines and answer files."""
    outbox = data_dir / "outbox"
    found = [p.name for p in sorted((outbox / "retour").glob("*"))] if (outbox / "retour").exists() else []
    for name in ("billing.jsonl", "restricted.jsonl", "audit.jsonl"):
        path = outbox / name
        if path.exists() and path.read_text().strip():
            found.append(name)
    return found


def write_keys(path: Path, entries: dict[str, str]) -> Path:
    path.write_text("[keys]\n" + "".join(f'"{k}" = "{v}"\n' for k, v in entries.items()))
    return path


def write_subjects(path: Path, entries: dict[str, str]) -> Path:
    path.write_text(json.dumps({"subjects": entries}))
    return path


@pytest.fixture
def log_lines() -> Iterator[Callable[[], list[dict[str, Any]]]]:
    """Capture the log lines for the duration of a test; every line must be a JSON object."""
    stream = io.StringIO()
    saved = structlog.get_config()
    root = logging.getLogger()
    saved_handlers, saved_level = root.handlers[:], root.level
    client_log = logging.getLogger("httpx")  # the test client's own log line quotes the URL
    saved_client_level = client_log.level
    client_log.setLevel(logging.WARNING)
    configure_logging("INFO", stream=stream)

    def lines() -> list[dict[str, Any]]:
        return [json.loads(line) for line in stream.getvalue().splitlines() if line.strip()]

    try:
        yield lines
    finally:
        structlog.configure(**saved)
        root.handlers[:] = saved_handlers
        root.setLevel(saved_level)
        client_log.setLevel(saved_client_level)


def config_for(tmp_path: Path, **overrides: Any) -> ServiceConfig:
    settings = Settings(data_dir=tmp_path, max_message_bytes=overrides.pop("max_bytes", 1_048_576))
    return ServiceConfig(settings=settings, today=lambda: TODAY, **overrides)


@asynccontextmanager
async def serving(config: ServiceConfig, peer: str = "127.0.0.1") -> AsyncIterator[httpx.AsyncClient]:
    """The app with its lifespan running, and a client whose TCP peer address is ``peer``."""
    app = create_app(config)
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app, client=(peer, 50000))
        async with httpx.AsyncClient(transport=transport, base_url="http://gateway") as client:
            client.app = app  # type: ignore[attr-defined]  # tests reach the service through it
            yield client


def run(scenario: Callable[[], Awaitable[None]]) -> None:
    asyncio.run(asyncio.wait_for(scenario(), timeout=20))


# ---- one message, answers, handover -----------------------------------------------------------------


def test_declaration_is_answered_with_a_valid_325_and_handed_over(tmp_path: Path) -> None:
    """A posted JW323: 200, its verdict, a 325 valid on its own and against the 323, stored before 200."""
    body = declaration()

    async def scenario() -> None:
        async with serving(config_for(tmp_path)) as client:
            response = await client.post("/v1/declarations", content=body, headers=XML)
            assert response.status_code == 200
            results = response.json()["results"]
            assert len(results) == 1
            result = results[0]
            assert {k: result[k] for k in ("source", "message_type", "valid", "stage", "errors")} == {
                "source": "upload",
                "message_type": "JW323",
                "valid": True,
                "stage": None,
                "errors": [],
            }
            assert_answers_declaration(body, result["retour"])
            assert len(outbox_files(tmp_path)) == 1  # the answer file: on disk before the 200
            assert response.headers["cache-control"] == "no-store"
            assert response.headers["x-content-type-options"] == "nosniff"
            assert len(response.headers["x-request-id"]) == 36

    run(scenario)


def test_rejected_declaration_gets_its_verdict_and_a_0001_answer(tmp_path: Path) -> None:
    """A 323 failing TR358 is answered 200 with stage rules, the code, and a header-only 325 (0001)."""
    body = wrong_total()

    async def scenario() -> None:
        async with serving(config_for(tmp_path)) as client:
            response = await client.post("/v1/declarations", content=body, headers=XML)
            result = response.json()["results"][0]
            assert (result["valid"], result["stage"]) == (False, "rules")
            assert [e["code"] for e in result["errors"]] == ["TR358"]
            assert "<jw325:RetourCode>0001</jw325:RetourCode>" in result["retour"]
            assert_answers_declaration(body, result["retour"])

    run(scenario)


def test_redelivery_gets_the_same_answer_and_is_stored_once(tmp_path: Path) -> None:
    """The same message twice: the same 325 both times, one answer file, a duplicate counted."""
    body = declaration("M0100")

    async def scenario() -> None:
        async with serving(config_for(tmp_path)) as client:
            first = await client.post("/v1/declarations", content=body, headers=XML)
            second = await client.post("/v1/declarations", content=body, headers=XML)
            assert first.json() == second.json()
            assert len(outbox_files(tmp_path)) == 1
            metrics = (await client.get("/metrics")).text
            assert 'jwmo_duplicates_total{adapter="http"} 1.0' in metrics

    run(scenario)


def test_fixed_width_message_as_text_plain(tmp_path: Path) -> None:
    """An EI JW321 sent as text/plain is validated as JW321."""
    body = (PROJECT / "examples" / "ei" / "JW321.txt").read_bytes()

    async def scenario() -> None:
        async with serving(config_for(tmp_path)) as client:
            response = await client.post(
                "/v1/declarations", content=body, headers={"Content-Type": "text/plain; charset=iso-8859-1"}
            )
            assert response.status_code == 200
            assert response.json()["results"][0]["message_type"] == "JW321"

    run(scenario)


def test_empty_body_is_a_transport_verdict_and_nothing_is_stored(tmp_path: Path) -> None:
    """An empty body is answered 200 with a transport verdict (NOT_WELL_FORMED); nothing handed over."""

    async def scenario() -> None:
        async with serving(config_for(tmp_path)) as client:
            response = await client.post("/v1/declarations", content=b"", headers=XML)
            assert response.status_code == 200
            result = response.json()["results"][0]
            assert (result["stage"], result["message_type"], result["retour"]) == ("transport", None, None)
            assert [e["code"] for e in result["errors"]] == ["NOT_WELL_FORMED"]
            assert outbox_files(tmp_path) == []

    run(scenario)


# ---- ZIP archives ----------------------------------------------------------------------------------


def test_zip_of_several_messages_in_archive_order(tmp_path: Path) -> None:
    """A ZIP of a valid 323, a rejected 323 and a non-XML member: three results named upload.zip!member."""
    members = {"b-valid.xml": declaration("M0201"), "a-total.xml": wrong_total("M0202"), "c.txt": b"hello"}

    async def scenario() -> None:
        async with serving(config_for(tmp_path)) as client:
            response = await client.post("/v1/declarations", content=make_zip(members), headers=ZIP)
            assert response.status_code == 200
            results = response.json()["results"]
            assert [r["source"] for r in results] == [
                "upload.zip!b-valid.xml",
                "upload.zip!a-total.xml",
                "upload.zip!c.txt",
            ]
            assert [r["stage"] for r in results] == [None, "rules", "transport"]
            assert [r["retour"] is not None for r in results] == [True, True, False]
            assert len(outbox_files(tmp_path)) == 2  # two answers; the unreadable member has no output

    run(scenario)


def test_broken_archive_is_one_transport_result(tmp_path: Path) -> None:
    """A body sent as application/zip that is no ZIP: one result for the archive, ZIP_INVALID."""

    async def scenario() -> None:
        async with serving(config_for(tmp_path)) as client:
            response = await client.post("/v1/declarations", content=declaration(), headers=ZIP)
            results = response.json()["results"]
            assert [(r["source"], r["stage"]) for r in results] == [("upload.zip", "transport")]
            assert results[0]["errors"][0]["code"] == "ZIP_INVALID"

    run(scenario)


# ---- media types and limits ------------------------------------------------------------------------


@pytest.mark.parametrize("content_type", [None, "application/json", "application/octet-stream", "xml"])
def test_wrong_or_missing_media_type_is_415(tmp_path: Path, content_type: str | None) -> None:
    """Anything but the contract's media types is refused with 415 before the body is processed."""

    async def scenario() -> None:
        async with serving(config_for(tmp_path)) as client:
            headers = {"Content-Type": content_type} if content_type else {}
            response = await client.post("/v1/declarations", content=declaration(), headers=headers)
            assert response.status_code == 415
            assert response.headers["content-type"] == "application/problem+json"
            assert response.json()["code"] == "UNSUPPORTED_MEDIA_TYPE"
            assert outbox_files(tmp_path) == []

    run(scenario)


def test_text_xml_with_parameters_is_accepted(tmp_path: Path) -> None:
    """text/xml with a charset parameter counts as one XML message."""

    async def scenario() -> None:
        async with serving(config_for(tmp_path)) as client:
            headers = {"Content-Type": "Text/XML; charset=UTF-8"}
            response = await client.post("/v1/declarations", content=declaration(), headers=headers)
            assert response.status_code == 200

    run(scenario)


def test_content_length_over_the_limit_is_413_without_reading(tmp_path: Path) -> None:
    """A declared Content-Length over the limit is refused before one byte of the body is read."""
    pulled = 0

    async def body() -> AsyncIterator[bytes]:
        nonlocal pulled
        for _ in range(4):
            pulled += 1
            yield b"x" * 1000

    async def scenario() -> None:
        async with serving(config_for(tmp_path, max_bytes=3000)) as client:
            headers = {**XML, "Content-Length": "4000"}
            response = await client.post("/v1/declarations", content=body(), headers=headers)
            assert response.status_code == 413
            assert response.json()["code"] == "TOO_LARGE"
            assert response.headers["connection"] == "close"
            assert pulled == 0

    run(scenario)


def test_streamed_body_is_cut_off_when_it_passes_the_limit(tmp_path: Path) -> None:
    """A chunked body is counted while it arrives and refused as soon as it passes the limit."""
    pulled = 0

    async def body() -> AsyncIterator[bytes]:
        nonlocal pulled
        for _ in range(100):
            pulled += 1
            yield b"x" * 1000

    async def scenario() -> None:
        async with serving(config_for(tmp_path, max_bytes=10_500)) as client:
            response = await client.post("/v1/declarations", content=body(), headers=XML)
            assert response.status_code == 413
            assert pulled == 11  # the chunk that crossed 10,500 bytes was the last one read

    run(scenario)


def test_body_arriving_too_slowly_is_408(tmp_path: Path) -> None:
    """A body that does not arrive within the body deadline is refused with 408."""

    async def body() -> AsyncIterator[bytes]:
        yield b"<"
        await asyncio.sleep(5)
        yield b"x"

    async def scenario() -> None:
        async with serving(config_for(tmp_path, body_timeout=0.3)) as client:
            started = asyncio.get_running_loop().time()
            response = await client.post("/v1/declarations", content=body(), headers=XML)
            assert response.status_code == 408
            assert response.json()["code"] == "BODY_TIMEOUT"
            assert asyncio.get_running_loop().time() - started < 3

    run(scenario)


# ---- authentication and authorisation --------------------------------------------------------------


def api_key_config(tmp_path: Path) -> ServiceConfig:
    keys = write_keys(tmp_path / "keys.toml", {API_KEY: OWN_AGB, "another-key-for-the-other-one": OTHER_AGB})
    return config_for(tmp_path, auth=AuthConfig.from_env({"JWMO_API_KEYS_FILE": str(keys)}))


@pytest.mark.parametrize(
    "headers",
    [
        {},
        {"Authorization": "Bearer not-a-known-key-at-all"},
        {"X-API-Key": "x"},
        {"Authorization": "Basic a"},
    ],
)
def test_api_key_missing_or_unknown_is_401(tmp_path: Path, headers: dict[str, str]) -> None:
    """Without a known key: 401 with WWW-Authenticate, nothing processed or stored."""

    async def scenario() -> None:
        async with serving(api_key_config(tmp_path)) as client:
            response = await client.post(
                "/v1/declarations", content=declaration(), headers={**XML, **headers}
            )
            assert response.status_code == 401
            assert response.headers["www-authenticate"].startswith("Bearer")
            assert response.json()["code"] == "UNAUTHENTICATED"
            assert outbox_files(tmp_path) == []

    run(scenario)


def test_api_key_for_another_afzender_is_403_and_nothing_is_stored(tmp_path: Path) -> None:
    """A valid key of AGB A sending a message whose Afzender is B: 403, outbox stays empty."""

    async def scenario() -> None:
        async with serving(api_key_config(tmp_path)) as client:
            headers = {**XML, "Authorization": f"Bearer {API_KEY}"}
            response = await client.post(
                "/v1/declarations", content=declaration(sender=OTHER_AGB), headers=headers
            )
            assert response.status_code == 403
            assert response.json()["code"] == "SENDER_MISMATCH"
            assert OTHER_AGB not in response.text
            assert OWN_AGB not in response.text
            assert outbox_files(tmp_path) == []

    run(scenario)


def test_api_key_for_own_afzender_is_accepted(tmp_path: Path) -> None:
    """The key's own AGB as Afzender: 200 and stored (with Bearer and with X-API-Key)."""

    async def scenario() -> None:
        async with serving(api_key_config(tmp_path)) as client:
            bearer = {**XML, "Authorization": f"Bearer {API_KEY}"}
            response = await client.post("/v1/declarations", content=declaration("M0301"), headers=bearer)
            assert response.status_code == 200
            assert response.json()["results"][0]["valid"] is True
            x_api_key = {**XML, "X-API-Key": API_KEY}
            response = await client.post("/v1/declarations", content=declaration("M0302"), headers=x_api_key)
            assert response.status_code == 200
            assert len(outbox_files(tmp_path)) == 2

    run(scenario)


def test_zip_with_one_foreign_message_is_403_and_nothing_is_stored(tmp_path: Path) -> None:
    """Every member is checked before any is handed over: one foreign Afzender refuses the whole ZIP."""
    archive = make_zip({"own.xml": declaration("M0401"), "other.xml": declaration("M0402", sender=OTHER_AGB)})

    async def scenario() -> None:
        async with serving(api_key_config(tmp_path)) as client:
            headers = {**ZIP, "Authorization": f"Bearer {API_KEY}"}
            response = await client.post("/v1/declarations", content=archive, headers=headers)
            assert response.status_code == 403
            assert response.json()["detail"].startswith("message 2:")
            assert outbox_files(tmp_path) == []

    run(scenario)


def test_unreadable_message_from_an_authenticated_caller_gets_its_verdict(tmp_path: Path) -> None:
    """An unreadable body has no Afzender and no outputs: answered with its verdict, nothing stored."""

    async def scenario() -> None:
        async with serving(api_key_config(tmp_path)) as client:
            headers = {**XML, "Authorization": f"Bearer {API_KEY}"}
            response = await client.post("/v1/declarations", content=b"<not-closed>", headers=headers)
            assert response.status_code == 200
            result = response.json()["results"][0]
            assert (result["stage"], result["retour"]) == ("transport", None)
            assert outbox_files(tmp_path) == []

    run(scenario)


def trusted_header_config(tmp_path: Path, *, with_keys: bool = False) -> ServiceConfig:
    env = {
        "JWMO_TRUSTED_HEADER": "X-SSL-Client-S-DN",
        "JWMO_TRUSTED_PROXIES": "10.0.0.0/24, 192.0.2.7",
        "JWMO_CERT_AGB_MAP": str(write_subjects(tmp_path / "subjects.json", {SUBJECT: OWN_AGB})),
    }
    if with_keys:
        env["JWMO_API_KEYS_FILE"] = str(write_keys(tmp_path / "keys.toml", {API_KEY: OWN_AGB}))
    return config_for(tmp_path, auth=AuthConfig.from_env(env))


@pytest.mark.parametrize(
    ("peer", "subject", "status"),
    [
        ("192.0.2.7", SUBJECT, 200),  # the proxy, a known certificate
        ("10.0.0.9", SUBJECT, 200),  # a proxy network
        ("192.0.2.7", "CN=Someone Else", 401),  # the proxy, an unknown certificate
        ("192.0.2.8", SUBJECT, 401),  # the header from a peer that is not a proxy: forged
        ("127.0.0.1", SUBJECT, 401),
        ("192.0.2.7", None, 401),  # the proxy without the header (no client certificate)
    ],
)
def test_trusted_header(tmp_path: Path, peer: str, subject: str | None, status: int) -> None:
    """The certificate subject counts only when the trusted proxy set it."""

    async def scenario() -> None:
        async with serving(trusted_header_config(tmp_path), peer=peer) as client:
            headers = {**XML, **({"X-SSL-Client-S-DN": subject} if subject else {})}
            response = await client.post("/v1/declarations", content=declaration(), headers=headers)
            assert response.status_code == status
            assert (outbox_files(tmp_path) != []) == (status == 200)

    run(scenario)


def test_forged_header_is_refused_even_with_a_valid_api_key(tmp_path: Path) -> None:
    """A trusted header from an untrusted peer is a forgery: 401 although the API key is valid."""

    async def scenario() -> None:
        async with serving(trusted_header_config(tmp_path, with_keys=True), peer="198.51.100.1") as client:
            headers = {**XML, "Authorization": f"Bearer {API_KEY}"}
            response = await client.post("/v1/declarations", content=declaration("M0501"), headers=headers)
            assert response.status_code == 200  # the key alone is fine
            forged = {**headers, "X-SSL-Client-S-DN": SUBJECT}
            response = await client.post("/v1/declarations", content=declaration("M0502"), headers=forged)
            assert response.status_code == 401

    run(scenario)


def test_certificate_of_another_afzender_is_403(tmp_path: Path) -> None:
    """A certificate mapped to AGB A sending as B: 403, nothing stored."""

    async def scenario() -> None:
        async with serving(trusted_header_config(tmp_path), peer="192.0.2.7") as client:
            headers = {**XML, "X-SSL-Client-S-DN": SUBJECT}
            body = declaration(sender=OTHER_AGB)
            response = await client.post("/v1/declarations", content=body, headers=headers)
            assert response.status_code == 403
            assert outbox_files(tmp_path) == []

    run(scenario)


# ---- failures on our side --------------------------------------------------------------------------


def test_internal_error_is_a_generic_500_and_logged_without_values(
    tmp_path: Path, log_lines: Callable[[], list[dict[str, Any]]]
) -> None:
    """Our own failure: 500 with the request id only; the log has the type and frames, no message text."""

    async def explode(*_args: object, **_kwargs: object) -> list[Outcome]:
        secret = f"{CANARY_NAME} {CANARY_BSN}"  # a local holding personal data
        raise RuntimeError(f"failed on {secret}")

    async def scenario() -> None:
        async with serving(config_for(tmp_path)) as client:
            client.app.state.service.pool.run = explode  # type: ignore[attr-defined]
            response = await client.post("/v1/declarations", content=declaration(), headers=XML)
            assert response.status_code == 500
            problem = response.json()
            assert problem["code"] == "INTERNAL"
            assert problem["request_id"] == response.headers["x-request-id"]
            for canary in CANARIES:
                assert canary not in response.text

    run(scenario)
    lines = log_lines()
    failures = [line for line in lines if line["event"] == "request_failed"]
    assert len(failures) == 1
    assert failures[0]["exception_type"] == "RuntimeError"
    assert failures[0]["exception_frames"]
    text = "\n".join(json.dumps(line) for line in lines)
    for canary in CANARIES:
        assert canary not in text


def test_broken_pool_is_503_with_retry_after(tmp_path: Path) -> None:
    """A dead worker pool is not the sender's fault: 503 and Retry-After, nothing stored."""

    async def broken(*_args: object, **_kwargs: object) -> list[Outcome]:
        raise PoolUnavailableError("restarting")

    async def scenario() -> None:
        async with serving(config_for(tmp_path)) as client:
            client.app.state.service.pool.run = broken  # type: ignore[attr-defined]
            response = await client.post("/v1/declarations", content=declaration(), headers=XML)
            assert response.status_code == 503
            assert response.headers["retry-after"] == "5"
            assert outbox_files(tmp_path) == []

    run(scenario)


class _FailingHandover:
    """A handover whose store is down."""

    def __init__(self) -> None:
        self.calls = 0

    async def hand_over(self, outcome: Outcome) -> bool:
        self.calls += 1
        raise OSError("disk full")

    async def close(self) -> None:
        return None

    def ready(self) -> bool:
        return False


def test_failed_handover_is_503_never_200(tmp_path: Path) -> None:
    """When the outputs cannot be stored the request is not accepted: 503, and /readyz says not ready."""
    handover = _FailingHandover()

    async def scenario() -> None:
        async with serving(config_for(tmp_path, handover_factory=lambda _s: handover)) as client:
            response = await client.post("/v1/declarations", content=declaration(), headers=XML)
            assert response.status_code == 503
            assert response.json()["code"] == "HANDOVER_FAILED"
            assert handover.calls == 1
            ready = await client.get("/readyz")
            assert ready.status_code == 503
            assert ready.json()["handover"] is False

    run(scenario)


# ---- health, metrics, docs -------------------------------------------------------------------------


def test_health_readiness_and_metrics(tmp_path: Path) -> None:
    """/healthz 200; /readyz 200 once pool and handover are up; /metrics counts messages and refusals."""

    async def scenario() -> None:
        async with serving(config_for(tmp_path)) as client:
            assert (await client.get("/healthz")).status_code == 200
            for _ in range(100):
                ready = await client.get("/readyz")
                if ready.status_code == 200:
                    break
                await asyncio.sleep(0.05)
            assert ready.json() == {"status": "ready", "pool": True, "handover": True}
            await client.post("/v1/declarations", content=declaration(), headers=XML)
            await client.post("/v1/declarations", content=b"{}", headers={"Content-Type": "application/json"})
            response = await client.get("/metrics")
            assert response.status_code == 200
            assert response.headers["content-type"].startswith("text/plain")
            text = response.text
            assert 'jwmo_messages_total{adapter="http",message_type="JW323",stage="valid"} 1.0' in text
            assert 'jwmo_http_rejected_total{status="415"} 1.0' in text

    run(scenario)


def test_readiness_waits_for_the_handover(tmp_path: Path) -> None:
    """/readyz is 503 while the handover is not ready, naming the part that is not."""

    class NotYet(FileHandover):
        def ready(self) -> bool:
            return False

    def factory(settings: Settings) -> FileHandover:
        return NotYet(settings.data_dir / "outbox", settings.data_dir / "ledger.sqlite")

    async def scenario() -> None:
        async with serving(config_for(tmp_path, handover_factory=factory)) as client:
            response = await client.get("/readyz")
            assert response.status_code == 503
            assert response.json()["handover"] is False

    run(scenario)


@pytest.mark.parametrize("path", ["/docs", "/redoc", "/openapi.json"])
def test_api_docs_are_not_served(tmp_path: Path, path: str) -> None:
    """No interactive docs or schema endpoint in the service."""

    async def scenario() -> None:
        async with serving(config_for(tmp_path)) as client:
            assert (await client.get(path)).status_code == 404

    run(scenario)


# ---- privacy: canaries and request logging ---------------------------------------------------------


def test_canaries_never_reach_logs_error_bodies_or_metrics(
    tmp_path: Path, log_lines: Callable[[], list[dict[str, Any]]]
) -> None:
    """BSN and name canaries in bodies, query strings and headers: absent from logs, problems and /metrics."""
    valid = with_canary_comment(declaration("M0601", bsn=CANARY_BSN))
    garbage = f"<Bericht><Bsn>{CANARY_BSN}</Bsn><Naam>{CANARY_NAME}</Naam>".encode()
    foreign = with_canary_comment(declaration("M0602", sender=OTHER_AGB, bsn=CANARY_BSN))
    error_bodies: list[str] = []

    async def scenario() -> None:
        async with serving(api_key_config(tmp_path)) as client:
            key = {"Authorization": f"Bearer {API_KEY}"}
            url = f"/v1/declarations?bsn={CANARY_BSN}&naam={CANARY_NAME}"
            ok = await client.post(url, content=valid, headers={**XML, **key, "X-Client": CANARY_NAME})
            assert ok.status_code == 200
            assert ok.json()["results"][0]["valid"] is True
            unreadable = await client.post(url, content=garbage, headers={**XML, **key})
            assert unreadable.json()["results"][0]["stage"] == "transport"
            for canary in CANARIES:
                assert canary not in json.dumps(unreadable.json()["results"][0]["errors"])
            refusals = [
                await client.post(url, content=foreign, headers={**XML, **key}),  # 403
                await client.post(
                    url, content=valid, headers={**XML, "Authorization": f"Bearer {CANARY_NAME}"}
                ),
                await client.post(url, content=valid, headers={"Content-Type": CANARY_NAME, **key}),  # 415
                await client.post(url, content=valid + b"x" * 1_048_576, headers={**XML, **key}),  # 413
            ]
            assert [r.status_code for r in refusals] == [403, 401, 415, 413]
            error_bodies.extend(r.text + json.dumps(dict(r.headers)) for r in refusals)
            error_bodies.append((await client.get("/metrics")).text)

    run(scenario)
    lines = log_lines()
    requests = [line for line in lines if line["event"] == "http_request"]
    assert [r["status"] for r in requests] == [200, 200, 403, 401, 415, 413]  # /metrics: debug level
    assert all(len(r["request_id"]) == 36 and "duration_ms" in r for r in requests)
    assert requests[0]["messages"] == 1
    assert requests[0]["types"] == ["JW323"]
    assert requests[1]["codes"] == ["NOT_WELL_FORMED"]
    assert API_KEY not in json.dumps(lines)
    swept = "\n".join([json.dumps(lines), *error_bodies])
    for canary in CANARIES:
        assert canary not in swept


def test_each_request_logs_one_line_with_its_request_id(
    tmp_path: Path, log_lines: Callable[[], list[dict[str, Any]]]
) -> None:
    """One http_request line per request, carrying the id the client got in X-Request-ID."""
    ids: list[str] = []

    async def scenario() -> None:
        async with serving(config_for(tmp_path)) as client:
            for body in (declaration("M0701"), wrong_total("M0702")):
                response = await client.post("/v1/declarations", content=body, headers=XML)
                ids.append(response.headers["x-request-id"])

    run(scenario)
    requests = [line for line in log_lines() if line["event"] == "http_request"]
    assert [r["request_id"] for r in requests] == ids
    assert [r["codes"] for r in requests] == [[], ["TR358"]]
    assert all(r["route"] == "/v1/declarations" and r["auth"] == "open" for r in requests)


def test_helpers_build_what_they_claim() -> None:
    """The canary message is valid and carries the canaries only where the tests expect them."""
    body = with_canary_comment(declaration("M0801", bsn=CANARY_BSN))
    assert CANARY_NAME.encode() in body
    assert CANARY_BSN.encode() in body
    assert Validator().validate(body, "c.xml", today=TODAY).valid
    assert declaration(sender=OTHER_AGB).count(OTHER_AGB.encode()) == 1
