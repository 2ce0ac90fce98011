"""The file outbox of the embedded default (clarifications item 17).

Into one directory: ``billing.jsonl`` (one billing record per line, each carrying its message key),
``retour/`` (one answer file per answered message), ``restricted.jsonl`` (full originals of restricted
lines; owner-only permissions), ``audit.jsonl`` (what the policy did, never values) and ``report.json``
(counts per type, stage and code). Every append is flushed and fsynced before the message is recorded as
handled in the ledger.
"""

from __future__ import annotations

import contextlib
import json
import os
from collections import Counter
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from gateway.outbox.ledger import Ledger
from gateway.pipeline import ConflictingDuplicate, DedupKey, Outcome, answer_id, refusal_id

__all__ = ["FileOutbox", "RunReport", "message_key_text"]

_OWNER_ONLY = 0o600


def message_key_text(key: DedupKey) -> str:
    return ":".join(key)


@dataclass
class RunReport:
    """Counts for ``report.json``: per type, stage and code. No personal data."""

    messages: int = 0
    valid: int = 0
    invalid: int = 0
    duplicates: int = 0
    conflicts: int = 0  # same key, other content: refused under TR056
    billing_records: int = 0
    answers: int = 0
    restricted_lines: int = 0
    by_type: Counter[str] = field(default_factory=Counter)
    by_stage: Counter[str] = field(default_factory=Counter)
    by_code: Counter[str] = field(default_factory=Counter)

    def to_json(self) -> dict[str, Any]:
        return {
            "messages": self.messages,
            "valid": self.valid,
            "invalid": self.invalid,
            "duplicates": self.duplicates,
            "conflicts": self.conflicts,
            "billing_records": self.billing_records,
            "answers": self.answers,
            "restricted_lines": self.restricted_lines,
            "by_type": dict(sorted(self.by_type.items())),
            "by_stage": dict(sorted(self.by_stage.items())),
            "by_code": dict(sorted(self.by_code.items())),
        }


class _AppendFile:
    """An append-only file written through its descriptor: every append is fsynced, and an append that
    is part of a failed hand-over is undone by truncating back to the size before it."""

    def __init__(self, path: Path, mode: int | None = None) -> None:
        self._fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, mode if mode is not None else 0o644)
        if mode is not None:
            os.chmod(path, mode)

    def size(self) -> int:
        return os.fstat(self._fd).st_size

    def append(self, data: bytes) -> None:
        view = memoryview(data)
        while view:
            written = os.write(self._fd, view)
            view = view[written:]
        os.fsync(self._fd)

    def truncate(self, size: int) -> None:
        os.ftruncate(self._fd, size)
        os.fsync(self._fd)

    def close(self) -> None:
        os.close(self._fd)


def _keys_in(path: Path, start: int) -> Iterator[DedupKey]:
    """Message keys of the billing lines from byte offset ``start``."""
    if not path.exists():
        return
    with path.open("rb") as fh:
        fh.seek(start)
        for raw in fh:
            try:
                record = json.loads(raw)
                parts = str(record["message_key"]).split(":", 2)
            except (ValueError, KeyError, TypeError):
                continue  # a torn last line after a crash: it was never recorded as handled
            if len(parts) == 3:
                yield (parts[0], parts[1], parts[2])


class FileOutbox:
    """Writes outcomes into an outbox directory, skipping messages the ledger has seen."""

    def __init__(self, directory: Path, ledger: Ledger) -> None:
        self.directory = directory
        self.ledger = ledger
        directory.mkdir(parents=True, exist_ok=True)
        (directory / "retour").mkdir(exist_ok=True)
        self.billing_path = directory / "billing.jsonl"
        self._reconcile()
        self._billing = _AppendFile(self.billing_path)
        self._restricted = _AppendFile(directory / "restricted.jsonl", _OWNER_ONLY)
        self._audit = _AppendFile(directory / "audit.jsonl")
        self.report = RunReport()

    def _reconcile(self) -> None:
        marker = f"billing-offset:{self.billing_path.resolve()}"
        start = int(self.ledger.get_meta(marker) or 0)
        size = self.billing_path.stat().st_size if self.billing_path.exists() else 0
        if size < start:
            start = 0  # the file was replaced: read it all
        self.ledger.reconcile(_keys_in(self.billing_path, start))
        self.ledger.set_meta(marker, str(size))

    @staticmethod
    def _lines(records: tuple[Mapping[str, Any], ...], extra: Mapping[str, Any]) -> bytes:
        return "".join(json.dumps({**extra, **r}, ensure_ascii=False) + "\n" for r in records).encode("utf-8")

    def write(self, outcome: Outcome) -> bool:
        """Hand over one outcome; False when it was a duplicate (nothing written).

        Raises :class:`ConflictingDuplicate` (nothing written, nothing counted) when the key was handed
        over before with other content: the caller answers it with :meth:`write_refusal`.
        """
        if outcome.refused_duplicate:
            self.write_refusal(outcome)
            return True
        seen, known = self.ledger.lookup(outcome.dedup_key)
        if seen and outcome.digest and known is not None and known != outcome.digest:
            raise ConflictingDuplicate
        self._count(outcome)
        if seen:
            self.report.duplicates += 1
            return False
        return self._write(outcome)

    def write_refusal(self, outcome: Outcome) -> None:
        """The answer to a conflicting duplicate (see :func:`gateway.pipeline.refuse_duplicate`): counted,
        its answer stored under its own id; nothing billed, nothing recorded in the ledger."""
        self._count(outcome)
        self.report.conflicts += 1
        if outcome.answer is not None:
            self._store_answer(outcome.answer, refusal_id(outcome.dedup_key, outcome.digest))
            self.report.answers += 1

    def _store_answer(self, answer: bytes, name: str) -> None:
        suffix = ".xml" if answer.startswith(b"<") else ".txt"
        (self.directory / "retour" / f"{name}{suffix}").write_bytes(answer)

    def _count(self, outcome: Outcome) -> None:
        verdict = outcome.verdict
        report = self.report
        report.messages += 1
        report.by_type[verdict.message_type or "unknown"] += 1
        if verdict.valid:
            report.valid += 1
        else:
            report.invalid += 1
            report.by_stage[verdict.stage.value if verdict.stage else "unknown"] += 1
            report.by_code.update(e.code for e in verdict.errors)

    def _write(self, outcome: Outcome) -> bool:
        report = self.report
        key = outcome.dedup_key
        key_text = message_key_text(key)
        minimised = outcome.minimised
        extra = {"message_key": key_text}
        appends = [
            (f, self._lines(records, extra))
            for f, records in (
                (self._billing, minimised.billing),
                (self._restricted, minimised.restricted),
                (self._audit, minimised.audit),
            )
            if records
        ]
        sizes = [(f, f.size()) for f, _ in appends]
        try:
            for f, data in appends:
                f.append(data)
            if outcome.answer is not None:
                self._store_answer(outcome.answer, answer_id(key))
            self.ledger.claim(key, outcome.digest or None)
        except BaseException:
            # Not handed over (disk full, ledger locked, ...): undo the appends, so the caller's retry
            # (it got an error) bills nothing twice. A rewritten answer file has the same name and bytes.
            for f, size in sizes:
                with contextlib.suppress(OSError):
                    f.truncate(size)
            raise
        if outcome.answer is not None:
            report.answers += 1
        report.billing_records += len(minimised.billing)
        report.restricted_lines += len(minimised.restricted)
        return True

    def close(self) -> None:
        for fh in (self._billing, self._restricted, self._audit):
            fh.close()
        size = self.billing_path.stat().st_size
        self.ledger.set_meta(f"billing-offset:{self.billing_path.resolve()}", str(size))
        (self.directory / "report.json").write_text(
            json.dumps(self.report.to_json(), indent=2, sort_keys=True) + "\n", encoding="utf-8"
        )
