"""Handing an outcome over to its outputs: the one thing an adapter must do before it says "accepted".

``Handover.hand_over(outcome)`` returns only after every output of the message is durably stored (file
outbox fsynced and recorded in the ledger, or every Kafka send acknowledged); it returns False when the
message had been handed over before (a redelivery: nothing is written twice).
"""

from __future__ import annotations

import asyncio
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Protocol

from gateway.outbox import FileOutbox, Ledger
from gateway.pipeline import Outcome

__all__ = ["FileHandover", "Handover"]


class Handover(Protocol):
    async def hand_over(self, outcome: Outcome) -> bool: ...

    async def close(self) -> None: ...

    def ready(self) -> bool: ...


class FileHandover:
    """The embedded default: the file outbox and SQLite ledger, used from one dedicated thread."""

    def __init__(self, outbox_dir: Path, ledger_path: Path) -> None:
        self._executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="outbox")
        self._outbox_dir = outbox_dir
        self._ledger_path = ledger_path
        self._outbox: FileOutbox | None = None
        self._ledger: Ledger | None = None
        self._open_future = self._executor.submit(self._open)

    def _open(self) -> None:
        self._ledger = Ledger(self._ledger_path)
        self._outbox = FileOutbox(self._outbox_dir, self._ledger)

    def _write(self, outcome: Outcome) -> bool:
        assert self._outbox is not None  # noqa: S101 - opened by the first task on this thread
        return self._outbox.write(outcome)

    async def hand_over(self, outcome: Outcome) -> bool:
        loop = asyncio.get_running_loop()
        return await loop.run_in_executor(self._executor, self._write, outcome)

    def ready(self) -> bool:
        return self._open_future.done() and self._open_future.exception() is None

    def _close(self) -> None:
        if self._outbox is not None:
            self._outbox.close()
        if self._ledger is not None:
            self._ledger.close()

    async def close(self) -> None:
        loop = asyncio.get_running_loop()
        await loop.run_in_executor(self._executor, self._close)
        self._executor.shutdown(wait=True)
