"""Batch runner: one worker function over many messages, on all cores, results in input order.

Small batches run in-process (starting worker processes costs more than it saves); larger ones are
spread over a process pool. Each worker process builds its own worker function once from a picklable
factory (compiled schemas, policies and store connections are per process) and receives only items.
"""

from __future__ import annotations

import multiprocessing
from collections.abc import Callable, Iterable, Iterator
from datetime import date
from functools import partial
from pathlib import Path
from typing import Any, TypeVar

from gateway.intake.sources import Item
from gateway.intake.transport import Limits
from gateway.model import Declaration
from gateway.registry import default_registry
from gateway.results import Stage, Verdict
from gateway.validation import Validator

__all__ = ["POOL_THRESHOLD", "run_batch", "transport_verdict", "validate_items", "validator_for"]

POOL_THRESHOLD = 16  # files; below this a pool's start-up outweighs the work
_CHUNK = 8

R = TypeVar("R")
Worker = Callable[[Item], Any]

_worker: Worker | None = None


def _init(factory: Callable[[], Worker]) -> None:
    global _worker  # noqa: PLW0603 - per-process state of a pool worker
    _worker = factory()


def _work(item: Item) -> Any:
    assert _worker is not None  # noqa: S101 - set by the pool initializer
    return _worker(item)


def run_batch(
    items: Iterable[Item], factory: Callable[[], Callable[[Item], R]], *, workers: int, file_count: int
) -> Iterator[R]:
    """``factory()(item)`` for every item, in order; in a process pool when the batch is large enough."""
    if workers <= 1 or file_count < POOL_THRESHOLD:
        worker = factory()
        for item in items:
            yield worker(item)
        return
    with multiprocessing.get_context("spawn").Pool(
        processes=workers, initializer=_init, initargs=(factory,)
    ) as pool:
        yield from pool.imap(_work, items, chunksize=_CHUNK)


def validator_for(schema_dirs: tuple[Path, ...], max_bytes: int) -> Validator:
    return Validator(default_registry(schema_dirs), Limits(max_message_bytes=max_bytes))


def transport_verdict(item: Item) -> Verdict:
    """The verdict of an item refused at intake (an oversize file, a broken archive)."""
    errors = (item.finding,) if item.finding is not None else ()
    return Verdict(item.source, None, False, Stage.TRANSPORT, errors)


def _validate_one(validator: Validator, today: date, declaration: Declaration | None, item: Item) -> Verdict:
    if item.finding is not None or item.data is None:
        return transport_verdict(item)
    return validator.validate(item.data, item.source, today=today, declaration=declaration)


def _validate_worker(
    schema_dirs: tuple[Path, ...], max_bytes: int, today: date, declaration: Declaration | None
) -> Callable[[Item], Verdict]:
    return partial(_validate_one, validator_for(schema_dirs, max_bytes), today, declaration)


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
    factory = partial(_validate_worker, schema_dirs, max_bytes, today, declaration)
    return run_batch(items, factory, workers=workers, file_count=file_count)
