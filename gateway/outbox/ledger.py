"""The ledger of handled messages (SQLite): the de-duplication state of the embedded default.

A message is identified by (Afzender, BerichtCode, Identificatie). ``claim`` records it with the digest
of its content; a message that was claimed before is a duplicate and bills nothing: with the same digest
a redelivery, with another digest a conflicting duplicate (TR056, see :meth:`Ledger.lookup`). Keys
found in the billing output but missing here (a crash between writing and recording) are added by
:meth:`Ledger.reconcile`, so a restart never bills a message twice.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterable
from datetime import UTC, datetime
from pathlib import Path

from gateway.pipeline import DedupKey

__all__ = ["Ledger", "LedgerError"]

_SCHEMA = """
CREATE TABLE IF NOT EXISTS handled (
    sender TEXT NOT NULL,
    code TEXT NOT NULL,
    ident TEXT NOT NULL,
    handled_at TEXT NOT NULL,
    digest TEXT,
    PRIMARY KEY (sender, code, ident)
);
CREATE TABLE IF NOT EXISTS meta (name TEXT PRIMARY KEY, value TEXT NOT NULL);
"""


class LedgerError(Exception):
    """The ledger could not be read or written (locked, disk full, corrupt). Never holds message data."""


class Ledger:
    def __init__(self, path: Path, *, timeout: float = 5.0) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        try:
            self._db = sqlite3.connect(path, timeout=timeout, isolation_level=None)
            self._db.execute("PRAGMA journal_mode=WAL")
            self._db.execute("PRAGMA synchronous=FULL")
            self._db.executescript(_SCHEMA)
            columns = {row[1] for row in self._db.execute("PRAGMA table_info(handled)")}
            if "digest" not in columns:  # a ledger written before digests were kept
                self._db.execute("ALTER TABLE handled ADD COLUMN digest TEXT")
        except sqlite3.Error as exc:
            raise LedgerError(f"cannot open the ledger at {path}: {exc.__class__.__name__}") from None

    def close(self) -> None:
        self._db.close()

    def lookup(self, key: DedupKey) -> tuple[bool, str | None]:
        """(recorded?, the content digest recorded with ``key``): the digest is None when the key is new
        or was recorded without one (then a conflict cannot be told from a redelivery: a redelivery)."""
        try:
            row = self._db.execute(
                "SELECT digest FROM handled WHERE sender = ? AND code = ? AND ident = ?", key
            ).fetchone()
        except sqlite3.Error as exc:
            raise LedgerError(f"cannot read the ledger: {exc.__class__.__name__}") from None
        return (False, None) if row is None else (True, None if row[0] is None else str(row[0]))

    def seen(self, key: DedupKey) -> bool:
        return self.lookup(key)[0]

    def claim(self, key: DedupKey, digest: str | None = None) -> bool:
        """Record a key (with its content digest); False when it was recorded before (a duplicate)."""
        now = datetime.now(UTC).isoformat(timespec="seconds")
        try:
            cursor = self._db.execute(
                "INSERT OR IGNORE INTO handled (sender, code, ident, handled_at, digest) "
                "VALUES (?, ?, ?, ?, ?)",
                (*key, now, digest),
            )
        except sqlite3.Error as exc:
            raise LedgerError(f"cannot write the ledger: {exc.__class__.__name__}") from None
        return cursor.rowcount == 1

    def reconcile(self, keys: Iterable[DedupKey]) -> int:
        """Record keys found in the outputs; returns how many were missing."""
        return sum(self.claim(key) for key in keys)

    def get_meta(self, name: str) -> str | None:
        row = self._db.execute("SELECT value FROM meta WHERE name = ?", (name,)).fetchone()
        return None if row is None else str(row[0])

    def set_meta(self, name: str, value: str) -> None:
        self._db.execute("INSERT OR REPLACE INTO meta (name, value) VALUES (?, ?)", (name, value))
