"""The HTTP intake's worker pool: processes, ZIP bodies, and recovery when a worker dies."""

from __future__ import annotations

import asyncio
import os
import re
import signal
from concurrent.futures import ProcessPoolExecutor

import pytest

from gateway.pipeline import Environment
from gateway.service.http import new_request_id
from gateway.service.pool import PipelinePool, PoolUnavailableError, WorkerOptions, run_body
from gateway.validation import Validator
from tests.helpers import TODAY
from tests.service.test_http import declaration, make_zip, wrong_total


def test_run_body_names_zip_members_and_keeps_archive_order() -> None:
    """run_body: an outcome per member in archive order as ``upload.zip!member``; a bad archive is one."""
    env = Environment(Validator(), TODAY)
    archive = make_zip({"z.xml": declaration("P0001"), "a.xml": wrong_total("P0002")})
    outcomes = run_body(env, archive, True, "upload.zip", TODAY)
    assert [o.verdict.source for o in outcomes] == ["upload.zip!z.xml", "upload.zip!a.xml"]
    assert [o.dedup_key[0] for o in outcomes] == ["12345678", "12345678"]
    broken = run_body(env, b"PK\x03\x04 not really", True, "upload.zip", TODAY)
    assert [(o.verdict.source, o.verdict.errors[0].code) for o in broken] == [("upload.zip", "ZIP_INVALID")]
    assert broken[0].dedup_key[0] == ""


def test_process_pool_recovers_after_a_worker_dies() -> None:
    """A killed worker: that request gets PoolUnavailableError, the pool restarts and serves again."""

    async def scenario() -> None:
        pool = PipelinePool(WorkerOptions(), 1, processes=True)
        await pool.start()
        try:
            first = await pool.run(declaration("P0101"), archive=False, source="upload", today=TODAY)
            assert first[0].verdict.valid
            assert pool.ready()
            executor = pool._executor
            assert isinstance(executor, ProcessPoolExecutor)
            for pid in list(executor._processes):  # the worker we started
                os.kill(pid, signal.SIGKILL)
            refused = 0
            for _ in range(50):  # the pool notices the death on the next submission
                try:
                    await pool.run(declaration("P0102"), archive=False, source="upload", today=TODAY)
                except PoolUnavailableError:
                    refused += 1
                    break
                await asyncio.sleep(0.05)
            assert refused == 1
            assert not pool.ready()  # restarting
            again = await pool.run(declaration("P0103"), archive=False, source="upload", today=TODAY)
            assert again[0].verdict.valid
            assert pool.ready()
        finally:
            await pool.close()
        assert not pool.ready()
        with pytest.raises(PoolUnavailableError):
            await pool.run(b"", archive=False, source="upload", today=TODAY)

    asyncio.run(asyncio.wait_for(scenario(), timeout=30))


def test_request_ids_are_uuid4_that_survive_log_redaction() -> None:
    """Request ids never hold 8 digits in a row, which the log redaction would mask."""
    ids = [new_request_id() for _ in range(3000)]
    assert len(set(ids)) == len(ids)
    pattern = re.compile(r"\A[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}\Z")
    assert all(pattern.match(i) for i in ids)
    assert not any(re.search(r"\d{8}", i) for i in ids)
