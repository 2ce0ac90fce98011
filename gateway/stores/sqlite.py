"""Opening the embedded SQLite stores: owner-only files, read-only connections for lookups."""

from __future__ import annotations

import os
import sqlite3
from datetime import UTC, datetime
from pathlib import Path

from gateway.stores.keys import secure_dir

__all__ = ["StoreError", "connect", "utc_now"]


class StoreError(Exception):
    """A store cannot be opened or used. Never carries a value of a person."""


def utc_now() -> datetime:
    return datetime.now(UTC)


def connect(path: Path, *, readonly: bool = False) -> sqlite3.Connection:
    """Open (and for writing, create with mode 0600 in an owner-only directory) a SQLite database."""
    if readonly:
        if not path.is_file():
            raise StoreError(f"store {path} does not exist")
        uri = path.resolve().as_uri() + "?mode=ro"
        try:
            return sqlite3.connect(uri, uri=True, check_same_thread=False)
        except sqlite3.Error as exc:
            raise StoreError(f"cannot open store {path}: {exc}") from None
    secure_dir(path.parent)
    try:
        os.close(os.open(path, os.O_WRONLY | os.O_CREAT, 0o600))
        connection = sqlite3.connect(path, check_same_thread=False)
        connection.execute("PRAGMA foreign_keys = ON")
    except (OSError, sqlite3.Error) as exc:
        raise StoreError(f"cannot open store {path}: {type(exc).__name__}") from None
    return connection
