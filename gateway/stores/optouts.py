"""The opt-out register: client and provider jointly asked that nothing traceable to the diagnosis reaches
the municipality (Regeling Jeugdwet 2015 art. 6a.2 lid 2, Bijlage 1a; minimisation.md §5, §7).

* Key: ``HMAC-SHA256(key, "optout|" + BSN)`` plus the provider's AGB code. The BSN is never stored, logged
  or echoed; listings show the first 12 hex digits of the hash.
* An entry is active on a date D when ``valid_from <= D <= until`` (``until`` inclusive, open when absent),
  with D the declaration's date (clarifications 14: 3.2 DeclaratieDagtekening, 2.x FactuurDagtekening,
  JW321 DAGTEKENING). ``valid_from`` is the date the municipality received the signed statement.
  ``revoke --on D`` sets ``until = D - 1 day`` on every entry still open on D.
* Every change is written to an audit table in the same transaction: when, who, what (action, entry,
  hash prefix, AGB, dates, source reference) - never the BSN.
* The register remembers a fingerprint of the key it was created with and refuses another key, so a lost
  or changed key cannot make every lookup silently miss.

:class:`OptoutLookup` is the one method the minimisation glue needs; :class:`SqliteOptoutRegister` is the
embedded implementation, :class:`MemoryOptouts` a dictionary-backed one for tests and embedding.
"""

from __future__ import annotations

import csv
import hashlib
import hmac
import io
import json
import re
import sqlite3
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from pathlib import Path
from typing import Protocol

import structlog

from gateway.rules.common import elfproef
from gateway.stores.keys import key_check
from gateway.stores.sqlite import StoreError, connect, utc_now

__all__ = [
    "EMPTY_OPTOUTS",
    "AuditRecord",
    "ImportReport",
    "MemoryOptouts",
    "NothingToRevoke",
    "OptoutEntry",
    "OptoutError",
    "OptoutLookup",
    "SqliteOptoutRegister",
    "import_csv",
    "import_report_lines",
    "subject_hash",
]

log = structlog.get_logger("jwmo.optouts")

_AGB = re.compile(r"[0-9]{8}\Z")
_BSN_LIKE = re.compile(r"(?<![0-9])[0-9]{9}(?![0-9])")
_PREFIX = 12
_SCHEMA = """
CREATE TABLE IF NOT EXISTS meta (name TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS optout (
    id INTEGER PRIMARY KEY,
    subject TEXT NOT NULL,          -- HMAC-SHA256(key, "optout|" + BSN), hex
    agb TEXT NOT NULL,              -- provider AGB code
    valid_from TEXT NOT NULL,       -- ISO date the municipality received the signed statement
    valid_until TEXT,               -- ISO date, inclusive; NULL = open
    source TEXT,                    -- reference to the statement (no personal data)
    created_at TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS optout_subject ON optout (subject, agb);
CREATE TABLE IF NOT EXISTS audit (
    id INTEGER PRIMARY KEY,
    at TEXT NOT NULL,               -- UTC timestamp
    actor TEXT NOT NULL,            -- who made the change
    action TEXT NOT NULL,           -- add | revoke
    entry_id INTEGER NOT NULL,
    subject_prefix TEXT NOT NULL,   -- first 12 hex digits of the hash, never the BSN
    agb TEXT NOT NULL,
    detail TEXT NOT NULL            -- JSON: valid_from, until, source (as after the change)
);
"""


class OptoutError(ValueError):
    """A request to the register cannot be honoured. Never contains a BSN."""


class NothingToRevoke(OptoutError):  # noqa: N818 - reads as the situation it reports
    """``revoke`` found no entry of that client and provider open on or after the date."""


class OptoutLookup(Protocol):
    """What minimisation asks: does an active opt-out exist for this client and provider on this date?"""

    def is_active(self, bsn: str, agb: str, on: date) -> bool: ...


@dataclass(frozen=True, slots=True)
class OptoutEntry:
    """One entry as listed: the hash prefix stands in for the client."""

    id: int
    client: str
    agb: str
    valid_from: date
    until: date | None
    source: str | None
    created_at: str

    def to_json(self) -> dict[str, object]:
        return {
            "id": self.id,
            "client": self.client,
            "agb": self.agb,
            "valid_from": self.valid_from.isoformat(),
            "until": None if self.until is None else self.until.isoformat(),
            "source": self.source,
            "created_at": self.created_at,
        }


@dataclass(frozen=True, slots=True)
class AuditRecord:
    at: str
    actor: str
    action: str
    entry_id: int
    client: str
    agb: str
    detail: str


def subject_hash(key: bytes, bsn: str) -> str:
    """The register's key for a BSN (domain-separated from other uses of the same HMAC key)."""
    return hmac.new(key, b"optout|" + bsn.encode("ascii"), hashlib.sha256).hexdigest()


def _check_bsn(bsn: str) -> None:
    if not elfproef(bsn):
        raise OptoutError("the BSN must be 9 digits that pass the eleven-test")


def _check_agb(agb: str) -> None:
    if not _AGB.match(agb):
        raise OptoutError("the AGB code must be 8 digits")


def _check_source(source: str | None) -> None:
    if source is None:
        return
    if len(source) > 200:
        raise OptoutError("the source reference is longer than 200 characters")
    if any(elfproef(m.group()) for m in _BSN_LIKE.finditer(source)):
        raise OptoutError("the source reference must not contain a BSN")


def _active(valid_from: date, until: date | None, on: date) -> bool:
    return valid_from <= on and (until is None or on <= until)


class MemoryOptouts:
    """A dictionary-backed register (tests, embedding): same semantics, no persistence, no audit."""

    def __init__(self, key: bytes = b"memory-optouts-test-key") -> None:
        self._key = key
        self._entries: dict[tuple[str, str], list[tuple[date, date | None]]] = {}

    def add(self, bsn: str, agb: str, valid_from: date, until: date | None = None) -> None:
        self._entries.setdefault((subject_hash(self._key, bsn), agb), []).append((valid_from, until))

    def is_active(self, bsn: str, agb: str, on: date) -> bool:
        periods = self._entries.get((subject_hash(self._key, bsn), agb), ())
        return any(_active(start, end, on) for start, end in periods)


class _Empty:
    def is_active(self, bsn: str, agb: str, on: date) -> bool:
        return False


EMPTY_OPTOUTS: OptoutLookup = _Empty()


class SqliteOptoutRegister:
    """The embedded register (one SQLite file, owner-only). Open read-only for lookups in workers."""

    def __init__(
        self,
        path: Path,
        key: bytes,
        *,
        readonly: bool = False,
        now: Callable[[], datetime] = utc_now,
    ) -> None:
        if len(key) < 16:
            raise OptoutError("the HMAC key must be at least 16 bytes")
        self.path = path
        self._key = key
        self._now = now
        self._db = connect(path, readonly=readonly)
        try:
            if not readonly:
                with self._db:
                    self._db.executescript(_SCHEMA)
                    self._db.execute(
                        "INSERT OR IGNORE INTO meta (name, value) VALUES ('key_check', ?)", (key_check(key),)
                    )
                    self._db.execute("INSERT OR IGNORE INTO meta (name, value) VALUES ('schema', '1')")
            row = self._db.execute("SELECT value FROM meta WHERE name = 'key_check'").fetchone()
        except sqlite3.Error as exc:
            self._db.close()
            raise StoreError(f"opt-out register {path} is not usable: {type(exc).__name__}") from None
        if row is None or row[0] != key_check(key):
            self._db.close()
            raise OptoutError(
                f"the HMAC key does not match the key the opt-out register {path} was created with "
                "(check JWMO_HMAC_KEY or the key file in the data directory)"
            )

    def close(self) -> None:
        self._db.close()

    def __enter__(self) -> SqliteOptoutRegister:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -- lookup ------------------------------------------------------------------------------------

    def is_active(self, bsn: str, agb: str, on: date) -> bool:
        day = on.isoformat()
        row = self._db.execute(
            "SELECT 1 FROM optout WHERE subject = ? AND agb = ? AND valid_from <= ? "
            "AND (valid_until IS NULL OR valid_until >= ?) LIMIT 1",
            (subject_hash(self._key, bsn), agb, day, day),
        ).fetchone()
        return row is not None

    # -- changes -----------------------------------------------------------------------------------

    def _audit(  # noqa: PLR0917 - one audit row, column by column
        self, actor: str, action: str, entry_id: int, subject: str, agb: str, detail: object
    ) -> None:
        self._db.execute(
            "INSERT INTO audit (at, actor, action, entry_id, subject_prefix, agb, detail) "
            "VALUES (?, ?, ?, ?, ?, ?, ?)",
            (self._now().isoformat(), actor, action, entry_id, subject[:_PREFIX], agb, json.dumps(detail)),
        )

    def add(
        self,
        bsn: str,
        agb: str,
        valid_from: date,
        *,
        until: date | None = None,
        source: str | None = None,
        actor: str,
    ) -> OptoutEntry:
        """Register a statement; ``until`` is the last day it applies (None: open)."""
        _check_bsn(bsn)
        _check_agb(agb)
        _check_source(source)
        if until is not None and until < valid_from:
            raise OptoutError("the end date lies before the start date")
        subject = subject_hash(self._key, bsn)
        created = self._now().isoformat()
        with self._db:
            duplicate = self._db.execute(
                "SELECT 1 FROM optout WHERE subject = ? AND agb = ? AND valid_from = ?",
                (subject, agb, valid_from.isoformat()),
            ).fetchone()
            if duplicate is not None:
                raise OptoutError(
                    "an opt-out for this client and provider with this start date already exists"
                )
            cursor = self._db.execute(
                "INSERT INTO optout (subject, agb, valid_from, valid_until, source, created_at) "
                "VALUES (?, ?, ?, ?, ?, ?)",
                (
                    subject,
                    agb,
                    valid_from.isoformat(),
                    None if until is None else until.isoformat(),
                    source,
                    created,
                ),
            )
            entry_id = int(cursor.lastrowid or 0)
            detail = {
                "valid_from": valid_from.isoformat(),
                "until": None if until is None else until.isoformat(),
                "source": source,
            }
            self._audit(actor, "add", entry_id, subject, agb, detail)
        log.info("optout_added", entry=entry_id, client=subject[:_PREFIX], agb=agb)
        return OptoutEntry(entry_id, subject[:_PREFIX], agb, valid_from, until, source, created)

    def revoke(self, bsn: str, agb: str, on: date, *, actor: str) -> tuple[OptoutEntry, ...]:
        """End every entry still open on ``on``: its last day becomes ``on - 1 day``."""
        _check_bsn(bsn)
        _check_agb(agb)
        subject = subject_hash(self._key, bsn)
        last_day = (on - timedelta(days=1)).isoformat()
        changed: list[OptoutEntry] = []
        with self._db:
            rows = self._db.execute(
                "SELECT id, valid_from, source, created_at FROM optout WHERE subject = ? AND agb = ? "
                "AND (valid_until IS NULL OR valid_until >= ?) ORDER BY id",
                (subject, agb, on.isoformat()),
            ).fetchall()
            for entry_id, valid_from, source, created in rows:
                self._db.execute("UPDATE optout SET valid_until = ? WHERE id = ?", (last_day, entry_id))
                detail = {
                    "valid_from": valid_from,
                    "until": last_day,
                    "source": source,
                    "revoked_on": on.isoformat(),
                }
                self._audit(actor, "revoke", entry_id, subject, agb, detail)
                changed.append(
                    OptoutEntry(
                        entry_id,
                        subject[:_PREFIX],
                        agb,
                        date.fromisoformat(valid_from),
                        date.fromisoformat(last_day),
                        source,
                        created,
                    )
                )
        if not changed:
            raise NothingToRevoke("no opt-out of this client and provider is open on or after that date")
        log.info("optout_revoked", entries=[e.id for e in changed], client=subject[:_PREFIX], agb=agb)
        return tuple(changed)

    # -- reading -----------------------------------------------------------------------------------

    def entries(self) -> tuple[OptoutEntry, ...]:
        rows = self._db.execute(
            "SELECT id, subject, agb, valid_from, valid_until, source, created_at FROM optout ORDER BY id"
        ).fetchall()
        return tuple(
            OptoutEntry(
                int(r[0]),
                str(r[1])[:_PREFIX],
                str(r[2]),
                date.fromisoformat(r[3]),
                None if r[4] is None else date.fromisoformat(r[4]),
                r[5],
                str(r[6]),
            )
            for r in rows
        )

    def audit_log(self) -> tuple[AuditRecord, ...]:
        rows = self._db.execute(
            "SELECT at, actor, action, entry_id, subject_prefix, agb, detail FROM audit ORDER BY id"
        ).fetchall()
        return tuple(
            AuditRecord(str(r[0]), str(r[1]), str(r[2]), int(r[3]), str(r[4]), str(r[5]), str(r[6]))
            for r in rows
        )


# --------------------------------------------------------------------------------------------------
# CSV import


@dataclass(frozen=True, slots=True)
class ImportReport:
    """The outcome of one CSV row. ``row`` counts the header as row 1; the message never holds a BSN."""

    row: int
    ok: bool
    message: str


_COLUMNS = ("bsn", "agb", "from", "until", "source")
_REQUIRED = ("bsn", "agb", "from")


def _date(text: str, what: str) -> date:
    try:
        return date.fromisoformat(text.strip())
    except ValueError:
        raise OptoutError(f"{what} is not a date of the form YYYY-MM-DD") from None


def _rows(text: str) -> Iterator[tuple[int, dict[str, str], bool]]:
    reader = csv.DictReader(io.StringIO(text))
    header = [h.strip().lower() for h in reader.fieldnames or []]
    missing = [c for c in _REQUIRED if c not in header]
    unknown = [h for h in header if h not in _COLUMNS]
    if missing or unknown:
        raise OptoutError(
            "the CSV header must name the columns bsn, agb, from[, until][, source]"
            + (f"; missing: {', '.join(missing)}" if missing else "")
            + (f"; unknown: {', '.join(unknown)}" if unknown else "")
        )
    reader.fieldnames = header
    for number, raw in enumerate(reader, start=2):
        extra = None in raw  # DictReader files surplus fields under the key None
        yield number, {k: (v or "").strip() for k, v in raw.items() if isinstance(k, str)}, extra


def import_csv(register: SqliteOptoutRegister, text: str, *, actor: str) -> tuple[ImportReport, ...]:
    """Add every row of a CSV file (columns bsn, agb, from, until, source); each row on its own.

    A bad row is reported by its number and problem and does not stop the others. A file whose header
    is wrong raises :class:`OptoutError` before anything is added.
    """
    reports: list[ImportReport] = []
    for number, row, extra in _rows(text):
        if extra:
            reports.append(ImportReport(number, False, "the row has more fields than the header"))
            continue
        try:
            valid_from = _date(row.get("from", ""), "from")
            until_text = row.get("until", "")
            until = _date(until_text, "until") if until_text else None
            entry = register.add(
                row.get("bsn", ""),
                row.get("agb", ""),
                valid_from,
                until=until,
                source=row.get("source") or None,
                actor=actor,
            )
        except OptoutError as exc:
            reports.append(ImportReport(number, False, str(exc)))
            continue
        reports.append(ImportReport(number, True, f"added opt-out #{entry.id} (client {entry.client})"))
    return tuple(reports)


def import_report_lines(reports: Iterable[ImportReport]) -> Iterator[str]:
    """The per-row report lines of an import (for the CLI)."""
    for r in reports:
        yield f"row {r.row}: {r.message}" if r.ok else f"row {r.row}: error: {r.message}"
