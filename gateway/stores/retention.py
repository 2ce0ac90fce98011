"""Retention: ``jwmo-gateway purge --older-than DAYS [--store STORE] [--path PATH]``.

Removes what is older than the limit from each store of the data directory (or from ``--path`` when one
store is named) and logs what it removed as counts only:

* ``restricted``: originals of restricted lines stored before the cutoff (``restricted.sqlite3``). The purge
  is written to the store's access log; the access log itself is kept (NEN 7513).
* ``optouts-audit``: audit rows of the opt-out register (``optouts.sqlite3``) older than the cutoff, of
  entries that ended before the cutoff. The audit of an entry still in force is its evidence and stays.
* ``ledger``: rows of the de-duplication ledger (``state/ledger.sqlite``) handled before the cutoff. A
  message redelivered after that would be handled again: keep DAYS above the senders' redelivery window.
* ``outbox``: answer files and whole line files of the file outbox (``outbox/``) last written before the
  cutoff (:mod:`gateway.outbox.retention`; run it while nothing writes into the outbox).

Exit status: 0 done; 2 bad arguments or a store that cannot be used.
"""

from __future__ import annotations

import argparse
import getpass
import sqlite3
import sys
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, TextIO

import structlog

from gateway.config import Settings
from gateway.outbox.retention import purge_outbox
from gateway.stores import default_optouts_path, default_restricted_path
from gateway.stores.restricted import SqliteRestrictedStore
from gateway.stores.sqlite import StoreError

__all__ = [
    "STORES",
    "PurgeResult",
    "add_parser",
    "purge_ledger",
    "purge_optout_audit",
    "purge_restricted",
    "purge_store",
    "run",
]

STORES = ("restricted", "optouts-audit", "ledger", "outbox")
EXIT_OK, EXIT_USAGE = 0, 2
_TIMEOUT = 10.0  # seconds to wait for a store another process is writing

log = structlog.get_logger("jwmo.retention")


@dataclass(frozen=True, slots=True)
class PurgeResult:
    """One store purged: how many rows or files went (never what they held)."""

    store: str
    path: Path
    removed: int
    unit: str  # "lines", "audit rows", "ledger rows", "files"
    present: bool = True  # False: the store does not exist (nothing to purge)


def _actor() -> str:
    try:
        return getpass.getuser()
    except (KeyError, OSError):  # pragma: no cover - no user name in this environment
        return "unknown"


def _open_existing(path: Path) -> sqlite3.Connection:
    try:
        return sqlite3.connect(path.resolve().as_uri() + "?mode=rw", uri=True, timeout=_TIMEOUT)
    except sqlite3.Error as exc:
        raise StoreError(f"cannot open store {path}: {type(exc).__name__}") from None


def purge_restricted(path: Path, older_than: datetime, *, actor: str | None = None) -> PurgeResult:
    """Originals stored before ``older_than``; the purge itself is logged in the store's access log."""
    if not path.is_file():
        return PurgeResult("restricted", path, 0, "lines", present=False)
    with SqliteRestrictedStore(path) as store:
        removed = store.purge(older_than, actor=actor or _actor(), purpose="retention purge")
    return PurgeResult("restricted", path, removed, "lines")


def purge_optout_audit(path: Path, older_than: datetime) -> PurgeResult:
    """Audit rows older than ``older_than`` of opt-outs that ended before it."""
    if not path.is_file():
        return PurgeResult("optouts-audit", path, 0, "audit rows", present=False)
    db = _open_existing(path)
    try:
        with db:
            removed = db.execute(
                "DELETE FROM audit WHERE at < ? AND entry_id IN "
                "(SELECT id FROM optout WHERE valid_until IS NOT NULL AND valid_until < ?)",
                (older_than.astimezone(UTC).isoformat(), older_than.astimezone(UTC).date().isoformat()),
            ).rowcount
    except sqlite3.Error as exc:
        raise StoreError(f"cannot purge the opt-out audit in {path}: {type(exc).__name__}") from None
    finally:
        db.close()
    return PurgeResult("optouts-audit", path, int(removed), "audit rows")


def purge_ledger(path: Path, older_than: datetime) -> PurgeResult:
    """De-duplication rows of messages handled before ``older_than``."""
    if not path.is_file():
        return PurgeResult("ledger", path, 0, "ledger rows", present=False)
    db = _open_existing(path)
    try:
        with db:
            removed = db.execute(
                "DELETE FROM handled WHERE handled_at < ?",
                (older_than.astimezone(UTC).isoformat(timespec="seconds"),),
            ).rowcount
    except sqlite3.Error as exc:
        raise StoreError(f"cannot purge the ledger {path}: {type(exc).__name__}") from None
    finally:
        db.close()
    return PurgeResult("ledger", path, int(removed), "ledger rows")


def _purge_outbox(path: Path, older_than: datetime) -> PurgeResult:
    if not path.is_dir():
        return PurgeResult("outbox", path, 0, "files", present=False)
    try:
        done = purge_outbox(path, older_than)
    except OSError as exc:
        raise StoreError(f"cannot purge the outbox {path}: {type(exc).__name__}") from None
    return PurgeResult("outbox", path, done.removed, "files")


def default_path(store: str, data_dir: Path) -> Path:
    """Where ``store`` lives in the data directory."""
    return {
        "restricted": default_restricted_path(data_dir),
        "optouts-audit": default_optouts_path(data_dir),
        "ledger": data_dir / "state" / "ledger.sqlite",
        "outbox": data_dir / "outbox",
    }[store]


_PURGES: dict[str, Callable[[Path, datetime], PurgeResult]] = {
    "restricted": purge_restricted,
    "optouts-audit": purge_optout_audit,
    "ledger": purge_ledger,
    "outbox": _purge_outbox,
}


def purge_store(store: str, path: Path, older_than: datetime) -> PurgeResult:
    """Purge one store and log the count (the only thing a purge ever logs: no content, no keys)."""
    result = _PURGES[store](path, older_than)
    log.info(
        "purged",
        store=store,
        removed=result.removed,
        unit=result.unit,
        present=result.present,
        cutoff_epoch=int(older_than.timestamp()),  # a date string would be masked by the log redaction
    )
    return result


def _days(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError("must be a whole number of days") from None
    if value < 1:
        raise argparse.ArgumentTypeError("must be at least 1 day")
    return value


def add_parser(commands: Any) -> None:
    """Add the ``purge`` subcommand to the CLI's subparsers."""
    purge = commands.add_parser(
        "purge",
        help="retention: remove rows and files older than a number of days from the stores",
        description="Remove what is older than --older-than DAYS from the restricted store, the opt-out "
        "audit, the ledger and the file outbox (or one --store). Logs counts only.",
    )
    purge.add_argument("--older-than", dest="older_than", type=_days, required=True, metavar="DAYS")
    purge.add_argument("--store", choices=STORES, help="only this store (default: all of them)")
    purge.add_argument(
        "--path",
        metavar="PATH",
        help="the store's file (or outbox directory) instead of the data directory's",
    )


def run(
    args: argparse.Namespace,
    out: TextIO,
    settings: Settings,
    *,
    now: Callable[[], datetime] | None = None,
) -> int:
    """``jwmo-gateway purge``: one summary line per store on ``out``."""
    from gateway.minimise import ensure_logging  # noqa: PLC0415 - the CLI's logging set-up

    ensure_logging()
    if args.path and not args.store:
        print("jwmo-gateway: --path needs --store (which store the path is)", file=sys.stderr)
        return EXIT_USAGE
    cutoff = (now or (lambda: datetime.now(UTC)))() - timedelta(days=args.older_than)
    stores = (args.store,) if args.store else STORES
    try:
        for store in stores:
            path = Path(args.path) if args.path else default_path(store, settings.data_dir)
            result = purge_store(store, path, cutoff)
            if result.present:
                out.write(
                    f"{store}: removed {result.removed} {result.unit} older than {args.older_than} days\n"
                )
            else:
                out.write(f"{store}: nothing to purge ({path} does not exist)\n")
    except StoreError as exc:
        print(f"jwmo-gateway: {exc}", file=sys.stderr)
        return EXIT_USAGE
    return EXIT_OK
