"""Embedded stores (SQLite in the data directory by default), each behind a small interface.

* :mod:`gateway.stores.keys` - the HMAC key (configured, or generated once into the data directory);
* :mod:`gateway.stores.optouts` - the opt-out register (BSN only as a keyed hash, every change audited);
* :mod:`gateway.stores.restricted` - originals of restricted lines, every read logged.
"""

from __future__ import annotations

from pathlib import Path

__all__ = ["OPTOUTS_FILE", "RESTRICTED_FILE", "default_optouts_path", "default_restricted_path"]

OPTOUTS_FILE = "optouts.sqlite3"
RESTRICTED_FILE = "restricted.sqlite3"


def default_optouts_path(data_dir: Path) -> Path:
    return data_dir / OPTOUTS_FILE


def default_restricted_path(data_dir: Path) -> Path:
    return data_dir / RESTRICTED_FILE
