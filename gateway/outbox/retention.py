"""Retention for the file outbox: remove answer files and output files not written to since the cutoff.

The outbox's line files (``billing.jsonl``, ``restricted.jsonl``, ``audit.jsonl``) carry no per-line time,
so a line file is removed as a whole once it has not been written to since the cutoff (its modification
time); answer files (``retour/*``) are removed one by one by their modification time. ``report.json`` is a
summary without personal data and is left alone.

Run it while nothing writes into the outbox (``serve`` and ``process`` stopped): a writer that still holds
a removed line file open would go on appending to a file nobody can see any more.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

__all__ = ["LINE_FILES", "OutboxPurge", "purge_outbox"]

LINE_FILES = ("billing.jsonl", "restricted.jsonl", "audit.jsonl")


@dataclass(frozen=True, slots=True)
class OutboxPurge:
    """What a purge removed: counts only."""

    answers: int  # files removed from retour/
    line_files: int  # billing/restricted/audit line files removed whole

    @property
    def removed(self) -> int:
        return self.answers + self.line_files


def purge_outbox(directory: Path, older_than: datetime) -> OutboxPurge:
    """Remove what in ``directory`` was last written before ``older_than``; a missing outbox is empty."""
    cutoff = older_than.timestamp()
    answers = 0
    retour = directory / "retour"
    if retour.is_dir():
        for path in sorted(retour.iterdir()):
            if path.is_file() and not path.is_symlink() and path.stat().st_mtime < cutoff:
                path.unlink()
                answers += 1
    line_files = 0
    for name in LINE_FILES:
        path = directory / name
        if path.is_file() and not path.is_symlink() and path.stat().st_mtime < cutoff:
            path.unlink()
            line_files += 1
    return OutboxPurge(answers=answers, line_files=line_files)
