"""The batch job of the embedded default: ``jwmo-gateway process INBOX [--out DIR]``.

Reads every file (and ZIP) in INBOX without touching it, runs the pipeline on each message on all cores,
and hands the outcomes to the file outbox in input order: billing records, answers, restricted
originals, audit entries and a report (clarifications item 17). The ledger in the data directory makes a
second run over the same inbox bill nothing twice.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import date
from functools import partial
from pathlib import Path
from typing import TextIO

from gateway.batch import run_batch, transport_verdict, validator_for
from gateway.intake.sources import InputError, Item, expand, iter_items
from gateway.outbox import FileOutbox, Ledger
from gateway.pipeline import (
    ConflictingDuplicate,
    Environment,
    Minimised,
    Minimiser,
    Outcome,
    dedup_key,
    process,
    refuse_duplicate,
)
from gateway.validation import Checked

__all__ = ["ProcessOptions", "run_process"]


@dataclass(frozen=True, slots=True)
class ProcessOptions:
    inbox: Path
    out: Path
    data_dir: Path
    schema_dirs: tuple[Path, ...]
    max_bytes: int
    workers: int
    today: date
    minimiser_factory: Callable[[], Minimiser | None] | None = None


def _process_one(env: Environment, item: Item) -> Outcome:
    if item.finding is not None or item.data is None:
        verdict = transport_verdict(item)
        checked = Checked(verdict, None, None, None)
        return Outcome(verdict, dedup_key(checked, item.source.encode()), None, Minimised())
    return process(item.data, item.source, env)


def _environment(options: ProcessOptions) -> Environment:
    minimiser = options.minimiser_factory() if options.minimiser_factory is not None else None
    return Environment(validator_for(options.schema_dirs, options.max_bytes), options.today, minimiser)


def _process_worker(options: ProcessOptions) -> Callable[[Item], Outcome]:
    return partial(_process_one, _environment(options))


def run_process(options: ProcessOptions, out: TextIO) -> int:
    """Run the job; 0 when every message was valid, 1 when some were not."""
    if not options.inbox.is_dir():
        raise InputError(f"cannot read inbox {options.inbox}: not a directory")
    files = expand([str(options.inbox)])
    ledger = Ledger(options.data_dir / "state" / "ledger.sqlite")
    outbox = FileOutbox(options.out, ledger)
    try:
        outcomes = run_batch(
            iter_items(files, options.max_bytes),
            partial(_process_worker, options),
            workers=options.workers,
            file_count=len(files),
        )
        conflicts: set[str] = set()
        for outcome in outcomes:
            try:
                outbox.write(outcome)
            except ConflictingDuplicate:
                conflicts.add(outcome.verdict.source)
        if conflicts:  # rare: read those messages again and refuse them under TR056
            env = _environment(options)
            for item in iter_items(files, options.max_bytes):
                if item.source in conflicts and item.data is not None:
                    outbox.write_refusal(refuse_duplicate(item.data, item.source, env))
    finally:
        outbox.close()
        ledger.close()
    r = outbox.report
    out.write(
        f"{r.messages} message(s): {r.valid} valid, {r.invalid} invalid, {r.duplicates} already handled, "
        f"{r.conflicts} refused as conflicting duplicate(s); "
        f"{r.billing_records} billing record(s), {r.answers} answer(s), {r.restricted_lines} restricted "
        f"line(s) -> {options.out}\n"
    )
    return 1 if r.invalid else 0
