"""Structured logging (structlog, JSON lines) with redaction: no personal data ever reaches a log line.

* Keys that could hold personal data (``bsn``, ``name``, ``birth_date``, ``diagnosis``, ``body``, ...)
  are replaced by ``[redacted]`` whatever their value.
* Any 9-digit number (a BSN shape) and any ``YYYY-MM-DD`` date in a string value is masked (the
  timestamp is added after redaction; 8-digit AGB codes and ids are not personal data and stay).
* Exceptions are rendered as their type and stack frames only: no local variables and no exception
  message (third-party messages may quote input).

Log lines carry ids (message id, request id) and codes, never values.
"""

from __future__ import annotations

import logging
import re
import sys
from collections.abc import MutableMapping
from typing import Any, TextIO

import structlog

__all__ = ["configure_logging", "get_logger", "redact"]

REDACTED = "[redacted]"
_SENSITIVE_KEYS = frozenset(
    {"bsn", "client_bsn", "name", "naam", "birth_date", "geboortedatum", "diagnosis", "diagnose", "dsm",
     "body", "data", "payload", "text", "value", "hmac_key", "key_material", "password", "api_key"}
)  # fmt: skip
_BSN_SHAPE = re.compile(r"(?<!\d)\d{9}(?!\d)")
_DATE_SHAPE = re.compile(r"(?<!\d)\d{4}-\d{2}-\d{2}(?!\d)")  # a date of birth written out
# Fields the gateway itself sets (never input): left as they are.
_OWN_KEYS = frozenset({"timestamp", "level", "logger", "request_id", "message_key", "origin"})


def _mask(value: str) -> str:
    return _DATE_SHAPE.sub(REDACTED, _BSN_SHAPE.sub(REDACTED, value))


def redact(_logger: object, _method: str, event: MutableMapping[str, Any]) -> MutableMapping[str, Any]:
    """structlog processor: drop sensitive keys, mask BSN- and date-shaped strings, strip exceptions."""
    for key in list(event):
        value = event[key]
        if key in _OWN_KEYS:
            continue
        if key.lower() in _SENSITIVE_KEYS:
            event[key] = REDACTED
        elif key == "exc_info" and value:
            exc = value if isinstance(value, BaseException) else sys.exc_info()[1]
            event.pop("exc_info")
            if exc is not None:
                event["exception_type"] = type(exc).__name__
                frames = []
                tb = exc.__traceback__
                while tb is not None:
                    frames.append(f"{tb.tb_frame.f_code.co_filename.rsplit('/', 1)[-1]}:{tb.tb_lineno}")
                    tb = tb.tb_next
                event["exception_frames"] = frames[-8:]
        elif isinstance(value, str):
            event[key] = _mask(value)
    return event


def configure_logging(level: str = "INFO", stream: TextIO | None = None) -> None:
    """JSON lines on ``stream`` (default standard error), redacted, with ISO timestamps."""
    logging.basicConfig(level=level, stream=stream or sys.stderr, format="%(message)s", force=True)
    structlog.configure(
        processors=[
            structlog.contextvars.merge_contextvars,
            structlog.processors.add_log_level,
            redact,
            structlog.processors.TimeStamper(fmt="iso", utc=True),
            structlog.processors.JSONRenderer(),
        ],
        wrapper_class=structlog.make_filtering_bound_logger(logging.getLevelName(level)),
        logger_factory=structlog.PrintLoggerFactory(stream or sys.stderr),
        cache_logger_on_first_use=False,
    )


def get_logger(name: str) -> Any:
    return structlog.get_logger(name)
