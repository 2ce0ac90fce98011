"""The HTTP intake (FastAPI): ``POST /v1/declarations``, ``/healthz``, ``/readyz``, ``/metrics``.

One request is one message or one ZIP archive of messages. In order, a request is:

1. authenticated (``401``) when an authentication method is configured (:mod:`gateway.service.auth`);
2. checked for its media type (``415``): ``application/xml``, ``text/xml``, ``text/plain`` (EI fixed-width)
   for one message; ``application/zip`` (or ``application/x-zip-compressed``) for an archive;
3. read within the size limit (``413`` at once for a ``Content-Length`` over it; a chunked body is counted
   while it streams in and refused as soon as it passes the limit) and within the body deadline (``408``);
4. run through the pipeline in the worker pool (:mod:`gateway.service.pool`);
5. authorised: an authenticated caller may only send messages whose Afzender is its own AGB code; if any
   message of the request (any member of a ZIP) has another Afzender the whole request is refused (``403``)
   and nothing of it is handed over;
6. handed over (:class:`~gateway.service.handover.Handover`): every output is durably stored before the
   ``200`` answer is sent; a redelivered message is not stored twice but gets the same answer again.

The ``200`` body is ``{"results": [...]}``: per message the ``validate --json`` object plus ``"retour"``
(the 325/304/322 answer as text, or null). Sources: a single message is ``upload``; ZIP members are
``upload.zip!<member name>``; an archive refused as a whole is ``upload.zip``.

Every other answer is an RFC 9457 problem (``application/problem+json``) with our own ``code`` and the
``request_id``; it never quotes the body, a header value or a parser message.
"""

from __future__ import annotations

import asyncio
import inspect
import re
import time
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable, MutableMapping
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from datetime import date
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, Response
from prometheus_client import CONTENT_TYPE_LATEST
from starlette.datastructures import MutableHeaders
from starlette.requests import ClientDisconnect
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from gateway.config import Settings
from gateway.logs import get_logger
from gateway.pipeline import ConflictingDuplicate, Minimiser, Outcome
from gateway.service.auth import AuthConfig, Denial, Identity
from gateway.service.handover import FileHandover, Handover
from gateway.service.metrics import Metrics
from gateway.service.pool import PipelinePool, PoolUnavailableError, WorkerOptions

__all__ = [
    "ARCHIVE_MEDIA_TYPES",
    "MESSAGE_MEDIA_TYPES",
    "SOURCE_ARCHIVE",
    "SOURCE_MESSAGE",
    "ServiceConfig",
    "create_app",
    "default_handover",
]

log = get_logger("jwmo.http")

SOURCE_MESSAGE = "upload"
SOURCE_ARCHIVE = "upload.zip"
MESSAGE_MEDIA_TYPES = frozenset({"application/xml", "text/xml", "text/plain"})
ARCHIVE_MEDIA_TYPES = frozenset({"application/zip", "application/x-zip-compressed"})
PROBLEM = "application/problem+json"
_DIGIT_RUN = re.compile(r"\d{8}")
_QUIET_PATHS = frozenset({"/healthz", "/readyz", "/metrics"})  # probes and scrapes: logged at debug
_ROUTES = frozenset({"/v1/declarations", *_QUIET_PATHS})
_SECURITY_HEADERS = (
    (b"cache-control", b"no-store"),
    (b"x-content-type-options", b"nosniff"),
    (b"content-security-policy", b"default-src 'none'; frame-ancestors 'none'"),
    (b"referrer-policy", b"no-referrer"),
)
_TITLES = {
    400: "Bad Request",
    401: "Unauthorized",
    403: "Forbidden",
    408: "Request Timeout",
    413: "Content Too Large",
    415: "Unsupported Media Type",
    500: "Internal Server Error",
    503: "Service Unavailable",
}

HandoverFactory = Callable[[Settings], "Handover | Awaitable[Handover]"]


def default_handover(settings: Settings) -> Handover:
    """The embedded default: the file outbox and SQLite ledger in the data directory."""
    data_dir = settings.data_dir
    return FileHandover(data_dir / "outbox", data_dir / "state" / "ledger.sqlite")


@dataclass(frozen=True, slots=True)
class ServiceConfig:
    """Everything :func:`create_app` needs; :mod:`gateway.service.serve` builds it from the environment."""

    settings: Settings
    auth: AuthConfig = field(default_factory=AuthConfig)
    workers: int = 1
    processes: bool | None = None  # None: a process pool when workers > 1, one thread otherwise
    body_timeout: float = 30.0  # seconds to receive the whole body once the headers are in
    handover_factory: HandoverFactory = default_handover
    minimiser_factory: Callable[[], Minimiser | None] | None = None  # module-level (picklable)
    today: Callable[[], date] = date.today
    metrics: Metrics | None = None  # default: a registry of its own


class _RefusedError(Exception):
    """A request refused before or after the pipeline; becomes a problem answer."""

    def __init__(
        self,
        status: int,
        code: str,
        detail: str,
        headers: dict[str, str] | None = None,
        *,
        close: bool = False,
    ) -> None:
        super().__init__(code)
        self.status = status
        self.code = code
        self.detail = detail
        self.headers = dict(headers or {})
        if close:  # the body was not read to its end: do not keep the connection
            self.headers["Connection"] = "close"


def problem(
    status: int, code: str, detail: str, request_id: str, headers: dict[str, str] | None = None
) -> JSONResponse:
    body = {
        "type": "about:blank",
        "title": _TITLES.get(status, "Error"),
        "status": status,
        "code": code,
        "detail": detail,
        "request_id": request_id,
    }
    return JSONResponse(body, status_code=status, headers=headers, media_type=PROBLEM)


def new_request_id() -> str:
    """A uuid4 that the log redaction leaves intact (it masks runs of 8 or 9 digits as dates and BSNs)."""
    while True:
        request_id = str(uuid.uuid4())
        if not _DIGIT_RUN.search(request_id):
            return request_id


def _request_info(scope: Scope) -> dict[str, Any]:
    state: MutableMapping[str, Any] = scope.setdefault("state", {})
    info: dict[str, Any] = state.setdefault("jwmo", {})
    return info


class _RequestContext:
    """Pure ASGI middleware: request id, security headers, one log line per request, last-resort 500.

    Any exception escaping the application ends here: it is logged as its type and frames only (the
    redaction processor drops messages and locals) and answered with a generic 500 and the request id.
    """

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        request_id = new_request_id()
        info = _request_info(scope)
        info["request_id"] = request_id
        started = time.perf_counter()
        response: dict[str, Any] = {"status": None}

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                response["status"] = message["status"]
                headers = MutableHeaders(scope=message)
                for name, value in _SECURITY_HEADERS:
                    headers.append(name.decode(), value.decode())
                headers.append("X-Request-ID", request_id)
            await send(message)

        try:
            await self.app(scope, receive, send_with_headers)
        except Exception:
            log.exception("request_failed", request_id=request_id)
            if response["status"] is None:
                answer = problem(500, "INTERNAL", "the gateway failed; quote the request id", request_id)
                await answer(scope, receive, send_with_headers)
        finally:
            path = scope.get("path", "")
            status = response["status"] if response["status"] is not None else 499  # client went away
            fields = {
                "request_id": request_id,
                "method": scope.get("method", ""),
                "route": path if path in _ROUTES else "other",
                "status": status,
                "duration_ms": round((time.perf_counter() - started) * 1000, 2),
                **{k: v for k, v in info.items() if k != "request_id"},
            }
            if path in _QUIET_PATHS and status < 400:
                log.debug("http_request", **fields)
            else:
                log.info("http_request", **fields)


def _is_archive(content_type: str | None) -> bool:
    """True for an archive, False for one message; 415 for any other media type (or none)."""
    media = (content_type or "").split(";", 1)[0].strip().lower()
    if media in MESSAGE_MEDIA_TYPES:
        return False
    if media in ARCHIVE_MEDIA_TYPES:
        return True
    raise _RefusedError(
        415,
        "UNSUPPORTED_MEDIA_TYPE",
        "send application/xml or text/xml (one XML message), text/plain (one EI message) or "
        "application/zip (an archive of messages)",
        close=True,
    )


def _has_outputs(outcome: Outcome) -> bool:
    m = outcome.minimised
    return outcome.answer is not None or bool(m.billing) or bool(m.restricted) or bool(m.audit)


def _to_hand_over(outcome: Outcome) -> bool:
    """Outcomes of readable messages (known Afzender) or with outputs; an unreadable one has none."""
    return bool(outcome.dedup_key[0]) or _has_outputs(outcome)


class _Service:
    """The state behind the routes: configuration, pool, handover, metrics."""

    def __init__(self, config: ServiceConfig) -> None:
        self.config = config
        self.max_bytes = config.settings.max_message_bytes
        self.metrics = config.metrics if config.metrics is not None else Metrics()
        self.pool = PipelinePool(
            WorkerOptions(
                schema_dirs=config.settings.schema_dirs,
                max_bytes=self.max_bytes,
                minimiser_factory=config.minimiser_factory,
                hmac_key=config.settings.hmac_key,
            ),
            config.workers,
            processes=config.processes,
        )
        self.handover: Handover | None = None

    async def start(self) -> None:
        await self.pool.start()
        made = self.config.handover_factory(self.config.settings)
        self.handover = await made if inspect.isawaitable(made) else made
        log.info(
            "http_service_started",
            workers=self.config.workers,
            processes=self.pool.processes,
            auth=list(self.config.auth.methods) or ["open_local_mode"],
            max_message_bytes=self.max_bytes,
        )

    async def stop(self) -> None:
        await self.pool.close()
        if self.handover is not None:
            await self.handover.close()

    def ready(self) -> dict[str, bool]:
        return {
            "pool": self.pool.ready(),
            "handover": self.handover is not None and self.handover.ready(),
        }

    # ---- POST /v1/declarations ----------------------------------------------------------------

    def _authenticate(self, request: Request, info: dict[str, Any]) -> Identity | None:
        auth = self.config.auth
        if not auth.enabled:
            info["auth"] = "open"
            return None
        peer = request.client.host if request.client is not None else None
        result = auth.authenticate(request.headers, peer)
        if isinstance(result, Denial):
            info["auth_failure"] = result.reason
            raise _RefusedError(
                401,
                "UNAUTHENTICATED",
                "the caller is not authenticated",
                {"WWW-Authenticate": 'Bearer realm="jwmo-gateway"'},
                close=True,
            )
        info["auth"] = result.method
        info["credential"] = result.key_id
        return result

    async def _read_body(self, request: Request) -> bytes:
        limit = self.max_bytes
        declared = request.headers.get("content-length")
        if declared is not None:
            if not declared.strip().isdigit():
                raise _RefusedError(400, "BAD_CONTENT_LENGTH", "Content-Length is not a number", close=True)
            if int(declared) > limit:
                raise _RefusedError(
                    413, "TOO_LARGE", f"the body is larger than {limit} bytes, the most allowed", close=True
                )
        chunks: list[bytes] = []
        total = 0
        try:
            async with asyncio.timeout(self.config.body_timeout):
                async for chunk in request.stream():
                    total += len(chunk)
                    if total > limit:  # refuse now: the rest is never read
                        raise _RefusedError(
                            413,
                            "TOO_LARGE",
                            f"the body is larger than {limit} bytes, the most allowed",
                            close=True,
                        )
                    chunks.append(chunk)
        except TimeoutError:
            raise _RefusedError(
                408,
                "BODY_TIMEOUT",
                f"the body did not arrive within {self.config.body_timeout:g} seconds",
                close=True,
            ) from None
        return b"".join(chunks)

    @staticmethod
    def _authorise(identity: Identity, outcomes: list[Outcome]) -> None:
        """Every message must come from the caller's own AGB code, checked before anything is handed over."""
        for position, outcome in enumerate(outcomes, 1):
            sender = outcome.dedup_key[0]
            if sender:
                if sender != identity.agb:
                    raise _RefusedError(
                        403,
                        "SENDER_MISMATCH",
                        f"message {position}: its Afzender is not the AGB code of the authenticated caller; "
                        "nothing of this request was accepted",
                    )
            elif _has_outputs(outcome):
                raise _RefusedError(
                    403,
                    "SENDER_UNKNOWN",
                    f"message {position}: its Afzender cannot be read; nothing of this request was accepted",
                )

    async def declarations(self, request: Request) -> Response:
        info = _request_info(request.scope)
        request_id: str = info.get("request_id", "")
        metrics = self.metrics
        try:
            identity = self._authenticate(request, info)
            archive = _is_archive(request.headers.get("content-type"))
            body = await self._read_body(request)
            outcomes = await self._process(body, archive)
            if identity is not None:
                self._authorise(identity, outcomes)
            conflicts = await self._hand_over(outcomes, info)
            if conflicts:  # same identification, other content: refuse those under TR056 (9056)
                refusals = await self._process(body, archive, refuse=frozenset(conflicts))
                for position, refusal in zip(conflicts, refusals, strict=True):
                    outcomes[position] = refusal
                await self._hand_over(refusals, info)
            info["messages"] = len(outcomes)
            info["types"] = sorted({o.verdict.message_type or "unknown" for o in outcomes})
            info["codes"] = sorted({e.code for o in outcomes for e in o.verdict.errors})
        except _RefusedError as refused:
            info["code"] = refused.code
            metrics.rejected.labels(str(refused.status)).inc()
            return problem(refused.status, refused.code, refused.detail, request_id, refused.headers)
        except PoolUnavailableError:
            info["code"] = "POOL_UNAVAILABLE"
            metrics.failures.labels("http", "pool").inc()
            metrics.rejected.labels("503").inc()
            return problem(
                503, "UNAVAILABLE", "the gateway is restarting its workers; retry later", request_id,
                {"Retry-After": "5"},
            )  # fmt: skip
        except ClientDisconnect:
            info["code"] = "CLIENT_DISCONNECTED"  # nobody reads this answer; 499 marks it in the log
            return Response(status_code=499, headers={"Connection": "close"})
        for outcome in outcomes:
            metrics.observe("http", outcome)
        return JSONResponse({"results": [o.to_json() for o in outcomes]})

    async def _process(
        self, body: bytes, archive: bool, refuse: frozenset[int] = frozenset()
    ) -> list[Outcome]:
        metrics = self.metrics
        source = SOURCE_ARCHIVE if archive else SOURCE_MESSAGE
        in_flight = metrics.in_flight.labels("http")
        in_flight.inc()
        started = time.perf_counter()
        try:
            outcomes = await self.pool.run(
                body, archive=archive, source=source, today=self.config.today(), refuse=refuse
            )
        finally:
            in_flight.dec()
        per_message = (time.perf_counter() - started) / max(1, len(outcomes))
        for _ in outcomes:
            metrics.seconds.labels("http").observe(per_message)
        return outcomes

    async def _hand_over(self, outcomes: list[Outcome], info: dict[str, Any]) -> list[int]:
        """Hand every outcome over in order; the positions of conflicting duplicates (not handed over)."""
        handover = self.handover
        if handover is None:
            raise PoolUnavailableError("the handover is not running")
        duplicates = 0
        conflicts: list[int] = []
        for position, outcome in enumerate(outcomes):
            if not _to_hand_over(outcome):
                continue
            try:
                fresh = await handover.hand_over(outcome)
            except ConflictingDuplicate:
                conflicts.append(position)
                self.metrics.conflicts.labels("http").inc()
                continue
            except Exception:
                log.exception("handover_failed", request_id=info.get("request_id"))
                self.metrics.failures.labels("http", "handover").inc()
                raise _RefusedError(
                    503,
                    "HANDOVER_FAILED",
                    "the outputs could not be stored; nothing after the first stored message is accepted; "
                    "retry the whole request (stored messages are not stored twice)",
                    {"Retry-After": "5"},
                ) from None
            if not fresh:
                duplicates += 1
                self.metrics.duplicates.labels("http").inc()
        info["duplicates"] = info.get("duplicates", 0) + duplicates
        if conflicts:
            info["conflicts"] = len(conflicts)
        return conflicts


def create_app(config: ServiceConfig) -> FastAPI:
    """The ASGI application; the pool and the handover start and stop with its lifespan."""
    service = _Service(config)

    @asynccontextmanager
    async def lifespan(_app: FastAPI) -> AsyncIterator[None]:
        await service.start()
        try:
            yield
        finally:
            await service.stop()

    app = FastAPI(
        title="jwmo-gateway",
        docs_url=None,
        redoc_url=None,
        openapi_url=None,
        lifespan=lifespan,
    )
    app.state.service = service
    app.add_middleware(_RequestContext)

    @app.exception_handler(RequestValidationError)
    async def _invalid_request(request: Request, _exc: RequestValidationError) -> Response:
        # FastAPI's default echoes the input; ours does not.
        request_id = _request_info(request.scope).get("request_id", "")
        return problem(400, "BAD_REQUEST", "the request is not valid", request_id)

    @app.post("/v1/declarations")
    async def declarations(request: Request) -> Response:
        return await service.declarations(request)

    @app.get("/healthz")
    async def healthz() -> Response:
        return JSONResponse({"status": "ok"})

    @app.get("/readyz")
    async def readyz() -> Response:
        parts = service.ready()
        ok = all(parts.values())
        return JSONResponse(
            {"status": "ready" if ok else "not ready", **parts}, status_code=200 if ok else 503
        )

    @app.get("/metrics")
    async def metrics() -> Response:
        return Response(service.metrics.render(), media_type=CONTENT_TYPE_LATEST)

    return app
