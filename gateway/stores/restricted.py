"""The restricted store: the full original of every restricted line, for staff under medical secrecy.

General billing gets a restricted line with the withheld fields null; the original goes only here, with
what is needed to answer the provider later (message type and id, sender, declaration number, reference)
and the ids of the rules that restricted it. Every access is logged in an access table (when, who, why,
which line; NEN 7513 / municipal requirements G10, H3): reads, listings, writes and purges alike. The
index columns hold no BSN; the original (which does) is only returned by :meth:`get`, which logs the read.

Keyed by (sender AGB, message type, message id, reference): storing the same line again (a redelivered
message) changes nothing.

**Encryption at rest.** The two columns that carry personal data (``original``, ``fragment``) are stored
encrypted with AES-256-GCM (:class:`AesGcmCipher`, from the ``cryptography`` package), each value bound to
its row and column (the associated data), so a value copied into another row or column does not decrypt.
The key is 32 bytes, written as 64 hexadecimal digits or in base64:

* ``JWMO_RESTRICTED_KEY`` (the key itself), else ``JWMO_RESTRICTED_KEY_FILE`` (a file holding it; for
  mounted secrets), else
* the embedded default: a key generated on first use into ``restricted.key`` next to the store, readable
  by the owner only, with a warning in the log (as for the HMAC key, clarifications 15). Production
  configurations should take the key from a secret store instead: a key next to the data only protects
  copies of the database file (backups, dumps) made without it.

Each row records the id of its key (``kid``, a fingerprint that reveals nothing of the key); a row written
with another key is refused on read (:class:`StoreError`), never returned garbled. Rows written before
encryption existed (``kid`` NULL) are read as they are. The store takes any :class:`RecordCipher`.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import json
import os
import secrets
import sqlite3
import stat
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Protocol

import structlog

from gateway.stores.keys import secure_dir
from gateway.stores.sqlite import StoreError, connect, utc_now

__all__ = [
    "KEY_FILE",
    "AccessRecord",
    "AesGcmCipher",
    "CipherError",
    "RecordCipher",
    "RestrictedLine",
    "RestrictedStore",
    "SqliteRestrictedStore",
    "StoredKey",
    "cipher_from_env",
    "parse_key",
]

KEY_FILE = "restricted.key"
_KEY_BYTES = 32
_TOKEN_PREFIX = "aesgcm1:"  # noqa: S105 - a format marker, not a secret
_NONCE_BYTES = 12

log = structlog.get_logger("jwmo.restricted")

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
    original TEXT NOT NULL,         -- JSON: every field of the line as received (includes the BSN); encrypted
    fragment TEXT NOT NULL,         -- the line in its own format, as received; encrypted
    kid TEXT,                       -- id of the key original and fragment are encrypted with (NULL: plain)
    UNIQUE (sender_agb, message_type, message_id, reference)
);
CREATE TABLE IF NOT EXISTS access_log (
    id INTEGER PRIMARY KEY,
    at TEXT NOT NULL,
    actor TEXT NOT NULL,
    purpose TEXT NOT NULL,
    action TEXT NOT NULL,           -- store | read | list | purge
    line_id INTEGER,                -- NULL for a listing, a purge or a read that found nothing
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


class CipherError(StoreError):
    """A value cannot be encrypted or decrypted (wrong key, tampered data, no cipher). No value in it."""


class RecordCipher(Protocol):
    """Authenticated encryption of one stored value, bound to ``associated`` (its row and column)."""

    @property
    def key_id(self) -> str:
        """A fingerprint of the key: tells keys apart, reveals nothing of the key."""
        ...

    def encrypt(self, plaintext: bytes, associated: bytes) -> bytes: ...

    def decrypt(self, token: bytes, associated: bytes) -> bytes:
        """The plaintext, or :class:`CipherError` when the key or the associated data does not fit."""
        ...


def key_id_of(key: bytes) -> str:
    """A key's fingerprint (base32: the log redaction leaves it alone)."""
    digest = hmac.new(key, b"jwmo-gateway/restricted-key-id/v1", hashlib.sha256).digest()
    return base64.b32encode(digest).decode()[:12].lower()


class AesGcmCipher:
    """AES-256-GCM with a random 96-bit nonce per value (``cryptography``). Token: nonce || ciphertext+tag."""

    def __init__(self, key: bytes) -> None:
        if len(key) != _KEY_BYTES:
            raise CipherError(f"the restricted-store key must be {_KEY_BYTES} bytes")
        try:
            from cryptography.hazmat.primitives.ciphers.aead import AESGCM  # noqa: PLC0415 - optional import
        except ImportError:  # pragma: no cover - the dependency is declared; fail closed without it
            raise CipherError(
                "encryption at rest of the restricted store needs the 'cryptography' package"
            ) from None
        self._aead = AESGCM(key)
        self._key_id = key_id_of(key)

    @property
    def key_id(self) -> str:
        return self._key_id

    def __repr__(self) -> str:  # never show the key
        return f"AesGcmCipher(kid={self._key_id})"

    def encrypt(self, plaintext: bytes, associated: bytes) -> bytes:
        nonce = secrets.token_bytes(_NONCE_BYTES)
        return nonce + self._aead.encrypt(nonce, plaintext, associated)

    def decrypt(self, token: bytes, associated: bytes) -> bytes:
        from cryptography.exceptions import InvalidTag  # noqa: PLC0415 - imported with the cipher

        if len(token) < _NONCE_BYTES + 16:
            raise CipherError("a stored value is truncated")
        try:
            return self._aead.decrypt(token[:_NONCE_BYTES], token[_NONCE_BYTES:], associated)
        except InvalidTag:
            raise CipherError("a stored value does not decrypt: wrong key or tampered data") from None


def parse_key(text: str, where: str) -> bytes:
    """A 32-byte key written as 64 hexadecimal digits or in (standard or URL-safe) base64."""
    value = text.strip()
    key: bytes | None = None
    if len(value) == 2 * _KEY_BYTES:
        try:
            key = bytes.fromhex(value)
        except ValueError:
            key = None
    if key is None:
        try:
            key = base64.b64decode(value.replace("-", "+").replace("_", "/"), validate=True)
        except (binascii.Error, ValueError):
            key = None
    if key is None or len(key) != _KEY_BYTES:
        raise CipherError(f"{where} must hold a {_KEY_BYTES}-byte key as 64 hexadecimal digits or in base64")
    return key


def _generated_key(path: Path) -> bytes:
    """The key in ``path``; created (owner-only, with a warning) when it does not exist yet."""
    try:
        return parse_key(path.read_text(encoding="ascii"), f"the key file {path}")
    except FileNotFoundError:
        pass
    except (OSError, UnicodeDecodeError) as exc:
        raise CipherError(f"cannot read the key file {path}: {type(exc).__name__}") from None
    secure_dir(path.parent)
    key = secrets.token_bytes(_KEY_BYTES)
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:  # another process was first: use its key
        return parse_key(path.read_text(encoding="ascii"), f"the key file {path}")
    with os.fdopen(fd, "w", encoding="ascii") as fh:
        fh.write(key.hex() + "\n")
        fh.flush()
        os.fsync(fh.fileno())
    log.warning(
        "restricted_key_generated",
        path=str(path),
        advice="JWMO_RESTRICTED_KEY(_FILE) is not set: a random key was generated next to the restricted "
        "store; keep it (without it the stored originals cannot be read), better: a key from a secret store",
    )
    return key


def cipher_from_env(store_dir: Path, env: Mapping[str, str] | None = None) -> AesGcmCipher:
    """The cipher of ``JWMO_RESTRICTED_KEY`` / ``JWMO_RESTRICTED_KEY_FILE``, else of the generated key."""
    env = os.environ if env is None else env
    raw = env.get("JWMO_RESTRICTED_KEY", "").strip()
    if raw:
        return AesGcmCipher(parse_key(raw, "JWMO_RESTRICTED_KEY"))
    key_file = env.get("JWMO_RESTRICTED_KEY_FILE", "").strip()
    if key_file:
        path = Path(key_file)
        try:
            text = path.read_text(encoding="ascii")
        except (OSError, UnicodeDecodeError) as exc:
            raise CipherError(f"JWMO_RESTRICTED_KEY_FILE cannot be read: {type(exc).__name__}") from None
        if path.stat().st_mode & (stat.S_IRWXG | stat.S_IRWXO):
            log.warning("restricted_key_file_permissions", path=str(path), advice="chmod 600 the key file")
        return AesGcmCipher(parse_key(text, "JWMO_RESTRICTED_KEY_FILE"))
    return AesGcmCipher(_generated_key(store_dir / KEY_FILE))


def _associated(column: str, line: RestrictedLine | Sequence[str]) -> bytes:
    """What a value is bound to: its column and the row's unique key."""
    if isinstance(line, RestrictedLine):
        parts: Sequence[str] = (line.sender_agb, line.message_type, line.message_id, line.reference)
    else:
        parts = line
    return "\x1f".join(("jwmo-restricted/v1", column, *parts)).encode("utf-8")


class RestrictedStore(Protocol):
    """Where minimisation puts the originals of restricted lines."""

    def put(self, lines: Sequence[RestrictedLine], *, actor: str, purpose: str) -> int:
        """Store lines (idempotent); returns how many were new."""
        ...


def _require(actor: str, purpose: str) -> None:
    if not actor.strip() or not purpose.strip():
        raise StoreError("access to the restricted store needs an actor and a purpose")


class SqliteRestrictedStore:
    """The embedded restricted store (one SQLite file, owner-only, personal data encrypted).

    ``cipher``: the encryption of ``original`` and ``fragment``; by default :func:`cipher_from_env` with
    the store's directory, resolved on the first write or read (a purge or listing needs no key).
    """

    def __init__(
        self,
        path: Path,
        *,
        now: Callable[[], datetime] = utc_now,
        cipher: RecordCipher | None = None,
    ) -> None:
        self.path = path
        self._now = now
        self._cipher = cipher
        self._db = connect(path)
        try:
            with self._db:
                self._db.executescript(_SCHEMA)
                columns = {row[1] for row in self._db.execute("PRAGMA table_info(restricted_line)")}
                if "kid" not in columns:  # a store from before encryption: its rows stay readable
                    self._db.execute("ALTER TABLE restricted_line ADD COLUMN kid TEXT")
        except sqlite3.Error as exc:
            self._db.close()
            raise StoreError(f"restricted store {path} is not usable: {type(exc).__name__}") from None

    def _current_cipher(self) -> RecordCipher:
        if self._cipher is None:
            self._cipher = cipher_from_env(self.path.parent)
        return self._cipher

    def _seal(self, column: str, value: str, line: RestrictedLine) -> str:
        token = self._current_cipher().encrypt(value.encode("utf-8"), _associated(column, line))
        return _TOKEN_PREFIX + base64.b64encode(token).decode("ascii")

    def _open(self, column: str, stored: str, kid: str | None, row_key: Sequence[str]) -> str:
        if kid is None:
            return stored  # written before encryption at rest existed
        cipher = self._current_cipher()
        if kid != cipher.key_id:
            raise CipherError(
                f"a stored line is encrypted with another key (kid {kid}, configured {cipher.key_id})"
            )
        if not stored.startswith(_TOKEN_PREFIX):
            raise CipherError("a stored line is marked encrypted but is not")
        try:
            token = base64.b64decode(stored[len(_TOKEN_PREFIX) :], validate=True)
        except (binascii.Error, ValueError):
            raise CipherError("a stored line is damaged") from None
        return cipher.decrypt(token, _associated(column, row_key)).decode("utf-8")

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
        kid = self._current_cipher().key_id if lines else None
        with self._db:
            for line in lines:
                cursor = self._db.execute(
                    "INSERT OR IGNORE INTO restricted_line (stored_at, message_type, message_id, sender_agb, "
                    "municipality, declaration_number, reference, rules, policy_version, original, fragment, "
                    "kid) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
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
                        self._seal("original", line.original, line),
                        self._seal("fragment", line.fragment, line),
                        kid,
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
                "reference, rules, policy_version, original, fragment, kid FROM restricted_line "
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
        row_key = (row[3], row[1], row[2], row[6])  # sender, type, message id, reference
        return RestrictedLine(
            message_type=row[1],
            message_id=row[2],
            sender_agb=row[3],
            municipality=row[4],
            declaration_number=row[5],
            reference=row[6],
            rules=tuple(json.loads(row[7])),
            policy_version=row[8],
            original=self._open("original", row[9], row[11], row_key),
            fragment=self._open("fragment", row[10], row[11], row_key),
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

    def purge(self, older_than: datetime, *, actor: str, purpose: str) -> int:
        """Remove the lines stored before ``older_than`` (retention); the purge is logged with its count.

        The access log itself is kept: it is the record of who saw what (NEN 7513) and holds no content.
        """
        _require(actor, purpose)
        cutoff = older_than.astimezone(UTC).isoformat()
        with self._db:
            removed = self._db.execute("DELETE FROM restricted_line WHERE stored_at < ?", (cutoff,)).rowcount
            self._log(actor, purpose, "purge", None, {"removed": removed, "stored_before": cutoff})
        return int(removed)

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
