"""Command line for the opt-out register: ``jwmo-gateway optout add|revoke|list|import``.

The register lives in ``optouts.sqlite3`` in the data directory (``--db`` chooses another file). The HMAC
key is ``JWMO_HMAC_KEY``, or the key file in the data directory (generated on first use, with a warning).
No output ever shows a BSN: entries are shown by the first 12 hex digits of their keyed hash, and errors
name the problem (and for an import, the row number), never the value.

Exit status: 0 done; 1 nothing to revoke, or some import rows failed; 2 bad arguments or an unusable
register/key (message on standard error).
"""

from __future__ import annotations

import argparse
import getpass
import json
import sys
from datetime import date
from pathlib import Path
from typing import Any, TextIO

from gateway.config import Settings
from gateway.minimise import ensure_logging
from gateway.stores import default_optouts_path
from gateway.stores.keys import KEY_FILE, KeyFileError, resolve_key
from gateway.stores.optouts import (
    NothingToRevoke,
    OptoutEntry,
    OptoutError,
    SqliteOptoutRegister,
    import_csv,
    import_report_lines,
)
from gateway.stores.sqlite import StoreError

__all__ = ["add_parser", "run"]

EXIT_OK, EXIT_FAILED, EXIT_USAGE = 0, 1, 2


def _iso_date(text: str) -> date:
    try:
        return date.fromisoformat(text)
    except ValueError:
        raise argparse.ArgumentTypeError("must be a date of the form YYYY-MM-DD") from None


def add_parser(commands: Any) -> None:
    """Add the ``optout`` subcommand (with its own subcommands) to the CLI's subparsers."""
    optout = commands.add_parser(
        "optout",
        help="manage the opt-out register (client + provider asked that no diagnosis-traceable data is sent)",
        description="Manage the opt-out register. BSNs are stored only as a keyed hash and never shown.",
    )
    actions = optout.add_subparsers(dest="optout_command", required=True, metavar="ACTION")

    def with_db(p: argparse.ArgumentParser) -> argparse.ArgumentParser:
        p.add_argument("--db", metavar="DB", help="the register (default: optouts.sqlite3 in $JWMO_DATA_DIR)")
        return p

    add = with_db(actions.add_parser("add", help="register a signed statement"))
    add.add_argument("--bsn", required=True, help="the client's BSN")
    add.add_argument("--agb", required=True, help="the provider's AGB code (8 digits)")
    add.add_argument(
        "--from",
        dest="valid_from",
        type=_iso_date,
        required=True,
        metavar="YYYY-MM-DD",
        help="the date the municipality received the signed statement",
    )
    add.add_argument("--until", type=_iso_date, metavar="YYYY-MM-DD", help="last day it applies (inclusive)")
    add.add_argument("--source", help="reference to the statement (no personal data)")

    revoke = with_db(actions.add_parser("revoke", help="end a registered statement"))
    revoke.add_argument("--bsn", required=True)
    revoke.add_argument("--agb", required=True)
    revoke.add_argument(
        "--on",
        type=_iso_date,
        required=True,
        metavar="YYYY-MM-DD",
        help="the first day the statement no longer applies (its last day becomes the day before)",
    )

    listing = with_db(actions.add_parser("list", help="list the register (hash prefixes, never a BSN)"))
    listing.add_argument("--json", action="store_true", help="one JSON object per entry per line")

    importing = with_db(actions.add_parser("import", help="add every row of a CSV file"))
    importing.add_argument("file", metavar="FILE.csv", help="columns: bsn,agb,from,until,source (header row)")


def _actor() -> str:
    try:
        return getpass.getuser()
    except (KeyError, OSError):  # pragma: no cover - no user name in this environment
        return "unknown"


def _describe(entry: OptoutEntry) -> str:
    until = entry.until.isoformat() if entry.until is not None else "open"
    source = f", source {entry.source}" if entry.source else ""
    return (
        f"#{entry.id} client {entry.client}, AGB {entry.agb}, "
        f"from {entry.valid_from.isoformat()} until {until}{source}"
    )


def _open(args: argparse.Namespace, settings: Settings, *, create: bool) -> SqliteOptoutRegister | None:
    path = Path(args.db) if args.db else default_optouts_path(settings.data_dir)
    if not create and not path.is_file():
        return None
    key = resolve_key(settings.hmac_key, settings.data_dir, create=create)
    if key is None:
        raise OptoutError(
            f"the opt-out register {path} needs the HMAC key it was created with: set JWMO_HMAC_KEY or "
            f"restore {settings.data_dir / KEY_FILE}"
        )
    return SqliteOptoutRegister(path, key)


def _run(args: argparse.Namespace, settings: Settings, out: TextIO) -> int:
    command = args.optout_command
    if command == "list":
        register = _open(args, settings, create=False)
        entries = () if register is None else register.entries()
        if register is not None:
            register.close()
        for entry in entries:
            out.write((json.dumps(entry.to_json()) if args.json else _describe(entry)) + "\n")
        if not args.json:
            out.write(f"{len(entries)} opt-out(s)\n")
        return EXIT_OK
    if command == "revoke":
        register = _open(args, settings, create=False)
        if register is None:
            print("jwmo-gateway: the opt-out register is empty: nothing to revoke", file=sys.stderr)
            return EXIT_FAILED
        with register:
            try:
                changed = register.revoke(args.bsn, args.agb, args.on, actor=_actor())
            except NothingToRevoke as exc:
                print(f"jwmo-gateway: {exc}", file=sys.stderr)
                return EXIT_FAILED
        for entry in changed:
            out.write(f"revoked {_describe(entry)}\n")
        return EXIT_OK
    register = _open(args, settings, create=True)
    assert register is not None  # noqa: S101 - created on demand
    with register:
        if command == "add":
            entry = register.add(
                args.bsn, args.agb, args.valid_from, until=args.until, source=args.source, actor=_actor()
            )
            out.write(f"added {_describe(entry)}\n")
            return EXIT_OK
        try:
            text = Path(args.file).read_text(encoding="utf-8-sig")
        except (OSError, UnicodeDecodeError) as exc:
            raise OptoutError(f"cannot read {args.file}: {type(exc).__name__}") from None
        reports = import_csv(register, text, actor=_actor())
    for line in import_report_lines(reports):
        out.write(line + "\n")
    failed = sum(1 for r in reports if not r.ok)
    out.write(f"{len(reports)} row(s): {len(reports) - failed} added, {failed} failed\n")
    return EXIT_FAILED if failed else EXIT_OK


def run(args: argparse.Namespace, out: TextIO, settings: Settings) -> int:
    """``jwmo-gateway optout ...``."""
    ensure_logging()
    try:
        return _run(args, settings, out)
    except (OptoutError, StoreError, KeyFileError) as exc:
        print(f"jwmo-gateway: {exc}", file=sys.stderr)
        return EXIT_USAGE
