"""Retention purge per store (issue item 4c): ``jwmo-gateway purge --older-than DAYS [--store ...]``.

Each store gets rows or files on both sides of the cutoff (timestamps set through the stores' clocks or
file times); the purge removes exactly the old ones, prints and logs counts only, and records itself in
the restricted store's access log.
"""

from __future__ import annotations

import json
import os
import sqlite3
from collections.abc import Callable
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
import structlog

from gateway.cli import main
from gateway.logs import configure_logging
from gateway.outbox import FileOutbox, Ledger
from gateway.stores.optouts import SqliteOptoutRegister
from gateway.stores.restricted import AesGcmCipher, SqliteRestrictedStore
from gateway.stores.retention import purge_store
from tests.outbox.test_outbox import outcome_with_billing
from tests.security.common import CANARY_BSN
from tests.security.tally import record
from tests.security.test_restricted_encryption import KEY, line

NOW = datetime.now(UTC)
OLD = NOW - timedelta(days=400)
RECENT = NOW - timedelta(days=10)
HMAC_KEY = "retention-tests-hmac-key-0123456789"


def clock(at: datetime) -> Callable[[], datetime]:
    return lambda: at


@pytest.fixture
def data_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    data = tmp_path / "data"
    data.mkdir()
    monkeypatch.setenv("JWMO_DATA_DIR", str(data))
    monkeypatch.setenv("JWMO_HMAC_KEY", HMAC_KEY)
    monkeypatch.setenv("JWMO_RESTRICTED_KEY", KEY.hex())
    return data


def purge(args: list[str], capsys: pytest.CaptureFixture[str]) -> tuple[int, str, list[dict[str, Any]]]:
    """Run the CLI; (exit code, standard output, the purge log lines from standard error)."""
    capsys.readouterr()  # what the set-up printed
    saved = structlog.get_config()
    configure_logging("INFO")  # JSON lines; the command points them at standard error
    try:
        code = main(["purge", *args])
    finally:
        structlog.configure(**saved)
    out, err = capsys.readouterr()
    lines = [json.loads(x) for x in err.splitlines() if x.startswith("{")]
    return code, out, [x for x in lines if x.get("event") == "purged"]


def make_restricted(data_dir: Path) -> Path:
    path = data_dir / "restricted.sqlite3"
    with SqliteRestrictedStore(path, now=clock(OLD), cipher=AesGcmCipher(KEY)) as old:
        old.put([line("R1"), line("R2")], actor="gateway", purpose="minimise")
    with SqliteRestrictedStore(path, now=clock(RECENT), cipher=AesGcmCipher(KEY)) as new:
        new.put([line("R3")], actor="gateway", purpose="minimise")
    return path


def make_optouts(data_dir: Path) -> Path:
    path = data_dir / "optouts.sqlite3"
    with SqliteOptoutRegister(path, HMAC_KEY.encode(), now=clock(OLD)) as register:
        register.add(CANARY_BSN, "12345678", date(2024, 1, 1), actor="clerk")  # will be ended long ago
        register.add("999900018", "12345678", date(2024, 1, 1), actor="clerk")  # still in force
        register.revoke(CANARY_BSN, "12345678", (OLD + timedelta(days=1)).date(), actor="clerk")
    with SqliteOptoutRegister(path, HMAC_KEY.encode(), now=clock(RECENT)) as register:
        register.add("999900031", "12345678", RECENT.date(), actor="clerk")
    return path


def make_ledger(data_dir: Path) -> Path:
    path = data_dir / "state" / "ledger.sqlite"
    ledger = Ledger(path)
    for ident in ("OLD1", "OLD2", "NEW1"):
        ledger.claim(("12345678", "490", ident))
    ledger.close()
    db = sqlite3.connect(path)
    db.execute(
        "UPDATE handled SET handled_at = ? WHERE ident LIKE 'OLD%'", (OLD.isoformat(timespec="seconds"),)
    )
    db.commit()
    db.close()
    return path


def make_outbox(data_dir: Path) -> Path:
    directory = data_dir / "outbox"
    outbox = FileOutbox(directory, Ledger(data_dir / "outbox-ledger.sqlite"))
    for ident in ("A1", "A2", "A3"):
        outbox.write(outcome_with_billing(ident))
    outbox.close()
    answers = sorted((directory / "retour").iterdir())
    old = OLD.timestamp()
    for path in [*answers[:2], directory / "restricted.jsonl", directory / "audit.jsonl"]:
        os.utime(path, (old, old))
    return directory


def test_restricted_store_purge_removes_old_originals_and_logs_itself(
    data_dir: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """Lines stored 400 days ago go, the 10-day-old one stays readable; the purge is in the access log with
    its count; output and log carry counts only."""
    path = make_restricted(data_dir)
    code, out, logged = purge(["--older-than", "90", "--store", "restricted"], capsys)
    assert code == 0
    assert out == "restricted: removed 2 lines older than 90 days\n"
    assert [(x["store"], x["removed"], x["unit"]) for x in logged] == [("restricted", 2, "lines")]
    with SqliteRestrictedStore(path, cipher=AesGcmCipher(KEY)) as store:
        assert [k.reference for k in store.keys(actor="test", purpose="check")] == ["R3"]
        log = store.access_log()
        purges = [r for r in log if r.action == "purge"]
        assert len(purges) == 1
        assert json.loads(purges[0].detail)["removed"] == 2
        assert purges[0].purpose == "retention purge"
        assert len([r for r in log if r.action == "store"]) == 3  # the access log is kept
    assert CANARY_BSN not in out + json.dumps(logged)
    record("retention.restricted.removed", 2)


def test_optout_audit_purge_keeps_the_audit_of_entries_in_force(
    data_dir: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """Old audit rows of an opt-out that ended long ago go; the old audit of an entry still in force and
    every recent row stay; the entries themselves are untouched."""
    path = make_optouts(data_dir)
    with SqliteOptoutRegister(path, HMAC_KEY.encode()) as register:
        before = register.audit_log()
        entries = register.entries()
    assert [a.action for a in before] == ["add", "add", "revoke", "add"]
    code, out, logged = purge(["--older-than", "90", "--store", "optouts-audit"], capsys)
    assert code == 0
    assert out == "optouts-audit: removed 2 audit rows older than 90 days\n"
    with SqliteOptoutRegister(path, HMAC_KEY.encode()) as register:
        after = register.audit_log()
        assert register.entries() == entries
    assert [(a.action, a.entry_id) for a in after] == [("add", 2), ("add", 3)]
    assert logged[0]["removed"] == 2
    record("retention.optouts_audit.removed", 2)


def test_ledger_purge_removes_old_keys_only(data_dir: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """Keys handled 400 days ago leave the ledger; the recent one is still a duplicate."""
    path = make_ledger(data_dir)
    code, out, _ = purge(["--older-than", "30", "--store", "ledger"], capsys)
    assert code == 0
    assert out == "ledger: removed 2 ledger rows older than 30 days\n"
    ledger = Ledger(path)
    try:
        assert ledger.seen(("12345678", "490", "NEW1"))
        assert not ledger.seen(("12345678", "490", "OLD1"))
    finally:
        ledger.close()
    record("retention.ledger.removed", 2)


def test_outbox_purge_removes_files_not_written_since_the_cutoff(
    data_dir: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """Old answer files and old line files go; recent ones (billing.jsonl, the third answer) stay."""
    directory = make_outbox(data_dir)
    code, out, _ = purge(["--older-than", "30", "--store", "outbox"], capsys)
    assert code == 0
    assert out == "outbox: removed 4 files older than 30 days\n"
    assert len(list((directory / "retour").iterdir())) == 1
    assert (directory / "billing.jsonl").exists()
    assert not (directory / "restricted.jsonl").exists()
    assert not (directory / "audit.jsonl").exists()
    assert (directory / "report.json").exists()
    record("retention.outbox.removed", 4)


def test_purge_of_every_store_and_of_absent_stores(
    data_dir: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """Without --store every store of the data directory is purged; absent stores are reported, not errors."""
    make_restricted(data_dir)
    make_ledger(data_dir)
    code, out, logged = purge(["--older-than", "90"], capsys)
    assert code == 0
    assert out.splitlines() == [
        "restricted: removed 2 lines older than 90 days",
        f"optouts-audit: nothing to purge ({data_dir / 'optouts.sqlite3'} does not exist)",
        "ledger: removed 2 ledger rows older than 90 days",
        f"outbox: nothing to purge ({data_dir / 'outbox'} does not exist)",
    ]
    assert [(x["store"], x["removed"], x["present"]) for x in logged] == [
        ("restricted", 2, True),
        ("optouts-audit", 0, False),
        ("ledger", 2, True),
        ("outbox", 0, False),
    ]
    assert set().union(*(x.keys() for x in logged)) <= {
        "store", "removed", "unit", "present", "cutoff_epoch", "event", "level", "timestamp"
    }  # fmt: skip


def test_purge_with_an_explicit_path(
    data_dir: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """--path names the store's file when it is not in the data directory (e.g. ``process --out``)."""
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    path = make_ledger(elsewhere)
    code, out, _ = purge(["--older-than", "30", "--store", "ledger", "--path", str(path)], capsys)
    assert (code, out) == (0, "ledger: removed 2 ledger rows older than 30 days\n")


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--older-than", "0"], "at least 1 day"),
        (["--older-than", "x"], "whole number of days"),
        (["--older-than", "30", "--store", "everything"], "invalid choice"),
    ],
)
def test_bad_arguments_are_usage_errors(
    data_dir: Path, capsys: pytest.CaptureFixture[str], args: list[str], message: str
) -> None:
    """Zero or non-numeric days and unknown stores exit 2 before anything is removed."""
    make_ledger(data_dir)
    with pytest.raises(SystemExit) as exited:
        main(["purge", *args])
    assert exited.value.code == 2
    assert message in capsys.readouterr().err
    assert Ledger(data_dir / "state" / "ledger.sqlite").seen(("12345678", "490", "OLD1"))


def test_path_without_store_and_a_broken_store_are_exit_2(
    data_dir: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """--path without --store, and a store file that is not a database: exit 2 with a message."""
    assert main(["purge", "--older-than", "30", "--path", str(data_dir)]) == 2
    assert "--path needs --store" in capsys.readouterr().err
    broken = data_dir / "state" / "ledger.sqlite"
    broken.parent.mkdir(parents=True)
    broken.write_bytes(b"not a database at all" * 100)
    assert main(["purge", "--older-than", "30", "--store", "ledger"]) == 2
    assert "cannot purge the ledger" in capsys.readouterr().err


def test_purge_store_api_counts_only() -> None:
    """The library call returns counts and paths, never content (a result's repr holds no BSN)."""
    result = purge_store("outbox", Path("/nonexistent/outbox"), NOW)
    assert (result.store, result.removed, result.present) == ("outbox", 0, False)
    assert CANARY_BSN not in repr(result)
