"""Batch runner: the validation core over many messages, on all cores, output in input order.

Small batches run in-process (starting worker processes costs more than it saves); larger ones are
spread over a process pool. Each worker builds its own validator once (compiled schemas are per
process) and receives only (source, bytes) items.
"""

from __future__ import annotations

import multiprocessing
from collections.abc import Iterable, Iterator
from datetime import date
from pathlib import Path

from gateway.intake.sources import Item
from gateway.intake.transport import Limits
from gateway.model import Declaration
from gateway.registry import default_registry
from gateway.results import Stage, Verdict
from gateway.validation import Validator

__all__ = ["POOL_THRESHOLD", "validate_items"]

POOL_THRESHOLD = 16  # files; below this a pool's start-up outweighs the work
_CHUNK = 8

_worker: tuple[Validator, date, Declaration | None] | None = None


def _make_validator(schema_dirs: tuple[Path, ...], max_bytes: int) -> Validator:
    return Validator(default_registry(schema_dirs), Limits(max_message_bytes=max_bytes))


def _init(
    schema_dirs: tuple[Path, ...], max_bytes: int, today: date, declaration: Declaration | None
) -> None:
    global _worker  # noqa: PLW0603 - per-process state of a pool worker
    _worker = (_make_validator(schema_dirs, max_bytes), today, declaration)


def _one(validator: Validator, item: Item, today: date, declaration: Declaration | None) -> Verdict:
    if item.finding is not None or item.data is None:
        errors = (item.finding,) if item.finding is not None else ()
        return Verdict(item.source, None, False, Stage.TRANSPORT, errors)
    return validator.validate(item.data, item.source, today=today, declaration=declaration)


def _work(item: Item) -> Verdict:
    assert _worker is not None  # noqa: S101 - set by the pool initializer
    validator, today, declaration = _worker
    return _one(validator, item, today, declaration)


def validate_items(
    items: Iterable[Item],
    *,
    workers: int,
    file_count: int,
    schema_dirs: tuple[Path, ...],
    max_bytes: int,
    today: date,
    declaration: Declaration | None = None,
) -> Iterator[Verdict]:
    """Verdicts for ``items`` in the same order."""
    if workers <= 1 or file_count < POOL_THRESHOLD:
        validator = _make_validator(schema_dirs, max_bytes)
        for item in items:
            yield _one(validator, item, today, declaration)
        return
    with multiprocessing.get_context("spawn").Pool(
        processes=workers, initializer=_init, initargs=(schema_dirs, max_bytes, today, declaration)
    ) as pool:
        yield from pool.imap(_work, items, chunksize=_CHUNK)
