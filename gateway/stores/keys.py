"""The gateway's HMAC key: from configuration, or generated once into the data directory.

Clarifications item 15: with ``JWMO_HMAC_KEY`` unset, a random key is generated on first use, stored in
the data directory readable by the owner only, and a warning is logged (naming the file, never the key).
Later runs read the same file, so hashes stay comparable. The key never appears in a log, an error or a
``repr``.
"""

from __future__ import annotations

import hashlib
import hmac
import os
import secrets
import stat
from pathlib import Path

import structlog

__all__ = ["KEY_FILE", "KeyFileError", "key_check", "read_key_file", "resolve_key", "secure_dir"]

KEY_FILE = "hmac.key"
_KEY_BYTES = 32
_CHECK_MESSAGE = b"jwmo-gateway/key-check/v1"

log = structlog.get_logger("jwmo.keys")


class KeyFileError(Exception):
    """The key file is unusable. The message names the file, never its content."""


def secure_dir(path: Path) -> None:
    """Create a directory (and parents) readable by the owner only, if it does not exist yet."""
    path.mkdir(mode=0o700, parents=True, exist_ok=True)


def key_check(key: bytes) -> str:
    """A fingerprint that tells two keys apart without revealing either (an HMAC of a constant)."""
    return hmac.new(key, _CHECK_MESSAGE, hashlib.sha256).hexdigest()[:16]


def read_key_file(path: Path) -> bytes | None:
    """The key stored at ``path``, or None when the file does not exist."""
    try:
        text = path.read_text(encoding="ascii").strip()
    except FileNotFoundError:
        return None
    except (OSError, UnicodeDecodeError) as exc:
        raise KeyFileError(f"cannot read the key file {path}: {type(exc).__name__}") from None
    try:
        key = bytes.fromhex(text)
    except ValueError:
        raise KeyFileError(f"the key file {path} does not hold a hexadecimal key") from None
    if len(key) < 16:
        raise KeyFileError(f"the key file {path} holds a key shorter than 16 bytes")
    mode = path.stat().st_mode
    if mode & (stat.S_IRWXG | stat.S_IRWXO):
        log.warning("hmac_key_file_permissions", path=str(path), advice="chmod 600 the key file")
    return key


def _generate(path: Path) -> bytes:
    secure_dir(path.parent)
    key = secrets.token_bytes(_KEY_BYTES)
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:  # another process was first: use its key
        existing = read_key_file(path)
        if existing is None:  # pragma: no cover - removed between the two calls
            raise KeyFileError(f"the key file {path} vanished while it was being created") from None
        return existing
    with os.fdopen(fd, "w", encoding="ascii") as fh:
        fh.write(key.hex() + "\n")
        fh.flush()
        os.fsync(fh.fileno())
    log.warning(
        "hmac_key_generated",
        path=str(path),
        advice="JWMO_HMAC_KEY is not set: a random key was generated; keep this file (or set JWMO_HMAC_KEY "
        "from a secret store) - without it, stored hashes can no longer be matched",
    )
    return key


def resolve_key(configured: bytes | None, data_dir: Path, *, create: bool = True) -> bytes | None:
    """The configured key, else the data directory's key file (generated when ``create``), else None."""
    if configured:
        return configured
    path = data_dir / KEY_FILE
    key = read_key_file(path)
    if key is None and create:
        key = _generate(path)
    return key
