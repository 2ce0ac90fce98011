"""The CPU work of the HTTP intake, off the event loop: a pool of pipeline workers.

Each worker builds one :class:`~gateway.pipeline.Environment` (compiled schemas, the minimiser) once, in
the pool initializer, and then runs :func:`gateway.pipeline.process` on request bodies. With more than one
worker the pool is a :class:`~concurrent.futures.ProcessPoolExecutor` with the ``spawn`` start method (no
state inherited from the server process); with one worker it is a single thread in the server process
(no pickling, fast start-up; lxml releases the GIL while parsing).

A body is one job: a single message, or a ZIP archive whose members are read and processed by the same
worker (so the archive's bytes cross the process boundary once). Results come back as
:class:`~gateway.pipeline.Outcome` values, in archive order.

If a worker process dies (killed, out of memory) the pool is *broken*: the request that saw it gets
:class:`PoolUnavailableError` (the HTTP layer answers 503), :meth:`PipelinePool.ready` turns false, and a
fresh pool is started in the background.
"""

from __future__ import annotations

import asyncio
import hashlib
import multiprocessing
import signal
from collections.abc import Callable
from concurrent.futures import Executor, ProcessPoolExecutor, ThreadPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from dataclasses import dataclass, replace
from datetime import date
from pathlib import Path

from gateway.batch import validator_for
from gateway.intake.archive import ZipLimits, read_archive
from gateway.logs import get_logger
from gateway.pipeline import Environment, Minimised, Minimiser, Outcome, process, refuse_duplicate
from gateway.results import Finding, Stage, Verdict

__all__ = ["PipelinePool", "PoolUnavailableError", "WorkerOptions", "run_body"]

log = get_logger("jwmo.pool")


class PoolUnavailableError(Exception):
    """The worker pool is broken, restarting or closed; the request may be retried later."""


@dataclass(frozen=True, slots=True)
class WorkerOptions:
    """What a worker needs to build its environment (picklable: crosses into spawned processes)."""

    schema_dirs: tuple[Path, ...] = ()
    max_bytes: int = 26_214_400
    minimiser_factory: Callable[[], Minimiser | None] | None = None  # a module-level callable
    hmac_key: bytes | None = None


def _environment(options: WorkerOptions) -> Environment:
    minimiser = options.minimiser_factory() if options.minimiser_factory is not None else None
    return Environment(
        validator_for(options.schema_dirs, options.max_bytes),
        date.today(),
        minimiser,
        hmac_key=options.hmac_key,
    )


def _unreadable(source: str, finding: Finding, salt: bytes) -> Outcome:
    """The outcome of a body or member refused before parsing (a broken archive, a bad member)."""
    verdict = Verdict(source, None, False, Stage.TRANSPORT, (finding,))
    return Outcome(verdict, ("", "", hashlib.sha256(salt).hexdigest()), None, Minimised())


def run_body(  # noqa: PLR0917 - called positionally through the executors
    env: Environment,
    body: bytes,
    archive: bool,
    source: str,
    today: date,
    refuse: frozenset[int] = frozenset(),
) -> list[Outcome]:
    """The outcomes of one request body: one message, or every member of a ZIP archive in order.

    A ZIP is named ``source`` when refused as a whole and ``source!member`` per member otherwise. With
    ``refuse``, only the messages at those positions are run, refused as conflicting duplicates (TR056),
    and only their outcomes are returned, in position order.
    """
    if env.today != today:
        env = replace(env, today=today)
    if not archive:
        return [refuse_duplicate(body, source, env) if refuse else process(body, source, env)]
    result = read_archive(body, ZipLimits(max_bytes=env.validator.limits.max_message_bytes))
    if result.error is not None:
        return [_unreadable(source, result.error, body)]
    outcomes: list[Outcome] = []
    for position, member in enumerate(result.members):
        name = f"{source}!{member.name}"
        if refuse and position not in refuse:
            continue
        if member.error is not None or member.data is None:
            error = member.error or Finding("ZIP_MEMBER_CORRUPT", None, None, "the member cannot be read")
            outcomes.append(_unreadable(name, error, name.encode("utf-8", "surrogateescape")))
        elif position in refuse:
            outcomes.append(refuse_duplicate(member.data, name, env))
        else:
            outcomes.append(process(member.data, name, env))
    return outcomes


# ---- worker-process side -------------------------------------------------------------------------

_env: Environment | None = None


def _init_process(options: WorkerOptions) -> None:
    global _env  # noqa: PLW0603 - per-process state of a pool worker
    # Ctrl-C reaches the whole process group: the server shuts the pool down, workers need not react.
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    _env = _environment(options)


def _warm_process() -> bool:
    return _env is not None


def _run_in_process(
    body: bytes, archive: bool, source: str, today: date, refuse: frozenset[int]
) -> list[Outcome]:
    assert _env is not None  # noqa: S101 - set by the pool initializer
    return run_body(_env, body, archive, source, today, refuse)


# ---- server side ---------------------------------------------------------------------------------


class PipelinePool:
    """``workers`` pipeline workers (processes when more than one, unless ``processes`` says otherwise)."""

    def __init__(self, options: WorkerOptions, workers: int, *, processes: bool | None = None) -> None:
        if workers < 1:
            raise ValueError("workers must be at least 1")
        self.options = options
        self.workers = workers
        self.processes = workers > 1 if processes is None else processes
        self._executor: Executor | None = None
        self._thread_env: Environment | None = None
        self._warm: asyncio.Task[None] | None = None
        self._ready = False
        self._closed = False

    async def start(self) -> None:
        """Create the executor and warm every worker up in the background (``ready()`` turns true)."""
        self._executor = self._new_executor()
        self._warm = asyncio.create_task(self._warm_up(self._executor))

    def _new_executor(self) -> Executor:
        if self.processes:
            return ProcessPoolExecutor(
                max_workers=self.workers,
                mp_context=multiprocessing.get_context("spawn"),
                initializer=_init_process,
                initargs=(self.options,),
            )
        return ThreadPoolExecutor(max_workers=1, thread_name_prefix="pipeline")

    async def _warm_up(self, executor: Executor) -> None:
        loop = asyncio.get_running_loop()
        try:
            if self.processes:
                jobs = [loop.run_in_executor(executor, _warm_process) for _ in range(self.workers)]
                await asyncio.gather(*jobs)
            else:
                self._thread_env = await loop.run_in_executor(executor, _environment, self.options)
        except Exception:
            log.exception("pool_start_failed")
            return
        if executor is self._executor:
            self._ready = True
            log.info("pool_ready", workers=self.workers, processes=self.processes)

    def ready(self) -> bool:
        return self._ready and not self._closed

    async def run(
        self,
        body: bytes,
        *,
        archive: bool,
        source: str,
        today: date,
        refuse: frozenset[int] = frozenset(),
    ) -> list[Outcome]:
        """Process one request body in a worker (``refuse``: positions to refuse as conflicting
        duplicates)."""
        executor, warm = self._executor, self._warm
        if executor is None or warm is None or self._closed:
            raise PoolUnavailableError("the worker pool is not running")
        await asyncio.shield(warm)
        loop = asyncio.get_running_loop()
        try:
            if self.processes:
                return await loop.run_in_executor(
                    executor, _run_in_process, body, archive, source, today, refuse
                )
            env = self._thread_env
            if env is None:
                raise PoolUnavailableError("the pipeline could not be started")
            return await loop.run_in_executor(executor, run_body, env, body, archive, source, today, refuse)
        except BrokenProcessPool:
            self._restart(executor)
            raise PoolUnavailableError("a worker process died; the pool is restarting") from None
        except RuntimeError:
            if self._closed:  # submitted while shutting down
                raise PoolUnavailableError("the worker pool is shutting down") from None
            raise

    def _restart(self, broken: Executor) -> None:
        if broken is not self._executor or self._closed:
            return  # another request restarted it already
        log.error("pool_broken", workers=self.workers)
        self._ready = False
        broken.shutdown(wait=False, cancel_futures=True)
        self._executor = self._new_executor()
        self._warm = asyncio.create_task(self._warm_up(self._executor))

    async def close(self) -> None:
        self._closed = True
        self._ready = False
        executor = self._executor
        if self._warm is not None and not self._warm.done():
            self._warm.cancel()
        if executor is not None:
            await asyncio.get_running_loop().run_in_executor(None, executor.shutdown, True)
