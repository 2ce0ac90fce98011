"""The restricted store: the full original of every restricted line, for staff under medical secrecy.

General billing gets a restricted line with the withheld fields null; the original goes only here, with
what is needed to answer the provider later (message type and id, sender, declaration number, reference)
and the ids of the rules that restricted it. Every access is logged in an access table (when, who, why,
which line; NEN 7513 / municipal requirements G10, H3): reads, listings and writes alike. The index
columns hold no BSN; the original (which does) is only returned by :meth:`get`, which logs the read.

Keyed by (sender AGB, message type, message id, reference): storing the same line again (a redelivered
message) changes nothing.
"""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any, Protocol

from gateway.stores.sqlite import StoreError, connect, utc_now

__all__ = ["AccessRecord", "RestrictedLine", "RestrictedStore", "SqliteRestrictedStore", "StoredKey"]

_SCHEMA = """
CREATE TABLE IF NOT EXISTS restricted_line (
    id INTEGER PRIMARY KEY,
    stored_at TEXT NOT NULL,
    message_type TEXT NOT NULL,
    message_id TEXT NOT NULL,
    sender_agb TEXT NOT NULL,
    municipality TEXT NOT NULL,
    declaration_number TEXT NOT NULL,
    reference TEXT NOT NULL,
    rules TEXT NOT NULL,            -- JSON list of the restrict rule ids
    policy_version TEXT NOT NULL,
    original TEXT NOT NULL,         -- JSON: every field of the line as received (includes the BSN)
    fragment TEXT NOT NULL,         -- the line in its own format, as received
    UNIQUE (sender_agb, message_type, message_id, reference)
);
CREATE TABLE IF NOT EXISTS access_log (
    id INTEGER PRIMARY KEY,
    at TEXT NOT NULL,
    actor TEXT NOT NULL,
    purpose TEXT NOT NULL,
    action TEXT NOT NULL,           -- store | read | list
    line_id INTEGER,                -- NULL for a listing or a read that found nothing
    detail TEXT NOT NULL            -- JSON: the key asked for (sender, declaration number, reference)
);
"""


@dataclass(frozen=True, slots=True)
class RestrictedLine:
    """The original of one restricted line. ``original`` is JSON text (every field as received)."""

    message_type: str
    message_id: str
    sender_agb: str
    municipality: str
    declaration_number: str
    reference: str
    rules: tuple[str, ...]
    policy_version: str
    original: str
    fragment: str

    @property
    def fields(self) -> Mapping[str, Any]:
        value: dict[str, Any] = json.loads(self.original)
        return value

    def __repr__(self) -> str:  # never print the original (it holds the BSN and the withheld values)
        return (
            f"RestrictedLine({self.message_type}, sender={self.sender_agb}, "
            f"declaration={self.declaration_number}, reference={self.reference}, rules={self.rules})"
        )


@dataclass(frozen=True, slots=True)
class StoredKey:
    """A stored line's identity, without its content (what a listing shows)."""

    id: int
    stored_at: str
    message_type: str
    message_id: str
    sender_agb: str
    declaration_number: str
    reference: str


@dataclass(frozen=True, slots=True)
class AccessRecord:
    at: str
    actor: str
    purpose: str
    action: str
    line_id: int | None
    detail: str


class RestrictedStore(Protocol):
    """Where minimisation puts the originals of restricted lines."""

    def put(self, lines: Sequence[RestrictedLine], *, actor: str, purpose: str) -> int:
        """Store lines (idempotent); returns how many were new."""
        ...


def _require(actor: str, purpose: str) -> None:
    if not actor.strip() or not purpose.strip():
        raise StoreError("access to the restricted store needs an actor and a purpose")


class SqliteRestrictedStore:
    """The embedded restricted store (one SQLite file, owner-only)."""

    def __init__(self, path: Path, *, now: Callable[[], datetime] = utc_now) -> None:
        self.path = path
        self._now = now
        self._db = connect(path)
        try:
            with self._db:
                self._db.executescript(_SCHEMA)
        except sqlite3.Error as exc:
            self._db.close()
            raise StoreError(f"restricted store {path} is not usable: {type(exc).__name__}") from None

    def close(self) -> None:
        self._db.close()

    def __enter__(self) -> SqliteRestrictedStore:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def _log(self, actor: str, purpose: str, action: str, line_id: int | None, detail: object) -> None:
        self._db.execute(
            "INSERT INTO access_log (at, actor, purpose, action, line_id, detail) VALUES (?, ?, ?, ?, ?, ?)",
            (self._now().isoformat(), actor, purpose, action, line_id, json.dumps(detail)),
        )

    def put(self, lines: Sequence[RestrictedLine], *, actor: str, purpose: str) -> int:
        _require(actor, purpose)
        new = 0
        stored_at = self._now().isoformat()
        with self._db:
            for line in lines:
                cursor = self._db.execute(
                    "INSERT OR IGNORE INTO restricted_line (stored_at, message_type, message_id, sender_agb, "
                    "municipality, declaration_number, reference, rules, policy_version, original, fragment) "
                    "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                    (
                        stored_at,
                        line.message_type,
                        line.message_id,
                        line.sender_agb,
                        line.municipality,
                        line.declaration_number,
                        line.reference,
                        json.dumps(list(line.rules)),
                        line.policy_version,
                        line.original,
                        line.fragment,
                    ),
                )
                if cursor.rowcount:
                    new += 1
                    self._log(actor, purpose, "store", cursor.lastrowid, _key_detail(line))
        return new

    def get(
        self, sender_agb: str, declaration_number: str, reference: str, *, actor: str, purpose: str
    ) -> RestrictedLine | None:
        """The original of a line, by the key a provider's question carries. The read is logged."""
        _require(actor, purpose)
        with self._db:
            row = self._db.execute(
                "SELECT id, message_type, message_id, sender_agb, municipality, declaration_number, "
                "reference, rules, policy_version, original, fragment FROM restricted_line "
                "WHERE sender_agb = ? AND declaration_number = ? AND reference = ? ORDER BY id DESC LIMIT 1",
                (sender_agb, declaration_number, reference),
            ).fetchone()
            detail = {
                "sender_agb": sender_agb,
                "declaration_number": declaration_number,
                "reference": reference,
            }
            self._log(actor, purpose, "read", None if row is None else int(row[0]), detail)
        if row is None:
            return None
        return RestrictedLine(
            message_type=row[1],
            message_id=row[2],
            sender_agb=row[3],
            municipality=row[4],
            declaration_number=row[5],
            reference=row[6],
            rules=tuple(json.loads(row[7])),
            policy_version=row[8],
            original=row[9],
            fragment=row[10],
        )

    def keys(self, *, actor: str, purpose: str) -> tuple[StoredKey, ...]:
        """What is stored (no content); the listing is logged."""
        _require(actor, purpose)
        with self._db:
            rows = self._db.execute(
                "SELECT id, stored_at, message_type, message_id, sender_agb, declaration_number, reference "
                "FROM restricted_line ORDER BY id"
            ).fetchall()
            self._log(actor, purpose, "list", None, {"count": len(rows)})
        return tuple(StoredKey(int(r[0]), *map(str, r[1:])) for r in rows)

    def access_log(self) -> tuple[AccessRecord, ...]:
        rows = self._db.execute(
            "SELECT at, actor, purpose, action, line_id, detail FROM access_log ORDER BY id"
        ).fetchall()
        return tuple(AccessRecord(r[0], r[1], r[2], r[3], r[4], r[5]) for r in rows)


def _key_detail(line: RestrictedLine) -> dict[str, str]:
    return {
        "message_type": line.message_type,
        "sender_agb": line.sender_agb,
        "declaration_number": line.declaration_number,
        "reference": line.reference,
    }
