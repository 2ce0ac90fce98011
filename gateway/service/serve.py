"""``jwmo-gateway serve``: the HTTP intake on uvicorn (httptools + uvloop), and the Kafka hook.

Start-up decisions, in order (any refusal is exit status 2 with a message on standard error):

* the authentication configuration is read (:class:`~gateway.service.auth.AuthConfig`); without one the
  server runs in **open local mode**: it only binds to a loopback address, accepts any Afzender and logs
  a warning. Binding to any other address without authentication is refused;
* with ``JWMO_KAFKA_BOOTSTRAP`` set, the Kafka adapter (``gateway.service.kafka``) provides the handover
  and runs its consumer next to the HTTP server; a build without it refuses to start;
* otherwise the embedded default hands over to the file outbox and SQLite ledger in ``JWMO_DATA_DIR``.

uvicorn runs with: no proxy-header rewriting (the peer address must be the real TCP peer for the trusted
proxy check), no access log (the application logs one redacted line per request), ``timeout_keep_alive``
(idle keep-alive connections), ``limit_concurrency`` (503 beyond it), and a guarded protocol that gives
every request a deadline for its headers and a cap on their size (uvicorn has neither).
"""

from __future__ import annotations

import argparse
import gc
import importlib
import ipaddress
import json
import logging
import os
import sys
from collections.abc import Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from gateway.config import ConfigError, Settings
from gateway.minimise import default_pipeline_step

if TYPE_CHECKING:  # asyncio and structlog load only when the server starts (the CLI imports this module)
    import asyncio

__all__ = ["ServeOptions", "add_parser", "is_loopback", "run_serve"]

DEFAULT_HOST = "127.0.0.1"
DEFAULT_PORT = 8080
GC_THRESHOLDS = (100_000, 50, 1_000)  # the server process's cyclic-GC thresholds (default 700, 10, 10)
KAFKA_STOP_GRACE = 30.0  # seconds the Kafka worker gets to stop after the HTTP server has
KAFKA_UNAVAILABLE = "Kafka support is not available in this build (JWMO_KAFKA_BOOTSTRAP is set)"


def add_parser(commands: Any) -> None:
    """Add the ``serve`` subcommand to the CLI's subparsers."""
    serve = commands.add_parser(
        "serve",
        help="run the HTTP intake (and the Kafka worker when JWMO_KAFKA_BOOTSTRAP is set)",
        description="Run the HTTP intake: POST /v1/declarations, GET /healthz, /readyz, /metrics.",
    )
    serve.add_argument(
        "--host", default=None, help=f"address to bind (default: $JWMO_HOST or {DEFAULT_HOST})"
    )
    serve.add_argument(
        "--port", type=int, default=None, help=f"port to bind (default: $JWMO_PORT or {DEFAULT_PORT})"
    )
    serve.add_argument(
        "--workers",
        type=int,
        default=None,
        help="pipeline workers (default: CPUs; 1 = a thread in the server process, more = processes)",
    )


@dataclass(frozen=True, slots=True)
class ServeOptions:
    """Server settings from the CLI and the environment (``JWMO_HTTP_*``)."""

    host: str = DEFAULT_HOST
    port: int = DEFAULT_PORT
    workers: int = 1
    body_timeout: float = 30.0  # JWMO_HTTP_BODY_TIMEOUT: seconds to receive a body
    header_timeout: float = 10.0  # JWMO_HTTP_HEADER_TIMEOUT: seconds to receive a request's headers
    max_header_bytes: int = 65_536  # JWMO_HTTP_MAX_HEADER_BYTES
    keep_alive: float = 5.0  # JWMO_HTTP_KEEP_ALIVE: idle seconds before a keep-alive connection closes
    limit_concurrency: int = 64  # JWMO_HTTP_LIMIT_CONCURRENCY: connections/tasks before 503
    log_level: str = "INFO"  # JWMO_LOG_LEVEL

    @classmethod
    def from_args(cls, args: argparse.Namespace, env: Mapping[str, str] | None = None) -> ServeOptions:
        env = os.environ if env is None else env
        host = args.host or env.get("JWMO_HOST", "").strip() or DEFAULT_HOST
        port = args.port if args.port is not None else _integer(env, "JWMO_PORT", DEFAULT_PORT, low=0)
        if not 0 <= port <= 65535:
            raise ConfigError("the port must be between 0 and 65535")
        workers = args.workers if args.workers is not None else (os.cpu_count() or 1)
        if workers < 1:
            raise ConfigError("--workers must be at least 1")
        level = env.get("JWMO_LOG_LEVEL", "INFO").strip().upper() or "INFO"
        if level not in ("DEBUG", "INFO", "WARNING", "ERROR"):
            raise ConfigError("JWMO_LOG_LEVEL must be DEBUG, INFO, WARNING or ERROR")
        return cls(
            host=host,
            port=port,
            workers=workers,
            body_timeout=_seconds(env, "JWMO_HTTP_BODY_TIMEOUT", 30.0),
            header_timeout=_seconds(env, "JWMO_HTTP_HEADER_TIMEOUT", 10.0),
            max_header_bytes=_integer(env, "JWMO_HTTP_MAX_HEADER_BYTES", 65_536, low=1024),
            keep_alive=_seconds(env, "JWMO_HTTP_KEEP_ALIVE", 5.0),
            limit_concurrency=_integer(env, "JWMO_HTTP_LIMIT_CONCURRENCY", 64, low=1),
            log_level=level,
        )


def _seconds(env: Mapping[str, str], name: str, default: float) -> float:
    raw = env.get(name, "").strip()
    if not raw:
        return default
    try:
        value = float(raw)
    except ValueError:
        raise ConfigError(f"{name} must be a number of seconds") from None
    if not 0 < value <= 3600:
        raise ConfigError(f"{name} must be more than 0 and at most 3600 seconds")
    return value


def _integer(env: Mapping[str, str], name: str, default: int, *, low: int) -> int:
    raw = env.get(name, "").strip()
    if not raw:
        return default
    try:
        value = int(raw)
    except ValueError:
        raise ConfigError(f"{name} must be a whole number") from None
    if value < low:
        raise ConfigError(f"{name} must be at least {low}")
    return value


def is_loopback(host: str) -> bool:
    """True for ``localhost`` and loopback addresses (127.0.0.0/8, ::1); false for 0.0.0.0, :: and names."""
    if host.strip().lower() == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip().strip("[]")).is_loopback
    except ValueError:
        return False


class _JsonLines(logging.Formatter):
    """uvicorn's own log records as redacted JSON lines like ours: no traceback text, no exception message."""

    def format(self, record: logging.LogRecord) -> str:
        event: dict[str, Any] = {
            "event": record.getMessage(),
            "level": record.levelname.lower(),
            "logger": record.name,
        }
        if record.exc_info and record.exc_info[1] is not None:
            event["exception_type"] = type(record.exc_info[1]).__name__
        from gateway.logs import redact  # noqa: PLC0415

        return json.dumps(dict(redact(None, "", event)), ensure_ascii=False)


def _uvicorn_logs_as_json(level: str) -> None:
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(_JsonLines())
    for name in ("uvicorn", "uvicorn.error"):
        logger = logging.getLogger(name)
        logger.handlers.clear()
        logger.propagate = False
        logger.setLevel(level)
    logging.getLogger("uvicorn").addHandler(handler)
    logging.getLogger("uvicorn.error").propagate = True  # to "uvicorn" and its handler
    logging.getLogger("uvicorn.access").disabled = True  # the application logs each request itself


def _guarded_protocol(options: ServeOptions) -> type[asyncio.Protocol]:
    """uvicorn's httptools protocol with a header deadline and a header size cap (returns 408 / 431)."""
    from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol  # noqa: PLC0415 - server only

    from gateway.logs import get_logger  # noqa: PLC0415

    log = get_logger("jwmo.http")

    class GuardedHttpToolsProtocol(HttpToolsProtocol):
        header_timeout = options.header_timeout
        max_header_bytes = options.max_header_bytes
        _deadline: asyncio.TimerHandle | None = None
        _header_bytes = 0

        def _arm(self) -> None:
            if self._deadline is None:
                self._header_bytes = 0
                self._deadline = self.loop.call_later(self.header_timeout, self._expire)

        def _disarm(self) -> None:
            if self._deadline is not None:
                self._deadline.cancel()
                self._deadline = None

        def _refuse(self, status: bytes) -> None:
            self._disarm()
            if not self.transport.is_closing():
                log.info("http_refused", status=int(status[:3]), reason=status[4:].decode().lower())
                self.transport.write(
                    b"HTTP/1.1 " + status + b"\r\ncontent-length: 0\r\nconnection: close\r\n\r\n"
                )
                self.transport.close()

        def _expire(self) -> None:
            self._deadline = None
            self._refuse(b"408 Request Timeout")

        def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
            super().connection_made(transport)
            self._arm()  # a new connection must send its first request's headers in time

        def on_message_begin(self) -> None:
            super().on_message_begin()
            self._arm()

        def on_headers_complete(self) -> None:
            self._disarm()
            super().on_headers_complete()

        def data_received(self, data: bytes) -> None:
            reading_headers = self._deadline is not None
            super().data_received(data)
            if reading_headers and self._deadline is not None:  # still in the headers after this chunk
                self._header_bytes += len(data)
                if self._header_bytes > self.max_header_bytes:
                    self._refuse(b"431 Request Header Fields Too Large")

        def on_response_complete(self) -> None:
            super().on_response_complete()
            self._disarm()  # idle time between requests is uvicorn's keep-alive timeout

        def connection_lost(self, exc: Exception | None) -> None:
            self._disarm()
            super().connection_lost(exc)

    return GuardedHttpToolsProtocol


def _kafka_hook(settings: Settings) -> Any:
    """>>> KAFKA HOOK <<<  The Kafka adapter module, or ConfigError when this build has none.

    ``gateway.service.kafka`` (written separately) must provide ``kafka_handover(settings)`` (a Handover,
    or an awaitable of one), ``config_from_env(bootstrap)`` and ``run_worker(config, workers, schema_dirs,
    max_bytes)``. It is imported only when ``JWMO_KAFKA_BOOTSTRAP`` is set.
    """
    try:
        module = importlib.import_module("gateway.service.kafka")
    except ImportError:
        raise ConfigError(KAFKA_UNAVAILABLE) from None
    if not all(hasattr(module, name) for name in ("kafka_handover", "run_worker", "config_from_env")):
        raise ConfigError(KAFKA_UNAVAILABLE)
    del settings
    return module


def run_serve(args: argparse.Namespace, settings: Settings, env: Mapping[str, str] | None = None) -> int:
    """Validate the configuration, then run the server until SIGINT/SIGTERM. Raises ConfigError (exit 2)."""
    from gateway.logs import configure_logging, get_logger  # noqa: PLC0415
    from gateway.service.auth import AuthConfig  # noqa: PLC0415

    env = os.environ if env is None else env
    # Large messages keep thousands of billing records alive while they are handed over; with the default
    # thresholds the cyclic collector then runs full collections of 30-120 ms on the event loop that free
    # nothing (the pipeline's values hold no cycles). Rarer collections keep /healthz p99 near 60 ms
    # during 20 parallel 5 MB messages instead of 100-210 ms (docs/performance.md).
    gc.set_threshold(*GC_THRESHOLDS)
    options = ServeOptions.from_args(args, env)
    auth = AuthConfig.from_env(env)
    if not auth.enabled and not is_loopback(options.host):
        raise ConfigError(
            f"refusing to listen on {options.host} without authentication: open local mode binds to loopback "
            "only. Configure JWMO_API_KEYS_FILE and/or JWMO_TRUSTED_HEADER (with JWMO_TRUSTED_PROXIES and "
            "JWMO_CERT_AGB_MAP), or use --host 127.0.0.1"
        )
    kafka = _kafka_hook(settings) if settings.kafka_bootstrap else None

    configure_logging(options.log_level)
    _uvicorn_logs_as_json(options.log_level)
    log = get_logger("jwmo.serve")
    if not auth.enabled:
        log.warning(
            "open_local_mode",
            detail="no authentication configured: any Afzender is accepted; bound to loopback only",
            host=options.host,
        )
    import uvicorn  # noqa: PLC0415 - server-only dependency

    from gateway.service.http import ServiceConfig, create_app, default_handover  # noqa: PLC0415

    handover_factory = kafka.kafka_handover if kafka is not None else default_handover
    app = create_app(
        ServiceConfig(
            settings=settings,
            auth=auth,
            workers=options.workers,
            body_timeout=options.body_timeout,
            handover_factory=handover_factory,
            minimiser_factory=default_pipeline_step,
        )
    )
    config = uvicorn.Config(
        app,
        host=options.host,
        port=options.port,
        loop="uvloop",
        http=_guarded_protocol(options),
        lifespan="on",
        access_log=False,
        proxy_headers=False,
        server_header=False,
        timeout_keep_alive=int(max(1, options.keep_alive)),
        limit_concurrency=options.limit_concurrency,
        log_config=None,
        log_level=options.log_level.lower(),
    )
    server = uvicorn.Server(config)
    log.info("serve_starting", host=options.host, port=options.port, workers=options.workers)
    try:
        if kafka is None:
            server.run()
        else:
            import asyncio  # noqa: PLC0415

            with asyncio.Runner(loop_factory=config.get_loop_factory()) as runner:
                runner.run(_with_kafka(server, kafka, settings, options))
    except SystemExit:  # uvicorn exits when it cannot start (e.g. the address is in use)
        raise ConfigError(f"cannot serve on {options.host}:{options.port} (see the log above)") from None
    return 0


async def _with_kafka(server: Any, kafka: Any, settings: Settings, options: ServeOptions) -> None:
    """>>> KAFKA HOOK <<<  The HTTP server and the Kafka worker side by side; either ending ends both."""
    import asyncio  # noqa: PLC0415
    import signal  # noqa: PLC0415

    assert settings.kafka_bootstrap is not None  # noqa: S101 - checked by the caller
    # uvicorn re-raises SIGINT/SIGTERM after its own graceful shutdown, with the handlers it found. Without a
    # handler that would end the process before the worker stops; run_worker installs its own (which then
    # receive the re-raised signal and stop the worker gracefully), these no-ops cover a worker without.
    for sig in (signal.SIGINT, signal.SIGTERM):
        signal.signal(sig, lambda *_: None)
    worker = asyncio.create_task(
        kafka.run_worker(
            kafka.config_from_env(settings.kafka_bootstrap),
            options.workers,
            settings.schema_dirs,
            settings.max_message_bytes,
            minimiser_factory=default_pipeline_step,
        )
    )
    http = asyncio.create_task(server.serve())
    done, _ = await asyncio.wait({worker, http}, return_when=asyncio.FIRST_COMPLETED)
    server.should_exit = True
    if worker not in done:  # let it finish its batch and commit after the re-raised signal, then insist
        await asyncio.wait({worker}, timeout=KAFKA_STOP_GRACE)
        worker.cancel()
    results = await asyncio.gather(worker, http, return_exceptions=True)
    # A worker that returns has been asked to stop (SIGTERM/SIGINT, its own handler); only an exception is
    # a failure (a cancelled worker is not one either).
    failed = any(isinstance(r, Exception) for r in results)
    if failed:
        print("jwmo-gateway: the Kafka worker or the HTTP server stopped unexpectedly", file=sys.stderr)
